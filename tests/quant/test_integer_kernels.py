"""Fixed-point helpers (``edgecc.quant.math``) and integer kernels of the reference interpreter.

Hand-computed TFLite values for the helpers (Q31 multipliers, rounding of exact
halves, saturation, the int64 variant), hypothesis properties comparing the
vectorised helpers with plain scalar implementations written here from the C
definitions, and kernel checks that need no TFLM (fixed output parameters,
requantizing concat/pool/max, float fallbacks with their documented bounds,
the interpreter entry point on stored integers).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgecc.interp import quantized
from edgecc.interp.quantized import fixedpoint as fp
from edgecc.interp.reference import run
from edgecc.ir import Builder, EdgeccError, Func, Module
from edgecc.ir.spec import lookup_op
from edgecc.ir.types import f32, i8, i16, i32, quant, tensor
from edgecc.quant import math as qm

I32 = st.integers(-(1 << 31), (1 << 31) - 1)
MULT = st.integers(0, (1 << 31) - 1)


# ======================================================== scalar references (C semantics)
def c_div(a: int, b: int) -> int:
    """C integer division: truncates toward zero."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def wrap32(x: int) -> int:
    return ((x + (1 << 31)) % (1 << 32)) - (1 << 31)


def srdhm(a: int, b: int) -> int:
    if a == b == -(1 << 31):
        return (1 << 31) - 1
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    return c_div(ab + nudge, 1 << 31)


def rdbpot(x: int, e: int) -> int:
    mask = (1 << e) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> e) + (1 if remainder > threshold else 0)


def mbqm(x: int, m: int, shift: int) -> int:
    left, right = max(shift, 0), max(-shift, 0)
    return rdbpot(srdhm(wrap32(x * (1 << left)), m), right)


def mbqm64(x: int, m: int, shift: int) -> int:
    reduced = (m + (1 << 15)) >> 16 if m < 0x7FFF0000 else 0x7FFF
    total = 15 - shift
    return wrap32((x * reduced + (1 << (total - 1))) >> total)


# ======================================================== quantize_multiplier
@pytest.mark.parametrize("real, want", [
    (0.0, (0, 0)),
    (1.0, (1 << 30, 1)),                        # frexp(1) = 0.5 * 2^1
    (0.5, (1 << 30, 0)),
    (0.75, (1610612736, 0)),
    (3.0, (1610612736, 2)),                     # scale >= 1: positive shift
    (1234.5, (1294467072, 11)),
    (0.1, (1717986918, -3)),                    # 0.8 * 2^31 = 1717986918.4 -> down
    (2.0 ** -31, (1 << 30, -30)),               # smallest kept: shift -30
    (2.0 ** -32, (1 << 30, -31)),               # shift -31 still kept
    (2.0 ** -33, (0, 0)),                       # shift -32 < -31: flushed to zero
    (1e-12, (0, 0)),
    (1.0 - 2.0 ** -40, (1 << 30, 1)),           # mantissa rounds up to 2^31: renormalised
    ((2 ** 30 + 0.5) / 2 ** 31, (2 ** 30 + 1, 0)),  # exact half: away from zero
    (-(2 ** 30 + 0.5) / 2 ** 31, (-(2 ** 30) - 1, 0)),  # negative (leaky_relu alpha < 0)
    (-0.5, (-(1 << 30), 0)),
])
def test_quantize_multiplier_values(real, want):
    assert qm.quantize_multiplier(real) == want


@settings(max_examples=300, deadline=None)
@given(st.floats(min_value=2.0 ** -31, max_value=2.0 ** 20, allow_nan=False, allow_infinity=False))
def test_quantize_multiplier_is_a_q31_rounding(real):
    m, shift = qm.quantize_multiplier(real)
    assert (1 << 30) <= m < (1 << 31)
    exact = real * 2.0 ** (31 - shift)  # exact in double (power-of-two scaling)
    assert abs(m - exact) <= 0.5
    assert -31 <= shift <= 21


def test_quantize_multiplier_array_matches_scalar():
    reals = [0.0, 0.3, 1.0, 7.5, 2.0 ** -40]
    m, s = qm.quantize_multiplier_array(reals)
    assert list(zip(m.tolist(), s.tolist())) == [qm.quantize_multiplier(r) for r in reals]


def test_non_finite_multiplier_is_an_error():
    with pytest.raises(ValueError):
        qm.quantize_multiplier(math.inf)


# ======================================================== rounding primitives
@pytest.mark.parametrize("x, e, want", [
    (5, 1, 3), (-5, 1, -3), (4, 1, 2), (-3, 1, -2), (3, 1, 2),   # halves away from zero
    (7, 2, 2), (6, 2, 2), (-6, 2, -2), (-7, 2, -2), (5, 2, 1),
    (123, 0, 123), (-(1 << 31), 31, -1), ((1 << 31) - 1, 31, 1), (-(1 << 30), 31, -1),
])
def test_rounding_divide_by_pot_values(x, e, want):
    assert int(qm.rounding_divide_by_pot(x, e)) == want == rdbpot(x, e)


@pytest.mark.parametrize("a, b, want", [
    (3, 1 << 30, 2),               # 1.5 -> 2
    (-3, 1 << 30, -1),             # -1.5 -> -1: the nudge makes negative ties go up
    (-(1 << 31), -(1 << 31), (1 << 31) - 1),  # the only overflow saturates
    (-(1 << 31), (1 << 31) - 1, -((1 << 31) - 1)),
    ((1 << 31) - 1, (1 << 31) - 1, (1 << 31) - 2),
    (0, 12345, 0),
])
def test_saturating_rounding_doubling_high_mul_values(a, b, want):
    assert int(qm.saturating_rounding_doubling_high_mul(a, b)) == want == srdhm(a, b)


@pytest.mark.parametrize("x, m, shift, want", [
    (100, 1 << 30, 0, 50),
    (3, 1 << 30, 0, 2),            # 1.5 rounds up
    (-3, 1 << 30, 0, -1),          # -1.5 rounds toward zero in the high multiply
    (5, 1 << 30, -1, 2),           # double rounding: 1.25 -> 2.5 -> 3 -> 1.5 -> 2
    (-5, 1 << 30, -1, -1),         # -1.25 -> -2.5 -> -2 -> -1
    (7, 1 << 30, 1, 7),            # multiplier 1.0 (2^30, shift 1) is the identity
    (-7, 1 << 30, 1, -7),
    (1000, 1610612736, 2, 3000),   # 3.0
    (1 << 30, 1 << 30, 2, 0),      # the left shift wraps in int32 as in TFLite
    ((1 << 31) - 1, (1 << 31) - 1, 0, (1 << 31) - 2),
    (-(1 << 31), (1 << 31) - 1, 0, -((1 << 31) - 1)),
    (12345, 1717986918, -31, 0),
])
def test_multiply_by_quantized_multiplier_values(x, m, shift, want):
    assert int(qm.multiply_by_quantized_multiplier(x, m, shift)) == want == mbqm(x, m, shift)


@pytest.mark.parametrize("x, m, shift, want", [
    (3, 1 << 30, 0, 2),            # m rounds to 2^14; (3 * 2^14 + 2^14) >> 15 = 2
    (-3, 1 << 30, 0, -1),          # single rounding, ties toward +inf
    (5, 1 << 30, -1, 1),           # 1.25 -> 1 (no double rounding here)
    (1 << 40, 1 << 30, -20, 1 << 19),
    (100, 0x7FFF0000, 0, 100),     # multipliers >= 0x7FFF0000 cap at 0x7FFF
    (100, 0x7FFEFFFF, 0, 100),
    (-(1 << 46), (1 << 31) - 1, 0, -(1 << 46) >> 1 if False else mbqm64(-(1 << 46), (1 << 31) - 1, 0)),
])
def test_multiply_by_quantized_multiplier_int64_values(x, m, shift, want):
    assert int(qm.multiply_by_quantized_multiplier_int64(x, m, shift)) == want == mbqm64(x, m, shift)


@settings(max_examples=200, deadline=None)
@given(st.lists(I32, min_size=1, max_size=20), MULT, st.integers(-31, 30))
def test_mbqm_vectorised_equals_scalar(xs, m, shift):
    got = qm.multiply_by_quantized_multiplier(np.array(xs, np.int64), m, shift)
    assert got.tolist() == [mbqm(x, m, shift) for x in xs]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(I32, MULT, st.integers(-31, 7)), min_size=1, max_size=20))
def test_mbqm_per_channel_broadcast_equals_scalar(rows):
    x, m, s = (np.array(c, np.int64) for c in zip(*rows))
    got = qm.multiply_by_quantized_multiplier(x, m, s)
    assert got.tolist() == [mbqm(*r) for r in rows]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-(1 << 47), (1 << 47) - 1), min_size=1, max_size=20), MULT,
       st.integers(-31, 7))
def test_mbqm_int64_vectorised_equals_scalar(xs, m, shift):
    got = qm.multiply_by_quantized_multiplier_int64(np.array(xs, np.int64), m, shift)
    assert got.tolist() == [mbqm64(x, m, shift) for x in xs]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(I32, I32), min_size=1, max_size=20), st.integers(0, 31))
def test_srdhm_and_rdbpot_vectorised_equal_scalar(pairs, e):
    a, b = (np.array(c, np.int64) for c in zip(*pairs))
    assert qm.saturating_rounding_doubling_high_mul(a, b).tolist() == [srdhm(*p) for p in pairs]
    assert qm.rounding_divide_by_pot(a, e).tolist() == [rdbpot(int(v), e) for v in a]


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=2.0 ** -20, max_value=2.0 ** 10), st.integers(-2000, 2000))
def test_mbqm_is_within_one_of_the_real_product(real, x):
    m, s = qm.quantize_multiplier(real)
    assert abs(int(qm.multiply_by_quantized_multiplier(x, m, s)) - x * real) <= 1.0


def test_wrap_and_trunc_helpers():
    assert qm.wrap_int32(1 << 31).item() == -(1 << 31)
    assert qm.wrap_int32(-(1 << 31) - 1).item() == (1 << 31) - 1
    assert qm.wrap_int16(32768).item() == -32768
    assert qm.trunc_div(np.array([-7, 7, -6]), 2).tolist() == [-3, 3, -3]
    assert qm.clz32(np.array([0, 1, 255, 1 << 31, -1])).tolist() == [32, 31, 24, 0, 0]
    assert qm.downscale_multiplier_int16((1 << 31) - 1) == 32767
    assert qm.downscale_multiplier_int16(1 << 30) == 1 << 14


# ======================================================== float <-> int rounding
@pytest.mark.parametrize("value, scale, zp, want", [
    (6.0, 0.1, -3, 57),       # float32(6) / float32(0.1) = 60.000002 -> 60
    (-1.0, 0.4, 0, -3),       # float32 quotient is exactly -2.5 -> away from zero (-2.4999 in reals)
    (6.0, 4.0, 0, 2),         # exact 1.5 -> 2
    (-6.0, 4.0, 5, 3),        # -1.5 -> -2
    (0.0, 0.37, -128, -128),
])
def test_quantize_value_rounds_float32_half_away(value, scale, zp, want):
    assert qm.quantize_value(value, scale, zp) == want


def test_quantize_values_tflite_quantize():
    x = np.array([0.5, -0.5, 1.5, -2.5, 1e9, -1e9, np.nan], np.float32)
    y = qm.quantize_values(x, 1.0, 3, -128, 127)
    assert y.tolist() == [4, 2, 5, 0, 127, -128, 3]   # NaN -> the zero point (ARM conversion)


@pytest.mark.parametrize("act, scale, zp, want", [
    ("none", 0.1, -3, (-128, 127)),
    ("relu", 0.1, -3, (-3, 127)),
    ("relu6", 0.1, -3, (-3, 57)),
    ("relu_n1_to_1", 0.1, -3, (-13, 7)),
    ("relu6", 4.0, 0, (0, 2)),              # 6 / 4 = 1.5 rounds away from zero
    ("relu6", 1e-30, 0, (0, 127)),          # bounds beyond the storage range saturate
    ("relu", 0.1, -200, (-128, 127)),
    ("relu_n1_to_1", 0.4, 0, (-3, 3)),      # float32(-1 / 0.4) == -2.5 exactly
])
def test_activation_range(act, scale, zp, want):
    assert qm.activation_range(act, scale, zp, -128, 127) == want


def test_activation_range_int16_and_unknown():
    assert qm.activation_range("relu6", 6.0 / 32767, 0, -32768, 32767) == (0, 32767)
    with pytest.raises(ValueError):
        qm.activation_range("gelu", 1.0, 0, -128, 127)


# ======================================================== Prepare-time parameters
def test_conv_per_channel_params():
    m, s = qm.conv_per_channel_params(0.5, [0.25, 0.125, 1.0], 0.0625)
    assert list(zip(m.tolist(), s.tolist())) == [(1 << 30, 2), (1 << 30, 1), (1 << 30, 4)]


def test_fc_per_tensor_multiplies_the_scales_in_double():
    a, b, o = 0.05478677, 0.0029038836, 0.0004655869
    fa, fb, fo = (float(np.float32(v)) for v in (a, b, o))
    assert qm.fc_per_tensor_params(a, b, o) == qm.quantize_multiplier(fa * fb / fo) == (1467621350, -1)
    # a float32 product (older TFLite sources) would give another multiplier here
    assert qm.quantize_multiplier(float(np.float32(fa) * np.float32(fb)) / fo) == (1467621303, -1)
    m, s = qm.conv_per_channel_params(a, [b], o)
    assert (int(m[0]), int(s[0])) == (1467621350, -1)


def test_add_and_sub_params():
    p = qm.add_sub_params("add", 1.0, 1.0, 1.0, 8)
    assert p == {"left_shift": 20, "m1": 1 << 30, "shift1": 0, "m2": 1 << 30, "shift2": 0,
                 "m_out": 1 << 30, "shift_out": -18}
    assert qm.add_sub_params("add", 1.0, 1.0, 1.0, 16)["left_shift"] == 15
    # both in double (a float32 SUB, as in older sources, would give m1 = 1875134720 here)
    a, b, o = 0.00038288382, 0.22450931, 0.49760166
    assert qm.add_sub_params("sub", a, b, o, 8) == qm.add_sub_params("add", a, b, o, 8)
    assert qm.add_sub_params("sub", a, b, o, 8)["m1"] == 1875134751
    with pytest.raises(ValueError):
        qm.add_sub_params("mul", 1, 1, 1, 8)


def test_mean_multiplier_and_avg_rounding():
    assert qm.mean_multiplier(1 << 30, 0, 49) == ((1 << 35) // 49, -5)
    assert qm.mean_multiplier(1 << 30, -30, 1 << 10) == (1 << 21, -31)   # k = min(10, 31 + shift)
    assert qm.mean_multiplier(1 << 30, 5, 1) == (1 << 30, 5)
    got = qm.avg_pool_round(np.array([7, -7, 5, -5, 4, 0, -1]), np.array([2, 2, 3, 3, 3, 3, 2]))
    assert got.tolist() == [4, -4, 2, -2, 1, 0, -1]


@settings(max_examples=200, deadline=None)
@given(st.integers(-(1 << 20), 1 << 20), st.integers(1, 1000))
def test_avg_pool_round_is_round_half_away(total, count):
    want = c_div(total + count // 2, count) if total > 0 else c_div(total - count // 2, count)
    assert int(qm.avg_pool_round(total, count)) == want


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 1 << 20), st.integers(-25, 5))
def test_mean_multiplier_folds_the_count(count, shift):
    m, s = qm.mean_multiplier(1 << 30, shift, count)
    real = 2.0 ** (shift - 1) / count
    assert abs(m * 2.0 ** (s - 31) - real) <= real * 2.0 ** -20 + 2.0 ** (s - 31)


# ======================================================== gemmlowp fixed point
def test_fixed_point_functions_track_their_float_values():
    x = np.arange(-(1 << 31), 1 << 31, 9973 * 7919, dtype=np.int64)  # Q4.27 over [-16, 16)
    real = x / 2.0 ** 27
    assert np.abs(fp.logistic(x, 4) / 2.0 ** 31 - 1 / (1 + np.exp(-real))).max() < 2e-7
    assert np.abs(fp.tanh(x, 4) / 2.0 ** 31 - np.tanh(real)).max() < 4e-7
    neg = -np.abs(x)
    assert np.abs(fp.exp_on_negative_values(neg, 4) / 2.0 ** 31 - np.exp(-np.abs(real))).max() < 2e-7
    y = np.arange(1, 1 << 31, 7919 * 104729, dtype=np.int64)  # Q0.31 in (0, 1)
    assert np.abs(fp.one_over_one_plus_x_for_x_in_0_1(y) / 2.0 ** 31 - 1 / (1 + y / 2.0 ** 31)).max() < 1e-8
    z = np.arange(1 << 19, 1 << 31, 7919 * 104729, dtype=np.int64)  # Q12 values >= 1
    log = fp.log_x_for_x_greater_than_or_equal_to_1(z, 5, 12) / 2.0 ** 26
    assert np.abs(log - np.log(z / 2.0 ** 19)).max() < 1e-6
    inv, shift = fp.inv_sqrt_multiplier_exp(np.array([2, 3, 100, 65535, 1 << 30]), -1)
    got = inv * 2.0 ** (shift - 31)
    want = 1 / np.sqrt([2, 3, 100, 65535, 1 << 30])
    assert np.allclose(got, want, rtol=5e-6)


def test_int16_softmax_luts_match_the_c_library_expf():
    """The LUTs use correctly rounded float32 exp; TFLM calls the C library's expf. On this
    platform's libm they agree entry for entry."""
    import ctypes
    import ctypes.util

    from edgecc.interp.quantized.elementwise import lut_int16, softmax_int16_luts

    name = ctypes.util.find_library("m")
    if name is None:
        pytest.skip("no C math library to compare with")
    libm = ctypes.CDLL(name)
    libm.expf.restype, libm.expf.argtypes = ctypes.c_float, [ctypes.c_float]

    def expf(v):
        v = np.asarray(v, np.float32)
        return np.array([libm.expf(float(t)) for t in v.ravel()], np.float32).reshape(v.shape)

    rng = np.float32(65535)
    want = lut_int16(expf, np.float32(10.0) / rng, 32767, np.float32(2.0) / rng, 0)
    assert np.array_equal(softmax_int16_luts()[0], want)


def test_sigmoid_table_shape():
    from edgecc.interp.quantized.elementwise import SIGMOID_TABLE

    assert SIGMOID_TABLE[0] == 32768 and SIGMOID_TABLE[-1] == 65535
    assert np.all(np.diff(SIGMOID_TABLE) >= 0)
    exact = 65536 / (1 + np.exp(-np.arange(256) / 24))
    assert np.abs(SIGMOID_TABLE - exact).max() < 1.2


# ======================================================== kernels without TFLM
def qt(shape, bits, scale, zp=0):
    return tensor(shape, quant(i8 if bits == 8 else i16, scale, zp))


def one_op(name, arg_types, result_types, *extra, **attrs):
    func = Func("main", list(arg_types), [f"x{i}" for i in range(len(arg_types))])
    b = Builder(func)
    args = list(func.arguments)
    if name == "nn.concat":
        args = [args]
    op = b.create(lookup_op(name), *args, *extra, result_types=list(result_types), **attrs)
    b.ret(*op.results)
    m = Module(func)
    m.verify()
    return m


def deq(y, scale, zp):
    return (y.astype(np.float64) - zp) * scale


def test_add_by_hand():
    t = qt((4,), 8, 0.5, 0)
    m = one_op("nn.add", [t, t], [qt((4,), 8, 1.0, 1)], activation="relu")
    a = np.array([2, -8, 5, 127], np.int8)
    b = np.array([3, 2, 0, 127], np.int8)
    # reals 1 + 1.5 = 2.5 -> 3 (+1), -4 + 1 -> relu 0 (+1), 2.5 -> 3, 127 -> clamp 127
    assert run(m, [a, b])[0].tolist() == [4, 1, 4, 127]


def test_quantize_rounds_half_away_and_dequantize():
    m = one_op("nn.quantize", [tensor((5,), f32)], [qt((5,), 8, 0.5, -1)])
    x = np.array([0.25, -0.25, 0.75, 100.0, -0.74], np.float32)
    assert run(m, [x])[0].tolist() == [0, -2, 1, 127, -2]
    d = one_op("nn.dequantize", [qt((3,), 16, 0.125)], [tensor((3,), f32)])
    assert run(d, [np.array([-8, 0, 32767], np.int16)])[0].tolist() == [-1.0, 0.0, 4095.875]


def test_concat_requantizes_inputs_with_other_parameters():
    a, b = qt((1, 2), 8, 0.5, 0), qt((1, 2), 8, 0.25, 10)
    m = one_op("nn.concat", [a, b], [qt((1, 4), 8, 0.5, 0)], axis=1)
    y = run(m, [np.array([[3, -4]], np.int8), np.array([[14, 0]], np.int8)])[0]
    assert y.tolist() == [[3, -4, 2, -5]]  # 1.0 -> 2, -2.5 -> -5


def test_maximum_requantizes_and_pools_requantize_after():
    a, b = qt((3,), 8, 0.5, 0), qt((3,), 8, 1.0, 0)
    m = one_op("nn.maximum", [a, b], [qt((3,), 8, 0.5, 0)])
    assert run(m, [np.array([4, -4, 0], np.int8), np.array([1, -1, 3], np.int8)])[0].tolist() == [4, -2, 6]
    p = one_op("nn.avg_pool2d", [qt((1, 2, 2, 1), 8, 1.0, 0)], [qt((1, 1, 1, 1), 8, 0.5, 0)],
               kernel=(2, 2))
    x = np.array([1, 2, 2, 2], np.int8).reshape(1, 2, 2, 1)
    assert run(p, [x])[0].item() == 4  # avg 7/4 -> 2 in the input's units, then 4 at scale 0.5


def test_clamp_with_any_real_bounds():
    t = qt((6,), 8, 0.1, 0)
    m = one_op("nn.clamp", [t], [t], min=-0.25, max=0.45)
    x = np.array([-10, -3, -2, 0, 4, 5], np.int8)
    assert run(m, [x])[0].tolist() == [-3, -3, -2, 0, 4, 5]   # -2.5 -> -3, 4.5 -> 5 (half away)


def test_fixed_output_parameters_are_required():
    m = one_op("nn.sigmoid", [qt((2,), 8, 0.1, 0)], [qt((2,), 8, 1 / 255, -128)])
    with pytest.raises(EdgeccError, match=r"fixed output quantization scale 0\.00390625"):
        run(m, [np.zeros(2, np.int8)])
    s = one_op("nn.softmax", [qt((1, 3), 8, 0.1, 0)], [qt((1, 3), 8, 1 / 256, 0)])
    with pytest.raises(EdgeccError, match="zero point -128"):
        run(s, [np.zeros((1, 3), np.int8)])


def test_softmax_on_another_axis_and_extremes():
    m = one_op("nn.softmax", [qt((3, 2), 8, 0.5, 0)], [qt((3, 2), 8, 1 / 256, -128)], axis=0)
    x = np.array([[0, 127], [0, -128], [0, 0]], np.int8)
    y = run(m, [x])[0]
    assert y[:, 0].tolist() == [-43, -43, -43]          # three equal logits: 1/3 each -> 85 - 128
    assert y[:, 1].tolist() == [127, -128, -128]


def test_rsqrt_rejects_negative_reals():
    m = one_op("nn.rsqrt", [qt((2,), 8, 0.1, 0)], [qt((2,), 8, 0.1, 0)])
    with pytest.raises(EdgeccError, match="non-negative"):
        run(m, [np.array([1, -1], np.int8)])
    assert run(m, [np.array([0, 100], np.int8)])[0].tolist() == [127, 3]  # 1/sqrt(10) / 0.1 = 3.16


def test_neg_is_exact_negation():
    m = one_op("nn.neg", [qt((4,), 8, 0.5, 3)], [qt((4,), 8, 0.25, -1)])
    y = run(m, [np.array([3, 4, -128, 127], np.int8)])[0]
    assert y.tolist() == [-1, -3, 127, -128]


@pytest.mark.parametrize("name, attrs, in_scale, out_q", [
    ("nn.log_softmax", {}, 1e-3, (16 / 32768, 0)),
    ("nn.hard_swish", {}, 2e-4, (2e-4, 0)),
    ("nn.exp", {}, 1e-4, (1e-4, 0)),
])
def test_int16_fallbacks_are_within_their_bound(name, attrs, in_scale, out_q):
    """int16 ops without a TFLM integer kernel: log_softmax goes through float, hard_swish is
    MUL(x, hard_sigmoid(x)) in TFLM's ADD/MUL (both within 1 LSB of the exact function), exp uses
    TFLite's interpolated 513-entry LUT (within 2 LSB)."""
    shape = (2, 64)
    m = one_op(name, [qt(shape, 16, in_scale)], [qt(shape, 16, *out_q)], **attrs)
    x = np.random.default_rng(0).integers(-32768, 32768, shape).astype(np.int16)
    if name == "nn.exp":
        x = np.minimum(x, 0).astype(np.int16)
    y = run(m, [x])[0]
    xf = x.astype(np.float64) * in_scale
    if name == "nn.log_softmax":
        ref = xf - xf.max(axis=1, keepdims=True)
        ref = ref - np.log(np.exp(ref).sum(axis=1, keepdims=True))
    elif name == "nn.hard_swish":
        ref = xf * np.clip(xf + 3, 0, 6) / 6
    else:
        ref = np.exp(xf)
    want = np.clip(ref / out_q[0] + out_q[1], -32768, 32767)
    bound = 2 if name == "nn.exp" else 1
    assert np.abs(y - want).max() <= bound


def test_int16_prelu_fallback():
    x_t, s_t = qt((1, 4), 16, 0.01), qt((4,), 16, 1e-4)
    func = Func("main", [x_t], ["x"])
    b = Builder(func)
    slope = b.constant(np.array([1000, -2000, 3000, 0], np.int16), s_t.element)
    op = b.create(lookup_op("nn.prelu"), func.arguments[0], slope, result_types=[qt((1, 4), 16, 0.01)])
    b.ret(op.result)
    y = run(Module(func), [np.array([[-100, -100, 100, -32768]], np.int16)])[0]
    assert y.tolist() == [[-10, 20, 100, 0]]


def test_stored_integer_feeds_are_required():
    m = one_op("nn.relu", [qt((2,), 8, 0.1, 0)], [qt((2,), 8, 0.1, 0)])
    with pytest.raises(EdgeccError, match="dtype float32"):
        run(m, [np.zeros(2, np.float32)])
    with pytest.raises(EdgeccError, match="expects stored int8"):
        quantized.evaluate_op(m.func.body.first, [np.zeros(2, np.int16)])


def test_every_quantizable_nn_op_has_an_integer_kernel_and_a_status():
    from edgecc.dialects.nn import nn

    def quantizable(cls):
        defs = list(cls.spec.operands) + list(cls.spec.results)
        return any(not d.constraint.kinds or {"qi8", "qi16"} & set(d.constraint.kinds) for d in defs)

    names = sorted(n for n, cls in nn.ops.items() if quantizable(cls))
    assert names, "no quantizable nn ops found"
    assert [n for n in names if n not in quantized.QKERNELS] == []
    assert [n for n in names if n not in quantized.STATUS] == []


def test_op_without_integer_kernel_is_a_located_error():
    from edgecc.ir import Operation
    from edgecc.ir.diagnostics import Location

    t = qt((2,), 8, 0.1, 0)
    func = Func("main", [t], ["x"])
    op = Operation([func.arguments[0]], [t], {}, Location("node_3", "m.onnx"), name="onnx.Foo")
    func.body.append(op)
    Builder(func).ret(op.results[0])
    with pytest.raises(EdgeccError, match="no integer kernel") as e:
        run(Module(func), [np.zeros(2, np.int8)])
    assert "node_3" in str(e.value)


def test_int32_accumulator_wraps_like_tflm():
    """A deliberately overflowing int8 dot product wraps modulo 2^32 before requantization."""
    k = 140000  # 140000 * 127 * 255 > 2^31
    func = Func("main", [qt((1, k), 8, 1.0, -128)], ["x"])
    b = Builder(func)
    w = b.constant(np.full((1, k), 127, np.int8), quant(i8, 1.0, 0, qmin=-127, qmax=127))
    op = b.create(lookup_op("nn.fully_connected"), func.arguments[0], w,
                  b.constant(np.zeros(1, np.int32), i32), result_types=[qt((1, 1), 8, 2.0 ** 24, 0)])
    b.ret(op.result)
    y = run(Module(func), [np.full((1, k), 127, np.int8)])[0]
    acc = qm.wrap_int32(k * 127 * 255).item()
    assert y.item() == int(np.clip(round(acc / 2.0 ** 24), -128, 127))
