"""256-entry tables of int8 unary ops, computed by running the integer reference kernel on every
stored value: how the C and Numba backends execute elementwise int8 activations (relu, clamp,
sigmoid, tanh, hard_swish, hard_sigmoid, exp, ...) bit-exactly without re-implementing each."""

from __future__ import annotations

import numpy as np

from edgecc.interp.quantized.common import qparams
from edgecc.ir.core import BlockArgument, Operation, Value
from edgecc.ir.types import TensorType

#: int8 unary ops a table executes (each has a reference integer kernel)
UNARY_TABLE_OPS = ("nn.relu", "nn.clamp", "nn.leaky_relu", "nn.sigmoid", "nn.tanh", "nn.hard_swish",
                   "nn.exp", "nn.abs", "nn.neg", "nn.rsqrt", "nn.hard_sigmoid")


def evaluate_on_all_int8(op: Operation, in_value: Value, out_type) -> np.ndarray:
    """Run the integer reference kernel of unary ``op`` on the 256 int8 values."""
    from edgecc.interp import quantized

    arg = BlockArgument(TensorType((256,), in_value.type.element), None, 0)
    clone = object.__new__(type(op))
    Operation.__init__(clone, [arg], [TensorType((256,), out_type)], dict(op.attrs), op.loc, name=op.name)
    x = np.arange(-128, 128, dtype=np.int8)
    return np.asarray(quantized.evaluate_op(clone, [x])[0]).astype(np.int64)


def unary_table(op: Operation) -> tuple[int, ...]:
    """``table[x + 128]`` = the op's int8 result for stored input ``x``."""
    x, r = op.operands[0], op.results[0]
    if op.name == "nn.rsqrt":  # defined for x >= zero point only (TFLite errors below)
        from edgecc.interp.quantized.elementwise import _rsqrt_table

        inp, out = qparams(op, x), qparams(op, r)
        lo = max(inp.zero_point, -128)
        t = np.full(256, out.qmax, dtype=np.int64)
        t[lo + 128:] = np.clip(_rsqrt_table(inp, out, lo, 127), out.qmin, out.qmax)
        return tuple(int(v) for v in t)
    return tuple(int(v) for v in evaluate_on_all_int8(op, x, r.type.element))
