"""The ``edgecc`` command line.

``edgecc MODEL -t TARGET -o OUT/`` is the main form (the ``compile``
subcommand, chosen when the first argument is not a subcommand name); the
other subcommands are tools (``opt``, ``inspect`` ...). User mistakes end as
one ``error:`` line and exit code 1; usage errors exit 2.
"""

from __future__ import annotations

import sys
import traceback

import click

from edgecc import __version__
from edgecc.ir.diagnostics import EdgeccError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class DefaultGroup(click.Group):
    """A group whose first argument may be a model file: then ``compile`` is implied."""

    default_command = "compile"

    def parse_args(self, ctx, args):
        for k, a in enumerate(args):  # `--board list` / `help`: the boards, without a model
            value = args[k + 1] if a == "--board" and k + 1 < len(args) else a.partition("=")[2] \
                if a.startswith("--board=") else None
            if value in ("list", "help"):
                from edgecc.targets import board_table

                click.echo(board_table())
                ctx.exit(0)
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help", "--version",
                                                                      "--cmake-dir"):
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)

    def format_usage(self, ctx, formatter):
        formatter.write("Usage: edgecc MODEL -t TARGET -o OUT/ [OPTIONS]\n"
                        "       edgecc COMMAND [ARGS]...\n")


@click.group(cls=DefaultGroup, context_settings=CONTEXT, invoke_without_command=False)
@click.version_option(__version__, "--version", prog_name="edgecc", message="%(prog)s %(version)s")
@click.option("--cmake-dir", is_flag=True, is_eager=True, expose_value=False,
              callback=lambda ctx, _p, v: _print_cmake_dir(ctx) if v else None,
              help="Print the folder of edgecc.cmake (edgecc_add_model) and exit.")
def cli() -> None:
    """edgecc compiles ONNX models for microcontrollers and edge devices.

    \b
    Main form:
      edgecc model.onnx -t cortex-m55 -o out/    compile (see 'edgecc compile --help')
    \b
    Examples:
      edgecc model.onnx -t generic -o out/ --emit ir
      edgecc opt model.mlir --passes "canonicalize,cse,dce"
    """


def _print_cmake_dir(ctx: click.Context) -> None:
    from edgecc.backends.c import cmake_dir

    click.echo(str(cmake_dir()))
    ctx.exit(0)


def _register() -> None:
    from edgecc.tools.compile import compile_command
    from edgecc.tools.opt import opt_command

    cli.add_command(compile_command)
    cli.add_command(opt_command)
    from edgecc.tools.inspect import inspect_command
    from edgecc.tools.quantize_report import quantize_report_command
    from edgecc.tools.run import bench_command, run_command as run_model_command

    cli.add_command(inspect_command)
    cli.add_command(quantize_report_command)
    cli.add_command(run_model_command)
    cli.add_command(bench_command)
    from edgecc.backends.c.verify_cli import verify_command

    cli.add_command(verify_command)


_SHOWN: set[str] = set()


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings are one line on stderr, like errors (no source excerpt), each said once even
    when a step runs twice (inspect imports the model for its table and its unsupported ops)."""
    from edgecc.ir.diagnostics import one_line

    text = one_line(f"warning: {message}")
    if text not in _SHOWN:
        _SHOWN.add(text)
        click.echo(text, err=True)


def run_command(command: click.Command, argv: list[str] | None = None) -> None:
    """Run a click command, turning EdgeccErrors into one line and exit code 1."""
    import warnings

    warnings.showwarning = _show_warning
    _SHOWN.clear()
    try:
        command.main(args=argv, prog_name="edgecc", standalone_mode=False)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except click.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except EdgeccError as e:
        from edgecc.ir.diagnostics import one_line

        click.echo(one_line(e.format()), err=True)
        sys.exit(1)
    except RecursionError:  # nesting deeper than any real input: a user error, not a crash
        click.echo("error: input nested too deeply (recursion limit reached)", err=True)
        sys.exit(1)
    except MemoryError:
        click.echo("error: out of memory (a declared size beyond this machine; see EDGECC_MAX_TENSOR_BYTES)",
                   err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
    except Exception as e:  # a compiler bug, not a user mistake
        if "EDGECC_TRACEBACK" in __import__("os").environ:
            traceback.print_exc()
        click.echo(f"internal error: {type(e).__name__}: {e} (set EDGECC_TRACEBACK=1 for details; "
                   "please report this)", err=True)
        sys.exit(3)
    sys.exit(0)


def main(argv: list[str] | None = None) -> None:
    _register()
    run_command(cli, argv)


if __name__ == "__main__":
    main()
