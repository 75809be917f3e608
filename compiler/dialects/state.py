"""Persistent state ops: read and write a module-level ``state @name`` declaration (attribute ``state``).

A streaming model (keyword spotting, noise suppression, an RNN cell run one step
per call) keeps tensors between invocations. The module declares each such
tensor once (``Module.states``: name, type, initial value); ``state.read``
yields its value at the start of the invocation and ``state.write`` sets the
value the next invocation reads. Reads of a state come before its (single)
write in op order, so executors may copy at either point; the module verifier
checks names, types and that order (``edgecc.ir.verify``).
"""

from __future__ import annotations

from edgecc.ir.spec import ANY_TENSOR, Dialect, Op, Str, attr, operand, result

state = Dialect("state", "Persistent state kept across invocations.")


@state.op("read")
class ReadOp(Op):
    """The value of state ``@name`` at the start of this invocation (its type is the state's)."""

    output = result(ANY_TENSOR)
    state = attr(Str(), required=True, doc="name of the state declaration read")
    traits = {"StateAccess"}


@state.op("write")
class WriteOp(Op):
    """Sets state ``@name`` for the next invocation; comes after every read of ``@name``."""

    value = operand(ANY_TENSOR)
    state = attr(Str(), required=True, doc="name of the state declaration written")
    traits = {"StateAccess"}

    def infer_types(self):
        return []


def state_ops(module, kind: str | None = None):
    """The ``state.read`` / ``state.write`` ops of ``module`` (``kind``: "read" or "write")."""
    names = ("state.read", "state.write") if kind is None else (f"state.{kind}",)
    return [op for op in module.ops if op.name in names]


__all__ = ["ReadOp", "WriteOp", "state", "state_ops"]
