"""Lowering of quantized ops to the integer kernels of ``edgecc.runtime.kernels.quantized``.

Prepare-time parameters come from ``edgecc.quant.math`` exactly as the
integer reference interpreter (``edgecc.interp.quantized``) computes them;
cases outside these kernels (per-axis activations, pooling with other output
parameters, ...) run the reference kernel (``Lowering.fallback``).
Data movement on quantized tensors (transpose, slice, gather, split) keeps
the element type, so the generic movement kernels run it unchanged.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from edgecc.backends.numba import descriptors as D
from edgecc.backends.numba.lower import Lowering, Node
from edgecc.ir.types import QuantizedType

QLOWERINGS: dict[str, Callable] = {}


def qlowering(*names: str):
    def reg(fn):
        for n in names:
            QLOWERINGS[n] = fn
        return fn

    return reg


def _q(v) -> QuantizedType | None:
    e = v.type.element
    return e if isinstance(e, QuantizedType) else None


def _per_tensor(*qs) -> bool:
    return all(q is not None and q.axis is None for q in qs)


def _act(op, q: QuantizedType) -> tuple[int, int]:
    from edgecc.quant import math as qm

    return qm.activation_range(op.attr("activation", "none") or "none", float(np.float32(q.scale)),
                               int(q.zero_point), int(q.qmin), int(q.qmax))


def _weight_scales(wq: QuantizedType, channels: int) -> np.ndarray:
    s = np.asarray(wq.scales, np.float32)
    return np.full(channels, s[0], np.float32) if s.size == 1 else s


def _bias(L: Lowering, ins, node: Node, n: int, consts) -> np.ndarray:
    if len(node.reads) > 2:
        b = ins[2]
        if consts[2]:
            return L.persistent(np.asarray(b, np.int64))
        t = L.scratch(b.shape, np.int64, key=f"qbias{len(L.steps)}")
        L.emit(_cast_into, t, b, kernel="numpy.copyto")
        return t
    return L.persistent(np.zeros(n, np.int64))


def _cast_into(dst, src):
    np.copyto(dst, src, casting="unsafe")


def _dense_params(op, x_q, w_q, out_q, n):
    from edgecc.quant import math as qm

    scales = _weight_scales(w_q, n)
    if w_q.axis is not None and len(w_q.scales) > 1 or op.name != "nn.fully_connected":
        m, s = qm.conv_per_channel_params(x_q.scale, scales, out_q.scale)
    else:
        m1, s1 = qm.fc_per_tensor_params(x_q.scale, float(scales[0]), out_q.scale)
        m, s = np.full(n, m1), np.full(n, s1)
    return np.asarray(m, np.int64), np.asarray(s, np.int64)


def _ok_dense(op) -> bool:
    x_q, w_q, o_q = _q(op.operands[0]), _q(op.operands[1]), _q(op.results[0])
    return (_per_tensor(x_q, o_q) and w_q is not None and not any(w_q.zero_points)
            and x_q.storage.bits in (8, 16) and o_q.storage.bits == x_q.storage.bits)


@qlowering("nn.conv2d", "nn.fully_connected")
def qconv_fc(L: Lowering, node: Node, ins, outs, consts):
    from edgecc.runtime.kernels import conv as K
    from edgecc.runtime.kernels import quantized as Q

    op = node.op
    if not _ok_dense(op) or node.residual is not None or node.clamp is not None:
        return L.fallback(op, ins, outs)
    x, w = ins[0], ins[1]
    out = outs[0]
    x_q, w_q, o_q = _q(op.operands[0]), _q(op.operands[1]), _q(op.results[0])
    wide = np.bool_(x_q.storage.bits == 16)
    lo, hi = _act(op, o_q)
    if op.name == "nn.fully_connected":
        n, k = w.shape
        m, s = _dense_params(op, x_q, w_q, o_q, n)
        if not consts[1]:
            return L.fallback(op, ins, outs)
        b = _bias(L, ins, node, n, consts)
        _emit_qgemm(L, x.reshape(-1, k), w.T, b, out.reshape(-1, n), x_q, (m, s), o_q, lo, hi, wide)
        return None
    cout, kh, kw, cg = w.shape
    groups = int(op.attr("groups", 1) or 1)
    pads = tuple(int(p) for p in (op.attr("pads") or (0, 0, 0, 0)))
    if groups != 1 or not consts[1] or min(pads) < 0:
        return L.fallback(op, ins, outs)
    m, s = _dense_params(op, x_q, w_q, o_q, cout)
    kk = kh * kw * cg
    wt = w.reshape(cout, kk).T
    b = _bias(L, ins, node, cout, consts)
    sh, sw = (int(v) for v in (op.attr("strides") or (1, 1)))
    dh, dw = (int(v) for v in (op.attr("dilations") or (1, 1)))
    pt, pl, pb, pr = pads
    n_, oh, ow, _ = out.shape
    o2 = out.reshape(-1, cout)
    if kh == kw == 1 and (sh, sw) == (1, 1) and pads == (0, 0, 0, 0):
        _emit_qgemm(L, x.reshape(-1, cg), wt, b, o2, x_q, (m, s), o_q, lo, hi, wide)
        return None
    from edgecc.backends.numba.ops import IM2COL_BUDGET

    rows = max(1, min(oh, IM2COL_BUDGET // max(1, ow * kk)))
    cols = L.scratch((rows * ow, kk), x.dtype, f"qcols{len(L.steps)}")
    geo = tuple(np.int64(v) for v in (kh, kw, sh, sw, pt, pl, dh, dw))
    fill = x.dtype.type(x_q.zero_point)
    for n in range(n_):
        for r0 in range(0, oh, rows):
            r1 = min(oh, r0 + rows)
            a, z = (n * oh + r0) * ow, (n * oh + r1) * ow
            c = cols[:(r1 - r0) * ow]
            L.emit(K.im2col, x, x.reshape(-1), c, *geo, np.int64(n), np.int64(r0), np.int64(r1), np.int64(ow),
                   fill)
            _emit_qgemm(L, c, wt, b, o2[a:z], x_q, (m, s), o_q, lo, hi, wide)
    return None


def _emit_qgemm(L: Lowering, x, w_kn, b, out, x_q, ms, o_q, lo, hi, wide) -> None:
    """int8: int32 dot products (``qgemm8``: [N, K] int8 weights, input zero point folded into a
    per-column correction); int16x8: exact float64 (``qgemm``)."""
    from edgecc.runtime.kernels import quantized as Q

    n = w_kn.shape[1]
    m, s = (L.persistent(np.asarray(a, np.int64)) for a in ms)
    tail = (m, s, np.int64(o_q.zero_point), np.int64(lo), np.int64(hi))
    key = ("qw", id(w_kn.base) if w_kn.base is not None else id(w_kn), w_kn.shape)
    if wide:
        wt = L.weight(key + ("f64",), lambda: np.ascontiguousarray(w_kn, dtype=np.float64))
        acc = L.scratch((4, n), np.float64, "qacc")
        L.emit(Q.qgemm, x, wt, b, out, acc, np.int64(x_q.zero_point), *tail, np.bool_(True))
    else:
        zp = int(x_q.zero_point)
        wt = L.weight(key + ("nk",), lambda: _nk_weights(w_kn))
        corr = L.weight(key + ("zpcorr", zp), lambda: -zp * w_kn.sum(axis=0, dtype=np.int64))
        acc = L.scratch((2, n), np.int32, "qacc32")
        L.emit(Q.qgemm8, x, wt, b, corr, out, acc, L.scratch((8,), np.int32, "qsums8"), *tail)


def _nk_weights(w_kn):
    """[N, K] weights for ``qgemm8``: int8 when every value fits (half the traffic of int16)."""
    fits = w_kn.size == 0 or (-128 <= int(w_kn.min()) and int(w_kn.max()) <= 127)
    return np.ascontiguousarray(w_kn.T, dtype=np.int8 if fits else np.int16)


@qlowering("nn.depthwise_conv2d")
def qdepthwise(L: Lowering, node: Node, ins, outs, consts):
    from edgecc.quant import math as qm
    from edgecc.runtime.kernels import quantized as Q

    op = node.op
    if not _ok_dense(op) or node.clamp is not None or not consts[1]:
        return L.fallback(op, ins, outs)
    x, w = ins[0], ins[1]
    out = outs[0]
    x_q, w_q, o_q = _q(op.operands[0]), _q(op.operands[1]), _q(op.results[0])
    _, kh, kw, cm = w.shape
    pads = tuple(int(p) for p in (op.attr("pads") or (0, 0, 0, 0)))
    if min(pads) < 0:
        return L.fallback(op, ins, outs)
    m, s = qm.conv_per_channel_params(x_q.scale, _weight_scales(w_q, cm), o_q.scale)
    lo, hi = _act(op, o_q)
    b = _bias(L, ins, node, cm, consts)
    sh, sw = (int(v) for v in (op.attr("strides") or (1, 1)))
    dh, dw = (int(v) for v in (op.attr("dilations") or (1, 1)))
    mult = int(op.attr("depth_multiplier", 1) or 1)
    lane = np.int32 if x_q.storage.bits == 8 else np.int64  # (see the kernel)
    acc = L.scratch((cm,), lane, f"qacc1_{lane.__name__}")
    wt = L.persistent(w.reshape(kh, kw, cm).astype(lane))
    L.emit(Q.qdepthwise, x, wt, b, out, acc, lane(x_q.zero_point),
           L.persistent(np.asarray(m, np.int64)), L.persistent(np.asarray(s, np.int64)),
           np.int64(o_q.zero_point), np.int64(lo), np.int64(hi), np.bool_(x_q.storage.bits == 16),
           *(np.int64(v) for v in (mult, sh, sw, pads[0], pads[1], dh, dw)))
    return None


@qlowering("nn.avg_pool2d")
def qavg_pool(L: Lowering, node: Node, ins, outs, consts):
    from edgecc.runtime.kernels import quantized as Q

    op = node.op
    i_q, o_q = _q(op.operands[0]), _q(op.results[0])
    same = _per_tensor(i_q, o_q) and i_q == o_q
    dil = tuple(int(v) for v in (op.attr("dilations", (1, 1)) or (1, 1)))
    pads = tuple(int(p) for p in (op.attr("pads") or (0, 0, 0, 0)))
    if not same or node.clamp is not None or dil != (1, 1) or min(pads) < 0:
        return L.fallback(op, ins, outs)
    kh, kw = (int(v) for v in op.attr("kernel"))
    sh, sw = (int(v) for v in (op.attr("strides") or (1, 1)))
    lo, hi = _act(op, o_q)
    acc = L.scratch((ins[0].shape[3],), np.int64, "qpacc")
    L.emit(Q.qavg_pool, ins[0], outs[0], acc, *(np.int64(v) for v in (kh, kw, sh, sw, pads[0], pads[1])),
           np.int64(lo), np.int64(hi))
    return None


@qlowering("nn.add", "nn.sub")
def qadd(L: Lowering, node: Node, ins, outs, consts):
    from edgecc.quant import math as qm
    from edgecc.runtime.kernels import quantized as Q

    op = node.op
    q1, q2, qo = _q(op.operands[0]), _q(op.operands[1]), _q(op.results[0])
    if not _per_tensor(q1, q2, qo) or node.clamp is not None or qo.storage.bits != 8 \
            or q1.storage.bits != 8 or q2.storage.bits != 8:
        return L.fallback(op, ins, outs)
    a, b = ins
    out = outs[0]
    desc = D.broadcast(out.shape, a.shape, b.shape)
    if desc is None:
        return L.fallback(op, ins, outs)
    name = op.name.split(".")[1]
    p = qm.add_sub_params(name, q1.scale, q2.scale, qo.scale, qo.storage.bits)
    lo, hi = _act(op, qo)
    shape, sa, sb = (L.persistent(d) for d in desc)
    i = np.int64
    L.emit(Q.qadd, a.reshape(-1), b.reshape(-1), out.reshape(-1), shape, sa, sb, i(q1.zero_point),
           i(q2.zero_point), i(qo.zero_point), i(p["left_shift"]), i(p["m1"]), i(p["shift1"]), i(p["m2"]),
           i(p["shift2"]), i(p["m_out"]), i(p["shift_out"]), i(lo), i(hi), np.bool_(name == "sub"))
    return None


def qunary(L: Lowering, node: Node, ins, outs, consts):
    """int8 unary ops as a 256-entry table of the reference kernel's results."""
    from edgecc.interp.quantized.tables import unary_table
    from edgecc.runtime.kernels import quantized as Q

    op = node.op
    qi, qo = _q(op.operands[0]), _q(op.results[0])
    if not _per_tensor(qi, qo) or node.clamp is not None or qi.storage.bits != 8 or qo.storage.bits != 8:
        return L.fallback(op, ins, outs)
    table = L.persistent(np.asarray(unary_table(op), np.int8))
    L.emit(Q.qlut_s8, ins[0].reshape(-1), outs[0].reshape(-1), table)
    return None


def _register_unary() -> None:
    from edgecc.interp.quantized.tables import UNARY_TABLE_OPS

    qlowering(*(n for n in UNARY_TABLE_OPS if n not in QLOWERINGS))(qunary)


@qlowering("nn.transpose", "nn.slice", "nn.gather", "nn.split")
def qmovement(L: Lowering, node: Node, ins, outs, consts):
    from edgecc.backends.numba.ops import LOWERINGS

    if any(_q(v) is not None and _q(v).axis is not None for v in (*node.op.operands, *node.op.results)):
        return L.fallback(node.op, ins, outs)
    return LOWERINGS[node.op.name](L, node, ins, outs, consts)


@qlowering("nn.quantize", "nn.dequantize")
def qconvert(L: Lowering, node: Node, ins, outs, consts):
    from edgecc.backends.numba.ops import LOWERINGS

    return LOWERINGS[node.op.name](L, node, ins, outs, consts)


@qlowering("nn.softmax")
def qsoftmax(L: Lowering, node: Node, ins, outs, consts):
    """int8 softmax over the last axis: exp of every possible difference tabulated at Prepare time with
    the reference's fixed-point functions, the rest (sum, reciprocal, scaling) per row in Numba."""
    from edgecc.interp.quantized import fixedpoint as fp
    from edgecc.interp.quantized.elementwise import _input_radius
    from edgecc.quant import math as qm
    from edgecc.runtime.kernels import quantized as Q

    op = node.op
    i_q, o_q = _q(op.operands[0]), _q(op.results[0])
    x = ins[0]
    axis = int(op.attr("axis", -1))
    axis = axis + x.ndim if axis < 0 else axis
    if not _per_tensor(i_q, o_q) or i_q.storage.bits != 8 or axis != x.ndim - 1 \
            or (float(o_q.scale), int(o_q.zero_point)) != (1.0 / 256, -128):
        return L.fallback(op, ins, outs)
    beta = float(np.float32(op.attr("beta", 1.0)))
    real = min(beta * float(np.float32(i_q.scale)) * float(1 << (31 - 5)), float((1 << 31) - 1))
    mult, ls = qm.quantize_multiplier(real)
    diff = np.arange(-255, 1, dtype=np.int64)
    valid = diff >= -_input_radius(5, ls)
    e = fp.exp_on_negative_values(qm.multiply_by_quantized_multiplier(diff, mult, ls), 5)
    e12 = np.where(valid, fp.rescale(e, 0, 12), 0)
    depth = x.shape[-1]
    L.emit(Q.qsoftmax_int8, x.reshape(-1), outs[0].reshape(-1), L.persistent(np.asarray(e, np.int64)),
           L.persistent(np.asarray(e12, np.int64)), L.persistent(valid.astype(np.bool_)),
           np.int64(x.size // max(depth, 1)), np.int64(depth))
    return None


_register_unary()


@qlowering("nn.lstm")
def qlstm(L: Lowering, node: Node, ins, outs, consts):
    """Integer LSTM: one Numba kernel over the sequence with the interpreter's ``lstm_params``."""
    from edgecc.interp.quantized.elementwise import SIGMOID_TABLE
    from edgecc.interp.quantized.lstm import lstm_params
    from edgecc.runtime.kernels.lstm import qlstm as kernel

    op = node.op
    if not all(consts[1:13]):
        return L.fallback(op, ins, outs)
    q = lstm_params(op)
    wx = L.persistent(np.stack(ins[1:5]).astype(np.int8))
    wr = L.persistent(np.stack(ins[5:9]).astype(np.int8))
    bias = L.persistent(np.stack(ins[9:13]).astype(np.int64))
    p = np.array([q.wide, q.x_offset, q.h_offset, *q.forget_mul, *q.input_mul, *q.hidden_mul, q.h_zero_point,
                  q.h_min, q.h_max, q.tanh_mult, q.tanh_shift, q.cell_clip, bool(op.attr("time_major"))],
                 np.int64)
    gm = np.array([[m for m, _ in q.gate_in], [m for m, _ in q.gate_rec]], np.int64)
    gs = np.array([[s for _, s in q.gate_in], [s for _, s in q.gate_rec]], np.int64)
    gates = L.scratch((4, *ins[13].shape), np.int64, "lstm_gates")
    L.emit(kernel, ins[0], wx, wr, bias, ins[13], ins[14], outs[0], outs[1], outs[2], gates, p, gm, gs,
           L.persistent(np.asarray(SIGMOID_TABLE, np.int64)))
    return None
