"""Code size of an emitted model for a core, measured with the Arm GNU toolchain.

``measure(out_dir, core)`` compiles the model, its weights and the runtime
(``-Os -ffunction-sections -fdata-sections`` plus the core's flags,
``-std=c99 -Wall -Wextra -Werror``) to objects, links them with
``--gc-sections`` into a relocatable image rooted at the model's entry
points (so only the kernels the model calls count) and sums sections with
``arm-none-eabi-size -A``: ``.text*``, ``.rodata*``, ``.data*``, ``.bss*``. With a
CMSIS-NN checkout, its integer sources are compiled too and the CMSIS-NN
functions the model calls count in ``.text``; libm and libc are not counted.
``add_to_report`` writes the figures into ``report.json``/``report.md``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

from edgecc.ir.diagnostics import EdgeccError

TOOLCHAIN = "arm-none-eabi-"
FLAGS = ("-std=c99", "-Wall", "-Wextra", "-Werror", "-Os", "-ffunction-sections", "-fdata-sections")


def toolchain_available(prefix: str = TOOLCHAIN) -> bool:
    return shutil.which(prefix + "gcc") is not None and shutil.which(prefix + "size") is not None


def _run(cmd: list[str]) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise EdgeccError(f"{' '.join(cmd[:2])} ... failed:\n{(proc.stderr or proc.stdout).strip()[:4000]}")
    return proc.stdout + proc.stderr


def compile_objects(out_dir: Path, core, prefix: str = "model", obj_dir: Path | None = None,
                    extra: tuple[str, ...] = (), cmsis_nn: Path | None = None) -> tuple[list[Path], str]:
    """Cross-compile model + runtime to objects; returns (objects, compiler warnings text)."""
    out_dir = Path(out_dir)
    obj_dir = obj_dir or out_dir / "obj" / core.name
    obj_dir.mkdir(parents=True, exist_ok=True)
    srcs = [out_dir / f"{prefix}.c", out_dir / f"{prefix}_weights.c", *sorted((out_dir / "edgecc" / "src").glob("*.c"))]
    incs = ["-I", str(out_dir), "-I", str(out_dir / "edgecc" / "include")]
    if cmsis_nn is not None:
        incs += ["-I", str(Path(cmsis_nn) / "Include")]
    objs, log = [], ""
    for i, s in enumerate(srcs):
        o = obj_dir / f"{i:02d}_{s.stem}.o"
        log += _run([TOOLCHAIN + "gcc", *core.cflags, *FLAGS, *extra, *incs, "-c", str(s), "-o", str(o)])
        objs.append(o)
    return objs, log


def _calls_cmsis(out_dir: Path, prefix: str) -> bool:
    return "arm_nnfunctions.h" in (out_dir / f"{prefix}.c").read_text(encoding="utf-8")


def cmsis_objects(root: Path, core) -> list[Path]:
    """CMSIS-NN's integer sources cross-compiled for ``core`` (cached per checkout and core)."""
    import hashlib
    import os

    from edgecc.backends.c.verify import cmsis_nn_sources

    key = hashlib.sha256(f"{root.resolve()}|{' '.join(core.cflags)}".encode()).hexdigest()[:12]
    cache = Path(tempfile.gettempdir()) / f"edgecc-cmsis-nn-{core.name}-{key}"
    done = cache / "done"
    srcs = cmsis_nn_sources(root)
    objs = [cache / f"{i:04d}_{f.stem}.o" for i, f in enumerate(srcs)]
    if not done.exists():
        cache.mkdir(parents=True, exist_ok=True)
        for f, o in zip(srcs, objs):
            _run([TOOLCHAIN + "gcc", *core.cflags, "-std=c99", "-Os", "-ffunction-sections", "-fdata-sections",
                  "-I", str(root / "Include"), "-c", str(f), "-o", str(o)])
        tmp = cache / f"done.{os.getpid()}"
        tmp.write_text("ok")
        os.replace(tmp, done)
    return objs


def section_sizes(path: Path) -> dict[str, int]:
    out = _run([TOOLCHAIN + "size", "-A", str(path)])
    sums = {"text": 0, "rodata": 0, "data": 0, "bss": 0}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 2 or not parts[1].isdigit():
            continue
        name, size = parts[0], int(parts[1])
        for key in sums:
            if name == f".{key}" or name.startswith(f".{key}."):
                sums[key] += size
    return sums


def measure(out_dir, core, prefix: str = "model", cmsis_nn: Path | None = None) -> dict:
    """Sizes of the model for ``core`` (see the module docstring)."""
    from edgecc.targets import core as get_core

    core = get_core(core) if isinstance(core, str) else core
    if not core.cflags:
        raise EdgeccError(f"{core.name} is not a Cortex-M core: no cross-compilation flags")
    if not toolchain_available():
        raise EdgeccError("arm-none-eabi-gcc / arm-none-eabi-size not found on PATH")
    if cmsis_nn is None and _calls_cmsis(Path(out_dir), prefix):
        raise EdgeccError(f"--code-size: {prefix}.c calls CMSIS-NN ({core.name}): set the environment "
                          "variable EDGECC_CMSIS_NN to a CMSIS-NN checkout (the generated CMake/Make "
                          "builds call it CMSIS_NN_PATH), or pass --kernels portable")
    if cmsis_nn is not None and not (Path(cmsis_nn) / "Include" / "arm_nnfunctions.h").is_file():
        raise EdgeccError(f"EDGECC_CMSIS_NN={cmsis_nn} is not a CMSIS-NN checkout (no "
                          "Include/arm_nnfunctions.h)")
    with tempfile.TemporaryDirectory(prefix="edgecc-size-") as tmp:
        objs, log = compile_objects(Path(out_dir), core, prefix, Path(tmp), cmsis_nn=cmsis_nn)
        if cmsis_nn is not None and _calls_cmsis(Path(out_dir), prefix):
            objs += cmsis_objects(Path(cmsis_nn), core)
        image = Path(tmp) / "image.o"
        roots = [f"-Wl,--undefined={prefix}_{s}" for s in ("run", "invoke", "input", "output", "set_arena")]
        _run([TOOLCHAIN + "gcc", *core.cflags, "-nostdlib", "-r", "-Wl,--gc-sections", *roots,
              "-Wl,-e," + f"{prefix}_run", *map(str, objs), "-o", str(image)])
        sizes = section_sizes(image)
    return {"compiler": TOOLCHAIN + "gcc", "core": core.name, "flags": [*core.cflags, "-Os"], **sizes,
            "includes_cmsis_nn": cmsis_nn is not None, "warnings": log.strip()}


def add_to_report(out_dir, sizes: dict) -> None:
    """Record ``sizes`` in ``report.json`` and rewrite ``report.md``."""
    from edgecc.backends.c.generate import report_markdown

    path = Path(out_dir) / "report.json"
    report = json.loads(path.read_text(encoding="utf-8"))
    report["code_size"] = {k: v for k, v in sizes.items() if k != "warnings"}
    path.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    (Path(out_dir) / "report.md").write_text(report_markdown(report), encoding="utf-8")


__all__ = ["add_to_report", "compile_objects", "measure", "section_sizes", "toolchain_available"]
