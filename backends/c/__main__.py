"""``python -m edgecc.backends.c MODEL -t CORE -o OUT/``: the C backend alone.

The same flow as ``edgecc MODEL -t CORE -o OUT/ --emit c`` (import, optimise,
quantize, emit), with the C options: ``--prefix``, ``--arena``, ``--memory``,
``--kernels``, ``--depfile``, ``--code-size``. Build systems call it through
``runtime/cmake/edgecc.cmake`` when the main command is not wired to the C
backend. Output is staged and moved into OUT only on success.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command("edgecc-c", context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.argument("model", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-t", "--target", default="generic", show_default=True, help="Core (see the targets database).")
@click.option("-o", "--output", "out", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--emit", default="c,report", show_default=True, help="c, report, testbench (comma-separated).")
@click.option("--prefix", default="model", show_default=True, help="Symbol and file prefix.")
@click.option("--arena", default="static", show_default=True, type=click.Choice(("static", "external")))
@click.option("--memory", default="auto", show_default=True, type=click.Choice(("auto", "ram", "speed")))
@click.option("--kernels", default=None, type=click.Choice(("portable", "cmsis-nn")),
              help="Override the core's kernel library.")
@click.option("--quantize", default="auto", show_default=True, type=click.Choice(("auto", "none", "int8")))
@click.option("--calib", type=click.Path(exists=True, path_type=Path), metavar="DATA")
@click.option("--io", default="int", show_default=True, type=click.Choice(("int", "float")))
@click.option("--input-shape", multiple=True, metavar="NAME=DIMS")
@click.option("--board", default=None, help="Check that the model fits this board.")
@click.option("--depfile", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a Make/Ninja depfile for the generated sources.")
@click.option("--code-size", is_flag=True, help="Measure .text/.rodata/.bss with arm-none-eabi-gcc.")
@click.option("-q", "--quiet", is_flag=True)
def main_command(model, target, out, emit, prefix, arena, memory, kernels, quantize, calib, io, input_shape,
                 board, depfile, code_size, quiet):
    """Compile MODEL to C for TARGET into OUT/."""
    from edgecc.backends.c.generate import emit as emit_c
    from edgecc.passes.registry import DEFAULT_PIPELINE
    from edgecc.targets import check_fit, resolve
    from edgecc.tools.compile import build_pipeline, load_model, parse_input_shapes, resolve_quantize, staged_output

    core, b = resolve(target, board)
    wanted = tuple(e.strip() for e in emit.split(",") if e.strip())
    module = load_model(model, parse_input_shapes(input_shape), optimize=False)
    scheme = resolve_quantize(quantize, module, calib, ["c"])
    build_pipeline(DEFAULT_PIPELINE, scheme, calib, io, False).run(module)
    with staged_output(out) as tmp:
        emit_c(module, tmp, target=core, prefix=prefix, emit=wanted, arena=arena, kernels=kernels, memory=memory)
        import json

        report_path = tmp / "report.json"
        report = json.loads(report_path.read_text()) if report_path.exists() else None
        if code_size and report is not None:
            import os

            from edgecc.backends.c.sizes import add_to_report, measure

            cmsis = os.environ.get("EDGECC_CMSIS_NN")
            add_to_report(tmp, measure(tmp, core, prefix, cmsis_nn=Path(cmsis) if cmsis else None))
        if b is not None:
            from edgecc.backends.c.generate import build_model

            m = report or build_model(module, target=core, prefix=prefix, memory=memory, kernels=kernels).report
            check_fit(b, m["flash_data_bytes"], m["arena_bytes"], quantized=scheme != "none")
    if depfile is not None:
        from edgecc.backends.c.depfile import write_depfile

        outs = [out / f"{prefix}.h", out / f"{prefix}.c", out / f"{prefix}_weights.c"]
        write_depfile(depfile, outs, [model, calib])
    if not quiet:
        click.echo(f"{model.name} -> {out}/ for {core.name}")


def main(argv: list[str] | None = None) -> None:
    from edgecc.tools.cli import run_command

    run_command(main_command, argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
