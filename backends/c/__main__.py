"""``python -m edgecc.backends.c MODEL -t CORE -o OUT/``: the main command (C is its default emit).

Kept as an alias for build scripts that name the backend explicitly; everything
lives in ``edgecc.tools.compile``.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    from edgecc.tools.cli import run_command
    from edgecc.tools.compile import compile_command

    run_command(compile_command, argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
