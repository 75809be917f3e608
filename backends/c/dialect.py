"""The ``c`` dialect: one op per kernel call of the generated C.

Every op carries, as attributes, all the parameters its kernel needs that are
not visible in its operand and result types (window geometry, collapsed
broadcast strides, activation bounds, precomputed index tables ...), so the
emitter only formats: ``op.emit(e)`` returns the C statements of the call,
using ``e`` (an ``edgecc.backends.c.emitter.Emitter``) to name tensors
(``e.ptr``), declare constant parameter structs and tables in flash
(``e.params``, ``e.table``) and find scratch memory (``e.scratch``).

Ops that may write their result over an operand declare ``inplace`` (an
``edgecc.analysis.liveness.InPlace``); the memory planner reads it. Integer
(int8/int16) ops live in ``edgecc.backends.c.dialect_int``.
"""

from __future__ import annotations

import math
from typing import ClassVar

from edgecc.analysis.liveness import InPlace
from edgecc.ir.spec import (
    ANY_TENSOR,
    Bool,
    Dialect,
    Float,
    FloatArray,
    Int,
    IntArray,
    Op,
    Str,
    attr,
    operand,
    result,
)

c = Dialect("c", "Kernel calls of the generated C (one op per call, parameters precomputed).")

INF = math.inf


class CRaw(str):
    """A C expression emitted verbatim (enum constants, addresses)."""


class KernelOp(Op):
    """Base of ``c`` ops: ``fn`` is the C function, ``library`` "edgecc" or "cmsis-nn"."""

    fn: ClassVar[str] = ""
    library: ClassVar[str] = "edgecc"
    inplace: ClassVar[InPlace | None] = None
    traits = {"Pure"}

    def emit(self, e) -> list[str]:  # pragma: no cover - every op overrides
        raise NotImplementedError(self.name)

    def kernel_name(self, plan=None) -> str:
        """The C function(s) called, for the report (``plan`` tells in-place variants)."""
        return self.fn


def _act():
    return attr(Float(), default=-INF), attr(Float(), default=INF)


def _shape6():
    return attr(IntArray(6), required=True)


class RowsOp(KernelOp):
    """Base of ops over the middle dim of [outer][axis][inner] (softmax, any element type)."""

    inplace = InPlace((0,))
    input = operand(ANY_TENSOR)
    output = result(ANY_TENSOR)
    outer = attr(Int(), required=True)
    axis_size = attr(Int(), required=True)
    inner = attr(Int(), required=True)

    def rows_fields(self) -> list:
        return [("outer", self.attr("outer")), ("axis", self.attr("axis_size")), ("inner", self.attr("inner"))]


class PoolOp(KernelOp):
    """Base of NHWC pooling ops: the window geometry and its kernel parameter fields."""

    input = operand(ANY_TENSOR)
    output = result(ANY_TENSOR)
    kind = attr(Str("avg", "max"), required=True)
    kernel = attr(IntArray(2), required=True)
    strides = attr(IntArray(2), default=(1, 1))
    pads = attr(IntArray(4), default=(0, 0, 0, 0))

    def window_fields(self) -> list:
        """The fields of ``edgecc_pool_{f32,s8}_params_t`` (activation bounds last)."""
        n, ih, iw, ch = self.input.type.shape
        _, oh, ow, _ = self.output.type.shape
        kh, kw = self.attr("kernel")
        sh, sw = self.attr("strides")
        pt, pl, _, _ = self.attr("pads")
        return [("batches", n), ("in_h", ih), ("in_w", iw), ("channels", ch), ("out_h", oh), ("out_w", ow),
                ("k_h", kh), ("k_w", kw), ("stride_h", sh), ("stride_w", sw), ("pad_top", pt), ("pad_left", pl),
                ("act_min", self.attr("act_min")), ("act_max", self.attr("act_max"))]


# ------------------------------------------------------------------------ convolution
class ConvOp(KernelOp):
    """Base of NHWC convolutions (float and integer): operands and window geometry."""

    input = operand(ANY_TENSOR)
    weight = operand(ANY_TENSOR)
    bias = operand(ANY_TENSOR, optional=True)
    output = result(ANY_TENSOR)
    strides = attr(IntArray(2), default=(1, 1))
    pads = attr(IntArray(4), default=(0, 0, 0, 0))
    dilations = attr(IntArray(2), default=(1, 1))
    groups = attr(Int(), default=1, doc="conv2d: channel groups; depthwise: depth multiplier")


class _ConvF32(ConvOp):
    act_min, act_max = _act()

    def emit(self, e) -> list[str]:
        n, ih, iw, ic = self.input.type.shape
        _, oh, ow, oc = self.output.type.shape
        kh, kw = self.weight.type.shape[1:3]
        sh, sw = self.attr("strides")
        pt, pl, _, _ = self.attr("pads")
        dh, dw = self.attr("dilations")
        p = e.params("edgecc_conv_f32_params_t", [
            ("batches", n), ("in_h", ih), ("in_w", iw), ("in_c", ic), ("out_h", oh), ("out_w", ow),
            ("out_c", oc), ("k_h", kh), ("k_w", kw), ("stride_h", sh), ("stride_w", sw), ("pad_top", pt),
            ("pad_left", pl), ("dil_h", dh), ("dil_w", dw), ("groups", self.attr("groups")),
            ("act_min", self.attr("act_min")), ("act_max", self.attr("act_max"))])
        bias = e.ptr(self.bias) if self.bias is not None else "NULL"
        return [f"{self.fn}({p}, {e.ptr(self.input)}, {e.ptr(self.weight)}, {bias}, {e.ptr(self.output)});"]


@c.op("conv2d_f32")
class Conv2DF32Op(_ConvF32):
    """float32 NHWC convolution, OHWI weights (edgecc_conv2d_f32)."""

    fn = "edgecc_conv2d_f32"


@c.op("depthwise_conv2d_f32")
class DepthwiseConv2DF32Op(_ConvF32):
    """float32 NHWC depthwise convolution, [1,KH,KW,C*M] weights (edgecc_depthwise_conv2d_f32)."""

    fn = "edgecc_depthwise_conv2d_f32"


@c.op("fully_connected_f32")
class FullyConnectedF32Op(KernelOp):
    """y = x @ W^T + b over the last axis (edgecc_fully_connected_f32)."""

    fn = "edgecc_fully_connected_f32"
    input = operand(ANY_TENSOR)
    weight = operand(ANY_TENSOR)
    bias = operand(ANY_TENSOR, optional=True)
    output = result(ANY_TENSOR)
    act_min, act_max = _act()

    def emit(self, e) -> list[str]:
        n, k = self.weight.type.shape
        rows = self.input.type.num_elements // max(k, 1)
        p = e.params("edgecc_fc_f32_params_t", [
            ("rows", rows), ("in_features", k), ("out_features", n),
            ("act_min", self.attr("act_min")), ("act_max", self.attr("act_max"))])
        bias = e.ptr(self.bias) if self.bias is not None else "NULL"
        return [f"{self.fn}({p}, {e.ptr(self.input)}, {e.ptr(self.weight)}, {bias}, {e.ptr(self.output)});"]


@c.op("matmul_f32")
class MatMulF32Op(KernelOp):
    """Batched [m,k] @ [k,n] with per-batch matrix offsets (broadcast batches) (edgecc_matmul_f32)."""

    fn = "edgecc_matmul_f32"
    a = operand(ANY_TENSOR)
    b = operand(ANY_TENSOR)
    output = result(ANY_TENSOR)
    m = attr(Int(), required=True)
    k = attr(Int(), required=True)
    n = attr(Int(), required=True)
    a_offsets = attr(IntArray(), required=True)
    b_offsets = attr(IntArray(), required=True)

    def emit(self, e) -> list[str]:
        ao = e.table("int32_t", self.attr("a_offsets"))
        bo = e.table("int32_t", self.attr("b_offsets"))
        p = e.params("edgecc_matmul_f32_params_t", [
            ("batches", len(self.attr("a_offsets"))), ("m", self.attr("m")), ("k", self.attr("k")),
            ("n", self.attr("n")), ("a_offsets", CRaw(ao)), ("b_offsets", CRaw(bo))])
        return [f"{self.fn}({p}, {e.ptr(self.a)}, {e.ptr(self.b)}, {e.ptr(self.output)});"]


# ------------------------------------------------------------------------ elementwise
BINARY_KINDS = {"add": "EDGECC_ADD", "sub": "EDGECC_SUB", "mul": "EDGECC_MUL", "div": "EDGECC_DIV",
                "maximum": "EDGECC_MAX", "minimum": "EDGECC_MIN", "pow": "EDGECC_POW",
                "prelu": "EDGECC_PRELU"}
UNARY_KINDS = {"relu": "EDGECC_RELU", "clamp": "EDGECC_CLAMP", "sigmoid": "EDGECC_SIGMOID",
               "tanh": "EDGECC_TANH", "hard_swish": "EDGECC_HARD_SWISH",
               "hard_sigmoid": "EDGECC_HARD_SIGMOID", "leaky_relu": "EDGECC_LEAKY_RELU", "exp": "EDGECC_EXP",
               "log": "EDGECC_LOG", "sqrt": "EDGECC_SQRT", "rsqrt": "EDGECC_RSQRT", "abs": "EDGECC_ABS",
               "neg": "EDGECC_NEG", "erf": "EDGECC_ERF"}


@c.op("binary_f32")
class BinaryF32Op(KernelOp):
    """Broadcasting binary op over 6 collapsed dims with per-operand element strides (0 = broadcast)."""

    fn = "edgecc_binary_f32"
    inplace = InPlace((0, 1))
    lhs = operand(ANY_TENSOR)
    rhs = operand(ANY_TENSOR)
    output = result(ANY_TENSOR)
    kind = attr(Str(*BINARY_KINDS), required=True)
    shape = _shape6()
    lhs_strides = _shape6()
    rhs_strides = _shape6()
    act_min, act_max = _act()

    def emit(self, e) -> list[str]:
        p = e.params("edgecc_binary_f32_params_t", [
            ("kind", CRaw(BINARY_KINDS[self.attr("kind")])), ("rank", 6), ("shape", self.attr("shape")),
            ("a_strides", self.attr("lhs_strides")), ("b_strides", self.attr("rhs_strides")),
            ("act_min", self.attr("act_min")), ("act_max", self.attr("act_max"))])
        return [f"{self.fn}({p}, {e.ptr(self.lhs)}, {e.ptr(self.rhs)}, {e.ptr(self.output)});"]


@c.op("unary_f32")
class UnaryF32Op(KernelOp):
    """Elementwise activation/math (alpha/beta: clamp bounds, leaky/hard-sigmoid factors)."""

    fn = "edgecc_unary_f32"
    inplace = InPlace((0,))
    input = operand(ANY_TENSOR)
    output = result(ANY_TENSOR)
    kind = attr(Str(*UNARY_KINDS), required=True)
    alpha = attr(Float(), default=0.0)
    beta = attr(Float(), default=0.0)

    def emit(self, e) -> list[str]:
        p = e.params("edgecc_unary_f32_params_t", [
            ("kind", CRaw(UNARY_KINDS[self.attr("kind")])), ("size", self.input.type.num_elements),
            ("alpha", self.attr("alpha")), ("beta", self.attr("beta"))])
        return [f"{self.fn}({p}, {e.ptr(self.input)}, {e.ptr(self.output)});"]


@c.op("softmax_f32")
class SoftmaxF32Op(RowsOp):
    """softmax (or log_softmax when log) over the middle dim of [outer][axis][inner]."""

    fn = "edgecc_softmax_f32"
    beta = attr(Float(), default=1.0)
    log = attr(Bool(), default=False)

    def emit(self, e) -> list[str]:
        p = e.params("edgecc_softmax_f32_params_t", self.rows_fields() + [
            ("beta", self.attr("beta")), ("log", int(self.attr("log")))])
        return [f"{self.fn}({p}, {e.ptr(self.input)}, {e.ptr(self.output)});"]


@c.op("lrn_f32")
class LRNF32Op(KernelOp):
    """Local response normalisation across the channels of NHWC."""

    fn = "edgecc_lrn_f32"
    input = operand(ANY_TENSOR)
    output = result(ANY_TENSOR)
    size = attr(Int(), required=True)
    alpha = attr(Float(), required=True)
    beta = attr(Float(), required=True)
    bias = attr(Float(), required=True)

    def emit(self, e) -> list[str]:
        ch = self.input.type.shape[-1]
        p = e.params("edgecc_lrn_f32_params_t", [
            ("outer", self.input.type.num_elements // max(ch, 1)), ("channels", ch),
            ("size", self.attr("size")), ("alpha", self.attr("alpha")), ("beta", self.attr("beta")),
            ("bias", self.attr("bias"))])
        return [f"{self.fn}({p}, {e.ptr(self.input)}, {e.ptr(self.output)});"]


# ------------------------------------------------------------------------- pools, reduce
@c.op("pool_f32")
class PoolF32Op(PoolOp):
    """avg (padding excluded from the count) or max pooling over NHWC."""

    act_min, act_max = _act()

    def kernel_name(self, plan=None) -> str:
        return f"edgecc_{self.attr('kind')}_pool_f32"

    def emit(self, e) -> list[str]:
        p = e.params("edgecc_pool_f32_params_t", self.window_fields())
        return [f"{self.kernel_name()}({p}, {e.ptr(self.input)}, {e.ptr(self.output)});"]


REDUCE_KINDS = {"sum": "EDGECC_REDUCE_SUM", "mean": "EDGECC_REDUCE_MEAN", "max": "EDGECC_REDUCE_MAX",
                "min": "EDGECC_REDUCE_MIN"}


@c.op("reduce_f32")
class ReduceF32Op(KernelOp):
    """Reduction over collapsed input dims; out_strides is 0 on reduced dims."""

    fn = "edgecc_reduce_f32"
    input = operand(ANY_TENSOR)
    output = result(ANY_TENSOR)
    kind = attr(Str(*REDUCE_KINDS), required=True)
    shape = _shape6()
    out_strides = _shape6()
    count = attr(Int(), required=True)

    def emit(self, e) -> list[str]:
        p = e.params("edgecc_reduce_f32_params_t", [
            ("kind", CRaw(REDUCE_KINDS[self.attr("kind")])), ("rank", 6), ("shape", self.attr("shape")),
            ("out_strides", self.attr("out_strides")), ("out_size", self.output.type.num_elements),
            ("count", self.attr("count"))])
        return [f"{self.fn}({p}, {e.ptr(self.input)}, {e.ptr(self.output)});"]


# ----------------------------------------------------------------------- data movement
def contiguous_strides(shape) -> tuple[int, ...]:
    out, s = [], 1
    for d in reversed(tuple(shape)):
        out.append(s)
        s *= d
    return tuple(reversed(out))


def _copy_params(e, elem: int, shape, src_strides, src_offset: int, dst_strides=None, dst_offset: int = 0):
    return e.params("edgecc_copy_params_t", [
        ("elem_size", elem), ("rank", 6), ("shape", tuple(shape)), ("src_strides", tuple(src_strides)),
        ("dst_strides", tuple(dst_strides if dst_strides is not None else contiguous_strides(shape))),
        ("src_offset", src_offset), ("dst_offset", dst_offset)])


@c.op("copy")
class CopyOp(KernelOp):
    """Same bytes in a new shape (reshape): an alias of the operand when planned so, else a copy."""

    fn = "edgecc_copy"
    inplace = InPlace((0,), alias=True)
    input = operand(ANY_TENSOR)
    output = result(ANY_TENSOR)

    def kernel_name(self, plan=None) -> str:
        return "alias (no code)" if plan is not None and plan.reuses(self) is not None else self.fn

    def emit(self, e) -> list[str]:
        if e.same_memory(self.input, self.output):
            return [f"/* {e.ptr(self.output, typed=False)} aliases its input: no code */"]
        return [f"{self.fn}({e.ptr(self.input)}, {e.ptr(self.output)}, {self.input.type.nbytes}u);"]


@c.op("copy_nd")
class CopyNDOp(KernelOp):
    """Strided gather of a 6-d box into a contiguous result (transpose, slice)."""

    fn = "edgecc_copy_nd"
    input = operand(ANY_TENSOR)
    output = result(ANY_TENSOR)
    shape = _shape6()
    src_strides = _shape6()
    src_offset = attr(Int(), default=0)

    def emit(self, e) -> list[str]:
        p = _copy_params(e, e.elem_size(self.input), self.attr("shape"), self.attr("src_strides"),
                         self.attr("src_offset"))
        return [f"{self.fn}({p}, {e.ptr(self.input)}, {e.ptr(self.output)});"]


@c.op("concat")
class ConcatOp(KernelOp):
    """Concatenation as [outer][axis*inner] pieces, one strided copy per input."""

    fn = "edgecc_copy_nd"
    inputs = operand(ANY_TENSOR, variadic=True)
    output = result(ANY_TENSOR)
    outer = attr(Int(), required=True)
    inner = attr(Int(), required=True)

    def emit(self, e) -> list[str]:
        outer, inner = self.attr("outer"), self.attr("inner")
        total = self.output.type.num_elements // max(outer, 1)
        lines, off = [], 0
        for v in self.inputs:
            block = v.type.num_elements // max(outer, 1)
            if block == 0:
                continue
            p = _copy_params(e, e.elem_size(v), (1, 1, 1, 1, outer, block), (0, 0, 0, 0, block, 1), 0,
                             (0, 0, 0, 0, total, 1), off)
            lines.append(f"{self.fn}({p}, {e.ptr(v)}, {e.ptr(self.output)});")
            off += block
        return lines


@c.op("split")
class SplitOp(KernelOp):
    """Split as [outer][axis*inner] pieces, one strided copy per result."""

    fn = "edgecc_copy_nd"
    input = operand(ANY_TENSOR)
    outputs = result(ANY_TENSOR, variadic=True)
    outer = attr(Int(), required=True)
    inner = attr(Int(), required=True)

    def emit(self, e) -> list[str]:
        outer = self.attr("outer")
        total = self.input.type.num_elements // max(outer, 1)
        lines, off = [], 0
        for r in self.outputs:
            block = r.type.num_elements // max(outer, 1)
            if block and e.has(r):
                p = _copy_params(e, e.elem_size(r), (1, 1, 1, 1, outer, block), (0, 0, 0, 0, total, 1), off)
                lines.append(f"{self.fn}({p}, {e.ptr(self.input)}, {e.ptr(r)});")
            off += block
        return lines


PAD_MODES = {"constant": "EDGECC_PAD_CONSTANT", "reflect": "EDGECC_PAD_REFLECT", "edge": "EDGECC_PAD_EDGE"}


@c.op("pad")
class PadOp(KernelOp):
    """N-d padding (constant fill given as the stored value, reflect, edge)."""

    fn = "edgecc_pad"
    input = operand(ANY_TENSOR)
    output = result(ANY_TENSOR)
    in_shape = _shape6()
    out_shape = _shape6()
    begin = _shape6()
    mode = attr(Str(*PAD_MODES), default="constant")
    value = attr(Float(), default=0.0, doc="fill, in the stored element type (quantized: the integer)")

    def emit(self, e) -> list[str]:
        fill = e.table(e.ctype(self.input), [self.attr("value")])
        p = e.params("edgecc_pad_params_t", [
            ("elem_size", e.elem_size(self.input)), ("rank", 6), ("in_shape", self.attr("in_shape")),
            ("out_shape", self.attr("out_shape")), ("begin", self.attr("begin")),
            ("mode", CRaw(PAD_MODES[self.attr("mode")])), ("value", CRaw(fill))])
        return [f"{self.fn}({p}, {e.ptr(self.input)}, {e.ptr(self.output)});"]


@c.op("gather")
class GatherOp(KernelOp):
    """Gather along an axis of [outer][axis][inner] (indices: a constant int32 table or a tensor)."""

    fn = "edgecc_gather"
    data = operand(ANY_TENSOR)
    indices = operand(ANY_TENSOR)
    output = result(ANY_TENSOR)
    outer = attr(Int(), required=True)
    axis_size = attr(Int(), required=True)
    inner = attr(Int(), required=True)

    def emit(self, e) -> list[str]:
        p = e.params("edgecc_gather_params_t", [
            ("elem_size", e.elem_size(self.data)), ("outer", self.attr("outer")),
            ("axis", self.attr("axis_size")), ("inner", self.attr("inner")),
            ("count", self.indices.type.num_elements), ("index_bits", self.indices.type.element.bits)])
        return [f"{self.fn}({p}, {e.ptr(self.data)}, {e.ptr(self.indices)}, {e.ptr(self.output)});"]


@c.op("resize")
class ResizeOp(KernelOp):
    """NHWC resize from precomputed source rows/columns (bilinear: pairs and weights)."""

    input = operand(ANY_TENSOR)
    output = result(ANY_TENSOR)
    mode = attr(Str("nearest", "bilinear"), required=True)
    rows = attr(IntArray(), required=True)
    cols = attr(IntArray(), required=True)
    row_weights = attr(FloatArray(), default=())
    col_weights = attr(FloatArray(), default=())

    def kernel_name(self, plan=None) -> str:
        return "edgecc_resize_nearest" if self.attr("mode") == "nearest" else "edgecc_resize_bilinear_f32"

    def emit(self, e) -> list[str]:
        n, ih, iw, ch = self.input.type.shape
        _, oh, ow, _ = self.output.type.shape
        bil = self.attr("mode") == "bilinear"
        fields = [("elem_size", e.elem_size(self.input)), ("batches", n), ("in_h", ih), ("in_w", iw),
                  ("channels", ch), ("out_h", oh), ("out_w", ow),
                  ("rows", CRaw(e.table("int32_t", self.attr("rows")))),
                  ("cols", CRaw(e.table("int32_t", self.attr("cols"))))]
        if bil:
            fields += [("row_w", CRaw(e.table("float", self.attr("row_weights")))),
                       ("col_w", CRaw(e.table("float", self.attr("col_weights"))))]
        p = e.params("edgecc_resize_params_t", fields)
        return [f"{self.kernel_name()}({p}, {e.ptr(self.input)}, {e.ptr(self.output)});"]


# ---------------------------------------------------------------- casts, quantization
@c.op("cast")
class CastOp(KernelOp):
    """Element conversion between plain types (float -> int truncates)."""

    fn = "edgecc_cast"
    inplace = InPlace((0,))
    input = operand(ANY_TENSOR)
    output = result(ANY_TENSOR)

    def emit(self, e) -> list[str]:
        p = e.params("edgecc_cast_params_t", [
            ("size", self.input.type.num_elements), ("from", CRaw(e.dtype_enum(self.input))),
            ("to", CRaw(e.dtype_enum(self.output)))])
        return [f"{self.fn}({p}, {e.ptr(self.input)}, {e.ptr(self.output)});"]


class _QuantF32(KernelOp):
    input = operand(ANY_TENSOR)
    output = result(ANY_TENSOR)
    scale = attr(Float(), required=True)
    zero_point = attr(Int(), required=True)
    qmin = attr(Int(), default=-128)
    qmax = attr(Int(), default=127)
    bits = attr(Int(), default=8)

    def emit(self, e) -> list[str]:
        p = e.params("edgecc_quant_params_t", [
            ("size", self.input.type.num_elements), ("bits", self.attr("bits")), ("scale", self.attr("scale")),
            ("zero_point", self.attr("zero_point")), ("qmin", self.attr("qmin")), ("qmax", self.attr("qmax"))])
        return [f"{self.fn}({p}, {e.ptr(self.input)}, {e.ptr(self.output)});"]


@c.op("quantize_f32")
class QuantizeF32Op(_QuantF32):
    """float32 -> int8/int16: saturate(round_half_away(x / scale) + zero_point) (TFLite QUANTIZE)."""

    fn = "edgecc_quantize_f32"


@c.op("dequantize_f32")
class DequantizeF32Op(_QuantF32):
    """int8/int16 -> float32: (q - zero_point) * scale."""

    fn = "edgecc_dequantize_f32"


__all__ = ["BINARY_KINDS", "CRaw", "ConvOp", "KernelOp", "PoolOp", "RowsOp", "UNARY_KINDS", "c",
           "contiguous_strides"]
