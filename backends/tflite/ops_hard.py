"""nn.hard_sigmoid -> TFLite builtins (no HARD_SIGMOID exists): ADD (fused RELU6), MUL; int16
nn.hard_swish (TFLM's HARD_SWISH is float/int8 only) -> MUL(x, that form).

The decomposition and its quantized parameters are ``edgecc.quant.hard_sigmoid``'s, the same
ones the integer interpreter and the C backend execute, so TFLM's result is theirs bit for bit.
"""

from __future__ import annotations

import numpy as np

from edgecc.backends.tflite.ops import ACT, B, LOWER, _res_name, _Typed, lowers, options, unsupported
from edgecc.backends.tflite.versions import binary_version, kind
from edgecc.ir.types import QuantizedType, TensorType
from edgecc.quant.hard_sigmoid import HARD_SWISH_ALPHA, HARD_SWISH_BETA, hard_sigmoid_form, hard_swish_gate


class _Binary:
    """What ``binary_version`` reads of an op: operand and result types."""

    def __init__(self, a, b, out) -> None:
        self.operands, self.results = [_Typed(a), _Typed(b)], [_Typed(out)]


def _emit(w, op, x, out, out_type: TensorType, alpha: float, beta: float, name: str) -> int:
    """The form of ``clip(alpha * x + beta, 0, 1)`` from IR value ``x`` into IR value ``out`` (or,
    when None, a new intermediate ``name`` of type ``out_type``). Tensors are created in the order
    the read-back graph (add, mul) creates them, so write -> read -> write gives the same bytes."""
    try:
        form = hard_sigmoid_form(alpha, beta)
    except ValueError as e:
        raise unsupported(op, str(e)) from None
    x_type = x.type
    e_in = x_type.element
    storage = e_in.storage if isinstance(e_in, QuantizedType) else None
    t_type = x_type.with_element(form.intermediate(storage) if storage is not None else e_in)

    def const(value: float, tag: str, base: str):
        c = form.constant(value, storage)
        if c.element is None:
            return w.aux(np.array(value, e_in.numpy), f"{base}_{tag}"), TensorType((), e_in)
        return w.aux(np.array(c.stored, storage.numpy), f"{base}_{tag}", element=c.element), \
            TensorType((), c.element)

    t_name = w.reserve(f"{name}_clipped")
    xi = w.t(x)
    off, off_type = const(form.offset, "offset", t_name)
    t = w.temp(t_type, t_name)
    act = form.activation if storage is not None or not form.needs_minimum else "relu"
    w.op(B.ADD, [xi, off], [t], options("AddOptions", fusedActivationFunction=ACT[act],
                                        potScaleInt16=storage is None or storage.bits != 16),
         binary_version(B.ADD, _Binary(x_type, off_type, t_type)))
    if storage is None and form.needs_minimum:
        capped_name = w.reserve(f"{name}_capped")
        cap, cap_type = const(form.cap, "cap", capped_name)
        capped = w.temp(t_type, capped_name)
        w.op(B.MINIMUM, [t, cap], [capped], options("MaximumMinimumOptions"),
             binary_version(B.MINIMUM, _Binary(t_type, cap_type, t_type)))
        t = capped
    alpha_i, alpha_type = const(form.alpha, "alpha", name)
    dst = w.out(out) if out is not None else w.temp(out_type, name)
    w.op(B.MUL, [t, alpha_i], [dst], options("MulOptions", fusedActivationFunction=ACT["none"]),
         binary_version(B.MUL, _Binary(t_type, alpha_type, out_type)))
    return dst


@lowers("nn.hard_sigmoid", "ADD (x + beta/alpha, fused RELU6; float with 1/alpha != 6: fused RELU then "
                           "MINIMUM) then MUL by alpha, as the converter writes PyTorch's relu6(x + 3) / 6")
def hard_sigmoid(w, op):
    _emit(w, op, op.input, op.output, op.output.type, op.attr("alpha"), op.attr("beta"), _res_name(w, op))


_hard_swish8 = LOWER["nn.hard_swish"]


@lowers("nn.hard_swish", "HARD_SWISH (int16, which TFLM's HARD_SWISH lacks: MUL(x, hard_sigmoid(x)) "
                         "with hard_sigmoid as ADD + MUL)")
def hard_swish(w, op):
    x, out = op.input, op.output
    if kind(x) != "qi16":
        _hard_swish8(w, op)
        return
    name = _res_name(w, op)
    gate_type = x.type.with_element(hard_swish_gate(x.type.element.storage))
    gate = _emit(w, op, x, None, gate_type, HARD_SWISH_ALPHA, HARD_SWISH_BETA, w.reserve(f"{name}_gate"))
    w.op(B.MUL, [w.t(x), gate], [w.out(out)], options("MulOptions", fusedActivationFunction=ACT["none"]),
         binary_version(B.MUL, _Binary(x.type, gate_type, out.type)))
