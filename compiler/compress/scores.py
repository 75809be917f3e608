"""Channel importance: which classes of output channels (``channels.ChannelGraph``) to remove first.

* ``l1`` / ``l2``: the norm of each source channel's weights (``W[o]``),
  summed over the coupled sources of a class. Needs no data.
* ``activation``: what the channel feeds downstream. A consumer with weight
  ``W`` reading feature ``f`` of the channel adds ``W[:, f] x_f`` to its
  output, of expected energy ``||W[:, f]||^2 E[x_f^2]`` (calibration data), so
  a class scores ``sqrt(sum over its consumers and features)``: weight
  magnitude times input activation norm, measured where the channel is used.
  It sees what magnitude misses: channels whose activations are (nearly)
  always zero after a ReLU, or whose consumers ignore them.
"""

from __future__ import annotations

import numpy as np

from edgecc.compress.channels import FROZEN, ChannelGraph
from edgecc.ir.core import Operation
from edgecc.rewrite.pattern import constant_array


def magnitude_scores(g: ChannelGraph, norm: str = "l1") -> dict[int, float]:
    """Class -> summed L1 or L2 norm of its source channels' weights."""
    scores: dict[int, float] = {}
    for c, members in g.classes().items():
        total = 0.0
        for op, ch in members:
            w = constant_array(op.operands[1]).astype(np.float64)[ch]
            total += float(np.abs(w).sum()) if norm == "l1" else float(np.sqrt((w * w).sum()))
        scores[c] = total
    return scores


def activation_scores(g: ChannelGraph, inputs: dict[Operation, np.ndarray]) -> dict[int, float]:
    """Class -> sqrt of the output energy it feeds its consumers (``inputs``: stacked consumer inputs)."""
    energy = {c: 0.0 for c in g.classes()}
    for op, vec in g.consumed.items():
        x = np.asarray(inputs[op], np.float64)
        ex2 = (x * x).reshape(-1, x.shape[-1]).mean(axis=0)
        w = constant_array(op.operands[1]).astype(np.float64)
        wn = (w * w).reshape(-1, w.shape[-1]).sum(axis=0) if w.ndim > 2 else (w * w).sum(axis=0)
        for f, s in enumerate(vec):
            c = g.cls(s)
            if c != FROZEN:
                energy[c] += float(wn[f] * ex2[f])
    return {c: float(np.sqrt(e)) for c, e in energy.items()}


__all__ = ["activation_scores", "magnitude_scores"]
