"""``edgecc.runtime.Session``: onnxruntime-like API, quantized I/O, batches, errors, sources."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("numba")
pytest.importorskip("onnx")

from edgecc.backends.numba import HostModule, compile_module  # noqa: E402
from edgecc.frontend import import_onnx  # noqa: E402
from edgecc.interp.reference import run as reference_run  # noqa: E402
from edgecc.ir.diagnostics import EdgeccError  # noqa: E402
from edgecc.runtime import NodeArg, Session  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "compiler" / "examples" / "kws_dscnn.onnx"
MLPERF = REPO.parent / "shared" / "models" / "mlperf_tiny"

sys.path.insert(0, str(REPO / "tests" / "c"))
import helpers  # noqa: E402

models = helpers.load_test_models()


@pytest.fixture(scope="module")
def example():
    return Session(EXAMPLE)


@pytest.fixture(scope="module")
def qdq(tmp_path_factory):
    path = tmp_path_factory.mktemp("qdq") / "qdq.onnx"
    import onnx

    onnx.save(models.qdq_model(), path)
    return path


def test_runtime_import_does_not_import_numba():
    code = "import sys, edgecc.runtime\nassert 'numba' not in sys.modules\nprint(edgecc.runtime.__all__)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_inputs_outputs_like_onnxruntime(example):
    import onnxruntime as ort

    ref = ort.InferenceSession(str(EXAMPLE), providers=["CPUExecutionProvider"])
    ins, outs = example.get_inputs(), example.get_outputs()
    assert [i.name for i in ins] == [i.name for i in ref.get_inputs()]
    assert [o.name for o in outs] == [o.name for o in ref.get_outputs()]
    assert isinstance(ins[0], NodeArg) and ins[0].type == "float32" and ins[0].shape == [1, 1, 49, 10]
    assert ins[0].quantization is None
    x = np.random.default_rng(0).standard_normal(ins[0].shape).astype(np.float32)
    (y,) = example.run(None, {ins[0].name: x})
    (z,) = ref.run(None, {ins[0].name: x})
    np.testing.assert_allclose(y, z, rtol=1e-5, atol=1e-6)
    (y2,) = example.run([outs[0].name], {ins[0].name: x})
    np.testing.assert_array_equal(y, y2)


@pytest.mark.parametrize("feeds, message", [
    ({"nope": np.zeros((1, 1, 49, 10), np.float32)}, "unknown input 'nope'"),
    ({}, "missing input 'input'"),
    ({"input": np.zeros((1, 1, 49, 11), np.float32)},
     "has shape \\[1, 1, 49, 11\\], expected \\[1, 1, 49, 10\\]"),
    ({"input": np.zeros((1, 49, 10), np.float32)}, "has rank 3"),
    ({"input": np.zeros((1, 1, 49, 10), np.float64)}, "dtype float64, expected float32"),
    ({"input": np.zeros((1, 1, 49, 10), np.int8)}, "dtype int8, expected float32"),
])
def test_feed_errors(example, feeds, message):
    with pytest.raises(EdgeccError, match=message):
        example.run(None, feeds)


def test_unknown_output_name(example):
    with pytest.raises(EdgeccError, match="unknown output 'logits'"):
        example.run(["logits"], {"input": np.zeros((1, 1, 49, 10), np.float32)})


def test_batch_feed_on_a_graph_fixing_batch_1(example):
    x = np.random.default_rng(1).standard_normal((4, 1, 49, 10)).astype(np.float32)
    (y,) = example.run(None, {"input": x})
    assert y.shape == (4, 12)
    np.testing.assert_array_equal(y[2:3], example.run(None, {"input": x[2:3]})[0])


def test_batch_recompiles_a_dynamic_batch_onnx_model(tmp_path):
    import onnx

    path = tmp_path / "ae.onnx"
    onnx.save(models.dense_autoencoder(17, use_gemm=True), path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sess = Session(path)
        x = np.random.default_rng(2).standard_normal((5, 640)).astype(np.float32)
        (y,) = sess.run(None, {sess.get_inputs()[0].name: x})
    assert y.shape[0] == 5
    assert len(sess._hosts) == 2  # compiled once more, for batch 5 (batch-folded)
    (y1,) = sess.run(None, {sess.get_inputs()[0].name: x[:1]})
    np.testing.assert_allclose(y[:1], y1, rtol=1e-6, atol=1e-6)


def test_quantized_io(qdq):
    sess = Session(qdq)
    arg, out = sess.get_inputs()[0], sess.get_outputs()[0]
    assert arg.type == "int8" and arg.quantization == pytest.approx((0.05, -3))
    assert out.type == "int8" and out.quantization is not None
    xf = np.random.default_rng(3).uniform(-3, 3, arg.shape).astype(np.float32)
    xq = arg.quantize(xf)
    assert xq.dtype == np.int8
    (from_float,) = sess.run(None, {arg.name: xf})  # auto-quantized
    (from_int,) = sess.run(None, {arg.name: xq})  # passed through
    np.testing.assert_array_equal(from_float, from_int)
    assert from_int.dtype == np.int8
    (want,) = reference_run(sess.module, [xq])
    np.testing.assert_array_equal(from_int, want)
    deq = Session(qdq, dequantize_outputs=True)
    (yf,) = deq.run(None, {arg.name: xq})
    assert yf.dtype == np.float32
    np.testing.assert_allclose(yf, out.dequantize(from_int))
    strict = Session(qdq, auto_quantize=False)
    with pytest.raises(EdgeccError, match="is quantized"):
        strict.run(None, {arg.name: xf})
    with pytest.raises(EdgeccError, match="dtype int16, expected int8"):
        sess.run(None, {arg.name: xq.astype(np.int16)})


def test_sources_module_hostmodule_and_ir_text(tmp_path):
    module = import_onnx(EXAMPLE)
    x = np.random.default_rng(4).standard_normal((1, 1, 49, 10)).astype(np.float32)
    a = Session(module).run(None, {"input": x})[0]
    host = compile_module(module)
    assert isinstance(host, HostModule)
    b = Session(host).run(None, {"input": x})[0]
    ir = tmp_path / "kws.mlir"
    ir.write_text(str(module))
    c = Session(ir).run(None, {"input": x})[0]
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)
    other = tmp_path / "model.txt"
    other.write_text("")
    with pytest.raises(EdgeccError, match="unknown model format"):
        Session(other)
    with pytest.raises(EdgeccError, match="no such file"):
        Session(tmp_path / "missing.onnx")


@pytest.mark.parametrize("name", ["vww_96_float.tflite", "vww_96_int8.tflite"])
def test_tflite_models_match_litert(name):
    path = MLPERF / name
    if not path.exists():
        pytest.skip(f"{name} not found (shared/models/mlperf_tiny is absent)")
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        pytest.skip("ai-edge-litert is not installed")
    sess = Session(path)
    arg = sess.get_inputs()[0]
    rng = np.random.default_rng(5)
    x = rng.standard_normal(arg.shape).astype(np.float32)
    if arg.type != "float32":
        x = arg.quantize(x)
    (y,) = sess.run(None, {arg.name: x})
    it = Interpreter(model_path=str(path), num_threads=1)
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    z = it.get_tensor(it.get_output_details()[0]["index"])
    if y.dtype.kind == "f":
        np.testing.assert_allclose(y, z, rtol=1e-5, atol=1e-5)
    else:
        np.testing.assert_array_equal(y, z)


def test_doc_examples_run():
    import re

    doc = (REPO / "docs" / "backends" / "numba.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", doc, re.S)
    assert len(blocks) >= 2
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "docs/backends/numba.md", "exec"), namespace)
