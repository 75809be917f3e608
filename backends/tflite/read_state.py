"""Reading persistent state: resource variables and variable tensors become ``state @name``.

* ``VAR_HANDLE`` binds a RESOURCE tensor to its ``shared_name``; ``READ_VARIABLE`` becomes
  ``state.read``, ``ASSIGN_VARIABLE`` ``state.write`` (the state's type is that of the tensor read
  or assigned).
* ``CALL_ONCE`` runs its init subgraph once; edgecc reads it as the initial values: every
  ``ASSIGN_VARIABLE`` there must assign a constant (what the TFLite converter writes for a
  ``tf.Variable``). A state without one starts at zero (stored zero point for quantized types).
* A variable tensor (``is_variable``) read by an operator is a state named after the tensor. Its
  initial value is what TFLite and TFLM reset variable tensors to: zero (the zero point for
  int8), not the buffer. An operator that updates variable tensors in place writes them
  (``write_variable``; float ``UNIDIRECTIONAL_SEQUENCE_LSTM`` in ``read_lstm.py``).
"""

from __future__ import annotations

import numpy as np

from edgecc.backends.tflite.read_ops import B, converts
from edgecc.ir.attrs import DenseElements
from edgecc.ir.types import QuantizedType, TensorType


def _states(r) -> dict:
    """name -> [TensorType | None, initial array | None], in first-seen order."""
    return r.__dict__.setdefault("states", {})


def _handles(r) -> dict:
    return r.__dict__.setdefault("handles", {})


def _shared_name(opts) -> str:
    n = getattr(opts, "sharedName", None)
    n = n.decode("utf-8", "replace") if isinstance(n, bytes) else (n or "")
    return n


def _declare(r, name: str, ttype: TensorType) -> None:
    entry = _states(r).setdefault(name, [None, None])
    if entry[0] is None:
        entry[0] = ttype
    elif entry[0] != ttype:
        raise r.error(f"resource variable '{name}' is used as {entry[0]} and as {ttype}")


def _arity(r, ins, outs, n_in: int, n_out: int) -> None:
    if len(ins) != n_in or len(outs) != n_out or min(ins + outs, default=0) < 0:
        raise r.error(f"expects {n_in} input(s) and {n_out} output(s), got {len(ins)} and {len(outs)}")


@converts(B.VAR_HANDLE, "resource handle (binds a shared_name)")
def var_handle(r, op, ins, outs, opts):
    _arity(r, ins, outs, 0, 1)
    name = _shared_name(opts)
    if not name:
        raise r.error("VAR_HANDLE without a shared_name")
    from edgecc.ir.core import sanitize_hint

    _handles(r)[outs[0]] = sanitize_hint(name) or f"var{len(_handles(r))}"


def _handle_name(r, idx: int) -> str:
    name = _handles(r).get(idx)
    if name is None:
        raise r.error(f"tensor '{r.name(idx)}' is not the output of a VAR_HANDLE")
    return name


@converts(B.READ_VARIABLE, "state.read")
def read_variable(r, op, ins, outs, opts):
    from edgecc.dialects.state import ReadOp

    _arity(r, ins, outs, 1, 1)
    name = _handle_name(r, ins[0])
    t = r.ttype(outs[0])
    _declare(r, name, t)
    v = r.b.insert(ReadOp.build(state=name, result_types=[t], result_names=[r.name(outs[0])],
                                loc=r.loc(outs[0]))).result
    r.bind(outs[0], v)


@converts(B.ASSIGN_VARIABLE, "state.write")
def assign_variable(r, op, ins, outs, opts):
    from edgecc.dialects.state import WriteOp

    _arity(r, ins, outs, 2, 0)
    name = _handle_name(r, ins[0])
    v = r.value(ins[1])
    _declare(r, name, v.type)
    r.b.insert(WriteOp.build(v, state=name, loc=r.loc(ins[1])))


@converts(B.CALL_ONCE, "initial values of the resource variables (constants only)")
def call_once(r, op, ins, outs, opts):
    from edgecc.backends.tflite.reader import Reader
    from edgecc.backends.tflite.schema import opcode_builtin

    k = int(opts.initSubgraphIndex)
    if not 0 < k < len(r.model.subgraphs):
        raise r.error(f"CALL_ONCE names subgraph {k}, the model has {len(r.model.subgraphs)}")
    sub = Reader(r.model, r.data, r.label, r.file)
    sub.sg = r.model.subgraphs[k]
    sub.tensors = sub.sg.tensors or []
    names: dict[int, str] = {}
    nbuf, ntens = len(r.model.buffers or []), len(sub.tensors)
    if any(not 0 <= int(t.buffer) < max(nbuf, 1) for t in sub.tensors):
        raise r.error(f"the init subgraph {k} refers to a buffer out of range")
    for o in sub.sg.operators or []:
        if not 0 <= int(o.opcodeIndex) < len(r.model.operatorCodes or []):
            raise r.error(f"the init subgraph {k} uses opcode index {o.opcodeIndex}, out of range")
        code = opcode_builtin(r.model.operatorCodes[o.opcodeIndex])
        oins = [int(i) for i in (o.inputs if o.inputs is not None else [])]
        oouts = [int(i) for i in (o.outputs if o.outputs is not None else [])]
        if any(not 0 <= i < ntens for i in oins + oouts) or (code == B.VAR_HANDLE and not oouts) or (
                code == B.ASSIGN_VARIABLE and len(oins) < 2):
            raise r.error(f"the init subgraph {k} has an operator with missing or out-of-range tensors")
        if code == B.VAR_HANDLE:
            from edgecc.ir.core import sanitize_hint

            names[oouts[0]] = sanitize_hint(_shared_name(o.builtinOptions)) or f"var{len(names)}"
        elif code == B.ASSIGN_VARIABLE and oins[0] in names and sub.buffer_bytes(oins[1]) is not None:
            name = names[oins[0]]
            _declare(r, name, sub.ttype(oins[1]))
            _states(r)[name][1] = sub.array(oins[1])
        else:
            raise r.error(f"the init subgraph {k} computes its initial values (operator "
                          f"{code}); edgecc reads only constant ASSIGN_VARIABLEs there")


def variable_tensor(r, idx: int):
    """``state.read`` of variable tensor ``idx`` (initial value: zero / zero point, as TFLM resets it)."""
    from edgecc.dialects.state import ReadOp
    from edgecc.ir.core import sanitize_hint

    name = sanitize_hint(r.name(idx)) or f"var{idx}"
    t = r.ttype(idx)
    _declare(r, name, t)
    v = r.b.insert(ReadOp.build(state=name, result_types=[t], result_names=[r.name(idx)],
                                loc=r.loc(idx))).result
    r.bind(idx, v)
    return v


def write_variable(r, idx: int, value) -> None:
    """``state.write`` of variable tensor ``idx`` (an op that updates it in place, e.g. an LSTM)."""
    from edgecc.dialects.state import WriteOp
    from edgecc.ir.core import sanitize_hint

    name = sanitize_hint(r.name(idx)) or f"var{idx}"
    _declare(r, name, value.type)
    r.b.insert(WriteOp.build(value, state=name, loc=r.loc(idx)))


def declare_states(r, module) -> None:
    """Add the states the reader met to ``module`` (zero / the int8 zero point where no initial value,
    as TFLM's ``ResetVariableTensors`` and ``MicroResourceVariables`` fill them)."""
    for name, (t, init) in _states(r).items():
        if t is None:
            continue
        if init is None:
            e = t.element
            zp = e.zero_points[0] if isinstance(e, QuantizedType) and e.axis is None and e.bits == 8 else 0
            init = np.full(t.shape, zp, e.numpy)
        module.add_state(name, t, DenseElements(np.asarray(init, t.element.numpy).reshape(t.shape), t))


__all__ = ["declare_states", "variable_tensor", "write_variable"]
