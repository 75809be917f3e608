"""The ``nn`` dialect: edgecc's canonical, target-neutral tensor ops.

Conventions shared by every op:

- Layout is NHWC for activations; ``nn.conv2d`` weights are OHWI
  ``[Cout, KH, KW, Cin/groups]``, ``nn.depthwise_conv2d`` weights are TFLite's
  ``[1, KH, KW, C*M]``, ``nn.fully_connected`` weights are ``[N, K]``.
- Shapes are static. 2-D window pads are ``[top, left, bottom, right]``;
  ``nn.pad`` pads are ONNX order ``[begin_0 .. begin_{r-1}, end_0 .. end_{r-1}]``.
- Element types: float ops take ``f32``/``f16``; where TFLite has an integer
  kernel they also take per-tensor quantized ``qi8``/``qi16`` activations
  (weights ``qi8``/``qi4``, bias ``i32`` for ``qi8`` and ``i64`` for ``qi16``).
  Unless an op says otherwise its result has the same element *kind* as its
  first operand (quantization parameters may differ); pure data-movement ops
  (reshape, transpose, slice, gather, split, pad) keep the element *identical*.
- ``activation`` (fused, applied after the op): one of ``ACTIVATIONS``.
- Negative axes are accepted where ONNX accepts them and normalised by
  ``infer_shapes`` (``op.norm_axis`` / ``op.norm_axes`` give the normalised values).

Shape errors raise ``ShapeError`` inside ``infer_shapes``/``verify_``; ``NNOp``
turns them into located ``VerifyError``s naming the op.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from edgecc.dialects.nn_shapes import (
    ShapeError,
    broadcast_shapes,
    check_ints,
    fmt_shape,
    matmul_shape,
    normalize_axes,
    normalize_axis,
    quant_axis_problem,
    reduce_shape,
    slice_shape,
    window_output_hw,
)
from edgecc.ir.spec import (
    ANY_TENSOR,
    FLOAT,
    INT,
    QUANT,
    QUANT_W,
    Bool,
    Dialect,
    Float,
    Int,
    IntArray,
    Op,
    Str,
    TensorOf,
    TypeKind,
    attr,
    operand,
    result,
)
from edgecc.ir.types import ElementType, QuantizedType, TensorType

nn = Dialect("nn", "Canonical target-neutral tensor ops: NHWC, static shapes, explicit padding, "
                   "fused activations, float or quantized element types.")

#: values of the fused ``activation`` attribute
ACTIVATIONS = ("none", "relu", "relu6", "relu_n1_to_1")
#: clamp range (lo, hi) of each fused activation (None: unbounded)
ACTIVATION_RANGES = {"none": (None, None), "relu": (0.0, None), "relu6": (0.0, 6.0),
                     "relu_n1_to_1": (-1.0, 1.0)}

FQ = FLOAT + QUANT
NUMERIC = FQ + INT
PLAIN = FLOAT + INT + ("i1", "u8")  # every non-quantized element kind


def apply_activation(x: np.ndarray, activation: str) -> np.ndarray:
    """Apply a fused activation to a float or integer array."""
    lo, hi = ACTIVATION_RANGES[activation]
    if lo is None and hi is None:
        return x
    return np.clip(x, lo, hi).astype(x.dtype, copy=False)


def _located(fn):
    @functools.wraps(fn)
    def wrapper(self, *args, **kw):
        try:
            return fn(self, *args, **kw)
        except ShapeError as e:
            raise self.error(str(e)) from None

    return wrapper


def _need(op: Op, name: str):
    value = op.attr(name)
    if value is None:
        raise ShapeError(f"missing required attribute '{name}'")
    return value


def _activation():
    return attr(Str(*ACTIVATIONS), default="none", doc="fused activation applied to the result")


def _strides():
    return attr(IntArray(2), default=(1, 1), doc="[stride_h, stride_w]")


def _pads():
    return attr(IntArray(4), default=(0, 0, 0, 0), doc="[top, left, bottom, right]")


def _dilations():
    return attr(IntArray(2), default=(1, 1), doc="[dilation_h, dilation_w]")


def _window(op: Op, hw, khw, dilated: bool) -> tuple[int, int]:
    strides = check_ints(op.attr("strides"), "strides", 2, 1)
    pads = check_ints(op.attr("pads"), "pads", 4, 0)
    dil = check_ints(op.attr("dilations"), "dilations", 2, 1) if dilated else (1, 1)
    return window_output_hw(hw, khw, strides, pads, dil)


class NNOp(Op):
    """Base of ``nn`` ops.

    Its ``verify_`` (call ``super().verify_()`` first) checks per-axis quantization
    parameters against shapes, that all operands share one element kind when
    ``same_operand_kinds`` is set, and the ``result_element`` rule: ``"kind"`` (results have the
    element kind of operand 0), ``"same"`` (identical element type) or None.
    ``infer_shapes``/``verify_`` of subclasses may raise ``ShapeError``.
    """

    result_element: str | None = "kind"
    same_operand_kinds: bool = False

    def __init_subclass__(cls, **kw) -> None:
        super().__init_subclass__(**kw)
        for name in ("infer_shapes", "verify_"):
            fn = cls.__dict__.get(name)
            if fn is not None:
                setattr(cls, name, _located(fn))

    def verify_(self) -> None:
        for what, values in (("operand", self.operands), ("result", self.results)):
            for i, v in enumerate(values):
                problem = quant_axis_problem(v.type)
                if problem:
                    raise self.error(f"{what} #{i}: {problem}")
        if self.same_operand_kinds:
            kinds = [v.type.element.kind for v in self.operands]
            if len(set(kinds)) > 1:
                raise self.error(f"operands must share one element kind, got {', '.join(kinds)}")
        if self.result_element and self.operands:
            src = self.operands[0].type.element
            for r in self.results:
                e = r.type.element
                if self.result_element == "same" and e != src:
                    raise self.error(f"result element {e} must equal the input element {src}")
                if e.kind != src.kind:
                    raise self.error(f"result element kind {e.kind} must match the input kind {src.kind}")

    # -- folding helpers ----------------------------------------------------
    def _plain(self, inputs) -> bool:
        """Whether folding is exact: every input known and nothing quantized."""
        if len(inputs) != len(self.operands) or any(x is None for x in inputs):
            return False
        return not any(isinstance(v.type, TensorType) and v.type.is_quantized
                       for v in (*self.operands, *self.results))

    def _out(self, array, i: int = 0) -> np.ndarray:
        t = self.results[i].type
        return np.asarray(array).astype(t.element.numpy, copy=False).reshape(t.shape)


# ============================================================ weighted ops
def _check_weighted(op: Op, w_axis: int, out_channels: int) -> None:
    """Element rules shared by conv2d, depthwise_conv2d and fully_connected."""
    x, w = op.input.type.element, op.weight.type.element
    if isinstance(x, QuantizedType):
        if not isinstance(w, QuantizedType):
            raise op.error(f"quantized input ({x.kind}) needs qi8 or qi4 weights, got {w.kind}")
        if x.per_axis or op.output.type.element.per_axis:
            raise op.error("quantized input and output must be per-tensor")
        if x.kind == "qi16" and w.kind != "qi8":
            raise op.error(f"qi16 input needs qi8 weights (int16x8), got {w.kind}")
        if w.per_axis and w.axis != w_axis:
            raise op.error(f"per-axis weights must be quantized along axis {w_axis} (output channels), "
                           f"got axis {w.axis}")
        if any(w.zero_points):
            raise op.error("quantized weights must be symmetric (zero points 0)")
        want = "i32" if x.kind == "qi8" else "i64"
    else:
        if isinstance(w, QuantizedType):
            raise op.error(f"{w.kind} weights need a quantized input, got {x.kind} input")
        if w.kind != x.kind:
            raise op.error(f"weight element {w.kind} must match the input element {x.kind}")
        want = x.kind
    b = op.bias
    if b is not None:
        if b.type.element.kind != want:
            raise op.error(f"bias element must be {want} for {x.kind} input, got {b.type.element.kind}")
        if b.type.shape != (out_channels,):
            raise op.error(f"bias length {b.type.shape[0]} must equal output channels {out_channels}")


_BIAS = TensorOf(*FLOAT, "i32", "i64", rank=1)


class _WindowedWeightOp(NNOp):
    """Operands and window attributes shared by nn.conv2d and nn.depthwise_conv2d."""

    input = operand(TensorOf(*FQ, rank=4))
    weight = operand(TensorOf(*FLOAT, *QUANT_W, rank=4))
    bias = operand(_BIAS, optional=True)
    output = result(TensorOf(*FQ, rank=4))
    strides = _strides()
    pads = _pads()
    dilations = _dilations()
    activation = _activation()
    traits = {"Pure"}


@nn.op("conv2d")
class Conv2DOp(_WindowedWeightOp):
    """2-D convolution. input [N,H,W,Cin] (f32/f16/qi8/qi16), weight OHWI [Cout,KH,KW,Cin/groups]
    (same float kind, or qi8/qi4 symmetric per-tensor or per-axis along 0 for quantized input),
    optional bias [Cout] (input float kind; i32 for qi8, i64 for qi16) -> [N,OH,OW,Cout] with
    OH = (H + top + bottom - dil_h*(KH-1) - 1) // stride_h + 1 (likewise OW).
    pads = [top, left, bottom, right]; groups divides Cin and Cout."""

    groups = attr(Int(), default=1, doc="number of channel groups")

    def infer_shapes(self):
        n, h, w, cin = self.input.type.shape
        cout, kh, kw, wcin = self.weight.type.shape
        g = self.attr("groups")
        if g < 1:
            raise ShapeError(f"groups must be positive, got {g}")
        if wcin * g != cin:
            raise ShapeError(f"weight in-channels ({wcin}) * groups ({g}) must equal input channels ({cin})")
        if cout % g:
            raise ShapeError(f"output channels ({cout}) must be divisible by groups ({g})")
        oh, ow = _window(self, (h, w), (kh, kw), dilated=True)
        return [(n, oh, ow, cout)]

    def verify_(self):
        super().verify_()
        _check_weighted(self, 0, self.weight.type.shape[0])


@nn.op("depthwise_conv2d")
class DepthwiseConv2DOp(_WindowedWeightOp):
    """Depthwise 2-D convolution. input [N,H,W,C], weight [1,KH,KW,C*M] (TFLite layout; output
    channel c*M+m reads input channel c), optional bias [C*M] -> [N,OH,OW,C*M]; M = depth_multiplier.
    Padding, strides, dilations and element rules as nn.conv2d (per-axis weights along axis 3)."""

    depth_multiplier = attr(Int(), default=1, doc="output channels per input channel")

    def infer_shapes(self):
        n, h, w, c = self.input.type.shape
        one, kh, kw, cm = self.weight.type.shape
        m = self.attr("depth_multiplier")
        if m < 1:
            raise ShapeError(f"depth_multiplier must be positive, got {m}")
        if one != 1:
            raise ShapeError(f"weight must have shape [1, KH, KW, C*M], got {fmt_shape(self.weight.type.shape)}")
        if cm != c * m:
            raise ShapeError(f"weight channels ({cm}) must equal input channels ({c}) * "
                             f"depth_multiplier ({m})")
        oh, ow = _window(self, (h, w), (kh, kw), dilated=True)
        return [(n, oh, ow, cm)]

    def verify_(self):
        super().verify_()
        _check_weighted(self, 3, self.weight.type.shape[3])


@nn.op("fully_connected")
class FullyConnectedOp(NNOp):
    """y = x @ weight^T + bias over the last axis. input [..., K] (rank >= 1), weight [N, K],
    optional bias [N] -> [..., N]. Element rules as nn.conv2d (per-axis weights along axis 0)."""

    input = operand(TensorOf(*FQ))
    weight = operand(TensorOf(*FLOAT, *QUANT_W, rank=2))
    bias = operand(_BIAS, optional=True)
    output = result(TensorOf(*FQ))
    activation = _activation()
    traits = {"Pure"}

    def infer_shapes(self):
        shape = self.input.type.shape
        if not shape:
            raise ShapeError("input must have rank >= 1")
        n, k = self.weight.type.shape
        if k != shape[-1]:
            raise ShapeError(f"weight [N, K] has K = {k} but the input has {shape[-1]} features")
        return [shape[:-1] + (n,)]

    def verify_(self):
        super().verify_()
        _check_weighted(self, 0, self.weight.type.shape[0])


@nn.op("matmul")
class MatMulOp(NNOp):
    """numpy-style matmul: a [..., M, K] @ b [..., K, N] -> [..., M, N] with broadcast batch
    dims (1-D operands are promoted and the added dim removed). a, b: same kind of f32/f16/qi8/qi16."""

    a = operand(TensorOf(*FQ))
    b = operand(TensorOf(*FQ))
    output = result(TensorOf(*FQ))
    traits = {"Pure"}
    same_operand_kinds = True

    def infer_shapes(self):
        return [matmul_shape(self.a.type.shape, self.b.type.shape)]


# ======================================================= elementwise binary
def _binary(kinds: tuple[str, ...], fused: bool, fn=None, commutative: bool = False):
    class _Binary(NNOp):
        lhs = operand(TensorOf(*kinds))
        rhs = operand(TensorOf(*kinds))
        output = result(TensorOf(*kinds))
        if fused:
            activation = _activation()
        traits = {"Pure", "Elementwise"} | ({"Commutative"} if commutative else set())
        same_operand_kinds = True
        np_fn = staticmethod(fn) if fn is not None else None

        def infer_shapes(self):
            return [broadcast_shapes(self.lhs.type.shape, self.rhs.type.shape)]

        def fold(self, inputs):
            if self.np_fn is None or not self._plain(inputs):
                return None
            if self.np_fn is np.divide and self.output.type.element.kind not in FLOAT:
                return None  # integer division semantics are the executor's
            out = self.np_fn(inputs[0], inputs[1])
            return [self._out(apply_activation(out, self.attr("activation", "none")))]

    return _Binary


@nn.op("add")
class AddOp(_binary(NUMERIC, True, np.add, commutative=True)):
    """lhs + rhs with numpy broadcasting, then the fused activation. f32/f16/qi8/qi16/int."""


@nn.op("sub")
class SubOp(_binary(NUMERIC, True, np.subtract)):
    """lhs - rhs with numpy broadcasting, then the fused activation. f32/f16/qi8/qi16/int."""


@nn.op("mul")
class MulOp(_binary(NUMERIC, True, np.multiply, commutative=True)):
    """lhs * rhs with numpy broadcasting, then the fused activation. f32/f16/qi8/qi16/int."""


@nn.op("div")
class DivOp(_binary(FLOAT + INT, True, np.divide)):
    """lhs / rhs with numpy broadcasting (integers truncate toward zero), then the fused
    activation. f32/f16/int (no quantized kernel)."""


@nn.op("maximum")
class MaximumOp(_binary(NUMERIC, False, np.maximum, commutative=True)):
    """Elementwise max(lhs, rhs) with numpy broadcasting. f32/f16/qi8/qi16/int."""


@nn.op("minimum")
class MinimumOp(_binary(NUMERIC, False, np.minimum, commutative=True)):
    """Elementwise min(lhs, rhs) with numpy broadcasting. f32/f16/qi8/qi16/int."""


@nn.op("pow")
class PowOp(_binary(FLOAT, False)):
    """lhs ** rhs with numpy broadcasting. f32/f16."""


@nn.op("prelu")
class PReluOp(NNOp):
    """x if x >= 0 else slope * x; slope broadcasts to the input shape (result shape = input
    shape). Same element kind for both: f32/f16/qi8/qi16."""

    input = operand(TensorOf(*FQ))
    slope = operand(TensorOf(*FQ))
    output = result(TensorOf(*FQ))
    traits = {"Pure", "Elementwise"}
    same_operand_kinds = True

    def infer_shapes(self):
        x, s = self.input.type.shape, self.slope.type.shape
        try:
            ok = broadcast_shapes(x, s) == x
        except ShapeError:
            ok = False
        if not ok:
            raise ShapeError(f"slope shape {fmt_shape(s)} does not broadcast to input shape {fmt_shape(x)}")
        return [x]


# ======================================================== elementwise unary
def _unary(kinds: tuple[str, ...], fn=None):
    class _Unary(NNOp):
        input = operand(TensorOf(*kinds))
        output = result(TensorOf(*kinds))
        traits = {"Pure", "Elementwise", "SameOperandsAndResultShape"}
        np_fn = staticmethod(fn) if fn is not None else None

        def infer_shapes(self):
            return [self.input.type.shape]

        def fold(self, inputs):
            if self.np_fn is None or not self._plain(inputs):
                return None
            return [self._out(self.np_fn(inputs[0]))]

    return _Unary


@nn.op("relu")
class ReluOp(_unary(FQ)):
    """max(x, 0). f32/f16/qi8/qi16."""


@nn.op("clamp")
class ClampOp(_unary(FQ)):
    """min(max(x, min), max) with real-valued bounds (quantized inputs clamp in the real
    domain). f32/f16/qi8/qi16; min <= max, defaults -inf/inf."""

    min = attr(Float(), default=-math.inf, doc="lower bound")
    max = attr(Float(), default=math.inf, doc="upper bound")

    def verify_(self):
        super().verify_()
        lo, hi = self.attr("min"), self.attr("max")
        if math.isnan(lo) or math.isnan(hi) or lo > hi:
            raise self.error(f"min ({lo}) must not exceed max ({hi})")


@nn.op("sigmoid")
class SigmoidOp(_unary(FQ)):
    """1 / (1 + exp(-x)). f32/f16/qi8/qi16."""


@nn.op("tanh")
class TanhOp(_unary(FQ)):
    """tanh(x). f32/f16/qi8/qi16."""


@nn.op("hard_swish")
class HardSwishOp(_unary(FQ)):
    """x * relu6(x + 3) / 6. f32/f16/qi8/qi16."""


@nn.op("hard_sigmoid")
class HardSigmoidOp(_unary(FQ)):
    """max(0, min(1, alpha * x + beta)) (ONNX HardSigmoid). f32/f16/qi8/qi16 (quantized: the
    ADD + MUL form of ``edgecc.quant.hard_sigmoid``, which needs alpha > 0)."""

    alpha = attr(Float(), default=0.2)
    beta = attr(Float(), default=0.5)


@nn.op("leaky_relu")
class LeakyReluOp(_unary(FQ)):
    """x if x >= 0 else alpha * x. f32/f16/qi8/qi16; alpha defaults to 0.01 (ONNX)."""

    alpha = attr(Float(), default=0.01)


@nn.op("exp")
class ExpOp(_unary(FQ)):
    """exp(x). f32/f16/qi8/qi16."""


@nn.op("log")
class LogOp(_unary(FLOAT)):
    """Natural logarithm. f32/f16."""


@nn.op("sqrt")
class SqrtOp(_unary(FLOAT)):
    """Square root. f32/f16."""


@nn.op("rsqrt")
class RsqrtOp(_unary(FQ)):
    """1 / sqrt(x). f32/f16/qi8/qi16."""


@nn.op("abs")
class AbsOp(_unary(NUMERIC, np.abs)):
    """|x|. f32/f16/qi8/qi16/int."""


@nn.op("neg")
class NegOp(_unary(NUMERIC, np.negative)):
    """-x. f32/f16/qi8/qi16/int."""


@nn.op("erf")
class ErfOp(_unary(FLOAT)):
    """Gauss error function. f32/f16."""


class _SoftmaxBase(NNOp):
    input = operand(TensorOf(*FQ))
    output = result(TensorOf(*FQ))
    axis = attr(Int(), default=-1, doc="reduction axis, negative counts from the end")
    traits = {"Pure", "SameOperandsAndResultShape"}

    @property
    def norm_axis(self) -> int:
        return normalize_axis(self.attr("axis"), self.input.type.rank)

    def infer_shapes(self):
        self.norm_axis  # noqa: B018 - validates the axis
        return [self.input.type.shape]


@nn.op("softmax")
class SoftmaxOp(_SoftmaxBase):
    """exp(beta*x) / sum(exp(beta*x)) along axis. f32/f16/qi8/qi16."""

    beta = attr(Float(), default=1.0, doc="input scale (TFLite beta)")


@nn.op("log_softmax")
class LogSoftmaxOp(_SoftmaxBase):
    """x - log(sum(exp(x))) along axis. f32/f16/qi8/qi16."""


# ==================================================================== pools
class _Pool(NNOp):
    input = operand(TensorOf(*FQ, rank=4))
    output = result(TensorOf(*FQ, rank=4))
    kernel = attr(IntArray(2), required=True, doc="[kh, kw]")
    strides = _strides()
    pads = _pads()
    activation = _activation()
    traits = {"Pure"}

    def infer_shapes(self):
        n, h, w, c = self.input.type.shape
        k = check_ints(_need(self, "kernel"), "kernel", 2, 1)
        pads = check_ints(self.attr("pads"), "pads", 4, 0)
        if any(p >= k[i % 2] for i, p in enumerate(pads)):
            raise ShapeError(f"pads {list(pads)} must be smaller than the kernel {list(k)}")
        oh, ow = _window(self, (h, w), k, dilated=False)
        return [(n, oh, ow, c)]


@nn.op("avg_pool2d")
class AvgPool2DOp(_Pool):
    """2-D average pooling over NHWC; padded cells are excluded from the count
    (count_include_pad=0). pads = [top, left, bottom, right], each smaller than the kernel."""


@nn.op("max_pool2d")
class MaxPool2DOp(_Pool):
    """2-D max pooling over NHWC; padded cells never win. pads = [top, left, bottom, right],
    each smaller than the kernel."""


# =============================================================== reductions
class _Reduce(NNOp):
    input = operand(TensorOf(*FQ))
    output = result(TensorOf(*FQ))
    axes = attr(IntArray(), required=True, doc="axes to reduce (non-empty, negative allowed)")
    keepdims = attr(Bool(), default=True, doc="keep reduced axes as size 1")
    traits = {"Pure"}

    @property
    def norm_axes(self) -> tuple[int, ...]:
        axes = _need(self, "axes")
        if not axes:
            raise ShapeError("axes must not be empty")
        return normalize_axes(axes, self.input.type.rank)

    def infer_shapes(self):
        return [reduce_shape(self.input.type.shape, self.norm_axes, self.attr("keepdims"))]


@nn.op("mean")
class MeanOp(_Reduce):
    """Mean over axes. f32/f16/qi8/qi16."""


@nn.op("reduce_sum")
class ReduceSumOp(_Reduce):
    """Sum over axes. f32/f16/qi8/qi16."""


@nn.op("reduce_max")
class ReduceMaxOp(_Reduce):
    """Maximum over axes. f32/f16/qi8/qi16."""


@nn.op("reduce_min")
class ReduceMinOp(_Reduce):
    """Minimum over axes. f32/f16/qi8/qi16."""


# ============================================================ data movement
@nn.op("reshape")
class ReshapeOp(NNOp):
    """Same data in a new, fully specified static shape (no -1/0 placeholders); element
    count unchanged. Any element type, kept identical."""

    input = operand(ANY_TENSOR)
    output = result(ANY_TENSOR)
    shape = attr(IntArray(), required=True, doc="the result shape")
    traits = {"Pure"}
    result_element = "same"

    def infer_shapes(self):
        shape = _need(self, "shape")
        if any(d < 0 for d in shape):
            raise ShapeError(f"shape {list(shape)} must be fully specified (non-negative dimensions)")
        src = self.input.type
        if math.prod(shape) != src.num_elements:
            raise ShapeError(f"reshape changes the element count: {fmt_shape(src.shape)} "
                             f"({src.num_elements}) to {fmt_shape(shape)} ({math.prod(shape)})")
        return [tuple(shape)]

    def fold(self, inputs):
        return [self._out(inputs[0])] if self._plain(inputs) else None


@nn.op("transpose")
class TransposeOp(NNOp):
    """Permute axes: result dim i = input dim perm[i]. Any element type, kept identical."""

    input = operand(ANY_TENSOR)
    output = result(ANY_TENSOR)
    perm = attr(IntArray(), required=True, doc="a permutation of 0..rank-1")
    traits = {"Pure"}
    result_element = "same"

    def infer_shapes(self):
        perm, shape = _need(self, "perm"), self.input.type.shape
        if sorted(perm) != list(range(len(shape))):
            raise ShapeError(f"perm {list(perm)} is not a permutation of 0..{len(shape) - 1}")
        return [tuple(shape[p] for p in perm)]

    def fold(self, inputs):
        return [self._out(np.transpose(inputs[0], self.attr("perm")))] if self._plain(inputs) else None


@nn.op("concat")
class ConcatOp(NNOp):
    """Join one or more tensors along axis (negative allowed); all other dimensions must agree.
    Operands share one element kind (quantized inputs may differ in scale)."""

    inputs = operand(ANY_TENSOR, variadic=True)
    output = result(ANY_TENSOR)
    axis = attr(Int(), required=True, doc="concatenation axis")
    traits = {"Pure"}
    same_operand_kinds = True

    @property
    def norm_axis(self) -> int:
        if not self.operands:
            raise ShapeError("needs at least one input")
        return normalize_axis(_need(self, "axis"), self.operands[0].type.rank)

    def infer_shapes(self):
        axis = self.norm_axis
        first = self.operands[0].type.shape
        total = 0
        for v in self.operands:
            s = v.type.shape
            if len(s) != len(first) or any(a != b for i, (a, b) in enumerate(zip(s, first)) if i != axis):
                raise ShapeError(f"input shapes {fmt_shape(first)} and {fmt_shape(s)} disagree off "
                                 f"the concat axis {axis}")
            total += s[axis]
        return [first[:axis] + (total,) + first[axis + 1:]]

    def fold(self, inputs):
        if not self._plain(inputs):
            return None
        return [self._out(np.concatenate(inputs, axis=self.norm_axis))]


@nn.op("split")
class SplitOp(NNOp):
    """Split along axis into len(sizes) results of the given sizes (summing to the dimension).
    Any element type, kept identical."""

    input = operand(ANY_TENSOR)
    outputs = result(ANY_TENSOR, variadic=True)
    axis = attr(Int(), default=0, doc="split axis, negative allowed")
    sizes = attr(IntArray(), required=True, doc="size of each piece along axis")
    traits = {"Pure"}
    result_element = "same"

    @property
    def norm_axis(self) -> int:
        return normalize_axis(self.attr("axis"), self.input.type.rank)

    def infer_shapes(self):
        axis, shape = self.norm_axis, self.input.type.shape
        sizes = check_ints(_need(self, "sizes"), "sizes", minimum=0)
        if sum(sizes) != shape[axis]:
            raise ShapeError(f"split sizes {list(sizes)} sum to {sum(sizes)} but axis {axis} has "
                             f"size {shape[axis]}")
        return [shape[:axis] + (s,) + shape[axis + 1:] for s in sizes]

    def verify_(self):
        super().verify_()
        n = len(self.attr("sizes"))
        if len(self.results) != n:
            raise self.error(f"has {len(self.results)} results but sizes lists {n}")

    def fold(self, inputs):
        if not self._plain(inputs):
            return None
        cuts = np.cumsum(self.attr("sizes"))[:-1]
        return [self._out(a, i) for i, a in enumerate(np.split(inputs[0], cuts, axis=self.norm_axis))]


@nn.op("pad")
class PadOp(NNOp):
    """Pad with pads = [begin_0..begin_{r-1}, end_0..end_{r-1}] (ONNX order, non-negative).
    mode "constant" fills value (real-valued for quantized inputs), "reflect" mirrors without
    repeating the edge (pads < dim), "edge" repeats the edge. Element kept identical."""

    input = operand(TensorOf(*NUMERIC))
    output = result(TensorOf(*NUMERIC))
    pads = attr(IntArray(), required=True, doc="begins then ends, one per dimension")
    value = attr(Float(), default=0.0, doc="fill value for mode constant")
    mode = attr(Str("constant", "reflect", "edge"), default="constant")
    traits = {"Pure"}
    result_element = "same"

    def infer_shapes(self):
        shape = self.input.type.shape
        r = len(shape)
        pads = check_ints(_need(self, "pads"), "pads", 2 * r, 0)
        mode = self.attr("mode")
        for i, d in enumerate(shape):
            p = max(pads[i], pads[r + i])
            if mode == "reflect" and p >= d and p > 0:
                raise ShapeError(f"reflect padding {p} on axis {i} needs a dimension larger than {p}, "
                                 f"got {d}")
            if mode == "edge" and p > 0 and d == 0:
                raise ShapeError(f"edge padding on axis {i} needs a non-empty dimension")
        return [tuple(d + pads[i] + pads[r + i] for i, d in enumerate(shape))]

    def fold(self, inputs):
        if not self._plain(inputs):
            return None
        pads, r, mode = self.attr("pads"), self.input.type.rank, self.attr("mode")
        width = [(pads[i], pads[r + i]) for i in range(r)]
        if mode == "constant":
            out = np.pad(inputs[0], width, mode="constant", constant_values=self.attr("value"))
        else:
            out = np.pad(inputs[0], width, mode=mode)
        return [self._out(out)]


@nn.op("slice")
class SliceOp(NNOp):
    """Strided slice with one normalised begin/end/stride per dimension (ONNX clamping already
    applied): stride > 0 needs 0 <= begin, end <= dim; stride < 0 needs 0 <= begin <= dim-1 and
    -1 <= end <= dim-1 (end -1: through index 0). Length max(0, ceil((end-begin)/stride)).
    strides default to 1. Element kept identical."""

    input = operand(ANY_TENSOR)
    output = result(ANY_TENSOR)
    begin = attr(IntArray(), required=True)
    end = attr(IntArray(), required=True)
    strides = attr(IntArray(), doc="default: all 1")
    traits = {"Pure"}
    result_element = "same"

    @property
    def steps(self) -> tuple[int, ...]:
        s = self.attr("strides")
        return tuple(s) if s is not None else (1,) * self.input.type.rank

    def infer_shapes(self):
        return [slice_shape(self.input.type.shape, _need(self, "begin"), _need(self, "end"), self.steps)]

    def fold(self, inputs):
        if not self._plain(inputs):
            return None
        idx = tuple(slice(b, None if e < 0 else e, s)
                    for b, e, s in zip(self.attr("begin"), self.attr("end"), self.steps))
        return [self._out(inputs[0][idx])]


@nn.op("gather")
class GatherOp(NNOp):
    """ONNX Gather: result = data.shape[:axis] + indices.shape + data.shape[axis+1:]; indices
    i32/i64 (negative indices count from the end). Data element kept identical."""

    data = operand(ANY_TENSOR)
    indices = operand(TensorOf("i32", "i64"))
    output = result(ANY_TENSOR)
    axis = attr(Int(), default=0, doc="gather axis, negative allowed")
    traits = {"Pure"}
    result_element = "same"

    @property
    def norm_axis(self) -> int:
        return normalize_axis(self.attr("axis"), self.data.type.rank)

    def infer_shapes(self):
        shape = self.data.type.shape
        if not shape:
            raise ShapeError("data must have rank >= 1")
        axis = self.norm_axis
        return [shape[:axis] + self.indices.type.shape + shape[axis + 1:]]

    def verify_(self):
        super().verify_()
        src = self.indices.defining_op()
        if src is not None and src.name == "builtin.constant" and src.attrs["value"].array.size:
            idx, size = src.attrs["value"].array, self.data.type.shape[self.norm_axis]
            if idx.min() < -size or idx.max() >= size:
                bad = int(idx.min()) if idx.min() < -size else int(idx.max())
                raise self.error(f"constant index {bad} out of range for axis {self.norm_axis} of size {size}")


@nn.op("resize")
class ResizeOp(NNOp):
    """Resize H and W of an NHWC tensor to size = [out_h, out_w]. mode nearest|bilinear;
    coordinate transformation and nearest rounding as ONNX Resize. f32/f16/qi8/qi16."""

    input = operand(TensorOf(*FQ, rank=4))
    output = result(TensorOf(*FQ, rank=4))
    size = attr(IntArray(2), required=True, doc="[out_h, out_w]")
    mode = attr(Str("nearest", "bilinear"), default="nearest")
    coordinate = attr(Str("half_pixel", "asymmetric", "align_corners", "pytorch_half_pixel"),
                      default="half_pixel")
    nearest_mode = attr(Str("round_prefer_floor", "round_prefer_ceil", "floor", "ceil"),
                        default="round_prefer_floor")
    traits = {"Pure"}

    def infer_shapes(self):
        n, _, _, c = self.input.type.shape
        oh, ow = check_ints(_need(self, "size"), "size", 2, 1)
        return [(n, oh, ow, c)]


@nn.op("lrn")
class LRNOp(NNOp):
    """Local response normalisation across channels of NHWC input (ONNX LRN):
    x / (bias + alpha/size * sum of x^2 over `size` neighbouring channels) ** beta. f32/f16."""

    input = operand(TensorOf(*FLOAT, rank=4))
    output = result(TensorOf(*FLOAT, rank=4))
    size = attr(Int(), required=True, doc="channels in the window")
    alpha = attr(Float(), default=1e-4)
    beta = attr(Float(), default=0.75)
    bias = attr(Float(), default=1.0)
    traits = {"Pure", "SameOperandsAndResultShape"}

    def infer_shapes(self):
        size = _need(self, "size")
        if size < 1:
            raise ShapeError(f"size must be positive, got {size}")
        return [self.input.type.shape]


# ============================================================ element casts
@nn.op("cast")
class CastOp(NNOp):
    """Convert non-quantized elements to `to` (float->int truncates toward zero, as ONNX).
    Quantized types go through nn.quantize / nn.dequantize instead."""

    input = operand(TensorOf(*PLAIN))
    output = result(TensorOf(*PLAIN))
    to = attr(TypeKind(), required=True, doc="result element type")
    traits = {"Pure", "SameOperandsAndResultShape"}
    result_element = None

    def infer_shapes(self):
        return [self.input.type.shape]

    def infer_element(self) -> ElementType:
        to = self.attr("to")
        if not isinstance(to, ElementType) or isinstance(to, QuantizedType):
            raise TypeError(f"nn.cast needs 'to' = a non-quantized element type, got {to!r}")
        return to

    def verify_(self):
        super().verify_()
        to = self.attr("to")
        if not isinstance(to, ElementType) or isinstance(to, QuantizedType):
            raise self.error(f"'to' must be a non-quantized element type, got {to} "
                             f"(use nn.quantize / nn.dequantize)")
        if self.output.type.element != to:
            raise self.error(f"result element {self.output.type.element} must equal 'to' ({to})")

    def fold(self, inputs):
        return [self._out(inputs[0])] if self._plain(inputs) else None


_NO_INFER = ("cannot infer its quantized result type; pass result_types=[tensor(shape, "
             "quant(i8, scale, zero_point))]")


@nn.op("quantize")
class QuantizeOp(NNOp):
    """Float -> quantized: clamp(round_half_away_from_zero(x / scale) + zero_point, qmin, qmax). The result
    type is given explicitly; its expressed type must equal the input element."""

    input = operand(TensorOf(*FLOAT))
    output = result(TensorOf(*QUANT, "qi4"))
    traits = {"Pure", "SameOperandsAndResultShape"}
    result_element = None

    def infer_shapes(self):
        return [self.input.type.shape]

    def infer_element(self) -> ElementType:
        raise TypeError(f"nn.quantize {_NO_INFER}")

    def verify_(self):
        super().verify_()
        q, x = self.output.type.element, self.input.type.element
        if q.expressed != x:
            raise self.error(f"result expresses {q.expressed} but the input is {x}")


@nn.op("dequantize")
class DequantizeOp(NNOp):
    """Quantized -> float: scale * (q - zero_point). The result element is the expressed type."""

    input = operand(TensorOf(*QUANT, "qi4", "qi32"))
    output = result(TensorOf(*FLOAT))
    traits = {"Pure", "SameOperandsAndResultShape"}
    result_element = None

    def infer_shapes(self):
        return [self.input.type.shape]

    def infer_element(self) -> ElementType:
        e = self.input.type.element
        if not isinstance(e, QuantizedType):
            raise TypeError(f"nn.dequantize needs a quantized input, got {e}")
        return e.expressed

    def verify_(self):
        super().verify_()
        want = self.input.type.element.expressed
        if self.output.type.element != want:
            raise self.error(f"result element {self.output.type.element} must be the expressed type {want}")


@nn.op("requantize")
class RequantizeOp(NNOp):
    """Quantized -> quantized with other parameters or storage (e.g. qi8 <-> qi16), rounding as
    TFLite QUANTIZE. The result type is given explicitly."""

    input = operand(TensorOf(*QUANT))
    output = result(TensorOf(*QUANT))
    traits = {"Pure", "SameOperandsAndResultShape"}
    result_element = None

    def infer_shapes(self):
        return [self.input.type.shape]

    def infer_element(self) -> ElementType:
        raise TypeError(f"nn.requantize {_NO_INFER}")
