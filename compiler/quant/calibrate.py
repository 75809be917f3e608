"""Calibration data: loading, checking, and one statistics pass over it.

Accepted sources (``load_calibration(source, module)``):

* a path to an ``.npz`` file keyed by input name, each array stacking the
  samples along axis 0 (``[N, *input_shape]``, or ``[N, ...]`` replacing a
  batch dimension of 1); a single-input model may also use the key ``x``
  or the file's only array,
* a path to a directory holding one ``<input name>.npy`` per input (same
  stacking),
* a mapping input name -> stacked array (as the npz),
* a numpy array (single-input models: stacked samples),
* an iterable of samples, each a feed dict, a sequence of arrays (one per
  input) or one array (single input).

Every sample is checked against the float model's inputs: unknown or
missing names, non-float data, wrong shapes, NaN/inf values and an empty set
raise ``EdgeccError`` naming the input (and the sample). float64/float16
data is converted to the input's float type.

``collect_statistics(module, samples)`` runs the samples in batches through the
host program (the reference interpreter for models that cannot batch) and updates
an ``Observer`` for every value computed.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from edgecc.ir.core import Module, Value
from edgecc.ir.diagnostics import EdgeccError
from edgecc.ir.limits import load_arrays
from edgecc.ir.types import FloatType, TensorType
from edgecc.quant.observers import Observer

Sample = dict[str, np.ndarray]
#: show a progress bar above this many samples (when stderr is a terminal)
PROGRESS_MIN = 20


def input_names(module: Module) -> list[str]:
    from edgecc.interp.reference import feed_name

    return [feed_name(a, i) for i, a in enumerate(module.func.arguments)]


def _fail(name: str, message: str) -> EdgeccError:
    return EdgeccError(f"calibration input '{name}': {message}")


def load_calibration(source, module: Module, limit: int | None = None) -> list[Sample]:
    """Calibration samples for ``module`` from any accepted source (see the module docstring)."""
    names = input_names(module)
    args = module.func.arguments
    if source is None:
        raise EdgeccError("no calibration data given")
    if isinstance(source, (str, Path)):
        try:
            stacked = _read_path(Path(source), names)
            samples = _unstack(stacked, module)
            if not samples:
                raise _fail(names[0] if names else "?", "the calibration set is empty")
            return [_check(s, args, names, i) for i, s in enumerate(samples[:limit])]
        except EdgeccError as e:  # name the file: several may be in play (--calib, --eval)
            if Path(source).name in e.message:
                raise
            raise EdgeccError(f"{Path(source).name}: {e.message}", e.loc) from None
    elif isinstance(source, Mapping):
        samples = _unstack(dict(source), module)
    elif isinstance(source, np.ndarray):
        if len(names) != 1:
            raise EdgeccError(f"a single calibration array needs a single-input model; this one has "
                              f"{len(names)} inputs ({', '.join(names)})")
        samples = _unstack({names[0]: source}, module)
    elif isinstance(source, Iterable):
        samples = []
        for i, s in enumerate(source):
            samples.append(_sample(s, names, i))
            if limit is not None and len(samples) >= limit:
                break
    else:
        raise EdgeccError(f"calibration data must be a path, an array, a mapping or an iterable of samples, "
                          f"got {type(source).__name__}")
    if limit is not None:
        samples = samples[:limit]
    if not samples:
        raise _fail(names[0] if names else "?", "the calibration set is empty")
    return [_check(s, args, names, i) for i, s in enumerate(samples)]


def _read_path(path: Path, names: list[str]) -> dict[str, np.ndarray]:
    if path.is_dir():
        out = {}
        for n in names:
            f = path / f"{n}.npy"
            if not f.is_file():
                found = ", ".join(sorted(p.name for p in path.glob("*.npy"))) or "none"
                raise _fail(n, f"no file {f.name} in {path} (found: {found})")
            out[n] = next(iter(load_arrays(f, "calibration data").values()))
        return out
    if not path.exists():
        raise EdgeccError(f"calibration data {path} does not exist")
    data = load_arrays(path, "calibration data")
    if list(data) == [""]:
        data = {names[0] if len(names) == 1 else "x": data[""]}
    if len(names) == 1 and names[0] not in data:
        if "x" in data:
            return {names[0]: data["x"]}
        if len(data) == 1:
            return {names[0]: next(iter(data.values()))}
    extra = [k for k in data if k not in names]
    if extra and all(n in data for n in names):
        data = {n: data[n] for n in names}  # e.g. labels stored beside the inputs
    return data


def _unstack(stacked: dict[str, np.ndarray], module: Module) -> list[Sample]:
    names = input_names(module)
    for k in stacked:
        if k not in names:
            raise _fail(k, f"not an input of the model (inputs: {', '.join(names)})")
    for n in names:
        if n not in stacked:
            raise _fail(n, "missing from the calibration data")
    counts = {}
    per_input: dict[str, list[np.ndarray]] = {}
    for n, a in zip(names, module.func.arguments):
        arr = np.asarray(stacked[n])
        shape = a.type.shape
        if arr.dtype == object:
            raise _fail(n, "has dtype object, expected float data")
        if arr.ndim == len(shape) + 1 and tuple(arr.shape[1:]) == shape:
            items = [arr[i] for i in range(arr.shape[0])]
        elif shape and shape[0] == 1 and arr.ndim == len(shape) and tuple(arr.shape[1:]) == shape[1:]:
            items = [arr[i:i + 1] for i in range(arr.shape[0])]
        else:
            alt = f" or [N, {', '.join(map(str, shape[1:]))}]" if shape and shape[0] == 1 else ""
            raise _fail(n, f"stacked data has shape {list(arr.shape)}; expected "
                           f"[N, {', '.join(map(str, shape))}]{alt}")
        counts[n] = len(items)
        per_input[n] = items
    if len(set(counts.values())) > 1:
        raise EdgeccError("calibration inputs have different sample counts: "
                          + ", ".join(f"{k}: {v}" for k, v in counts.items()))
    n = next(iter(counts.values())) if counts else 0
    return [{k: per_input[k][i] for k in names} for i in range(n)]


def _sample(s, names: list[str], index: int) -> Sample:
    if isinstance(s, Mapping):
        for k in s:
            if k not in names:
                raise _fail(str(k), f"not an input of the model (inputs: {', '.join(names)}) "
                                    f"in sample {index}")
        missing = [n for n in names if n not in s]
        if missing:
            raise _fail(missing[0], f"missing from calibration sample {index}")
        return {n: s[n] for n in names}
    if isinstance(s, np.ndarray) or np.isscalar(s):
        if len(names) != 1:
            raise EdgeccError(f"calibration sample {index} is one array but the model has {len(names)} "
                              f"inputs ({', '.join(names)}); pass a dict or a sequence")
        return {names[0]: s}
    if isinstance(s, (list, tuple)):
        if len(s) != len(names):
            raise EdgeccError(f"calibration sample {index} has {len(s)} arrays for {len(names)} inputs "
                              f"({', '.join(names)})")
        return dict(zip(names, s))
    raise EdgeccError(f"calibration sample {index} must be a dict, a sequence or an array, "
                      f"got {type(s).__name__}")


def _check(sample: Sample, args, names: list[str], index: int) -> Sample:
    out = {}
    for n, a in zip(names, args):
        t = a.type
        arr = np.asarray(sample[n])
        if not isinstance(t, TensorType) or not isinstance(t.element, FloatType):
            raise _fail(n, f"the input has type {t}; calibration needs the float model")
        if arr.dtype.kind != "f":
            raise _fail(n, f"sample {index} has dtype {arr.dtype}, expected float data ({t.element})")
        if tuple(arr.shape) != t.shape:
            if t.shape and t.shape[0] == 1 and tuple(arr.shape) == t.shape[1:]:
                arr = arr.reshape(t.shape)
            else:
                raise _fail(n, f"sample {index} has shape {list(arr.shape)}, expected {list(t.shape)}")
        if arr.size == 0:
            raise _fail(n, f"sample {index} is empty")
        finite = np.isfinite(arr)
        if not finite.all():
            bad = "NaN" if np.isnan(arr).any() else "inf"
            count = int(arr.size - finite.sum())
            raise _fail(n, f"sample {index} contains {bad} ({count} non-finite values)")
        out[n] = np.asarray(arr, dtype=t.element.numpy, order="C")  # (ascontiguousarray makes 0-d 1-d)
    return out


def _progress(total: int, show: bool | None):
    if show is None:
        show = total > PROGRESS_MIN and sys.stderr.isatty()
    if not show:
        return None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from rich.console import Console

    return Progress(TextColumn("calibrating"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=Console(file=sys.stderr), transient=True)


def collect_statistics(module: Module, samples: list[Sample], *, channel_values: Iterable[Value] = (),
                       progress: bool | None = None, batch: int | None = None) -> dict[Value, Observer]:
    """One pass over ``samples``: an ``Observer`` per float value of ``module``.

    ``channel_values`` also get per-channel (last axis) means (the inputs of
    weighted ops, for bias correction). The samples run ``batch`` at a time (default
    ``CALIBRATION_BATCH``) through one compiled host program of the batch-folded model
    (``edgecc.frontend.batch``), dot products accumulated in float64 as the reference
    interpreter does, and each observer takes a chunk's samples in order
    (``Observer.update_samples``), so the statistics equal a per-sample pass. A model the
    host cannot take that way (persistent state, no batch fold, no Numba) runs through the
    reference interpreter one sample at a time (``batch=1`` forces that).
    """
    track = {v for v in channel_values}
    stats: dict[Value, Observer] = {}

    def want(v: Value) -> bool:
        return isinstance(v.type, TensorType) and isinstance(v.type.element, FloatType)

    def observer(v: Value) -> Observer:
        o = stats.get(v)
        if o is None:
            o = stats[v] = Observer(track_channels=v in track)
        return o

    batch = CALIBRATION_BATCH if batch is None else batch
    runner = _batched_runner(module, min(batch, len(samples), _fitting(module)), want) if batch > 1 else None
    bar = _progress(len(samples), progress)
    task = bar.add_task("calibrate", total=len(samples)) if bar is not None else None
    with bar if bar is not None else contextlib.nullcontext():
        if runner is not None:
            for start in range(0, len(samples), runner.n):
                chunk = samples[start:start + runner.n]
                for v, arr, batched in runner(chunk):
                    o = observer(v)
                    if not batched:  # computed from constants only: every sample sees the same array
                        arr = np.broadcast_to(arr, (len(chunk), *arr.shape))
                    o.update_samples(arr[:len(chunk)])
                if bar is not None:
                    bar.advance(task, len(chunk))
            return stats
        from edgecc.interp.reference import initial_state
        from edgecc.quant.graph import run_observed

        state = initial_state(module)  # a stateful model sees the samples as one stream, in order
        for s in samples:
            run_observed(module, s, lambda v, a: observer(v).update(a), want, state=state)
            if bar is not None:
                bar.advance(task)
    return stats


#: samples per host program call in ``collect_statistics`` (fewer when they exceed ``CALIBRATION_BYTES``)
CALIBRATION_BATCH = 64
#: activation bytes of one chunk: every value has its own buffer, so larger chunks leave the caches
CALIBRATION_BYTES = 48 << 20


def _fitting(module: Module) -> int:
    """Samples whose activations (every value of one sample) fit ``CALIBRATION_BYTES``, at least 8."""
    per = sum(r.type.num_elements * r.type.element.numpy.itemsize for op in module.func.body
              if op.name not in ("builtin.constant", "func.return") for r in op.results
              if isinstance(r.type, TensorType))
    return max(8, CALIBRATION_BYTES // max(per, 1))


class BatchedRunner:
    """The batch-folded module compiled for ``n`` samples, keeping every observed value's buffer.

    ``runner(chunk)`` (at most ``n`` feed dicts) runs them and returns ``(value, array, batched)``
    per value (``batched``: one row per sample; else computed from constants only) and sets
    ``outputs`` (one row per sample, padding included); arrays are valid until the next call.
    """

    def __init__(self, host, names: list[str], observed: list[tuple[Value, Value, bool]], n: int) -> None:
        self.host, self.names, self.observed, self.n = host, names, observed, n

    def __call__(self, chunk: list[Sample]):
        feeds = []
        for name in self.names:
            a = np.concatenate([s[name] for s in chunk])
            if len(chunk) < self.n:  # the last chunk: padded with its last sample, observed without it
                a = np.concatenate([a, np.repeat(a[-1:], self.n - len(chunk), axis=0)])
            feeds.append(a)
        outs = self.host.run(feeds)
        kept = self.host.kept
        self.outputs = outs
        return [(v, kept[b], batched) for v, b, batched in self.observed]


def batched_runner(module: Module, n: int, values: list[Value]) -> BatchedRunner | None:
    """A host program running ``n`` samples of ``module`` at once and exposing ``values`` after each
    run, or None when the host cannot (persistent state, no batch fold, no Numba, a value not kept)."""
    if module.states or n < 1:
        return None
    try:
        from edgecc.backends.numba import compile_module
        from edgecc.frontend.batch import fold_batch

        batched, vmap = fold_batch(module, n)
        host = compile_module(batched, accumulate="float64", plan=False, fuse=False,
                              keep=[vmap[v] for v in values])
    except (EdgeccError, ImportError):
        return None
    if any(vmap[v] not in host.kept for v in values):
        return None
    observed = [(v, vmap[v], n == 1 or vmap[v].type.shape != v.type.shape) for v in values]
    return BatchedRunner(host, input_names(module), observed, n)


def _batched_runner(module: Module, n: int, want) -> BatchedRunner | None:
    func = module.func
    values = [a for a in func.arguments if want(a)]
    values += [r for op in func.body if op.name not in ("builtin.constant", "func.return")
               for r in op.results if want(r)]
    return batched_runner(module, n, values)


__all__ = ["BatchedRunner", "batched_runner", "collect_statistics", "input_names", "load_calibration"]
