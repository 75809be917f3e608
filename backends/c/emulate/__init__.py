"""Run the generated C on an emulated Cortex-M (QEMU) and count its instructions.

``emulate(module, target="cortex-m55")`` emits the C project for the core,
cross-compiles it with ``arm-none-eabi-gcc`` (CMSIS-NN from ``EDGECC_CMSIS_NN`` when
the model calls it), runs it under ``qemu-system-arm`` on the core's MPS2/MPS3
machine (``machine_for``) with semihosting, and returns the outputs (raw bytes, so
bit-exact) and, through a TCG plugin, the guest instructions of one model run and of
each layer (``EDGECC_PROFILE_BEGIN/END`` around every layer's code). Counts are
executed instructions, not cycles: QEMU models no pipeline, memory wait states or
MVE beats. They are deterministic, which makes them usable to compare kernels and
memory plans. Failures (a missing tool, a fault, a timeout) are one-line ``EdgeccError``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgecc.backends.c.emulate import counts as _counts
from edgecc.backends.c.emulate import program, toolchain
from edgecc.backends.c.emulate.machines import MACHINES, machine_for, qemu_command
from edgecc.ir.core import Module
from edgecc.ir.diagnostics import EdgeccError

FAULT_EXIT = 99  # startup.c's exit status after a CPU fault
MAIN_EXITS = {2: "cannot open input.bin/output.bin", 3: "truncated input sample",
              4: "the model's run function returned an error", 5: "writing output.bin failed"}


@dataclass
class EmulationResult:
    outputs: list[list[np.ndarray]]  # per sample, per output (output order)
    run_instructions: int  # one model run (the first sample), marks included
    layer_instructions: list[int]  # per layer of report["layers"] (first sample); [] without profile
    report: dict  # the C backend's report
    target: str
    machine: str
    total_instructions: int = 0  # the whole program: start-up, I/O, every sample
    sample_instructions: list[int] = field(default_factory=list)  # run_instructions of every sample
    workdir: Path | None = None  # kept only when the caller gave one


def _cmsis_root(report: dict, core) -> Path | None:
    if "cmsis-nn" not in report["libraries"]:
        return None
    from edgecc.backends.c.verify import cmsis_nn_path

    root = cmsis_nn_path()
    if root is None:
        raise EdgeccError(f"the {core.name} build calls CMSIS-NN: set EDGECC_CMSIS_NN to a CMSIS-NN "
                          "checkout (the folder with Include/ and Source/), or use the portable kernels "
                          "(--kernels portable, kernels='portable')")
    return root


def _run_qemu(cmd: list[str], workdir: Path, timeout: float, machine: str) -> None:
    try:
        proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise EdgeccError(f"the program did not finish on {machine} within {timeout:g} s "
                          "(timed out; pass a larger timeout=)") from None
    if proc.returncode == 0:
        return
    lines = [ln.strip() for ln in (proc.stderr + proc.stdout).splitlines() if ln.strip()]
    if proc.returncode == FAULT_EXIT:
        fault = next((ln for ln in lines if ln.startswith("edgecc-emu: fault")), "")
        raise EdgeccError(f"the program faulted on {machine}: {_describe_fault(fault)}")
    why = MAIN_EXITS.get(proc.returncode, lines[-1] if lines else "no message")
    raise EdgeccError(f"the program failed on {machine} (exit status {proc.returncode}): {why}")


EXCEPTIONS = {2: "NMI", 3: "HardFault", 4: "MemManage fault", 5: "BusFault", 6: "UsageFault",
              7: "SecureFault", 11: "SVCall", 12: "DebugMonitor", 14: "PendSV", 15: "SysTick"}


def _describe_fault(line: str) -> str:
    """startup.c's report ("... exception=N cfsr=X hfsr=X pc=X", hex) as a readable phrase."""
    fields = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
    if not {"exception", "cfsr", "hfsr", "pc"} <= fields.keys():
        return "no details"
    n = int(fields["exception"], 16)
    name = EXCEPTIONS.get(n, f"interrupt {n - 16}" if n >= 16 else f"exception {n}")
    return f"{name} at pc 0x{fields['pc']} (CFSR 0x{fields['cfsr']}, HFSR 0x{fields['hfsr']})"


def _read_outputs(path: Path, module: Module, n: int) -> list[list[np.ndarray]]:
    outs = [v.type for v in module.func.outputs]
    data = path.read_bytes() if path.is_file() else b""
    per = sum(t.nbytes for t in outs)
    if len(data) != per * n:
        raise EdgeccError(f"the emulated program wrote {len(data)} output bytes, expected {per * n}")
    result, pos = [], 0
    for _ in range(n):
        row = []
        for t in outs:
            row.append(np.frombuffer(data[pos:pos + t.nbytes], dtype=t.element.numpy).reshape(t.shape).copy())
            pos += t.nbytes
        result.append(row)
    return result


def emulate(module: Module, target="cortex-m55", *, memory: str = "auto", kernels: str | None = None,
            samples: list[list[np.ndarray]] | None = None, inputs: int = 1, seed: int = 0,
            profile: bool = True, workdir=None, opt: str = "-O2", prefix: str = "model",
            timeout: float = 300.0) -> EmulationResult:
    """Emit, cross-compile and run ``module`` on ``target``'s QEMU machine (see the module docstring).

    ``samples`` (one list of arrays per sample, in argument order) default to ``inputs``
    random samples from ``seed``; ``profile`` adds the per-layer marks; ``workdir`` keeps
    the project, program and plugin output there; ``timeout`` bounds the QEMU run.
    """
    from edgecc.backends.c.generate import emit
    from edgecc.backends.c.verify import random_samples
    from edgecc.targets import core as get_core

    core = get_core(target) if isinstance(target, str) else target
    machine = machine_for(core)
    qemu = toolchain.qemu()
    toolchain.check_newlib(toolchain.cross_tool("gcc"))
    samples = samples if samples is not None else random_samples(module, inputs, seed)
    if not samples:
        raise EdgeccError("emulate needs at least one input sample")
    tmp = None
    if workdir is None:
        tmp = tempfile.mkdtemp(prefix="edgecc-emulate-")
        wd = Path(tmp)
    else:
        wd = Path(workdir)
        wd.mkdir(parents=True, exist_ok=True)
    try:
        emit(module, wd, target=core, prefix=prefix, kernels=kernels, memory=memory, emit=("c", "report"))
        report = json.loads((wd / "report.json").read_text(encoding="utf-8"))
        elf = program.build(wd, core, machine, prefix, len(samples), cmsis_nn=_cmsis_root(report, core),
                            opt=opt, profile=profile)
        args = module.func.arguments
        (wd / "input.bin").write_bytes(b"".join(
            np.ascontiguousarray(a, dtype=arg.type.element.numpy).tobytes()
            for s in samples for a, arg in zip(s, args)))
        (wd / "output.bin").unlink(missing_ok=True)
        (wd / "counts.txt").unlink(missing_ok=True)
        cmd = qemu_command(qemu, machine, elf.name, toolchain.plugin(), program.mark_addresses(elf))
        _run_qemu(cmd, wd, timeout, machine)
        outputs = _read_outputs(wd / "output.bin", module, len(samples))
        if not (wd / "counts.txt").is_file():
            raise EdgeccError("the instruction-count plugin wrote no counts (QEMU without plugin support?)")
        c = _counts.parse((wd / "counts.txt").read_text(encoding="utf-8"))
        if len(c.runs) != len(samples):
            raise EdgeccError(f"counted {len(c.runs)} model runs for {len(samples)} samples")
        layers = c.layers[0] if profile else []
        if profile and len(layers) != len(report["layers"]):
            raise EdgeccError(f"counted {len(layers)} layers, the report has {len(report['layers'])}")
        return EmulationResult(outputs, c.runs[0], layers, report, core.name, machine, c.total, c.runs,
                               None if tmp else wd)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


__all__ = ["EmulationResult", "MACHINES", "emulate", "machine_for"]
