"""Backend epilogue fusion: which ops a producer's kernel absorbs.

The ``fuse`` pass already folds relu/relu6/relu_n1_to_1, bias and padding
into the IR. On top of it the Numba backend fuses, without changing the IR:

* a float32 ``nn.relu``/``nn.clamp`` (any bounds) into a producer whose kernel
  ends with a clamp (conv2d, depthwise_conv2d, fully_connected, add/sub/mul/div,
  pools): the two ranges are intersected (not when they are disjoint);
* a float32 residual ``nn.add(p, r)`` into the conv2d (one group) or
  fully_connected producing ``p``: the kernel adds ``r`` in its epilogue,
  before the add's activation (``res_first``) when the producer has none, or
  after the producer's activation when the add has none. ``r`` must be
  computed before the producer and have the result's shape.

The producer then writes the consumer's result; the consumer is not scheduled.
Results are bitwise those of the unfused ops (the float32 rounding points are
kept).
"""

from __future__ import annotations

import math

from edgecc.backends.numba.lower import Node
from edgecc.ir.core import Module, Operation, Value
from edgecc.ir.types import FloatType, TensorType

CLAMP_PRODUCERS = frozenset({"nn.conv2d", "nn.depthwise_conv2d", "nn.fully_connected", "nn.add", "nn.sub",
                             "nn.mul", "nn.div", "nn.avg_pool2d", "nn.max_pool2d"})
RESIDUAL_PRODUCERS = frozenset({"nn.conv2d", "nn.fully_connected"})
RANGES = {"none": (-math.inf, math.inf), "relu": (0.0, math.inf), "relu6": (0.0, 6.0),
          "relu_n1_to_1": (-1.0, 1.0)}


def _f32(v: Value) -> bool:
    t = v.type
    return isinstance(t, TensorType) and t.element == FloatType(32)


def _single_use(v: Value, outputs: set) -> Operation | None:
    if v in outputs or len(v.uses) != 1:
        return None
    return v.uses[0].op


def clamp_range(op: Operation) -> tuple[float, float] | None:
    """The [lo, hi] an nn.relu / nn.clamp applies (None for other ops)."""
    if op.name == "nn.relu":
        return (0.0, math.inf)
    if op.name == "nn.clamp":
        lo, hi = op.attr("min"), op.attr("max")
        return (-math.inf if lo is None else float(lo), math.inf if hi is None else float(hi))
    return None


def activation_range(op: Operation) -> tuple[float, float]:
    return RANGES.get(op.attr("activation", "none") or "none", RANGES["none"])


def plan_fusions(module: Module, enabled: bool = True) -> list[Node]:
    func = module.func
    outputs = set(func.outputs)
    ops = [op for op in func.body if op.name not in ("builtin.constant", "func.return")]
    position = {op: i for i, op in enumerate(ops)}
    absorbed: set[Operation] = set()
    nodes: dict[Operation, Node] = {}
    for op in ops:
        nodes[op] = Node(op, list(op.operands), list(op.results))
    if not enabled:
        return [nodes[op] for op in ops]
    for op in ops:
        if op in absorbed or len(op.results) != 1 or not _f32(op.result):
            continue
        node = nodes[op]
        if op.name in RESIDUAL_PRODUCERS and _residual_ok(op):
            user = _single_use(op.result, outputs)
            if user is not None and user.name == "nn.add" and _f32(user.result) and user not in absorbed:
                other = user.operands[1] if user.operands[0] is op.result else user.operands[0]
                if other is not op.result and other.type.shape == op.result.type.shape \
                        and _defined_before(other, op, position):
                    own, add = activation_range(op), activation_range(user)
                    if own == RANGES["none"] or add == RANGES["none"]:
                        node.residual = other
                        node.res_first = own == RANGES["none"]
                        node.clamp = add if node.res_first else own
                        node.writes = [user.result]
                        node.fused.append(user)
                        absorbed.add(user)
                        continue
        if op.name in CLAMP_PRODUCERS:
            user = _single_use(op.result, outputs)
            rng = clamp_range(user) if user is not None else None
            if rng is not None and _f32(user.result) and user not in absorbed:
                own = activation_range(op)
                lo, hi = max(own[0], rng[0]), min(own[1], rng[1])
                if lo <= hi:
                    node.clamp = (lo, hi)
                    node.writes = [user.result]
                    node.fused.append(user)
                    absorbed.add(user)
    return [nodes[op] for op in ops if op not in absorbed]


def _residual_ok(op: Operation) -> bool:
    if op.name == "nn.conv2d":
        return int(op.attr("groups", 1) or 1) == 1
    return op.name == "nn.fully_connected"


def _defined_before(v: Value, op: Operation, position: dict) -> bool:
    d = v.defining_op()
    if d is None:
        return True  # a function argument
    if d.name == "builtin.constant":
        return True
    return d in position and position[d] < position[op]
