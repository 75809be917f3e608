"""Integer ``nn.lstm``: TFLM's ``UNIDIRECTIONAL_SEQUENCE_LSTM`` kernel (``lstm_eval``), in numpy.

TFLM fixes the scales inside the cell instead of reading the converter's intermediate tensors: each
gate's two fully-connected products (input with bias, recurrent without) are requantized to int16 with
scale 2^-12 (Q3.12) and added with int16 saturation; sigmoid (and tanh for the cell gate) map Q3.12 to
Q0.15 with TFLite's int16 LUT kernels; ``c = f*c + i*g`` are two int16 MULs (``2^-15 * s_c / s_c`` and
``2^-30 / s_c``) and a saturating add, then the optional cell clip; ``h = o * tanh(c)`` is one MUL to
h's scale and zero point, where tanh reads ``c`` in its power-of-two scale ``2^p`` through the input
shift ``15 + p - 3``. Step order per time step: forget, input, cell gate, cell update, output gate,
hidden update; the output at step t is the new h. ``LstmParams`` holds every constant, so the C
backend emits exactly these.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgecc.interp.ops_common import op_error
from edgecc.interp.quantized.common import i64, qkernel, qparams
from edgecc.interp.quantized.elementwise import _checked_log2, sigmoid16, tanh16
from edgecc.quant import math as qm

GATE_IN_SCALE = 2.0 ** -12  # TFLM's gate pre-activation scale (Q3.12)
GATE_OUT_SCALE = 2.0 ** -15  # sigmoid/tanh output scale (Q0.15)


@dataclass(frozen=True)
class LstmParams:
    """Prepare-time constants of one integer LSTM (TFLM ``PrepareGateParametersInteger``)."""

    wide: bool  # int16x8: int16 activations, int64 accumulators and biases
    x_offset: int  # -input zero point
    h_offset: int  # -h zero point
    gate_in: tuple  # per gate (i, f, c, o): (multiplier, shift) of the input FC
    gate_rec: tuple  # per gate: (multiplier, shift) of the recurrent FC
    forget_mul: tuple  # (multiplier, shift): f * c -> c
    input_mul: tuple  # i * g -> c
    hidden_mul: tuple  # o * tanh(c) -> h
    h_zero_point: int
    h_min: int
    h_max: int
    tanh_mult: int  # tanh(c) input multiplier / shift (the kernel's power-of-two case resolved)
    tanh_shift: int
    cell_clip: int  # quantized clip (0: none)


def lstm_params(op) -> LstmParams:
    x, h, c = qparams(op, op.input, "input"), qparams(op, op.h, "h"), qparams(op, op.c, "c")
    pot, power = _checked_log2(c.scale)
    if not pot:
        raise op_error(op, f"the cell state scale must be a power of two, got {c.scale}")
    ws = {g: qparams(op, getattr(op, f"w_{g}"), f"w_{g}").scale for g in "ifco"}
    rs = {g: qparams(op, getattr(op, f"r_{g}"), f"r_{g}").scale for g in "ifco"}
    shift = 15 + power - 3
    tanh_mult, tanh_shift = (3 << shift, 0) if shift >= 0 else (3, -shift)
    clip = float(op.attr("cell_clip") or 0.0)
    qclip = int(min(max(float(np.float32(clip)) / c.scale, -32768.0), 32767.0)) if clip > 0 else 0
    wide = x.bits == 16
    lo, hi = (-32768, 32767) if h.bits == 16 else (-128, 127)
    return LstmParams(
        wide=wide, x_offset=-x.zero_point, h_offset=-h.zero_point,
        gate_in=tuple(qm.fc_per_tensor_params(x.scale, ws[g], GATE_IN_SCALE) for g in "ifco"),
        gate_rec=tuple(qm.fc_per_tensor_params(h.scale, rs[g], GATE_IN_SCALE) for g in "ifco"),
        forget_mul=qm.mul_params(GATE_OUT_SCALE, c.scale, c.scale),
        input_mul=qm.mul_params(GATE_OUT_SCALE, GATE_OUT_SCALE, c.scale),
        hidden_mul=qm.mul_params(GATE_OUT_SCALE, GATE_OUT_SCALE, h.scale),
        h_zero_point=h.zero_point, h_min=lo, h_max=hi, tanh_mult=tanh_mult, tanh_shift=tanh_shift,
        cell_clip=qclip)


def _requant(acc, m_s, wide: bool):
    if wide:
        return qm.multiply_by_quantized_multiplier_int64(acc, *m_s)
    return qm.multiply_by_quantized_multiplier(qm.wrap_int32(acc), *m_s)


def _fc16(v, offset: int, w, bias, m_s, wide: bool):
    acc = (i64(v) + offset) @ i64(w).T
    if bias is not None:
        acc = acc + i64(bias)
    return np.clip(_requant(acc, m_s, wide), -32768, 32767)


def _mul(a, b, m_s, offset: int, lo: int, hi: int):
    return np.clip(qm.multiply_by_quantized_multiplier(i64(a) * i64(b), *m_s) + offset, lo, hi)


def lstm_sequence(p: LstmParams, x, W, R, B, h, c, time_major: bool):
    """Run the cell over every time step of stored ``x``; returns (outputs, h, c) as stored integers."""
    xs = x if time_major else np.swapaxes(x, 0, 1)  # [time, batch, n_in]
    h, c = i64(h), i64(c)
    out = []
    for xt in xs:
        def gate(k, act):
            pre = _fc16(xt, p.x_offset, W[k], B[k], p.gate_in[k], p.wide)
            pre = np.clip(pre + _fc16(h, p.h_offset, R[k], None, p.gate_rec[k], p.wide), -32768, 32767)
            return i64(act(pre))

        f = gate(1, lambda v: sigmoid16(v, 3, 0))
        i = gate(0, lambda v: sigmoid16(v, 3, 0))
        g = gate(2, lambda v: tanh16(v, 3, 0))
        c = _mul(f, c, p.forget_mul, 0, -32768, 32767)
        c = np.clip(c + _mul(i, g, p.input_mul, 0, -32768, 32767), -32768, 32767)
        if p.cell_clip > 0:
            c = np.clip(c, -p.cell_clip, p.cell_clip)
        o = gate(3, lambda v: sigmoid16(v, 3, 0))
        h = _mul(i64(tanh16(c, p.tanh_mult, p.tanh_shift)), o, p.hidden_mul, p.h_zero_point, p.h_min, p.h_max)
        out.append(h)
    y = np.stack(out)
    return (y if time_major else np.swapaxes(y, 0, 1)), h, c


@qkernel("nn.lstm")
def lstm(op, x, wi, wf, wc, wo, ri, rf, rc, ro, bi, bf, bc, bo, h, c):
    p = lstm_params(op)
    y, h, c = lstm_sequence(p, x, (wi, wf, wc, wo), (ri, rf, rc, ro), (bi, bf, bc, bo), h, c,
                            bool(op.attr("time_major")))
    act = np.int16 if p.wide else np.int8
    return [y.astype(act), h.astype(act), c.astype(np.int16)]


__all__ = ["GATE_IN_SCALE", "GATE_OUT_SCALE", "LstmParams", "lstm_params", "lstm_sequence"]
