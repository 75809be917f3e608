"""Arena planning of the fused schedule with ``edgecc.analysis.memory.plan_memory``.

The planner sees a mirror function with one op per scheduled node (after
fusion): its operands are the node's non-constant reads (a fused residual
included), its results the values the node writes. In-place rules are the
Numba kernels' own: reshape is a view; elementwise unary and binary kernels
read element i before writing element i, so their result may take the
memory of any operand of the same size.
"""

from __future__ import annotations

import numpy as np

from edgecc.ir.core import Func, Operation

ALIGNMENT = 64
_UNARY = {"nn.relu", "nn.clamp", "nn.sigmoid", "nn.tanh", "nn.hard_swish", "nn.hard_sigmoid", "nn.leaky_relu",
          "nn.exp", "nn.log", "nn.sqrt", "nn.rsqrt", "nn.abs", "nn.neg", "nn.erf"}
_BINARY = {"nn.add", "nn.sub", "nn.mul", "nn.div", "nn.maximum", "nn.minimum", "nn.pow", "nn.prelu"}


def plan(L, module, nodes):
    """Assign arena views to every activation value; returns (order, arena bytes) or None."""
    try:
        from edgecc.analysis.liveness import InPlace
        from edgecc.analysis.memory import plan_memory
        from edgecc.dialects.builtin import ReturnOp
    except ImportError:
        return None
    func = module.func
    pf = Func("plan")
    vmap = {}
    for a in func.arguments:
        vmap[a] = pf.add_argument(a.type)
    node_of: dict[Operation, object] = {}
    for n in nodes:
        extra = [n.residual] if n.residual is not None else []
        reads = [v for v in n.reads + extra if v not in L.constants]
        try:
            operands = [vmap[v] for v in reads]
        except KeyError:
            return None  # a value read before it is written: keep the plain allocation
        name = n.op.name if n.residual is None else "numba.fused"
        pop = Operation(operands, [w.type for w in n.writes], name=name)
        pf.body.append(pop)
        for w, r in zip(n.writes, pop.results):
            vmap[w] = r
        node_of[pop] = n
    pf.body.append(ReturnOp([vmap[v] if v in vmap else _const_placeholder(pf, v) for v in func.outputs]))

    def rule_for(op: Operation):
        if not op.operands:
            return None
        if op.name == "nn.reshape":
            return InPlace((0,), alias=True)
        if op.name in _UNARY:
            return InPlace((0,))
        if op.name in _BINARY:
            return InPlace(tuple(range(len(op.operands))))
        return None

    order = [op for op in pf.body if op.name != "func.return"]
    try:
        p = plan_memory(pf, alignment=ALIGNMENT, order=order, rule_for=rule_for, exact_limit=0)
    except TypeError:  # an incompatible planner API: keep one buffer per value
        return None
    raw = np.zeros(p.arena_size + ALIGNMENT, np.uint8)
    shift = (-raw.__array_interface__["data"][0]) % ALIGNMENT
    arena = raw[shift:shift + p.arena_size]
    inverse = {pv: v for v, pv in vmap.items()}
    for pv, v in inverse.items():
        t = v.type
        if v in L.buffers:
            continue
        nbytes = t.num_elements * t.element.numpy.itemsize
        if p.has(pv) and nbytes <= t.nbytes:
            off = p.offset(pv)
            L.buffers[v] = arena[off:off + nbytes].view(t.element.numpy).reshape(t.shape)
        else:
            L.buffers[v] = np.zeros(t.shape, t.element.numpy)
            L.held_bytes += L.buffers[v].nbytes
    L.arena = raw
    return [node_of[op] for op in p.order], p.arena_size


def _const_placeholder(pf: Func, v):
    """A function output that is a constant: give the planner a dummy argument for it."""
    return pf.add_argument(v.type)
