"""Operator orders that lower the memory peak of branching graphs.

On a chain every topological order is the same; on a graph with branches
(residual blocks, fire modules, unrolled RNN gates) the order decides which
tensors are alive together. ``memory_orders(func)`` proposes candidate
orders; the memory planner evaluates each with its real offset assignment
and keeps the best (the block order is always a candidate, so reordering
never makes the arena larger).

The search is a beam search over partial schedules. A state is the set of
ops already run (a bit mask); its cost is the peak of the *live bytes* seen
so far, where running op ``o`` after the set ``S`` needs

    live(S) + bytes(results of o) + scratch(o)

and ``live(S)`` counts every arena value produced by ``S`` (or a graph
input) that still has a user outside ``S`` or is a graph output. States
with the same executed set are merged (keeping the lower peak); each level
keeps the ``width`` best states by (peak, live bytes, position in the block
order). With a width at least the number of distinct executed sets this is
an exact dynamic program over the live-bytes proxy; width 1 is the usual
greedy "run the op that frees the most" heuristic.
"""

from __future__ import annotations

from collections.abc import Callable

from edgecc.ir.core import Func, Operation, Value
from edgecc.analysis.liveness import default_scratch, executable_ops, is_constant, value_bytes


def _graph(func: Func, ops: list[Operation]):
    index = {op: i for i, op in enumerate(ops)}
    preds = [0] * len(ops)
    values: dict[Value, int] = {}
    for a in func.arguments:
        values.setdefault(a, len(values))
    for op in ops:
        for r in op.results:
            values.setdefault(r, len(values))
    users = [0] * len(values)
    for i, op in enumerate(ops):
        for v in op.operands:
            p = v.defining_op()
            if p is not None and p in index:
                preds[i] |= 1 << index[p]
            if v in values:
                users[values[v]] |= 1 << i
    return index, preds, values, users


def beam_order(func: Func, width: int = 64, scratch_for: Callable[[Operation], int] = default_scratch,
               size_of: Callable[[Value], int] = value_bytes) -> list[Operation]:
    """A topological order found by beam search over the live-bytes proxy (see module doc)."""
    ops = executable_ops(func)
    n = len(ops)
    if n <= 1:
        return ops
    index, preds, values, users = _graph(func, ops)
    outputs = {values[v] for v in func.outputs if v in values}
    size = [0] * len(values)
    for v, k in values.items():
        if not is_constant(v):
            size[k] = size_of(v)
    ins = [sorted({values[v] for v in op.operands if v in values}) for op in ops]
    outs = [[values[r] for r in op.results] for op in ops]
    alloc = [sum(size[k] for k in outs[i]) + scratch_for(ops[i]) for i in range(n)]
    res_bytes = [sum(size[k] for k in outs[i]) for i in range(n)]
    # dead results (no users, not outputs) are freed right after their op
    dead_res = [sum(size[k] for k in outs[i] if not users[k] and k not in outputs) for i in range(n)]
    live0 = sum(size[values[a]] for a in func.arguments if users[values[a]] or values[a] in outputs)
    succs: list[list[int]] = [[] for _ in range(n)]
    for j, op in enumerate(ops):  # from the operands: scanning preds[j]'s bits is O(n^2) per op
        for p in sorted({index[d] for d in (v.defining_op() for v in op.operands) if d in index}):
            succs[p].append(j)
    ready0 = tuple(i for i in range(n) if not preds[i])
    # state: mask -> (peak, live, order tuple, ready ops)
    states: dict[int, tuple] = {0: (live0, live0, (), ready0)}
    full = (1 << n) - 1
    for _ in range(n):
        nxt: dict[int, tuple] = {}
        for mask, (peak, live, order, ready) in states.items():
            for i in ready:
                m2 = mask | (1 << i)
                need = live + alloc[i]
                freed = dead_res[i]
                for k in ins[i]:
                    if k not in outputs and not (users[k] & ~m2):
                        freed += size[k]
                key = (max(peak, need), live + res_bytes[i] - freed, order + (i,))
                old = nxt.get(m2)
                if old is None or key < old[:3]:
                    r2 = tuple(sorted([x for x in ready if x != i]
                                      + [j for j in succs[i] if not (preds[j] & ~m2)]))
                    nxt[m2] = key + (r2,)
        if len(nxt) > width:
            states = dict(sorted(nxt.items(), key=lambda kv: kv[1][:3])[:width])
        else:
            states = nxt
    best = states[full]
    return [ops[i] for i in best[2]]


#: above this many ops only the greedy (width 1) order is tried besides the block order
BEAM_MAX_OPS = 2000


def memory_orders(func: Func, scratch_for: Callable[[Operation], int] = default_scratch,
                  widths: tuple[int, ...] = (1, 64)) -> list[list[Operation]]:
    """Candidate orders: the block order first, then beam-search orders (deduplicated)."""
    base = executable_ops(func)
    out = [base]
    seen = {tuple(id(o) for o in base)}
    n = len(base)
    for w in widths:
        if n > 400 and w > 16:  # keep compile time bounded on very long graphs
            w = 16
        if n > BEAM_MAX_OPS and w > 1:  # each step copies O(n) state: width x n^2 overall
            continue
        order = beam_order(func, w, scratch_for)
        key = tuple(id(o) for o in order)
        if key not in seen:
            seen.add(key)
            out.append(order)
    return out


__all__ = ["beam_order", "memory_orders"]
