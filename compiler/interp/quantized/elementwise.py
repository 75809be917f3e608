"""Integer elementwise kernels: arithmetic, activations, softmax (TFLM reference algorithms).

Sources (TFLM ``tensorflow/lite/micro/kernels`` unless noted): add/sub
``add_common.cc``, ``sub_common.cc`` + TFLite ``reference/integer_ops/add.h``,
``reference/sub.h``; mul ``mul_common.cc`` + ``reference/integer_ops/mul.h``;
relu ``activations_common.cc`` / ``activations.h``; leaky_relu
``leaky_relu_common.cc`` + ``reference/leaky_relu.h``; prelu ``prelu_common.cc`` +
``reference/prelu.h``; logistic ``logistic_common.cc`` +
``reference/integer_ops/logistic.h``; tanh ``tanh.cc`` +
``reference/integer_ops/tanh.h``; hard_swish ``hard_swish_common.cc`` +
``reference/hard_swish.h``; hard_sigmoid: TFLM ADD then MUL (``edgecc.quant.hard_sigmoid``);
softmax ``softmax_common.cc`` + ``reference/softmax.h``;
log_softmax ``log_softmax.cc`` + ``reference/log_softmax.h``; abs/rsqrt
``elementwise.cc``; exp: TFLite's LUT (``LUTPopulate`` in ``internal/common.h``).
"""

from __future__ import annotations

import math

import numpy as np

from edgecc.interp.ops_common import KERNELS, norm_axis, op_error
from edgecc.interp.quantized import fixedpoint as fp
from edgecc.interp.quantized.common import (
    QParams,
    act_range,
    axis_params,
    element,
    fixed_output,
    i16_or_i8,
    i64,
    params_of,
    qkernel,
    qparams,
    requant,
    require,
    store,
)
from edgecc.quant import math as qm


def _io(op):
    return qparams(op, op.operands[0], "input"), qparams(op, op.results[0], "output")


# ------------------------------------------------------------------ binary
def add_sub_stored(name: str, a, q1: QParams, b, q2: QParams, out: QParams, lo: int, hi: int):
    """TFLM ADD / SUB (``name``) of stored integers, clamped to [lo, hi] (the fused activation)."""
    p = qm.add_sub_params(name, q1.scale, q2.scale, out.scale, out.bits)
    ls = p["left_shift"]
    s1 = qm.multiply_by_quantized_multiplier((i64(a) - q1.zero_point) << ls, p["m1"], p["shift1"])
    s2 = qm.multiply_by_quantized_multiplier((i64(b) - q2.zero_point) << ls, p["m2"], p["shift2"])
    raw = qm.wrap_int32(s1 + s2 if name == "add" else s1 - s2)
    y = qm.multiply_by_quantized_multiplier(raw, p["m_out"], p["shift_out"]) + out.zero_point
    return store(np.clip(y, lo, hi), out)


def mul_stored(a, q1: QParams, b, q2: QParams, out: QParams, lo: int, hi: int):
    """TFLM MUL of stored integers, clamped to [lo, hi]."""
    m, s = qm.mul_params(q1.scale, q2.scale, out.scale)
    prod = qm.wrap_int32((i64(a) - q1.zero_point) * (i64(b) - q2.zero_point))
    y = qm.multiply_by_quantized_multiplier(prod, m, s) + out.zero_point
    return store(np.clip(y, lo, hi), out)


def _add_sub(op, a, b):
    q1, q2 = qparams(op, op.operands[0], "lhs"), qparams(op, op.operands[1], "rhs")
    out = qparams(op, op.results[0], "output")
    return add_sub_stored(op.name.split(".")[1], a, q1, b, q2, out, *act_range(op, out))


qkernel("nn.add")(_add_sub)
qkernel("nn.sub")(_add_sub)


@qkernel("nn.mul")
def mul(op, a, b):
    q1, q2 = qparams(op, op.operands[0], "lhs"), qparams(op, op.operands[1], "rhs")
    out = qparams(op, op.results[0], "output")
    return mul_stored(a, q1, b, q2, out, *act_range(op, out))


@qkernel("nn.maximum", "nn.minimum")
def maximum_minimum(op, a, b):
    """Raw comparison (TFLM needs equal parameters); inputs with other parameters are first
    requantized to the output's (a QUANTIZE op in TFLite)."""
    out = qparams(op, op.results[0], "output")
    x = requant(a, qparams(op, op.operands[0], "lhs"), out)
    y = requant(b, qparams(op, op.operands[1], "rhs"), out)
    return store(np.maximum(x, y) if op.name == "nn.maximum" else np.minimum(x, y), out)


# ------------------------------------------------------------ activations
def _relu_like(op, x, lo_real: float, hi_real: float):
    """TFLM ``ReluQuantized``: zp_out + MBQM(x - zp_in, s_in / s_out), clamped to
    [max(qmin, q(lo)), min(qmax, q(hi))] with q(v) = zp_out + roundf(v / s_out) (float32)."""
    inp, out = _io(op)
    m, s = qm.requantize_params(inp.scale, out.scale)
    y = out.zero_point + qm.multiply_by_quantized_multiplier(i64(x) - inp.zero_point, m, s)
    lo = out.qmin if lo_real == -math.inf else max(out.qmin, qm.quantize_value(lo_real, out.scale,
                                                                               out.zero_point))
    hi = out.qmax if hi_real == math.inf else min(out.qmax, qm.quantize_value(hi_real, out.scale,
                                                                              out.zero_point))
    return store(np.clip(y, lo, hi), out)


@qkernel("nn.relu")
def relu(op, x):
    return _relu_like(op, x, 0.0, math.inf)


@qkernel("nn.clamp")
def clamp(op, x):
    """RELU / RELU6 / RELU_N1_TO_1 generalised to any real bounds (ReluQuantized's algorithm)."""
    return _relu_like(op, x, float(op.attr("min", -math.inf)), float(op.attr("max", math.inf)))


@qkernel("nn.leaky_relu")
def leaky_relu(op, x):
    inp, out = _io(op)
    alpha = float(np.float32(op.attr("alpha", 0.01)))
    ma, sa = qm.quantize_multiplier(inp.scale * alpha / out.scale)  # double
    mi, si = qm.requantize_params(inp.scale, out.scale)
    v = i64(x) - inp.zero_point
    pos = qm.multiply_by_quantized_multiplier(v, mi, si)
    neg = qm.multiply_by_quantized_multiplier(v, abs(ma), sa)
    neg = -neg if ma < 0 else neg
    return store(out.zero_point + np.where(v >= 0, pos, neg), out)


@qkernel("nn.prelu")
def prelu(op, x, slope):
    inp, out = _io(op)
    if inp.bits == 16:  # TFLM's int16 PRELU takes int8 slopes; qi16 slopes go through float
        return float_fallback(op, x, slope)
    sq = element(op.operands[1])
    s_scale, s_zp = axis_params(sq, slope.ndim)
    m1, s1 = qm.requantize_params(inp.scale, out.scale)
    real2 = (np.float64(np.float32(inp.scale)) * np.asarray(s_scale, dtype=np.float64)
             / np.float64(np.float32(out.scale)))
    m2, s2 = qm.quantize_multiplier_array(real2)
    v = i64(x) - inp.zero_point
    alpha = i64(slope) - s_zp
    pos = qm.multiply_by_quantized_multiplier(v, m1, s1)
    neg = qm.multiply_by_quantized_multiplier(qm.wrap_int32(v * alpha), m2, s2)
    return store(out.zero_point + np.where(v >= 0, pos, neg), out)


def _frexp_multiplier(real: float) -> tuple[int, int]:
    """logistic/tanh Prepare: frexp without renormalising a rounded 2^31 (x86 int conversion)."""
    q, shift = math.frexp(real)
    m = int(qm.round_half_away(q * (1 << 31)))
    if m >= (1 << 31):
        m = qm.INT32_MIN
    return m, shift


def _input_radius(integer_bits: int, left_shift: int, total_bits: int = 31) -> int:
    """TFLite ``CalculateInputRadius``."""
    v = ((1 << integer_bits) - 1) * float(1 << (total_bits - integer_bits)) / (2.0 ** left_shift)
    return int(math.floor(v))


def _checked_log2(x: float) -> tuple[bool, int]:
    """TFLite ``CheckedLog2`` in float32: (is a power of two within 1e-3, rounded log2)."""
    lg = np.float32(np.float32(math.log(np.float32(x))) * np.float32(1.0 / np.float32(math.log(2.0))))
    r = np.float32(qm.round_half_away(float(lg)))
    return bool(abs(np.float32(lg - r)) < np.float32(1e-3)), int(r)


def _int16_lut_params(op, inp: QParams, pot_shifts: tuple[int, ...]) -> tuple[int, int]:
    """Input multiplier/shift of int16 LOGISTIC/TANH (``logistic_common.cc`` / ``tanh.cc``)."""
    require(op, inp.zero_point == 0, "int16 input needs zero point 0")
    pot, log2 = _checked_log2(inp.scale)
    left_shift = (15 - 3) + log2
    if pot and left_shift in pot_shifts:
        return 3 << left_shift, 0  # the kernel's power-of-two case
    multiplier = float(np.float32(inp.scale)) * 4096.0 * 3.0
    left_shift = 0
    while multiplier <= 32767.0 / 2.0 and left_shift <= 30:
        left_shift += 1
        multiplier *= 2.0
    return int(multiplier), left_shift


#: indices where TFLite's ``sigmoid_table_uint16`` is one above round(2^16 sigmoid(i / 24))
_SIGMOID_TABLE_UP = (4, 8, 12, 14, 15, 16, 17, 19, 20, 21, 22, 25, 27, 28, 29, 30, 31, 33, 34, 35, 37,
                     39, 40, 41, 43, 44, 45, 46, 49, 50, 54, 62, 63, 64, 66, 82, 86, 93, 100, 103,
                     112, 116, 135, 255)


def _sigmoid_table() -> np.ndarray:
    """TFLite's int16 LOGISTIC/TANH table: sigmoid(i / 24) in unsigned Q0.16, i in [0, 256).

    It is round(2^16 sigmoid(i / 24)) with 44 entries one higher (``_SIGMOID_TABLE_UP``; the
    last entry, 65535, is the saturated value); a test checks it against the
    TFLM interpreter's int16 LOGISTIC over every input.
    """
    i = np.arange(256, dtype=np.float64)
    t = np.floor(65536.0 / (1.0 + np.exp(-i / 24.0)) + 0.5).astype(np.int64)
    t[list(_SIGMOID_TABLE_UP)] += 1
    return t


SIGMOID_TABLE = _sigmoid_table()


def _int16_scaled_input(x, mult: int, left_shift: int):
    rnd = (1 << (left_shift - 1)) if left_shift > 0 else 0
    return (i64(x) * mult + rnd) >> left_shift


@qkernel("nn.sigmoid")
def sigmoid(op, x):
    inp, out = _io(op)
    if inp.bits == 8:
        fixed_output(op, out, 1.0 / 256, -128, "int8 sigmoid")
        mult, ls = _frexp_multiplier(float(np.float32(inp.scale)) * float(1 << 27))
        radius = _input_radius(4, ls)
        v = i64(x) - inp.zero_point
        q4 = qm.multiply_by_quantized_multiplier(v, mult, ls)
        o = qm.rounding_divide_by_pot(fp.logistic(q4, 4), 23) - 128
        y = np.where(v <= -radius, -128, np.where(v >= radius, 127, np.clip(o, -128, 127)))
        return store(y, out)
    pot, log2 = _checked_log2(out.scale)
    require(op, out.zero_point == 0 and pot and log2 == -15,
            "int16 sigmoid needs output scale 2^-15 and zero point 0 (TFLite)")
    mult, ls = _int16_lut_params(op, inp, (0,))
    return sigmoid16(x, mult, ls)


def sigmoid16(x, mult: int, left_shift: int) -> np.ndarray:
    """TFLite's int16 LOGISTIC kernel on stored ``x`` with its input multiplier/shift (Q0.15 out)."""
    d = _int16_scaled_input(x, mult, left_shift)
    a = np.abs(d)
    uh = a >> 9
    idx = np.minimum(uh, 254)
    ua, ub = SIGMOID_TABLE[idx], SIGMOID_TABLE[idx + 1]
    r = np.where(uh >= 255, 0x7FFF << 10, (ua << 9) + (a & 0x1FF) * (ub - ua))
    r = np.where(d >= 0, r + (1 << 9), (1 << 25) - r + (1 << 9) - 1) & 0xFFFFFFFF
    return qm.wrap_int16(r >> 10).astype(np.int16)


@qkernel("nn.tanh")
def tanh(op, x):
    inp, out = _io(op)
    if inp.bits == 8:
        fixed_output(op, out, 1.0 / 128, 0, "int8 tanh")
        mult, ls = _frexp_multiplier(float(np.float32(inp.scale)) * float(1 << 27))
        radius = _input_radius(4, ls)
        v = i64(x) - inp.zero_point
        q4 = qm.multiply_by_quantized_multiplier(v, mult, ls)
        o = qm.rounding_divide_by_pot(fp.tanh(q4, 4), 24)
        y = np.where(v <= -radius, -128, np.where(v >= radius, 127, np.clip(o, -128, 127)))
        return store(y, out)
    pot, log2 = _checked_log2(out.scale)
    require(op, out.zero_point == 0 and pot and log2 == -15,
            "int16 tanh needs output scale 2^-15 and zero point 0 (TFLite)")
    mult, ls = _int16_lut_params(op, inp, (0, 1))
    return tanh16(x, mult, ls)


def tanh16(x, mult: int, left_shift: int) -> np.ndarray:
    """TFLite's int16 TANH kernel on stored ``x`` with its input multiplier/shift (Q0.15 out)."""
    d = _int16_scaled_input(x, mult, left_shift)
    a = np.abs(d)
    uh = a >> 8
    idx = np.minimum(uh, 254)
    ua, ub = SIGMOID_TABLE[idx], SIGMOID_TABLE[idx + 1]
    r = np.where(uh >= 255, 0xFFFF << 8, (ua << 8) + (a & 0xFF) * (ub - ua))
    r = np.where(d >= 0, r - (1 << 23) + (1 << 7), -r + (1 << 23) + (1 << 7) - 1)
    return qm.wrap_int16(r >> 8).astype(np.int16)


def hard_sigmoid_stored(x, inp: QParams, out: QParams, alpha: float, beta: float):
    """``nn.hard_sigmoid`` as TFLite runs it (``edgecc.quant.hard_sigmoid``): TFLM ADD of the
    offset (fused RELU6 / RELU) into the fixed-range intermediate, then TFLM MUL by alpha."""
    from edgecc.quant.hard_sigmoid import hard_sigmoid_form

    form = hard_sigmoid_form(alpha, beta)
    storage = i16_or_i8(inp.bits)
    qt = params_of(form.intermediate(storage))
    off, a = form.constant(form.offset, storage), form.constant(form.alpha, storage)
    t = add_sub_stored("add", x, inp, np.int64(off.stored), params_of(off.element), qt,
                       *qm.activation_range(form.activation, qt.scale, qt.zero_point, qt.qmin, qt.qmax))
    return mul_stored(t, qt, np.int64(a.stored), params_of(a.element), out, out.qmin, out.qmax)


@qkernel("nn.hard_sigmoid")
def hard_sigmoid(op, x):
    inp, out = _io(op)
    try:
        return hard_sigmoid_stored(x, inp, out, op.attr("alpha", 0.2), op.attr("beta", 0.5))
    except ValueError as e:
        raise op_error(op, str(e)) from None


def _hard_swish_params(inp: QParams, out: QParams) -> dict:
    """``hard_swish_common.cc``: two Q15 multipliers, hires = s_in / 128 (float32), the ratios
    in double."""
    hires = float(np.float32(1.0 / 128.0) * np.float32(inp.scale))
    om, oe = qm.quantize_multiplier(hires / out.scale)
    rm, re = qm.quantize_multiplier(hires / (3.0 / 32768.0))
    return {"out_m": qm.downscale_multiplier_int16(om), "out_e": oe,
            "relu_m": qm.downscale_multiplier_int16(rm), "relu_e": re}


def _srdhm16(a, b):
    """gemmlowp SaturatingRoundingDoublingHighMul for int16."""
    a, b = i64(a), i64(b)
    ab = a * b
    t = ab + np.where(ab >= 0, 1 << 14, 1 - (1 << 14))
    q = qm.trunc_div(t, 1 << 15)
    return np.where((a == b) & (a == -32768), 32767, q)


def _sat_left_shift16(v, amount: int):
    return np.clip(i64(v) * (1 << amount), -32768, 32767)


@qkernel("nn.hard_swish")
def hard_swish(op, x):
    inp, out = _io(op)
    if inp.bits == 16:  # no TFLite int16 HARD_SWISH kernel: MUL(x, hard_sigmoid(x))
        from edgecc.quant import hard_sigmoid as hs

        gate = params_of(hs.hard_swish_gate(i16_or_i8(16)))
        h = hard_sigmoid_stored(x, inp, gate, hs.HARD_SWISH_ALPHA, hs.HARD_SWISH_BETA)
        return mul_stored(x, inp, h, gate, out, out.qmin, out.qmax)
    p = _hard_swish_params(inp, out)
    require(op, p["out_e"] <= 0, "int8 hard_swish needs output_scale >= input_scale / 128 (TFLite)")
    v = qm.wrap_int16(i64(x) - inp.zero_point)
    hires = qm.wrap_int16(v * (1 << 7))
    preshift_out = _srdhm16(hires, p["out_m"])
    reluish = hires
    if p["relu_e"] > 0:
        reluish = _sat_left_shift16(reluish, p["relu_e"] - 1)
    reluish = _srdhm16(reluish, p["relu_m"])
    if p["relu_e"] > 0:
        reluish = _sat_left_shift16(reluish, 1)
    if p["relu_e"] < 0:
        reluish = qm.rounding_divide_by_pot(reluish, -p["relu_e"])
    reluish = (reluish + (1 << 15)) >> 1
    prod = reluish * preshift_out  # SaturatingDoublingHighMul without rounding
    pre = np.where((reluish == -32768) & (preshift_out == -32768), 32767, qm.trunc_div(prod, 1 << 15))
    y = qm.wrap_int16(qm.rounding_divide_by_pot(qm.wrap_int16(pre), -p["out_e"]) + out.zero_point)
    return store(y, out)


# ----------------------------------------------------------- abs/rsqrt/neg
@qkernel("nn.abs")
def abs_(op, x):
    inp, out = _io(op)
    v = np.abs(i64(x) - inp.zero_point)
    if inp.scale != out.scale:
        m, s = qm.requantize_params(inp.scale, out.scale)
        v = qm.multiply_by_quantized_multiplier(v, m, s)
    return store(v + out.zero_point, out)


@qkernel("nn.neg")
def neg(op, x):
    """edgecc-defined (TFLM's NEG is float only): -(x - zp_in) rescaled as ABS rescales."""
    inp, out = _io(op)
    v = -(i64(x) - inp.zero_point)
    if inp.scale != out.scale:
        m, s = qm.requantize_params(inp.scale, out.scale)
        v = qm.multiply_by_quantized_multiplier(v, m, s)
    return store(v + out.zero_point, out)


def _rsqrt_table(inp: QParams, out: QParams, lo: int, hi: int) -> np.ndarray:
    """RSQRT of every stored value in [lo, hi] >= zp_in (``RsqrtEvalQuantized``)."""
    m, s = qm.quantize_multiplier(1.0 / (math.sqrt(inp.scale) * out.scale))  # double
    v = np.arange(lo, hi + 1, dtype=np.int64) - inp.zero_point
    inv, inv_shift = fp.inv_sqrt_multiplier_exp(v, -1)
    data = qm.multiply_by_quantized_multiplier(np.ones_like(v), inv, inv_shift + 20)
    y = qm.multiply_by_quantized_multiplier(data, m, s - 20) + out.zero_point
    return np.where(v == 0, out.qmax, y)


@qkernel("nn.rsqrt")
def rsqrt(op, x):
    inp, out = _io(op)
    lo, hi = (-128, 127) if inp.bits == 8 else (-32768, 32767)
    xi = i64(x)
    if xi.size and xi.min() < inp.zero_point:
        raise op_error(op, "on quantized input is only defined for non-negative values (TFLite)")
    if xi.size == 0:
        return xi.astype(out.dtype)
    used_lo, used_hi = int(xi.min()), int(xi.max())
    table = _rsqrt_table(inp, out, used_lo, used_hi)
    return store(table[xi - used_lo], out)


# ----------------------------------------------------------------- LUTs
def _f32_exp(v: np.ndarray) -> np.ndarray:
    """float32 exp, correctly rounded (via float64)."""
    with np.errstate(over="ignore"):
        return np.exp(np.asarray(v, dtype=np.float64)).astype(np.float32)


def lut_int8(transform, s_in: float, zp_in: int, s_out: float, zp_out: int) -> np.ndarray:
    """TFLite ``LUTPopulateInt8``: table[v + 128] for v in [-128, 127], all float32 arithmetic."""
    vals = np.arange(-128, 128, dtype=np.int64)
    with np.errstate(over="ignore", invalid="ignore"):
        deq = np.float32(s_in) * (vals - zp_in).astype(np.float32)
        t = np.asarray(transform(deq), dtype=np.float32)
        inverse_scale = np.float32(1.0) / np.float32(s_out)
        rescaled = qm.round_half_away(t * inverse_scale)
        q = rescaled + np.float64(zp_out)  # exact: float32 + small int
    q = np.nan_to_num(q, nan=0.0, posinf=2.0 ** 31, neginf=-(2.0 ** 31))
    return np.clip(np.trunc(q), -128, 127).astype(np.int64)


def lut_int16(transform, s_in: float, zp_in: int, s_out: float, zp_out: int) -> np.ndarray:
    """TFLite ``LUTPopulateInt16<float>``: 513 entries over the whole input range with a
    bias that halves the interpolation error at each step midpoint. float32 arithmetic."""
    f = np.float32
    s_in, s_out = f(s_in), f(s_out)
    input_min = s_in * f(-32768 - zp_in)
    input_max = s_in * f(32767 - zp_in)
    output_min = s_out * f(-32768 - zp_out)
    output_max = s_out * f(32767 - zp_out)
    step = (input_max - input_min) / f(512)
    half_step = step / f(2)
    inv = f(65536) / (output_max - output_min)
    i = np.arange(512).astype(np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        x0 = input_min + i * step
        val = np.asarray(transform(x0), dtype=np.float32)
        val_mid = np.asarray(transform(x0 + half_step), dtype=np.float32)
        val_next = np.asarray(transform(input_min + (i + f(1)) * step), dtype=np.float32)
        sample = f(1) * qm.round_half_away(val * inv).astype(np.float32)
        interp = qm.round_half_away(((val_next * inv) + qm.round_half_away(val * inv).astype(np.float32))
                                    / f(2)).astype(np.float32)
        mid = qm.round_half_away(val_mid * inv).astype(np.float32)
        bias = qm.round_half_away((interp - mid) / f(2)).astype(np.float32)
        lut = np.clip(sample - bias, -32768.0, 32767.0)
        last = np.clip(qm.round_half_away(np.asarray(transform(np.array([input_max], np.float32)),
                                                     dtype=np.float32) * inv), -32768.0, 32767.0)
    # NaN entries (inf - inf when the function overflows float32) convert to 0, as the
    # float -> int16 conversion does on Arm and x86 alike
    return np.nan_to_num(np.concatenate([lut, last]), nan=0.0).astype(np.int64)


def lut_lookup_int16(x, lut: np.ndarray) -> np.ndarray:
    """TFLite ``LUTLookup`` for int16: 9-bit index, 7-bit linear interpolation."""
    x = i64(x)
    index = 256 + (x >> 7)
    offset = x & 0x7F
    base = lut[index]
    slope = qm.wrap_int16(lut[index + 1] - base)
    return qm.wrap_int16(base + ((slope * offset + 64) >> 7))


_TRANSFORMS = {"nn.exp": _f32_exp}


def lut_fallback(op, x):
    """EXP (no TFLM integer kernel): TFLite's LUT of the float function (int8: 256 entries,
    int16: 513 entries with linear interpolation), bit-exact with LiteRT."""
    inp, out = _io(op)
    fn = _TRANSFORMS[op.name]
    if inp.bits == 8:
        table = lut_int8(fn, inp.scale, inp.zero_point, out.scale, out.zero_point)
        return store(table[i64(x) + 128], out)
    table = lut_int16(fn, inp.scale, inp.zero_point, out.scale, out.zero_point)
    return store(lut_lookup_int16(x, table), out)


qkernel("nn.exp")(lut_fallback)


def float_fallback(op, *arrays):
    """Ops/types without a TFLite integer kernel: dequantize, run the float kernel, quantize
    (TFLite QUANTIZE rounding). Deterministic, but only as exact as the float kernel."""
    floats = []
    for v, a in zip(op.operands, arrays):
        q = element(v)
        if q is None:
            floats.append(a)
            continue
        scale, zp = axis_params(q, np.ndim(a))
        floats.append(((i64(a) - zp).astype(np.float32) * scale).astype(np.float32))
    with np.errstate(all="ignore"):
        y = KERNELS[op.name](op, *floats)
    outs = list(y) if isinstance(y, (list, tuple)) else [y]
    res = []
    for r, yf in zip(op.results, outs):
        q = qparams(op, r, "result")
        res.append(store(qm.quantize_values(yf, q.scale, q.zero_point, q.qmin, q.qmax), q))
    return res if len(res) > 1 else res[0]


# ----------------------------------------------------------------- softmax
def _rows(op, x):
    """Move the softmax axis last and flatten to [rows, depth]."""
    axis = norm_axis(op, int(op.attr("axis", -1)), x.ndim)
    moved = np.moveaxis(i64(x), axis, -1)
    return moved.reshape(-1, moved.shape[-1]) if moved.size else moved.reshape(0, 1), moved.shape, axis


def _unrows(y, shape, axis):
    return np.moveaxis(y.reshape(shape), -1, axis)


def _softmax_int8(op, inp: QParams, rows: np.ndarray) -> np.ndarray:
    beta = float(np.float32(op.attr("beta", 1.0)))
    real = min(beta * float(np.float32(inp.scale)) * float(1 << (31 - 5)), float((1 << 31) - 1))
    mult, ls = qm.quantize_multiplier(real)
    diff_min = -_input_radius(5, ls)
    diff = rows - rows.max(axis=1, keepdims=True)
    valid = diff >= diff_min
    scaled = qm.multiply_by_quantized_multiplier(diff, mult, ls)  # GreaterThanOne (shift >= 0)
    e = fp.exp_on_negative_values(scaled, 5)
    sum_of_exps = qm.wrap_int32(np.where(valid, fp.rescale(e, 0, 12), 0).sum(axis=1, keepdims=True))
    shifted_scale, bits_over_unit = fp.get_reciprocal(sum_of_exps, 12)
    exponent = bits_over_unit + 31 - 8
    unsat = qm.rounding_divide_by_pot(fp.mul(shifted_scale, e), exponent)
    y = np.clip(unsat - 128, -128, 127)
    return np.where(valid, y, -128)


_SOFTMAX16_LUTS: dict[str, np.ndarray] = {}


def softmax_int16_luts() -> tuple[np.ndarray, np.ndarray]:
    """The two constant LUTs of int16 softmax: exp over [-10, 0] and 1 / (1 + x) over [0, 1]."""
    if not _SOFTMAX16_LUTS:
        rng = np.float32(65535)
        _SOFTMAX16_LUTS["exp"] = lut_int16(_f32_exp, np.float32(10.0) / rng, 32767,
                                           np.float32(2.0) / rng, 0)
        _SOFTMAX16_LUTS["recip"] = lut_int16(
            lambda v: (np.float32(1.0) / (np.float32(1.0) + np.asarray(v, np.float32))).astype(np.float32),
            np.float32(1.0) / rng, -32768, np.float32(2.0) / rng, 0)
    return _SOFTMAX16_LUTS["exp"], _SOFTMAX16_LUTS["recip"]


def _softmax_int16(op, inp: QParams, rows: np.ndarray) -> np.ndarray:
    beta = float(np.float32(op.attr("beta", 1.0)))
    mult, shift = qm.quantize_multiplier(float(np.float32(inp.scale)) * beta / (10.0 / 65535.0))
    exp_lut, recip_lut = softmax_int16_luts()
    diff = rows - rows.max(axis=1, keepdims=True)
    scaled = qm.multiply_by_quantized_multiplier(diff, mult, shift)
    sym = np.clip(scaled + 32767, -32768, 32767)
    e = lut_lookup_int16(sym, exp_lut)
    total = e.sum(axis=1, keepdims=True)
    headroom_plus_one = qm.clz32(total)
    shifted_sum = ((total << (headroom_plus_one - 1)) + (1 << 13)) >> 14
    sym_sum = np.clip(shifted_sum - ((1 << 15) + (1 << 16)), -32768, 32767)
    recip = lut_lookup_int16(sym_sum, recip_lut)
    right_shift = 31 - headroom_plus_one
    y = (e * recip + (np.int64(1) << (right_shift - 1))) >> right_shift
    return np.clip(y, 0, 32767)


@qkernel("nn.softmax")
def softmax(op, x):
    inp, out = _io(op)
    rows, shape, axis = _rows(op, x)
    if inp.bits == 8:
        fixed_output(op, out, 1.0 / 256, -128, "int8 softmax")
        y = _softmax_int8(op, inp, rows)
    else:
        require(op, inp.zero_point == 0, "int16 softmax needs input zero point 0 (TFLite)")
        fixed_output(op, out, 1.0 / 32768, 0, "int16 softmax")
        y = _softmax_int16(op, inp, rows)
    return store(_unrows(y, shape, axis), out)


@qkernel("nn.log_softmax")
def log_softmax(op, x):
    inp, out = _io(op)
    if inp.bits == 16:
        return float_fallback(op, x)
    fixed_output(op, out, 16.0 / 256, 127, "int8 log_softmax")
    rows, shape, axis = _rows(op, x)
    real = min(float(np.float32(inp.scale)) * float(1 << (31 - 5)), float((1 << 31) - 1))
    mult, ls = qm.quantize_multiplier(real)
    rev_real = float(1 << (31 - ls)) / float(mult)
    rev_div, rev_shift = qm.quantize_multiplier(rev_real)  # SmallerThanOneExp: rev_shift <= 0
    reverse_scaling_right_shift = -rev_shift
    diff_min = -_input_radius(5, ls)
    diff = rows - rows.max(axis=1, keepdims=True)
    scaled = qm.multiply_by_quantized_multiplier(diff, mult, ls)
    e = fp.exp_on_negative_values(scaled, 5)
    valid = diff >= diff_min
    sum_q12 = qm.wrap_int32(np.where(valid, fp.rescale(e, 0, 12), 0).sum(axis=1, keepdims=True))
    log_sum_q5 = fp.log_x_for_x_greater_than_or_equal_to_1(sum_q12, 5, 12)
    shifted = qm.wrap_int32(log_sum_q5 + qm.INT32_MIN)
    adjusted_diff_min = np.maximum(diff_min - 1, qm.multiply_by_quantized_multiplier(
        shifted, rev_div, -reverse_scaling_right_shift))
    o = qm.rounding_divide_by_pot(qm.wrap_int32(scaled - log_sum_q5), 31 - 5 - 4) + 127
    y = np.where(diff > adjusted_diff_min, np.clip(o, -128, 127), -128)
    return store(_unrows(y, shape, axis), out)
