"""``edgecc MODEL -t TARGET -o OUT/``: import, optimise and emit artifacts.

Artifacts are written to a temporary folder beside OUT and moved into place
only when everything succeeded, so a failed run leaves OUT untouched.
Backends are wired here as they land; asking for one that is not available
yet is a clear error, never a silent skip.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

import click

from edgecc.ir.diagnostics import EdgeccError
from edgecc.passes.registry import DEFAULT_PIPELINE

TARGETS = ("generic", "host", "cortex-m0", "cortex-m0plus", "cortex-m3", "cortex-m4", "cortex-m7",
           "cortex-m33", "cortex-m55", "cortex-m85")
EMITS = ("ir", "report", "c", "tflite", "testbench")
AVAILABLE_EMITS = ("ir", "report")


def parse_input_shapes(specs: tuple[str, ...]) -> dict[str, tuple[int, ...]]:
    """``name=1x3x96x96`` -> {"name": (1, 3, 96, 96)}."""
    shapes: dict[str, tuple[int, ...]] = {}
    for spec in specs:
        name, sep, dims = spec.rpartition("=")
        try:
            if not sep or not name:
                raise ValueError
            shape = tuple(int(d) for d in dims.lower().split("x"))
            if any(d <= 0 for d in shape):
                raise ValueError
        except ValueError:
            raise EdgeccError(f"--input-shape '{spec}': expected NAME=DxDx... with positive "
                              "dimensions, e.g. input=1x3x96x96") from None
        shapes[name] = shape
    return shapes


@contextmanager
def staged_output(out: Path):
    """Yield a temporary folder; on success replace OUT's files with its content."""
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        yield tmp
        out.mkdir(exist_ok=True)
        for item in sorted(tmp.iterdir()):
            target = out / item.name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            os.replace(item, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def load_model(path: Path, input_shapes: dict | None = None, optimize: bool = True):
    """Import a model file into optimised ``nn`` IR."""
    if not path.exists():
        raise EdgeccError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".mlir":
        from edgecc.ir.text.parser import parse_module

        module = parse_module(path.read_text(encoding="utf-8"), str(path))
        module.verify()
        return module
    if suffix == ".onnx":
        try:
            from edgecc.frontend import import_onnx
        except ImportError:
            raise EdgeccError("the ONNX frontend is not available in this build") from None
        return import_onnx(path, input_shapes=input_shapes, optimize=optimize)
    if suffix == ".tflite":
        raise EdgeccError(f"{path}: reading .tflite models is not available yet "
                          "(it comes with the TFLite backend)")
    raise EdgeccError(f"{path}: unknown model format '{suffix}' (expected .onnx or .mlir)")


@click.command("compile", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("model", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-t", "--target", default="generic", show_default=True,
              type=click.Choice(TARGETS), help="Core to compile for.")
@click.option("-o", "--output", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output folder (created; only replaced when compilation succeeds).")
@click.option("--emit", default="ir,report", show_default=True, metavar="LIST",
              help=f"Comma-separated artifacts: {', '.join(EMITS)}.")
@click.option("--input-shape", multiple=True, metavar="NAME=DIMS",
              help="Fix a dynamic input shape, e.g. input=1x3x96x96 (repeatable).")
@click.option("-p", "--passes", default=DEFAULT_PIPELINE, show_default=True, metavar="PIPELINE",
              help="Optimisation pipeline run after import.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
@click.option("-v", "--verbose", is_flag=True, help="Print each pass and its timing.")
def compile_command(model, target, out, emit, input_shape, passes, quiet, verbose):
    """Compile MODEL (.onnx or .mlir) for TARGET into OUT/."""
    emits = [e.strip() for e in emit.split(",") if e.strip()]
    for e in emits:
        if e not in EMITS:
            raise EdgeccError(f"--emit: unknown artifact '{e}' (choose from {', '.join(EMITS)})")
        if e not in AVAILABLE_EMITS:
            raise EdgeccError(f"--emit {e}: this backend is not available yet in edgecc "
                              f"{_version()}; available: {', '.join(AVAILABLE_EMITS)}")
    shapes = parse_input_shapes(input_shape)
    module = load_model(model, shapes, optimize=False)
    from edgecc.passes.manager import PassManager

    PassManager.parse(passes, timing=verbose).run(module)
    from edgecc.tools.report import summarize, write_report

    with staged_output(out) as tmp:
        if "ir" in emits:
            from edgecc.ir.text.printer import print_module

            (tmp / "model.mlir").write_text(print_module(module), encoding="utf-8")
        if "report" in emits:
            write_report(module, tmp, model=model, target=target, pipeline=passes)
    if not quiet:
        click.echo(summarize(module, model, target, out, emits))


def _version() -> str:
    from edgecc import __version__

    return __version__
