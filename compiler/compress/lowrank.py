"""lowrank: factorise weight matrices into two thinner layers (truncated, optionally data-aware, SVD).

Targets, all float with constant weights:

* ``fully_connected`` ``W [N, K]`` -> ``fully_connected [r, K]`` (no bias) then
  ``fully_connected [N, r]`` (the bias and the activation);
* ``matmul`` by a constant ``B [K, N]`` -> two matmuls ``[K, r]``, ``[r, N]``;
* ``conv2d`` (groups 1) ``W [Cout, KH, KW, Cin]``, ``mode=channel``: a KHxKW
  conv to ``r`` channels (the original strides, pads and dilations) then a
  1x1 conv ``[Cout, 1, 1, r]``; ``mode=spatial``: a KHx1 conv to ``r`` channels
  then a 1xKW conv, from the SVD of ``W`` arranged as ``[(KH, Cin), (KW, Cout)]``.

Data-aware (``whiten=true``, channel mode and dense layers): with ``C`` the
centred covariance of the layer's input rows (``activations.input_moments``)
and ``S = (C + damping * mean(eig C) I)^(1/2)``, the SVD of ``W S = U E V^T`` truncated to ``r`` gives
``A = U_r E_r``, ``B = V_r^T S^-1``, the rank-``r`` product minimising the
expected output error ``E || (W - AB)(x - mu) ||^2`` (exactly so at damping
0; the damping keeps the factors quantizable, see ``DAMPING``); the bias absorbs the mean
error, ``b += (W - AB) mu``. Plain SVD (``whiten=false``) uses ``S = I``.

Rank per layer: the smallest rank keeping ``energy`` of the (whitened)
spectrum, capped by ``ratio`` (the fraction of the layer's weights, hence of
its MACs, that may remain), or ``ranks=[layer:r]``. A layer is factorised
only when the rank is at least ``min-rank`` and both its weight count and
its MACs fall.

Statistics: ``lowrank.layers-factorised``, ``lowrank.params-before/after``,
``lowrank.macs-before/after``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar, Literal

import numpy as np

from edgecc.compress.layers import parse_ratios
from edgecc.compress.prune import layer_name, layer_names, load_samples
from edgecc.ir.core import Module, Operation
from edgecc.ir.diagnostics import EdgeccError
from edgecc.passes.manager import Pass, PassContext
from edgecc.rewrite.pattern import constant_array

#: default whitening damping: C + damping * mean(eig C) * I. Undamped, S^-1 amplifies directions the
#: inputs barely use and the first factor's weights become too uneven for 8-bit per-channel scales
#: (ad01, ratio 0.7: 60 dB in float but 4 dB once int8; damped 0.1: 46 dB float, 28 dB int8 = as unfactorised)
DAMPING = 0.1


@dataclass
class Factor:
    """One factorised layer: ``W ~ A @ B`` (flattened weights), the bias shift and the rank chosen."""

    op: Operation
    a: np.ndarray
    b: np.ndarray
    bias_shift: np.ndarray
    rank: int
    energy: float
    #: (params, MACs) before and after
    before: tuple[int, int]
    after: tuple[int, int]


def _weight_matrix(op: Operation, mode: str) -> np.ndarray:
    """The matrix that is factorised, ``[outputs, inputs]``."""
    w = constant_array(op.operands[1]).astype(np.float64)
    if op.name == "nn.fully_connected":
        return w
    if op.name == "nn.matmul":
        return w.T
    cout, kh, kw, cin = w.shape
    if mode == "spatial":  # rows (kw, cout), columns (kh, cin)
        return w.transpose(2, 0, 1, 3).reshape(kw * cout, kh * cin)
    return w.reshape(cout, -1)


def _costs(op: Operation, mode: str, r: int | None) -> tuple[int, int]:
    """(weights, MACs) of ``op`` (r None) or of its rank-``r`` factorisation."""
    out = op.results[0].type.shape
    if op.name == "nn.conv2d":
        cout, kh, kw, cin = op.operands[1].type.shape
        pix = out[1] * out[2] * out[0]
        if r is None:
            return cout * kh * kw * cin, pix * cout * kh * kw * cin
        if mode == "spatial":
            sw = op.attr("strides")[1]
            mid_w = (out[2] - 1) * sw + (kw - 1) * op.attr("dilations")[1] + 1
            first = r * kh * cin
            return first + cout * kw * r, out[0] * out[1] * mid_w * first + pix * cout * kw * r
        d = kh * kw * cin
        return r * (d + cout), pix * r * (d + cout)
    n, k = _weight_matrix(op, mode).shape
    rows = math.prod(out[:-1])
    if r is None:
        return n * k, rows * n * k
    return r * (n + k), rows * r * (n + k)


def _whitening(cov: np.ndarray, damping: float = DAMPING) -> tuple[np.ndarray, np.ndarray]:
    """(S, S^-1) with S = (C + damping * mean(eig C) I)^(1/2)."""
    lam, q = np.linalg.eigh((cov + cov.T) / 2)
    lam = lam.clip(0) + max(damping, 1e-9) * max(float(lam.mean()), 1e-30)
    root = np.sqrt(lam)
    return (q * root) @ q.T, (q / root) @ q.T


def factorise(op: Operation, *, mode: str = "channel", moments=None, rank: int | None = None,
              energy: float = 0.0, ratio: float = 0.5, min_rank: int = 1,
              damping: float = DAMPING) -> Factor | None:
    """The factorisation of one layer, or None when no admissible rank lowers weights and MACs."""
    w = _weight_matrix(op, mode)
    n, k = w.shape
    mean, s, s_inv = None, None, None
    if moments is not None and mode != "spatial":
        mean, second = moments
        if op.name == "nn.matmul":  # no bias to absorb the mean error: whiten by the raw second moment
            s, s_inv = _whitening(second, damping)
            mean = None
        else:
            s, s_inv = _whitening(second - np.outer(mean, mean), damping)
    u, sig, vt = np.linalg.svd(w @ s if s is not None else w, full_matrices=False)
    total = float((sig ** 2).sum()) or 1.0
    before = _costs(op, mode, None)
    if rank is None:
        cap = 0
        while cap + 1 <= min(n, k) and _costs(op, mode, cap + 1)[0] <= ratio * before[0]:
            cap += 1
        rank = cap
        if energy > 0:
            kept = np.cumsum(sig ** 2) / total
            rank = min(cap, int(np.searchsorted(kept, energy - 1e-12)) + 1)
    rank = min(rank, len(sig))
    after = _costs(op, mode, rank) if rank >= 1 else before
    if rank < max(min_rank, 1) or after[0] >= before[0] or after[1] >= before[1]:
        return None
    u, vt = u[:, :rank].copy(), vt[:rank].copy()
    flip = np.sign(u[np.abs(u).argmax(axis=0), np.arange(rank)])  # a deterministic sign per factor
    u *= flip
    vt *= flip[:, None]
    a = u * sig[:rank]
    b = vt @ s_inv if s_inv is not None else vt
    shift = (w - a @ b) @ mean if mean is not None else np.zeros(op.results[0].type.shape[-1])
    return Factor(op, a, b, shift, rank, float((sig[:rank] ** 2).sum()) / total, before, after)


def replace_layer(module: Module, op: Operation, bias_shift: np.ndarray, build) -> None:
    """Replace ``op`` by the layers ``build(x, const, add, bias, hint, wname)`` adds, the last one's result.

    ``const(array, name)`` / ``add(op)`` insert a constant (the weights' dtype and element type) or a
    layer before ``op``; ``bias`` is ``op``'s bias plus ``bias_shift`` (None for matmul)."""
    from edgecc.dialects.builtin import ConstantOp

    dtype = constant_array(op.operands[1]).dtype
    element = op.operands[1].type.element
    body = module.func.body

    def const(arr, name):
        c = ConstantOp.from_array(np.ascontiguousarray(arr.astype(dtype)), element, loc=op.loc, name=name)
        body.insert_before(op, c)
        return c.result

    def add(new):
        body.insert_before(op, new)
        return new.results[0]

    bias = None
    if op.name != "nn.matmul":
        cout = op.results[0].type.shape[-1]
        b0 = constant_array(op.operands[2]) if len(op.operands) > 2 else np.zeros(cout, dtype)
        bname = op.operands[2].name_hint if len(op.operands) > 2 else None
        bias = const(b0 + bias_shift.astype(dtype), bname)
    y = build(op.operands[0], const, add, bias, op.results[0].name_hint, op.operands[1].name_hint)
    if y.type != op.results[0].type:
        raise EdgeccError(f"lowrank: {layer_name(op)} factor layers give {y.type}, "
                          f"expected {op.results[0].type}")
    old = list(op.operands[1:])
    op.results[0].replace_all_uses_with(y)
    op.erase()
    for v in old:
        if not v.uses and v.defining_op() is not None:
            v.defining_op().erase()


def apply_factor(module: Module, f: Factor, mode: str) -> None:
    """Replace ``f.op`` by its two factor layers."""
    from edgecc.dialects.nn import Conv2DOp, FullyConnectedOp, MatMulOp

    op = f.op
    r = f.rank

    def build(x, const, add, bias, hint, wname):
        mid_name = f"{hint}_lr" if hint else None
        w1_name, w2_name = (f"{wname}_lr1", f"{wname}_lr2") if wname else (None, None)
        if op.name == "nn.fully_connected":
            h = add(FullyConnectedOp.build(x, const(f.b, w1_name), None, loc=op.loc, result_names=[mid_name]))
            return add(FullyConnectedOp.build(h, const(f.a, w2_name), bias, loc=op.loc, result_names=[hint],
                                              activation=op.attr("activation", "none")))
        if op.name == "nn.matmul":
            h = add(MatMulOp.build(x, const(f.b.T, w1_name), loc=op.loc, result_names=[mid_name]))
            return add(MatMulOp.build(h, const(f.a.T, w2_name), loc=op.loc, result_names=[hint]))
        cout, kh, kw, cin = op.operands[1].type.shape
        top, left, bottom, right = op.attr("pads")
        (sh, sw), (dh, dw) = op.attr("strides"), op.attr("dilations")
        act = op.attr("activation", "none")
        if mode == "spatial":  # b: [r, (kh, cin)], a: [(kw, cout), r]
            w1 = f.b.reshape(r, kh, 1, cin)
            w2 = f.a.reshape(kw, cout, r).transpose(1, 0, 2).reshape(cout, 1, kw, r)
            h = add(Conv2DOp.build(x, const(w1, w1_name), None, loc=op.loc, result_names=[mid_name],
                                   strides=(sh, 1), pads=(top, 0, bottom, 0), dilations=(dh, 1)))
            return add(Conv2DOp.build(h, const(w2, w2_name), bias, loc=op.loc, result_names=[hint],
                                      strides=(1, sw), pads=(0, left, 0, right), dilations=(1, dw),
                                      activation=act))
        w1 = f.b.reshape(r, kh, kw, cin)
        h = add(Conv2DOp.build(x, const(w1, w1_name), None, loc=op.loc, result_names=[mid_name],
                               strides=(sh, sw), pads=(top, left, bottom, right), dilations=(dh, dw)))
        return add(Conv2DOp.build(h, const(f.a.reshape(cout, 1, 1, r), w2_name), bias, loc=op.loc,
                                  result_names=[hint], activation=act))

    replace_layer(module, op, f.bias_shift, build)


def candidates(module: Module, mode: str = "channel") -> list[Operation]:
    """The layers ``lowrank`` may factorise (float, constant weights)."""
    out = []
    for op in module.ops:
        if op.name not in ("nn.fully_connected", "nn.matmul", "nn.conv2d"):
            continue
        if not op.results[0].type.is_float or constant_array(op.operands[1]) is None:
            continue
        if op.name != "nn.matmul" and len(op.operands) > 2 and constant_array(op.operands[2]) is None:
            continue
        if op.name == "nn.conv2d" and (op.attr("groups", 1) != 1 or (
                mode in ("channel", "tucker") and op.operands[1].type.shape[1:3] == (1, 1))):
            continue
        if op.name == "nn.matmul" and op.operands[1].type.rank != 2:
            continue
        out.append(op)
    return out


def lowrank_module(module: Module, samples: list | None, *, mode: str = "channel", whiten: bool = True,
                   energy: float = 0.0, ratio: float = 0.5, ranks: dict[str, int] | None = None,
                   keep: tuple[str, ...] = (), min_rank: int = 8, damping: float = DAMPING,
                   ratios: dict[str, float] | None = None) -> list[Factor]:
    """Factorise ``module``'s layers in place (see the module docstring); the factorisations applied."""
    from edgecc.compress.activations import input_moments

    if not 0.0 < ratio <= 1.0 or not 0.0 <= energy <= 1.0:
        raise EdgeccError("lowrank: ratio must be in (0, 1] and energy in [0, 1]")
    ranks, ratios = ranks or {}, ratios or {}
    if any(not 0.0 < r <= 1.0 for r in ratios.values()):
        raise EdgeccError("lowrank: ratios entries must be in (0, 1]")
    ops = candidates(module, mode)
    names = set().union(*(layer_names(op) for op in ops)) if ops else set()
    for n in (*ranks, *ratios, *keep):
        if n not in names:
            listed = ", ".join(layer_name(op) for op in ops) or "none"
            raise EdgeccError(f"lowrank: no factorisable layer named '{n}' (layers: {listed})")
    ops = [op for op in ops if not layer_names(op) & set(keep)]
    if mode == "tucker":
        ops = [op for op in ops if op.name == "nn.conv2d"]
    data_aware = whiten and mode != "spatial"
    if data_aware and not samples:
        raise EdgeccError("lowrank with whiten=true needs calibration data: calib=FILE.npz|DIR or the "
                          "context option 'calibration' (or whiten=false for plain SVD)")
    moments = input_moments(module, samples, ops) if data_aware and ops else {}
    done = []
    for op in ops:
        named = [ranks[n] for n in layer_names(op) if n in ranks]
        cap = min([ratios[n] for n in layer_names(op) if n in ratios], default=ratio)
        if mode == "tucker":
            from edgecc.compress.tucker import tucker2

            f = tucker2(op, moments=moments.get(op), ratio=cap, rank=min(named) if named else None,
                        min_rank=1 if named else min_rank, damping=damping)
            if f is not None:
                done.append(f)
            continue
        f = factorise(op, mode=mode, moments=moments.get(op), rank=min(named) if named else None,
                      energy=energy, ratio=cap, min_rank=1 if named else min_rank, damping=damping)
        if f is not None:
            done.append(f)
    for f in done:
        if mode == "tucker":
            from edgecc.compress.tucker import apply_tucker

            apply_tucker(module, f)
        else:
            apply_factor(module, f, mode)
    return done


def parse_ranks(items: tuple[str, ...]) -> dict[str, int]:
    out = {}
    for item in items:
        name, sep, value = item.rpartition(":")
        if not sep or not name or not value.isdigit() or int(value) < 1:
            raise EdgeccError(f"lowrank: ranks entry '{item}' must be LAYER:RANK with RANK >= 1")
        out[name] = int(value)
    return out


@dataclass
class LowRank(Pass):
    """Factorise fully_connected / matmul / conv2d weights into two thinner layers by truncated SVD."""

    name: ClassVar[str] = "lowrank"
    mode: Literal["channel", "spatial", "tucker"] = field(default="channel", metadata={
        "doc": "conv2d split: KxK to r channels + 1x1 (channel), Kx1 + 1xK (spatial, plain SVD), or "
               "Tucker-2 1x1 + KxK core + 1x1 (tucker, convs only)"})
    whiten: bool = field(default=True, metadata={
        "doc": "data-aware: factorise W C^(1/2) (C: input covariance on calibration data)"})
    ratio: float = field(default=0.5, metadata={
        "doc": "at most this fraction of a layer's weights (and MACs) remains"})
    energy: float = field(default=0.0, metadata={
        "doc": "smallest rank keeping this fraction of the spectrum's energy (0: rank from ratio alone)"})
    ranks: tuple[str, ...] = field(default=(), metadata={"doc": "per-layer ranks LAYER:RANK"})
    ratios: tuple[str, ...] = field(default=(), metadata={"doc": "per-layer ratio caps LAYER:RATIO"})
    keep: tuple[str, ...] = field(default=(), metadata={"doc": "layers never factorised"})
    min_rank: int = field(default=8, metadata={"doc": "layers needing a lower rank are left alone"})
    damping: float = field(default=DAMPING, metadata={
        "doc": "whitening damping relative to the mean input variance (larger: nearer plain SVD, "
               "factors that quantize better)"})
    calib: str = field(default="", metadata={"doc": "calibration data: FILE.npz or DIR of <input>.npy"})
    samples: int = field(default=256, metadata={"doc": "calibration samples used (0: all)"})

    def run(self, module: Module, ctx: PassContext) -> bool:
        from edgecc.analysis.stats import module_stats

        samples = None
        if self.whiten and self.mode != "spatial":
            samples = load_samples(self.calib or ctx.options.get("calibration"), module, self.samples)
        before = module_stats(module)
        done = lowrank_module(module, samples, mode=self.mode, whiten=self.whiten, energy=self.energy,
                              ratio=self.ratio, ranks=parse_ranks(self.ranks), keep=self.keep,
                              min_rank=self.min_rank, damping=self.damping,
                              ratios=parse_ratios(self.ratios, "lowrank ratios"))
        after = module_stats(module)
        for f in done:
            ctx.log(f"{layer_name(f.op)}: rank {f.rank} ({100 * f.energy:.1f} % energy), "
                    f"{f.before[0]} -> {f.after[0]} weights")
        ctx.stat("layers-factorised", len(done))
        ctx.stat("params-before", before.param_count)
        ctx.stat("params-after", after.param_count)
        ctx.stat("macs-before", before.total_macs)
        ctx.stat("macs-after", after.total_macs)
        return bool(done)


__all__ = ["Factor", "LowRank", "apply_factor", "candidates", "factorise", "lowrank_module", "parse_ranks"]
