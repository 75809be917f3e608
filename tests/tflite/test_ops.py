"""One small float graph per nn op (or op variant): write -> LiteRT/TFLM vs the reference
interpreter, read back (same numbers) and write again (same bytes)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edgecc.backends import tflite
from edgecc.backends.tflite import verify as V
from edgecc.backends.tflite.limits import TFLM_TYPES
from edgecc.backends.tflite.schema import S, builtin_name, opcode_builtin
from edgecc.dialects import nn as N
from edgecc.ir.builder import Builder
from edgecc.ir.core import Func, Module
from edgecc.ir.types import f32, i32, tensor

X = (1, 6, 6, 4)


def _graph(body, shapes=(X,)):
    f = Func("main", [tensor(s) for s in shapes], [f"x{i}" for i in range(len(shapes))])
    b = Builder(f)
    rng = np.random.default_rng(0)
    out = body(b, f.arguments, rng)
    b.ret(*(out if isinstance(out, (list, tuple)) else [out]))
    return Module(f)


def _c(b, rng, shape, scale=0.3):
    return b.constant((rng.standard_normal(shape) * scale).astype(np.float32))


def _un(cls, **attrs):
    return lambda b, a, rng: b.create(cls, a[0], **attrs).result


def _bin(cls, **attrs):
    return lambda b, a, rng: b.create(cls, a[0], _c(b, rng, (1, 1, 1, 4), 1.0), **attrs).result


CASES = {
    "conv_same_relu6": lambda b, a, r: b.create(N.Conv2DOp, a[0], _c(b, r, (5, 3, 3, 4)), _c(b, r, (5,)),
                                                pads=[1, 1, 1, 1], activation="relu6").result,
    "conv_asym_pads_stride2": lambda b, a, r: b.create(N.Conv2DOp, a[0], _c(b, r, (3, 3, 3, 4)), None,
                                                       pads=[2, 0, 1, 1], strides=[2, 2]).result,
    "conv_grouped": lambda b, a, r: b.create(N.Conv2DOp, a[0], _c(b, r, (6, 1, 1, 2)), _c(b, r, (6,)),
                                             groups=2).result,
    "depthwise_dilated_m2": lambda b, a, r: b.create(N.DepthwiseConv2DOp, a[0], _c(b, r, (1, 3, 3, 8)),
                                                     _c(b, r, (8,)), depth_multiplier=2, dilations=[2, 2],
                                                     pads=[2, 2, 2, 2]).result,
    "fully_connected_3d": lambda b, a, r: b.create(N.FullyConnectedOp, a[0], _c(b, r, (7, 4)),
                                                   _c(b, r, (7,)), activation="relu").result,
    "matmul": lambda b, a, r: b.create(N.MatMulOp, a[0], _c(b, r, (1, 6, 4, 3))).result,
    "add_relu": _bin(N.AddOp, activation="relu"), "sub": _bin(N.SubOp), "mul": _bin(N.MulOp),
    "div": lambda b, a, r: b.create(N.DivOp, a[0], b.constant(np.full((4,), 2.5, np.float32))).result,
    "maximum": _bin(N.MaximumOp), "minimum": _bin(N.MinimumOp),
    "pow": lambda b, a, r: b.create(N.PowOp, b.create(N.AbsOp, a[0]).result,
                                    b.constant(np.float32([2.0]))).result,
    "relu": _un(N.ReluOp), "relu6": _un(N.ClampOp, min=0.0, max=6.0),
    "clamp_n1_1": _un(N.ClampOp, min=-1.0, max=1.0), "clamp_lo": _un(N.ClampOp, min=-0.5),
    "sigmoid": _un(N.SigmoidOp), "tanh": _un(N.TanhOp), "hard_swish": _un(N.HardSwishOp),
    "hard_sigmoid_torch": _un(N.HardSigmoidOp, alpha=1 / 6, beta=0.5),
    "hard_sigmoid_onnx": _un(N.HardSigmoidOp),
    "leaky_relu": _un(N.LeakyReluOp, alpha=0.2), "exp": _un(N.ExpOp), "abs": _un(N.AbsOp),
    "neg": _un(N.NegOp),
    "log_sqrt_rsqrt": lambda b, a, r: [b.create(cls, b.create(N.AddOp, b.create(N.AbsOp, a[0]).result,
                                                               b.constant(np.float32([0.5]))).result).result
                                       for cls in (N.LogOp, N.SqrtOp, N.RsqrtOp)],
    "prelu": lambda b, a, r: b.create(N.PReluOp, a[0], _c(b, r, (1, 1, 4))).result,
    "softmax_last": _un(N.SoftmaxOp, beta=0.5), "softmax_axis1": _un(N.SoftmaxOp, axis=1),
    "log_softmax": _un(N.LogSoftmaxOp),
    "avg_pool_same": _un(N.AvgPool2DOp, kernel=[3, 3], pads=[1, 1, 1, 1]),
    "max_pool_valid_s2": _un(N.MaxPool2DOp, kernel=[2, 2], strides=[2, 2]),
    "max_pool_odd_pads": _un(N.MaxPool2DOp, kernel=[3, 3], strides=[2, 2], pads=[0, 2, 2, 0]),
    "mean_keep": _un(N.MeanOp, axes=[1, 2]), "sum": _un(N.ReduceSumOp, axes=[-1], keepdims=False),
    "reduce_max": _un(N.ReduceMaxOp, axes=[2]), "reduce_min": _un(N.ReduceMinOp, axes=[0, 3]),
    "reshape": _un(N.ReshapeOp, shape=[6, 24]), "transpose": _un(N.TransposeOp, perm=[0, 3, 1, 2]),
    "concat": lambda b, a, r: b.create(N.ConcatOp, [a[0], _c(b, r, (1, 6, 6, 2))], axis=-1).result,
    "split_equal": lambda b, a, r: list(b.create(N.SplitOp, a[0], axis=3, sizes=[2, 2],
                                                 result_types=[tensor((1, 6, 6, 2))] * 2).results),
    "split_v": lambda b, a, r: list(b.create(N.SplitOp, a[0], axis=1, sizes=[1, 5],
                                             result_types=[tensor((1, 1, 6, 4)), tensor((1, 5, 6, 4))]).results),
    "pad_zero": _un(N.PadOp, pads=[0, 1, 2, 0, 0, 2, 1, 0]),
    "pad_value": _un(N.PadOp, pads=[0, 1, 0, 0, 0, 0, 1, 0], value=-1.5),
    "pad_reflect": _un(N.PadOp, pads=[0, 2, 1, 0, 0, 1, 2, 0], mode="reflect"),
    "slice_strided": _un(N.SliceOp, begin=[0, 1, 0, 1], end=[1, 6, 5, 4], strides=[1, 2, 2, 1]),
    "slice_reverse": _un(N.SliceOp, begin=[0, 5, 0, 3], end=[1, -1, 6, 0], strides=[1, -1, 1, -2]),
    "gather_const": lambda b, a, r: b.create(N.GatherOp, a[0], b.constant(np.array([3, -1, 0], np.int64)),
                                             axis=2).result,
    "resize_nearest_asym": _un(N.ResizeOp, size=[12, 12], mode="nearest", coordinate="asymmetric",
                               nearest_mode="floor"),
    "resize_nearest_half_pixel": _un(N.ResizeOp, size=[12, 18], mode="nearest"),
    "resize_bilinear_half_pixel": _un(N.ResizeOp, size=[10, 9], mode="bilinear"),
    "resize_bilinear_align": _un(N.ResizeOp, size=[11, 11], mode="bilinear", coordinate="align_corners"),
    "lrn": _un(N.LRNOp, size=3, alpha=0.01, beta=0.75, bias=1.5),
    "cast_i32": lambda b, a, r: b.create(N.CastOp, b.create(N.MulOp, a[0], b.constant(np.float32([10.0])))
                                         .result, to=i32).result,
}
#: builtins the TFLM Python interpreter does not register
NOT_IN_TFLM = {b for b, types in TFLM_TYPES.items() if not types}
#: LiteRT's reference LRN sums channels [c - r, c + r) (its optimized kernel, like TensorFlow and
#: ONNX, sums [c - r, c + r]); those cases are checked against the default kernels
REF_KERNEL_DIFFERS = {"lrn"}


def _builtins(data: bytes) -> set[str]:
    m = S.ModelT.InitFromObj(S.Model.GetRootAs(data, 0))
    return {builtin_name(opcode_builtin(m.operatorCodes[op.opcodeIndex])) for op in m.subgraphs[0].operators}


@pytest.mark.parametrize("case", sorted(CASES))
def test_op(case):
    from edgecc.interp.reference import run

    module = _graph(CASES[case])
    module.verify()
    data = tflite.to_bytes(module)
    feeds = V.random_inputs(data, 1, seed=11)[0]
    want = run(module, feeds)
    V.compare_float(V.run_litert(data, feeds, reference=case not in REF_KERNEL_DIFFERS), want, rtol=1e-5)
    if not _builtins(data) & NOT_IN_TFLM:
        V.compare_float(V.run_tflm(data, feeds), want, rtol=1e-5)
    back = tflite.read_tflite(data)
    V.compare_float(run(back, feeds), want, rtol=1e-6)
    assert tflite.to_bytes(back) == data


def test_lowerings_pick_the_expected_builtins():
    expect = {"conv_asym_pads_stride2": {"PAD", "CONV_2D"}, "max_pool_odd_pads": {"PADV2", "MAX_POOL_2D"},
              "softmax_axis1": {"TRANSPOSE", "SOFTMAX"}, "split_equal": {"SPLIT"}, "split_v": {"SPLIT_V"},
              "clamp_n1_1": {"MAXIMUM", "MINIMUM"}, "relu6": {"RELU6"}, "pad_value": {"PADV2"},
              "pad_reflect": {"MIRROR_PAD"}, "resize_bilinear_align": {"RESIZE_BILINEAR"},
              "slice_reverse": {"STRIDED_SLICE"}, "fully_connected_3d": {"FULLY_CONNECTED"},
              "hard_sigmoid_torch": {"ADD", "MUL"}, "hard_sigmoid_onnx": {"ADD", "MINIMUM", "MUL"}}
    for case, names in expect.items():
        assert _builtins(tflite.to_bytes(_graph(CASES[case]))) == names, case


def test_resize_without_a_tflite_equivalent_is_an_error():
    from edgecc.ir.diagnostics import EdgeccError

    module = _graph(_un(N.ResizeOp, size=[9, 9], mode="nearest", coordinate="half_pixel",
                        nearest_mode="ceil"))
    with pytest.raises(EdgeccError, match="'nn.resize' mode 'nearest' .* no TFLite equivalent"):
        tflite.to_bytes(module)


def test_reader_strided_slice_masks_and_shrink():
    """Masks and shrink_axis_mask (as converters write them) become nn.slice + nn.reshape."""
    import flatbuffers

    from edgecc.interp.reference import run

    data = tflite.to_bytes(_graph(_un(N.SliceOp, begin=[0, 1, 0, 1], end=[1, 6, 5, 4], strides=[1, 2, 2, 1])))
    m = S.ModelT.InitFromObj(S.Model.GetRootAs(data, 0))
    sg = m.subgraphs[0]
    op = sg.operators[0]
    op.builtinOptions.beginMask, op.builtinOptions.endMask = 0b0100, 0b0010
    op.builtinOptions.shrinkAxisMask = 0b1000
    sg.tensors[op.outputs[0]].shape = [1, 3, 3]
    b = flatbuffers.Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    edited = bytes(b.Output())
    module = tflite.read_tflite(edited)
    assert [o.name for o in module.ops if o.name.startswith("nn.")] == ["nn.slice", "nn.reshape"]
    feeds = V.random_inputs(edited, 1)[0]
    want = feeds[0][:, 1::2, 0::2, 1]
    np.testing.assert_array_equal(run(module, feeds)[0], want)
    np.testing.assert_array_equal(V.run_litert(edited, feeds)[0], want)


def test_constant_tensor_types_round_trip():
    def body(b, a, rng):
        idx = b.constant(np.array([[0, 2], [1, 1]], np.int32))
        return b.create(N.GatherOp, a[0], idx, axis=1).result

    module = _graph(body)
    back = tflite.read_tflite(tflite.to_bytes(module))
    consts = [op for op in back.ops if op.name == "builtin.constant"]
    assert consts[0].result.type == tensor((2, 2), i32)
    assert back.func.arguments[0].type == tensor(X, f32)
    assert math.isfinite(float(np.sum(consts[0].attr("value").array)))
