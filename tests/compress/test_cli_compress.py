"""Compression from the main command: ``-p "...,prune{...}"`` reads ``--calib``; exact flash in the report."""

from __future__ import annotations

import json
import subprocess
import sys

from edgecc.examples import path as example_path
from edgecc.passes.registry import DEFAULT_PIPELINE


def edgecc(*args):
    return subprocess.run([sys.executable, "-m", "edgecc", *map(str, args)], capture_output=True, text=True,
                          timeout=600)


def test_prune_from_the_main_command_shrinks_the_c_flash(tmp_path):
    model = example_path()
    calib = model.with_name("kws_calib.npz")
    reports, texts = [], []
    pruning = DEFAULT_PIPELINE + ",prune{ratio=0.5 multiple=4}"
    for name, pipeline in (("base", DEFAULT_PIPELINE), ("a", pruning), ("b", pruning)):
        proc = edgecc(model, "-t", "cortex-m4", "-o", tmp_path / name, "--calib", calib, "-p", pipeline,
                      "--emit", "c,report")
        assert proc.returncode == 0, proc.stderr
        reports.append(json.loads((tmp_path / name / "report.json").read_text()))
        texts.append((tmp_path / name / "model_weights.c").read_bytes())
    base, pruned, again = reports
    assert pruned["flash_data_bytes"] < 0.6 * base["flash_data_bytes"]
    assert texts[1] == texts[2]  # deterministic
    proc = edgecc(model, "-t", "generic", "-o", tmp_path / "x", "-p", "prune")
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0 and "needs calibration data" in proc.stderr
