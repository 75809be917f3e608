"""Quantized ONNX as tf2onnx converts a .tflite: QDQ around every op, per-axis bias
DequantizeLinear with an axis attribute out of range for a 1-D tensor (the default 1, or the NHWC
channel axis), int64 biases of int16x8 models. edgecc writes the original .tflite itself (tf2onnx
needs TensorFlow, see ``tf2onnx_patterns.py``); the imported ONNX must fold to an integer graph
whose results are bit-exact with TFLM running that .tflite."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tflite_micro", reason="the tflite_micro package (TFLM Python interpreter) is "
                                           "not installed")

from edgecc.backends import tflite  # noqa: E402
from edgecc.backends.tflite import verify as V  # noqa: E402
from edgecc.frontend import import_onnx  # noqa: E402
from edgecc.interp.reference import run  # noqa: E402
from edgecc.passes.manager import PassContext, PassManager  # noqa: E402
from edgecc.quant.ptq import QuantizeConfig, quantize_module  # noqa: E402
from edgecc.transforms.quantize import run_fold  # noqa: E402


HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "c"))
import helpers  # noqa: E402

models = helpers.load_test_models()
patterns = helpers.load("edgecc_tests_tf2onnx_patterns", HERE / "tf2onnx_patterns.py")


def _original_tflite(name: str, scheme: str) -> bytes:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module = import_onnx(models.MODELS[name]())
    calib = [{a.name_hint: x for a, x in zip(module.func.arguments, models.random_feeds(module, seed=s))}
             for s in range(4)]
    quantize_module(module, QuantizeConfig(scheme=scheme, io="int"), calib)
    return tflite.to_bytes(module, variant=scheme)


@pytest.mark.parametrize("bias_axis", [None, 3], ids=["bias-axis-default", "bias-axis-nhwc"])
@pytest.mark.parametrize("scheme", ["int8", "int16x8"])
@pytest.mark.parametrize("name", ["ds_cnn_kws_op17", "resnet_block", "mobilenet_block_op17"])
def test_tf2onnx_qdq_folds_bit_exact_with_the_original_tflite(name, scheme, bias_axis):
    data = _original_tflite(name, scheme)
    onnx_model = patterns.tflite_to_qdq_onnx(data, bias_axis)
    bias_dq = [n for n in onnx_model.graph.node if n.op_type == "DequantizeLinear" and "bias" in n.input[0]]
    has_axis = [any(a.name == "axis" for a in n.attribute) for n in bias_dq]
    assert bias_dq and all(h == (bias_axis is not None) for h in has_axis)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module = import_onnx(onnx_model)
    PassManager.parse("qdq-fold").run(module)
    float_ops = sorted({op.name for op in module.ops if op.results and not op.results[0].type.is_quantized
                        and op.name != "builtin.constant"})
    assert not float_ops, f"ops left float after qdq-fold: {float_ops}"
    assert _folded_biases(module) == _bias_initializers(onnx_model), "folded biases are not the .tflite's"
    it = V.tflm_interpreter(data)
    for feeds in V.random_inputs(data, 3, seed=5):
        V.assert_bit_exact(V.run_tflm(data, feeds, interpreter=it), run(module, feeds))


def _folded_biases(module) -> list[tuple[int, ...]]:
    from edgecc.quant.graph import constant_of

    return sorted(tuple(np.asarray(constant_of(op.operands[2]), np.int64).tolist()) for op in module.ops
                  if op.name in ("nn.conv2d", "nn.depthwise_conv2d", "nn.fully_connected")
                  and len(op.operands) > 2)


def _bias_initializers(onnx_model) -> list[tuple[int, ...]]:
    """The .tflite's int32/int64 bias buffers, as tf2onnx_patterns copies them into the ONNX."""
    from onnx import numpy_helper

    inits = {t.name: numpy_helper.to_array(t) for t in onnx_model.graph.initializer}
    return sorted(tuple(inits[n.input[0]].astype(np.int64).tolist()) for n in onnx_model.graph.node
                  if n.op_type == "DequantizeLinear" and inits.get(n.input[0]) is not None
                  and inits[n.input[0]].dtype in (np.int32, np.int64))


def _fold_logged(onnx_model):
    lines: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module = import_onnx(onnx_model)
    run_fold(module, PassContext(log=lines.append))
    return module, lines


def test_stored_bias_integers_are_used_verbatim():
    """An off-by-one stored bias survives folding: re-deriving from real values would round it back."""
    from onnx import numpy_helper

    onnx_model = patterns.tflite_to_qdq_onnx(_original_tflite("resnet_block", "int8"))
    inits = {t.name: t for t in onnx_model.graph.initializer}
    node = next(n for n in onnx_model.graph.node if n.op_type == "DequantizeLinear" and "bias" in n.input[0])
    b = numpy_helper.to_array(inits[node.input[0]]).copy()
    b[0] += 1
    inits[node.input[0]].CopyFrom(numpy_helper.from_array(b, node.input[0]))
    module, lines = _fold_logged(onnx_model)
    assert tuple(b.astype(np.int64).tolist()) in _folded_biases(module)
    assert not [ln for ln in lines if "re-derived" in ln], lines


def test_a_bias_whose_scale_is_not_input_times_weight_scale_is_re_derived_with_a_remark():
    from onnx import numpy_helper

    data = _original_tflite("resnet_block", "int8")
    onnx_model = patterns.tflite_to_qdq_onnx(data)
    inits = {t.name: t for t in onnx_model.graph.initializer}
    node = next(n for n in onnx_model.graph.node if n.op_type == "DequantizeLinear" and "bias" in n.input[0])
    scale = inits[node.input[1]]
    scale.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(scale) * np.float32(1.01), scale.name))
    stored = numpy_helper.to_array(inits[node.input[0]]).astype(np.int64)
    module, lines = _fold_logged(onnx_model)
    remarks = [ln for ln in lines if "re-derived the int32 bias" in ln]
    assert len(remarks) == 1 and "!= input_scale * weight_scale" in remarks[0], lines
    folded = _folded_biases(module)
    assert tuple(stored.tolist()) not in folded
    assert len(folded) == len(_bias_initializers(onnx_model))


def test_an_int64_bias_outside_int32_is_a_one_line_error_naming_the_node():
    from onnx import numpy_helper

    from edgecc.ir.diagnostics import EdgeccError

    data = _original_tflite("resnet_block", "int16x8")
    onnx_model = patterns.tflite_to_qdq_onnx(data)
    inits = {t.name: t for t in onnx_model.graph.initializer}
    node = next(n for n in onnx_model.graph.node if n.op_type == "DequantizeLinear" and "bias" in n.input[0])
    b = numpy_helper.to_array(inits[node.input[0]]).copy()
    b[0] = 1 << 40
    inits[node.input[0]].CopyFrom(numpy_helper.from_array(b, node.input[0]))
    with pytest.raises(EdgeccError, match=rf"node '{node.name}' .*int64 bias values \[.*\] do not fit int32"):
        import_onnx(onnx_model)


def test_a_qi32_bias_constant_round_trips_through_the_textual_ir():
    from edgecc.ir.text.parser import parse_module

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module = import_onnx(patterns.tflite_to_qdq_onnx(_original_tflite("resnet_block", "int8")))
    text = str(module)
    assert "!quant.uniform<i32:f32" in text
    assert str(parse_module(text)) == text


def test_per_axis_parameters_that_fit_no_axis_are_a_one_line_error():
    from onnx import TensorProto, helper, numpy_helper

    from edgecc.ir.diagnostics import EdgeccError

    w = numpy_helper.from_array(np.ones((4, 6), np.int8), "w")
    s = numpy_helper.from_array(np.full(5, 0.1, np.float32), "s")
    z = numpy_helper.from_array(np.zeros(5, np.int8), "z")
    g = helper.make_graph([helper.make_node("DequantizeLinear", ["w", "s", "z"], ["wf"], axis=1, name="dq_w"),
                           helper.make_node("MatMul", ["x", "wf"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 6])], [w, s, z])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 21)])
    with pytest.raises(EdgeccError, match=r"node 'dq_w' .*per-axis parameters \(5 scales\) do not match "
                                          r"axis 1 of a tensor of shape \[4, 6\]"):
        import_onnx(model)


@pytest.fixture(scope="module")
def keras_cnn():
    """A small Keras CNN with non-zero biases (the converter drops all-zero ones)."""
    tf = pytest.importorskip("tensorflow")
    tf.keras.utils.set_random_seed(0)
    b = {"bias_initializer": "random_normal"}
    return tf, tf.keras.Sequential([
        tf.keras.Input((12, 12, 3), batch_size=1),
        tf.keras.layers.Conv2D(8, 3, padding="same", activation="relu", **b),
        tf.keras.layers.DepthwiseConv2D(3, strides=2, padding="same", activation="relu6", **b),
        tf.keras.layers.Conv2D(16, 1, activation="relu", **b),
        tf.keras.layers.AveragePooling2D(6), tf.keras.layers.Reshape((16,)), tf.keras.layers.Dense(5, **b)])


def _tflite_converter(tf, model, io) -> bytes:
    def representative():
        rng = np.random.default_rng(0)
        for _ in range(8):
            yield [rng.standard_normal((1, 12, 12, 3)).astype(np.float32)]

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = conv.inference_output_type = io
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return conv.convert()


@pytest.mark.parametrize("io", ["int8", "uint8"])
def test_tflite_converter_model_folds_bit_exact_with_its_stored_biases(keras_cnn, io, runtime_lib, tmp_path):
    """The TFLite converter's own int8 model (uint8 I/O: QUANTIZE at both ends) through tf2onnx's
    patterns: every bias is the .tflite's int32 buffer and TFLM agrees bit for bit. A uint8 interface
    is still imported as int8 with zero point - 128, so uint8 data is fed as ``uint8 - 128``."""
    tf, model = keras_cnn
    data = _tflite_converter(tf, model, getattr(tf, io))
    onnx_model = patterns.tflite_to_qdq_onnx(data)
    module, lines = _fold_logged(onnx_model)
    assert not [op.name for op in module.ops if op.results and op.results[0].type.is_float]
    biases = _folded_biases(module)
    assert len(biases) == 4 and biases == _bias_initializers(onnx_model)
    assert not [ln for ln in lines if "re-derived" in ln], lines
    it = V.tflm_interpreter(data)
    for feeds in V.random_inputs(data, 3, seed=5):
        want = V.run_tflm(data, feeds, interpreter=it)
        if io == "uint8":
            feeds = [(f.astype(np.int16) - 128).astype(np.int8) for f in feeds]
            want = [(np.asarray(w).astype(np.int16) - 128).astype(np.int8) for w in want]
        V.assert_bit_exact(want, run(module, feeds))
    from edgecc.backends.c.verify import verify

    assert verify(module, inputs=2, runtime_lib=runtime_lib, workdir=tmp_path).passed
