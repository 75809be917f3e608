"""Declarative op definitions and the op registry.

An op is a class that lists its operands, results and attributes as class
fields, in order::

    @nn.op("relu")
    class ReluOp(Op):
        \"\"\"max(x, 0).\"\"\"
        input = operand(TensorOf(*FLOAT, *QUANT))
        output = result(TensorOf(*FLOAT, *QUANT))
        traits = {"Pure", "Elementwise"}

The fields become typed accessors (``op.input``), the spec drives a generic
verifier (counts, element kinds, ranks, attribute kinds, inferred shapes) and
``Op.build`` (operands positionally, attributes as keywords, result types
inferred when not given). Ops add ``verify_`` for their own rules,
``infer_shapes`` for type inference and optionally ``fold``.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from edgecc.ir.attrs import DenseElements, normalize
from edgecc.ir.core import Operation, Value
from edgecc.ir.diagnostics import Location
from edgecc.ir.types import ElementType, TensorType, Type

FLOAT = ("f32", "f16")
QUANT = ("qi8", "qi16")
QUANT_W = ("qi8", "qi4")
INT = ("i8", "i16", "i32", "i64")


# --------------------------------------------------------------- constraints
@dataclass(frozen=True)
class TensorOf:
    """A tensor whose element kind is one of ``kinds`` (empty: any) and rank fits."""

    kinds: tuple[str, ...] = ()
    rank: int | tuple[int, ...] | None = None

    def __init__(self, *kinds: str, rank: int | tuple[int, ...] | None = None) -> None:
        object.__setattr__(self, "kinds", tuple(kinds))
        object.__setattr__(self, "rank", rank)

    def check(self, t: Type) -> str | None:
        if not isinstance(t, TensorType):
            return f"expected a tensor, got {t}"
        if self.kinds and t.element.kind not in self.kinds:
            return f"element type {t.element} not allowed (expected {self.describe_kinds()})"
        if self.rank is not None:
            ranks = (self.rank,) if isinstance(self.rank, int) else self.rank
            if t.rank not in ranks:
                want = " or ".join(str(r) for r in ranks)
                return f"expected rank {want}, got rank {t.rank} ({t})"
        return None

    def describe_kinds(self) -> str:
        return ", ".join(self.kinds) if self.kinds else "any"


ANY_TENSOR = TensorOf()


@dataclass
class OperandDef:
    constraint: TensorOf = ANY_TENSOR
    optional: bool = False
    variadic: bool = False
    doc: str = ""
    name: str = ""
    index: int = 0

    def __set_name__(self, owner, name: str) -> None:
        self.name = name

    def __get__(self, op, owner=None):
        if op is None:
            return self
        spec = op.spec
        if self.variadic:
            fixed = len(spec.operands) - 1
            return op.operands[self.index: len(op.operands) - (fixed - self.index)]
        ops = op.operands
        return ops[self.index] if self.index < len(ops) else None


@dataclass
class ResultDef:
    constraint: TensorOf = ANY_TENSOR
    variadic: bool = False
    doc: str = ""
    name: str = ""
    index: int = 0

    def __set_name__(self, owner, name: str) -> None:
        self.name = name

    def __get__(self, op, owner=None):
        if op is None:
            return self
        if self.variadic:
            return tuple(op.results[self.index:])
        return op.results[self.index]


# ---------------------------------------------------------------- attributes
class AttrKind:
    """What an attribute may hold; ``check`` returns an error text or None."""

    text = "attribute"

    def check(self, v: Any) -> str | None:
        return None

    def coerce(self, v: Any) -> Any:
        return normalize(v)


class Int(AttrKind):
    text = "integer"

    def check(self, v):
        return None if isinstance(v, int) and not isinstance(v, bool) else "expected an integer"


class Float(AttrKind):
    text = "float"

    def check(self, v):
        return None if isinstance(v, float) else "expected a float"

    def coerce(self, v):
        return float(v)


class Bool(AttrKind):
    text = "bool"

    def check(self, v):
        return None if isinstance(v, bool) else "expected true or false"


class Str(AttrKind):
    text = "string"

    def __init__(self, *choices: str) -> None:
        self.choices = choices

    def check(self, v):
        if not isinstance(v, str):
            return "expected a string"
        if self.choices and v not in self.choices:
            return f"'{v}' is not one of {', '.join(self.choices)}"
        return None


class IntArray(AttrKind):
    text = "integer array"

    def __init__(self, length: int | None = None) -> None:
        self.length = length

    def check(self, v):
        if not isinstance(v, tuple) or not all(isinstance(x, int) and not isinstance(x, bool) for x in v):
            return "expected an integer array"
        if self.length is not None and len(v) != self.length:
            return f"expected {self.length} integers, got {len(v)}"
        return None


class FloatArray(AttrKind):
    text = "float array"

    def check(self, v):
        if not isinstance(v, tuple) or not all(isinstance(x, float) for x in v):
            return "expected a float array"
        return None

    def coerce(self, v):
        return tuple(float(x) for x in v)


class TypeKind(AttrKind):
    text = "type"

    def check(self, v):
        return None if isinstance(v, Type) else "expected a type"


class Dense(AttrKind):
    text = "dense elements"

    def check(self, v):
        return None if isinstance(v, DenseElements) else "expected dense elements"


@dataclass
class AttrDef:
    kind: AttrKind = field(default_factory=AttrKind)
    default: Any = None
    required: bool = False
    doc: str = ""
    name: str = ""

    def __set_name__(self, owner, name: str) -> None:
        self.name = name

    def __get__(self, op, owner=None):
        if op is None:
            return self
        return op.attr(self.name)


def operand(constraint: TensorOf = ANY_TENSOR, *, optional: bool = False, variadic: bool = False,
            doc: str = "") -> Any:
    return OperandDef(constraint, optional, variadic, doc)


def result(constraint: TensorOf = ANY_TENSOR, *, variadic: bool = False, doc: str = "") -> Any:
    return ResultDef(constraint, variadic, doc)


def attr(kind: AttrKind | None = None, default: Any = None, *, required: bool = False,
         doc: str = "") -> Any:
    return AttrDef(kind or AttrKind(), normalize(default) if default is not None else None,
                   required, doc)


# ---------------------------------------------------------------------- spec
@dataclass
class OpSpec:
    name: str
    operands: list[OperandDef]
    results: list[ResultDef]
    attrs: dict[str, AttrDef]
    traits: frozenset[str]
    doc: str

    def verify(self, op: Operation) -> None:
        self._check_counts(op)
        for i, v in enumerate(op.operands):
            d = self._operand_def(i, len(op.operands))
            msg = d.constraint.check(v.type)
            if msg:
                raise op.error(f"operand '{d.name}': {msg}")
        for i, r in enumerate(op.results):
            d = self.results[min(i, len(self.results) - 1)]
            msg = d.constraint.check(r.type)
            if msg:
                raise op.error(f"result '{d.name}': {msg}")
        for key, value in op.attrs.items():
            d = self.attrs.get(key)
            if d is None:
                if "." in key:  # discardable, dialect-prefixed annotation (e.g. mem.offset)
                    continue
                known = ", ".join(self.attrs) or "none"
                raise op.error(f"unknown attribute '{key}' (known: {known})")
            msg = d.kind.check(value)
            if msg:
                raise op.error(f"attribute '{key}': {msg}")
        for key, d in self.attrs.items():
            if d.required and key not in op.attrs:
                raise op.error(f"missing required attribute '{key}'")
        infer = getattr(op, "infer_shapes", None)
        if infer is not None:
            shapes = infer()
            for r, shape in zip(op.results, shapes):
                if shape is not None and tuple(shape) != r.type.shape:
                    got = "x".join(map(str, r.type.shape)) or "scalar"
                    want = "x".join(map(str, shape)) or "scalar"
                    raise op.error(f"result shape {got} does not match inferred shape {want}")
        op.verify_()

    def _operand_def(self, i: int, n: int) -> OperandDef:
        var = next((d for d in self.operands if d.variadic), None)
        if var is None:
            return self.operands[i]
        tail = len(self.operands) - 1 - var.index
        if i < var.index:
            return self.operands[i]
        if i >= n - tail:
            return self.operands[var.index + 1 + (i - (n - tail))]
        return var

    def _check_counts(self, op: Operation) -> None:
        n = len(op.operands)
        required = sum(1 for d in self.operands if not d.optional and not d.variadic)
        variadic = any(d.variadic for d in self.operands)
        total = len(self.operands)
        if n < required or (not variadic and n > total):
            want = f"{required}" if required == total else f"{required} to {total}"
            if variadic:
                want = f"at least {required}"
            raise op.error(f"expects {want} operands, got {n}")
        nr = len(op.results)
        rvariadic = any(d.variadic for d in self.results)
        if (not rvariadic and nr != len(self.results)) or (rvariadic and nr < len(self.results) - 1):
            raise op.error(f"expects {len(self.results)} results, got {nr}")


class Op(Operation):
    """Base class of registered (spec'd) ops."""

    traits: frozenset[str] | set[str] = frozenset()

    def __init_subclass__(cls, **kw) -> None:
        super().__init_subclass__(**kw)
        operands: dict[str, OperandDef] = {}
        results: dict[str, ResultDef] = {}
        attrs: dict[str, AttrDef] = {}
        for klass in reversed(cls.__mro__):
            for key, value in vars(klass).items():
                if isinstance(value, OperandDef):
                    operands[key] = value
                elif isinstance(value, ResultDef):
                    results[key] = value
                elif isinstance(value, AttrDef):
                    attrs[key] = value
        for i, d in enumerate(operands.values()):
            d.index = i
        for i, d in enumerate(results.values()):
            d.index = i
        cls.spec = OpSpec(getattr(cls, "name", cls.__name__), list(operands.values()),
                          list(results.values()), attrs, frozenset(cls.traits),
                          inspect.cleandoc(cls.__doc__ or ""))

    def verify_(self) -> None:
        """Op-specific checks beyond the spec; raise ``self.error(...)``."""

    def infer_element(self) -> ElementType:
        """Element type of inferred results: the first operand's by default."""
        if not self.operands:
            raise TypeError(f"{self.name} has no operands to infer its result element from; "
                            "pass result_types")
        return self.operands[0].type.element

    def infer_types(self) -> list[Type]:
        infer = getattr(self, "infer_shapes", None)
        if infer is None:
            raise TypeError(f"{self.name} cannot infer its result types; pass result_types")
        elem = self.infer_element()
        return [TensorType(tuple(s), elem) for s in infer()]

    @classmethod
    def build(cls, *operands: Value | Sequence[Value] | None, result_types: Sequence[Type] | None = None,
              loc: Location | None = None, result_names: Sequence[str | None] | None = None,
              **attrs: Any):
        """Create a detached op; optional operands may be None, a variadic one a list."""
        flat: list[Value] = []
        for v in operands:
            if v is None:
                continue
            if isinstance(v, (list, tuple)):
                flat.extend(v)
            else:
                flat.append(v)
        values: dict[str, Any] = {}
        for k, v in attrs.items():
            if v is None:
                continue
            d = cls.spec.attrs.get(k)
            values[k] = d.kind.coerce(v) if d is not None else normalize(v)
        op = cls(flat, (), values, loc, result_names=None)
        types = list(result_types) if result_types is not None else op.infer_types()
        hints = list(result_names or [])
        from edgecc.ir.core import OpResult

        for i, t in enumerate(types):
            op.results.append(OpResult(t, op, i, hints[i] if i < len(hints) else None))
        return op


# ------------------------------------------------------------------ registry
class Dialect:
    """A named set of ops. A ``generic`` dialect accepts any ``name.Op`` (onnx)."""

    def __init__(self, name: str, doc: str = "", generic: type[Operation] | None = None) -> None:
        self.name = name
        self.doc = doc
        self.ops: dict[str, type[Operation]] = {}
        self.generic = generic
        DIALECTS[name] = self

    def op(self, short: str):
        def register(cls):
            cls.name = f"{self.name}.{short}"
            cls.spec.name = cls.name
            if cls.name in self.ops:
                raise ValueError(f"op {cls.name} registered twice")
            self.ops[cls.name] = cls
            return cls

        return register


DIALECTS: dict[str, Dialect] = {}


def load_dialects() -> None:
    """Import the built-in dialect modules so their ops are registered."""
    import edgecc.dialects  # noqa: F401


def lookup_op(name: str) -> type[Operation] | None:
    load_dialects()
    dialect = DIALECTS.get(name.split(".", 1)[0])
    if dialect is None:
        return None
    cls = dialect.ops.get(name)
    if cls is None and dialect.generic is not None and "." in name:
        return dialect.generic
    return cls


def create_op(name: str, operands: Sequence[Value], result_types: Sequence[Type],
              attrs: dict[str, Any], loc: Location | None = None,
              result_names: Sequence[str | None] | None = None) -> Operation:
    """Instantiate a registered op by name (used by the parser and importers)."""
    cls = lookup_op(name)
    if cls is None:
        raise KeyError(name)
    op = cls.__new__(cls)
    Operation.__init__(op, operands, result_types, attrs, loc, name=name, result_names=result_names)
    return op
