"""The converter table and the context a converter works in.

A converter is a function registered for one ONNX op type and a minimum
opset::

    @converter("Clip", since=11)
    def clip(cx, x, lo=None, hi=None):
        ...
        return value            # or a list with one entry per ONNX output

Positional parameters are the ONNX inputs (``None`` when absent), keyword-only
parameters the ONNX attributes with their defaults. ``legalize`` picks the
entry with the highest ``since`` not above the model's opset, passes the
inputs and attributes, replaces the ONNX results with the returned values and
erases the ONNX op. ``cx`` (a ``Cx``) builds ``nn`` ops before the ONNX op.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgecc.ir.attrs import DenseElements
from edgecc.ir.builder import Builder
from edgecc.ir.core import Operation, Value
from edgecc.ir.diagnostics import EdgeccError
from edgecc.ir.spec import lookup_op
from edgecc.ir.types import ElementType, QuantizedType, TensorType, element_from_numpy

TO_NHWC = (0, 2, 3, 1)
TO_NCHW = (0, 3, 1, 2)


class Unsupported(Exception):
    """Raised by converters: this node cannot be legalized (message says why)."""


@dataclass
class Converter:
    op_type: str
    since: int
    fn: Callable[..., Any]
    doc: str
    n_inputs: int  # positional parameters after cx (ONNX inputs); -1 when variadic
    attrs: frozenset[str]
    has_var_kw: bool


CONVERTERS: dict[str, list[Converter]] = {}


def converter(op_type: str, since: int = 11, doc: str = ""):
    """Register ``fn`` as the converter of ``op_type`` from opset ``since`` on."""

    def register(fn):
        sig = inspect.signature(fn)
        params = list(sig.parameters.values())[1:]
        n_in = 0
        attrs, var_kw = set(), False
        for p in params:
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
                n_in += 1
            elif p.kind == p.VAR_POSITIONAL:
                n_in = -1
            elif p.kind == p.KEYWORD_ONLY:
                attrs.add(p.name)
            elif p.kind == p.VAR_KEYWORD:
                var_kw = True
        entry = Converter(op_type, since, fn, doc or (fn.__doc__ or "").strip().split("\n")[0], n_in,
                          frozenset(attrs), var_kw)
        table = CONVERTERS.setdefault(op_type, [])
        table.append(entry)
        table.sort(key=lambda c: c.since)
        return fn

    return register


def lookup(op_type: str, opset: int) -> Converter | None:
    best = None
    for c in CONVERTERS.get(op_type, ()):
        if c.since <= opset:
            best = c
    return best


# ---------------------------------------------------------------- weights
@dataclass
class WeightRef:
    """A constant weight, plain (``qtype`` None) or quantized stored data under nn.dequantize."""

    array: np.ndarray
    qtype: QuantizedType | None = None

    @property
    def quantized(self) -> bool:
        return self.qtype is not None

    def transposed(self, perm: Sequence[int]) -> WeightRef:
        arr = np.transpose(self.array, perm)
        return WeightRef(arr, _permute_qtype(self.qtype, perm))

    def reshaped(self, shape: Sequence[int]) -> WeightRef:
        q = self.qtype
        if q is not None and q.axis is not None:
            size = self.array.shape[q.axis]
            # keep per-axis quantization only when the quantized axis survives as a whole
            if size == 1 or list(shape).count(size) != 1:
                if len(set(q.scales)) == 1 and len(set(q.zero_points)) == 1:
                    q = QuantizedType(q.storage, q.expressed, q.scales[:1], q.zero_points[:1], None,
                                      q.qmin, q.qmax)
                else:
                    raise Unsupported("cannot reshape a per-axis quantized weight")
            else:
                q = QuantizedType(q.storage, q.expressed, q.scales, q.zero_points, list(shape).index(size),
                                  q.qmin, q.qmax)
        return WeightRef(self.array.reshape(shape), q)


def _permute_qtype(q: QuantizedType | None, perm: Sequence[int]) -> QuantizedType | None:
    if q is None or q.axis is None:
        return q
    return QuantizedType(q.storage, q.expressed, q.scales, q.zero_points, list(perm).index(q.axis),
                         q.qmin, q.qmax)


# ---------------------------------------------------------------- context
class Cx:
    """Builds replacement ops for one ONNX op (inserted right before it)."""

    def __init__(self, op: Operation, opset: int, file: str) -> None:
        self.op = op
        self.opset = opset
        self.file = file
        self.loc = op.loc
        self.builder = Builder.before(op)
        self.op_type = op.name.split(".", 1)[1]
        absent = set(op.attrs.get("onnx.absent_results", ()))
        self.result_slots: list[Value | None] = []
        it = iter(op.results)
        n = len(op.results) + len(absent)
        for k in range(n):
            self.result_slots.append(None if k in absent else next(it))

    # -- errors -------------------------------------------------------------
    def fail(self, msg: str) -> Unsupported:
        return Unsupported(msg)

    # -- types --------------------------------------------------------------
    @staticmethod
    def shape(v: Value) -> tuple[int, ...]:
        return v.type.shape

    @staticmethod
    def rank(v: Value) -> int:
        return len(v.type.shape)

    @staticmethod
    def elem(v: Value) -> ElementType:
        return v.type.element

    def out(self, k: int = 0) -> Value | None:
        """The ONNX op's k-th result (None when absent)."""
        return self.result_slots[k] if k < len(self.result_slots) else None

    def out_shape(self, k: int = 0) -> tuple[int, ...]:
        r = self.out(k)
        if r is None:
            raise self.fail(f"output #{k} is absent")
        return r.type.shape

    def used(self, k: int) -> bool:
        r = self.out(k)
        return r is not None and r.has_uses

    # -- constants ------------------------------------------------------------
    @staticmethod
    def value(v: Value | None) -> np.ndarray | None:
        """The array of a plain (non-quantized) constant, else None."""
        if v is None:
            return None
        op = v.defining_op()
        if op is None or op.name != "builtin.constant":
            return None
        dense = op.attrs["value"]
        if isinstance(dense.type.element, QuantizedType):
            return None
        return dense.array

    def const_input(self, v: Value | None, what: str) -> np.ndarray | None:
        """A constant input's array (None if absent); a dynamic one is unsupported."""
        if v is None:
            return None
        a = self.value(v)
        if a is None:
            raise self.fail(f"{what} must be a constant (computed at run time here)")
        return a

    def const(self, array, element: ElementType | None = None, name: str | None = None) -> Value:
        """A ``builtin.constant``; ``name`` is its value name and resource name."""
        from edgecc.dialects.builtin import ConstantOp

        arr = np.asarray(array)
        if element is not None and not isinstance(element, QuantizedType):
            arr = arr.astype(element.numpy)
        dense = DenseElements.from_numpy(arr, element, _resource(name))
        op = ConstantOp.from_array(dense, loc=self.loc, name=name)
        return self.builder.insert(op).result

    def scalar(self, x: float, like: Value) -> Value:
        """A rank-0 constant with ``like``'s (float or integer) element type."""
        e = like.type.element
        if isinstance(e, QuantizedType):
            e = e.expressed
        return self.const(np.array(x, dtype=e.numpy), e)

    def like(self, array, v: Value) -> Value:
        """A constant cast to ``v``'s element type."""
        e = v.type.element
        if isinstance(e, QuantizedType):
            e = e.expressed
        return self.const(np.asarray(array).astype(e.numpy), e)

    # -- op building ------------------------------------------------------------
    def emit_op(self, name: str, *operands: Value | Sequence[Value] | None,
                result_types: Sequence[TensorType] | None = None, **attrs: Any) -> Operation:
        cls = lookup_op(name)
        if cls is None or not hasattr(cls, "build"):
            raise EdgeccError(f"internal: op {name} is not registered")
        op = cls.build(*operands, result_types=result_types, loc=self.loc, **attrs)
        return self.builder.insert(op)

    def emit(self, name: str, *operands: Value | Sequence[Value] | None,
             result_type: TensorType | None = None, **attrs: Any) -> Value:
        types = [result_type] if result_type is not None else None
        return self.emit_op(name, *operands, result_types=types, **attrs).results[0]

    # -- common ops --------------------------------------------------------------
    def transpose(self, v: Value, perm: Sequence[int]) -> Value:
        perm = tuple(int(p) for p in perm)
        if perm == tuple(range(len(perm))):
            return v
        a = self.value(v)
        if a is not None:
            return self.const(np.transpose(a, perm), v.type.element)
        return self.emit("nn.transpose", v, perm=perm)

    def reshape(self, v: Value, shape: Sequence[int]) -> Value:
        shape = tuple(int(d) for d in shape)
        if shape == v.type.shape:
            return v
        a = self.value(v)
        if a is not None:
            return self.const(a.reshape(shape), v.type.element)
        return self.emit("nn.reshape", v, shape=shape)

    def to_nhwc(self, v: Value) -> Value:
        return self.transpose(v, TO_NHWC)

    def to_nchw(self, v: Value) -> Value:
        return self.transpose(v, TO_NCHW)

    def binary(self, name: str, a: Value, b: Value, **attrs) -> Value:
        return self.emit(f"nn.{name}", a, b, **attrs)

    def unary(self, name: str, x: Value, **attrs) -> Value:
        return self.emit(f"nn.{name}", x, **attrs)

    # -- weights -----------------------------------------------------------------
    def weight_ref(self, v: Value) -> WeightRef | None:
        """See through ``nn.dequantize(constant)`` (and transposes/reshapes of it) to the data."""
        a = self.value(v)
        if a is not None:
            return WeightRef(a)
        op = v.defining_op()
        if op is None:
            return None
        if op.name == "nn.dequantize":
            src = op.operands[0].defining_op()
            if src is not None and src.name == "builtin.constant":
                dense = src.attrs["value"]
                if isinstance(dense.type.element, QuantizedType):
                    return WeightRef(dense.array, dense.type.element)
            return None
        if op.name == "nn.transpose":
            inner = self.weight_ref(op.operands[0])
            return inner.transposed(op.attr("perm")) if inner is not None else None
        if op.name == "nn.reshape":
            inner = self.weight_ref(op.operands[0])
            if inner is None:
                return None
            try:
                return inner.reshaped(op.attr("shape"))
            except Unsupported:
                return None
        return None

    def weight(self, ref: WeightRef, name: str | None = None) -> Value:
        """Materialise a (transformed) weight: a constant, or a quantized constant + nn.dequantize."""
        if ref.qtype is None:
            return self.const(ref.array, element_from_numpy(ref.array.dtype), name=name)
        dense = DenseElements(ref.array, TensorType(ref.array.shape, ref.qtype), _resource(name))
        from edgecc.dialects.builtin import ConstantOp

        q = self.builder.insert(ConstantOp.from_array(dense, loc=self.loc, name=name)).result
        return self.emit("nn.dequantize", q)


def _resource(name: str | None) -> str | None:
    if not name:
        return None
    from edgecc.conversion.onnx_to_nn.onnx_types import sanitize_symbol

    return sanitize_symbol(name, "w")


__all__ = ["CONVERTERS", "Converter", "Cx", "TO_NCHW", "TO_NHWC", "Unsupported", "WeightRef", "converter",
           "lookup"]
