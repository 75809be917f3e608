"""Gemm and MatMul -> nn.fully_connected (constant B) or nn.matmul."""

from __future__ import annotations

import numpy as np

from edgecc.conversion.onnx_to_nn.conv import _hint, absorb, bn_params, sole_user
from edgecc.conversion.onnx_to_nn.registry import Cx, WeightRef, converter
from edgecc.ir.core import Value
from edgecc.ir.types import FloatType
from edgecc.quant.schemes import dequantize_array


def _bias_vector(c: np.ndarray | None, n: int, m: int) -> np.ndarray | None:
    """C as a length-n vector when it broadcasts along the rows of [m, n] (else None)."""
    if c is None:
        return None
    c = np.asarray(c)
    if c.ndim == 0 or c.size == 1:
        return np.full(n, c.reshape(-1)[0], dtype=c.dtype)
    if c.shape == (n,) or c.shape == (1, n) or (m == 1 and c.shape == (1, n)):
        return c.reshape(n)
    return None


def _fuse_following(cx: Cx, y: Value, ref: WeightRef, bias: np.ndarray | None, n: int):
    """Fold a following constant bias Add and/or BatchNormalization into (W, b) of an FC.

    Returns (ref, bias, absorbed ops) -- the absorbed ops are replaced by the FC result.
    """
    absorbed = []
    stored = None
    cur = y
    while True:
        user = sole_user(cur)
        if user is None:
            break
        if user.name == "onnx.Add" and len(user.operands) == 2:
            other = user.operands[1] if user.operands[0] is cur else user.operands[0]
            c = Cx.value(other)
            q = None if c is not None else _qi32_bias(cx, other)
            if q is not None:
                c = q
            if c is None or c.dtype != cur.type.element.numpy or user.results[0].type.shape != cur.type.shape:
                break
            vec = _bias_vector(c, n, 2)
            if vec is None:
                break
            # the model's integer bias stays the operand while it is the whole bias
            stored = other if q is not None and bias is None and not absorbed else None
            bias = vec.astype(np.float64) + (0 if bias is None else bias)
        elif user.name == "onnx.BatchNormalization" and not ref.quantized and user.operands[0] is cur \
                and len(cur.type.shape) == 2:
            p = bn_params(cx, user)
            if p is None or p[0].shape != (n,):
                break
            scale, shift = p
            ref = WeightRef((ref.array.astype(np.float64) * scale[:, None]).astype(ref.array.dtype))
            bias = (np.zeros(n) if bias is None else bias) * scale + shift
        else:
            break
        if absorbed and stored is not None:
            stored = None
        absorbed.append(user)
        cur = user.results[0]
    return ref, bias, absorbed, stored


def _qi32_bias(cx: Cx, v: Value | None) -> np.ndarray | None:
    """Real values of ``nn.dequantize`` of a qi32 constant (an integer bias initializer), else None."""
    ref = cx.weight_ref(v) if v is not None else None
    if ref is None or not ref.quantized or ref.qtype.kind != "qi32":
        return None
    return dequantize_array(ref.array, ref.qtype)


def _fully_connected(cx: Cx, a: Value, ref: WeightRef, bias: np.ndarray | None, fuse: bool = True,
                     name: str | None = None, stored_bias: Value | None = None) -> Value:
    """nn.fully_connected(a, W [N, K], b) with following Add/BatchNormalization folded in.

    ``stored_bias`` (the dequantized qi32 bias ``bias`` came from) stays the operand while nothing
    changes the bias, so ``qdq-fold`` can keep the model's integers."""
    n = ref.array.shape[0]
    absorbed = []
    if fuse:
        had_bias = bias is not None
        ref, bias, absorbed, fused_stored = _fuse_following(cx, cx.out(0), ref, bias, n)
        if absorbed:
            stored_bias = None if had_bias else fused_stored
    dt = a.type.element
    w = cx.weight(ref, name=name)
    if stored_bias is not None and stored_bias.type.shape == (n,):
        b = stored_bias
    elif bias is not None:
        b = cx.const(np.asarray(bias).astype(dt.numpy), dt, name=f"{name}_bias" if name else None)
    else:
        b = None
    y = cx.emit("nn.fully_connected", a, w, b)
    for op in absorbed:
        absorb(cx, op, y)
    return y


@converter("Gemm", 11, doc="nn.fully_connected with constant B (alpha/beta/transB folded into the "
                           "weights, transA as nn.transpose), else nn.matmul + mul/add")
def gemm(cx: Cx, a, b, c=None, *, alpha=1.0, beta=1.0, transA=0, transB=0):
    if not isinstance(a.type.element, FloatType):
        raise cx.fail(f"needs a float input, got {a.type.element}")
    if transA:
        a = cx.transpose(a, (1, 0))
    m = cx.shape(a)[0]
    ref = cx.weight_ref(b)
    cv = cx.value(c)
    stored = None
    if c is not None and cv is None and (cv := _qi32_bias(cx, c)) is not None:
        stored = c if beta == 1.0 else None
    n = cx.out_shape(0)[1]
    if ref is not None and (c is None or cv is not None):
        if not transB:
            ref = ref.transposed((1, 0))
        if alpha != 1.0:
            if ref.quantized:
                ref = None
            else:
                ref = WeightRef((ref.array.astype(np.float64) * alpha).astype(ref.array.dtype))
        if ref is not None:
            vec = _bias_vector(cv, n, m)
            if cv is None or vec is not None:
                bias = None if vec is None else vec.astype(np.float64) * beta
                return _fully_connected(cx, a, ref, bias, name=_hint(b), stored_bias=stored)
            y = _fully_connected(cx, a, ref, None, fuse=False, name=_hint(b))
            return cx.binary("add", y, cx.like(np.asarray(cv, np.float64) * beta, a))
    if transB:
        b = cx.transpose(b, (1, 0))
    y = cx.emit("nn.matmul", a, b)
    if alpha != 1.0:
        y = cx.binary("mul", y, cx.scalar(alpha, y))
    if c is not None and beta != 0.0:
        if beta != 1.0:
            c = cx.binary("mul", c, cx.scalar(beta, c))
        y = cx.binary("add", y, c)
    return y


@converter("MatMul", 11, doc="nn.fully_connected when B is a constant 2-D matrix (a following bias Add "
                             "is folded in), else nn.matmul")
def matmul(cx: Cx, a, b):
    if not isinstance(a.type.element, FloatType):
        raise cx.fail(f"needs a float input, got {a.type.element}")
    if cx.rank(b) == 2 and cx.rank(a) >= 1:
        ref = cx.weight_ref(b)
        if ref is not None:
            y = _fully_connected(cx, a, ref.transposed((1, 0)), None, name=_hint(b))
            return y
    return cx.emit("nn.matmul", a, b)
