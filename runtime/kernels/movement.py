"""Data movement, reduction and resize kernels.

All take flat (1-D) arrays plus index descriptors computed once by the
backend, so one compiled specialisation per element type serves every rank
and shape:

* ``strided_copy``: a 6-D nest copying ``src[soff + sum(i*ss)]`` to
  ``dst[doff + sum(i*ds)]`` (transpose, slice with any steps, concat and
  split pieces);
* ``remap_copy``: per-dimension source offset tables (``-1`` = fill value):
  pad in every mode, nearest resize, gather with constant indices;
* ``gather``: runtime indices over the middle axis of ``[outer, n, inner]``;
* ``reduce``: sum/mean/max/min over the middle axis of ``[outer, n, inner]``;
* ``resize_bilinear``: NHWC bilinear blend with precomputed neighbours and weights.
"""

from __future__ import annotations

import numpy as np

from edgecc.runtime.kernels._jit import kernel

#: rank of the copy nests (shapes are left-padded with 1s)
COPY_RANK = 6

REDUCE = {"reduce_sum": 0, "mean": 1, "reduce_max": 2, "reduce_min": 3}


@kernel
def strided_copy(src, soff, ss, dst, doff, ds, shape):
    n0, n1, n2, n3, n4, n5 = shape[0], shape[1], shape[2], shape[3], shape[4], shape[5]
    s5, d5 = ss[5], ds[5]
    for i0 in range(n0):
        for i1 in range(n1):
            for i2 in range(n2):
                for i3 in range(n3):
                    for i4 in range(n4):
                        s = soff + i0 * ss[0] + i1 * ss[1] + i2 * ss[2] + i3 * ss[3] + i4 * ss[4]
                        d = doff + i0 * ds[0] + i1 * ds[1] + i2 * ds[2] + i3 * ds[3] + i4 * ds[4]
                        if s5 == 1 and d5 == 1:
                            dv = dst[d:d + n5]
                            sv = src[s:s + n5]
                            for i in range(n5):
                                dv[i] = sv[i]
                        else:
                            for i in range(n5):
                                dst[d + i * d5] = src[s + i * s5]


@kernel
def remap_copy(src, dst, shape, table, fill):
    """dst (contiguous, ``shape``) = src[sum of table[d, i_d]] or ``fill`` where any entry is -1."""
    n0, n1, n2, n3, n4, n5 = shape[0], shape[1], shape[2], shape[3], shape[4], shape[5]
    o = 0
    for i0 in range(n0):
        t0 = table[0, i0]
        for i1 in range(n1):
            t1 = table[1, i1]
            for i2 in range(n2):
                t2 = table[2, i2]
                for i3 in range(n3):
                    t3 = table[3, i3]
                    for i4 in range(n4):
                        t4 = table[4, i4]
                        base = t0 + t1 + t2 + t3 + t4
                        dead = t0 < 0 or t1 < 0 or t2 < 0 or t3 < 0 or t4 < 0
                        for i in range(n5):
                            t5 = table[5, i]
                            if dead or t5 < 0:
                                dst[o] = fill
                            else:
                                dst[o] = src[base + t5]
                            o += 1


@kernel
def gather(data, idx, out, outer, n, inner):
    """out[o, j, i] = data[o, idx[j], i]; negative indices count from the end."""
    m = idx.size
    for j in range(m):
        k = idx[j]
        if k < -n or k >= n:
            raise IndexError("gather index out of range")
    o = 0
    for a in range(outer):
        for j in range(m):
            k = np.int64(idx[j])
            if k < 0:
                k += n
            src = data[(a * n + k) * inner:(a * n + k + 1) * inner]
            dst = out[o:o + inner]
            for i in range(inner):
                dst[i] = src[i]
            o += inner


@kernel
def reduce(x, out, acc, outer, n, inner, mode):
    """Reduce the middle axis of [outer, n, inner] (flat); ``acc`` [inner] in the accumulator type.

    mode: 0 sum, 1 mean, 2 max, 3 min (max/min let NaN win).
    """
    for o in range(outer):
        base = o * n * inner
        if mode >= 2:
            for i in range(inner):
                acc[i] = x[base + i]
            for k in range(1, n):
                row = base + k * inner
                if mode == 2:
                    for i in range(inner):
                        v = x[row + i]
                        if v > acc[i] or v != v:
                            acc[i] = v
                else:
                    for i in range(inner):
                        v = x[row + i]
                        if v < acc[i] or v != v:
                            acc[i] = v
            for i in range(inner):
                out[o * inner + i] = acc[i]
        else:
            for i in range(inner):
                acc[i] = 0
            for k in range(n):
                xr = x[base + k * inner:base + (k + 1) * inner]
                for i in range(inner):
                    acc[i] += xr[i]
            dst = out[o * inner:(o + 1) * inner]
            if mode == 1:
                for i in range(inner):
                    dst[i] = acc[i] / n
            else:
                for i in range(inner):
                    dst[i] = acc[i]


@kernel
def resize_bilinear(x, out, h0, h1, wh0, wh1, w0, w1, ww0, ww1):
    """NHWC bilinear resize in float64 (neighbour indices and weights precomputed per axis)."""
    n_, _, _, c_ = x.shape
    oh_, ow_ = out.shape[1], out.shape[2]
    for n in range(n_):
        for i in range(oh_):
            a, b = h0[i], h1[i]
            wa, wb = wh0[i], wh1[i]
            for j in range(ow_):
                c0, c1 = w0[j], w1[j]
                wc, wd = ww0[j], ww1[j]
                for c in range(c_):
                    r0 = np.float64(x[n, a, c0, c]) * wa + np.float64(x[n, b, c0, c]) * wb
                    r1 = np.float64(x[n, a, c1, c]) * wa + np.float64(x[n, b, c1, c]) * wb
                    out[n, i, j, c] = r0 * wc + r1 * wd
