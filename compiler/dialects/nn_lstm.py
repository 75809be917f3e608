"""``nn.lstm``: a whole unidirectional LSTM sequence as one op (TFLite's ``UNIDIRECTIONAL_SEQUENCE_LSTM``).

Float LSTMs are read as unrolled ``nn`` ops (``backends/tflite/read_lstm.py``); this op exists for
the integer LSTM, whose TFLM kernel computes every gate in int16 (pre-activations in Q3.12,
activations in Q0.15, the cell state in a power-of-two int16 scale) with intermediate roundings that
no composition of other ``nn`` ops reproduces. Its semantics are TFLM's (``edgecc.interp.quantized.lstm``).

Operands: ``input`` ``[batch, time, n_in]`` (``[time, batch, n_in]`` with ``time_major``), the input
weights ``w_i, w_f, w_c, w_o`` ``[n_cell, n_in]``, the recurrent weights ``r_i, r_f, r_c, r_o``
``[n_cell, n_cell]``, the gate biases ``b_i, b_f, b_c, b_o`` ``[n_cell]``, and the states ``h``, ``c``
``[batch, n_cell]`` at the start of the sequence. Results: the sequence of hidden states (shape of the
input with ``n_cell`` features), and ``h``, ``c`` after the last step (written back to persistent state).
Element types: ``qi8`` input/``h`` (int8x8_16) or ``qi16`` (int16x8), ``qi8`` symmetric per-tensor
weights, ``i32`` (``i64`` for ``qi16``) biases, ``qi16`` ``c`` with a power-of-two scale.
"""

from __future__ import annotations

from edgecc.dialects.nn import NNOp, nn
from edgecc.dialects.nn_shapes import ShapeError
from edgecc.ir.spec import QUANT, Bool, Float, Str, TensorOf, attr, operand, result
from edgecc.ir.types import QuantizedType

GATES = ("i", "f", "c", "o")


@nn.op("lstm")
class LstmOp(NNOp):
    """Unidirectional LSTM over a sequence (input, forget, cell, output gates; no peephole, CIFG,
    projection or layer norm, like TFLM's kernel); h and c in, final h and c out."""

    input = operand(TensorOf(*QUANT, rank=3))
    w_i = operand(TensorOf("qi8", rank=2))
    w_f = operand(TensorOf("qi8", rank=2))
    w_c = operand(TensorOf("qi8", rank=2))
    w_o = operand(TensorOf("qi8", rank=2))
    r_i = operand(TensorOf("qi8", rank=2))
    r_f = operand(TensorOf("qi8", rank=2))
    r_c = operand(TensorOf("qi8", rank=2))
    r_o = operand(TensorOf("qi8", rank=2))
    b_i = operand(TensorOf("i32", "i64", rank=1))
    b_f = operand(TensorOf("i32", "i64", rank=1))
    b_c = operand(TensorOf("i32", "i64", rank=1))
    b_o = operand(TensorOf("i32", "i64", rank=1))
    h = operand(TensorOf(*QUANT, rank=2))
    c = operand(TensorOf("qi16", rank=2))
    output = result(TensorOf(*QUANT, rank=3))
    h_out = result(TensorOf(*QUANT, rank=2))
    c_out = result(TensorOf("qi16", rank=2))
    time_major = attr(Bool(), default=False, doc="input is [time, batch, n_in]")
    activation = attr(Str("tanh"), default="tanh", doc="cell input/output activation (TFLM: tanh only)")
    cell_clip = attr(Float(), default=0.0, doc="cell state clip (real units; 0: none)")
    traits = {"Pure"}
    result_element = None

    def sizes(self) -> tuple[int, int, int, int]:
        """(time steps, batch, n_in, n_cell)."""
        t, b, n_in = self.input.type.shape
        if not self.attr("time_major"):
            t, b = b, t
        return t, b, n_in, self.w_i.type.shape[0]

    def infer_shapes(self):
        steps, batch, n_in, n_cell = self.sizes()
        seq = (steps, batch, n_cell) if self.attr("time_major") else (batch, steps, n_cell)
        return [seq, (batch, n_cell), (batch, n_cell)]

    def verify_(self):
        super().verify_()
        _, batch, n_in, n_cell = self.sizes()
        for g in GATES:
            if getattr(self, f"w_{g}").type.shape != (n_cell, n_in):
                raise ShapeError(f"w_{g} must be [{n_cell}, {n_in}]")
            if getattr(self, f"r_{g}").type.shape != (n_cell, n_cell):
                raise ShapeError(f"r_{g} must be [{n_cell}, {n_cell}]")
            if getattr(self, f"b_{g}").type.shape != (n_cell,):
                raise ShapeError(f"b_{g} must be [{n_cell}]")
        for v in (self.h, self.c, self.h_out, self.c_out):
            if v.type.shape != (batch, n_cell):
                raise ShapeError(f"states must be [{batch}, {n_cell}]")
        x, h, c = self.input.type.element, self.h.type.element, self.c.type.element
        if x.kind != h.kind or self.output.type.element != h or self.h_out.type.element != h:
            raise ShapeError("input, h and the output must share one quantized kind, output and h one type")
        if self.c_out.type.element != c:
            raise ShapeError("c and c_out must have one type")
        bias = "i64" if x.kind == "qi16" else "i32"
        for g in GATES:
            w = getattr(self, f"w_{g}").type.element
            if not isinstance(w, QuantizedType) or w.per_axis or any(w.zero_points):
                raise ShapeError("weights must be symmetric per-tensor qi8")
            if getattr(self, f"b_{g}").type.element.kind != bias:
                raise ShapeError(f"{x.kind} input needs {bias} biases")


__all__ = ["GATES", "LstmOp"]
