"""Lowering an ``nn`` module to a ``HostModule`` schedule.

1. *Nodes*: the ops in block order, constants and the terminator removed,
   with backend fusions applied (``fusion.plan_fusions``): a producer absorbs
   a following relu/clamp and a residual add into its epilogue, writing the
   consumer's result directly.
2. *Buffers*: every activation value gets a view into one arena planned by
   ``edgecc.analysis.memory.plan_memory`` over the fused schedule (reshape is
   a view, unary/binary elementwise ops may run in place); without the
   planner (``plan=False``) every value gets its own buffer. Constants are
   copied once (writable, so kernels see one array type).
3. *Steps*: each node is lowered by its op's function in ``ops.LOWERINGS`` to
   kernel calls with all parameters converted to their final numpy types.
   float16 tensors are computed in float32 shadows (Numba has no float16
   arithmetic), converted by numpy at the node's boundary; pure data movement
   on float16 moves the bits as int16.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from edgecc.backends.numba.host import HostModule, IOSpec, Step
from edgecc.ir.core import Module, Operation, Value
from edgecc.ir.diagnostics import EdgeccError
from edgecc.ir.types import QuantizedType, TensorType

#: ops that only move data: float16 is handled as its int16 bits
MOVEMENT = frozenset({"nn.transpose", "nn.concat", "nn.split", "nn.slice", "nn.pad", "nn.gather"})
_copy_unsafe = functools.partial(np.copyto, casting="unsafe")


@dataclass
class Node:
    """One scheduled op: ``writes`` replaces the op's results (fusion redirects them)."""

    op: Operation
    reads: list[Value]
    writes: list[Value]
    clamp: tuple[float, float] | None = None
    residual: Value | None = None
    res_first: bool = True
    fused: list[Operation] = field(default_factory=list)
    #: an elementwise chain (``fusion.plan_chains``): the member nodes, first to last
    chain: list[Node] = field(default_factory=list)


class Lowering:
    """State of one compilation: buffers, constants, scratch and the emitted steps."""

    def __init__(self, module: Module, accumulate: str = "auto") -> None:
        if accumulate not in ("auto", "float32", "float64"):
            raise EdgeccError(f"accumulate must be 'auto', 'float32' or 'float64', got '{accumulate}'")
        self.module = module
        #: accumulator of convolutions (and pools' window sums are always float64)
        self.acc = np.dtype(np.float32 if accumulate in ("auto", "float32") else np.float64)
        #: accumulator of fully_connected / matmul
        self.dense_acc = np.dtype(np.float64 if accumulate in ("auto", "float64") else np.float32)
        self.buffers: dict[Value, np.ndarray] = {}
        self.constants: dict[Value, np.ndarray] = {}
        self.steps: list[Step] = []
        self.fallbacks: list[str] = []
        self._scratch: dict[tuple, np.ndarray] = {}
        self.node: Node | None = None
        self.held_bytes = 0

    # -- buffers --------------------------------------------------------------
    def scratch(self, shape, dtype, key: str = "") -> np.ndarray:
        """A scratch array shared by every step asking for the same (shape, dtype, key)."""
        k = (tuple(int(d) for d in shape), np.dtype(dtype).str, key)
        a = self._scratch.get(k)
        if a is None:
            a = self._scratch[k] = np.zeros(k[0], dtype=dtype)
            self.held_bytes += a.nbytes
        return a

    def persistent(self, array: np.ndarray) -> np.ndarray:
        """A compile-time array (transformed weights) kept by the module."""
        a = np.ascontiguousarray(array)
        if not a.flags.writeable or a.base is not None:
            a = a.copy()
        self.held_bytes += a.nbytes
        return a

    def weight(self, key, make) -> np.ndarray:
        """A relaid-out constant built once per compilation for ``key`` (shared by the row blocks)."""
        cache = self.__dict__.setdefault("_weights", {})
        a = cache.get(key)
        if a is None:
            a = cache[key] = self.persistent(make())
        return a

    def is_constant(self, v: Value) -> bool:
        return v in self.constants

    # -- steps ------------------------------------------------------------------
    def emit(self, fn, *args, kernel: str | None = None) -> None:
        node = self.node
        op = node.op if node is not None else None
        self.steps.append(Step(fn, tuple(args), op.name if op is not None else "?",
                               op.loc if op is not None else None,
                               kernel or getattr(fn, "__name__", type(fn).__name__)))

    def fallback(self, op: Operation, ins: list[np.ndarray], outs: list[np.ndarray]) -> None:
        """Execute ``op`` with the numpy reference kernel (cases without a Numba kernel)."""
        from edgecc.interp.reference import evaluate_op

        def run_reference(ins, outs, op=op):
            for o, y in zip(outs, evaluate_op(op, ins)):
                np.copyto(o, y, casting="unsafe")

        self.fallbacks.append(op.name)
        self.emit(run_reference, ins, outs, kernel="reference")  # buffers as arguments: the program moves them


# ----------------------------------------------------------------- compile
def compile_module(module: Module, *, accumulate: str = "auto", plan: bool = True,
                   fuse: bool = True, fast_calls: bool = True, program: bool = True,
                   keep: Sequence[Value] = ()) -> HostModule:
    """Compile an ``nn`` module (static shapes) to a ``HostModule``.

    ``accumulate``: accumulator of dot products: "auto" (float32 for
    convolutions, float64 for fully_connected/matmul, whose batch-1 cost is
    reading the weights, not the arithmetic), "float32" or "float64" (all). ``plan``: share one
    arena planned by ``edgecc.analysis.memory`` (else one buffer per value).
    ``fuse``: backend epilogue fusion (clamp, residual add). ``fast_calls``: call
    compiled entry points directly after the warm-up run. ``program``: run the schedule as
    one generated Numba function over one buffer blob (``program.py``; not with
    ``fast_calls=False``, which keeps Numba's type dispatch per step),
    cached on disk by content hash. ``keep``: values whose arrays stay readable after each run
    (``HostModule.kept``, for calibration observers; needs ``plan=False, fuse=False`` so each value
    is computed into its own buffer).
    """
    from edgecc.backends.numba import fusion, ops

    from edgecc.ir.ranges import NUMBA_BOUNDS, check_module

    t0 = time.perf_counter()
    check_module(module, NUMBA_BOUNDS)  # the kernels' int64 indices
    func = module.func
    if func.return_op is None:
        raise EdgeccError(f"function @{func.name} has no func.return")
    if module.states:
        names = ", ".join("@" + n for n in module.states)
        raise EdgeccError(f"module @{module.name or 'main'} has persistent state ({names}): run it with "
                          "edgecc.runtime.Session, which keeps the state across calls")
    for op in func.body:
        if op.name.startswith("onnx."):
            raise EdgeccError(f"'{op.name}' is not legalized to nn: run the frontend's legalization first",
                              op.loc)
    L = Lowering(module, accumulate)
    for op in func.body:
        if op.name == "builtin.constant":
            arr = np.array(op.attr("value").array, copy=True)
            L.constants[op.result] = arr
            L.buffers[op.result] = arr
            L.held_bytes += arr.nbytes
    nodes = _fold_constant_nodes(L, fusion.plan_fusions(module, enabled=fuse))
    order, arena = _allocate(L, module, nodes, plan)
    for node in order:
        L.node = node
        _lower_node(L, node, ops.LOWERINGS)
    L.node = None
    from edgecc.interp.reference import feed_name

    inputs = [IOSpec(feed_name(a, i), a.type) for i, a in enumerate(func.arguments)]
    outs = list(func.outputs)
    outputs = [IOSpec(_output_name(v, k), v.type) for k, v in enumerate(outs)]
    host = HostModule(inputs, outputs, L.steps, [L.buffers[a] for a in func.arguments],
                      [L.buffers[v] for v in outs], L.fallbacks, arena,
                      arena + L.held_bytes, module.name)
    if keep:
        if plan or fuse:
            raise EdgeccError("compile_module(keep=...) needs plan=False and fuse=False")
        host.kept = {v: L.buffers[v] for v in keep if v in L.buffers}
    if program and fast_calls:
        host.bind_program()  # compiles (or loads) the program, running it once
    else:
        host.run([np.zeros(s.shape, s.dtype) for s in inputs])  # compile (or load) every kernel now
        if fast_calls:
            host.bind_fast()
    host.compile_seconds = time.perf_counter() - t0
    return host


def _fold_constant_nodes(L: Lowering, nodes: list[Node]) -> list[Node]:
    """Evaluate nodes whose inputs are all constants once (e.g. dequantized weights)."""
    from edgecc.interp.reference import evaluate_op, supports

    kept = []
    for n in nodes:
        if n.reads and n.residual is None and not n.fused and all(v in L.constants for v in n.reads) \
                and supports(n.op):
            try:
                ys = evaluate_op(n.op, [L.constants[v] for v in n.reads])
            except EdgeccError:
                kept.append(n)
                continue
            for v, y in zip(n.writes, ys):
                arr = np.array(y, copy=True)
                L.constants[v] = L.buffers[v] = arr
                L.held_bytes += arr.nbytes
            continue
        kept.append(n)
    return kept


def _output_name(v: Value, k: int) -> str:
    return v.name_hint or f"output{k}"


def _allocate(L: Lowering, module: Module, nodes: list[Node], plan: bool) -> tuple[list[Node], int]:
    """Give every activation value a buffer; returns the execution order and the arena size."""
    func = module.func
    values = list(func.arguments)
    for n in nodes:
        values += [v for v in n.writes if v not in values]
    planned = None
    if plan:
        from edgecc.backends.numba import planning

        planned = planning.plan(L, module, nodes)
    if planned is None:
        for v in values:
            if v not in L.buffers and not _is_view_result(v, nodes):
                L.buffers[v] = np.zeros(v.type.shape, v.type.element.numpy)
                L.held_bytes += L.buffers[v].nbytes
        order, arena = nodes, 0
    else:
        order, arena = planned
    for n in order:  # views: reshape results share their operand's memory
        if n.op.name == "nn.reshape":
            src = L.buffers[n.reads[0]]
            L.buffers[n.writes[0]] = src.reshape(n.writes[0].type.shape)
    return order, arena


def _is_view_result(v: Value, nodes: list[Node]) -> bool:
    op = v.defining_op()
    return op is not None and op.name == "nn.reshape"


def _lower_node(L: Lowering, node: Node, lowerings) -> None:
    op = node.op
    if op.name == "nn.reshape":
        return
    ins = [L.buffers[v] for v in node.reads]
    outs = [L.buffers[v] for v in node.writes]
    consts = [L.is_constant(v) for v in node.reads]
    if node.residual is not None:
        ins = ins + [L.buffers[node.residual]]
        consts = consts + [False]
    if node.chain:
        from edgecc.backends.numba.ops import elementwise_chain

        elementwise_chain(L, node, ins, outs)
        return
    if _quantized(op):
        from edgecc.backends.numba.qops import QLOWERINGS

        fn = QLOWERINGS.get(op.name)
    else:
        fn = lowerings.get(op.name)
    if fn is None:
        from edgecc.interp.reference import supports

        if not supports(op):
            raise EdgeccError(f"'{op.name}' is not supported by the Numba backend (nor the reference "
                              "interpreter)", op.loc)
        L.fallback(op, ins, outs)
        return
    f16 = any(a.dtype == np.float16 for a in ins + outs)
    if f16 and op.name in MOVEMENT:
        ins = [a.view(np.int16) if a.dtype == np.float16 else a for a in ins]
        outs = [a.view(np.int16) if a.dtype == np.float16 else a for a in outs]
        fn(L, node, ins, outs, consts)
        return
    if f16 and op.name != "nn.cast":
        ins32 = []
        for a, c in zip(ins, consts):
            if a.dtype != np.float16:
                ins32.append(a)
            elif c:
                ins32.append(L.persistent(a.astype(np.float32)))
            else:
                t = L.scratch(a.shape, np.float32, key=f"f16in{len(L.steps)}")
                L.emit(_copy_unsafe, t, a, kernel="numpy.copyto")
                ins32.append(t)
        outs32 = [L.scratch(a.shape, np.float32, key=f"f16out{len(L.steps)}") if a.dtype == np.float16 else a
                  for a in outs]
        fn(L, node, ins32, outs32, consts)
        for a, t in zip(outs, outs32):
            if t is not a:
                L.emit(_copy_unsafe, a, t, kernel="numpy.copyto")
        return
    fn(L, node, ins, outs, consts)


def _quantized(op: Operation) -> bool:
    for v in (*op.operands, *op.results):
        t = v.type
        if isinstance(t, TensorType) and isinstance(t.element, QuantizedType):
            return True
    return False
