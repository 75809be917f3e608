"""The reference interpreter against onnxruntime, op by op.

Each case builds a one-op nn module with ``Builder``, runs it with
``edgecc.interp.reference.run`` and compares with onnxruntime running the
equivalent ONNX graph (NHWC <-> NCHW transposes where the nn op is NHWC).
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from edgecc.interp.reference import KERNELS, evaluate_op, run
from edgecc.ir import Builder, DenseElements, EdgeccError, Func, Module, Operation
from edgecc.ir.spec import lookup_op
from edgecc.ir.types import element_from_numpy, f16, f32, i1, i4, i8, i16, i32, quant, tensor

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

RTOL, ATOL = 1e-5, 1e-6
RNG = np.random.default_rng(1234)


def rnd(*shape, lo=None, hi=None):
    if lo is not None:
        return RNG.uniform(lo, hi, size=shape).astype(np.float32)
    return RNG.standard_normal(shape).astype(np.float32)


# ------------------------------------------------------------------ helpers
def nchw(x):
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def nhwc(x):
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1))


def ort_run(nodes, feeds, inits=None, opset=18, n_out=1):
    """Run an ONNX graph of ``nodes`` reading ``feeds`` (i0, i1 ...) and ``inits``; outputs y0, y1 ..."""
    names = [f"i{k}" for k in range(len(feeds))]
    inputs = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
              for n, a in zip(names, feeds)]
    outputs = [helper.make_empty_tensor_value_info(f"y{k}") for k in range(n_out)]
    init = [numpy_helper.from_array(np.asarray(v), k) for k, v in (inits or {}).items()]
    graph = helper.make_graph(nodes, "g", inputs, outputs, init)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 9
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return sess.run(None, dict(zip(names, feeds)))


def act_nodes(activation, src, dst="y0"):
    """ONNX nodes applying a fused activation to ``src``."""
    if activation == "none":
        return [helper.make_node("Identity", [src], [dst])]
    if activation == "relu":
        return [helper.make_node("Relu", [src], [dst])]
    lo, hi = {"relu6": (0.0, 6.0), "relu_n1_to_1": (-1.0, 1.0)}[activation]
    return [helper.make_node("Clip", [src, "lo", "hi"], [dst])]


def act_inits(activation):
    lo, hi = {"relu6": (0.0, 6.0), "relu_n1_to_1": (-1.0, 1.0)}.get(activation, (0.0, 0.0))
    return {"lo": np.float32(lo), "hi": np.float32(hi)} if activation in ("relu6", "relu_n1_to_1") else {}


def nn_module(name, inputs, attrs, result_types=None):
    """A module computing one ``name`` op on function arguments x0, x1 ... (None: absent operand)."""
    present = [a for a in inputs if a is not None]
    func = Func("main", [tensor(a.shape, element_from_numpy(a.dtype)) for a in present],
                [f"x{k}" for k in range(len(present))])
    it = iter(func.arguments)
    operands = [next(it) if a is not None else None for a in inputs]
    b = Builder(func)
    cls = lookup_op(name)
    kw = dict(attrs)
    if result_types is not None:
        kw["result_types"] = result_types
    op = b.create(cls, *operands, **kw)
    b.ret(*op.results)
    module = Module(func)
    module.verify()
    return module


def nn_run(name, inputs, attrs, result_types=None):
    module = nn_module(name, inputs, attrs, result_types)
    return run(module, [a for a in inputs if a is not None])


def check(got, want, exact=False, rtol=RTOL, atol=ATOL):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape, (g.shape, w.shape)
        assert g.dtype == w.dtype, (g.dtype, w.dtype)
        if exact:
            np.testing.assert_array_equal(g, w)
        else:
            np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)


# ------------------------------------------------------------- conv family
CONV = [  # id, x shape, (cout, kh, kw), groups, strides, dilations, pads, bias, activation
    ("3x3-same", (1, 8, 8, 3), (4, 3, 3), 1, (1, 1), (1, 1), (1, 1, 1, 1), True, "none"),
    ("groups-dil-stride-asym", (2, 11, 10, 4), (6, 3, 2), 2, (2, 2), (2, 1), (1, 0, 2, 1), True, "relu"),
    ("1x1-nobias", (1, 5, 6, 8), (5, 1, 1), 1, (1, 1), (1, 1), (0, 0, 0, 0), False, "relu6"),
    ("groups=cin", (1, 7, 7, 6), (12, 3, 3), 6, (2, 1), (1, 2), (2, 1, 0, 3), True, "relu_n1_to_1"),
    ("stride3-big-kernel", (1, 13, 12, 3), (4, 5, 4), 1, (3, 2), (1, 1), (2, 2, 2, 2), True, "none"),
]


@pytest.mark.parametrize("xs,wk,groups,strides,dil,pads,bias,act", [c[1:] for c in CONV],
                         ids=[c[0] for c in CONV])
def test_conv2d(xs, wk, groups, strides, dil, pads, bias, act):
    x = rnd(*xs)
    cout, kh, kw = wk
    w = rnd(cout, kh, kw, xs[3] // groups)
    b = rnd(cout) if bias else None
    got = nn_run("nn.conv2d", [x, w, b], dict(strides=strides, dilations=dil, pads=pads, groups=groups,
                                               activation=act))
    feeds = [nchw(x), np.ascontiguousarray(w.transpose(0, 3, 1, 2))] + ([b] if bias else [])
    ins = ["i0", "i1"] + (["i2"] if bias else [])
    nodes = [helper.make_node("Conv", ins, ["c"], kernel_shape=[kh, kw], strides=list(strides),
                              dilations=list(dil), pads=list(pads), group=groups)] + act_nodes(act, "c")
    check(got, [nhwc(ort_run(nodes, feeds, act_inits(act))[0])])


DEPTHWISE = [  # id, x shape, (kh, kw), multiplier, strides, dilations, pads, bias, activation
    ("m2-3x3-same", (1, 6, 7, 3), (3, 3), 2, (1, 1), (1, 1), (1, 1, 1, 1), True, "none"),
    ("m1-stride-dil-asym", (2, 12, 11, 4), (3, 3), 1, (2, 2), (2, 1), (0, 1, 2, 1), False, "relu6"),
    ("m3-5x5", (1, 9, 9, 2), (5, 5), 3, (1, 2), (1, 1), (2, 2, 2, 2), True, "relu"),
]


@pytest.mark.parametrize("xs,k,m,strides,dil,pads,bias,act", [c[1:] for c in DEPTHWISE],
                         ids=[c[0] for c in DEPTHWISE])
def test_depthwise_conv2d(xs, k, m, strides, dil, pads, bias, act):
    x = rnd(*xs)
    c = xs[3]
    w = rnd(1, k[0], k[1], c * m)
    b = rnd(c * m) if bias else None
    got = nn_run("nn.depthwise_conv2d", [x, w, b], dict(strides=strides, dilations=dil, pads=pads,
                                                         depth_multiplier=m, activation=act))
    w_onnx = np.ascontiguousarray(w[0].transpose(2, 0, 1)[:, None])  # [C*M, 1, KH, KW]
    feeds = [nchw(x), w_onnx] + ([b] if bias else [])
    ins = ["i0", "i1"] + (["i2"] if bias else [])
    nodes = [helper.make_node("Conv", ins, ["c"], kernel_shape=list(k), strides=list(strides),
                              dilations=list(dil), pads=list(pads), group=c)] + act_nodes(act, "c")
    check(got, [nhwc(ort_run(nodes, feeds, act_inits(act))[0])])


def test_conv2d_96x96_is_fast():
    x, w, b = rnd(1, 96, 96, 16), rnd(32, 3, 3, 16), rnd(32)
    module = nn_module("nn.conv2d", [x, w, b], dict(pads=(1, 1, 1, 1), activation="relu"))
    start = time.perf_counter()
    (got,) = run(module, [x, w, b])
    elapsed = time.perf_counter() - start
    nodes = [helper.make_node("Conv", ["i0", "i1", "i2"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["y0"])]
    # 144-term dot products of N(0, 1) data: onnxruntime's own float32 rounding reaches ~1e-5 absolute,
    # so this uses the long-reduction tolerance of the numeric contract
    want = nhwc(ort_run(nodes, [nchw(x), np.ascontiguousarray(w.transpose(0, 3, 1, 2)), b])[0])
    check([got], [want], rtol=1e-4, atol=1e-5)
    assert elapsed < 2.0, f"96x96 conv took {elapsed:.2f} s"


@pytest.mark.parametrize("xs,act", [((2, 5), "none"), ((2, 3, 5), "relu"), ((4, 5), "relu6")])
def test_fully_connected(xs, act):
    x, w, b = rnd(*xs), rnd(3, 5), rnd(3)
    got = nn_run("nn.fully_connected", [x, w, b], dict(activation=act))
    nodes = [helper.make_node("MatMul", ["i0", "wt"], ["m"]), helper.make_node("Add", ["m", "i1"], ["c"])]
    nodes += act_nodes(act, "c")
    check(got, ort_run(nodes, [x, b], {"wt": np.ascontiguousarray(w.T), **act_inits(act)}))


def test_fully_connected_no_bias():
    x, w = rnd(3, 7), rnd(4, 7)
    got = nn_run("nn.fully_connected", [x, w, None], {})
    nodes = [helper.make_node("Gemm", ["i0", "i1"], ["y0"], transB=1)]
    check(got, ort_run(nodes, [x, w]))


@pytest.mark.parametrize("sa,sb", [((3, 4), (4, 5)), ((2, 1, 3, 4), (3, 4, 5)), ((4,), (4, 2)),
                                   ((2, 3, 4), (4,))])
def test_matmul(sa, sb):
    a, b = rnd(*sa), rnd(*sb)
    got = nn_run("nn.matmul", [a, b], {})
    check(got, ort_run([helper.make_node("MatMul", ["i0", "i1"], ["y0"])], [a, b]))


# --------------------------------------------------------------- elementwise
BINARY = [("nn.add", "Add", "relu6"), ("nn.sub", "Sub", "relu"), ("nn.mul", "Mul", "none"),
          ("nn.div", "Div", "relu_n1_to_1"), ("nn.maximum", "Max", None), ("nn.minimum", "Min", None),
          ("nn.pow", "Pow", None)]


@pytest.mark.parametrize("name,onnx_op,act", BINARY, ids=[b[0] for b in BINARY])
@pytest.mark.parametrize("sa,sb", [((2, 3, 4), (4,)), ((2, 1, 4), (3, 1))])
def test_binary(name, onnx_op, act, sa, sb):
    a, b = rnd(*sa), rnd(*sb)
    if name == "nn.pow":
        a = np.abs(a) + np.float32(0.1)
    if name == "nn.div":
        b = np.where(np.abs(b) < 0.1, np.float32(0.5), b)
    attrs = {} if act is None else {"activation": act}
    got = nn_run(name, [a, b], attrs)
    nodes = [helper.make_node(onnx_op, ["i0", "i1"], ["c"])] + act_nodes(act or "none", "c")
    check(got, ort_run(nodes, [a, b], act_inits(act or "none")))


def test_integer_div_truncates():
    a = np.array([7, -7, 7, -7, 0], np.int32)
    b = np.array([2, 2, -2, -2, 3], np.int32)
    (got,) = nn_run("nn.div", [a, b], {}) if _accepts_int("nn.div") else (None,)
    if got is None:
        pytest.skip("nn.div does not accept i32 operands")
    np.testing.assert_array_equal(got, [3, -3, -3, 3, 0])


def _accepts_int(name):
    d = lookup_op(name).spec.operands[0].constraint
    return not d.kinds or "i32" in d.kinds


UNARY = [  # nn op, attrs, onnx nodes(src, dst), onnx inits, input domain
    ("nn.relu", {}, lambda: [helper.make_node("Relu", ["i0"], ["y0"])], {}, None),
    ("nn.sigmoid", {}, lambda: [helper.make_node("Sigmoid", ["i0"], ["y0"])], {}, (-12, 12)),
    ("nn.tanh", {}, lambda: [helper.make_node("Tanh", ["i0"], ["y0"])], {}, (-6, 6)),
    ("nn.exp", {}, lambda: [helper.make_node("Exp", ["i0"], ["y0"])], {}, (-10, 10)),
    ("nn.log", {}, lambda: [helper.make_node("Log", ["i0"], ["y0"])], {}, (0.01, 100)),
    ("nn.sqrt", {}, lambda: [helper.make_node("Sqrt", ["i0"], ["y0"])], {}, (0, 100)),
    ("nn.rsqrt", {}, lambda: [helper.make_node("Sqrt", ["i0"], ["s"]),
                              helper.make_node("Reciprocal", ["s"], ["y0"])], {}, (0.01, 100)),
    ("nn.abs", {}, lambda: [helper.make_node("Abs", ["i0"], ["y0"])], {}, None),
    ("nn.neg", {}, lambda: [helper.make_node("Neg", ["i0"], ["y0"])], {}, None),
    ("nn.erf", {}, lambda: [helper.make_node("Erf", ["i0"], ["y0"])], {}, (-4, 4)),
    ("nn.hard_swish", {}, lambda: [helper.make_node("HardSwish", ["i0"], ["y0"])], {}, (-5, 5)),
    ("nn.hard_sigmoid", {"alpha": 0.3, "beta": 0.4},
     lambda: [helper.make_node("HardSigmoid", ["i0"], ["y0"], alpha=0.3, beta=0.4)], {}, (-5, 5)),
    ("nn.hard_sigmoid", {}, lambda: [helper.make_node("HardSigmoid", ["i0"], ["y0"])], {}, (-5, 5)),
    ("nn.leaky_relu", {"alpha": 0.05},
     lambda: [helper.make_node("LeakyRelu", ["i0"], ["y0"], alpha=0.05)], {}, None),
    ("nn.clamp", {"min": -0.5, "max": 0.7}, lambda: [helper.make_node("Clip", ["i0", "lo", "hi"], ["y0"])],
     {"lo": np.float32(-0.5), "hi": np.float32(0.7)}, None),
    ("nn.softmax", {}, lambda: [helper.make_node("Softmax", ["i0"], ["y0"])], {}, None),
    ("nn.softmax", {"axis": 1}, lambda: [helper.make_node("Softmax", ["i0"], ["y0"], axis=1)], {}, None),
    ("nn.softmax", {"axis": -1, "beta": 0.5},
     lambda: [helper.make_node("Mul", ["i0", "half"], ["m"]),
              helper.make_node("Softmax", ["m"], ["y0"])], {"half": np.float32(0.5)}, None),
    ("nn.log_softmax", {}, lambda: [helper.make_node("LogSoftmax", ["i0"], ["y0"])], {}, None),
    ("nn.log_softmax", {"axis": 0},
     lambda: [helper.make_node("LogSoftmax", ["i0"], ["y0"], axis=0)], {}, None),
]


@pytest.mark.parametrize("name,attrs,nodes,inits,domain", UNARY,
                         ids=[f"{u[0]}{u[1] or ''}" for u in UNARY])
def test_unary(name, attrs, nodes, inits, domain):
    x = rnd(2, 3, 4, 5) * 3 if domain is None else rnd(2, 3, 4, 5, lo=domain[0], hi=domain[1])
    got = nn_run(name, [x], attrs)
    check(got, ort_run(nodes(), [x], inits))


def test_prelu_slope_per_channel():
    x, slope = rnd(1, 4, 5, 3), rnd(3)
    got = nn_run("nn.prelu", [x, slope], {})
    want = ort_run([helper.make_node("PRelu", ["i0", "s"], ["y0"])], [nchw(x)],
                   {"s": slope.reshape(3, 1, 1)})
    check(got, [nhwc(want[0])])


def test_erf_matches_math_erf():
    import math

    xs = np.linspace(-5, 5, 1001).astype(np.float32)
    (got,) = nn_run("nn.erf", [xs], {})
    want = np.array([math.erf(float(v)) for v in xs])
    assert np.max(np.abs(got.astype(np.float64) - want)) < 1e-7


# ------------------------------------------------------------------- pools
POOLS = [  # id, nn op, x shape, kernel, strides, pads, activation
    ("max-3x3-s2-p1", "nn.max_pool2d", (1, 9, 9, 3), (3, 3), (2, 2), (1, 1, 1, 1), "none"),
    ("max-2x2-s2", "nn.max_pool2d", (2, 8, 6, 4), (2, 2), (2, 2), (0, 0, 0, 0), "relu"),
    ("max-asym", "nn.max_pool2d", (1, 7, 8, 2), (3, 2), (2, 1), (0, 1, 2, 1), "relu6"),
    ("avg-3x3-s1-p1", "nn.avg_pool2d", (1, 6, 6, 3), (3, 3), (1, 1), (1, 1, 1, 1), "none"),
    ("avg-asym", "nn.avg_pool2d", (2, 7, 8, 2), (3, 2), (2, 1), (0, 1, 2, 1), "relu"),
    ("avg-global", "nn.avg_pool2d", (1, 5, 4, 3), (5, 4), (1, 1), (0, 0, 0, 0), "relu_n1_to_1"),
]


@pytest.mark.parametrize("name,xs,k,strides,pads,act", [p[1:] for p in POOLS], ids=[p[0] for p in POOLS])
def test_pool(name, xs, k, strides, pads, act):
    x = rnd(*xs)
    got = nn_run(name, [x], dict(kernel=k, strides=strides, pads=pads, activation=act))
    extra = {"count_include_pad": 0} if name == "nn.avg_pool2d" else {}
    onnx_op = "AveragePool" if name == "nn.avg_pool2d" else "MaxPool"
    nodes = [helper.make_node(onnx_op, ["i0"], ["c"], kernel_shape=list(k), strides=list(strides),
                              pads=list(pads), **extra)] + act_nodes(act, "c")
    check(got, [nhwc(ort_run(nodes, [nchw(x)], act_inits(act))[0])])


@pytest.mark.parametrize("size", [3, 4, 5])
def test_lrn(size):
    x = rnd(2, 4, 5, 7)
    attrs = dict(size=size, alpha=1e-3, beta=0.75, bias=2.0)
    got = nn_run("nn.lrn", [x], attrs)
    node = helper.make_node("LRN", ["i0"], ["y0"], **attrs)
    if size % 2:
        want = ort_run([node], [nchw(x)])
    else:  # onnxruntime only implements odd sizes: the ONNX formula, channel by channel, in float64
        xc = nchw(x).astype(np.float64)
        sq = np.zeros_like(xc)
        for c in range(xc.shape[1]):
            lo, hi = max(0, c - (size - 1) // 2), min(xc.shape[1], c + size // 2 + 1)
            sq[:, c] = (xc[:, lo:hi] ** 2).sum(axis=1)
        want = [(xc / (2.0 + 1e-3 / size * sq) ** 0.75).astype(np.float32)]
    check(got, [nhwc(want[0])])


# -------------------------------------------------------------- reductions
REDUCE = [("nn.mean", "ReduceMean"), ("nn.reduce_sum", "ReduceSum"), ("nn.reduce_max", "ReduceMax"),
          ("nn.reduce_min", "ReduceMin")]


@pytest.mark.parametrize("name,onnx_op", REDUCE, ids=[r[0] for r in REDUCE])
@pytest.mark.parametrize("axes,keep", [((1, 2), True), ((0,), False), ((-1,), True), ((1, 3), False)])
def test_reduce(name, onnx_op, axes, keep):
    x = rnd(2, 5, 6, 3)
    got = nn_run(name, [x], dict(axes=axes, keepdims=keep))
    node = helper.make_node(onnx_op, ["i0", "axes"], ["y0"], keepdims=int(keep))
    check(got, ort_run([node], [x], {"axes": np.array(axes, np.int64)}))


# -------------------------------------------------------- data movement
def test_reshape_transpose():
    x = rnd(2, 3, 4)
    check(nn_run("nn.reshape", [x], dict(shape=(4, 6))), [x.reshape(4, 6)], exact=True)
    y = rnd(1, 2, 3, 4)
    want = ort_run([helper.make_node("Transpose", ["i0"], ["y0"], perm=[0, 3, 1, 2])], [y])
    check(nn_run("nn.transpose", [y], dict(perm=(0, 3, 1, 2))), want, exact=True)


@pytest.mark.parametrize("axis", [-1, 1])
def test_concat(axis):
    xs = [rnd(2, 3, 4), rnd(2, 3, 4), rnd(2, 3, 4)]
    func = Func("main", [tensor(a.shape) for a in xs], ["a", "b", "c"])
    b = Builder(func)
    op = b.create(lookup_op("nn.concat"), list(func.arguments), axis=axis)
    b.ret(op.result)
    module = Module(func)
    module.verify()
    want = ort_run([helper.make_node("Concat", ["i0", "i1", "i2"], ["y0"], axis=axis)], xs)
    check(run(module, {"a": xs[0], "b": xs[1], "c": xs[2]}), want, exact=True)


def test_split():
    x = rnd(2, 6, 3)
    got = nn_run("nn.split", [x], dict(axis=1, sizes=(1, 2, 3)))
    want = ort_run([helper.make_node("Split", ["i0", "s"], ["y0", "y1", "y2"], axis=1)], [x],
                   {"s": np.array([1, 2, 3], np.int64)}, n_out=3)
    check(got, want, exact=True)


PADS = [("constant", (1, 0, 2, 0, 1, 3), 1.5), ("reflect", (2, 1, 0, 1, 2, 3), None),
        ("edge", (0, 3, 1, 2, 0, 4), None)]


@pytest.mark.parametrize("mode,pads,value", PADS, ids=["constant", "reflect", "edge"])
def test_pad(mode, pads, value):
    x = rnd(3, 4, 5)
    attrs = dict(pads=pads, mode=mode)
    inits = {"p": np.array(pads, np.int64)}
    ins = ["i0", "p"]
    if value is not None:
        attrs["value"] = value
        inits["v"] = np.float32(value)
        ins.append("v")
    got = nn_run("nn.pad", [x], attrs)
    check(got, ort_run([helper.make_node("Pad", ins, ["y0"], mode=mode)], [x], inits), exact=True)


# begin, end, strides over a [6, 7, 3] tensor (normalised: end -1 with a negative stride = through 0)
SLICES = [
    ((0, 1, 0), (3, 7, 3), (1, 2, 1)),
    ((5, 6, 0), (-1, -1, 3), (-1, -2, 1)),
    ((4, 0, 2), (1, 7, 0), (-2, 3, -1)),
    ((1, 6, 0), (6, 0, 2), (2, -3, 1)),
]


@pytest.mark.parametrize("begin,end,strides", SLICES)
def test_slice(begin, end, strides):
    x = rnd(6, 7, 3)
    got = nn_run("nn.slice", [x], dict(begin=begin, end=end, strides=strides))
    ends = [e if (e >= 0 or s > 0) else -(d + 1) for e, s, d in zip(end, strides, x.shape)]
    inits = {"b": np.array(begin, np.int64), "e": np.array(ends, np.int64),
             "a": np.arange(3, dtype=np.int64), "s": np.array(strides, np.int64)}
    check(got, ort_run([helper.make_node("Slice", ["i0", "b", "e", "a", "s"], ["y0"])], [x], inits),
          exact=True)


@pytest.mark.parametrize("itype", [np.int64, np.int32])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_gather(itype, axis):
    x = rnd(4, 5, 3)
    idx = np.array([[0, 2], [-1, 1]], itype)
    got = nn_run("nn.gather", [x, idx], dict(axis=axis))
    check(got, ort_run([helper.make_node("Gather", ["i0", "i1"], ["y0"], axis=axis)], [x, idx]), exact=True)


# -------------------------------------------------------------------- resize
COORDS = ["half_pixel", "asymmetric", "align_corners", "pytorch_half_pixel"]
NEAREST = ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"]
SHAPES = [((1, 4, 4, 2), (8, 8)), ((2, 5, 7, 3), (9, 4)), ((1, 6, 3, 1), (3, 7)), ((1, 3, 5, 2), (1, 10))]


def _resize_case(x, size, mode, coordinate, nearest_mode=None):
    attrs = dict(size=size, mode=mode, coordinate=coordinate)
    onnx_attrs = dict(mode="nearest" if mode == "nearest" else "linear",
                      coordinate_transformation_mode=coordinate)
    if nearest_mode is not None:
        attrs["nearest_mode"] = nearest_mode
        onnx_attrs["nearest_mode"] = nearest_mode
    got = nn_run("nn.resize", [x], attrs)
    sizes = np.array([x.shape[0], x.shape[3], size[0], size[1]], np.int64)
    node = helper.make_node("Resize", ["i0", "", "", "sizes"], ["y0"], **onnx_attrs)
    check(got, [nhwc(ort_run([node], [nchw(x)], {"sizes": sizes})[0])])


@pytest.mark.parametrize("coordinate", COORDS)
@pytest.mark.parametrize("nearest_mode", NEAREST)
@pytest.mark.parametrize("xs,size", SHAPES, ids=["x2", "odd", "down-up", "h1"])
def test_resize_nearest(xs, size, coordinate, nearest_mode):
    _resize_case(rnd(*xs), size, "nearest", coordinate, nearest_mode)


@pytest.mark.parametrize("coordinate", COORDS)
def test_resize_nearest_indices_all_sizes(coordinate):
    """Every in/out width pair up to 9 -> 16, in one graph per pair, for the four nearest modes."""
    for n in range(1, 10):
        x = np.arange(n, dtype=np.float32).reshape(1, 1, n, 1)
        for out in range(1, 17):
            for mode in NEAREST:
                got = nn_run("nn.resize", [x], dict(size=(1, out), mode="nearest", coordinate=coordinate,
                                                    nearest_mode=mode))
                node = helper.make_node("Resize", ["i0", "", "", "sizes"], ["y0"], mode="nearest",
                                        coordinate_transformation_mode=coordinate, nearest_mode=mode)
                want = ort_run([node], [nchw(x)], {"sizes": np.array([1, 1, 1, out], np.int64)})
                assert got[0].ravel().tolist() == want[0].ravel().tolist(), (n, out, mode)


@pytest.mark.parametrize("coordinate", COORDS)
@pytest.mark.parametrize("xs,size", SHAPES, ids=["x2", "odd", "down-up", "h1"])
def test_resize_bilinear(xs, size, coordinate):
    _resize_case(rnd(*xs), size, "bilinear", coordinate)


# ------------------------------------------------------------- cast / quant
CASTS = [(np.float32, np.int32, i32, TensorProto.INT32), (np.float32, np.bool_, i1, TensorProto.BOOL),
         (np.int32, np.float32, f32, TensorProto.FLOAT), (np.float32, np.float16, f16, TensorProto.FLOAT16),
         (np.float32, np.int8, i8, TensorProto.INT8)]


@pytest.mark.parametrize("src,dst,elem,onnx_to", CASTS,
                         ids=[f"{c[0].__name__}-{c[1].__name__}" for c in CASTS])
def test_cast(src, dst, elem, onnx_to):
    x = (rnd(3, 4) * 20).astype(src)
    if src == np.float32:
        x[0, :3] = [0.0, -0.0, 2.5]
    got = nn_run("nn.cast", [x], dict(to=elem))
    check(got, ort_run([helper.make_node("Cast", ["i0"], ["y0"], to=onnx_to)], [x]), exact=True)


QUANTS = [  # id, storage, scale(s), zero point(s), axis
    ("i8", i8, 0.05, -3, None),
    ("i8-ties", i8, 0.5, 0, None),
    ("i16", i16, 0.002, 0, None),
    ("i8-per-axis", i8, [0.1, 0.02, 0.5], [0, 0, 0], 1),
    ("i8-per-axis-last", i8, [0.03, 0.2, 0.07, 0.01], [100, 0, -128, 3], -1),
]


@pytest.mark.parametrize("storage,scale,zp,axis", [q[1:] for q in QUANTS], ids=[q[0] for q in QUANTS])
def test_quantize_dequantize(storage, scale, zp, axis):
    x = rnd(2, 3, 4, 4) * 4
    x.flat[:6] = [0.25, 0.75, -1.25, 1000.0, -1000.0, 2.5]  # exact ties and saturation
    shape = x.shape
    qt = quant(storage, scale, zp, axis=None if axis is None else (axis % 4))
    got_q = nn_run("nn.quantize", [x], {}, result_types=[tensor(shape, qt)])
    npdt = storage.numpy
    inits = {"s": np.array(scale, np.float32), "z": np.array(zp, npdt)}
    extra = {} if axis is None else {"axis": axis}
    want_q = ort_run([helper.make_node("QuantizeLinear", ["i0", "s", "z"], ["y0"], **extra)], [x], inits,
                     opset=21)
    # nn.quantize rounds like TFLite (half away from zero); ONNX rounds half to even, so the two
    # may differ by one step exactly on ties and nowhere else
    bshape = [1] * x.ndim
    if axis is not None:
        bshape[axis % 4] = -1
    y = x / np.asarray(scale, np.float32).reshape(bshape)
    tie = np.abs(y - np.trunc(y)) == 0.5
    tflite = np.clip(np.trunc(y + np.copysign(0.5, y)) + np.asarray(zp).reshape(bshape),
                     qt.qmin, qt.qmax).astype(npdt)
    np.testing.assert_array_equal(got_q[0], tflite)
    np.testing.assert_array_equal(got_q[0][~tie], want_q[0][~tie])
    # dequantize: the function argument carries the quantized type
    func = Func("main", [tensor(shape, qt)], ["q"])
    b = Builder(func)
    op = b.create(lookup_op("nn.dequantize"), func.arguments[0], result_types=[tensor(shape, f32)])
    b.ret(op.result)
    module = Module(func)
    module.verify()
    got_f = run(module, {"q": want_q[0]})
    want_f = ort_run([helper.make_node("DequantizeLinear", ["i0", "s", "z"], ["y0"], **extra)], want_q, inits,
                     opset=21)
    check(got_f, want_f, exact=True)


def test_quantize_narrow_range():
    x = np.array([-2.0, -1.0, 0.0, 1.0, 2.0], np.float32)
    qt = quant(i8, 1 / 64, 0, qmin=-127, qmax=127)
    (q,) = nn_run("nn.quantize", [x], {}, result_types=[tensor((5,), qt)])
    np.testing.assert_array_equal(q, [-127, -64, 0, 64, 127])
    (q4,) = nn_run("nn.quantize", [x], {}, result_types=[tensor((5,), quant(i4, 0.25, 1))])
    np.testing.assert_array_equal(q4, [-7, -3, 1, 5, 7])


# ------------------------------------------------------------ module level
def test_f16_computes_in_f32():
    a, b = rnd(3, 4).astype(np.float16), rnd(3, 4).astype(np.float16)
    (got,) = nn_run("nn.add", [a, b], {})
    assert got.dtype == np.float16
    np.testing.assert_array_equal(got, (a.astype(np.float32) + b.astype(np.float32)).astype(np.float16))


def _small_model():
    func = Func("main", [tensor((1, 4))], ["input"])
    b = Builder(func)
    w = b.constant(rnd(3, 4), name="w")
    fc = b.create(lookup_op("nn.fully_connected"), func.arguments[0], w, activation="relu")
    sm = b.create(lookup_op("nn.softmax"), fc.result)
    b.ret(sm.result)
    return Module(func)


def test_run_feeds_by_name_and_position():
    m = _small_model()
    x = rnd(1, 4)
    (a,) = run(m, {"input": x})
    (b,) = run(m, [x])
    np.testing.assert_array_equal(a, b)
    assert a.shape == (1, 3) and abs(float(a.sum()) - 1.0) < 1e-6


@pytest.mark.parametrize("feeds,match", [
    ({"input": np.zeros((1, 5), np.float32)}, "input 'input' has shape"),
    ({"input": np.zeros((1, 4), np.float64)}, "input 'input' has dtype"),
    ({"other": np.zeros((1, 4), np.float32)}, "unknown input 'other'"),
    ({}, "missing input 'input'"),
    ([], "expected 1 inputs"),
])
def test_bad_feeds(feeds, match):
    with pytest.raises(EdgeccError, match=match):
        run(_small_model(), feeds)


def test_unsupported_op_names_op_and_location():
    from edgecc.ir.diagnostics import Location

    func = Func("main", [tensor((2,))], ["x"])
    op = Operation([func.arguments[0]], [tensor((2,))], {}, Location("node_7", "m.onnx"), name="onnx.Foo")
    func.body.append(op)
    Builder(func).ret(op.results[0])
    with pytest.raises(EdgeccError) as e:
        run(Module(func), [np.zeros(2, np.float32)])
    assert "onnx.Foo" in str(e.value) and "node_7" in str(e.value) and "m.onnx" in str(e.value)


def test_quantized_operands_use_integer_kernels():
    qt = tensor((4,), quant(i8, 0.1, 0))
    func = Func("main", [qt, qt], ["a", "b"])
    b = Builder(func)
    op = b.create(lookup_op("nn.add"), func.arguments[0], func.arguments[1], result_types=[qt])
    b.ret(op.result)
    a = np.array([1, -5, 100, 127], np.int8)
    (got,) = run(Module(func), [a, a])
    assert got.dtype == np.int8
    np.testing.assert_array_equal(got, [2, -10, 127, 127])  # same scale: plain saturating sum


def test_every_contract_op_has_a_kernel():
    contract = """conv2d depthwise_conv2d fully_connected matmul add sub mul div maximum minimum pow relu
        clamp sigmoid tanh hard_swish hard_sigmoid leaky_relu prelu exp log sqrt rsqrt abs neg erf softmax
        log_softmax avg_pool2d max_pool2d mean reduce_sum reduce_max reduce_min reshape transpose concat split
        pad slice gather resize cast quantize dequantize lrn""".split()
    assert not [n for n in contract if f"nn.{n}" not in KERNELS]
    assert "builtin.constant" in KERNELS


def test_evaluate_op_on_constant():
    from edgecc.dialects.builtin import ConstantOp

    c = ConstantOp.from_array(np.arange(3, dtype=np.float32))
    (v,) = evaluate_op(c, [])
    np.testing.assert_array_equal(v, [0, 1, 2])
    assert isinstance(c.attr("value"), DenseElements)


# ----------------------------------------------------------- fold-constants
def test_fold_constants_folds_chains_and_keeps_names():
    from edgecc.passes import PassManager

    func = Func("main", [tensor((2, 3))], ["x"])
    b = Builder(func)
    c1 = b.constant(np.ones((2, 3), np.float32), name="c1")
    c2 = b.constant(np.full((2, 3), 2.0, np.float32), name="c2")
    s = b.create(lookup_op("nn.add"), c1, c2, result_names=["s"])
    e = b.create(lookup_op("nn.neg"), s.result, result_names=["neg"])
    y = b.create(lookup_op("nn.mul"), func.arguments[0], e.result)
    b.ret(y.result)
    m = Module(func)
    x = rnd(2, 3)
    before = run(m, [x])
    assert PassManager.parse("fold-constants").run(m)
    names = [op.name for op in m.ops]
    assert names == ["builtin.constant", "nn.mul", "func.return"], names
    assert m.func.body.first.result.name_hint == "neg"
    check(run(m, [x]), before, exact=True)
    assert not PassManager.parse("fold-constants").run(m)


def test_fold_constants_respects_max_elements():
    from edgecc.passes import PassManager

    func = Func("main", [], [])
    b = Builder(func)
    c = b.constant(np.ones((4, 4), np.float32))
    r = b.create(lookup_op("nn.relu"), c)
    b.ret(r.result)
    m = Module(func)
    PassManager.parse("fold-constants{max_elements=8}").run(m)
    assert [op.name for op in m.ops] == ["builtin.constant", "nn.relu", "func.return"]
    PassManager.parse("fold-constants").run(m)
    assert [op.name for op in m.ops] == ["builtin.constant", "func.return"]
