"""Runtime side: host execution (Session, kernels) and C support kernels shipped with generated code.

``edgecc.runtime.Session`` runs a model on the host with the Numba backend
(see ``edgecc.runtime.session``). It is imported lazily: importing
``edgecc.runtime`` does not import numba.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from edgecc.runtime.session import NodeArg, Session

__all__ = ["NodeArg", "Session"]


def __getattr__(name: str):
    if name in ("Session", "NodeArg"):
        from edgecc.runtime import session

        return getattr(session, name)
    raise AttributeError(f"module 'edgecc.runtime' has no attribute '{name}'")
