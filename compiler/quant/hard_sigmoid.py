"""hard_sigmoid's TFLite form, shared by the integer interpreter, the TFLite writer and the C backend.

TFLite has no HARD_SIGMOID builtin. For ``alpha > 0``,
``clip(alpha * x + beta, 0, 1) == alpha * clip(x + beta / alpha, 0, 1 / alpha)``, which is the
graph the TFLite converter writes for PyTorch's ``hardsigmoid`` (torch decomposes it into
``relu6(x + 3) / 6``, the converter fuses the clamp into the ADD and turns the division by a
constant into a MUL): ``ADD(x, beta / alpha)`` with a fused RELU6 (RELU, then MINIMUM with the cap,
when ``1 / alpha != 6``), then ``MUL(t, alpha)``.

Quantized, the intermediate ``t`` has the fixed range [0, 1 / alpha] (int8: scale cap / 255, zero
point -128; int16: scale cap / 32767, zero point 0), so the ADD's own saturation is the upper clamp
and no MINIMUM is needed; the scalar constants are quantized as TFLite quantizes constant operands
(their own min/max range widened to 0, so they are exact). The integer semantics of a quantized
``nn.hard_sigmoid`` are TFLM's ADD then MUL on these parameters: one definition for the
interpreter, the .tflite and the C code, hence bit-exact across them. int16 ``nn.hard_swish``
(TFLM's HARD_SWISH is int8 only) is built on it: ``MUL(x, hard_sigmoid(x))``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgecc.ir.types import IntegerType, QuantizedType, f32
from edgecc.quant.math import quantize_value
from edgecc.quant.schemes import activation_params


@dataclass(frozen=True)
class Constant:
    """A scalar operand of the decomposition: its real value, quantized type and stored integer."""

    value: float
    element: QuantizedType | None
    stored: int | None


@dataclass(frozen=True)
class HardSigmoidForm:
    """``ADD(x, offset)`` (fused ``activation``; then MINIMUM(cap) in float when ``cap != 6``) then
    ``MUL(t, alpha)``; all values float32."""

    alpha: float
    offset: float
    cap: float

    @property
    def activation(self) -> str:
        return "relu6" if self.cap == 6.0 else "relu"

    @property
    def needs_minimum(self) -> bool:
        """Float only: the cap is not RELU6's, so a MINIMUM follows the ADD."""
        return self.cap != 6.0

    def intermediate(self, storage: IntegerType) -> QuantizedType:
        """The quantized type of ``t = clip(x + offset, 0, cap)``."""
        if storage.bits == 16:
            return QuantizedType(storage, f32, (float(np.float32(self.cap / storage.max)),), (0,))
        return QuantizedType(storage, f32, (float(np.float32(self.cap / (storage.max - storage.min))),),
                             (storage.min,))

    def constant(self, value: float, storage: IntegerType | None) -> Constant:
        """``value`` as a scalar operand: float, or quantized over [min(0, v), max(0, v)]
        (symmetric for int16, TFLite's int16x8 activation scheme)."""
        if storage is None:
            return Constant(value, None, None)
        scale, zp = activation_params(value, value, storage, symmetric=storage.bits == 16)
        q = QuantizedType(storage, f32, (scale,), (zp,))
        stored = min(max(quantize_value(value, scale, zp), storage.min), storage.max)
        return Constant(value, q, stored)


#: int16 hard_swish (TFLite has no int16 HARD_SWISH kernel) is ``MUL(x, hard_sigmoid(x))`` with
#: PyTorch's alpha and beta; the gate's int16 type covers [-1, 1] (zero point 0)
HARD_SWISH_ALPHA, HARD_SWISH_BETA = 1.0 / 6.0, 0.5


def hard_swish_gate(storage: IntegerType) -> QuantizedType:
    """The quantized type of the gate ``hard_sigmoid(x)`` in int16 hard_swish."""
    return QuantizedType(storage, f32, (float(np.float32(1.0 / storage.max)),), (0,))


def hard_sigmoid_form(alpha: float, beta: float) -> HardSigmoidForm:
    """The decomposition of ``clip(alpha * x + beta, 0, 1)``; ValueError when ``alpha <= 0``
    (no ADD/MUL form clamps a decreasing line the same way)."""
    a = float(np.float32(alpha))
    if not a > 0.0:
        raise ValueError(f"alpha {alpha} <= 0 has no TFLite form (ADD, RELU6, MUL needs alpha > 0)")
    offset = float(np.float32(np.float64(np.float32(beta)) / a))
    cap = float(np.float32(1.0 / a))
    return HardSigmoidForm(a, offset, cap)


__all__ = ["HARD_SWISH_ALPHA", "HARD_SWISH_BETA", "Constant", "HardSigmoidForm", "hard_sigmoid_form",
           "hard_swish_gate"]
