"""Integer conv2d, depthwise_conv2d, fully_connected and matmul (TFLM reference kernels).

Accumulation: ``acc = sum(w * (x - zp_x)) + bias``; int32 for int8 activations
(wrapping, as the C int32 accumulator does), int64 for int16 activations
(int16x8, int64 bias). The dot products are computed as float64 BLAS products,
which is exact: every partial sum is an integer below 2^53 (|w*(x-zp)| < 2^23
and the reductions are far shorter than 2^30), so the order does not matter;
the int32 wrap is applied once at the end, which is the same modulo 2^32.

Requantization per output channel ``c``: ``MultiplyByQuantizedMultiplier(acc,
m[c], shift[c]) + zp_out`` (int32 double-rounding variant for int8, the int64
variant for int16), then clamped to the fused activation range. qi4 weights are
unpacked nibbles (int8 values in [-8, 7]) and use the int8 path unchanged.

Sources: TFLM ``kernels/conv.cc``, ``conv_common.cc``, ``depthwise_conv*.cc``,
``fully_connected*.cc``, ``batch_matmul.cc``; TFLite
``internal/reference/integer_ops/{conv,depthwise_conv,fully_connected}.h``,
``internal/reference/batch_matmul.h``, ``kernels/kernel_util.cc``
(``PopulateConvolutionQuantizationParams``, ``GetQuantizedConvolutionMultipler``).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from edgecc.interp.ops_common import op_error, pads4, pair
from edgecc.interp.quantized.common import (
    act_range,
    element,
    i64,
    qkernel,
    qparams,
    require,
    store,
)
from edgecc.quant import math as qm

#: elements of the im2col matrix built at once
_COL_BUDGET = 1 << 22


def _weight_scales(op, w_value, channels: int) -> np.ndarray:
    q = element(w_value)
    if q is None:
        raise op_error(op, f"weights must be quantized with a quantized input, got {w_value.type}")
    if any(q.zero_points):
        raise op_error(op, "quantized weights must be symmetric (zero point 0)")
    scales = np.asarray(q.scales, dtype=np.float32)
    if scales.size == 1:
        return np.full(channels, scales[0], dtype=np.float32)
    require(op, scales.size == channels, f"weights have {scales.size} scales for {channels} channels")
    return scales


def _requantize_acc(op, acc: np.ndarray, bias, m, shift, wide: bool, out) -> np.ndarray:
    """acc (int64) + bias -> requantized, clamped, stored output."""
    if bias is not None:
        acc = acc + i64(bias)
    if wide:
        y = qm.multiply_by_quantized_multiplier_int64(acc, m, shift)
    else:
        y = qm.multiply_by_quantized_multiplier(qm.wrap_int32(acc), m, shift)
    lo, hi = act_range(op, out)
    return store(np.clip(y + out.zero_point, lo, hi), out)


def _geometry(op, x, kh, kw):
    strides = pair(op, "strides")
    dilations = pair(op, "dilations")
    pads = pads4(op)
    out_h, out_w = op.results[0].type.shape[1:3]
    return strides, dilations, pads, out_h, out_w


def _padded_windows(x: np.ndarray, kh, kw, strides, dilations, pads, oh, ow) -> np.ndarray:
    """Windows [N, OH, OW, KH, KW, C] of x padded with zeros (x already has zp subtracted)."""
    t, l, b, r = pads
    n, h, w, c = x.shape
    need_h = (oh - 1) * strides[0] + dilations[0] * (kh - 1) + 1
    need_w = (ow - 1) * strides[1] + dilations[1] * (kw - 1) + 1
    xp = np.zeros((n, max(need_h, h + t), max(need_w, w + l), c), dtype=x.dtype)
    xp[:, t:t + h, l:l + w, :] = x
    sn, sh, sw, sc = xp.strides
    return as_strided(xp, (n, oh, ow, kh, kw, c),
                      (sn, sh * strides[0], sw * strides[1], sh * dilations[0], sw * dilations[1], sc),
                      writeable=False)


def _centered(op, x, inp) -> np.ndarray:
    """x - zero point as float64 (exact)."""
    return x.astype(np.float64) - float(inp.zero_point)


@qkernel("nn.conv2d")
def conv2d(op, x, w, b=None):
    inp, out = qparams(op, op.operands[0], "input"), qparams(op, op.results[0], "output")
    n, _, _, cin = x.shape
    cout, kh, kw, cg = w.shape
    groups = int(op.attr("groups", 1) or 1)
    require(op, cin % cg == 0 and cin // cg == groups, f"groups={groups} does not fit input {cin} / {cg}")
    m, shift = qm.conv_per_channel_params(inp.scale, _weight_scales(op, op.operands[1], cout), out.scale)
    strides, dilations, pads, oh, ow = _geometry(op, x, kh, kw)
    win = _padded_windows(_centered(op, x, inp), kh, kw, strides, dilations, pads, oh, ow)
    og, k = cout // groups, kh * kw * cg
    wm = w.astype(np.float64).reshape(groups, og, k).transpose(0, 2, 1)  # [G, K, Cout/G]
    acc = np.empty((n, oh, ow, cout), dtype=np.int64)
    rows = max(1, _COL_BUDGET // max(1, n * ow * kh * kw * cin))
    for r0 in range(0, oh, rows):
        r1 = min(oh, r0 + rows)
        p = n * (r1 - r0) * ow
        cols = win[:, r0:r1].reshape(p, kh, kw, groups, cg).transpose(3, 0, 1, 2, 4).reshape(groups, p, k)
        yb = np.matmul(cols, wm)  # exact integers in float64
        acc[:, r0:r1] = yb.transpose(1, 0, 2).reshape(n, r1 - r0, ow, cout).astype(np.int64)
    return _requantize_acc(op, acc, b, m, shift, inp.bits == 16, out)


@qkernel("nn.depthwise_conv2d")
def depthwise_conv2d(op, x, w, b=None):
    inp, out = qparams(op, op.operands[0], "input"), qparams(op, op.results[0], "output")
    n, _, _, c = x.shape
    _, kh, kw, cm = w.shape
    mult = int(op.attr("depth_multiplier", 1) or 1)
    require(op, cm == c * mult, f"weight channels {cm} != {c} x {mult}")
    m, shift = qm.conv_per_channel_params(inp.scale, _weight_scales(op, op.operands[1], cm), out.scale)
    strides, dilations, pads, oh, ow = _geometry(op, x, kh, kw)
    win = _padded_windows(_centered(op, x, inp), kh, kw, strides, dilations, pads, oh, ow)
    wk = w.astype(np.float64).reshape(kh, kw, c, mult)
    acc = np.zeros((n, oh, ow, c, mult), dtype=np.float64)
    for i in range(kh):
        for j in range(kw):
            acc += win[:, :, :, i, j, :, None] * wk[i, j]
    acc = acc.reshape(n, oh, ow, cm).astype(np.int64)
    return _requantize_acc(op, acc, b, m, shift, inp.bits == 16, out)


@qkernel("nn.fully_connected")
def fully_connected(op, x, w, b=None):
    inp, out = qparams(op, op.operands[0], "input"), qparams(op, op.results[0], "output")
    n_out, k = w.shape
    require(op, x.shape[-1] == k, f"input {list(x.shape)} and weight {list(w.shape)} disagree on K")
    wq = element(op.operands[1])
    scales = _weight_scales(op, op.operands[1], n_out)
    if wq.per_axis and len(wq.scales) > 1:
        m, shift = qm.conv_per_channel_params(inp.scale, scales, out.scale)
    else:  # per-tensor: GetQuantizedConvolutionMultipler
        m, shift = qm.fc_per_tensor_params(inp.scale, float(scales[0]), out.scale)
    xs = _centered(op, x, inp).reshape(-1, k)
    acc = np.matmul(xs, w.astype(np.float64).T).astype(np.int64)
    y = _requantize_acc(op, acc, b, m, shift, inp.bits == 16, out)
    return y.reshape(x.shape[:-1] + (n_out,))


@qkernel("nn.matmul")
def matmul(op, a, b):
    """BATCH_MATMUL: sum((a - za)(b - zb)) requantized with sa * sb / so."""
    qa, qb = qparams(op, op.operands[0], "lhs"), qparams(op, op.operands[1], "rhs")
    out = qparams(op, op.results[0], "output")
    m, shift = qm.fc_per_tensor_params(qa.scale, qb.scale, out.scale)
    acc = np.matmul(a.astype(np.float64) - qa.zero_point, b.astype(np.float64) - qb.zero_point)
    acc = np.asarray(acc).astype(np.int64)
    if qa.bits == 16:
        y = qm.multiply_by_quantized_multiplier_int64(acc, m, shift)
    else:
        y = qm.multiply_by_quantized_multiplier(qm.wrap_int32(acc), m, shift)
    return store(y + out.zero_point, out)
