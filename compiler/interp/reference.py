"""The float reference interpreter: plain numpy semantics of every nn op.

This is the specification in code that every other executor (Numba, C,
TFLite) is tested against. Semantics follow ONNX exactly (NHWC layout);
arithmetic is float32 like onnxruntime, with float64 accumulation where the
kernel docstrings say so (see ``edgecc.interp.ops_common``).

* ``run(module, feeds)`` executes a module's function: ``feeds`` is a dict
  keyed by argument name hint (``arg.name_hint``; ``arg<i>`` for arguments
  without one) or a list in argument order. Feed shapes and dtypes must
  match the argument types exactly.
* ``evaluate_op(op, inputs)`` executes one op on numpy arrays.
* ``KERNELS`` maps op names to ``kernel(op, *arrays) -> array | list``.

Ops with a quantized operand or result run the integer kernels of
``edgecc.interp.quantized`` (TFLite Micro's reference semantics, on stored
integers); quantized graph inputs take and outputs return stored integers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from edgecc.interp import ops_conv, ops_elementwise, ops_shape  # noqa: F401  (register kernels)
from edgecc.interp.ops_common import KERNELS, kernel, op_error
from edgecc.ir.core import Module, Operation, Value
from edgecc.ir.diagnostics import EdgeccError
from edgecc.ir.types import QuantizedType, TensorType

#: ops whose quantized operands/results the float interpreter does handle
QUANT_OK = frozenset({"nn.quantize", "nn.dequantize", "builtin.constant"})


@kernel("builtin.constant")
def constant(op):
    return op.attr("value").array


def _is_quantized(v: Value) -> bool:
    return isinstance(v.type, TensorType) and isinstance(v.type.element, QuantizedType)


def supports(op: Operation) -> bool:
    """Whether ``evaluate_op`` can execute ``op`` (float kernel, or integer kernel when quantized)."""
    if op.name != "builtin.constant" and any(_is_quantized(v) for v in (*op.operands, *op.results)):
        from edgecc.interp import quantized

        return quantized.supports(op)
    return op.name in KERNELS


def evaluate_op(op: Operation, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Execute ``op`` on ``inputs`` (one array per operand); one array per result.

    Results are cast to their declared element dtype and checked against the
    declared shapes. float16 inputs are computed in float32.
    """
    if op.name != "builtin.constant" and any(_is_quantized(v) for v in (*op.operands, *op.results)):
        from edgecc.interp import quantized  # integer semantics (TFLM reference kernels)

        return quantized.evaluate_op(op, inputs)
    fn = KERNELS.get(op.name)
    if fn is None:
        raise op_error(op, "is not supported by the reference interpreter")
    if len(inputs) != len(op.operands):
        raise op_error(op, f"got {len(inputs)} inputs for {len(op.operands)} operands")
    args = []
    for a in inputs:
        a = np.asarray(a)
        if a.dtype == np.float16:
            a = a.astype(np.float32)
        args.append(a)
    with np.errstate(all="ignore"):
        out = fn(op, *args)
    outs = list(out) if isinstance(out, (list, tuple)) else [out]
    if len(outs) != len(op.results):
        raise op_error(op, f"kernel produced {len(outs)} results, op declares {len(op.results)}")
    final = []
    for r, y in zip(op.results, outs):
        y = np.asarray(y)
        t = r.type
        if isinstance(t, TensorType):
            if tuple(y.shape) != t.shape:
                raise op_error(op, f"result #{r.index} has shape {list(y.shape)} but the op declares "
                               f"{list(t.shape)}")
            dt = t.element.numpy
            if y.dtype != dt:
                y = y.astype(dt)
        final.append(y)
    return final


def feed_name(arg, index: int) -> str:
    """The key a feed for argument ``index`` uses: its name hint, else ``arg<index>``."""
    return arg.name_hint or f"arg{index}"


def _bind_feeds(module: Module, feeds) -> list[np.ndarray]:
    args = module.func.arguments
    names = [feed_name(a, i) for i, a in enumerate(args)]
    if isinstance(feeds, Mapping):
        unknown = [k for k in feeds if k not in names]
        if unknown:
            raise EdgeccError(f"unknown input '{unknown[0]}' (inputs: {', '.join(names) or 'none'})")
        missing = [n for n in names if n not in feeds]
        if missing:
            raise EdgeccError(f"missing input '{missing[0]}'")
        values = [feeds[n] for n in names]
    else:
        values = list(feeds)
        if len(values) != len(args):
            raise EdgeccError(f"expected {len(args)} inputs ({', '.join(names)}), got {len(values)}")
    bound = []
    for name, a, v in zip(names, args, values):
        t = a.type
        arr = np.asarray(v)
        want = t.element.numpy
        if arr.dtype != want:
            raise EdgeccError(f"input '{name}' has dtype {arr.dtype}, expected {want} ({t})")
        if tuple(arr.shape) != t.shape:
            raise EdgeccError(f"input '{name}' has shape {list(arr.shape)}, expected {list(t.shape)} ({t})")
        bound.append(arr)
    return bound


def initial_state(module: Module) -> dict[str, np.ndarray]:
    """The persistent state before the first invocation: ``{state name: initial array}`` (copies)."""
    return {d.name: np.array(d.init.array, copy=True) for d in module.states.values()}


def run(module: Module, feeds: Mapping[str, np.ndarray] | Sequence[np.ndarray],
        state: dict[str, np.ndarray] | None = None) -> list[np.ndarray]:
    """Execute the module's function on ``feeds``; returns the outputs in order.

    ``state`` carries a stateful module's persistent state between calls: a dict from
    ``initial_state(module)`` that ``state.read`` reads and that is updated in place with the
    ``state.write`` values when the invocation ends. Without it every call starts from the
    initial values. Intermediate arrays are released after their last use.
    """
    func = module.func
    if state is None:
        state = initial_state(module)
    missing = [n for n in module.states if n not in state]
    if missing:
        raise EdgeccError(f"state dict has no value for state @{missing[0]} (use initial_state(module))")
    pending: dict[str, np.ndarray] = {}
    env: dict[int, np.ndarray] = {}
    for a, arr in zip(func.arguments, _bind_feeds(module, feeds)):
        env[id(a)] = arr
    ops = list(func.body)
    last_use: dict[int, int] = {}
    for i, op in enumerate(ops):
        for v in op.operands:
            last_use[id(v)] = i
    outputs: list[np.ndarray] | None = None
    for i, op in enumerate(ops):
        try:
            inputs = [env[id(v)] for v in op.operands]
        except KeyError:
            raise op_error(op, "reads a value that is not defined before it") from None
        if op.name == "func.return":
            outputs = inputs
            break
        if op.name == "state.read":
            env[id(op.results[0])] = np.array(state[op.attrs["state"]], copy=True)
            continue
        if op.name == "state.write":
            pending[op.attrs["state"]] = inputs[0]
        else:
            for r, y in zip(op.results, evaluate_op(op, inputs)):
                env[id(r)] = y
        for v in op.operands:
            if last_use.get(id(v)) == i:
                env.pop(id(v), None)
    if outputs is None:
        raise EdgeccError(f"function @{func.name} has no func.return")
    for name, arr in pending.items():
        state[name] = np.array(arr, copy=True)
    return outputs


__all__ = ["KERNELS", "QUANT_OK", "evaluate_op", "feed_name", "initial_state", "kernel", "run", "supports"]
