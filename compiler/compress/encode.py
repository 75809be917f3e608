"""Encoded weight storage: the byte formats, their exact sizes, and a numpy decoder.

A sparse or clustered weight tensor only shrinks flash when the code stores
less. Two formats, both one flat byte array decoded in element order (the C
decoders in ``runtime/c/src/decode.c`` read exactly these layouts):

* ``bitmask``: ``ceil(n / 8)`` mask bytes (bit ``i % 8`` of byte ``i // 8`` set
  when element ``i`` is nonzero, LSB first), then the nonzero elements in
  order (``elem_size`` bytes each, little-endian). Size ``ceil(n/8) + nnz * es``.
* ``lut``: a codebook of ``levels`` entries per channel (``channels * levels *
  es`` bytes, channel-major), then one ``bits``-wide index per element
  (``bits`` in 1, 2, 4, 8), packed LSB first (element ``i`` at bit ``i * bits``).
  Element ``i`` belongs to channel ``(i // inner) % channels``: ``inner = n / C``
  for a channel axis 0 (OHWI conv, [N, K] dense), ``inner = 1`` for the last axis
  (depthwise [1, KH, KW, C]), ``channels = 1`` for one codebook per tensor.
  Size ``C * levels * es + ceil(n * bits / 8)``.

* ``sparse_lut`` (sparse and clustered): the ``bitmask`` mask, then codebooks of the nonzero values
  (``channels * levels * es``), then one packed index per *nonzero* element. Size
  ``ceil(n/8) + C * levels * es + ceil(nnz * bits / 8)``.

``best_encoding`` returns the smallest of them, or None when the dense array
(``n * es`` bytes) is not larger: the choice is on exact byte counts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BITS = (1, 2, 4, 8)


@dataclass(frozen=True)
class Encoding:
    """One encoded tensor: ``data`` is what flash holds (``nbytes`` == ``len(data)``)."""

    kind: str  # "bitmask" | "lut"
    count: int  # elements
    elem_size: int
    data: np.ndarray  # uint8
    channels: int = 1
    inner: int = 1
    levels: int = 0
    bits: int = 0

    @property
    def nbytes(self) -> int:
        return int(self.data.size)

    @property
    def dense_bytes(self) -> int:
        return self.count * self.elem_size


def _raw(values: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(values).reshape(-1).view(np.uint8)


def bitmask_size(n: int, nnz: int, elem_size: int) -> int:
    return -(-n // 8) + nnz * elem_size


def lut_size(n: int, channels: int, levels: int, bits: int, elem_size: int) -> int:
    return channels * levels * elem_size + -(-(n * bits) // 8)


def sparse_lut_size(n: int, nnz: int, channels: int, levels: int, bits: int, elem_size: int) -> int:
    return -(-n // 8) + channels * levels * elem_size + -(-(nnz * bits) // 8)


def encode_bitmask(arr: np.ndarray) -> Encoding:
    flat = np.ascontiguousarray(arr).reshape(-1)
    nz = flat != 0
    mask = np.packbits(nz, bitorder="little")
    data = np.concatenate([mask, _raw(flat[nz])]).astype(np.uint8)
    return Encoding("bitmask", flat.size, flat.dtype.itemsize, data)


def _channel_layout(shape: tuple[int, ...], axis: int | None) -> tuple[int, int]:
    n = int(np.prod(shape)) if shape else 1
    if axis is None or not shape:
        return 1, n
    axis %= len(shape)
    inner = int(np.prod(shape[axis + 1 :])) if axis + 1 < len(shape) else 1
    return shape[axis], inner


def lut_plan(arr: np.ndarray, axis: int | None, nonzero: bool = False) -> tuple[int, int, int, int] | None:
    """(channels, inner, levels, bits) of the lut encoding of ``arr`` (None: over 256 levels);
    ``nonzero``: of its nonzero values only (``sparse_lut``)."""
    channels, inner = _channel_layout(arr.shape, axis)
    flat = np.ascontiguousarray(arr).reshape(-1)
    chan = (np.arange(flat.size) // inner) % channels
    if nonzero:
        keep = flat != 0
        flat, chan = flat[keep], chan[keep]
    if flat.size == 0:
        levels = 1
    elif channels == 1:
        levels = np.unique(flat).size
    else:
        order = np.lexsort((flat, chan))
        sc, sv = chan[order], flat[order]
        new = np.ones(sc.size, dtype=bool)
        new[1:] = (sc[1:] != sc[:-1]) | (sv[1:] != sv[:-1])
        levels = int(np.bincount(sc[new], minlength=channels).max(initial=1))
    bits = next((b for b in BITS if (1 << b) >= levels), None)
    return None if bits is None else (channels, inner, int(levels), bits)


def _pack(index: np.ndarray, bits: int) -> np.ndarray:
    per = 8 // bits
    idx = np.zeros(-(-index.size // per) * per, dtype=np.uint8)
    idx[: index.size] = index
    packed = np.zeros(idx.size // per, dtype=np.uint8)
    for k in range(per):
        packed |= (idx[k::per] << (k * bits)).astype(np.uint8)
    return packed


def _unpack(packed: np.ndarray, bits: int, count: int) -> np.ndarray:
    per = 8 // bits
    idx = np.stack([(packed >> (k * bits)) & ((1 << bits) - 1) for k in range(per)], 1).reshape(-1)
    return idx[:count].astype(np.int64)


def encode_lut(arr: np.ndarray, axis: int | None, sparse: bool = False) -> Encoding:
    """The ``lut`` encoding of ``arr`` (``sparse``: the ``sparse_lut`` one; see the module docstring)."""
    plan = lut_plan(arr, axis, nonzero=sparse)
    if plan is None:
        raise ValueError("more than 256 distinct values per channel: no lut encoding")
    channels, inner, levels, bits = plan
    flat = np.ascontiguousarray(arr).reshape(-1)
    chan = (np.arange(flat.size) // inner) % channels
    keep = flat != 0 if sparse else np.ones(flat.size, dtype=bool)
    book = np.zeros((channels, levels), dtype=flat.dtype)
    index = np.zeros(flat.size, dtype=np.int64)
    for c in range(channels):
        sel = (chan == c) & keep
        vals, inv = np.unique(flat[sel], return_inverse=True)
        book[c, : vals.size] = vals
        index[sel] = inv
    parts = [_raw(book), _pack(index[keep], bits)]
    if sparse:
        parts.insert(0, np.packbits(keep, bitorder="little"))
    data = np.concatenate(parts).astype(np.uint8)
    return Encoding(
        "sparse_lut" if sparse else "lut", flat.size, flat.dtype.itemsize, data, channels, inner, levels, bits
    )


def decode(enc: Encoding, dtype) -> np.ndarray:
    """The flat dense array ``enc`` stores (the numpy twin of the C decoders)."""
    dtype = np.dtype(dtype)
    n, es = enc.count, enc.elem_size
    if enc.kind == "bitmask":
        nm = -(-n // 8)
        nz = np.unpackbits(enc.data[:nm], bitorder="little")[:n].astype(bool)
        vals = enc.data[nm:].view(dtype)
        out = np.zeros(n, dtype=dtype)
        out[nz] = vals
        return out
    start, keep = 0, np.ones(n, dtype=bool)
    if enc.kind == "sparse_lut":
        start = -(-n // 8)
        keep = np.unpackbits(enc.data[:start], bitorder="little")[:n].astype(bool)
    nb = enc.channels * enc.levels * es
    book = enc.data[start : start + nb].view(dtype).reshape(enc.channels, enc.levels)
    idx = _unpack(enc.data[start + nb :], enc.bits, int(keep.sum()))
    chan = (np.arange(n) // enc.inner) % enc.channels
    out = np.zeros(n, dtype=dtype)
    out[keep] = book[chan[keep], idx]
    return out


def best_encoding(arr: np.ndarray, axis: int | None) -> Encoding | None:
    """The smallest encoding of ``arr`` by exact bytes (channel codebooks along ``axis`` or one per
    tensor), or None when none is smaller than the dense array."""
    arr = np.ascontiguousarray(arr)
    n, es = arr.size, arr.dtype.itemsize
    if n == 0:
        return None
    sizes: list[tuple[int, int, str, int | None]] = [
        (bitmask_size(n, int(np.count_nonzero(arr)), es), 0, "bitmask", None)
    ]
    nnz = int(np.count_nonzero(arr))
    for rank, ax in enumerate((axis, None) if axis is not None else (None,)):
        plan = lut_plan(arr, ax)
        if plan is not None:
            c, _, levels, bits = plan
            sizes.append((lut_size(n, c, levels, bits, es), 1 + rank, "lut", ax))
        plan = lut_plan(arr, ax, nonzero=True)
        if plan is not None and nnz < n:
            c, _, levels, bits = plan
            sizes.append((sparse_lut_size(n, nnz, c, levels, bits, es), 3 + rank, "sparse_lut", ax))
    size, _, kind, ax = min(sizes)
    if size >= n * es:
        return None
    enc = encode_bitmask(arr) if kind == "bitmask" else encode_lut(arr, ax, sparse=kind == "sparse_lut")
    assert enc.nbytes == size
    return enc


__all__ = [
    "BITS",
    "Encoding",
    "best_encoding",
    "bitmask_size",
    "decode",
    "encode_bitmask",
    "encode_lut",
    "lut_plan",
    "lut_size",
    "sparse_lut_size",
]
