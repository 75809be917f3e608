"""The nn dialect: shape inference, semantic verification, element inference, folding."""

from __future__ import annotations

import numpy as np
import pytest

from edgecc.dialects import nn
from edgecc.dialects.builtin import ReturnOp
from edgecc.dialects.nn_shapes import (
    ShapeError,
    broadcast_shapes,
    conv_output_size,
    matmul_shape,
    normalize_axis,
    slice_shape,
)
from edgecc.ir import (
    Builder,
    Func,
    Module,
    VerifyError,
    f16,
    f32,
    i1,
    i4,
    i8,
    i16,
    i32,
    i64,
    quant,
    tensor,
)

Q8 = quant(i8, 0.05, -3)
Q8B = quant(i8, 0.1, 4)
Q16 = quant(i16, 0.001, 0)


def t(*shape, e=f32):
    return tensor(shape, e)


def build_module(cls, arg_types, **attrs):
    """One op built through Builder (types inferred), returned in a verified module."""
    f = Func("main", arg_types)
    op = Builder(f).create(cls, *f.arguments, **attrs)
    Builder(f).ret(*op.results)
    m = Module(f)
    m.verify()
    return m, op


def verify_op(cls, arg_types, result_types, **attrs):
    """Verify a module holding one op with explicitly given result types."""
    f = Func("main", arg_types)
    op = cls.build(*f.arguments, result_types=result_types, **attrs)
    f.body.append(op)
    f.body.append(ReturnOp.build(list(op.results), result_types=[]))
    Module(f).verify()
    return op


# ------------------------------------------------------------ shape helpers
def test_shape_helpers():
    assert broadcast_shapes((2, 1, 3), (4, 1)) == (2, 4, 3)
    assert broadcast_shapes((), (5,)) == (5,)
    with pytest.raises(ShapeError, match="not broadcast-compatible"):
        broadcast_shapes((2, 3), (4, 3))
    assert conv_output_size(8, 3, 2, 1, 1, 1) == 4
    assert conv_output_size(7, 3, 1, 2, 0, 0) == 3
    with pytest.raises(ShapeError, match="kernel extent 5 is larger than the padded input 4"):
        conv_output_size(4, 3, 1, 2, 0, 0)
    assert normalize_axis(-1, 4) == 3
    with pytest.raises(ShapeError, match="out of range"):
        normalize_axis(4, 4)
    assert matmul_shape((2, 1, 3, 4), (5, 4, 6)) == (2, 5, 3, 6)
    assert matmul_shape((4,), (3, 4, 6)) == (3, 6)
    assert matmul_shape((3, 4), (4,)) == (3,)
    assert slice_shape((10, 5), (1, 4), (10, -1), (3, -2)) == (3, 3)
    assert slice_shape((10,), (5,), (2,), (1,)) == (0,)


# ---------------------------------------------------------- shape inference
INFER = [
    (nn.Conv2DOp, [t(1, 8, 8, 3), t(16, 3, 3, 3), t(16)], dict(strides=(2, 2), pads=(1, 1, 1, 1)),
     [(1, 4, 4, 16)]),
    (nn.Conv2DOp, [t(1, 9, 9, 8), t(8, 3, 3, 4)], dict(groups=2, dilations=(2, 2)), [(1, 5, 5, 8)]),
    (nn.Conv2DOp, [t(1, 5, 6, 2), t(4, 2, 3, 2)], dict(pads=(0, 1, 1, 1), strides=(2, 1)),
     [(1, 3, 6, 4)]),
    (nn.DepthwiseConv2DOp, [t(1, 8, 8, 4), t(1, 3, 3, 8), t(8)],
     dict(depth_multiplier=2, pads=(1, 1, 1, 1)), [(1, 8, 8, 8)]),
    (nn.FullyConnectedOp, [t(2, 5, 16), t(10, 16)], {}, [(2, 5, 10)]),
    (nn.FullyConnectedOp, [t(1, 16), t(10, 16), t(10)], dict(activation="relu"), [(1, 10)]),
    (nn.MatMulOp, [t(2, 1, 3, 4), t(5, 4, 6)], {}, [(2, 5, 3, 6)]),
    (nn.AddOp, [t(1, 8, 8, 3), t(3)], dict(activation="relu6"), [(1, 8, 8, 3)]),
    (nn.SubOp, [t(4, 1), t(1, 5)], {}, [(4, 5)]),
    (nn.MulOp, [t(), t(2, 2)], {}, [(2, 2)]),
    (nn.DivOp, [t(2, 3), t(2, 3)], {}, [(2, 3)]),
    (nn.MaximumOp, [t(2, 3, e=i32), t(1, e=i32)], {}, [(2, 3)]),
    (nn.MinimumOp, [t(2, 3), t(3)], {}, [(2, 3)]),
    (nn.PowOp, [t(2, 3), t()], {}, [(2, 3)]),
    (nn.PReluOp, [t(1, 8, 8, 4), t(1, 1, 4)], {}, [(1, 8, 8, 4)]),
    (nn.ReluOp, [t(1, 4)], {}, [(1, 4)]),
    (nn.ClampOp, [t(1, 4)], dict(min=0.0, max=6.0), [(1, 4)]),
    (nn.SigmoidOp, [t(1, 4)], {}, [(1, 4)]),
    (nn.TanhOp, [t(1, 4, e=f16)], {}, [(1, 4)]),
    (nn.HardSwishOp, [t(1, 4)], {}, [(1, 4)]),
    (nn.HardSigmoidOp, [t(1, 4)], dict(alpha=0.1), [(1, 4)]),
    (nn.LeakyReluOp, [t(1, 4)], dict(alpha=0.2), [(1, 4)]),
    (nn.ExpOp, [t(3)], {}, [(3,)]),
    (nn.LogOp, [t(3)], {}, [(3,)]),
    (nn.SqrtOp, [t(3)], {}, [(3,)]),
    (nn.RsqrtOp, [t(3)], {}, [(3,)]),
    (nn.AbsOp, [t(3, e=i32)], {}, [(3,)]),
    (nn.NegOp, [t(3)], {}, [(3,)]),
    (nn.ErfOp, [t(3)], {}, [(3,)]),
    (nn.SoftmaxOp, [t(1, 10)], dict(beta=2.0), [(1, 10)]),
    (nn.LogSoftmaxOp, [t(2, 10)], dict(axis=0), [(2, 10)]),
    (nn.AvgPool2DOp, [t(1, 7, 7, 8)], dict(kernel=(3, 3), strides=(2, 2), pads=(1, 1, 1, 1)),
     [(1, 4, 4, 8)]),
    (nn.MaxPool2DOp, [t(1, 8, 8, 2)], dict(kernel=(2, 2), strides=(2, 2)), [(1, 4, 4, 2)]),
    (nn.MeanOp, [t(1, 7, 7, 8)], dict(axes=(1, 2)), [(1, 1, 1, 8)]),
    (nn.ReduceSumOp, [t(2, 3, 4)], dict(axes=(-1,), keepdims=False), [(2, 3)]),
    (nn.ReduceMaxOp, [t(2, 3, 4)], dict(axes=(0, 2), keepdims=False), [(3,)]),
    (nn.ReduceMinOp, [t(2, 3, 4)], dict(axes=(1,)), [(2, 1, 4)]),
    (nn.ReshapeOp, [t(1, 2, 2, 3)], dict(shape=(1, 12)), [(1, 12)]),
    (nn.TransposeOp, [t(1, 3, 8, 8)], dict(perm=(0, 2, 3, 1)), [(1, 8, 8, 3)]),
    (nn.ConcatOp, [t(1, 4, 4, 3), t(1, 4, 4, 5)], dict(axis=-1), [(1, 4, 4, 8)]),
    (nn.SplitOp, [t(1, 4, 4, 6)], dict(axis=3, sizes=(2, 4)), [(1, 4, 4, 2), (1, 4, 4, 4)]),
    (nn.PadOp, [t(1, 4, 4, 3)], dict(pads=(0, 1, 2, 0, 0, 3, 4, 0)), [(1, 8, 10, 3)]),
    (nn.PadOp, [t(3, 4)], dict(pads=(2, 3, 2, 3), mode="reflect"), [(7, 10)]),
    (nn.SliceOp, [t(1, 10, 10, 3)], dict(begin=(0, 1, 9, 0), end=(1, 10, -1, 3),
                                          strides=(1, 3, -2, 1)), [(1, 3, 5, 3)]),
    (nn.SliceOp, [t(4, 4)], dict(begin=(1, 0), end=(3, 4)), [(2, 4)]),
    (nn.GatherOp, [t(5, 6, 7), t(2, 3, e=i64)], dict(axis=1), [(5, 2, 3, 7)]),
    (nn.GatherOp, [t(5, 6), t(e=i32)], dict(axis=-2), [(6,)]),
    (nn.ResizeOp, [t(1, 4, 4, 3)], dict(size=(8, 6), mode="bilinear"), [(1, 8, 6, 3)]),
    (nn.LRNOp, [t(1, 4, 4, 8)], dict(size=5), [(1, 4, 4, 8)]),
]


@pytest.mark.parametrize("cls,args,attrs,shapes", INFER, ids=lambda v: getattr(v, "name", None))
def test_infer_shapes(cls, args, attrs, shapes):
    _, op = build_module(cls, args, **attrs)
    assert [r.type.shape for r in op.results] == shapes
    assert all(r.type.element == args[0].element for r in op.results)


def test_every_contract_op_is_registered_and_pure():
    expected = """conv2d depthwise_conv2d fully_connected matmul add sub mul div maximum minimum pow
        relu clamp sigmoid tanh hard_swish hard_sigmoid leaky_relu prelu exp log sqrt rsqrt abs neg
        erf softmax log_softmax avg_pool2d max_pool2d mean reduce_sum reduce_max reduce_min reshape
        transpose concat split pad slice gather resize cast quantize dequantize requantize lrn lstm""".split()
    assert sorted(nn.nn.ops) == sorted(f"nn.{n}" for n in expected)
    for cls in nn.nn.ops.values():
        assert "Pure" in cls.spec.traits, cls.name
        assert cls.spec.doc, cls.name
        assert hasattr(cls, "infer_shapes"), cls.name
    assert nn.ACTIVATIONS == ("none", "relu", "relu6", "relu_n1_to_1")


def test_traits():
    for cls in (nn.AddOp, nn.MulOp, nn.MaximumOp, nn.MinimumOp):
        assert {"Commutative", "Elementwise"} <= cls.spec.traits
    assert "Commutative" not in nn.SubOp.spec.traits
    assert "Commutative" not in nn.DivOp.spec.traits
    assert {"Elementwise", "SameOperandsAndResultShape"} <= nn.ReluOp.spec.traits
    assert "SameOperandsAndResultShape" not in nn.AddOp.spec.traits
    assert "Elementwise" not in nn.Conv2DOp.spec.traits
    assert "activation" in nn.AddOp.spec.attrs and "activation" not in nn.MaximumOp.spec.attrs
    assert nn.Conv2DOp.spec.attrs["activation"].default == "none"
    assert nn.HardSigmoidOp.spec.attrs["alpha"].default == 0.2


# ------------------------------------------------------------ element types
def test_quantize_needs_explicit_result_type():
    f = Func("main", [t(1, 4)])
    with pytest.raises(TypeError, match="nn.quantize cannot infer its quantized result type"):
        Builder(f).create(nn.QuantizeOp, f.arguments[0])
    with pytest.raises(TypeError, match="nn.requantize cannot infer"):
        nn.RequantizeOp.build(Func("m", [t(1, 4, e=Q8)]).arguments[0])
    op = verify_op(nn.QuantizeOp, [t(1, 4)], [t(1, 4, e=Q8)])
    assert op.output.type.element == Q8
    verify_op(nn.RequantizeOp, [t(1, 4, e=Q8)], [t(1, 4, e=Q16)])


def test_dequantize_and_cast_infer_elements():
    _, op = build_module(nn.DequantizeOp, [t(2, 3, e=Q8)])
    assert op.output.type == t(2, 3)
    _, op = build_module(nn.CastOp, [t(2, 3)], to=i32)
    assert op.output.type == t(2, 3, e=i32)
    _, op = build_module(nn.CastOp, [t(2, e=i1)], to=f16)
    assert op.output.type == t(2, e=f16)


def test_quantized_conv_per_axis_weights_verify():
    w = quant(i8, [0.01, 0.02, 0.03, 0.04], 0, axis=0, qmin=-127)
    op = verify_op(nn.Conv2DOp, [t(1, 8, 8, 3, e=Q8), t(4, 3, 3, 3, e=w), t(4, e=i32)],
                   [t(1, 8, 8, 4, e=Q8B)], pads=(1, 1, 1, 1), activation="relu")
    assert op.output.type.element == Q8B
    dw = quant(i8, [0.5] * 6, 0, axis=3, qmin=-127)
    verify_op(nn.DepthwiseConv2DOp, [t(1, 8, 8, 3, e=Q8), t(1, 3, 3, 6, e=dw), t(6, e=i32)],
              [t(1, 6, 6, 6, e=Q8B)], depth_multiplier=2)
    fc = quant(i4, [0.5, 0.25], 0, axis=0)
    verify_op(nn.FullyConnectedOp, [t(1, 16, e=Q8), t(2, 16, e=fc), t(2, e=i32)], [t(1, 2, e=Q8B)])
    # int16x8: qi16 activations, qi8 weights, i64 bias
    verify_op(nn.Conv2DOp, [t(1, 4, 4, 2, e=Q16), t(3, 1, 1, 2, e=quant(i8, 0.1)), t(3, e=i64)],
              [t(1, 4, 4, 3, e=Q16)])


def test_quantized_elementwise_and_data_movement():
    verify_op(nn.AddOp, [t(1, 4, e=Q8), t(1, 4, e=Q8B)], [t(1, 4, e=quant(i8, 0.2, 1))])
    verify_op(nn.ConcatOp, [t(1, 4, e=Q8), t(1, 2, e=Q8B)], [t(1, 6, e=Q8)], axis=1)
    verify_op(nn.ReshapeOp, [t(1, 4, e=Q8)], [t(4, e=Q8)], shape=(4,))


# ------------------------------------------------------ semantic errors
W = quant(i8, 0.02, 0, qmin=-127)
ERRORS = [
    # conv2d
    (nn.Conv2DOp, [t(1, 8, 8, 4), t(8, 3, 3, 3)], [t(1, 6, 6, 8)], {},
     r"weight in-channels \(3\) \* groups \(1\) must equal input channels \(4\)"),
    (nn.Conv2DOp, [t(1, 8, 8, 4), t(6, 3, 3, 1)], [t(1, 6, 6, 6)], dict(groups=4),
     r"output channels \(6\) must be divisible by groups \(4\)"),
    (nn.Conv2DOp, [t(1, 8, 8, 3), t(8, 3, 3, 3), t(7)], [t(1, 6, 6, 8)], {},
     "bias length 7 must equal output channels 8"),
    (nn.Conv2DOp, [t(1, 8, 8, 3), t(8, 3, 3, 3)], [t(1, 6, 6, 8)], dict(pads=(1, 1)),
     "attribute 'pads': expected 4 integers, got 2"),
    (nn.Conv2DOp, [t(1, 8, 8, 3), t(8, 3, 3, 3)], [t(1, 6, 6, 8)], dict(pads=(0, -1, 0, 0)),
     r"pads must be non-negative, got \[0, -1, 0, 0\]"),
    (nn.Conv2DOp, [t(1, 8, 8, 3), t(8, 3, 3, 3)], [t(1, 6, 6, 8)], dict(strides=(0, 1)),
     "strides must be positive"),
    (nn.Conv2DOp, [t(1, 8, 8, 3), t(8, 3, 3, 3)], [t(1, 6, 6, 8)], dict(dilations=(1, -2)),
     "dilations must be positive"),
    (nn.Conv2DOp, [t(1, 2, 8, 3), t(8, 5, 3, 3)], [t(1, 1, 6, 8)], {},
     "kernel extent 5 is larger than the padded input 2 along height"),
    (nn.Conv2DOp, [t(1, 8, 8, 3), t(8, 3, 3, 3)], [t(1, 8, 8, 8)], {},
     "result shape 1x8x8x8 does not match inferred shape 1x6x6x8"),
    (nn.Conv2DOp, [t(1, 8, 8, 3), t(8, 3, 3, 3), t(8, e=i32)], [t(1, 6, 6, 8)], {},
     "bias element must be f32 for f32 input, got i32"),
    (nn.Conv2DOp, [t(1, 8, 8, 3, e=Q8), t(8, 3, 3, 3, e=W), t(8, e=i64)], [t(1, 6, 6, 8, e=Q8)], {},
     "bias element must be i32 for qi8 input, got i64"),
    (nn.Conv2DOp, [t(1, 8, 8, 3, e=Q16), t(8, 3, 3, 3, e=W), t(8, e=i32)], [t(1, 6, 6, 8, e=Q16)],
     {}, "bias element must be i64 for qi16 input, got i32"),
    (nn.Conv2DOp, [t(1, 8, 8, 3, e=Q8), t(8, 3, 3, 3, e=W), t(8)], [t(1, 6, 6, 8, e=Q8)], {},
     "bias element must be i32 for qi8 input, got f32"),
    (nn.Conv2DOp, [t(1, 8, 8, 3), t(8, 3, 3, 3, e=W)], [t(1, 6, 6, 8)], {},
     "qi8 weights need a quantized input, got f32 input"),
    (nn.Conv2DOp, [t(1, 8, 8, 3, e=Q8), t(8, 3, 3, 3)], [t(1, 6, 6, 8, e=Q8)], {},
     r"quantized input \(qi8\) needs qi8 or qi4 weights, got f32"),
    (nn.Conv2DOp, [t(1, 8, 8, 3), t(8, 3, 3, 3, e=f16)], [t(1, 6, 6, 8)], {},
     "weight element f16 must match the input element f32"),
    (nn.Conv2DOp, [t(1, 8, 8, 3, e=Q16), t(8, 3, 3, 3, e=quant(i4, 0.1))], [t(1, 6, 6, 8, e=Q16)],
     {}, r"qi16 input needs qi8 weights \(int16x8\), got qi4"),
    (nn.Conv2DOp, [t(1, 8, 8, 3, e=Q8), t(2, 3, 3, 3, e=quant(i8, [0.1, 0.2, 0.3], 0, axis=3))],
     [t(1, 6, 6, 2, e=Q8)], {},
     r"per-axis weights must be quantized along axis 0 \(output channels\), got axis 3"),
    (nn.Conv2DOp, [t(1, 8, 8, 3, e=Q8), t(2, 3, 3, 3, e=quant(i8, [0.1, 0.2, 0.3], 0, axis=0))],
     [t(1, 6, 6, 2, e=Q8)], {},
     "operand #1: per-axis quantization has 3 scales but dimension 0 has size 2"),
    (nn.Conv2DOp, [t(1, 8, 8, 3, e=Q8), t(2, 3, 3, 3, e=quant(i8, 0.1, 3))],
     [t(1, 6, 6, 2, e=Q8)], {}, r"quantized weights must be symmetric \(zero points 0\)"),
    (nn.Conv2DOp, [t(1, 8, 8, 3, e=Q8), t(8, 3, 3, 3, e=W)], [t(1, 6, 6, 8)], {},
     "result element kind f32 must match the input kind qi8"),
    (nn.Conv2DOp, [t(1, 8, 8, 3), t(8, 3, 3, 3)], [t(1, 6, 6, 8)], dict(activation="gelu"),
     "attribute 'activation': 'gelu' is not one of none, relu, relu6, relu_n1_to_1"),
    # depthwise / fully connected / matmul
    (nn.DepthwiseConv2DOp, [t(1, 8, 8, 4), t(1, 3, 3, 6)], [t(1, 6, 6, 6)], {},
     r"weight channels \(6\) must equal input channels \(4\) \* depth_multiplier \(1\)"),
    (nn.DepthwiseConv2DOp, [t(1, 8, 8, 4), t(2, 3, 3, 4)], [t(1, 6, 6, 4)], {},
     r"weight must have shape \[1, KH, KW, C\*M\], got 2x3x3x4"),
    (nn.DepthwiseConv2DOp, [t(1, 8, 8, 4, e=Q8), t(1, 3, 3, 4, e=quant(i8, [0.1] * 3, 0, axis=2))],
     [t(1, 6, 6, 4, e=Q8)], {}, "got axis 2"),
    (nn.FullyConnectedOp, [t(1, 16), t(10, 12)], [t(1, 10)], {},
     "weight \\[N, K\\] has K = 12 but the input has 16 features"),
    (nn.FullyConnectedOp, [t(1, 16), t(10, 16), t(16)], [t(1, 10)], {},
     "bias length 16 must equal output channels 10"),
    (nn.MatMulOp, [t(2, 3), t(4, 5)], [t(2, 5)], {}, "matmul inner dimensions differ"),
    (nn.MatMulOp, [t(2, 3), t(3, 5, e=f16)], [t(2, 5)], {},
     "operands must share one element kind, got f32, f16"),
    # elementwise
    (nn.AddOp, [t(2, 3), t(4, 3)], [t(2, 3)], {}, "shapes 2x3 and 4x3 are not broadcast-compatible"),
    (nn.MulOp, [t(2, 3), t(2, 3, e=Q8)], [t(2, 3)], {}, "operands must share one element kind"),
    (nn.DivOp, [t(2, 3, e=Q8), t(2, 3, e=Q8)], [t(2, 3, e=Q8)], {},
     "operand 'lhs': element type .* not allowed"),
    (nn.PReluOp, [t(1, 4, 4, 3), t(1, 1, 5)], [t(1, 4, 4, 3)], {},
     "slope shape 1x1x5 does not broadcast to input shape 1x4x4x3"),
    (nn.PReluOp, [t(1, 4), t(2, 4)], [t(1, 4)], {},
     "slope shape 2x4 does not broadcast to input shape 1x4"),
    (nn.ClampOp, [t(4)], [t(4)], dict(min=6.0, max=0.0), r"min \(6.0\) must not exceed max \(0.0\)"),
    (nn.ReluOp, [t(4)], [t(5)], {}, "result shape 5 does not match inferred shape 4"),
    (nn.ReluOp, [t(4)], [t(4, e=f16)], {}, "result element kind f16 must match the input kind f32"),
    (nn.SoftmaxOp, [t(1, 10)], [t(1, 10)], dict(axis=2), r"axis 2 out of range for rank 2"),
    # pools and reductions
    (nn.MaxPool2DOp, [t(1, 2, 2, 3)], [t(1, 1, 1, 3)], dict(kernel=(3, 3)),
     "kernel extent 3 is larger than the padded input 2 along height"),
    (nn.AvgPool2DOp, [t(1, 4, 4, 3)], [t(1, 4, 4, 3)], dict(kernel=(2, 2), pads=(2, 0, 0, 0)),
     "must be smaller than the kernel"),
    (nn.AvgPool2DOp, [t(1, 4, 4, 3)], [t(1, 4, 4, 3)], {}, "missing required attribute 'kernel'"),
    (nn.MeanOp, [t(1, 4, 4, 3)], [t(1, 3)], dict(axes=(1, 4)), "axes 4 out of range for rank 4"),
    (nn.MeanOp, [t(1, 4, 4, 3)], [t(1, 3)], dict(axes=(1, -3), keepdims=False),
     r"axes \[1, -3\] name the same axis twice"),
    (nn.ReduceSumOp, [t(1, 4)], [t(1, 4)], dict(axes=()), "axes must not be empty"),
    # data movement
    (nn.ReshapeOp, [t(1, 2, 3)], [t(7)], dict(shape=(7,)),
     r"reshape changes the element count: 1x2x3 \(6\) to 7 \(7\)"),
    (nn.ReshapeOp, [t(1, 2, 3)], [t(6)], dict(shape=(-1,)), "must be fully specified"),
    (nn.ReshapeOp, [t(1, 4, e=Q8)], [t(4, e=Q8B)], dict(shape=(4,)), "must equal the input element"),
    (nn.TransposeOp, [t(1, 2, 3)], [t(1, 3, 2)], dict(perm=(0, 2, 2)),
     r"perm \[0, 2, 2\] is not a permutation of 0..2"),
    (nn.TransposeOp, [t(1, 2, 3)], [t(1, 3)], dict(perm=(0, 2)), "is not a permutation of 0..2"),
    (nn.ConcatOp, [t(1, 4, 3), t(1, 5, 3)], [t(1, 9, 3)], dict(axis=2),
     "input shapes 1x4x3 and 1x5x3 disagree off the concat axis 2"),
    (nn.ConcatOp, [t(1, 4), t(1, 4, 1)], [t(1, 4)], dict(axis=0), "disagree off the concat axis"),
    (nn.ConcatOp, [t(1, 4), t(1, 4)], [t(1, 8)], dict(axis=-3), "axis -3 out of range for rank 2"),
    (nn.ConcatOp, [t(1, 4), t(1, 4, e=i32)], [t(1, 8)], dict(axis=1),
     "operands must share one element kind"),
    (nn.SplitOp, [t(1, 6)], [t(1, 2), t(1, 3)], dict(axis=1, sizes=(2, 3)),
     r"split sizes \[2, 3\] sum to 5 but axis 1 has size 6"),
    (nn.SplitOp, [t(1, 6)], [t(1, 2)], dict(axis=1, sizes=(2, 4)),
     "has 1 results but sizes lists 2"),
    (nn.SplitOp, [t(1, 6)], [t(1, 6)], dict(axis=2, sizes=(6,)), "axis 2 out of range for rank 2"),
    (nn.PadOp, [t(2, 3)], [t(4, 5)], dict(pads=(1, 1, 1)), "pads must have 4 entries, got 3"),
    (nn.PadOp, [t(2, 3)], [t(2, 3)], dict(pads=(0, -1, 0, 1)), "pads must be non-negative"),
    (nn.PadOp, [t(2, 3)], [t(2, 9)], dict(pads=(0, 3, 0, 3), mode="reflect"),
     "reflect padding 3 on axis 1 needs a dimension larger than 3, got 3"),
    (nn.SliceOp, [t(4, 4)], [t(2, 4)], dict(begin=(1, 0), end=(5, 4)),
     r"slice bounds begin=1 end=5 on axis 0 are not normalised for size 4 and stride 1"),
    (nn.SliceOp, [t(4, 4)], [t(2, 4)], dict(begin=(0, 0), end=(2, 4), strides=(0, 1)),
     "slice stride is 0 on axis 0"),
    (nn.SliceOp, [t(4, 4)], [t(2)], dict(begin=(0,), end=(2,)), "slice begin has 1 entries for rank 2"),
    (nn.GatherOp, [t(5, 6), t(3, e=i32)], [t(3, 6)], dict(axis=2), "axis 2 out of range for rank 2"),
    (nn.GatherOp, [t(5, 6), t(3)], [t(3, 6)], {}, "operand 'indices': element type f32 not allowed"),
    (nn.ResizeOp, [t(1, 4, 4, 3)], [t(1, 0, 8, 3)], dict(size=(0, 8)), r"size must be positive"),
    (nn.LRNOp, [t(1, 4, 4, 3)], [t(1, 4, 4, 3)], dict(size=0), "size must be positive, got 0"),
    # quantize / dequantize / requantize / cast
    (nn.QuantizeOp, [t(1, 4, e=Q8)], [t(1, 4, e=Q8)], {}, "operand 'input': element type"),
    (nn.QuantizeOp, [t(1, 4)], [t(1, 4, e=i8)], {}, "result 'output': element type i8 not allowed"),
    (nn.QuantizeOp, [t(1, 4, e=f16)], [t(1, 4, e=Q8)], {}, "result expresses f32 but the input is f16"),
    (nn.DequantizeOp, [t(1, 4)], [t(1, 4)], {}, "operand 'input': element type f32 not allowed"),
    (nn.DequantizeOp, [t(1, 4, e=Q8)], [t(1, 4, e=Q8)], {}, "result 'output': element type"),
    (nn.DequantizeOp, [t(1, 4, e=Q8)], [t(1, 4, e=f16)], {},
     "result element f16 must be the expressed type f32"),
    (nn.RequantizeOp, [t(1, 4, e=Q8)], [t(1, 4)], {}, "result 'output': element type f32 not allowed"),
    (nn.CastOp, [t(1, 4)], [t(1, 4, e=i8)], dict(to=i32), r"result element i8 must equal 'to' \(i32\)"),
    (nn.CastOp, [t(1, 4)], [t(1, 4, e=i8)], dict(to=Q8), "'to' must be a non-quantized element type"),
    (nn.CastOp, [t(1, 4, e=Q8)], [t(1, 4)], dict(to=f32), "operand 'input': element type"),
]


@pytest.mark.parametrize("cls,args,results,attrs,match", ERRORS,
                         ids=lambda v: getattr(v, "name", None))
def test_verify_errors(cls, args, results, attrs, match):
    with pytest.raises(VerifyError, match=match) as info:
        verify_op(cls, args, results, **attrs)
    assert info.value.message.startswith(f"'{cls.name}' ")


def test_build_reports_shape_errors_located():
    from edgecc.ir import Location

    f = Func("main", [t(1, 8, 8, 4), t(8, 3, 3, 3)])
    with pytest.raises(VerifyError, match="must equal input channels") as info:
        Builder(f, Location("conv_1")).create(nn.Conv2DOp, *f.arguments)
    assert "conv_1" in str(info.value)


def test_gather_checks_constant_indices():
    f = Func("main", [t(5, 6)])
    b = Builder(f)
    idx = b.constant(np.array([0, -6, 5], np.int32))
    b.create(nn.GatherOp, f.arguments[0], idx, axis=1)
    bad = b.constant(np.array([1, 6], np.int64))
    op = b.create(nn.GatherOp, f.arguments[0], bad, axis=-1)
    b.ret(op.result)
    with pytest.raises(VerifyError, match="'nn.gather' constant index 6 out of range for axis 1 of size 6"):
        Module(f).verify()


def test_normalised_axes():
    f = Func("main", [t(2, 3, 4)])
    b = Builder(f)
    assert b.create(nn.ReduceMaxOp, f.arguments[0], axes=(-1, 0)).norm_axes == (2, 0)
    assert b.create(nn.SoftmaxOp, f.arguments[0]).norm_axis == 2
    assert b.create(nn.SplitOp, f.arguments[0], axis=-2, sizes=(1, 2)).norm_axis == 1


# ------------------------------------------------------------------- folding
def fold(cls, arrays, **attrs):
    from edgecc.ir.types import element_from_numpy

    f = Func("main", [tensor(a.shape, element_from_numpy(a.dtype)) for a in arrays])
    op = Builder(f).create(cls, *f.arguments, **attrs)
    return op.fold(list(arrays))


def test_fold_elementwise():
    a = np.arange(6, dtype=np.float32).reshape(2, 3) - 2
    b = np.array([0.5, -1.0, 2.0], dtype=np.float32)
    (out,) = fold(nn.AddOp, [a, b], activation="relu6")
    np.testing.assert_array_equal(out, np.clip(a + b, 0, 6))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(fold(nn.SubOp, [a, b])[0], a - b)
    np.testing.assert_array_equal(fold(nn.MulOp, [a, b])[0], a * b)
    np.testing.assert_array_equal(fold(nn.DivOp, [a, b])[0], a / b)
    np.testing.assert_array_equal(fold(nn.MaximumOp, [a, b])[0], np.maximum(a, b))
    np.testing.assert_array_equal(fold(nn.MinimumOp, [a, b])[0], np.minimum(a, b))
    np.testing.assert_array_equal(fold(nn.NegOp, [a])[0], -a)
    ints = np.array([-3, 4], dtype=np.int32)
    np.testing.assert_array_equal(fold(nn.AbsOp, [ints])[0], [3, 4])
    assert fold(nn.DivOp, [ints, ints]) is None  # integer division is left to executors
    assert fold(nn.ExpOp, [a]) is None  # not exact: no fold


def test_fold_data_movement():
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    np.testing.assert_array_equal(fold(nn.ReshapeOp, [x], shape=(6, 4))[0], x.reshape(6, 4))
    np.testing.assert_array_equal(fold(nn.TransposeOp, [x], perm=(2, 0, 1))[0], x.transpose(2, 0, 1))
    np.testing.assert_array_equal(fold(nn.ConcatOp, [x, x], axis=-1)[0], np.concatenate([x, x], -1))
    np.testing.assert_array_equal(
        fold(nn.SliceOp, [x], begin=(1, 2, 0), end=(2, -1, 4), strides=(1, -1, 2))[0], x[1:2, 2::-1, 0:4:2])
    np.testing.assert_array_equal(fold(nn.PadOp, [x], pads=(0, 1, 0, 0, 0, 2), value=-1.0)[0],
                                  np.pad(x, [(0, 0), (1, 0), (0, 2)], constant_values=-1.0))
    np.testing.assert_array_equal(fold(nn.PadOp, [x], pads=(0, 0, 2, 0, 0, 1), mode="reflect")[0],
                                  np.pad(x, [(0, 0), (0, 0), (2, 1)], mode="reflect"))
    parts = fold(nn.SplitOp, [x], axis=1, sizes=(1, 2))
    np.testing.assert_array_equal(parts[1], x[:, 1:])
    out = fold(nn.CastOp, [x - 10.5], to=i32)[0]
    assert out.dtype == np.int32 and out[0, 0, 0] == -10


def test_fold_skips_quantized_and_unknown():
    f = Func("main", [t(2, 2, e=Q8), t(2, 2)])
    b = Builder(f)
    q = np.zeros((2, 2), np.int8)
    assert b.create(nn.AddOp, f.arguments[0], f.arguments[0]).fold([q, q]) is None
    assert b.create(nn.ReshapeOp, f.arguments[0], shape=(4,)).fold([q]) is None
    assert b.create(nn.NegOp, f.arguments[1]).fold([None]) is None
