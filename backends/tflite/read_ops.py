"""TFLite builtin -> nn conversion (the reader's op table).

``CONVERT`` maps a builtin code to ``fn(reader, op, ins, outs, opts)``; ``ins``
and ``outs`` are tensor indices (-1: absent optional input), ``opts`` the
unpacked ``*OptionsT`` (or None). Converters build ops with
``emit(...)``, which takes result element types (quantization) from the
TFLite tensors, shapes from ``nn``'s own shape inference, and reshapes when
the file's output shape differs only in layout of the same elements (e.g.
STRIDED_SLICE shrink_axis_mask, SQUEEZE).

``TABLE`` (builtin name -> nn op(s)) documents the mapping.
"""

from __future__ import annotations

import math

import numpy as np

from edgecc.backends.tflite.schema import S, builtin_name
from edgecc.backends.tflite.tables import nn_resize_attrs, same_pads
from edgecc.dialects import nn as N
from edgecc.ir.types import QuantizedType, TensorType

B = S.BuiltinOperator
ACT = {S.ActivationFunctionType.NONE: "none", S.ActivationFunctionType.RELU: "relu",
       S.ActivationFunctionType.RELU6: "relu6", S.ActivationFunctionType.RELU_N1_TO_1: "relu_n1_to_1"}
CONVERT: dict = {}
TABLE: dict[str, str] = {}


def converts(code: int, doc: str):
    def register(fn):
        CONVERT[code] = fn
        TABLE[builtin_name(code)] = doc
        return fn
    return register


def convert_operator(r, op, opcode) -> None:
    code = r.op_code
    if code == B.CUSTOM:
        cname = opcode.customCode.decode() if isinstance(opcode.customCode, bytes) else opcode.customCode
        raise r.error(f"custom operator '{cname}' is not supported")
    fn = CONVERT.get(code)
    if fn is None:
        raise r.error("has no nn equivalent in edgecc")
    ins = [int(i) for i in (op.inputs if op.inputs is not None else [])]
    outs = [int(i) for i in (op.outputs if op.outputs is not None else [])]
    try:
        fn(r, op, ins, outs, op.builtinOptions)
    except AttributeError as e:  # the converter read an option the file's options table lacks
        opts = op.builtinOptions
        got = "none" if opts is None else type(opts).__name__.removesuffix("T")
        raise r.error(f"builtin options missing or of the wrong type (got {got}: {e.name or e})") from None


# ------------------------------------------------------------------ building
def emit(r, cls, operands, out_idx, attrs=None, elem_of=None):
    """Build ``cls`` with results typed like the TFLite tensors ``out_idx`` (a list or an int).

    ``elem_of`` overrides result elements (used for ops that keep their input element).
    Returns the result values (after a reshape where the file's shape differs).
    """
    outs = out_idx if isinstance(out_idx, list) else [out_idx]
    elems = elem_of or [r.element(i) for i in outs]
    tfl = [r.ttype(i) for i in outs]
    loc = r.loc(outs[0])
    op = cls.build(*operands, result_types=[TensorType(t.shape, e) for t, e in zip(tfl, elems)],
                   loc=loc, result_names=[r.name(i) for i in outs], **(attrs or {}))
    r.b.insert(op)
    try:
        inferred = op.infer_shapes()
    except Exception as e:  # noqa: BLE001 - reported as a read error
        raise r.error(str(e)) from None
    values = []
    for res, shape, t, idx in zip(op.results, inferred, tfl, outs):
        if tuple(shape) != t.shape:
            if math.prod(shape) != t.num_elements:
                raise r.error(f"output '{r.name(idx)}' has shape {list(t.shape)}, nn infers {list(shape)}")
            res.type = TensorType(tuple(shape), res.type.element)
            res.name_hint = None
            res = r.b.create(N.ReshapeOp, res, shape=t.shape, loc=loc, result_names=[r.name(idx)]).result
        values.append(res)
    for v, t, idx in zip(values, tfl, outs):
        if v.type.element != t.element:
            v.name_hint = None
            v = r.b.create(N.RequantizeOp, v, result_types=[t], loc=loc, result_names=[r.name(idx)]).result
        r.bind(idx, v)
    return values


def emit_same(r, cls, operands, out_idx, attrs=None):
    """Data-movement ops: results keep the input element; a differing file type is a requantize."""
    outs = out_idx if isinstance(out_idx, list) else [out_idx]
    e = operands[0].type.element
    return emit(r, cls, operands, outs, attrs, elem_of=[e] * len(outs))


def activation(r, act: int, cls, operands, out, attrs, fused: bool = True):
    """Ops with a fused activation: nn's attribute when it has one, else an extra op."""
    name = ACT.get(act)
    if fused and name is not None:
        return emit(r, cls, operands, out, {**attrs, "activation": name})
    if name is None and act != S.ActivationFunctionType.TANH:
        raise r.error(f"fused activation {act} is not supported")
    op = cls.build(*operands, result_types=[TensorType(r.shape(out), r.element(out))], loc=r.loc(out),
                   **attrs)
    v = r.b.insert(op).result
    if act == S.ActivationFunctionType.TANH:
        post = N.TanhOp.build(v, result_types=[v.type], loc=r.loc(out), result_names=[r.name(out)])
    elif name == "relu":
        post = N.ReluOp.build(v, result_types=[v.type], loc=r.loc(out), result_names=[r.name(out)])
    elif name == "none":
        v.name_hint = r.name(out)
        r.bind(out, v)
        return [v]
    else:
        lo, hi = N.ACTIVATION_RANGES[name]
        post = N.ClampOp.build(v, result_types=[v.type], loc=r.loc(out), result_names=[r.name(out)],
                               min=lo, max=hi)
    w = r.b.insert(post).result
    r.bind(out, w)
    return [w]


def _window_pads(r, padding, in_hw, k_hw, strides, dil):
    for what, values in (("stride", strides), ("dilation", dil), ("window", k_hw)):
        if any(int(v) <= 0 for v in values):
            raise r.error(f"{what} {tuple(int(v) for v in values)} must be positive")
    if padding == S.Padding.VALID:
        return (0, 0, 0, 0)
    if padding == S.Padding.SAME:
        return same_pads(in_hw, k_hw, strides, dil)
    raise r.error(f"unknown padding {padding}")


# ------------------------------------------------------------------ weighted ops
def _weighted_operands(r, ins):
    x = r.value(ins[0])
    quant_in = x.type.is_quantized
    w = r.value(ins[1]) if quant_in else r.float_weight(ins[1])
    b = None
    if len(ins) > 2 and ins[2] >= 0:
        b = r.value(ins[2]) if quant_in else r.float_weight(ins[2])
    return x, w, b


@converts(B.CONV_2D, "nn.conv2d (SAME/VALID -> explicit pads; groups from the filter depth)")
def conv_2d(r, op, ins, outs, o):
    x, w, b = _weighted_operands(r, ins)
    kh, kw, wc = w.type.shape[1], w.type.shape[2], w.type.shape[3]
    strides, dil = (o.strideH, o.strideW), (o.dilationHFactor, o.dilationWFactor)
    pads = _window_pads(r, o.padding, x.type.shape[1:3], (kh, kw), strides, dil)
    groups = max(x.type.shape[3] // max(wc, 1), 1)
    activation(r, o.fusedActivationFunction, N.Conv2DOp, [x, w, b], outs[0],
               {"strides": strides, "pads": pads, "dilations": dil, "groups": groups})


@converts(B.DEPTHWISE_CONV_2D, "nn.depthwise_conv2d")
def depthwise_conv_2d(r, op, ins, outs, o):
    x, w, b = _weighted_operands(r, ins)
    kh, kw, cm = w.type.shape[1:4]
    strides, dil = (o.strideH, o.strideW), (o.dilationHFactor, o.dilationWFactor)
    pads = _window_pads(r, o.padding, x.type.shape[1:3], (kh, kw), strides, dil)
    activation(r, o.fusedActivationFunction, N.DepthwiseConv2DOp, [x, w, b], outs[0],
               {"strides": strides, "pads": pads, "dilations": dil,
                "depth_multiplier": max(cm // max(x.type.shape[3], 1), 1)})


@converts(B.FULLY_CONNECTED, "nn.fully_connected (input reshaped to 2-D unless keep_num_dims)")
def fully_connected(r, op, ins, outs, o):
    if o is not None and o.weightsFormat != S.FullyConnectedOptionsWeightsFormat.DEFAULT:
        raise r.error("shuffled FULLY_CONNECTED weights are not supported")
    x, w, b = _weighted_operands(r, ins)
    k = w.type.shape[1]
    keep = bool(o.keepNumDims) if o is not None else False
    if not keep and x.type.rank != 2:
        x = r.b.create(N.ReshapeOp, x, shape=(x.type.num_elements // k, k), loc=r.loc(outs[0])).result
    act = o.fusedActivationFunction if o is not None else 0
    activation(r, act, N.FullyConnectedOp, [x, w, b], outs[0], {})


@converts(B.BATCH_MATMUL, "nn.matmul (adj_x/adj_y as nn.transpose)")
def batch_matmul(r, op, ins, outs, o):
    a, bb = r.value(ins[0]), r.value(ins[1])
    for flag, i in ((getattr(o, "adjX", False), 0), (getattr(o, "adjY", False), 1)):
        if flag:
            v = a if i == 0 else bb
            perm = list(range(v.type.rank))
            perm[-1], perm[-2] = perm[-2], perm[-1]
            t = r.b.create(N.TransposeOp, v, perm=perm, loc=r.loc(outs[0])).result
            a, bb = (t, bb) if i == 0 else (a, t)
    emit(r, N.MatMulOp, [a, bb], outs[0])


# ------------------------------------------------------------------ elementwise
def _binary(code, cls, fused):
    def fn(r, op, ins, outs, o):
        x, y = r.value(ins[0]), r.value(ins[1])
        if fused:
            activation(r, o.fusedActivationFunction if o is not None else 0, cls, [x, y], outs[0], {})
        else:
            emit(r, cls, [x, y], outs[0])
    converts(code, cls.name)(fn)


for _c, _cls, _f in ((B.ADD, N.AddOp, True), (B.SUB, N.SubOp, True), (B.MUL, N.MulOp, True),
                     (B.DIV, N.DivOp, True), (B.MAXIMUM, N.MaximumOp, False),
                     (B.MINIMUM, N.MinimumOp, False), (B.POW, N.PowOp, False)):
    _binary(_c, _cls, _f)


def _unary(code, cls, doc=None, **fixed):
    def fn(r, op, ins, outs, o):
        attrs = {k: (v(o) if callable(v) else v) for k, v in fixed.items()}
        emit(r, cls, [r.value(ins[0])], outs[0], attrs)
    converts(code, doc or cls.name)(fn)


_unary(B.RELU, N.ReluOp)
_unary(B.RELU6, N.ClampOp, "nn.clamp [0, 6]", min=0.0, max=6.0)
_unary(B.RELU_N1_TO_1, N.ClampOp, "nn.clamp [-1, 1]", min=-1.0, max=1.0)
_unary(B.RELU_0_TO_1, N.ClampOp, "nn.clamp [0, 1]", min=0.0, max=1.0)
_unary(B.LOGISTIC, N.SigmoidOp)
_unary(B.TANH, N.TanhOp)
_unary(B.HARD_SWISH, N.HardSwishOp)
_unary(B.LEAKY_RELU, N.LeakyReluOp, alpha=lambda o: float(o.alpha))
_unary(B.EXP, N.ExpOp)
_unary(B.LOG, N.LogOp)
_unary(B.SQRT, N.SqrtOp)
_unary(B.RSQRT, N.RsqrtOp)
_unary(B.ABS, N.AbsOp)
_unary(B.NEG, N.NegOp)
_unary(B.SOFTMAX, N.SoftmaxOp, "nn.softmax (last axis)", axis=-1, beta=lambda o: float(o.beta))
_unary(B.LOG_SOFTMAX, N.LogSoftmaxOp, "nn.log_softmax (last axis)", axis=-1)


@converts(B.PRELU, "nn.prelu")
def prelu(r, op, ins, outs, o):
    emit(r, N.PReluOp, [r.value(ins[0]), r.value(ins[1])], outs[0])


@converts(B.CAST, "nn.cast")
def cast(r, op, ins, outs, o):
    x = r.value(ins[0])
    to = r.element(outs[0])
    if x.type.is_quantized or isinstance(to, QuantizedType):
        raise r.error("CAST between quantized tensors has no nn equivalent")
    emit(r, N.CastOp, [x], outs[0], {"to": to})


@converts(B.LOCAL_RESPONSE_NORMALIZATION, "nn.lrn (size = 2 * radius + 1)")
def lrn(r, op, ins, outs, o):
    size = 2 * int(o.radius) + 1
    emit(r, N.LRNOp, [r.value(ins[0])], outs[0],
         {"size": size, "alpha": float(o.alpha) * size, "beta": float(o.beta), "bias": float(o.bias)})


# ------------------------------------------------------------------ pools, reductions
def _pool(code, cls):
    def fn(r, op, ins, outs, o):
        x = r.value(ins[0])
        k, strides = (o.filterHeight, o.filterWidth), (o.strideH, o.strideW)
        pads = _window_pads(r, o.padding, x.type.shape[1:3], k, strides, (1, 1))
        activation(r, o.fusedActivationFunction, cls, [x], outs[0],
                   {"kernel": k, "strides": strides, "pads": pads})
    converts(code, cls.name + " (SAME/VALID -> explicit pads)")(fn)


_pool(B.AVERAGE_POOL_2D, N.AvgPool2DOp)
_pool(B.MAX_POOL_2D, N.MaxPool2DOp)


def _reduce(code, cls):
    def fn(r, op, ins, outs, o):
        x = r.value(ins[0])
        rank = x.type.rank
        axes = sorted({a % rank for a in r.ints(ins[1])}) if rank else []
        emit(r, cls, [x], outs[0], {"axes": axes, "keepdims": bool(o.keepDims) if o is not None else False})
    converts(code, cls.name)(fn)


_reduce(B.MEAN, N.MeanOp)
_reduce(B.SUM, N.ReduceSumOp)
_reduce(B.REDUCE_MAX, N.ReduceMaxOp)
_reduce(B.REDUCE_MIN, N.ReduceMinOp)


# ------------------------------------------------------------------ data movement
def _reshape(r, op, ins, outs, o):
    emit_same(r, N.ReshapeOp, [r.value(ins[0])], outs[0], {"shape": r.shape(outs[0])})


for _c in (B.RESHAPE, B.SQUEEZE, B.EXPAND_DIMS):
    converts(_c, "nn.reshape (to the output tensor's shape)")(_reshape)


@converts(B.TRANSPOSE, "nn.transpose")
def transpose(r, op, ins, outs, o):
    emit_same(r, N.TransposeOp, [r.value(ins[0])], outs[0], {"perm": r.ints(ins[1])})


@converts(B.CONCATENATION, "nn.concat (+ an activation op when fused)")
def concatenation(r, op, ins, outs, o):
    xs = [r.value(i) for i in ins]
    axis = int(o.axis) % max(xs[0].type.rank, 1)
    activation(r, o.fusedActivationFunction, N.ConcatOp, [xs], outs[0], {"axis": axis}, fused=False)


def _pads_from(r, idx, rank):
    p = np.asarray(r.array(idx)).reshape(rank, 2)
    return [int(v) for v in p[:, 0]] + [int(v) for v in p[:, 1]]


@converts(B.PAD, "nn.pad (constant 0)")
def pad(r, op, ins, outs, o):
    x = r.value(ins[0])
    emit_same(r, N.PadOp, [x], outs[0], {"pads": _pads_from(r, ins[1], x.type.rank)})


@converts(B.PADV2, "nn.pad (constant value, real-valued)")
def padv2(r, op, ins, outs, o):
    x = r.value(ins[0])
    value = 0.0
    if len(ins) > 2 and ins[2] >= 0:
        q = float(r.array(ins[2]).reshape(-1)[0])
        e = r.element(ins[2])
        value = e.scale * (q - e.zero_point) if isinstance(e, QuantizedType) else q
    emit_same(r, N.PadOp, [x], outs[0], {"pads": _pads_from(r, ins[1], x.type.rank), "value": float(value)})


@converts(B.MIRROR_PAD, "nn.pad mode reflect (SYMMETRIC unsupported)")
def mirror_pad(r, op, ins, outs, o):
    if o is not None and o.mode != S.MirrorPadMode.REFLECT:
        raise r.error("MIRROR_PAD mode SYMMETRIC has no nn equivalent")
    x = r.value(ins[0])
    emit_same(r, N.PadOp, [x], outs[0], {"pads": _pads_from(r, ins[1], x.type.rank), "mode": "reflect"})


def _norm_slice(shape, begin, end, strides, bmask, emask, smask):
    """TFLite strided-slice indices -> nn.slice's normalised begin/end/strides."""
    nb, ne = [], []
    for i, dim in enumerate(shape):
        s = strides[i]
        b, e = begin[i], end[i]
        if smask >> i & 1:
            b = b + dim if b < 0 else b
            nb.append(b)
            ne.append(b + 1)
            continue
        if s > 0:
            b = 0 if bmask >> i & 1 else (b + dim if b < 0 else b)
            e = dim if emask >> i & 1 else (e + dim if e < 0 else e)
            nb.append(min(max(b, 0), dim))
            ne.append(min(max(e, 0), dim))
        else:
            b = dim - 1 if bmask >> i & 1 else (b + dim if b < 0 else b)
            e = -1 if emask >> i & 1 else (e + dim if e < 0 else e)
            nb.append(min(max(b, 0), dim - 1))
            ne.append(min(max(e, -1), dim - 1))
    return nb, ne


@converts(B.STRIDED_SLICE, "nn.slice (+ nn.reshape for shrink_axis_mask)")
def strided_slice(r, op, ins, outs, o):
    x = r.value(ins[0])
    if o is not None and (o.ellipsisMask or o.newAxisMask or getattr(o, "offset", False)):
        raise r.error("STRIDED_SLICE with ellipsis/new-axis masks or offset is not supported")
    strides = r.ints(ins[3]) if len(ins) > 3 and ins[3] >= 0 else [1] * x.type.rank
    bm, em, sm = (int(o.beginMask), int(o.endMask), int(o.shrinkAxisMask)) if o is not None else (0, 0, 0)
    nb, ne = _norm_slice(x.type.shape, r.ints(ins[1]), r.ints(ins[2]), strides, bm, em, sm)
    emit_same(r, N.SliceOp, [x], outs[0], {"begin": nb, "end": ne, "strides": strides})


@converts(B.SLICE, "nn.slice")
def slice_(r, op, ins, outs, o):
    x = r.value(ins[0])
    begin, size = r.ints(ins[1]), r.ints(ins[2])
    end = [d if s < 0 else b + s for b, s, d in zip(begin, size, x.type.shape)]
    emit_same(r, N.SliceOp, [x], outs[0], {"begin": begin, "end": end, "strides": [1] * x.type.rank})


@converts(B.SPLIT, "nn.split (equal sizes)")
def split(r, op, ins, outs, o):
    x = r.value(ins[1])
    axis = r.ints(ins[0])[0] % x.type.rank
    n = len(outs)
    emit_same(r, N.SplitOp, [x], outs, {"axis": axis, "sizes": [x.type.shape[axis] // n] * n})


@converts(B.SPLIT_V, "nn.split")
def split_v(r, op, ins, outs, o):
    x = r.value(ins[0])
    axis = r.ints(ins[2])[0] % x.type.rank
    sizes = r.ints(ins[1])
    if -1 in sizes:
        sizes[sizes.index(-1)] = x.type.shape[axis] - (sum(sizes) + 1)
    emit_same(r, N.SplitOp, [x], outs, {"axis": axis, "sizes": sizes})


@converts(B.GATHER, "nn.gather (batch_dims 0)")
def gather(r, op, ins, outs, o):
    if o is not None and getattr(o, "batchDims", 0):
        raise r.error("GATHER with batch_dims has no nn equivalent")
    data = r.value(ins[0])
    axis = int(o.axis) if o is not None else 0
    emit_same(r, N.GatherOp, [data, r.value(ins[1])], outs[0], {"axis": axis % data.type.rank})


def _resize(code, mode):
    def fn(r, op, ins, outs, o):
        x = r.value(ins[0])
        size = r.shape(outs[0])[1:3]
        attrs = nn_resize_attrs(mode, bool(o.alignCorners), bool(o.halfPixelCenters))
        emit(r, N.ResizeOp, [x], outs[0], {"size": size, **attrs})
    converts(code, f"nn.resize mode {mode}")(fn)


_resize(B.RESIZE_BILINEAR, "bilinear")
_resize(B.RESIZE_NEAREST_NEIGHBOR, "nearest")


# ------------------------------------------------------------------ quantization
@converts(B.QUANTIZE, "nn.quantize (float input) / nn.requantize (integer input)")
def quantize(r, op, ins, outs, o):
    x = r.value(ins[0])
    cls = N.RequantizeOp if x.type.is_quantized else N.QuantizeOp
    emit(r, cls, [x], outs[0])


@converts(B.DEQUANTIZE, "nn.dequantize; a constant input becomes a float constant")
def dequantize(r, op, ins, outs, o):
    if r.is_const(ins[0]):
        e = r.element(ins[0])
        if isinstance(e, QuantizedType):
            q = r.array(ins[0]).astype(np.float32)
            scales, zps = np.asarray(e.scales, np.float32), np.asarray(e.zero_points, np.float32)
            if e.axis is not None:
                shape = [1] * q.ndim
                shape[e.axis] = -1
                scales, zps = scales.reshape(shape), zps.reshape(shape)
            arr = (q - zps) * scales
        else:
            arr = r.array(ins[0])
        out = r.ttype(outs[0])
        r.bind(outs[0], r.constant(outs[0], np.asarray(arr).astype(out.element.numpy), out.element))
        return
    x = r.value(ins[0])
    if x.type.is_quantized:
        emit(r, N.DequantizeOp, [x], outs[0])
    else:
        emit(r, N.CastOp, [x], outs[0], {"to": r.element(outs[0])})


from edgecc.backends.tflite import read_lstm as _read_lstm  # noqa: E402,F401  (registers the LSTM)
from edgecc.backends.tflite import read_state as _read_state  # noqa: E402,F401  (registers state ops)

__all__ = ["CONVERT", "TABLE", "convert_operator", "emit"]
