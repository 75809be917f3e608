"""Emission of a lowered ``c`` module: model header, source, weights, build files.

``Emitter(module, plan, ...)`` walks the ops in the planned order and asks
each ``c`` op for its call (``op.emit(self)``); the op uses the emitter to
name tensors (``ptr``: an arena offset or a weight array), to declare its
constant parameter struct and tables (``params``/``table``: ``static const``,
so in flash) and to find its scratch memory. Output is deterministic: symbols
are numbered in emission order, floats print with 9 significant digits
(exact for float32), nothing depends on time or paths.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from edgecc.analysis.memory import MemoryPlan
from edgecc.backends.c.packing import stored_array
from edgecc.ir.core import Module, Operation, Value
from edgecc.ir.types import QuantizedType

CTYPES = {"f32": "float", "i8": "int8_t", "i16": "int16_t", "i32": "int32_t", "i64": "int64_t",
          "u8": "uint8_t", "i1": "uint8_t", "f16": "uint16_t", "i4": "int8_t"}
DTYPE_ENUMS = {"f32": "EDGECC_F32", "i8": "EDGECC_I8", "i16": "EDGECC_I16", "i32": "EDGECC_I32",
               "i64": "EDGECC_I64", "u8": "EDGECC_U8", "i1": "EDGECC_BOOL", "f16": "EDGECC_F16"}
from edgecc.backends.c.escape import C_KEYWORDS, c_comment, c_identifier  # noqa: F401 (re-exported)


def storage_kind(v: Value) -> str:
    e = v.type.element
    return str(e.storage) if isinstance(e, QuantizedType) else str(e)


def c_float(x: float) -> str:
    """A float literal that reads back as the same float32 (INFINITY/NAN macros for specials)."""
    x = float(np.float32(x))
    if math.isnan(x):
        return "NAN"
    if math.isinf(x):
        return "INFINITY" if x > 0 else "-INFINITY"
    s = "%.9g" % x
    if not any(ch in s for ch in ".e"):
        s += "."
    return s + "f"


def c_floats(arr: np.ndarray) -> list[str]:
    a = np.asarray(arr, dtype=np.float32).astype(np.float64).reshape(-1)
    if not np.isfinite(a).all():
        return [c_float(x) for x in a]
    strs = np.char.mod("%.9g", a)
    return [s + ("f" if ("." in s or "e" in s) else ".f") for s in strs.tolist()]


def c_ints(arr: np.ndarray, ctype: str) -> list[str]:
    a = np.asarray(arr).reshape(-1).astype(np.int64)
    if ctype == "int64_t":
        return [f"INT64_C({v})" if v != -(2 ** 63) else "INT64_MIN" for v in a.tolist()]
    if ctype == "int32_t":
        return [str(v) if v != -(2 ** 31) else "INT32_MIN" for v in a.tolist()]
    return np.char.mod("%d", a).tolist()


def wrap(items: list[str], indent: str = "    ", width: int = 100) -> str:
    lines, cur = [], indent
    for it in items:
        piece = it + ", "
        if len(cur) + len(piece) > width and cur.strip():
            lines.append(cur.rstrip())
            cur = indent
        cur += piece
    if cur.strip():
        lines.append(cur.rstrip().rstrip(","))
    return "\n".join(lines)


@dataclass
class Weight:
    symbol: str
    ctype: str
    count: int
    nbytes: int
    data: str
    comment: str


@dataclass
class EmitResult:
    header: str
    source: str
    weights: str
    weights_bytes: int
    param_bytes: int
    kernels: list[str] = field(default_factory=list)
    calls: list[dict] = field(default_factory=list)


class Emitter:
    """Formats one lowered module (see the module docstring)."""

    def __init__(self, module: Module, plan: MemoryPlan, prefix: str, alignment: int) -> None:
        self.module = module
        self.plan = plan
        self.P = prefix
        self.alignment = alignment
        self.decls: list[str] = []
        self.param_bytes = 0
        self._n_params = 0
        self._tables: dict[tuple, str] = {}
        self._params: dict[tuple, str] = {}
        self.weights: dict[object, Weight] = {}  # digest (, packing) -> weight
        self.weight_of: dict[Value, Weight] = {}
        self._current: Operation | None = None

    # -- tensors --------------------------------------------------------------
    def ctype(self, v: Value) -> str:
        return CTYPES[storage_kind(v)]

    def elem_size(self, v: Value) -> int:
        return max(1, v.type.element.bits // 8)

    def dtype_enum(self, v: Value) -> str:
        return DTYPE_ENUMS[storage_kind(v)]

    def has(self, v: Value) -> bool:
        return self.plan.has(v) or self._constant(v) is not None

    def same_memory(self, a: Value, b: Value) -> bool:
        return self.plan.has(a) and self.plan.has(b) and self.plan.offset(a) == self.plan.offset(b)

    @staticmethod
    def _constant(v: Value):
        op = v.defining_op()
        return op if op is not None and op.has_trait("ConstantLike") else None

    def weight(self, v: Value) -> Weight:
        w = self.weight_of.get(v)
        if w is not None:
            return w
        const = self._constant(v)
        dense = const.attr("value")
        arr, pack = stored_array(const, dense.array)
        key = dense.digest if pack is None else (dense.digest, pack)
        w = self.weights.get(key)
        if w is None:
            kind = storage_kind(v)
            ctype = CTYPES[kind]
            if kind == "i1":
                arr = arr.astype(np.uint8)
            vals = c_floats(arr) if ctype == "float" else c_ints(arr, ctype)
            sym = f"{self.P}_w{len(self.weights)}"
            n = max(1, arr.size)
            nbytes = n * np.dtype(np.float32 if ctype == "float" else arr.dtype).itemsize
            label = v.name_hint or (v.defining_op().loc.name if v.defining_op().loc else "") or ""
            w = Weight(sym, ctype, n, nbytes, wrap(vals or ["0"]),
                       c_comment(f"{label} {v.type}{f' (packed {pack})' if pack else ''}".strip()))
            self.weights[key] = w
        self.weight_of[v] = w
        return w

    def encoded_weight(self, v: Value, enc) -> Weight:
        """The flash array of constant ``v`` stored as ``enc`` (``edgecc.compress.encode``): bytes."""
        key = (self._constant(v).attr("value").digest, "encoded", enc.kind, enc.channels, enc.inner)
        w = self.weights.get(key)
        if w is None:
            label = v.name_hint or (v.defining_op().loc.name if v.defining_op().loc else "") or ""
            detail = ("bitmask + nonzeros" if enc.kind == "bitmask" else
                      f"{'bitmask + ' if enc.kind == 'sparse_lut' else ''}{enc.levels} levels x "
                      f"{enc.channels} codebooks, {enc.bits}-bit indices")
            w = Weight(f"{self.P}_w{len(self.weights)}", "uint8_t", enc.nbytes, enc.nbytes,
                       wrap(c_ints(enc.data, "uint8_t")),
                       c_comment(f"{label} {v.type} encoded: {detail}, {enc.nbytes} of {enc.dense_bytes} B"))
            self.weights[key] = w
        return w

    def decodes(self, v: Value) -> bool:
        """True when the op being emitted reads constant ``v`` decoded into its scratch."""
        from edgecc.backends.c.encoding import ENCODED_ATTR

        op = self._current
        return op is not None and bool(op.attrs.get(ENCODED_ATTR)) and len(op.operands) > 1 \
            and op.operands[1] is v

    def decode_statements(self, op: Operation) -> list[str]:
        """The call that decodes ``op``'s encoded weight into the front of its scratch (or nothing)."""
        from edgecc.backends.c.encoding import encoding_of

        enc = encoding_of(op)
        if enc is None:
            return []
        v = op.operands[1]
        src = self.encoded_weight(v, enc).symbol
        dst = f"(void *)(arena + {self.plan.scratch_offset(op)})"
        if enc.kind == "bitmask":
            return [f"edgecc_decode_bitmask({src}, {enc.count}u, {enc.elem_size}u, {dst});"]
        p = self.params("edgecc_lut_params_t", [
            ("count", enc.count), ("elem_size", enc.elem_size), ("channels", enc.channels),
            ("inner", enc.inner), ("levels", enc.levels), ("bits", enc.bits)])
        return [f"edgecc_decode_{enc.kind}({p}, {src}, {dst});"]

    def ptr(self, v: Value, typed: bool = True) -> str:
        """C expression of the data pointer of ``v`` (arena slice or weight array)."""
        if self._constant(v) is not None:
            if self.decodes(v):
                off = self.plan.scratch_offset(self._current)
                return f"({self.ctype(v)} *)(arena + {off})" if typed else f"arena + {off}"
            return self.weight(v).symbol
        off = self.plan.offset(v)
        if not typed:
            return f"arena + {off}"
        return f"({self.ctype(v)} *)(arena + {off})"

    def state_ptr(self, name: str) -> str:
        """C expression of state ``name`` in the persistent region (see backends/c/state.py)."""
        from edgecc.backends.c.state import layout

        return f"({self.P}_state + {layout(self.module)[0][name]}u)"

    def scratch(self, op: Operation | None = None) -> str:
        """The op's kernel scratch: its planned scratch buffer after any decoded weights."""
        from edgecc.backends.c.encoding import DECODE_BYTES_ATTR

        op = op or self._current
        off = self.plan.scratch_offset(op)
        if off is not None:
            off += int(op.attrs.get(DECODE_BYTES_ATTR, 0) or 0)
        return "NULL" if off is None else f"(void *)(arena + {off})"

    # -- constant data -----------------------------------------------------------
    def _fmt(self, ctype: str, value) -> str:
        from edgecc.backends.c.dialect import CRaw

        if isinstance(value, CRaw):
            return str(value)
        if isinstance(value, (tuple, list)):
            return "{" + ", ".join(self._fmt(ctype, x) for x in value) + "}"
        if isinstance(value, bool):
            return str(int(value))
        if isinstance(value, float):
            return c_float(value)
        return str(value)

    def table(self, ctype: str, values) -> str:
        """A ``static const`` array in flash; returns its symbol (identical tables are shared)."""
        vals = list(values) or [0]
        if ctype == "float":
            items = c_floats(np.asarray(vals, dtype=np.float64))
            size = 4
        else:
            items = c_ints(np.asarray(vals, dtype=np.float64).round(), ctype)
            size = {"int8_t": 1, "uint8_t": 1, "int16_t": 2, "int32_t": 4, "int64_t": 8}.get(ctype, 4)
        key = (ctype, tuple(items))
        sym = self._tables.get(key)
        if sym is None:
            sym = f"{self.P}_t{len(self._tables)}"
            self._tables[key] = sym
            self.decls.append(f"static const {ctype} {sym}[{len(items)}] EDGECC_WEIGHTS_SECTION = {{\n"
                              f"{wrap(items)}\n}};")
            self.param_bytes += size * len(items)
        return sym

    def params(self, ctype: str, fields: list[tuple[str, object]]) -> str:
        """A ``static const`` parameter struct in flash; returns ``&symbol`` (shared when equal)."""
        body = ", ".join(f".{k} = {self._fmt('', v)}" for k, v in fields)
        key = (ctype, body)
        sym = self._params.get(key)
        if sym is None:
            sym = f"{self.P}_p{len(self._params)}"
            self._params[key] = sym
            items = [f".{k} = {self._fmt('', v)}" for k, v in fields]
            self.decls.append(f"static const {ctype} {sym} EDGECC_WEIGHTS_SECTION = {{\n{wrap(items)}\n}};")
            self.param_bytes += sum(4 * (len(v) if isinstance(v, (tuple, list)) else 1) for _, v in fields)
        return f"&{sym}"

    # -- the body ------------------------------------------------------------------
    def body(self) -> list[str]:
        lines = []
        for i, op in enumerate(self.plan.order):
            self._current = op
            loc = op.loc.name if op.loc is not None and op.loc.name else ""
            shapes = ", ".join("x".join(map(str, v.type.shape)) or "scalar" for v in op.operands
                               if self._constant(v) is None)
            outs = ", ".join("x".join(map(str, r.type.shape)) or "scalar" for r in op.results)
            note = " in place" if self.plan.reuses(op) is not None else ""
            comment = f"/* {i}: {op.name}{(' ' + _comment_safe(loc)) if loc else ''} ({shapes} -> {outs}){note} */"
            lines.append("    " + comment)
            lines.append(f"    EDGECC_PROFILE_BEGIN({i});")  # no-ops unless built with -DEDGECC_PROFILE
            for stmt in self.decode_statements(op) + op.emit(self):
                lines.append("    " + stmt)
            lines.append(f"    EDGECC_PROFILE_END({i});")
        self._current = None
        return lines


def _comment_safe(s: str) -> str:
    return c_comment(s)


__all__ = ["CTYPES", "DTYPE_ENUMS", "EmitResult", "Emitter", "c_float", "c_floats", "c_identifier",
           "c_ints", "storage_kind", "wrap"]
