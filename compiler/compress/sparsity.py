"""sparsify: unstructured or N:M weight sparsity, by magnitude, activation-aware, or with the
OBC/SparseGPT second-order update.

Per layer, each output channel (row of ``W[rows, cols]``, ``edgecc.compress.layers``) loses the
same share of its weights:

* ``method=magnitude``: the smallest ``|w|`` go;
* ``method=activation`` (Wanda): the smallest ``|w_ij| * ||x_j||``, the weight times the norm of
  the input column it multiplies over the calibration data: a small weight on a large input
  matters more than a large weight on a silent one;
* ``method=sparsegpt`` (Optimal Brain Compression / SparseGPT): with ``H = X^T X`` (+ damping),
  columns are pruned left to right in blocks; the saliency of ``w_ij`` is ``w_ij^2 / [U]_jj^2``
  (``U`` the upper Cholesky factor of ``H^-1``), and pruning column ``j`` of a row adds
  ``-(w_j - q_j) / U_jj * U_j,j+1:`` to the row's remaining weights -- the least-squares
  update that keeps the layer's output on the calibration inputs. Depthwise and grouped layers
  (one small Hessian per channel) get the activation-aware choice without the update.

``pattern=N:M`` keeps N of every M consecutive weights of a row (2:4: half, in the pattern
sparse tensor cores and Helium-style kernels exploit); without it ``sparsity`` is the share of
zeros. Layers are handled in program order and, for the data-aware methods, each sees the inputs
the already-sparsified layers before it produce. The zeros survive ``quantize`` (symmetric
weights); the C backend stores such weights as bitmask + nonzeros (``edgecc.backends.c.encoding``).

Statistics: ``sparsify.layers``, ``sparsify.weights-zeroed``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

import numpy as np

from edgecc.compress.layers import WEIGHT_OPS, Layer, parse_ratios, weight_layers
from edgecc.ir.core import Module
from edgecc.ir.diagnostics import EdgeccError
from edgecc.passes.manager import Pass, PassContext

#: columns per SparseGPT block (lazy batch update); a multiple of every M used
BLOCK = 128


def parse_pattern(text: str) -> tuple[int, int] | None:
    if not text:
        return None
    n, sep, m = text.partition(":")
    try:
        nn_, mm = int(n), int(m)
    except ValueError:
        nn_, mm = 0, 0
    if not sep or not 0 < nn_ < mm:
        raise EdgeccError(f"sparsify: pattern '{text}' is not N:M with 0 < N < M (e.g. 2:4)")
    return nn_, mm


def prune_mask(score: np.ndarray, ratio: float | None, nm: tuple[int, int] | None) -> np.ndarray:
    """Boolean ``[rows, cols]``: True where a weight is pruned (the lowest scores, per row, or per
    group of M for N:M; a last partial group of r keeps min(N, r)). Ties go to the earlier column."""
    rows, cols = score.shape
    if nm is not None:
        n, m = nm
        pad = -cols % m
        s = np.concatenate([score, np.full((rows, pad), -np.inf)], axis=1).reshape(rows, -1, m)
        order = np.argsort(s, axis=2, kind="stable")
        mask = np.zeros_like(s, dtype=bool)
        np.put_along_axis(mask, order[:, :, : m - n], True, axis=2)
        return mask.reshape(rows, -1)[:, :cols]
    k = int(round(cols * float(ratio)))
    mask = np.zeros((rows, cols), dtype=bool)
    if k:
        order = np.argsort(score, axis=1, kind="stable")
        np.put_along_axis(mask, order[:, :k], True, axis=1)
    return mask


def sparsegpt(
    w: np.ndarray, gram: np.ndarray, ratio: float | None, nm: tuple[int, int] | None, damp: float = 0.01
) -> np.ndarray:
    """``w[rows, cols]`` pruned with the OBC/SparseGPT update for Hessian ``gram`` (module docstring)."""
    w = np.array(w, dtype=np.float64)
    h = np.array(gram, dtype=np.float64)
    rows, cols = w.shape
    dead = np.diag(h) == 0
    h[dead, dead] = 1.0
    w[:, dead] = 0.0
    h[np.diag_indices(cols)] += damp * float(np.mean(np.diag(h)))
    try:
        u = np.linalg.cholesky(np.linalg.inv(h)).T  # upper: H^-1 = U^T U
    except np.linalg.LinAlgError:
        raise EdgeccError("sparsify: the calibration Hessian is not positive definite; raise damp") from None
    block = BLOCK if nm is None else BLOCK - BLOCK % nm[1] or nm[1]
    for i1 in range(0, cols, block):
        i2 = min(i1 + block, cols)
        w1, u1 = w[:, i1:i2].copy(), u[i1:i2, i1:i2]
        err = np.zeros_like(w1)
        d = np.diag(u1)
        mask = np.zeros_like(w1, dtype=bool)
        if nm is None:
            k = int(round(ratio * i2)) - int(round(ratio * i1))
            mask = prune_mask(w1**2 / d**2, k / (i2 - i1), None)
        for i in range(i2 - i1):
            if nm is not None and (i1 + i) % nm[1] == 0:
                j = min(i + nm[1], i2 - i1)
                mask[:, i:j] = prune_mask(w1[:, i:j] ** 2 / d[i:j] ** 2, None, nm)
            col = w1[:, i]
            q = np.where(mask[:, i], 0.0, col)
            e = (col - q) / d[i]
            w1[:, i:] -= np.outer(e, u1[i, i:])
            w1[:, i] = q
            err[:, i] = e
        w[:, i1:i2] = w1
        w[:, i2:] -= err @ u[i1:i2, i2:]
    return w


@dataclass
class Sparsify(Pass):
    """Zero weights of conv / dense layers: unstructured or N:M, by magnitude, activations or SparseGPT."""

    name: ClassVar[str] = "sparsify"
    sparsity: float = field(default=0.5, metadata={"doc": "share of each layer's weights set to zero"})
    pattern: str = field(
        default="",
        metadata={"doc": "N:M: keep N of every M consecutive weights (overrides sparsity), e.g. 2:4"},
    )
    method: Literal["magnitude", "activation", "sparsegpt"] = field(
        default="magnitude",
        metadata={
            "doc": "magnitude | activation (|w| x input norm) | sparsegpt (second-order update, calibration)"
        },
    )
    layers: tuple[str, ...] = field(default=(), metadata={"doc": "per-layer sparsity, NAME:RATIO"})
    keep: tuple[str, ...] = field(default=(), metadata={"doc": "layers left dense"})
    depthwise: bool = field(default=False, metadata={"doc": "also sparsify depthwise convolutions"})
    calib: str = field(default="", metadata={"doc": "calibration data: FILE.npz or DIR of <input>.npy"})
    samples: int = field(default=32, metadata={"doc": "calibration samples used (0: all)"})
    damp: float = field(
        default=0.01, metadata={"doc": "sparsegpt: Hessian damping, share of its mean diagonal"}
    )

    def run(self, module: Module, ctx: PassContext) -> bool:
        nm = parse_pattern(self.pattern)
        per = parse_ratios(self.layers, "sparsify layers")
        for k, r in [("sparsity", self.sparsity), *per.items()]:
            if not 0.0 <= r < 1.0:
                raise EdgeccError(f"sparsify: {k} must be in [0, 1), got {r}")
        ops = WEIGHT_OPS if self.depthwise else tuple(o for o in WEIGHT_OPS if o != "nn.depthwise_conv2d")
        layers = weight_layers(module, ops, self.keep, "sparsify")
        missing = set(per) - {lay.name for lay in layers}
        if missing:
            raise EdgeccError(f"sparsify layers: no layer named '{sorted(missing)[0]}'")

        def target(lay: Layer) -> tuple[float | None, tuple[int, int] | None]:
            """(ratio, N:M) of a layer: a per-layer ratio wins over the pattern."""
            if lay.name in per:
                return per[lay.name], None
            return (None, nm) if nm else (self.sparsity, None)

        layers = [lay for lay in layers if target(lay)[1] or target(lay)[0] > 0.0]
        if not layers:
            return False
        zeroed = [0]

        def apply(lay: Layer, stats) -> None:
            w = lay.matrix()
            ratio, pat = target(lay)
            grouped = lay.kind == "conv2d" and int(lay.op.attr("groups", 1) or 1) > 1
            if stats is None:
                new = np.where(prune_mask(np.abs(w), ratio, pat), 0.0, w)
            elif self.method == "sparsegpt" and lay.kind != "depthwise_conv2d" and not grouped:
                new = sparsegpt(w, stats.gram, ratio, pat, self.damp)
            else:
                score = np.abs(w) * np.sqrt(stats.energy)
                new = np.where(prune_mask(score, ratio, pat), 0.0, w)
            zeroed[0] += int(np.count_nonzero(new == 0) - np.count_nonzero(w == 0))
            lay.set_matrix(new)
            ctx.log(f"{lay.name}: {np.mean(new == 0):.1%} zeros")

        if self.method == "magnitude":
            for lay in layers:
                apply(lay, None)
        else:
            from edgecc.compress.layer_stats import calibration_samples, sequential

            source = self.calib or ctx.options.get("calibration")
            if source is None:
                raise EdgeccError(
                    f"sparsify method={self.method} needs calibration data: calib=FILE.npz|DIR "
                    "or the context option 'calibration'"
                )
            samples = calibration_samples(module, source, self.samples)
            sequential(module, samples, layers, apply, gram=self.method == "sparsegpt")
        ctx.stat("layers", len(layers))
        ctx.stat("weights-zeroed", zeroed[0])
        return True


__all__ = ["Sparsify", "parse_pattern", "prune_mask", "sparsegpt"]
