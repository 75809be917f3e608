"""Cross-compile an emitted C project into an ELF for one QEMU machine.

The program is the emitted model (``P.c``, ``P_weights.c``), a generated main
(``data/main.c.in``: samples in from the host's ``input.bin``, outputs out to
``output.bin``, through semihosting), edgecc's start-up code and mark functions,
the cached portable runtime and, when the model calls it, the cached CMSIS-NN
library; newlib with semihosting (``--specs=rdimon.specs``) provides the C library.
Everything edgecc writes compiles with ``-std=c99 -Wall -Wextra -Werror``.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from edgecc.backends.c.emulate import toolchain as tc
from edgecc.backends.c.emulate.counts import MARKS
from edgecc.backends.c.emulate.machines import write_linker_script
from edgecc.ir.diagnostics import EdgeccError

ELF = "program.elf"


def write_main(workdir: Path, prefix: str, samples: int) -> Path:
    text = tc.data_file("main.c.in").read_text(encoding="utf-8")
    text = text.replace("@PU@", prefix.upper()).replace("@P@", prefix).replace("@SAMPLES@", str(samples))
    path = workdir / f"{prefix}_emulator.c"
    path.write_text(text, encoding="utf-8")
    return path


def build(workdir: Path, core, machine: str, prefix: str, samples: int, *, cmsis_nn: Path | None,
          opt: str = "-O2", profile: bool = True) -> Path:
    """Compile and link ``workdir``'s project; returns the ELF's path."""
    gcc = tc.cross_tool("gcc")
    tc.check_newlib(gcc)
    cflags = list(core.cflags)
    libs = [tc.runtime_library(cflags, opt)]
    incs = ["-I", str(workdir), "-I", str(workdir / "edgecc" / "include")]
    if cmsis_nn is not None:
        libs.append(tc.cmsis_nn_library(cmsis_nn, cflags, opt))
        incs += ["-I", str(cmsis_nn / "Include")]
    flags = [*cflags, *tc.WARNINGS, opt, *(["-DEDGECC_PROFILE"] if profile else [])]
    sources = [workdir / f"{prefix}.c", workdir / f"{prefix}_weights.c", write_main(workdir, prefix, samples),
               tc.data_file("startup.c"), tc.data_file("marks.c")]
    obj_dir = workdir / "obj"
    obj_dir.mkdir(exist_ok=True)
    objs = [obj_dir / f"{i}_{s.name.split('.')[0]}.o" for i, s in enumerate(sources)]
    tc.compile_all([[gcc, *flags, *incs, "-c", str(s), "-o", str(o)] for s, o in zip(sources, objs)],
                   f"cross-compiling the model for {core.name}")
    script = write_linker_script(machine, workdir / "link.ld")
    elf = workdir / ELF
    tc.run([gcc, *cflags, opt, "--specs=rdimon.specs", "-nostartfiles", "-T", str(script),
            *map(str, objs), *map(str, libs), "-lm", "-o", str(elf)],
           f"linking the {machine} program")
    return elf


def mark_addresses(elf: Path) -> list[int]:
    """Entry addresses of the mark functions (Thumb bit cleared), in ``MARKS`` order."""
    nm = tc.cross_tool("nm")
    out = subprocess.run([nm, str(elf)], capture_output=True, text=True, check=False).stdout
    found = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] in MARKS and parts[1] in "Tt":
            found[parts[2]] = int(parts[0], 16) & ~1
    missing = [m for m in MARKS if m not in found]
    if missing:
        raise EdgeccError(f"{elf.name} has no symbol {missing[0]} (the emulator's mark functions)")
    return [found[m] for m in MARKS]


__all__ = ["ELF", "build", "mark_addresses", "write_main"]
