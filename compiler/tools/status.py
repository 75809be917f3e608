"""A transient status line on stderr for steps that take seconds, so a newcomer sees it is working.

Used for the first ``edgecc run`` of a model (Numba compiles its kernels) and
``quantize-report`` (calibration, integer and float runs); calibration in the
main compile has its own progress bar (``edgecc.quant.calibrate``). The line is
drawn by ``rich`` and erased when the step ends; nothing is printed when
stderr is not a terminal (pipes, logs, tests) or with ``-q``, so captured
output stays deterministic.
"""

from __future__ import annotations

import contextlib
import sys


def interactive(quiet: bool = False) -> bool:
    """Whether a status line would be shown (stderr is a terminal and not ``-q``)."""
    return not quiet and sys.stderr.isatty()


@contextlib.contextmanager
def status(text: str, quiet: bool = False):
    """Show TEXT with a spinner while the block runs (see the module docstring)."""
    if not interactive(quiet):
        yield
        return
    from rich.console import Console
    from rich.markup import escape

    with Console(file=sys.stderr).status(escape(text)):
        yield


__all__ = ["interactive", "status"]
