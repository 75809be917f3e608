"""Calibration statistics: per-sample extrema and histogram binning of a batch in one pass each.

``edgecc.quant.observers.Observer.update_samples`` calls these for a chunk of samples (rows of
a 2-D array): the numpy version makes ~10 passes over every activation, which cost more than
running the model. The arithmetic is the observer's: float64 values, ``floor(x / width)``
bin indices (``width`` is a power of two, so
multiplying by its inverse is exact) clipped to the histogram, then a floor division by the
merge factor (a shift).
"""

from __future__ import annotations

import math

import numpy as np

from edgecc.runtime.kernels._jit import kernel


@kernel
def extrema(a, lo, hi):
    """Per-row minimum and maximum of ``a`` [n, m] into ``lo``/``hi``; returns (zeros, non-finite)."""
    zeros = 0
    bad = 0
    for i in range(a.shape[0]):
        mn = np.inf
        mx = -np.inf
        for j in range(a.shape[1]):
            x = np.float64(a[i, j])
            if not math.isfinite(x):
                bad += 1
            if x < mn:
                mn = x
            if x > mx:
                mx = x
            if x == 0.0:
                zeros += 1
        lo[i] = mn
        hi[i] = mx
    return zeros, bad


@kernel
def bin_rows(a, radius, shift, hist, half, idx):
    """Add row ``i`` of ``a`` binned at ``radius[i]`` (0: all zero, the bin above 0) then merged by
    ``2 ** shift[i]`` into ``hist`` (2 * half bins). ``idx``: int64 scratch of one row.

    The bin indices are computed in a vectorisable first loop (the merge factor is a power of
    two, so the floor division is an arithmetic shift), then counted into four interleaved
    histograms, so consecutive equal bins do not serialise on one counter.
    """
    top = 2 * half - 1
    m = a.shape[1]
    sub = np.zeros((4, hist.shape[0]), np.int64)
    for i in range(a.shape[0]):
        r = radius[i]
        if r == 0.0:
            hist[half] += m
            continue
        inv = half / r  # a power of two: x * inv is exactly x / width
        s = shift[i]
        for j in range(m):
            k = np.int64(np.floor(np.float64(a[i, j]) * inv)) + half
            k = min(max(k, 0), top)
            idx[j] = ((k - half) >> s) + half
        quads = m // 4
        for j in range(quads):
            sub[0, idx[4 * j]] += 1
            sub[1, idx[4 * j + 1]] += 1
            sub[2, idx[4 * j + 2]] += 1
            sub[3, idx[4 * j + 3]] += 1
        for j in range(4 * quads, m):
            sub[0, idx[j]] += 1
    for b in range(hist.shape[0]):
        hist[b] += sub[0, b] + sub[1, b] + sub[2, b] + sub[3, b]
