"""cluster: per-channel k-means weight clustering to 2-256 levels (weight sharing).

Each output channel (row of ``W[rows, cols]``, ``edgecc.compress.layers``) -- or the whole layer
with ``per-channel=false`` -- is replaced by ``levels`` shared values: 1-D k-means (``kmeans_1d``,
optimal by dynamic programming) minimising ``sum_j a_j (w_j - c(j))^2``, with ``a_j = 1`` or, with
``weighted=true``, the energy of input column ``j`` over the calibration data (an error on a weight
matters in proportion to the input it multiplies). There is no random start: the result is
deterministic. Exact zeros (from
``sparsify``) stay zero outside the levels with ``keep-zero`` (the default), so sparsity and
clustering combine.

After ``quantize`` a channel holds at most ``levels`` (+ zero) distinct int8 values: the C backend
stores such weights as per-channel codebooks + packed 1/2/4/8-bit indices
(``edgecc.backends.c.encoding``). With int8 weights 256 levels save nothing (8-bit indices);
float builds store 8-bit indices to float codebooks (4x smaller). Do not combine with
``quantize{equalize=true}``: equalisation rescales input channels and breaks the shared values.

Statistics: ``cluster.layers``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from edgecc.compress.layers import WEIGHT_OPS, Layer, weight_layers
from edgecc.ir.core import Module
from edgecc.ir.diagnostics import EdgeccError
from edgecc.passes.manager import Pass, PassContext


#: points the exact dynamic programme runs on (up to 16 levels; 512 above: its cost is levels x
#: points^2); more values are first merged into that many equal-mass bins
DP_POINTS = (1024, 512)


def _optimal_on_points(x: np.ndarray, a: np.ndarray, k: int) -> np.ndarray:
    """Exact weighted 1-D k-means of sorted points ``x`` (masses ``a``): the centres, by dynamic
    programming over contiguous clusters (an optimal 1-D clustering is contiguous)."""
    n = x.size
    p0, p1, p2 = (np.concatenate([[0.0], np.cumsum(v)]) for v in (a, a * x, a * x * x))
    i, j = np.triu_indices(n)
    cost = np.full((n, n), np.inf)
    s0, s1 = p0[j + 1] - p0[i], p1[j + 1] - p1[i]
    cost[i, j] = np.maximum(p2[j + 1] - p2[i] - s1 * s1 / s0, 0.0)  # cost[i, j]: one cluster x[i..j]
    d = cost[0].copy()
    back = np.zeros((k, n), dtype=np.int64)
    rest = cost[1:]
    cols = np.arange(n)
    for m in range(1, k):
        cand = d[:-1, None] + rest  # a last cluster x[i..j] (i >= 1) after m clusters on x[:i]
        back[m] = np.argmin(cand, axis=0) + 1
        d = np.where(cols >= 1, cand[back[m] - 1, cols], np.inf)
    centres, end = [], n - 1
    for m in range(k - 1, -1, -1):
        start = back[m, end] if m else 0
        sl = slice(start, end + 1)
        centres.append(float(np.sum(a[sl] * x[sl]) / np.sum(a[sl])))
        end = start - 1
    return np.array(sorted(centres))


def kmeans_1d(x: np.ndarray, k: int, weights: np.ndarray | None = None, iterations: int = 50):
    """Weighted 1-D k-means of ``x``: (sorted centres, label per element); deterministic.

    Optimal (dynamic programming) for up to ``DP_POINTS`` points; beyond, optimal on that many
    equal-mass bins of the sorted values, then refined by Lloyd iterations on every point.
    (Lloyd's algorithm alone stalls in poor local minima in 1-D: 2-40x sklearn's inertia.)
    """
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    a = np.ones_like(x) if weights is None else np.asarray(weights, dtype=np.float64).reshape(-1)
    a = np.where(a > 0, a, 1e-12 * (a.max(initial=0.0) or 1.0))
    uniq = np.unique(x)
    if uniq.size <= k:
        return uniq, np.searchsorted(uniq, x)
    order = np.argsort(x, kind="stable")
    xs, as_ = x[order], a[order]
    points = DP_POINTS[0] if k <= 16 else DP_POINTS[1]
    if xs.size > points:
        starts = np.unique(
            np.concatenate(
                [[0], np.searchsorted(np.cumsum(as_), np.linspace(0, as_.sum(), points + 1)[1:-1])]
            )
        )
        starts = starts[starts < xs.size]
        pa = np.add.reduceat(as_, starts)
        px = np.add.reduceat(as_ * xs, starts) / pa
    else:
        px, pa = xs, as_
    centres = _optimal_on_points(px, pa, min(k, px.size))
    labels = None
    for _ in range(iterations):
        new = np.searchsorted((centres[1:] + centres[:-1]) / 2, x)
        if labels is not None and np.array_equal(new, labels):
            break
        labels = new
        mass = np.bincount(labels, a, minlength=centres.size)
        sums = np.bincount(labels, a * x, minlength=centres.size)
        centres = np.where(mass > 0, sums / np.where(mass > 0, mass, 1), centres)
    return centres, np.searchsorted((centres[1:] + centres[:-1]) / 2, x)


def cluster_rows(
    w: np.ndarray, levels: int, per_channel: bool, keep_zero: bool, energy: np.ndarray | None = None
) -> np.ndarray:
    """``w[rows, cols]`` with each row (or the whole matrix) clustered to ``levels`` values."""
    out = np.array(w, dtype=np.float64)
    a = None if energy is None else np.broadcast_to(energy, w.shape)
    groups = [np.s_[r] for r in range(w.shape[0])] if per_channel else [np.s_[:, :]]
    for g in groups:
        vals = out[g]
        sel = vals != 0 if keep_zero else np.ones(vals.shape, dtype=bool)
        if not sel.any():
            continue
        centres, labels = kmeans_1d(vals[sel], levels, None if a is None else a[g][sel])
        vals[sel] = centres[labels]
        out[g] = vals
    return out


@dataclass
class Cluster(Pass):
    """Cluster each output channel's weights to a few shared values (1-D k-means, deterministic)."""

    name: ClassVar[str] = "cluster"
    levels: int = field(
        default=16, metadata={"doc": "shared values per channel (2-256; 4 and 16 give 2- and 4-bit indices)"}
    )
    per_channel: bool = field(
        default=True, metadata={"doc": "one codebook per output channel (else per layer)"}
    )
    keep_zero: bool = field(default=True, metadata={"doc": "exact zeros stay zero, outside the levels"})
    weighted: bool = field(
        default=False, metadata={"doc": "weight the k-means by input energy (calibration)"}
    )
    keep: tuple[str, ...] = field(default=(), metadata={"doc": "layers left unclustered"})
    depthwise: bool = field(default=True, metadata={"doc": "also cluster depthwise convolutions"})
    calib: str = field(default="", metadata={"doc": "calibration data for weighted: FILE.npz or DIR"})
    samples: int = field(default=32, metadata={"doc": "calibration samples used (0: all)"})

    def run(self, module: Module, ctx: PassContext) -> bool:
        if not 2 <= self.levels <= 256:
            raise EdgeccError(f"cluster: levels must be in 2..256, got {self.levels}")
        ops = WEIGHT_OPS if self.depthwise else tuple(o for o in WEIGHT_OPS if o != "nn.depthwise_conv2d")
        layers = weight_layers(module, ops, self.keep, "cluster")
        if not layers:
            return False

        def apply(lay: Layer, stats) -> None:
            energy = None if stats is None else stats.energy
            lay.set_matrix(cluster_rows(lay.matrix(), self.levels, self.per_channel, self.keep_zero, energy))

        if self.weighted:
            from edgecc.compress.layer_stats import calibration_samples, sequential

            source = self.calib or ctx.options.get("calibration")
            if source is None:
                raise EdgeccError(
                    "cluster weighted=true needs calibration data: calib=FILE.npz|DIR or the "
                    "context option 'calibration'"
                )
            sequential(module, calibration_samples(module, source, self.samples), layers, apply, gram=False)
        else:
            for lay in layers:
                apply(lay, None)
        ctx.stat("layers", len(layers))
        return True


__all__ = ["Cluster", "cluster_rows", "kmeans_1d"]
