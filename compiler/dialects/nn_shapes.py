"""Shape rules shared by the ``nn`` dialect (and usable by executors).

Pure functions over ``tuple[int, ...]`` shapes. They raise ``ShapeError``
(a ``ValueError``) with a user-facing message; ``nn`` ops turn it into a
located ``VerifyError``.
"""

from __future__ import annotations

from collections.abc import Sequence

from edgecc.ir.types import QuantizedType, TensorType, Type


class ShapeError(ValueError):
    """A shape or attribute does not satisfy an op's rules."""


def fmt_shape(shape: Sequence[int]) -> str:
    """``1x8x8x3`` (``scalar`` for rank 0), as in tensor types."""
    return "x".join(str(d) for d in shape) or "scalar"


def normalize_axis(axis: int, rank: int, what: str = "axis") -> int:
    """Map ``axis`` in ``[-rank, rank)`` to ``[0, rank)`` (ONNX negative axes)."""
    if not -rank <= axis < rank:
        raise ShapeError(f"{what} {axis} out of range for rank {rank} (expected {-rank} to {rank - 1})")
    return axis + rank if axis < 0 else axis


def normalize_axes(axes: Sequence[int], rank: int, what: str = "axes") -> tuple[int, ...]:
    """Normalise each axis; duplicates (after normalisation) are an error."""
    out = tuple(normalize_axis(a, rank, what) for a in axes)
    if len(set(out)) != len(out):
        raise ShapeError(f"{what} {list(axes)} name the same axis twice")
    return out


def check_ints(values: Sequence[int] | None, name: str, length: int | None = None,
               minimum: int | None = None) -> tuple[int, ...]:
    """Validate an integer-array attribute: its length and a lower bound."""
    if values is None:
        raise ShapeError(f"missing attribute '{name}'")
    values = tuple(values)
    if length is not None and len(values) != length:
        raise ShapeError(f"{name} must have {length} entries, got {len(values)}")
    if minimum is not None and any(v < minimum for v in values):
        rule = "positive" if minimum == 1 else "non-negative" if minimum == 0 else f">= {minimum}"
        raise ShapeError(f"{name} must be {rule}, got {list(values)}")
    return values


def broadcast_shapes(a: Sequence[int], b: Sequence[int]) -> tuple[int, ...]:
    """numpy/ONNX multidirectional broadcasting of two shapes."""
    rank = max(len(a), len(b))
    pa = (1,) * (rank - len(a)) + tuple(a)
    pb = (1,) * (rank - len(b)) + tuple(b)
    out = []
    for x, y in zip(pa, pb):
        if x != y and x != 1 and y != 1:
            raise ShapeError(f"shapes {fmt_shape(a)} and {fmt_shape(b)} are not broadcast-compatible")
        out.append(y if x == 1 else x)
    return tuple(out)


def conv_output_size(size: int, kernel: int, stride: int, dilation: int, pad_begin: int,
                     pad_end: int, dim: str = "") -> int:
    """``(size + pad_begin + pad_end - dilation*(kernel-1) - 1) // stride + 1``.

    A (dilated) kernel larger than the padded input is an error.
    """
    extent = dilation * (kernel - 1) + 1
    padded = size + pad_begin + pad_end
    if extent > padded:
        where = f" along {dim}" if dim else ""
        raise ShapeError(f"kernel extent {extent} is larger than the padded input {padded}{where}")
    return (padded - extent) // stride + 1


def window_output_hw(in_hw: Sequence[int], kernel_hw: Sequence[int], strides: Sequence[int],
                     pads: Sequence[int], dilations: Sequence[int] = (1, 1)) -> tuple[int, int]:
    """Output (H, W) of an NHWC window op with pads ``[top, left, bottom, right]``."""
    oh = conv_output_size(in_hw[0], kernel_hw[0], strides[0], dilations[0], pads[0], pads[2], "height")
    ow = conv_output_size(in_hw[1], kernel_hw[1], strides[1], dilations[1], pads[1], pads[3], "width")
    return oh, ow


def matmul_shape(a: Sequence[int], b: Sequence[int]) -> tuple[int, ...]:
    """numpy ``matmul`` result shape (1-D operands promoted, batch dims broadcast)."""
    if not a or not b:
        raise ShapeError("matmul operands must have rank >= 1")
    a2 = (1,) + tuple(a) if len(a) == 1 else tuple(a)
    b2 = tuple(b) + (1,) if len(b) == 1 else tuple(b)
    if a2[-1] != b2[-2]:
        raise ShapeError(f"matmul inner dimensions differ: {fmt_shape(a)} @ {fmt_shape(b)} "
                         f"({a2[-1]} vs {b2[-2]})")
    batch = broadcast_shapes(a2[:-2], b2[:-2])
    out = batch + (a2[-2], b2[-1])
    if len(a) == 1:
        out = out[:-2] + out[-1:]
    if len(b) == 1:
        out = out[:-1]
    return out


def reduce_shape(shape: Sequence[int], axes: Sequence[int], keepdims: bool) -> tuple[int, ...]:
    """Shape after reducing normalised ``axes``."""
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def slice_dim(size: int, begin: int, end: int, step: int, axis: int) -> int:
    """Length of one normalised slice dimension (ONNX clamping rules).

    ``step > 0``: ``0 <= begin <= size`` and ``0 <= end <= size``.
    ``step < 0``: ``0 <= begin <= size - 1`` and ``-1 <= end <= size - 1``
    (``end = -1`` means "through index 0"). Empty results are allowed.
    """
    if step == 0:
        raise ShapeError(f"slice stride is 0 on axis {axis}")
    if size == 0:
        ok, bounds = begin == 0 and end in (0, -1), "begin 0, end 0 or -1"
    elif step > 0:
        ok = 0 <= begin <= size and 0 <= end <= size
        bounds = f"0..{size}"
    else:
        ok = 0 <= begin <= size - 1 and -1 <= end <= size - 1
        bounds = f"begin 0..{size - 1}, end -1..{size - 1}"
    if not ok:
        raise ShapeError(f"slice bounds begin={begin} end={end} on axis {axis} are not normalised "
                         f"for size {size} and stride {step} (expected {bounds})")
    if size == 0:
        return 0
    return max(0, -(-(end - begin) // step))


def slice_shape(shape: Sequence[int], begin: Sequence[int], end: Sequence[int],
                strides: Sequence[int]) -> tuple[int, ...]:
    for name, v in (("begin", begin), ("end", end), ("strides", strides)):
        if len(v) != len(shape):
            raise ShapeError(f"slice {name} has {len(v)} entries for rank {len(shape)}")
    return tuple(slice_dim(d, b, e, s, i) for i, (d, b, e, s) in enumerate(zip(shape, begin, end, strides)))


def quant_axis_problem(t: Type) -> str | None:
    """Why a per-axis quantized tensor type is inconsistent with its shape, or None."""
    if not isinstance(t, TensorType) or not isinstance(t.element, QuantizedType):
        return None
    q = t.element
    if q.axis is None:
        return None
    if not 0 <= q.axis < t.rank:
        return f"quantization axis {q.axis} out of range for rank {t.rank}"
    if len(q.scales) != t.shape[q.axis]:
        return (f"per-axis quantization has {len(q.scales)} scales but dimension {q.axis} "
                f"has size {t.shape[q.axis]}")
    return None
