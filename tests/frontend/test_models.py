"""Whole models: import, optimise, verify, and match onnxruntime (reference interpreter)."""

from __future__ import annotations

import importlib.util
import sys
import time
import warnings
from pathlib import Path

import onnx
import pytest

from edgecc.frontend import import_onnx

_spec = importlib.util.spec_from_file_location("edgecc_tests_frontend_models", Path(__file__).with_name("models.py"))
models = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = models
_spec.loader.exec_module(models)

MLPERF = Path(__file__).resolve().parents[2].parent / "shared/models/mlperf_tiny"
FLOAT_MLPERF = ["ad01_fp32.onnx", "kws_ref_model_float32.onnx", "pretrainedResnet.onnx", "vww_96_float.onnx"]
QDQ_MLPERF = ["ad01_int8_qdq.onnx", "kws_ref_model_qdq.onnx", "pretrainedResnet_quant_qdq.onnx",
              "vww_96_int8_qdq.onnx"]
LIGHT_DIR = Path(onnx.__file__).parent / "backend/test/data/light"
LIGHT = sorted(p.name for p in LIGHT_DIR.glob("light_*.onnx")) if LIGHT_DIR.is_dir() else []


def _import(model, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # dynamic-batch notices
        return import_onnx(model, **kw)


def _no_onnx_ops(module) -> None:
    left = sorted({op.name for op in module.ops if op.name.startswith("onnx.")})
    assert not left, f"not legalized: {left}"


@pytest.mark.parametrize("name", sorted(models.MODELS))
def test_builtin_model(name):
    model = models.MODELS[name]()
    module = _import(model)
    _no_onnx_ops(module)
    module.verify()
    models.assert_matches_onnxruntime(model, module)


def test_builtin_model_batch_4():
    model = models.dense_autoencoder(17, use_gemm=True)
    module = _import(model, input_shapes={"spectrum": (4, 640)})
    assert module.func.arguments[0].type.shape == (4, 640)
    models.assert_matches_onnxruntime(model, module)


def test_qdq_model():
    model = models.qdq_model()
    module = _import(model)
    _no_onnx_ops(module)
    module.verify()
    arg = module.func.arguments[0]
    assert arg.type.is_quantized and arg.type.element.zero_point == -3
    assert module.func.outputs[0].type.is_quantized
    models.assert_matches_onnxruntime(model, module, int_atol=1)


@pytest.mark.parametrize("name", FLOAT_MLPERF)
def test_mlperf_tiny_float(name):
    path = MLPERF / name
    if not path.exists():
        pytest.skip(f"{path.name} not found (shared/models/mlperf_tiny is absent)")
    module = _import(path)
    _no_onnx_ops(module)
    module.verify()
    models.assert_matches_onnxruntime(path, module)


@pytest.mark.parametrize("name", QDQ_MLPERF)
def test_mlperf_tiny_qdq(name):
    path = MLPERF / name
    if not path.exists():
        pytest.skip(f"{path.name} not found (shared/models/mlperf_tiny is absent)")
    module = _import(path)
    _no_onnx_ops(module)
    module.verify()
    kinds = {op.result.type.element.kind for op in module.ops if op.name == "nn.quantize"}
    assert kinds == {"qi8"}
    arg = module.func.arguments[0]
    assert arg.type.element.kind == "qi8", "the int8 model input is retyped to its quantized type"
    assert module.func.outputs[0].type.element.kind == "qi8"


@pytest.mark.parametrize("name", QDQ_MLPERF)
def test_mlperf_tiny_qdq_keeps_quantized_weights(name):
    path = MLPERF / name
    if not path.exists():
        pytest.skip(f"{path.name} not found (shared/models/mlperf_tiny is absent)")
    model = onnx.load(path)
    inits = {t.name: t.data_type for t in model.graph.initializer}
    weight_dq = sum(1 for n in model.graph.node if n.op_type == "DequantizeLinear"  # weights and biases
                    and inits.get(n.input[0]) in (onnx.TensorProto.INT8, onnx.TensorProto.INT32))
    for optimize in (False, True):  # optimisation must not fold the quantized weights or biases away
        module = _import(path, optimize=optimize)
        qconsts = [op for op in module.ops
                   if op.name == "builtin.constant" and op.result.type.is_quantized]
        assert len(qconsts) == weight_dq, optimize
    for op in qconsts:
        assert op.result.users[0].name == "nn.dequantize"


@pytest.mark.parametrize("name", QDQ_MLPERF)
def test_mlperf_tiny_qdq_numerics(name):
    """Float simulation of the QDQ graph: within one step of onnxruntime's int8 output."""
    path = MLPERF / name
    if not path.exists():
        pytest.skip(f"{path.name} not found (shared/models/mlperf_tiny is absent)")
    from edgecc.ir.diagnostics import EdgeccError

    module = _import(path)
    try:
        models.assert_matches_onnxruntime(path, module, int_atol=1)
    except EdgeccError as e:
        if "not implemented in the reference interpreter" in str(e):
            pytest.skip(f"reference interpreter: {e.message}")
        raise


@pytest.mark.parametrize("name", LIGHT or ["none"])
def test_onnx_light_model(name):
    if name == "none":
        pytest.skip("onnx wheel ships no light_* models")
    t = time.perf_counter()
    module = _import(LIGHT_DIR / name)
    _no_onnx_ops(module)
    module.verify()
    assert time.perf_counter() - t < 120
