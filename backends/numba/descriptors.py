"""Compile-time index descriptors for the flat-array kernels of ``edgecc.runtime.kernels``."""

from __future__ import annotations

import math

import numpy as np

from edgecc.runtime.kernels.elementwise import RANK
from edgecc.runtime.kernels.movement import COPY_RANK


def scalar_bounds(lo: float, hi: float, dtype) -> tuple:
    """A clamp range as two scalars of ``dtype`` (float32 rounding of the bounds; saturated for ints)."""
    dt = np.dtype(dtype)
    if dt.kind == "f":
        return dt.type(np.float32(lo)), dt.type(np.float32(hi))
    if dt == np.bool_:
        return np.bool_(False), np.bool_(True)
    info = np.iinfo(dt)
    lo_i = info.min if lo == -math.inf else int(max(info.min, min(info.max, math.ceil(lo))))
    hi_i = info.max if hi == math.inf else int(max(info.min, min(info.max, math.floor(hi))))
    return dt.type(lo_i), dt.type(hi_i)


def split3(shape, start: int, stop: int) -> tuple[int, int, int]:
    """(outer, middle, inner) element counts of ``shape`` split at [start, stop)."""
    p = lambda s: int(np.prod(s, dtype=np.int64))  # noqa: E731
    return p(shape[:start]), p(shape[start:stop]), p(shape[stop:])


def _c_strides(shape) -> list[int]:
    st, acc = [], 1
    for d in reversed(shape):
        st.append(acc)
        acc *= int(d)
    return st[::-1]


def broadcast(out_shape, a_shape, b_shape, rank: int = RANK):
    """(shape, a strides, b strides) int64[rank] of a broadcast binary op, dims merged; None if > rank."""
    r = len(out_shape)
    ops = []
    for s in (a_shape, b_shape):
        s = (1,) * (r - len(s)) + tuple(s)
        cs = _c_strides(s)
        ops.append([0 if (s[i] == 1 and out_shape[i] != 1) else cs[i] for i in range(r)])
    dims = [(int(out_shape[i]), [o[i] for o in ops]) for i in range(r) if out_shape[i] != 1]
    merged: list[tuple[int, list[int]]] = []
    for n, st in dims:
        if merged:
            pn, pst = merged[-1]
            if all(pst[k] == st[k] * n for k in range(len(st))):
                merged[-1] = (pn * n, st)
                continue
        merged.append((n, st))
    if len(merged) > rank:
        return None
    pad = rank - len(merged)
    shape = [1] * pad + [n for n, _ in merged]
    sa = [0] * pad + [st[0] for _, st in merged]
    sb = [0] * pad + [st[1] for _, st in merged]
    if not merged:  # a scalar result
        shape[-1] = 1
        sa[-1] = sb[-1] = 1
    return (np.array(shape, np.int64), np.array(sa, np.int64), np.array(sb, np.int64))


def reduce_runs(shape, axes) -> tuple[int, int, int] | None:
    """(outer, n, inner) when the reduced axes form one contiguous run (ignoring size-1 dims)."""
    dims = [(int(d), i in axes) for i, d in enumerate(shape) if d != 1]
    if not dims:
        return 1, 1, 1
    runs: list[list] = []
    for d, red in dims:
        if runs and runs[-1][1] == red:
            runs[-1][0] *= d
        else:
            runs.append([d, red])
    reduced = [k for k, (_, red) in enumerate(runs) if red]
    if len(reduced) > 1:
        return None
    if not reduced:
        return int(np.prod([d for d, _ in runs])), 1, 1
    k = reduced[0]
    outer = int(np.prod([d for d, _ in runs[:k]], dtype=np.int64))
    inner = int(np.prod([d for d, _ in runs[k + 1:]], dtype=np.int64))
    return outer, runs[k][0], inner


def _view_desc(view: np.ndarray, base: np.ndarray):
    """Element offset and strides of ``view`` inside the flat buffer of ``base``."""
    item = base.itemsize
    off_bytes = view.__array_interface__["data"][0] - base.__array_interface__["data"][0]
    return off_bytes // item, [s // item for s in view.strides]


def emit_copy(L, src: np.ndarray, dst: np.ndarray, src_base: np.ndarray | None = None,
              dst_base: np.ndarray | None = None) -> None:
    """A step copying the (strided) view ``src`` of the contiguous buffer ``src_base`` into the view
    ``dst`` of ``dst_base`` (bases default to the views themselves, which must then be contiguous)."""
    from edgecc.runtime.kernels import movement as M

    if src.ndim > COPY_RANK:
        L.emit(np.copyto, dst, src, kernel="numpy.copyto")
        return
    sroot = _flat_root(src if src_base is None else src_base)
    droot = _flat_root(dst if dst_base is None else dst_base)
    soff, ss = _view_desc(src, sroot)
    doff, ds = _view_desc(dst, droot)
    shape = list(src.shape)
    # merge dimensions contiguous in both views, drop size-1 dims
    dims = [(n, s, d) for n, s, d in zip(shape, ss, ds) if n != 1]
    merged: list[list[int]] = []
    for n, s, d in dims:
        if merged and merged[-1][1] == s * n and merged[-1][2] == d * n:
            merged[-1] = [merged[-1][0] * n, s, d]
        else:
            merged.append([n, s, d])
    if len(merged) > COPY_RANK:
        L.emit(np.copyto, dst, src, kernel="numpy.copyto")
        return
    pad = COPY_RANK - len(merged)
    sh = np.array([1] * pad + [m[0] for m in merged], np.int64)
    sst = np.array([0] * pad + [m[1] for m in merged], np.int64)
    dst_st = np.array([0] * pad + [m[2] for m in merged], np.int64)
    if not merged:
        sh[-1], sst[-1], dst_st[-1] = 1, 1, 1
    L.emit(M.strided_copy, sroot.reshape(-1), np.int64(soff), L.persistent(sst), droot.reshape(-1),
           np.int64(doff), L.persistent(dst_st), L.persistent(sh))


def _flat_root(a: np.ndarray) -> np.ndarray:
    """A contiguous buffer, as the base of views."""
    if not a.flags.c_contiguous:
        raise ValueError("copy base must be a contiguous buffer")
    return a


def pad_table(in_shape, out_shape, pads, mode: str):
    """Per-dimension source offset tables of nn.pad (``-1``: fill); None when unsupported."""
    r = len(in_shape)
    begin, end = pads[:r], pads[r:]
    cs = _c_strides(in_shape)
    maps = []
    for d in range(r):
        n = int(in_shape[d])
        lo = max(-begin[d], 0)
        hi = n - max(-end[d], 0)
        length = hi - lo
        b = max(begin[d], 0)
        m = np.empty(int(out_shape[d]), np.int64)
        for j in range(len(m)):
            t = j - b
            if 0 <= t < length:
                src = t
            elif mode == "constant":
                m[j] = -1
                continue
            elif mode == "edge":
                if length == 0:
                    return None
                src = min(max(t, 0), length - 1)
            else:  # reflect
                if length < 2:
                    if length == 1:
                        src = 0
                    else:
                        return None
                else:
                    period = 2 * (length - 1)
                    t = abs(t) % period
                    src = t if t < length else period - t
            m[j] = (lo + src) * cs[d]
        maps.append(m)
    return maps


def gather_table(in_shape, index_maps) -> list[np.ndarray]:
    """Offset tables selecting ``index_maps[d]`` (None: identity) along each dimension."""
    cs = _c_strides(in_shape)
    maps = []
    for d, n in enumerate(in_shape):
        idx = np.arange(n) if index_maps[d] is None else np.asarray(index_maps[d], np.int64)
        maps.append(idx.astype(np.int64) * cs[d])
    return maps


def emit_remap(L, src: np.ndarray, dst: np.ndarray, maps: list[np.ndarray], fill) -> None:
    from edgecc.runtime.kernels import movement as M

    pad = COPY_RANK - len(maps)
    maps = [np.zeros(1, np.int64)] * pad + list(maps)
    width = max(1, max(len(m) for m in maps))
    table = np.zeros((COPY_RANK, width), np.int64)
    shape = np.ones(COPY_RANK, np.int64)
    for d, m in enumerate(maps):
        table[d, :len(m)] = m
        shape[d] = len(m)
    L.emit(M.remap_copy, np.ascontiguousarray(src).reshape(-1) if src.flags.c_contiguous else src.reshape(-1),
           dst.reshape(-1), L.persistent(shape), L.persistent(table), fill)
