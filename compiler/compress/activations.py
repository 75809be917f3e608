"""Calibration activations of weighted ops, shared by the compression methods.

Pruning refits layers by least squares and low-rank/sparsity methods whiten
by the input covariance; both need what the float reference interpreter sees
at a layer's input on the calibration samples. Two functions, one runner:

* ``collect_inputs(module, samples, ops)``: the stacked input activations
  ``[S, *shape]`` of each op (operand 0 unless ``operand`` says otherwise);
* ``input_covariances(module, samples, ops)``: ``X^T X / rows`` (float64) of
  each op's input rows: im2col patches of conv2d in the weight's ``(KH, KW,
  Cin)`` order, the last axis of fully_connected / matmul inputs. A weight
  flattened to ``[N, D]`` then sees exactly these ``D`` features.

``input_moments`` also returns the mean (for centred covariances).
``patches(op, x)`` is the im2col used for all of them (and for refits).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from edgecc.ir.core import Module, Operation, Value
from edgecc.ir.diagnostics import EdgeccError

#: rows of patches kept per op and sample at most (a deterministic stride), bounding memory on big maps
MAX_ROWS_PER_SAMPLE = 4096


class _Seen(Exception):
    """Every wanted value of a sample was observed: the rest of the graph need not run."""


def _run(module: Module, samples: Sequence, values: set[Value], sink) -> None:
    from edgecc.quant.graph import run_observed

    if not samples:
        raise EdgeccError("no calibration samples given")
    left: set[Value] = set()

    def observe(v: Value, a: np.ndarray) -> None:
        sink(v, a)
        left.discard(v)
        if not left:
            raise _Seen

    for s in samples:
        left.update(values)
        try:
            run_observed(module, s, observe, lambda v: v in values)
        except _Seen:
            pass


def collect_inputs(module: Module, samples: Sequence, ops: Iterable[Operation],
                   operand: int = 0) -> dict[Operation, np.ndarray]:
    """Operand ``operand`` of each op over ``samples``, stacked: ``{op: [S, *shape]}`` (float32)."""
    ops = list(ops)
    by_value: dict[Value, list[np.ndarray]] = {op.operands[operand]: [] for op in ops}
    _run(module, samples, set(by_value), lambda v, a: by_value[v].append(np.array(a, np.float32)))
    return {op: np.stack(by_value[op.operands[operand]]) for op in ops}


def patches(op: Operation, x: np.ndarray, max_rows: int | None = None) -> np.ndarray:
    """Input rows of ``op`` for samples ``x`` (``[S, *input_shape]`` or one input): ``[rows, D]`` float64.

    conv2d (groups 1): ``[S*OH*OW, KH*KW*Cin]`` in the OHWI weight's order, with
    the op's pads (zeros), strides and dilations; fully_connected / matmul:
    the last axis. ``max_rows`` keeps an evenly strided subset per sample.
    """
    x = np.asarray(x, np.float64)
    if op.name == "nn.conv2d":
        if op.attr("groups", 1) != 1:
            raise EdgeccError(f"{op.name}: grouped convolutions have no single patch matrix")
        _, kh, kw, _ = op.operands[1].type.shape
        top, left, bottom, right = op.attr("pads")
        sh, sw = op.attr("strides")
        dh, dw = op.attr("dilations")
        _, oh, ow, _ = op.results[0].type.shape
        x = x.reshape((-1, *op.operands[0].type.shape[1:]))
        xp = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
        cols = [xp[:, i * dh:i * dh + sh * (oh - 1) + 1:sh, j * dw:j * dw + sw * (ow - 1) + 1:sw, :]
                for i in range(kh) for j in range(kw)]
        rows = np.stack(cols, axis=3).reshape(x.shape[0], oh * ow, -1)
    elif op.name in ("nn.fully_connected", "nn.matmul"):
        x = x.reshape((-1, *op.operands[0].type.shape))
        rows = x.reshape(x.shape[0], -1, x.shape[-1])
    else:
        raise EdgeccError(f"{op.name} has no input patches (conv2d, fully_connected, matmul only)")
    if max_rows is not None and rows.shape[1] > max_rows:
        rows = rows[:, np.linspace(0, rows.shape[1] - 1, max_rows).round().astype(int)]
    return rows.reshape(-1, rows.shape[-1])


def input_covariances(module: Module, samples: Sequence,
                      ops: Iterable[Operation]) -> dict[Operation, np.ndarray]:
    """``{op: X^T X / rows}`` over the calibration samples, ``X`` = ``patches(op, input)`` (float64)."""
    return {op: second for op, (_, second) in input_moments(module, samples, ops).items()}


def input_moments(module: Module, samples: Sequence,
                  ops: Iterable[Operation]) -> dict[Operation, tuple[np.ndarray, np.ndarray]]:
    """``{op: (mean [D], X^T X / rows [D, D])}`` of ``patches(op, input)`` (float64)."""
    ops = list(ops)
    by_value: dict[Value, list[Operation]] = {}
    for op in ops:
        by_value.setdefault(op.operands[0], []).append(op)
    acc: dict[Operation, list] = {op: [0.0, 0.0, 0] for op in ops}

    def sink(v: Value, a: np.ndarray) -> None:
        for op in by_value[v]:
            rows = patches(op, a[None], MAX_ROWS_PER_SAMPLE)
            acc[op][0] = acc[op][0] + rows.sum(axis=0)
            acc[op][1] = acc[op][1] + rows.T @ rows
            acc[op][2] += rows.shape[0]

    _run(module, samples, set(by_value), sink)
    return {op: (s / n, g / n) for op, (s, g, n) in acc.items()}


__all__ = ["MAX_ROWS_PER_SAMPLE", "collect_inputs", "input_covariances", "input_moments", "patches"]
