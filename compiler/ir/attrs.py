"""Attribute values.

Attributes are plain immutable Python values: ``int``, ``float``, ``str``,
``bool``, tuples of attributes (printed ``[a, b]``), IR ``Type`` objects, and
``DenseElements`` for tensor data. Keeping scalars as Python values makes
passes read naturally (``op.attrs["strides"] == (2, 2)``).
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from edgecc.ir.types import QuantizedType, TensorType, Type

#: constants with more elements than this print as named resources
INLINE_LIMIT = 16


class DenseElements:
    """Tensor data attribute backed by a read-only numpy array.

    ``type`` is the IR tensor type of the data (its element may be quantized;
    the array then holds the stored integers). ``resource`` is the blob name
    the data prints under; ``None`` lets the printer decide by size.
    """

    __slots__ = ("type", "_array", "resource", "_digest", "_splat")

    def __init__(self, array, type: TensorType, resource: str | None = None) -> None:
        arr = np.asarray(array)
        want = type.element.numpy
        if arr.dtype != want:
            arr = arr.astype(want)
        if tuple(arr.shape) != type.shape:
            if arr.size != type.num_elements:
                raise ValueError(f"dense data of {arr.size} elements does not fit {type}")
            arr = arr.reshape(type.shape)
        arr = np.ascontiguousarray(arr).reshape(type.shape)
        arr.flags.writeable = False
        self.type = type
        self._array = arr
        self.resource = resource
        self._digest: str | None = None
        self._splat: bool | None = None

    @classmethod
    def from_numpy(cls, array, element=None, resource: str | None = None) -> DenseElements:
        from edgecc.ir.types import element_from_numpy

        arr = np.asarray(array)
        elem = element if element is not None else element_from_numpy(arr.dtype)
        return cls(arr, TensorType(arr.shape, elem), resource)

    @property
    def array(self) -> np.ndarray:
        return self._array

    def numpy(self) -> np.ndarray:
        return self._array

    @property
    def digest(self) -> str:
        """Content hash (type + bytes), used by CSE and resource dedup."""
        if self._digest is None:
            h = hashlib.sha256(str(self.type).encode())
            h.update(self._array.tobytes())
            self._digest = h.hexdigest()
        return self._digest

    @property
    def is_splat(self) -> bool:
        """All elements bit-identical (printed as one value: ``dense<0.0> : tensor<64xf32>``)."""
        if self._splat is None:
            a = self._array
            self._splat = a.size > 0 and a.tobytes() == a.reshape(-1)[:1].tobytes() * a.size
        return self._splat

    @property
    def inline(self) -> bool:
        return self.resource is None and (self.type.num_elements <= INLINE_LIMIT or self.is_splat)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DenseElements) and self.digest == other.digest

    def __hash__(self) -> int:
        return hash(self.digest)

    def __repr__(self) -> str:
        return f"DenseElements({self.type}, resource={self.resource!r})"


def is_attribute(value: Any) -> bool:
    """Whether ``value`` is a valid attribute value."""
    if isinstance(value, (bool, int, float, str, Type, DenseElements)):
        return True
    if isinstance(value, tuple):
        return all(is_attribute(v) for v in value)
    return False


def normalize(value: Any) -> Any:
    """Turn lists and numpy scalars into canonical attribute values."""
    if isinstance(value, (list, tuple)):
        return tuple(normalize(v) for v in value)
    if isinstance(value, np.ndarray):
        return tuple(normalize(v) for v in value.tolist())
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if not is_attribute(value):
        raise TypeError(f"not an attribute value: {value!r}")
    return value


def attr_key(value: Any) -> Any:
    """A hashable key that distinguishes ``1``, ``1.0`` and ``True``."""
    if isinstance(value, tuple):
        return ("tuple",) + tuple(attr_key(v) for v in value)
    if isinstance(value, DenseElements):
        return ("dense", value.digest)
    return (type(value).__name__, value)


__all__ = ["DenseElements", "INLINE_LIMIT", "attr_key", "is_attribute", "normalize", "QuantizedType"]
