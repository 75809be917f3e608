"""Numeric equivalence of the ``fuse`` and ``layout`` passes.

Each test builds a small graph with ``Builder``, runs the reference
interpreter, runs the pass, runs the interpreter again and compares; it also
checks that the ops the pass should remove are gone.
"""

from __future__ import annotations

import zlib
from collections import Counter

import numpy as np
import pytest

from edgecc.dialects.nn import (
    AbsOp,
    AddOp,
    AvgPool2DOp,
    ClampOp,
    ConcatOp,
    Conv2DOp,
    DepthwiseConv2DOp,
    FullyConnectedOp,
    LeakyReluOp,
    MaxPool2DOp,
    MaximumOp,
    MeanOp,
    MulOp,
    NegOp,
    PadOp,
    ReduceMaxOp,
    ReduceSumOp,
    ReluOp,
    ReshapeOp,
    SigmoidOp,
    SliceOp,
    SoftmaxOp,
    SplitOp,
    SubOp,
    TanhOp,
    TransposeOp,
)
from edgecc.interp.reference import run
from edgecc.ir import Builder, Func, Module
from edgecc.ir.types import f32, i8, quant, tensor
from edgecc.passes import PassManager
from edgecc.rewrite.pattern import constant_array
from edgecc.transforms.layout import compose, inverse, permute_type

RTOL, ATOL = 1e-5, 1e-6
TO_NCHW, TO_NHWC = (0, 3, 1, 2), (0, 2, 3, 1)


# ------------------------------------------------------------------ helpers
def build(arg_shapes, body) -> Module:
    """A module whose function takes f32 tensors of ``arg_shapes`` and returns ``body(b, *args)``."""
    func = Func("main", [tensor(s, f32) for s in arg_shapes], [f"x{i}" for i in range(len(arg_shapes))])
    b = Builder(func)
    outs = body(b, *func.arguments)
    b.ret(*(outs if isinstance(outs, (list, tuple)) else [outs]))
    module = Module(func, name="t")
    module.verify()
    return module


def counts(module: Module) -> Counter:
    return Counter(op.name for op in module.ops)


def feeds_for(module: Module, rng) -> list[np.ndarray]:
    return [rng.standard_normal(a.type.shape).astype(np.float32) for a in module.func.arguments]


def check_pass(module: Module, pipeline: str, rng, exact: bool = False) -> tuple[Counter, Counter]:
    """Run ``pipeline`` on ``module``; assert outputs unchanged; return op counts before/after."""
    feeds = feeds_for(module, rng)
    before_counts = counts(module)
    before = run(module, feeds)
    PassManager.parse(pipeline).run(module)  # verifies after the pass
    after = run(module, feeds)
    assert len(before) == len(after)
    for want, got in zip(before, after):
        assert want.shape == got.shape
        if exact:
            np.testing.assert_array_equal(got, want)
        else:
            np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)
    return before_counts, counts(module)


def const(b: Builder, rng, *shape, lo=-1.0, hi=1.0):
    return b.constant(rng.uniform(lo, hi, size=shape).astype(np.float32))


def weighted(b: Builder, rng, kind: str, x, cout: int, bias: bool, **attrs):
    """conv2d / grouped conv2d / depthwise_conv2d / fully_connected on ``x`` with random weights."""
    cin = x.type.shape[-1]
    if kind == "conv":
        w = const(b, rng, cout, 3, 3, cin)
        op = Conv2DOp
    elif kind == "grouped":
        attrs["groups"] = 2
        w = const(b, rng, cout, 1, 3, cin // 2)
        op = Conv2DOp
    elif kind == "depthwise":
        cout = cin * 2
        attrs["depth_multiplier"] = 2
        w = const(b, rng, 1, 3, 3, cout)
        op = DepthwiseConv2DOp
    else:
        w = const(b, rng, cout, cin)
        op = FullyConnectedOp
    bv = const(b, rng, cout) if bias else None
    return b.create(op, x, w, bv, **attrs).result


# ====================================================================== fuse
WEIGHTED_KINDS = ["conv", "grouped", "depthwise", "fc"]
CHANNEL_SHAPES = [lambda c: (c,), lambda c: (1, c), lambda c: (1, 1, 1, c), lambda c: (), lambda c: (1,)]


@pytest.mark.parametrize("kind", WEIGHTED_KINDS)
@pytest.mark.parametrize("has_bias", [False, True])
@pytest.mark.parametrize("activation", ["relu", "relu6", "relu_n1_to_1"])
def test_fuse_chain_numeric(kind, has_bias, activation):
    """pad -> weighted op -> mul(scale) -> add(shift) -> activation is one op."""
    rng = np.random.default_rng(zlib.crc32(f"{kind}-{has_bias}-{activation}".encode()))
    shape = (2, 5, 6, 4) if kind != "fc" else (2, 3, 4)

    def body(b, x):
        if kind != "fc":
            x = b.create(PadOp, x, pads=[0, 1, 0, 0, 0, 2, 1, 0]).result
        y = weighted(b, rng, kind, x, 6, has_bias, strides=[1, 2] if kind != "fc" else None)
        c = y.type.shape[-1]
        y = b.create(MulOp, y, const(b, rng, 1, c, lo=0.5, hi=2.0)).result
        y = b.create(AddOp, const(b, rng, c), y).result
        if activation == "relu":
            return b.create(ReluOp, y).result
        lo, hi = (0.0, 6.0) if activation == "relu6" else (-1.0, 1.0)
        return b.create(ClampOp, y, min=lo, max=hi).result

    module = build([shape], body)
    before, after = check_pass(module, "fuse", rng)
    for gone in ("nn.pad", "nn.mul", "nn.add", "nn.relu", "nn.clamp"):
        assert after[gone] == 0, gone
    assert sum(after[k] for k in ("nn.conv2d", "nn.depthwise_conv2d", "nn.fully_connected")) == 1
    op = next(o for o in module.ops if o.name.startswith("nn.") and o.name != "nn.pad")
    assert op.attr("activation") == activation
    assert len(op.operands) == 3  # a bias was made or updated
    # the old weight and bias constants were erased, new ones made
    assert after["builtin.constant"] == 2


@pytest.mark.parametrize("shape_fn", CHANNEL_SHAPES)
@pytest.mark.parametrize("op_cls", [AddOp, SubOp, MulOp])
def test_fuse_per_channel_constant_shapes(shape_fn, op_cls):
    rng = np.random.default_rng(7)

    def body(b, x):
        y = weighted(b, rng, "conv", x, 5, bias=True, pads=[1, 1, 1, 1])
        return b.create(op_cls, y, const(b, rng, *shape_fn(5), lo=0.5, hi=1.5)).result

    module = build([(1, 4, 4, 3)], body)
    _, after = check_pass(module, "fuse", rng)
    assert after[op_cls.name] == 0
    assert after["nn.conv2d"] == 1


@pytest.mark.parametrize("producer", ["add", "sub", "mul", "avg", "max", "dw"])
@pytest.mark.parametrize("act", [("relu", None), ("relu6", (0.0, 6.0)), ("relu_n1_to_1", (-1.0, 1.0))])
def test_fuse_activation_numeric(producer, act):
    rng = np.random.default_rng(3)
    name, bounds = act

    def body(b, x, z):
        x = b.create(MulOp, x, b.constant(np.float32(4.0))).result  # spread values past 6
        if producer in ("add", "sub", "mul"):
            cls = {"add": AddOp, "sub": SubOp, "mul": MulOp}[producer]
            y = b.create(cls, x, z).result
        elif producer == "avg":
            y = b.create(AvgPool2DOp, x, kernel=[2, 2], pads=[1, 1, 0, 0]).result
        elif producer == "max":
            y = b.create(MaxPool2DOp, x, kernel=[3, 3], strides=[2, 2]).result
        else:
            y = weighted(b, rng, "depthwise", x, 0, bias=False)
        if bounds is None:
            return b.create(ReluOp, y).result
        return b.create(ClampOp, y, min=bounds[0], max=bounds[1]).result

    module = build([(1, 5, 5, 2), (1, 5, 5, 2)], body)
    _, after = check_pass(module, "fuse{bias=false constants=false pad=false}", rng)
    assert after["nn.relu"] + after["nn.clamp"] == 0


def test_fuse_negative_cases_keep_ops():
    rng = np.random.default_rng(5)

    def body(b, x):
        y = weighted(b, rng, "conv", x, 3, bias=False)
        r = b.create(ReluOp, y).result  # y is also an output: not fused
        z = weighted(b, rng, "conv", x, 3, bias=False, activation="relu")
        s = b.create(MulOp, z, const(b, rng, 3)).result  # after a fused relu: not folded
        q = b.create(ClampOp, s, min=0.0, max=3.0).result  # no fused activation clamps to 3
        p = b.create(PadOp, x, pads=[0, 1, 1, 0, 0, 1, 1, 0]).result
        a = b.create(AvgPool2DOp, p, kernel=[2, 2]).result  # pad + avg pool: not fused
        return y, r, q, a

    module = build([(1, 4, 4, 2)], body)
    before, after = check_pass(module, "fuse", rng, exact=True)
    assert after == before


def test_fuse_does_not_mutate_shared_weights():
    rng = np.random.default_rng(11)

    def body(b, x):
        w = const(b, rng, 3, 1, 1, 2)
        y1 = b.create(Conv2DOp, x, w).result
        y2 = b.create(Conv2DOp, x, w).result
        s = b.create(MulOp, y1, const(b, rng, 3, lo=1.0, hi=2.0)).result
        return s, y2

    module = build([(1, 3, 3, 2)], body)
    w = next(op for op in module.ops if op.name == "builtin.constant")
    original = w.attr("value").array.copy()
    _, after = check_pass(module, "fuse", rng)
    np.testing.assert_array_equal(w.attr("value").array, original)
    assert after["nn.mul"] == 0 and after["builtin.constant"] == 2


# ==================================================================== layout
def to_nchw(b, x):
    return b.create(TransposeOp, x, perm=TO_NCHW).result


def to_nhwc(b, x):
    return b.create(TransposeOp, x, perm=TO_NHWC).result


def wrapped_conv(b, rng, x_nchw, cout):
    """What the frontend makes of an NCHW Conv: transpose, NHWC conv, transpose back."""
    y = weighted(b, rng, "conv", to_nhwc(b, x_nchw), cout, bias=True, pads=[1, 1, 1, 1])
    return to_nchw(b, y)


def test_layout_nchw_network():
    """Convs wrapped in transposes with NCHW elementwise, concat, pad and pooling between."""
    rng = np.random.default_rng(21)

    def body(b, x):  # x: NCHW [1, 3, 6, 6]
        a = wrapped_conv(b, rng, x, 4)
        a = b.create(AddOp, a, const(b, rng, 4, 1, 1)).result
        a = b.create(ReluOp, a).result
        c = wrapped_conv(b, rng, a, 4)
        c = b.create(AddOp, c, a).result  # residual on two transposed values
        d = b.create(ConcatOp, [c, a], axis=1).result
        d = b.create(PadOp, d, pads=[0, 0, 1, 1, 0, 0, 1, 1], mode="reflect").result
        e = wrapped_conv(b, rng, d, 2)
        m = b.create(MeanOp, e, axes=[2, 3], keepdims=False).result
        s = b.create(SoftmaxOp, e, axis=1).result
        return m, s

    module = build([(1, 3, 6, 6)], body)
    before, after = check_pass(module, "layout", rng)
    assert before["nn.transpose"] == 6
    # left: the input's transpose to NHWC and the softmax output's back to NCHW
    assert after["nn.transpose"] == 2


@pytest.mark.parametrize("keepdims", [True, False])
@pytest.mark.parametrize("axes", [[1], [2, 3], [-1], [0, 2], [1, 2, 3]])
@pytest.mark.parametrize("op_cls", [MeanOp, ReduceSumOp, ReduceMaxOp])
def test_layout_reductions(op_cls, axes, keepdims):
    rng = np.random.default_rng(2)

    def body(b, x):
        y = b.create(op_cls, to_nchw(b, x), axes=axes, keepdims=keepdims).result
        if keepdims:
            return to_nhwc(b, y)
        return y

    module = build([(2, 3, 4, 5)], body)
    _, after = check_pass(module, "layout", rng)
    if keepdims:
        assert after["nn.transpose"] == 0


def test_layout_split_slice_softmax():
    rng = np.random.default_rng(4)

    def body(b, x):
        t = to_nchw(b, x)
        t = b.create(SliceOp, t, begin=[0, 1, 4, 0], end=[2, 5, 0, 5], strides=[1, 2, -2, 1]).result
        t = b.create(SoftmaxOp, t, axis=-3, beta=0.5).result
        p, q = b.create(SplitOp, t, axis=1, sizes=[1, 1]).results
        return to_nhwc(b, p), to_nhwc(b, b.create(TanhOp, q).result)

    module = build([(2, 5, 5, 6)], body)
    _, after = check_pass(module, "layout", rng, exact=True)
    assert after["nn.transpose"] == 0


def test_layout_hoists_onto_single_operand():
    rng = np.random.default_rng(8)

    def body(b, x, y):  # x NHWC, y NCHW
        m = b.create(MaximumOp, to_nchw(b, x), y).result
        return to_nhwc(b, m)

    module = build([(1, 3, 4, 2), (1, 2, 3, 4)], body)
    before, after = check_pass(module, "layout", rng, exact=True)
    assert (before["nn.transpose"], after["nn.transpose"]) == (2, 1)


def test_layout_constant_transpose_folds_quantized():
    q = quant(i8, 0.5, 3)
    data = np.arange(6, dtype=np.int8).reshape(2, 3)

    def body(b):
        c = b.constant(data, element=q)
        return b.create(TransposeOp, c, perm=[1, 0]).result

    module = build([], body)
    PassManager.parse("layout").run(module)
    assert counts(module)["nn.transpose"] == 0
    out = module.func.outputs[0]
    assert out.type == tensor((3, 2), q)
    np.testing.assert_array_equal(constant_array(out), data.T)


def test_layout_region_with_shared_values():
    """swish(x) = x * sigmoid(x) in NCHW between wrapped convs: x has two agnostic users."""
    rng = np.random.default_rng(10)

    def body(b, x):
        y = wrapped_conv(b, rng, to_nchw(b, x), 4)
        s = b.create(MulOp, y, b.create(SigmoidOp, y).result).result
        z = wrapped_conv(b, rng, s, 4)
        return to_nhwc(b, b.create(AddOp, z, s).result)

    module = build([(1, 4, 4, 3)], body)
    before, after = check_pass(module, "layout", rng)
    assert (before["nn.transpose"], after["nn.transpose"]) == (6, 0)


def test_layout_constant_transpose_folds_per_axis_weights():
    """OIHW -> OHWI of per-output-channel int8 weights: the axis (0) stays, the data folds."""
    q = quant(i8, [0.1, 0.2], 0, axis=0)
    data = np.arange(2 * 3 * 2 * 2, dtype=np.int8).reshape(2, 3, 2, 2)

    def body(b):
        c = b.constant(data, element=q)
        return b.create(TransposeOp, c, perm=[0, 2, 3, 1]).result

    module = build([], body)
    PassManager.parse("layout").run(module)
    out = module.func.outputs[0]
    assert counts(module)["nn.transpose"] == 0 and out.type == tensor((2, 2, 2, 3), q)
    np.testing.assert_array_equal(constant_array(out), data.transpose(0, 2, 3, 1))


@pytest.mark.parametrize("swap", [False, True])
def test_layout_region_shares_new_operand_transpose(swap):
    """Two region ops read the same untransposed value: its one new transpose precedes both."""
    rng = np.random.default_rng(12)

    def body(b, x, y):  # x NHWC, y NCHW
        t = to_nchw(b, x)
        first, second = (MulOp, AddOp) if swap else (AddOp, MulOp)
        p = b.create(first, t, y).result
        q = b.create(second, y, t).result
        return to_nhwc(b, p), to_nhwc(b, q)

    module = build([(1, 3, 4, 2), (1, 2, 3, 4)], body)
    before, after = check_pass(module, "layout", rng, exact=True)
    assert (before["nn.transpose"], after["nn.transpose"]) == (3, 1)


def test_layout_leaves_multi_use_transpose():
    rng = np.random.default_rng(9)

    def body(b, x):
        t = to_nchw(b, x)
        return t, b.create(SigmoidOp, t).result

    module = build([(1, 2, 3, 4)], body)
    before, after = check_pass(module, "layout", rng, exact=True)
    assert after == before


def test_permutation_helpers():
    p = (0, 3, 1, 2)
    assert compose(p, inverse(p)) == (0, 1, 2, 3)
    t = tensor((4, 5, 6), quant(i8, [0.1] * 6, 0, axis=2))
    pt = permute_type(t, (2, 0, 1))
    assert pt.shape == (6, 4, 5) and pt.element.axis == 0


UNARY = [ReluOp, SigmoidOp, TanhOp, AbsOp, NegOp, LeakyReluOp]


def _random_nchw_program(rng, b, x):
    """A random chain of layout-agnostic NCHW ops fenced by frontend-style transposes."""
    pool = [to_nchw(b, x)]
    n, c, h, w = pool[0].type.shape
    for _ in range(8):
        v = pool[rng.integers(len(pool))]
        choice = rng.integers(7)
        if choice == 0:
            v = b.create(UNARY[rng.integers(len(UNARY))], v).result
        elif choice == 1:
            shape = [(c, 1, 1), (1, c, 1, 1), (v.type.shape[-1],), (), (1, 1, v.type.shape[2], 1)][
                rng.integers(5)]
            cls = [AddOp, MulOp, SubOp][rng.integers(3)]
            k = b.constant(rng.uniform(-1, 1, size=shape).astype(np.float32))
            v = b.create(cls, *((v, k) if rng.integers(2) else (k, v))).result
        elif choice == 2:
            same = [u for u in pool if u.type.shape == v.type.shape]
            v = b.create(AddOp, v, same[rng.integers(len(same))]).result
        elif choice == 3:
            v = wrapped_conv(b, rng, v, c)
        elif choice == 4:
            same = [u for u in pool if u.type.shape[2:] == v.type.shape[2:]]
            v = b.create(ConcatOp, [v, same[rng.integers(len(same))]], axis=1).result
            v = wrapped_conv(b, rng, v, c)  # back to c channels
        elif choice == 5:
            pads = [0, 0, int(rng.integers(2)), int(rng.integers(2)), 0, 0, int(rng.integers(2)), 0]
            v = b.create(PadOp, v, pads=pads, mode=["constant", "edge"][rng.integers(2)]).result
            v = wrapped_conv(b, rng, v, c)
            v = b.create(SliceOp, v, begin=[0, 0, 0, 0], end=[n, c, h, w]).result
        else:
            v = b.create(ClampOp, v, min=-0.5, max=0.5).result
        pool.append(v)
    outs = [pool[-1], b.create(MeanOp, pool[-2], axes=[2, 3], keepdims=False).result]
    return outs + [b.create(ReshapeOp, pool[-3], shape=[n, c * h * w]).result]


@pytest.mark.parametrize("seed", range(12))
def test_layout_random_programs(seed):
    rng = np.random.default_rng(seed)
    module = build([(1, 5, 5, 3)], lambda b, x: _random_nchw_program(rng, b, x))
    before, after = check_pass(module, "canonicalize,layout", rng)
    # only the transposes of the two NCHW results remain (output 0 and the reshape's input)
    assert after["nn.transpose"] <= 2 < before["nn.transpose"]


@pytest.mark.parametrize("seed", range(6))
def test_fuse_after_layout_random_programs(seed):
    rng = np.random.default_rng(100 + seed)
    module = build([(1, 5, 5, 3)], lambda b, x: _random_nchw_program(rng, b, x))
    check_pass(module, "layout,fuse,canonicalize", rng)


@pytest.mark.parametrize("seed", range(16))
def test_layout_random_permutations(seed):
    """Arbitrary perms and ranks: a transposed input through a random chain, transposed at the end."""
    rng = np.random.default_rng(1000 + seed)
    rank = int(rng.integers(2, 6))
    shape = tuple(int(d) for d in rng.integers(2, 5, size=rank))
    perm = tuple(int(p) for p in rng.permutation(rank))

    def body(b, x):
        v = b.create(TransposeOp, x, perm=perm).result
        for _ in range(5):
            s = v.type.shape
            choice = rng.integers(6)
            if choice == 0:
                v = b.create(UNARY[rng.integers(len(UNARY))], v).result
            elif choice == 1:
                k_shape = tuple(d if rng.integers(2) else 1 for d in s)[int(rng.integers(rank)):]
                k = b.constant(rng.uniform(-1, 1, size=k_shape).astype(np.float32))
                v = b.create([AddOp, MulOp, SubOp, MaximumOp][rng.integers(4)], v, k).result
            elif choice == 2:
                v = b.create(ConcatOp, [v, v], axis=int(rng.integers(-rank, rank))).result
            elif choice == 3:
                pads = [int(p) for p in rng.integers(0, 2, size=2 * rank)]
                v = b.create(PadOp, v, pads=pads, mode=["constant", "reflect", "edge"][rng.integers(3)],
                             value=1.5).result
            elif choice == 4:
                begin = [int(rng.integers(d // 2 + 1)) for d in s]
                v = b.create(SliceOp, v, begin=begin, end=list(s)).result
            else:
                v = b.create(SoftmaxOp, v, axis=int(rng.integers(rank))).result
        axes = sorted(int(a) for a in rng.choice(rank, size=int(rng.integers(1, rank)), replace=False))
        red = b.create(ReduceSumOp, v, axes=axes, keepdims=bool(rng.integers(2))).result
        last = inverse(perm) if rng.integers(2) else tuple(int(p) for p in rng.permutation(rank))
        return b.create(TransposeOp, v, perm=last).result, red

    module = build([shape], body)
    before, after = check_pass(module, "layout", rng)
    assert after["nn.transpose"] <= before["nn.transpose"]


# ============================================================== whole models
def _imported(path) -> Module:
    pytest.importorskip("onnx")
    from edgecc.conversion.onnx_to_nn import legalize
    from edgecc.frontend.onnx_import import load_onnx

    module = load_onnx(path)
    legalize(module)
    module.verify()
    return module


@pytest.mark.filterwarnings("ignore:.*dynamic batch")
def test_bundled_kws_model_loses_every_transpose():
    from edgecc.examples import path

    module = _imported(path("kws_dscnn.onnx"))
    rng = np.random.default_rng(0)
    before, after = check_pass(module, "canonicalize,layout,fuse", rng)
    assert before["nn.transpose"] > 0 and after["nn.transpose"] == 0
    assert after["nn.relu"] + after["nn.clamp"] + after["nn.add"] + after["nn.mul"] == 0


@pytest.mark.filterwarnings("ignore:.*dynamic batch")
@pytest.mark.parametrize("name", ["kws_ref_model_float32", "pretrainedResnet", "vww_96_float"])
def test_mlperf_tiny_models_lose_every_transpose(shared_models, name):
    module = _imported(shared_models / f"{name}.onnx")
    rng = np.random.default_rng(0)
    before, after = check_pass(module, "canonicalize,layout,fuse", rng)
    assert before["nn.transpose"] > 0 and after["nn.transpose"] == 0
