"""Weight-only quantization: ``dynamic-int8`` and ``fp16-weights``.

``dynamic-int8`` (host execution, no calibration): the constant weights of
conv2d, depthwise_conv2d, fully_connected and matmul (constant right operand)
are stored as int8 symmetric per output channel (``[-127, 127]``, zero point
0; per tensor with ``per_channel=False``) and read through ``nn.dequantize``;
activations and biases stay float. Weight memory shrinks 4x; results differ
from float by the weight rounding only.

``fp16-weights`` (TFLite's float16 quantization): every float32 constant with
at least ``min_elements`` elements is stored as float16 and widened by
``nn.cast`` to float32 where it is used, halving weight memory.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgecc.ir.attrs import DenseElements
from edgecc.ir.core import Module, Operation
from edgecc.ir.types import FloatType, TensorType, f16
from edgecc.quant import schemes as S
from edgecc.quant.graph import WEIGHT_AXIS, WEIGHTED, constant_of


@dataclass
class WeightOnlyResult:
    weights: int = 0
    bytes_before: int = 0
    bytes_after: int = 0

    def summary(self) -> str:
        return f"{self.weights} weight tensors, {self.bytes_before} -> {self.bytes_after} bytes"


def _float_constant(v) -> bool:
    return constant_of(v) is not None and isinstance(v.type.element, FloatType) and v.type.element.bits == 32


def dynamic_int8(module: Module, per_channel: bool = True) -> WeightOnlyResult:
    from edgecc.dialects import nn
    from edgecc.dialects.builtin import ConstantOp

    res = WeightOnlyResult()
    scheme = S.SCHEMES["int8"]
    cache: dict = {}
    for op in list(module.func.body):
        if op.name in WEIGHTED:
            idx, axis = 1, WEIGHT_AXIS[op.name]
        elif op.name == "nn.matmul" and op.operands[1].type.rank >= 2:
            idx, axis = 1, op.operands[1].type.rank - 1
        else:
            continue
        w = op.operands[idx]
        if not _float_constant(w):
            continue
        key = (w, axis)
        if key not in cache:
            data = np.asarray(constant_of(w), dtype=np.float64)
            ax = axis if per_channel else None
            scales = S.weight_scales(data, ax, scheme.weight_qmax)
            q = S.quantize_weights(data, scales, ax, scheme.weight_qmin, scheme.weight_qmax).astype(np.int8)
            t = TensorType(data.shape, S.weight_type(scales, ax, scheme))
            src = w.defining_op()
            c = ConstantOp.from_array(DenseElements(q, t), loc=src.loc, name=w.name_hint)
            src.parent.insert_after(src, c)
            dq = nn.DequantizeOp.build(c.result, result_types=[w.type], loc=src.loc,
                                       result_names=[(w.name_hint or "w") + "_dq"])
            src.parent.insert_after(c, dq)
            cache[key] = dq.result
            res.weights += 1
            res.bytes_before += w.type.nbytes
            res.bytes_after += t.nbytes
        op.set_operand(idx, cache[key])
        _erase_if_dead(w.defining_op())
    return res


def fp16_weights(module: Module, min_elements: int = 1) -> WeightOnlyResult:
    from edgecc.dialects import nn
    from edgecc.dialects.builtin import ConstantOp
    from edgecc.ir.types import f32

    res = WeightOnlyResult()
    for op in list(module.func.body):
        if op.name != "builtin.constant" or not _float_constant(op.result):
            continue
        v = op.result
        if v.type.num_elements < min_elements or not v.uses:
            continue
        data = constant_of(v).astype(np.float16)
        c = ConstantOp.from_array(DenseElements(data, TensorType(v.type.shape, f16)), loc=op.loc,
                                  name=v.name_hint)
        op.parent.insert_after(op, c)
        cast = nn.CastOp.build(c.result, to=f32, loc=op.loc, result_names=[(v.name_hint or "c") + "_f32"])
        op.parent.insert_after(c, cast)
        v.replace_all_uses_with(cast.result)
        op.erase()
        res.weights += 1
        res.bytes_before += v.type.nbytes
        res.bytes_after += c.result.type.nbytes
    return res


def _erase_if_dead(op: Operation | None) -> None:
    if op is not None and op.parent is not None and not any(r.uses for r in op.results):
        op.erase()


__all__ = ["WeightOnlyResult", "dynamic_int8", "fp16_weights"]
