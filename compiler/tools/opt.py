"""``edgecc opt``: parse textual IR, run a pass pipeline, print the result (like mlir-opt)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from edgecc.ir.diagnostics import EdgeccError

SPLIT_MARKER = "// -----"


def _chunks(text: str, split: bool) -> list[tuple[str, int]]:
    """Split on ``// -----`` lines; each chunk keeps its line offset for diagnostics."""
    if not split:
        return [(text, 0)]
    out, cur, start = [], [], 0
    for i, line in enumerate(text.splitlines(keepends=True)):
        if line.strip() == SPLIT_MARKER:
            out.append(("".join(cur), start))
            cur, start = [], i + 1
        else:
            cur.append(line)
    out.append(("".join(cur), start))
    return out


def _shift(err: EdgeccError, offset: int) -> EdgeccError:
    from dataclasses import replace

    loc = err.loc
    if offset and loc is not None and loc.line is not None:
        err.loc = replace(loc, line=loc.line + offset)
    return err


def process(text: str, filename: str, passes: str, split: bool, verify_diagnostics: bool,
            verify_each: bool, pm_options: dict, elide: bool) -> tuple[list[str], int]:
    """Run the pipeline over each chunk; returns the printed outputs and an exit code."""
    from edgecc.ir.text.parser import parse_module
    from edgecc.ir.text.printer import print_module

    outputs: list[str] = []
    code = 0
    for chunk, offset in _chunks(text, split):
        if split and not chunk.strip():
            continue
        padded = "\n" * offset + chunk  # keep line numbers of the whole file
        try:
            module = parse_module(padded, filename)
            if verify_each:
                module.verify()
            if passes:
                from edgecc.passes.manager import PassManager

                PassManager.parse(passes, verify_each=verify_each, **pm_options).run(module)
            outputs.append(print_module(module, elide_resources=elide))
        except EdgeccError as e:
            if not verify_diagnostics:
                raise
            outputs.append(e.format() + "\n")
            code = 0
    return outputs, code


@click.command("opt", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("file", required=False, type=click.Path(dir_okay=False, allow_dash=True))
@click.option("-p", "--passes", default="", metavar="PIPELINE",
              help='Pass pipeline, e.g. "canonicalize,cse,dce".')
@click.option("-o", "--output", type=click.Path(dir_okay=False, allow_dash=True), default="-",
              help="Write the result here (default: stdout).")
@click.option("--split-input-file", is_flag=True, help="Treat '// -----' lines as separate modules.")
@click.option("--verify-diagnostics", is_flag=True,
              help="Print errors to stdout as results (for FileCheck tests of diagnostics).")
@click.option("--no-verify", is_flag=True, help="Do not verify the IR after parsing and each pass.")
@click.option("--print-ir-after-all", is_flag=True, help="Print the IR after every pass (stderr).")
@click.option("--print-ir-after", multiple=True, metavar="PASS", help="Print the IR after PASS.")
@click.option("--print-ir-before", multiple=True, metavar="PASS", help="Print the IR before PASS.")
@click.option("--pass-timing", is_flag=True, help="Print the time taken by each pass (stderr).")
@click.option("--ir-dump-dir", type=click.Path(file_okay=False), default=None,
              help="Write the IR after each pass to DIR/NN-<pass>.mlir.")
@click.option("--elide-resources", is_flag=True, help="Omit the blob section of large constants.")
@click.option("--list-passes", is_flag=True, help="List the registered passes and exit.")
def opt_command(file, passes, output, split_input_file, verify_diagnostics, no_verify,
                print_ir_after_all, print_ir_after, print_ir_before, pass_timing, ir_dump_dir,
                elide_resources, list_passes):
    """Parse FILE (.mlir, '-' for stdin), run --passes over it and print the result."""
    if list_passes:
        from edgecc.passes.registry import describe_passes

        click.echo(describe_passes())
        return
    if file is None:
        raise click.UsageError("Missing argument 'FILE' (a .mlir file, or '-' for stdin).")
    if file == "-":
        text, filename = sys.stdin.read(), "<stdin>"
    else:
        from edgecc.ir.limits import read_text

        path = Path(file)
        if not path.exists():
            raise EdgeccError(f"{file}: no such file")
        text, filename = read_text(path, "IR text"), file
    pm_options = dict(print_ir_after_all=print_ir_after_all, print_ir_after=tuple(print_ir_after),
                      print_ir_before=tuple(print_ir_before), timing=pass_timing,
                      ir_dump_dir=ir_dump_dir)
    outputs, code = process(text, filename, passes, split_input_file, verify_diagnostics,
                            not no_verify, pm_options, elide_resources)
    result = (SPLIT_MARKER + "\n").join(outputs)
    if output == "-":
        sys.stdout.write(result)
    else:
        Path(output).write_text(result, encoding="utf-8")
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``edgecc-opt`` script."""
    from edgecc.tools.cli import run_command

    run_command(opt_command, argv)
