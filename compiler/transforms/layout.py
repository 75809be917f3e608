"""layout: remove the NCHW <-> NHWC transposes the ONNX frontend wraps around NHWC ops.

The frontend lowers each NCHW ONNX op to an NHWC ``nn`` op between
``nn.transpose`` ops (``[0, 2, 3, 1]`` before, ``[0, 3, 1, 2]`` after), so the
layout-agnostic ops between two such ops run in NCHW, fenced by transposes
that do not cancel. This pass moves transposes through those ops until
inverse pairs meet, and canonicalization (run in the same greedy driver)
cancels or merges them.

Moving a transpose through an op rewrites the op in another *frame*: with
``F`` a permutation of the op's rank, axis ``a`` of the op becomes axis
``F[a]``, every operand ``v`` is replaced by ``transpose(v, inverse(F))``
and every result ``y`` by ``transpose(y', F)``. Choosing ``F`` = the perm
of a transposed operand *sinks* that transpose below the op; choosing
``F = inverse(Q)`` for a user ``transpose(y, Q)`` *hoists* it above the op.
The op kinds and how their attributes follow the frame:

- unary elementwise ops (trait ``Elementwise``, one operand), ``nn.cast``,
  ``nn.quantize``, ``nn.dequantize``, ``nn.requantize``: unchanged;
- binary elementwise ops (``Elementwise``, two operands, numpy broadcasting,
  ``nn.prelu`` included): a constant operand is first broadcast to the
  op's rank, then permuted into a new constant; a non-constant operand
  must already have the full rank;
- ``nn.concat``, ``nn.split``, ``nn.softmax``, ``nn.log_softmax``: ``axis``;
- ``nn.pad`` (any mode), ``nn.slice``: the per-dimension lists are permuted;
- ``nn.mean``, ``nn.reduce_sum/max/min``: ``axes``; with ``keepdims = false``
  the result's transpose is the permutation induced on the kept axes (the
  identity, and so no transpose at all, for an NCHW mean over H and W).

Moves are made on one op or on a *region*: the layout-agnostic ops connected
to a transpose through values of its rank (e.g. ``sigmoid`` and ``mul`` of
a swish, which share their input, so neither can move alone). Values inside
a region stay in the new frame; only its boundary gets transposes. A move is
made when it removes more transposes than it creates, counting the ones
canonicalization then cancels (operand transposes left without users,
result transposes that meet their inverse); a move that keeps the count is
made only when it sinks (every non-constant operand was a transpose that
cancels, one of them now unused), so transposes drift towards their
inverses and the process terminates. Costs are only evaluated where
canonicalization has nothing left to merge.

Transposes of constants fold into new constants. Every rewrite is exact:
only data movement changes, each element is computed by the same
arithmetic (reductions and softmax may sum in another order, which the
float64 accumulation of the reference kernels makes invisible). Ops with
per-axis quantized operands or results are left alone.

After the fixed point, a transpose that only moves size-1 dimensions (e.g.
``[N, 1, 1, C]`` to ``[N, C, 1, 1]`` before a flatten) becomes an
``nn.reshape`` when ``transpose_to_reshape`` is set, and reshape chains merge.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from edgecc.dialects.nn import ReshapeOp, TransposeOp
from edgecc.dialects.nn_shapes import normalize_axes, normalize_axis
from edgecc.ir.core import Module, Operation, Value
from edgecc.ir.types import QuantizedType, TensorType
from edgecc.passes.manager import Pass, PassContext
from edgecc.rewrite.driver import Rewriter, apply_greedily
from edgecc.rewrite.pattern import PatternSet, constant_array, producer
from edgecc.transforms.canonicalize import PATTERNS as CANONICALIZE

REDUCTIONS = frozenset({"nn.mean", "nn.reduce_sum", "nn.reduce_max", "nn.reduce_min"})
AXIS_OPS = frozenset({"nn.softmax", "nn.log_softmax", "nn.concat", "nn.split"})
CASTS = frozenset({"nn.cast", "nn.quantize", "nn.dequantize", "nn.requantize"})

LAYOUT_PATTERNS = PatternSet("layout")
RESHAPE_PATTERNS = PatternSet("layout-reshape")

Perm = tuple[int, ...]


# --------------------------------------------------------------- permutations
def inverse(perm: Sequence[int]) -> Perm:
    inv = [0] * len(perm)
    for i, p in enumerate(perm):
        inv[p] = i
    return tuple(inv)


def compose(p1: Sequence[int], p2: Sequence[int]) -> Perm:
    """The perm of ``transpose(transpose(x, p1), p2)``."""
    return tuple(p1[i] for i in p2)


def is_identity(perm: Sequence[int]) -> bool:
    return tuple(perm) == tuple(range(len(perm)))


def permute_type(t: TensorType, perm: Sequence[int]) -> TensorType:
    """The type of ``transpose(v, perm)`` for ``v: t`` (a per-axis quantization axis follows)."""
    e = t.element
    if isinstance(e, QuantizedType) and e.per_axis:
        from dataclasses import replace

        e = replace(e, axis=inverse(perm)[e.axis])
    return TensorType(tuple(t.shape[p] for p in perm), e)


def _per_axis(v: Value) -> bool:
    t = v.type
    return isinstance(t, TensorType) and isinstance(t.element, QuantizedType) and t.element.per_axis


# ------------------------------------------------------------------ op kinds
def layout_kind(op: Operation) -> str | None:
    """How ``op`` follows a change of frame: None when it cannot (layout-specific ops)."""
    name = op.name
    if not name.startswith("nn.") or not op.operands or not op.results:
        return None
    if name in REDUCTIONS:
        return "reduce"
    if name in AXIS_OPS:
        return "axis"
    if name in ("nn.pad", "nn.slice"):
        return "lists"
    if name in CASTS:
        return "unary"
    if op.has_trait("Elementwise"):
        return "unary" if len(op.operands) == 1 else "broadcast"
    return None


def frame_rank(op: Operation, kind: str) -> int:
    if kind == "broadcast":
        return op.results[0].type.rank
    return op.operands[0].type.rank


def _permute_list(values: Sequence[int], F: Perm) -> tuple[int, ...]:
    out = [0] * len(F)
    for k, v in enumerate(values):
        out[F[k]] = v
    return tuple(out)


def _frame_attrs(op: Operation, kind: str, F: Perm) -> tuple[dict, list[Perm]]:
    """Attributes of ``op`` in frame ``F`` and, per result, the perm that restores it."""
    attrs = dict(op.attrs)
    r = len(F)
    result_perms = [F] * len(op.results)
    if kind == "axis":
        attrs["axis"] = F[normalize_axis(op.attr("axis"), r)]
    elif kind == "reduce":
        axes = normalize_axes(op.attr("axes"), r)
        attrs["axes"] = tuple(sorted(F[a] for a in axes))
        if not op.attr("keepdims", True):
            new_axes = {F[a] for a in axes}
            kept_new = [j for j in range(r) if j not in new_axes]
            kept_old = [a for a in range(r) if a not in axes]
            result_perms = [tuple(kept_new.index(F[a]) for a in kept_old)]
    elif kind == "lists":
        if op.name == "nn.pad":
            pads = op.attr("pads")
            attrs["pads"] = _permute_list(pads[:r], F) + _permute_list(pads[r:], F)
        else:
            for key in ("begin", "end", "strides"):
                if op.attr(key) is not None:
                    attrs[key] = _permute_list(op.attr(key), F)
    return attrs, result_perms


# ------------------------------------------------------------------ planning
#: the most ops one region move may rewrite
REGION_LIMIT = 256


@dataclass
class _Plan:
    """Rewriting ``ops`` (in block order) in frame ``F``, and what it gains."""

    ops: list[Operation]
    F: Perm
    attrs: dict[int, dict]
    result_perms: dict[int, list[Perm]]
    gain: int
    sink: bool

    @property
    def acceptable(self) -> bool:
        return self.gain > 0 or (self.gain == 0 and self.sink)


def _pending(tp: Operation) -> bool:
    """Whether canonicalization has yet to fold ``tp`` (identity, or next to another transpose).

    Costs are only counted on canonical neighbourhoods: a transpose about to merge
    with another would be counted twice, and moves could then undo each other.
    """
    return (is_identity(tp.attr("perm")) or producer(tp.operands[0], "nn.transpose") is not None
            or any(u.name == "nn.transpose" for u in tp.result.users))


def fits_frame(op: Operation, r: int) -> bool:
    """Whether ``op`` can be rewritten in a frame of rank ``r``."""
    kind = layout_kind(op)
    if kind is None or frame_rank(op, kind) != r:
        return False
    for v in (*op.operands, *op.results):
        if not isinstance(v.type, TensorType) or _per_axis(v):
            return False
    for v in op.operands:
        if v.type.rank != r and not (kind == "broadcast" and v.type.rank < r
                                     and constant_array(v) is not None):
            return False
    return True


def _in_block_order(ops: list[Operation]) -> list[Operation]:
    """``ops`` sorted by position (so a value made for the first user dominates the others)."""
    if len(ops) < 2:
        return list(ops)
    members = {id(op) for op in ops}
    return [op for op in ops[0].parent if id(op) in members]


def plan_region(ops: Sequence[Operation], F: Perm) -> _Plan | None:
    """Cost and recipe of rewriting ``ops`` together in frame ``F`` (None: not possible).

    Values flowing between the ops stay in the frame; values entering get an
    inverse transpose (nothing for a cancelling transpose, a new constant for a
    constant), values leaving get a transpose back.
    """
    r = len(F)
    if r < 2 or is_identity(F) or not ops:
        return None
    members = {id(op) for op in ops}
    attrs: dict[int, dict] = {}
    perms: dict[int, list[Perm]] = {}
    for op in ops:
        if not fits_frame(op, r):
            return None
        try:
            attrs[id(op)], perms[id(op)] = _frame_attrs(op, layout_kind(op), F)
        except ValueError:  # malformed axes: leave the op to the verifier
            return None
    G = inverse(F)
    added = operand_removed = result_removed = others = cancels = 0
    seen: set[int] = set()
    for op in ops:
        for v in op.operands:
            p = producer(v)
            if p is not None and id(p) in members:
                if perms[id(p)][v.index] != F:
                    return None
                continue
            if id(v) in seen:
                continue
            seen.add(id(v))
            tp = producer(v, "nn.transpose")
            if tp is not None and _pending(tp):
                return None
            all_inside = all(id(u.op) in members for u in v.uses)
            if tp is not None and is_identity(compose(tp.attr("perm"), G)):
                cancels += 1
                operand_removed += all_inside
            elif constant_array(v) is None:
                others += 1
                # a transpose read only by the region merges with the new one: no new op then
                added += not (tp is not None and all_inside)
        for res, Fr in zip(op.results, perms[id(op)]):
            # a transpose nothing reads is dead (dce erases it): neither a cost nor a gain
            outside = {id(u.op): u.op for u in res.uses if id(u.op) not in members
                       and not (u.op.name == "nn.transpose" and not u.op.result.has_uses)}
            if not outside or is_identity(Fr):
                continue
            non_transpose = False
            for u in outside.values():
                if u.name != "nn.transpose":
                    non_transpose = True
                elif _pending(u):
                    return None
                elif is_identity(compose(Fr, u.attr("perm"))):
                    result_removed += 1
            added += non_transpose
    sink = cancels > 0 and others == 0 and operand_removed > 0
    return _Plan(_in_block_order(list(ops)), F, attrs, perms, operand_removed + result_removed - added, sink)


def grow_region(seeds: Sequence[Operation], r: int, limit: int = REGION_LIMIT) -> list[Operation] | None:
    """The ops connected to ``seeds`` through values of rank ``r`` that fit a rank-``r`` frame."""
    region: list[Operation] = []
    members: set[int] = set()
    stack = list(seeds)
    while stack:
        op = stack.pop()
        if id(op) in members or not fits_frame(op, r):
            continue
        members.add(id(op))
        region.append(op)
        if len(region) > limit:
            return None
        for v in op.operands:
            p = producer(v)
            if p is not None and p.name != "nn.transpose" and all(x.type.rank == r for x in p.results):
                stack.append(p)
        if layout_kind(op) == "reduce" and not op.attr("keepdims", True):
            continue
        for res in op.results:
            if res.type.rank == r:
                stack.extend(u for u in res.users if u.name != "nn.transpose")
    return region


def _candidates(op: Operation) -> list[Perm]:
    kind = layout_kind(op)
    if kind is None:
        return []
    r = frame_rank(op, kind)
    found: list[Perm] = []
    for v in op.operands:
        tp = producer(v, "nn.transpose")
        if tp is not None and len(tp.attr("perm")) == r:
            found.append(tuple(tp.attr("perm")))
    for res in op.results:
        if res.type.rank != r:
            continue
        for u in res.users:
            if u.name == "nn.transpose":
                found.append(inverse(u.attr("perm")))
    return list(dict.fromkeys(found))


def best_plan(op: Operation) -> _Plan | None:
    """The most profitable acceptable move of ``op`` alone, if any."""
    best = None
    for F in _candidates(op):
        plan = plan_region([op], F)
        if plan is None or not plan.acceptable:
            continue
        if best is None or (plan.gain, plan.sink) > (best.gain, best.sink):
            best = plan
    return best


def region_plan(tp: Operation) -> _Plan | None:
    """The best acceptable move of the whole region below (sink) or above (hoist) transpose ``tp``."""
    perm = tuple(tp.attr("perm"))
    best = None
    users = [u for u in tp.result.users if layout_kind(u) is not None]
    p = producer(tp.operands[0])
    for seeds, F in ((users, perm), ([p] if p is not None else [], inverse(perm))):
        if not seeds:
            continue
        region = grow_region(seeds, len(perm))
        plan = plan_region(region, F) if region else None
        if plan is not None and plan.acceptable and (best is None or plan.gain > best.gain):
            best = plan
    return best


# ------------------------------------------------------------------- rewrite
def _frame_constant(v: Value, r: int, G: Perm, rw: Rewriter, before: Operation) -> Value:
    t: TensorType = v.type
    if all(d == 1 for d in t.shape):  # broadcasting a single value ignores the layout
        return v
    arr = constant_array(v)
    full = t.with_shape((1,) * (r - t.rank) + t.shape)
    data = np.transpose(arr.reshape(full.shape), G)
    return rw.constant(data, before=before, type=permute_type(full, G), name=v.name_hint,
                       loc=v.owner.loc)


def apply_plan(plan: _Plan, rw: Rewriter) -> list[Operation]:
    """Rewrite the plan's ops in its frame; returns the new ops."""
    F = plan.F
    r, G = len(F), inverse(F)
    members = {id(op) for op in plan.ops}
    mapped: dict[int, Value] = {}  # old result -> its value in the frame
    made: dict[int, Value] = {}  # value from outside -> its value in the frame
    new_ops = []
    for op in plan.ops:
        operands: list[Value] = []
        for v in op.operands:
            if id(v) in mapped:
                operands.append(mapped[id(v)])
                continue
            if id(v) not in made:
                tp = producer(v, "nn.transpose")
                if tp is not None and is_identity(compose(tp.attr("perm"), G)):
                    made[id(v)] = tp.operands[0]
                elif constant_array(v) is not None:
                    made[id(v)] = _frame_constant(v, r, G, rw, op)
                else:
                    made[id(v)] = rw.create(TransposeOp, v, before=op, perm=G,
                                            result_types=[permute_type(v.type, G)]).result
            operands.append(made[id(v)])
        result_perms = plan.result_perms[id(op)]
        types = [permute_type(res.type, inverse(Fr)) for res, Fr in zip(op.results, result_perms)]
        new = type(op).build(operands, result_types=types, loc=op.loc, **plan.attrs[id(op)])
        rw.insert_before(op, new)
        new_ops.append(new)
        for res, new_res, Fr in zip(op.results, new.results, result_perms):
            mapped[id(res)] = new_res
            outside = [u for u in res.uses if id(u.op) not in members]
            if not outside:
                continue
            if is_identity(Fr):
                new_res.name_hint = res.name_hint
                value = new_res
            else:
                value = rw.create(TransposeOp, new_res, before=op, perm=Fr, result_types=[res.type],
                                  result_names=[res.name_hint]).result
            for u in outside:
                rw.set_operand(u.op, u.index, value)
    for op in reversed(plan.ops):
        rw.erase(op)
    return new_ops


def try_move(op: Operation, rw: Rewriter) -> bool:
    plan = best_plan(op)
    if plan is None:
        return False
    apply_plan(plan, rw)
    return True


# ------------------------------------------------------------------ patterns
@LAYOUT_PATTERNS.on("nn.transpose", benefit=2)
def fold_constant_transpose(op: Operation, rw: Rewriter) -> bool:
    """transpose of a builtin.constant -> a new constant holding the permuted data."""
    x = op.operands[0]
    arr = constant_array(x)
    if arr is None:
        return False
    if (_per_axis(x) or _per_axis(op.result)) and permute_type(x.type, op.attr("perm")) != op.result.type:
        return False  # the declared quantization axis does not follow the data
    value = rw.constant(np.transpose(arr, op.attr("perm")), before=op, type=op.result.type,
                        name=op.result.name_hint or op.operands[0].name_hint, loc=op.loc)
    rw.replace_op(op, [value])
    return True


@LAYOUT_PATTERNS.on("*")
def move_transpose(op: Operation, rw: Rewriter) -> bool:
    """Sink a transpose below, or hoist it above, a layout-agnostic op when that pays."""
    if op.name != "nn.transpose":
        return layout_kind(op) is not None and try_move(op, rw)
    if _pending(op):
        return False
    for user in op.result.users:
        if layout_kind(user) is not None and try_move(user, rw):
            return True
    p = producer(op.operands[0])
    if p is not None and layout_kind(p) is not None and try_move(p, rw):
        return True
    plan = region_plan(op)
    if plan is None:
        return False
    apply_plan(plan, rw)
    return True


@RESHAPE_PATTERNS.on("nn.transpose")
def transpose_as_reshape(op: Operation, rw: Rewriter) -> bool:
    """A transpose that keeps the order of the dimensions larger than 1 is a reshape."""
    perm, x = op.attr("perm"), op.operands[0]
    if perm is None or is_identity(perm) or _per_axis(x):
        return False
    kept = [p for p in perm if x.type.shape[p] != 1]
    if kept != sorted(kept):
        return False
    new = rw.create(ReshapeOp, x, before=op, shape=op.result.type.shape, result_types=[op.result.type],
                    result_names=[op.result.name_hint])
    rw.replace_op(op, [new.result])
    return True


# ---------------------------------------------------------------------- pass
@dataclass
class Layout(Pass):
    """Remove layout transposes by moving them through layout-agnostic ops until inverse pairs cancel."""

    name: ClassVar[str] = "layout"
    transpose_to_reshape: bool = field(default=True, metadata={
        "doc": "afterwards, turn transposes that only move size-1 dimensions into reshapes"})
    max_iterations: int = field(default=20, metadata={
        "doc": "sweeps over the module that may change it before giving up (an error)"})

    def run(self, module: Module, ctx: PassContext) -> bool:
        stats: Counter = Counter()
        changed = apply_greedily(module, CANONICALIZE + LAYOUT_PATTERNS,
                                 max_iterations=self.max_iterations, stats=stats)
        if self.transpose_to_reshape:
            changed |= apply_greedily(module, CANONICALIZE + RESHAPE_PATTERNS,
                                      max_iterations=self.max_iterations, stats=stats)
        for key, n in stats.items():
            ctx.stat(key, n)
        return changed


__all__ = ["LAYOUT_PATTERNS", "Layout", "apply_plan", "best_plan", "compose", "fits_frame", "grow_region",
           "inverse", "is_identity", "layout_kind", "permute_type", "plan_region", "region_plan"]
