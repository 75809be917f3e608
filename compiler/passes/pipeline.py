"""Pipeline strings: ``"canonicalize,fuse{activations=true},quantize{scheme=int8 calibration=minmax}"``.

Grammar (whitespace allowed between tokens)::

    pipeline := [element ("," element)*]
    element  := NAME ["{" [option (("," | " ") option)*] "}"]
    option   := KEY ["=" value]          # a bare KEY sets a bool option to true
    value    := BARE | "quoted" | 'quoted' | "[" [item ("," item)*] "]"

Option keys match the pass's dataclass fields (``per-channel`` and
``per_channel`` are the same key). Values are typed from the field
annotations: ``bool`` (true/false), ``int``, ``float``, ``str`` (or a
``Literal`` of strings), ``tuple[T, ...]`` written ``[a,b]`` or ``"a,b"``.
``format_options`` is the inverse, used by ``Pass.pipeline_text``. Every
error is a one-line ``PassError``.
"""

from __future__ import annotations

import re
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal

from edgecc.ir.diagnostics import PassError
from edgecc.passes.manager import Pass

_NAME = re.compile(r"[A-Za-z0-9_.\-]+")
_BARE_VALUE = re.compile(r"[^\s,{}\[\]\"']+")
_PLAIN_TEXT = re.compile(r"[A-Za-z0-9_.+\-/:@%]+")


@dataclass
class RawValue:
    """An option value as written: ``text`` (bare or quoted) or ``items`` (bracketed list)."""

    text: str | None = None
    items: list[str] | None = None
    quoted: bool = False
    col: int = 0


@dataclass
class PipelineElement:
    """One pass of a parsed pipeline, before its options are typed."""

    name: str
    options: list[tuple[str, RawValue | None]] = field(default_factory=list)
    col: int = 0


# ---------------------------------------------------------------- syntax
class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def error(self, message: str, pos: int | None = None) -> PassError:
        col = (self.pos if pos is None else pos) + 1
        return PassError(f"invalid pass pipeline '{self.text}': {message} at column {col}")

    def skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def match(self, pattern: re.Pattern) -> str:
        m = pattern.match(self.text, self.pos)
        if m is None:
            return ""
        self.pos = m.end()
        return m.group()

    def unexpected(self, what: str) -> PassError:
        ch = self.peek()
        if ch == "}":
            return self.error("unbalanced braces: unexpected '}'")
        if ch == "{":
            return self.error("unbalanced braces: unexpected '{'")
        if not ch:
            return self.error(f"expected {what}, found the end")
        return self.error(f"expected {what}, found '{ch}'")

    def quoted(self) -> str:
        quote, start = self.peek(), self.pos
        self.pos += 1
        out = []
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if ch == "\\" and self.pos + 1 < len(self.text):
                out.append(self.text[self.pos + 1])
                self.pos += 2
                continue
            self.pos += 1
            if ch == quote:
                return "".join(out)
            out.append(ch)
        raise self.error(f"unterminated string opened with {quote}", start)


def split_pipeline(text: str) -> list[PipelineElement]:
    """Parse the syntax of a pipeline string (no registry lookups)."""
    s = _Scanner(text)
    elements: list[PipelineElement] = []
    s.skip_ws()
    if not s.peek():
        return elements
    while True:
        s.skip_ws()
        col = s.pos
        name = s.match(_NAME)
        if not name:
            raise s.unexpected("a pass name")
        element = PipelineElement(name, col=col)
        s.skip_ws()
        if s.peek() == "{":
            _options(s, element)
            s.skip_ws()
        elements.append(element)
        if not s.peek():
            return elements
        if s.peek() != ",":
            raise s.unexpected("',' between passes")
        s.pos += 1


def _options(s: _Scanner, element: PipelineElement) -> None:
    opened = s.pos
    s.pos += 1
    while True:
        while s.peek() and (s.peek().isspace() or s.peek() == ","):
            s.pos += 1
        ch = s.peek()
        if not ch:
            raise s.error(f"unbalanced braces: '{{' of pass '{element.name}' is never closed", opened)
        if ch == "}":
            s.pos += 1
            return
        key = s.match(_NAME)
        if not key:
            raise s.unexpected(f"an option name for pass '{element.name}'")
        s.skip_ws()
        if s.peek() != "=":
            element.options.append((key, None))
            continue
        s.pos += 1
        s.skip_ws()
        element.options.append((key, _value(s, element)))


def _value(s: _Scanner, element: PipelineElement) -> RawValue:
    col = s.pos
    ch = s.peek()
    if ch in ("'", '"'):
        return RawValue(text=s.quoted(), quoted=True, col=col)
    if ch == "[":
        s.pos += 1
        items: list[str] = []
        while True:
            s.skip_ws()
            ch = s.peek()
            if ch == "]":
                s.pos += 1
                return RawValue(items=items, col=col)
            if items:
                if ch != ",":
                    if not ch or ch == "}":
                        raise s.error("unbalanced brackets: '[' is never closed", col)
                    raise s.unexpected("',' or ']' in a list")
                s.pos += 1
                s.skip_ws()
                ch = s.peek()
            if ch in ("'", '"'):
                items.append(s.quoted())
                continue
            item = s.match(_BARE_VALUE)
            if not item:
                if not ch or ch == "}":
                    raise s.error("unbalanced brackets: '[' is never closed", col)
                raise s.unexpected("a list item")
            items.append(item)
    text = s.match(_BARE_VALUE)
    if not text:
        raise s.unexpected(f"a value for option of pass '{element.name}'")
    return RawValue(text=text, col=col)


# ------------------------------------------------------------ typed options
def parse_pipeline(text: str) -> list[Pass]:
    """Parse a pipeline string into configured pass instances."""
    from edgecc.passes.registry import get_pass

    passes = []
    for element in split_pipeline(text):
        cls = get_pass(element.name)
        passes.append(instantiate(cls, element))
    return passes


def instantiate(cls: type[Pass], element: PipelineElement) -> Pass:
    types_ = cls.option_types()
    by_key = {k.replace("-", "_"): k for k in types_}
    kwargs: dict[str, Any] = {}
    for key, raw in element.options:
        field_name = by_key.get(key.replace("-", "_"))
        if field_name is None:
            known = ", ".join(_kebab(k) for k in types_)
            listing = f"its options are: {known}" if known else "it takes no options"
            raise PassError(f"pass '{cls.name}' has no option '{key}'; {listing}")
        if field_name in kwargs:
            raise PassError(f"option '{key}' of pass '{cls.name}' is given twice")
        kwargs[field_name] = convert(raw, types_[field_name], cls.name, key)
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as e:
        raise PassError(f"invalid options for pass '{cls.name}': {e}") from e


def convert(raw: RawValue | None, annotation: Any, pass_name: str, key: str) -> Any:
    """Type one option value from its field annotation."""
    annotation = _strip_optional(annotation)
    origin = typing.get_origin(annotation)
    if raw is None:
        if annotation is bool:
            return True
        raise PassError(f"option '{key}' of pass '{pass_name}' needs a value ({key}=...)")
    if origin is tuple:
        args = typing.get_args(annotation)
        item_type = args[0] if args else str
        if raw.items is not None:
            items = raw.items
        elif raw.quoted:
            items = [x.strip() for x in raw.text.split(",")] if raw.text.strip() else []
        else:
            items = [raw.text]
        return tuple(_scalar(x, item_type, pass_name, key) for x in items)
    if raw.items is not None:
        raise PassError(f"option '{key}' of pass '{pass_name}' expects {_describe(annotation)}, "
                        f"got a list")
    return _scalar(raw.text, annotation, pass_name, key)


def _scalar(text: str, annotation: Any, pass_name: str, key: str) -> Any:
    def bad() -> PassError:
        return PassError(f"option '{key}' of pass '{pass_name}' expects {_describe(annotation)}, "
                         f"got '{text}'")

    if annotation is bool:
        if text == "true":
            return True
        if text == "false":
            return False
        raise bad()
    if annotation is int:
        try:
            return int(text, 10)
        except ValueError:
            raise bad() from None
    if annotation is float:
        try:
            return float(text)
        except ValueError:
            raise bad() from None
    if typing.get_origin(annotation) is Literal:
        if text not in typing.get_args(annotation):
            raise bad()
        return text
    if annotation is str:
        return text
    raise PassError(f"option '{key}' of pass '{pass_name}' has an unsupported type {annotation!r}")


def _strip_optional(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _describe(annotation: Any) -> str:
    annotation = _strip_optional(annotation)
    if annotation is bool:
        return "true or false"
    if annotation is int:
        return "an integer"
    if annotation is float:
        return "a number"
    if annotation is str:
        return "a string"
    if typing.get_origin(annotation) is Literal:
        return "one of " + ", ".join(typing.get_args(annotation))
    if typing.get_origin(annotation) is tuple:
        args = typing.get_args(annotation)
        return f"a list of {_describe(args[0]) if args else 'strings'}"
    return str(annotation)


# ------------------------------------------------------------------ printing
def _kebab(name: str) -> str:
    return name.replace("_", "-")


def format_value(value: Any) -> str:
    """An option value as pipeline text (parses back to the same value)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, tuple):
        return "[" + ",".join(format_value(v) for v in value) + "]"
    text = str(value)
    if _PLAIN_TEXT.fullmatch(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_options(options: dict[str, Any]) -> str:
    """``{"scheme": "int8", "per_channel": True}`` -> ``scheme=int8 per-channel=true``."""
    return " ".join(f"{_kebab(k)}={format_value(v)}" for k, v in options.items())


__all__ = ["PipelineElement", "RawValue", "convert", "format_options", "format_value",
           "parse_pipeline", "split_pipeline"]
