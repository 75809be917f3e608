"""IR types: element types, quantized element types and tensor types.

Types are frozen, hashable dataclasses so they can be compared with ``==``,
used as dict keys and shared freely between values. Quantized types are
*element* types (``tensor<1x8x!quant.uniform<i8:f32, 0.5:-3>>``), so ops stay
generic over float and integer execution and the quantization pass only
retypes values.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

import numpy as np

from edgecc.ir.limits import check_shape


class Type:
    """Base of every IR type."""

    def __str__(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError


class ElementType(Type):
    """Base of the scalar types a tensor can hold."""

    #: bit width of one element as stored
    bits: int

    @property
    def kind(self) -> str:
        """Short name used by op constraints (``f32``, ``i8``, ``qi8`` ...)."""
        return str(self)


@dataclass(frozen=True)
class FloatType(ElementType):
    bits: int

    def __post_init__(self) -> None:
        if self.bits not in (16, 32, 64):
            raise ValueError(f"unsupported float width {self.bits}")

    def __str__(self) -> str:
        return f"f{self.bits}"

    @property
    def numpy(self) -> np.dtype:
        return np.dtype(f"float{self.bits}")


@dataclass(frozen=True)
class IntegerType(ElementType):
    """Signless-as-signed integers ``iN`` and unsigned ``uN``; ``i1`` is bool."""

    bits: int
    signed: bool = True

    def __post_init__(self) -> None:
        if self.bits not in (1, 4, 8, 16, 32, 64):
            raise ValueError(f"unsupported integer width {self.bits}")

    def __str__(self) -> str:
        return f"{'i' if self.signed else 'u'}{self.bits}"

    @property
    def numpy(self) -> np.dtype:
        if self.bits == 1:
            return np.dtype(np.bool_)
        if self.bits == 4:  # one signed nibble per int8 in memory; packing is a backend concern
            return np.dtype(np.int8 if self.signed else np.uint8)
        return np.dtype(f"{'' if self.signed else 'u'}int{self.bits}")

    @property
    def min(self) -> int:
        if self.bits == 1:
            return 0
        return -(1 << (self.bits - 1)) if self.signed else 0

    @property
    def max(self) -> int:
        if self.bits == 1:
            return 1
        return (1 << (self.bits - 1)) - 1 if self.signed else (1 << self.bits) - 1


@dataclass(frozen=True)
class QuantizedType(ElementType):
    """Uniform affine quantization: ``real = scale * (stored - zero_point)``.

    Per-tensor when ``axis`` is None (one scale and zero point), per-axis
    otherwise (one pair per index along ``axis``). ``qmin``/``qmax`` give the
    storage range; a narrow range (e.g. ``[-127, 127]`` for int8 weights) is
    printed explicitly, the full range of the storage type is implied.
    """

    storage: IntegerType
    expressed: FloatType
    scales: tuple[float, ...]
    zero_points: tuple[int, ...]
    axis: int | None = None
    qmin: int | None = None
    qmax: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "scales", tuple(float(s) for s in self.scales))
        object.__setattr__(self, "zero_points", tuple(int(z) for z in self.zero_points))
        if self.qmin is None:
            object.__setattr__(self, "qmin", self.storage.min)
        if self.qmax is None:
            object.__setattr__(self, "qmax", self.storage.max)
        if len(self.scales) != len(self.zero_points) or not self.scales:
            raise ValueError("quantized type needs as many scales as zero points (at least one)")
        if self.axis is None and len(self.scales) != 1:
            raise ValueError("per-tensor quantized type takes exactly one scale")
        if not (self.storage.min <= self.qmin <= self.qmax <= self.storage.max):
            raise ValueError(f"storage range [{self.qmin}, {self.qmax}] outside {self.storage}")
        for s in self.scales:
            if not s > 0 or s != s or s == float("inf"):
                raise ValueError(f"quantization scale must be positive and finite, got {s}")
        for z in self.zero_points:  # kernels hold zero points in the storage type (or int32)
            if not self.storage.min <= z <= self.storage.max:
                raise ValueError(f"zero point {z} outside the range of {self.storage}")

    @property
    def bits(self) -> int:  # type: ignore[override]
        return self.storage.bits

    @property
    def kind(self) -> str:
        return f"q{self.storage}"

    @property
    def per_axis(self) -> bool:
        return self.axis is not None

    @property
    def scale(self) -> float:
        """The single scale of a per-tensor type."""
        if self.per_axis:
            raise ValueError("per-axis quantized type has no single scale")
        return self.scales[0]

    @property
    def zero_point(self) -> int:
        if self.per_axis:
            raise ValueError("per-axis quantized type has no single zero point")
        return self.zero_points[0]

    @property
    def numpy(self) -> np.dtype:
        return self.storage.numpy

    @property
    def narrow(self) -> bool:
        return (self.qmin, self.qmax) != (self.storage.min, self.storage.max)

    def __str__(self) -> str:
        from edgecc.ir.text.printer import format_type

        return format_type(self)


@dataclass(frozen=True)
class TensorType(Type):
    """A ranked tensor with a static shape (``()`` for a scalar)."""

    shape: tuple[int, ...]
    element: ElementType

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", tuple(int(d) for d in self.shape))
        if not isinstance(self.element, ElementType):
            raise TypeError(f"tensor element must be an ElementType, got {self.element!r}")
        # every shape passes here before an array of it exists: refuse the impossible and the huge
        check_shape(self.shape, self.element.bits)

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def num_elements(self) -> int:
        return prod(self.shape)

    @property
    def nbytes(self) -> int:
        """Bytes as stored; i4 counts half a byte per element, rounded up."""
        return (self.num_elements * self.element.bits + 7) // 8

    @property
    def is_quantized(self) -> bool:
        return isinstance(self.element, QuantizedType)

    @property
    def is_float(self) -> bool:
        return isinstance(self.element, FloatType)

    def with_shape(self, shape) -> TensorType:
        return TensorType(tuple(shape), self.element)

    def with_element(self, element: ElementType) -> TensorType:
        return TensorType(self.shape, element)

    def __str__(self) -> str:
        from edgecc.ir.text.printer import format_type

        return format_type(self)


@dataclass(frozen=True)
class FunctionType(Type):
    inputs: tuple[Type, ...]
    outputs: tuple[Type, ...]

    def __str__(self) -> str:
        from edgecc.ir.text.printer import format_type

        return format_type(self)


f16 = FloatType(16)
f32 = FloatType(32)
f64 = FloatType(64)
i1 = IntegerType(1)
i4 = IntegerType(4)
i8 = IntegerType(8)
i16 = IntegerType(16)
i32 = IntegerType(32)
i64 = IntegerType(64)
u8 = IntegerType(8, signed=False)


def element_from_numpy(dtype) -> ElementType:
    """The IR element type for a numpy dtype."""
    dt = np.dtype(dtype)
    if dt == np.bool_:
        return i1
    if dt.kind == "f":
        return FloatType(dt.itemsize * 8)
    if dt.kind in "iu":
        return IntegerType(dt.itemsize * 8, signed=dt.kind == "i")
    raise ValueError(f"no IR element type for numpy dtype {dt}")


def tensor(shape, element: ElementType = f32) -> TensorType:
    """Shorthand: ``tensor((1, 4), i8)``."""
    return TensorType(tuple(shape), element)


def quant(
    storage: IntegerType,
    scale: float | list[float],
    zero_point: int | list[int] = 0,
    axis: int | None = None,
    qmin: int | None = None,
    qmax: int | None = None,
    expressed: FloatType = f32,
) -> QuantizedType:
    """Build a per-tensor (scalar scale) or per-axis (list + axis) quantized type."""
    scales = list(scale) if isinstance(scale, (list, tuple, np.ndarray)) else [scale]
    if isinstance(zero_point, (list, tuple, np.ndarray)):
        zps = list(zero_point)
    else:
        zps = [zero_point] * len(scales)
    return QuantizedType(storage, expressed, tuple(scales), tuple(zps), axis, qmin, qmax)
