"""Integer ``UNIDIRECTIONAL_SEQUENCE_LSTM`` (int8x8_16 and int16x8) read as one ``nn.lstm`` op.

The converter's five intermediate tensors (gate and effective-hidden scales) are not read: TFLM's
kernel ignores them and fixes the gate scales itself (``edgecc.interp.quantized.lstm``). h (input
18) and c (input 19) are variable tensors that become ``state`` declarations, read before the op and
written with its final h and c. What TFLM's integer kernel does not run is refused here, one line.
"""

from __future__ import annotations


def quantized_lstm(r, ins, outs, opts) -> None:
    from edgecc.backends.tflite.read_state import write_variable
    from edgecc.backends.tflite.schema import S
    from edgecc.dialects.nn_lstm import LstmOp

    missing = [i for i in range(1, 9) if ins[i] < 0] + [i for i in range(12, 16) if ins[i] < 0]
    if missing:
        raise r.error(f"integer LSTM without input {missing[0]} (CIFG) is not read (TFLM has no such kernel)")
    for first, what in ((9, "peephole"), (16, "projection"), (20, "layer-norm")):
        if any(i >= 0 for i in ins[first:first + (3 if first == 9 else 2 if first == 16 else 4)]):
            raise r.error(f"integer LSTM with {what} inputs is not read (TFLM's kernel has none)")
    if int(opts.fusedActivationFunction) != S.ActivationFunctionType.TANH:
        raise r.error("integer LSTM needs the TANH activation (TFLM)")
    if ins[18] < 0 or ins[19] < 0 or not (r.tensors[ins[18]].isVariable and r.tensors[ins[19]].isVariable):
        raise r.error("LSTM output and cell states (inputs 18, 19) must be variable tensors")
    operands = [r.value(ins[i]) for i in [0, *range(1, 9), *range(12, 16), 18, 19]]
    h, c = operands[-2], operands[-1]
    lstm = r.b.create(LstmOp, *operands, time_major=bool(opts.timeMajor),
                      cell_clip=float(opts.cellClip or 0.0),
                      result_types=[r.ttype(outs[0]), h.type, c.type], loc=r.loc(outs[0]))
    lstm.results[0].name_hint = r.name(outs[0])
    r.bind(outs[0], lstm.results[0])
    write_variable(r, ins[18], lstm.results[1])
    write_variable(r, ins[19], lstm.results[2])


__all__ = ["quantized_lstm"]
