"""Canonicalization: remove no-op ops, merge reshape and transpose chains, fold constants, drop dead ops.

The patterns are local and never change a value's type, so any pass can run
``canonicalize`` to clean up after itself. ``PATTERNS`` is public: other
passes may combine it with their own (``PATTERNS + mine``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import ClassVar

from edgecc.ir.core import Operation, Value
from edgecc.ir.diagnostics import PassError
from edgecc.ir.types import QuantizedType, TensorType
from edgecc.passes.manager import Pass, PassContext
from edgecc.rewrite.driver import Rewriter, apply_greedily
from edgecc.rewrite.pattern import PatternSet, is_splat, producer

PATTERNS = PatternSet("canonicalize")


def _forward(op: Operation, rw: Rewriter, value: Value) -> bool:
    """Replace the single result of ``op`` by ``value`` when their types agree."""
    if op.result.type != value.type:
        return False
    rw.replace_op(op, [value])
    return True


# ----------------------------------------------------------- no-op removal
@PATTERNS.on("nn.reshape")
def reshape_noop(op: Operation, rw: Rewriter) -> bool:
    """``reshape(x)`` to x's own shape is x."""
    return _forward(op, rw, op.operands[0])


@PATTERNS.on("nn.transpose")
def transpose_identity(op: Operation, rw: Rewriter) -> bool:
    """``transpose(x, perm=[0, 1, ..])`` is x."""
    perm = op.attr("perm")
    if perm is None or tuple(perm) != tuple(range(len(perm))):
        return False
    return _forward(op, rw, op.operands[0])


@PATTERNS.on("nn.pad")
def pad_zero(op: Operation, rw: Rewriter) -> bool:
    """``pad(x)`` with every pad 0 is x (whatever the mode)."""
    pads = op.attr("pads")
    if pads is None or any(p != 0 for p in pads):
        return False
    return _forward(op, rw, op.operands[0])


@PATTERNS.on("nn.slice")
def slice_full(op: Operation, rw: Rewriter) -> bool:
    """``slice(x)`` from 0 to the end of every dim with stride 1 is x."""
    x = op.operands[0]
    shape = x.type.shape
    begin, end = op.attr("begin"), op.attr("end")
    strides = op.attr("strides") or (1,) * len(shape)
    if begin is None or end is None:
        return False
    if tuple(begin) != (0,) * len(shape) or tuple(end) != tuple(shape) or any(s != 1 for s in strides):
        return False
    return _forward(op, rw, x)


@PATTERNS.on("nn.cast")
def cast_noop(op: Operation, rw: Rewriter) -> bool:
    """``cast(x)`` to x's own type is x."""
    return _forward(op, rw, op.operands[0])


@PATTERNS.on("nn.concat")
def concat_single(op: Operation, rw: Rewriter) -> bool:
    """``concat`` of one input is that input."""
    if len(op.operands) != 1:
        return False
    return _forward(op, rw, op.operands[0])


def _plain(value: Value) -> bool:
    t = value.type
    return isinstance(t, TensorType) and not isinstance(t.element, QuantizedType)


def _identity_operand(op: Operation, neutral: float, commutative: bool) -> Value | None:
    """The operand x of ``op(x, c)`` (or ``op(c, x)``) where c is a splat of ``neutral``.

    Only for unquantized types (a quantized op may rescale), no fused
    activation, and when broadcasting leaves x's type unchanged.
    """
    if len(op.operands) != 2 or op.attr("activation", "none") != "none":
        return None
    lhs, rhs = op.operands
    candidates = [(lhs, rhs), (rhs, lhs)] if commutative else [(lhs, rhs)]
    for x, c in candidates:
        if _plain(x) and _plain(c) and op.result.type == x.type and is_splat(c, neutral):
            return x
    return None


@PATTERNS.on("nn.add")
def add_zero(op: Operation, rw: Rewriter) -> bool:
    """``x + 0`` and ``0 + x`` are x."""
    x = _identity_operand(op, 0.0, commutative=True)
    return x is not None and _forward(op, rw, x)


@PATTERNS.on("nn.sub")
def sub_zero(op: Operation, rw: Rewriter) -> bool:
    """``x - 0`` is x."""
    x = _identity_operand(op, 0.0, commutative=False)
    return x is not None and _forward(op, rw, x)


@PATTERNS.on("nn.mul")
def mul_one(op: Operation, rw: Rewriter) -> bool:
    """``x * 1`` and ``1 * x`` are x."""
    x = _identity_operand(op, 1.0, commutative=True)
    return x is not None and _forward(op, rw, x)


@PATTERNS.on("nn.div")
def div_one(op: Operation, rw: Rewriter) -> bool:
    """``x / 1`` is x."""
    x = _identity_operand(op, 1.0, commutative=False)
    return x is not None and _forward(op, rw, x)


# ------------------------------------------------------------------ chains
@PATTERNS.on("nn.reshape")
def reshape_chain(op: Operation, rw: Rewriter) -> bool:
    """``reshape(reshape(x))`` is ``reshape(x)`` (the inner one dies if unused)."""
    inner = producer(op.operands[0], "nn.reshape")
    if inner is None:
        return False
    rw.set_operand(op, 0, inner.operands[0])
    return True


@PATTERNS.on("nn.transpose")
def transpose_pair(op: Operation, rw: Rewriter) -> bool:
    """``transpose(transpose(x, p1), p2)`` is ``transpose(x, p1[p2])``, or x if that is the identity."""
    inner = producer(op.operands[0], "nn.transpose")
    if inner is None:
        return False
    p1, p2 = inner.attr("perm"), op.attr("perm")
    if p1 is None or p2 is None or len(p1) != len(p2):
        return False
    composed = tuple(p1[i] for i in p2)
    x = inner.operands[0]
    if composed == tuple(range(len(composed))):
        return _forward(op, rw, x)
    rw.set_operand(op, 0, x)
    rw.set_attr(op, "perm", composed)
    return True


@dataclass
class Canonicalize(Pass):
    """Simplify locally to a fixed point: no-op removal, reshape/transpose chains, constant folding, DCE."""

    name: ClassVar[str] = "canonicalize"
    max_iterations: int = field(default=10, metadata={
        "doc": "sweeps over the module that may change it before giving up (an error)"})
    fold: bool = field(default=True, metadata={"doc": "fold ops whose operands are all constants"})
    disable: tuple[str, ...] = field(default=(), metadata={"doc": "names of patterns not to apply"})

    def run(self, module, ctx: PassContext) -> bool:
        patterns = PATTERNS
        if self.disable:
            try:
                patterns = PATTERNS.without(self.disable)
            except KeyError as e:
                raise PassError(f"canonicalize has no pattern {e.args[0]}; patterns: "
                                f"{', '.join(PATTERNS.names())}") from None
        stats: Counter = Counter()
        changed = apply_greedily(module, patterns, max_iterations=self.max_iterations, fold=self.fold,
                                 stats=stats)
        for key, n in stats.items():
            ctx.stat(key, n)
        return changed
