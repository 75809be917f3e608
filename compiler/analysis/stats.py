"""Per-op statistics: MACs, parameter counts and activation sizes.

MACs count multiply-accumulates of conv, depthwise, fully-connected and
matmul ops (as MLPerf Tiny counts them); other ops count zero.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from math import prod

from edgecc.ir.core import Module, Operation
from edgecc.ir.types import TensorType


def op_macs(op: Operation) -> int:
    """Multiply-accumulates of one op."""
    name = op.name
    if name in ("nn.conv2d", "nn.depthwise_conv2d"):
        w = op.operands[1].type.shape
        out = op.results[0].type.shape
        if name == "nn.conv2d":
            return prod(out) * w[1] * w[2] * w[3]
        return prod(out) * w[1] * w[2]
    if name in ("nn.fully_connected", "nn.matmul"):
        k = op.operands[0].type.shape[-1]
        return prod(op.results[0].type.shape) * k
    if name in ("nn.lstm", "c.lstm"):  # per step and gate: input and recurrent products
        n_cell, n_in = op.operands[1].type.shape
        return prod(op.results[0].type.shape) * 4 * (n_in + n_cell)
    return 0


def _bytes(t) -> int:
    return t.nbytes if isinstance(t, TensorType) else 0


@dataclass
class OpStat:
    name: str
    loc: str
    macs: int
    params: int
    in_bytes: int
    out_bytes: int


@dataclass
class ModuleStats:
    ops: list[OpStat] = field(default_factory=list)
    op_counts: Counter = field(default_factory=Counter)
    total_macs: int = 0
    param_count: int = 0
    param_bytes: int = 0
    input_bytes: int = 0
    output_bytes: int = 0
    largest_activation: int = 0


def module_stats(module: Module) -> ModuleStats:
    s = ModuleStats()
    for a in module.func.arguments:
        s.input_bytes += _bytes(a.type)
    for v in module.func.outputs:
        s.output_bytes += _bytes(v.type)
    for op in module.ops:
        if op.name == "func.return":
            continue
        if op.name == "builtin.constant":
            t = op.results[0].type
            s.param_count += t.num_elements
            s.param_bytes += _bytes(t)
            continue
        s.op_counts[op.name] += 1
        params = sum(v.type.num_elements for v in op.operands
                     if v.defining_op() is not None and v.defining_op().name == "builtin.constant")
        in_b = sum(_bytes(v.type) for v in op.operands
                   if v.defining_op() is None or v.defining_op().name != "builtin.constant")
        out_b = sum(_bytes(r.type) for r in op.results)
        macs = op_macs(op)
        s.total_macs += macs
        s.largest_activation = max(s.largest_activation, out_b)
        s.ops.append(OpStat(op.name, layer_label(op), macs, params, in_b, out_b))
    return s


def layer_label(op) -> str:
    """The name a table shows for a layer (every report uses this one): its node name(s), else
    its first result's name."""
    loc = op.loc
    return (loc.label if loc is not None else None) or (op.results[0].name_hint if op.results else None) or ""


def short_label(s: str, n: int = 40) -> str:
    """``s`` cut to ``n`` characters for a table, keeping the end (where ONNX names differ)."""
    return s if len(s) <= n else "..." + s[-(n - 3):]
