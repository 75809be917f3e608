"""Tucker-2 factorisation of a KxK conv2d: 1x1 (Cin -> r_in), KxK core (r_in -> r_out), 1x1 (r_out -> Cout).

``W [Cout, KH, KW, Cin]`` is compressed along its two channel modes; the spatial taps stay in the
core, which keeps the original strides, pads and dilations (the first 1x1 has no bias, so zero
padding of its output equals padding of the input). Data-aware like the other factorisations:

* input mode: with ``C`` the centred covariance of the conv's input channels (the mean over taps
  of the diagonal blocks of the im2col patch covariance) and ``S = (C + damping·mean(eig C) I)^½``,
  ``V`` = the top ``r_in`` right singular vectors of ``W`` unfolded ``[(Cout, KH, KW), Cin] · S``;
  the first layer is ``Vᵀ S⁻¹``, the core ``W ×_in (S V)``: the projection that keeps most output
  energy on the calibration inputs;
* output mode: ``U`` = the top ``r_out`` eigenvectors of the core's output covariance
  ``G C_z Gᵀ`` (``C_z``: the covariance of the projected patches), the last layer ``U``, the core
  ``Uᵀ G``;
* the last layer's bias absorbs the mean error, ``b += (W − Ŵ) μ`` over patches.

Plain (``moments=None``): ``S = I`` and ``U`` from the SVD of the core unfolded on its outputs,
i.e. HOSVD. Ranks: ``r_in / Cin = r_out / Cout``, the largest keeping at most ``ratio`` of the
weights; applied only when weights and MACs both fall.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from edgecc.ir.core import Operation
from edgecc.rewrite.pattern import constant_array


@dataclass
class TuckerFactor:
    """``W ≈ last · core · first`` (per tap), the bias shift and the ranks chosen."""

    op: Operation
    first: np.ndarray   # [r_in, Cin]
    core: np.ndarray    # [r_out, KH, KW, r_in]
    last: np.ndarray    # [Cout, r_out]
    bias_shift: np.ndarray
    rank: tuple[int, int]
    energy: float
    before: tuple[int, int]
    after: tuple[int, int]


def tucker_costs(op: Operation, ranks: tuple[int, int] | None) -> tuple[int, int]:
    """(weights, MACs) of the conv (ranks None) or of its Tucker-2 form."""
    cout, kh, kw, cin = op.operands[1].type.shape
    n, oh, ow, _ = op.results[0].type.shape
    if ranks is None:
        return cout * kh * kw * cin, n * oh * ow * cout * kh * kw * cin
    ri, ro = ranks
    _, ih, iw, _ = op.operands[0].type.shape
    weights = cin * ri + ro * kh * kw * ri + cout * ro
    return weights, n * (ih * iw * cin * ri + oh * ow * (ro * kh * kw * ri + cout * ro))


def _ranks_for(op: Operation, ratio: float) -> tuple[int, int]:
    cout, _, _, cin = op.operands[1].type.shape
    limit = ratio * tucker_costs(op, None)[0]
    best = (0, 0)
    for t in range(1, 1001):
        r = (max(1, math.ceil(cin * t / 1000)), max(1, math.ceil(cout * t / 1000)))
        if tucker_costs(op, r)[0] > limit:
            break
        best = r
    return best


def tucker2(op: Operation, *, moments=None, ratio: float = 0.5, rank: int | None = None,
            min_rank: int = 1, damping: float = 0.1) -> TuckerFactor | None:
    """The Tucker-2 factorisation of one KxK conv, or None when it would not lower weights and MACs."""
    from edgecc.compress.lowrank import _whitening

    w = constant_array(op.operands[1]).astype(np.float64)
    cout, kh, kw, cin = w.shape
    taps = kh * kw
    ri, ro = (min(rank, cin), min(rank, cout)) if rank is not None else _ranks_for(op, ratio)
    before, after = tucker_costs(op, None), tucker_costs(op, (ri, ro)) if min(ri, ro) >= 1 else None
    if min(ri, ro) < max(min_rank, 1) or after[0] >= before[0] or after[1] >= before[1]:
        return None
    if moments is not None:
        mean, second = moments
        cov_p = second - np.outer(mean, mean)
        blocks = cov_p.reshape(taps, cin, taps, cin)
        c_in = sum(blocks[t, :, t, :] for t in range(taps)) / taps
        s, s_inv = _whitening(c_in, damping)
    else:
        mean, cov_p, s, s_inv = None, None, np.eye(cin), np.eye(cin)
    _, sig, vt = np.linalg.svd(w.reshape(-1, cin) @ s, full_matrices=False)
    v = vt[:ri].T * np.sign(vt[:ri][np.arange(ri), np.abs(vt[:ri]).argmax(axis=1)])
    first = v.T @ s_inv                                     # [r_in, Cin]
    g = (w.reshape(-1, cin) @ s @ v).reshape(cout, taps * ri)  # core before the output projection
    if cov_p is not None:
        proj = np.kron(np.eye(taps), first)                 # patches (taps, Cin) -> (taps, r_in)
        c_out = g @ (proj @ cov_p @ proj.T) @ g.T
        lam, q = np.linalg.eigh((c_out + c_out.T) / 2)
        u = q[:, ::-1][:, :ro]
    else:
        u = np.linalg.svd(g, full_matrices=False)[0][:, :ro]
    u = u * np.sign(u[np.abs(u).argmax(axis=0), np.arange(ro)])
    core = u.T @ g                                          # [r_out, (taps, r_in)]
    w_hat = (u @ core @ np.kron(np.eye(taps), first)).reshape(cout, -1)
    shift = (w.reshape(cout, -1) - w_hat) @ mean if mean is not None else np.zeros(cout)
    energy = float((sig[:ri] ** 2).sum() / max((sig ** 2).sum(), 1e-30))
    return TuckerFactor(op, first, core.reshape(ro, kh, kw, ri), u, shift, (ri, ro), energy, before, after)


def apply_tucker(module, f: TuckerFactor) -> None:
    """Replace ``f.op`` by its three conv layers (all with the original location)."""
    from edgecc.compress.lowrank import replace_layer
    from edgecc.dialects.nn import Conv2DOp

    op = f.op
    ri, ro = f.rank

    def build(x, const, add, bias, hint, wname):
        names = [f"{wname}_tk{i}" if wname else None for i in (1, 2, 3)]
        a = add(Conv2DOp.build(x, const(f.first.reshape(ri, 1, 1, -1), names[0]), None, loc=op.loc,
                               result_names=[f"{hint}_tk1" if hint else None]))
        b = add(Conv2DOp.build(a, const(f.core, names[1]), None, loc=op.loc,
                               result_names=[f"{hint}_tk2" if hint else None], strides=op.attr("strides"),
                               pads=op.attr("pads"), dilations=op.attr("dilations")))
        return add(Conv2DOp.build(b, const(f.last.reshape(-1, 1, 1, ro), names[2]), bias, loc=op.loc,
                                  result_names=[hint], activation=op.attr("activation", "none")))

    replace_layer(module, op, f.bias_shift, build)


__all__ = ["TuckerFactor", "apply_tucker", "tucker2", "tucker_costs"]
