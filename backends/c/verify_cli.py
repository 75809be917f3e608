"""``edgecc verify MODEL -t TARGET [--inputs N]``: build the generated C on the host and check it.

The model goes through the same import, optimisation and quantization as
``edgecc MODEL -t TARGET``; the C is emitted for TARGET and compiled with the
host compiler (``CC``, default gcc) with ``-std=c99 -Wall -Wextra -Werror``:
CMSIS-NN kernels are built from the checkout named by ``EDGECC_CMSIS_NN``,
otherwise Cortex-M targets are checked with edgecc's portable kernels (the
same integer semantics). N random inputs (or ``--inputs-file`` samples) run
through the testbench and every output is compared with the reference
interpreter (float: within ``--rtol`` of each output's largest magnitude;
integer: exactly) and, for quantized models, with TFLite Micro running the
.tflite edgecc emits for the same module. Prints a pass/fail table; exits 1
when anything differs.

With ``--emulate`` the C is cross-compiled for the Cortex-M core instead and runs on
its QEMU machine (``edgecc.backends.c.emulate``); the same comparisons apply, and the
instructions of one model run are printed.
"""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from edgecc.ir.diagnostics import EdgeccError


def _load(model: Path, quantize: str, calib, io: str, input_shape: tuple[str, ...]):
    from edgecc.passes.registry import DEFAULT_PIPELINE
    from edgecc.tools.compile import build_pipeline, load_model, parse_input_shapes, resolve_quantize

    module = load_model(model, parse_input_shapes(input_shape), optimize=False)
    scheme = resolve_quantize(quantize, module, calib, ["c"])
    build_pipeline(DEFAULT_PIPELINE, scheme, calib, io, False).run(module)
    return module, scheme


def _tflm_outputs(module, samples):
    """TFLM's outputs for ``samples`` on the .tflite of ``module`` (None when unavailable), all in one
    interpreter: a stateful model carries its state from sample to sample, as the C testbench does."""
    try:
        import tflite_micro  # noqa: F401

        from edgecc.backends.tflite import to_bytes
        from edgecc.backends.tflite.verify import run_tflm, tflm_interpreter
    except ImportError:
        return None, "tflite-micro is not installed"
    try:
        data = to_bytes(module)
    except EdgeccError as e:
        return None, f"no .tflite for this model ({e.message})"
    it = tflm_interpreter(data)
    return [[np.asarray(o) for o in run_tflm(data, s, interpreter=it)] for s in samples], ""


def _fmt(x: float) -> str:
    return "0" if x == 0 else f"{x:.3g}"


@click.command("verify", context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.argument("model", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-t", "--target", default="generic", show_default=True, help="Core to generate C for.")
@click.option("--inputs", "n_inputs", default=10, show_default=True, type=click.IntRange(1, 100000),
              help="Number of random input samples.")
@click.option("--inputs-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Samples as an .npz keyed by input name (first axis: sample).")
@click.option("--seed", default=0, show_default=True, help="Seed of the random inputs.")
@click.option("--quantize", default="auto", show_default=True,
              type=click.Choice(("auto", "none", "int8")), help="As for the main command.")
@click.option("--calib", type=click.Path(exists=True, path_type=Path), metavar="DATA",
              help="Calibration inputs (FILE.npz or DIR of <input>.npy).")
@click.option("--io", default="int", show_default=True, type=click.Choice(("int", "float")),
              help="Interface of quantized models.")
@click.option("--input-shape", multiple=True, metavar="NAME=DIMS", help="Fix a dynamic input shape.")
@click.option("--memory", default="auto", show_default=True, type=click.Choice(("auto", "ram", "speed")),
              help="RAM/speed trade-off on CMSIS-NN targets.")
@click.option("--rtol", default=1e-5, show_default=True, help="Float tolerance (relative to each output's "
              "largest magnitude).")
@click.option("--sanitize", is_flag=True, help="Build with -fsanitize=address,undefined.")
@click.option("--keep", type=click.Path(file_okay=False, path_type=Path),
              help="Keep the generated project and the build in this folder.")
@click.option("--no-tflm", is_flag=True, help="Do not compare quantized models with TFLite Micro.")
@click.option("--emulate", is_flag=True, help="Cross-compile for the Cortex-M core and run it on QEMU.")
def verify_command(model, target, n_inputs, inputs_file, seed, quantize, calib, io, input_shape, memory, rtol,
                   sanitize, keep, no_tflm, emulate):
    """Build MODEL's generated C for TARGET on this machine and compare it with the reference."""
    import os

    from edgecc.backends.c.verify import compare, random_samples, run_testbench, verify
    from edgecc.targets import core as get_core

    core = get_core(target)
    if emulate:
        from edgecc.backends.c.emulate import machine_for

        machine_for(core)  # a core QEMU emulates, before the model is imported
        if sanitize:
            raise EdgeccError("--sanitize applies to host builds, not to --emulate")
    module, scheme = _load(model, quantize, calib, io, input_shape)
    kernels = None
    note = ""
    if core.kernels == "cmsis-nn" and not os.environ.get("EDGECC_CMSIS_NN"):
        kernels = "portable"
        note = ("EDGECC_CMSIS_NN is not set: checking edgecc's portable kernels for "
                f"{core.name} (set it to a CMSIS-NN checkout to check the CMSIS-NN build)")
    samples = random_samples(module, n_inputs, seed)
    if inputs_file is not None:
        data = np.load(inputs_file)
        names = [a.name_hint or f"arg{i}" for i, a in enumerate(module.func.arguments)]
        missing = [n for n in names if n not in data]
        if missing:
            raise EdgeccError(f"{inputs_file}: no array for input '{missing[0]}' (inputs: {', '.join(names)})")
        count = min(len(data[n]) for n in names)
        samples = [[np.asarray(data[n][k], dtype=a.type.element.numpy).reshape(a.type.shape)
                    for n, a in zip(names, module.func.arguments)] for k in range(count)]
    workdir = None
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        workdir = keep
    import tempfile

    names = [v.name_hint or f"output{i}" for i, v in enumerate(module.func.outputs)]
    if emulate:
        r, got, where, per_run = _emulated(module, core, samples, names, rtol, workdir, kernels, memory)
    else:
        with tempfile.TemporaryDirectory(prefix="edgecc-verify-") as tmp:
            wd = workdir or Path(tmp)
            r = verify(module, target=core, samples=samples, rtol=rtol, sanitize=sanitize, workdir=wd,
                       kernels=kernels, memory=memory)
            got = run_testbench(wd / "model_testbench", module, samples)
        where, per_run = "", ""
    tflm_checks, tflm_note = None, ""
    quantized = scheme != "none"
    if quantized and not no_tflm:
        want, tflm_note = _tflm_outputs(module, samples)
        if want is not None:
            tflm_checks = compare(got, [[o.reshape(v.type.shape) for o, v in zip(row, module.func.outputs)]
                                        for row in want], names, rtol)
    click.echo(f"{model.name} on {core.name}{where} ({r.kernels} kernels, arena {r.arena_bytes:,} B), "
               f"{r.samples} samples{per_run}" + (f"; {note}" if note else ""))
    header = f"{'output':<24} {'dtype':<8} {'elements':>9} {'max diff':>10} {'mismatch':>9}  reference  TFLM"
    click.echo(header)
    click.echo("-" * len(header))
    ok = r.passed
    for i, c in enumerate(r.outputs):
        t = tflm_checks[i] if tflm_checks else None
        tflm = "-" if t is None else ("pass" if t.passed else f"FAIL ({t.mismatches})")
        ok = ok and (t is None or t.passed)
        click.echo(f"{c.name[:24]:<24} {c.dtype:<8} {c.elements:>9,} {_fmt(c.max_abs):>10} {c.mismatches:>9}  "
                   f"{'pass' if c.passed else 'FAIL':<9}  {tflm}")
    if quantized and tflm_checks is None and not no_tflm:
        click.echo(f"TFLM comparison skipped: {tflm_note}")
    click.echo("PASS" if ok else "FAIL")
    if keep is not None:
        click.echo(f"project and build kept in {keep}/")
    if not ok:
        raise EdgeccError(f"the generated C for {core.name} does not match the reference")


def _emulated(module, core, samples, names, rtol, workdir, kernels, memory):
    """Run on the core's QEMU machine; returns (a VerifyResult, the outputs, two notes for the header)."""
    from edgecc.backends.c.emulate import emulate
    from edgecc.backends.c.verify import VerifyResult, compare, reference_outputs

    e = emulate(module, core, samples=samples, workdir=workdir, kernels=kernels, memory=memory, profile=False)
    checks = compare(e.outputs, reference_outputs(module, samples), names, rtol)
    r = VerifyResult(all(c.passed for c in checks), len(samples), core.name, ",".join(e.report["libraries"]),
                     e.report["arena_bytes"], checks, e.workdir)
    return r, e.outputs, f", emulated on QEMU {e.machine}", f", {e.run_instructions:,} instructions per run"


__all__ = ["verify_command"]
