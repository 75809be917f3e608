"""The edgecc IR: types, attributes, values, ops, module, builder, verifier."""

from edgecc.ir.attrs import DenseElements
from edgecc.ir.builder import Builder
from edgecc.ir.core import Block, BlockArgument, Func, Module, OpResult, Operation, Use, Value
from edgecc.ir.diagnostics import EdgeccError, Location, ParseError, PassError, VerifyError
from edgecc.ir.types import (
    ElementType,
    FloatType,
    FunctionType,
    IntegerType,
    QuantizedType,
    TensorType,
    Type,
    f16,
    f32,
    i1,
    i4,
    i8,
    i16,
    i32,
    i64,
    quant,
    tensor,
    u8,
)

__all__ = [
    "Block", "BlockArgument", "Builder", "DenseElements", "EdgeccError", "ElementType", "FloatType",
    "Func", "FunctionType", "IntegerType", "Location", "Module", "OpResult", "Operation", "ParseError",
    "PassError", "QuantizedType", "TensorType", "Type", "Use", "Value", "VerifyError", "f16", "f32",
    "i1", "i4", "i8", "i16", "i32", "i64", "quant", "tensor", "u8",
]
