"""ONNX element types and names as the IR sees them (shared by the frontend and legalization)."""

from __future__ import annotations

import re

from edgecc.ir.types import ElementType


def sanitize_symbol(name: str, default: str = "model") -> str:
    """A name usable as ``@symbol`` or a resource key (``[A-Za-z_][\\w$.]*``)."""
    s = re.sub(r"[^A-Za-z0-9_$.]", "_", name or "").strip("_")
    if not s:
        return default
    if not re.match(r"[A-Za-z_]", s[0]):
        s = "_" + s
    return s


def onnx_element(code: int) -> ElementType | None:
    """IR element type for an ONNX TensorProto data type (None if unsupported)."""
    from onnx import TensorProto

    from edgecc.ir import types as T

    table = {
        TensorProto.FLOAT: T.f32, TensorProto.FLOAT16: T.f16, TensorProto.DOUBLE: T.f64,
        TensorProto.INT8: T.i8, TensorProto.INT16: T.i16, TensorProto.INT32: T.i32,
        TensorProto.INT64: T.i64, TensorProto.UINT8: T.u8, TensorProto.BOOL: T.i1,
        TensorProto.INT4: T.i4,
    }
    return table.get(int(code))


def onnx_type_name(code: int) -> str:
    from onnx import TensorProto

    try:
        return TensorProto.DataType.Name(int(code))
    except ValueError:
        return f"type {code}"
