"""``c`` ops that call CMSIS-NN's int16x8 (``_s16``) and int4-weight (``_s4``) kernels.

They reuse the int8 op classes of ``edgecc.backends.c.dialect_cmsis`` (same
parameter structs and call shapes; convolutions go through
``_CmsisConv.conv_call``) and differ only in the function called and, for
the s16 convolution, the ``cmsis_nn_bias_data`` wrapper around the int64
bias. The ``_s4`` ops take their weights packed two per byte
(``edgecc.backends.c.packing``). ``edgecc.backends.c.lower_cmsis16`` decides
where they are bit-exact with the integer reference.
"""

from __future__ import annotations

from edgecc.backends.c.dialect import CRaw, c
from edgecc.backends.c.dialect_cmsis import (
    ArmConvolveWrapperS8Op,
    ArmDepthwiseConvWrapperS8Op,
    ArmElementwiseAddS8Op,
    ArmElementwiseMulS8Op,
    ArmFullyConnectedS8Op,
    ArmPoolS8Op,
    _block,
    _check,
    _ctx,
    _dims,
    _CmsisConv,
    _CmsisSoftmax,
)
from edgecc.ir.spec import Int, IntArray, attr


@c.op("arm_convolve_wrapper_s16")
class ArmConvolveWrapperS16Op(ArmConvolveWrapperS8Op):
    """CMSIS-NN arm_convolve_wrapper_s16 (int16 activations, int8 weights, int64 bias)."""

    fn = "arm_convolve_wrapper_s16"

    def bias_arg(self, e) -> str:
        return e.params("cmsis_nn_bias_data", [("data", CRaw(e.ptr(self.bias))), ("is_int32_bias", 0)])


@c.op("arm_depthwise_conv_wrapper_s16")
class ArmDepthwiseConvWrapperS16Op(ArmDepthwiseConvWrapperS8Op):
    """CMSIS-NN arm_depthwise_conv_wrapper_s16 (fast kernel for ch_mult 1, else the generic one)."""

    fn = "arm_depthwise_conv_wrapper_s16"


@c.op("arm_fully_connected_s16")
class ArmFullyConnectedS16Op(ArmFullyConnectedS8Op):
    """CMSIS-NN arm_fully_connected_s16 (per-tensor multiplier, int64 bias)."""

    def kernel_name(self, plan=None) -> str:
        return "arm_fully_connected_s16"


@c.op("arm_elementwise_add_s16")
class ArmElementwiseAddS16Op(ArmElementwiseAddS8Op):
    """CMSIS-NN arm_elementwise_add_s16 (same shapes; offsets unused: zero points 0)."""

    fn = "arm_elementwise_add_s16"


@c.op("arm_elementwise_mul_s16")
class ArmElementwiseMulS16Op(ArmElementwiseMulS8Op):
    """CMSIS-NN arm_elementwise_mul_s16 (same shapes; offsets unused: zero points 0)."""

    fn = "arm_elementwise_mul_s16"


@c.op("arm_pool_s16")
class ArmPoolS16Op(ArmPoolS8Op):
    """CMSIS-NN arm_avgpool_s16 / arm_max_pool_s16."""

    def kernel_name(self, plan=None) -> str:
        return "arm_avgpool_s16" if self.attr("avg") else "arm_max_pool_s16"


@c.op("arm_softmax_s16")
class ArmSoftmaxS16Op(_CmsisSoftmax):
    """CMSIS-NN arm_softmax_s16 over the last axis with TFLite's exp and 1/(1+x) LUTs."""

    fn = "arm_softmax_s16"
    exp_lut = attr(IntArray(513), required=True)
    recip_lut = attr(IntArray(513), required=True)

    def emit(self, e) -> list[str]:
        a = self.attr
        luts = e.params("cmsis_nn_softmax_lut_s16", [
            ("exp_lut", CRaw(e.table("int16_t", a("exp_lut")))),
            ("one_by_one_lut", CRaw(e.table("int16_t", a("recip_lut"))))])
        return _check(f"{self.fn}({e.ptr(self.input)}, {a('rows')}, {a('row_size')}, {a('multiplier')}, "
                      f"{a('shift')}, {luts}, {e.ptr(self.output)})")


@c.op("arm_convolve_wrapper_s4")
class ArmConvolveWrapperS4Op(ArmConvolveWrapperS8Op):
    """CMSIS-NN arm_convolve_wrapper_s4 (int8 activations, packed int4 weights)."""

    fn = "arm_convolve_wrapper_s4"


@c.op("arm_depthwise_conv_wrapper_s4")
class ArmDepthwiseConvWrapperS4Op(ArmDepthwiseConvWrapperS8Op):
    """CMSIS-NN arm_depthwise_conv_wrapper_s4 (packed int4 weights; batch 1)."""

    fn = "arm_depthwise_conv_wrapper_s4"


@c.op("arm_depthwise_conv_s4")
class ArmDepthwiseConvS4Op(ArmDepthwiseConvWrapperS4Op):
    """CMSIS-NN's generic arm_depthwise_conv_s4 (plain C, no scratch), called directly on Helium:
    there the wrapper's optimised kernel did not match CMSIS-NN's own C result (see
    ``lower_cmsis16``)."""

    fn = "arm_depthwise_conv_s4"


@c.op("arm_fully_connected_s4")
class ArmFullyConnectedS4Op(ArmFullyConnectedS8Op):
    """CMSIS-NN arm_fully_connected_s4 (per-tensor multiplier, packed int4 weights)."""

    def kernel_name(self, plan=None) -> str:
        return "arm_fully_connected_s4"


@c.op("arm_fully_connected_conv")
class ArmFullyConnectedConvOp(_CmsisConv):
    """A per-channel dense layer as a 1x1 convolution over ``rows`` pixels
    (``arm_convolve_wrapper_s4`` / ``_s16``): CMSIS-NN's s4 and s16 dense kernels take one
    multiplier only; TFLite's int4 writer makes the same rewrite."""

    mac_kind = "fully_connected"
    band_kind = None  # a dense layer: no rows to band
    wrapper = attr(Int(), default=4, doc="4: arm_convolve_wrapper_s4, 16: arm_convolve_wrapper_s16")

    def kernel_name(self, plan=None) -> str:
        return f"arm_convolve_wrapper_s{self.attr('wrapper')}"

    def emit(self, e) -> list[str]:
        n, k = self.weight.type.shape
        rows = self.input.type.num_elements // max(k, 1)
        mult = CRaw("(int32_t *)" + e.table("int32_t", self.attr("multiplier")))
        shift = CRaw("(int32_t *)" + e.table("int32_t", self.attr("shift")))
        qp = e.params("cmsis_nn_per_channel_quant_params", [("multiplier", mult), ("shift", shift)])
        p = e.params("cmsis_nn_conv_params", [
            ("input_offset", self.attr("input_offset")), ("output_offset", self.attr("output_offset")),
            ("stride", (1, 1)), ("padding", (0, 0)), ("dilation", (1, 1)),
            ("activation", (self.attr("act_min"), self.attr("act_max")))])
        s16 = self.attr("wrapper") == 16
        bias = (e.params("cmsis_nn_bias_data", [("data", CRaw(e.ptr(self.bias))), ("is_int32_bias", 0)]) if s16
                else e.ptr(self.bias))
        call = (f"{self.kernel_name()}(&ctx, {p}, {qp}, {_dims(e, (1, rows, 1, k))}, {e.ptr(self.input)}, "
                f"{_dims(e, (n, 1, 1, k))}, {e.ptr(self.weight)}, {_dims(e, (1, 1, 1, n))}, {bias}, "
                f"{_dims(e, (1, rows, 1, n))}, {e.ptr(self.output)})")
        return _block([_ctx(e, self)] + _check(call))


__all__ = [
    "ArmConvolveWrapperS4Op",
    "ArmConvolveWrapperS16Op",
    "ArmDepthwiseConvS4Op",
    "ArmDepthwiseConvWrapperS4Op",
    "ArmDepthwiseConvWrapperS16Op",
    "ArmElementwiseAddS16Op",
    "ArmElementwiseMulS16Op",
    "ArmFullyConnectedConvOp",
    "ArmFullyConnectedS4Op",
    "ArmFullyConnectedS16Op",
    "ArmPoolS16Op",
    "ArmSoftmaxS16Op",
]
