"""Integer pooling, reductions and resize (TFLM reference kernels).

Sources: TFLM ``kernels/pooling_common.cc`` + TFLite
``reference/integer_ops/pooling.h`` (AVERAGE_POOL_2D, MAX_POOL_2D); TFLM
``kernels/reduce_common.cc`` + ``reference/reduce.h`` (``QuantizedMeanOrSum`` for
MEAN and SUM, ``ReduceGeneric`` for REDUCE_MAX/MIN); ``reference/resize_bilinear.h``
(``ResizeBilinearInteger``).

TFLite requires equal input/output parameters for pooling, REDUCE_MAX/MIN and
resize; when the IR gives the output other parameters, the result is computed
in the input's parameters and then requantized (TFLite QUANTIZE), which is what a
backend has to emit.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from edgecc.interp.ops_common import KERNELS, norm_axis, op_error, pads4, pair
from edgecc.interp.quantized.common import (
    QParams,
    act_range,
    i64,
    qkernel,
    qparams,
    requant,
    store,
)
from edgecc.quant import math as qm


def _windows_with_valid(x: np.ndarray, op, fill: int):
    """Windows [N, OH, OW, KH, KW, C] over x padded with ``fill`` plus a validity mask."""
    kh, kw = pair(op, "kernel", None)
    sh, sw = pair(op, "strides")
    t, l, _, _ = pads4(op)
    n, h, w, c = x.shape
    oh, ow = op.results[0].type.shape[1:3]
    hp = max((oh - 1) * sh + kh, h + t)
    wp = max((ow - 1) * sw + kw, w + l)
    xp = np.full((n, hp, wp, c), fill, dtype=np.int64)
    xp[:, t:t + h, l:l + w, :] = x
    valid = np.zeros((hp, wp), dtype=np.int64)
    valid[t:t + h, l:l + w] = 1
    sn, s_h, s_w, sc = xp.strides
    win = as_strided(xp, (n, oh, ow, kh, kw, c), (sn, s_h * sh, s_w * sw, s_h, s_w, sc),
                     writeable=False)
    vh, vw = valid.strides
    vwin = as_strided(valid, (oh, ow, kh, kw), (vh * sh, vw * sw, vh, vw), writeable=False)
    return win, vwin


def _pool_out(op, y, inp: QParams, out: QParams):
    """Clamp to the activation range of the (input-parameter) result, then requantize if needed."""
    if inp.same(out):
        lo, hi = act_range(op, out)
        return store(np.clip(y, lo, hi), out)
    return store(requant(np.clip(y, *act_range(op, inp)), inp, out), out)


@qkernel("nn.avg_pool2d")
def avg_pool2d(op, x):
    """Sum of the raw values in the window's valid cells, ``(sum +- count/2) / count``."""
    inp, out = qparams(op, op.operands[0], "input"), qparams(op, op.results[0], "output")
    win, valid = _windows_with_valid(i64(x), op, 0)
    total = win.sum(axis=(3, 4))
    count = valid.sum(axis=(2, 3))[None, :, :, None]
    if np.any(count == 0):
        raise op_error(op, "has a pooling window entirely in the padding")
    return _pool_out(op, qm.avg_pool_round(total, count), inp, out)


@qkernel("nn.max_pool2d")
def max_pool2d(op, x):
    inp, out = qparams(op, op.operands[0], "input"), qparams(op, op.results[0], "output")
    win, _ = _windows_with_valid(i64(x), op, inp.qmin - (1 << 20))
    return _pool_out(op, win.max(axis=(3, 4)), inp, out)


def _reduce_axes(op, x) -> tuple[int, ...]:
    axes = op.attr("axes")
    if not axes:
        return tuple(range(x.ndim))
    return tuple(sorted({norm_axis(op, int(a), x.ndim) for a in axes}))


def _keepdims(op) -> bool:
    k = op.attr("keepdims", True)
    return True if k is None else bool(k)


@qkernel("nn.mean", "nn.reduce_sum")
def mean_sum(op, x):
    """``QuantizedMeanOrSum``: int32 sum of raw values, minus zp_in * count, times the
    in/out multiplier (MEAN folds 1/count into it, see ``edgecc.quant.math.mean_multiplier``)."""
    inp, out = qparams(op, op.operands[0], "input"), qparams(op, op.results[0], "output")
    axes = _reduce_axes(op, x)
    count = int(np.prod([x.shape[a] for a in axes])) if axes else 1
    total = qm.wrap_int32(i64(x).sum(axis=axes, keepdims=_keepdims(op)))
    m, shift = qm.requantize_params(inp.scale, out.scale)
    if count == 0:
        return np.zeros(op.results[0].type.shape, dtype=out.dtype)
    if op.name == "nn.mean":
        m, shift = qm.mean_multiplier(m, shift, count)
    shifted = qm.wrap_int32(total - inp.zero_point * count)
    y = qm.multiply_by_quantized_multiplier(shifted, m, shift) + out.zero_point
    return store(y, out)


@qkernel("nn.reduce_max", "nn.reduce_min")
def reduce_max_min(op, x):
    inp, out = qparams(op, op.operands[0], "input"), qparams(op, op.results[0], "output")
    fn = np.max if op.name == "nn.reduce_max" else np.min
    y = fn(i64(x), axis=_reduce_axes(op, x), keepdims=_keepdims(op))
    return store(requant(y, inp, out), out)


def _scale_10(in_size: int, out_size: int, align: bool) -> int:
    if align and out_size > 1:
        return ((1 << 10) * (in_size - 1) + (out_size - 1) // 2) // (out_size - 1)
    return ((1 << 10) * in_size + out_size // 2) // out_size


def _interp_10(out_size: int, in_size: int, scale_10: int, half_pixel: bool):
    """``ComputeInterpolationValuesInteger``: source position in 1/1024 and its two neighbours."""
    v = np.arange(out_size, dtype=np.int64)
    pos = v * scale_10 + (scale_10 // 2 - (1 << 9) if half_pixel else 0)
    lo = np.maximum(qm.trunc_div(pos, 1 << 10), 0)
    hi = np.minimum(qm.trunc_div(pos + (1 << 10) - 1, 1 << 10), in_size - 1)
    return pos, lo, hi


@qkernel("nn.resize")
def resize(op, x):
    """nearest: the float kernel's index selection on the stored values (pure data movement);
    bilinear: TFLite ``ResizeBilinearInteger`` (10 fractional bits per axis, rounding the
    20-bit result half away from zero). ``half_pixel``/``pytorch_half_pixel`` use
    half_pixel_centers, ``align_corners`` align_corners, ``asymmetric`` neither."""
    inp, out = qparams(op, op.operands[0], "input"), qparams(op, op.results[0], "output")
    mode = op.attr("mode", "nearest") or "nearest"
    if mode == "nearest":
        y = KERNELS["nn.resize"](op, x)
        return store(requant(y, inp, out), out)
    coordinate = op.attr("coordinate", "half_pixel") or "half_pixel"
    half = coordinate in ("half_pixel", "pytorch_half_pixel")
    align = coordinate == "align_corners"
    _, in_h, in_w, _ = x.shape
    out_h, out_w = (int(s) for s in op.attr("size"))
    py, y0, y1 = _interp_10(out_h, in_h, _scale_10(in_h, out_h, align), half)
    px, x0, x1 = _interp_10(out_w, in_w, _scale_10(in_w, out_w, align), half)
    dy = (py - (y0 << 10))[None, :, None, None]
    dx = (px - (x0 << 10))[None, None, :, None]
    xi = i64(x)
    r0, r1 = xi[:, y0], xi[:, y1]
    acc = (r0[:, :, x0] * ((1 << 10) - dy) * ((1 << 10) - dx) + r1[:, :, x0] * dy * ((1 << 10) - dx)
           + r0[:, :, x1] * ((1 << 10) - dy) * dx + r1[:, :, x1] * dy * dx)
    rnd = np.where(acc > 0, 1 << 19, -(1 << 19))
    y = qm.wrap_int16(qm.trunc_div(acc + rnd, 1 << 20)) if inp.bits == 16 else \
        qm.wrap_int32(qm.trunc_div(acc + rnd, 1 << 20))
    if inp.bits == 8:
        y = ((y + 128) & 0xFF) - 128  # static_cast<int8_t>
    return store(requant(y, inp, out), out)
