"""One small model per `nn` op, built in IR with seeded weights: the rows of the coverage matrix.

``CASES`` maps every op of the `nn` dialect to a builder ``body(b, args, rng) -> value(s)`` on
inputs of shape ``X`` (float32). Positive-domain ops take ``|x| + 0.5``. The quantization ops
(`nn.quantize`, `nn.dequantize`, `nn.requantize`) have no float form: ``QUANT_CASES`` builds them
directly on quantized types.
"""

from __future__ import annotations

import numpy as np
from edgecc.dialects import nn as N
from edgecc.ir.builder import Builder
from edgecc.ir.core import Func, Module
from edgecc.ir.types import QuantizedType, f32, i8, i16, i32, tensor

X = (1, 6, 6, 4)


def _c(b, rng, shape, scale=0.3):
    return b.constant((rng.standard_normal(shape) * scale).astype(np.float32))


def _un(cls, **attrs):
    return lambda b, a, rng: b.create(cls, a[0], **attrs).result


def _pos(cls, **attrs):
    """``cls(|x| + 0.5)``: ops defined on positive inputs only."""
    def body(b, a, rng):
        x = b.create(N.AddOp, b.create(N.AbsOp, a[0]).result, b.constant(np.float32([0.5]))).result
        return b.create(cls, x, **attrs).result
    return body


def _bin(cls, **attrs):
    return lambda b, a, rng: b.create(cls, a[0], _c(b, rng, (1, 1, 1, 4), 1.0), **attrs).result


CASES = {
    "nn.abs": _un(N.AbsOp),
    "nn.add": _bin(N.AddOp, activation="relu"),
    "nn.avg_pool2d": _un(N.AvgPool2DOp, kernel=[3, 3], pads=[1, 1, 1, 1]),
    "nn.cast": lambda b, a, r: b.create(N.CastOp, b.create(N.MulOp, a[0], b.constant(np.float32([10.0])))
                                        .result, to=i32).result,
    "nn.clamp": _un(N.ClampOp, min=-1.0, max=1.0),
    "nn.concat": lambda b, a, r: b.create(N.ConcatOp, [a[0], _c(b, r, (1, 6, 6, 2))], axis=-1).result,
    "nn.conv2d": lambda b, a, r: b.create(N.Conv2DOp, a[0], _c(b, r, (5, 3, 3, 4)), _c(b, r, (5,)),
                                          pads=[1, 1, 1, 1], activation="relu6").result,
    "nn.depthwise_conv2d": lambda b, a, r: b.create(N.DepthwiseConv2DOp, a[0], _c(b, r, (1, 3, 3, 8)),
                                                    _c(b, r, (8,)), depth_multiplier=2,
                                                    pads=[1, 1, 1, 1]).result,
    "nn.div": lambda b, a, r: b.create(N.DivOp, a[0], b.constant(np.full((4,), 2.5, np.float32))).result,
    "nn.erf": _un(N.ErfOp),
    "nn.exp": _un(N.ExpOp),
    "nn.fully_connected": lambda b, a, r: b.create(N.FullyConnectedOp, a[0], _c(b, r, (7, 4)),
                                                   _c(b, r, (7,)), activation="relu").result,
    "nn.gather": lambda b, a, r: b.create(N.GatherOp, a[0], b.constant(np.array([3, -1, 0], np.int64)),
                                          axis=2).result,
    "nn.hard_sigmoid": _un(N.HardSigmoidOp, alpha=1 / 6, beta=0.5),
    "nn.hard_swish": _un(N.HardSwishOp),
    "nn.leaky_relu": _un(N.LeakyReluOp, alpha=0.2),
    "nn.log": _pos(N.LogOp),
    "nn.log_softmax": _un(N.LogSoftmaxOp),
    "nn.lrn": _un(N.LRNOp, size=3, alpha=0.01, beta=0.75, bias=1.5),
    "nn.matmul": lambda b, a, r: b.create(N.MatMulOp, a[0], _c(b, r, (1, 6, 4, 3))).result,
    "nn.max_pool2d": _un(N.MaxPool2DOp, kernel=[2, 2], strides=[2, 2]),
    "nn.maximum": _bin(N.MaximumOp),
    "nn.mean": _un(N.MeanOp, axes=[1, 2]),
    "nn.minimum": _bin(N.MinimumOp),
    "nn.mul": _bin(N.MulOp),
    "nn.neg": _un(N.NegOp),
    "nn.pad": _un(N.PadOp, pads=[0, 1, 2, 0, 0, 2, 1, 0]),
    "nn.pow": lambda b, a, r: b.create(N.PowOp, b.create(N.AbsOp, a[0]).result,
                                       b.constant(np.float32([2.0]))).result,
    "nn.prelu": lambda b, a, r: b.create(N.PReluOp, a[0], _c(b, r, (1, 1, 4))).result,
    "nn.reduce_max": _un(N.ReduceMaxOp, axes=[2]),
    "nn.reduce_min": _un(N.ReduceMinOp, axes=[0, 3]),
    "nn.reduce_sum": _un(N.ReduceSumOp, axes=[-1], keepdims=False),
    "nn.relu": _un(N.ReluOp),
    "nn.reshape": _un(N.ReshapeOp, shape=[6, 24]),
    "nn.resize": _un(N.ResizeOp, size=[12, 12], mode="bilinear"),
    "nn.rsqrt": _pos(N.RsqrtOp),
    "nn.sigmoid": _un(N.SigmoidOp),
    "nn.slice": _un(N.SliceOp, begin=[0, 1, 0, 1], end=[1, 6, 5, 4], strides=[1, 2, 2, 1]),
    "nn.softmax": _un(N.SoftmaxOp, beta=0.5),
    "nn.split": lambda b, a, r: list(b.create(N.SplitOp, a[0], axis=3, sizes=[1, 3],
                                              result_types=[tensor((1, 6, 6, 1)), tensor((1, 6, 6, 3))])
                                     .results),
    "nn.sqrt": _pos(N.SqrtOp),
    "nn.sub": _bin(N.SubOp),
    "nn.tanh": _un(N.TanhOp),
    "nn.transpose": _un(N.TransposeOp, perm=[0, 3, 1, 2]),
}


def _q(storage, scale, zp):
    lo, hi = (-128, 127) if storage is i8 else (-32768, 32767)
    return QuantizedType(storage, f32, [scale], [zp], None, lo, hi)


def _quant_case(op: str, storage) -> Module:
    """float -> quantize -> (requantize) -> dequantize -> float, on ``storage`` integers."""
    zp = 3 if storage is i8 else 0
    qa, qb = _q(storage, 0.02, zp), _q(storage, 0.035, -zp)
    f = Func("main", [tensor(X)], ["x0"])
    b = Builder(f)
    q = b.create(N.QuantizeOp, f.arguments[0], result_types=[tensor(X, qa)]).result
    if op == "nn.requantize":
        q = b.create(N.RequantizeOp, q, result_types=[tensor(X, qb)]).result
    b.ret(b.create(N.DequantizeOp, q, result_types=[tensor(X, f32)]).result)
    return Module(f)


QUANT_CASES = {"nn.quantize", "nn.dequantize", "nn.requantize"}
#: ops whose every backend is checked by a dedicated suite instead of a one-op model here: their cells need
#: a sequence of invocations with state carried, which this matrix (one call per cell) cannot express
ELSEWHERE = {"nn.lstm": "tests/state/test_qlstm.py (int8, int16x8: reference, Numba, C, TFLM over 12 calls)"}


def float_model(op: str) -> Module:
    f = Func("main", [tensor(X)], ["x0"])
    b = Builder(f)
    out = CASES[op](b, f.arguments, np.random.default_rng(0))
    b.ret(*(out if isinstance(out, (list, tuple)) else [out]))
    module = Module(f)
    module.verify()
    return module


def quant_model(op: str, scheme: str) -> Module:
    module = _quant_case(op, i8 if scheme == "int8" else i16)
    module.verify()
    return module
