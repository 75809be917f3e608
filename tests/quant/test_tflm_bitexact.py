"""Bit-exactness of the integer reference interpreter against TFLite Micro.

(a) whole models: the int8 MLPerf Tiny .tflite files are read with the TFLite
    backend's reader, run in edgecc's interpreter and in the ``tflite_micro``
    Python interpreter on random int8 inputs; every output element must be equal.
(b) single ops: a one-op ``nn`` module per quantized op kind, with random
    quantization parameters and attributes, is written with the TFLite backend's
    writer, run in TFLM and compared element by element with the interpreter.
    Ops TFLM has no integer kernel for are compared with LiteRT's reference
    kernels (exp) or only run (edgecc-defined semantics, see
    docs/quantization-semantics.md).

Several parameter draws run per op by default; the ``slow`` sweep runs many more.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from edgecc.interp.reference import run
from edgecc.ir import Builder, Func, Module
from edgecc.ir.spec import lookup_op
from edgecc.ir.types import f32, i4, i8, i16, i32, i64, quant, tensor

pytest.importorskip("tflite_micro", reason="the tflite_micro package (TFLM Python interpreter) is "
                                           "not installed")


def _backend_missing() -> str | None:
    try:
        import edgecc.backends.tflite.reader  # noqa: F401
        import edgecc.backends.tflite.verify  # noqa: F401
        import edgecc.backends.tflite.writer  # noqa: F401
    except ImportError as e:  # pragma: no cover - depends on the TFLite backend being present
        return f"the TFLite backend (edgecc.backends.tflite reader/writer/verify) is missing: {e}"
    return None


MISSING = _backend_missing()
needs_backend = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")

MODELS = ("ad01_int8", "kws_ref_model", "pretrainedResnet_quant", "vww_96_int8")


# ======================================================================== helpers
def Q(name):
    return lookup_op(name)


def qt(shape, bits, scale, zp=0):
    return tensor(shape, quant(i8 if bits == 8 else i16, float(scale), int(zp)))


def act_q(rng, bits, lo=-7.0, hi=0.0):
    """A random activation (scale, zero point): scale log-uniform in [e^lo, e^hi]."""
    scale = float(np.exp(rng.uniform(lo, hi)))
    zp = int(rng.integers(-128, 128)) if bits == 8 else 0
    return scale, zp


def data(rng, shape, bits):
    lo, hi = (-128, 128) if bits == 8 else (-32768, 32768)
    return rng.integers(lo, hi, shape).astype(np.int8 if bits == 8 else np.int16)


def weights(rng, shape, axis, per_channel, nbits=8):
    lim = 127 if nbits == 8 else 7
    w = rng.integers(-lim, lim + 1, shape).astype(np.int8)
    n = shape[axis]
    scales = list(np.exp(rng.uniform(-7, -3, n))) if per_channel else float(np.exp(rng.uniform(-7, -3)))
    elem = quant(i4 if nbits == 4 else i8, scales, 0, axis=axis if per_channel else None,
                 qmin=-lim, qmax=lim)
    return w, elem


def module(arg_types, body):
    func = Func("main", list(arg_types), [f"x{i}" for i in range(len(arg_types))])
    b = Builder(func)
    outs = body(b, func.arguments)
    b.ret(*(outs if isinstance(outs, (list, tuple)) else [outs]))
    m = Module(func)
    m.verify()
    return m


def unary(name, shape, bits, q_in, q_out, **attrs):
    return module([qt(shape, bits, *q_in)],
                  lambda b, a: b.create(Q(name), a[0], result_types=[qt(shape, bits, *q_out)],
                                        **attrs).result)


def binary(name, shapes, bits, q1, q2, qo, out_shape, **attrs):
    return module([qt(shapes[0], bits, *q1), qt(shapes[1], bits, *q2)],
                  lambda b, a: b.create(Q(name), a[0], a[1], result_types=[qt(out_shape, bits, *qo)],
                                        **attrs).result)


def window_case(rng, h, w, dilated=True):
    """(kernel, strides, dilations, pads, out_hw) with SAME or VALID padding."""
    from edgecc.backends.tflite.tables import same_pads

    while True:
        k = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        s = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        d = (1, 1) if rng.random() < 0.7 or not dilated else \
            (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        pads = tuple(int(p) for p in same_pads((h, w), k, s, d)) if rng.random() < 0.5 else (0, 0, 0, 0)
        if not dilated and any(p >= k[i % 2] for i, p in enumerate(pads)):
            continue  # pooling pads must stay below the window
        span_h, span_w = d[0] * (k[0] - 1) + 1, d[1] * (k[1] - 1) + 1
        if h + pads[0] + pads[2] < span_h or w + pads[1] + pads[3] < span_w:
            continue
        oh = (h + pads[0] + pads[2] - span_h) // s[0] + 1
        ow = (w + pads[1] + pads[3] - span_w) // s[1] + 1
        return k, s, d, pads, (oh, ow)


ACTS = ("none", "relu", "relu6", "relu_n1_to_1")


# ======================================================================== op cases
# each case(rng, bits) returns a one-op (or few-op) module; ``feeds`` draws its inputs
def case_conv2d(rng, bits, wbits=8):
    n, h, w = 1, int(rng.integers(3, 9)), int(rng.integers(3, 9))
    groups = 1 if rng.random() < 0.7 or bits == 16 else 2
    cin = int(rng.integers(1, 5)) * groups
    cout = int(rng.integers(1, 5)) * groups
    k, s, d, pads, (oh, ow) = window_case(rng, h, w)
    qi, qo = act_q(rng, bits), act_q(rng, bits, -5, 1)
    wv, we = weights(rng, (cout, k[0], k[1], cin // groups), 0, rng.random() < 0.8, wbits)
    bias = rng.integers(-3000, 3000, cout).astype(np.int32 if bits == 8 else np.int64)
    act = ACTS[int(rng.integers(0, 4))]

    def body(b, a):
        wc = b.constant(wv, we)
        bc = b.constant(bias, i32 if bits == 8 else i64) if rng.random() < 0.8 else None
        return b.create(Q("nn.conv2d"), a[0], wc, bc, strides=s, pads=pads, dilations=d, groups=groups,
                        activation=act, result_types=[qt((n, oh, ow, cout), bits, *qo)]).result

    return module([qt((n, h, w, cin), bits, *qi)], body)


def case_conv2d_w4(rng, bits):
    return case_conv2d(rng, 8, wbits=4)


def case_depthwise_conv2d(rng, bits, wbits=8):
    n, h, w = 1, int(rng.integers(3, 9)), int(rng.integers(3, 9))
    c, mult = int(rng.integers(1, 5)), int(rng.integers(1, 3))
    k, s, d, pads, (oh, ow) = window_case(rng, h, w)
    qi, qo = act_q(rng, bits), act_q(rng, bits, -5, 1)
    wv, we = weights(rng, (1, k[0], k[1], c * mult), 3, rng.random() < 0.8, wbits)
    bias = rng.integers(-3000, 3000, c * mult).astype(np.int32 if bits == 8 else np.int64)
    act = ACTS[int(rng.integers(0, 4))]

    def body(b, a):
        return b.create(Q("nn.depthwise_conv2d"), a[0], b.constant(wv, we),
                        b.constant(bias, i32 if bits == 8 else i64), strides=s, pads=pads, dilations=d,
                        depth_multiplier=mult, activation=act,
                        result_types=[qt((n, oh, ow, c * mult), bits, *qo)]).result

    return module([qt((n, h, w, c), bits, *qi)], body)


def case_depthwise_conv2d_w4(rng, bits):
    return case_depthwise_conv2d(rng, 8, wbits=4)


def case_fully_connected(rng, bits, wbits=8):
    batch, kdim, nout = int(rng.integers(1, 4)), int(rng.integers(1, 40)), int(rng.integers(1, 12))
    lead = (batch,) if rng.random() < 0.7 else (1, batch)  # 3-D input: keep_num_dims
    qi, qo = act_q(rng, bits), act_q(rng, bits, -4, 2)
    per_channel = wbits == 8 and rng.random() < 0.5
    wv, we = weights(rng, (nout, kdim), 0, per_channel, wbits)
    bias = rng.integers(-3000, 3000, nout).astype(np.int32 if bits == 8 else np.int64)
    act = ACTS[int(rng.integers(0, 4))]

    def body(b, a):
        return b.create(Q("nn.fully_connected"), a[0], b.constant(wv, we),
                        b.constant(bias, i32 if bits == 8 else i64), activation=act,
                        result_types=[qt(lead + (nout,), bits, *qo)]).result

    return module([qt(lead + (kdim,), bits, *qi)], body)


def case_fully_connected_w4(rng, bits):
    return case_fully_connected(rng, 8, wbits=4)


def case_matmul(rng, bits):
    m_, k, n_ = (int(v) for v in rng.integers(1, 9, 3))
    qa, qb, qo = act_q(rng, bits), act_q(rng, bits), act_q(rng, bits, -2, 3)
    mod = binary("nn.matmul", [(2, m_, k), (2, k, n_)], bits, qa, qb, qo, (2, m_, n_))
    return mod


def _broadcast_shapes(rng):
    shape = (1, int(rng.integers(1, 5)), int(rng.integers(1, 5)), int(rng.integers(1, 5)))
    other = shape if rng.random() < 0.6 else (1, 1, 1, shape[3])
    return (shape, other) if rng.random() < 0.5 else (other, shape), shape


def _arith(name):
    def case(rng, bits):
        (s1, s2), out = _broadcast_shapes(rng)
        q1, q2, qo = act_q(rng, bits), act_q(rng, bits), act_q(rng, bits, -6, 1)
        mod = binary(name, [s1, s2], bits, q1, q2, qo, out, activation=ACTS[int(rng.integers(0, 4))])
        return mod
    return case


def _maxmin(name):
    def case(rng, bits):
        (s1, s2), out = _broadcast_shapes(rng)
        q = act_q(rng, bits)
        return binary(name, [s1, s2], bits, q, q, q, out)
    return case


def _shape4(rng):
    return (1, int(rng.integers(1, 6)), int(rng.integers(1, 6)), int(rng.integers(1, 6)))


def case_relu(rng, bits):
    shape = _shape4(rng)
    return unary("nn.relu", shape, bits, act_q(rng, bits), act_q(rng, bits))


def case_clamp(rng, bits):
    shape = _shape4(rng)
    q = act_q(rng, bits, -6, -1)
    lo, hi = ((0.0, 6.0), (0.0, math.inf))[int(rng.integers(0, 2))]  # TFLM has no RELU_N1_TO_1 op
    return unary("nn.clamp", shape, bits, q, q, min=lo, max=hi)


def case_leaky_relu(rng, bits):
    shape = _shape4(rng)
    alpha = float(rng.choice([0.01, 0.1, 0.2, 0.3, -0.5, 1.5]))
    mod = unary("nn.leaky_relu", shape, bits, act_q(rng, bits), act_q(rng, bits), alpha=alpha)
    return mod


def case_prelu(rng, bits):
    shape = _shape4(rng)
    qi, qs, qo = act_q(rng, bits), act_q(rng, bits, -6, -2), act_q(rng, bits)
    slope = rng.integers(-128, 128, (shape[3],)).astype(np.int8)

    def body(b, a):
        sc = b.constant(slope, quant(i8, qs[0], qs[1]))
        return b.create(Q("nn.prelu"), a[0], sc, result_types=[qt(shape, bits, *qo)]).result

    return module([qt(shape, bits, *qi)], body)


def case_sigmoid(rng, bits):
    shape = _shape4(rng)
    if bits == 8:
        q_in, q_out = act_q(rng, 8, -5, 0), (1 / 256, -128)
    else:
        q_in = ((2.0 ** -12, 0) if rng.random() < 0.3 else act_q(rng, 16, -11, -5))
        q_out = (2.0 ** -15, 0)
    return unary("nn.sigmoid", shape, bits, q_in, q_out)


def case_tanh(rng, bits):
    shape = _shape4(rng)
    if bits == 8:
        q_in, q_out = act_q(rng, 8, -5, 0), (1 / 128, 0)
    else:
        pot = rng.random()
        q_in = (2.0 ** -12, 0) if pot < 0.2 else (2.0 ** -11, 0) if pot < 0.4 else act_q(rng, 16, -11, -5)
        q_out = (2.0 ** -15, 0)
    return unary("nn.tanh", shape, bits, q_in, q_out)


def case_hard_swish(rng, bits):
    shape = _shape4(rng)
    q_in = act_q(rng, bits, -5, -1)
    q_out = (q_in[0] * float(rng.uniform(0.2, 2.0)), int(rng.integers(-128, 128)) if bits == 8 else 0)
    return unary("nn.hard_swish", shape, bits, q_in, q_out)


def _hard_sigmoid_attrs(rng):
    pick = rng.random()
    if pick < 0.4:
        return {"alpha": 1 / 6, "beta": 0.5}  # PyTorch's hardsigmoid: ADD (fused RELU6), MUL
    if pick < 0.6:
        return {"alpha": 0.2, "beta": 0.5}  # ONNX's default: fused RELU, the cap by saturation
    return {"alpha": float(rng.uniform(0.05, 1.0)), "beta": float(rng.uniform(-1.0, 1.0))}


def case_hard_sigmoid(rng, bits):
    q_in = act_q(rng, bits, -5, -1)
    q_out = (1 / 255, -128) if bits == 8 and rng.random() < 0.5 else act_q(rng, bits, -9, -4)
    return unary("nn.hard_sigmoid", _shape4(rng), bits, q_in, q_out, **_hard_sigmoid_attrs(rng))


def case_softmax(rng, bits):
    depth = rng.integers(2, 30) if rng.random() < 0.8 else rng.integers(30, 600)
    shape = (int(rng.integers(1, 4)), int(depth))
    beta = float(rng.choice([1.0, 1.0, 0.5, 2.0]))
    if bits == 8:
        q_in, q_out = act_q(rng, 8, -5, 0), (1 / 256, -128)
    else:
        q_in, q_out = act_q(rng, 16, -12, -6), (1 / 32768, 0)
    return unary("nn.softmax", shape, bits, q_in, q_out, beta=beta)


def case_log_softmax(rng, bits):
    shape = (int(rng.integers(1, 4)), int(rng.integers(2, 30)))
    mod = unary("nn.log_softmax", shape, 8, act_q(rng, 8, -5, 0), (16 / 256, 127))
    return mod


def case_abs(rng, bits):
    shape = _shape4(rng)
    qi = act_q(rng, bits)
    qo = qi if rng.random() < 0.3 else act_q(rng, bits)
    return unary("nn.abs", shape, bits, qi, qo)


def case_rsqrt(rng, bits):
    shape = _shape4(rng)
    qi, qo = act_q(rng, 8, -6, 0), act_q(rng, 8, -4, 1)
    return unary("nn.rsqrt", shape, 8, qi, qo)


def _pool(name):
    def case(rng, bits):
        n, h, w, c = 1, int(rng.integers(2, 9)), int(rng.integers(2, 9)), int(rng.integers(1, 5))
        k, s, _, pads, (oh, ow) = window_case(rng, h, w, dilated=False)
        q = act_q(rng, bits)
        mod = module([qt((n, h, w, c), bits, *q)],
                     lambda b, a: b.create(Q(name), a[0], kernel=k, strides=s, pads=pads,
                                           activation=ACTS[int(rng.integers(0, 4))],
                                           result_types=[qt((n, oh, ow, c), bits, *q)]).result)
        return mod
    return case


def _reduce(name, same_params=False):
    def case(rng, bits):
        big = rng.random() < 0.2  # counts up to 400: the 1/count folding of MEAN
        shape = (1, int(rng.integers(1, 7 if not big else 21)), int(rng.integers(1, 7 if not big else 21)),
                 int(rng.integers(1, 5)))
        axes = [(1, 2), (3,), (1,), (2, 3), (1, 2, 3)][int(rng.integers(0, 5))]
        keep = bool(rng.random() < 0.7)
        out = tuple(1 if i in axes else d for i, d in enumerate(shape)) if keep else \
            tuple(d for i, d in enumerate(shape) if i not in axes)
        qi = act_q(rng, bits)
        qo = qi if same_params else act_q(rng, bits, -5, 1)
        mod = module([qt(shape, bits, *qi)],
                     lambda b, a: b.create(Q(name), a[0], axes=axes, keepdims=keep,
                                           result_types=[qt(out, bits, *qo)]).result)
        return mod
    return case


def case_resize(rng, bits):
    n, h, w, c = 1, int(rng.integers(1, 6)), int(rng.integers(1, 6)), int(rng.integers(1, 4))
    oh, ow = h * int(rng.integers(1, 4)), w * int(rng.integers(1, 4))
    if rng.random() < 0.3:
        oh, ow = int(rng.integers(1, 10)), int(rng.integers(1, 10))
    mode = "bilinear" if (bits == 8 and rng.random() < 0.6) else "nearest"
    if mode == "bilinear":
        coordinate, nearest = str(rng.choice(["half_pixel", "align_corners", "asymmetric"])), "floor"
    else:
        coordinate, nearest = ("asymmetric", "floor") if rng.random() < 0.5 else \
            ("half_pixel", "round_prefer_ceil")
    q = act_q(rng, bits)
    mod = module([qt((n, h, w, c), bits, *q)],
                 lambda b, a: b.create(Q("nn.resize"), a[0], size=(oh, ow), mode=mode,
                                       coordinate=coordinate, nearest_mode=nearest,
                                       result_types=[qt((n, oh, ow, c), bits, *q)]).result)
    return mod


def case_movement(rng, bits):
    """reshape -> transpose -> slice -> pad -> gather -> concat -> split, all on one quantized type."""
    q = act_q(rng, bits)
    shape = (2, 3, 4, 5)

    def body(b, a):
        t = lambda s: qt(s, bits, *q)  # noqa: E731
        r = b.create(Q("nn.reshape"), a[0], shape=(6, 4, 5), result_types=[t((6, 4, 5))]).result
        tr = b.create(Q("nn.transpose"), r, perm=(2, 0, 1), result_types=[t((5, 6, 4))]).result
        sl = b.create(Q("nn.slice"), tr, begin=(1, 0, 1), end=(5, 6, 4), strides=(1, 2, 1),
                      result_types=[t((4, 3, 3))]).result
        pd = b.create(Q("nn.pad"), sl, pads=(0, 1, 0, 1, 0, 2), value=0.0,
                      result_types=[t((5, 4, 5))]).result
        if bits == 8:  # TFLM's GATHER has no int16 kernel
            idx = b.constant(np.array([3, 0, 2], np.int32), i32)
            g = b.create(Q("nn.gather"), pd, idx, axis=1, result_types=[t((5, 3, 5))]).result
        else:
            g = b.create(Q("nn.slice"), pd, begin=(0, 1, 0), end=(5, 4, 5), strides=(1, 1, 1),
                         result_types=[t((5, 3, 5))]).result
        cc = b.create(Q("nn.concat"), [g, g], axis=2, result_types=[t((5, 3, 10))]).result
        sp = b.create(Q("nn.split"), cc, axis=2, sizes=(4, 6), result_types=[t((5, 3, 4)), t((5, 3, 6))])
        return list(sp.results)

    return module([qt(shape, bits, *q)], body)


def case_pad_value(rng, bits):
    q = act_q(rng, 8)
    shape = (1, 3, 3, 2)
    value = float(np.float32((int(rng.integers(-100, 100)) + 0.25) * q[0]))  # no rounding ties
    mod = module([qt(shape, 8, *q)],
                 lambda b, a: b.create(Q("nn.pad"), a[0], pads=(0, 1, 2, 0, 0, 1, 0, 1), value=value,
                                       result_types=[qt((1, 5, 5, 3), 8, *q)]).result)
    return mod


def case_quantize(rng, bits):
    shape = (2, 7)
    q = act_q(rng, bits)
    mod = module([tensor(shape, f32)],
                 lambda b, a: b.create(Q("nn.quantize"), a[0], result_types=[qt(shape, bits, *q)]).result)
    return mod


def case_dequantize(rng, bits):
    shape = (2, 7)
    q = act_q(rng, bits)
    mod = module([qt(shape, bits, *q)],
                 lambda b, a: b.create(Q("nn.dequantize"), a[0], result_types=[tensor(shape, f32)]).result)
    return mod


def case_requantize(rng, bits):
    shape = (3, 5)
    out_bits = 8 if rng.random() < 0.5 else 16
    qi, qo = act_q(rng, bits), act_q(rng, out_bits)
    mod = module([qt(shape, bits, *qi)],
                 lambda b, a: b.create(Q("nn.requantize"), a[0],
                                       result_types=[qt(shape, out_bits, *qo)]).result)
    return mod


#: op case -> (builder, bit widths TFLM runs it at)
CASES = {
    "conv2d": (case_conv2d, (8, 16)), "conv2d_w4": (case_conv2d_w4, (8,)),
    "depthwise_conv2d": (case_depthwise_conv2d, (8, 16)),
    "depthwise_conv2d_w4": (case_depthwise_conv2d_w4, (8,)),
    "fully_connected": (case_fully_connected, (8, 16)), "fully_connected_w4": (case_fully_connected_w4, (8,)),
    "matmul": (case_matmul, (8, 16)),
    "add": (_arith("nn.add"), (8, 16)), "sub": (_arith("nn.sub"), (8, 16)),
    "mul": (_arith("nn.mul"), (8, 16)),
    "maximum": (_maxmin("nn.maximum"), (8, 16)), "minimum": (_maxmin("nn.minimum"), (8, 16)),
    "relu": (case_relu, (8, 16)), "clamp": (case_clamp, (8, 16)), "leaky_relu": (case_leaky_relu, (8, 16)),
    "prelu": (case_prelu, (8,)), "sigmoid": (case_sigmoid, (8, 16)), "tanh": (case_tanh, (8, 16)),
    "hard_swish": (case_hard_swish, (8, 16)), "hard_sigmoid": (case_hard_sigmoid, (8, 16)),
    "softmax": (case_softmax, (8, 16)),
    "log_softmax": (case_log_softmax, (8,)), "abs": (case_abs, (8, 16)), "rsqrt": (case_rsqrt, (8,)),
    "avg_pool2d": (_pool("nn.avg_pool2d"), (8, 16)), "max_pool2d": (_pool("nn.max_pool2d"), (8, 16)),
    "mean": (_reduce("nn.mean"), (8, 16)), "reduce_sum": (_reduce("nn.reduce_sum"), (8, 16)),
    "reduce_max": (_reduce("nn.reduce_max", True), (8,)),
    "resize": (case_resize, (8, 16)), "movement": (case_movement, (8, 16)),
    "pad_value": (case_pad_value, (8,)), "quantize": (case_quantize, (8, 16)),
    "dequantize": (case_dequantize, (8, 16)), "requantize": (case_requantize, (8, 16)),
}
DRAWS = 3  # parameter draws per (op, width) in the default run
SLOW_DRAWS = 40


def _params(draws, offset=0):
    return [pytest.param(name, bits, seed, id=f"{name}-int{bits}-{seed}")
            for name, (_, widths) in CASES.items() for bits in widths
            for seed in range(offset, offset + draws)]


def feeds(mod, rng):
    """Random inputs for ``mod``: quantized arguments over their whole storage range (rsqrt:
    only values at or above the zero point), float arguments ~ 100 quantization steps wide."""
    consumer = {id(a): a.users[0].name if a.users else "" for a in mod.func.arguments}
    out = []
    for a in mod.func.arguments:
        e = a.type.element
        if a.type.is_quantized:
            lo = e.zero_point if consumer[id(a)] == "nn.rsqrt" else e.qmin
            out.append(rng.integers(lo, e.qmax + 1, a.type.shape).astype(e.storage.numpy))
        else:
            scale = a.users[0].results[0].type.element.scale
            out.append((rng.standard_normal(a.type.shape) * scale * 100).astype(np.float32))
    return out


def check_case(name, bits, seed, n_inputs=2):
    from edgecc.backends.tflite import to_bytes
    from edgecc.backends.tflite.verify import run_tflm, tflm_interpreter

    rng = np.random.default_rng(seed * 1000 + bits)
    mod = CASES[name][0](rng, bits)
    blob = to_bytes(mod)
    it = tflm_interpreter(blob)
    for _ in range(n_inputs):
        inputs = feeds(mod, rng)
        ours = run(mod, inputs)
        ref = run_tflm(blob, inputs, interpreter=it)
        assert len(ours) == len(ref)
        for k, (o, r) in enumerate(zip(ours, ref)):
            r = np.asarray(r).reshape(o.shape)
            if o.dtype.kind == "f":
                assert np.array_equal(o.view(np.int32), r.astype(np.float32).view(np.int32)), \
                    f"{name}: float output {k} differs"
                continue
            diff = np.abs(o.astype(np.int64) - r.astype(np.int64))
            assert not diff.any(), (f"{name} int{bits} seed {seed}: output {k}: {np.count_nonzero(diff)} "
                                    f"of {diff.size} elements differ (max {diff.max()})\n{mod}")


@needs_backend
@pytest.mark.parametrize("name, bits, seed", _params(DRAWS))
def test_single_op_bitexact(name, bits, seed):
    check_case(name, bits, seed)


@needs_backend
@pytest.mark.slow
@pytest.mark.parametrize("name, bits, seed", _params(SLOW_DRAWS, offset=DRAWS))
def test_single_op_bitexact_sweep(name, bits, seed):
    check_case(name, bits, seed, n_inputs=3)


#: unary ops compared on every storage value: (op, widths, input scale range, output params)
EXHAUSTIVE = {
    "sigmoid": (("nn.sigmoid", {}), (8, 16)), "tanh": (("nn.tanh", {}), (8, 16)),
    "hard_swish": (("nn.hard_swish", {}), (8, 16)),
    "hard_sigmoid": (("nn.hard_sigmoid", {"alpha": 1 / 6}), (8, 16)),
    "hard_sigmoid_onnx": (("nn.hard_sigmoid", {}), (8, 16)), "rsqrt": (("nn.rsqrt", {}), (8,)),
    "abs": (("nn.abs", {}), (8, 16)), "relu": (("nn.relu", {}), (8, 16)),
    "leaky_relu": (("nn.leaky_relu", {"alpha": 0.2}), (8, 16)), "requantize": (("nn.requantize", {}), (8, 16)),
}


def _exhaustive_module(name, bits, k):
    op, attrs = EXHAUSTIVE[name][0]
    rng = np.random.default_rng(k)
    n = 256 if bits == 8 else 65536
    shape = (1, n)
    pot = k == 0 and bits == 16 and name in ("sigmoid", "tanh")
    q_in = (2.0 ** -12, 0) if pot else act_q(rng, bits, -9 if bits == 16 else -5, -1)
    if name == "sigmoid":
        q_out = (1 / 256, -128) if bits == 8 else (2.0 ** -15, 0)
    elif name == "tanh":
        q_out = (1 / 128, 0) if bits == 8 else (2.0 ** -15, 0)
    elif name == "hard_swish":
        q_out = (q_in[0] * float(rng.uniform(0.3, 2.0)), int(rng.integers(-128, 128)) if bits == 8 else 0)
    else:
        q_out = act_q(rng, bits)
    return unary(op, shape, bits, q_in, q_out, **attrs), q_in


@needs_backend
@pytest.mark.parametrize("name, bits, k", [
    pytest.param(n, b, k, id=f"{n}-int{b}-{k}") for n, (_, ws) in EXHAUSTIVE.items() for b in ws
    for k in range(2)])
def test_unary_on_every_stored_value(name, bits, k):
    """Elementwise ops over all 256 (int8) or 65,536 (int16) stored values at once."""
    from edgecc.backends.tflite import to_bytes
    from edgecc.backends.tflite.verify import run_tflm

    mod, q_in = _exhaustive_module(name, bits, k)
    lo = q_in[1] if name == "rsqrt" else (-128 if bits == 8 else -32768)
    hi = 127 if bits == 8 else 32767
    x = np.resize(np.arange(lo, hi + 1), mod.func.arguments[0].type.shape)
    x = x.astype(np.int8 if bits == 8 else np.int16)
    ours = run(mod, [x])[0]
    ref = np.asarray(run_tflm(to_bytes(mod), [x])[0]).reshape(ours.shape)
    bad = np.nonzero(ours != ref)
    assert not bad[1].size, f"{bad[1].size} inputs differ, first {x[bad][:5]}: {ours[bad][:5]} vs {ref[bad][:5]}"


@needs_backend
@pytest.mark.parametrize("name", ["nn.add", "nn.sub", "nn.mul"])
@pytest.mark.parametrize("bits", (8, 16))
@pytest.mark.parametrize("k", range(2))
def test_binary_on_every_pair(name, bits, k):
    """int8: all 65,536 input pairs at once; int16: 65,536 random pairs (near-tie rounding)."""
    from edgecc.backends.tflite import to_bytes
    from edgecc.backends.tflite.verify import run_tflm

    rng = np.random.default_rng(100 + k)
    if bits == 8:
        a = np.repeat(np.arange(-128, 128), 256).astype(np.int8).reshape(1, -1)
        b = np.tile(np.arange(-128, 128), 256).astype(np.int8).reshape(1, -1)
    else:
        a, b = (rng.integers(-32768, 32768, (1, 65536)).astype(np.int16) for _ in range(2))
    q1, q2, qo = act_q(rng, bits), act_q(rng, bits), act_q(rng, bits, -6, 1)
    mod = binary(name, [a.shape, b.shape], bits, q1, q2, qo, a.shape,
                 activation=ACTS[int(rng.integers(0, 4))])
    ours = run(mod, [a, b])[0]
    ref = np.asarray(run_tflm(to_bytes(mod), [a, b])[0]).reshape(ours.shape)
    assert np.array_equal(ours, ref), f"{np.count_nonzero(ours != ref)} pairs differ"


def case_exp(rng, bits):
    return unary("nn.exp", (1, 4, 8, 8), bits, act_q(rng, bits, -5, -1), act_q(rng, bits, -4, 3))


def case_resize_bilinear16(rng, bits):
    h, w, c = (int(v) for v in rng.integers(1, 6, 3))
    oh, ow = (int(v) for v in rng.integers(1, 12, 2))
    coordinate = str(rng.choice(["half_pixel", "align_corners", "asymmetric"]))
    q = act_q(rng, 16)
    return module([qt((1, h, w, c), 16, *q)],
                  lambda b, a: b.create(Q("nn.resize"), a[0], size=(oh, ow), mode="bilinear",
                                        coordinate=coordinate,
                                        result_types=[qt((1, oh, ow, c), 16, *q)]).result)


#: kernels TFLM lacks but LiteRT's reference kernels have (same TFLite algorithm)
LITERT_CASES = {"exp": (case_exp, (8, 16)), "resize_bilinear": (case_resize_bilinear16, (16,))}


@needs_backend
@pytest.mark.parametrize("name, bits, seed", [
    pytest.param(n, b, s, id=f"{n}-int{b}-{s}") for n, (_, ws) in LITERT_CASES.items() for b in ws
    for s in range(3)])
def test_litert_only_kernels_bitexact(name, bits, seed):
    """EXP (int8/int16) and int16 RESIZE_BILINEAR have no TFLM kernel; they follow TFLite's
    algorithms and are checked against LiteRT's reference kernels instead."""
    pytest.importorskip("ai_edge_litert", reason="LiteRT (ai_edge_litert) is not installed")
    from edgecc.backends.tflite import to_bytes
    from edgecc.backends.tflite.verify import run_litert

    rng = np.random.default_rng(seed)
    mod = LITERT_CASES[name][0](rng, bits)
    blob = to_bytes(mod)
    for _ in range(2):
        x = feeds(mod, rng)
        ours = run(mod, x)[0]
        ref = np.asarray(run_litert(blob, x)[0]).reshape(ours.shape)
        assert np.array_equal(ours, ref), f"{np.count_nonzero(ours != ref)} elements differ"


# ======================================================================== whole models
@needs_backend
@pytest.mark.parametrize("name", MODELS)
def test_mlperf_tiny_model_bitexact(name, shared_models):
    from edgecc.backends.tflite import read_tflite
    from edgecc.backends.tflite.verify import run_tflm, tflm_interpreter

    path = shared_models / f"{name}.tflite"
    if not path.exists():
        pytest.skip(f"{path.name} not in the shared models folder")
    mod = read_tflite(path)
    it = tflm_interpreter(path)
    arg = mod.func.arguments[0]
    rng = np.random.default_rng(20)
    for i in range(20):
        x = rng.integers(-128, 128, arg.type.shape).astype(np.int8)
        ours = run(mod, [x])
        ref = run_tflm(path, [x], interpreter=it)
        for o, r in zip(ours, ref):
            r = np.asarray(r).reshape(o.shape)
            assert np.array_equal(o, r), f"{name} input {i}: {np.count_nonzero(o != r)} elements differ"


@needs_backend
@pytest.mark.parametrize("name", MODELS)
def test_mlperf_tiny_intermediate_tensors_bitexact(name, shared_models):
    """Every op result of the model (matched to the .tflite tensor of the same name) equals the
    tensor TFLM computed, not only the softmax-saturated outputs."""
    from tflite_micro.python.tflite_micro import runtime
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    from edgecc.backends.tflite import read_tflite
    from edgecc.interp.reference import evaluate_op
    from edgecc.ir.core import sanitize_hint

    path = shared_models / f"{name}.tflite"
    if not path.exists():
        pytest.skip(f"{path.name} not in the shared models folder")
    blob = path.read_bytes()
    tensors = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(blob, 0)).subgraphs[0].tensors
    index: dict[str, list[int]] = {}
    for i, t in enumerate(tensors):
        index.setdefault(sanitize_hint(t.name.decode()), []).append(i)
    mod = read_tflite(path)
    preserve = runtime.InterpreterConfig.kPreserveAllTensors
    it = runtime.Interpreter.from_bytes(blob, intrepreter_config=preserve)
    rng = np.random.default_rng(7)
    for _ in range(3):
        x = rng.integers(-128, 128, mod.func.arguments[0].type.shape).astype(np.int8)
        it.set_input(x, 0)
        it.invoke()
        env = {id(mod.func.arguments[0]): x}
        compared = 0
        for op in mod.func.body:
            if op.name == "func.return":
                break
            for r, y in zip(op.results, evaluate_op(op, [env[id(v)] for v in op.operands])):
                env[id(r)] = y
                idx = index.get(r.name_hint or "")
                if op.name == "builtin.constant" or not idx or len(idx) != 1:
                    continue
                ref = np.asarray(it.GetTensor(idx[0], 0)["tensor_data"]).reshape(y.shape)
                assert np.array_equal(ref, y), f"{name}: {op.name} -> {r.name_hint} differs"
                compared += 1
        assert compared >= sum(1 for op in mod.func.body if op.name.startswith("nn.")) // 2
