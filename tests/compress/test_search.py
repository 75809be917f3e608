"""``edgecc MODEL --flash-budget P% --eval E.npz``: the digits CNN lands at or under the budget.

The search chooses among every method (see test_search_methods.py for the mixed choice and the
executors); compress.json carries the search and the per-class accuracy.

The budget is checked against the emitted C's exact flash data (report.json)
and the accuracy against the unpruned int8 model, both measured on what the
compile wrote (the IR it emits is re-run by the integer reference).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest

from edgecc.compress.search import parse_budget
from edgecc.interp.reference import run
from edgecc.ir.diagnostics import EdgeccError
from edgecc.ir.text.parser import parse_module
from edgecc.quant.report import quantized_feeds

pytest.importorskip("sklearn")
_spec = importlib.util.spec_from_file_location("edgecc_tests_digits_cnn",
                                               Path(__file__).with_name("digits_cnn.py"))
D = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(D)


def edgecc(*args):
    return subprocess.run([sys.executable, "-m", "edgecc", *map(str, args)], capture_output=True, text=True,
                          timeout=1200)


def _accuracy(out: Path, x, y) -> float:
    m = parse_module((out / "model.mlir").read_text())
    hits = [run(m, quantized_feeds(m, {"x": xi[None]}))[0].argmax() == yi for xi, yi in zip(x, y)]
    return float(np.mean(hits))


@pytest.mark.slow
def test_flash_budget_40_percent_on_digits(tmp_path):
    params, train, test = D.train()
    onnx.save(D.export_onnx(params), tmp_path / "digits.onnx")
    np.savez(tmp_path / "calib.npz", x=D.nchw(train[0][:128]))
    xt = D.nchw(test[0])
    np.savez(tmp_path / "eval.npz", x=xt, y=test[1])
    common = [tmp_path / "digits.onnx", "-t", "cortex-m4", "--calib", tmp_path / "calib.npz", "--emit",
              "c,report,ir"]
    proc = edgecc(*common, "-o", tmp_path / "base")
    assert proc.returncode == 0, proc.stderr
    proc = edgecc(*common, "-o", tmp_path / "fit", "--flash-budget", "40%", "--eval", tmp_path / "eval.npz")
    assert proc.returncode == 0, proc.stderr
    base = json.loads((tmp_path / "base" / "report.json").read_text())["flash_data_bytes"]
    fit = json.loads((tmp_path / "fit" / "report.json").read_text())["flash_data_bytes"]
    assert fit <= int(0.4 * base), (base, fit)
    line = next(t for t in proc.stderr.splitlines() if t.startswith("flash budget"))
    assert f"{base:,} -> {fit:,} B" in line  # the search measured exactly what the compile emitted
    report = json.loads((tmp_path / "fit" / "compress.json").read_text())
    assert report["search"]["chosen"]["flash_bytes"] == report["total"]["flash_bytes"][1] == fit
    assert "per_class" in report["total"] and (tmp_path / "fit" / "pareto.png").is_file()
    acc0 = _accuracy(tmp_path / "base", xt, test[1])
    acc1 = _accuracy(tmp_path / "fit", xt, test[1])
    assert acc1 >= acc0 - 0.01, (acc0, acc1, line)


def test_budget_syntax():
    assert parse_budget("64k") == 65536 and parse_budget("1000") == 1000 and parse_budget("40%", 1000) == 400
    for bad in ("lots", "-5", "0%"):
        with pytest.raises(EdgeccError, match="flash-budget"):
            parse_budget(bad, 1000)


def test_flash_budget_needs_calibration(tmp_path):
    from edgecc.examples import path as example_path

    proc = edgecc(example_path(), "-t", "generic", "-o", tmp_path / "o", "--flash-budget", "50%")
    assert proc.returncode == 1 and "--flash-budget needs calibration data" in proc.stderr
