"""Convolution, dense and pooling kernels (NHWC).

Dot products (conv2d, depthwise_conv2d, fully_connected, matmul) and window
sums (avg_pool2d, lrn) accumulate in float64 and round once to float32:
onnxruntime sums float32 products in a blocked order of its own, and the
exactly rounded result is within one of its rounding errors, where a float32
sum in yet another order would add a second one.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from edgecc.interp.ops_common import apply_activation, kernel, op_error, pads4, pair, round_f32


#: elements of the im2col matrix built at once by conv2d
_COL_BUDGET = 1 << 22


def _out_size(op, size: int, k: int, stride: int, dilation: int, what: str) -> int:
    span = dilation * (k - 1) + 1
    if size < span:
        raise op_error(op, f"{what}: padded input extent {size} is smaller than the window {span}")
    return (size - span) // stride + 1


def _padded(x: np.ndarray, pads, value=0.0) -> np.ndarray:
    t, l, b, r = pads
    if not any(pads):
        return x
    if min(pads) < 0:  # negative padding crops
        h, w = x.shape[1], x.shape[2]
        x = x[:, max(-t, 0): h - max(-b, 0), max(-l, 0): w - max(-r, 0), :]
        t, l, b, r = (max(p, 0) for p in pads)
    return np.pad(x, ((0, 0), (t, b), (l, r), (0, 0)), mode="constant", constant_values=value)


def windows(xp: np.ndarray, kh: int, kw: int, strides, dilations, oh: int, ow: int) -> np.ndarray:
    """Read-only view ``[N, OH, OW, KH, KW, C]`` of the sliding windows of ``xp``."""
    sn, sh, sw, sc = xp.strides
    (st_h, st_w), (d_h, d_w) = strides, dilations
    n, c = xp.shape[0], xp.shape[3]
    return as_strided(xp, (n, oh, ow, kh, kw, c),
                      (sn, sh * st_h, sw * st_w, sh * d_h, sw * d_w, sc), writeable=False)


def _window_geometry(op, x, kh, kw):
    strides = pair(op, "strides")
    dilations = pair(op, "dilations")
    pads = pads4(op)
    hp = x.shape[1] + pads[0] + pads[2]
    wp = x.shape[2] + pads[1] + pads[3]
    oh = _out_size(op, hp, kh, strides[0], dilations[0], "height")
    ow = _out_size(op, wp, kw, strides[1], dilations[1], "width")
    return strides, dilations, pads, oh, ow


@kernel("nn.conv2d")
def conv2d(op, x, w, b=None):
    """input [N,H,W,Cin], weight [Cout,KH,KW,Cin/groups] (OHWI), bias [Cout]."""
    n, _, _, cin = x.shape
    cout, kh, kw, cg = w.shape
    groups = int(op.attr("groups", 1) or 1)
    if groups < 1 or cin % groups or cout % groups or cin // groups != cg:
        raise op_error(op, f"groups={groups} does not fit input channels {cin}, weight {list(w.shape)}")
    strides, dilations, pads, oh, ow = _window_geometry(op, x, kh, kw)
    xp = _padded(np.asarray(x, dtype=np.float64), pads)
    win = windows(xp, kh, kw, strides, dilations, oh, ow)  # [N,OH,OW,KH,KW,Cin]
    og = cout // groups
    k = kh * kw * cg
    wm = np.asarray(w, dtype=np.float64).reshape(groups, og, k).transpose(0, 2, 1)  # [G, K, Cout/G]
    y = np.empty((n, oh, ow, cout), dtype=np.float64)
    # im2col per group, [G, P, K] @ [G, K, Cout/G], in blocks of output rows so the
    # column matrix stays around 32 MB however large the image is
    rows = max(1, _COL_BUDGET // max(1, n * ow * kh * kw * cin))
    for r0 in range(0, oh, rows):
        r1 = min(oh, r0 + rows)
        p = n * (r1 - r0) * ow
        cols = win[:, r0:r1].reshape(p, kh, kw, groups, cg).transpose(3, 0, 1, 2, 4).reshape(groups, p, k)
        yb = np.matmul(cols, wm)  # [G, P, Cout/G]
        y[:, r0:r1] = yb.transpose(1, 0, 2).reshape(n, r1 - r0, ow, cout)
    if b is not None:
        y = y + np.asarray(b, dtype=np.float64)
    return apply_activation(op, round_f32(y))


@kernel("nn.depthwise_conv2d")
def depthwise_conv2d(op, x, w, b=None):
    """input [N,H,W,C], weight [1,KH,KW,C*M]; output channel c*M+m reads input channel c."""
    n, _, _, c = x.shape
    one, kh, kw, cm = w.shape
    m = int(op.attr("depth_multiplier", 1) or 1)
    if one != 1 or cm != c * m:
        raise op_error(op, f"weight {list(w.shape)} does not fit {c} channels x multiplier {m}")
    strides, dilations, pads, oh, ow = _window_geometry(op, x, kh, kw)
    xp = _padded(np.asarray(x, dtype=np.float64), pads)
    win = windows(xp, kh, kw, strides, dilations, oh, ow)
    wk = np.asarray(w, dtype=np.float64).reshape(kh, kw, c, m)
    y = np.zeros((n, oh, ow, c, m), dtype=np.float64)
    for i in range(kh):
        for j in range(kw):
            y += win[:, :, :, i, j, :, None] * wk[i, j]
    y = y.reshape(n, oh, ow, c * m)
    if b is not None:
        y = y + np.asarray(b, dtype=np.float64)
    return apply_activation(op, round_f32(y))


@kernel("nn.fully_connected")
def fully_connected(op, x, w, b=None):
    """input [..., K] @ weight[N, K]^T + bias[N]."""
    if x.shape[-1] != w.shape[1]:
        raise op_error(op, f"input {list(x.shape)} and weight {list(w.shape)} disagree on K")
    y = np.matmul(np.asarray(x, dtype=np.float64), np.asarray(w, dtype=np.float64).T)
    if b is not None:
        y = y + np.asarray(b, dtype=np.float64)
    return apply_activation(op, round_f32(y))


@kernel("nn.matmul")
def matmul(op, a, b):
    """numpy matmul with batch broadcasting (1-D operands as in numpy/ONNX)."""
    if a.dtype.kind == "f" or b.dtype.kind == "f":
        return round_f32(np.matmul(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)))
    return np.matmul(a, b)


def _pool_geometry(op, x):
    kh, kw = pair(op, "kernel", None)
    return (kh, kw) + _window_geometry(op, x, kh, kw)


@kernel("nn.max_pool2d")
def max_pool2d(op, x):
    kh, kw, strides, dilations, pads, oh, ow = _pool_geometry(op, x)
    fill = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
    xp = _padded(x, pads, fill)
    win = windows(xp, kh, kw, strides, dilations, oh, ow)
    return apply_activation(op, win.max(axis=(3, 4)))


@kernel("nn.avg_pool2d")
def avg_pool2d(op, x):
    """Average over the window, padding excluded from the count (count_include_pad=0).

    Sums in float64.
    """
    kh, kw, strides, dilations, pads, oh, ow = _pool_geometry(op, x)
    xp = _padded(np.asarray(x, dtype=np.float64), pads)
    total = windows(xp, kh, kw, strides, dilations, oh, ow).sum(axis=(3, 4))
    ones = _padded(np.ones((1,) + x.shape[1:3] + (1,), dtype=np.float64), pads)
    count = windows(ones, kh, kw, strides, dilations, oh, ow).sum(axis=(3, 4))
    with np.errstate(invalid="ignore", divide="ignore"):
        y = total / count  # a window entirely in the padding has count 0 -> nan, as ONNX leaves it undefined
    return apply_activation(op, round_f32(y))


@kernel("nn.lrn")
def lrn(op, x):
    """ONNX LRN over the channel axis (last, NHWC).

    square_sum[c] = sum of x[c']^2 for c' in [c - (size-1)//2, c + size//2];
    y = x / (bias + alpha / size * square_sum) ** beta. Computed in float64.
    """
    size = int(op.attr("size"))
    alpha = float(np.float32(op.attr("alpha", 1e-4)))
    beta = float(np.float32(op.attr("beta", 0.75)))
    bias = float(np.float32(op.attr("bias", 1.0)))
    xd = np.asarray(x, dtype=np.float64)
    sq = xd * xd
    c = x.shape[-1]
    lo, hi = (size - 1) // 2, size // 2
    padded = np.pad(sq, [(0, 0)] * (x.ndim - 1) + [(lo, hi)])
    ssum = np.zeros_like(xd)
    for k in range(size):
        ssum += padded[..., k: k + c]
    y = xd / np.power(bias + alpha / size * ssum, beta)
    return round_f32(y)
