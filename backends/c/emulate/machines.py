"""Which QEMU machine runs which core, and how it is started.

Each supported core maps to an Arm MPS2/MPS3 FPGA image that Debian's
``qemu-system-arm`` 7.2 emulates with that core; ``data/machine-<name>.ld`` gives
its memory map (where the reset vector table is fetched, code, data). Other
cores (M0/M0+: QEMU's only M0 board has 16 KiB of RAM; M85: not emulated; the
portable targets) fail early with a one-line error instead of a confusing link
or boot failure.
"""

from __future__ import annotations

from pathlib import Path

from edgecc.backends.c.emulate.toolchain import data_file
from edgecc.ir.diagnostics import EdgeccError

#: core name -> QEMU machine (``qemu-system-arm -M``)
MACHINES = {
    "cortex-m3": "mps2-an385",
    "cortex-m4": "mps2-an386",
    "cortex-m7": "mps2-an500",
    "cortex-m33": "mps2-an505",
    "cortex-m55": "mps3-an547",
}


def machine_for(target) -> str:
    """The QEMU machine that emulates ``target`` (a core name or ``Core``)."""
    name = target if isinstance(target, str) else target.name
    machine = MACHINES.get(name)
    if machine is None:
        raise EdgeccError(f"no QEMU machine emulates {name}: emulation supports "
                          f"{', '.join(MACHINES)}")
    return machine


def write_linker_script(machine: str, dest: Path) -> Path:
    """The machine's memory map followed by the shared section layout, as one file."""
    text = (data_file(f"machine-{machine}.ld").read_text(encoding="utf-8") + "\n"
            + data_file("sections.ld").read_text(encoding="utf-8"))
    dest.write_text(text, encoding="utf-8")
    return dest


def qemu_command(qemu: str, machine: str, elf: str, plugin: Path | None = None,
                 marks: list[int] = (), counts: str = "counts.txt") -> list[str]:
    """The command line: no display, no monitor, semihosting to the host (stdio, files, exit)."""
    cmd = [qemu, "-M", machine, "-nographic", "-monitor", "none", "-serial", "null",
           "-semihosting-config", "enable=on,target=native", "-kernel", elf]
    if plugin is not None:
        args = [str(plugin).replace(",", ",,"), *(f"mark={m:#x}" for m in marks), f"out={counts}"]
        cmd += ["-plugin", ",".join(args)]
    return cmd


__all__ = ["MACHINES", "machine_for", "qemu_command", "write_linker_script"]
