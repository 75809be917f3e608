"""Float convolution, dense, matmul and pooling kernels (NHWC).

Layouts are chosen by the backend at compile time so that the innermost
loop runs over output channels with unit stride (it vectorises without
reassociating sums):

* ``gemm``: ``[P, K] x [K, N]`` + bias with the epilogue: fully_connected
  (weight transposed once), pointwise conv2d, and conv2d after ``im2col``
  (patches ``[N*OH*OW, KH*KW*Cin]``, weight ``[KH*KW*Cin, Cout]``);
* ``conv2d``: direct grouped convolution, input ``[N, H, W, Cin]``, weight
  ``[G, KH, KW, Cin/G, Cout/G]`` (HWIO per group);
* ``depthwise_conv2d``: weight ``[KH, KW, C*M]``;
* ``matmul``: batched ``[B, M, K] x [B', K, N]`` with batch index maps (broadcasting).

``acc`` is a scratch vector whose dtype is the accumulator type (float32 by
default; float64 gives the reference's exactly rounded sums). The fused
activation is a clamp to ``[lo, hi]`` (NaN passes through), applied after the
bias; ``gemm`` can add a residual tensor before or after it.
"""

from __future__ import annotations

import numpy as np

from edgecc.runtime.kernels._jit import CONTRACT, helper, kernel


@helper
def clamp(v, lo, hi):
    """min(max(v, lo), hi) that lets NaN through (as np.maximum/np.minimum)."""
    if v < lo:
        v = lo
    if v > hi:
        v = hi
    return v


# ------------------------------------------------------------------ conv2d
@kernel(fastmath=CONTRACT)
def conv2d(x, w, b, out, acc, sh, sw, pt, pl, dh, dw, lo, hi):
    """Direct convolution with groups, strides, dilations and zero padding."""
    n_, h_, w_, _ = x.shape
    g_, kh_, kw_, cg, og = w.shape
    oh_, ow_ = out.shape[1], out.shape[2]
    for n in range(n_):
        for oh in range(oh_):
            ih0 = oh * sh - pt
            for ow in range(ow_):
                iw0 = ow * sw - pl
                for g in range(g_):
                    cbase = g * cg
                    obase = g * og
                    for o in range(og):
                        acc[o] = b[obase + o]
                    for kh in range(kh_):
                        ih = ih0 + kh * dh
                        if ih < 0 or ih >= h_:
                            continue
                        for kw in range(kw_):
                            iw = iw0 + kw * dw
                            if iw < 0 or iw >= w_:
                                continue
                            for ci in range(cg):
                                xv = acc.dtype.type(x[n, ih, iw, cbase + ci])
                                for o in range(og):
                                    acc[o] += xv * w[g, kh, kw, ci, o]
                    for o in range(og):
                        out[n, oh, ow, obase + o] = clamp(acc[o], lo, hi)


@kernel(fastmath=CONTRACT)
def gemm(x, w, b, res, out, acc, lo, hi, res_mode):
    """out[P, N] = epilogue(x[P, K] @ w[K, N] + b[N]).

    Four rows at a time, the reduction unrolled by four so each accumulator
    row is loaded and stored once per four products (same summation order as
    a plain loop over k). ``acc`` [4, N]; ``res_mode`` 0: clamp; 1: add
    ``res`` [P, N] then clamp; 2: clamp then add ``res``.
    """
    p_, k_ = x.shape
    n_ = w.shape[1]
    k4 = k_ - k_ % 4
    p = 0
    while p < p_:
        t = min(4, p_ - p)
        for j in range(4):
            for o in range(n_):
                acc[j, o] = b[o]
        if t == 4:
            for k in range(0, k4, 4):
                x00 = acc.dtype.type(x[p, k])
                x01 = acc.dtype.type(x[p, k + 1])
                x02 = acc.dtype.type(x[p, k + 2])
                x03 = acc.dtype.type(x[p, k + 3])
                x10 = acc.dtype.type(x[p + 1, k])
                x11 = acc.dtype.type(x[p + 1, k + 1])
                x12 = acc.dtype.type(x[p + 1, k + 2])
                x13 = acc.dtype.type(x[p + 1, k + 3])
                x20 = acc.dtype.type(x[p + 2, k])
                x21 = acc.dtype.type(x[p + 2, k + 1])
                x22 = acc.dtype.type(x[p + 2, k + 2])
                x23 = acc.dtype.type(x[p + 2, k + 3])
                x30 = acc.dtype.type(x[p + 3, k])
                x31 = acc.dtype.type(x[p + 3, k + 1])
                x32 = acc.dtype.type(x[p + 3, k + 2])
                x33 = acc.dtype.type(x[p + 3, k + 3])
                for o in range(n_):
                    w0 = w[k, o]
                    w1 = w[k + 1, o]
                    w2 = w[k + 2, o]
                    w3 = w[k + 3, o]
                    a = acc[0, o]
                    a += x00 * w0
                    a += x01 * w1
                    a += x02 * w2
                    a += x03 * w3
                    acc[0, o] = a
                    a = acc[1, o]
                    a += x10 * w0
                    a += x11 * w1
                    a += x12 * w2
                    a += x13 * w3
                    acc[1, o] = a
                    a = acc[2, o]
                    a += x20 * w0
                    a += x21 * w1
                    a += x22 * w2
                    a += x23 * w3
                    acc[2, o] = a
                    a = acc[3, o]
                    a += x30 * w0
                    a += x31 * w1
                    a += x32 * w2
                    a += x33 * w3
                    acc[3, o] = a
            for k in range(k4, k_):
                x0 = acc.dtype.type(x[p, k])
                x1 = acc.dtype.type(x[p + 1, k])
                x2 = acc.dtype.type(x[p + 2, k])
                x3 = acc.dtype.type(x[p + 3, k])
                for o in range(n_):
                    wv = w[k, o]
                    acc[0, o] += x0 * wv
                    acc[1, o] += x1 * wv
                    acc[2, o] += x2 * wv
                    acc[3, o] += x3 * wv
        else:
            for j in range(t):
                for k in range(0, k4, 4):
                    x0 = acc.dtype.type(x[p + j, k])
                    x1 = acc.dtype.type(x[p + j, k + 1])
                    x2 = acc.dtype.type(x[p + j, k + 2])
                    x3 = acc.dtype.type(x[p + j, k + 3])
                    for o in range(n_):
                        a = acc[j, o]
                        a += x0 * w[k, o]
                        a += x1 * w[k + 1, o]
                        a += x2 * w[k + 2, o]
                        a += x3 * w[k + 3, o]
                        acc[j, o] = a
                for k in range(k4, k_):
                    xv = acc.dtype.type(x[p + j, k])
                    for o in range(n_):
                        acc[j, o] += xv * w[k, o]
        for j in range(t):
            if res_mode == 0:
                for o in range(n_):
                    out[p + j, o] = clamp(acc[j, o], lo, hi)
            elif res_mode == 1:
                for o in range(n_):
                    out[p + j, o] = clamp(out.dtype.type(acc[j, o]) + res[p + j, o], lo, hi)
            else:
                for o in range(n_):
                    out[p + j, o] = clamp(out.dtype.type(acc[j, o]), lo, hi) + res[p + j, o]
        p += 4


@kernel(fastmath=CONTRACT)
def gemm_t(xt, w, b, res, out, acc, lo, hi, res_mode):
    """``gemm`` for few output channels: out[P, N] from ``xt`` [K, P] (patches transposed) and
    ``w`` [N, K]; the long pixel axis is the vectorised one. Four channels at a time (``acc`` [4, P]),
    reduction unrolled by four, same summation order and epilogue as ``gemm``."""
    k_, p_ = xt.shape
    n_ = w.shape[0]
    k4 = k_ - k_ % 4
    o = 0
    while o < n_:
        t = min(4, n_ - o)
        for j in range(t):
            bj = b[o + j]
            for p in range(p_):
                acc[j, p] = bj
        for j in range(t):
            a_ = acc[j]
            wr = w[o + j]
            for k in range(0, k4, 4):
                w0 = acc.dtype.type(wr[k])
                w1 = acc.dtype.type(wr[k + 1])
                w2 = acc.dtype.type(wr[k + 2])
                w3 = acc.dtype.type(wr[k + 3])
                x0 = xt[k]
                x1 = xt[k + 1]
                x2 = xt[k + 2]
                x3 = xt[k + 3]
                for p in range(p_):
                    a = a_[p]
                    a += x0[p] * w0
                    a += x1[p] * w1
                    a += x2[p] * w2
                    a += x3[p] * w3
                    a_[p] = a
            for k in range(k4, k_):
                wv = acc.dtype.type(wr[k])
                xk = xt[k]
                for p in range(p_):
                    a_[p] += xk[p] * wv
        for p in range(p_):
            for j in range(t):
                if res_mode == 0:
                    out[p, o + j] = clamp(acc[j, p], lo, hi)
                elif res_mode == 1:
                    out[p, o + j] = clamp(out.dtype.type(acc[j, p]) + res[p, o + j], lo, hi)
                else:
                    out[p, o + j] = clamp(out.dtype.type(acc[j, p]), lo, hi) + res[p, o + j]
        o += 4


@kernel
def im2col_t(x, cols, kh_, kw_, sh, sw, pt, pl, dh, dw, n, oh0, oh1, ow_, fill):
    """Transposed patches: cols[(kh, kw, c), (oh, ow)] for output rows [oh0, oh1) of image ``n``."""
    _, h_, w_, c_ = x.shape
    for kh in range(kh_):
        for kw in range(kw_):
            for c in range(c_):
                row = cols[(kh * kw_ + kw) * c_ + c]
                p = 0
                for oh in range(oh0, oh1):
                    ih = oh * sh - pt + kh * dh
                    if ih < 0 or ih >= h_:
                        for ow in range(ow_):
                            row[p + ow] = fill
                    else:
                        xr = x[n, ih]
                        off = kw * dw - pl
                        lo_ow = 0 if off >= 0 else min(ow_, (-off + sw - 1) // sw)
                        hi_ow = min(ow_, (w_ - 1 - off) // sw + 1) if w_ - 1 - off >= 0 else 0
                        hi_ow = max(hi_ow, lo_ow)
                        for ow in range(lo_ow):
                            row[p + ow] = fill
                        dst = row[p + lo_ow:p + hi_ow]
                        src = xr[lo_ow * sw + off:, c]
                        for j in range(hi_ow - lo_ow):
                            dst[j] = src[j * sw]
                        for ow in range(hi_ow, ow_):
                            row[p + ow] = fill
                    p += ow_


@kernel
def im2col(x, xf, cols, kh_, kw_, sh, sw, pt, pl, dh, dw, n, oh0, oh1, ow_, fill):
    """cols[(oh, ow), (kh, kw, c)] = x[n, ih, iw, c] for output rows [oh0, oh1) of image ``n``,
    ``fill`` (0, or the input zero point of integer convs) where the tap falls in the padding
    (a kernel row inside the image is one contiguous run
    when dw == 1; ``xf`` is ``x`` flattened)."""
    _, h_, w_, c_ = x.shape
    run = kw_ * c_
    r = 0
    for oh in range(oh0, oh1):
        ih0 = oh * sh - pt
        for ow in range(ow_):
            iw0 = ow * sw - pl
            for kh in range(kh_):
                ih = ih0 + kh * dh
                col = kh * run
                if ih < 0 or ih >= h_:
                    for j in range(run):
                        cols[r, col + j] = fill
                elif dw == 1 and iw0 >= 0 and iw0 + kw_ <= w_:
                    src = xf[((n * h_ + ih) * w_ + iw0) * c_:]
                    dst = cols[r, col:]
                    for j in range(run):
                        dst[j] = src[j]
                else:
                    for kw in range(kw_):
                        iw = iw0 + kw * dw
                        if iw < 0 or iw >= w_:
                            for c in range(c_):
                                cols[r, col + kw * c_ + c] = fill
                        else:
                            for c in range(c_):
                                cols[r, col + kw * c_ + c] = x[n, ih, iw, c]
            r += 1


# --------------------------------------------------------------- depthwise
@kernel(fastmath=CONTRACT)
def depthwise_conv2d(x, xf, w, wrep, b, out, acc, mult, sh, sw, pt, pl, dh, dw, lo, hi):
    """Depthwise convolution, one output row at a time (``acc`` [OW * C*M], flat).

    Output channel c*M+m reads input channel c; weight [KH, KW, C*M]. With
    stride 1 and multiplier 1 each tap is one long multiply-add over the
    columns it reaches, against ``wrep`` [KH, KW, OW * C] (the weights repeated
    per column; ``xf`` is ``x`` flattened); otherwise a loop per column. Bias first, then taps in
    (kh, kw) order for every element.
    """
    n_, h_, w_, c_ = x.shape
    kh_, kw_, cm = w.shape
    oh_, ow_ = out.shape[1], out.shape[2]
    for n in range(n_):
        for oh in range(oh_):
            ih0 = oh * sh - pt
            for ow in range(ow_):
                for o in range(cm):
                    acc[ow * cm + o] = b[o]
            for kh in range(kh_):
                ih = ih0 + kh * dh
                if ih < 0 or ih >= h_:
                    continue
                for kw in range(kw_):
                    off = kw * dw - pl
                    # columns ow with 0 <= ow * sw + off < w_
                    lo_ow = 0 if off >= 0 else (-off + sw - 1) // sw
                    hi_ow = min(ow_, (w_ - 1 - off) // sw + 1) if w_ - 1 - off >= 0 else 0
                    if hi_ow <= lo_ow:
                        continue
                    if mult == 1 and sw == 1:
                        xb = ((n * h_ + ih) * w_ + lo_ow + off) * c_
                        ab = lo_ow * c_
                        wb = (kh * kw_ + kw) * ow_ * c_ + ab
                        a_ = acc[ab:]
                        x_ = xf[xb:]
                        w_r = wrep[wb:]
                        for j in range((hi_ow - lo_ow) * c_):
                            a_[j] += acc.dtype.type(x_[j]) * w_r[j]
                    else:
                        for ow in range(lo_ow, hi_ow):
                            iw = ow * sw + off
                            if mult == 1:
                                for c in range(c_):
                                    acc[ow * cm + c] += acc.dtype.type(x[n, ih, iw, c]) * w[kh, kw, c]
                            else:
                                for c in range(c_):
                                    xv = acc.dtype.type(x[n, ih, iw, c])
                                    for m in range(mult):
                                        acc[ow * cm + c * mult + m] += xv * w[kh, kw, c * mult + m]
            for ow in range(ow_):
                for o in range(cm):
                    out[n, oh, ow, o] = clamp(acc[ow * cm + o], lo, hi)


@kernel(fastmath=CONTRACT)
def depthwise3x3(x, w, b, out, acc, sh, sw, pt, pl, dh, dw, lo, hi):
    """Depthwise 3x3, multiplier 1: interior pixels keep the nine products of a channel in a
    register (bias first, then taps in (kh, kw) order, as ``depthwise_conv2d``); border pixels
    skip the taps in the padding. ``acc`` [C] is scratch for the border."""
    n_, h_, w_, c_ = x.shape
    oh_, ow_ = out.shape[1], out.shape[2]
    w00 = w[0, 0]
    w01 = w[0, 1]
    w02 = w[0, 2]
    w10 = w[1, 0]
    w11 = w[1, 1]
    w12 = w[1, 2]
    w20 = w[2, 0]
    w21 = w[2, 1]
    w22 = w[2, 2]
    for n in range(n_):
        for oh in range(oh_):
            ih0 = oh * sh - pt
            rows_in = ih0 >= 0 and ih0 + 2 * dh < h_
            for ow in range(ow_):
                iw0 = ow * sw - pl
                orow = out[n, oh, ow]
                if rows_in and iw0 >= 0 and iw0 + 2 * dw < w_:
                    r0 = x[n, ih0]
                    r1 = x[n, ih0 + dh]
                    r2 = x[n, ih0 + 2 * dh]
                    x00 = r0[iw0]
                    x01 = r0[iw0 + dw]
                    x02 = r0[iw0 + 2 * dw]
                    x10 = r1[iw0]
                    x11 = r1[iw0 + dw]
                    x12 = r1[iw0 + 2 * dw]
                    x20 = r2[iw0]
                    x21 = r2[iw0 + dw]
                    x22 = r2[iw0 + 2 * dw]
                    for c in range(c_):
                        a = acc.dtype.type(b[c])
                        a += x00[c] * w00[c]
                        a += x01[c] * w01[c]
                        a += x02[c] * w02[c]
                        a += x10[c] * w10[c]
                        a += x11[c] * w11[c]
                        a += x12[c] * w12[c]
                        a += x20[c] * w20[c]
                        a += x21[c] * w21[c]
                        a += x22[c] * w22[c]
                        orow[c] = clamp(a, lo, hi)
                else:
                    for c in range(c_):
                        acc[c] = b[c]
                    for kh in range(3):
                        ih = ih0 + kh * dh
                        if ih < 0 or ih >= h_:
                            continue
                        for kw in range(3):
                            iw = iw0 + kw * dw
                            if iw < 0 or iw >= w_:
                                continue
                            xr = x[n, ih, iw]
                            wr = w[kh, kw]
                            for c in range(c_):
                                acc[c] += acc.dtype.type(xr[c]) * wr[c]
                    for c in range(c_):
                        orow[c] = clamp(acc[c], lo, hi)


# ------------------------------------------------------------ dense/matmul
@kernel(fastmath=CONTRACT)
def matmul(a, b, out, amap, bmap, acc):
    """out[i] = a[amap[i]] @ b[bmap[i]] for 3-D a [Ba, M, K], b [Bb, K, N], out [B, M, N]."""
    nb, m_, n_ = out.shape
    k_ = a.shape[2]
    for i in range(nb):
        ia = amap[i]
        ib = bmap[i]
        for m in range(m_):
            for o in range(n_):
                acc[o] = 0
            for k in range(k_):
                av = acc.dtype.type(a[ia, m, k])
                for o in range(n_):
                    acc[o] += av * b[ib, k, o]
            for o in range(n_):
                out[i, m, o] = acc[o]


# ------------------------------------------------------------------ pools
@kernel
def max_pool2d(x, out, kh_, kw_, sh, sw, pt, pl, dh, dw, init, lo, hi):
    """Max over each window (taps in the padding are skipped; NaN wins)."""
    n_, h_, w_, c_ = x.shape
    oh_, ow_ = out.shape[1], out.shape[2]
    for n in range(n_):
        for oh in range(oh_):
            ih0 = oh * sh - pt
            for ow in range(ow_):
                iw0 = ow * sw - pl
                for c in range(c_):
                    out[n, oh, ow, c] = init
                for kh in range(kh_):
                    ih = ih0 + kh * dh
                    if ih < 0 or ih >= h_:
                        continue
                    for kw in range(kw_):
                        iw = iw0 + kw * dw
                        if iw < 0 or iw >= w_:
                            continue
                        for c in range(c_):
                            v = x[n, ih, iw, c]
                            m = out[n, oh, ow, c]
                            if v > m or v != v:
                                out[n, oh, ow, c] = v
                for c in range(c_):
                    out[n, oh, ow, c] = clamp(out[n, oh, ow, c], lo, hi)


@kernel
def avg_pool2d(x, out, acc, kh_, kw_, sh, sw, pt, pl, dh, dw, lo, hi):
    """Mean over the taps inside the input (count_include_pad=0); sums in ``acc``'s dtype."""
    n_, h_, w_, c_ = x.shape
    oh_, ow_ = out.shape[1], out.shape[2]
    for n in range(n_):
        for oh in range(oh_):
            ih0 = oh * sh - pt
            for ow in range(ow_):
                iw0 = ow * sw - pl
                for c in range(c_):
                    acc[c] = 0
                count = 0
                for kh in range(kh_):
                    ih = ih0 + kh * dh
                    if ih < 0 or ih >= h_:
                        continue
                    for kw in range(kw_):
                        iw = iw0 + kw * dw
                        if iw < 0 or iw >= w_:
                            continue
                        count += 1
                        for c in range(c_):
                            acc[c] += x[n, ih, iw, c]
                for c in range(c_):
                    out[n, oh, ow, c] = clamp(acc[c] / count, lo, hi)


@kernel
def lrn(x, out, size, alpha, beta, bias):
    """ONNX LRN over the last axis of ``x`` [P, C], in float64."""
    p_, c_ = x.shape
    lo_off = (size - 1) // 2
    hi_off = size // 2
    for p in range(p_):
        for c in range(c_):
            s = 0.0
            for k in range(c - lo_off, c + hi_off + 1):
                if 0 <= k < c_:
                    v = np.float64(x[p, k])
                    s += v * v
            out[p, c] = np.float64(x[p, c]) / (bias + alpha / size * s) ** beta
