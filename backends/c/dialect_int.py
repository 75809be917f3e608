"""``c`` ops of edgecc's portable integer kernels (``edgecc/kernels_int.h``).

Every requantization constant (Q31 multipliers and shifts, offsets, clamp
bounds, tables) is an attribute computed at compile time by
``edgecc.backends.c.lower_int`` with ``edgecc.quant.math``, the same code the
integer reference interpreter uses, so the C is bit-exact with it.
"""

from __future__ import annotations

from edgecc.analysis.liveness import InPlace
from edgecc.backends.c.dialect import ConvOp, CRaw, KernelOp, PoolOp, RowsOp, c
from edgecc.ir.spec import ANY_TENSOR, Bool, Int, IntArray, Str, attr, operand, result


def _i32():
    return attr(Int(), default=0)


def qadd_attrs() -> tuple:
    """TFLite ADD/SUB requantization constants: lhs/rhs/output offsets, left shift, then lhs, rhs and
    output (multiplier, shift) pairs, in that order (unpack them in the op class)."""
    return tuple(_i32() for _ in range(10))


def _sized(fn: str, e, v) -> str:
    """The int16x8 variant of an ``_s8`` kernel for 16-bit activations."""
    return fn.replace("_s8", "_s16") if e.elem_size(v) == 2 else fn


def _sized_name(fn: str, v) -> str:
    return fn.replace("_s8", "_s16") if v.type.element.bits == 16 else fn


class _Sized:
    """Ops whose int16x8 variant is the same kernel name with ``_s16``."""

    def kernel_name(self, plan=None) -> str:
        return _sized_name(self.fn, self.operands[0])


def _q(e, mult, shift):
    return (CRaw(e.table("int32_t", mult)), CRaw(e.table("int32_t", shift)))


class _ConvS8(ConvOp):
    inplace = InPlace((0,), shrink=True, when="inplace_ok", scratch_attr="inplace_scratch")
    input_offset = _i32()
    output_offset = _i32()
    act_min = attr(Int(), default=-128)
    act_max = attr(Int(), default=127)
    multiplier = attr(IntArray(), required=True, doc="per output channel (Q31)")
    shift = attr(IntArray(), required=True)
    inplace_ok = attr(Bool(), default=False, doc="the output may stream over the input (checked geometry)")
    inplace_scratch = attr(Int(), default=0, doc="line buffer bytes when run in place")

    def kernel_name(self, plan=None) -> str:
        in_place = plan is not None and plan.reuses(self) is not None and self.attr("inplace_ok")
        return _sized_name(self.fn, self.operands[0]) + ("_inplace" if in_place else "")

    def emit(self, e) -> list[str]:
        p = self.conv_params(e)
        bias = e.ptr(self.bias) if self.bias is not None else "NULL"
        if e.plan.reuses(self) is not None:
            return [f"{self.fn}_inplace({p}, {e.ptr(self.output)}, {e.ptr(self.weight)}, {bias}, "
                    f"(int8_t *){e.scratch(self)});"]
        return [f"{_sized(self.fn, e, self.input)}({p}, {e.ptr(self.input)}, {e.ptr(self.weight)}, {bias}, "
                f"{e.ptr(self.output)});"]

    def conv_fields(self, e) -> list:
        n, ih, iw, ic = self.input.type.shape
        _, oh, ow, oc = self.output.type.shape
        kh, kw = self.weight.type.shape[1:3]
        m, s = _q(e, self.attr("multiplier"), self.attr("shift"))
        return [
            ("batches", n), ("in_h", ih), ("in_w", iw), ("in_c", ic), ("out_h", oh), ("out_w", ow),
            ("out_c", oc), ("k_h", kh), ("k_w", kw), ("stride_h", self.attr("strides")[0]),
            ("stride_w", self.attr("strides")[1]), ("pad_top", self.attr("pads")[0]),
            ("pad_left", self.attr("pads")[1]), ("dil_h", self.attr("dilations")[0]),
            ("dil_w", self.attr("dilations")[1]), ("groups", self.attr("groups")),
            ("input_offset", self.attr("input_offset")), ("output_offset", self.attr("output_offset")),
            ("act_min", self.attr("act_min")), ("act_max", self.attr("act_max")), ("multiplier", m),
            ("shift", s)]

    def conv_params(self, e) -> str:
        return e.params("edgecc_conv_s8_params_t", self.conv_fields(e))


@c.op("conv2d_s8")
class Conv2DS8Op(_ConvS8):
    """int8 convolution, per-channel requantization (edgecc_conv2d_s8)."""

    fn = "edgecc_conv2d_s8"


@c.op("depthwise_conv2d_s8")
class DepthwiseConv2DS8Op(_ConvS8):
    """int8 depthwise convolution, per-channel requantization (edgecc_depthwise_conv2d_s8)."""

    fn = "edgecc_depthwise_conv2d_s8"


@c.op("conv2d_add_s8")
class Conv2DAddS8Op(_ConvS8):
    """int8 convolution (or depthwise when ``depthwise``) whose result is added to a residual
    with TFLite ADD/SUB requantization, element by element: the output may replace the residual
    (a residual block's add into a dead input) and the convolution result needs no buffer."""

    fn = "edgecc_conv2d_add_s8"
    inplace = InPlace((3,))
    residual = operand(ANY_TENSOR)
    depthwise = attr(Bool(), default=False)
    residual_is_lhs = attr(Bool(), default=True)
    subtract = attr(Bool(), default=False)
    (lhs_offset, rhs_offset, add_output_offset, left_shift, lhs_mult, lhs_shift, rhs_mult, rhs_shift, out_mult,
     out_shift) = qadd_attrs()
    add_act_min = attr(Int(), default=-128)
    add_act_max = attr(Int(), default=127)

    @property
    def mac_kind(self) -> str:
        return "depthwise" if self.attr("depthwise") else "conv"

    def emit(self, e) -> list[str]:
        a = self.attr
        conv = "{" + ", ".join(f".{k} = {e._fmt('', v)}" for k, v in self.conv_fields(e)) + "}"
        p = e.params("edgecc_conv_add_s8_params_t", [
            ("conv", CRaw(conv)), ("depthwise", int(a("depthwise"))),
            ("residual_is_lhs", int(a("residual_is_lhs"))), ("subtract", int(a("subtract"))),
            ("lhs_offset", a("lhs_offset")), ("rhs_offset", a("rhs_offset")),
            ("output_offset", a("add_output_offset")), ("left_shift", a("left_shift")),
            ("lhs_mult", a("lhs_mult")), ("lhs_shift", a("lhs_shift")), ("rhs_mult", a("rhs_mult")),
            ("rhs_shift", a("rhs_shift")), ("out_mult", a("out_mult")), ("out_shift", a("out_shift")),
            ("act_min", a("add_act_min")), ("act_max", a("add_act_max"))])
        bias = e.ptr(self.bias) if self.bias is not None else "NULL"
        return [f"{self.fn}({p}, {e.ptr(self.input)}, {e.ptr(self.weight)}, {bias}, {e.ptr(self.residual)}, "
                f"{e.ptr(self.output)});"]


@c.op("fully_connected_s8")
class FullyConnectedS8Op(_Sized, KernelOp):
    """int8 dense layer, per-tensor or per-channel requantization (edgecc_fully_connected_s8)."""

    fn = "edgecc_fully_connected_s8"
    input = operand(ANY_TENSOR)
    weight = operand(ANY_TENSOR)
    bias = operand(ANY_TENSOR, optional=True)
    output = result(ANY_TENSOR)
    input_offset = _i32()
    output_offset = _i32()
    act_min = attr(Int(), default=-128)
    act_max = attr(Int(), default=127)
    multiplier = attr(IntArray(), required=True)
    shift = attr(IntArray(), required=True)

    def emit(self, e) -> list[str]:
        n, k = self.weight.type.shape
        m, s = _q(e, self.attr("multiplier"), self.attr("shift"))
        p = e.params("edgecc_fc_s8_params_t", [
            ("rows", self.input.type.num_elements // max(k, 1)), ("in_features", k), ("out_features", n),
            ("input_offset", self.attr("input_offset")), ("output_offset", self.attr("output_offset")),
            ("act_min", self.attr("act_min")), ("act_max", self.attr("act_max")),
            ("per_channel", int(len(self.attr("multiplier")) > 1)), ("multiplier", m), ("shift", s)])
        bias = e.ptr(self.bias) if self.bias is not None else "NULL"
        return [f"{_sized(self.fn, e, self.input)}({p}, {e.ptr(self.input)}, {e.ptr(self.weight)}, {bias}, "
                f"{e.ptr(self.output)});"]


@c.op("matmul_s8")
class MatMulS8Op(KernelOp):
    """int8 batched matmul (TFLite BATCH_MATMUL) with per-batch matrix offsets."""

    fn = "edgecc_matmul_s8"
    a = operand(ANY_TENSOR)
    b = operand(ANY_TENSOR)
    output = result(ANY_TENSOR)
    m = attr(Int(), required=True)
    k = attr(Int(), required=True)
    n = attr(Int(), required=True)
    a_offsets = attr(IntArray(), required=True)
    b_offsets = attr(IntArray(), required=True)
    a_zero = _i32()
    b_zero = _i32()
    output_offset = _i32()
    multiplier = _i32()
    shift = _i32()

    def emit(self, e) -> list[str]:
        p = e.params("edgecc_matmul_s8_params_t", [
            ("batches", len(self.attr("a_offsets"))), ("m", self.attr("m")), ("k", self.attr("k")),
            ("n", self.attr("n")), ("a_offsets", CRaw(e.table("int32_t", self.attr("a_offsets")))),
            ("b_offsets", CRaw(e.table("int32_t", self.attr("b_offsets")))),
            ("a_offset", -self.attr("a_zero")), ("b_offset", -self.attr("b_zero")),
            ("output_offset", self.attr("output_offset")), ("multiplier", self.attr("multiplier")),
            ("shift", self.attr("shift")), ("act_min", -128), ("act_max", 127)])
        return [f"{self.fn}({p}, {e.ptr(self.a)}, {e.ptr(self.b)}, {e.ptr(self.output)});"]


QBINARY = {"add": "EDGECC_Q_ADD", "sub": "EDGECC_Q_SUB", "mul": "EDGECC_Q_MUL", "maximum": "EDGECC_Q_MAX",
           "minimum": "EDGECC_Q_MIN"}


@c.op("binary_s8")
class BinaryS8Op(_Sized, KernelOp):
    """int8 add/sub/mul/max/min with broadcasting (TFLite requantization; tables map max/min
    inputs into the output's parameters)."""

    fn = "edgecc_binary_s8"
    inplace = InPlace((0, 1))
    lhs = operand(ANY_TENSOR)
    rhs = operand(ANY_TENSOR)
    output = result(ANY_TENSOR)
    kind = attr(Str(*QBINARY), required=True)
    shape = attr(IntArray(6), required=True)
    lhs_strides = attr(IntArray(6), required=True)
    rhs_strides = attr(IntArray(6), required=True)
    (lhs_offset, rhs_offset, output_offset, left_shift, lhs_mult, lhs_shift, rhs_mult, rhs_shift, out_mult,
     out_shift) = qadd_attrs()
    act_min = attr(Int(), default=-128)
    act_max = attr(Int(), default=127)
    lhs_table = attr(IntArray(256))
    rhs_table = attr(IntArray(256))

    def emit(self, e) -> list[str]:
        ta = self.attr("lhs_table")
        tb = self.attr("rhs_table")
        p = e.params("edgecc_qbinary_s8_params_t", [
            ("kind", CRaw(QBINARY[self.attr("kind")])), ("shape", self.attr("shape")),
            ("a_strides", self.attr("lhs_strides")), ("b_strides", self.attr("rhs_strides")),
            ("a_offset", self.attr("lhs_offset")), ("b_offset", self.attr("rhs_offset")),
            ("output_offset", self.attr("output_offset")), ("left_shift", self.attr("left_shift")),
            ("a_mult", self.attr("lhs_mult")), ("a_shift", self.attr("lhs_shift")),
            ("b_mult", self.attr("rhs_mult")), ("b_shift", self.attr("rhs_shift")),
            ("out_mult", self.attr("out_mult")), ("out_shift", self.attr("out_shift")),
            ("act_min", self.attr("act_min")), ("act_max", self.attr("act_max")),
            ("a_table", CRaw(e.table("int8_t", ta) if ta else "NULL")),
            ("b_table", CRaw(e.table("int8_t", tb) if tb else "NULL"))])
        return [f"{_sized(self.fn, e, self.lhs)}({p}, {e.ptr(self.lhs)}, {e.ptr(self.rhs)}, {e.ptr(self.output)});"]


@c.op("lut_s8")
class LutS8Op(KernelOp):
    """Any elementwise function of one int8 value: a 256-entry table (activations, requantize,
    exp ...), computed at compile time from the integer reference semantics."""

    fn = "edgecc_lut_s8"
    inplace = InPlace((0,))
    input = operand(ANY_TENSOR)
    output = result(ANY_TENSOR)
    table = attr(IntArray(256), required=True)
    function = attr(Str(), default="", doc="the op it implements (for the report)")

    def emit(self, e) -> list[str]:
        ctype = "int16_t" if e.elem_size(self.output) == 2 else "int8_t"
        fn = "edgecc_lut_s8_s16" if ctype == "int16_t" else self.fn
        t = e.table(ctype, self.attr("table"))
        return [f"{fn}({t}, {self.input.type.num_elements}, {e.ptr(self.input)}, {e.ptr(self.output)});"]


@c.op("requantize")
class RequantizeOp(KernelOp):
    """TFLite integer QUANTIZE between int8/int16 stored types."""

    fn = "edgecc_requantize"
    input = operand(ANY_TENSOR)
    output = result(ANY_TENSOR)
    input_offset = _i32()
    output_offset = _i32()
    multiplier = _i32()
    shift = _i32()
    qmin = attr(Int(), required=True)
    qmax = attr(Int(), required=True)

    def emit(self, e) -> list[str]:
        p = e.params("edgecc_requant_params_t", [
            ("size", self.input.type.num_elements), ("in_bits", 8 * e.elem_size(self.input)),
            ("out_bits", 8 * e.elem_size(self.output)), ("input_offset", self.attr("input_offset")),
            ("output_offset", self.attr("output_offset")), ("multiplier", self.attr("multiplier")),
            ("shift", self.attr("shift")), ("qmin", self.attr("qmin")), ("qmax", self.attr("qmax"))])
        return [f"{self.fn}({p}, {e.ptr(self.input)}, {e.ptr(self.output)});"]


@c.op("softmax_s8")
class SoftmaxS8Op(RowsOp):
    """TFLite int8 softmax with compile-time exp tables (output scale 1/256, zero point -128)."""

    fn = "edgecc_softmax_s8"
    diff_min = attr(Int(), required=True)
    exp_table = attr(IntArray(256), required=True)
    sum_table = attr(IntArray(256), required=True)

    def emit(self, e) -> list[str]:
        p = e.params("edgecc_softmax_s8_params_t", self.rows_fields() + [
            ("diff_min", self.attr("diff_min")),
            ("exp_table", CRaw(e.table("int32_t", self.attr("exp_table")))),
            ("sum_table", CRaw(e.table("int32_t", self.attr("sum_table"))))])
        return [f"{self.fn}({p}, {e.ptr(self.input)}, {e.ptr(self.output)});"]


@c.op("pool_s8")
class PoolS8Op(PoolOp):
    """int8 average (TFLite rounding) or max pooling."""

    act_min = attr(Int(), default=-128)
    act_max = attr(Int(), default=127)

    def kernel_name(self, plan=None) -> str:
        bits = 16 if self.input.type.element.bits == 16 else 8
        return f"edgecc_{self.attr('kind')}_pool_s{bits}"

    def emit(self, e) -> list[str]:
        p = e.params("edgecc_pool_s8_params_t", self.window_fields())
        return [f"{self.kernel_name()}({p}, {e.ptr(self.input)}, {e.ptr(self.output)});"]


QREDUCE = {"sum": "EDGECC_QREDUCE_SUM", "max": "EDGECC_QREDUCE_MAX", "min": "EDGECC_QREDUCE_MIN"}


@c.op("reduce_s8")
class ReduceS8Op(_Sized, KernelOp):
    """int8 mean/sum (QuantizedMeanOrSum) or max/min, output-major over kept dims."""

    fn = "edgecc_reduce_s8"
    input = operand(ANY_TENSOR)
    output = result(ANY_TENSOR)
    kind = attr(Str(*QREDUCE), required=True)
    kept_shape = attr(IntArray(6), required=True)
    kept_strides = attr(IntArray(6), required=True)
    red_shape = attr(IntArray(6), required=True)
    red_strides = attr(IntArray(6), required=True)
    count = attr(Int(), required=True)
    input_offset = _i32()
    output_offset = _i32()
    requant = attr(Bool(), default=False)
    multiplier = _i32()
    shift = _i32()
    qmin = attr(Int(), default=-128)
    qmax = attr(Int(), default=127)

    def emit(self, e) -> list[str]:
        p = e.params("edgecc_reduce_s8_params_t", [
            ("kind", CRaw(QREDUCE[self.attr("kind")])), ("kept_shape", self.attr("kept_shape")),
            ("kept_strides", self.attr("kept_strides")), ("red_shape", self.attr("red_shape")),
            ("red_strides", self.attr("red_strides")), ("count", self.attr("count")),
            ("input_offset", self.attr("input_offset")), ("output_offset", self.attr("output_offset")),
            ("requant", int(self.attr("requant"))), ("multiplier", self.attr("multiplier")),
            ("shift", self.attr("shift")), ("qmin", self.attr("qmin")), ("qmax", self.attr("qmax"))])
        return [f"{_sized(self.fn, e, self.input)}({p}, {e.ptr(self.input)}, {e.ptr(self.output)});"]


@c.op("resize_bilinear_s8")
class ResizeBilinearS8Op(_Sized, KernelOp):
    """TFLite ResizeBilinearInteger (10 fractional bits per axis)."""

    fn = "edgecc_resize_bilinear_s8"
    input = operand(ANY_TENSOR)
    output = result(ANY_TENSOR)
    rows = attr(IntArray(), required=True, doc="[lower, upper, fraction] per output row")
    cols = attr(IntArray(), required=True)

    def emit(self, e) -> list[str]:
        n, ih, iw, ch = self.input.type.shape
        _, oh, ow, _ = self.output.type.shape
        p = e.params("edgecc_resize_s8_params_t", [
            ("batches", n), ("in_h", ih), ("in_w", iw), ("channels", ch), ("out_h", oh), ("out_w", ow),
            ("rows", CRaw(e.table("int32_t", self.attr("rows")))),
            ("cols", CRaw(e.table("int32_t", self.attr("cols"))))])
        return [f"{_sized(self.fn, e, self.input)}({p}, {e.ptr(self.input)}, {e.ptr(self.output)});"]


@c.op("softmax_s16")
class SoftmaxS16Op(RowsOp):
    """TFLite int16 softmax with its two 513-entry LUTs (output scale 1/32768, zero point 0)."""

    fn = "edgecc_softmax_s16"
    multiplier = _i32()
    shift = _i32()
    exp_lut = attr(IntArray(513), required=True)
    recip_lut = attr(IntArray(513), required=True)

    def emit(self, e) -> list[str]:
        p = e.params("edgecc_softmax_s16_params_t", self.rows_fields() + [
            ("multiplier", self.attr("multiplier")), ("shift", self.attr("shift")),
            ("exp_lut", CRaw(e.table("int16_t", self.attr("exp_lut")))),
            ("recip_lut", CRaw(e.table("int16_t", self.attr("recip_lut"))))])
        return [f"{self.fn}({p}, {e.ptr(self.input)}, {e.ptr(self.output)});"]


@c.op("sigmoid_tanh_s16")
class SigmoidTanhS16Op(KernelOp):
    """TFLite int16 LOGISTIC / TANH (rescaled input, interpolated sigmoid table)."""

    fn = "edgecc_sigmoid_tanh_s16"
    inplace = InPlace((0,))
    input = operand(ANY_TENSOR)
    output = result(ANY_TENSOR)
    tanh = attr(Bool(), default=False)
    multiplier = _i32()
    left_shift = _i32()
    table = attr(IntArray(256), required=True)

    def emit(self, e) -> list[str]:
        p = e.params("edgecc_sigmoid_s16_params_t", [
            ("size", self.input.type.num_elements), ("tanh", int(self.attr("tanh"))),
            ("multiplier", self.attr("multiplier")), ("left_shift", self.attr("left_shift")),
            ("table", CRaw(e.table("int32_t", self.attr("table"))))])
        return [f"{self.fn}({p}, {e.ptr(self.input)}, {e.ptr(self.output)});"]


@c.op("lstm")
class LstmOp(KernelOp):
    """Integer UNIDIRECTIONAL_SEQUENCE_LSTM (``edgecc_lstm``): operands as ``nn.lstm``; h and c are
    copied into the results and updated in place over the sequence."""

    fn = "edgecc_lstm"
    input = operand(ANY_TENSOR)
    weights = operand(ANY_TENSOR, variadic=True, doc="w_i, w_f, w_c, w_o, r_i, r_f, r_c, r_o, "
                      "b_i, b_f, b_c, b_o, h, c")
    output = result(ANY_TENSOR)
    h_out = result(ANY_TENSOR)
    c_out = result(ANY_TENSOR)
    params = attr(IntArray(), required=True, doc="edgecc_lstm_params_t fields after the sizes, in order")
    table = attr(IntArray(256), required=True)
    scratch = attr(Int(), default=0)

    def emit(self, e) -> list[str]:
        ops = self.operands
        v = list(self.attr("params"))
        time_major = bool(v[0])
        steps, batch, n_in = ops[0].type.shape
        if not time_major:
            steps, batch = batch, steps
        n_cell = ops[1].type.shape[0]
        fields = [("steps", steps), ("batch", batch), ("n_in", n_in), ("n_cell", n_cell),
                  ("time_major", int(time_major)), ("wide", v[1]), ("x_offset", v[2]), ("h_offset", v[3])]
        fields += [(name, CRaw("{" + ", ".join(str(x) for x in v[4 + 4 * k:8 + 4 * k]) + "}"))
                   for k, name in enumerate(("in_mult", "in_shift", "rec_mult", "rec_shift"))]
        names = ("forget_mult", "forget_shift", "input_mult", "input_shift", "hidden_mult", "hidden_shift",
                 "h_zero_point", "h_min", "h_max", "tanh_mult", "tanh_shift", "cell_clip")
        fields += list(zip(names, v[20:32]))
        fields.append(("table", CRaw(e.table("int32_t", self.attr("table")))))
        p = e.params("edgecc_lstm_params_t", fields)
        w = ", ".join(e.ptr(x) for x in ops[1:9])
        b = ", ".join(e.ptr(x) for x in ops[9:13])
        return ["{",
                f"    const int8_t *const w[8] = {{{w}}};",
                f"    const void *const b[4] = {{{b}}};",
                f"    {self.fn}({p}, {e.ptr(ops[0])}, w, b, {e.ptr(ops[13])}, {e.ptr(ops[14])}, "
                f"{e.ptr(self.output)}, {e.ptr(self.h_out)}, {e.ptr(self.c_out)}, "
                f"(int16_t *){e.scratch(self)});",
                "}"]


__all__ = ["BinaryS8Op", "Conv2DS8Op", "DepthwiseConv2DS8Op", "FullyConnectedS8Op", "LstmOp", "LutS8Op",
           "MatMulS8Op", "PoolS8Op", "QBINARY", "ReduceS8Op", "RequantizeOp", "ResizeBilinearS8Op",
           "SigmoidTanhS16Op", "SoftmaxS16Op", "SoftmaxS8Op"]
