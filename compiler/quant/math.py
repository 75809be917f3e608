"""Fixed-point arithmetic of TFLite / TFLite Micro integer kernels, vectorised with numpy.

Everything here reproduces the semantics of TFLM's reference kernels bit for bit
(double-rounding build, i.e. ``TFLITE_SINGLE_ROUNDING`` off, which is TFLM's
default); the interpreter's integer kernels, the quantize pass and the backends
all compute their requantization constants through these functions so they agree.

Representation
    A real multiplier ``M > 0`` is stored as a Q31 integer ``m`` in [2^30, 2^31)
    and a power-of-two exponent ``shift`` with ``M ~= m * 2^(shift - 31)``
    (``quantize_multiplier``, TFLite's ``QuantizeMultiplier``: ``frexp``, round
    the mantissa half away from zero to 31 bits, renormalise the 2^31 overflow,
    flush multipliers below 2^-31 to zero).

Applying it (``multiply_by_quantized_multiplier``, TFLite's
``MultiplyByQuantizedMultiplier(int32 x, ...)``)
    ``x * 2^max(shift, 0)`` (int32, wrapping) -> ``SaturatingRoundingDoublingHighMul``
    with ``m`` (``(x*m + nudge) / 2^31`` truncated, nudge = +-2^30, saturating
    the single overflow case ``INT32_MIN * INT32_MIN``) -> ``RoundingDivideByPOT`` by
    ``max(-shift, 0)`` (rounding right shift: ties away from zero). Two roundings.

    The int64 variant (``multiply_by_quantized_multiplier_int64``, used by the
    int16x8 kernels whose accumulators are int64) first rounds ``m`` to 16 bits,
    then does one rounding shift: ``(x * m16 + 2^(14 - shift)) >> (15 - shift)``.

Scales
    TFLite stores scales as float32 and computes every multiplier from those
    float32 values widened to double (the ``*_params`` functions below follow
    each kernel's expression; the TFLM build we check against does all these
    ratios in double, see docs/quantization-semantics.md). Pass scales as they
    are in the IR; they are rounded to float32 here (``f32``).

Arrays are int64 numpy arrays holding int32 values (int64 accumulators for the
int64 variant); multipliers and shifts may be scalars or arrays that broadcast.
"""

from __future__ import annotations

import math

import numpy as np

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1

__all__ = [
    "INT32_MAX", "INT32_MIN", "activation_range", "add_sub_params", "avg_pool_round",
    "clz32", "conv_per_channel_params", "downscale_multiplier_int16", "f32", "fc_per_tensor_params",
    "mean_multiplier", "mul_params", "multiply_by_quantized_multiplier",
    "multiply_by_quantized_multiplier_int64", "quantize_multiplier", "quantize_multiplier_array",
    "quantize_value", "quantize_values", "requantize", "requantize_params",
    "round_half_away", "rounding_divide_by_pot", "saturating_rounding_doubling_high_mul",
    "trunc_div", "wrap_int16", "wrap_int32",
]


# ------------------------------------------------------------------ scalars
def f32(x) -> float:
    """``x`` rounded to float32 (TFLite's storage type for scales), as a Python float."""
    return float(np.float32(x))


def quantize_multiplier(real: float) -> tuple[int, int]:
    """TFLite ``QuantizeMultiplier``: ``real ~= m * 2^(shift - 31)`` with ``|m|`` in [2^30, 2^31).

    ``frexp`` splits ``real`` into a mantissa in [0.5, 1) and an exponent; the
    mantissa times 2^31 is rounded half away from zero; a mantissa that rounds
    up to 2^31 is halved and the exponent bumped; exponents below -31 (real
    multipliers under about 2^-32) flush to ``(0, 0)``. ``real == 0`` gives
    ``(0, 0)``. Negative reals give negative ``m`` (leaky_relu's alpha).
    """
    real = float(real)
    if real == 0.0:
        return 0, 0
    if not math.isfinite(real):
        raise ValueError(f"cannot quantize the multiplier {real}")
    q, shift = math.frexp(real)
    q_fixed = int(round_half_away(q * (1 << 31)))
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        shift = 0
        q_fixed = 0
    return q_fixed, shift


def quantize_multiplier_array(reals) -> tuple[np.ndarray, np.ndarray]:
    """``quantize_multiplier`` over an array of reals (per-channel multipliers)."""
    r = np.asarray(reals, dtype=np.float64)
    pairs = [quantize_multiplier(v) for v in r.ravel().tolist()]
    m = np.array([p[0] for p in pairs], dtype=np.int64).reshape(r.shape)
    s = np.array([p[1] for p in pairs], dtype=np.int64).reshape(r.shape)
    return m, s


def round_half_away(x):
    """C ``round``: nearest integer, halves away from zero (TFLite's ``TfLiteRound``).

    Works on Python floats and numpy arrays; float32 inputs are rounded as
    float32 values (``roundf``), exactly, by going through float64.
    """
    if isinstance(x, (float, int)):
        return math.copysign(math.floor(abs(x) + 0.5), x)
    a = np.asarray(x, dtype=np.float64)
    return np.copysign(np.floor(np.abs(a) + 0.5), a)


def quantize_value(value: float, scale: float, zero_point: int) -> int:
    """``zero_point + round_half_away(float32(value) / float32(scale))`` computed in float32.

    The float32 division is how TFLite quantizes constants in Prepare
    (activation bounds, pad values); the result is not clamped.
    """
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        q = np.float32(value) / np.float32(scale)
    if not np.isfinite(q):
        return int(zero_point) + (1 << 40 if q > 0 else -(1 << 40))
    return int(zero_point) + int(round_half_away(float(q)))


def quantize_values(x: np.ndarray, scale, zero_point, qmin: int, qmax: int) -> np.ndarray:
    """TFLite QUANTIZE of float data (``AffineQuantize``): clamp(round(x / scale) + zp).

    ``x / scale`` is a float32 division, rounding is half away from zero. ``scale``
    and ``zero_point`` may be arrays broadcasting against ``x`` (per-axis).
    Out-of-range values saturate and NaN counts as 0 (the zero point), which is what
    TFLM does on Arm targets (saturating ``VCVT``); x86 builds produce INT32_MIN there.
    """
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        q = np.asarray(x, dtype=np.float32) / np.asarray(scale, dtype=np.float32)
    r = round_half_away(q)
    r = np.where(np.isnan(r), 0.0, r)
    r = np.clip(r, float(INT32_MIN), float(INT32_MAX)).astype(np.int64)
    return np.clip(r + np.asarray(zero_point, dtype=np.int64), qmin, qmax)


# -------------------------------------------------------- integer wrapping
def wrap_int32(x):
    """Two's-complement wrap of int64 values to int32 (C's conversion on every target we know)."""
    a = np.asarray(x, dtype=np.int64)
    return ((a + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def wrap_int16(x):
    a = np.asarray(x, dtype=np.int64)
    return ((a + (1 << 15)) & 0xFFFF) - (1 << 15)


def trunc_div(a, b):
    """C integer division (truncates toward zero) of int64 arrays; ``b > 0``."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    q = np.abs(a) // b
    return np.where(a < 0, -q, q)


def clz32(x) -> np.ndarray:
    """Count leading zeros of ``x`` as uint32 (32 for 0)."""
    u = np.asarray(x, dtype=np.int64) & 0xFFFFFFFF
    _, e = np.frexp(u.astype(np.float64))  # exact: u < 2^53; e = bit length for u > 0
    return np.where(u == 0, 32, 32 - e).astype(np.int64)


# --------------------------------------------------- gemmlowp primitives
def saturating_rounding_doubling_high_mul(a, b) -> np.ndarray:
    """gemmlowp ``SaturatingRoundingDoublingHighMul`` for int32 (ARM ``VQRDMULH``).

    ``(a*b + (a*b >= 0 ? 2^30 : 1 - 2^30)) / 2^31`` with C truncating division;
    ``INT32_MIN * INT32_MIN`` saturates to ``INT32_MAX``.
    """
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    ab = a * b
    t = ab + np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    q = np.where(t >= 0, t >> 31, -((-t) >> 31))
    return np.where((a == b) & (a == INT32_MIN), INT32_MAX, q)


def rounding_divide_by_pot(x, exponent) -> np.ndarray:
    """gemmlowp ``RoundingDivideByPOT``: ``x / 2^exponent`` rounded to nearest, ties away from 0.

    ``exponent`` in [0, 31], scalar or array. Computed as TFLite does: arithmetic
    shift plus one when the remainder exceeds the threshold ``mask/2 (+1 if x < 0)``.
    """
    x = np.asarray(x, dtype=np.int64)
    e = np.asarray(exponent, dtype=np.int64)
    mask = (np.int64(1) << e) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> e) + (remainder > threshold)


def multiply_by_quantized_multiplier(x, multiplier, shift) -> np.ndarray:
    """TFLite ``MultiplyByQuantizedMultiplier(int32 x, m, shift)`` (double rounding).

    ``x`` holds int32 values; ``shift > 0`` shifts left first (wrapping like
    TFLite's int32 multiply), ``shift < 0`` divides by 2^-shift with rounding
    after the high multiply. ``multiplier``/``shift`` broadcast (per channel).
    """
    x = np.asarray(x, dtype=np.int64)
    s = np.asarray(shift, dtype=np.int64)
    left = np.maximum(s, 0)
    right = np.maximum(-s, 0)
    y = saturating_rounding_doubling_high_mul(wrap_int32(x << left), multiplier)
    return rounding_divide_by_pot(y, right)


def multiply_by_quantized_multiplier_int64(x, multiplier, shift) -> np.ndarray:
    """TFLite ``MultiplyByQuantizedMultiplier(int64 x, m, shift)`` (int16x8 kernels).

    The Q31 multiplier is first rounded to Q15 (``(m + 2^15) >> 16``, capped at
    0x7FFF), then ``(x * m15 + 2^(14 - shift)) >> (15 - shift)``, truncated to
    int32. Valid for ``shift`` in [-31, 7] and ``|x| < 2^47``, as in TFLite.
    """
    x = np.asarray(x, dtype=np.int64)
    m = np.asarray(multiplier, dtype=np.int64)
    s = np.asarray(shift, dtype=np.int64)
    reduced = np.where(m < 0x7FFF0000, (m + (1 << 15)) >> 16, 0x7FFF)
    total = 15 - s
    with np.errstate(over="ignore"):
        y = x * reduced + (np.int64(1) << (total - 1))
    return wrap_int32(y >> total)


def downscale_multiplier_int16(m: int) -> int:
    """TFLite ``DownScaleInt32ToInt16Multiplier``: Q31 -> Q15 with rounding, saturating."""
    if m >= INT32_MAX - (1 << 15):
        return 32767
    return (m + (1 << 15)) >> 16


# --------------------------------------------------------- Prepare-time
def activation_range(activation: str, scale: float, zero_point: int, qmin: int,
                     qmax: int) -> tuple[int, int]:
    """TFLite ``CalculateActivationRangeQuantized`` for a fused activation on the output.

    ``relu``: [max(qmin, q(0)), qmax]; ``relu6``: [max(qmin, q(0)), min(qmax, q(6))];
    ``relu_n1_to_1``: [max(qmin, q(-1)), min(qmax, q(1))]; ``none``: [qmin, qmax],
    where ``q(v) = zero_point + round_half_away(float32(v) / float32(scale))``.
    """
    act = activation or "none"
    if act == "none":
        return qmin, qmax
    if act == "relu":
        return max(qmin, quantize_value(0.0, scale, zero_point)), qmax
    if act == "relu6":
        return (max(qmin, quantize_value(0.0, scale, zero_point)),
                min(qmax, quantize_value(6.0, scale, zero_point)))
    if act == "relu_n1_to_1":
        return (max(qmin, quantize_value(-1.0, scale, zero_point)),
                min(qmax, quantize_value(1.0, scale, zero_point)))
    raise ValueError(f"unknown fused activation '{activation}'")


def conv_per_channel_params(input_scale: float, weight_scales, output_scale: float
                            ) -> tuple[np.ndarray, np.ndarray]:
    """Per-output-channel multipliers of conv2d / depthwise_conv2d / per-channel FC.

    TFLite ``PopulateConvolutionQuantizationParams``: for each channel
    ``double(input_scale) * double(weight_scale[c]) / double(output_scale)``
    (float32 scales widened to double), then ``quantize_multiplier``. A single
    weight scale is broadcast by the caller.
    """
    ws = np.asarray(weight_scales, dtype=np.float32).astype(np.float64)
    eff = np.float64(np.float32(input_scale)) * ws / np.float64(np.float32(output_scale))
    return quantize_multiplier_array(eff)


def fc_per_tensor_params(input_scale: float, weight_scale: float, output_scale: float
                         ) -> tuple[int, int]:
    """Multiplier of per-tensor FULLY_CONNECTED and BATCH_MATMUL (TFLite
    ``GetQuantizedConvolutionMultipler``): ``double(s_in) * double(s_w) / double(s_out)``.

    (Older TFLite sources multiplied the two scales in float32; the TFLM we check
    against widens both first, which is what this does.)
    """
    return quantize_multiplier(float(np.float32(input_scale)) * float(np.float32(weight_scale))
                               / float(np.float32(output_scale)))


def add_sub_params(op: str, s1: float, s2: float, s_out: float, bits: int) -> dict:
    """Prepare-time parameters of quantized ADD / SUB (TFLM ``add_common.cc``/``sub_common.cc``).

    Both inputs are shifted left by ``left_shift`` (20 for int8, 15 for int16),
    scaled by ``s_i / (2 * max(s1, s2))`` and summed; the sum is scaled by
    ``2 * max(s1, s2) / (2^left_shift * s_out)``, all in double (``op`` is "add"
    or "sub"; older TFLite sources computed SUB's ratios in float32).
    Returns ``left_shift``, ``m1, shift1, m2, shift2, m_out, shift_out``.
    """
    if op not in ("add", "sub"):
        raise ValueError(op)
    left_shift = 15 if bits == 16 else 20
    a, b, o = np.float32(s1), np.float32(s2), np.float32(s_out)
    twice_max = 2.0 * float(max(a, b))
    r1 = float(a) / twice_max
    r2 = float(b) / twice_max
    ro = twice_max / ((1 << left_shift) * float(o))
    m1, sh1 = quantize_multiplier(r1)
    m2, sh2 = quantize_multiplier(r2)
    mo, sho = quantize_multiplier(ro)
    return {"left_shift": left_shift, "m1": m1, "shift1": sh1, "m2": m2, "shift2": sh2,
            "m_out": mo, "shift_out": sho}


def mul_params(s1: float, s2: float, s_out: float) -> tuple[int, int]:
    """Quantized MUL: ``double(s1) * double(s2) / double(s_out)`` (TFLM ``mul_common.cc``)."""
    return quantize_multiplier(float(np.float32(s1)) * float(np.float32(s2))
                               / float(np.float32(s_out)))


def requantize_params(s_in: float, s_out: float) -> tuple[int, int]:
    """``double(s_in) / double(s_out)``: QUANTIZE int->int, MEAN/SUM, RELU, ABS, LEAKY_RELU's
    and PRELU's identity branch."""
    return quantize_multiplier(float(np.float32(s_in)) / float(np.float32(s_out)))


def requantize(x, s_in: float, zp_in: int, s_out: float, zp_out: int, qmin: int, qmax: int
               ) -> np.ndarray:
    """TFLite integer QUANTIZE (``reference_ops::Requantize``) of stored integers.

    ``clamp(multiply_by_quantized_multiplier(x - zp_in, m, shift) + zp_out, qmin, qmax)``
    with ``(m, shift) = requantize_params(s_in, s_out)``.
    """
    m, s = requantize_params(s_in, s_out)
    x = np.asarray(x, dtype=np.int64)
    return np.clip(multiply_by_quantized_multiplier(x - zp_in, m, s) + zp_out, qmin, qmax)


def mean_multiplier(m: int, shift: int, count: int) -> tuple[int, int]:
    """Fold ``1/count`` into a MEAN multiplier as TFLite's ``QuantizedMeanOrSum`` does.

    ``k = min(floor(log2(count)), 32, 31 + shift)``; ``m' = (m << k) // count``
    (truncating), ``shift' = shift - k``.
    """
    k = count.bit_length() - 1
    k = min(k, 32, 31 + shift)
    return int((m << k) // count), shift - k


def avg_pool_round(total, count):
    """TFLM's average: ``(sum + count/2) / count`` for positive sums, ``(sum - count/2) / count``
    otherwise, with C truncating divisions (so halves round away from zero)."""
    total = np.asarray(total, dtype=np.int64)
    count = np.asarray(count, dtype=np.int64)
    half = count // 2
    return np.where(total > 0, trunc_div(total + half, count), trunc_div(total - half, count))
