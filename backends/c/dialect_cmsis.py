"""``c`` ops that call CMSIS-NN (Cortex-M targets).

Each op holds the CMSIS-NN parameter structs' contents as attributes; its
``emit`` writes them as ``static const`` structs (flash) and the call, with a
``cmsis_nn_context`` on the stack pointing at the op's planned scratch in the
arena (or, for Helium fully-connected layers, at precomputed kernel sums in
flash). A CMSIS-NN error status makes ``<prefix>_run`` return
``EDGECC_ERR_KERNEL``.
"""

from __future__ import annotations

from edgecc.analysis.liveness import InPlace
from edgecc.backends.c.dialect import CRaw, KernelOp, c
from edgecc.backends.c.dialect_int import _i32, qadd_attrs
from edgecc.ir.spec import ANY_TENSOR, Int, IntArray, attr, operand, result


def _dims(e, dims) -> str:
    n, h, w, ch = dims
    return e.params("cmsis_nn_dims", [("n", n), ("h", h), ("w", w), ("c", ch)])


def _ctx(e, op, buf: str | None = None) -> str:
    size = int(op.attr("scratch", 0) or 0)
    if buf is not None:
        return f"cmsis_nn_context ctx = {{{buf}, {size}}};"
    ptr = e.scratch(op) if size else "NULL"
    return f"cmsis_nn_context ctx = {{{ptr}, {size}}};"


def _check(call: str) -> list[str]:
    return [f"if ({call} != ARM_CMSIS_NN_SUCCESS) {{", "    return EDGECC_ERR_KERNEL;", "}"]


def _block(lines: list[str]) -> list[str]:
    return ["{"] + ["    " + x for x in lines] + ["}"]


class CmsisOp(KernelOp):
    library = "cmsis-nn"


class _CmsisConv(CmsisOp):
    input = operand(ANY_TENSOR)
    weight = operand(ANY_TENSOR)
    bias = operand(ANY_TENSOR)
    output = result(ANY_TENSOR)
    strides = attr(IntArray(2), default=(1, 1))
    pads = attr(IntArray(4), default=(0, 0, 0, 0))
    dilations = attr(IntArray(2), default=(1, 1))
    groups = attr(Int(), default=1)
    input_offset = _i32()
    output_offset = _i32()
    act_min = attr(Int(), default=-128)
    act_max = attr(Int(), default=127)
    multiplier = attr(IntArray(), required=True)
    shift = attr(IntArray(), required=True)
    scratch = attr(Int(), default=0, doc="ctx buffer bytes (planned in the arena)")

    band_kind = "window"
    params_type: str = "cmsis_nn_conv_params"

    def conv_parts(self, e, extra: list, weight_dims, cout: int) -> tuple[str, str, str, str]:
        """The flash structs of the call: (params, quant params, filter dims, bias dims)."""
        mult = CRaw("(int32_t *)" + e.table("int32_t", self.attr("multiplier")))
        shift = CRaw("(int32_t *)" + e.table("int32_t", self.attr("shift")))
        qp = e.params("cmsis_nn_per_channel_quant_params", [("multiplier", mult), ("shift", shift)])
        sh, sw = self.attr("strides")
        pt, pl, _, _ = self.attr("pads")
        dh, dw = self.attr("dilations")
        p = e.params(self.params_type, [
            ("input_offset", self.attr("input_offset")), ("output_offset", self.attr("output_offset")), *extra,
            ("stride", (sw, sh)), ("padding", (pl, pt)), ("dilation", (dw, dh)),
            ("activation", (self.attr("act_min"), self.attr("act_max")))])
        return p, qp, _dims(e, weight_dims), _dims(e, (1, 1, 1, cout))

    def conv_call(self, e, params_type: str, extra: list, weight_dims, cout: int) -> list[str]:
        """The wrapper call shared by conv and depthwise: ``extra`` params fields go after the offsets."""
        p, qp, wd, bd = self.conv_parts(e, extra, weight_dims, cout)
        call = (f"{self.fn}(&ctx, {p}, {qp}, {_dims(e, self.input.type.shape)}, {e.ptr(self.input)}, "
                f"{wd}, {e.ptr(self.weight)}, {bd}, "
                f"{self.bias_arg(e)}, {_dims(e, self.output.type.shape)}, {e.ptr(self.output)})")
        return _block([_ctx(e, self)] + _check(call))

    def band_call(self, e, in_ptr: str, in_h: str, pad_top: str, out_ptr: str, out_h: str, ctx_ptr: str,
                  side_ptr=None, side_lhs=False) -> list[str]:
        """The same call on a band of rows (``edgecc.backends.c.bands``): this band's top padding
        and heights, the input pointer at its first row."""
        p, qp, wd, bd = self.conv_parts(e, *self.call_shape())
        _, _, iw, ic = self.input.type.shape
        _, _, ow, oc = self.output.type.shape
        it, ot = e.ctype(self.input), e.ctype(self.output)
        call = (f"{self.fn}(&ctx, &bp, {qp}, &bi, (const {it} *){in_ptr}, {wd}, {e.ptr(self.weight)}, {bd}, "
                f"{self.bias_arg(e)}, &bo, ({ot} *){out_ptr})")
        return [f"{self.params_type} bp = *{p};", f"bp.padding.h = {pad_top};",
                f"const cmsis_nn_dims bi = {{1, {in_h}, {iw}, {ic}}};",
                f"const cmsis_nn_dims bo = {{1, {out_h}, {ow}, {oc}}};",
                f"cmsis_nn_context ctx = {{{ctx_ptr}, {int(self.attr('scratch', 0) or 0)}}};"] + _check(call)

    def bias_arg(self, e) -> str:
        """The bias argument of the call (the s16 convolution wraps it in ``cmsis_nn_bias_data``)."""
        return e.ptr(self.bias)


@c.op("arm_convolve_wrapper_s8")
class ArmConvolveWrapperS8Op(_CmsisConv):
    """CMSIS-NN arm_convolve_wrapper_s8 (picks 1x1, 1xN or the im2col kernel)."""

    fn = "arm_convolve_wrapper_s8"
    mac_kind = "conv"

    def call_shape(self) -> tuple[list, tuple, int]:
        cout, kh, kw, cin = self.weight.type.shape
        return [], (cout, kh, kw, cin), cout

    def emit(self, e) -> list[str]:
        return self.conv_call(e, self.params_type, *self.call_shape())


@c.op("arm_depthwise_conv_wrapper_s8")
class ArmDepthwiseConvWrapperS8Op(_CmsisConv):
    """CMSIS-NN arm_depthwise_conv_wrapper_s8 (3x3, optimised or generic depthwise kernel)."""

    fn = "arm_depthwise_conv_wrapper_s8"
    mac_kind = "depthwise"

    params_type = "cmsis_nn_dw_conv_params"

    def call_shape(self) -> tuple[list, tuple, int]:
        _, kh, kw, cout = self.weight.type.shape
        return [("ch_mult", self.attr("groups"))], (1, kh, kw, cout), cout

    def emit(self, e) -> list[str]:
        return self.conv_call(e, self.params_type, *self.call_shape())


@c.op("arm_fully_connected_s8")
class ArmFullyConnectedS8Op(CmsisOp):
    """CMSIS-NN arm_fully_connected_s8 (per tensor) or arm_fully_connected_per_channel_s8."""

    mac_kind = "fully_connected"
    input = operand(ANY_TENSOR)
    weight = operand(ANY_TENSOR)
    bias = operand(ANY_TENSOR)
    output = result(ANY_TENSOR)
    input_offset = _i32()
    output_offset = _i32()
    act_min = attr(Int(), default=-128)
    act_max = attr(Int(), default=127)
    multiplier = attr(IntArray(), required=True)
    shift = attr(IntArray(), required=True)
    kernel_sums = attr(IntArray(), default=(), doc="Helium: arm_vector_sum_s8 of the weights (in flash)")

    def kernel_name(self, plan=None) -> str:
        per_channel = len(self.attr("multiplier")) > 1
        return "arm_fully_connected_per_channel_s8" if per_channel else "arm_fully_connected_s8"

    def emit(self, e) -> list[str]:
        n, k = self.weight.type.shape
        rows = self.input.type.num_elements // max(k, 1)
        fc = e.params("cmsis_nn_fc_params", [
            ("input_offset", self.attr("input_offset")), ("filter_offset", 0),
            ("output_offset", self.attr("output_offset")),
            ("activation", (self.attr("act_min"), self.attr("act_max")))])
        if len(self.attr("multiplier")) > 1:
            mult = CRaw("(int32_t *)" + e.table("int32_t", self.attr("multiplier")))
            shift = CRaw("(int32_t *)" + e.table("int32_t", self.attr("shift")))
            qp = e.params("cmsis_nn_per_channel_quant_params", [("multiplier", mult), ("shift", shift)])
        else:
            qp = e.params("cmsis_nn_per_tensor_quant_params", [
                ("multiplier", self.attr("multiplier")[0]), ("shift", self.attr("shift")[0])])
        sums = self.attr("kernel_sums")
        ctx = (f"cmsis_nn_context ctx = {{(void *){e.table('int32_t', sums)}, {4 * len(sums)}}};" if sums
               else "cmsis_nn_context ctx = {NULL, 0};")
        call = (f"{self.kernel_name()}(&ctx, {fc}, {qp}, {_dims(e, (rows, 1, 1, k))}, {e.ptr(self.input)}, "
                f"{_dims(e, (k, 1, 1, n))}, {e.ptr(self.weight)}, {_dims(e, (1, 1, 1, n))}, "
                f"{e.ptr(self.bias)}, {_dims(e, (rows, 1, 1, n))}, {e.ptr(self.output)})")
        return _block([ctx] + _check(call))


class _CmsisElementwise(CmsisOp):
    inplace = InPlace((0, 1))
    lhs = operand(ANY_TENSOR)
    rhs = operand(ANY_TENSOR)
    output = result(ANY_TENSOR)
    (lhs_offset, rhs_offset, output_offset, left_shift, lhs_mult, lhs_shift, rhs_mult, rhs_shift, out_mult,
     out_shift) = qadd_attrs()
    act_min = attr(Int(), default=-128)
    act_max = attr(Int(), default=127)
    band_kind = "elementwise"

    def emit(self, e) -> list[str]:
        return _check(self.call(e.ptr(self.lhs), e.ptr(self.rhs), e.ptr(self.output),
                                str(self.output.type.num_elements)))

    def band_call(self, e, in_ptr: str, in_h: str, pad_top: str, out_ptr: str, out_h: str, ctx_ptr: str,
                  side_ptr=None, side_lhs=False) -> list[str]:
        """The call on output rows: the chained operand at ``in_ptr``, the residual at ``side_ptr``."""
        row = self.output.type.num_elements // max(self.output.type.shape[1], 1)
        lhs, rhs = (side_ptr, in_ptr) if side_lhs else (in_ptr, side_ptr)
        t = e.ctype(self.output)
        return [f"(void)({in_h}); (void)({pad_top});"] + _check(self.call(
            f"(const {t} *){lhs}", f"(const {t} *){rhs}", f"({t} *){out_ptr}", f"({out_h}) * {row}"))


@c.op("arm_elementwise_add_s8")
class ArmElementwiseAddS8Op(_CmsisElementwise):
    """CMSIS-NN arm_elementwise_add_s8 (same shapes)."""

    fn = "arm_elementwise_add_s8"

    def call(self, lhs: str, rhs: str, out: str, count: str) -> str:
        a = self.attr
        return (f"{self.fn}({lhs}, {rhs}, {a('lhs_offset')}, {a('lhs_mult')}, "
                f"{a('lhs_shift')}, {a('rhs_offset')}, {a('rhs_mult')}, {a('rhs_shift')}, {a('left_shift')}, "
                f"{out}, {a('output_offset')}, {a('out_mult')}, {a('out_shift')}, "
                f"{a('act_min')}, {a('act_max')}, {count})")


@c.op("arm_elementwise_mul_s8")
class ArmElementwiseMulS8Op(_CmsisElementwise):
    """CMSIS-NN arm_elementwise_mul_s8 (same shapes)."""

    fn = "arm_elementwise_mul_s8"

    def call(self, lhs: str, rhs: str, out: str, count: str) -> str:
        a = self.attr
        return (f"{self.fn}({lhs}, {rhs}, {a('lhs_offset')}, {a('rhs_offset')}, "
                f"{out}, {a('output_offset')}, {a('out_mult')}, {a('out_shift')}, "
                f"{a('act_min')}, {a('act_max')}, {count})")


@c.op("arm_pool_s8")
class ArmPoolS8Op(CmsisOp):
    """CMSIS-NN arm_avgpool_s8 / arm_max_pool_s8."""

    input = operand(ANY_TENSOR)
    output = result(ANY_TENSOR)
    avg = attr(Int(), default=1, doc="1: average, 0: max")
    kernel = attr(IntArray(2), required=True)
    strides = attr(IntArray(2), default=(1, 1))
    pads = attr(IntArray(4), default=(0, 0, 0, 0))
    act_min = attr(Int(), default=-128)
    act_max = attr(Int(), default=127)
    scratch = attr(Int(), default=0)

    def kernel_name(self, plan=None) -> str:
        return "arm_avgpool_s8" if self.attr("avg") else "arm_max_pool_s8"

    band_kind = "window"

    def _params(self, e) -> str:
        sh, sw = self.attr("strides")
        pt, pl, _, _ = self.attr("pads")
        return e.params("cmsis_nn_pool_params", [
            ("stride", (sw, sh)), ("padding", (pl, pt)), ("activation", (self.attr("act_min"), self.attr("act_max")))])

    def emit(self, e) -> list[str]:
        kh, kw = self.attr("kernel")
        call = (f"{self.kernel_name()}(&ctx, {self._params(e)}, {_dims(e, self.input.type.shape)}, "
                f"{e.ptr(self.input)}, {_dims(e, (1, kh, kw, 1))}, {_dims(e, self.output.type.shape)}, "
                f"{e.ptr(self.output)})")
        return _block([_ctx(e, self)] + _check(call))

    def band_call(self, e, in_ptr: str, in_h: str, pad_top: str, out_ptr: str, out_h: str, ctx_ptr: str,
                  side_ptr=None, side_lhs=False) -> list[str]:
        """The call on a band of rows (see ``_CmsisConv.band_call``)."""
        kh, kw = self.attr("kernel")
        _, _, iw, ch = self.input.type.shape
        _, _, ow, _ = self.output.type.shape
        t = e.ctype(self.output)
        call = (f"{self.kernel_name()}(&ctx, &bp, &bi, (const {t} *){in_ptr}, {_dims(e, (1, kh, kw, 1))}, "
                f"&bo, ({t} *){out_ptr})")
        return [f"cmsis_nn_pool_params bp = *{self._params(e)};", f"bp.padding.h = {pad_top};",
                f"const cmsis_nn_dims bi = {{1, {in_h}, {iw}, {ch}}};",
                f"const cmsis_nn_dims bo = {{1, {out_h}, {ow}, {ch}}};",
                f"cmsis_nn_context ctx = {{{ctx_ptr}, {int(self.attr('scratch', 0) or 0)}}};"] + _check(call)


class _CmsisSoftmax(CmsisOp):
    """What the s8 and s16 softmax calls share: rows of ``row_size`` and the input multiplier."""

    input = operand(ANY_TENSOR)
    output = result(ANY_TENSOR)
    rows = attr(Int(), required=True)
    row_size = attr(Int(), required=True)
    multiplier = _i32()
    shift = _i32()


@c.op("arm_softmax_s8")
class ArmSoftmaxS8Op(_CmsisSoftmax):
    """CMSIS-NN arm_softmax_s8 over the last axis (TFLM bit-accurate)."""

    fn = "arm_softmax_s8"
    diff_min = _i32()

    def emit(self, e) -> list[str]:
        a = self.attr
        return [f"{self.fn}({e.ptr(self.input)}, {a('rows')}, {a('row_size')}, {a('multiplier')}, {a('shift')}, "
                f"{a('diff_min')}, {e.ptr(self.output)});"]


__all__ = ["ArmConvolveWrapperS8Op", "ArmDepthwiseConvWrapperS8Op", "ArmElementwiseAddS8Op",
           "ArmElementwiseMulS8Op", "ArmFullyConnectedS8Op", "ArmPoolS8Op", "ArmSoftmaxS8Op", "CmsisOp"]
