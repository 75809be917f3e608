"""Persistent state as TFLite resource variables (what TFLM and LiteRT keep across ``Invoke``).

A state ``@name`` becomes one resource variable, ``shared_name = name``:

* subgraph 1 (``edgecc_init_state``) holds ``VAR_HANDLE`` + ``ASSIGN_VARIABLE`` of the
  initial value for every state; the main subgraph starts with ``CALL_ONCE`` of it, so the
  first invocation (and the first after an interpreter reset) starts from the initial value;
* ``state.read`` is ``VAR_HANDLE`` + ``READ_VARIABLE`` (a copy into a normal tensor),
  ``state.write`` is ``VAR_HANDLE`` + ``ASSIGN_VARIABLE``. Reads come before the write of
  the same state in op order (the IR verifier checks it), so immediate assignment is the
  IR's "the next invocation sees it" semantics.

One ``VAR_HANDLE`` tensor per state and subgraph, created at its first use.
"""

from __future__ import annotations

from edgecc.backends.tflite.ops import LOWER, TABLE, options
from edgecc.backends.tflite.schema import S, tensor_type_code
from edgecc.backends.tflite.writer import _raw, quant_params

B = S.BuiltinOperator
INIT_SUBGRAPH = "edgecc_init_state"


def _resource(tensors: list, name: str) -> int:
    """A RESOURCE tensor (a VAR_HANDLE output) appended to ``tensors``."""
    t = S.TensorT()
    t.shape, t.type, t.buffer, t.name = [], S.TensorType.RESOURCE, 0, name
    tensors.append(t)
    return len(tensors) - 1


def _handle(w, name: str) -> int:
    """The main subgraph's VAR_HANDLE tensor of state ``name`` (emitting the op on first use)."""
    handles = w.__dict__.setdefault("state_handles", {})
    if name not in handles:
        idx = _resource(w.tensors, w.unique(f"{name}_handle"))
        w.op(B.VAR_HANDLE, [], [idx], options("VarHandleOptions", container="", sharedName=name))
        handles[name] = idx
    return handles[name]


def begin(w) -> None:
    """Start the main subgraph with CALL_ONCE of the init subgraph (index 1)."""
    w.op(B.CALL_ONCE, [], [], options("CallOnceOptions", initSubgraphIndex=1))


def init_subgraph(w):
    """Subgraph 1: assign every state its initial value (buffers are shared with the model)."""
    tensors, ops = [], []
    main_ops = w.operators
    w.operators = ops  # ``w.op`` registers opcodes model-wide; collect these ops separately
    try:
        for d in resource_states(w):
            res = _resource(tensors, f"{d.name}_handle")
            w.op(B.VAR_HANDLE, [], [res], options("VarHandleOptions", container="", sharedName=d.name))
            t = S.TensorT()
            t.shape = [int(x) for x in d.type.shape]
            t.type = tensor_type_code(d.type.element)
            t.name = f"{d.name}_init"
            t.quantization = quant_params(d.type.element)
            b = S.BufferT()
            b.data = _raw(d.init.array, d.type.element)
            w.buffers.append(b)
            t.buffer = len(w.buffers) - 1
            tensors.append(t)
            w.op(B.ASSIGN_VARIABLE, [res, len(tensors) - 1], [])
    finally:
        w.operators = main_ops
    sg = S.SubGraphT()
    sg.tensors, sg.inputs, sg.outputs, sg.operators, sg.name = tensors, [], [], ops, INIT_SUBGRAPH
    return sg


def resource_states(w) -> list:
    """The states written as resource variables (those an LSTM keeps in its variable tensors are not)."""
    from edgecc.backends.tflite.write_lstm import owned

    return [d for d in w.module.states.values() if d.name not in owned(w)]


def _read(w, op):
    from edgecc.backends.tflite.write_lstm import owned, read_variable

    name = op.attrs["state"]
    if name in owned(w):
        return read_variable(w, op)
    res = _handle(w, name)
    w.op(B.READ_VARIABLE, [res], [w.out(op.results[0])])


def _write(w, op):
    from edgecc.backends.tflite.write_lstm import owned

    name = op.attrs["state"]
    if name in owned(w):  # the LSTM updated its variable tensor in place
        return
    res = _handle(w, name)
    w.op(B.ASSIGN_VARIABLE, [res, w.t(op.operands[0])], [])


LOWER["state.read"], TABLE["state.read"] = _read, "VAR_HANDLE + READ_VARIABLE (resource variable)"
LOWER["state.write"], TABLE["state.write"] = _write, "VAR_HANDLE + ASSIGN_VARIABLE (resource variable)"

__all__ = ["INIT_SUBGRAPH", "begin", "init_subgraph", "resource_states"]
