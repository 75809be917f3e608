"""Lowering of quantized ``nn`` ops to CMSIS-NN calls (Cortex-M targets).

Each function returns False when CMSIS-NN has no kernel for the case (batched
depthwise, broadcasting ...); the caller then uses edgecc's portable integer
kernel. int4 weights and int16 activations go to ``lower_cmsis16``. Scratch sizes follow ``edgecc.backends.c.cmsis_sizes``
for the target core's ISA.
"""

from __future__ import annotations

import numpy as np

from edgecc.backends.c import cmsis_sizes as S
from edgecc.backends.c import dialect_cmsis as CM
from edgecc.backends.c.lower import LoweringContext
from edgecc.ir.core import Operation, Value
from edgecc.ir.types import QuantizedType


def _int8_weights(v: Value) -> bool:
    e = v.type.element
    return isinstance(e, QuantizedType) and e.storage.bits == 8


def _bias(op: Operation, L: LoweringContext, channels: int) -> Value:
    if len(op.operands) > 2 and op.operands[2] is not None:
        return op.operands[2]
    return L.constant(op, np.zeros(channels, dtype=np.int32))


def conv(op: Operation, L: LoweringContext, depthwise: bool, geometry: dict, params: dict) -> bool:
    x, w = op.operands[0], op.operands[1]
    if not _int8_weights(w):
        from edgecc.backends.c.lower_cmsis16 import conv_s4

        return conv_s4(op, L, depthwise, geometry, params)
    n, ih, iw, ic = x.type.shape
    out = op.results[0].type.shape
    pt, pl, _, _ = geometry["pads"]
    sh, sw = geometry["strides"]
    dh, dw = geometry["dilations"]
    isa = L.core.isa
    if depthwise:
        if n != 1:
            return False
        g = S.DwConv((n, ih, iw, ic), tuple(w.type.shape), tuple(out), (pt, pl), (sh, sw), (dh, dw))
        scratch = S.depthwise_conv_wrapper_s8(g, isa)
        cls = CM.ArmDepthwiseConvWrapperS8Op
    else:
        g = S.Conv((n, ih, iw, ic), tuple(w.type.shape), tuple(out), (pt, pl), (sh, sw), (dh, dw))
        scratch = S.convolve_wrapper_s8(g, isa)
        cls = CM.ArmConvolveWrapperS8Op
    bias = _bias(op, L, out[-1])
    L.replace(op, cls, [x, w, bias], **geometry, **params, scratch=scratch)
    return True


def fully_connected(op: Operation, L: LoweringContext, params: dict) -> bool:
    x, w = op.operands[0], op.operands[1]
    if not _int8_weights(w):
        from edgecc.backends.c.lower_cmsis16 import fully_connected_s4

        return fully_connected_s4(op, L, params)
    n = w.type.shape[0]
    bias = _bias(op, L, n)
    sums: tuple[int, ...] = ()
    if L.core.isa == "mve":
        wop, bop = w.defining_op(), bias.defining_op()
        if wop is None or not wop.has_trait("ConstantLike") or bop is None or not bop.has_trait("ConstantLike"):
            return False
        sums = tuple(S.kernel_sums(wop.attr("value").array, bop.attr("value").array, params["input_offset"]))
    L.replace(op, CM.ArmFullyConnectedS8Op, [x, w, bias], **params, kernel_sums=sums)
    return True


def elementwise(op: Operation, L: LoweringContext, attrs: dict) -> bool:
    kind = attrs["kind"]
    keep = {k: v for k, v in attrs.items() if k not in ("kind",)}
    cls = CM.ArmElementwiseAddS8Op if kind == "add" else CM.ArmElementwiseMulS8Op
    L.replace(op, cls, op.operands, **keep)
    return True


def pool(op: Operation, L: LoweringContext, geo: dict, lo: int, hi: int) -> bool:
    x = op.operands[0]
    avg = geo["kind"] == "avg"
    out_w, channels = op.results[0].type.shape[2], x.type.shape[3]
    scratch = S.avgpool_s8(out_w, channels, L.core.isa) if avg else 0
    L.replace(op, CM.ArmPoolS8Op, [x], avg=int(avg), kernel=geo["kernel"], strides=geo["strides"],
              pads=geo["pads"], act_min=lo, act_max=hi, scratch=scratch)
    return True


def softmax(op: Operation, L: LoweringContext, rows: int, row_size: int, tables: dict) -> bool:
    L.replace(op, CM.ArmSoftmaxS8Op, op.operands, rows=rows, row_size=row_size, multiplier=tables["mult"],
              shift=tables["shift"], diff_min=tables["diff_min"])
    return True


__all__ = ["conv", "elementwise", "fully_connected", "pool", "softmax"]
