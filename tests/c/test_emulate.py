"""The generated C on emulated Cortex-M cores (QEMU): bit-exact outputs, repeatable instruction
counts per run and per layer, CMSIS-NN cheaper than the portable kernels, one-line errors."""

from __future__ import annotations

import importlib.util
import os
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from edgecc.backends.c.emulate import MACHINES, emulate, machine_for
from edgecc.backends.c.verify import random_samples, reference_outputs
from edgecc.ir.diagnostics import EdgeccError

_h = importlib.util.spec_from_file_location("edgecc_tests_c_helpers", Path(__file__).with_name("helpers.py"))
helpers = importlib.util.module_from_spec(_h)
_h.loader.exec_module(helpers)

TOOLS = ("arm-none-eabi-gcc", "arm-none-eabi-nm", "qemu-system-arm", "gcc")
needs_tools = pytest.mark.skipif(any(shutil.which(t) is None for t in TOOLS),
                                 reason=f"the emulator needs {', '.join(TOOLS)}")
needs_cmsis = pytest.mark.skipif(not os.environ.get("EDGECC_CMSIS_NN"),
                                 reason="EDGECC_CMSIS_NN is not set (a CMSIS-NN checkout)")
CORES = ("cortex-m55", "cortex-m4")
#: (--memory auto, --memory speed) arena bytes of the bundled example (the MLPerf KWS network)
EXAMPLE_ARENAS = {"cortex-m55": (14384, 20464), "cortex-m4": (9920, 16256)}
#: without a CMSIS-NN checkout the emulator still runs, on edgecc's portable kernels
KERNELS = None if os.environ.get("EDGECC_CMSIS_NN") else "portable"
LIBRARY = "cmsis-nn" if KERNELS is None else "edgecc"


def _same(got, want) -> bool:
    return len(got) == len(want) and all(
        g.dtype == w.dtype and np.array_equal(g, w) for gs, ws in zip(got, want) for g, w in zip(gs, ws))


@pytest.fixture(scope="module")
def example():
    """The bundled example, quantized to int8 as ``edgecc verify`` does, with 2 samples."""
    import edgecc.examples as ex
    from edgecc.backends.c.verify_cli import _load

    module, _ = _load(ex.path(), "auto", ex.path("kws_calib.npz"), "int", ())
    samples = random_samples(module, 2, seed=0)
    return module, samples, reference_outputs(module, samples)


def residual_cnn():
    """conv-relu-conv + skip, relu, global pool, dense: the smallest residual int8 network."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(3)

    def init(name, *shape):
        return numpy_helper.from_array((rng.standard_normal(shape) * 0.3).astype(np.float32), name)

    nodes = [
        helper.make_node("Conv", ["x", "w0", "b0"], ["c0"], pads=[1, 1, 1, 1], name="stem"),
        helper.make_node("Relu", ["c0"], ["r0"], name="stem_relu"),
        helper.make_node("Conv", ["r0", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1], name="block_conv1"),
        helper.make_node("Relu", ["c1"], ["r1"], name="block_relu"),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1], name="block_conv2"),
        helper.make_node("Add", ["c2", "r0"], ["s"], name="skip_add"),
        helper.make_node("Relu", ["s"], ["r2"], name="block_out"),
        helper.make_node("GlobalAveragePool", ["r2"], ["g"], name="pool"),
        helper.make_node("Flatten", ["g"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "wd", "bd"], ["y"], transB=1, name="fc"),
    ]
    inits = [init("w0", 8, 3, 3, 3), init("b0", 8), init("w1", 8, 8, 3, 3), init("b1", 8),
             init("w2", 8, 8, 3, 3), init("b2", 8), init("wd", 5, 8), init("bd", 5)]
    graph = helper.make_graph(nodes, "residual_cnn",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 12, 12])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 5])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _int8(model):
    from edgecc.quant.ptq import QuantizeConfig, quantize_module

    module = helpers.import_model(model)
    rng = np.random.default_rng(0)
    calib = [[rng.standard_normal(a.type.shape).astype(np.float32) for a in module.func.arguments]
             for _ in range(8)]
    quantize_module(module, QuantizeConfig(scheme="int8"), calib)
    return module


def _check(module, target, samples=None, **kw):
    samples = samples or random_samples(module, 2, seed=1)
    r = emulate(module, target, samples=samples, **kw)
    assert _same(r.outputs, reference_outputs(module, samples)), f"{target}: outputs differ"
    assert len(r.layer_instructions) == len(r.report["layers"])
    assert 0 < sum(r.layer_instructions) <= r.run_instructions < r.total_instructions
    return r


@needs_tools
@pytest.mark.parametrize("core", CORES)
def test_example_is_bit_exact_and_counts_repeat(core, example):
    module, samples, want = example
    first = emulate(module, core, samples=samples, kernels=KERNELS)
    assert first.machine == MACHINES[core] and first.target == core
    assert LIBRARY in first.report["libraries"]
    assert _same(first.outputs, want)
    assert len(first.layer_instructions) == len(first.report["layers"])
    assert sum(first.layer_instructions) <= first.run_instructions == first.sample_instructions[0]
    again = emulate(module, core, samples=samples, kernels=KERNELS)
    assert (again.run_instructions, again.layer_instructions, again.total_instructions) == \
        (first.run_instructions, first.layer_instructions, first.total_instructions)
    if LIBRARY == "cmsis-nn":  # the default plan: band groups, the arena goal, within 10 % of speed
        speed = emulate(module, core, samples=samples, memory="speed")
        assert _same(speed.outputs, want)
        assert (first.report["arena_bytes"], speed.report["arena_bytes"]) == EXAMPLE_ARENAS[core]
        assert first.report["arena_bytes"] <= 0.6 * 24272  # TFLM's arena of the MLPerf KWS model
        assert first.report["memory_choice"]["band_groups"] >= 5
        assert first.run_instructions <= 1.10 * speed.run_instructions


@needs_tools
@needs_cmsis
def test_cmsis_nn_runs_fewer_instructions_than_the_portable_kernels(example):
    module, samples, want = example
    speed = emulate(module, "cortex-m55", samples=samples[:1], memory="speed")
    portable = emulate(module, "cortex-m55", samples=samples[:1], kernels="portable")
    assert portable.report["libraries"] == ["edgecc"]
    assert _same(portable.outputs, want[:1]) and _same(speed.outputs, want[:1])
    assert speed.run_instructions * 2 < portable.run_instructions
    assert speed.report["arena_bytes"] >= portable.report["arena_bytes"]


@needs_tools
@pytest.mark.parametrize("core", CORES)
def test_residual_cnn(core, tmp_path):
    module = _int8(residual_cnn())
    for memory in ("speed", "ram"):
        r = _check(module, core, memory=memory, kernels=KERNELS,
                   workdir=tmp_path / f"a folder with spaces {memory}")
        assert (r.workdir / "program.elf").is_file()


@needs_tools
@pytest.mark.parametrize("core", CORES)
def test_mlperf_resnet8(core, shared_models):
    from edgecc.backends.c.ram_table import load

    path = shared_models / "pretrainedResnet_quant_qdq.onnx"
    if not path.is_file():
        pytest.skip(f"{path.name} is not in ../shared/models/mlperf_tiny")
    r = _check(load(path), core, kernels=KERNELS)
    assert LIBRARY in r.report["libraries"]


@pytest.mark.slow
@needs_tools
@needs_cmsis
@pytest.mark.parametrize("core", CORES)
def test_mlperf_vww_bands_over_shrinking_buffers(core, shared_models):
    """MobileNetV1 96x96: the strided first groups write their smaller outputs over the model input,
    whose freed tail holds the next groups' line buffers and outputs (the vww-class goal: <= 0.35x
    TFLM's arena at <= 1.25x the speed build's instructions)."""
    from edgecc.backends.c.ram_table import load

    path = shared_models / "vww_96_int8_qdq.onnx"
    if not path.is_file():
        pytest.skip(f"{path.name} is not in ../shared/models/mlperf_tiny")
    module = load(path)
    samples = random_samples(module, 1, seed=0)
    auto = _check(module, core, samples=samples)
    speed = _check(module, core, samples=samples, memory="speed")
    assert (auto.report["arena_bytes"], speed.report["arena_bytes"]) == VWW_ARENAS[core]
    assert auto.report["arena_bytes"] <= 0.35 * 103680
    assert auto.run_instructions <= 1.25 * speed.run_instructions


#: (--memory auto, --memory speed) arena bytes of the MLPerf VWW model
VWW_ARENAS = {"cortex-m55": (28640, 55296), "cortex-m4": (28624, 55328)}


@needs_tools
def test_float_model_on_every_machine():
    """Hard-float ABIs (M4/M7/M33/M55 FPUs enabled by the start-up code) and the soft-float M3."""
    module = helpers.import_model(residual_cnn())
    samples = random_samples(module, 1, seed=2)
    want = reference_outputs(module, samples)
    for core in MACHINES:
        r = emulate(module, core, samples=samples, profile=False)
        assert r.layer_instructions == [] and r.run_instructions > 0
        got, ref = r.outputs[0][0], want[0][0]
        assert np.allclose(got, ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max()), core


def test_cores_without_a_machine_give_one_line_errors():
    assert machine_for("cortex-m55") == "mps3-an547"
    for core in ("cortex-m0", "cortex-m0plus", "cortex-m85", "generic", "host"):
        with pytest.raises(EdgeccError, match=f"no QEMU machine emulates {core}") as e:
            machine_for(core)
        assert "\n" not in e.value.message


@needs_tools
def test_missing_tools_give_one_line_errors(monkeypatch, tmp_path):
    module = helpers.import_model(residual_cnn())
    qemu = shutil.which("qemu-system-arm")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(EdgeccError, match="qemu-system-arm is not on PATH.*install qemu-system-arm") as e:
        emulate(module, "cortex-m4")
    assert "\n" not in e.value.message
    (tmp_path / "qemu-system-arm").symlink_to(qemu)
    with pytest.raises(EdgeccError, match="arm-none-eabi-gcc is not on PATH.*gcc-arm-none-eabi") as e:
        emulate(module, "cortex-m4")
    assert "\n" not in e.value.message


@needs_tools
def test_missing_cmsis_nn_and_timeouts_are_one_line_errors(example, monkeypatch):
    module, samples, _ = example
    with pytest.raises(EdgeccError, match="did not finish on mps2-an386 within") as e:
        emulate(module, "cortex-m4", samples=samples[:1], kernels="portable", timeout=0.05)
    assert "\n" not in e.value.message
    monkeypatch.delenv("EDGECC_CMSIS_NN", raising=False)
    with pytest.raises(EdgeccError, match="set EDGECC_CMSIS_NN") as e:
        emulate(module, "cortex-m4", samples=samples[:1])
    assert "\n" not in e.value.message


def test_cached_builds_are_atomic_under_concurrency(tmp_path, monkeypatch):
    from edgecc.backends.c.emulate.toolchain import cached

    monkeypatch.setenv("EDGECC_CACHE_DIR", str(tmp_path / "cache with space"))
    calls, results = [], []

    def build(folder):
        calls.append(folder)
        (folder / "lib.a").write_bytes(b"x" * 100000)

    def worker():
        results.append(cached("thing", "k1", "lib.a", build))

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1 and results[0].read_bytes() == b"x" * 100000
    assert [p.name for p in (tmp_path / "cache with space" / "thing").iterdir()] == ["k1"]
    cached("thing", "k1", "lib.a", build)  # present: not rebuilt
    assert len(calls) <= 6


def _edgecc(*args):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "edgecc", *map(str, args)], capture_output=True, text=True,
                          timeout=600)


@needs_tools
@needs_cmsis
def test_cli_verify_emulate_and_bench():
    import json

    import edgecc.examples as ex

    calib = ex.path("kws_calib.npz")
    proc = _edgecc("verify", ex.path(), "-t", "cortex-m4", "--calib", calib, "--emulate", "--inputs", 2)
    assert proc.returncode == 0, proc.stderr
    assert "emulated on QEMU mps2-an386" in proc.stdout and "instructions per run" in proc.stdout
    assert proc.stdout.rstrip().endswith("PASS")
    proc = _edgecc("bench", ex.path(), "-t", "cortex-m55", "--calib", calib, "--memory", "speed", "--json")
    assert proc.returncode == 0, proc.stderr
    s = json.loads(proc.stdout)
    assert s["machine"] == "mps3-an547" and s["memory"] == "speed" and s["arena_bytes"] > 0
    layers = sum(lay["instructions"] for lay in s["layers"])
    assert layers == s["layer_instructions_total"] <= s["run_instructions"]
    proc = _edgecc("bench", ex.path(), "-t", "cortex-m55", "--calib", calib)
    assert proc.returncode == 0, proc.stderr
    assert "arm_convolve_wrapper_s8" in proc.stdout and "total per run:" in proc.stdout
    proc = _edgecc("bench", ex.path(), "-t", "cortex-m0plus")
    assert proc.returncode == 1 and proc.stderr.strip().count("\n") == 0
    assert "no QEMU machine emulates cortex-m0plus" in proc.stderr


@needs_tools
def test_a_fault_is_a_one_line_error(example, monkeypatch):
    """A store to unmapped memory inside the run: the fault handler names it and QEMU exits."""
    from edgecc.backends.c.emulate import program

    module, samples, _ = example
    write_main = program.write_main

    def faulting_main(workdir, prefix, n):
        path = write_main(workdir, prefix, n)
        path.write_text(path.read_text().replace(
            "edgecc_emu_run_begin();", "edgecc_emu_run_begin();\n        *(volatile int *)0xF0000000u = 1;",
            1))
        return path

    monkeypatch.setattr(program, "write_main", faulting_main)
    with pytest.raises(EdgeccError, match=r"faulted on mps2-an386: HardFault at pc 0x[0-9a-f]{8} \(") as e:
        emulate(module, "cortex-m4", samples=samples[:1], kernels="portable", timeout=60)
    assert "\n" not in e.value.message


@needs_tools
def test_block_counts_equal_single_step_counts(tmp_path):
    """Counting whole translation blocks is exact: one-instruction blocks (-singlestep) give the
    same total, run and layer counts."""
    import subprocess

    from edgecc.backends.c.emulate import counts, program, toolchain
    from edgecc.backends.c.emulate.machines import qemu_command

    module = helpers.import_model(residual_cnn())
    r = emulate(module, "cortex-m4", workdir=tmp_path)
    elf = tmp_path / program.ELF
    cmd = qemu_command(toolchain.qemu(), r.machine, elf.name, toolchain.plugin(), program.mark_addresses(elf),
                       counts="single.txt")
    subprocess.run([*cmd, "-singlestep"], cwd=tmp_path, check=True, timeout=300, capture_output=True)
    single = counts.parse((tmp_path / "single.txt").read_text())
    assert (single.total, single.runs[0], single.layers[0]) == \
        (r.total_instructions, r.run_instructions, r.layer_instructions)
