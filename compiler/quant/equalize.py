"""Cross-layer equalization (Nagel et al., "Data-Free Quantization Through Weight
Equalization and Bias Correction", ICCV 2019).

For two consecutive layers ``y = f(W1 x + b1)``, ``z = W2 y + b2`` where ``f``
is positively homogeneous (none or ReLU: ``f(x / s) = f(x) / s`` for ``s > 0``),
scaling output channel ``i`` of layer 1 by ``1 / s_i`` and input channel ``i``
of layer 2 by ``s_i`` leaves ``z`` unchanged. Choosing

    s_i = sqrt(r1_i * r2_i) / r2_i

(``r1_i`` the largest magnitude of layer 1's output channel ``i``, ``r2_i`` of
layer 2's input channel ``i``) makes both ranges ``sqrt(r1_i r2_i)``, which
evens out the per-channel weight ranges that make per-tensor (and 4-bit)
quantization of depthwise-separable networks fail.

Pairs: conv2d (groups 1) or depthwise_conv2d (multiplier 1) with activation
none or relu, whose result feeds only a conv2d (groups 1), a depthwise_conv2d
(multiplier 1) or a fully_connected. Sweeps repeat over the chain until the
scales settle. ReLU6 (clipping) is not homogeneous: such pairs are skipped.
"""

from __future__ import annotations

import numpy as np

from edgecc.dialects.builtin import ConstantOp
from edgecc.ir.core import Module, Operation
from edgecc.quant.graph import constant_of

_FIRST = ("nn.conv2d", "nn.depthwise_conv2d")
_SECOND = ("nn.conv2d", "nn.depthwise_conv2d", "nn.fully_connected")


def _ok_layer(op: Operation) -> bool:
    if op.name == "nn.conv2d" and op.attr("groups", 1) != 1:
        return False
    if op.name == "nn.depthwise_conv2d" and op.attr("depth_multiplier", 1) != 1:
        return False
    if constant_of(op.operands[1]) is None:
        return False
    if len(op.operands) > 2 and constant_of(op.operands[2]) is None:
        return False
    return True


def find_pairs(module: Module) -> list[tuple[Operation, Operation]]:
    pairs = []
    for op in module.func.body:
        if op.name not in _FIRST or not _ok_layer(op):
            continue
        if op.attr("activation", "none") not in ("none", "relu"):
            continue
        users = op.result.uses
        if len(users) != 1:
            continue
        nxt = users[0].op
        if users[0].index != 0 or nxt.name not in _SECOND or not _ok_layer(nxt):
            continue
        if nxt.name == "nn.fully_connected" and nxt.operands[0].type.rank < 1:
            continue
        pairs.append((op, nxt))
    return pairs


def _out_ranges(op: Operation, w: np.ndarray) -> np.ndarray:
    if op.name == "nn.depthwise_conv2d":
        return np.abs(w).max(axis=(0, 1, 2))
    return np.abs(w.reshape(w.shape[0], -1)).max(axis=1)


def _in_ranges(op: Operation, w: np.ndarray) -> np.ndarray:
    if op.name == "nn.depthwise_conv2d":
        return np.abs(w).max(axis=(0, 1, 2))
    if op.name == "nn.fully_connected":
        return np.abs(w).max(axis=0)
    return np.abs(w).max(axis=(0, 1, 2))


def _scale_out(op: Operation, w: np.ndarray, s: np.ndarray) -> np.ndarray:
    if op.name == "nn.depthwise_conv2d":
        return w / s.reshape(1, 1, 1, -1)
    return w / s.reshape(-1, *([1] * (w.ndim - 1)))


def _scale_in(op: Operation, w: np.ndarray, s: np.ndarray) -> np.ndarray:
    if op.name == "nn.fully_connected":
        return w * s.reshape(1, -1)
    return w * s.reshape(1, 1, 1, -1)


def _set_constant(op: Operation, index: int, data: np.ndarray) -> None:
    old = op.operands[index]
    elem = old.type.element
    new = ConstantOp.from_array(np.asarray(data, dtype=elem.numpy), elem,
                                loc=old.defining_op().loc, name=old.name_hint)
    op.parent.insert_before(op, new)
    op.set_operand(index, new.result)
    src = old.defining_op()
    if not old.uses and src.parent is not None:
        src.erase()


def equalize_pair(a: Operation, b: Operation) -> float:
    """Equalize one pair in place; returns max |log s| (0 when nothing changed)."""
    w1 = np.asarray(constant_of(a.operands[1]), dtype=np.float64)
    w2 = np.asarray(constant_of(b.operands[1]), dtype=np.float64)
    r1, r2 = _out_ranges(a, w1), _in_ranges(b, w2)
    if r1.shape != r2.shape:
        return 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.sqrt(r1 * r2) / r2
    s = np.where(np.isfinite(s) & (s > 0), s, 1.0)
    s = np.clip(s, 1e-4, 1e4)
    change = float(np.max(np.abs(np.log(s)))) if s.size else 0.0
    if change < 1e-6:
        return 0.0
    _set_constant(a, 1, _scale_out(a, w1, s))
    if len(a.operands) > 2:
        b1 = np.asarray(constant_of(a.operands[2]), dtype=np.float64)
        _set_constant(a, 2, b1 / s)
    _set_constant(b, 1, _scale_in(b, w2, s))
    return change


def equalize_module(module: Module, sweeps: int = 20, tol: float = 1e-3) -> int:
    """Equalize every eligible pair until the scales settle; returns the number of pairs."""
    pairs = find_pairs(module)
    if not pairs:
        return 0
    for _ in range(sweeps):
        worst = 0.0
        for a, b in pairs:
            worst = max(worst, equalize_pair(a, b))
        if worst < tol:
            break
    return len(pairs)


__all__ = ["equalize_module", "equalize_pair", "find_pairs"]
