"""The weight layers compression passes touch: which ops, their names, and their weights as matrices.

Every weight-sparsity or clustering method works on a matrix ``W[rows, cols]``: one row per output
channel, one column per input the output reads (the order of the layer's dot product), so
per-channel choices are per row and N:M groups run along a row:

* ``nn.conv2d`` (OHWI ``[O, KH, KW, I]``): ``W[O, KH*KW*I]``, columns in (kh, kw, i) order, so
  consecutive columns are consecutive input channels;
* ``nn.fully_connected`` (``[N, K]``): itself;
* ``nn.depthwise_conv2d`` (``[1, KH, KW, C]``): ``W[C, KH*KW]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgecc.ir.attrs import DenseElements
from edgecc.ir.core import Module, Operation, Value
from edgecc.ir.diagnostics import EdgeccError
from edgecc.ir.types import QuantizedType

WEIGHT_OPS = ("nn.conv2d", "nn.fully_connected", "nn.depthwise_conv2d")


def layer_name(op: Operation) -> str:
    """The name a user gives a layer in options: its location name, else its weight's name."""
    if op.loc is not None and op.loc.name:
        return str(op.loc.name)
    first = next((p.name for p in (op.loc.fused if op.loc is not None else ()) if p.name), None)
    if first:
        return str(first)  # a conv with its activation fused in: the conv's name
    w = op.operands[1] if len(op.operands) > 1 else None
    return (w.name_hint if w is not None and w.name_hint else "") or op.name


@dataclass
class Layer:
    op: Operation
    name: str
    weight: Value

    @property
    def kind(self) -> str:
        return self.op.name.split(".", 1)[1]

    def matrix(self) -> np.ndarray:
        """The weights as ``W[rows, cols]`` (float64 copy; see the module docstring)."""
        w = np.asarray(self.weight.defining_op().attr("value").array, dtype=np.float64)
        if self.kind == "depthwise_conv2d":
            return w.reshape(-1, w.shape[-1]).T.copy()
        return w.reshape(w.shape[0], -1).copy()

    def set_matrix(self, m: np.ndarray) -> None:
        """Store ``W[rows, cols]`` back into the layer's constant (float32, same type)."""
        const = self.weight.defining_op()
        t = const.attr("value").type
        if self.kind == "depthwise_conv2d":
            arr = np.asarray(m).T.reshape(t.shape)
        else:
            arr = np.asarray(m).reshape(t.shape)
        const.attrs["value"] = DenseElements(arr.astype(t.element.numpy), t)


def parse_ratios(items: tuple[str, ...], what: str) -> dict[str, float]:
    """``("conv1:0.7", "fc:0")`` -> {name: value}; one-line errors for malformed items."""
    out = {}
    for it in items:
        name, sep, val = it.rpartition(":")
        try:
            if not sep or not name:
                raise ValueError
            out[name] = float(val)
        except ValueError:
            raise EdgeccError(f"{what}: '{it}' is not NAME:VALUE") from None
    return out


def weight_layers(
    module: Module, ops: tuple[str, ...] = WEIGHT_OPS, keep: tuple[str, ...] = (), what: str = ""
) -> list[Layer]:
    """The float layers of ``module`` with a constant weight of their own, in program order.

    Layers named in ``keep`` are left out; a quantized model is an error (compress before
    ``quantize``: the int8 weights then keep the zeros and the levels)."""
    out = []
    for op in module.func.body:
        if op.name not in ops or len(op.operands) < 2:
            continue
        w = op.operands[1]
        const = w.defining_op()
        if const is None or not const.has_trait("ConstantLike"):
            continue
        if isinstance(w.type.element, QuantizedType):
            raise EdgeccError(
                f"{what} works on float weights; '{layer_name(op)}' is already quantized: run "
                f"{what} before quantize",
                op.loc,
            )
        if len(w.uses) != 1:
            continue  # a weight shared by several layers: changing it for one changes the others
        name = layer_name(op)
        if name in keep:
            continue
        out.append(Layer(op, name, w))
    names = {lay.name for lay in out}
    unknown = [k for k in keep if k not in names and not any(layer_name(o) == k for o in module.func.body)]
    if unknown:
        raise EdgeccError(
            f"{what}: no layer named '{unknown[0]}' (layers: {', '.join(sorted(names)[:8]) or 'none'})"
        )
    return out


__all__ = ["Layer", "WEIGHT_OPS", "layer_name", "parse_ratios", "weight_layers"]
