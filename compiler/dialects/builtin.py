"""Structural ops: ``func.return`` ends the graph, ``builtin.constant`` holds tensor data."""

from __future__ import annotations

from edgecc.ir.attrs import DenseElements
from edgecc.ir.spec import ANY_TENSOR, Dense, Dialect, Op, attr, operand, result

func = Dialect("func", "Function structure.")
builtin = Dialect("builtin", "Core ops shared by every dialect.")


@func.op("return")
class ReturnOp(Op):
    """Ends the function; its operands are the model outputs."""

    values = operand(ANY_TENSOR, variadic=True)
    traits = {"Terminator"}


@builtin.op("constant")
class ConstantOp(Op):
    """A tensor constant (weights, biases, shapes): result type equals the data's type."""

    output = result(ANY_TENSOR)
    value = attr(Dense(), required=True, doc="the data")
    traits = {"Pure", "ConstantLike"}

    @classmethod
    def from_array(cls, array, element=None, loc=None, name=None, resource=None) -> ConstantOp:
        dense = array if isinstance(array, DenseElements) else DenseElements.from_numpy(
            array, element, resource)
        return cls.build(value=dense, result_types=[dense.type], loc=loc, result_names=[name])

    def infer_types(self):
        return [self.attrs["value"].type]

    def verify_(self) -> None:
        if self.attrs["value"].type != self.output.type:
            raise self.error(f"value type {self.attrs['value'].type} differs from result type "
                             f"{self.output.type}")

    def fold(self, inputs):
        return [self.attrs["value"].array]
