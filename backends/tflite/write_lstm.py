"""``nn.lstm`` written as ``UNIDIRECTIONAL_SEQUENCE_LSTM`` whose h and c are variable tensors.

TFLM's LSTM kernel updates inputs 18 (h) and 19 (c) in place and keeps them across ``Invoke`` like
every variable tensor, so a state that only this op reads and writes is not a resource variable: its
``state.read`` becomes the variable tensor and its ``state.write`` (of the op's final h or c) is
nothing. TFLM resets variable tensors to zero (the zero point for int8), which must be the state's
initial value. The converter's intermediate tensors are not written: TFLM does not read them (LiteRT's
integer LSTM needs them, so such a file runs in TFLM, not in LiteRT).
"""

from __future__ import annotations

import numpy as np

from edgecc.backends.tflite.ops import LOWER, TABLE, options
from edgecc.backends.tflite.schema import S
from edgecc.ir.diagnostics import EdgeccError


def _reset_value(t) -> int:
    e = t.element
    return int(e.zero_points[0]) if e.bits == 8 else 0


def lstm_states(module) -> set[str]:
    """States kept in an LSTM's variable tensors: read only as its h/c, written from its final h/c."""
    reads, writes = {}, {}
    for op in module.func.ops:
        if op.name == "state.read":
            reads[op.attrs["state"]] = op.results[0]
        elif op.name == "state.write":
            writes[op.attrs["state"]] = op.operands[0]
    owned = set()
    for op in module.func.ops:
        if op.name != "nn.lstm":
            continue
        for k, res in ((13, op.results[1]), (14, op.results[2])):
            v = op.operands[k]
            src = v.defining_op()
            name = src.attrs.get("state") if src is not None and src.name == "state.read" else None
            init = module.states[name].init.array if name in module.states else None
            if (name is None or writes.get(name) is not res or len(v.uses) != 1 or len(res.uses) != 1
                    or not np.all(np.asarray(init) == _reset_value(v.type))):
                raise EdgeccError(f"nn.lstm '{op.results[0].name_hint}': h and c must be states read only "
                                  "by the LSTM, written from its final h and c, starting at zero")
            owned.add(name)
    return owned


def owned(w) -> set[str]:
    """``lstm_states`` of the module being written (computed once per writer)."""
    if "lstm_states" not in w.__dict__:
        w.__dict__["lstm_states"] = lstm_states(w.module)
    return w.__dict__["lstm_states"]


def read_variable(w, op) -> None:
    """``state.read`` of an LSTM-owned state: a variable tensor."""
    idx = w.out(op.results[0])
    w.tensors[idx].isVariable = True


def _lstm(w, op):
    ins = [w.t(op.operands[0])] + [w.t(v) for v in op.operands[1:9]] + [-1, -1, -1]
    ins += [w.t(v) for v in op.operands[9:13]] + [-1, -1, w.t(op.operands[13]), w.t(op.operands[14])]
    ins += [-1] * 4
    out = w.out(op.results[0])
    w.bind(op.results[1], ins[18])
    w.bind(op.results[2], ins[19])
    w.op(S.BuiltinOperator.UNIDIRECTIONAL_SEQUENCE_LSTM, ins, [out],
         options("UnidirectionalSequenceLSTMOptions", fusedActivationFunction=S.ActivationFunctionType.TANH,
                 cellClip=float(op.attr("cell_clip") or 0.0), projClip=0.0,
                 timeMajor=bool(op.attr("time_major"))))


LOWER["nn.lstm"], TABLE["nn.lstm"] = _lstm, "UNIDIRECTIONAL_SEQUENCE_LSTM (h, c as variable tensors)"

__all__ = ["lstm_states", "owned", "read_variable"]
