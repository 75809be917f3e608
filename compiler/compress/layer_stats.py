"""Calibration statistics of each layer's input, gathered while the layers are being compressed.

``sequential(module, samples, layers, visit)`` runs the reference interpreter over every
calibration sample one op at a time; on reaching a layer it gives ``visit`` the layer's input
statistics (``InputStats``: the Gram matrix ``X^T X`` of the layer's input columns and their
energies), lets it rewrite the weights, and carries on with the rewritten weights. The next layer
thus sees the inputs the already-compressed layers produce, which is what OBC/SparseGPT-style
updates compensate (and what the model will see). Columns are those of ``Layer.matrix``: for a
convolution the im2col patch in (kh, kw, i) order, for a depthwise convolution one channel's window.

(A private helper: the structured-pruning passes have their own activation capture.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from edgecc.compress.layers import Layer
from edgecc.interp.ops_common import pads4, pair
from edgecc.interp.ops_conv import windows
from edgecc.interp.reference import evaluate_op
from edgecc.ir.core import Module


@dataclass
class InputStats:
    """``gram[cols, cols]`` (None for depthwise), ``energy[rows or 1, cols]``: sum of x^2 per column
    (per channel row for depthwise), ``count`` columns vectors seen."""

    gram: np.ndarray | None
    energy: np.ndarray
    count: int


def _patches(layer: Layer, x: np.ndarray) -> np.ndarray:
    """The layer input as rows of its dot-product columns (conv: im2col; dense: the rows)."""
    op = layer.op
    x = np.asarray(x, dtype=np.float64)
    if layer.kind == "fully_connected":
        return x.reshape(-1, x.shape[-1])
    w = layer.weight.type.shape
    kh, kw = w[1], w[2]
    strides, dilations = pair(op, "strides"), pair(op, "dilations")
    t, l, b, r = pads4(op)
    xp = np.pad(x, ((0, 0), (max(t, 0), max(b, 0)), (max(l, 0), max(r, 0)), (0, 0)))
    oh = (xp.shape[1] - dilations[0] * (kh - 1) - 1) // strides[0] + 1
    ow = (xp.shape[2] - dilations[1] * (kw - 1) - 1) // strides[1] + 1
    win = windows(xp, kh, kw, strides, dilations, oh, ow)  # [N, OH, OW, KH, KW, C]
    if layer.kind == "depthwise_conv2d":
        m = int(op.attr("depth_multiplier", 1) or 1)
        p = win.reshape(-1, kh * kw, x.shape[-1])  # [P, KH*KW, C]
        return np.repeat(p, m, axis=2) if m > 1 else p
    return win.reshape(-1, kh * kw * x.shape[-1])


def accumulate(layer: Layer, inputs: list[np.ndarray], gram: bool) -> InputStats:
    g, e, n = None, None, 0
    for x in inputs:
        p = _patches(layer, x)
        n += p.shape[0]
        if layer.kind == "depthwise_conv2d":
            s = np.einsum("pkc,pkc->ck", p, p)
        else:
            s = np.einsum("pk,pk->k", p, p)[None, :]
            if gram:
                g = p.T @ p if g is None else g + p.T @ p
        e = s if e is None else e + s
    return InputStats(g, e, n)


def sequential(
    module: Module,
    samples: list[list[np.ndarray]],
    layers: list[Layer],
    visit: Callable[[Layer, InputStats], None],
    gram: bool = True,
) -> None:
    """Run ``samples`` through ``module``, calling ``visit`` at each of ``layers`` (module docstring)."""
    at = {id(lay.op): lay for lay in layers}
    envs = [{id(a): np.asarray(x) for a, x in zip(module.func.arguments, s)} for s in samples]
    ops = list(module.func.body)
    last: dict[int, int] = {}
    for i, op in enumerate(ops):
        for v in op.operands:
            last[id(v)] = i
    remaining = len(layers)
    for i, op in enumerate(ops):
        if op.name == "func.return" or remaining == 0:
            break
        lay = at.get(id(op))
        if lay is not None:
            visit(lay, accumulate(lay, [env[id(op.operands[0])] for env in envs], gram))
            w = np.asarray(lay.weight.defining_op().attr("value").array)
            for env in envs:
                env[id(lay.weight)] = w
            remaining -= 1
        for env in envs:
            for r, y in zip(op.results, evaluate_op(op, [env[id(v)] for v in op.operands])):
                env[id(r)] = y
            for v in op.operands:
                if last.get(id(v)) == i:
                    env.pop(id(v), None)


def calibration_samples(module: Module, source, limit: int) -> list[list[np.ndarray]]:
    """Calibration samples (FILE.npz, DIR, arrays ...) as argument-ordered lists."""
    from edgecc.quant.calibrate import input_names, load_calibration

    names = input_names(module)
    return [[np.asarray(s[n]) for n in names] for s in load_calibration(source, module, limit or None)]


__all__ = ["InputStats", "accumulate", "calibration_samples", "sequential"]
