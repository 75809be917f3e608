"""The Numba host backend: ``compile_module(module) -> HostModule``.

See ``docs/backends/numba.md``. Kernels live in ``edgecc.runtime.kernels``;
``edgecc.runtime.Session`` is the user-facing API over this backend.
"""

from __future__ import annotations

from edgecc.backends.numba.host import HostModule, IOSpec, Step
from edgecc.backends.numba.lower import compile_module

__all__ = ["HostModule", "IOSpec", "Step", "compile_module"]
