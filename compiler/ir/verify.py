"""Module verifier: structure, SSA dominance, registered ops, per-op specs."""

from __future__ import annotations

from edgecc.ir.core import BlockArgument, Module, OpResult, Operation
from edgecc.ir.diagnostics import VerifyError
from edgecc.ir.spec import lookup_op


def verify_op(op: Operation) -> None:
    if lookup_op(op.name) is None:
        raise op.error("is not a registered op")
    for r in op.results:
        for u in r.uses:
            if u.op.operands[u.index] is not r:
                raise op.error(f"use list of result #{r.index} is inconsistent")
    op.verify()


def verify_module(module: Module) -> None:
    """Raise ``VerifyError`` at the first broken invariant."""
    func = module.func
    defined: set[int] = {id(a) for a in func.arguments}
    for a in func.arguments:
        if a.func is not func:
            raise VerifyError(f"argument #{a.index} belongs to another function")
    last = func.body.last
    if last is None or last.name != "func.return":
        raise VerifyError(f"function @{func.name} must end with func.return")
    for op in func.body:
        if op.parent is not func.body:
            raise op.error("has a wrong parent block")
        if op.name == "func.return" and op is not last:
            raise op.error("must be the last op of the function")
        for i, v in enumerate(op.operands):
            if id(v) not in defined:
                if isinstance(v, OpResult) and v.op.parent is func.body:
                    raise op.error(f"operand #{i} is used before its definition "
                                   f"(by '{v.op.name}'): the graph is not in topological order")
                if isinstance(v, BlockArgument) and v.func is func:
                    continue
                raise op.error(f"operand #{i} is defined outside this function")
        verify_op(op)
        defined.update(id(r) for r in op.results)
