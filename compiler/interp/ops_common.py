"""Kernel registry and helpers shared by the reference kernels.

A kernel is ``kernel(op, *arrays) -> array | list[array]``: it receives the
op (to read attributes through ``op.attr(name)``) and one numpy array per
present operand, and returns one array per result. Kernels compute in
float32 like onnxruntime; where a kernel accumulates in float64 (dot
products, window sums, transcendental functions) it says so: rounding the
exact result once lands closer to onnxruntime than a float32 sum in a
different order would.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from edgecc.ir.diagnostics import UNKNOWN, EdgeccError, Location

#: op name -> kernel(op, *arrays)
KERNELS: dict[str, Callable] = {}


def kernel(*names: str):
    """Register a kernel under one or more op names."""

    def register(fn):
        for n in names:
            KERNELS[n] = fn
        return fn

    return register


def op_location(op) -> Location | None:
    """The most useful location of ``op`` (its ONNX node, else its text position)."""
    loc = getattr(op, "loc", None)
    if loc is None or loc == UNKNOWN:
        return getattr(op, "text_loc", None) or loc
    return loc


def op_error(op, message: str) -> EdgeccError:
    """A located error about ``op``, to ``raise``."""
    return EdgeccError(f"'{op.name}' {message}", op_location(op))


def f32(x) -> np.float32:
    """A float attribute as float32 (ONNX stores float attributes as float32)."""
    return np.float32(x)


def as_f32(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, dtype=np.float32)


def norm_axis(op, axis: int, rank: int) -> int:
    a = axis + rank if axis < 0 else axis
    if not 0 <= a < max(rank, 1):
        raise op_error(op, f"axis {axis} out of range for rank {rank}")
    return a


def pair(op, name: str, default=(1, 1)) -> tuple[int, int]:
    v = op.attr(name, default)
    if v is None:
        v = default
    if v is None:
        raise op_error(op, f"missing attribute '{name}'")
    v = tuple(int(x) for x in v)
    if len(v) != 2:
        raise op_error(op, f"attribute '{name}' must have 2 entries, got {list(v)}")
    return v


def pads4(op) -> tuple[int, int, int, int]:
    v = op.attr("pads", (0, 0, 0, 0))
    v = tuple(int(x) for x in (v if v is not None else (0, 0, 0, 0)))
    if len(v) != 4:
        raise op_error(op, f"attribute 'pads' must be [top, left, bottom, right], got {list(v)}")
    return v


def apply_activation(op, y: np.ndarray) -> np.ndarray:
    """The fused ``activation`` attribute (applied on the float32 result)."""
    act = op.attr("activation", "none") or "none"
    if act == "none":
        return y
    if act == "relu":
        return np.maximum(y, y.dtype.type(0))
    if act == "relu6":
        return np.minimum(np.maximum(y, y.dtype.type(0)), y.dtype.type(6))
    if act == "relu_n1_to_1":
        return np.minimum(np.maximum(y, y.dtype.type(-1)), y.dtype.type(1))
    raise op_error(op, f"unknown fused activation '{act}'")


def round_f32(y: np.ndarray) -> np.ndarray:
    """Round a float64 intermediate once to float32."""
    return np.asarray(y, dtype=np.float32)
