"""The quantize pass: schemes, options, graph I/O, weight packing, bad calibration input."""

from __future__ import annotations

import importlib.util
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import edgecc
from edgecc.frontend import import_onnx
from edgecc.interp.reference import run
from edgecc.ir.diagnostics import EdgeccError, PassError
from edgecc.ir.types import QuantizedType, TensorType
from edgecc.passes.manager import PassManager
from edgecc.quant.graph import clone_module
from edgecc.quant.ptq import QuantizeConfig, quantize_module
from edgecc.quant.report import quantized_feeds, sqnr_db

_spec = importlib.util.spec_from_file_location(
    "edgecc_tests_frontend_models", Path(__file__).resolve().parents[1] / "frontend" / "models.py")
models = sys.modules.get(_spec.name)
if models is None:
    models = importlib.util.module_from_spec(_spec)
    sys.modules[_spec.name] = models
    _spec.loader.exec_module(models)


def _import(model):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return import_onnx(model)


def _samples(module, n=16, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        out.append({a.name_hint: (scale * rng.standard_normal(a.type.shape)).astype(np.float32)
                    for a in module.func.arguments})
    return out


def _quantize(module, pipeline="quantize", calib=None, **kw):
    data = calib if calib is not None else _samples(module)
    pm = PassManager.parse(pipeline, options={"calibration": data}, **kw)
    pm.run(module)
    return pm


def _sqnr(f, q) -> float:
    f = np.asarray(f, np.float64)
    return sqnr_db(float(np.sum(f ** 2)), float(np.sum((np.asarray(q, np.float64) - f) ** 2)))


def _weights(module):
    return [op.result.type for op in module.func.body if op.name == "builtin.constant"
            and isinstance(op.result.type.element, QuantizedType)]


@pytest.fixture(scope="module")
def mobilenet():
    return _import(models.mobilenet_block())


@pytest.fixture
def mb(mobilenet):
    return clone_module(mobilenet)[0]


# ------------------------------------------------------------------ types
def test_int8_types_follow_the_tflite_spec(mb):
    pm = _quantize(mb)
    mb.verify()
    kinds = {}
    for op in mb.func.body:
        if op.name in ("nn.conv2d", "nn.depthwise_conv2d"):
            x, w = op.operands[0].type.element, op.operands[1].type.element
            b = op.operands[2].type.element
            y = op.result.type.element
            assert x.kind == y.kind == "qi8" and not x.per_axis and not y.per_axis
            assert w.kind == "qi8" and (w.qmin, w.qmax) == (-127, 127) and set(w.zero_points) == {0}
            assert w.axis == (3 if op.name == "nn.depthwise_conv2d" else 0)
            assert len(w.scales) == op.result.type.shape[-1]
            assert str(b) == "i32"
            kinds[op.name] = kinds.get(op.name, 0) + 1
            # relu6-fused outputs: the range [0, max] puts the zero point at -128
            if op.attr("activation") == "relu6":
                assert y.zero_point == -128
    assert kinds == {"nn.conv2d": 2, "nn.depthwise_conv2d": 1}
    assert pm.ctx.stats["quantize.ops-quantized"] == 5
    assert pm.ctx.stats["quantize.ops-kept-float"] == 0


def test_bias_scale_is_input_scale_times_weight_scale(mb):
    float_mod = clone_module(mb)[0]
    _quantize(mb)
    float_biases = [np.asarray(op.operands[2].defining_op().attrs["value"].array, np.float64)
                    for op in float_mod.func.body if op.name == "nn.conv2d"]
    convs = [op for op in mb.func.body if op.name == "nn.conv2d"]
    for op, fb in zip(convs, float_biases):
        xs = op.operands[0].type.element.scale
        ws = np.asarray(op.operands[1].type.element.scales)
        qb = op.operands[2].defining_op().attrs["value"].array.astype(np.float64)
        np.testing.assert_allclose(qb * xs * ws, fb, atol=0.5 * float(np.max(xs * ws)) + 1e-12)


def test_quantized_graph_runs_close_to_float(mb):
    float_mod = clone_module(mb)[0]
    calib = _samples(mb, 16)
    _quantize(mb, calib=calib)
    for s in _samples(mb, 4, seed=1):
        f = run(float_mod, s)[0]
        q = run(mb, s)[0]
        assert q.dtype == np.float32
        assert _sqnr(f, q) > 25


def test_io_int_makes_the_interface_integer(mb):
    _quantize(mb, "quantize{io=int}")
    (arg,) = mb.func.arguments
    assert isinstance(arg.type.element, QuantizedType) and arg.type.element.kind == "qi8"
    out = mb.func.outputs[0]
    assert isinstance(out.type.element, QuantizedType)
    assert not any(op.name in ("nn.quantize", "nn.dequantize") for op in mb.func.body)
    x = np.random.default_rng(3).standard_normal(arg.type.shape).astype(np.float32)
    y = run(mb, quantized_feeds(mb, {arg.name_hint: x}))[0]
    assert y.dtype == np.int8


def test_int16x8_uses_int16_symmetric_activations_and_int64_bias(mb):
    _quantize(mb, "quantize{scheme=int16x8}")
    for op in mb.func.body:
        if op.name in ("nn.conv2d", "nn.depthwise_conv2d"):
            x = op.operands[0].type.element
            assert x.kind == "qi16" and x.zero_point == 0
            assert op.result.type.element.zero_point == 0
            assert op.operands[1].type.element.kind == "qi8"
            assert str(op.operands[2].type.element) == "i64"


def test_int4_weights_pack_at_half_the_int8_size(mobilenet):
    sizes = {}
    for scheme in ("int8", "int8-w4"):
        m = clone_module(mobilenet)[0]
        _quantize(m, f"quantize{{scheme={scheme}}}")
        weights = _weights(m)
        sizes[scheme] = sum(t.nbytes for t in weights)
        if scheme == "int8-w4":
            for t in weights:
                e = t.element
                assert e.kind == "qi4" and (e.qmin, e.qmax) == (-7, 7) and e.per_axis
    # conv 8x3x3x3 (216), depthwise 1x3x3x8 (72), pointwise 16x1x1x8 (128) weights: 416 elements
    assert sizes == {"int8": 416, "int8-w4": 208}


def test_int4_odd_element_count_rounds_up():
    t = TensorType((3, 1, 1, 1), QuantizedType(edgecc.ir.types.i4, edgecc.ir.types.f32, (0.1,), (0,)))
    assert t.nbytes == 2


def test_per_tensor_weights(mb):
    _quantize(mb, "quantize{per-channel=false}")
    for t in _weights(mb):
        assert not t.element.per_axis and t.element.qmax == 127


def test_kept_float_ops_are_counted(tmp_path):
    text = """module @m attributes {quant.input_ranges = [[-1.0, 1.0]]} {
  func.func @main(%x: tensor<1x8xf32>) -> (tensor<1x8xf32>) {
    %r = nn.relu(%x) {quant.range = [0.0, 1.0]} : (tensor<1x8xf32>) -> tensor<1x8xf32>
    %e = nn.erf(%r) {quant.range = [0.0, 0.9]} : (tensor<1x8xf32>) -> tensor<1x8xf32>
    %d = nn.div(%e, %x) {quant.range = [-5.0, 5.0]} : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x8xf32>
    func.return(%d) : (tensor<1x8xf32>) -> ()
  }
}"""
    m = edgecc.parse_ir(text)
    pm = PassManager.parse("quantize")
    pm.run(m)
    assert pm.ctx.stats["quantize.ops-quantized"] == 1
    assert pm.ctx.stats["quantize.ops-kept-float"] == 2
    assert pm.ctx.stats["quantize.kept-float.erf"] == 1 and pm.ctx.stats["quantize.kept-float.div"] == 1
    assert "quant.range" not in str(m)


# ----------------------------------------------------------- validation
@pytest.mark.parametrize("pipeline, message", [
    ("quantize{scheme=int9}", "expects one of int8, int16x8, int8-w4"),
    ("quantize{calibration=median}", "expects one of minmax, percentile, entropy, mse"),
    ("quantize{io=uint8}", "expects one of float, int"),
    ("quantize{per-channel=maybe}", "per-channel"),
    ("quantize{bogus=1}", "bogus"),
])
def test_bad_options(pipeline, message):
    with pytest.raises(PassError, match=message):
        PassManager.parse(pipeline)


def test_bad_percentile(mb):
    with pytest.raises(PassError, match="percentile must be in"):
        _quantize(mb, "quantize{calibration=percentile percentile=0}")


def test_config_validation():
    with pytest.raises(EdgeccError, match="unknown quantization scheme"):
        QuantizeConfig(scheme="int3").check()
    with pytest.raises(EdgeccError, match="io must be"):
        QuantizeConfig(io="both").check()


def test_no_calibration_data_is_an_error(mb):
    with pytest.raises(PassError, match="quantize needs calibration data"):
        PassManager.parse("quantize").run(mb)


# ------------------------------------------------------ bad calibration
def _bad(mb, calib, match):
    with pytest.raises(PassError, match=match):
        _quantize(mb, calib=calib)


def test_calibration_wrong_shape_names_the_input(mb):
    _bad(mb, [{"image": np.zeros((1, 3, 16, 16), np.float32)}],
         r"calibration input 'image': sample 0 has shape \[1, 3, 16, 16\], expected \[1, 3, 32, 32\]")


def test_calibration_wrong_dtype_names_the_input(mb):
    _bad(mb, [{"image": np.zeros((1, 3, 32, 32), np.int32)}],
         r"calibration input 'image': sample 0 has dtype int32, expected float data")


def test_calibration_empty_names_the_input(mb):
    _bad(mb, [], r"calibration input 'image': the calibration set is empty")
    _bad(mb, {"image": np.zeros((0, 3, 32, 32), np.float32)},
         "calibration input 'image': the calibration set is empty")


def test_calibration_nan_and_inf_name_the_input(mb):
    x = np.zeros((2, 1, 3, 32, 32), np.float32)
    x[1, 0, 0, 0, 0] = np.nan
    _bad(mb, {"image": x}, r"calibration input 'image': sample 1 contains NaN")
    x[1, 0, 0, 0, 0] = np.inf
    _bad(mb, list(x), r"calibration input 'image': sample 1 contains inf")


def test_calibration_unknown_and_missing_inputs(mb):
    _bad(mb, [{"img": np.zeros((1, 3, 32, 32), np.float32)}],
         "calibration input 'img': not an input of the model")
    _bad(mb, {"other": np.zeros((4, 3, 32, 32), np.float32)}, "calibration input 'other': not an input")


def test_calibration_file_option(mb, tmp_path):
    x = np.random.default_rng(0).standard_normal((8, 3, 32, 32)).astype(np.float32)
    np.savez(tmp_path / "c.npz", image=x)
    PassManager.parse(f"quantize{{calib={tmp_path / 'c.npz'} samples=4}}").run(mb)
    assert any(op.name == "nn.quantize" for op in mb.func.body)
    bad = tmp_path / "bad.npz"
    np.savez(bad, image=x[:, :, :16])
    with pytest.raises(PassError, match=r"input 'image': stacked data has shape \[8, 3, 16, 32\]"):
        PassManager.parse(f"quantize{{calib={bad}}}").run(_import(models.mobilenet_block()))
    missing = tmp_path / "missing.npz"
    with pytest.raises(PassError, match="does not exist"):
        PassManager.parse(f"quantize{{calib={missing}}}").run(_import(models.mobilenet_block()))


# ------------------------------------------------------------ weight-only
def test_dynamic_int8_weights_only(mb):
    float_mod = clone_module(mb)[0]
    pm = PassManager.parse("quantize{scheme=dynamic-int8}")
    pm.run(mb)
    assert pm.ctx.stats["quantize.weights-quantized"] == 3
    for op in mb.func.body:
        if op.name in ("nn.conv2d", "nn.depthwise_conv2d"):
            assert op.operands[0].type.is_float and op.result.type.is_float
            assert op.operands[1].defining_op().name == "nn.dequantize"
    (s,) = _samples(mb, 1)
    f, q = run(float_mod, s)[0], run(mb, s)[0]
    assert np.max(np.abs(f - q)) < 0.05 * np.max(np.abs(f))


def test_fp16_weights(mb):
    float_mod = clone_module(mb)[0]
    pm = PassManager.parse("quantize{scheme=fp16-weights}")
    pm.run(mb)
    consts = [op.result.type for op in mb.func.body if op.name == "builtin.constant"]
    assert consts and all(str(t.element) == "f16" for t in consts)
    assert sum(1 for op in mb.func.body if op.name == "nn.cast") == len(consts)
    (s,) = _samples(mb, 1)
    np.testing.assert_allclose(run(mb, s)[0], run(float_mod, s)[0], rtol=2e-2, atol=2e-3)


# ------------------------------------------------- equalization, bias correction
def test_equalization_keeps_the_float_function_and_helps_per_tensor(mobilenet):
    from edgecc.quant.equalize import equalize_module, find_pairs

    m = clone_module(mobilenet)[0]
    # relu6 between the layers is not homogeneous: nothing to equalize in this block
    assert find_pairs(m) == []
    text = """module @ds attributes {quant.input_ranges = [[-1.0, 1.0]]} {
  func.func @main(%x: tensor<1x6x6x4xf32>) -> (tensor<1x6x6x4xf32>) {
    %dw = builtin.constant() {value = dense<[[[[8.0, 0.05, 1.0, 0.2], [1.0, 0.1, -2.0, 0.3],
        [0.5, 0.1, 1.0, 0.1]], [[2.0, 0.1, 1.0, 0.2], [-4.0, 0.1, 1.0, 0.1], [1.0, 0.02, 0.5, 0.2]],
        [[1.0, 0.1, 1.0, 0.2], [1.0, -0.1, 3.0, 0.2], [1.0, 0.1, 1.0, 0.2]]]]> : tensor<1x3x3x4xf32>}
        : () -> tensor<1x3x3x4xf32>
    %db = builtin.constant() {value = dense<[0.1, 0.0, -0.2, 0.05]> : tensor<4xf32>} : () -> tensor<4xf32>
    %d = nn.depthwise_conv2d(%x, %dw, %db) {pads = [1, 1, 1, 1], activation = "relu"}
        : (tensor<1x6x6x4xf32>, tensor<1x3x3x4xf32>, tensor<4xf32>) -> tensor<1x6x6x4xf32>
    %pw = builtin.constant() {value = dense<[[[[0.1, 2.0, 0.3, 1.0]]], [[[0.2, -1.0, 0.1, 3.0]]],
        [[[0.05, 1.5, -0.2, 0.5]]], [[[0.3, 0.7, 0.2, -2.0]]]]> : tensor<4x1x1x4xf32>}
        : () -> tensor<4x1x1x4xf32>
    %y = nn.conv2d(%d, %pw) : (tensor<1x6x6x4xf32>, tensor<4x1x1x4xf32>) -> tensor<1x6x6x4xf32>
    func.return(%y) : (tensor<1x6x6x4xf32>) -> ()
  }
}"""
    m = edgecc.parse_ir(text)
    ref = clone_module(m)[0]
    assert len(find_pairs(m)) == 1
    assert equalize_module(m) == 1
    m.verify()
    calib = _samples(m, 8)
    for s in calib[:2]:
        np.testing.assert_allclose(run(m, s)[0], run(ref, s)[0], rtol=1e-4, atol=1e-5)
    dw = [op for op in m.func.body if op.name == "nn.depthwise_conv2d"][0]
    r = np.abs(dw.operands[1].defining_op().attrs["value"].array).max(axis=(0, 1, 2))
    assert r.max() / r.min() < 20  # the ranges were 8 / 0.1 = 80 apart before

    def sqnr(equalize):
        q = clone_module(ref)[0]
        q.attrs.pop("quant.input_ranges")
        quantize_module(q, QuantizeConfig(per_channel=False, equalize=equalize), calib)
        f = np.concatenate([run(ref, s)[0].ravel() for s in calib])
        y = np.concatenate([run(q, s)[0].ravel() for s in calib])
        return _sqnr(f, y)

    assert sqnr(True) > sqnr(False) + 3


def test_bias_correction_reduces_the_mean_output_error(mobilenet):
    calib = _samples(mobilenet, 16, scale=1.0)
    errs = {}
    for bc in (False, True):
        m = clone_module(mobilenet)[0]
        res = quantize_module(m, QuantizeConfig(scheme="int8-w4", bias_correction=bc), calib)
        if bc:
            assert len(res.bias_corrections) == 3
        f = np.stack([run(mobilenet, s)[0] for s in calib])
        q = np.stack([run(m, s)[0] for s in calib])
        errs[bc] = float(np.abs((q - f).mean(axis=(0, 2, 3))).mean())  # mean error per channel (NCHW)
    assert errs[True] < errs[False]


def test_quantize_folds_an_already_qdq_model():
    m = _import(models.qdq_model())
    pm = PassManager.parse("quantize")
    pm.run(m)
    assert pm.ctx.stats["quantize.ops-folded"] == 2
    assert not any(op.name in ("nn.quantize", "nn.dequantize") for op in m.func.body)


# ----------------------------------------------------------- ranges, misc
def test_hard_swish_output_range_is_computed_from_its_input():
    m = edgecc.parse_ir("""module @m attributes {quant.input_ranges = [[-4.0, 4.0]]} {
  func.func @main(%x: tensor<1x8xf32>) -> (tensor<1x8xf32>) {
    %h = nn.hard_swish(%x) : (tensor<1x8xf32>) -> tensor<1x8xf32>
    func.return(%h) : (tensor<1x8xf32>) -> ()
  }
}""")
    PassManager.parse("quantize").run(m)
    h = next(op for op in m.func.body if op.name == "nn.hard_swish")
    e = h.result.type.element
    assert e.scale == pytest.approx(4.375 / 255) and e.zero_point == -106  # range [-0.375, 4]


def test_range_attribute_overrides_calibration(mb):
    conv = next(op for op in mb.func.body if op.name == "nn.depthwise_conv2d")
    conv.set_attr("quant.range", (0.0, 3.984375))
    _quantize(mb)
    assert (conv.result.type.element.scale, conv.result.type.element.zero_point) == (0.015625, -128)
    assert "quant.range" not in conv.attrs


def _w4(module, calib):
    m = clone_module(module)[0]
    quantize_module(m, QuantizeConfig(scheme="int8-w4"), calib)
    return m


def test_sensitivity_and_mixed_precision(mobilenet):
    from edgecc.quant.sensitivity import choose_mixed_precision, flash_bytes, layer_sensitivity, parse_bytes

    calib = _samples(mobilenet, 8)
    ranking = layer_sensitivity(mobilenet, calib, "int8-w4", samples=4)
    assert [r.op for r in ranking].count("conv2d") == 2 and len(ranking) == 3
    assert ranking == sorted(ranking, key=lambda r: r.sqnr_db)
    # the whole int8-w4 model has 208 weight bytes; an 8-bit layer adds half its weight count
    res = choose_mixed_precision(mobilenet, calib, "int8-w4", budget_flash=10_000, samples=4)
    assert len(res.promoted) == 3
    tight = choose_mixed_precision(mobilenet, calib, "int8-w4", max_layers=1, samples=4)
    assert [p.index for p in tight.promoted] == [ranking[0].index]
    assert res.flash - flash_bytes(_w4(mobilenet, calib)) == 208  # every weight at 8 bits: +0.5 B each
    budget = flash_bytes(_w4(mobilenet, calib)) + 36  # room for the depthwise layer (72 weights), no conv
    limited = choose_mixed_precision(mobilenet, calib, "int8-w4", budget_flash=budget, samples=4)
    assert [p.op for p in limited.promoted] == ["depthwise_conv2d"] and limited.flash <= budget
    with pytest.raises(EdgeccError, match="already exceeds the budget"):
        choose_mixed_precision(mobilenet, calib, "int8", budget_ram=16, samples=4)
    assert parse_bytes("64k") == 65536 and parse_bytes("1.5M") == 1572864 and parse_bytes("") is None
    with pytest.raises(EdgeccError, match="cannot read the byte size"):
        parse_bytes("lots")
    m = clone_module(mobilenet)[0]
    pm = PassManager.parse("mixed-precision{base=int8 layers=1 samples=4}", options={"calibration": calib})
    pm.run(m)
    m.verify()
    assert pm.ctx.stats["mixed-precision.layers-promoted"] == 1
    kinds = [op.result.type.element.kind for op in m.func.body
             if op.name in ("nn.conv2d", "nn.depthwise_conv2d")]
    assert sorted(kinds) == ["qi16", "qi8", "qi8"]
    assert any(op.name == "nn.requantize" for op in m.func.body)
    (s,) = _samples(m, 1, seed=5)
    f, q = run(mobilenet, s)[0], run(m, s)[0]
    assert np.max(np.abs(f - q)) < 0.1 * np.max(np.abs(f))
    assert flash_bytes(m) > 0
    with pytest.raises(PassError, match="needs budget-flash, budget-ram or layers"):
        PassManager.parse("mixed-precision", options={"calibration": calib}).run(clone_module(mobilenet)[0])


def test_weight_only_quantized_graph_is_calibrated_and_keeps_its_weights(mb):
    PassManager.parse("quantize{scheme=dynamic-int8}").run(mb)
    stored = {op.result.name_hint: op.attrs["value"] for op in mb.func.body
              if op.name == "builtin.constant" and isinstance(op.result.type.element, QuantizedType)}
    _quantize(mb)  # nn.dequantize of constant weights does not make it a QDQ model
    mb.verify()
    for op in mb.func.body:
        if op.name in ("nn.conv2d", "nn.depthwise_conv2d"):
            w = op.operands[1]
            assert w.defining_op().name == "builtin.constant"
            assert w.defining_op().attrs["value"] == stored[w.name_hint]
    assert sum(1 for op in mb.func.body if op.name == "nn.dequantize") == 1  # the output only


# ----------------------------------------------------------- clamps
def _clamp_module(lo, hi):
    """x -> add -> clamp -> mul: the clamp's input and output have their own statistics."""
    from edgecc.dialects import nn
    from edgecc.ir.builder import Builder
    from edgecc.ir.core import Func, Module
    from edgecc.ir.types import tensor

    f = Func("main", [tensor((1, 64))], ["x"])
    b = Builder(f)
    a = b.create(nn.AddOp, f.arguments[0], b.constant(np.full((1, 64), -2.0, np.float32))).result
    k = b.create(nn.ClampOp, a, min=float(lo), max=float(hi)).result
    b.ret(b.create(nn.MulOp, k, k).result)
    m = Module(f)
    m.verify()
    return m


@pytest.mark.parametrize("scheme", ["int8", "int16x8"])
@pytest.mark.parametrize("lo,hi,shared", [(-1.0, 1.0, True), (0.01, 0.2, True), (-np.inf, 0.5, True),
                                          (-0.3, np.inf, True), (0.0, 1.0, True), (0.0, 6.0, False),
                                          (0.0, np.inf, False)])
def test_clamp_shares_parameters_unless_relu_or_relu6(scheme, lo, hi, shared):
    """TFLM has no RELU_N1_TO_1 / RELU_0_TO_1: a clamp with other bounds than [0, inf) and [0, 6]
    gets its input's parameters, so the TFLite writer lowers it to MAXIMUM / MINIMUM on stored
    values; RELU and RELU6 bounds keep calibrated output parameters (RELU rescales)."""
    m = _clamp_module(lo, hi)
    calib = [{"x": (3.0 * np.random.default_rng(s).standard_normal((1, 64))).astype(np.float32)}
             for s in range(4)]
    quantize_module(m, QuantizeConfig(scheme=scheme, io="int"), calib)
    m.verify()
    clamp = next(op for op in m.func.body if op.name == "nn.clamp")
    ein, eout = clamp.operands[0].type.element, clamp.result.type.element
    assert isinstance(ein, QuantizedType) and isinstance(eout, QuantizedType)
    assert (ein == eout) == shared
    if shared:  # one class: the union of the input's and the clamp's ranges (the input's)
        add = next(op for op in m.func.body if op.name == "nn.add")
        assert clamp.operands[0] is add.result
    x = np.random.default_rng(9).integers(-128, 128, (1, 64)).astype(
        np.int8 if scheme == "int8" else np.int16)
    run(m, [x])  # the integer interpreter accepts it


def test_weight_shared_by_unrolled_steps_stays_one_constant():
    """The frontend unrolls a GRU into fully_connected ops per step on the same recurrent weights; the
    quantized graph keeps one int8 copy of each (not one per step: 48 copies for a 49-frame KWS)."""
    module = _import(models.gru_model(seq=7, hidden=8, features=4))

    def recurrent():
        return sorted((op.result.type.shape, len(op.result.uses), str(op.result.type.element)[:2])
                      for op in module.func.body if op.name == "builtin.constant"
                      and op.result.type.shape in ((16, 8), (8, 8)))

    assert recurrent() == [((8, 8), 7, "f3"), ((16, 8), 7, "f3")]
    _quantize(module)
    assert [(s, n) for s, n, _ in recurrent()] == [((8, 8), 7), ((16, 8), 7)]
    assert all(op.result.type.element.storage.bits == 8 for op in module.func.body
               if op.name == "builtin.constant" and op.result.type.shape in ((16, 8), (8, 8)))
