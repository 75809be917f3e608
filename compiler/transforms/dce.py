"""Dead code elimination: erase ``Pure`` ops whose results are unused."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from edgecc.ir.core import Module
from edgecc.passes.manager import Pass, PassContext
from edgecc.rewrite.driver import is_trivially_dead


def eliminate_dead_ops(module: Module) -> int:
    """Erase dead ``Pure`` ops (constants included, never ``func.return``); return how many.

    Ops are visited last to first, so a whole dead chain goes in one sweep (a
    user always comes after its producers); sweeps repeat until none erases.
    """
    erased = 0
    while True:
        op = module.func.body.last
        before = erased
        while op is not None:
            prev = op.prev
            if is_trivially_dead(op):
                op.erase()
                erased += 1
            op = prev
        if erased == before:
            return erased


@dataclass
class DCE(Pass):
    """Remove ops without side effects whose results are never used, including dead constants."""

    name: ClassVar[str] = "dce"

    def run(self, module: Module, ctx: PassContext) -> bool:
        n = eliminate_dead_ops(module)
        ctx.stat("ops-erased", n)
        return n > 0
