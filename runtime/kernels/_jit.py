"""The one place kernels get their Numba options.

Every kernel is ``@njit(cache=True, error_model="numpy", nogil=True)``:
compiled machine code is written to Numba's on-disk cache (``NUMBA_CACHE_DIR``
or ``__pycache__`` beside this package), so a second process loads it instead
of compiling again. ``error_model="numpy"`` makes float division by zero give
inf/nan as numpy does instead of raising.

``fastmath`` is used only as ``CONTRACT`` (fused multiply-add) in the dot
product kernels (conv, dense, matmul), whose summation order already differs
from the reference's; elementwise kernels round exactly as the reference.
"""

from __future__ import annotations

from numba import njit

#: fastmath flags allowed in dot-product kernels: FMA contraction only (no reassociation)
CONTRACT = frozenset({"contract"})


def kernel(fn=None, *, fastmath=False):
    """``@kernel`` / ``@kernel(fastmath=CONTRACT)``: a cached Numba kernel."""

    def wrap(f):
        fm = set(fastmath) if fastmath else False
        return njit(cache=True, error_model="numpy", nogil=True, fastmath=fm)(f)

    return wrap(fn) if fn is not None else wrap


def helper(fn):
    """A small function inlined into kernels (cached like them)."""
    return njit(cache=True, error_model="numpy", inline="always")(fn)
