"""The budget search over every method on the digits CNN, and its executors.

A search mixes methods per layer and lands under the flash budget above the quality floor; the
flash it reports is the C build's of the chosen pipeline, which compiles and runs bit-exact; the
candidates are the same whether a local pool of one or two workers or a dask cluster evaluates
them; executor errors are one line.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from edgecc.backends.c.generate import build_model
from edgecc.compress.executor import open_executor
from edgecc.compress.search import compile_chosen, search
from edgecc.ir.diagnostics import EdgeccError
from edgecc.quant.graph import clone_module

pytest.importorskip("sklearn")
_spec = importlib.util.spec_from_file_location("edgecc_tests_digits_cnn_search",
                                               Path(__file__).with_name("digits_cnn.py"))
D = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(D)

QUANTIZE = "quantize{scheme=int8 io=int},canonicalize,dce"
BUILD = {"weights": "encoded"}


@pytest.fixture(scope="module")
def digits():
    from edgecc.compress.search import load_evaluation
    from edgecc.frontend import import_onnx
    from edgecc.passes.manager import PassManager
    from edgecc.passes.registry import DEFAULT_PIPELINE
    from edgecc.quant.calibrate import load_calibration

    params, train, test = D.train()
    module = import_onnx(D.export_onnx(params))
    PassManager.parse(DEFAULT_PIPELINE).run(module)
    ev = load_evaluation({"x": D.nchw(test[0][:100]), "y": test[1][:100]}, module)
    return module, load_calibration({"x": D.nchw(train[0][:16])}, module), ev


def test_search_mixes_methods_under_the_budget_and_its_figure_is_the_c_builds(digits, runtime_lib):
    from edgecc.backends.c.verify import verify

    module, samples, ev = digits
    res = search(module, samples, budget="45%", quantize=QUANTIZE, target="cortex-m4", build=BUILD,
                 evaluation=ev, methods=("prune", "int4"), min_sqnr=15.0, executor="local:2", samples=16)
    c = res.chosen
    assert c.flash <= res.budget == int(0.45 * res.baseline.flash)
    assert len({m for m, _, _ in c.choice}) >= 2, c.label()  # mixed methods
    assert c.accuracy >= res.baseline.accuracy - 0.01 and c.sqnr >= 15.0
    assert c in res.evaluated and res.baseline in res.evaluated
    m = clone_module(module)[0]
    compile_chosen(m, c, samples)
    assert build_model(m, target="cortex-m4", testbench=False, **BUILD).report["flash_data_bytes"] == c.flash
    result = verify(m, target="cortex-m4", inputs=3, runtime_lib=runtime_lib, **BUILD)
    assert result.passed, result


def test_results_are_identical_on_one_local_worker_and_on_dask(digits):
    distributed = pytest.importorskip("distributed")
    module, samples, _ = digits
    kw = dict(budget="97%", quantize=QUANTIZE, target="cortex-m4", build=BUILD, methods=("int4",), samples=8)
    runs = [search(module, samples, executor="local:1", **kw)]
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        runs.append(search(module, samples, executor="dask://" + cluster.scheduler_address.split("//")[1],
                           **kw))
    first = [(c.choice, c.flash, c.ram, c.quality) for c in runs[0].evaluated]
    assert len(first) == 5  # the int8 model and 4-bit weights in each of the 4 layers
    for r in runs[1:]:
        assert [(c.choice, c.flash, c.ram, c.quality) for c in r.evaluated] == first
        assert r.chosen.pipeline == runs[0].chosen.pipeline


def test_executor_errors_are_one_line(monkeypatch):
    for bad, msg in (("local:0", "local:N"), ("dask://nohost", "HOST:PORT"), ("ray://x:1", "expected local")):
        with pytest.raises(EdgeccError, match=msg), open_executor(bad, None):
            pass
    with pytest.raises(EdgeccError, match="cannot reach a dask scheduler at 127.0.0.1:9"):
        with open_executor("dask://127.0.0.1:9", None):
            pass
    monkeypatch.setitem(sys.modules, "distributed", None)  # dask not installed
    with pytest.raises(EdgeccError, match=r"dask.distributed is not installed \(pip install 'edgecc\[dask\]'\)"):
        with open_executor("dask://127.0.0.1:9", None):
            pass


def test_cli_executor_error(tmp_path):
    from edgecc.examples import path as example_path

    model = example_path()
    proc = subprocess.run([sys.executable, "-m", "edgecc", model, "-t", "generic", "-o", tmp_path / "o",
                           "--calib", model.with_name("kws_calib.npz"), "--flash-budget", "50%",
                           "--executor", "dask://127.0.0.1:9"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1 and proc.stderr.strip().count("\n") == 0, proc.stderr
    assert "cannot reach a dask scheduler" in proc.stderr


def test_pareto_png_is_deterministic(tmp_path):
    from edgecc.compress.report import pareto_figure

    points = [(40072, 0.977), (30616, 0.982), (23708, 0.98), (22402, 0.99)]
    for name in ("a.png", "b.png"):
        pareto_figure(points, points[-1], tmp_path / name, "top-1")
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
