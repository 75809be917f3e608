"""Liveness of arena buffers over an op order, with alias and in-place merging.

The arena holds every non-constant tensor of a function (graph inputs, op
results, graph outputs) plus per-op scratch. ``analyze(func, order)`` walks
the ops in ``order`` (constants and ``func.return`` excluded: constants live
in flash) and builds ``Buffer``s:

* a value is written at the position of its producing op (graph inputs at
  position 0) and read up to the position of its last user; graph outputs
  stay live until the last position (the caller reads them after the run);
* an op whose in-place rule says ``alias`` (``nn.reshape``) does not get a
  buffer of its own: its result joins the buffer of its operand (same bytes,
  another shape), extending that buffer's lifetime;
* an op whose rule lists in-place operands (elementwise ops, activations)
  writes its result into the buffer of the first listed operand that
  (a) is in the arena, (b) has the result's byte size (and element count,
  so no broadcast operand is overwritten), (c) is not read by any later op
  nor returned -- its whole buffer group dies at this op -- and (d) shares
  no memory with another operand of the op (an alias read at other indices);
* an op with scratch bytes gets a buffer live at its position only.

Rules come from a ``rule_for(op) -> InPlace | None`` callback (the table is
``edgecc.analysis.memory.INPLACE_RULES``); scratch sizes from
``scratch_for(op) -> int``. Sizes are rounded up to ``alignment`` so every
offset a planner builds from sums of sizes stays aligned.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from edgecc.ir.core import Func, Operation, Value
from edgecc.ir.types import TensorType


def align_up(n: int, alignment: int) -> int:
    """``n`` rounded up to a multiple of ``alignment``."""
    a = max(1, int(alignment))
    return (int(n) + a - 1) // a * a


@dataclass(frozen=True)
class InPlace:
    """How an op may reuse operand memory for its result ``result``.

    ``operands``: indices of operands the result may overwrite, in order of
    preference. ``alias``: the result *is* operand ``operands[0]``'s memory
    (a view such as reshape: no data moves, always applied when the operand
    is in the arena).
    """

    operands: tuple[int, ...] = (0,)
    alias: bool = False
    result: int = 0
    #: the result may be smaller than the operand (it then lives in the operand's bytes)
    shrink: bool = False
    #: name of a boolean op attribute that must be true (a kernel-specific condition)
    when: str | None = None
    #: name of an int op attribute: extra scratch bytes the op needs when it runs in place
    scratch_attr: str | None = None


@dataclass
class Buffer:
    """A block of arena memory: one value, a group sharing memory, or scratch.

    ``first``/``last`` are op positions (inclusive) in the analysed order;
    ``size`` is aligned; ``offset`` is set by a planner.
    """

    index: int
    size: int
    first: int
    last: int
    values: list[Value] = field(default_factory=list)
    label: str = ""
    kind: str = "tensor"  # "tensor" or "scratch"
    op: Operation | None = None  # the op of a scratch buffer
    offset: int = -1
    #: (position, size): from ``position`` on the buffer holds only its first ``size`` bytes, e.g.
    #: after a strided band wrote its smaller output over the start of its input; sizes decrease
    shrinks: tuple[tuple[int, int], ...] = ()

    def overlaps(self, other: Buffer) -> bool:
        """Lifetimes intersect (both live at some position)."""
        return self.first <= other.last and other.first <= self.last

    def size_at(self, pos: int) -> int:
        """Bytes held at ``pos`` (``size`` before the first shrink; sizes only decrease, so this is
        also the most the buffer holds from ``pos`` to its end)."""
        size = self.size
        for p, s in self.shrinks:
            if p > pos:
                break
            size = s
        return size

    def size_with(self, other: Buffer) -> int:
        """The most bytes held while ``other`` is live too (what the two must not share)."""
        return self.size_at(max(self.first, other.first)) if self.shrinks else self.size

    def __repr__(self) -> str:
        return f"Buffer#{self.index}({self.label}, {self.size} B, [{self.first}, {self.last}], @{self.offset})"


def is_constant(v: Value) -> bool:
    """Whether ``v`` is produced by a constant-like op (flash, not arena)."""
    op = v.defining_op()
    return op is not None and op.has_trait("ConstantLike")


def executable_ops(func: Func) -> list[Operation]:
    """The ops that run, in block order: everything but constants and the terminator."""
    return [op for op in func.body if not op.has_trait("ConstantLike") and not op.has_trait("Terminator")]


def value_bytes(v: Value) -> int:
    t = v.type
    return t.nbytes if isinstance(t, TensorType) else 0


def value_label(v: Value) -> str:
    if v.name_hint:
        return v.name_hint
    op = v.defining_op()
    if op is not None:
        return f"{op.name}#{v.index}" if len(op.results) > 1 else op.name
    return f"arg{getattr(v, 'index', 0)}"


def default_scratch(op: Operation) -> int:
    """Scratch bytes declared by an op's ``scratch`` attribute (0 when absent)."""
    s = op.attrs.get("scratch", 0)
    return int(s) if isinstance(s, int) and not isinstance(s, bool) else 0


@dataclass
class Liveness:
    """Buffers of a function over one op order (see the module docstring)."""

    order: list[Operation]
    buffers: list[Buffer]
    buffer_of: dict[Value, Buffer]
    scratch_of: dict[Operation, Buffer]
    #: op -> operand index whose memory its result took (in-place and alias ops)
    reuse: dict[Operation, int]
    alignment: int

    @property
    def end(self) -> int:
        return max(len(self.order) - 1, 0)

    def live_at(self, pos: int) -> list[Buffer]:
        return [b for b in self.buffers if b.first <= pos <= b.last]

    def live_bytes(self) -> list[int]:
        """Sum of live buffer sizes at each position (a lower bound of the arena)."""
        n = max(len(self.order), 1)
        delta = [0] * (n + 1)
        for b in self.buffers:
            delta[b.first] += b.size
            prev = b.size
            for p, sz in b.shrinks:
                delta[p] -= prev - sz
                prev = sz
            delta[b.last + 1] -= prev
        out, cur = [], 0
        for i in range(n):
            cur += delta[i]
            out.append(cur)
        return out


class _Group:
    __slots__ = ("members", "first", "last", "size", "output", "shrinks")

    def __init__(self, v: Value, first: int, last: int, size: int, output: bool) -> None:
        self.members = [v]
        self.first, self.last, self.size, self.output = first, last, size, output
        self.shrinks: list[tuple[int, int]] = []


def analyze(func: Func, order: Sequence[Operation] | None = None, *, alignment: int = 4,
            rule_for: Callable[[Operation], InPlace | None] | None = None,
            scratch_for: Callable[[Operation], int] = default_scratch,
            in_place: bool = True) -> Liveness:
    """Build the buffers of ``func`` executed in ``order`` (default: block order).

    ``in_place=False`` ignores in-place rules but keeps aliases (views);
    ``rule_for=None`` applies neither.
    """
    order = list(order) if order is not None else executable_ops(func)
    pos = {op: i for i, op in enumerate(order)}
    end = max(len(order) - 1, 0)
    outputs = set(func.outputs)
    last: dict[Value, int] = {}
    first: dict[Value, int] = {}
    for a in func.arguments:
        first[a] = 0
        last[a] = 0
    for i, op in enumerate(order):
        for r in op.results:
            first[r] = i
            last[r] = i
        for v in op.operands:
            if v in last:
                last[v] = max(last[v], i)
            elif not is_constant(v):
                raise ValueError(f"{op.name} at position {i} reads a value produced later or not at all")
    for v in outputs:
        if v in last:
            last[v] = end

    groups: dict[Value, _Group] = {}

    def new_group(v: Value) -> None:
        if value_bytes(v) == 0 and v not in outputs:
            return
        groups[v] = _Group(v, first[v], last[v], value_bytes(v), v in outputs)

    for a in func.arguments:
        new_group(a)
    reuse: dict[Operation, int] = {}
    scratch: dict[Operation, Buffer] = {}
    scratch_bufs: list[Buffer] = []
    for i, op in enumerate(order):
        rule = rule_for(op) if rule_for is not None else None
        merged: int | None = None
        if rule is not None and rule.result < len(op.results):
            r = op.results[rule.result]
            if rule.alias:
                k = rule.operands[0]
                g = groups.get(op.operands[k]) if k < len(op.operands) else None
                if g is not None and value_bytes(r) == value_bytes(op.operands[k]):
                    merged = k
            elif in_place and (rule.when is None or op.attr(rule.when)):
                merged = _in_place_operand(op, rule, r, groups, last, i)
            if merged is not None:
                g = groups[op.operands[merged]]
                held = align_up(g.shrinks[-1][1] if g.shrinks else g.size, alignment)
                if align_up(value_bytes(r), alignment) < held and i + 1 <= last[r]:
                    g.shrinks.append((i + 1, value_bytes(r)))  # the rest of the input is dead
                g.members.append(r)
                g.last = max(g.last, last[r])
                g.output = g.output or r in outputs
                groups[r] = g
                reuse[op] = merged
        for j, r in enumerate(op.results):
            if merged is not None and j == rule.result:
                continue
            new_group(r)
        s = scratch_for(op)
        if merged is not None and rule is not None and rule.scratch_attr and not rule.alias:
            s += int(op.attr(rule.scratch_attr) or 0)
        if s > 0:
            b = Buffer(-1, align_up(s, alignment), i, i, [], f"scratch:{op.name}", "scratch", op)
            scratch[op] = b
            scratch_bufs.append(b)

    buffers: list[Buffer] = []
    buffer_of: dict[Value, Buffer] = {}
    seen: dict[int, Buffer] = {}
    for v, g in groups.items():
        b = seen.get(id(g))
        if b is None:
            b = Buffer(len(buffers), align_up(g.size, alignment), g.first, g.last, list(g.members),
                       value_label(g.members[0]),
                       shrinks=tuple((p, align_up(sz, alignment)) for p, sz in g.shrinks))
            seen[id(g)] = b
            buffers.append(b)
        buffer_of[v] = b
    for b in scratch_bufs:
        b.index = len(buffers)
        buffers.append(b)
    return Liveness(order, buffers, buffer_of, scratch, reuse, alignment)


def _in_place_operand(op: Operation, rule: InPlace, r: Value, groups: dict, last: dict,
                      i: int) -> int | None:
    rt = r.type
    if not isinstance(rt, TensorType):
        return None
    for k in rule.operands:
        if k >= len(op.operands):
            continue
        v = op.operands[k]
        g = groups.get(v)
        if g is None or g.output:
            continue
        vt = v.type
        if not isinstance(vt, TensorType):
            continue
        if rule.shrink:
            if rt.nbytes > vt.nbytes:
                continue
        elif vt.nbytes != rt.nbytes or vt.num_elements != rt.num_elements:
            continue
        if g.last > i:  # = any member read later (g.last is their maximum): O(1), not O(members)
            continue
        if any(w is not v and groups.get(w) is g for w in op.operands):
            continue
        return k
    return None


__all__ = ["Buffer", "InPlace", "Liveness", "align_up", "analyze", "default_scratch", "executable_ops",
           "is_constant", "value_bytes", "value_label"]
