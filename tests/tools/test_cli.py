"""The edgecc command line: main form, inspect, errors and output-folder safety."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from edgecc.examples import path as example_path

REPO = Path(__file__).resolve().parents[2]


def edgecc(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "edgecc", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=600)


def test_compile_writes_ir_and_report_deterministically(tmp_path):
    outs = []
    for name in ("a", "b"):
        proc = edgecc(example_path(), "-t", "generic", "-o", tmp_path / name, "--emit", "ir,report")
        assert proc.returncode == 0, proc.stderr
        outs.append({p.name: p.read_bytes() for p in sorted((tmp_path / name).iterdir())})
    assert set(outs[0]) == {"model.mlir", "report.json", "report.md", ".edgecc-manifest"}
    assert outs[0] == outs[1]
    text = outs[0]["model.mlir"].decode()
    assert "nn.depthwise_conv2d" in text and " = onnx." not in text


@pytest.mark.parametrize("args, message", [
    (["nosuch.onnx", "-o", "OUT"], "nosuch.onnx: no such file"),
    (["BAD", "-o", "OUT"], "not a valid ONNX model"),
    (["EXAMPLE", "-o", "OUT", "-t", "cortex-z9"], "unknown core 'cortex-z9'"),
    (["EXAMPLE", "-o", "OUT", "--board", "nrf52840x"], "unknown board 'nrf52840x'"),
    (["EXAMPLE", "-o", "OUT", "--board", "nrf52840", "--quantize", "int8"], "needs calibration data"),
    (["EXAMPLE", "-o", "OUT", "--prefix", "1bad"], "--prefix '1bad' is not a usable C identifier"),
    (["EXAMPLE", "-o", "OUT", "--emit", "pdf"], "unknown artifact 'pdf'"),
    (["EXAMPLE", "-o", "OUT", "--input-shape", "input=1xx3"], "--input-shape 'input=1xx3'"),
    (["EXAMPLE", "-o", "OUT", "-p", "canonicalise"], "canonicalize"),
])
def test_user_errors_are_one_line_exit_1_and_leave_output_untouched(tmp_path, args, message):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("previous build")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"this is not a protobuf \x00\xff")
    subst = {"OUT": out, "BAD": bad, "EXAMPLE": example_path()}
    proc = edgecc(*[subst.get(a, a) for a in args], cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert message in lines[0]
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.tmp")]


def test_unknown_target_lists_the_choices(tmp_path):
    proc = edgecc(example_path(), "-t", "cortex-m56", "-o", tmp_path / "o")
    assert proc.returncode == 1 and "unknown core 'cortex-m56'" in proc.stderr
    assert "cortex-m55" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_model_that_does_not_fit_the_board_fails_with_numbers_and_advice(shared_models, tmp_path):
    out = tmp_path / "o"
    proc = edgecc(shared_models / "vww_96_float.onnx", "--board", "stm32f401", "-o", out)
    assert proc.returncode == 1
    line = proc.stderr.strip().splitlines()[-1]  # after the dynamic-batch warning
    assert line.startswith("error: model does not fit stm32f401: flash needs")
    assert "--quantize int8" in line and "Traceback" not in proc.stderr
    assert not out.exists()


def test_main_form_emits_c_that_fits_and_writes_a_depfile(tmp_path):
    calib = example_path("kws_calib.npz")
    dep = tmp_path / "model.d"
    proc = edgecc(example_path(), "-t", "cortex-m4", "--board", "nrf52840", "--calib", calib,
                  "-o", tmp_path / "o", "--emit", "c,report,testbench", "--depfile", dep, "--prefix", "kws")
    assert proc.returncode == 0, proc.stderr
    names = {p.name for p in (tmp_path / "o").iterdir()}
    assert {"kws.h", "kws.c", "kws_weights.c", "kws_testbench.c", "report.json"} <= names
    assert "fits nrf52840" in proc.stdout and "arm_convolve" in proc.stdout
    text = dep.read_text()
    assert "kws.c" in text and "kws_calib.npz" in text


def test_inspect_summarises_the_example():
    proc = edgecc("inspect", example_path())
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "input  input: tensor<1x1x49x10xf32>" in out
    assert "depthwise_conv2d 4" in out
    assert "MACs:" in out and "parameters:" in out


def test_inspect_lists_every_unsupported_op(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    nodes = [helper.make_node("Relu", ["x"], ["a"], name="r"),
             helper.make_node("GridSample", ["a", "g"], ["b"], name="grid1"),
             helper.make_node("Det", ["b"], ["y"], name="det")]
    graph = helper.make_graph(nodes, "g", [
        helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 4, 4]),
        helper.make_tensor_value_info("g", TensorProto.FLOAT, [1, 4, 4, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    proc = edgecc("inspect", path)
    assert proc.returncode == 1
    assert "'grid1' (GridSample, opset 17)" in proc.stderr
    assert "'det' (Det, opset 17)" in proc.stderr


def test_opt_runs_a_pipeline_with_timing_and_printing(tmp_path):
    src = REPO / "tests" / "ir" / "roundtrip.mlir"
    proc = edgecc("opt", src, "-p", "canonicalize,cse", "--pass-timing", "--print-ir-after", "cse",
                  "-o", tmp_path / "o.mlir")
    assert proc.returncode == 0, proc.stderr
    assert "IR after cse" in proc.stderr
    assert "canonicalize" in proc.stderr  # timing table
    assert (tmp_path / "o.mlir").read_text().startswith("module @roundtrip")


def test_quantized_example_to_tflite_is_bit_exact_in_tflm(tmp_path):
    """The main form end to end: calibrate, quantize to int8, emit .tflite, run it in TFLM."""
    import numpy as np

    from edgecc.backends.tflite.verify import run_tflm
    from edgecc.examples import calibration_inputs
    from edgecc.interp.reference import run
    from edgecc.ir.text.parser import parse_module

    calib = example_path("kws_calib.npz")
    proc = edgecc(example_path(), "-o", tmp_path / "out", "--calib", calib, "--emit", "ir,tflite")
    assert proc.returncode == 0, proc.stderr
    module = parse_module((tmp_path / "out" / "model.mlir").read_text())
    arg = module.func.arguments[0]
    assert arg.type.is_quantized and str(arg.type.element.storage) == "i8"  # --io int by default
    q = arg.type.element
    data = (tmp_path / "out" / "model.tflite").read_bytes()
    for x in calibration_inputs(4, seed=7):
        xq = np.clip(np.round(x[None] / q.scale) + q.zero_point, -128, 127).astype(np.int8)
        assert np.array_equal(run_tflm(data, [xq])[0], run(module, [xq])[0])


def test_tflite_model_in_tflite_out(shared_models, tmp_path):
    proc = edgecc(shared_models / "kws_ref_model.tflite", "-o", tmp_path / "o", "--emit", "tflite,report")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "o" / "model.tflite").stat().st_size > 20_000


POW_IR = """module {
  func.func @main(%x: tensor<1x4xf32>) -> (tensor<1x4xf32>) {
    %0 = builtin.constant() {value = dense<[2.0]> : tensor<1xf32>} : () -> tensor<1xf32>
    %1 = nn.pow(%x, %0) : (tensor<1x4xf32>, tensor<1xf32>) -> tensor<1x4xf32>
    func.return(%1) : (tensor<1x4xf32>) -> ()
  }
}
"""


def test_tflite_for_a_microcontroller_core_refuses_what_tflm_cannot_run(tmp_path):
    """POW has no TFLM kernel: -t cortex-m4 stops at compile time; -t generic writes it (LiteRT runs it)."""
    model = tmp_path / "pow.mlir"
    model.write_text(POW_IR, encoding="utf-8")
    proc = edgecc(model, "-t", "cortex-m4", "-o", tmp_path / "m4", "--emit", "tflite")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "POW on FLOAT32: TFLM registers no kernel for it" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    proc = edgecc(model, "-t", "generic", "-o", tmp_path / "any", "--emit", "tflite")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "any" / "model.tflite").is_file()
