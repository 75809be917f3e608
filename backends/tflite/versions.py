"""TFLite operator versions, following ``GetBuiltinOperatorVersion``.

The rules of ``tensorflow/lite/tools/versioning/op_version.cc`` for the types
edgecc emits: the version is the first one whose kernel supports the op's
input/output types and options (e.g. CONV_2D float 1, int8 3, grouped 6;
FULLY_CONNECTED int8 4, keep_num_dims 5). int16x8 kernels (int16 activations,
int8 weights) get the version that introduced them (CONV_2D 4,
DEPTHWISE_CONV_2D 5, FULLY_CONNECTED 7), where op_version.cc's test of the
weight type would fall through to 1. TFLM ignores versions; LiteRT checks
them against its kernel registrations.
"""

from __future__ import annotations

from edgecc.backends.tflite.schema import S
from edgecc.ir.types import QuantizedType

B = S.BuiltinOperator


def kind(v) -> str:
    """'f32', 'qi8', 'i32' ... of a value."""
    return v.type.element.kind


def is8(v) -> bool:
    return kind(v) in ("qi8", "i8")


def is16(v) -> bool:
    return kind(v) in ("qi16", "i16")


def simple_version(code: int, x, out=None) -> int:
    """Versions of ops whose rule only looks at the first input's type (and rank)."""
    k16, k8, rank = is16(x), is8(x), x.type.rank
    if code in (B.SOFTMAX, B.MEAN, B.MIRROR_PAD, B.REDUCE_MAX, B.REDUCE_MIN, B.RELU6, B.RSQRT,
                B.LOGISTIC, B.TANH, B.RELU, B.MAX_POOL_2D, B.AVERAGE_POOL_2D):
        return 3 if k16 else 2 if k8 else 1
    if code in (B.MAXIMUM, B.MINIMUM):
        return 4 if k16 else 2 if k8 else 1
    if code in (B.SUM, B.LOG_SOFTMAX, B.SPLIT_V):
        return 2 if k8 else 1
    if code in (B.EXP, B.LOG):
        return 2 if (k8 or k16) else 1
    if code == B.LEAKY_RELU:
        return 2 if k16 else 1
    if code == B.CONCATENATION:
        return 3 if k16 else 2 if k8 else 1
    if code in (B.PAD, B.PADV2):
        return 4 if rank > 4 else 3 if k16 else 2 if k8 else 1
    if code == B.TRANSPOSE:
        return 6 if rank > 5 else 5 if k16 else 4 if rank > 4 else 3 if kind(x) == "i1" else 2 if k8 else 1
    if code == B.STRIDED_SLICE:
        return 4 if rank > 4 else 3 if kind(x) == "i1" else 2 if k8 else 1
    if code == B.SPLIT:
        return 4 if k16 else 3 if kind(x) == "i32" else 2 if k8 else 1
    if code == B.GATHER:
        return 4 if k16 else 3 if kind(x) == "i1" else 2 if k8 else 1
    if code == B.ABS:
        return 5 if kind(x) == "i32" else 3 if k16 else 2 if k8 else 1
    if code == B.BATCH_MATMUL:
        return 3 if k16 else 2 if k8 else 1
    if code == B.QUANTIZE:
        return 2 if out is not None and is16(out) else 1
    if code == B.DEQUANTIZE:
        e = x.type.element
        if kind(x) in ("qi16", "f16"):
            return 3
        if kind(x) == "qi8":
            return 5 if isinstance(e, QuantizedType) and e.per_axis else 2
        return 1
    if code == B.CAST:
        kinds = (kind(x), kind(out) if out is not None else "")
        return 5 if ("f16" in kinds or "f64" in kinds) else 3 if ("i8" in kinds or "qi8" in kinds) else 1
    return 1


def binary_version(code: int, op) -> int:
    a, b, out = op.operands[0], op.operands[1], op.results[0]
    bcast_big = a.type.shape != b.type.shape and max(a.type.rank, b.type.rank) > 4
    k = kind(a)
    if code == B.ADD:
        return 3 if k == "qi16" else 4 if k == "i64" else 2 if is8(a) else 1
    if code == B.SUB:
        return 5 if k == "qi16" else 4 if k == "i64" else 3 if bcast_big else 2 if is8(a) else 1
    if code == B.MUL:
        if k == "i16":
            return 7
        if k == "i64":
            return 5
        if k == "qi16":
            return 4
        ea, eb, eo = a.type.element, b.type.element, out.type.element
        if all(isinstance(e, QuantizedType) and not e.per_axis for e in (ea, eb, eo)):
            if ea.scale * eb.scale / eo.scale >= 1.0:
                return 3
        return 2 if is8(a) else 1
    if code == B.DIV:
        return 2 if bcast_big else 1
    if code in (B.MAXIMUM, B.MINIMUM):
        return 4 if is16(a) else 3 if bcast_big else 2 if is8(a) else 1
    return 1


def weighted_version(code: int, x, w, groups: int = 1, dilated: bool = False,
                     has_bias: bool = True, keep_dims: bool = False) -> int:
    kx, kw = kind(x), kind(w)
    if code == B.CONV_2D:
        if groups > 1:
            return 6
        return 4 if kx == "qi16" else 3 if kw == "qi8" else 7 if kw == "qi4" else 1
    if code == B.DEPTHWISE_CONV_2D:
        return 5 if kx == "qi16" else 3 if kw == "qi8" else 7 if kw == "qi4" else 2 if dilated else 1
    if code == B.FULLY_CONNECTED:
        if kx == "qi16":
            return 7
        if not has_bias:
            return 6
        if keep_dims:
            return 5
        return 4 if kw == "qi8" else 10 if kw == "qi4" else 1
    return 1


__all__ = ["binary_version", "is8", "is16", "kind", "simple_version", "weighted_version"]
