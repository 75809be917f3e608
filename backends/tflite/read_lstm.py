"""``UNIDIRECTIONAL_SEQUENCE_LSTM`` (float) read as unrolled ``nn`` ops over persistent state.

TFLite keeps the LSTM's output state ``h`` (input 18) and cell state ``c`` (input 19) in variable
tensors that persist across invocations; here they become ``state`` declarations (zero initial
value, as TFLM resets them), read once and written after the last time step. Each step is
TFLite's float kernel (``lstm_eval.cc``): per gate ``W x_t + b + R h`` (``FULLY_CONNECTED``s and
an add), peepholes (inputs 9-11) on ``c``, CIFG (no input gate: ``i = 1 - f``), the fused
activation (TANH, RELU, RELU6) on the cell input and the cell output, ``cell_clip``,
projection (inputs 16-17) with ``proj_clip``. Not read: layer normalisation (inputs 20-23).
Integer LSTMs, whose TFLM kernel rescales through int16 gates that no composition of ``nn`` ops
reproduces bit-exactly, become one ``nn.lstm`` op (``read_qlstm.py``).
"""

from __future__ import annotations

import numpy as np

from edgecc.backends.tflite.read_ops import B, converts
from edgecc.ir.types import FloatType, TensorType


def _acts():
    from edgecc.backends.tflite.schema import S
    from edgecc.dialects import nn

    A = S.ActivationFunctionType
    return {A.TANH: (nn.TanhOp, {}), A.RELU: (nn.ReluOp, {}), A.RELU6: (nn.ClampOp, {"min": 0.0, "max": 6.0})}


@converts(B.UNIDIRECTIONAL_SEQUENCE_LSTM, "unrolled over time: fully_connected, add, mul, sigmoid, tanh "
          "(float; h and c as persistent state)")
def unidirectional_sequence_lstm(r, op, ins, outs, opts):
    from edgecc.backends.tflite.read_state import write_variable
    from edgecc.dialects import nn

    ins = ins + [-1] * (24 - len(ins))
    x = r.value(ins[0])
    if not isinstance(x.type.element, FloatType):
        from edgecc.backends.tflite.read_qlstm import quantized_lstm

        return quantized_lstm(r, ins, outs, opts)
    if any(i >= 0 for i in ins[20:24]):
        raise r.error("layer-normalised LSTMs are not read")
    acts = _acts()
    act = acts.get(int(opts.fusedActivationFunction))
    if act is None:
        raise r.error(f"LSTM activation {int(opts.fusedActivationFunction)} is not read")

    def const(i):
        return None if ins[i] < 0 else r.float_weight(ins[i])

    W = [const(i) for i in (1, 2, 3, 4)]
    R = [const(i) for i in (5, 6, 7, 8)]
    P = [const(i) for i in (9, 10, 11)]
    bias = [const(i) for i in (12, 13, 14, 15)]
    proj_w, proj_b = const(16), const(17)
    if ins[18] < 0 or ins[19] < 0 or not (r.tensors[ins[18]].isVariable and r.tensors[ins[19]].isVariable):
        raise r.error("LSTM output and cell states (inputs 18, 19) must be variable tensors")
    h, c = r.value(ins[18]), r.value(ins[19])
    time_major = bool(opts.timeMajor)
    shape = x.type.shape
    if len(shape) != 3:
        raise r.error(f"LSTM input must be 3-D, got {list(shape)}")
    steps, batch, n_in = (shape[0], shape[1], shape[2]) if time_major else (shape[1], shape[0], shape[2])
    f32 = x.type.element
    b = r.b

    def t2(*s):
        return TensorType(tuple(s), f32)

    def fc(v, w, bb=None):
        ops = [v, w] + ([bb] if bb is not None else [])
        return b.create(nn.FullyConnectedOp, *ops, result_types=[t2(batch, w.type.shape[0])]).result

    def binary(cls, a, c_):
        return b.create(cls, a, c_).result

    def unary(cls, v, **kw):
        return b.create(cls, v, **kw).result

    def activate(v):
        cls, kw = act
        return unary(cls, v, **kw)

    def gate(k, xt, c_for_peephole):
        pre = binary(nn.AddOp, fc(xt, W[k], bias[k]), fc(h, R[k]))
        peep = {0: 0, 1: 1, 3: 2}.get(k)
        if peep is not None and P[peep] is not None:
            pre = binary(nn.AddOp, pre, binary(nn.MulOp, c_for_peephole, P[peep]))
        return pre

    cell_clip, proj_clip = float(opts.cellClip or 0.0), float(opts.projClip or 0.0)
    steps_out = []
    n_out = h.type.shape[-1]
    for t in range(steps):
        begin = (t, 0, 0) if time_major else (0, t, 0)
        end = (t + 1, batch, n_in) if time_major else (batch, t + 1, n_in)
        xt = b.create(nn.SliceOp, x, begin=begin, end=end).result
        xt = b.create(nn.ReshapeOp, xt, shape=(batch, n_in)).result
        f = unary(nn.SigmoidOp, gate(1, xt, c))
        if W[0] is None:  # CIFG: the input gate is 1 - forget gate
            one = b.constant(np.ones((), np.float32))
            i_g = binary(nn.SubOp, one, f)
        else:
            i_g = unary(nn.SigmoidOp, gate(0, xt, c))
        g = activate(gate(2, xt, c))
        c = binary(nn.AddOp, binary(nn.MulOp, f, c), binary(nn.MulOp, i_g, g))
        if cell_clip > 0:
            c = unary(nn.ClampOp, c, min=-cell_clip, max=cell_clip)
        o = unary(nn.SigmoidOp, gate(3, xt, c))
        m = binary(nn.MulOp, o, activate(c))
        if proj_w is not None:
            m = fc(m, proj_w, proj_b)
            if proj_clip > 0:
                m = unary(nn.ClampOp, m, min=-proj_clip, max=proj_clip)
        h = m
        steps_out.append(b.create(nn.ReshapeOp, h, shape=(1, batch, n_out) if time_major
                                  else (batch, 1, n_out)).result)
    y = steps_out[0] if steps == 1 else b.create(nn.ConcatOp, *steps_out, axis=0 if time_major else 1).result
    out_t = r.ttype(outs[0])
    if y.type.shape != out_t.shape:
        raise r.error(f"LSTM output has shape {list(out_t.shape)}, expected {list(y.type.shape)}")
    y.name_hint = r.name(outs[0])
    r.bind(outs[0], y)
    write_variable(r, ins[18], h)
    write_variable(r, ins[19], c)


__all__ = ["unidirectional_sequence_lstm"]
