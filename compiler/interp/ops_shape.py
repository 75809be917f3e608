"""Data movement, reductions and resize kernels."""

from __future__ import annotations

import numpy as np

from edgecc.interp.ops_common import kernel, norm_axis, op_error, round_f32


# ----------------------------------------------------------------- movement
@kernel("nn.reshape")
def reshape(op, x):
    shape = tuple(int(d) for d in op.attr("shape"))
    if int(np.prod(shape)) != x.size:
        raise op_error(op, f"cannot reshape {list(x.shape)} to {list(shape)}")
    return x.reshape(shape)


@kernel("nn.transpose")
def transpose(op, x):
    perm = op.attr("perm")
    return np.transpose(x, tuple(perm) if perm is not None else None)


@kernel("nn.concat")
def concat(op, *xs):
    axis = norm_axis(op, int(op.attr("axis", 0)), xs[0].ndim)
    return np.concatenate(xs, axis=axis)


@kernel("nn.split")
def split(op, x):
    axis = norm_axis(op, int(op.attr("axis", 0)), x.ndim)
    sizes = [int(s) for s in op.attr("sizes")]
    if sum(sizes) != x.shape[axis]:
        raise op_error(op, f"split sizes {sizes} do not add up to dimension {x.shape[axis]}")
    return np.split(x, np.cumsum(sizes)[:-1], axis=axis)


@kernel("nn.pad")
def pad(op, x):
    """pads = [begin_0..begin_{r-1}, end_0..end_{r-1}]; negative entries crop (as ONNX)."""
    pads = [int(p) for p in op.attr("pads")]
    r = x.ndim
    if len(pads) != 2 * r:
        raise op_error(op, f"expects {2 * r} pads for rank {r}, got {len(pads)}")
    mode = op.attr("mode", "constant") or "constant"
    begin, end = pads[:r], pads[r:]
    if min(pads, default=0) < 0:
        x = x[tuple(slice(max(-b, 0), x.shape[i] - max(-e, 0)) for i, (b, e) in enumerate(zip(begin, end)))]
        begin, end = [max(b, 0) for b in begin], [max(e, 0) for e in end]
    width = list(zip(begin, end))
    if mode == "constant":
        value = op.attr("value", 0.0)
        value = np.asarray(0.0 if value is None else value).astype(x.dtype)
        return np.pad(x, width, mode="constant", constant_values=value)
    if mode == "reflect":
        for i, (b, e) in enumerate(width):
            if (b or e) and max(b, e) > x.shape[i] - 1:
                raise op_error(op, f"reflect padding {max(b, e)} needs a dimension larger than {x.shape[i]}")
        return np.pad(x, width, mode="reflect")
    if mode == "edge":
        for i, (b, e) in enumerate(width):
            if (b or e) and x.shape[i] == 0:
                raise op_error(op, "edge padding of an empty dimension")
        return np.pad(x, width, mode="edge")
    raise op_error(op, f"unknown pad mode '{mode}'")


@kernel("nn.slice")
def slice_(op, x):
    """One (begin, end, stride) per dimension, clamped as ONNX Slice clamps.

    Positive stride: begin and end are clamped to [0, dim]. Negative stride:
    begin to [0, dim-1] and end to [-1, dim-1], where -1 means "through
    index 0".
    """
    begin, end = op.attr("begin"), op.attr("end")
    strides = op.attr("strides") or (1,) * x.ndim
    if not (len(begin) == len(end) == len(strides) == x.ndim):
        raise op_error(op, f"begin/end/strides need {x.ndim} entries each")
    index = []
    for dim, b, e, s in zip(x.shape, begin, end, strides):
        if s == 0:
            raise op_error(op, "slice stride must not be 0")
        if s > 0:
            b, e = min(max(b, 0), dim), min(max(e, 0), dim)
            index.append(slice(b, e, s))
        else:
            b, e = min(max(b, 0), dim - 1), min(max(e, -1), dim - 1)
            index.append(slice(b, e if e >= 0 else None, s))
    return x[tuple(index)]


@kernel("nn.gather")
def gather(op, data, indices):
    """ONNX Gather: negative indices count from the end; out of range is an error."""
    axis = norm_axis(op, int(op.attr("axis", 0)), data.ndim)
    n = data.shape[axis]
    idx = np.asarray(indices, dtype=np.int64)
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise op_error(op, f"gather index out of range [{-n}, {n - 1}]")
    idx = np.where(idx < 0, idx + n, idx)
    return np.take(data, idx, axis=axis)


# --------------------------------------------------------------- reductions
def _axes(op, x) -> tuple[int, ...]:
    """Reduction axes; empty or absent means all axes."""
    axes = op.attr("axes")
    if not axes:
        return tuple(range(x.ndim))
    return tuple(sorted({norm_axis(op, int(a), x.ndim) for a in axes}))


def _keep(op) -> bool:
    k = op.attr("keepdims", True)
    return True if k is None else bool(k)


@kernel("nn.mean")
def mean(op, x):
    """Mean in float64 (summing many float32 values is where orders disagree most)."""
    if x.dtype.kind != "f":
        return np.mean(x, axis=_axes(op, x), keepdims=_keep(op)).astype(x.dtype)
    return round_f32(np.mean(np.asarray(x, np.float64), axis=_axes(op, x), keepdims=_keep(op)))


@kernel("nn.reduce_sum")
def reduce_sum(op, x):
    """Sum in float64."""
    if x.dtype.kind != "f":
        return np.sum(x, axis=_axes(op, x), keepdims=_keep(op)).astype(x.dtype)
    return round_f32(np.sum(np.asarray(x, np.float64), axis=_axes(op, x), keepdims=_keep(op)))


@kernel("nn.reduce_max")
def reduce_max(op, x):
    return np.max(x, axis=_axes(op, x), keepdims=_keep(op))


@kernel("nn.reduce_min")
def reduce_min(op, x):
    return np.min(x, axis=_axes(op, x), keepdims=_keep(op))


# -------------------------------------------------------------------- resize
def _source_coords(op, out_size: int, in_size: int, coordinate: str) -> np.ndarray:
    """Source coordinate of each output index, computed as onnxruntime computes it.

    half_pixel / pytorch_half_pixel divide by scale = out/in in float32;
    align_corners is x * (in - 1) / (out - 1) in float32 (multiply first, so
    the last output lands exactly on in - 1); asymmetric is x * in / out in
    float64, which keeps exact ties (e.g. 3.5) exact for round_prefer_ceil.
    This matches onnxruntime's nearest indices on every size pair up to 12 -> 24.
    """
    x = np.arange(out_size, dtype=np.float32)
    scale = np.float32(out_size) / np.float32(in_size)
    if coordinate in ("half_pixel", "pytorch_half_pixel"):
        if coordinate == "pytorch_half_pixel" and out_size <= 1:
            return np.zeros(out_size, dtype=np.float32)
        return (x + np.float32(0.5)) / scale - np.float32(0.5)
    if coordinate == "align_corners":
        if out_size == 1:
            return np.zeros(out_size, dtype=np.float32)
        return x * np.float32(in_size - 1) / np.float32(out_size - 1)
    if coordinate == "asymmetric":
        return np.arange(out_size, dtype=np.float64) * in_size / out_size
    raise op_error(op, f"unknown coordinate transformation '{coordinate}'")


def _nearest(op, c: np.ndarray, in_size: int, mode: str) -> np.ndarray:
    fl = np.floor(c)
    if mode == "round_prefer_floor":
        idx = np.where(c - fl == 0.5, fl, np.round(c))
    elif mode == "round_prefer_ceil":
        idx = np.where(c - fl == 0.5, fl + 1, np.round(c))
    elif mode == "floor":
        idx = fl
    elif mode == "ceil":
        idx = np.ceil(c)
    else:
        raise op_error(op, f"unknown nearest mode '{mode}'")
    return np.clip(idx, 0, in_size - 1).astype(np.int64)


def _linear(c: np.ndarray, in_size: int):
    """Neighbour indices and weights of linear interpolation (clamped to the edge)."""
    c = np.clip(c.astype(np.float64), 0.0, in_size - 1)
    i0 = np.floor(c).astype(np.int64)
    i1 = np.minimum(i0 + 1, in_size - 1)
    w1 = c - i0
    return i0, i1, 1.0 - w1, w1


@kernel("nn.resize")
def resize(op, x):
    """ONNX Resize over H and W of an NHWC tensor (sizes given, no antialias).

    Source coordinates follow ``coordinate`` (see ``_source_coords``); nearest picks by
    ``nearest_mode`` then clamps; bilinear clamps the source coordinate to
    [0, in-1] and blends the two neighbours on each axis in float64.
    """
    out_h, out_w = (int(s) for s in op.attr("size"))
    mode = op.attr("mode", "nearest") or "nearest"
    coordinate = op.attr("coordinate", "half_pixel") or "half_pixel"
    _, in_h, in_w, _ = x.shape
    ch = _source_coords(op, out_h, in_h, coordinate)
    cw = _source_coords(op, out_w, in_w, coordinate)
    if mode == "nearest":
        nmode = op.attr("nearest_mode", "round_prefer_floor") or "round_prefer_floor"
        ih = _nearest(op, ch, in_h, nmode)
        iw = _nearest(op, cw, in_w, nmode)
        return x[:, ih][:, :, iw]
    if mode == "bilinear":
        h0, h1, wh0, wh1 = _linear(ch, in_h)
        w0, w1, ww0, ww1 = _linear(cw, in_w)
        xd = np.asarray(x, dtype=np.float64)
        rows = xd[:, h0] * wh0[None, :, None, None] + xd[:, h1] * wh1[None, :, None, None]
        y = rows[:, :, w0] * ww0[None, None, :, None] + rows[:, :, w1] * ww1[None, None, :, None]
        return round_f32(y)
    raise op_error(op, f"unknown resize mode '{mode}'")
