"""Elementwise kernels: binary arithmetic, activations, softmax, cast, quantize.

Binary arithmetic and simple activations compute directly in float32 (IEEE
operations are correctly rounded, as in onnxruntime). Transcendental
functions whose onnxruntime kernels are polynomial approximations (sigmoid,
tanh, erf, softmax, log_softmax) and composite formulas (hard_swish, rsqrt)
are evaluated in float64 and rounded once, which stays within 1 ulp or so of
onnxruntime.
"""

from __future__ import annotations

import math

import numpy as np

from edgecc.interp.ops_common import apply_activation, f32, kernel, norm_axis, op_error, round_f32
from edgecc.ir.types import QuantizedType


def _is_float(a: np.ndarray) -> bool:
    return a.dtype.kind == "f"


def _f64(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


# --------------------------------------------------------------------- binary
def _binary(fn):
    def k(op, a, b):
        return apply_activation(op, fn(a, b))

    return k


def _div(a, b):
    if _is_float(a) or _is_float(b):
        return a / b
    # integer division truncates toward zero (C semantics, as onnxruntime)
    q = np.abs(a) // np.where(b == 0, 1, np.abs(b))
    return np.where((a < 0) != (b < 0), -q, q).astype(np.result_type(a, b))


kernel("nn.add")(_binary(np.add))
kernel("nn.sub")(_binary(np.subtract))
kernel("nn.mul")(_binary(np.multiply))
kernel("nn.div")(_binary(_div))
kernel("nn.maximum")(_binary(np.maximum))
kernel("nn.minimum")(_binary(np.minimum))


@kernel("nn.pow")
def pow_(op, a, b):
    if _is_float(a):
        return np.power(a, np.asarray(b).astype(a.dtype))
    return np.power(a, b)


# ---------------------------------------------------------------------- unary
@kernel("nn.relu")
def relu(op, x):
    return np.maximum(x, x.dtype.type(0))


@kernel("nn.clamp")
def clamp(op, x):
    lo, hi = op.attr("min"), op.attr("max")
    y = x
    if lo is not None:
        y = np.maximum(y, f32(lo) if _is_float(x) else lo)
    if hi is not None:
        y = np.minimum(y, f32(hi) if _is_float(x) else hi)
    return y


@kernel("nn.leaky_relu")
def leaky_relu(op, x):
    alpha = f32(op.attr("alpha", 0.01))
    return np.where(x >= 0, x, x * alpha)


@kernel("nn.prelu")
def prelu(op, x, slope):
    return np.where(x >= 0, x, x * slope)


@kernel("nn.hard_sigmoid")
def hard_sigmoid(op, x):
    """max(0, min(1, alpha * x + beta)) in float32, like onnxruntime."""
    alpha, beta = f32(op.attr("alpha", 0.2)), f32(op.attr("beta", 0.5))
    return np.clip(alpha * x + beta, np.float32(0), np.float32(1))


@kernel("nn.hard_swish")
def hard_swish(op, x):
    """x * relu6(x + 3) / 6, in float64."""
    xd = _f64(x)
    return round_f32(xd * np.clip(xd + 3.0, 0.0, 6.0) / 6.0)


@kernel("nn.sigmoid")
def sigmoid(op, x):
    return round_f32(1.0 / (1.0 + np.exp(-_f64(x))))


@kernel("nn.tanh")
def tanh(op, x):
    return round_f32(np.tanh(_f64(x)))


@kernel("nn.exp")
def exp(op, x):
    return np.exp(x)


@kernel("nn.log")
def log(op, x):
    return np.log(x)


@kernel("nn.sqrt")
def sqrt(op, x):
    return np.sqrt(x)


@kernel("nn.rsqrt")
def rsqrt(op, x):
    return round_f32(1.0 / np.sqrt(_f64(x)))


@kernel("nn.abs")
def abs_(op, x):
    return np.abs(x)


@kernel("nn.neg")
def neg(op, x):
    return np.negative(x)


_erf = np.frompyfunc(math.erf, 1, 1)


@kernel("nn.erf")
def erf(op, x):
    """math.erf (correctly rounded double erf of libm) applied elementwise, rounded to float32."""
    xd = _f64(x)
    return round_f32(_erf(xd).astype(np.float64)) if xd.size else round_f32(xd)


@kernel("nn.softmax")
def softmax(op, x):
    """exp(beta * (x - max)) / sum along ``axis``, in float64."""
    axis = norm_axis(op, int(op.attr("axis", -1)), x.ndim)
    beta = float(f32(op.attr("beta", 1.0)))
    xd = _f64(x)
    e = np.exp(beta * (xd - xd.max(axis=axis, keepdims=True)))
    return round_f32(e / e.sum(axis=axis, keepdims=True))


@kernel("nn.log_softmax")
def log_softmax(op, x):
    """(x - max) - log(sum(exp(x - max))) along ``axis``, in float64."""
    axis = norm_axis(op, int(op.attr("axis", -1)), x.ndim)
    xd = _f64(x)
    s = xd - xd.max(axis=axis, keepdims=True)
    return round_f32(s - np.log(np.exp(s).sum(axis=axis, keepdims=True)))


# ------------------------------------------------------------- cast and quant
@kernel("nn.cast")
def cast(op, x):
    """numpy ``astype``: float -> int truncates toward zero; x != 0 -> true for i1."""
    to = op.results[0].type.element
    if isinstance(to, QuantizedType):
        raise op_error(op, "to a quantized type: integer semantics not implemented in the reference "
                       "interpreter (use nn.quantize)")
    dt = to.numpy
    if dt == np.bool_:
        return x != 0
    if dt.kind in "iu" and _is_float(x):
        return np.trunc(x).astype(dt)
    return x.astype(dt)


def _axis_shape(q: QuantizedType, ndim: int) -> tuple[int, ...] | None:
    """Broadcast shape of per-axis parameters (None for per-tensor)."""
    if q.axis is None:
        return None
    shape = [1] * ndim
    shape[q.axis if q.axis >= 0 else q.axis + ndim] = len(q.scales)
    return tuple(shape)


def _params(q: QuantizedType, ndim: int, op):
    scale = np.asarray(q.scales, dtype=np.float32)
    zp = np.asarray(q.zero_points, dtype=np.int64)
    shape = _axis_shape(q, ndim)
    if shape is not None:
        axis = q.axis if q.axis >= 0 else q.axis + ndim
        if not 0 <= axis < ndim:
            raise op_error(op, f"quantization axis {q.axis} out of range for rank {ndim}")
        return scale.reshape(shape), zp.reshape(shape)
    return scale[0], zp[0]


@kernel("nn.quantize")
def quantize(op, x):
    """ONNX QuantizeLinear: saturate(round_half_even(x / scale) + zero_point) to qmin..qmax.

    The division is float32 like onnxruntime; per-axis types broadcast along their axis.
    """
    q = op.results[0].type.element
    if not isinstance(q, QuantizedType):
        raise op_error(op, f"result element {q} is not a quantized type")
    scale, zp = _params(q, x.ndim, op)
    y = np.rint(np.asarray(x, dtype=np.float32) / scale).astype(np.float64) + zp
    return np.clip(y, q.qmin, q.qmax).astype(q.storage.numpy)


@kernel("nn.dequantize")
def dequantize(op, x):
    """ONNX DequantizeLinear: float32(stored - zero_point) * scale."""
    q = op.operands[0].type.element
    if not isinstance(q, QuantizedType):
        raise op_error(op, f"operand element {q} is not a quantized type")
    scale, zp = _params(q, x.ndim, op)
    return (np.asarray(x, dtype=np.int64) - zp).astype(np.float32) * scale
