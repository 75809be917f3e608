"""Numpy evaluation of the ONNX ops that compute shapes and constants.

The importer uses it to complete shapes (``Shape -> Gather -> Concat ->
Reshape`` chains), and legalization uses it to turn ONNX ops whose inputs are
all constants into ``builtin.constant`` (so ``Shape``, ``ConstantOfShape``,
``Range`` ... never reach ``nn``). Only the ops in ``FOLDERS`` are evaluated;
semantics follow the ONNX spec for the opsets the frontend accepts (11+).

``evaluate(op_type, inputs, attrs, opset, n_outputs)`` takes numpy arrays
(``None`` for an absent optional input) and the ONNX attributes as the IR
holds them (ints, floats, strings, tuples, ``DenseElements``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from edgecc.ir.attrs import DenseElements

Folder = Callable[..., Any]
FOLDERS: dict[str, Folder] = {}

#: ops folded from their input *type* alone (the input value need not be constant)
TYPE_ONLY = frozenset({"Shape", "Size"})


class FoldError(ValueError):
    """The op cannot be evaluated with these inputs."""


def folder(*names: str):
    def register(fn: Folder) -> Folder:
        for n in names:
            FOLDERS[n] = fn
        return fn

    return register


def onnx_dtype(code: int) -> np.dtype:
    from onnx import helper

    return np.dtype(helper.tensor_dtype_to_np_dtype(int(code)))


def tensor_attr(v: Any) -> np.ndarray:
    if isinstance(v, DenseElements):
        return np.array(v.array)
    return np.asarray(v)


def _axes(v, rank: int) -> list[int]:
    return [int(a) + rank if int(a) < 0 else int(a) for a in np.asarray(v).reshape(-1)]


def evaluate(op_type: str, inputs: Sequence[np.ndarray | None], attrs: dict[str, Any], opset: int,
             n_outputs: int = 1, input_shapes: Sequence[tuple | None] | None = None) -> list[np.ndarray]:
    """Evaluate one ONNX op; raises ``FoldError`` when it cannot."""
    fn = FOLDERS.get(op_type)
    if fn is None:
        raise FoldError(f"no folder for {op_type}")
    try:
        out = fn(list(inputs), dict(attrs), opset, input_shapes=input_shapes, n_outputs=n_outputs)
    except FoldError:
        raise
    except (ValueError, IndexError, TypeError, KeyError, OverflowError) as e:
        raise FoldError(f"{op_type}: {e}") from e
    outs = list(out) if isinstance(out, (list, tuple)) else [out]
    return [np.asarray(o) for o in outs[:n_outputs]]


# ------------------------------------------------------------ constants
@folder("Constant")
def _constant(x, a, opset, **_):
    if "value" in a:
        return tensor_attr(a["value"])
    if "value_float" in a:
        return np.array(a["value_float"], np.float32)
    if "value_floats" in a:
        return np.array(a["value_floats"], np.float32)
    if "value_int" in a:
        return np.array(a["value_int"], np.int64)
    if "value_ints" in a:
        return np.array(a["value_ints"], np.int64)
    raise FoldError("Constant without a supported value attribute")


@folder("ConstantOfShape")
def _constant_of_shape(x, a, opset, **_):
    value = tensor_attr(a["value"]).reshape(-1) if "value" in a else np.zeros(1, np.float32)
    shape = tuple(int(d) for d in x[0].reshape(-1))
    return np.full(shape, value[0], dtype=value.dtype)


@folder("Shape")
def _shape(x, a, opset, input_shapes=None, **_):
    shape = input_shapes[0] if input_shapes and input_shapes[0] is not None else x[0].shape
    r = len(shape)
    start = a.get("start", 0)
    end = a.get("end", r)
    start = min(max(start + r if start < 0 else start, 0), r)
    end = min(max(end + r if end < 0 else end, 0), r)
    return np.array(shape[start:end], np.int64)


@folder("Size")
def _size(x, a, opset, input_shapes=None, **_):
    shape = input_shapes[0] if input_shapes and input_shapes[0] is not None else x[0].shape
    return np.array(int(np.prod(shape, dtype=np.int64)), np.int64)


@folder("Identity", "Dropout")
def _identity(x, a, opset, **_):
    return x[0]


@folder("Cast")
def _cast(x, a, opset, **_):
    return x[0].astype(onnx_dtype(a["to"]))


@folder("Range")
def _range(x, a, opset, **_):
    start, limit, delta = (v.reshape(()) for v in x[:3])
    n = max(int(np.ceil((limit - start) / delta)), 0)
    return (start + np.arange(n, dtype=np.float64 if x[0].dtype.kind == "f" else np.int64) * delta).astype(
        x[0].dtype)


# ------------------------------------------------------------ shape ops
@folder("Reshape")
def _reshape(x, a, opset, **_):
    data, shape = x[0], [int(d) for d in x[1].reshape(-1)]
    if not a.get("allowzero", 0):
        shape = [data.shape[i] if d == 0 else d for i, d in enumerate(shape)]
    return data.reshape(shape)


@folder("Flatten")
def _flatten(x, a, opset, **_):
    axis = a.get("axis", 1)
    axis = axis + x[0].ndim if axis < 0 else axis
    outer = int(np.prod(x[0].shape[:axis], dtype=np.int64))
    return x[0].reshape(outer, -1)


@folder("Unsqueeze")
def _unsqueeze(x, a, opset, **_):
    axes = x[1] if opset >= 13 else a["axes"]
    axes_l = np.asarray(axes).reshape(-1)
    rank = x[0].ndim + len(axes_l)
    out = x[0]
    for ax in sorted(_axes(axes_l, rank)):
        out = np.expand_dims(out, ax)
    return out


@folder("Squeeze")
def _squeeze(x, a, opset, **_):
    axes = (x[1] if len(x) > 1 else None) if opset >= 13 else a.get("axes")
    if axes is None:
        return np.squeeze(x[0])
    return np.squeeze(x[0], axis=tuple(_axes(axes, x[0].ndim)))


@folder("Concat")
def _concat(x, a, opset, **_):
    return np.concatenate([v for v in x if v is not None], axis=a["axis"])


@folder("Transpose")
def _transpose(x, a, opset, **_):
    perm = a.get("perm")
    return np.transpose(x[0], perm if perm else None)


@folder("Gather")
def _gather(x, a, opset, **_):
    axis = a.get("axis", 0)
    axis = axis + x[0].ndim if axis < 0 else axis
    idx = x[1].astype(np.int64)
    idx = np.where(idx < 0, idx + x[0].shape[axis], idx)
    return np.take(x[0], idx, axis=axis)


def slice_params(shape: Sequence[int], starts, ends, axes, steps) -> tuple[list[int], list[int], list[int]]:
    """Normalise ONNX Slice inputs to one (begin, end, step) per dim with ONNX clamping."""
    rank = len(shape)
    starts = [int(s) for s in np.asarray(starts).reshape(-1)]
    ends = [int(e) for e in np.asarray(ends).reshape(-1)]
    axes_l = _axes(axes, rank) if axes is not None else list(range(len(starts)))
    steps_l = [int(s) for s in np.asarray(steps).reshape(-1)] if steps is not None else [1] * len(starts)
    begin = [0] * rank
    end = list(shape)
    stride = [1] * rank
    for s, e, ax, st in zip(starts, ends, axes_l, steps_l):
        if st == 0:
            raise FoldError("Slice step 0")
        d = shape[ax]
        if s < 0:
            s += d
        if e < 0:
            e += d
        if st > 0:
            s = min(max(s, 0), d)
            e = min(max(e, 0), d)
        else:
            s = min(max(s, 0), d - 1)
            e = min(max(e, -1), d - 1)
        begin[ax], end[ax], stride[ax] = s, e, st
    return begin, end, stride


def slice_array(arr: np.ndarray, begin, end, stride) -> np.ndarray:
    idx = tuple(slice(b, (None if (e < 0 and st < 0) else e), st) for b, e, st in zip(begin, end, stride))
    return arr[idx]


@folder("Slice")
def _slice(x, a, opset, **_):
    data = x[0]
    if opset >= 10:
        starts, ends = x[1], x[2]
        axes = x[3] if len(x) > 3 else None
        steps = x[4] if len(x) > 4 else None
    else:
        starts, ends, axes, steps = a["starts"], a["ends"], a.get("axes"), None
    b, e, s = slice_params(data.shape, starts, ends, axes, steps)
    return slice_array(data, b, e, s)


@folder("Expand")
def _expand(x, a, opset, **_):
    shape = [int(d) for d in x[1].reshape(-1)]
    out_shape = np.broadcast_shapes(x[0].shape, tuple(shape))
    return np.broadcast_to(x[0], out_shape).copy()


@folder("Tile")
def _tile(x, a, opset, **_):
    return np.tile(x[0], [int(r) for r in x[1].reshape(-1)])


@folder("Split")
def _split(x, a, opset, n_outputs=None, **_):
    axis = a.get("axis", 0)
    data = x[0]
    axis = axis + data.ndim if axis < 0 else axis
    sizes = None
    if opset >= 13 and len(x) > 1 and x[1] is not None:
        sizes = [int(s) for s in x[1].reshape(-1)]
    elif "split" in a:
        sizes = list(a["split"])
    if sizes is None:
        n = int(a.get("num_outputs", n_outputs or 1))
        d = data.shape[axis]
        step = -(-d // n)
        sizes = [min(step, d - i * step) for i in range(n)]
    return np.split(data, np.cumsum(sizes)[:-1], axis=axis)


# ------------------------------------------------------------ arithmetic
def _binary(fn):
    def run(x, a, opset, **_):
        return fn(x[0], x[1]).astype(np.result_type(x[0], x[1]), copy=False)

    return run


def _int_div(p, q):
    if p.dtype.kind in "iu":
        r = np.abs(p) // np.abs(q)
        return (r * np.sign(p) * np.sign(q)).astype(np.result_type(p, q))
    return p / q


folder("Add")(_binary(np.add))
folder("Sub")(_binary(np.subtract))
folder("Mul")(_binary(np.multiply))
folder("Div")(_binary(_int_div))


@folder("Pow")
def _pow(x, a, opset, **_):
    return np.power(x[0], x[1]).astype(x[0].dtype)


@folder("Mod")
def _mod(x, a, opset, **_):
    if a.get("fmod", 0):
        return np.fmod(x[0], x[1])
    return np.mod(x[0], x[1])


def _unary(fn):
    def run(x, a, opset, **_):
        return fn(x[0]).astype(x[0].dtype, copy=False)

    return run


folder("Neg")(_unary(np.negative))
folder("Abs")(_unary(np.abs))
folder("Floor")(_unary(np.floor))
folder("Ceil")(_unary(np.ceil))
folder("Sqrt")(_unary(np.sqrt))
folder("Reciprocal")(_unary(np.reciprocal))


@folder("Not")
def _not(x, a, opset, **_):
    return np.logical_not(x[0])


@folder("Equal")
def _equal(x, a, opset, **_):
    return np.equal(x[0], x[1])


@folder("Less")
def _less(x, a, opset, **_):
    return np.less(x[0], x[1])


@folder("Greater")
def _greater(x, a, opset, **_):
    return np.greater(x[0], x[1])


@folder("Where")
def _where(x, a, opset, **_):
    return np.where(x[0], x[1], x[2])


def _variadic(fn):
    def run(x, a, opset, **_):
        vals = [v for v in x if v is not None]
        out = vals[0]
        for v in vals[1:]:
            out = fn(out, v)
        return out.astype(vals[0].dtype, copy=False)

    return run


folder("Max")(_variadic(np.maximum))
folder("Min")(_variadic(np.minimum))
folder("Sum")(_variadic(np.add))


def _reduce(fn):
    def run(x, a, opset, **_):
        data = x[0]
        axes = None
        if len(x) > 1 and x[1] is not None:
            axes = x[1]
        elif "axes" in a:
            axes = a["axes"]
        keep = bool(a.get("keepdims", 1))
        if axes is None or np.asarray(axes).size == 0:
            if a.get("noop_with_empty_axes", 0):
                return data
            ax = None
        else:
            ax = tuple(_axes(axes, data.ndim))
        return np.asarray(fn(data, axis=ax, keepdims=keep)).astype(data.dtype)

    return run


folder("ReduceProd")(_reduce(np.prod))
folder("ReduceSum")(_reduce(np.sum))
folder("ReduceMax")(_reduce(np.max))
folder("ReduceMin")(_reduce(np.min))


__all__ = ["FOLDERS", "FoldError", "TYPE_ONLY", "evaluate", "onnx_dtype", "slice_array", "slice_params"]
