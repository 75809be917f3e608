"""Packed weight storage: int4 weights two per byte, in CMSIS-NN's order.

CMSIS-NN's ``_s4`` kernels (like TFLite's int4 tensors) read a weight tensor as
one flat run of nibbles: element ``2k`` in the low nibble of byte ``k``,
element ``2k + 1`` in its high nibble, rows straddling bytes when a row has an
odd length; an odd element count leaves the last high nibble 0, so a tensor
of ``n`` weights takes ``ceil(n / 2)`` bytes. A lowering that calls such a
kernel gives it ``packed_constant(...)``: a ``builtin.constant`` with the
logical (unpacked) values and type, marked with ``PACK_ATTR``; the emitter
asks ``stored_array`` for the bytes to write. The IR keeps one value per
element, so the reference interpreter and the shapes stay unchanged.
"""

from __future__ import annotations

import numpy as np

from edgecc.ir.core import Operation, Value

PACK_ATTR = "c.pack"


def pack_int4(values) -> np.ndarray:
    """``values`` (int, each in [-8, 7]) flattened and packed two per byte (see the module docstring)."""
    v = np.asarray(values, dtype=np.int64).reshape(-1)
    if v.size and (v.min() < -8 or v.max() > 7):
        raise ValueError("int4 values must lie in [-8, 7]")
    nib = (v & 0xF).astype(np.uint8)
    if nib.size % 2:
        nib = np.append(nib, np.uint8(0))
    return (nib[0::2] | (nib[1::2] << 4)).view(np.int8)


def unpack_int4(packed, count: int) -> np.ndarray:
    """The inverse of ``pack_int4`` (sign-extended int8 values)."""
    b = np.asarray(packed, dtype=np.int8).view(np.uint8).astype(np.int16)
    nib = np.stack([b & 0xF, b >> 4], axis=1).reshape(-1)[:count]
    return np.where(nib > 7, nib - 16, nib).astype(np.int8)


def packed_constant(before: Operation, v: Value) -> Value:
    """A copy of constant ``v`` stored packed (int4, two per byte), inserted before ``before``."""
    from edgecc.dialects.builtin import ConstantOp

    src = v.defining_op()
    c = ConstantOp.from_array(src.attr("value"), loc=src.loc, name=v.name_hint)
    c.attrs[PACK_ATTR] = "int4"
    before.parent.insert_before(before, c)
    return c.result


def stored_array(const_op: Operation, array: np.ndarray) -> tuple[np.ndarray, str | None]:
    """The array the emitter writes for ``const_op`` and its packing (None: one element per entry)."""
    pack = const_op.attrs.get(PACK_ATTR)
    if pack == "int4":
        return pack_int4(array), pack
    return array, None


__all__ = ["PACK_ATTR", "pack_int4", "packed_constant", "stored_array", "unpack_int4"]
