"""Quantized test models (the quantize pass, int8, int16x8 and int8-w4) -> .tflite: TFLM bit-exact
with edgecc's integer reference interpreter on 20 random inputs; LiteRT loads and runs them."""

from __future__ import annotations

import importlib.util
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from edgecc.backends import tflite
from edgecc.backends.tflite import verify as V

_spec = importlib.util.spec_from_file_location("edgecc_tests_frontend_models",
                                               Path(__file__).resolve().parents[1] / "frontend/models.py")
models = sys.modules.get(_spec.name)
if models is None:
    models = importlib.util.module_from_spec(_spec)
    sys.modules[_spec.name] = models
    _spec.loader.exec_module(models)

EXAMPLE = "kws_example"
NAMES = sorted(models.MODELS) + [EXAMPLE]
FAST16 = ["ds_cnn_kws_op17", "resnet_block", "mobilenet_block_op17", "mobilenetv3_block_op13", "lstm_forward",
          "opset_variants_op11", "opset_variants_op18", EXAMPLE]


def _quantize_api():
    try:
        from edgecc.interp.reference import run
        from edgecc.quant.ptq import QuantizeConfig, quantize_module
    except ImportError as e:
        pytest.skip(f"the quantize pass (edgecc.quant.ptq) is not available: {e}")
    return QuantizeConfig, quantize_module, run


def _quantized(name: str, scheme: str, io: str):
    from edgecc.frontend import import_onnx

    QuantizeConfig, quantize_module, run = _quantize_api()
    if name == EXAMPLE:
        from edgecc import examples

        model = str(examples.path())
    else:
        model = models.MODELS[name]()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module = import_onnx(model)
    calib = []
    for seed in range(8):
        feeds = models.random_feeds(module, seed=100 + seed)
        calib.append({a.name_hint: x for a, x in zip(module.func.arguments, feeds)})
    quantize_module(module, QuantizeConfig(scheme=scheme, io=io), calib)
    return module, run


def _check(module, run, variant: str, litert: bool = True, litert_reference: bool = True) -> bytes:
    data = tflite.to_bytes(module, variant=variant)
    assert tflite.to_bytes(tflite.read_tflite(data), variant=variant) == data
    it = V.tflm_interpreter(data)
    for feeds in V.random_inputs(data, 20, seed=7):
        got, want = V.run_tflm(data, feeds, interpreter=it), run(module, feeds)
        if _float_compute(module):  # float kernels may differ in the last ulp -> 1 LSB after quantize
            for g, w in zip(got, want):
                assert np.abs(g.astype(np.int64) - w.astype(np.int64)).max(initial=0) <= 1
        else:
            V.assert_bit_exact(got, want)
    if litert:
        got = V.run_litert(data, feeds, reference=litert_reference)
        assert [g.shape for g in got] == [np.shape(r) for r in run(module, feeds)]
    return data


FLOAT_IO = ["ds_cnn_kws_op17", "dense_autoencoder_gemm", "gru_forward", EXAMPLE]


@pytest.mark.parametrize("name,io", [(n, "int") for n in NAMES] + [(n, "float") for n in FLOAT_IO])
def test_int8_bit_exact_with_tflm(name, io):
    module, run = _quantized(name, "int8", io)
    data = _check(module, run, "int8")
    types = {t.type for t in S_tensors(data)}
    assert 9 in types  # INT8


@pytest.mark.parametrize("name", FAST16)
def test_int16x8_bit_exact_with_tflm(name):
    module, run = _quantized(name, "int16x8", "int")
    _check(module, run, "int16x8")


#: TFLM's RESIZE_BILINEAR has no int16 kernel ("Output type is 7, requires float or int8")
NO_TFLM16 = {n for n in NAMES if n.startswith("resize_upsampler")}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(set(NAMES) - set(FAST16) - NO_TFLM16))
def test_int16x8_bit_exact_with_tflm_all(name):
    module, run = _quantized(name, "int16x8", "int")
    _check(module, run, "int16x8")


def test_int16x8_resize_bilinear_runs_in_litert():
    module, run = _quantized("resize_upsampler_op17", "int16x8", "int")
    data = tflite.to_bytes(module, variant="int16x8")
    feeds = V.random_inputs(data, 1, seed=7)[0]
    got, want = V.run_litert(data, feeds), run(module, feeds)
    assert max(int(np.abs(g.astype(int) - w.astype(int)).max()) for g, w in zip(got, want)) <= 8


@pytest.mark.parametrize("name", [n for n in NAMES if n.startswith("opset_variants")])
def test_clip_after_softmax_is_maximum_minimum_on_stored_values(name):
    """Clip(0.01, 0.2) shares its input's (softmax's fixed) parameters: MAXIMUM + MINIMUM, no
    QUANTIZE and no RELU_0_TO_1 / RELU_N1_TO_1 (TFLM has neither)."""
    module, _ = _quantized(name, "int8", "int")
    clamp = next(op for op in module.ops if op.name == "nn.clamp")
    assert clamp.operands[0].type.element == clamp.result.type.element
    names = V._op_names(tflite.to_bytes(module, variant="int8"))
    i = names.index("SOFTMAX")
    assert names[i + 1:].count("QUANTIZE") == 0
    assert "MAXIMUM" in names and "MINIMUM" in names


#: int8-w4: conv / depthwise (per-channel int4 CONV_2D, DEPTHWISE_CONV_2D) and fully connected
#: (per-channel int4: a 1x1 CONV_2D, since TFLM's FULLY_CONNECTED refuses per-channel int4)
W4 = ["dense_autoencoder_gemm", "ds_cnn_kws_op17", "mobilenet_block_op17", "resnet_block", "gru_forward",
      EXAMPLE]


@pytest.mark.parametrize("name", W4)
def test_int8_w4_bit_exact_with_tflm(name):
    module, run = _quantized(name, "int8-w4", "int")
    kinds = {op.operands[1].type.element.kind for op in module.ops
             if op.name in ("nn.conv2d", "nn.depthwise_conv2d", "nn.fully_connected")}
    assert kinds == {"qi4"}
    # LiteRT's reference op resolver has no int4 DEPTHWISE_CONV_2D (version 7): its default one
    data = _check(module, run, "int8", litert_reference=False)
    assert 17 in {t.type for t in S_tensors(data)}  # INT4


def _float_compute(module) -> bool:
    """Whether the quantize pass kept a compute op in float (between dequantize and quantize)."""
    movement = {"builtin.constant", "func.return", "nn.quantize", "nn.dequantize", "nn.reshape",
                "nn.transpose"}
    return any(op.name not in movement and op.results and op.results[0].type.is_float
               for op in module.ops)


def S_tensors(data: bytes):
    from edgecc.backends.tflite.schema import S

    return S.ModelT.InitFromObj(S.Model.GetRootAs(data, 0)).subgraphs[0].tensors
