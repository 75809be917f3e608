"""Lowering to CMSIS-NN's int16x8 (``_s16``) and int4-weight (``_s4``) kernels.

Every function returns False where the CMSIS-NN kernel is not provably
bit-exact with the integer reference (TFLM's reference kernels), and the
caller keeps edgecc's portable kernel. What differs, read from CMSIS-NN's
sources (99f736a):

* **s16 conv / depthwise / dense** add the dot product in int32 before the
  int64 bias (TFLM: all int64), and ``arm_nn_requantize_s64`` keeps
  ``acc * m15 >> (14 - shift)`` in int32 before its last rounding shift. Both
  are exact as long as nothing overflows, which is checked here from the
  constant weights and bias: ``sum|w| * 32768 < 2^31`` per output channel,
  and the requantization bound below 2^31 (``exact_s16``). Zero points must be
  0 (the kernels ignore the offsets), shifts at most 14.
* **s16 add** scales with ``arm_nn_requantize``, which equals TFLite's
  ``MultiplyByQuantizedMultiplierSmallerThanOneExp`` for shifts <= 0 only.
* **s16 softmax** forms the reciprocal's index in int32 and converts it to
  int16 without TFLite's saturation: for row sums just below a power of two
  (>= 2^18, reachable from 9 elements per row) it reads 1/(1+0) instead of
  1/(1+1); and it stores the final product without TFLite's clamp to 32767,
  which a one-element row reaches (32768 wraps to -32768).
  ``softmax_s16_exact`` checks every reachable row sum, so CMSIS-NN runs rows
  of 2 to 8 elements.
* **s4** kernels run the int8 arithmetic on nibbles (as TFLM unpacks them):
  identical wherever the int8 kernel is; weights must be constants (packed at
  compile time, ``edgecc.backends.c.packing``). On Helium, the depthwise
  wrapper's optimised ``arm_depthwise_conv_s4_opt`` gave other results than
  CMSIS-NN's own C build for the same call (odd channels, QEMU 7.2
  mps3-an547, GCC 12.2, also at -O0; not checked on hardware), so there the
  generic ``arm_depthwise_conv_s4`` is called directly. That generic kernel
  (also the wrapper's choice for a depth multiplier above 1 or dilation)
  differs from the reference for odd input channel counts (host build, any
  multiplier and dilation): those layers keep the portable kernel.

CMSIS-NN's s4 and s16 dense kernels take one multiplier; per-channel dense
layers become a 1x1 convolution (``ArmFullyConnectedConvOp``).
"""

from __future__ import annotations

import numpy as np

from edgecc.backends.c import cmsis_sizes as S
from edgecc.backends.c import dialect_cmsis16 as CM
from edgecc.backends.c.lower import LoweringContext
from edgecc.backends.c.packing import packed_constant
from edgecc.ir.core import Operation, Value
from edgecc.ir.types import QuantizedType

INT32_MAX = (1 << 31) - 1


def _const(v: Value | None):
    op = v.defining_op() if v is not None else None
    return op.attr("value").array if op is not None and op.has_trait("ConstantLike") else None


def int4_weights(v: Value) -> bool:
    e = v.type.element
    return isinstance(e, QuantizedType) and e.storage.bits == 4


def exact_s16(w_rows: np.ndarray, bias: np.ndarray, multiplier, shift) -> bool:
    """Whether CMSIS-NN's s16 dot products and ``arm_nn_requantize_s64`` cannot overflow their
    int32 intermediates for any int16 input (``w_rows``: one row of weights per output channel)."""
    w = np.abs(np.asarray(w_rows, dtype=np.int64)).sum(axis=1)
    dot = w * 32768
    m = np.broadcast_to(np.asarray(multiplier, dtype=np.int64), dot.shape)
    s = np.broadcast_to(np.asarray(shift, dtype=np.int64), dot.shape)
    acc = dot + np.abs(np.asarray(bias, dtype=np.int64))
    if (dot > INT32_MAX).any() or (acc >= 1 << 47).any() or (m < 0).any() or (s > 14).any() or (s < -31).any():
        return False
    reduced = np.where(m < 0x7FFF0000, (m + (1 << 15)) >> 16, 0x7FFF)
    return bool((((acc * reduced) >> (14 - s)) + 1 <= INT32_MAX).all())


def _wrap(x, bits: int) -> np.ndarray:
    half = 1 << (bits - 1)
    return ((np.asarray(x, dtype=np.int64) + half) & ((1 << bits) - 1)) - half


def _lookup(lut: np.ndarray, v: np.ndarray) -> np.ndarray:
    idx = 256 + (v >> 7)
    slope = _wrap(lut[idx + 1] - lut[idx], 16)
    return _wrap(lut[idx] + ((slope * (v & 0x7F) + 64) >> 7), 16)


def softmax_s16_exact(row_size: int, exp_lut, recip_lut) -> bool:
    """Whether ``arm_softmax_s16`` equals TFLite's SoftmaxInt16 for every input row of
    ``row_size`` elements: checked over every reachable sum of exponentials."""
    if row_size < 1 or row_size > 64:
        return False
    exp_lut = np.asarray(exp_lut, dtype=np.int64)
    recip_lut = np.asarray(recip_lut, dtype=np.int64)
    e0 = int(_lookup(exp_lut, np.array([32767]))[0])  # exp(0): the largest term, present in every row
    if e0 < 1 or int(exp_lut.min()) < 0:
        return False
    e_min = int(exp_lut.min())  # every other term is an interpolation between LUT entries
    sums = np.arange(e0 + e_min * (row_size - 1), row_size * e0 + 1, dtype=np.int64)
    headroom = 32 - np.frexp(sums.astype(np.float64))[1]  # clz32
    x = sums << (headroom - 1)
    ref_sym = np.clip(((x + (1 << 13)) >> 14) - 98304, -32768, 32767)
    cmsis_sym = _wrap((_wrap(x + (1 << 13), 32) >> 14) - 98304, 16)
    if not (ref_sym == cmsis_sym).all():
        return False
    recip = _lookup(recip_lut, ref_sym)
    if (recip < 0).any():
        return False
    rs = 31 - headroom
    ref = np.clip((e0 * recip + (np.int64(1) << (rs - 1))) >> rs, 0, 32767)
    cmsis = (((e0 * recip) >> (rs - 1)) + 1) >> 1
    return bool((ref == cmsis).all())


def _bias64(op: Operation, channels: int):
    """The int64 bias values of ``op`` (zeros without a bias) and a maker of its operand."""
    if len(op.operands) > 2 and op.operands[2] is not None:
        b = op.operands[2]
        return _const(b), lambda L: b
    zeros = np.zeros(channels, dtype=np.int64)
    return zeros, lambda L: L.constant(op, zeros)


def _zero_offsets(params: dict, *keys: str) -> bool:
    return all(params.get(k, 0) == 0 for k in keys)


def _conv_geometry(op: Operation, geometry: dict) -> tuple[tuple, tuple]:
    """(output shape, the geometry key of CMSIS-NN's scratch-size rules) of a conv/depthwise."""
    x, w = op.operands[0], op.operands[1]
    out = tuple(op.results[0].type.shape)
    pt, pl, _, _ = geometry["pads"]
    return out, (tuple(x.type.shape), tuple(w.type.shape), out, (pt, pl), tuple(geometry["strides"]),
                 tuple(geometry["dilations"]))


def conv_s16(op: Operation, L: LoweringContext, depthwise: bool, geometry: dict, params: dict) -> bool:
    x, w = op.operands[0], op.operands[1]
    if not _zero_offsets(params, "input_offset", "output_offset"):
        return False
    wv = _const(w)
    bv, make_bias = _bias64(op, op.results[0].type.shape[-1])
    if wv is None or bv is None or np.asarray(bv).dtype != np.int64:
        return False
    n, ih, iw, ic = x.type.shape
    out, geo = _conv_geometry(op, geometry)
    isa = L.core.isa
    if depthwise:
        rows = np.asarray(wv).reshape(-1, out[-1]).T
        if n != 1:
            return False
        scratch, cls = S.depthwise_conv_wrapper_s16(S.DwConv(*geo), isa), CM.ArmDepthwiseConvWrapperS16Op
    else:
        rows = np.asarray(wv).reshape(out[-1], -1)
        if w.type.shape[3] != ic:  # no grouped s16 convolution in CMSIS-NN
            return False
        scratch, cls = S.convolve_wrapper_s16(S.Conv(*geo), isa), CM.ArmConvolveWrapperS16Op
    if not exact_s16(rows, bv, params["multiplier"], params["shift"]):
        return False
    L.replace(op, cls, [x, w, make_bias(L)], **geometry, **params, scratch=scratch)
    return True


def fully_connected_s16(op: Operation, L: LoweringContext, params: dict) -> bool:
    x, w = op.operands[0], op.operands[1]
    if not _zero_offsets(params, "input_offset", "output_offset"):
        return False
    n, k = w.type.shape
    bv, make_bias = _bias64(op, n)
    wv = _const(w)
    if wv is None or bv is None or np.asarray(bv).dtype != np.int64:
        return False
    if not exact_s16(np.asarray(wv).reshape(n, k), bv, params["multiplier"], params["shift"]):
        return False
    bias = make_bias(L)
    if len(params["multiplier"]) == 1:
        L.replace(op, CM.ArmFullyConnectedS16Op, [x, w, bias], **params)
        return True
    rows = x.type.num_elements // max(k, 1)
    g = S.Conv((1, rows, 1, k), (n, 1, 1, k), (1, rows, 1, n))
    L.replace(op, CM.ArmFullyConnectedConvOp, [x, w, bias], **params, wrapper=16,
              scratch=S.convolve_wrapper_s16(g, L.core.isa))
    return True


def elementwise_s16(op: Operation, L: LoweringContext, attrs: dict) -> bool:
    kind = attrs["kind"]
    if not _zero_offsets(attrs, "lhs_offset", "rhs_offset", "output_offset"):
        return False
    keep = {k: v for k, v in attrs.items() if k != "kind"}
    if kind == "add":
        if max(attrs["lhs_shift"], attrs["rhs_shift"], attrs["out_shift"]) > 0:
            return False
        L.replace(op, CM.ArmElementwiseAddS16Op, op.operands, **keep)
        return True
    if kind == "mul":
        L.replace(op, CM.ArmElementwiseMulS16Op, op.operands, **keep)
        return True
    return False


def _windows_nonempty(size: int, out: int, k: int, stride: int, pad: int) -> bool:
    return all(max(0, o * stride - pad) < min(o * stride - pad + k, size) for o in range(out))


def pool_s16(op: Operation, L: LoweringContext, geo: dict, lo: int, hi: int) -> bool:
    x = op.operands[0]
    _, ih, iw, channels = x.type.shape
    _, oh, ow, _ = op.results[0].type.shape
    (kh, kw), (sh, sw), (pt, pl, _, _) = geo["kernel"], geo["strides"], geo["pads"]
    if not (_windows_nonempty(ih, oh, kh, sh, pt) and _windows_nonempty(iw, ow, kw, sw, pl)):
        return False  # CMSIS-NN rejects a window without an input cell
    avg = geo["kind"] == "avg"
    scratch = S.avgpool_s16(ow, channels, L.core.isa) if avg else 0
    L.replace(op, CM.ArmPoolS16Op, [x], avg=int(avg), kernel=geo["kernel"], strides=geo["strides"],
              pads=geo["pads"], act_min=lo, act_max=hi, scratch=scratch)
    return True


def softmax_s16(op: Operation, L: LoweringContext, rows: int, row_size: int, mult: int, shift: int,
                exp_lut, recip_lut) -> bool:
    if not softmax_s16_exact(row_size, exp_lut, recip_lut):
        return False
    L.replace(op, CM.ArmSoftmaxS16Op, op.operands, rows=rows, row_size=row_size, multiplier=mult, shift=shift,
              exp_lut=tuple(int(v) for v in exp_lut), recip_lut=tuple(int(v) for v in recip_lut))
    return True


def conv_s4(op: Operation, L: LoweringContext, depthwise: bool, geometry: dict, params: dict) -> bool:
    from edgecc.backends.c.lower_cmsis import _bias

    x, w = op.operands[0], op.operands[1]
    if not int4_weights(w) or _const(w) is None:
        return False
    n, ih, iw, ic = x.type.shape
    out, geo = _conv_geometry(op, geometry)
    if depthwise:
        generic = L.core.isa == "mve" or geometry["groups"] != 1 or tuple(geometry["dilations"]) != (1, 1)
        if n != 1 or (generic and ic % 2):  # arm_depthwise_conv_s4 is wrong for odd channel counts
            return False
        scratch, cls = S.depthwise_conv_wrapper_s4(S.DwConv(*geo), L.core.isa), CM.ArmDepthwiseConvWrapperS4Op
        if L.core.isa == "mve":
            scratch, cls = 0, CM.ArmDepthwiseConvS4Op
    else:
        if w.type.shape[3] != ic:  # no grouped s4 convolution in CMSIS-NN
            return False
        scratch, cls = S.convolve_wrapper_s4(S.Conv(*geo), L.core.isa), CM.ArmConvolveWrapperS4Op
        if L.core.isa == "mve":  # Helium's 1xN kernel needs none, CMSIS-NN's C build (host checks) does
            scratch = max(scratch, S.convolve_wrapper_s4(S.Conv(*geo), "none"))
    bias = _bias(op, L, out[-1])
    L.replace(op, cls, [x, packed_constant(op, w), bias], **geometry, **params, scratch=scratch)
    return True


def fully_connected_s4(op: Operation, L: LoweringContext, params: dict) -> bool:
    from edgecc.backends.c.lower_cmsis import _bias

    x, w = op.operands[0], op.operands[1]
    if not int4_weights(w) or _const(w) is None:
        return False
    n, k = w.type.shape
    bias = _bias(op, L, n)
    packed = packed_constant(op, w)
    if len(params["multiplier"]) == 1:
        L.replace(op, CM.ArmFullyConnectedS4Op, [x, packed, bias], **params, kernel_sums=())
        return True
    rows = x.type.num_elements // max(k, 1)
    g = S.Conv((1, rows, 1, k), (n, 1, 1, k), (1, rows, 1, n))
    L.replace(op, CM.ArmFullyConnectedConvOp, [x, packed, bias], **params, wrapper=4,
              scratch=S.convolve_wrapper_s4(g, L.core.isa))
    return True


__all__ = [
    "conv_s4",
    "conv_s16",
    "elementwise_s16",
    "exact_s16",
    "fully_connected_s4",
    "fully_connected_s16",
    "int4_weights",
    "pool_s16",
    "softmax_s16",
    "softmax_s16_exact",
]
