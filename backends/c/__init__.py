"""The C backend: CMSIS-NN or portable C kernels, a static memory plan, no interpreter.

``emit(module, out_dir, target=..., prefix=..., emit=("c", "report", "testbench"),
arena="static"|"external")`` writes the C project of an ``nn`` module;
``verify(module, target=...)`` builds it with the host compiler, runs random
inputs and compares with the reference interpreter. See docs/backends/c.md.
"""

from __future__ import annotations


def emit(module, out_dir, **kw):
    """Write the C project of ``module`` (see ``edgecc.backends.c.generate.emit``)."""
    from edgecc.backends.c.generate import emit as _emit

    return _emit(module, out_dir, **kw)


def verify(module, **kw):
    """Build, run and compare with the reference (see ``edgecc.backends.c.verify.verify``)."""
    from edgecc.backends.c.verify import verify as _verify

    return _verify(module, **kw)


def cmake_dir():
    """Folder of ``edgecc.cmake`` (``edgecc_add_model``) for ``CMAKE_MODULE_PATH``."""
    from importlib.resources import files
    from pathlib import Path

    return Path(str(files("edgecc.runtime").joinpath("cmake")))


__all__ = ["cmake_dir", "emit", "verify"]
