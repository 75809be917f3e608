"""Data movement and (de/re)quantization on stored integers.

reshape, transpose, slice, gather, split keep their element type: the float
kernels run unchanged on the stored integers. concat requantizes inputs whose
parameters differ from the output's (TFLM's CONCATENATION needs them equal, so a
backend emits QUANTIZE ops there). pad fills with the output quantization of
``value`` (the zero point for 0.0), as TFLite's PAD/PADV2 do.

nn.quantize follows TFLM QUANTIZE (``reference/quantize.h`` ``AffineQuantize``):
float32 division by the scale, round half away from zero, add the zero point,
clamp. nn.dequantize: ``float32(q - zp) * scale``. nn.requantize: TFLM QUANTIZE
between integer types (``reference/requantize.h``).
"""

from __future__ import annotations

import numpy as np

from edgecc.interp.ops_common import KERNELS, norm_axis
from edgecc.interp.quantized.common import (
    axis_params,
    element,
    i64,
    qkernel,
    qparams,
    requant,
    require,
    store,
)
from edgecc.quant import math as qm


def _movement(op, *arrays):
    return KERNELS[op.name](op, *arrays)


for _name in ("nn.reshape", "nn.transpose", "nn.slice", "nn.gather", "nn.split"):
    qkernel(_name)(_movement)


@qkernel("nn.concat")
def concat(op, *xs):
    out = qparams(op, op.results[0], "output")
    axis = norm_axis(op, int(op.attr("axis", 0)), xs[0].ndim)
    parts = [requant(x, qparams(op, v, f"input #{i}"), out) for i, (v, x) in
             enumerate(zip(op.operands, xs))]
    return store(np.concatenate(parts, axis=axis), out)


@qkernel("nn.pad")
def pad(op, x):
    inp, out = qparams(op, op.operands[0], "input"), qparams(op, op.results[0], "output")
    mode = op.attr("mode", "constant") or "constant"
    xi = requant(x, inp, out)
    pads = [int(p) for p in op.attr("pads")]
    r = x.ndim
    width = list(zip(pads[:r], pads[r:]))
    if mode == "constant":
        value = op.attr("value", 0.0)
        fill = qm.quantize_value(0.0 if value is None else value, out.scale, out.zero_point)
        fill = int(np.clip(fill, out.qmin, out.qmax))
        return store(np.pad(xi, width, mode="constant", constant_values=fill), out)
    return store(np.pad(xi, width, mode="reflect" if mode == "reflect" else "edge"), out)


@qkernel("nn.quantize")
def quantize(op, x):
    q = element(op.results[0])
    scale, zp = axis_params(q, x.ndim)
    return qm.quantize_values(np.asarray(x, dtype=np.float32), scale, zp, q.qmin,
                              q.qmax).astype(q.storage.numpy)


@qkernel("nn.dequantize")
def dequantize(op, x):
    q = element(op.operands[0])
    scale, zp = axis_params(q, x.ndim)
    return ((i64(x) - zp).astype(np.float32) * scale).astype(np.float32)


@qkernel("nn.requantize")
def requantize(op, x):
    qi, qo = element(op.operands[0]), element(op.results[0])
    if qi.per_axis or qo.per_axis:
        require(op, qi.axis == qo.axis or not (qi.per_axis and qo.per_axis),
                "per-axis requantize needs the same axis on both sides")
        si, zi = axis_params(qi, x.ndim)
        so, zo = axis_params(qo, x.ndim)
        real = np.float64(1.0) * np.asarray(si, np.float64) / np.asarray(so, np.float64)
        m, s = qm.quantize_multiplier_array(real)
        y = qm.multiply_by_quantized_multiplier(i64(x) - zi, m, s) + zo
        return np.clip(y, qo.qmin, qo.qmax).astype(qo.storage.numpy)
    src, dst = qparams(op, op.operands[0], "input"), qparams(op, op.results[0], "output")
    m, s = qm.requantize_params(src.scale, dst.scale)
    y = qm.multiply_by_quantized_multiplier(i64(x) - src.zero_point, m, s) + dst.zero_point
    return store(y, dst)

