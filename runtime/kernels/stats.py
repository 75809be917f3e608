"""Calibration statistics: per-sample extrema and histogram binning of a batch in one pass each.

``edgecc.quant.observers.Observer.update_samples`` calls these for a chunk of samples (rows of
a 2-D array): the numpy version makes ~10 passes over every activation, which cost more than
running the model. The arithmetic is the observer's: float64 values, ``floor(x / width)``
bin indices (``width`` is a power of two, so
multiplying by its inverse is exact) clipped to the histogram, then a floor division by the merge factor.
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
def bin_rows(a, radius, factor, hist, half):
    """Add row ``i`` of ``a`` binned at ``radius[i]`` (0: all zero, the bin above 0) then merged by
    ``factor[i]`` into ``hist`` (2 * half bins)."""
    top = 2 * half - 1
    for i in range(a.shape[0]):
        r = radius[i]
        if r == 0.0:
            hist[half] += a.shape[1]
            continue
        inv = half / r  # a power of two: x * inv is exactly x / width
        f = factor[i]
        for j in range(a.shape[1]):
            k = np.int64(math.floor(np.float64(a[i, j]) * inv)) + half
            if k < 0:
                k = 0
            elif k > top:
                k = top
            hist[(k - half) // f + half] += 1
