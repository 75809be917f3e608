"""``HostModule``: a compiled schedule of Numba kernel calls over preallocated buffers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from edgecc.ir.diagnostics import EdgeccError, Location
from edgecc.ir.types import TensorType


@dataclass
class Step:
    """One kernel call: ``fn(*args)``; ``op`` names it in errors and profiles."""

    fn: Callable
    args: tuple
    op: str
    loc: Location | None = None
    kernel: str = ""


@dataclass
class IOSpec:
    """One graph input or output: name, IR type and numpy dtype."""

    name: str
    type: TensorType

    @property
    def shape(self) -> tuple[int, ...]:
        return self.type.shape

    @property
    def dtype(self) -> np.dtype:
        return self.type.element.numpy


@dataclass
class HostModule:
    """A model compiled for the host by ``edgecc.backends.numba.compile_module``.

    ``run(inputs)`` takes one array per input (exact dtype and shape, in
    order), copies them into the preallocated input buffers, calls every
    step's kernel and returns copies of the output buffers (the only
    per-call allocations). Not thread-safe: one ``HostModule`` owns one set
    of buffers.
    """

    inputs: list[IOSpec]
    outputs: list[IOSpec]
    steps: list[Step]
    input_buffers: list[np.ndarray]
    output_buffers: list[np.ndarray]
    #: ops executed by the numpy reference kernel (no Numba kernel for that case)
    fallbacks: list[str] = field(default_factory=list)
    #: bytes of the activation arena (0 when each value has its own buffer)
    arena_bytes: int = 0
    #: bytes of all buffers the module holds (arena, weights, scratch)
    buffer_bytes: int = 0
    module_name: str | None = None
    #: seconds spent compiling (lowering + Numba compile or cache load)
    compile_seconds: float = 0.0
    #: (steps run inside the compiled program, steps called from Python) once ``bind_program`` ran
    program_stats: tuple[int, int] | None = None
    #: value -> its buffer, read after ``run`` (``compile_module(keep=...)``; constants keep their shape)
    kept: dict = field(default_factory=dict)
    _calls: list = field(default_factory=list, repr=False)
    _call_steps: list = field(default_factory=list, repr=False)
    _program_fns: list = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self._calls = [(s.fn, s.args) for s in self.steps]
        self._call_steps = [[k] for k in range(len(self.steps))]

    def bind_program(self) -> None:
        """Run the schedule through one generated Numba function over one buffer blob (``program.py``).

        Moves every buffer into the blob (the steps' arguments and the I/O buffers become views of
        it), encodes the kernel steps as a table, compiles or loads the program and runs it once.
        Runs of kernel steps are one call each; other steps stay Python calls between them.
        """
        from edgecc.backends.numba import program

        kept = list(self.kept.items())
        blob, remap = program.pack([s.args for s in self.steps],
                                   self.input_buffers + self.output_buffers + [a for _, a in kept])
        self.kept = {v: remap(a) for v, a in kept}
        for s in self.steps:
            s.args = remap(s.args)
        self.input_buffers = remap(self.input_buffers)
        self.output_buffers = remap(self.output_buffers)
        source, code, floats, plan = program.generate(self.steps, blob)
        run = program.load(source).run
        calls, owners = [], []
        for kind, pc, n, ks in plan:
            if kind == "seg":
                calls.append((run, (blob, code, floats, np.int64(pc), np.int64(n))))
            else:
                calls.append((self.steps[pc].fn, self.steps[pc].args))
            owners.append(ks)
        fns = [run] if any(p[0] == "seg" for p in plan) else []
        self._calls, self._call_steps, self._program_fns = calls, owners, fns
        self.run([np.zeros(s.shape, s.dtype) for s in self.inputs])  # compile or load every segment
        self._calls = [(_entry_point(fn, args), args) for fn, args in calls]
        self.program_stats = (sum(p[2] for p in plan if p[0] == "seg"), sum(1 for p in plan if p[0] == "py"))

    def bind_fast(self) -> None:
        """Call each kernel's compiled entry point directly (skips Numba's type dispatch).

        Valid only after every step ran once (so each signature is compiled).
        """
        self._calls = [(_entry_point(s.fn, s.args), s.args) for s in self.steps]

    def check_inputs(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        if len(inputs) != len(self.inputs):
            names = ", ".join(i.name for i in self.inputs)
            raise EdgeccError(f"expected {len(self.inputs)} inputs ({names}), "
                              f"got {len(inputs)}")
        out = []
        for spec, x in zip(self.inputs, inputs):
            a = np.asarray(x)
            if a.dtype != spec.dtype:
                raise EdgeccError(f"input '{spec.name}' has dtype {a.dtype}, expected {spec.dtype} "
                                  f"({spec.type})")
            if a.shape != spec.shape:
                raise EdgeccError(f"input '{spec.name}' has shape {list(a.shape)}, "
                                  f"expected {list(spec.shape)}")
            out.append(a)
        return out

    def run(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        for buf, a in zip(self.input_buffers, self.check_inputs(inputs)):
            np.copyto(buf, a)
        self._execute()
        return [b.copy() for b in self.output_buffers]

    __call__ = run

    def _execute(self) -> None:
        k = 0
        try:
            for k, (fn, args) in enumerate(self._calls):
                fn(*args)
        except EdgeccError:
            raise
        except Exception as e:  # a kernel's runtime check (e.g. gather index out of range)
            step = self._failing_step(k)
            raise EdgeccError(f"'{step.op}' failed at run time: {type(e).__name__}: {e}", step.loc) from e

    def _failing_step(self, k: int) -> Step:
        """The step of call ``k`` (a compiled segment: re-run its steps one by one) that raises."""
        ks = self._call_steps[k]
        for j in ks:
            step = self.steps[j]
            try:
                step.fn(*step.args)
            except Exception:  # noqa: BLE001
                return step
        return self.steps[ks[0]]

    def cache_stats(self) -> tuple[int, int]:
        """(signatures loaded from Numba's disk cache, signatures compiled) over this module's kernels,
        counted per process (a kernel shared with an earlier module counts once, when first used)."""
        seen = {}
        for fn in [s.fn for s in self.steps] + self._program_fns:
            st = getattr(fn, "stats", None)
            if st is not None:
                seen[id(fn)] = st
        hits = sum(sum(st.cache_hits.values()) for st in seen.values())
        misses = sum(sum(st.cache_misses.values()) for st in seen.values())
        return hits, misses

    def profile(self, inputs: Sequence[np.ndarray], repeat: int = 10) -> list[tuple[str, str, float]]:
        """(op, kernel, median seconds) of every step, run ``repeat`` times."""
        import time

        for buf, a in zip(self.input_buffers, self.check_inputs(inputs)):
            np.copyto(buf, a)
        calls = [(s.fn, s.args) for s in self.steps]
        times = [[] for _ in calls]
        for _ in range(repeat):
            for k, (fn, args) in enumerate(calls):
                t = time.perf_counter()
                fn(*args)
                times[k].append(time.perf_counter() - t)
        return [(s.op, s.kernel, float(np.median(t))) for s, t in zip(self.steps, times)]


def _entry_point(fn, args):
    """The compiled overload of a Numba dispatcher for ``args``, else ``fn`` itself."""
    overloads = getattr(fn, "overloads", None)
    if overloads is None:
        return fn
    from numba import typeof

    try:
        sig = tuple(typeof(a) for a in args)
    except Exception:  # noqa: BLE001
        return fn
    cres = overloads.get(sig)
    return cres.entry_point if cres is not None else fn
