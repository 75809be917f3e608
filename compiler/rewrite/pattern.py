"""Rewrite patterns: plain functions keyed by the name of their root op.

::

    patterns = PatternSet("canonicalize")

    @patterns.on("nn.reshape", benefit=1)
    def reshape_noop(op, rw) -> bool:
        \"\"\"reshape to the input's own shape is the input.\"\"\"
        if op.result.type != op.operands[0].type:
            return False
        rw.replace_op(op, [op.operands[0]])
        return True

A pattern returns True when it changed the IR, and must make every change
through the ``Rewriter`` it is given (so the driver's worklist stays right).
``"*"`` roots a pattern on every op. Sets compose with ``+``; for one op,
patterns are tried by decreasing benefit, then in registration order.
This module also holds small matchers patterns share (``constant_array``,
``producer``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from edgecc.ir.core import Operation, OpResult, Value

if TYPE_CHECKING:
    from edgecc.rewrite.driver import Rewriter

PatternFn = Callable[[Operation, "Rewriter"], bool]

ANY = "*"
CONSTANT = "builtin.constant"


@dataclass(frozen=True)
class Pattern:
    """A registered pattern: its root op name (or ``"*"``), function, benefit and name."""

    root: str
    fn: PatternFn
    benefit: int = 1
    name: str = ""

    @property
    def doc(self) -> str:
        return (self.fn.__doc__ or "").strip()

    def __call__(self, op: Operation, rw: Rewriter) -> bool:
        return self.fn(op, rw)


def _root_name(root: str | type[Operation]) -> str:
    if isinstance(root, str):
        return root
    name = getattr(root, "name", None)
    if not isinstance(name, str) or "." not in name:
        raise TypeError(f"pattern root must be an op name or a registered op class, got {root!r}")
    return name


class PatternSet:
    """An ordered collection of patterns, indexed by root op name."""

    def __init__(self, name: str = "", patterns: Iterable[Pattern] = ()) -> None:
        self.name = name
        self._patterns: list[Pattern] = []
        self._cache: dict[str, list[Pattern]] = {}
        for p in patterns:
            self.add(p)

    def on(self, *roots: str | type[Operation], benefit: int = 1, name: str | None = None):
        """Decorator registering ``fn(op, rw) -> bool`` for each root op (name or class)."""
        if not roots:
            raise TypeError("PatternSet.on needs at least one root op name (or '*')")

        def register(fn: PatternFn) -> PatternFn:
            for root in roots:
                self.add(Pattern(_root_name(root), fn, benefit, name or fn.__name__))
            return fn

        return register

    def add(self, pattern: Pattern) -> None:
        if any(p.root == pattern.root and p.fn is pattern.fn for p in self._patterns):
            return
        self._patterns.append(pattern)
        self._cache.clear()

    def for_op(self, op: Operation) -> list[Pattern]:
        """Patterns that may match ``op``, best first."""
        found = self._cache.get(op.name)
        if found is None:
            order = {id(p): i for i, p in enumerate(self._patterns)}
            found = [p for p in self._patterns if p.root == op.name or p.root == ANY]
            found.sort(key=lambda p: (-p.benefit, order[id(p)]))
            self._cache[op.name] = found
        return found

    def names(self) -> list[str]:
        out: list[str] = []
        for p in self._patterns:
            if p.name not in out:
                out.append(p.name)
        return out

    def without(self, names: Iterable[str]) -> PatternSet:
        """A copy without the patterns called ``names`` (``KeyError`` on an unknown name)."""
        drop = set(names)
        unknown = drop - set(self.names())
        if unknown:
            raise KeyError(", ".join(sorted(unknown)))
        return PatternSet(self.name, [p for p in self._patterns if p.name not in drop])

    def __add__(self, other: PatternSet) -> PatternSet:
        name = "+".join(n for n in (self.name, other.name) if n)
        return PatternSet(name, [*self._patterns, *other._patterns])

    def __iter__(self) -> Iterator[Pattern]:
        return iter(self._patterns)

    def __len__(self) -> int:
        return len(self._patterns)

    def __repr__(self) -> str:
        return f"PatternSet({self.name!r}, {len(self)} patterns)"


# ------------------------------------------------------------------ matchers
def producer(value: Value, name: str | None = None) -> Operation | None:
    """The op defining ``value`` (None for an argument), if it is called ``name`` when given."""
    if not isinstance(value, OpResult):
        return None
    if name is not None and value.op.name != name:
        return None
    return value.op


def constant_array(value: Value) -> np.ndarray | None:
    """The data of ``value`` when a ``builtin.constant`` defines it."""
    op = producer(value, CONSTANT)
    if op is None:
        return None
    return op.attrs["value"].array


def is_splat(value: Value, scalar: float) -> bool:
    """Whether ``value`` is a constant whose elements all equal ``scalar``."""
    arr = constant_array(value)
    return arr is not None and arr.size > 0 and bool(np.all(arr == scalar))


__all__ = ["ANY", "Pattern", "PatternFn", "PatternSet", "constant_array", "is_splat", "producer"]
