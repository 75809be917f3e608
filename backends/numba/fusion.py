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

Then ``plan_chains`` joins runs of float32 unary/binary elementwise nodes, each
reading the previous one's single-use result, into one ``chain`` node (one kernel
call, one pass over L1-sized tiles): the other operand of a binary member must have
the result's shape or one element. Unrolled recurrent cells and activation tails
(sigmoid-mul, add-tanh-mul) are such runs. Results are bitwise those of the unfused
ops (the float32 rounding points are kept).
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
    return plan_chains([nodes[op] for op in ops if op not in absorbed], outputs)


UNARY_OPS = frozenset({"nn.relu", "nn.clamp", "nn.sigmoid", "nn.tanh", "nn.hard_swish", "nn.hard_sigmoid",
                       "nn.leaky_relu", "nn.exp", "nn.log", "nn.sqrt", "nn.rsqrt", "nn.abs", "nn.neg", "nn.erf"})
BINARY_OPS = frozenset({"nn.add", "nn.sub", "nn.mul", "nn.div", "nn.maximum", "nn.minimum", "nn.pow"})
#: operands besides the running value a chain kernel takes
CHAIN_OPERANDS = 4


def _fits(v: Value, shape: tuple) -> bool:
    """``v`` is read elementwise against a result of ``shape``: same shape (left-padded) or one element."""
    s = tuple(v.type.shape)
    return s == shape[len(shape) - len(s):] and all(d == 1 for d in shape[:len(shape) - len(s)]) \
        or v.type.num_elements == 1


def _chain_member(n: Node) -> bool:
    op = n.op
    return (op.name in UNARY_OPS or op.name in BINARY_OPS) and n.residual is None and len(n.writes) == 1 \
        and _f32(n.writes[0]) and all(_f32(v) for v in op.operands) and n.writes[0].type.num_elements > 0


def _chain_start(n: Node) -> Value | None:
    """The operand a chain starting at ``n`` runs over (the result's shape), else None."""
    if not _chain_member(n):
        return None
    shape = tuple(n.writes[0].type.shape)
    for v in n.op.operands:
        if tuple(v.type.shape) == shape and all(_fits(u, shape) for u in n.op.operands):
            return v
    return None


def _operands(chain: list[Node], first: Value) -> list[tuple[Node, int]]:
    """(member, index of the running value among its operands) for each member."""
    out, run = [], first
    for m in chain:
        ops = m.op.operands
        out.append((m, 0 if ops[0] is run else 1))
        run = m.writes[0]
    return out


def externals(chain: list[Node], first: Value) -> list[Value]:
    """The distinct operands of a chain's binary members other than the running value, in order."""
    seen: list[Value] = []
    for m, i in _operands(chain, first):
        if len(m.op.operands) == 2:
            v = m.op.operands[1 - i]
            if all(v is not u for u in seen):
                seen.append(v)
    return seen


def _extends(chain: list[Node], first: Value, n: Node, outputs: set) -> bool:
    last = chain[-1].writes[0]
    shape = tuple(last.type.shape)
    if not _chain_member(n) or tuple(n.writes[0].type.shape) != shape:
        return False
    if last in outputs or len(last.uses) != 1 or last.uses[0].op is not n.op:
        return False
    ops = n.op.operands
    if sum(v is last for v in ops) != 1 or not all(_fits(v, shape) for v in ops if v is not last):
        return False
    return len(externals(chain + [n], first)) <= CHAIN_OPERANDS


def plan_chains(nodes: list[Node], outputs: set) -> list[Node]:
    """Join runs of elementwise nodes (module docstring) into chain nodes, each scheduled where its
    last member was (every intermediate has one use, the next member, so nothing else moves)."""
    node_of = {n.op: n for n in nodes}
    taken: set[int] = set()
    replace: dict[int, Node] = {}
    for n in nodes:
        first = None if id(n) in taken else _chain_start(n)
        if first is None:
            continue
        chain = [n]
        while True:
            w = chain[-1].writes[0]
            nxt = node_of.get(w.uses[0].op) if len(w.uses) == 1 else None
            if nxt is None or id(nxt) in taken or not _extends(chain, first, nxt, outputs):
                break
            chain.append(nxt)
        if len(chain) < 2:
            continue
        taken.update(id(m) for m in chain)
        replace[id(chain[-1])] = Node(chain[0].op, [first] + externals(chain, first), list(chain[-1].writes),
                                      fused=[m.op for m in chain[1:]], chain=chain)
    return [replace.get(id(n), n) for n in nodes if id(n) not in taken or id(n) in replace]


def chain_operands(node: Node) -> list[tuple[Node, int]]:
    """(member, index of the running value) of a chain node's members."""
    return _operands(node.chain, node.reads[0])


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
