"""Parser for the textual IR (lark LALR grammar in ``edgeir.lark``).

Errors are ``ParseError``s located at ``file:line:col`` with what was
expected, e.g. ``model.mlir:3:17: error: unexpected '}', expected one of: ...``.
Each parsed op remembers its text position (``op.text_loc``) for diagnostics.
"""

from __future__ import annotations

import functools
import math
from importlib.resources import files
from typing import Any

import numpy as np
from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from edgecc.ir.attrs import DenseElements
from edgecc.ir.core import Func, Module, Value
from edgecc.ir.diagnostics import EdgeccError, Location, ParseError
from edgecc.ir.spec import create_op, lookup_op
from edgecc.ir.types import FloatType, IntegerType, QuantizedType, TensorType

_TOKEN_TEXT = {
    "LBRACE": "'{'", "RBRACE": "'}'", "LPAR": "'('", "RPAR": "')'", "LSQB": "'['", "RSQB": "']'",
    "COMMA": "','", "COLON": "':'", "EQUAL": "'='", "LESSTHAN": "'<'", "MORETHAN": "'>'",
    "VALUE_ID": "a value (%name)", "OP_NAME": "an op name (dialect.op)", "BARE_ID": "a name",
    "STRING": "a string", "SIGNED_INT": "an integer", "SIGNED_FLOAT": "a float", "INT": "an integer",
    "DIMS": "dimensions (2x3x)", "INT_TYPE": "an integer type", "FLOAT_TYPE": "a float type",
    "SYMBOL": "a symbol (@name)", "HEX": "a hex blob",
}


@functools.cache
def _lark() -> Lark:
    grammar = files("edgecc.ir.text").joinpath("edgeir.lark").read_text()
    return Lark(grammar, parser="lalr", propagate_positions=True, maybe_placeholders=False)


def _expected(names) -> str:
    out = []
    for n in sorted(names):
        text = _TOKEN_TEXT.get(n)
        if text is None:
            try:
                pattern = _lark().get_terminal(n).pattern
                text = f"'{pattern.value}'" if pattern.type == "str" else n.lower()
            except KeyError:
                text = n
        if text not in out:
            out.append(text)
    return ", ".join(out[:8]) + (" ..." if len(out) > 8 else "")


def _parse_error(e: UnexpectedInput, filename: str, text: str) -> ParseError:
    line, col = getattr(e, "line", 0), getattr(e, "column", 0)
    if isinstance(e, UnexpectedCharacters):
        char = text[e.pos_in_stream] if e.pos_in_stream < len(text) else "end of input"
        msg = f"unexpected character '{char}'"
        if e.allowed:
            msg += f", expected {_expected(e.allowed)}"
    elif isinstance(e, UnexpectedEOF):
        msg = f"unexpected end of input, expected {_expected(e.expected)}"
        lines = text.splitlines() or [""]
        line, col = len(lines), len(lines[-1]) + 1
    elif isinstance(e, UnexpectedToken):
        tok = e.token
        shown = "end of input" if tok.type == "$END" else f"'{tok}'"
        msg = f"unexpected {shown}, expected {_expected(e.accepts or e.expected)}"
        if tok.type == "$END":
            lines = text.splitlines() or [""]
            line, col = len(lines), len(lines[-1]) + 1
    else:  # pragma: no cover
        msg = str(e).splitlines()[0]
    return ParseError(msg, Location(file=filename, line=line, col=col))


def _unquote(tok: Token | str) -> str:
    import json

    return json.loads(str(tok))


def _float(tok) -> float:
    s = str(tok)
    if s == "nan":
        return math.nan
    return float(s)


class _Builder:
    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.values: dict[str, Value] = {}
        self.resource_uses: list[tuple[str, TensorType, Any, list]] = []

    def loc_at(self, meta) -> Location:
        return Location(file=self.filename, line=meta.line, col=meta.column)

    def fail(self, msg: str, meta) -> ParseError:
        return ParseError(msg, self.loc_at(meta))

    # -- types --------------------------------------------------------------
    def type(self, t: Tree | Token):
        if isinstance(t, Token):
            raise AssertionError(t)
        if t.data == "tensor_type":
            if len(t.children) == 2:
                dims = tuple(int(d) for d in str(t.children[0]).split("x")[:-1])
                return TensorType(dims, self.type(t.children[1]))
            return TensorType((), self.type(t.children[0]))
        if t.data == "int_type":
            s = str(t.children[0])
            return IntegerType(int(s[1:]), s[0] == "i")
        if t.data == "float_type":
            return FloatType(int(str(t.children[0])[1:]))
        if t.data == "quant_type":
            return self.quant_type(t)
        raise AssertionError(t.data)

    def quant_type(self, t: Tree) -> QuantizedType:
        kids = list(t.children)
        s = str(kids.pop(0))
        storage = IntegerType(int(s[1:]), s[0] == "i")
        qmin = qmax = None
        if isinstance(kids[0], Tree) and kids[0].data == "storage_range":
            qmin, qmax = (int(x) for x in kids.pop(0).children)
        expressed = FloatType(int(str(kids.pop(0))[1:]))
        axis = None
        if isinstance(kids[0], Token):
            axis = int(kids.pop(0))
        params = kids[0].children
        scales = [float(p.children[0].children[0]) for p in params]
        zps = [int(p.children[1]) for p in params]
        if axis is None and len(scales) != 1:
            raise self.fail("a per-tensor quantized type takes one scale:zero_point pair", t.meta)
        try:
            return QuantizedType(storage, expressed, tuple(scales), tuple(zps), axis, qmin, qmax)
        except ValueError as e:
            raise self.fail(str(e), t.meta) from None

    # -- attributes ---------------------------------------------------------
    def attribute(self, t: Tree):
        d = t.data
        if d == "int_attr":
            return int(t.children[0])
        if d == "float_attr":
            return _float(t.children[0].children[0])
        if d == "str_attr":
            return _unquote(t.children[0])
        if d == "true_attr":
            return True
        if d == "false_attr":
            return False
        if d == "array_attr":
            return tuple(self.attribute(c) for c in t.children)
        if d == "type_attr":
            return self.type(t.children[0])
        if d == "dense_attr":
            ttype = self.type(t.children[1])
            data = self.literal(t.children[0])
            try:
                arr = np.array(data, dtype=ttype.element.numpy)
                if arr.ndim == 0 and ttype.num_elements != 1:
                    arr = np.full(ttype.shape, arr)
                return DenseElements(arr, ttype)
            except (ValueError, OverflowError) as e:
                raise self.fail(f"dense literal does not fit {ttype}: {e}", t.meta) from None
        if d == "resource_attr":
            holder: list = []
            self.resource_uses.append((str(t.children[0]), self.type(t.children[1]), t.meta, holder))
            return holder  # patched once the resource section is read
        raise AssertionError(d)

    def literal(self, t: Tree):
        d = t.data
        if d == "lit_int":
            return int(t.children[0])
        if d == "lit_float":
            return _float(t.children[0].children[0])
        if d == "lit_true":
            return True
        if d == "lit_false":
            return False
        return [self.literal(c) for c in t.children]

    def attr_dict(self, t: Tree | None) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if t is None:
            return out
        for entry in t.children:
            key_tok, value = entry.children
            key = _unquote(key_tok) if key_tok.type == "STRING" else str(key_tok)
            if key in out:
                raise self.fail(f"duplicate attribute '{key}'", entry.meta)
            out[key] = self.attribute(value)
        return out

    # -- locations ----------------------------------------------------------
    def location(self, t: Tree) -> Location:
        d = t.data
        if d == "location":
            return self.location(t.children[0])
        if d == "loc_name":
            return Location(name=_unquote(t.children[0]))
        if d == "loc_pos":
            f, ln, col = t.children
            return Location(file=_unquote(f), line=int(ln), col=int(col))
        if d == "loc_named_pos":
            n, f, ln, col = t.children
            return Location(name=_unquote(n), file=_unquote(f), line=int(ln), col=int(col))
        if d == "loc_fused":
            return Location(fused=tuple(self.location(c) for c in t.children))
        raise AssertionError(d)

    # -- structure ----------------------------------------------------------
    def define(self, name: str, v: Value, meta) -> None:
        if name in self.values:
            raise self.fail(f"value %{name} is defined twice", meta)
        self.values[name] = v

    def use(self, tok: Token, meta) -> Value:
        name = str(tok)[1:]
        v = self.values.get(name)
        if v is None:
            raise ParseError(f"use of undefined value %{name}",
                             Location(file=self.filename, line=tok.line, col=tok.column))
        return v

    def module(self, tree: Tree) -> Module:
        mod_tree = tree.children[0]
        kids = list(mod_tree.children)
        name = None
        if kids and isinstance(kids[0], Token):
            name = str(kids.pop(0))[1:]
        attrs: dict[str, Any] = {}
        if kids and kids[0].data == "module_attrs":
            attrs = self.attr_dict(kids.pop(0).children[0])
        decls = [k for k in kids if k.data == "state_decl"]
        module = Module(self.func(kids[-1]), name=name)
        module.attrs = attrs
        for d in decls:
            self.state_decl(module, d)
        blobs = {}
        if len(tree.children) > 1:
            for res in tree.children[1].children:
                rname, hexs = str(res.children[0]), str(res.children[1])[1:-1]
                if rname in blobs:
                    raise self.fail(f"resource '{rname}' is defined twice", res.meta)
                blobs[rname] = (hexs, res.meta)
        for rname, ttype, meta, holder in self.resource_uses:
            if rname not in blobs:
                raise self.fail(f"dense_resource<{rname}> has no blob in the resource section", meta)
            hexs, rmeta = blobs[rname]
            holder.append(self.blob(rname, hexs, ttype, rmeta))
        self._patch_resources(module)
        return module

    def blob(self, name: str, hexs: str, ttype: TensorType, meta) -> DenseElements:
        raw = bytes.fromhex(hexs[2:])
        if len(raw) < 4:
            raise self.fail(f"resource '{name}' is too short", meta)
        dt = ttype.element.numpy.newbyteorder("<")
        data = raw[4:]
        if len(data) != ttype.num_elements * dt.itemsize:
            raise self.fail(f"resource '{name}' holds {len(data)} bytes, {ttype} needs "
                            f"{ttype.num_elements * dt.itemsize}", meta)
        arr = np.frombuffer(data, dtype=dt).astype(ttype.element.numpy)
        return DenseElements(arr.reshape(ttype.shape), ttype, resource=name)

    def _patch_resources(self, module: Module) -> None:
        def fix(v):
            if isinstance(v, list):
                return v[0]
            if isinstance(v, tuple):
                return tuple(fix(x) for x in v)
            return v

        for op in module.ops:
            for k, v in op.attrs.items():
                op.attrs[k] = fix(v)
        for k, v in module.attrs.items():
            module.attrs[k] = fix(v)
        for d in module.states.values():
            d.init = fix(d.init)

    def state_decl(self, module: Module, t: Tree) -> None:
        sym, ty, init = t.children
        name = str(sym)[1:]
        if name in module.states:
            raise self.fail(f"state @{name} is declared twice", t.meta)
        ttype = self.type(ty)
        value = self.attribute(init)
        if not isinstance(value, (DenseElements, list)):
            raise self.fail(f"state @{name}: the initial value must be dense data", t.meta)
        module.add_state(name, ttype, value if isinstance(value, DenseElements) else
                         DenseElements(np.zeros(ttype.shape, ttype.element.numpy), ttype))
        if isinstance(value, list):  # a dense_resource placeholder, patched after the blobs are read
            module.states[name].init = value

    def func(self, t: Tree) -> Func:
        kids = list(t.children)
        f = Func(str(kids.pop(0))[1:])
        ops = []
        for k in kids:
            if k.data == "arg":
                tok, ty = k.children
                name = str(tok)[1:]
                a = f.add_argument(self.type(ty), name)
                self.define(name, a, k.meta)
            elif k.data == "operation":
                ops.append(k)
        declared_outputs = [self.type(k) for k in kids if k.data not in ("arg", "operation")]
        for o in ops:
            f.body.append(self.operation(o))
        if f.return_op is not None:
            got = [v.type for v in f.outputs]
            if got != declared_outputs:
                raise self.fail("function result types do not match func.return operands", t.meta)
        return f

    def operation(self, t: Tree):
        kids = list(t.children)
        results: list[Token] = []
        while isinstance(kids[0], Token) and kids[0].type == "VALUE_ID":
            results.append(kids.pop(0))
        name = str(kids.pop(0))
        operands: list[Token] = []
        while kids and isinstance(kids[0], Token) and kids[0].type == "VALUE_ID":
            operands.append(kids.pop(0))
        attrs = self.attr_dict(kids.pop(0)) if kids[0].data == "attr_dict" else {}
        sig = kids.pop(0)
        loc = self.location(kids.pop(0)) if kids else Location()
        in_types = [self.type(c) for c in sig.children[:-1]]
        rt = sig.children[-1]
        out_types = [self.type(c) for c in rt.children]
        values = [self.use(tok, t.meta) for tok in operands]
        if len(in_types) != len(values):
            raise self.fail(f"'{name}' has {len(values)} operands but its signature lists "
                            f"{len(in_types)} types", t.meta)
        for tok, v, ty in zip(operands, values, in_types):
            if v.type != ty:
                raise self.fail(f"'{name}': operand {tok} has type {v.type}, signature says {ty}",
                                t.meta)
        if len(results) != len(out_types):
            raise self.fail(f"'{name}' defines {len(results)} values but its signature has "
                            f"{len(out_types)} results", t.meta)
        if lookup_op(name) is None:
            raise self.fail(f"unknown op '{name}'", t.meta)
        names = [str(r)[1:] for r in results]
        op = create_op(name, values, out_types, {}, loc, result_names=names)
        op.attrs.update(attrs)  # resource placeholders are patched later
        op.text_loc = self.loc_at(t.meta)
        for n, r in zip(names, op.results):
            self.define(n, r, t.meta)
        return op


def parse_module(text: str, filename: str = "<string>") -> Module:
    """Parse one module; raise ``ParseError`` with a located, one-line message."""
    try:
        tree = _lark().parse(text)
    except UnexpectedInput as e:
        raise _parse_error(e, filename, text) from None
    try:
        return _Builder(filename).module(tree)
    except EdgeccError:
        raise
    except (ValueError, TypeError) as e:  # type constructors reject bad parameters
        raise ParseError(str(e), Location(file=filename)) from None
