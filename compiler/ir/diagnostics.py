"""Errors and source locations.

Every user-facing failure is an ``EdgeccError``: the CLI prints its one-line
``format()`` and exits with code 1, never a traceback. Locations name where a
problem comes from: an ONNX node (``name`` + model ``file``), a position in
an IR text file (``file:line:col``), or several fused ops.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    """Where an op came from.

    ``name`` is an ONNX node name (or any label); ``file``/``line``/``col`` a
    position in a source file; ``fused`` the locations of ops merged into one.
    """

    name: str | None = None
    file: str | None = None
    line: int | None = None
    col: int | None = None
    fused: tuple[Location, ...] = ()

    @classmethod
    def fuse(cls, locs) -> Location:
        flat: list[Location] = []
        for loc in locs:
            if loc is None or loc == Location():
                continue
            for part in loc.fused or (loc,):
                if part not in flat:
                    flat.append(part)
        if not flat:
            return cls()
        if len(flat) == 1:
            return flat[0]
        return cls(fused=tuple(flat))

    @property
    def label(self) -> str | None:
        """A short name for tables: the node name, or fused node names joined by '+'."""
        if self.fused:
            names = [p.name for p in self.fused if p.name]
            return "+".join(names) or None
        return self.name

    def describe(self) -> str:
        """Human text: ``model.onnx:12:0 (node 'conv_1')`` or ``file.mlir:3:5``."""
        if self.fused:
            return self.fused[0].describe() + (f" (+{len(self.fused) - 1} fused)")
        parts = []
        if self.file is not None:
            pos = self.file
            if self.line is not None:
                pos += f":{self.line}:{self.col or 0}"
            parts.append(pos)
        if self.name is not None:
            parts.append(f"node '{self.name}'" if parts else f"'{self.name}'")
        return " ".join(parts) if parts else "<unknown>"


UNKNOWN = Location()


class EdgeccError(Exception):
    """A user-facing error: one line, located when possible."""

    def __init__(self, message: str, loc: Location | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.loc = loc

    def format(self) -> str:
        if self.loc is not None and self.loc != UNKNOWN:
            return one_line(f"{self.loc.describe()}: error: {self.message}")
        return one_line(f"error: {self.message}")

    def __str__(self) -> str:
        return self.format()


def one_line(text: str) -> str:
    """TEXT with control characters escaped: a hostile name (a newline in a file or node name)
    must not forge further diagnostic lines."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class VerifyError(EdgeccError):
    """The IR breaks an op's or the module's invariants."""


class ParseError(EdgeccError):
    """Textual IR (or a pipeline string) could not be parsed."""


class PassError(EdgeccError):
    """A pass failed or was misconfigured."""
