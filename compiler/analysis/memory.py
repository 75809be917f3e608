"""Static memory planning: one arena for every activation tensor and scratch buffer.

``plan_memory(func)`` chooses an op order, builds buffers with their
lifetimes (``edgecc.analysis.liveness``), assigns each buffer an offset in
one arena so that buffers alive at the same time never overlap, and returns
a ``MemoryPlan``: arena size, offset of every value and scratch buffer, the
chosen order, which ops run in place, and a per-op live-bytes table.

Offset assignment
-----------------
The problem is dynamic storage allocation: rectangles with a fixed time
extent (lifetime) and a height (size) are stacked so that rectangles that
overlap in time do not overlap in address; minimise the top. The lower
bound is the largest sum of sizes alive at one position.

*TFLM's greedy planner* (``tflm_greedy``, TensorFlow Lite Micro's
``GreedyMemoryPlanner``) is the baseline: sort the buffers by size, largest
first (ties: the earlier buffer first); place the first at offset 0; place
each next buffer at the lowest offset where it fits between the already
placed buffers *whose lifetimes overlap its own*, walking those in
increasing offset order and stopping at the first gap large enough (or on
top of the last). Large buffers are placed while the arena is empty, so
they pack tightly, and small ones fill the gaps left between them.

edgecc then tries more placements and keeps the smallest arena:

* first fit in other orders (by size x lifetime, by lifetime length, by
  first use) and *best fit* (the gap that leaves the least slack, rather than
  the lowest one) in each order;
* an exact search for small problems (``exact``): every optimal packing is
  reproduced by first-fit placement in the order of its offsets, and that
  order can be taken with non-decreasing placed offsets, so a depth-first
  search over placement orders that only places a buffer at or above the
  previous one, pruned by the best arena so far and stopped at the
  live-bytes lower bound, finds the optimum (a node budget bounds the time:
  past it the best found is returned, marked not proven optimal).

In-place execution
------------------
Which op may write its result over an operand is a table, ``INPLACE_RULES``
(op name -> ``InPlace``), consulted through ``inplace_rule(op)``; an op class
can also declare a class attribute ``inplace`` (backend dialects do). Views
(reshape) alias their operand; elementwise ops and activations reuse an
operand that dies at the op (conditions in ``edgecc.analysis.liveness``).

Order
-----
``edgecc.analysis.schedule.memory_orders`` proposes the block order and
beam-search orders minimising the live-bytes peak; each is planned and the
smallest arena wins (ties keep the block order). Without in-place rules and
in the block order, the plan reproduces TFLM's; the final arena is the
minimum over every candidate, including TFLM greedy on the block order with
no in-place execution, so it is never above it (``tflm_arena`` records that
figure for comparison).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from edgecc.analysis.liveness import (
    Buffer,
    InPlace,
    Liveness,
    align_up,
    analyze,
    default_scratch,
    executable_ops,
    value_label,
)
from edgecc.ir.core import Func, Module, Operation, Value

# ------------------------------------------------------------------ in-place table
_UNARY = ("relu", "clamp", "sigmoid", "tanh", "hard_swish", "hard_sigmoid", "leaky_relu", "exp", "log",
          "sqrt", "rsqrt", "abs", "neg", "erf", "cast", "requantize")
_BINARY = ("add", "sub", "mul", "div", "maximum", "minimum", "pow")

#: op name -> how its result may reuse operand memory (the one place this is decided)
INPLACE_RULES: dict[str, InPlace] = {
    "nn.reshape": InPlace((0,), alias=True),
    **{f"nn.{n}": InPlace((0,)) for n in _UNARY},
    **{f"nn.{n}": InPlace((0, 1)) for n in _BINARY},
    "nn.prelu": InPlace((0,)),
}


def inplace_rule(op: Operation) -> InPlace | None:
    """The in-place rule of ``op``: its ``inplace_for()`` (a rule that depends on the op's own
    geometry), its class attribute ``inplace``, else ``INPLACE_RULES``."""
    per_op = getattr(op, "inplace_for", None)
    if callable(per_op):
        return per_op()
    rule = getattr(type(op), "inplace", None)
    if isinstance(rule, InPlace):
        return rule
    return INPLACE_RULES.get(op.name)


# ------------------------------------------------------------------ offset assignment
def _conflicts(bufs: Sequence[Buffer]) -> list[list[int]]:
    """Lifetime-overlapping pairs by a sweep over start positions: proportional to the number
    of overlaps, not to n^2 (a 10,000-op chain has 10,000, not 50 million pair tests)."""
    import heapq

    n = len(bufs)
    out: list[list[int]] = [[] for _ in range(n)]
    ending: list[tuple[int, int]] = []  # (last, index) of the buffers live at the sweep position
    live: set[int] = set()
    for i in sorted(range(n), key=lambda k: (bufs[k].first, k)):
        while ending and ending[0][0] < bufs[i].first:
            live.discard(heapq.heappop(ending)[1])
        for j in live:
            out[i].append(j)
            out[j].append(i)
        heapq.heappush(ending, (bufs[i].last, i))
        live.add(i)
    for lst in out:
        lst.sort()
    return out


def _place_first_fit(size: int, placed: list[tuple]) -> int:
    """Lowest offset where ``size`` fits among ``placed`` (offset, size[, own size]) entries sorted by
    offset; a third element is the bytes the new buffer holds while that one is live (shrinking
    buffers hold less later in life)."""
    if placed and len(placed[0]) > 2 and any(p[2] != size for p in placed):
        return min(c for c in {0, *(off + sz for off, sz, *_ in placed)} if _fits(c, size, placed))
    cand = 0
    for off, sz, *_ in placed:
        if cand + size <= off:
            break
        cand = max(cand, off + sz)
    return cand


def _fits(c: int, size: int, placed: list[tuple]) -> bool:
    return all(c + (p[2] if len(p) > 2 else size) <= p[0] or c >= p[0] + p[1] for p in placed)


def _place_best_fit(size: int, placed: list[tuple]) -> int:
    """The gap leaving the least slack (lowest on ties); on top when no gap fits."""
    if placed and len(placed[0]) > 2 and any(p[2] != size for p in placed):
        return _place_first_fit(size, placed)  # no single gap size: first fit
    best, best_slack, cand = None, None, 0
    for off, sz, *_ in placed:
        gap = off - cand
        if gap >= size and (best_slack is None or gap - size < best_slack):
            best, best_slack = cand, gap - size
        cand = max(cand, off + sz)
    return best if best is not None else cand


def _placed(bufs: Sequence[Buffer], i: int, offsets: Sequence[int], conflicts: list[list[int]],
            shrinking: bool) -> list[tuple]:
    """(offset, size[, size of ``i``]) of the placed buffers that live together with ``i`` (the third
    element only when some buffer shrinks)."""
    if not shrinking:
        return sorted((offsets[j], bufs[j].size) for j in conflicts[i] if offsets[j] >= 0)
    b = bufs[i]
    return sorted((offsets[j], bufs[j].size_with(b), b.size_with(bufs[j]))
                  for j in conflicts[i] if offsets[j] >= 0)


def place_in_order(bufs: Sequence[Buffer], order: Sequence[int], fit: str = "first",
                   conflicts: list[list[int]] | None = None) -> list[int]:
    """Offsets from placing ``bufs`` one by one in ``order`` (``fit``: "first" or "best")."""
    conflicts = conflicts if conflicts is not None else _conflicts(bufs)
    place = _place_first_fit if fit == "first" else _place_best_fit
    offsets = [-1] * len(bufs)
    shrinking = any(b.shrinks for b in bufs)
    for i in order:
        offsets[i] = place(bufs[i].size, _placed(bufs, i, offsets, conflicts, shrinking))
    return offsets


def tflm_greedy(bufs: Sequence[Buffer]) -> list[int]:
    """TFLM's greedy plan: largest first, first fit among lifetime-overlapping buffers."""
    order = sorted(range(len(bufs)), key=lambda i: (-bufs[i].size, i))
    return place_in_order(bufs, order, "first")


def arena_of(bufs: Sequence[Buffer], offsets: Sequence[int]) -> int:
    return max((o + b.size for b, o in zip(bufs, offsets)), default=0)


def lower_bound(bufs: Sequence[Buffer]) -> int:
    """The largest sum of sizes alive at one position."""
    events: dict[int, int] = {}
    for b in bufs:
        events[b.first] = events.get(b.first, 0) + b.size
        prev = b.size
        for p, sz in b.shrinks:
            events[p] = events.get(p, 0) - (prev - sz)
            prev = sz
        events[b.last + 1] = events.get(b.last + 1, 0) - prev
    cur = best = 0
    for t in sorted(events):
        cur += events[t]
        best = max(best, cur)
    return best


def exact(bufs: Sequence[Buffer], best: int, budget: int = 200_000,
          conflicts: list[list[int]] | None = None) -> tuple[list[int] | None, bool]:
    """Search for an arena smaller than ``best`` (see the module docstring).

    Returns (offsets or None when nothing below ``best`` exists or was found, proven):
    ``proven`` is False when the node budget ran out.
    """
    n = len(bufs)
    conflicts = conflicts if conflicts is not None else _conflicts(bufs)
    lb = lower_bound(bufs)
    if best <= lb:
        return None, True
    sizes = [b.size for b in bufs]
    shrinking = any(b.shrinks for b in bufs)
    by_size = sorted(range(n), key=lambda i: (-sizes[i], i))
    offsets = [-1] * n
    found: list[int] | None = None
    nodes = 0
    bound = best

    def rec(k: int, last_off: int, top: int) -> bool:
        nonlocal nodes, found, bound
        if k == n:
            if top < bound:
                bound, found = top, list(offsets)
            return bound <= lb
        for i in by_size:
            if offsets[i] >= 0:
                continue
            nodes += 1
            if nodes > budget:
                return True
            off = _place_first_fit(sizes[i], _placed(bufs, i, offsets, conflicts, shrinking))
            if off < last_off or max(top, off + sizes[i]) >= bound:
                continue
            offsets[i] = off
            stop = rec(k + 1, off, max(top, off + sizes[i]))
            offsets[i] = -1
            if stop:
                return True
        return False

    rec(0, 0, 0)
    return found, nodes <= budget


@dataclass
class Assignment:
    offsets: list[int]
    arena: int
    strategy: str
    optimal: bool


#: seeded random placement orders tried when some buffer shrinks
_SHUFFLES = 8


def assign_offsets(bufs: Sequence[Buffer], exact_limit: int = 12, budget: int = 200_000) -> Assignment:
    """The smallest arena among the heuristics (and the exact search for small problems)."""
    bufs = list(bufs)
    if not bufs:
        return Assignment([], 0, "empty", True)
    conflicts = _conflicts(bufs)
    n = len(bufs)
    cands: list[tuple[int, str, list[int]]] = []
    g = tflm_greedy(bufs)
    cands.append((arena_of(bufs, g), "tflm-greedy", g))
    keys = {
        "size": lambda i: (-bufs[i].size, i),
        "area": lambda i: (-bufs[i].size * (bufs[i].last - bufs[i].first + 1), i),
        "lifetime": lambda i: (-(bufs[i].last - bufs[i].first), -bufs[i].size, i),
        "first-use": lambda i: (bufs[i].first, -bufs[i].size, i),
    }
    for kname, key in keys.items():
        order = sorted(range(n), key=key)
        for fit in ("first", "best"):
            if kname == "size" and fit == "first":
                continue  # that is tflm-greedy
            offs = place_in_order(bufs, order, fit, conflicts)
            cands.append((arena_of(bufs, offs), f"{fit}-fit-by-{kname}", offs))
    if any(b.shrinks for b in bufs):
        # the fixed orders place a shrinking buffer's successors just above its tail, which the
        # next line buffers then need: a few seeded shuffles find far better fits (vww on M4:
        # 41,600 -> 32,656 B, the lower bound)
        import random

        for seed in range(_SHUFFLES):
            order = list(range(n))
            random.Random(seed).shuffle(order)
            offs = place_in_order(bufs, order, "first", conflicts)
            cands.append((arena_of(bufs, offs), f"first-fit-shuffled-{seed}", offs))
    arena, name, offs = min(cands, key=lambda c: c[0])  # first minimum: prefers tflm-greedy on ties
    lb = lower_bound(bufs)
    optimal = arena <= lb
    if not optimal and n <= exact_limit:
        found, proven = exact(bufs, arena, budget, conflicts)
        if found is not None:
            arena, name, offs = arena_of(bufs, found), "exact", found
        optimal = proven
    return Assignment(list(offs), arena, name, optimal)


def check_no_overlap(bufs: Sequence[Buffer], offsets: Sequence[int] | None = None) -> None:
    """Raise AssertionError when two buffers alive together share bytes (the plan checker)."""
    offs = list(offsets) if offsets is not None else [b.offset for b in bufs]
    for i, a in enumerate(bufs):
        if offs[i] < 0 or offs[i] % 1:
            raise AssertionError(f"{a} has no offset")
        for j in range(i + 1, len(bufs)):
            b = bufs[j]
            if a.size and b.size and a.overlaps(b):
                if offs[i] < offs[j] + b.size_with(a) and offs[j] < offs[i] + a.size_with(b):
                    raise AssertionError(f"{a} at {offs[i]} and {b} at {offs[j]} overlap in time and memory")


# ------------------------------------------------------------------ the plan
@dataclass
class OpRow:
    """One row of the per-op table: bytes alive while the op runs."""

    position: int
    op: str
    label: str
    live_bytes: int
    high_water: int
    in_place: bool


@dataclass
class MemoryPlan:
    """Result of ``plan_memory``; offsets are bytes from the arena base."""

    arena_size: int
    alignment: int
    order: list[Operation]
    liveness: Liveness
    strategy: str
    optimal: bool
    lower_bound: int
    #: TFLM's greedy planner on the block order without in-place execution (same alignment)
    tflm_arena: int
    reordered: bool
    table: list[OpRow] = field(default_factory=list)

    @property
    def buffers(self) -> list[Buffer]:
        return self.liveness.buffers

    def offset(self, v: Value) -> int:
        """Arena offset of an activation value."""
        return self.liveness.buffer_of[v].offset

    def has(self, v: Value) -> bool:
        return v in self.liveness.buffer_of

    def scratch_offset(self, op: Operation) -> int | None:
        b = self.liveness.scratch_of.get(op)
        return b.offset if b is not None else None

    def reuses(self, op: Operation) -> int | None:
        """Operand index whose memory ``op``'s result took (in place or alias), else None."""
        return self.liveness.reuse.get(op)

    @property
    def peak_live(self) -> int:
        return max((r.live_bytes for r in self.table), default=0)

    def check(self) -> None:
        check_no_overlap(self.buffers)
        top = max((b.offset + b.size for b in self.buffers), default=0)
        if top > self.arena_size:
            raise AssertionError(f"buffer ends at {top} beyond the arena ({self.arena_size})")
        for b in self.buffers:
            if b.offset % self.alignment:
                raise AssertionError(f"{b} is not aligned to {self.alignment}")

    def format_table(self) -> str:
        lines = [f"{'#':>4}  {'op':<28} {'live B':>10} {'top B':>10}  in-place  location"]
        for r in self.table:
            lines.append(f"{r.position:>4}  {r.op:<28} {r.live_bytes:>10,} {r.high_water:>10,}  "
                         f"{'yes' if r.in_place else '':<8}  {r.label}")
        return "\n".join(lines)

    def format_plan(self, width: int = 64) -> str:
        """An ASCII picture: one line per buffer, time across, offset and size listed."""
        n = max(len(self.order), 1)
        scale = max(1, -(-n // width))
        cols = -(-n // scale)
        lines = []
        for b in sorted(self.buffers, key=lambda b: (b.offset, b.first)):
            bar = "".join("#" if b.first // scale <= t <= b.last // scale else "." for t in range(cols))
            lines.append(f"{b.offset:>9,} +{b.size:>9,}  {bar}  {b.label}")
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {
            "arena_bytes": self.arena_size,
            "alignment": self.alignment,
            "strategy": self.strategy,
            "optimal": self.optimal,
            "lower_bound": self.lower_bound,
            "tflm_greedy_arena_bytes": self.tflm_arena,
            "reordered": self.reordered,
            "buffers": [{"label": b.label, "kind": b.kind, "offset": b.offset, "size": b.size,
                         "first": b.first, "last": b.last} for b in self.buffers],
            "ops": [vars(r) for r in self.table],
        }


def _label(op: Operation) -> str:
    if op.loc is not None and op.loc.name:
        return op.loc.name
    return value_label(op.results[0]) if op.results else ""


def plan_memory(func: Func | Module, *, alignment: int = 4, in_place: bool = True, reorder: bool = True,
                rule_for: Callable[[Operation], InPlace | None] | None = inplace_rule,
                scratch_for: Callable[[Operation], int] = default_scratch,
                order: Sequence[Operation] | None = None, exact_limit: int = 12) -> MemoryPlan:
    """Plan the arena of ``func`` (see the module docstring).

    ``order`` fixes the op order (no reordering); ``in_place=False`` keeps
    views (reshape aliases) but no in-place writes; ``rule_for=None`` keeps
    neither (every value its own buffer, as TFLM plans).
    """
    if isinstance(func, Module):
        func = func.func
    from edgecc.analysis.schedule import memory_orders

    base = executable_ops(func)
    base_live = analyze(func, base, alignment=alignment, rule_for=None, scratch_for=scratch_for)
    tflm = arena_of(base_live.buffers, tflm_greedy(base_live.buffers))
    if order is not None:
        orders = [list(order)]
    elif reorder:
        orders = memory_orders(func, scratch_for)
    else:
        orders = [base]
    best: tuple[int, int, Liveness, Assignment] | None = None
    configs = [(o, True) for o in orders] + [(base, False)]
    for k, (o, with_rules) in enumerate(configs):
        if with_rules:
            live = analyze(func, o, alignment=alignment, rule_for=rule_for, scratch_for=scratch_for,
                           in_place=in_place)
        elif order is None:
            live = base_live  # the TFLM configuration: never worse than it
        else:
            continue
        a = assign_offsets(live.buffers, exact_limit)
        if best is None or a.arena < best[0]:
            best = (a.arena, k, live, a)
    assert best is not None
    arena, k, live, a = best
    for b, off in zip(live.buffers, a.offsets):
        b.offset = off
    chosen = configs[k][0]
    plan = MemoryPlan(arena_size=align_up(arena, alignment), alignment=alignment, order=list(chosen),
                      liveness=live, strategy=a.strategy, optimal=a.optimal,
                      lower_bound=lower_bound(live.buffers), tflm_arena=tflm,
                      reordered=[id(x) for x in chosen] != [id(x) for x in base])
    plan.table = _table(live)
    return plan


def _table(live: Liveness) -> list[OpRow]:
    rows = []
    for i, op in enumerate(live.order):
        bufs = live.live_at(i)
        rows.append(OpRow(i, op.name, _label(op), sum(b.size_at(i) for b in bufs),
                          max((b.offset + b.size_at(i) for b in bufs), default=0), op in live.reuse))
    return rows


__all__ = ["Assignment", "INPLACE_RULES", "MemoryPlan", "OpRow", "arena_of", "assign_offsets",
           "check_no_overlap", "exact", "inplace_rule", "lower_bound", "place_in_order", "plan_memory",
           "tflm_greedy"]
