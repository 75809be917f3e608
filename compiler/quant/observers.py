"""Activation statistics and range selection (the calibration methods).

An ``Observer`` sees every array one value takes over the calibration set, in
one pass, and keeps

* the exact minimum and maximum,
* a histogram over a symmetric range ``[-R, R]`` (``2 * HALF_BINS`` bins) that
  grows by powers of two when a later sample exceeds ``R`` (adjacent bins are
  merged, so counts stay exact and only resolution is lost),
* the sample count and mean (for bias correction of a layer's inputs, the
  per-channel mean of the last axis is kept on request).

``choose_range(observer, method, ...)`` turns the statistics into a clipping
range ``(lo, hi)``:

``minmax``
    the observed minimum and maximum.
``percentile``
    the ``p``-th percentile of the values at the top and the ``100 - p``-th at
    the bottom (``p = 99.99`` by default), never beyond the observed extremes.
``entropy``
    TensorRT's KL-divergence calibration: over thresholds ``T`` on the
    histogram of ``|x|`` (2048 bins), the reference distribution (values
    beyond ``T`` folded into the last bin) is compared with its quantization
    to half the levels of the target type (128 for int8, as TensorRT); the
    ``T`` of least KL divergence wins. The range is ``[-T, T]`` clipped to the
    observed extremes (``[0, T]`` for non-negative data). Exact zeros (half of
    a ReLU output) are left out: zero is always exact, and its spike would
    otherwise be smeared over the first quantization level and dominate the
    divergence.
``mse``
    the range ``alpha * [min, max]`` (alpha on a grid in ``(0, 1]``) whose
    quantization to the target grid has the least mean squared error over the
    histogram (bin centres weighted by their counts).

The range always contains 0 (a quantized zero must be exact for padding and
ReLU); the caller turns it into scale and zero point (``edgecc.quant.schemes``).
"""

from __future__ import annotations

import math

import numpy as np

HALF_BINS = 2048
METHODS = ("minmax", "percentile", "entropy", "mse")


class Observer:
    """Running statistics of one tensor value (see the module docstring)."""

    __slots__ = ("min", "max", "count", "radius", "hist", "channel_sum", "channel_count", "track_channels",
                 "nonfinite", "zeros")

    def __init__(self, track_channels: bool = False) -> None:
        self.min = math.inf
        self.max = -math.inf
        self.count = 0
        self.radius = 0.0
        self.hist = np.zeros(2 * HALF_BINS, np.int64)
        self.track_channels = track_channels
        self.channel_sum: np.ndarray | None = None
        self.channel_count = 0
        self.nonfinite = 0
        #: exact zeros seen (ReLU outputs, padding): always representable, left out of the KL search
        self.zeros = 0

    # ---------------------------------------------------------------- update
    def update(self, x: np.ndarray) -> None:
        a = np.asarray(x, dtype=np.float64).reshape(-1)
        if a.size == 0:
            return
        finite = np.isfinite(a)
        if not finite.all():
            self.nonfinite += int(a.size - finite.sum())
            a = a[finite]
            if a.size == 0:
                return
        lo, hi = float(a.min()), float(a.max())
        self.min = min(self.min, lo)
        self.max = max(self.max, hi)
        self.count += a.size
        self.zeros += int(np.count_nonzero(a == 0))
        peak = max(abs(lo), abs(hi))
        if peak > self.radius:
            self._grow(peak)
        if self.radius > 0:
            width = self.radius / HALF_BINS
            idx = np.floor(a / width).astype(np.int64) + HALF_BINS
            np.clip(idx, 0, 2 * HALF_BINS - 1, out=idx)
            self.hist += np.bincount(idx, minlength=2 * HALF_BINS)
        else:  # every value so far is exactly 0: counted in the bin just above 0
            self.hist[HALF_BINS] += a.size
        if self.track_channels:
            arr = np.asarray(x, dtype=np.float64)
            c = arr.shape[-1] if arr.ndim else 1
            s = arr.reshape(-1, c).sum(axis=0)
            self.channel_sum = s if self.channel_sum is None else self.channel_sum + s
            self.channel_count += arr.size // max(c, 1)

    def update_samples(self, x: np.ndarray) -> None:
        """``update(x[i:i + 1])`` for each sample ``i`` in order, in a few array operations.

        Needs Numba (``edgecc.runtime.kernels.stats``). Every statistic is additive except the
        histogram's radius, which grows as samples arrive:
        each sample is binned at the radius it would have met (the running radius after it) and
        its bins merged to the final radius, which is exactly the sequence of merges ``update``
        applies (radii are powers of two, so the merged index is one floor division).
        """
        from edgecc.runtime.kernels import stats as kernels

        n = len(x)
        a = np.ascontiguousarray(x).reshape(n, -1)
        if a.size == 0:
            return
        lo, hi = np.empty(n), np.empty(n)
        zeros, bad = kernels.extrema(a, lo, hi)
        if self.track_channels or bad:
            for i in range(n):  # rare (non-finite) or cheap enough (bias-correction inputs)
                self.update(x[i:i + 1])
            return
        self.min = min(self.min, float(lo.min()))
        self.max = max(self.max, float(hi.max()))
        self.count += a.size
        self.zeros += zeros
        radii = np.empty(n)
        r = self.radius
        for i, p in enumerate(np.maximum(np.abs(lo), np.abs(hi)).tolist()):
            if p > r:
                r = _grown(r, p)
            radii[i] = r
        if r > self.radius:
            self._grow(r)
        shift = np.zeros(n, np.int64)
        live = radii > 0
        shift[live] = np.rint(np.log2(self.radius / radii[live])).astype(np.int64)  # exact: powers of two
        kernels.bin_rows(a, radii, shift, self.hist, HALF_BINS, np.empty(a.shape[1], np.int64))

    def _grow(self, peak: float) -> None:
        if self.radius == 0.0:
            # first non-zero data: a power-of-two radius keeps later merges exact
            self.radius = 2.0 ** math.ceil(math.log2(peak)) if peak > 0 else 0.0
            if self.radius < peak:
                self.radius *= 2
            # zeros seen so far stay in the bin just above 0
            return
        factor = 1
        while self.radius * factor < peak:
            factor *= 2
        if factor == 1:
            return
        h = self.hist
        # old bin i covers [(i - H) w, (i - H + 1) w); new width w * factor
        old_idx = np.arange(2 * HALF_BINS) - HALF_BINS
        new_idx = np.floor_divide(old_idx, factor) + HALF_BINS
        self.hist = np.bincount(new_idx, weights=h, minlength=2 * HALF_BINS).astype(np.int64)
        self.radius *= factor

    # --------------------------------------------------------------- queries
    @property
    def seen(self) -> bool:
        return self.count > 0

    @property
    def channel_mean(self) -> np.ndarray | None:
        if self.channel_sum is None or not self.channel_count:
            return None
        return self.channel_sum / self.channel_count

    def edges(self) -> np.ndarray:
        w = self.radius / HALF_BINS if self.radius > 0 else 1.0
        return (np.arange(2 * HALF_BINS + 1) - HALF_BINS) * w

    def centers(self) -> np.ndarray:
        e = self.edges()
        return 0.5 * (e[:-1] + e[1:])

    def merge(self, other: Observer) -> None:
        """Add ``other``'s statistics (same value observed elsewhere)."""
        if not other.seen:
            return
        if other.radius > self.radius:
            self._grow(other.radius)
        h = other.hist
        if other.radius and other.radius < self.radius:
            factor = int(round(self.radius / other.radius))
            old_idx = np.arange(2 * HALF_BINS) - HALF_BINS
            new_idx = np.floor_divide(old_idx, factor) + HALF_BINS
            h = np.bincount(new_idx, weights=h, minlength=2 * HALF_BINS).astype(np.int64)
        self.hist += h
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)
        self.count += other.count
        self.zeros += other.zeros


def _grown(radius: float, peak: float) -> float:
    """The radius ``Observer._grow(peak)`` leaves (``peak > radius``)."""
    if radius == 0.0:
        r = 2.0 ** math.ceil(math.log2(peak))
        return r * 2 if r < peak else r
    while radius < peak:
        radius *= 2
    return radius


# ------------------------------------------------------------ range methods
def choose_range(obs: Observer, method: str = "minmax", *, percentile: float = 99.99, levels: int = 256,
                 symmetric: bool = False) -> tuple[float, float]:
    """The clipping range for ``obs`` by ``method``; always contains 0.

    ``levels`` is the number of quantization steps of the target type (256 for
    int8, 65536 for int16); ``symmetric`` ranges are ``[-a, a]`` (int16).
    """
    if not obs.seen:
        return 0.0, 0.0
    lo, hi = min(obs.min, 0.0), max(obs.max, 0.0)
    if method == "minmax" or obs.radius == 0.0:
        pass
    elif method == "percentile":
        lo, hi = _percentile_range(obs, percentile)
    elif method == "entropy":
        lo, hi = _entropy_range(obs, levels, symmetric)
    elif method == "mse":
        lo, hi = _mse_range(obs, levels, symmetric)
    else:
        raise ValueError(f"unknown calibration method '{method}' (expected {', '.join(METHODS)})")
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    if symmetric:
        a = max(-lo, hi)
        return -a, a
    return lo, hi


def _percentile_range(obs: Observer, p: float) -> tuple[float, float]:
    if not 0 < p <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {p}")
    cdf = np.cumsum(obs.hist).astype(np.float64)
    total = cdf[-1]
    edges = obs.edges()
    tail = (100.0 - p) / 100.0 * total
    # upper: the smallest edge with at most `tail` values above it
    hi_i = int(np.searchsorted(cdf, total - tail, side="left"))
    hi = edges[min(hi_i + 1, len(edges) - 1)]
    lo_i = int(np.searchsorted(cdf, tail, side="right"))
    lo = edges[lo_i]
    hi = min(hi, obs.max)
    lo = max(lo, obs.min)
    return lo, hi


def _abs_hist(obs: Observer) -> np.ndarray:
    """Histogram of |x| over [0, R] with HALF_BINS bins, exact zeros left out."""
    pos = obs.hist[HALF_BINS:]
    neg = obs.hist[:HALF_BINS][::-1]
    h = (pos + neg).astype(np.float64)
    h[0] = max(h[0] - obs.zeros, 0.0)  # zeros land in the bin just above 0
    return h


def _entropy_range(obs: Observer, levels: int, symmetric: bool) -> tuple[float, float]:
    hist = _abs_hist(obs)
    nq = min(levels // 2, HALF_BINS)  # TensorRT: 128 levels over [0, T] for 8 bits
    n = len(hist)
    width = obs.radius / n
    last = int(np.nonzero(hist)[0].max()) + 1 if hist.any() else n
    if last <= nq:
        t = last * width
        return _clip_to_obs(obs, t)
    candidates = np.unique(np.linspace(nq, last, num=min(last - nq + 1, 160)).astype(int))
    best_t, best_kl = last, math.inf
    for i in candidates:
        kl = _kl_for_threshold(hist, int(i), nq)
        if kl < best_kl:
            best_kl, best_t = kl, int(i)
    return _clip_to_obs(obs, best_t * width)


def _kl_for_threshold(hist: np.ndarray, i: int, nq: int) -> float:
    ref = hist[:i].copy()
    ref[i - 1] += hist[i:].sum()
    total = ref.sum()
    if total <= 0:
        return math.inf
    # quantize the first i bins into nq groups, then expand back over the non-empty bins
    group = np.minimum((np.arange(i) * nq) // i, nq - 1)
    sums = np.bincount(group, weights=hist[:i], minlength=nq)
    nonzero = (hist[:i] > 0).astype(np.float64)
    counts = np.bincount(group, weights=nonzero, minlength=nq)
    with np.errstate(divide="ignore", invalid="ignore"):
        per = np.where(counts > 0, sums / np.maximum(counts, 1), 0.0)
    q = per[group] * nonzero
    p = ref / total
    qs = q.sum()
    if qs <= 0:
        return math.inf
    q = q / qs
    mask = p > 0
    # bins where p > 0 but q == 0 (only the folded last bin can be): smooth
    qm = np.where(q[mask] > 0, q[mask], 1e-12)
    return float(np.sum(p[mask] * np.log(p[mask] / qm)))


def _clip_to_obs(obs: Observer, t: float) -> tuple[float, float]:
    return max(obs.min, -t), min(obs.max, t)


def _mse_range(obs: Observer, levels: int, symmetric: bool) -> tuple[float, float]:
    centers = obs.centers()
    counts = obs.hist.astype(np.float64)
    nz = counts > 0
    c, w = centers[nz], counts[nz]
    # the exact extremes are better representatives for the outermost occupied bins
    c = np.clip(c, obs.min, obs.max)
    lo0, hi0 = min(obs.min, 0.0), max(obs.max, 0.0)
    if symmetric:
        a = max(-lo0, hi0)
        lo0, hi0 = -a, a
    half = levels // 2

    def err(lo: float, hi: float) -> float:
        if hi - lo <= 0:
            return math.inf
        if symmetric:
            scale, zp, qmin, qmax = hi / (half - 1), 0.0, -half + 1, half - 1
        else:
            qmin, qmax = -half, half - 1
            scale = (hi - lo) / (levels - 1)
            zp = float(np.clip(np.round(qmin - lo / scale), qmin, qmax))
        q = np.clip(np.round(c / scale + zp), qmin, qmax)
        return float(np.sum(w * (c - (q - zp) * scale) ** 2))

    grid = np.linspace(0.05, 1.0, 96)
    best, best_err = (lo0, hi0), err(lo0, hi0)

    def consider(lo: float, hi: float) -> None:
        nonlocal best, best_err
        e = err(lo, hi)
        if e < best_err * (1 - 1e-12):
            best, best_err = (lo, hi), e

    for a in grid:  # both ends scaled together
        consider(lo0 * a, hi0 * a)
    if not symmetric and lo0 < 0 < hi0:
        for _ in range(2):  # then each end on its own (skewed distributions)
            lo_b, hi_b = best
            for a in grid:
                consider(lo_b, hi0 * a)
            lo_b, hi_b = best
            for a in grid:
                consider(lo0 * a, hi_b)
    return best
