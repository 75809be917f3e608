"""Elementwise ops, activations, softmax, casts and pass-throughs."""

from __future__ import annotations

import math

import numpy as np

from edgecc.conversion.onnx_to_nn.registry import Cx, converter
from edgecc.ir.core import Value
from edgecc.ir.types import FloatType, QuantizedType

FLOAT_KINDS = ("f32", "f16", "f64")


def _float_only(cx: Cx, *vals: Value | None) -> None:
    for v in vals:
        if v is not None and not isinstance(v.type.element, FloatType):
            raise cx.fail(f"needs a float input, got {v.type.element}")


# ------------------------------------------------------------------ binary
def _binary(nn_name: str):
    def run(cx: Cx, a, b):
        return cx.binary(nn_name, a, b)

    return run


for _onnx, _nn, _doc in (("Add", "add", "numpy broadcasting"), ("Sub", "sub", "numpy broadcasting"),
                         ("Mul", "mul", "numpy broadcasting"),
                         ("Div", "div", "numpy broadcasting; integers truncate")):
    converter(_onnx, 11, doc=f"nn.{_nn}, {_doc}")(_binary(_nn))


@converter("Pow", 11, doc="nn.pow (float); a constant exponent is cast to the base type")
def pow_(cx: Cx, x, y):
    _float_only(cx, x)
    if y.type.element != x.type.element:
        e = cx.value(y)
        if e is None:
            raise cx.fail(f"exponent type {y.type.element} differs from base type {x.type.element}")
        y = cx.like(e, x)
    return cx.binary("pow", x, y)


def _chain(cx: Cx, nn_name: str, values) -> Value:
    vals = [v for v in values if v is not None]
    if not vals:
        raise cx.fail("needs at least one input")
    out = vals[0]
    for v in vals[1:]:
        out = cx.binary(nn_name, out, v)
    return out


@converter("Sum", 11, doc="chain of nn.add")
def sum_(cx: Cx, *xs):
    return _chain(cx, "add", xs)


@converter("Max", 11, doc="chain of nn.maximum")
def max_(cx: Cx, *xs):
    return _chain(cx, "maximum", xs)


@converter("Min", 11, doc="chain of nn.minimum")
def min_(cx: Cx, *xs):
    return _chain(cx, "minimum", xs)


@converter("Mean", 11, doc="chain of nn.add, then nn.mul by 1/n")
def mean_(cx: Cx, *xs):
    vals = [v for v in xs if v is not None]
    _float_only(cx, *vals)
    s = _chain(cx, "add", vals)
    if len(vals) == 1:
        return s
    return cx.binary("mul", s, cx.scalar(1.0 / len(vals), s))


# ------------------------------------------------------------------ unary
def _unary(nn_name: str, float_only: bool = True):
    def run(cx: Cx, x):
        if float_only:
            _float_only(cx, x)
        return cx.unary(nn_name, x)

    return run


for _onnx, _nn in (("Relu", "relu"), ("Sigmoid", "sigmoid"), ("Tanh", "tanh"), ("Exp", "exp"),
                   ("Log", "log"), ("Sqrt", "sqrt"), ("Erf", "erf"), ("HardSwish", "hard_swish")):
    converter(_onnx, 14 if _onnx == "HardSwish" else 11, doc=f"nn.{_nn}")(_unary(_nn))
for _onnx, _nn in (("Abs", "abs"), ("Neg", "neg")):
    converter(_onnx, 11, doc=f"nn.{_nn}")(_unary(_nn, float_only=False))


@converter("Reciprocal", 11, doc="nn.div(1, x)")
def reciprocal(cx: Cx, x):
    _float_only(cx, x)
    return cx.binary("div", cx.scalar(1.0, x), x)


@converter("LeakyRelu", 11, doc="nn.leaky_relu")
def leaky_relu(cx: Cx, x, *, alpha=0.01):
    _float_only(cx, x)
    return cx.unary("leaky_relu", x, alpha=alpha)


@converter("HardSigmoid", 11, doc="nn.hard_sigmoid")
def hard_sigmoid(cx: Cx, x, *, alpha=0.2, beta=0.5):
    _float_only(cx, x)
    return cx.unary("hard_sigmoid", x, alpha=alpha, beta=beta)


@converter("Clip", 11, doc="min/max constant inputs: nn.relu (0, inf), nn.clamp (float), "
                           "nn.maximum/minimum (integers)")
def clip(cx: Cx, x, lo=None, hi=None):
    lo_v = cx.const_input(lo, "Clip min")
    hi_v = cx.const_input(hi, "Clip max")
    if not isinstance(x.type.element, FloatType):
        out = x
        if lo_v is not None:
            out = cx.binary("maximum", out, cx.like(lo_v.reshape(()), x))
        if hi_v is not None:
            out = cx.binary("minimum", out, cx.like(hi_v.reshape(()), x))
        return out
    mn = float(lo_v.reshape(())) if lo_v is not None else -math.inf
    mx = float(hi_v.reshape(())) if hi_v is not None else math.inf
    if mn == 0.0 and mx == math.inf:
        return cx.unary("relu", x)
    if mn == -math.inf and mx == math.inf:
        return x
    return cx.unary("clamp", x, min=mn, max=mx)


@converter("Elu", 11, doc="max(x,0) + alpha*(exp(min(x,0)) - 1)")
def elu(cx: Cx, x, *, alpha=1.0):
    _float_only(cx, x)
    return _elu(cx, x, alpha)


def _elu(cx: Cx, x: Value, alpha: float) -> Value:
    neg = cx.binary("minimum", x, cx.scalar(0.0, x))
    em1 = cx.binary("sub", cx.unary("exp", neg), cx.scalar(1.0, x))
    return cx.binary("add", cx.unary("relu", x), cx.binary("mul", em1, cx.scalar(alpha, x)))


@converter("Selu", 11, doc="gamma * elu(x, alpha)")
def selu(cx: Cx, x, *, alpha=1.67326319217681884765625, gamma=1.05070102214813232421875):
    _float_only(cx, x)
    return cx.binary("mul", _elu(cx, x, alpha), cx.scalar(gamma, x))


def _softplus(cx: Cx, x: Value) -> Value:
    """relu(x) + log(1 + exp(-|x|)): no overflow for large |x|."""
    e = cx.unary("exp", cx.unary("neg", cx.unary("abs", x)))
    return cx.binary("add", cx.unary("relu", x), cx.unary("log", cx.binary("add", e, cx.scalar(1.0, x))))


@converter("Softplus", 11, doc="relu(x) + log(1 + exp(-|x|))")
def softplus(cx: Cx, x):
    _float_only(cx, x)
    return _softplus(cx, x)


@converter("Softsign", 11, doc="x / (1 + |x|)")
def softsign(cx: Cx, x):
    _float_only(cx, x)
    return cx.binary("div", x, cx.binary("add", cx.unary("abs", x), cx.scalar(1.0, x)))


@converter("Mish", 18, doc="x * tanh(softplus(x))")
def mish(cx: Cx, x):
    _float_only(cx, x)
    return cx.binary("mul", x, cx.unary("tanh", _softplus(cx, x)))


@converter("Celu", 12, doc="max(0, x) + min(0, alpha * (exp(x / alpha) - 1))")
def celu(cx: Cx, x, *, alpha=1.0):
    _float_only(cx, x)
    e = cx.unary("exp", cx.binary("mul", x, cx.scalar(1.0 / alpha, x)))
    neg = cx.binary("minimum", cx.binary("mul", cx.binary("sub", e, cx.scalar(1.0, x)), cx.scalar(alpha, x)),
                    cx.scalar(0.0, x))
    return cx.binary("add", cx.unary("relu", x), neg)


@converter("Swish", 24, doc="x * sigmoid(alpha * x)")
def swish(cx: Cx, x, *, alpha=1.0):
    _float_only(cx, x)
    ax = x if alpha == 1.0 else cx.binary("mul", x, cx.scalar(alpha, x))
    return cx.binary("mul", x, cx.unary("sigmoid", ax))


@converter("Gelu", 20, doc="x * 0.5 * (1 + erf(x / sqrt 2)); approximate='tanh' via nn.tanh")
def gelu(cx: Cx, x, *, approximate="none"):
    _float_only(cx, x)
    half = cx.binary("mul", x, cx.scalar(0.5, x))
    if approximate == "tanh":
        x3 = cx.binary("mul", cx.binary("mul", x, x), x)
        inner = cx.binary("add", x, cx.binary("mul", x3, cx.scalar(0.044715, x)))
        t = cx.unary("tanh", cx.binary("mul", inner, cx.scalar(math.sqrt(2.0 / math.pi), x)))
    elif approximate == "none":
        t = cx.unary("erf", cx.binary("mul", x, cx.scalar(1.0 / math.sqrt(2.0), x)))
    else:
        raise cx.fail(f"approximate='{approximate}' is not supported")
    return cx.binary("mul", half, cx.binary("add", t, cx.scalar(1.0, x)))


@converter("PRelu", 11, doc="nn.prelu; a per-channel slope of a 4-D input runs in NHWC")
def prelu(cx: Cx, x, slope):
    _float_only(cx, x)
    s = cx.value(slope)
    if s is not None and s.dtype != x.type.element.numpy:
        s = s.astype(x.type.element.numpy)
        slope = cx.const(s, x.type.element)
    if cx.rank(x) == 4 and s is not None:
        c = cx.shape(x)[1]
        full = (1,) * (4 - s.ndim) + s.shape
        if full[0] == 1 and full[2] == 1 and full[3] == 1 and full[1] in (1, c):
            y = cx.emit("nn.prelu", cx.to_nhwc(x), cx.const(s.reshape(full[1]), x.type.element))
            return cx.to_nchw(y)
    return cx.emit("nn.prelu", x, slope)


# ------------------------------------------------------------------ softmax
def _softmax(cx: Cx, nn_name: str, x: Value, axis: int, legacy: bool) -> Value:
    _float_only(cx, x)
    r = cx.rank(x)
    axis = axis + r if axis < 0 else axis
    if not legacy or axis == r - 1:
        return cx.unary(nn_name, x, axis=axis if not legacy else -1)
    # opsets < 13: softmax over the input coerced to 2-D [prod(dims[:axis]), prod(dims[axis:])]
    shape = cx.shape(x)
    flat = (int(np.prod(shape[:axis], dtype=np.int64)), int(np.prod(shape[axis:], dtype=np.int64)))
    y = cx.unary(nn_name, cx.reshape(x, flat), axis=-1)
    return cx.reshape(y, shape)


@converter("Softmax", 11, doc="nn.softmax over the input flattened at axis (opset < 13)")
def softmax_11(cx: Cx, x, *, axis=1):
    return _softmax(cx, "softmax", x, axis, legacy=True)


@converter("Softmax", 13, doc="nn.softmax along axis")
def softmax_13(cx: Cx, x, *, axis=-1):
    return _softmax(cx, "softmax", x, axis, legacy=False)


@converter("LogSoftmax", 11, doc="nn.log_softmax over the input flattened at axis (opset < 13)")
def log_softmax_11(cx: Cx, x, *, axis=1):
    return _softmax(cx, "log_softmax", x, axis, legacy=True)


@converter("LogSoftmax", 13, doc="nn.log_softmax along axis")
def log_softmax_13(cx: Cx, x, *, axis=-1):
    return _softmax(cx, "log_softmax", x, axis, legacy=False)


# ------------------------------------------------------------------ casts / pass-through
@converter("Cast", 11, doc="nn.cast (removed when the type does not change)")
def cast(cx: Cx, x, *, to, saturate=1, round_mode="up"):
    from edgecc.conversion.onnx_to_nn.onnx_types import onnx_element

    elem = onnx_element(to)
    if elem is None:
        raise cx.fail(f"cast to ONNX type {to} is not supported")
    if isinstance(x.type.element, QuantizedType):
        raise cx.fail("Cast of a quantized value is not supported")
    if x.type.element == elem:
        return x
    return cx.emit("nn.cast", x, to=elem)


@converter("CastLike", 15, doc="nn.cast to the element type of the second input")
def cast_like(cx: Cx, x, like, *, saturate=1, round_mode="up"):
    elem = like.type.element
    if isinstance(x.type.element, QuantizedType) or isinstance(elem, QuantizedType):
        raise cx.fail("CastLike of quantized values is not supported")
    if x.type.element == elem:
        return x
    return cx.emit("nn.cast", x, to=elem)


@converter("Identity", 11, doc="removed")
def identity(cx: Cx, x):
    return x


@converter("Dropout", 11, doc="removed (inference); the mask output is unsupported")
def dropout_11(cx: Cx, x, *, ratio=0.5, seed=0):
    if cx.used(1):
        raise cx.fail("the mask output is not supported")
    return [x, None]


@converter("Dropout", 12, doc="removed (inference; training_mode constant false); no mask output")
def dropout(cx: Cx, x, ratio=None, training_mode=None, *, seed=0):
    t = cx.value(training_mode)
    if training_mode is not None and (t is None or bool(np.asarray(t).reshape(-1)[0])):
        raise cx.fail("training_mode must be a constant false")
    if cx.used(1):
        raise cx.fail("the mask output is not supported")
    return [x, None]


# ------------------------------------------------------------------ normalization (generic)
@converter("LayerNormalization", 17, doc="mean/sub/mul/rsqrt over the normalized axes (Mean, "
                                         "InvStdDev outputs too)")
def layer_norm(cx: Cx, x, scale, bias=None, *, axis=-1, epsilon=1e-5, stash_type=1):
    _float_only(cx, x)
    r = cx.rank(x)
    axis = axis + r if axis < 0 else axis
    axes = tuple(range(axis, r))
    mean = cx.emit("nn.mean", x, axes=axes, keepdims=True)
    d = cx.binary("sub", x, mean)
    var = cx.emit("nn.mean", cx.binary("mul", d, d), axes=axes, keepdims=True)
    inv = cx.unary("rsqrt", cx.binary("add", var, cx.scalar(epsilon, x)))
    y = cx.binary("mul", cx.binary("mul", d, inv), scale)
    if bias is not None:
        y = cx.binary("add", y, bias)
    return [y, mean, inv]


@converter("LpNormalization", 11, doc="x / norm along axis (p = 1: sum |x|, p = 2: sqrt(sum x^2))")
def lp_normalization(cx: Cx, x, *, axis=-1, p=2):
    _float_only(cx, x)
    r = cx.rank(x)
    axis = axis + r if axis < 0 else axis
    if p == 1:
        norm = cx.emit("nn.reduce_sum", cx.unary("abs", x), axes=(axis,), keepdims=True)
    elif p == 2:
        norm = cx.unary("sqrt", cx.emit("nn.reduce_sum", cx.binary("mul", x, x), axes=(axis,), keepdims=True))
    else:
        raise cx.fail(f"p={p} is not supported (1, 2)")
    # an all-zero slice has norm 0: divide by the smallest normal float instead (0 / tiny = 0)
    tiny = float(np.finfo(x.type.element.numpy).tiny)
    return cx.binary("div", x, cx.binary("maximum", norm, cx.scalar(tiny, x)))

