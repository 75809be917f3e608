"""fuse: fold activations, bias adds, zero padding and per-channel scales into the ops before them.

Greedy local patterns (``edgecc.rewrite``), each gated by a pass option:

``activations``
    ``nn.relu`` / ``nn.clamp`` whose input is the single-use result of
    conv2d, depthwise_conv2d, fully_connected, add, sub, mul, div,
    avg_pool2d or max_pool2d becomes the producer's fused ``activation``
    (``relu``, ``relu6``, ``relu_n1_to_1``). The clamp range is intersected
    with the producer's existing activation, so ``relu6`` followed by ``relu``
    is still ``relu6``; the fusion only happens when the intersection is one
    of the fused activations. Quantized values fuse only when the activation
    keeps the producer's result type (no requantization hidden in it).
``bias``
    ``nn.add`` (either operand order) or ``nn.sub`` (constant on the right)
    of a constant broadcastable to ``[C]`` along the last axis (``[C]``,
    ``[1, C]``, ``[1, 1, 1, C]``, a scalar ...) after a float conv2d,
    depthwise_conv2d or fully_connected whose activation is ``none`` and
    whose result has no other use: the constant is added to the bias (a new
    bias operand when there is none; an existing bias must be a constant).
    The add's own activation moves onto the producer.
``pad``
    ``nn.pad`` in constant mode with value 0 that pads only H and W of an
    NHWC rank-4 tensor, feeding conv2d or depthwise_conv2d: the pads are
    added to the op's ``pads`` (the pad op stays while it has other users).
    Quantized inputs qualify when the zero point is a storable value (the
    padded real 0 is then exactly the kernel's implicit padding). Pools are
    left alone: avg_pool2d excludes padding from its count and max_pool2d
    never lets a padded cell win, while nn.pad makes cells real zeros.
``constants``
    ``nn.mul`` by a per-output-channel constant (broadcastable to ``[C]`` as
    above) after a float conv2d, depthwise_conv2d or fully_connected with
    activation ``none``, a constant weight and a constant (or no) bias:
    the weights and the bias are scaled, the mul disappears.

Every fused op gets ``loc = Location.fuse([producer.loc, consumer.loc])``;
new weights and biases are new ``builtin.constant`` ops (the data of an
existing constant is never modified), and constants left unused are erased.
Float fusions are exact up to float32 rounding: the fused kernel rounds its
float64 accumulator once where the unfused graph rounded twice.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from edgecc.ir.core import Module, Operation, Value
from edgecc.ir.diagnostics import UNKNOWN, Location
from edgecc.ir.types import QuantizedType, TensorType
from edgecc.passes.manager import Pass, PassContext
from edgecc.rewrite.driver import Rewriter, apply_greedily
from edgecc.rewrite.pattern import PatternSet, constant_array, producer

#: ops carrying a fused ``activation`` attribute that an activation op may fold into
ACTIVATION_PRODUCERS = frozenset({
    "nn.conv2d", "nn.depthwise_conv2d", "nn.fully_connected", "nn.add", "nn.sub", "nn.mul",
    "nn.div", "nn.avg_pool2d", "nn.max_pool2d"})
#: ops with weight and optional bias operands whose output channels are the last axis
WEIGHTED = frozenset({"nn.conv2d", "nn.depthwise_conv2d", "nn.fully_connected"})
#: fused activation -> clamp range
ACTIVATION_RANGES = {"none": (-math.inf, math.inf), "relu": (0.0, math.inf), "relu6": (0.0, 6.0),
                     "relu_n1_to_1": (-1.0, 1.0)}
_BY_RANGE = {r: name for name, r in ACTIVATION_RANGES.items()}

ACTIVATION_PATTERNS = PatternSet("fuse-activations")
BIAS_PATTERNS = PatternSet("fuse-bias")
PAD_PATTERNS = PatternSet("fuse-pad")
CONSTANT_PATTERNS = PatternSet("fuse-constants")


# ------------------------------------------------------------------ helpers
def fused_loc(*ops: Operation) -> Location:
    """``Location.fuse`` of the ops' locations, leaving out unknown ones."""
    return Location.fuse([op.loc for op in ops if op.loc != UNKNOWN])


def _is_float(v: Value) -> bool:
    return isinstance(v.type, TensorType) and v.type.is_float


def _single_use(v: Value) -> bool:
    return len(v.uses) == 1


def channel_vector(arr: np.ndarray, out_shape: tuple[int, ...]) -> np.ndarray | None:
    """``arr`` as a ``[C]`` vector if it broadcasts along the last axis of ``out_shape`` only.

    Shapes ``()``, ``[1]``, ``[C]``, ``[1, C]``, ``[1, 1, 1, C]`` ... qualify (never a
    rank above the output's, so broadcasting leaves ``out_shape`` unchanged).
    """
    if not out_shape or arr.ndim > len(out_shape):
        return None
    c = out_shape[-1]
    if arr.ndim == 0:
        return np.full((c,), arr.item(), dtype=arr.dtype)
    if any(d != 1 for d in arr.shape[:-1]) or arr.shape[-1] not in (1, c):
        return None
    return np.broadcast_to(arr.reshape(-1), (c,)).copy()


def _weighted_producer(x: Value) -> Operation | None:
    """The float weighted op defining ``x`` with activation none, if ``x`` has no other use."""
    p = producer(x)
    if p is None or p.name not in WEIGHTED or p.attr("activation", "none") != "none":
        return None
    if not _single_use(x) or not _is_float(x):
        return None
    return p


def _bias_of(p: Operation) -> tuple[bool, np.ndarray | None]:
    """(usable, bias array or None): unusable when the bias is not a constant."""
    if len(p.operands) < 3:
        return True, None
    b = constant_array(p.operands[2])
    return (b is not None), b


def _rebuild_weighted(p: Operation, consumer: Operation, rw: Rewriter, weight: Value,
                      bias: Value | None) -> Operation:
    """Replace ``consumer`` by a copy of ``p`` with new weight/bias and the consumer's activation."""
    attrs = dict(p.attrs)
    attrs.pop("activation", None)
    activation = consumer.attr("activation", "none")
    if activation != "none":
        attrs["activation"] = activation
    hint = consumer.result.name_hint or p.result.name_hint
    new = type(p).build(p.operands[0], weight, bias, result_types=[consumer.result.type],
                        loc=fused_loc(p, consumer), result_names=[hint], **attrs)
    rw.insert_before(consumer, new)
    rw.replace_op(consumer, [new.result])
    if not p.result.uses:
        rw.erase(p)
    return new


# ---------------------------------------------------------------- activations
def _clamp_range(op: Operation) -> tuple[float, float]:
    if op.name == "nn.relu":
        return 0.0, math.inf
    return float(op.attr("min")), float(op.attr("max"))


@ACTIVATION_PATTERNS.on("nn.relu", "nn.clamp")
def fuse_activation(op: Operation, rw: Rewriter) -> bool:
    """relu / clamp after a single-use op with a fused activation attribute -> that attribute."""
    x = op.operands[0]
    p = producer(x)
    if p is None or p.name not in ACTIVATION_PRODUCERS or not _single_use(x):
        return False
    if not isinstance(x.type, TensorType):
        return False
    if x.type.is_quantized:
        if op.result.type != x.type or x.type.element.per_axis:
            return False
    elif not x.type.is_float or op.result.type != x.type:
        return False
    lo1, hi1 = ACTIVATION_RANGES.get(p.attr("activation", "none"), (None, None))
    if lo1 is None:
        return False
    lo2, hi2 = _clamp_range(op)
    lo, hi = max(lo1, lo2), min(hi1, hi2)
    name = _BY_RANGE.get((lo, hi))
    if name is None or lo > hi:
        return False
    p.loc = fused_loc(p, op)
    if op.result.name_hint is not None:
        x.name_hint = op.result.name_hint
    rw.set_attr(p, "activation", None if name == "none" else name)
    rw.replace_op(op, [x])
    return True


# ----------------------------------------------------------------------- bias
def _bias_candidates(op: Operation):
    lhs, rhs = op.operands
    if op.name == "nn.add":
        return [(lhs, rhs, 1.0), (rhs, lhs, 1.0)]
    return [(lhs, rhs, -1.0)]


@BIAS_PATTERNS.on("nn.add", "nn.sub")
def fuse_bias(op: Operation, rw: Rewriter) -> bool:
    """conv/depthwise/fully_connected + per-channel constant -> bias operand."""
    for x, c, sign in _bias_candidates(op):
        p = _weighted_producer(x)
        carr = constant_array(c)
        if p is None or carr is None or op.result.type != x.type or c.type.element != x.type.element:
            continue
        vec = channel_vector(carr, x.type.shape)
        if vec is None:
            continue
        ok, bias = _bias_of(p)
        if not ok:
            continue
        dtype = x.type.element.numpy
        total = vec.astype(np.float64) * sign
        if bias is not None:
            total = total + bias.astype(np.float64)
        hint = p.operands[2].name_hint if bias is not None else c.name_hint
        new_bias = rw.constant(total.astype(dtype), before=op, name=hint, loc=fused_loc(p, op))
        _rebuild_weighted(p, op, rw, p.operands[1], new_bias)
        return True
    return False


# ------------------------------------------------------------------------ pad
def _zero_pad_storable(t: TensorType) -> bool:
    if t.is_float:
        return True
    e = t.element
    return isinstance(e, QuantizedType) and not e.per_axis and e.qmin <= e.zero_point <= e.qmax


@PAD_PATTERNS.on("nn.conv2d", "nn.depthwise_conv2d")
def fuse_pad(op: Operation, rw: Rewriter) -> bool:
    """Zero nn.pad of H and W before a convolution -> the convolution's pads."""
    pad = producer(op.operands[0], "nn.pad")
    if pad is None or pad.attr("mode", "constant") != "constant" or pad.attr("value", 0.0) != 0.0:
        return False
    x = pad.operands[0]
    if not isinstance(x.type, TensorType) or x.type.rank != 4 or not _zero_pad_storable(x.type):
        return False
    p = tuple(pad.attr("pads"))
    if len(p) != 8 or any(v < 0 for v in p) or p[0] or p[3] or p[4] or p[7]:
        return False
    t, l, b, r = op.attr("pads", (0, 0, 0, 0))
    op.loc = fused_loc(pad, op)
    rw.set_operand(op, 0, x)
    rw.set_attr(op, "pads", (t + p[1], l + p[2], b + p[5], r + p[6]))
    return True


# ------------------------------------------------------------------ constants
def _scale_weight(name: str, w: np.ndarray, scale: np.ndarray) -> np.ndarray:
    w64 = w.astype(np.float64)
    if name == "nn.depthwise_conv2d":  # [1, KH, KW, C*M]: output channels last
        return w64 * scale
    return w64 * scale.reshape((-1,) + (1,) * (w.ndim - 1))  # OHWI / [N, K]: channels first


@CONSTANT_PATTERNS.on("nn.mul")
def fold_scale_into_weights(op: Operation, rw: Rewriter) -> bool:
    """conv/depthwise/fully_connected * per-channel constant -> scaled weights and bias."""
    lhs, rhs = op.operands
    for x, c in ((lhs, rhs), (rhs, lhs)):
        p = _weighted_producer(x)
        carr = constant_array(c)
        if p is None or carr is None or op.result.type != x.type or c.type.element != x.type.element:
            continue
        w = constant_array(p.operands[1])
        vec = channel_vector(carr, x.type.shape)
        ok, bias = _bias_of(p)
        if w is None or vec is None or not ok:
            continue
        dtype = x.type.element.numpy
        scale = vec.astype(np.float64)
        loc = fused_loc(p, op)
        new_w = rw.constant(_scale_weight(p.name, w, scale).astype(dtype), before=op,
                            name=p.operands[1].name_hint, loc=loc)
        new_b = None
        if bias is not None:
            new_b = rw.constant((bias.astype(np.float64) * scale).astype(dtype), before=op,
                                name=p.operands[2].name_hint, loc=loc)
        _rebuild_weighted(p, op, rw, new_w, new_b)
        return True
    return False


# ----------------------------------------------------------------------- pass
def fuse_patterns(activations: bool = True, bias: bool = True, pad: bool = True,
                  constants: bool = True) -> PatternSet:
    """The fuse pattern set for the given options."""
    out = PatternSet("fuse")
    for enabled, patterns in ((pad, PAD_PATTERNS), (constants, CONSTANT_PATTERNS),
                              (bias, BIAS_PATTERNS), (activations, ACTIVATION_PATTERNS)):
        if enabled:
            out = out + patterns
    out.name = "fuse"
    return out


@dataclass
class Fuse(Pass):
    """Fuse activations, bias adds, zero pads and per-channel scales into the ops that produce them."""

    name: ClassVar[str] = "fuse"
    activations: bool = field(default=True, metadata={
        "doc": "fold nn.relu / nn.clamp(0,6) / nn.clamp(-1,1) into the producer's fused activation"})
    bias: bool = field(default=True, metadata={
        "doc": "fold an add (or sub) of a per-channel constant after conv/depthwise/fully_connected "
               "into its bias"})
    pad: bool = field(default=True, metadata={
        "doc": "fold a zero nn.pad of H and W into the pads of the following conv/depthwise conv"})
    constants: bool = field(default=True, metadata={
        "doc": "fold a mul by a per-channel constant after conv/depthwise/fully_connected into "
               "its weights and bias"})

    def run(self, module: Module, ctx: PassContext) -> bool:
        patterns = fuse_patterns(self.activations, self.bias, self.pad, self.constants)
        if not len(patterns):
            return False
        stats: Counter = Counter()
        changed = apply_greedily(module, patterns, fold=False, stats=stats)
        for key, n in stats.items():
            ctx.stat(key, n)
        return changed


__all__ = ["ACTIVATION_PRODUCERS", "Fuse", "WEIGHTED", "channel_vector", "fuse_patterns", "fused_loc"]
