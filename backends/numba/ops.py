"""Per-op lowering to Numba kernel calls: ``LOWERINGS[op_name](L, node, ins, outs, consts)``.

``ins``/``outs`` are the node's buffers (numpy arrays, final); ``consts``
tells which inputs are compile-time constants (weights are then relaid out
once here). Every scalar parameter is converted to its final numpy type so
each kernel is compiled for one signature per element type.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from edgecc.backends.numba import descriptors as D
from edgecc.backends.numba.lower import Lowering, Node
from edgecc.runtime.kernels import conv as K
from edgecc.runtime.kernels import elementwise as E
from edgecc.runtime.kernels import movement as M

LOWERINGS: dict[str, Callable] = {}


def lowering(*names: str):
    def reg(fn):
        for n in names:
            LOWERINGS[n] = fn
        return fn

    return reg


# ----------------------------------------------------------------- helpers
def bounds(node: Node, dtype) -> tuple:
    """The node's clamp (fused activation and clamps) as two scalars of ``dtype``."""
    lo, hi = node.clamp if node.clamp is not None else _act(node.op)
    return D.scalar_bounds(lo, hi, dtype)


def _act(op) -> tuple[float, float]:
    from edgecc.backends.numba.fusion import activation_range

    return activation_range(op)


def _pair(op, name, default=(1, 1)):
    v = op.attr(name, default)
    return tuple(int(x) for x in (v if v is not None else default))


def _pads(op):
    v = op.attr("pads", (0, 0, 0, 0))
    return tuple(int(x) for x in (v if v is not None else (0, 0, 0, 0)))


def relayout(L: Lowering, src: np.ndarray, is_const: bool, fn: Callable[[np.ndarray], np.ndarray],
             shape) -> np.ndarray:
    """``fn(src)`` (a view: reshape/transpose/broadcast of weights) made contiguous with ``shape``:
    once for constants, else by a copy step per run."""
    view = fn(src)
    if is_const:
        return L.persistent(np.ascontiguousarray(view).reshape(shape))
    dst = L.scratch(view.shape, src.dtype, key=f"relayout{len(L.steps)}")
    D.emit_copy(L, view, dst, src)
    return dst.reshape(shape)


def _bias(L: Lowering, ins, consts, n: int, dtype) -> np.ndarray:
    if len(ins) > 2 and ins[2] is not None:
        return ins[2]
    return L.persistent(np.zeros(n, dtype=dtype))


# ------------------------------------------------------------------ conv
#: elements of the im2col patch matrix built at once (larger convolutions go in row blocks)
IM2COL_BUDGET = 1 << 22
#: convolutions with at most this many output channels (and at most 4 input channels, where
#: transposed patches are cheap to build) vectorise over pixels (``gemm_t``)
GEMM_T_MAX_N = 16


@lowering("nn.conv2d")
def conv2d(L: Lowering, node: Node, ins, outs, consts):
    """groups == 1: GEMM (pointwise directly, else on im2col patches); grouped: direct kernel."""
    op = node.op
    x, w = ins[0], ins[1]
    out = outs[0]
    res = ins[-1] if node.residual is not None else None
    cout, kh, kw, cg = w.shape
    groups = int(op.attr("groups", 1) or 1)
    og = cout // groups
    sh, sw = _pair(op, "strides")
    dh, dw = _pair(op, "dilations")
    pt, pl, pb, pr = _pads(op)
    b = ins[2] if len(node.reads) > 2 else L.persistent(np.zeros(cout, out.dtype))
    lo, hi = bounds(node, out.dtype)
    acc_t = L.acc if out.dtype.kind == "f" else np.dtype(np.int64)
    if min(pt, pl, pb, pr) < 0:
        L.fallback(op, ins[:len(node.reads)], outs)
        return
    n_, oh, ow, _ = out.shape
    if groups == 1:
        k = kh * kw * cg
        wt = relayout(L, w, consts[1], lambda a: a.reshape(cout, k).T, (k, cout))
        acc = L.scratch((4, cout), acc_t, "acc")
        o2 = out.reshape(-1, cout)
        r2 = res.reshape(-1, cout) if res is not None else L.scratch((1, 1), out.dtype, "nores")
        mode = np.int64(0 if res is None else (1 if node.res_first else 2))
        if kh == kw == 1 and (sh, sw) == (1, 1) and (pt, pl, pb, pr) == (0, 0, 0, 0):
            L.emit(K.gemm, x.reshape(-1, cg), wt, b, r2, o2, acc, lo, hi, mode)
            return
        rows = max(1, min(oh, IM2COL_BUDGET // max(1, ow * k)))
        geo = tuple(np.int64(v) for v in (kh, kw, sh, sw, pt, pl, dh, dw))
        if cout <= GEMM_T_MAX_N and cg <= 4 and k >= 16:
            # few output channels: vectorise over pixels (transposed patches, weights [Cout, K])
            wn = relayout(L, w, consts[1], lambda a: a.reshape(cout, k), (cout, k))
            colt = L.scratch((k, rows * ow), x.dtype, f"colt{len(L.steps)}")
            acc_t4 = L.scratch((4, rows * ow), acc_t, f"acct{rows * ow}")
            for n in range(n_):
                for r0 in range(0, oh, rows):
                    r1 = min(oh, r0 + rows)
                    a, z = (n * oh + r0) * ow, (n * oh + r1) * ow
                    ct = colt if r1 - r0 == rows else L.scratch((k, (r1 - r0) * ow), x.dtype,
                                                                f"coltail{len(L.steps)}")
                    L.emit(K.im2col_t, x, ct, *geo, np.int64(n), np.int64(r0), np.int64(r1), np.int64(ow),
                           x.dtype.type(0))
                    rr = r2[a:z] if res is not None else r2
                    L.emit(K.gemm_t, ct, wn, b, rr, o2[a:z], acc_t4, lo, hi, mode)
            return
        cols = L.scratch((rows * ow, k), x.dtype, f"cols{len(L.steps)}")
        for n in range(n_):
            for r0 in range(0, oh, rows):
                r1 = min(oh, r0 + rows)
                a, z = (n * oh + r0) * ow, (n * oh + r1) * ow
                c = cols[:(r1 - r0) * ow]
                L.emit(K.im2col, x, x.reshape(-1), c, *geo, np.int64(n), np.int64(r0), np.int64(r1),
                       np.int64(ow),
                       x.dtype.type(0))
                L.emit(K.gemm, c, wt, b, r2[a:z] if res is not None else r2, o2[a:z], acc, lo, hi, mode)
        return
    wt = relayout(L, w, consts[1],
                  lambda a: a.reshape(groups, og, kh, kw, cg).transpose(0, 2, 3, 4, 1),
                  (groups, kh, kw, cg, og))
    geo = tuple(np.int64(v) for v in (sh, sw, pt, pl, dh, dw))
    acc = L.scratch((og,), acc_t, "acc1")
    L.emit(K.conv2d, x, wt, b, out, acc, *geo, lo, hi)


@lowering("nn.depthwise_conv2d")
def depthwise_conv2d(L: Lowering, node: Node, ins, outs, consts):
    op = node.op
    x, w = ins[0], ins[1]
    out = outs[0]
    _, kh, kw, cm = w.shape
    mult = int(op.attr("depth_multiplier", 1) or 1)
    sh, sw = _pair(op, "strides")
    dh, dw = _pair(op, "dilations")
    pt, pl, pb, pr = _pads(op)
    if min(pt, pl, pb, pr) < 0:
        L.fallback(op, ins, outs)
        return
    b = ins[2] if len(ins) > 2 else L.persistent(np.zeros(cm, out.dtype))
    wk = w.reshape(kh, kw, cm)
    if consts[1]:
        wk = L.persistent(wk)
    lo, hi = bounds(node, out.dtype)
    if mult == 1 and (kh, kw) == (3, 3) and sw != 1:  # strided: per-pixel register kernel
        acc = L.scratch((cm,), L.acc, "acc1")
        L.emit(K.depthwise3x3, x, wk, b, out, acc, *(np.int64(v) for v in (sh, sw, pt, pl, dh, dw)), lo, hi)
        return
    acc = L.scratch((out.shape[2] * cm,), L.acc if out.dtype.kind == "f" else np.int64, "dwacc")
    if mult == 1 and sw == 1:
        wrep = relayout(L, w, consts[1],
                        lambda a: np.broadcast_to(a.reshape(kh, kw, 1, cm), (kh, kw, out.shape[2], cm)),
                        (kh * kw * out.shape[2] * cm,))
    else:
        wrep = L.scratch((1,), w.dtype, "nowrep")
    L.emit(K.depthwise_conv2d, x, x.reshape(-1), wk, wrep, b, out, acc, np.int64(mult),
           *(np.int64(v) for v in (sh, sw, pt, pl, dh, dw)), lo, hi)


@lowering("nn.fully_connected")
def fully_connected(L: Lowering, node: Node, ins, outs, consts):
    x, w = ins[0], ins[1]
    out = outs[0]
    n, k = w.shape
    res = None
    if node.residual is not None:
        res = ins[-1]
    b = ins[2] if len(node.reads) > 2 else L.persistent(np.zeros(n, out.dtype))
    lo, hi = bounds(node, out.dtype)
    wt = relayout(L, w, consts[1], lambda a: a.T, (k, n))
    acc = L.scratch((4, n), L.dense_acc if out.dtype.kind == "f" else np.int64, "acc")
    r2 = res.reshape(-1, n) if res is not None else L.scratch((1, 1), out.dtype, "nores")
    mode = np.int64(0 if res is None else (1 if node.res_first else 2))
    L.emit(K.gemm, x.reshape(-1, k), wt, b, r2, out.reshape(-1, n), acc, lo, hi, mode)


@lowering("nn.matmul")
def matmul(L: Lowering, node: Node, ins, outs, consts):
    a, b = ins
    out = outs[0]
    a2 = a.reshape(1, a.shape[0]) if a.ndim == 1 else a
    b2 = b.reshape(b.shape[0], 1) if b.ndim == 1 else b
    m, k = a2.shape[-2:]
    n = b2.shape[-1]
    if out.dtype.kind == "f" and b2.ndim == 2 and a2.ndim >= 2:
        # one weight matrix: a GEMM over all rows of a (four rows per weight load)
        bb = L.persistent(b2) if consts[1] else b2
        lo, hi = D.scalar_bounds(-math.inf, math.inf, out.dtype)
        acc = L.scratch((4, n), L.dense_acc, "acc")
        L.emit(K.gemm, a2.reshape(-1, k), bb, L.persistent(np.zeros(n, out.dtype)),
               L.scratch((1, 1), out.dtype, "nores"), out.reshape(-1, n), acc, lo, hi, np.int64(0))
        return
    ba, bb_ = a2.shape[:-2], b2.shape[:-2]
    bo = np.broadcast_shapes(ba, bb_)
    nb = int(np.prod(bo, dtype=np.int64))
    amap = np.broadcast_to(np.arange(int(np.prod(ba, dtype=np.int64))).reshape(ba), bo).reshape(-1)
    bmap = np.broadcast_to(np.arange(int(np.prod(bb_, dtype=np.int64))).reshape(bb_), bo).reshape(-1)
    acc = L.scratch((n,), L.dense_acc if out.dtype.kind == "f" else np.int64, "acc1")
    L.emit(K.matmul, a2.reshape(-1, m, k), b2.reshape(-1, k, n), out.reshape(nb, m, n),
           L.persistent(amap.astype(np.int64)), L.persistent(bmap.astype(np.int64)), acc)


# ------------------------------------------------------------------ pools
def _pool_geo(op):
    kh, kw = _pair(op, "kernel", None)
    sh, sw = _pair(op, "strides")
    dh, dw = _pair(op, "dilations")
    pt, pl, pb, pr = _pads(op)
    return kh, kw, sh, sw, pt, pl, dh, dw, (pt, pl, pb, pr)


@lowering("nn.max_pool2d")
def max_pool2d(L: Lowering, node: Node, ins, outs, consts):
    op = node.op
    x, out = ins[0], outs[0]
    kh, kw, sh, sw, pt, pl, dh, dw, pads = _pool_geo(op)
    if min(pads) < 0:
        L.fallback(op, ins, outs)
        return
    init = out.dtype.type(-np.inf) if out.dtype.kind == "f" else np.iinfo(out.dtype).min
    lo, hi = bounds(node, out.dtype)
    L.emit(K.max_pool2d, x, out, *(np.int64(v) for v in (kh, kw, sh, sw, pt, pl, dh, dw)),
           out.dtype.type(init), lo, hi)


@lowering("nn.avg_pool2d")
def avg_pool2d(L: Lowering, node: Node, ins, outs, consts):
    op = node.op
    x, out = ins[0], outs[0]
    kh, kw, sh, sw, pt, pl, dh, dw, pads = _pool_geo(op)
    if min(pads) < 0 or out.dtype.kind != "f":
        L.fallback(op, ins, outs)
        return
    lo, hi = bounds(node, out.dtype)
    acc = L.scratch((x.shape[3],), np.float64, "acc64")
    L.emit(K.avg_pool2d, x, out, acc, *(np.int64(v) for v in (kh, kw, sh, sw, pt, pl, dh, dw)), lo, hi)


@lowering("nn.lrn")
def lrn(L: Lowering, node: Node, ins, outs, consts):
    op = node.op
    x, out = ins[0], outs[0]
    c = x.shape[-1]
    f = lambda name, d: np.float64(np.float32(op.attr(name, d)))  # noqa: E731
    L.emit(K.lrn, x.reshape(-1, c), out.reshape(-1, c), np.int64(op.attr("size")),
           f("alpha", 1e-4), f("beta", 0.75), f("bias", 1.0))


# ------------------------------------------------------------ elementwise
@lowering("nn.add", "nn.sub", "nn.mul", "nn.div", "nn.maximum", "nn.minimum", "nn.pow", "nn.prelu")
def binary(L: Lowering, node: Node, ins, outs, consts):
    op = node.op
    a, b = ins[0], ins[1]
    out = outs[0]
    name = op.name.split(".", 1)[1]
    if name == "pow" and b.dtype != a.dtype and a.dtype.kind == "f":
        b = L.persistent(b.astype(a.dtype)) if consts[1] else _converted(L, b, a.dtype)
    if a.dtype != out.dtype or b.dtype != out.dtype:
        L.fallback(op, ins, outs)
        return
    desc = D.broadcast(out.shape, a.shape, b.shape)
    if desc is None:  # too many broadcast dimensions: materialise the operands
        a = _expanded(L, a, out.shape)
        b = _expanded(L, b, out.shape)
        desc = D.broadcast(out.shape, a.shape, b.shape)
    shape, sa, sb = (L.persistent(d) for d in desc)
    if name == "div" and out.dtype.kind in "iu":
        L.emit(E.int_div, a.reshape(-1), b.reshape(-1), out.reshape(-1), shape, sa, sb)
        return
    if name == "pow" and out.dtype.kind in "iu":
        L.fallback(op, ins, outs)
        return
    lo, hi = bounds(node, out.dtype)
    L.emit(E.binary, np.int64(E.BINARY[name]), a.reshape(-1), b.reshape(-1), out.reshape(-1), shape, sa, sb,
           lo, hi, kernel=f"binary:{name}")


def _converted(L: Lowering, a: np.ndarray, dtype) -> np.ndarray:
    t = L.scratch(a.shape, dtype, key=f"conv{len(L.steps)}")
    import functools

    L.emit(functools.partial(np.copyto, casting="unsafe"), t, a, kernel="numpy.copyto")
    return t


def _expanded(L: Lowering, a: np.ndarray, shape) -> np.ndarray:
    if a.shape == tuple(shape):
        return a
    t = L.scratch(shape, a.dtype, key=f"expand{len(L.steps)}")
    D.emit_copy(L, np.broadcast_to(a, shape), t, a)
    return t


_UNARY_NAMES = ("relu", "clamp", "sigmoid", "tanh", "hard_swish", "hard_sigmoid", "leaky_relu", "exp", "log",
                "sqrt", "rsqrt", "abs", "neg", "erf")


def _unary_params(op, dtype) -> tuple:
    """(p0, p1) of a float unary op in ``dtype``: clamp bounds, leaky_relu alpha, hard_sigmoid alpha/beta."""
    name = op.name.split(".", 1)[1]
    t = np.dtype(dtype).type
    p0, p1 = t(0), t(0)
    if name == "clamp":
        lo, hi = op.attr("min"), op.attr("max")
        p0, p1 = D.scalar_bounds(-math.inf if lo is None else lo, math.inf if hi is None else hi, dtype)
    elif name == "leaky_relu":
        p0 = t(np.float32(op.attr("alpha", 0.01)))
    elif name == "hard_sigmoid":
        p0, p1 = t(np.float32(op.attr("alpha", 0.2))), t(np.float32(op.attr("beta", 0.5)))
    return p0, p1


def elementwise_chain(L: Lowering, node: Node, ins, outs) -> None:
    """A ``fusion.plan_chains`` chain node: one ``chain`` kernel call over L1-sized tiles."""
    from edgecc.backends.numba.fusion import chain_operands

    exts = node.reads[1:]
    rows, params, names = [], [], []
    for m, i in chain_operands(node):
        name = m.op.name.split(".", 1)[1]
        names.append(name)
        if len(m.op.operands) == 1:
            rows.append((0, E.UNARY[name], 0, 0))
            params.append(_unary_params(m.op, np.float32))
        else:
            ext = m.op.operands[1 - i]
            rows.append((1, E.BINARY[name], next(k for k, v in enumerate(exts) if v is ext), i))
            params.append(bounds(m, np.float32))
    dummy = L.weight(("chain-operand",), lambda: np.zeros(1, np.float32))
    e = [L.buffers[v].reshape(-1) for v in exts] + [dummy] * (4 - len(exts))
    L.emit(E.chain, L.persistent(np.array(rows, np.int64)), L.persistent(np.array(params, np.float32)),
           L.buffers[node.reads[0]].reshape(-1), *e, outs[0].reshape(-1),
           L.scratch((E.CHAIN_TILE,), np.float32, key="chain"), kernel="chain:" + "+".join(names))


@lowering(*(f"nn.{n}" for n in _UNARY_NAMES))
def unary(L: Lowering, node: Node, ins, outs, consts):
    op = node.op
    x, out = ins[0], outs[0]
    name = op.name.split(".", 1)[1]
    if out.dtype.kind != "f" and name not in ("abs", "neg", "relu", "clamp"):
        L.fallback(op, ins, outs)
        return
    if out.dtype.kind != "f":
        L.fallback(op, ins, outs)  # integer activations: exact numpy semantics (wrapping abs/neg)
        return
    p0, p1 = _unary_params(op, out.dtype)
    L.emit(E.unary, np.int64(E.UNARY[name]), x.reshape(-1), out.reshape(-1), p0, p1, kernel=f"unary:{name}")


@lowering("nn.softmax", "nn.log_softmax")
def softmax(L: Lowering, node: Node, ins, outs, consts):
    op = node.op
    x, out = ins[0], outs[0]
    axis = int(op.attr("axis", -1))
    axis = axis + x.ndim if axis < 0 else axis
    outer, n, inner = D.split3(x.shape, axis, axis + 1)
    log = op.name == "nn.log_softmax"
    beta = np.float64(np.float32(op.attr("beta", 1.0))) if not log else np.float64(1.0)
    acc = L.scratch((max(n, 1),), np.float64, "acc64")
    L.emit(E.softmax, x.reshape(-1), out.reshape(-1), acc, np.int64(outer), np.int64(n), np.int64(inner),
           beta,
           np.bool_(log))


@lowering("nn.cast")
def cast(L: Lowering, node: Node, ins, outs, consts):
    x, out = ins[0], outs[0]
    if x.dtype == np.float16 or out.dtype == np.float16:
        from edgecc.backends.numba.lower import _copy_unsafe

        if out.dtype.kind in "iu" and x.dtype.kind == "f":
            L.fallback(node.op, ins, outs)
        else:
            L.emit(_copy_unsafe, out, x, kernel="numpy.copyto")
        return
    if out.dtype == np.bool_:
        mode = 2
    elif out.dtype.kind in "iu" and x.dtype.kind == "f":
        mode = 1
    else:
        mode = 0
    L.emit(E.cast, x.reshape(-1), out.reshape(-1), np.int64(mode))


def _qparams(q, shape):
    """(scale float32[A], zero point int64[A], inner) of a quantized type over ``shape``."""
    scale = np.asarray(q.scales, dtype=np.float32)
    zp = np.asarray(q.zero_points, dtype=np.int64)
    if q.axis is None:
        return scale[:1], zp[:1], 1
    axis = q.axis + len(shape) if q.axis < 0 else q.axis
    inner = int(np.prod(shape[axis + 1:], dtype=np.int64))
    return scale, zp, inner


@lowering("nn.quantize")
def quantize(L: Lowering, node: Node, ins, outs, consts):
    op = node.op
    q = op.result.type.element
    scale, zp, inner = _qparams(q, outs[0].shape)
    L.emit(E.quantize, ins[0].reshape(-1), outs[0].reshape(-1), L.persistent(scale), L.persistent(zp),
           np.int64(max(inner, 1)), np.float64(q.qmin), np.float64(q.qmax), np.bool_(_tflite_rounding()))


@lowering("nn.dequantize")
def dequantize(L: Lowering, node: Node, ins, outs, consts):
    op = node.op
    q = op.operands[0].type.element
    scale, zp, inner = _qparams(q, ins[0].shape)
    L.emit(E.dequantize, ins[0].reshape(-1), outs[0].reshape(-1), L.persistent(scale), L.persistent(zp),
           np.int64(max(inner, 1)))


def _tflite_rounding() -> bool:
    """Whether the reference quantizes as TFLite (half away from zero) rather than ONNX (half even)."""
    try:
        from edgecc.interp.quantized import QKERNELS  # noqa: F401
    except ImportError:
        return False
    return True


# ------------------------------------------------------------- movement
@lowering("nn.transpose")
def transpose(L: Lowering, node: Node, ins, outs, consts):
    perm = tuple(int(p) for p in node.op.attr("perm"))
    x, out = ins[0], outs[0]
    D.emit_copy(L, x.transpose(perm), out, x)


@lowering("nn.slice")
def slice_(L: Lowering, node: Node, ins, outs, consts):
    op = node.op
    x, out = ins[0], outs[0]
    begin, end = op.attr("begin"), op.attr("end")
    strides = op.attr("strides") or (1,) * x.ndim
    index = []
    for dim, bgn, e, s in zip(x.shape, begin, end, strides):
        if s > 0:
            bgn, e = min(max(bgn, 0), dim), min(max(e, 0), dim)
            index.append(slice(bgn, e, s))
        else:
            bgn, e = min(max(bgn, 0), dim - 1), min(max(e, -1), dim - 1)
            index.append(slice(bgn, e if e >= 0 else None, s))
    D.emit_copy(L, x[tuple(index)], out, x)


@lowering("nn.concat")
def concat(L: Lowering, node: Node, ins, outs, consts):
    out = outs[0]
    axis = int(node.op.attr("axis", 0))
    axis = axis + out.ndim if axis < 0 else axis
    at = 0
    for x in ins:
        k = x.shape[axis]
        index = (slice(None),) * axis + (slice(at, at + k),)
        D.emit_copy(L, x, out[index], x, out)
        at += k


@lowering("nn.split")
def split(L: Lowering, node: Node, ins, outs, consts):
    x = ins[0]
    axis = int(node.op.attr("axis", 0))
    axis = axis + x.ndim if axis < 0 else axis
    at = 0
    for out in outs:
        k = out.shape[axis]
        index = (slice(None),) * axis + (slice(at, at + k),)
        D.emit_copy(L, x[index], out, x)
        at += k


@lowering("nn.pad")
def pad(L: Lowering, node: Node, ins, outs, consts):
    op = node.op
    x, out = ins[0], outs[0]
    pads = [int(p) for p in op.attr("pads")]
    mode = op.attr("mode", "constant") or "constant"
    value = op.attr("value", 0.0)
    value = 0.0 if value is None else value
    if x.ndim > M.COPY_RANK:
        L.fallback(op, ins, outs)
        return
    table = D.pad_table(x.shape, out.shape, pads, mode)
    if table is None:
        L.fallback(op, ins, outs)
        return
    fill = np.asarray(value).astype(node.op.result.type.element.numpy)
    if fill.dtype == np.float16:
        fill = fill.view(np.int16)
    D.emit_remap(L, x, out, table, fill.astype(out.dtype)[()])


@lowering("nn.gather")
def gather(L: Lowering, node: Node, ins, outs, consts):
    op = node.op
    data, idx = ins
    out = outs[0]
    axis = int(op.attr("axis", 0))
    axis = axis + data.ndim if axis < 0 else axis
    outer, n, inner = D.split3(data.shape, axis, axis + 1)
    if consts[1]:
        k = idx.reshape(-1).astype(np.int64)
        if k.size and (k.min() < -n or k.max() >= n):
            from edgecc.ir.diagnostics import EdgeccError

            raise EdgeccError(f"'nn.gather' index out of range [{-n}, {n - 1}]", op.loc)
        idx = L.persistent(k)
    L.emit(M.gather, data.reshape(-1), idx.reshape(-1), out.reshape(-1), np.int64(outer), np.int64(n),
           np.int64(inner))


@lowering("nn.mean", "nn.reduce_sum", "nn.reduce_max", "nn.reduce_min")
def reduce(L: Lowering, node: Node, ins, outs, consts):
    op = node.op
    x, out = ins[0], outs[0]
    axes = op.attr("axes")
    axes = tuple(range(x.ndim)) if not axes else tuple(sorted({a + x.ndim if a < 0 else a for a in axes}))
    mode = M.REDUCE[op.name.split(".", 1)[1]]
    run = D.reduce_runs(x.shape, axes)
    if run is None:  # reduced axes not contiguous: move them last first
        kept = [d for d in range(x.ndim) if d not in axes]
        t = L.scratch([x.shape[d] for d in kept + list(axes)], x.dtype, key=f"reduce{len(L.steps)}")
        D.emit_copy(L, x.transpose(kept + list(axes)), t, x)
        x = t
        outer = int(np.prod([x.shape[i] for i in range(len(kept))], dtype=np.int64))
        n = x.size // max(outer, 1) if x.size else 0
        inner = 1
    else:
        outer, n, inner = run
    if mode >= 2:
        acc_t = x.dtype
    elif x.dtype.kind == "f":
        acc_t = np.float64
    else:
        acc_t = np.int64
    acc = L.scratch((max(inner, 1),), acc_t, "racc")
    L.emit(M.reduce, x.reshape(-1), out.reshape(-1), acc, np.int64(outer), np.int64(n), np.int64(inner),
           np.int64(mode), kernel=f"reduce:{op.name.split('.', 1)[1]}")


@lowering("nn.resize")
def resize(L: Lowering, node: Node, ins, outs, consts):
    from edgecc.interp import ops_shape as R

    op = node.op
    x, out = ins[0], outs[0]
    out_h, out_w = (int(s) for s in op.attr("size"))
    mode = op.attr("mode", "nearest") or "nearest"
    coordinate = op.attr("coordinate", "half_pixel") or "half_pixel"
    _, in_h, in_w, _ = x.shape
    ch = R._source_coords(op, out_h, in_h, coordinate)
    cw = R._source_coords(op, out_w, in_w, coordinate)
    if mode == "nearest":
        nmode = op.attr("nearest_mode", "round_prefer_floor") or "round_prefer_floor"
        ih = R._nearest(op, ch, in_h, nmode)
        iw = R._nearest(op, cw, in_w, nmode)
        D.emit_remap(L, x, out, D.gather_table(x.shape, [None, ih, iw, None]), out.dtype.type(0))
        return
    if out.dtype.kind != "f":
        L.fallback(op, ins, outs)
        return
    h0, h1, wh0, wh1 = R._linear(ch, in_h)
    w0, w1, ww0, ww1 = R._linear(cw, in_w)
    p = L.persistent
    i, f = np.int64, np.float64
    L.emit(M.resize_bilinear, x, out, p(h0.astype(i)), p(h1.astype(i)), p(wh0.astype(f)),
           p(wh1.astype(f)), p(w0.astype(i)), p(w1.astype(i)), p(ww0.astype(f)),
           p(ww1.astype(np.float64)))
