"""Common subexpression elimination over ``Pure`` ops."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from edgecc.ir.attrs import attr_key
from edgecc.ir.core import Module, Operation
from edgecc.passes.manager import Pass, PassContext


def op_key(op: Operation) -> tuple[Any, ...]:
    """What makes two ``Pure`` ops interchangeable.

    The name, the operand *identities* (sorted for ``Commutative`` ops), the
    attributes with spec defaults filled in (so ``activation = "none"`` equals
    no attribute; dense data compares by content through ``attr_key``), and
    the result types.
    """
    operands = list(op.operands)
    if op.has_trait("Commutative"):
        operands.sort(key=id)
    attrs = dict(op.attrs)
    if op.spec is not None:
        for k in op.spec.attrs:
            v = op.attr(k)
            if v is not None:
                attrs[k] = v
    return (op.name, tuple(operands),
            tuple(sorted((k, attr_key(v)) for k, v in attrs.items())),
            tuple(op.result_types))


def eliminate_common_subexpressions(module: Module) -> int:
    """Merge each ``Pure`` op into the first earlier op with the same key; return how many."""
    seen: dict[tuple[Any, ...], Operation] = {}
    merged = 0
    for op in module.ops:
        if not op.has_trait("Pure") or not op.results:
            continue
        key = op_key(op)
        first = seen.get(key)
        if first is None:
            seen[key] = op
            continue
        for old, new in zip(op.results, first.results):
            if new.name_hint is None and old.name_hint is not None:
                new.name_hint = old.name_hint
        op.replace_with_values(first.results)
        merged += 1
    return merged


@dataclass
class CSE(Pass):
    """Merge identical side-effect-free ops (same name, operands, attributes and types); keep the first."""

    name: ClassVar[str] = "cse"

    def run(self, module: Module, ctx: PassContext) -> bool:
        n = eliminate_common_subexpressions(module)
        ctx.stat("ops-merged", n)
        return n > 0
