"""gemmlowp fixed-point functions used by TFLite's integer kernels, vectorised.

A fixed-point value with ``ib`` integer bits is an int32 ``raw`` meaning
``raw / 2^(31 - ib)`` (gemmlowp's ``FixedPoint<int32_t, ib>``). Arrays hold the
int32 values in int64; ``+``/``-`` wrap like gemmlowp's (non-saturating) int32
operators, products are ``SaturatingRoundingDoublingHighMul`` (integer bits
add up), ``rescale`` is ``SaturatingRoundingMultiplyByPOT`` (saturating left
shift, rounding right shift).

Ported (written anew in numpy) from gemmlowp ``fixedpoint/fixedpoint.h`` at the
commit TFLM downloads, and TFLite ``kernels/internal/common.h``
(``GetReciprocal``, ``log_x_for_x_greater_than_or_equal_to_1``,
``GetInvSqrtQuantizedMultiplierExp``).
"""

from __future__ import annotations

import numpy as np

from edgecc.quant.math import (
    INT32_MAX,
    INT32_MIN,
    clz32,
    rounding_divide_by_pot,
    saturating_rounding_doubling_high_mul,
    wrap_int32,
)

mul = saturating_rounding_doubling_high_mul


def add(a, b):
    return wrap_int32(np.asarray(a, dtype=np.int64) + b)


def sub(a, b):
    return wrap_int32(np.asarray(a, dtype=np.int64) - b)


def neg(a):
    return wrap_int32(-np.asarray(a, dtype=np.int64))


def one(ib: int) -> int:
    """Raw value of 1.0 (the largest value for 0 integer bits)."""
    return INT32_MAX if ib == 0 else 1 << (31 - ib)


def constant_pot(exponent: int, ib: int) -> int:
    """Raw value of 2^exponent."""
    return 1 << (31 - ib + exponent)


def sat_mul_pot(x, exponent: int):
    """``SaturatingRoundingMultiplyByPOT``: x * 2^exponent, saturating (>0) or rounding (<0)."""
    x = np.asarray(x, dtype=np.int64)
    if exponent == 0:
        return x
    if exponent < 0:
        return rounding_divide_by_pot(x, -exponent)
    threshold = (1 << (31 - exponent)) - 1
    shifted = np.clip(x * (1 << exponent), INT32_MIN, INT32_MAX)
    return np.where(x > threshold, INT32_MAX, np.where(x < -threshold, INT32_MIN, shifted))


def rescale(x, src_ib: int, dst_ib: int):
    return sat_mul_pot(x, src_ib - dst_ib)


def rounding_half_sum(a, b):
    s = np.asarray(a, dtype=np.int64) + b
    t = s + np.where(s >= 0, 1, -1)
    return np.where(t >= 0, t // 2, -((-t) // 2))


def exp_on_interval_between_negative_one_quarter_and_0_excl(a):
    """exp(a) for a in [-1/4, 0), a in Q0.31: 4th-order Taylor expansion around -1/8."""
    constant_term = 1895147668  # exp(-1/8)
    constant_1_over_3 = 715827883
    x = add(a, constant_pot(-3, 0))
    x2 = mul(x, x)
    x3 = mul(x2, x)
    x4 = mul(x2, x2)
    x4_over_4 = sat_mul_pot(x4, -2)
    poly = sat_mul_pot(add(mul(add(x4_over_4, x3), constant_1_over_3), x2), -1)
    return add(constant_term, mul(constant_term, add(x, poly)))


_EXP_BARREL = ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308),
               (2, 39332535), (3, 720401), (4, 242))


def exp_on_negative_values(a, ib: int):
    """exp(a) for a <= 0 with ``ib`` integer bits; result in Q0.31."""
    a = np.asarray(a, dtype=np.int64)
    frac = 31 - ib
    one_quarter = constant_pot(-2, ib)
    mask = one_quarter - 1
    a_mod_quarter_minus_one_quarter = sub(a & mask, one_quarter)
    result = exp_on_interval_between_negative_one_quarter_and_0_excl(
        rescale(a_mod_quarter_minus_one_quarter, ib, 0))
    remainder = sub(a_mod_quarter_minus_one_quarter, a)
    for exponent, multiplier in _EXP_BARREL:
        if ib > exponent:
            bit = 1 << (frac + exponent)
            result = np.where((remainder & bit) != 0, mul(result, multiplier), result)
    if ib > 5:
        clamp = -(1 << (36 - ib))
        result = np.where(a < clamp, 0, result)
    return np.where(a == 0, one(0), result)


def _newton_reciprocal(half_denominator):
    """Three Newton-Raphson steps for 1 / half_denominator, result in Q2.29."""
    constant_48_over_17 = 1515870810
    constant_neg_32_over_17 = -1010580540
    x = add(constant_48_over_17, mul(half_denominator, constant_neg_32_over_17))
    for _ in range(3):
        half_denominator_times_x = mul(half_denominator, x)
        one_minus = sub(one(2), half_denominator_times_x)
        x = add(x, rescale(mul(x, one_minus), 4, 2))
    return x


def one_over_one_plus_x_for_x_in_0_1(a):
    """1 / (1 + a) for a in Q0.31 within [0, 1); result Q0.31."""
    half_denominator = rounding_half_sum(a, one(0))
    x = _newton_reciprocal(half_denominator)
    return rescale(x, 1, 0)  # ExactMulByPot<-1> turns Q2 into Q1


def one_minus_x_over_one_plus_x_for_x_in_0_1(a):
    half_denominator = rounding_half_sum(a, one(0))
    x = _newton_reciprocal(half_denominator)
    return rescale(sub(x, one(2)), 2, 0)


def tanh(a, ib: int):
    """tanh of a fixed-point value with ``ib`` integer bits; result Q0.31."""
    a = np.asarray(a, dtype=np.int64)
    negative = a < 0
    n = np.where(negative, a, neg(a))
    t = one_minus_x_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(n, ib + 1))
    return np.where(a == 0, 0, np.where(negative, neg(t), t))


def logistic(a, ib: int):
    """1 / (1 + exp(-a)) of a fixed-point value with ``ib`` integer bits; result Q0.31."""
    a = np.asarray(a, dtype=np.int64)
    positive = a > 0
    abs_input = np.where(positive, a, neg(a))
    result_if_positive = one_over_one_plus_x_for_x_in_0_1(
        exp_on_negative_values(neg(abs_input), ib))
    result_if_negative = sub(one(0), result_if_positive)
    return np.where(a == 0, 1 << 30,
                    np.where(positive, result_if_positive, result_if_negative))


def get_reciprocal(x, x_integer_digits: int):
    """TFLite ``GetReciprocal``: (1 / x as Q0.31 scaled into [0.5, 1), num_bits_over_unit)."""
    x = np.asarray(x, dtype=np.int64)
    headroom_plus_one = clz32(x)
    num_bits_over_unit = x_integer_digits - headroom_plus_one
    shifted = ((x & 0xFFFFFFFF) << headroom_plus_one) & 0xFFFFFFFF
    shifted_sum_minus_one = wrap_int32(shifted - (1 << 31))
    return one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one), num_bits_over_unit


def _sat_mul_pot_param(x, exponent):
    """``SaturatingRoundingMultiplyByPOTParam`` with a per-element exponent >= 0."""
    x = np.asarray(x, dtype=np.int64)
    e = np.asarray(exponent, dtype=np.int64)
    threshold = (np.int64(1) << (31 - e)) - 1
    shifted = np.clip(x << np.minimum(e, 31), INT32_MIN, INT32_MAX)
    out = np.where(x > threshold, INT32_MAX, np.where(x < -threshold, INT32_MIN, shifted))
    return np.where(e == 0, x, out)


def _sat_add(a, b):
    return np.clip(np.asarray(a, dtype=np.int64) + b, INT32_MIN, INT32_MAX)


def log_x_for_x_greater_than_or_equal_to_1(input_val, output_ib: int, input_ib: int):
    """TFLite ``log_x_for_x_greater_than_or_equal_to_1_impl``: log(x) of a Q(input_ib) value
    >= 1, as Q(output_ib). Used by quantized LOG_SOFTMAX."""
    accum_ib = output_ib + 1
    log_2 = 1488522236
    sqrt_sqrt_half = 1805811301
    sqrt_half = 1518500250
    one_quarter = 536870912
    alpha_n = 117049297
    alpha_d = 127690142
    alpha_i = 1057819769
    alpha_f = 638450708
    shifted_quarter = rescale(np.int64(one_quarter), 0, accum_ib)

    z_a = np.asarray(input_val, dtype=np.int64)
    z_a_headroom_plus_1 = clz32(z_a)
    r_a_tmp = _sat_mul_pot_param(z_a, z_a_headroom_plus_1 - 1)
    r_a_raw = _sat_mul_pot_param(mul(r_a_tmp, sqrt_half), 1)
    z_a_pow_2_adj = _sat_add(_sat_mul_pot_param(input_ib - z_a_headroom_plus_1, 31 - accum_ib),
                             shifted_quarter)
    z_b = mul(z_a, sqrt_half)
    z_b_headroom = clz32(z_b) - 1
    r_b_raw = _sat_mul_pot_param(z_a, z_b_headroom)
    z_b_pow_2_adj = np.clip(
        _sat_mul_pot_param(input_ib - z_b_headroom, 31 - accum_ib) - shifted_quarter,
        INT32_MIN, INT32_MAX)
    r = np.minimum(r_a_raw, r_b_raw)
    z_pow_2_adj = np.maximum(z_a_pow_2_adj, z_b_pow_2_adj)

    p = rounding_half_sum(r, sqrt_sqrt_half)
    q = sub(r, sqrt_sqrt_half)
    q = add(q, q)
    common_sq = mul(q, q)
    num = add(mul(q, r), mul(mul(q, common_sq), alpha_n))
    denom_minus_one_0 = add(mul(p, add(add(alpha_i, q), mul(alpha_d, common_sq))), mul(alpha_f, q))
    recip_denom = one_over_one_plus_x_for_x_in_0_1(denom_minus_one_0)
    num_scaled = rescale(num, 0, accum_ib)
    # z_pow_2_adj (Q accum) * log_2 (Q0) -> Q accum; num_scaled (Q accum) * recip (Q0) -> Q accum
    total = add(mul(z_pow_2_adj, log_2), mul(num_scaled, recip_denom))
    return rescale(total, accum_ib, output_ib)


def inv_sqrt_multiplier_exp(value, reverse_shift: int = -1):
    """TFLite ``GetInvSqrtQuantizedMultiplierExp`` (vectorised): Q31 1/sqrt(value) and shift.

    Values <= 1 give ``(INT32_MAX, 0)``. Five Newton-Raphson steps in Q3.28.
    """
    v = np.asarray(value, dtype=np.int64)
    small = v <= 1
    v = np.where(small, 4, v)
    shift = np.full(v.shape, 11, dtype=np.int64)
    big = v >= (1 << 29)  # value < 2^31: one division by 4 is enough
    v = np.where(big, v // 4, v)
    shift = shift + big
    max_left_shift_bits = clz32(v) - 1
    left_shift_bit_pairs = max_left_shift_bits // 2 - 1
    shift = shift - left_shift_bit_pairs
    v = v << (2 * left_shift_bit_pairs)
    half_input = sat_mul_pot(v >> 1, -1)
    half_three = (1 << 28) + (1 << 27)
    x = np.full(v.shape, one(3), dtype=np.int64)
    for _ in range(5):
        x3 = rescale(mul(mul(x, x), x), 9, 3)
        x = rescale(sub(mul(half_three, x), mul(half_input, x3)), 6, 3)
    x = mul(x, 1518500250)  # * sqrt(2)/2, Q3 * Q0 -> Q3
    neg_shift = shift < 0
    x = np.where(neg_shift, wrap_int32(x << np.maximum(-shift, 0)), x)
    shift = np.where(neg_shift, 0, shift)
    x = np.where(small, INT32_MAX, x)
    shift = np.where(small, 0, shift)
    return x, shift * reverse_shift
