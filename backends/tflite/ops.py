"""nn -> TFLite builtin lowering (the writer's op table) and operator versions.

``LOWER`` maps an ``nn`` op name to ``fn(writer, op)`` that emits one or more
builtin operators through ``edgecc.backends.tflite.writer.Writer``. An op
missing from ``LOWER``, or an attribute combination TFLite cannot express
(e.g. ``nn.avg_pool2d`` pads that are neither SAME nor VALID), is an
``EdgeccError`` naming the op and its location.

Operator versions come from ``edgecc.backends.tflite.versions``.
"""

from __future__ import annotations

import math

import numpy as np

from edgecc.backends.tflite.schema import S
from edgecc.backends.tflite.tables import padding_for, resize_flags
from edgecc.backends.tflite.versions import binary_version, is8, is16, kind, simple_version, weighted_version
from edgecc.ir.diagnostics import EdgeccError
from edgecc.ir.types import QuantizedType, TensorType, i32

B = S.BuiltinOperator
ACT = {"none": S.ActivationFunctionType.NONE, "relu": S.ActivationFunctionType.RELU,
       "relu6": S.ActivationFunctionType.RELU6, "relu_n1_to_1": S.ActivationFunctionType.RELU_N1_TO_1}

#: nn op -> the builtin(s) it becomes (documentation and tests; LOWER is authoritative)
TABLE: dict[str, str] = {}
LOWER: dict = {}


def lowers(name: str, builtins: str):
    def register(fn):
        LOWER[name] = fn
        TABLE[name] = builtins
        return fn
    return register


def unsupported(op, why: str) -> EdgeccError:
    return EdgeccError(f"'{op.name}' {why} (tflite backend)", op.location)


def options(kind: str, **fields):
    """``(BuiltinOptions.<kind>, <kind>T(**fields))`` for ``OperatorT``."""
    obj = getattr(S, kind + "T")()
    for k, v in fields.items():
        if not hasattr(obj, k):
            raise AttributeError(f"{kind} has no field {k}")
        setattr(obj, k, v)
    return getattr(S.BuiltinOptions, kind), obj


# ------------------------------------------------------------------ variants
def check_variant(module, variant: str) -> None:
    """Reject a module whose element types do not fit the requested variant."""
    if variant in ("auto",):
        return
    acts = set()
    for op in module.ops:
        if op.name == "builtin.constant":
            continue
        for v in op.results:
            acts.add(kind(v))
    for a in module.func.arguments:
        acts.add(kind(a))
    quant = {k for k in acts if k.startswith("q")}
    want = {"float32": set(), "fp16": set(), "int8": {"qi8"}, "int16x8": {"qi16"}}[variant]
    if variant in ("float32", "fp16"):
        if quant:
            raise EdgeccError(f"tflite variant '{variant}' needs a float module, but it has "
                              f"{', '.join(sorted(quant))} values (emit with variant 'auto' or 'int8')")
        if "f16" in acts:
            raise EdgeccError(f"tflite variant '{variant}' needs f32 activations, the module has f16")
        return
    if not quant:
        raise EdgeccError(f"tflite variant '{variant}' needs a quantized module (run the quantize "
                          "pass first)")
    if quant - want:
        raise EdgeccError(f"tflite variant '{variant}' allows {', '.join(sorted(want))} activations, "
                          f"the module has {', '.join(sorted(quant))}")


# ------------------------------------------------------------------ helpers
def _res_name(w, op) -> str:
    return w.name_of(op.results[0])


def _window_input(w, op, x, khw, dil, fill, base: str | None = None):
    """(padding, input tensor): SAME/VALID when the pads allow, else an explicit PAD first
    (named after ``base``, the op's result name by default)."""
    n, h, wd, c = x.type.shape
    oh, ow = op.results[0].type.shape[1:3]
    strides, pads = op.attr("strides"), op.attr("pads")
    mode = padding_for((h, wd), khw, strides, dil, pads, (oh, ow))
    if mode is not None:
        return mode, w.t(x)
    if fill is None:
        raise unsupported(op, f"pads {list(pads)} are neither SAME nor VALID padding")
    t, lft, b, r = pads
    padded = TensorType((n, h + t + b, wd + lft + r, c), x.type.element)
    pname = w.reserve(f"{base or _res_name(w, op)}_padded")
    xi = w.t(x)
    paddings = w.aux(np.array([[0, 0], [t, b], [lft, r], [0, 0]], np.int32), f"{pname}_paddings")
    if fill == "zero":
        idx = w.temp(padded, pname)
        w.op(B.PAD, [xi, paddings], [idx], options("PadOptions"), simple_version(B.PAD, x))
    else:
        e = x.type.element
        low = np.array(e.qmin if isinstance(e, QuantizedType) else -np.inf, e.numpy)
        value = w.aux(low, f"{pname}_value", element=e)
        idx = w.temp(padded, pname)
        w.op(B.PADV2, [xi, paddings, value], [idx], options("PadV2Options"),
             simple_version(B.PADV2, x))
    return S.Padding.VALID, idx


class _Typed:
    """A stand-in for an IR value (only ``.type``) for tensors a composite lowering creates."""

    def __init__(self, ttype: TensorType) -> None:
        self.type = ttype


def same_params(a, b) -> bool:
    """Whether two per-tensor quantized elements have the same (float32) scale and zero point,
    i.e. TFLite sees the same quantization (the integer interpreter's ``QParams.same``)."""
    if not (isinstance(a, QuantizedType) and isinstance(b, QuantizedType)):
        return a == b
    if a.per_axis or b.per_axis:
        return a == b
    return (np.float32(a.scale) == np.float32(b.scale) and int(a.zero_point) == int(b.zero_point)
            and a.storage == b.storage)


def needs_requantize(src, dst) -> bool:
    """A QUANTIZE is needed to bring a value of element ``src`` to element ``dst``."""
    return isinstance(src, QuantizedType) and isinstance(dst, QuantizedType) and not same_params(src, dst)


def _requantize(w, src: int, ttype: TensorType, elem, name: str, out=None) -> int:
    """Emit QUANTIZE (integer -> integer, TFLite's requantize) of tensor ``src`` (type ``ttype``)
    to element ``elem``; the result is the tensor of IR value ``out`` or a new intermediate ``name``."""
    dst_type = ttype.with_element(elem)
    dst = w.out(out) if out is not None else w.temp(dst_type, name)
    w.op(B.QUANTIZE, [src], [dst], None, simple_version(B.QUANTIZE, _Typed(ttype), _Typed(dst_type)))
    return dst


def _requantized_inputs(w, op, elem) -> list[int]:
    """Tensors of ``op``'s operands, each brought to element ``elem`` by a QUANTIZE first when its
    parameters differ (the integer semantics of concat / maximum / minimum, see
    docs/quantization-semantics.md). The QUANTIZE ops come first, then the other operands are
    materialised, as the read-back graph (``nn.requantize`` ops before the op) would do."""
    name = _res_name(w, op)
    moved: dict[int, int] = {}  # id(value) -> its requantized tensor (an operand repeated: one op)
    for i, v in enumerate(op.operands):
        if needs_requantize(v.type.element, elem) and id(v) not in moved:
            moved[id(v)] = _requantize(w, w.t(v), v.type, elem, w.reserve(f"{name}_in{i}_q"))
    return [moved[id(v)] if id(v) in moved else w.t(v) for v in op.operands]


class _Result:
    """The tensor an op with TFLite's equal-parameter restriction writes (pools, reduce_max/min,
    resize). When the IR result's parameters differ from the input's, the op writes an
    intermediate tensor ``<result>_raw`` in the input's parameters and ``finish`` emits the
    QUANTIZE to the result, the integer semantics of docs/quantization-semantics.md.

    ``name`` is the name helper tensors are based on (the raw tensor's when there is one, as
    the read-back graph would name them); call ``tensor()`` after creating them."""

    def __init__(self, w, op, elem_in) -> None:
        self.w, self.out = w, op.results[0]
        self.name = _res_name(w, op)
        self.raw_type = None
        if needs_requantize(elem_in, self.out.type.element):
            self.name = w.reserve(f"{self.name}_raw")
            self.raw_type = self.out.type.with_element(elem_in)
        self.idx = None

    def tensor(self) -> int:
        if self.raw_type is None:
            self.idx = self.w.out(self.out)
        else:
            self.idx = self.w.temp(self.raw_type, self.name)
        return self.idx

    def finish(self) -> None:
        if self.raw_type is not None:
            _requantize(self.w, self.idx, self.raw_type, self.out.type.element, "", out=self.out)


def _bias(w, op, x, wt, b, cout: int, base: str | None = None) -> int:
    xe = x.type.element
    name = f"{base or _res_name(w, op)}_bias"
    if isinstance(xe, QuantizedType):
        we = wt.type.element
        scales = [float(np.float32(xe.scale) * np.float32(s)) for s in we.scales]
        q = S.QuantizationParametersT()
        q.scale, q.zeroPoint, q.quantizedDimension = scales, [0] * len(scales), 0
        if b is None:
            dtype = np.int32 if xe.kind == "qi8" else np.int64
            return w.aux(np.zeros(cout, dtype), name, quant=q)
        return w.t(b, quant_override=(scales, 0))
    if b is None:
        return w.aux(np.zeros(cout, xe.numpy), name)
    return w.t(b)


# ------------------------------------------------------------------ weighted ops
@lowers("nn.conv2d", "CONV_2D (PAD first when pads are not SAME/VALID)")
def conv2d(w, op):
    x, wt, out = op.input, op.weight, op.output
    cout, kh, kw, _ = wt.type.shape
    dil = op.attr("dilations")
    pad, xi = _window_input(w, op, x, (kh, kw), dil, "zero")
    opts = options("Conv2DOptions", padding=pad, strideH=op.attr("strides")[0],
                   strideW=op.attr("strides")[1], dilationHFactor=dil[0], dilationWFactor=dil[1],
                   fusedActivationFunction=ACT[op.attr("activation")])
    ins = [xi, w.t(wt), _bias(w, op, x, wt, op.bias, cout)]
    w.op(B.CONV_2D, ins, [w.out(out)], opts, weighted_version(B.CONV_2D, x, wt, op.attr("groups")))


@lowers("nn.depthwise_conv2d", "DEPTHWISE_CONV_2D (PAD first when pads are not SAME/VALID)")
def depthwise_conv2d(w, op):
    x, wt, out = op.input, op.weight, op.output
    _, kh, kw, cm = wt.type.shape
    dil = op.attr("dilations")
    pad, xi = _window_input(w, op, x, (kh, kw), dil, "zero")
    opts = options("DepthwiseConv2DOptions", padding=pad, strideH=op.attr("strides")[0],
                   strideW=op.attr("strides")[1], dilationHFactor=dil[0], dilationWFactor=dil[1],
                   depthMultiplier=op.attr("depth_multiplier"),
                   fusedActivationFunction=ACT[op.attr("activation")])
    ins = [xi, w.t(wt), _bias(w, op, x, wt, op.bias, cm)]
    w.op(B.DEPTHWISE_CONV_2D, ins, [w.out(out)], opts,
         weighted_version(B.DEPTHWISE_CONV_2D, x, wt, dilated=tuple(dil) != (1, 1)))


def int4_per_channel(wt) -> bool:
    """int4 weights with several scales: TFLM's FULLY_CONNECTED refuses them (fully_connected_common.cc
    accepts per-channel filters for int8 and int16 inputs only when the filter is not INT4)."""
    e = wt.type.element
    return isinstance(e, QuantizedType) and e.kind == "qi4" and len(e.scales) > 1


def _fc_as_conv(w, op):
    """Per-channel int4 FULLY_CONNECTED as RESHAPE [rows, 1, 1, K] -> CONV_2D 1x1 (the same int4
    weights as [N, 1, 1, K], per-channel on axis 0) -> RESHAPE to the result.

    TFLM runs per-channel int4 CONV_2D; its arithmetic is per-channel FC's (int32 accumulation of
    ``w * (x - zp_x)`` plus bias, the multipliers ``s_in * s_w[c] / s_out`` in double, the fused
    activation's clamp), so the result is the oracle's bit for bit. Tensors are created in the order
    the read-back graph (reshape, conv2d, reshape) would create them."""
    from edgecc.backends.tflite.writer import constant_data

    x, wt, out = op.input, op.weight, op.output
    n, k = wt.type.shape
    rows = int(np.prod(x.type.shape[:-1], dtype=np.int64))
    name = _res_name(w, op)
    in_name, conv_name = w.reserve(f"{name}_rows"), w.reserve(f"{name}_conv")
    shape_in = w.aux(np.array([rows, 1, 1, k], np.int32), f"{in_name}_shape")
    xi = w.t(x)
    t_in = w.temp(TensorType((rows, 1, 1, k), x.type.element), in_name)
    w.op(B.RESHAPE, [xi, shape_in], [t_in], None, 1)
    key = (id(wt), ("conv1x1",))
    wi = w.value_tensors.get(key)
    if wi is None:
        data = constant_data(wt)
        if data is None:
            raise unsupported(op, "with int4 weights needs constant weights")
        wtype = TensorType((n, 1, 1, k), wt.type.element)
        wi = w.value_tensors[key] = w._new_tensor(wtype, w.name_of(wt), data.reshape(n, 1, 1, k),
                                                  reserved=True)
    bi = _bias(w, op, x, wt, op.bias, n, conv_name)
    t_out = w.temp(TensorType((rows, 1, 1, n), out.type.element), conv_name)
    opts = options("Conv2DOptions", padding=S.Padding.VALID, strideH=1, strideW=1, dilationHFactor=1,
                   dilationWFactor=1, fusedActivationFunction=ACT[op.attr("activation")])
    w.op(B.CONV_2D, [t_in, wi, bi], [t_out], opts, weighted_version(B.CONV_2D, x, wt))
    shape_out = w.aux(np.array(out.type.shape, np.int32), f"{name}_shape")
    w.op(B.RESHAPE, [t_out, shape_out], [w.out(out)], None, 1)


@lowers("nn.fully_connected", "FULLY_CONNECTED (keep_num_dims unless the input is 2-D); per-channel "
                              "int4 weights: RESHAPE, CONV_2D 1x1, RESHAPE")
def fully_connected(w, op):
    x, wt, out = op.input, op.weight, op.output
    if int4_per_channel(wt):
        _fc_as_conv(w, op)
        return
    keep = x.type.rank != 2
    opts = options("FullyConnectedOptions", fusedActivationFunction=ACT[op.attr("activation")],
                   weightsFormat=S.FullyConnectedOptionsWeightsFormat.DEFAULT, keepNumDims=keep)
    ins = [w.t(x), w.t(wt), _bias(w, op, x, wt, op.bias, wt.type.shape[0])]
    w.op(B.FULLY_CONNECTED, ins, [w.out(out)], opts,
         weighted_version(B.FULLY_CONNECTED, x, wt, keep_dims=keep))


@lowers("nn.matmul", "BATCH_MATMUL (rank >= 2 operands)")
def matmul(w, op):
    if op.a.type.rank < 2 or op.b.type.rank < 2:
        raise unsupported(op, "with a 1-D operand has no TFLite equivalent (reshape it to 2-D)")
    w.op(B.BATCH_MATMUL, [w.t(op.a), w.t(op.b)], [w.out(op.output)],
         options("BatchMatMulOptions", adjX=False, adjY=False), simple_version(B.BATCH_MATMUL, op.a))


# ------------------------------------------------------------------ elementwise
def _binary(name, code, opt_kind, fused):
    def lower(w, op):
        fields = {"fusedActivationFunction": ACT[op.attr("activation")]} if fused else {}
        if code in (B.ADD, B.SUB):
            fields["potScaleInt16"] = kind(op.lhs) != "qi16"
        opts = options(opt_kind, **fields) if opt_kind else None
        if code in (B.MAXIMUM, B.MINIMUM):  # raw comparison: inputs in the output's parameters
            ins = _requantized_inputs(w, op, op.output.type.element)
        else:
            ins = [w.t(op.lhs), w.t(op.rhs)]
        w.op(code, ins, [w.out(op.output)], opts, binary_version(code, op))
    lowers(name, S_NAMES[code] + (" (QUANTIZE first for inputs with other parameters)"
                                  if code in (B.MAXIMUM, B.MINIMUM) else ""))(lower)


def _unary(name, code, opt_kind=None, **fields):
    def lower(w, op):
        extra = {k: (op.attr(v) if isinstance(v, str) else v) for k, v in fields.items()}
        opts = options(opt_kind, **extra) if opt_kind else None
        w.op(code, [w.t(op.input)], [w.out(op.output)], opts, simple_version(code, op.input, op.output))
    lowers(name, S_NAMES[code])(lower)


S_NAMES = {v: k for k, v in vars(B).items() if not k.startswith("_")}
_binary("nn.add", B.ADD, "AddOptions", True)
_binary("nn.sub", B.SUB, "SubOptions", True)
_binary("nn.mul", B.MUL, "MulOptions", True)
_binary("nn.div", B.DIV, "DivOptions", True)
_binary("nn.maximum", B.MAXIMUM, "MaximumMinimumOptions", False)
_binary("nn.minimum", B.MINIMUM, "MaximumMinimumOptions", False)
_binary("nn.pow", B.POW, "PowOptions", False)
_unary("nn.relu", B.RELU)
_unary("nn.sigmoid", B.LOGISTIC)
_unary("nn.tanh", B.TANH)
_unary("nn.hard_swish", B.HARD_SWISH, "HardSwishOptions")
_unary("nn.leaky_relu", B.LEAKY_RELU, "LeakyReluOptions", alpha="alpha")
_unary("nn.exp", B.EXP, "ExpOptions")
_unary("nn.log", B.LOG)
_unary("nn.sqrt", B.SQRT)
_unary("nn.rsqrt", B.RSQRT)
_unary("nn.abs", B.ABS, "AbsOptions")
_unary("nn.neg", B.NEG, "NegOptions")
_unary("nn.dequantize", B.DEQUANTIZE)
_lower_dequantize = LOWER["nn.dequantize"]


def _dequantize(w, op):
    from edgecc.backends.tflite.writer import constant_data

    if constant_data(op.output) is None:
        _lower_dequantize(w, op)  # a constant input is folded into a float tensor on first use


LOWER["nn.dequantize"] = _dequantize
TABLE["nn.dequantize"] = "DEQUANTIZE (of a constant: folded into a float constant)"
_unary("nn.quantize", B.QUANTIZE)
TABLE["nn.requantize"] = "QUANTIZE"
LOWER["nn.requantize"] = LOWER["nn.quantize"]


@lowers("nn.prelu", "PRELU")
def prelu(w, op):
    w.op(B.PRELU, [w.t(op.input), w.t(op.slope)], [w.out(op.output)], None, 1)


@lowers("nn.cast", "CAST")
def cast(w, op):
    from edgecc.backends.tflite.schema import tensor_type_code

    opts = options("CastOptions", inDataType=tensor_type_code(op.input.type.element),
                   outDataType=tensor_type_code(op.output.type.element))
    w.op(B.CAST, [w.t(op.input)], [w.out(op.output)], opts, simple_version(B.CAST, op.input, op.output))


CLAMPS = {(0.0, math.inf): B.RELU, (0.0, 6.0): B.RELU6}


def _quantized_bound(v: float, e) -> int | None:
    """A clamp bound on parameters ``e``: ``zero_point + round(v / scale)`` in float32 with ties
    away from zero (``quantize_value``, TFLM ReluQuantized's ``roundf``), clamped to the storage
    range; None for an infinite bound."""
    from edgecc.quant.math import quantize_value

    if math.isinf(v):
        return None
    return min(max(quantize_value(v, e.scale, e.zero_point), e.qmin), e.qmax)


def _maxmin_version(x) -> int:
    """MAXIMUM/MINIMUM version with a scalar constant operand (``binary_version``'s rule)."""
    return 4 if is16(x) else 3 if x.type.rank > 4 else 2 if is8(x) else 1


@lowers("nn.clamp", "float: RELU [0, inf) / RELU6 [0, 6], else MAXIMUM + MINIMUM with constant bounds; "
                    "quantized: RELU for [0, inf) and [0, hi] (then MINIMUM), RELU6 for [0, 6] with equal "
                    "parameters, else (QUANTIZE +) MAXIMUM / MINIMUM with quantized bounds")
def clamp(w, op):
    """TFLM has no RELU_N1_TO_1 / RELU_0_TO_1 operators, and RELU6 ignores the output parameters.

    The integer semantics (``ReluQuantized`` for any bounds) are ``clamp(zp_out + MBQM(x - zp_in,
    s_in / s_out), q(lo), q(hi))``. RELU computes exactly that with the lower bound 0 for any
    parameters; a QUANTIZE computes the rescale alone; MAXIMUM / MINIMUM with the bounds quantized
    on the output parameters then apply the rest. Equal parameters need no rescale.
    """
    x, out = op.input, op.output
    lo, hi = float(op.attr("min")), float(op.attr("max"))
    name = _res_name(w, op)
    steps = []
    if not x.type.is_quantized:
        code = CLAMPS.get((lo, hi))
        if code is not None:
            w.op(code, [w.t(x)], [w.out(out)], None, simple_version(code, x))
            return
        cur = w.t(x)
        if lo != -math.inf:
            steps.append((B.MAXIMUM, lo, "lo"))
        if hi != math.inf:
            steps.append((B.MINIMUM, hi, "hi"))
    else:
        ei, eo = x.type.element, out.type.element
        same = same_params(ei, eo)
        if (lo, hi) == (0.0, math.inf) or ((lo, hi) == (0.0, 6.0) and same):
            code = B.RELU if hi == math.inf else B.RELU6
            w.op(code, [w.t(x)], [w.out(out)], None, simple_version(code, x))
            return
        qlo, qhi = _quantized_bound(lo, eo), _quantized_bound(hi, eo)
        first = B.RELU if lo == 0.0 else None if same else B.QUANTIZE
        if first != B.RELU and qlo is not None and qlo > eo.qmin:
            steps.append((B.MAXIMUM, qlo, "lo"))
        if qhi is not None and qhi < eo.qmax:
            steps.append((B.MINIMUM, qhi, "hi"))
        cur = w.t(x)
        if first is not None:
            tag = "relu" if first == B.RELU else "q"
            last = not steps
            dst = w.out(out) if last else w.temp(out.type, w.reserve(f"{name}_{tag}"))
            if first == B.RELU:
                w.op(B.RELU, [cur], [dst], None, simple_version(B.RELU, x))
            else:
                w.op(B.QUANTIZE, [cur], [dst], None, simple_version(B.QUANTIZE, x, out))
            if last:
                return
            cur = dst
    if not steps:  # the clamp does not bind (and nothing to rescale): identity
        w.bind(out, cur)
        return
    e = out.type.element
    for k, (code, bound, tag) in enumerate(steps):
        last = k == len(steps) - 1
        dst_name = name if last else w.reserve(f"{name}_{tag}_out")
        c = w.aux(np.array(bound, e.numpy), f"{dst_name}_{tag}", element=e)
        dst = w.out(out) if last else w.temp(out.type, dst_name)
        w.op(code, [cur, c], [dst], options("MaximumMinimumOptions"), _maxmin_version(x))
        cur = dst


def _last_axis(w, op, code, opts):
    """Emit ``code`` over the last axis; another axis is moved there and back with TRANSPOSE."""
    x, out, axis = op.input, op.output, op.norm_axis
    r, name = x.type.rank, _res_name(w, op)
    ver = simple_version(code, x)
    if axis == r - 1:
        w.op(code, [w.t(x)], [w.out(out)], opts, ver)
        return
    perm = [d for d in range(r) if d != axis] + [axis]
    inv = [perm.index(d) for d in range(r)]
    moved = TensorType(tuple(x.type.shape[p] for p in perm), x.type.element)
    xi, in_name, last_name = w.t(x), w.reserve(f"{name}_in"), w.reserve(f"{name}_last")
    p_perm = w.aux(np.array(perm, np.int32), f"{in_name}_perm")
    t_in = w.temp(moved, in_name)
    w.op(B.TRANSPOSE, [xi, p_perm], [t_in], options("TransposeOptions"), simple_version(B.TRANSPOSE, x))
    t_out = w.temp(moved.with_element(out.type.element), last_name)
    w.op(code, [t_in], [t_out], opts, ver)
    p_inv = w.aux(np.array(inv, np.int32), f"{name}_perm")
    w.op(B.TRANSPOSE, [t_out, p_inv], [w.out(out)], options("TransposeOptions"),
         simple_version(B.TRANSPOSE, out))


@lowers("nn.softmax", "SOFTMAX (TRANSPOSE around it for another axis)")
def softmax(w, op):
    _last_axis(w, op, B.SOFTMAX, options("SoftmaxOptions", beta=op.attr("beta")))


@lowers("nn.log_softmax", "LOG_SOFTMAX (TRANSPOSE around it for another axis)")
def log_softmax(w, op):
    _last_axis(w, op, B.LOG_SOFTMAX, options("LogSoftmaxOptions"))


@lowers("nn.lrn", "LOCAL_RESPONSE_NORMALIZATION (odd size)")
def lrn(w, op):
    size = op.attr("size")
    if size % 2 == 0:
        raise unsupported(op, f"with an even size ({size}) has no TFLite equivalent")
    opts = options("LocalResponseNormalizationOptions", radius=(size - 1) // 2, bias=op.attr("bias"),
                   alpha=op.attr("alpha") / size, beta=op.attr("beta"))
    w.op(B.LOCAL_RESPONSE_NORMALIZATION, [w.t(op.input)], [w.out(op.output)], opts, 1)


# ------------------------------------------------------------------ pools, reductions
def _pool(name, code, fill):
    def lower(w, op):
        x = op.input
        k = op.attr("kernel")
        res = _Result(w, op, x.type.element)
        pad, xi = _window_input(w, op, x, k, (1, 1), fill, res.name)
        opts = options("Pool2DOptions", padding=pad, strideH=op.attr("strides")[0],
                       strideW=op.attr("strides")[1], filterHeight=k[0], filterWidth=k[1],
                       fusedActivationFunction=ACT[op.attr("activation")])
        w.op(code, [xi], [res.tensor()], opts, simple_version(code, x))
        res.finish()  # TFLite pools need equal parameters: the result is requantized after
    lowers(name, S_NAMES[code] + (" (PADV2 first for other pads)" if fill else " (SAME/VALID pads)"))(lower)


_pool("nn.avg_pool2d", B.AVERAGE_POOL_2D, None)
_pool("nn.max_pool2d", B.MAX_POOL_2D, "lowest")


def _reduce(name, code):
    def lower(w, op):
        # REDUCE_MAX/MIN need equal parameters (MEAN and SUM rescale themselves)
        same = code in (B.REDUCE_MAX, B.REDUCE_MIN)
        res = _Result(w, op, op.input.type.element if same else op.output.type.element)
        axes = w.aux(np.array(op.norm_axes, np.int32), f"{res.name}_axes")
        w.op(code, [w.t(op.input), axes], [res.tensor()],
             options("ReducerOptions", keepDims=op.attr("keepdims")), simple_version(code, op.input))
        res.finish()
    lowers(name, S_NAMES[code] + (" (QUANTIZE after it when the result's parameters differ)"
                                  if code in (B.REDUCE_MAX, B.REDUCE_MIN) else ""))(lower)


_reduce("nn.mean", B.MEAN)
_reduce("nn.reduce_sum", B.SUM)
_reduce("nn.reduce_max", B.REDUCE_MAX)
_reduce("nn.reduce_min", B.REDUCE_MIN)


# ------------------------------------------------------------------ data movement
@lowers("nn.reshape", "RESHAPE")
def reshape(w, op):
    shape = w.aux(np.array(op.attr("shape"), np.int32), f"{_res_name(w, op)}_shape")
    w.op(B.RESHAPE, [w.t(op.input), shape], [w.out(op.output)], None, 1)


@lowers("nn.transpose", "TRANSPOSE")
def transpose(w, op):
    perm = w.aux(np.array(op.attr("perm"), np.int32), f"{_res_name(w, op)}_perm")
    w.op(B.TRANSPOSE, [w.t(op.input), perm], [w.out(op.output)], options("TransposeOptions"),
         simple_version(B.TRANSPOSE, op.input))


@lowers("nn.concat", "CONCATENATION (QUANTIZE first for inputs with other parameters)")
def concat(w, op):
    ins = _requantized_inputs(w, op, op.output.type.element)
    opts = options("ConcatenationOptions", axis=op.norm_axis,
                   fusedActivationFunction=S.ActivationFunctionType.NONE)
    w.op(B.CONCATENATION, ins, [w.out(op.output)], opts, simple_version(B.CONCATENATION, op.operands[0]))


@lowers("nn.split", "SPLIT (equal sizes) / SPLIT_V")
def split(w, op):
    sizes, x, name = op.attr("sizes"), op.input, _res_name(w, op)
    axis = w.aux(np.array(op.norm_axis, np.int32), f"{name}_axis")
    outs = [w.out(r) for r in op.results]
    if len(set(sizes)) == 1:
        w.op(B.SPLIT, [axis, w.t(x)], outs, options("SplitOptions", numSplits=len(sizes)),
             simple_version(B.SPLIT, x))
    else:
        sz = w.aux(np.array(sizes, np.int32), f"{name}_sizes")
        w.op(B.SPLIT_V, [w.t(x), sz, axis], outs, options("SplitVOptions", numSplits=len(sizes)),
             simple_version(B.SPLIT_V, x))


def pad_value(value: float, e) -> np.ndarray:
    """PADV2's constant: a real pad value quantized on the *output* parameters as TFLite
    quantizes constants (``quantize_value``: float32 division, ties away from zero), clamped."""
    if not isinstance(e, QuantizedType):
        return np.array(value, e.numpy)
    from edgecc.quant.math import quantize_value

    q = quantize_value(value, e.scale, e.zero_point)
    return np.array(min(max(q, e.qmin), e.qmax), e.numpy)


@lowers("nn.pad", "PAD / PADV2 (constant), MIRROR_PAD (reflect)")
def pad(w, op):
    x, r, name = op.input, op.input.type.rank, _res_name(w, op)
    e = op.output.type.element  # nn.pad keeps the element type (the verifier checks it)
    p = op.attr("pads")
    paddings = w.aux(np.array([[p[i], p[r + i]] for i in range(r)], np.int32).reshape(r, 2),
                     f"{name}_paddings")
    mode, value = op.attr("mode"), op.attr("value")
    if mode == "edge":
        raise unsupported(op, "with mode 'edge' has no TFLite equivalent")
    xi = w.t(x)
    if mode == "reflect":
        w.op(B.MIRROR_PAD, [xi, paddings], [w.out(op.output)],
             options("MirrorPadOptions", mode=S.MirrorPadMode.REFLECT), simple_version(B.MIRROR_PAD, x))
    elif value == 0.0:
        w.op(B.PAD, [xi, paddings], [w.out(op.output)], options("PadOptions"),
             simple_version(B.PAD, x))
    else:
        const = w.aux(pad_value(value, e), f"{name}_value", element=e)
        w.op(B.PADV2, [xi, paddings, const], [w.out(op.output)], options("PadV2Options"),
             simple_version(B.PADV2, x))


@lowers("nn.slice", "STRIDED_SLICE")
def slice_(w, op):
    r, name = op.input.type.rank, _res_name(w, op)
    begin, end, steps = list(op.attr("begin")), list(op.attr("end")), list(op.steps)
    end_mask = 0
    for i in range(r):
        if steps[i] < 0 and end[i] < 0:
            end_mask |= 1 << i
            end[i] = 0
    ins = [w.t(op.input), w.aux(np.array(begin, np.int32), f"{name}_begin"),
           w.aux(np.array(end, np.int32), f"{name}_end"), w.aux(np.array(steps, np.int32), f"{name}_strides")]
    opts = options("StridedSliceOptions", beginMask=0, endMask=end_mask, ellipsisMask=0,
                   newAxisMask=0, shrinkAxisMask=0, offset=False)
    w.op(B.STRIDED_SLICE, ins, [w.out(op.output)], opts, simple_version(B.STRIDED_SLICE, op.input))


@lowers("nn.gather", "GATHER (constant indices normalised to int32)")
def gather(w, op):
    data, idx = op.data, op.indices
    src = idx.defining_op()
    axis = op.norm_axis
    if src is not None and src.name == "builtin.constant":
        arr = src.attr("value").array.astype(np.int64)
        arr = np.where(arr < 0, arr + data.type.shape[axis], arr).astype(np.int32)
        ii = w.t(idx) if idx.type.element == i32 and not (src.attr("value").array < 0).any() else \
            w.aux(arr, f"{_res_name(w, op)}_indices")
    else:
        ii = w.t(idx)
    w.op(B.GATHER, [w.t(data), ii], [w.out(op.output)], options("GatherOptions", axis=axis, batchDims=0),
         simple_version(B.GATHER, data))


@lowers("nn.resize", "RESIZE_BILINEAR / RESIZE_NEAREST_NEIGHBOR (when the index map matches; QUANTIZE "
                    "after it when the result's parameters differ)")
def resize(w, op):
    x = op.input
    flags = resize_flags(op)
    if flags is None:
        raise unsupported(op, f"mode '{op.attr('mode')}' with coordinate '{op.attr('coordinate')}' and "
                          f"nearest_mode '{op.attr('nearest_mode')}' has no TFLite equivalent for "
                          "these sizes")
    align, half = flags
    res = _Result(w, op, x.type.element)  # resizes need equal parameters: QUANTIZE after
    size = w.aux(np.array(op.attr("size"), np.int32), f"{res.name}_size")
    if op.attr("mode") == "bilinear":
        code, opts = B.RESIZE_BILINEAR, options("ResizeBilinearOptions", alignCorners=align,
                                                halfPixelCenters=half)
        ver = 4 if is16(x) else 3 if half else 2 if is8(x) else 1
    else:
        code, opts = B.RESIZE_NEAREST_NEIGHBOR, options("ResizeNearestNeighborOptions",
                                                        alignCorners=align, halfPixelCenters=half)
        ver = 4 if is16(x) else 3 if (half or align) else 2 if is8(x) else 1
    w.op(code, [w.t(x), size], [res.tensor()], opts, ver)
    res.finish()


from edgecc.backends.tflite import state as _state  # noqa: E402,F401  (registers state.read/write)

__all__ = ["LOWER", "TABLE", "check_variant", "options", "unsupported", "simple_version"]

from edgecc.backends.tflite import ops_hard  # noqa: E402,F401  (registers nn.hard_sigmoid)
from edgecc.backends.tflite import write_lstm  # noqa: E402,F401  (registers nn.lstm)
