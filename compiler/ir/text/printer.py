"""Deterministic printer for the textual IR.

Format (an MLIR-like generic form)::

    module @kws attributes {edgecc.source = "kws.onnx"} {
      func.func @main(%input: tensor<1x49x10x1xf32>) -> (tensor<1x12xf32>) {
        %w = builtin.constant() {value = dense_resource<w> : tensor<8x3x3x1xf32>} : () -> tensor<8x3x3x1xf32>
        %0 = nn.conv2d(%input, %w) {strides = [2, 2]} : (tensor<...>, tensor<...>) -> tensor<...> loc("conv_1")
        func.return(%0) : (tensor<1x12xf32>) -> ()
      }
    }
    {-#
      dialect_resources: {
        builtin: {
          w: "0x04000000..."
        }
      }
    #-}

Values keep their name hints (made unique), the rest are numbered in order;
attribute keys are sorted; floats print with ``repr`` so they parse back
exactly. Print -> parse -> print is a fixed point.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import numpy as np

from edgecc.ir.attrs import DenseElements
from edgecc.ir.core import Module, Operation, Value
from edgecc.ir.diagnostics import Location
from edgecc.ir.types import (
    FloatType,
    FunctionType,
    IntegerType,
    QuantizedType,
    TensorType,
    Type,
)


def format_float(x: float) -> str:
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return repr(float(x))


def format_type(t: Type) -> str:
    if isinstance(t, (FloatType, IntegerType)):
        return f"{'f' if isinstance(t, FloatType) else ('i' if t.signed else 'u')}{t.bits}"
    if isinstance(t, QuantizedType):
        storage = format_type(t.storage)
        if t.narrow:
            storage += f"<{t.qmin}:{t.qmax}>"
        head = f"{storage}:{format_type(t.expressed)}"
        pairs = [f"{format_float(s)}:{z}" for s, z in zip(t.scales, t.zero_points)]
        if t.axis is None:
            return f"!quant.uniform<{head}, {pairs[0]}>"
        return f"!quant.uniform<{head}:{t.axis}, {{{', '.join(pairs)}}}>"
    if isinstance(t, TensorType):
        dims = "".join(f"{d}x" for d in t.shape)
        return f"tensor<{dims}{format_type(t.element)}>"
    if isinstance(t, FunctionType):
        ins = ", ".join(format_type(x) for x in t.inputs)
        outs = ", ".join(format_type(x) for x in t.outputs)
        return f"({ins}) -> ({outs})"
    raise TypeError(f"cannot print type {t!r}")


def format_string(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def format_location(loc: Location) -> str:
    if loc.fused:
        return "fused[" + ", ".join(format_location(x) for x in loc.fused) + "]"
    pos = None
    if loc.file is not None:
        pos = f"{format_string(loc.file)}:{loc.line or 0}:{loc.col or 0}"
    if loc.name is not None:
        return format_string(loc.name) + (f"({pos})" if pos else "")
    return pos or '"?"'


def _dense_literal(arr: np.ndarray) -> str:
    if arr.ndim == 0:
        return _scalar(arr.item())
    return "[" + ", ".join(_dense_literal(a) for a in arr) + "]"


def _scalar(x: Any) -> str:
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, float):
        return format_float(x)
    return str(int(x))


def blob_hex(dense: DenseElements) -> str:
    """MLIR blob layout: a 4-byte little-endian alignment word, then the raw data."""
    arr = dense.array
    data = arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
    align = max(arr.dtype.itemsize, 1)
    return "0x" + align.to_bytes(4, "little").hex().upper() + data.hex().upper()


class Printer:
    def __init__(self, module: Module, elide_resources: bool = False) -> None:
        self.module = module
        self.elide = elide_resources
        self.names: dict[int, str] = {}
        self.used_names: set[str] = set()
        self.counter = 0
        self.resources: dict[str, DenseElements] = {}
        self.resource_of: dict[str, str] = {}  # digest -> name

    # -- names ------------------------------------------------------------
    def _assign(self, v: Value) -> None:
        hint = v.name_hint
        if hint is None:
            while str(self.counter) in self.used_names:
                self.counter += 1
            name = str(self.counter)
            self.counter += 1
        else:
            name, k = hint, 1
            while name in self.used_names:
                name = f"{hint}_{k}"
                k += 1
        self.used_names.add(name)
        self.names[id(v)] = name

    def value(self, v: Value) -> str:
        name = self.names.get(id(v))
        if name is None:
            return "%<<UNKNOWN>>"
        return "%" + name

    # -- attributes -------------------------------------------------------
    def resource_name(self, dense: DenseElements, hint: str | None) -> str:
        existing = self.resource_of.get(dense.digest)
        if existing is not None:
            return existing
        base = dense.resource or hint or "blob"
        if not _bare(base):
            base = "r_" + re.sub(r"[^\w$.]", "_", base)
        name, k = base, 1
        while name in self.resources:
            name = f"{base}_{k}"
            k += 1
        self.resources[name] = dense
        self.resource_of[dense.digest] = name
        return name

    def attribute(self, value: Any, hint: str | None = None) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int):
            return str(value)
        if isinstance(value, float):
            return format_float(value)
        if isinstance(value, str):
            return format_string(value)
        if isinstance(value, tuple):
            return "[" + ", ".join(self.attribute(v, hint) for v in value) + "]"
        if isinstance(value, DenseElements):
            t = format_type(value.type)
            if value.inline:
                arr = value.array
                if arr.size > 1 and value.is_splat:
                    return f"dense<{_scalar(arr.flat[0].item())}> : {t}"
                return f"dense<{_dense_literal(arr)}> : {t}"
            return f"dense_resource<{self.resource_name(value, hint)}> : {t}"
        if isinstance(value, Type):
            return format_type(value)
        raise TypeError(f"cannot print attribute {value!r}")

    def attr_dict(self, attrs: dict[str, Any], hint: str | None = None) -> str:
        if not attrs:
            return ""
        items = []
        for k in sorted(attrs):
            key = k if _bare(k) else format_string(k)
            items.append(f"{key} = {self.attribute(attrs[k], hint)}")
        return " {" + ", ".join(items) + "}"

    # -- ops --------------------------------------------------------------
    def op(self, op: Operation) -> str:
        for r in op.results:
            self._assign(r)
        head = ""
        if op.results:
            head = ", ".join(self.value(r) for r in op.results) + " = "
        operands = ", ".join(self.value(v) for v in op.operands)
        hint = op.results[0].name_hint if op.results else None
        ins = ", ".join(format_type(v.type) for v in op.operands)
        outs = [format_type(r.type) for r in op.results]
        out = outs[0] if len(outs) == 1 else "(" + ", ".join(outs) + ")"
        loc = "" if op.loc == Location() else f" loc({format_location(op.loc)})"
        return f"{head}{op.name}({operands}){self.attr_dict(op.attrs, hint)} : ({ins}) -> {out}{loc}"

    def module_text(self) -> str:
        m = self.module
        f = m.func
        for a in f.arguments:
            self._assign(a)
        lines = []
        head = "module"
        if m.name:
            head += f" @{m.name}"
        if m.attrs:
            head += " attributes" + self.attr_dict(m.attrs)
        lines.append(head + " {")
        for d in m.states.values():
            ty = format_type(d.type)
            lines.append(f"  state @{d.name} : {ty} = {self.attribute(d.init, d.name)}")
        args = ", ".join(f"{self.value(a)}: {format_type(a.type)}" for a in f.arguments)
        outs = ", ".join(format_type(v.type) for v in f.outputs)
        lines.append(f"  func.func @{f.name}({args}) -> ({outs}) {{")
        for op in f.body:
            lines.append("    " + self.op(op))
        lines.append("  }")
        lines.append("}")
        if self.resources and not self.elide:
            lines.append("{-#")
            lines.append("  dialect_resources: {")
            lines.append("    builtin: {")
            names = list(self.resources)
            for i, name in enumerate(names):
                comma = "," if i < len(names) - 1 else ""
                lines.append(f'      {name}: "{blob_hex(self.resources[name])}"{comma}')
            lines.append("    }")
            lines.append("  }")
            lines.append("#-}")
        return "\n".join(lines) + "\n"


def _bare(key: str) -> bool:
    return re.fullmatch(r"[A-Za-z_][\w$.]*", key) is not None


def print_module(module: Module, elide_resources: bool = False) -> str:
    """The module as text; ``elide_resources`` omits the blob section."""
    return Printer(module, elide_resources).module_text()


def format_attribute(value: Any) -> str:
    """One attribute value as text (large tensors print as a resource reference)."""
    return Printer(Module()).attribute(value)


def print_op(op: Operation) -> str:
    """One op on one line, with operands named by hint or ``%?``."""
    p = Printer(Module())
    for v in op.operands:
        if id(v) not in p.names:
            p.names[id(v)] = v.name_hint or "?"
    return p.op(op)
