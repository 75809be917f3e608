"""The generated TFLite schema plus the type tables shared by the reader and the writer.

``S`` is the flatc-generated object API (``_generated/schema_generated.py``,
see its README). This module maps TFLite tensor types to IR element types and
back, and names builtin operators.
"""

from __future__ import annotations

import numpy as np

from edgecc.backends.tflite._generated import schema_generated as S
from edgecc.ir.types import (
    ElementType,
    FloatType,
    IntegerType,
    QuantizedType,
    f16,
    f32,
    f64,
    i1,
    i4,
    i8,
    i16,
    i32,
    i64,
    u8,
)

FILE_IDENTIFIER = b"TFL3"
SCHEMA_VERSION = 3
#: deprecated_builtin_code holds codes below this; larger codes store this placeholder
PLACEHOLDER_FOR_GREATER_OP_CODES = 127

#: builtin operator code -> name ("CONV_2D")
BUILTIN_NAMES: dict[int, str] = {v: k for k, v in vars(S.BuiltinOperator).items()
                                 if not k.startswith("_") and isinstance(v, int)}
#: tensor type code -> name ("INT8")
TYPE_NAMES: dict[int, str] = {v: k for k, v in vars(S.TensorType).items()
                              if not k.startswith("_") and isinstance(v, int)}

_PLAIN: dict[int, ElementType] = {
    S.TensorType.FLOAT32: f32, S.TensorType.FLOAT16: f16, S.TensorType.FLOAT64: f64,
    S.TensorType.INT32: i32, S.TensorType.INT64: i64, S.TensorType.INT16: i16,
    S.TensorType.INT8: i8, S.TensorType.UINT8: u8, S.TensorType.BOOL: i1, S.TensorType.INT4: i4,
}
_CODES: dict[ElementType, int] = {v: k for k, v in _PLAIN.items()}


def builtin_name(code: int) -> str:
    return BUILTIN_NAMES.get(code, f"<builtin {code}>")


def opcode_builtin(opcode) -> int:
    """The builtin code of an ``OperatorCodeT`` (old files store it in the deprecated field)."""
    return max(int(opcode.builtinCode or 0), int(opcode.deprecatedBuiltinCode or 0))


def tensor_type_code(element: ElementType) -> int:
    """The TFLite ``TensorType`` storing ``element`` (quantized types by their storage)."""
    if isinstance(element, QuantizedType):
        element = element.storage
    try:
        return _CODES[element]
    except KeyError:
        raise KeyError(f"no TFLite tensor type for element {element}") from None


def plain_element(code: int) -> ElementType | None:
    return _PLAIN.get(code)


def storage_dtype(element: ElementType) -> np.dtype:
    """numpy dtype of the stored values (int4 stays int8 in memory, packed on write)."""
    return element.numpy


def quantized_element(code: int, scales, zero_points, axis: int) -> ElementType | None:
    """IR quantized element for a TFLite tensor, or None when it is not a quantized kind.

    int8/int16/int4 tensors with scales become ``QuantizedType`` (per-axis when several
    scales); quantization on other types (int32 biases) is dropped by the caller.
    """
    storage = {S.TensorType.INT8: i8, S.TensorType.INT16: i16, S.TensorType.INT4: i4}.get(code)
    if storage is None:
        return None
    scales = [float(s) for s in scales]
    zps = [int(z) for z in zero_points] if zero_points is not None and len(zero_points) else [0]
    if len(zps) == 1 and len(scales) > 1:
        zps = zps * len(scales)
    per_axis = len(scales) > 1
    return QuantizedType(storage, f32, tuple(scales), tuple(zps), axis if per_axis else None)


def pack_int4(values: np.ndarray) -> bytes:
    """Two signed nibbles per byte, low nibble first (TFLite INT4 buffers)."""
    flat = values.astype(np.int8).reshape(-1)
    if flat.size % 2:
        flat = np.concatenate([flat, np.zeros(1, np.int8)])
    lo = flat[0::2].astype(np.uint8) & 0x0F
    hi = (flat[1::2].astype(np.uint8) & 0x0F) << 4
    return (lo | hi).astype(np.uint8).tobytes()


def unpack_int4(data: bytes, count: int) -> np.ndarray:
    raw = np.frombuffer(data, np.uint8)
    lo = (raw & 0x0F).astype(np.int8)
    hi = (raw >> 4).astype(np.int8)
    out = np.empty(raw.size * 2, np.int8)
    out[0::2], out[1::2] = lo, hi
    out = np.where(out > 7, out - 16, out).astype(np.int8)
    return out[:count]


__all__ = ["S", "BUILTIN_NAMES", "FILE_IDENTIFIER", "TYPE_NAMES", "builtin_name", "opcode_builtin",
           "pack_int4", "plain_element", "quantized_element", "tensor_type_code", "unpack_int4",
           "FloatType", "IntegerType"]
