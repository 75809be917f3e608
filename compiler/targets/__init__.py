"""The targets database: cores and boards, kept as data in ``targets.toml``.

``core(name)`` returns a ``Core`` (features that decide kernels, scratch sizes
and alignment: DSP, MVE, FPU; GCC flags); ``board(name)`` a ``Board`` (its
core plus flash and RAM budgets). ``check_fit(board, flash_bytes, ram_bytes)``
raises an ``EdgeccError`` giving the numbers and the options that would help
when a model does not fit. Unknown names raise an ``EdgeccError`` listing the
choices.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from importlib.resources import files

from edgecc.ir.diagnostics import EdgeccError


@dataclass(frozen=True)
class Core:
    name: str
    description: str
    arch: str
    dsp: bool
    mve: str  # "none" | "int" | "float"
    fpu: str  # "none" | "sp" | "dp"
    alignment: int
    kernels: str  # "cmsis-nn" | "portable"
    cflags: tuple[str, ...]
    cmsis_nn_defines: tuple[str, ...]

    @property
    def isa(self) -> str:
        """The CMSIS-NN code path: "mve", "dsp" or "none"."""
        if self.mve != "none":
            return "mve"
        return "dsp" if self.dsp else "none"

    @property
    def has_fpu(self) -> bool:
        return self.fpu != "none"

    @property
    def is_cortex_m(self) -> bool:
        return self.name.startswith("cortex-m")


@dataclass(frozen=True)
class Board:
    name: str
    description: str
    core: Core
    flash: int
    ram: int
    flash_external: bool = False


@functools.cache
def _data() -> dict:
    text = files("edgecc.targets").joinpath("targets.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def core_names() -> list[str]:
    return list(_data()["cores"])


def board_names() -> list[str]:
    return list(_data()["boards"])


def _unknown(kind: str, name: str, choices: list[str]) -> EdgeccError:
    import difflib

    close = difflib.get_close_matches(name, choices, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return EdgeccError(f"unknown {kind} '{name}'{hint}; choose from {', '.join(choices)}")


@functools.cache
def core(name: str) -> Core:
    """The core called ``name`` (``cortex-m55``, ``generic`` ...)."""
    cores = _data()["cores"]
    d = cores.get(name)
    if d is None:
        raise _unknown("core", name, list(cores))
    return Core(name, d["description"], d["arch"], bool(d["dsp"]), d["mve"], d["fpu"], int(d["alignment"]),
                d["kernels"], tuple(d["cflags"]), tuple(d["cmsis_nn_defines"]))


@functools.cache
def board(name: str) -> Board:
    boards = _data()["boards"]
    d = boards.get(name)
    if d is None:
        raise _unknown("board", name, list(boards))
    return Board(name, d["description"], core(d["core"]), int(d["flash"]), int(d["ram"]),
                 bool(d.get("flash_external", False)))


def resolve(target: str | None = None, board_name: str | None = None) -> tuple[Core, Board | None]:
    """The core to compile for from ``-t`` and ``--board`` (the board's core when no ``-t``).

    A ``-t`` that differs from the board's core is an error.
    """
    b = board(board_name) if board_name else None
    if target is None:
        return (b.core if b else core("generic")), b
    c = core(target)
    if b is not None and c.name != b.core.name and c.name not in ("generic",):
        raise EdgeccError(f"--board {b.name} has a {b.core.name}, but -t asks for {c.name}")
    return c, b


def _kib(n: int) -> str:
    return f"{n:,} B ({n / 1024:.1f} KiB)"


def check_fit(b: Board, flash_bytes: int, ram_bytes: int, *, quantized: bool = False,
              weights_bytes: int | None = None, resizable: bool = False) -> str:
    """The margin left when the model fits; else an ``EdgeccError`` with the numbers and what could help.

    ``resizable``: the input resolution is the user's choice (set with --input-shape), so a
    smaller one is worth suggesting; a model with a fixed resolution gets no such hint.
    """
    problems = []
    if flash_bytes > b.flash:
        problems.append(f"flash needs {_kib(flash_bytes)} of {_kib(b.flash)}")
    if ram_bytes > b.ram:
        problems.append(f"RAM needs {_kib(ram_bytes)} of {_kib(b.ram)}")
    if not problems:
        return (f"fits {b.name}: flash {flash_bytes:,} of {b.flash:,} B ({100 * flash_bytes / b.flash:.0f}%, "
                f"{b.flash - flash_bytes:,} B free), RAM {ram_bytes:,} of {b.ram:,} B "
                f"({100 * ram_bytes / b.ram:.0f}%, {b.ram - ram_bytes:,} B free)")
    helps = []
    if not quantized:
        helps.append("--quantize int8 (weights and activations 4x smaller)")
    if flash_bytes > b.flash:
        helps.append("--quantize int8-w4 (4-bit weights)")
    if ram_bytes > b.ram:
        helps.append("--memory ram (in-place kernels at the peak)")
        if resizable:
            helps.append("a smaller input resolution (--input-shape)")
    raise EdgeccError(f"model does not fit {b.name}: {'; '.join(problems)}; options that would help: "
                      f"{', '.join(helps)}")


def board_table() -> str:
    """Every board with its core, flash and RAM (``--board list``)."""
    rows = [(n, board(n)) for n in board_names()]
    width = max(len(n) for n, _ in rows)
    lines = [f"{'board':<{width}}  {'core':<14} {'flash':>12} {'RAM':>11}  description"]
    for n, b in rows:
        lines.append(f"{n:<{width}}  {b.core.name:<14} {b.flash // 1024:>8,} KiB {b.ram // 1024:>7,} KiB  "
                     f"{b.description}")
    return "\n".join(lines)


__all__ = ["Board", "board_table", "Core", "board", "board_names", "check_fit", "core", "core_names", "resolve"]
