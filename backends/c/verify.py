"""Build the emitted C with a host compiler, run it, compare with the reference.

``verify(module, target=..., inputs=N)`` emits the C project into a work
folder, compiles model + testbench + runtime (``-std=c99 -Wall -Wextra
-Werror``; optionally with ``-fsanitize=address,undefined``; with CMSIS-NN
sources when the model calls CMSIS-NN and ``EDGECC_CMSIS_NN`` names a
checkout), feeds N random samples through the testbench in one process and
compares every output with ``edgecc.interp.reference.run`` (float: within
``rtol`` relative to the largest magnitude of each output; integer: exact).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgecc.ir.core import Module
from edgecc.ir.diagnostics import EdgeccError

WARNINGS = ("-std=c99", "-Wall", "-Wextra", "-Werror")
SANITIZE = ("-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer")
CMSIS_SANITIZE = ("-fsanitize=address", "-fno-omit-frame-pointer")


@dataclass
class OutputCheck:
    name: str
    dtype: str
    max_abs: float
    max_rel: float  # relative to the output's largest magnitude
    mismatches: int
    elements: int
    passed: bool


@dataclass
class VerifyResult:
    passed: bool
    samples: int
    target: str
    kernels: str
    arena_bytes: int
    outputs: list[OutputCheck] = field(default_factory=list)
    build_dir: Path | None = None
    command: list[str] = field(default_factory=list)


def find_compiler(cc: str | None = None) -> str:
    cc = cc or os.environ.get("CC") or "gcc"
    path = shutil.which(cc)
    if path is None:
        raise EdgeccError(f"no host C compiler '{cc}' on PATH (set CC)")
    return cc


def cmsis_nn_path() -> Path | None:
    p = os.environ.get("EDGECC_CMSIS_NN")
    if not p:
        return None
    path = Path(p)
    if not (path / "Include" / "arm_nnfunctions.h").is_file():
        raise EdgeccError(f"EDGECC_CMSIS_NN={p} is not a CMSIS-NN checkout (no Include/arm_nnfunctions.h)")
    return path


def cmsis_nn_sources(root: Path) -> list[Path]:
    """The integer sources of CMSIS-NN (its float16/float32 kernels need Arm float16 types)."""
    return sorted(p for p in (root / "Source").rglob("*.c")
                  if not p.stem.endswith(("_f16", "_f32", "_flt")))


def build_runtime_library(build_dir: Path, cc: str | None = None, flags: tuple[str, ...] = (),
                          runtime: Path | None = None) -> Path:
    """Compile the C runtime once into ``build_dir/libedgecc.a`` (tests reuse it across models)."""
    from edgecc.backends.c.generate import runtime_dir

    cc = find_compiler(cc)
    src = runtime or runtime_dir()
    build_dir.mkdir(parents=True, exist_ok=True)
    objs = []
    for f in sorted((src / "src").glob("*.c")):
        o = build_dir / (f.stem + ".o")
        cmd = [cc, *WARNINGS, "-O2", *flags, "-I", str(src / "include"), "-c", str(f), "-o", str(o)]
        _run(cmd, "compiling the runtime")
        objs.append(str(o))
    lib = build_dir / "libedgecc.a"
    _run(["ar", "rcs", str(lib), *objs], "archiving the runtime")
    return lib


def _run(cmd: list[str], what: str, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=kw.pop("text", True), **kw)
    if proc.returncode != 0:
        err = proc.stderr if isinstance(proc.stderr, str) else proc.stderr.decode(errors="replace")
        raise EdgeccError(f"{what} failed ({' '.join(cmd[:3])} ...):\n{err.strip()[:4000]}")
    return proc


def build_testbench(out_dir: Path, prefix: str = "model", *, cc: str | None = None, opt: str = "-O2",
                    sanitize: bool = False, runtime_lib: Path | None = None,
                    cmsis_nn: Path | None = None, extra_flags: tuple[str, ...] = ()) -> Path:
    """Compile ``out_dir``'s model and testbench into an executable; returns its path."""
    cc = find_compiler(cc)
    out_dir = Path(out_dir)
    exe = out_dir / f"{prefix}_testbench"
    flags = [*WARNINGS, opt, *extra_flags, *(SANITIZE if sanitize else ())]
    incs = ["-I", str(out_dir), "-I", str(out_dir / "edgecc" / "include")]
    srcs = [str(out_dir / f"{prefix}.c"), str(out_dir / f"{prefix}_weights.c"),
            str(out_dir / f"{prefix}_testbench.c")]
    libs = []
    if runtime_lib is not None and not sanitize:
        libs.append(str(runtime_lib))
    else:
        srcs += [str(p) for p in sorted((out_dir / "edgecc" / "src").glob("*.c"))]
    cmsis_objs: list[str] = []
    if cmsis_nn is not None:
        incs += ["-I", str(cmsis_nn / "Include")]
        cmsis_objs = _cmsis_objects(cmsis_nn, out_dir / "cmsis-nn-obj", cc, opt, sanitize)
    cmd = [cc, *flags, *incs, *srcs, *cmsis_objs, *libs, "-lm", "-o", str(exe)]
    _run(cmd, "compiling the generated C")
    return exe


def _cmsis_objects(root: Path, obj_dir: Path, cc: str, opt: str, sanitize: bool) -> list[str]:
    """CMSIS-NN compiled once per (root, options) in a cache next to the sources' build."""
    import hashlib

    flags = CMSIS_SANITIZE if sanitize else ()
    key = hashlib.sha256(f"{root.resolve()}|{cc}|{opt}|{' '.join(flags)}".encode()).hexdigest()[:12]
    cache = Path(tempfile.gettempdir()) / f"edgecc-cmsis-nn-{key}"
    lib = cache / "libcmsis-nn.a"
    if not lib.exists():
        cache.mkdir(parents=True, exist_ok=True)
        objs = []
        for i, f in enumerate(cmsis_nn_sources(root)):
            o = cache / f"{i:04d}_{f.stem}.o"
            # CMSIS-NN itself left-shifts negative values (undefined behaviour in C, fine on Arm):
            # it is built with AddressSanitizer only; edgecc's code gets both sanitizers
            _run([cc, "-std=c99", opt, *flags, "-I", str(root / "Include"), "-c",
                  str(f), "-o", str(o)], "compiling CMSIS-NN")
            objs.append(str(o))
        tmp = cache / f"lib.{os.getpid()}.a"
        _run(["ar", "rcs", str(tmp), *objs], "archiving CMSIS-NN")
        os.replace(tmp, lib)
    return [str(lib)]


def run_testbench(exe: Path, module: Module, samples: list[list[np.ndarray]],
                  env: dict | None = None, timeout: float = 300,
                  args: tuple[str, ...] = ()) -> list[list[np.ndarray]]:
    """Feed ``samples`` (one list of arrays per sample, in argument order) through the testbench.

    ``args`` go before the testbench's own (a program bundling several models takes the model's name).
    """
    func = module.func
    payload = b"".join(np.ascontiguousarray(a, dtype=arg.type.element.numpy).tobytes()
                       for s in samples for a, arg in zip(s, func.arguments))
    proc = subprocess.run([str(exe), *args], input=payload, capture_output=True, timeout=timeout,
                          env={**os.environ, **(env or {})})
    if proc.returncode != 0:
        raise EdgeccError(f"the testbench failed (exit code {proc.returncode}):\n"
                          f"{proc.stderr.decode(errors='replace')[-4000:]}")
    outs = [v.type for v in func.outputs]
    per = sum(t.nbytes for t in outs)
    data = proc.stdout
    if len(data) != per * len(samples):
        raise EdgeccError(f"the testbench wrote {len(data)} bytes, expected {per * len(samples)}")
    result, pos = [], 0
    for _ in samples:
        row = []
        for t in outs:
            row.append(np.frombuffer(data[pos:pos + t.nbytes], dtype=t.element.numpy).reshape(t.shape).copy())
            pos += t.nbytes
        result.append(row)
    if proc.stderr:
        err = proc.stderr.decode(errors="replace")
        if "runtime error" in err or "AddressSanitizer" in err:
            raise EdgeccError(f"the sanitizer reported a problem:\n{err[-4000:]}")
    return result


def random_samples(module: Module, n: int, seed: int = 0) -> list[list[np.ndarray]]:
    """Random inputs: floats ~ N(0, 1), integers over their range."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        row = []
        for a in module.func.arguments:
            t = a.type
            dt = np.dtype(t.element.numpy)
            if dt.kind == "f":
                row.append(rng.standard_normal(t.shape).astype(dt))
            elif dt == np.bool_:
                row.append(rng.random(t.shape) > 0.5)
            else:
                info = np.iinfo(dt)
                row.append(rng.integers(max(info.min, -128), min(info.max, 127) + 1, t.shape).astype(dt))
        out.append(row)
    return out


def reference_outputs(module: Module, samples: list[list[np.ndarray]]) -> list[list[np.ndarray]]:
    """The reference interpreter's outputs (integer semantics for quantized models when available).

    The samples run in order as one stream: a model's persistent state carries from sample to
    sample, as in the testbench (one process runs them all).
    """
    from edgecc.interp.reference import initial_state, run

    state = initial_state(module)
    return [[np.asarray(o) for o in run(module, s, state)] for s in samples]


def compare(got: list[list[np.ndarray]], want: list[list[np.ndarray]], names: list[str],
            rtol: float = 1e-5) -> list[OutputCheck]:
    checks = []
    for k, name in enumerate(names):
        g = np.stack([s[k] for s in got]) if got else np.zeros(0)
        w = np.stack([s[k] for s in want]) if want else np.zeros(0)
        if w.dtype.kind == "f":
            gd, wd = g.astype(np.float64), w.astype(np.float64)
            finite = np.isfinite(wd)
            same_special = (~finite) & ((gd == wd) | (np.isnan(gd) & np.isnan(wd)))
            scale = float(np.abs(wd[finite]).max(initial=0.0)) or 1.0
            diff = np.where(finite, np.abs(gd - wd), np.where(same_special, 0.0, np.inf))
            tol = rtol * np.maximum(np.abs(wd), scale)
            bad = int(np.count_nonzero(~(diff <= tol)))
            max_abs = float(diff.max(initial=0.0))
            checks.append(OutputCheck(name, str(w.dtype), max_abs, max_abs / scale, bad, w.size, bad == 0))
        else:
            diff = np.abs(g.astype(np.int64) - w.astype(np.int64))
            bad = int(np.count_nonzero(diff))
            checks.append(OutputCheck(name, str(w.dtype), float(diff.max(initial=0)), 0.0, bad, w.size, bad == 0))
    return checks


def verify(module: Module, *, target="generic", inputs: int = 5, seed: int = 0,
           samples: list[list[np.ndarray]] | None = None, rtol: float = 1e-5, sanitize: bool = False,
           cc: str | None = None, workdir: Path | None = None, prefix: str = "model",
           kernels: str | None = None, runtime_lib: Path | None = None, arena: str = "static",
           memory: str = "auto", weights: str = "auto") -> VerifyResult:
    """Emit, build on the host, run ``inputs`` random samples and compare (see the module docstring)."""
    from edgecc.backends.c.generate import emit
    from edgecc.targets import core as get_core

    core = get_core(target) if isinstance(target, str) else target
    tmp = None
    if workdir is None:
        tmp = tempfile.mkdtemp(prefix="edgecc-verify-")
        workdir = Path(tmp)
    try:
        emit(module, workdir, target=core, prefix=prefix, arena=arena, kernels=kernels, memory=memory,
             weights=weights)
        import json

        report = json.loads((Path(workdir) / "report.json").read_text())
        cmsis = None
        if "cmsis-nn" in report["libraries"]:
            cmsis = cmsis_nn_path()
            if cmsis is None:
                raise EdgeccError(f"the {core.name} build calls CMSIS-NN: set EDGECC_CMSIS_NN to a CMSIS-NN "
                                  "checkout, or verify the portable kernels with -t generic")
        exe = build_testbench(Path(workdir), prefix, cc=cc, sanitize=sanitize, runtime_lib=runtime_lib,
                              cmsis_nn=cmsis)
        samples = samples if samples is not None else random_samples(module, inputs, seed)
        env = {"ASAN_OPTIONS": "detect_leaks=0"} if sanitize else None
        got = run_testbench(exe, module, samples, env=env)
        want = reference_outputs(module, samples)
        names = [v.name_hint or f"output{i}" for i, v in enumerate(module.func.outputs)]
        checks = compare(got, want, names, rtol)
        return VerifyResult(all(c.passed for c in checks), len(samples), core.name,
                            ",".join(report["libraries"]), report["arena_bytes"], checks,
                            None if tmp else Path(workdir), [str(exe)])
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


__all__ = ["OutputCheck", "VerifyResult", "build_runtime_library", "build_testbench", "cmsis_nn_path",
           "compare", "random_samples", "reference_outputs", "run_testbench", "verify"]
