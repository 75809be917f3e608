"""Quantization schemes and the arithmetic that picks scales and zero points.

Affine quantization represents a real value ``r`` by an integer ``q``::

    r = scale * (q - zero_point)        q = clamp(round(r / scale) + zero_point, qmin, qmax)

Schemes (TensorFlow Lite's quantization specification):

========== ===================================== ============================ ============
scheme     activations                           weights                      bias
========== ===================================== ============================ ============
int8       int8 asymmetric per tensor            int8 symmetric per channel,  int32
                                                 [-127, 127], zero point 0
int16x8    int16 symmetric per tensor, zp 0      as int8                      int64
int8-w4    as int8                               signed 4-bit per channel,    int32
                                                 [-7, 7], zero point 0
========== ===================================== ============================ ============

The bias of a weighted op has ``scale = input_scale * weight_scale[c]`` and
zero point 0, so the integer accumulator ``sum(q_x - zp_x) * q_w + q_b`` is in
the same units. Rounding of weights and biases is half away from zero, like
TFLite's quantizer (``std::round``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from edgecc.ir.types import IntegerType, QuantizedType, f32, i4, i8, i16, i32, i64

INT32_MAX = 2**31 - 1


@dataclass(frozen=True)
class Scheme:
    """One integer scheme: storage of activations, weights and biases."""

    name: str
    activation: IntegerType
    weight: IntegerType
    weight_qmin: int
    weight_qmax: int
    bias: IntegerType

    @property
    def symmetric_activations(self) -> bool:
        return self.activation.bits == 16

    @property
    def levels(self) -> int:
        return 1 << self.activation.bits


SCHEMES = {
    "int8": Scheme("int8", i8, i8, -127, 127, i32),
    "int16x8": Scheme("int16x8", i16, i8, -127, 127, i64),
    "int8-w4": Scheme("int8-w4", i8, i4, -7, 7, i32),
}
#: weight-only schemes handled by ``edgecc.quant.dynamic``
WEIGHT_ONLY = ("dynamic-int8", "fp16-weights")
ALL_SCHEMES = tuple(SCHEMES) + WEIGHT_ONLY


def to_f32(x: float) -> float:
    """``x`` rounded to float32: TFLite stores scales as float32, so the IR keeps exactly those."""
    return float(np.float32(x))


def round_half_away(x: np.ndarray) -> np.ndarray:
    """``std::round``: halves away from zero."""
    x = np.asarray(x, dtype=np.float64)
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


# -------------------------------------------------------------- activations
def activation_params(lo: float, hi: float, storage: IntegerType = i8,
                      symmetric: bool = False) -> tuple[float, int]:
    """Scale and zero point for a real range (widened to contain 0).

    Asymmetric: ``scale = (hi - lo) / (qmax - qmin)``, zero point
    ``round(qmin - lo / scale)`` clamped to the storage range. Symmetric:
    ``scale = max(|lo|, |hi|) / qmax``, zero point 0. An empty range (all
    zeros) gets the range [0, 1].
    """
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"range [{lo}, {hi}] is not finite")
    qmin, qmax = storage.min, storage.max
    if symmetric:
        a = max(-lo, hi)
        if a <= 0:
            a = 1.0
        return to_f32(a / qmax), 0
    if hi - lo <= 0:
        hi = lo + 1.0
    scale = to_f32((hi - lo) / (qmax - qmin))
    zp = int(np.clip(round_half_away(qmin - lo / scale), qmin, qmax))
    return scale, zp


def activation_type(lo: float, hi: float, scheme: Scheme) -> QuantizedType:
    scale, zp = activation_params(lo, hi, scheme.activation, scheme.symmetric_activations)
    return QuantizedType(scheme.activation, f32, (scale,), (zp,))


def fixed_output_type(op_name: str, scheme: Scheme) -> QuantizedType | None:
    """TFLite's fixed output parameters for ops whose output range is known."""
    bits = scheme.activation.bits
    table8 = {
        "nn.softmax": (1 / 256, -128),
        "nn.sigmoid": (1 / 256, -128),
        "nn.tanh": (1 / 128, 0),
        "nn.log_softmax": (16 / 256, 127),
    }
    table16 = {
        "nn.softmax": (1 / 32768, 0),
        "nn.sigmoid": (1 / 32768, 0),
        "nn.tanh": (1 / 32768, 0),
    }
    table = table8 if bits == 8 else table16
    if op_name not in table:
        return None
    scale, zp = table[op_name]
    return QuantizedType(scheme.activation, f32, (scale,), (zp,))


# ------------------------------------------------------------------ weights
def weight_scales(w: np.ndarray, axis: int | None, qmax: int) -> np.ndarray:
    """Symmetric scales: ``max|w| / qmax`` per slice along ``axis`` (all of ``w`` if None)."""
    w = np.asarray(w, dtype=np.float64)
    if axis is None:
        m = np.array([np.max(np.abs(w))]) if w.size else np.array([0.0])
    else:
        moved = np.moveaxis(w, axis, 0).reshape(w.shape[axis], -1)
        m = np.max(np.abs(moved), axis=1) if moved.shape[1] else np.zeros(w.shape[axis])
    s = (m / qmax).astype(np.float32).astype(np.float64)
    s[~(s > 0)] = 1.0  # an all-zero channel: any scale represents it exactly
    return s


def quantize_weights(w: np.ndarray, scales: np.ndarray, axis: int | None, qmin: int,
                     qmax: int) -> np.ndarray:
    w = np.asarray(w, dtype=np.float64)
    if axis is None:
        s = scales.reshape(())
    else:
        shape = [1] * w.ndim
        shape[axis] = -1
        s = scales.reshape(shape)
    return np.clip(round_half_away(w / s), qmin, qmax).astype(np.int64)


def weight_type(scales: np.ndarray, axis: int | None, scheme: Scheme) -> QuantizedType:
    n = len(scales)
    return QuantizedType(scheme.weight, f32, tuple(float(s) for s in scales), (0,) * n,
                         axis if axis is not None else None, scheme.weight_qmin, scheme.weight_qmax)


def quantize_bias(b: np.ndarray, input_scale: float, w_scales: np.ndarray,
                  storage: IntegerType) -> np.ndarray:
    """``round(b / (input_scale * w_scale[c]))`` saturated to ``storage``."""
    s = input_scale * np.asarray(w_scales, dtype=np.float64)
    q = round_half_away(np.asarray(b, dtype=np.float64) / s)
    return np.clip(q, storage.min, storage.max).astype(storage.numpy)


def bias_safe_scales(b: np.ndarray | None, input_scale: float, w_scales: np.ndarray,
                     storage: IntegerType) -> np.ndarray:
    """Weight scales widened where the bias would not fit ``storage`` (TFLite does the same)."""
    if b is None:
        return w_scales
    limit = float(storage.max)
    need = np.abs(np.asarray(b, dtype=np.float64)) / (input_scale * limit) * (1 + 1e-6)
    return np.maximum(w_scales, need.astype(np.float32).astype(np.float64))


def quantize_array(x: np.ndarray, q: QuantizedType) -> np.ndarray:
    """Float data -> stored integers of ``q`` (round half to even, as nn.quantize)."""
    x = np.asarray(x, dtype=np.float64)
    if q.axis is None:
        s, z = q.scales[0], q.zero_points[0]
    else:
        shape = [1] * x.ndim
        shape[q.axis] = -1
        s = np.asarray(q.scales).reshape(shape)
        z = np.asarray(q.zero_points).reshape(shape)
    return np.clip(np.round(x / s) + z, q.qmin, q.qmax).astype(q.storage.numpy)


def dequantize_array(x: np.ndarray, q: QuantizedType) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if q.axis is None:
        return ((x - q.zero_points[0]) * q.scales[0]).astype(np.float32)
    shape = [1] * x.ndim
    shape[q.axis] = -1
    s = np.asarray(q.scales).reshape(shape)
    z = np.asarray(q.zero_points).reshape(shape)
    return ((x - z) * s).astype(np.float32)


def parse_scheme(name: str) -> Scheme:
    try:
        return SCHEMES[name]
    except KeyError:
        raise ValueError(f"unknown quantization scheme '{name}' "
                         f"(expected {', '.join(ALL_SCHEMES)})") from None


__all__ = ["ALL_SCHEMES", "SCHEMES", "Scheme", "WEIGHT_ONLY", "activation_params", "activation_type",
           "bias_safe_scales", "dequantize_array", "fixed_output_type", "quantize_array", "quantize_bias",
           "quantize_weights", "round_half_away", "to_f32", "weight_scales", "weight_type"]
