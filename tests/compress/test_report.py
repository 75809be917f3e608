"""compress.json / compress.md / layers.png for the digits CNN compressed by sparsify + cluster:
the figures are the C builds' exact ones, per-class accuracy flags the classes that lose most."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from edgecc.backends.c.generate import build_model
from edgecc.compress.report import compression_report, pareto_figure, write_report
from edgecc.passes.manager import PassManager

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "c"))
import helpers  # noqa: E402

DIGITS = helpers.load("edgecc_tests_digits", HERE.parent / "quant" / "test_digits_accuracy.py")
pytest.importorskip("sklearn")


@pytest.fixture(scope="module")
def report():
    from edgecc.frontend import import_onnx
    from edgecc.quant.ptq import QuantizeConfig, quantize_module

    params, train, test = DIGITS.train_digits()
    calib = {"x": train[0][:100, None]}
    mods = []
    for pipe in ("canonicalize", "sparsify{pattern=2:4 method=sparsegpt},cluster{levels=3}"):
        m = import_onnx(DIGITS.export_onnx(params))
        PassManager.parse(pipe, options={"calibration": calib}).run(m)
        quantize_module(m, QuantizeConfig(scheme="int8"), calib)
        mods.append(m)
    ev = {"x": test[0][:, None], "y": test[1]}
    return (
        compression_report(mods[0], mods[1], calibration=calib, evaluation=ev, weights="encoded"),
        mods,
        test,
    )


def test_totals_are_the_c_builds_figures(report):
    r, (before, after), _ = report
    t = r["total"]
    b = build_model(before, weights="dense").report
    a = build_model(after, weights="encoded").report
    assert t["flash_bytes"] == [b["flash_data_bytes"], a["flash_data_bytes"]]
    assert t["ram_bytes"] == [b["arena_bytes"], a["arena_bytes"]]
    assert t["flash_bytes"][1] < 0.55 * t["flash_bytes"][0]
    # the per-layer flash drop adds up to the model's (biases and parameters unchanged)
    assert (
        sum(x["flash_bytes"][0] - x["flash_bytes"][1] for x in r["layers"])
        == t["flash_bytes"][0] - t["flash_bytes"][1]
    )
    fc = next(x for x in r["layers"] if x["op"] == "fully_connected")
    # 2:4 + 3 levels: mask (1 bit) + 2-bit index per nonzero (1 bit) + codebooks and parameters
    assert fc["encoding"] == "sparse_lut" and fc["levels"] == 4 and fc["sparsity"] == 0.5 and fc["bits"] < 2.5
    assert t["nonzero_macs"] < t["macs"][1]
    assert all(np.isfinite(x["sqnr_db"]) and x["sqnr_db"] > 5 for x in r["layers"])


def test_per_class_accuracy_flags_the_largest_drops(report):
    r, (before, after), test = report
    from edgecc.interp.reference import run

    t = r["total"]
    pred = {
        k: np.array([run(m, [x[None, None]])[0].argmax() for x in test[0]])
        for k, m in (("b", before), ("a", after))
    }
    assert t["accuracy"] == pytest.approx([np.mean(pred["b"] == test[1]), np.mean(pred["a"] == test[1])])
    drops = {c["label"]: c["accuracy"][1] - c["accuracy"][0] for c in t["per_class"]}
    losing = sorted((d, k) for k, d in drops.items() if d < 0)[:3]
    assert t["worst_classes"] == [k for _, k in losing]


def test_files_are_written_and_deterministic(report, tmp_path):
    r = report[0]
    paths = write_report(r, tmp_path / "a")
    write_report(r, tmp_path / "b")
    names = sorted(p.name for p in paths)
    assert names[:2] == ["compress.json", "compress.md"]
    for n in ("compress.json", "compress.md"):
        assert (tmp_path / "a" / n).read_bytes() == (tmp_path / "b" / n).read_bytes()
    data = json.loads((tmp_path / "a" / "compress.json").read_text())
    assert data["total"]["flash_bytes"] == r["total"]["flash_bytes"]
    md = (tmp_path / "a" / "compress.md").read_text()
    assert "| fc | fully_connected |" in md and "(loses most)" in md
    pytest.importorskip("matplotlib")
    assert "layers.png" in names and (tmp_path / "a" / "layers.png").read_bytes()[:4] == b"\x89PNG"
    pareto_figure([(1000, 0.9), (1500, 0.95)], (1000, 0.9), tmp_path / "pareto.png", "top-1")
    assert (tmp_path / "pareto.png").stat().st_size > 1000


def test_int4_weights_are_counted_packed():
    """An int8-w4 layer on CMSIS-NN stores 4 bits a weight (packed for the _s4 kernels): the report's bits
    and flash columns say so and its flash bytes are half its weights; on the portable kernels it
    stays a byte a weight."""
    from edgecc.frontend import import_onnx
    from edgecc.quant.ptq import QuantizeConfig, quantize_module

    params, train, _ = DIGITS.train_digits()
    calib = {"x": train[0][:32, None]}
    mods = []
    for scheme in ("int8", "int8-w4"):
        m = import_onnx(DIGITS.export_onnx(params))
        quantize_module(m, QuantizeConfig(scheme=scheme), calib)
        mods.append(m)
    for target, bits in (("cortex-m55", 4.0), ("generic", 8.0)):
        r = compression_report(mods[0], mods[1], calibration=calib, weights="dense", target=target)
        assert all(x["bits"] == pytest.approx(bits, abs=0.01) for x in r["layers"]), target
        for x in r["layers"]:
            assert x["flash_bytes"][1] == -(-x["params"][1] * int(bits) // 8), (target, x["layer"])
