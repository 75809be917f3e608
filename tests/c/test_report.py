"""The C report: both figures of the memory/speed trade, why each layer got its kernel, I/O
quantization, the pictures (deterministic), and --ram-budget choosing the fastest plan that fits."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from edgecc.backends.c.generate import build_model
from edgecc.examples import path

EXAMPLE = str(path())
CALIB = str(path("kws_calib.npz"))


def edgecc(*args, cwd):
    return subprocess.run([sys.executable, "-m", "edgecc", *args], cwd=cwd, capture_output=True, text=True)


@pytest.fixture(scope="module")
def example_int8():
    from edgecc.passes.registry import DEFAULT_PIPELINE
    from edgecc.tools.compile import build_pipeline, load_model

    module = load_model(path(), optimize=False)
    build_pipeline(DEFAULT_PIPELINE, "int8", path("kws_calib.npz"), "int", False).run(module)
    return module


def test_report_shows_both_figures_and_why(tmp_path):
    r = edgecc(EXAMPLE, "-t", "cortex-m55", "--calib", CALIB, "-o", "out", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "--memory speed: 20,464 B" in r.stdout and "instructions per inference" in r.stdout
    md = (tmp_path / "out" / "report.md").read_text()
    assert "| `--memory speed` (all CMSIS-NN, whole tensors) | 20,464 |" in md
    assert "| this build | 14,384 |" in md
    assert "CMSIS-NN over bands of" in md and "alias of its input: no code" in md
    assert "scale 0.137373134, zero point 33" in md  # the input's quantization
    assert "![live bytes per step](memory.png)" in md
    rep = json.loads((tmp_path / "out" / "report.json").read_text())
    assert rep["inputs"][0]["zero_point"] == 33 and rep["outputs"][0]["zero_point"] == -128
    assert all(lay["location"] for lay in rep["layers"])  # every layer named, conv rows too
    assert all(lay["why"] for lay in rep["layers"] if lay["macs"])
    for f in ("memory.png", "layers.png"):
        assert (tmp_path / "out" / f).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    r2 = edgecc(EXAMPLE, "-t", "cortex-m55", "--calib", CALIB, "-o", "again", cwd=tmp_path)
    assert r2.returncode == 0
    for f in ("memory.png", "layers.png", "report.md", "report.json"):
        assert (tmp_path / "out" / f).read_bytes() == (tmp_path / "again" / f).read_bytes(), f


def test_ram_budget_takes_the_fastest_plan_that_fits(example_int8):
    speed = build_model(example_int8, target="cortex-m55", memory="speed").report
    smallest = build_model(example_int8, target="cortex-m55", memory="ram").report
    assert smallest["arena_bytes"] < speed["arena_bytes"]
    # a budget the speed build fits: auto is the speed build
    roomy = build_model(example_int8, target="cortex-m55", ram_budget=speed["arena_bytes"]).report
    assert roomy["arena_bytes"] == speed["arena_bytes"]
    assert roomy["memory_choice"]["estimated_instructions"] == speed["memory_choice"]["estimated_instructions"]
    # a tight budget: it fits, and it is not slower than the smallest plan
    tight = build_model(example_int8, target="cortex-m55", ram_budget=smallest["arena_bytes"]).report
    assert tight["arena_bytes"] <= smallest["arena_bytes"]
    assert tight["memory_choice"]["ram_budget"] == smallest["arena_bytes"]


def test_ram_budget_cli(tmp_path):
    r = edgecc(EXAMPLE, "-t", "cortex-m55", "--calib", CALIB, "-o", "out", "--ram-budget", "20K", "-q",
               cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "out" / "report.json").read_text())["arena_bytes"] <= 20 * 1024
    r = edgecc(EXAMPLE, "-t", "cortex-m55", "--calib", CALIB, "-o", "small", "--ram-budget", "1K", cwd=tmp_path)
    assert r.returncode == 1 and not (tmp_path / "small").exists()
    assert r.stderr.count("\n") == 1 and "over --ram-budget 1,024 B" in r.stderr and "B of RAM" in r.stderr
    r = edgecc(EXAMPLE, "-o", "x", "--ram-budget", "lots", cwd=tmp_path)
    assert r.returncode == 1 and "--ram-budget 'lots'" in r.stderr


@pytest.mark.parametrize("target", ["generic", "cortex-m55"])
def test_layer_macs_sum_to_the_nn_total(example_int8, target):
    """Every layer row carries its MACs (bands: their members'); they add up to the nn-level count."""
    from edgecc.analysis.stats import module_stats

    total = module_stats(example_int8).total_macs
    rep = build_model(example_int8, target=target).report
    assert rep["macs"] == total == sum(lay["macs"] for lay in rep["layers"]) > 0
    convs = [lay for lay in rep["layers"] if "conv" in lay["kernel"]]
    assert convs and all(lay["macs"] > 0 for lay in convs)
