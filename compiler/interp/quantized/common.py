"""Registry and shared helpers of the integer kernels.

A kernel is ``kernel(op, *arrays) -> array | list[array]`` like the float
kernels; arrays hold *stored integers* (the storage dtype of each quantized
type: int8 for qi8/qi4, int16 for qi16) and plain arrays for non-quantized
operands (i32/i64 bias, i32/i64 indices, f32 for nn.quantize). Kernels read
quantization parameters from the op's operand/result types with ``qparams``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from edgecc.interp.ops_common import op_error
from edgecc.ir.types import QuantizedType, TensorType
from edgecc.quant import math as qm

#: op name -> integer kernel
QKERNELS: dict[str, Callable] = {}


def qkernel(*names: str):
    """Register an integer kernel under one or more op names."""

    def register(fn):
        for n in names:
            QKERNELS[n] = fn
        return fn

    return register


@dataclass(frozen=True)
class QParams:
    """Quantization parameters of one per-tensor value, as TFLite sees them.

    ``scale`` is the float32 rounding of the IR scale (TFLite stores float32).
    ``qmin``/``qmax`` are the storage range of the type (narrow ranges honoured).
    """

    scale: float
    zero_point: int
    qmin: int
    qmax: int
    bits: int

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(np.int16 if self.bits == 16 else np.int8)

    def same(self, other: QParams) -> bool:
        return self.scale == other.scale and self.zero_point == other.zero_point


def element(value) -> QuantizedType | None:
    t = value.type
    if isinstance(t, TensorType) and isinstance(t.element, QuantizedType):
        return t.element
    return None


def qparams(op, value, what: str = "value") -> QParams:
    """Per-tensor parameters of a quantized operand or result of ``op``."""
    q = element(value)
    if q is None:
        raise op_error(op, f"{what} is not quantized ({value.type})")
    if q.per_axis:
        raise op_error(op, f"{what} must be quantized per tensor, got per-axis {q}")
    return QParams(qm.f32(q.scale), int(q.zero_point), int(q.qmin), int(q.qmax), q.storage.bits)


def params_of(q: QuantizedType) -> QParams:
    """``QParams`` of a per-tensor quantized element (a type a composite kernel makes up)."""
    return QParams(qm.f32(q.scale), int(q.zero_point), int(q.qmin), int(q.qmax), q.storage.bits)


def i16_or_i8(bits: int):
    """The storage type of ``bits``-bit activations."""
    from edgecc.ir.types import i8, i16

    return i16 if bits == 16 else i8


def axis_params(q: QuantizedType, ndim: int):
    """float32 scales and zero points of a (possibly per-axis) type, broadcastable to rank ``ndim``."""
    scales = np.asarray(q.scales, dtype=np.float32)
    zps = np.asarray(q.zero_points, dtype=np.int64)
    if q.axis is None:
        return scales[0], zps[0]
    shape = [1] * ndim
    axis = q.axis if q.axis >= 0 else q.axis + ndim
    shape[axis] = len(q.scales)
    return scales.reshape(shape), zps.reshape(shape)


def i64(a) -> np.ndarray:
    return np.asarray(a, dtype=np.int64)


def store(y, q: QParams) -> np.ndarray:
    """Clamp to the storage range and cast to the storage dtype."""
    return np.clip(y, q.qmin, q.qmax).astype(q.dtype)


def requant(x, src: QParams, dst: QParams) -> np.ndarray:
    """Stored integers of ``src`` re-expressed in ``dst`` (TFLite QUANTIZE int->int); identity
    when the parameters are equal."""
    if src.same(dst):
        return i64(x)
    return qm.requantize(i64(x), src.scale, src.zero_point, dst.scale, dst.zero_point,
                         dst.qmin, dst.qmax)


def act_range(op, out: QParams) -> tuple[int, int]:
    """Clamp range of the fused ``activation`` attribute on the output (TFLite rules)."""
    act = op.attr("activation", "none") or "none"
    try:
        return qm.activation_range(act, out.scale, out.zero_point, out.qmin, out.qmax)
    except ValueError as e:
        raise op_error(op, str(e)) from None


def require(op, cond: bool, message: str) -> None:
    if not cond:
        raise op_error(op, message)


def fixed_output(op, out: QParams, scale: float, zero_point: int, what: str) -> None:
    """Check the fixed output parameters TFLite requires (softmax, logistic, tanh...)."""
    ok = out.zero_point == zero_point and abs(out.scale - scale) <= 1e-3 * scale
    require(op, ok, f"on {what} needs the fixed output quantization scale {scale!r}, zero point "
                    f"{zero_point} (TFLite); got scale {out.scale!r}, zero point {out.zero_point}")
