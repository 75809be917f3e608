"""The TFLite writer keeps the IR's integer semantics (docs/quantization-semantics.md) where
TFLite kernels cannot express them directly: every file runs in TFLM bit-exactly like
``edgecc.interp.reference.run`` on random inputs.

* ops whose TFLite kernels need equal quantization parameters, with *unequal* random parameters:
  a QUANTIZE (integer requantize) on the inputs of concat / maximum / minimum, after pools,
  reduce_max / reduce_min and resize;
* PAD / PADV2 pad values quantized like TFLite quantizes constants (float32 division, ties away
  from zero), not with numpy's round-half-even;
* nn.clamp with any bounds and parameters, without RELU_N1_TO_1 / RELU_0_TO_1 (no TFLM kernel);
* int4 weights: per-channel int4 fully connected, which TFLM's FULLY_CONNECTED refuses, as a 1x1
  CONV_2D (conv / depthwise int4: tests/quant/test_tflm_bitexact.py; whole int8-w4 models:
  test_quantized.py).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from edgecc.backends import tflite
from edgecc.backends.tflite import verify as V
from edgecc.dialects import nn as N
from edgecc.interp.reference import run
from edgecc.ir.builder import Builder
from edgecc.ir.core import Func, Module
from edgecc.ir.types import i4, i8, i16, i32, quant, tensor
from edgecc.quant.math import quantize_value

pytest.importorskip("tflite_micro", reason="the tflite_micro package is not installed")


# ------------------------------------------------------------------ helpers
def qt(shape, bits, scale, zp=0):
    return tensor(shape, quant(i8 if bits == 8 else i16, float(np.float32(scale)), int(zp)))


def rand_q(rng, bits, lo=-6.0, hi=-1.0):
    """Random (scale, zero point): log-uniform scale, zero point anywhere for int8, 0 for int16."""
    return float(np.exp(rng.uniform(lo, hi))), (int(rng.integers(-100, 100)) if bits == 8 else 0)


def other_q(rng, bits, q):
    """Parameters that surely differ from ``q``."""
    while True:
        r = rand_q(rng, bits)
        if np.float32(r[0]) != np.float32(q[0]) or r[1] != q[1]:
            return r


def build(arg_types, body) -> Module:
    f = Func("main", list(arg_types), [f"x{i}" for i in range(len(arg_types))])
    b = Builder(f)
    out = body(b, f.arguments)
    b.ret(*(out if isinstance(out, (list, tuple)) else [out]))
    m = Module(f)
    m.verify()
    return m


def ops_of(data: bytes) -> list[str]:
    return V._op_names(data)


def stored_inputs(m: Module, rng) -> list[np.ndarray]:
    out = []
    for a in m.func.arguments:
        e = a.type.element
        out.append(rng.integers(e.qmin, e.qmax + 1, a.type.shape).astype(e.storage.numpy))
    return out


def check_tflm(m: Module, rng=None, n: int = 3, inputs=None, roundtrip: bool = True) -> bytes:
    """TFLM output == integer reference interpreter output on ``n`` random inputs (or ``inputs``);
    write -> read -> write gives the same bytes. Returns the file."""
    data = tflite.to_bytes(m)
    it = V.tflm_interpreter(data)
    sets = inputs if inputs is not None else [stored_inputs(m, rng) for _ in range(n)]
    for feeds in sets:
        want = run(m, feeds)
        got = V.run_tflm(data, feeds, interpreter=it)
        V.assert_bit_exact([np.asarray(g).reshape(w.shape) for g, w in zip(got, want)], want)
    if roundtrip:
        assert tflite.to_bytes(tflite.read_tflite(data)) == data
    return data


# ------------------------------------------------------------------ 1. equal-parameter kernels
def case_concat(rng, bits, equal=False):
    qo = rand_q(rng, bits)
    qs = [qo if equal else other_q(rng, bits, qo), qo, qo if equal else other_q(rng, bits, qo)]
    shapes = [(1, 3, 4, int(rng.integers(1, 4))) for _ in qs]
    out = (1, 3, 4, sum(s[3] for s in shapes))
    const = rng.integers(-100, 100, (1, 3, 4, 2)).astype(np.int8 if bits == 8 else np.int16)
    qc = qo if equal else other_q(rng, bits, qo)

    def body(b, a):
        c = b.constant(const, qt((1, 3, 4, 2), bits, *qc).element)
        return b.create(N.ConcatOp, [a[0], c, a[1], a[2]], axis=3,
                        result_types=[qt((1, 3, 4, out[3] + 2), bits, *qo)]).result

    return build([qt(s, bits, *q) for s, q in zip(shapes, qs)], body), 0 if equal else 3


def _maxmin(cls):
    def case(rng, bits, equal=False):
        qo = rand_q(rng, bits)
        q1 = qo if equal else other_q(rng, bits, qo)
        q2 = qo if equal or rng.random() < 0.3 else other_q(rng, bits, qo)
        s1, s2 = (1, 4, 5, 3), ((1, 4, 5, 3) if rng.random() < 0.5 else (1, 1, 1, 3))
        m = build([qt(s1, bits, *q1), qt(s2, bits, *q2)],
                  lambda b, a: b.create(cls, a[0], a[1], result_types=[qt(s1, bits, *qo)]).result)
        return m, (q1 != qo) + (q2 != qo)
    return case


def _pool(cls, pads):
    def case(rng, bits, equal=False):
        qi = rand_q(rng, bits)
        qo = qi if equal else other_q(rng, bits, qi)
        act = ("none", "relu", "relu6", "relu_n1_to_1")[int(rng.integers(0, 4))]
        t, left, bottom, right = pads
        oh, ow = (7 + t + bottom - 3) // 2 + 1, (7 + left + right - 3) // 2 + 1
        m = build([qt((1, 7, 7, 3), bits, *qi)],
                  lambda b, a: b.create(cls, a[0], kernel=[3, 3], strides=[2, 2], pads=list(pads),
                                        activation=act, result_types=[qt((1, oh, ow, 3), bits, *qo)]).result)
        return m, 0 if equal else 1
    return case


def _reduce(cls):
    def case(rng, bits, equal=False):
        qi = rand_q(rng, bits)
        qo = qi if equal else other_q(rng, bits, qi)
        m = build([qt((1, 5, 6, 4), bits, *qi)],
                  lambda b, a: b.create(cls, a[0], axes=[1, 2], keepdims=True,
                                        result_types=[qt((1, 1, 1, 4), bits, *qo)]).result)
        return m, 0 if equal else 1
    return case


def _resize(mode, coordinate, nearest_mode="floor"):
    def case(rng, bits, equal=False):
        qi = rand_q(rng, bits)
        qo = qi if equal else other_q(rng, bits, qi)
        m = build([qt((1, 3, 4, 2), bits, *qi)],
                  lambda b, a: b.create(N.ResizeOp, a[0], size=[6, 8], mode=mode, coordinate=coordinate,
                                        nearest_mode=nearest_mode,
                                        result_types=[qt((1, 6, 8, 2), bits, *qo)]).result)
        return m, 0 if equal else 1
    return case


#: case -> (builder, widths TFLM has a kernel for)
EQUAL_PARAM_CASES = {
    "concat": (case_concat, (8, 16)),
    "maximum": (_maxmin(N.MaximumOp), (8, 16)), "minimum": (_maxmin(N.MinimumOp), (8, 16)),
    "avg_pool_same": (_pool(N.AvgPool2DOp, (1, 1, 1, 1)), (8, 16)),
    "avg_pool_valid": (_pool(N.AvgPool2DOp, (0, 0, 0, 0)), (8, 16)),
    "max_pool_same": (_pool(N.MaxPool2DOp, (1, 1, 1, 1)), (8, 16)),
    "max_pool_explicit_pads": (_pool(N.MaxPool2DOp, (0, 1, 2, 0)), (8, 16)),
    "reduce_max": (_reduce(N.ReduceMaxOp), (8,)), "reduce_min": (_reduce(N.ReduceMinOp), (8,)),
    "resize_nearest": (_resize("nearest", "asymmetric"), (8, 16)),
    "resize_nearest_half_pixel": (_resize("nearest", "half_pixel", "round_prefer_ceil"), (8, 16)),
    "resize_bilinear": (_resize("bilinear", "half_pixel"), (8,)),
    "resize_bilinear_align": (_resize("bilinear", "align_corners"), (8,)),
}


@pytest.mark.parametrize("name,bits,seed", [
    pytest.param(n, b, s, id=f"{n}-int{b}-{s}") for n, (_, widths) in EQUAL_PARAM_CASES.items()
    for b in widths for s in range(2)])
def test_unequal_parameters_are_requantized(name, bits, seed):
    rng = np.random.default_rng(1000 * seed + bits)
    m, n_requant = EQUAL_PARAM_CASES[name][0](rng, bits)
    data = check_tflm(m, rng)
    assert ops_of(data).count("QUANTIZE") == n_requant


@pytest.mark.parametrize("name", ["concat", "maximum", "avg_pool_same", "max_pool_explicit_pads",
                                  "reduce_max", "resize_bilinear"])
def test_equal_parameters_need_no_quantize(name):
    rng = np.random.default_rng(5)
    m, n_requant = EQUAL_PARAM_CASES[name][0](rng, 8, equal=True)
    assert n_requant == 0
    data = check_tflm(m, rng)
    assert "QUANTIZE" not in ops_of(data)


# ------------------------------------------------------------------ 2. pad values
@pytest.mark.parametrize("bits", (8, 16))
@pytest.mark.parametrize("k", range(6))
def test_pad_value_is_quantized_like_tflite(bits, k):
    """Values on exact rounding ties (k + 0.5 steps; scale a power of two, so the float32 division
    is exact): TFLite rounds them away from zero, numpy's round to even."""
    from edgecc.backends.tflite.schema import S

    rng = np.random.default_rng(k)
    scale = 2.0 ** -int(rng.integers(2, 8))
    zp = int(rng.integers(-20, 20)) if bits == 8 else 0
    steps = (2 * int(rng.integers(0, 20)) + 0.5) * (1 if k % 2 else -1)  # |even| + 0.5: ties differ
    value = steps * scale
    assert np.round(value / scale) != quantize_value(value, scale, zp) - zp
    m = build([qt((1, 2, 3, 2), bits, scale, zp)],
              lambda b, a: b.create(N.PadOp, a[0], pads=[0, 1, 1, 0, 0, 1, 0, 1], value=value,
                                    result_types=[qt((1, 4, 4, 3), bits, scale, zp)]).result)
    data = check_tflm(m, rng)
    model = S.ModelT.InitFromObj(S.Model.GetRootAs(data, 0))
    (op,) = model.subgraphs[0].operators
    const = model.subgraphs[0].tensors[op.inputs[2]]
    raw = np.frombuffer(bytes(model.buffers[const.buffer].data), i8.numpy if bits == 8 else i16.numpy)
    assert int(raw[0]) == quantize_value(value, scale, zp)


def test_pad_value_saturates():
    m = build([qt((1, 2, 2, 1), 8, 0.01, 3)],
              lambda b, a: b.create(N.PadOp, a[0], pads=[0, 1, 0, 0, 0, 1, 0, 0], value=-100.0,
                                    result_types=[qt((1, 4, 2, 1), 8, 0.01, 3)]).result)
    check_tflm(m, np.random.default_rng(0))


# ------------------------------------------------------------------ 3. clamp
CLAMP_BOUNDS = [(-1.0, 1.0), (0.0, 1.0), (0.01, 0.2), (-math.inf, 0.5), (-0.3, math.inf), (0.0, 6.0),
                (0.0, math.inf), (-0.25, 0.25), (0.49999997, 5.0), (100.0, math.inf), (-math.inf, -100.0)]


def _clamp_module(bits, lo, hi, q_in, q_out, n):
    return build([qt((1, n), bits, *q_in)],
                 lambda b, a: b.create(N.ClampOp, a[0], min=lo, max=hi,
                                       result_types=[qt((1, n), bits, *q_out)]).result)


@pytest.mark.parametrize("bits", (8, 16))
@pytest.mark.parametrize("equal", (True, False), ids=("same-params", "rescale"))
@pytest.mark.parametrize("lo,hi", CLAMP_BOUNDS)
def test_quantized_clamp_on_every_stored_value(bits, equal, lo, hi):
    """Every stored input value at once; TFLM runs the file (no RELU_N1_TO_1 / RELU_0_TO_1) and
    matches the interpreter's ReluQuantized-style clamp bit for bit."""
    rng = np.random.default_rng(int(abs(lo if math.isfinite(lo) else 7) * 1000) + bits + 2 * equal)
    q_in = rand_q(rng, bits, -6, -2) if bits == 8 else rand_q(rng, bits, -13, -9)
    if (lo, hi) == (0.49999997, 5.0):
        q_in = (1.0, 0) if bits == 8 else (2.0 ** -6, 0)  # lo / scale is just below a tie
    q_out = q_in if equal else (rand_q(rng, bits, -6, -2) if bits == 8 else rand_q(rng, bits, -13, -9))
    n = 256 if bits == 8 else 65536
    m = _clamp_module(bits, lo, hi, q_in, q_out, n)
    x = np.arange(-(n // 2), n // 2).astype(np.int8 if bits == 8 else np.int16).reshape(1, n)
    data = check_tflm(m, inputs=[[x]])
    names = ops_of(data)
    assert not {"RELU_N1_TO_1", "RELU_0_TO_1"} & set(names)
    if equal:
        assert "QUANTIZE" not in names
    if (lo, hi) == (0.0, 6.0) and not equal:
        assert "RELU6" not in names  # TFLM's RELU6 ignores the output parameters


def test_quantized_clamp_that_cannot_bind_is_the_identity():
    """A clamp that cannot bind with equal parameters is the identity (no operator)."""
    m = _clamp_module(8, -100.0, 100.0, (0.01, 0), (0.01, 0), 16)
    assert ops_of(tflite.to_bytes(m)) == []


# ------------------------------------------------------------------ 5. int4 weights
def _fc_w4(rng, lead, kdim, nout, per_channel=True, act="none", bias=True):
    qi, qo = rand_q(rng, 8), rand_q(rng, 8, -4, 1)
    w = rng.integers(-7, 8, (nout, kdim)).astype(np.int8)
    scales = [float(s) for s in np.exp(rng.uniform(-7, -3, nout))] if per_channel else \
        float(np.exp(rng.uniform(-7, -3)))
    we = quant(i4, scales, 0, axis=0 if per_channel else None, qmin=-7, qmax=7)
    b_data = rng.integers(-3000, 3000, nout).astype(np.int32)

    def body(b, a):
        bc = b.constant(b_data, i32) if bias else None
        return b.create(N.FullyConnectedOp, a[0], b.constant(w, we), bc, activation=act,
                        result_types=[qt(lead + (nout,), 8, *qo)]).result

    return build([qt(lead + (kdim,), 8, *qi)], body)


@pytest.mark.parametrize("seed", range(6))
def test_int4_per_channel_fully_connected_runs_in_tflm(seed):
    """TFLM's FULLY_CONNECTED refuses per-channel INT4 filters; the writer emits a 1x1 CONV_2D with
    the same packed int4 weights (same arithmetic) between two RESHAPEs."""
    rng = np.random.default_rng(seed)
    lead = ((int(rng.integers(1, 4)),), (1, int(rng.integers(1, 4))), (2, 2, 3))[seed % 3]
    act = ("none", "relu", "relu6", "relu_n1_to_1")[seed % 4]
    m = _fc_w4(rng, lead, int(rng.integers(1, 40)), int(rng.integers(2, 12)), act=act, bias=seed != 4)
    data = check_tflm(m, rng)
    assert ops_of(data) == ["RESHAPE", "CONV_2D", "RESHAPE"]
    from edgecc.backends.tflite.schema import S

    model = S.ModelT.InitFromObj(S.Model.GetRootAs(data, 0))
    conv = model.subgraphs[0].operators[1]
    filt = model.subgraphs[0].tensors[conv.inputs[1]]
    assert filt.type == S.TensorType.INT4
    assert len(model.buffers[filt.buffer].data) == (int(np.prod(filt.shape)) + 1) // 2  # packed


def test_int4_per_tensor_fully_connected_stays_fully_connected():
    rng = np.random.default_rng(3)
    m = _fc_w4(rng, (2,), 9, 5, per_channel=False)
    data = check_tflm(m, rng)
    assert ops_of(data) == ["FULLY_CONNECTED"]


def test_int4_fully_connected_shared_weights():
    """Two per-channel int4 FCs reading one weight constant share one CONV_2D filter tensor."""
    rng = np.random.default_rng(4)
    w = rng.integers(-7, 8, (3, 5)).astype(np.int8)
    we = quant(i4, [0.01, 0.02, 0.03], 0, axis=0, qmin=-7, qmax=7)

    def body(b, a):
        wc = b.constant(w, we)
        return [b.create(N.FullyConnectedOp, x, wc, None, result_types=[qt((1, 3), 8, 0.05, 1)]).result
                for x in a]

    m = build([qt((1, 5), 8, 0.02, -3), qt((1, 5), 8, 0.03, 4)], body)
    data = check_tflm(m, rng)
    assert ops_of(data) == ["RESHAPE", "CONV_2D", "RESHAPE"] * 2
