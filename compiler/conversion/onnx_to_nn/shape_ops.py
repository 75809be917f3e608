"""Data movement (reshape-like, transpose, concat, split, slice, gather, expand,
tile), reductions, and the ops accepted only on constant inputs."""

from __future__ import annotations

import numpy as np

from edgecc.conversion.onnx_to_nn.fold import slice_params
from edgecc.conversion.onnx_to_nn.registry import Cx, converter
from edgecc.ir.core import Value
from edgecc.ir.types import FloatType


# ------------------------------------------------------------------ reshape-like
def _to_out_shape(cx: Cx, x: Value) -> Value:
    return cx.reshape(x, cx.out_shape(0))


@converter("Reshape", 11, doc="nn.reshape to the static result shape (shape input constant or folded)")
def reshape(cx: Cx, x, shape, *, allowzero=0):
    return _to_out_shape(cx, x)


@converter("Flatten", 11, doc="nn.reshape")
def flatten(cx: Cx, x, *, axis=1):
    return _to_out_shape(cx, x)


@converter("Squeeze", 11, doc="nn.reshape (axes attribute)")
def squeeze_11(cx: Cx, x, *, axes=None):
    return _to_out_shape(cx, x)


@converter("Squeeze", 13, doc="nn.reshape (axes input, constant)")
def squeeze_13(cx: Cx, x, axes=None):
    cx.const_input(axes, "axes")
    return _to_out_shape(cx, x)


@converter("Unsqueeze", 11, doc="nn.reshape (axes attribute)")
def unsqueeze_11(cx: Cx, x, *, axes=None):
    return _to_out_shape(cx, x)


@converter("Unsqueeze", 13, doc="nn.reshape (axes input, constant)")
def unsqueeze_13(cx: Cx, x, axes):
    cx.const_input(axes, "axes")
    return _to_out_shape(cx, x)


@converter("Transpose", 11, doc="nn.transpose (perm defaults to reversed axes)")
def transpose(cx: Cx, x, *, perm=None):
    r = cx.rank(x)
    return cx.transpose(x, tuple(perm) if perm else tuple(reversed(range(r))))


@converter("Concat", 11, doc="nn.concat (empty inputs dropped)")
def concat(cx: Cx, *xs, axis):
    vals = [v for v in xs if v is not None]
    r = cx.rank(vals[0])
    axis = axis + r if axis < 0 else axis
    vals = [v for v in vals if cx.shape(v)[axis] > 0] or vals[:1]
    if len(vals) == 1:
        return vals[0]
    return cx.emit("nn.concat", vals, axis=axis)


def _split(cx: Cx, x: Value, axis: int) -> list[Value]:
    r = cx.rank(x)
    axis = axis + r if axis < 0 else axis
    if any(s is None for s in cx.result_slots):
        raise cx.fail("absent Split outputs are not supported")
    sizes = [s.type.shape[axis] for s in cx.result_slots]
    if len(sizes) == 1:
        return [x]
    return list(cx.emit_op("nn.split", x, axis=axis, sizes=sizes).results)


@converter("Split", 11, doc="nn.split (sizes from the split attribute or equal parts)")
def split_11(cx: Cx, x, *, axis=0, split=None):
    return _split(cx, x, axis)


@converter("Split", 13, doc="nn.split (split sizes input constant, or num_outputs from opset 18)")
def split_13(cx: Cx, x, split=None, *, axis=0, num_outputs=None):
    cx.const_input(split, "split")
    return _split(cx, x, axis)


@converter("Slice", 11, doc="nn.slice with normalised begin/end/strides (constant starts, ends, axes, "
                            "steps)")
def slice_(cx: Cx, x, starts, ends, axes=None, steps=None):
    st = cx.const_input(starts, "starts")
    en = cx.const_input(ends, "ends")
    ax = cx.const_input(axes, "axes")
    sp = cx.const_input(steps, "steps")
    shape = cx.shape(x)
    begin, end, stride = slice_params(shape, st, en, ax, sp)
    if begin == [0] * len(shape) and end == list(shape) and all(s == 1 for s in stride):
        return x
    kw = {}
    if any(s != 1 for s in stride):
        kw["strides"] = stride
    return cx.emit("nn.slice", x, begin=begin, end=end, **kw)


@converter("Gather", 11, doc="nn.gather (constant indices are normalised to non-negative)")
def gather(cx: Cx, data, indices, *, axis=0):
    r = cx.rank(data)
    axis = axis + r if axis < 0 else axis
    idx = cx.value(indices)
    if idx is not None:
        dim = cx.shape(data)[axis]
        if np.any(idx >= dim) or np.any(idx < -dim):
            raise cx.fail(f"index out of range for axis {axis} of size {dim}")
        norm = np.where(idx < 0, idx + dim, idx).astype(idx.dtype)
        if idx.size == 1 and idx.ndim <= 1:
            # a single index: nn.slice (+ reshape when the axis is dropped)
            i = int(norm.reshape(-1)[0])
            begin = [0] * r
            end = list(cx.shape(data))
            begin[axis], end[axis] = i, i + 1
            y = cx.emit("nn.slice", data, begin=begin, end=end)
            return cx.reshape(y, cx.out_shape(0))
        indices = cx.const(norm, indices.type.element)
    elif indices.type.element.kind not in ("i32", "i64"):
        raise cx.fail(f"indices must be int32 or int64, got {indices.type.element}")
    return cx.emit("nn.gather", data, indices, axis=axis)


@converter("Expand", 11, doc="constant input: folded; otherwise nn.mul by ones of the result shape")
def expand(cx: Cx, x, shape):
    cx.const_input(shape, "shape")
    out = cx.out_shape(0)
    if out == cx.shape(x):
        return x
    if x.type.element.kind == "i1":
        raise cx.fail("Expand of a bool tensor is not supported")
    return cx.binary("mul", x, cx.like(np.ones(out), x))


@converter("Tile", 11, doc="constant input: folded; otherwise nn.concat copies along each axis")
def tile(cx: Cx, x, repeats):
    reps = [int(r) for r in np.asarray(cx.const_input(repeats, "repeats")).reshape(-1)]
    y = x
    for axis, n in enumerate(reps):
        if n > 1:
            y = cx.emit("nn.concat", [y] * n, axis=axis)
    return y


@converter("DepthToSpace", 11, doc="nn.reshape, nn.transpose (6-D), nn.reshape; DCR and CRD modes")
def depth_to_space(cx: Cx, x, *, blocksize, mode="DCR"):
    n, c, h, w = cx.shape(x)
    b = blocksize
    if mode == "DCR":
        y = cx.transpose(cx.reshape(x, (n, b, b, c // (b * b), h, w)), (0, 3, 4, 1, 5, 2))
    elif mode == "CRD":
        y = cx.transpose(cx.reshape(x, (n, c // (b * b), b, b, h, w)), (0, 1, 4, 2, 5, 3))
    else:
        raise cx.fail(f"mode '{mode}' is not supported")
    return cx.reshape(y, (n, c // (b * b), h * b, w * b))


@converter("SpaceToDepth", 11, doc="nn.reshape, nn.transpose (6-D), nn.reshape")
def space_to_depth(cx: Cx, x, *, blocksize, mode="DCR"):
    n, c, h, w = cx.shape(x)
    b = blocksize
    if mode != "DCR":
        raise cx.fail(f"mode '{mode}' is not supported")
    y = cx.transpose(cx.reshape(x, (n, c, h // b, b, w // b, b)), (0, 3, 5, 1, 2, 4))
    return cx.reshape(y, (n, c * b * b, h // b, w // b))


# ------------------------------------------------------------------ reductions
def _reduce(cx: Cx, nn_name: str, x: Value, axes, keepdims: int, noop_with_empty_axes: int) -> Value:
    if not isinstance(x.type.element, FloatType):
        raise cx.fail(f"needs a float input, got {x.type.element}")
    r = cx.rank(x)
    if axes is None or len(axes) == 0:
        if noop_with_empty_axes:
            return x
        axes = list(range(r))
    norm = sorted({int(a) + r if int(a) < 0 else int(a) for a in axes})
    return cx.emit(nn_name, x, axes=norm, keepdims=bool(keepdims))


def _reducer(nn_name: str, square: bool = False, root: bool = False, pre: str | None = None,
             post: str | None = None):
    def attr_axes(cx: Cx, x, *, axes=None, keepdims=1):
        return _run(cx, x, list(axes) if axes is not None else None, keepdims, 0)

    def input_axes(cx: Cx, x, axes=None, *, keepdims=1, noop_with_empty_axes=0):
        a = cx.const_input(axes, "axes")
        return _run(cx, x, [int(v) for v in np.asarray(a).reshape(-1)] if a is not None else None,
                    keepdims, noop_with_empty_axes)

    def _run(cx, x, axes, keepdims, noop):
        if nn_name == "logsumexp":
            return _log_sum_exp(cx, x, axes, keepdims, noop)
        if square:
            x = cx.binary("mul", x, x)
        if pre:
            x = cx.unary(pre, x)
        y = _reduce(cx, nn_name, x, axes, keepdims, noop)
        if post:
            y = cx.unary(post, y)
        return cx.unary("sqrt", y) if root else y

    return attr_axes, input_axes


def _log_sum_exp(cx: Cx, x: Value, axes, keepdims: int, noop: int) -> Value:
    """log(sum(exp(x - m))) + m with m = max(x): no overflow."""
    m = _reduce(cx, "nn.reduce_max", x, axes, 1, noop)
    if m is x:
        return x
    s = _reduce(cx, "nn.reduce_sum", cx.unary("exp", cx.binary("sub", x, m)), axes, 1, noop)
    y = cx.binary("add", cx.unary("log", s), m)
    return cx.reshape(y, cx.out_shape(0)) if not keepdims else y


for _onnx, _nn, _sq, _rt, _pre, _post, _input_since in (
        ("ReduceMean", "nn.mean", False, False, None, None, 18),
        ("ReduceSum", "nn.reduce_sum", False, False, None, None, 13),
        ("ReduceMax", "nn.reduce_max", False, False, None, None, 18),
        ("ReduceMin", "nn.reduce_min", False, False, None, None, 18),
        ("ReduceSumSquare", "nn.reduce_sum", True, False, None, None, 18),
        ("ReduceL2", "nn.reduce_sum", True, True, None, None, 18),
        ("ReduceL1", "nn.reduce_sum", False, False, "abs", None, 18),
        ("ReduceLogSum", "nn.reduce_sum", False, False, None, "log", 18),
        ("ReduceLogSumExp", "logsumexp", False, False, None, None, 18)):
    _a, _i = _reducer(_nn, _sq, _rt, _pre, _post)
    if _nn == "logsumexp":
        _what = "log(nn.reduce_sum(exp(x - max))) + max"
    else:
        _what = (("nn.mul(x, x), " if _sq else "") + (f"nn.{_pre}, " if _pre else "") + _nn
                 + (", nn.sqrt" if _rt else "") + (f", nn.{_post}" if _post else ""))
    converter(_onnx, 11, doc=f"{_what} (axes attribute; empty = all)")(_a)
    converter(_onnx, _input_since, doc=f"{_what} (axes input, constant)")(_i)


# ------------------------------------------------------------------ constant-only
def _constant_only(op_type: str):
    def run(cx: Cx, *xs, **attrs):
        raise cx.fail(f"{op_type} is supported only on constant inputs (folded at import), "
                      "but an input is computed at run time")

    return run


@converter("Where", 11, doc="folded on constant inputs; a constant uniform condition selects one input")
def where(cx: Cx, cond, x, y):
    c = cx.value(cond)
    if c is None or not (np.all(c) or not np.any(c)):
        raise cx.fail("Where is supported only with a constant condition that is all true or all false")
    v = x if np.all(c) else y
    out = cx.out_shape(0)
    if cx.shape(v) == out:
        return v
    return cx.binary("mul", v, cx.like(np.ones(out), v))


for _onnx in ("Shape", "Size", "Constant", "ConstantOfShape", "Range", "Equal", "Less", "Greater", "Not",
              "Floor", "Ceil", "Mod", "ReduceProd"):
    converter(_onnx, 11, doc="constant inputs only (folded)")(_constant_only(_onnx))
