"""Lowering of quantized ``nn`` ops to integer ``c`` ops.

Every constant is computed here with ``edgecc.quant.math`` (and, for tables,
by running the integer reference kernels of ``edgecc.interp.quantized`` on all
256 int8 values), so the generated C is bit-exact with the integer reference
interpreter. For ``kernels == "cmsis-nn"`` (Cortex-M targets) the ops CMSIS-NN
implements with TFLM's semantics become CMSIS-NN calls
(``edgecc.backends.c.lower_cmsis``); everything else uses edgecc's portable
integer kernels. TFLite rules that need equal input and output parameters
(pools, resize, pad, concat, max/min) get an explicit requantization (a table)
where the IR gives them different ones, as a TFLite converter inserts QUANTIZE.
"""

from __future__ import annotations

import numpy as np

from edgecc.backends.c import dialect as C
from edgecc.backends.c import dialect_int as CI
from edgecc.backends.c.lower import (
    LoweringContext,
    broadcast_strides,
    collapse,
    contiguous,
    pad6,
    unsupported,
)
from edgecc.interp.quantized.common import QParams, element, qparams
from edgecc.interp.quantized.tables import UNARY_TABLE_OPS, evaluate_on_all_int8, unary_table
from edgecc.ir.core import Operation, Value
from edgecc.ir.types import QuantizedType, TensorType
from edgecc.quant import math as qm

UNARY_LUT = UNARY_TABLE_OPS


def _bits(v: Value) -> int:
    return v.type.element.storage.bits if isinstance(v.type.element, QuantizedType) else v.type.element.bits


def _need_s8(op: Operation, values=None, int16: bool = False) -> int:
    """The activation bits of ``op`` (8, or 16 when ``int16`` allows it); errors otherwise."""
    bits = 8
    for v in values if values is not None else (*op.operands, *op.results):
        e = v.type.element if isinstance(v.type, TensorType) else None
        if isinstance(e, QuantizedType) and e.storage.bits != 8:
            if not (int16 and e.storage.bits == 16):
                raise unsupported(op, f"{e.kind} tensors (the C backend's int16x8 kernels cover conv, "
                                      "depthwise, dense, add/sub/mul, pools, reductions, softmax, "
                                      "sigmoid/tanh, hard_sigmoid/hard_swish)")
            bits = 16
    return bits


def _q(op, v, what="value") -> QParams:
    return qparams(op, v, what)


# ------------------------------------------------------------------ tables
def requant_table(src: QParams, dst: QParams) -> tuple[int, ...]:
    x = np.arange(-128, 128, dtype=np.int64)
    if src.same(dst):
        return tuple(int(v) for v in np.clip(x, dst.qmin, dst.qmax))
    return tuple(int(v) for v in qm.requantize(x, src.scale, src.zero_point, dst.scale, dst.zero_point,
                                               dst.qmin, dst.qmax))


def insert(L: LoweringContext, before: Operation, cls, operands, result_type, **attrs) -> Value:
    new = cls.build(*operands, result_types=[result_type], loc=before.loc, **attrs)
    before.parent.insert_before(before, new)
    return new.result


def to_params(L: LoweringContext, op: Operation, v: Value, dst_elem: QuantizedType) -> Value:
    """``v`` re-expressed with ``dst_elem``'s parameters (a table for int8, else the
    requantization kernel), or ``v`` when equal."""
    src = element(v)
    if src == dst_elem:
        return v
    s = _q(op, v)
    d = QParams(qm.f32(dst_elem.scale), dst_elem.zero_point, dst_elem.qmin, dst_elem.qmax, dst_elem.storage.bits)
    return requantized(L, op, v, s, d, v.type.with_element(dst_elem))


def requantized(L: LoweringContext, op: Operation, v: Value, s: QParams, d: QParams, result_type) -> Value:
    if s.bits == 8 and d.bits == 8:
        return insert(L, op, CI.LutS8Op, [v], result_type, table=requant_table(s, d), function="requantize")
    m, sh = qm.requantize_params(s.scale, d.scale)
    return insert(L, op, CI.RequantizeOp, [v], result_type, input_offset=-s.zero_point,
                  output_offset=d.zero_point, multiplier=m, shift=sh, qmin=d.qmin, qmax=d.qmax)


def replace_requantized(L: LoweringContext, op: Operation, v: Value, s: QParams, d: QParams) -> None:
    """Replace ``op`` by the requantization of ``v`` into its result's parameters."""
    new = requantized(L, op, v, s, d, op.results[0].type)
    op.results[0].replace_all_uses_with(new)
    op.erase()


# ------------------------------------------------------------------ lowerings
LOWERINGS: dict[str, object] = {}


def lowering(*names):
    def register(fn):
        for n in names:
            LOWERINGS[n] = fn
        return fn

    return register


def weight_scales(op, w: Value, channels: int) -> np.ndarray:
    q = element(w)
    if q is None:
        raise unsupported(op, "float weights with a quantized input")
    s = np.asarray(q.scales, dtype=np.float32)
    return np.full(channels, s[0], dtype=np.float32) if s.size == 1 else s


def _conv_params(op) -> dict:
    inp, out = _q(op, op.operands[0], "input"), _q(op, op.results[0], "output")
    w = op.operands[1]
    channels = op.results[0].type.shape[-1]
    m, s = qm.conv_per_channel_params(inp.scale, weight_scales(op, w, channels), out.scale)
    lo, hi = qm.activation_range(op.attr("activation"), out.scale, out.zero_point, out.qmin, out.qmax)
    return dict(input_offset=-inp.zero_point, output_offset=out.zero_point, act_min=lo, act_max=hi,
                multiplier=tuple(int(v) for v in m), shift=tuple(int(v) for v in s))


def inplace_geometry(x_shape, out_shape, kernel_hw, strides, pads, dilations) -> tuple[bool, int]:
    """Whether a convolution can stream its output over its input with a ring of input rows,
    and the ring's bytes (see ``edgecc_conv2d_s8_inplace``): every input row must still be
    intact when the kernel first copies it."""
    n, h, w, cin = x_shape
    _, oh, ow, cout = out_shape
    kh = kernel_hw[0]
    span = dilations[0] * (kh - 1) + 1
    row_in, row_out = w * cin, ow * cout
    if n != 1 or oh * row_out > h * row_in:
        return False, 0
    nxt = 0
    for oy in range(oh):
        end = min(oy * strides[0] - pads[0] + span, h)
        while nxt < end:
            if nxt * row_in < oy * row_out:
                return False, 0
            nxt += 1
    return True, span * row_in


def _conv_geometry(op) -> dict:
    dw = op.name == "nn.depthwise_conv2d"
    return dict(strides=op.attr("strides"), pads=op.attr("pads"), dilations=op.attr("dilations"),
                groups=op.attr("depth_multiplier") if dw else op.attr("groups"))


@lowering("nn.conv2d", "nn.depthwise_conv2d")
def _conv(op, L):
    bits = _need_s8(op, [op.operands[0], op.results[0]], int16=True)
    params = _conv_params(op)
    dw = op.name == "nn.depthwise_conv2d"
    geometry = _conv_geometry(op)
    if bits == 16:
        if L.kernels == "cmsis-nn":
            from edgecc.backends.c.lower_cmsis16 import conv_s16

            if conv_s16(op, L, dw, geometry, params):
                return
        L.replace(op, CI.DepthwiseConv2DS8Op if dw else CI.Conv2DS8Op, op.operands, **geometry, **params)
        return
    if L.kernels == "cmsis-nn" and not L.use_ram(op):
        from edgecc.backends.c.lower_cmsis import conv as cmsis_conv

        if cmsis_conv(op, L, dw, geometry, params):
            return
    ok, ring = inplace_geometry(op.operands[0].type.shape, op.results[0].type.shape,
                                op.operands[1].type.shape[1:3], geometry["strides"], geometry["pads"],
                                geometry["dilations"])
    L.replace(op, CI.DepthwiseConv2DS8Op if dw else CI.Conv2DS8Op, op.operands, **geometry, **params,
              inplace_ok=ok, inplace_scratch=ring)


def fuse_conv_add(module, L: LoweringContext) -> int:
    """Replace ``add(x, conv(...))`` (qi8, same shapes, the conv result used only there) by one
    ``c.conv2d_add_s8``, so the convolution result needs no buffer and the sum may replace x."""
    from edgecc.backends.c.lower import is_quantized

    outputs = set(module.func.outputs)
    count = 0
    for op in list(module.func.body):
        if op.name not in ("nn.add", "nn.sub") or op.parent is None or not is_quantized(op):
            continue
        out = op.results[0]
        if any(v.type.shape != out.type.shape for v in op.operands) or op.operands[0] is op.operands[1]:
            continue
        for k in (1, 0):
            conv_v = op.operands[k]
            conv = conv_v.defining_op()
            if (conv is None or conv.name not in ("nn.conv2d", "nn.depthwise_conv2d") or len(conv_v.uses) != 1
                    or conv_v in outputs):
                continue
            if not (L.use_ram(op) or L.use_ram(conv)):
                continue
            if op.name == "nn.sub" and k == 0:
                continue  # conv - residual: the kernel computes residual - conv or conv + residual only
            try:
                _need_s8(conv, [conv.operands[0], conv_v])
                _need_s8(op)
            except Exception:
                continue
            residual = op.operands[1 - k]
            q1, q2 = _q(op, op.operands[0], "lhs"), _q(op, op.operands[1], "rhs")
            qo = _q(op, out, "output")
            p = qm.add_sub_params(op.name[3:], q1.scale, q2.scale, qo.scale, 8)
            lo, hi = qm.activation_range(op.attr("activation"), qo.scale, qo.zero_point, qo.qmin, qo.qmax)
            bias = conv.operands[2] if len(conv.operands) > 2 else L.constant(conv, np.zeros(
                conv_v.type.shape[-1], dtype=np.int32))
            from edgecc.ir.diagnostics import Location

            new = CI.Conv2DAddS8Op.build(
                conv.operands[0], conv.operands[1], bias, residual, result_types=[out.type],
                loc=Location.fuse([conv.loc, op.loc]), result_names=[out.name_hint], **_conv_geometry(conv),
                **_conv_params(conv), depthwise=conv.name == "nn.depthwise_conv2d", residual_is_lhs=k == 1,
                subtract=op.name == "nn.sub", lhs_offset=-q1.zero_point, rhs_offset=-q2.zero_point,
                add_output_offset=qo.zero_point, left_shift=p["left_shift"], lhs_mult=p["m1"],
                lhs_shift=p["shift1"], rhs_mult=p["m2"], rhs_shift=p["shift2"], out_mult=p["m_out"],
                out_shift=p["shift_out"], add_act_min=lo, add_act_max=hi)
            idx = op.attrs.get("edgecc.index")
            if idx is not None:
                new.attrs["edgecc.index"] = idx
            op.parent.insert_before(op, new)
            out.replace_all_uses_with(new.result)
            op.erase()
            conv.erase()
            count += 1
            break
    return count


@lowering("nn.fully_connected")
def _fc(op, L):
    bits = _need_s8(op, [op.operands[0], op.results[0]], int16=True)
    inp, out = _q(op, op.operands[0], "input"), _q(op, op.results[0], "output")
    w = op.operands[1]
    n = w.type.shape[0]
    wq = element(w)
    if wq is not None and wq.per_axis and len(wq.scales) > 1:
        m, s = qm.conv_per_channel_params(inp.scale, weight_scales(op, w, n), out.scale)
        mult, shift = tuple(int(v) for v in m), tuple(int(v) for v in s)
    else:
        m1, s1 = qm.fc_per_tensor_params(inp.scale, float(weight_scales(op, w, 1)[0]), out.scale)
        mult, shift = (int(m1),), (int(s1),)
    lo, hi = qm.activation_range(op.attr("activation"), out.scale, out.zero_point, out.qmin, out.qmax)
    params = dict(input_offset=-inp.zero_point, output_offset=out.zero_point, act_min=lo, act_max=hi,
                  multiplier=mult, shift=shift)
    if L.kernels == "cmsis-nn" and bits == 8:
        from edgecc.backends.c.lower_cmsis import fully_connected as cmsis_fc

        if cmsis_fc(op, L, params):
            return
    if L.kernels == "cmsis-nn" and bits == 16:
        from edgecc.backends.c.lower_cmsis16 import fully_connected_s16

        if fully_connected_s16(op, L, params):
            return
    L.replace(op, CI.FullyConnectedS8Op, op.operands, **params)


@lowering("nn.matmul")
def _matmul(op, L):
    _need_s8(op)
    from edgecc.backends.c.lower import matmul_geometry

    qa, qb, out = _q(op, op.operands[0], "lhs"), _q(op, op.operands[1], "rhs"), _q(op, op.results[0], "output")
    m, s = qm.fc_per_tensor_params(qa.scale, qb.scale, out.scale)
    geo = matmul_geometry(op)
    L.replace(op, CI.MatMulS8Op, op.operands, **geo, a_zero=qa.zero_point, b_zero=qb.zero_point,
              output_offset=out.zero_point, multiplier=int(m), shift=int(s))


def _binary_geometry(op):
    out = op.results[0].type.shape
    a, b = op.operands
    sa = broadcast_strides(a.type.shape, out)
    sb = broadcast_strides(b.type.shape, out)
    shape, (sa6, sb6) = pad6(collapse(out, sa, sb, contiguous(out)), 2, op)
    return dict(shape=shape, lhs_strides=sa6, rhs_strides=sb6)


@lowering("nn.add", "nn.sub", "nn.mul", "nn.maximum", "nn.minimum")
def _qbinary(op, L):
    bits = _need_s8(op, int16=True)
    q1, q2 = _q(op, op.operands[0], "lhs"), _q(op, op.operands[1], "rhs")
    out = _q(op, op.results[0], "output")
    kind = op.name[3:]
    attrs: dict = dict(kind=kind, output_offset=out.zero_point)
    if bits == 16 and kind in ("maximum", "minimum") and not (q1.same(out) and q2.same(out)):
        raise unsupported(op, "int16 max/min with different input and output parameters")
    if kind in ("add", "sub"):
        p = qm.add_sub_params(kind, q1.scale, q2.scale, out.scale, bits)
        attrs.update(lhs_offset=-q1.zero_point, rhs_offset=-q2.zero_point, left_shift=p["left_shift"],
                     lhs_mult=p["m1"], lhs_shift=p["shift1"], rhs_mult=p["m2"], rhs_shift=p["shift2"],
                     out_mult=p["m_out"], out_shift=p["shift_out"])
    elif kind == "mul":
        m, s = qm.mul_params(q1.scale, q2.scale, out.scale)
        attrs.update(lhs_offset=-q1.zero_point, rhs_offset=-q2.zero_point, out_mult=m, out_shift=s)
    else:
        attrs.update(output_offset=0)
        if not q1.same(out):
            attrs["lhs_table"] = requant_table(q1, out)
        if not q2.same(out):
            attrs["rhs_table"] = requant_table(q2, out)
    if kind in ("add", "sub", "mul"):
        lo, hi = qm.activation_range(op.attr("activation"), out.scale, out.zero_point, out.qmin, out.qmax)
    else:
        lo, hi = out.qmin, out.qmax
    attrs.update(act_min=lo, act_max=hi)
    same_shape = all(v.type.shape == op.results[0].type.shape for v in op.operands)
    if L.kernels == "cmsis-nn" and same_shape and kind in ("add", "mul") and bits == 8:
        from edgecc.backends.c.lower_cmsis import elementwise as cmsis_elementwise

        if cmsis_elementwise(op, L, attrs):
            return
    if L.kernels == "cmsis-nn" and same_shape and kind in ("add", "mul") and bits == 16:
        from edgecc.backends.c.lower_cmsis16 import elementwise_s16

        if elementwise_s16(op, L, attrs):
            return
    L.replace(op, CI.BinaryS8Op, op.operands, **_binary_geometry(op), **attrs)


@lowering(*UNARY_LUT)
def _unary(op, L):
    bits = _need_s8(op, int16=op.name in ("nn.sigmoid", "nn.tanh", "nn.relu", "nn.clamp", "nn.hard_sigmoid",
                                          "nn.hard_swish"))
    if bits == 16 and op.name == "nn.hard_swish":
        _hard_swish16(op, L)
        return
    if bits == 16 and op.name == "nn.hard_sigmoid":
        _hard_sigmoid16(op, L)
        return
    if bits == 16 and op.name in ("nn.relu", "nn.clamp"):
        _relu16(op, L)
        return
    if bits == 16:
        _sigmoid_tanh16(op, L)
        return
    L.replace(op, CI.LutS8Op, op.operands, table=unary_table(op), function=op.name)


def _hard_sigmoid16(op, L) -> None:
    """int16 hard_sigmoid as its TFLite form (``edgecc.quant.hard_sigmoid``): an int16 ADD of the
    offset into the fixed-range intermediate, then an int16 MUL by alpha (int8 uses a table)."""
    from edgecc.dialects import nn
    from edgecc.quant.hard_sigmoid import hard_sigmoid_form

    x = op.operands[0]
    try:
        form = hard_sigmoid_form(op.attr("alpha"), op.attr("beta"))
    except ValueError as e:
        raise unsupported(op, str(e)) from None
    storage = x.type.element.storage
    off, alpha = form.constant(form.offset, storage), form.constant(form.alpha, storage)
    c_off = L.constant(op, np.array(off.stored, storage.numpy), off.element)
    c_alpha = L.constant(op, np.array(alpha.stored, storage.numpy), alpha.element)
    t = insert(L, op, nn.AddOp, [x, c_off], x.type.with_element(form.intermediate(storage)),
               activation=form.activation)
    mul = _replace_by_mul(op, t, c_alpha)
    _qbinary(t.defining_op(), L)
    _qbinary(mul, L)


def _replace_by_mul(op, lhs, rhs):
    """Put ``nn.mul(lhs, rhs)`` where ``op`` was (its result type, name and location)."""
    from edgecc.dialects import nn

    r = op.results[0]
    mul = nn.MulOp.build(lhs, rhs, result_types=[r.type], loc=op.loc, result_names=[r.name_hint])
    op.parent.insert_before(op, mul)
    r.replace_all_uses_with(mul.result)
    op.erase()
    return mul


def _hard_swish16(op, L) -> None:
    """int16 hard_swish as its TFLite form: MUL(x, hard_sigmoid(x)), the gate on fixed parameters."""
    from edgecc.dialects import nn
    from edgecc.quant import hard_sigmoid as hs

    x = op.operands[0]
    gate_type = x.type.with_element(hs.hard_swish_gate(x.type.element.storage))
    gate = insert(L, op, nn.HardSigmoidOp, [x], gate_type, alpha=hs.HARD_SWISH_ALPHA, beta=hs.HARD_SWISH_BETA)
    mul = _replace_by_mul(op, x, gate)
    _hard_sigmoid16(gate.defining_op(), L)
    _qbinary(mul, L)


def _relu16(op, L) -> None:
    """TFLM ReluQuantized for int16: a requantization by float32(s_in / s_out) clamped to the
    quantized bounds."""
    import math

    inp, out = _q(op, op.operands[0], "input"), _q(op, op.results[0], "output")
    lo_real, hi_real = (0.0, math.inf) if op.name == "nn.relu" else (float(op.attr("min")), float(op.attr("max")))
    m, s = qm.quantize_multiplier(float(np.float32(inp.scale) / np.float32(out.scale)))
    lo = out.qmin if lo_real == -math.inf else max(out.qmin, qm.quantize_value(lo_real, out.scale, out.zero_point))
    hi = out.qmax if hi_real == math.inf else min(out.qmax, qm.quantize_value(hi_real, out.scale, out.zero_point))
    L.replace(op, CI.RequantizeOp, op.operands, input_offset=-inp.zero_point, output_offset=out.zero_point,
              multiplier=int(m), shift=int(s), qmin=int(lo), qmax=int(hi))


def _sigmoid_tanh16(op, L) -> None:
    from edgecc.interp.quantized.elementwise import SIGMOID_TABLE, _checked_log2, _int16_lut_params

    inp, out = _q(op, op.operands[0], "input"), _q(op, op.results[0], "output")
    pot, log2 = _checked_log2(out.scale)
    if out.zero_point != 0 or not pot or log2 != -15 or inp.zero_point != 0:
        raise unsupported(op, "int16 sigmoid/tanh need zero points 0 and the output scale 2^-15 (TFLite)")
    tanh = op.name == "nn.tanh"
    mult, ls = _int16_lut_params(op, inp, (0, 1) if tanh else (0,))
    L.replace(op, CI.SigmoidTanhS16Op, op.operands, tanh=tanh, multiplier=int(mult), left_shift=int(ls),
              table=tuple(int(v) for v in SIGMOID_TABLE))


@lowering("nn.requantize")
def _requantize(op, L):
    x, r = op.operands[0], op.results[0]
    src, dst = element(x), element(r)
    if src.per_axis or dst.per_axis:
        raise unsupported(op, "per-axis requantization of activations")
    if src.storage.bits == 8:
        table = tuple(int(v) for v in evaluate_on_all_int8(op, x, dst))
        L.replace(op, CI.LutS8Op, [x], table=table, function="requantize")
        return
    si, so = _q(op, x), _q(op, r)
    m, s = qm.requantize_params(si.scale, so.scale)
    L.replace(op, CI.RequantizeOp, [x], input_offset=-si.zero_point, output_offset=so.zero_point,
              multiplier=m, shift=s, qmin=so.qmin, qmax=so.qmax)


def softmax_tables(op, inp: QParams) -> dict:
    """Multiplier, diff_min and exp tables of TFLite's int8 softmax (``softmax_common.cc``)."""
    from edgecc.interp.quantized import fixedpoint as fp
    from edgecc.interp.quantized.elementwise import _input_radius

    beta = float(np.float32(op.attr("beta", 1.0)))
    real = min(beta * float(np.float32(inp.scale)) * float(1 << (31 - 5)), float((1 << 31) - 1))
    mult, ls = qm.quantize_multiplier(real)
    diff_min = -_input_radius(5, ls)
    diffs = -np.arange(256, dtype=np.int64)
    e = fp.exp_on_negative_values(qm.multiply_by_quantized_multiplier(diffs, mult, ls), 5)
    s = fp.rescale(e, 0, 12)
    return dict(mult=int(mult), shift=int(ls), diff_min=int(diff_min),
                exp_table=tuple(int(v) for v in e), sum_table=tuple(int(v) for v in s))


@lowering("nn.softmax")
def _softmax(op, L):
    bits = _need_s8(op, int16=True)
    inp, out = _q(op, op.operands[0], "input"), _q(op, op.results[0], "output")
    if bits == 16:
        _softmax16(op, L, inp, out)
        return
    if out.zero_point != -128 or abs(out.scale - 1 / 256) > 1e-3 / 256:
        raise unsupported(op, "int8 softmax needs the output scale 1/256 and zero point -128 (TFLite)")
    shape = op.operands[0].type.shape
    axis = op.norm_axis
    outer = int(np.prod(shape[:axis], dtype=np.int64))
    inner = int(np.prod(shape[axis + 1:], dtype=np.int64))
    t = softmax_tables(op, inp)
    if L.kernels == "cmsis-nn" and inner == 1:
        from edgecc.backends.c.lower_cmsis import softmax as cmsis_softmax

        if cmsis_softmax(op, L, outer, shape[axis], t):
            return
    L.replace(op, CI.SoftmaxS8Op, op.operands, outer=outer, axis_size=shape[axis], inner=inner,
              diff_min=t["diff_min"], exp_table=t["exp_table"], sum_table=t["sum_table"])


def _softmax16(op, L, inp: QParams, out: QParams) -> None:
    from edgecc.interp.quantized.elementwise import softmax_int16_luts

    if inp.zero_point != 0 or out.zero_point != 0 or abs(out.scale - 1 / 32768) > 1e-3 / 32768:
        raise unsupported(op, "int16 softmax needs zero points 0 and the output scale 1/32768 (TFLite)")
    beta = float(np.float32(op.attr("beta", 1.0)))
    mult, shift = qm.quantize_multiplier(float(np.float32(inp.scale)) * beta / (10.0 / 65535.0))
    exp_lut, recip_lut = softmax_int16_luts()
    shape = op.operands[0].type.shape
    axis = op.norm_axis
    if L.kernels == "cmsis-nn" and axis == len(shape) - 1:
        from edgecc.backends.c.lower_cmsis16 import softmax_s16

        rows = int(np.prod(shape[:axis], dtype=np.int64))
        if softmax_s16(op, L, rows, shape[axis], int(mult), int(shift), exp_lut, recip_lut):
            return
    L.replace(op, CI.SoftmaxS16Op, op.operands, outer=int(np.prod(shape[:axis], dtype=np.int64)),
              axis_size=shape[axis], inner=int(np.prod(shape[axis + 1:], dtype=np.int64)), multiplier=int(mult),
              shift=int(shift), exp_lut=tuple(int(v) for v in exp_lut), recip_lut=tuple(int(v) for v in recip_lut))


@lowering("nn.avg_pool2d", "nn.max_pool2d")
def _pool(op, L):
    bits = _need_s8(op, int16=True)
    x, r = op.operands[0], op.results[0]
    inp, out = _q(op, x, "input"), _q(op, r, "output")
    kind = "avg" if op.name == "nn.avg_pool2d" else "max"
    lo, hi = qm.activation_range(op.attr("activation"), inp.scale, inp.zero_point, inp.qmin, inp.qmax)
    geo = dict(kind=kind, kernel=op.attr("kernel"), strides=op.attr("strides"), pads=op.attr("pads"))
    if inp.same(out):
        lo, hi = qm.activation_range(op.attr("activation"), out.scale, out.zero_point, out.qmin, out.qmax)
        if L.kernels == "cmsis-nn" and bits == 8:
            from edgecc.backends.c.lower_cmsis import pool as cmsis_pool

            if cmsis_pool(op, L, geo, lo, hi):
                return
        if L.kernels == "cmsis-nn" and bits == 16:
            from edgecc.backends.c.lower_cmsis16 import pool_s16

            if pool_s16(op, L, geo, lo, hi):
                return
        L.replace(op, CI.PoolS8Op, [x], **geo, act_min=lo, act_max=hi)
        return
    tmp = insert(L, op, CI.PoolS8Op, [x], r.type.with_element(x.type.element), **geo, act_min=lo, act_max=hi)
    replace_requantized(L, op, tmp, inp, out)


def _split_dims(shape, axes):
    st = contiguous(shape)
    kept = [(d, s) for i, (d, s) in enumerate(zip(shape, st)) if i not in axes]
    red = [(d, s) for i, (d, s) in enumerate(zip(shape, st)) if i in axes]

    def six(pairs, op):
        dims = collapse([d for d, _ in pairs], [s for _, s in pairs])
        shape6, (st6,) = pad6(dims, 1, op)
        return shape6, st6

    return kept, red, six


@lowering("nn.mean", "nn.reduce_sum", "nn.reduce_max", "nn.reduce_min")
def _reduce(op, L):
    _need_s8(op, int16=True)
    x = op.operands[0]
    inp, out = _q(op, x, "input"), _q(op, op.results[0], "output")
    axes = set(op.norm_axes)
    kept, red, six = _split_dims(x.type.shape, axes)
    ks, kst = six(kept, op)
    rs, rst = six(red, op)
    count = int(np.prod([d for d, _ in red], dtype=np.int64)) if red else 1
    m, s = qm.requantize_params(inp.scale, out.scale)
    attrs = dict(kept_shape=ks, kept_strides=kst, red_shape=rs, red_strides=rst, count=count,
                 input_offset=-inp.zero_point, output_offset=out.zero_point, qmin=out.qmin, qmax=out.qmax)
    if op.name in ("nn.mean", "nn.reduce_sum"):
        if op.name == "nn.mean":
            m, s = qm.mean_multiplier(m, s, count)
        L.replace(op, CI.ReduceS8Op, [x], kind="sum", multiplier=int(m), shift=int(s), **attrs)
        return
    kind = "max" if op.name == "nn.reduce_max" else "min"
    L.replace(op, CI.ReduceS8Op, [x], kind=kind, requant=not inp.same(out), multiplier=int(m), shift=int(s),
              **attrs)


@lowering("nn.resize")
def _resize(op, L):
    _need_s8(op, int16=True)
    x, r = op.operands[0], op.results[0]
    inp, out = _q(op, x, "input"), _q(op, r, "output")
    same_elem = r.type.with_element(x.type.element)
    if op.attr("mode") == "nearest":
        from edgecc.interp.ops_shape import _nearest, _source_coords

        _, ih, iw, _ = x.type.shape
        oh, ow = op.attr("size")
        coord, nm = op.attr("coordinate"), op.attr("nearest_mode")
        rows = tuple(int(i) for i in _nearest(op, _source_coords(op, oh, ih, coord), ih, nm))
        cols = tuple(int(i) for i in _nearest(op, _source_coords(op, ow, iw, coord), iw, nm))
        tmp = insert(L, op, C.ResizeOp, [x], same_elem, mode="nearest", rows=rows, cols=cols)
    else:
        from edgecc.interp.quantized.pool import _interp_10, _scale_10

        coordinate = op.attr("coordinate")
        half = coordinate in ("half_pixel", "pytorch_half_pixel")
        align = coordinate == "align_corners"
        _, ih, iw, _ = x.type.shape
        oh, ow = op.attr("size")

        def table(out_size, in_size):
            pos, lo, hi = _interp_10(out_size, in_size, _scale_10(in_size, out_size, align), half)
            return tuple(int(v) for v in np.stack([lo, hi, pos - (lo << 10)], 1).reshape(-1))

        tmp = insert(L, op, CI.ResizeBilinearS8Op, [x], same_elem, rows=table(oh, ih), cols=table(ow, iw))
    if inp.same(out) and element(x) == element(r):
        op.results[0].replace_all_uses_with(tmp)
        op.erase()
        return
    replace_requantized(L, op, tmp, inp, out)


@lowering("nn.pad")
def _pad(op, L):
    _need_s8(op, int16=True)
    from edgecc.backends.c.lower import LOWERINGS as FLOAT

    x, r = op.operands[0], op.results[0]
    y = to_params(L, op, x, r.type.element)
    op.set_operand(0, y)
    FLOAT["nn.pad"](op, L)  # data movement; the fill is quantized as TFLite's PAD does


@lowering("nn.concat")
def _concat(op, L):
    _need_s8(op, int16=True)
    out_elem = op.results[0].type.element
    for i, v in enumerate(op.operands):
        op.set_operand(i, to_params(L, op, v, out_elem))
    shape = op.results[0].type.shape
    axis = op.norm_axis
    outer = int(np.prod(shape[:axis], dtype=np.int64))
    inner = int(np.prod(shape[axis + 1:], dtype=np.int64))
    L.replace(op, C.ConcatOp, op.operands, outer=outer, inner=inner)


@lowering("nn.lstm")
def _lstm(op, L):
    """The constants are ``lstm_params``, the interpreter's own (``edgecc.interp.quantized.lstm``)."""
    from edgecc.interp.quantized.elementwise import SIGMOID_TABLE
    from edgecc.interp.quantized.lstm import lstm_params

    p = lstm_params(op)
    pairs = (p.gate_in, p.gate_rec)
    values = [int(bool(op.attr("time_major"))), int(p.wide), p.x_offset, p.h_offset]
    for ms in pairs:
        values += [int(m) for m, _ in ms] + [int(s) for _, s in ms]
    for m, s in (p.forget_mul, p.input_mul, p.hidden_mul):
        values += [int(m), int(s)]
    values += [p.h_zero_point, p.h_min, p.h_max, p.tanh_mult, p.tanh_shift, p.cell_clip]
    n = op.h.type.num_elements
    L.replace(op, CI.LstmOp, op.operands, params=tuple(values), table=tuple(int(v) for v in SIGMOID_TABLE),
              scratch=5 * 2 * n)


@lowering("nn.reshape", "nn.transpose", "nn.slice", "nn.split", "nn.gather")
def _movement(op, L):
    from edgecc.backends.c.lower import LOWERINGS as FLOAT

    FLOAT[op.name](op, L)


def lower_quantized_op(op: Operation, L: LoweringContext) -> None:
    fn = LOWERINGS.get(op.name)
    if fn is None:
        raise unsupported(op, "no integer kernel for this op in the C backend")
    fn(op, L)


__all__ = ["LOWERINGS", "evaluate_on_all_int8", "lower_quantized_op", "requant_table", "softmax_tables",
           "unary_table"]
