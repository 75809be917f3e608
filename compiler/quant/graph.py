"""Graph helpers shared by the quantization modules.

* ``clone_module(module)`` (from ``edgecc.ir.core``, re-exported here) copies a module (constants share their immutable
  data) and returns the copy with a map from every original value to its copy,
  so statistics gathered on one module can be used on a copy.
* ``run_observed(module, feeds, observe)`` executes a module with the reference
  interpreter and hands every value it computes (arguments and op results) to
  ``observe(value, array)``; intermediate arrays are released as in
  ``edgecc.interp.reference.run``.
* ``weighted_ops`` / ``constant_of`` / ``single_user`` small matchers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from edgecc.ir.core import Module, Operation, Value, clone_module
from edgecc.ir.diagnostics import EdgeccError

#: ops with a weight (operand 1) and an optional bias (operand 2)
WEIGHTED = ("nn.conv2d", "nn.depthwise_conv2d", "nn.fully_connected")
#: axis of the output channels of each weighted op's weight
WEIGHT_AXIS = {"nn.conv2d": 0, "nn.depthwise_conv2d": 3, "nn.fully_connected": 0}


def constant_of(v: Value) -> np.ndarray | None:
    """The data of ``v`` if a ``builtin.constant`` defines it."""
    op = v.defining_op()
    if op is not None and op.name == "builtin.constant":
        return op.attrs["value"].array
    return None


def weight_data(v: Value) -> np.ndarray | None:
    """Real values of a constant operand: a float constant or ``nn.dequantize`` of a quantized one."""
    data = constant_of(v)
    if data is not None:
        return data if np.asarray(data).dtype.kind == "f" else None
    op = v.defining_op()
    if op is not None and op.name == "nn.dequantize":
        q = op.operands[0]
        qd = constant_of(q)
        if qd is not None:
            from edgecc.quant.schemes import dequantize_array

            return dequantize_array(qd, q.type.element)
    return None


def stored_weights(v: Value):
    """``(data, QuantizedType)`` when ``v = nn.dequantize(quantized constant)``, else None."""
    op = v.defining_op()
    if op is not None and op.name == "nn.dequantize":
        q = op.operands[0]
        qd = constant_of(q)
        if qd is not None:
            return qd, q.type.element
    return None


def is_constant(v: Value) -> bool:
    op = v.defining_op()
    return op is not None and op.name == "builtin.constant"


def weighted_ops(module: Module) -> Iterator[Operation]:
    for op in module.func.body:
        if op.name in WEIGHTED:
            yield op


def simulate_op(op: Operation, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """Execute ``op`` in float on dequantized inputs and quantize its results ("fake quant").

    Only for diagnostics: the integer interpreter is the semantics of quantized ops.
    """
    from edgecc.interp.reference import evaluate_op
    from edgecc.ir.core import BlockArgument
    from edgecc.ir.types import QuantizedType, TensorType, f32
    from edgecc.quant.schemes import dequantize_array, quantize_array

    def q(v):
        t = v.type
        return t.element if isinstance(t, TensorType) and isinstance(t.element, QuantizedType) else None

    if op.name == "nn.quantize":
        return [quantize_array(inputs[0], q(op.results[0]))]
    if op.name == "nn.dequantize":
        return [dequantize_array(inputs[0], q(op.operands[0]))]
    if op.name == "nn.requantize":
        return [quantize_array(dequantize_array(inputs[0], q(op.operands[0])), q(op.results[0]))]
    args, fl = [], []
    for i, (v, a) in enumerate(zip(op.operands, inputs)):
        e = q(v)
        t = v.type
        if e is not None:
            a = dequantize_array(a, e)
            t = TensorType(t.shape, f32)
        elif op.name in WEIGHTED and i == 2 and q(op.operands[0]) is not None:
            xs = q(op.operands[0]).scales[0]
            ws = np.asarray(q(op.operands[1]).scales, dtype=np.float64)
            a = (np.asarray(a, dtype=np.float64) * xs * ws).astype(np.float32)
            t = TensorType(t.shape, f32)
        args.append(BlockArgument(t, None, i))
        fl.append(a)
    rtypes = [TensorType(r.type.shape, f32) if q(r) is not None else r.type for r in op.results]
    fake = Operation(args, rtypes, dict(op.attrs), op.loc, name=op.name)
    fake.__class__ = type(op)
    outs = evaluate_op(fake, fl)
    return [quantize_array(y, q(r)) if q(r) is not None else y for r, y in zip(op.results, outs)]


def run_observed(module: Module, feeds, observe: Callable[[Value, np.ndarray], None] | None = None,
                 want: Callable[[Value], bool] | None = None, *, simulate: bool = False,
                 state: dict | None = None) -> list[np.ndarray]:
    """Run ``module`` on ``feeds`` (as ``reference.run``), calling ``observe`` on every value.

    ``want(value)`` (default: every non-constant value) selects the values
    passed to ``observe``. ``simulate`` executes quantized ops in float
    (``simulate_op``) instead of the integer kernels. ``state`` carries persistent state
    across calls as in ``reference.run`` (updated when the call ends). Returns the outputs.
    """
    from edgecc.interp.ops_common import op_error
    from edgecc.interp.reference import _bind_feeds, evaluate_op

    func = module.func
    env: dict[int, np.ndarray] = {}
    for a, arr in zip(func.arguments, _bind_feeds(module, feeds)):
        env[id(a)] = arr
        if observe is not None and (want is None or want(a)):
            observe(a, arr)
    ops = list(func.body)
    last_use: dict[int, int] = {}
    for i, op in enumerate(ops):
        for v in op.operands:
            last_use[id(v)] = i
    if state is None:
        from edgecc.interp.reference import initial_state

        state = initial_state(module)
    pending: dict[str, np.ndarray] = {}
    for i, op in enumerate(ops):
        try:
            inputs = [env[id(v)] for v in op.operands]
        except KeyError:
            raise op_error(op, "reads a value that is not defined before it") from None
        if op.name == "func.return":
            state.update(pending)
            return inputs
        if op.name == "state.write":
            pending[op.attrs["state"]] = inputs[0]
            outs = []
        elif op.name == "state.read":
            outs = [np.array(state[op.attrs["state"]], copy=True)]
        elif simulate and _has_quantized(op):
            outs = simulate_op(op, inputs)
        else:
            outs = evaluate_op(op, inputs)
        for r, y in zip(op.results, outs):
            env[id(r)] = y
            if observe is not None and op.name != "builtin.constant" and (want is None or want(r)):
                observe(r, y)
        for v in op.operands:
            if last_use.get(id(v)) == i:
                env.pop(id(v), None)
    raise EdgeccError(f"function @{func.name} has no func.return")


def _has_quantized(op: Operation) -> bool:
    from edgecc.ir.types import QuantizedType, TensorType

    if op.name == "builtin.constant":
        return False
    return any(isinstance(v.type, TensorType) and isinstance(v.type.element, QuantizedType)
               for v in (*op.operands, *op.results))


def erase_dead(module: Module) -> int:
    """Erase pure ops whose results are unused (constants included); returns the count."""
    n = 0
    changed = True
    while changed:
        changed = False
        for op in reversed(list(module.func.body)):
            if op.name == "func.return" or not op.results:
                continue
            if any(r.uses for r in op.results):
                continue
            if op.has_trait("Pure") or op.name == "builtin.constant":
                op.erase()
                n += 1
                changed = True
    return n
