"""Integer semantics of quantized ``nn`` ops: TFLite Micro's reference kernels, in numpy.

``edgecc.interp.reference.evaluate_op`` dispatches here whenever an op has a
quantized operand or result. Inputs and outputs are the *stored integers*
(int8 for qi8/qi4, int16 for qi16); nn.quantize takes float32 and
nn.dequantize returns float32. ``docs/quantization-semantics.md`` lists the
algorithm of every op, its TFLM source and its bit-exactness status;
``STATUS`` below is the same table in code.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from edgecc.interp.ops_common import op_error
from edgecc.interp.quantized import conv, elementwise, lstm, pool, shape  # noqa: F401  (register)
from edgecc.interp.quantized.common import QKERNELS, QParams, element, qkernel, qparams
from edgecc.ir.core import Operation
from edgecc.ir.types import QuantizedType, TensorType

#: op -> (int8 status, int16x8 status). "tflm": bit-exact with a TFLM reference kernel (int16
#: bilinear resize: with LiteRT); "tflite": TFLite's algorithm, bit-exact with LiteRT, no TFLM
#: kernel; "edgecc": defined here (no TFLite integer kernel to match); "float": dequantize ->
#: float kernel -> quantize, within 1 LSB of the exact function.
STATUS: dict[str, tuple[str, str]] = {
    "nn.conv2d": ("tflm", "tflm"), "nn.depthwise_conv2d": ("tflm", "tflm"),
    "nn.fully_connected": ("tflm", "tflm"), "nn.matmul": ("tflm", "tflm"),
    "nn.add": ("tflm", "tflm"), "nn.sub": ("tflm", "tflm"), "nn.mul": ("tflm", "tflm"),
    "nn.maximum": ("tflm", "tflm"), "nn.minimum": ("tflm", "tflm"),
    "nn.relu": ("tflm", "tflm"), "nn.clamp": ("tflm", "tflm"),
    "nn.leaky_relu": ("tflm", "tflm"), "nn.prelu": ("tflm", "float"),
    "nn.sigmoid": ("tflm", "tflm"), "nn.tanh": ("tflm", "tflm"),
    "nn.hard_swish": ("tflm", "tflm"), "nn.hard_sigmoid": ("tflm", "tflm"), "nn.softmax": ("tflm", "tflm"),
    "nn.log_softmax": ("tflm", "float"), "nn.abs": ("tflm", "tflm"),
    "nn.rsqrt": ("tflm", "edgecc"), "nn.neg": ("edgecc", "edgecc"),
    "nn.exp": ("tflite", "tflite"),
    "nn.avg_pool2d": ("tflm", "tflm"), "nn.max_pool2d": ("tflm", "tflm"),
    "nn.mean": ("tflm", "tflm"), "nn.reduce_sum": ("tflm", "tflm"),
    "nn.reduce_max": ("tflm", "edgecc"), "nn.reduce_min": ("tflm", "edgecc"),
    "nn.resize": ("tflm", "tflm"),
    "nn.reshape": ("tflm", "tflm"), "nn.transpose": ("tflm", "tflm"),
    "nn.slice": ("tflm", "tflm"), "nn.gather": ("tflm", "edgecc"), "nn.split": ("tflm", "tflm"),
    "nn.concat": ("tflm", "tflm"), "nn.pad": ("tflm", "tflm"),
    "nn.quantize": ("tflm", "tflm"), "nn.dequantize": ("tflm", "tflm"),
    "nn.requantize": ("tflm", "tflm"), "nn.lstm": ("tflm", "tflm"),
}


def is_quantized_op(op: Operation) -> bool:
    """Whether ``op`` has a quantized operand or result (so integer semantics apply)."""
    for v in (*op.operands, *op.results):
        t = v.type
        if isinstance(t, TensorType) and isinstance(t.element, QuantizedType):
            return True
    return False


def supports(op: Operation) -> bool:
    return op.name in QKERNELS


def evaluate_op(op: Operation, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Execute a quantized ``op`` on stored integers; one array per result.

    Inputs must have the storage dtype of their (quantized) operand types; the
    results have the storage dtype and shape of the result types.
    """
    fn = QKERNELS.get(op.name)
    if fn is None:
        raise op_error(op, "on quantized tensors has no integer kernel (no TFLite integer "
                           "semantics for it)")
    if len(inputs) != len(op.operands):
        raise op_error(op, f"got {len(inputs)} inputs for {len(op.operands)} operands")
    args = []
    for i, (v, a) in enumerate(zip(op.operands, inputs)):
        a = np.asarray(a)
        q = element(v)
        if q is not None and a.dtype != q.storage.numpy:
            raise op_error(op, f"operand #{i} ({v.type}) expects stored {q.storage.numpy} "
                               f"integers, got {a.dtype}")
        args.append(a)
    with np.errstate(over="ignore"):
        out = fn(op, *args)
    outs = list(out) if isinstance(out, (list, tuple)) else [out]
    if len(outs) != len(op.results):
        raise op_error(op, f"kernel produced {len(outs)} results, op declares {len(op.results)}")
    final = []
    for r, y in zip(op.results, outs):
        y = np.asarray(y)
        t = r.type
        if tuple(y.shape) != t.shape:
            raise op_error(op, f"result #{r.index} has shape {list(y.shape)} but the op declares "
                               f"{list(t.shape)}")
        if y.dtype != t.element.numpy:
            y = y.astype(t.element.numpy)
        final.append(y)
    return final


__all__ = ["QKERNELS", "QParams", "STATUS", "evaluate_op", "is_quantized_op", "qkernel",
           "qparams", "supports"]
