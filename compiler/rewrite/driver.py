"""The ``Rewriter`` (every IR mutation a pattern makes) and the greedy driver.

``apply_greedily(module, patterns)`` keeps a worklist of ops, seeded in
program order. For each op it (1) erases it if it is ``Pure`` and unused,
(2) folds it when every operand is a ``builtin.constant`` and its ``fold``
returns arrays (the results become constants that keep the name hints and
the loc), (3) tries the patterns rooted at its name, best first, until one
fires. The ``Rewriter`` tells the driver about each mutation, and the driver
re-enqueues what it affects: created and modified ops, the users of values
whose uses or types changed, and the producers of operands that lost or
gained a use (they may now be dead or single-use).

One sweep drains the worklist; sweeps repeat until one changes nothing. A
sweep that exceeds its rewrite budget, or more than ``max_iterations``
changing sweeps, raise ``PassError`` naming the patterns that fired last.
``EDGECC_TRACE_REWRITES=1`` prints ``pattern @ loc`` for every rewrite.
"""

from __future__ import annotations

import os
import sys
from collections import Counter, deque
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

import numpy as np

from edgecc.ir.attrs import DenseElements
from edgecc.ir.core import Module, Operation, OpResult, Value
from edgecc.ir.diagnostics import UNKNOWN, EdgeccError, Location, PassError
from edgecc.ir.types import Type
from edgecc.rewrite.pattern import CONSTANT, PatternSet


class RewriteListener(Protocol):
    def touched(self, op: Operation) -> None:
        """``op`` was created or changed, or its operands/results' neighbours did."""

    def erased(self, op: Operation) -> None:
        """``op`` left the IR."""


def op_location(op: Operation) -> Location:
    """The location diagnostics use for ``op`` (its loc, completed by its text position)."""
    return op.location


def describe_loc(op: Operation) -> str:
    return op_location(op).describe()


class Rewriter:
    """Mutates the IR and notifies a listener (the greedy driver) of each change.

    ``mutations`` counts the changes made, so a driver can tell whether a
    pattern that returned True really changed anything.
    """

    def __init__(self, listener: RewriteListener | None = None) -> None:
        self.listener = listener
        self.mutations = 0

    # -- notifications ----------------------------------------------------
    def _touch(self, op: Operation | None) -> None:
        if op is not None and op.parent is not None and self.listener is not None:
            self.listener.touched(op)

    def _touch_users(self, value: Value) -> None:
        for use in value.uses:
            self._touch(use.op)

    def _touch_producer(self, value: Value) -> None:
        if isinstance(value, OpResult):
            self._touch(value.op)

    # -- creating and inserting ---------------------------------------------
    def insert_before(self, anchor: Operation, op: Operation) -> Operation:
        """Insert the detached ``op`` just before ``anchor``."""
        if anchor.parent is None:
            raise ValueError(f"cannot insert before {anchor.name}: it is not in a block")
        anchor.parent.insert_before(anchor, op)
        self._inserted(op)
        return op

    def insert_after(self, anchor: Operation, op: Operation) -> Operation:
        """Insert the detached ``op`` just after ``anchor``."""
        if anchor.parent is None:
            raise ValueError(f"cannot insert after {anchor.name}: it is not in a block")
        anchor.parent.insert_after(anchor, op)
        self._inserted(op)
        return op

    def _inserted(self, op: Operation) -> None:
        self.mutations += 1
        self._touch(op)
        for v in op.operands:
            self._touch_producer(v)

    def create(self, cls: type[Operation] | str, *operands: Any, before: Operation | None = None,
               after: Operation | None = None, **kw: Any) -> Operation:
        """Build ``cls`` (a class or an op name) with ``cls.build`` and insert it.

        Keywords are attributes, plus ``result_types``/``loc``/``result_names``;
        the loc defaults to the anchor's.
        """
        if isinstance(cls, str):
            from edgecc.ir.spec import lookup_op

            found = lookup_op(cls)
            if found is None:
                raise KeyError(f"unknown op {cls}")
            cls = found
        anchor = before if before is not None else after
        if anchor is None or (before is not None and after is not None):
            raise TypeError("Rewriter.create needs exactly one of before= or after=")
        kw.setdefault("loc", anchor.loc)
        op = cls.build(*operands, **kw)
        return self.insert_before(before, op) if before is not None else self.insert_after(after, op)

    def constant(self, array: Any, *, before: Operation, type: Type | None = None,
                 name: str | None = None, loc: Location | None = None) -> Value:
        """Insert a ``builtin.constant`` holding ``array`` (typed ``type`` when given)."""
        from edgecc.dialects.builtin import ConstantOp

        if isinstance(array, DenseElements):
            dense = array
        elif type is not None:
            dense = DenseElements(array, type)
        else:
            dense = DenseElements.from_numpy(array)
        op = ConstantOp.build(value=dense, result_types=[dense.type], loc=loc or before.loc,
                              result_names=[name])
        return self.insert_before(before, op).result

    # -- replacing and erasing ------------------------------------------
    def replace_all_uses(self, old: Value, new: Value, exclude: Iterable[Operation] = ()) -> None:
        """Point every use of ``old`` at ``new``, except uses by the ops in ``exclude``."""
        if old is new:
            return
        skip = set(exclude)
        users = [op for op in old.users if op not in skip]
        if not users:
            return
        self.mutations += 1
        for use in [u for u in old.uses if u.op not in skip]:
            use.op.set_operand(use.index, new)
        for op in users:
            self._touch(op)
        self._touch_producer(new)
        self._touch_producer(old)

    def replace_op(self, op: Operation, values: Sequence[Value]) -> None:
        """Replace each result of ``op`` by the matching value, then erase ``op``."""
        if len(values) != len(op.results):
            raise ValueError(f"{op.name}: {len(values)} replacement values for {len(op.results)} results")
        for r, v in zip(op.results, values):
            if isinstance(v, OpResult) and v.op is op:
                raise ValueError(f"{op.name}: cannot replace a result with a result of the same op")
            self.replace_all_uses(r, v)
        self.erase(op)

    def replace_with(self, op: Operation, new_op: Operation) -> Operation:
        """Insert the detached ``new_op`` before ``op``, take over its uses, erase ``op``.

        ``new_op`` inherits ``op``'s loc (when it has none) and result name hints
        (for results that have none).
        """
        if new_op.loc == UNKNOWN:
            new_op.loc = op.loc
        for old, new in zip(op.results, new_op.results):
            if new.name_hint is None:
                new.name_hint = old.name_hint
        if new_op.parent is None:
            self.insert_before(op, new_op)
        self.replace_op(op, new_op.results)
        return new_op

    def erase(self, op: Operation) -> None:
        """Remove ``op``; its results must be unused."""
        operands = op.operands
        op.erase()
        self.mutations += 1
        if self.listener is not None:
            self.listener.erased(op)
        for v in operands:
            self._touch_producer(v)

    # -- modifying in place ---------------------------------------------
    def set_attr(self, op: Operation, key: str, value: Any) -> None:
        """Set (or with None, remove) an attribute."""
        op.set_attr(key, value)
        self._modified(op)

    def set_operand(self, op: Operation, index: int, value: Value) -> None:
        old = op.operands[index]
        op.set_operand(index, value)
        self._modified(op)
        self._touch_producer(old)
        self._touch_producer(value)

    def set_operands(self, op: Operation, values: Sequence[Value]) -> None:
        old = op.operands
        op.set_operands(values)
        self._modified(op)
        for v in (*old, *values):
            self._touch_producer(v)

    def set_type(self, value: Value, type: Type) -> None:
        """Retype a value (its producer and users are revisited)."""
        value.type = type
        self.mutations += 1
        self._touch_producer(value)
        self._touch_users(value)

    def modified(self, op: Operation) -> None:
        """Report an in-place change made without the methods above."""
        self._modified(op)

    def _modified(self, op: Operation) -> None:
        self.mutations += 1
        self._touch(op)
        for r in op.results:
            self._touch_users(r)


class _Worklist:
    """LIFO worklist of ops with membership (an op is queued at most once)."""

    def __init__(self) -> None:
        self.stack: list[Operation] = []
        self.members: set[Operation] = set()

    def push(self, op: Operation) -> None:
        if op not in self.members:
            self.members.add(op)
            self.stack.append(op)

    def pop(self) -> Operation | None:
        while self.stack:
            op = self.stack.pop()
            if op in self.members:
                self.members.discard(op)
                return op
        return None

    def discard(self, op: Operation) -> None:
        self.members.discard(op)


def is_trivially_dead(op: Operation) -> bool:
    """A ``Pure`` op (never a terminator) whose results are all unused."""
    return (op.has_trait("Pure") and not op.has_trait("Terminator") and op.name != "func.return"
            and bool(op.results) and not any(r.uses for r in op.results))


class GreedyDriver:
    """Applies a ``PatternSet`` (plus folding and dead-op removal) to a fixed point."""

    def __init__(self, patterns: PatternSet, *, fold: bool = True, dce: bool = True,
                 max_rewrites: int | None = None, stats: Counter | None = None,
                 trace: bool | None = None) -> None:
        self.patterns = patterns
        self.fold = fold
        self.dce = dce
        self.max_rewrites = max_rewrites
        self.stats = stats
        if trace is None:
            trace = os.environ.get("EDGECC_TRACE_REWRITES", "") not in ("", "0")
        self.trace = trace
        self.worklist = _Worklist()
        self.rewriter = Rewriter(self)
        self.recent: deque[str] = deque(maxlen=6)

    # listener
    def touched(self, op: Operation) -> None:
        self.worklist.push(op)

    def erased(self, op: Operation) -> None:
        self.worklist.discard(op)

    def _fired(self, label: str, op_loc: str) -> None:
        entry = f"{label} @ {op_loc}"
        self.recent.append(entry)
        if self.stats is not None:
            self.stats[label] += 1
        if self.trace:
            sys.stderr.write(entry + "\n")

    def sweep(self, module: Module) -> bool:
        """Drain one worklist seeded with every op; return whether the IR changed."""
        ops = list(module.ops)
        for op in reversed(ops):
            self.worklist.push(op)
        budget = self.max_rewrites if self.max_rewrites is not None else max(1000, 20 * len(ops))
        rewrites = 0
        while (op := self.worklist.pop()) is not None:
            if op.parent is None:
                continue
            if self._process(op):
                rewrites += 1
                if rewrites > budget:
                    raise PassError(f"pattern rewriting did not converge: more than {budget} rewrites in "
                                    f"one sweep; last rewrites: {'; '.join(self.recent)}")
        return rewrites > 0

    def _process(self, op: Operation) -> bool:
        rw = self.rewriter
        if self.dce and is_trivially_dead(op):
            rw.erase(op)
            self._fired(f"dce({op.name})", describe_loc(op))
            return True
        if self.fold and self._try_fold(op):
            return True
        for pattern in self.patterns.for_op(op):
            before = rw.mutations
            fired = pattern.fn(op, rw)
            if fired and rw.mutations == before:
                raise PassError(f"pattern '{pattern.name}' reported a change on '{op.name}' but "
                                f"made none through the rewriter", op_location(op))
            if rw.mutations != before:  # a change counts even if the pattern forgot to say so
                self._fired(pattern.name, describe_loc(op))
                return True
        return False

    def _try_fold(self, op: Operation) -> bool:
        fold = getattr(op, "fold", None)
        if fold is None or op.name == CONSTANT or op.has_trait("ConstantLike") or not op.results:
            return False
        inputs = []
        for v in op.operands:
            if not (isinstance(v, OpResult) and v.op.name == CONSTANT):
                return False
            inputs.append(v.op.attrs["value"].array)
        try:
            outputs = fold(inputs)
        except EdgeccError:
            raise
        except Exception as e:
            raise PassError(f"folding '{op.name}' failed: {type(e).__name__}: {e}", op_location(op)) from e
        if outputs is None:
            return False
        if len(outputs) != len(op.results):
            raise PassError(f"'{op.name}' fold returned {len(outputs)} arrays for {len(op.results)} "
                            f"results", op_location(op))
        datas = []
        for r, arr in zip(op.results, outputs):
            arr = np.asarray(arr)
            if arr.size != r.type.num_elements:
                raise PassError(f"'{op.name}' fold returned shape {arr.shape} for result type {r.type}",
                                op_location(op))
            datas.append(DenseElements(arr, r.type))
        values = [self.rewriter.constant(d, before=op, name=r.name_hint, loc=op.loc)
                  for r, d in zip(op.results, datas)]
        self.rewriter.replace_op(op, values)
        self._fired(f"fold({op.name})", describe_loc(op))
        return True


def apply_greedily(module: Module, patterns: PatternSet, *, max_iterations: int = 10,
                   fold: bool = True, dce: bool = True, max_rewrites: int | None = None,
                   stats: Counter | None = None, trace: bool | None = None) -> bool:
    """Rewrite ``module`` with ``patterns`` until nothing applies; return whether it changed.

    At most ``max_iterations`` sweeps may change the IR; the sweep after them
    must find nothing to do, otherwise ``PassError``. ``max_rewrites`` bounds
    the rewrites in one sweep (default: 20 per op, at least 1000). ``stats``
    (a Counter) receives one count per fired pattern, fold and dead op.
    """
    driver = GreedyDriver(patterns, fold=fold, dce=dce, max_rewrites=max_rewrites, stats=stats,
                          trace=trace)
    changed = False
    for _ in range(max_iterations + 1):
        if not driver.sweep(module):
            return changed
        changed = True
    raise PassError(f"pattern rewriting did not converge after {max_iterations} iterations; "
                    f"last rewrites: {'; '.join(driver.recent)}")


__all__ = ["GreedyDriver", "RewriteListener", "Rewriter", "apply_greedily", "describe_loc",
           "is_trivially_dead"]
