"""Passes and the pass manager.

A pass is a dataclass whose fields are its options::

    @dataclass
    class Fuse(Pass):
        \"\"\"Fuse activations into the producing op.\"\"\"

        name: ClassVar[str] = "fuse"
        activations: bool = field(default=True, metadata={"doc": "fold relu/relu6 into the producer"})

        def run(self, module, ctx) -> bool:
            ...
            return changed

Option types are ``bool``, ``int``, ``float``, ``str`` (or a ``Literal`` of
strings) and ``tuple[str, ...]``; the pipeline parser (``edgecc.passes.pipeline``)
types values from them. ``PassManager`` runs passes in order, verifies the
module after each one, and can print the IR before/after passes, dump it to a
directory and time every pass.
"""

from __future__ import annotations

import dataclasses
import sys
import time
import typing
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TextIO

from edgecc.ir.core import Module
from edgecc.ir.diagnostics import EdgeccError, PassError, VerifyError


@dataclass
class Pass:
    """Base class of passes: subclass it as a (non-frozen) ``@dataclass`` and set ``name``."""

    name: ClassVar[str] = ""

    def run(self, module: Module, ctx: PassContext) -> bool:
        """Transform ``module`` in place; return whether anything changed."""
        raise NotImplementedError(f"pass '{self.name}' does not implement run()")

    # -- options ----------------------------------------------------------
    @classmethod
    def options(cls) -> list[dataclasses.Field]:
        """The option fields, in declaration order."""
        return [f for f in dataclasses.fields(cls) if f.init]

    @classmethod
    def option_types(cls) -> dict[str, Any]:
        """Option name -> resolved annotation (``bool``, ``tuple[str, ...]`` ...)."""
        hints = typing.get_type_hints(cls)
        return {f.name: hints[f.name] for f in cls.options()}

    @classmethod
    def option_doc(cls, option: str) -> str:
        for f in cls.options():
            if f.name == option:
                return f.metadata.get("doc", "")
        raise KeyError(option)

    @classmethod
    def summary(cls) -> str:
        """First line of the pass docstring."""
        doc = (cls.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else ""

    def non_default_options(self) -> dict[str, Any]:
        out = {}
        for f in self.options():
            value = getattr(self, f.name)
            if f.default is not dataclasses.MISSING:
                default = f.default
            elif f.default_factory is not dataclasses.MISSING:
                default = f.default_factory()
            else:
                default = dataclasses.MISSING
            if default is dataclasses.MISSING or value != default:
                out[f.name] = value
        return out

    def pipeline_text(self) -> str:
        """This pass as a pipeline element: ``name`` or ``name{opt=value ...}``."""
        from edgecc.passes.pipeline import format_options

        opts = format_options(self.non_default_options())
        return f"{self.name}{{{opts}}}" if opts else self.name


def _discard(message: str) -> None:
    pass


@dataclass
class PassContext:
    """What a running pass may use besides the module.

    ``target`` is the target description (None until targets exist);
    ``options`` free-form settings from the driver; ``stats`` counters that
    passes bump with ``ctx.stat("ops-folded")`` (keys get the pass name as a
    prefix); ``log`` writes a diagnostic line (silent unless the manager is
    verbose).
    """

    target: Any = None
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    stats: Counter = dataclasses.field(default_factory=Counter)
    log: Callable[[str], None] = _discard
    #: name of the pass currently running
    pass_name: str = ""

    def stat(self, key: str, n: int = 1) -> None:
        """Add ``n`` to the counter ``<pass>.<key>``."""
        full = f"{self.pass_name}.{key}" if self.pass_name else key
        self.stats[full] += n


class PassManager:
    """Runs a pipeline of passes over a module.

    ``verify_each`` checks the module before the first pass and after every
    pass; a failure raises ``PassError`` naming the pass and its position and
    keeping the failing op's location. ``print_ir_after_all`` /
    ``print_ir_after`` / ``print_ir_before`` (pass names) print the module to
    ``out`` under a ``// -----// IR after <name> //----- //`` header;
    ``print_ir_after_change`` only when the pass reported a change (the name
    ``all`` selects every pass; items may be comma lists).
    ``ir_dump_dir`` writes ``00-input.mlir``, ``01-<pass>.mlir`` ... there.
    ``timing`` prints a wall-time table to ``out`` when the run ends;
    ``statistics`` prints the pass counters.
    """

    def __init__(
        self,
        passes: Iterable[Pass | str] = (),
        verify_each: bool = True,
        print_ir_after_all: bool = False,
        print_ir_after: Sequence[str] = (),
        print_ir_before: Sequence[str] = (),
        timing: bool = False,
        ir_dump_dir: str | Path | None = None,
        out: TextIO | None = None,
        *,
        print_ir_after_change: bool = False,
        elide_resources: bool = False,
        statistics: bool = False,
        verbose: bool = False,
        target: Any = None,
        options: dict[str, Any] | None = None,
    ) -> None:
        from edgecc.passes.registry import get_pass

        self.passes: list[Pass] = [get_pass(p)() if isinstance(p, str) else p for p in passes]
        self.verify_each = verify_each
        self.print_ir_after_all = print_ir_after_all
        self.print_ir_after = _names(print_ir_after)
        self.print_ir_before = _names(print_ir_before)
        self.print_ir_after_change = print_ir_after_change
        self.timing = timing
        self.ir_dump_dir = Path(ir_dump_dir) if ir_dump_dir is not None else None
        self._out = out
        self.elide_resources = elide_resources
        self.statistics = statistics
        self.verbose = verbose
        self.target = target
        self.options = dict(options or {})
        #: (label, seconds) per pass run and for the verifier, filled by ``run``
        self.timings: list[tuple[str, float]] = []
        self.ctx: PassContext | None = None

    @property
    def out(self) -> TextIO:
        return self._out if self._out is not None else sys.stderr

    @classmethod
    def parse(cls, pipeline: str, **kw: Any) -> PassManager:
        """Build a manager from ``"canonicalize,fuse{activations=true}"``."""
        from edgecc.passes.pipeline import parse_pipeline

        return cls(parse_pipeline(pipeline), **kw)

    def pipeline_text(self) -> str:
        """The canonical pipeline string (options at their defaults omitted)."""
        return ",".join(p.pipeline_text() for p in self.passes)

    def add(self, p: Pass) -> PassManager:
        self.passes.append(p)
        return self

    # -- running ----------------------------------------------------------
    def run(self, module: Module) -> bool:
        """Run every pass in order; return whether any pass changed the module."""
        ctx = PassContext(target=self.target, options=dict(self.options), log=self._log)
        self.ctx = ctx
        self.timings = []
        changed_any = False
        total = len(self.passes)
        try:
            if self.verify_each:
                self._verify(module, None, 0, total)
            self._dump(module, "00-input.mlir")
            for i, p in enumerate(self.passes):
                if self._wants(p.name, self.print_ir_before):
                    self._print(module, f"IR before {p.name}")
                ctx.pass_name = p.name
                start = time.perf_counter()
                try:
                    changed = bool(p.run(module, ctx))
                except PassError:
                    raise
                except EdgeccError as e:
                    raise PassError(f"pass '{p.name}' ({_position(i, total)}) failed: {e.message}",
                                    e.loc) from e
                except Exception as e:  # a bug in the pass: keep the traceback, say where
                    e.add_note(f"while running pass '{p.name}' ({_position(i, total)})")
                    raise
                finally:
                    self.timings.append((p.name, time.perf_counter() - start))
                    ctx.pass_name = ""
                changed_any |= changed
                if self.print_ir_after_all or self._wants(p.name, self.print_ir_after) or (
                        self.print_ir_after_change and changed):
                    self._print(module, f"IR after {p.name}")
                self._dump(module, f"{i + 1:02d}-{p.name}.mlir")
                if self.verify_each:
                    self._verify(module, p, i, total)
        finally:
            if self.timing:
                self.out.write(self.timing_report())
            if self.statistics:
                self.out.write(self.statistics_report())
        return changed_any

    def _verify(self, module: Module, p: Pass | None, index: int, total: int) -> None:
        start = time.perf_counter()
        try:
            module.verify()
        except VerifyError as e:
            if p is None:
                where = "the input to the pipeline does not verify"
            else:
                where = f"IR does not verify after pass '{p.name}' ({_position(index, total)})"
            raise PassError(f"{where}: {e.message}", e.loc) from e
        finally:
            self.timings.append(("(verify)", time.perf_counter() - start))

    @staticmethod
    def _wants(name: str, names: frozenset[str]) -> bool:
        return name in names or "all" in names

    def _print(self, module: Module, title: str) -> None:
        from edgecc.ir.text.printer import print_module

        self.out.write(f"// -----// {title} //----- //\n")
        self.out.write(print_module(module, elide_resources=self.elide_resources))
        self.out.flush()

    def _dump(self, module: Module, filename: str) -> None:
        if self.ir_dump_dir is None:
            return
        from edgecc.ir.text.printer import print_module

        self.ir_dump_dir.mkdir(parents=True, exist_ok=True)
        (self.ir_dump_dir / filename).write_text(print_module(module))

    def _log(self, message: str) -> None:
        if self.verbose:
            prefix = f"[{self.ctx.pass_name}] " if self.ctx is not None and self.ctx.pass_name else ""
            self.out.write(f"{prefix}{message}\n")

    # -- reports ----------------------------------------------------------
    def timing_report(self) -> str:
        """The per-pass wall-time table (verifier time summed in one row)."""
        rows: list[tuple[str, float]] = []
        verify = 0.0
        for label, seconds in self.timings:
            if label == "(verify)":
                verify += seconds
            else:
                rows.append((label, seconds))
        if self.verify_each:
            rows.append(("(verify)", verify))
        total = sum(s for _, s in rows)
        lines = ["// ----- Pass execution timing report ----- //",
                 f"//   total wall time: {total:.4f} s",
                 f"//   {'wall (s)':>10}  {'share':>6}  pass"]
        for label, seconds in rows:
            share = 100.0 * seconds / total if total > 0 else 0.0
            lines.append(f"//   {seconds:10.4f}  {share:5.1f}%  {label}")
        lines.append(f"//   {total:10.4f}  {100.0 if total > 0 else 0.0:5.1f}%  total")
        return "\n".join(lines) + "\n"

    def statistics_report(self) -> str:
        stats = self.ctx.stats if self.ctx is not None else Counter()
        lines = ["// ----- Pass statistics ----- //"]
        for key in sorted(stats):
            lines.append(f"//   {stats[key]:8d}  {key}")
        return "\n".join(lines) + "\n"


def _names(names: Sequence[str] | str) -> frozenset[str]:
    """Pass names from a sequence whose items may themselves be comma lists."""
    if isinstance(names, str):
        names = [names]
    return frozenset(n.strip() for item in names for n in item.split(",") if n.strip())


def _position(index: int, total: int) -> str:
    return f"pass {index + 1} of {total} in the pipeline"


__all__ = ["Pass", "PassContext", "PassError", "PassManager"]
