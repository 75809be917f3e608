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
    verify_states(module)


def verify_states(module: Module) -> None:
    """Persistent state: declarations well-typed, accesses name a declaration of their type, at most
    one ``state.write`` per state and every read of a state before its write (see dialects/state.py)."""
    from edgecc.ir.attrs import DenseElements
    from edgecc.ir.types import TensorType

    for d in module.states.values():
        if not isinstance(d.type, TensorType):
            raise VerifyError(f"state @{d.name} must have a tensor type, got {d.type}")
        if not isinstance(d.init, DenseElements) or d.init.type != d.type:
            got = d.init.type if isinstance(d.init, DenseElements) else type(d.init).__name__
            raise VerifyError(f"state @{d.name}: initial value has type {got}, the state is {d.type}")
    written: dict[str, Operation] = {}
    for op in module.func.body:
        if op.name not in ("state.read", "state.write"):
            continue
        name = op.attrs.get("state")
        decl = module.states.get(name)
        if decl is None:
            raise op.error(f"refers to undeclared state @{name}")
        v = op.results[0] if op.name == "state.read" else op.operands[0]
        if v.type != decl.type:
            raise op.error(f"has type {v.type} but state @{name} is {decl.type}")
        if op.name == "state.write":
            if name in written:
                raise op.error(f"writes state @{name} a second time")
            written[name] = op
        elif name in written:
            raise op.error(f"reads state @{name} after its state.write")
