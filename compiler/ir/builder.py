"""A builder that creates ops at an insertion point."""

from __future__ import annotations

from typing import Any

from edgecc.ir.core import Func, Operation, Value
from edgecc.ir.diagnostics import Location


class Builder:
    """Inserts new ops at the end of a function, or before/after an anchor op.

    ``b.create(ReluOp, x)`` builds through ``Op.build`` (result types
    inferred), inserts, and returns the op.
    """

    def __init__(self, func: Func, loc: Location | None = None) -> None:
        self.func = func
        self.loc = loc
        self._before: Operation | None = None
        self._after: Operation | None = None

    @classmethod
    def before(cls, op: Operation) -> Builder:
        b = cls(op.parent_func(), op.loc)
        b._before = op
        return b

    @classmethod
    def after(cls, op: Operation) -> Builder:
        b = cls(op.parent_func(), op.loc)
        b._after = op
        return b

    def insert(self, op: Operation) -> Operation:
        block = self.func.body
        if self._before is not None:
            block.insert_before(self._before, op)
        elif self._after is not None:
            block.insert_after(self._after, op)
            self._after = op
        elif block.last is not None and block.last.name == "func.return":
            block.insert_before(block.last, op)
        else:
            block.append(op)
        return op

    def create(self, cls, *operands: Any, **kw: Any) -> Operation:
        if "loc" not in kw and self.loc is not None:
            kw["loc"] = self.loc
        return self.insert(cls.build(*operands, **kw))

    def constant(self, array, element=None, name: str | None = None) -> Value:
        from edgecc.dialects.builtin import ConstantOp

        op = ConstantOp.from_array(array, element, loc=self.loc, name=name)
        return self.insert(op).result

    def ret(self, *values: Value) -> Operation:
        from edgecc.dialects.builtin import ReturnOp

        return self.func.body.append(ReturnOp.build(list(values), result_types=[], loc=self.loc))
