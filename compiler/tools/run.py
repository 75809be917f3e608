"""``edgecc run`` and ``edgecc bench``: execute a model on the host (Numba backend).

``edgecc run MODEL --input x.npy [--input y.npy] [--output out.npz]``
  feeds one ``.npy`` per model input (in input order) or one ``.npz`` keyed by
  input name, and saves the outputs raw, as ``Session.run`` returns them
  (quantized models: stored integers unless ``--dequantize``): one output to
  ``.npy``, several to ``.npz`` keyed by output name. Without ``--output`` it
  prints each output's name, shape, dtype and first values.

``edgecc bench MODEL [-n 100] [--warmup 10]``
  prints the first-call compile time (import + lowering + Numba compile or
  cache load) separately, then batch-1 latency median / p90 / p99 over N runs
  on random input.

``edgecc bench MODEL -t CORE [--memory M] [--json]``
  with a Cortex-M core, runs the generated C on the core's emulated machine
  (QEMU) instead and prints the instructions of one run per layer and in
  total, with the arena size (``edgecc.backends.c.emulate.bench``).
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from edgecc.ir.diagnostics import EdgeccError


def _read_feeds(session, paths: tuple[Path, ...]) -> dict:
    from edgecc.ir.limits import load_arrays

    inputs = session.get_inputs()
    if len(paths) == 1 and paths[0].suffix == ".npz":
        return load_arrays(paths[0], "input data")
    if len(paths) != len(inputs):
        names = ", ".join(i.name for i in inputs)
        raise EdgeccError(f"the model has {len(inputs)} input(s) ({names}): give one "
                          f".npy per input, or one .npz keyed by input name; got {len(paths)} file(s)")
    feeds = {}
    for arg, p in zip(inputs, paths):
        if p.suffix != ".npy":
            raise EdgeccError(f"{p}: expected a .npy file (or a single .npz)")
        arrays = load_arrays(p, "input data")
        if list(arrays) != [""]:
            raise EdgeccError(f"{p.name}: expected a .npy file, got an archive")
        feeds[arg.name] = arrays[""]
    return feeds


def _random_feeds(session, seed: int = 0) -> dict:
    import numpy as np

    rng = np.random.default_rng(seed)
    feeds = {}
    for a in session.get_inputs():
        dt = np.dtype(a.type)
        if dt.kind == "f":
            feeds[a.name] = rng.standard_normal(a.shape).astype(dt)
        elif dt == np.bool_:
            feeds[a.name] = rng.random(a.shape) > 0.5
        else:
            info = np.iinfo(dt)
            feeds[a.name] = rng.integers(max(info.min, -128), min(info.max, 127) + 1, a.shape).astype(dt)
    return feeds


def _session(model: Path, dequantize: bool = False):
    from edgecc.runtime import Session

    return Session(model, dequantize_outputs=dequantize)


@click.command("run", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("model", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--input", "-i", "inputs", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="input data: one .npy per model input (in order), or one .npz keyed by input name "
                   "(none for a model without inputs)")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="save the outputs: .npy (one output) or .npz (keyed by output name)")
@click.option("--dequantize", is_flag=True, help="return quantized outputs as float32")
@click.option("-q", "--quiet", is_flag=True, help="No status line while compiling (outputs still print).")
def run_command(model: Path, inputs: tuple[Path, ...], output: Path | None, dequantize: bool,
                quiet: bool = False) -> None:
    """Run MODEL (.onnx, .tflite or .mlir) on the host with the Numba backend."""
    import numpy as np

    from edgecc.tools.status import status

    if output is not None:
        _check_output(output)
    with status(f"compiling {model.name} for the host (Numba compiles its kernels on the first run)", quiet):
        sess = _session(model, dequantize)
        feeds = _read_feeds(sess, inputs)
        outs = sess.run(None, feeds)
    names = [o.name for o in sess.get_outputs()]
    if output is None:
        for name, y in zip(names, outs):
            flat = np.asarray(y).reshape(-1)
            head = ", ".join(f"{v:.6g}" if flat.dtype.kind == "f" else str(v) for v in flat[:8])
            click.echo(f"{name}: {list(y.shape)} {y.dtype} [{head}{', ...' if flat.size > 8 else ''}]")
        return
    if output.suffix == ".npy" and len(outs) != 1:
        raise EdgeccError(f"the model has {len(outs)} outputs: save them to a .npz")
    try:
        if output.suffix == ".npz":
            np.savez(output, **dict(zip(names, outs)))
        else:
            np.save(output, outs[0])
    except OSError as e:
        raise EdgeccError(f"{output}: cannot write the outputs: {e.strerror or e}") from None
    click.echo(f"wrote {output}")


def _bench_emulated(model: Path, target: str, inputs: tuple[Path, ...], memory: str, kernels: str | None,
                    quantize: str, calib, io: str, input_shape: tuple[str, ...], seed: int,
                    as_json: bool) -> None:
    import json

    from edgecc.backends.c.emulate import emulate, machine_for
    from edgecc.backends.c.emulate.bench import read_samples, summary, table
    from edgecc.backends.c.verify_cli import _load

    machine_for(target)  # fail before importing the model
    module, _ = _load(model, quantize, calib, io, input_shape)
    result = emulate(module, target, memory=memory, kernels=kernels, samples=read_samples(module, inputs),
                     seed=seed)
    s = summary(result, model.name)
    click.echo(json.dumps(s, indent=2, sort_keys=True) if as_json else table(s))


def _check_output(output: Path) -> None:
    """Refuse an unusable --output before the (slow) first run, not after it."""
    if output.suffix not in (".npy", ".npz"):
        raise EdgeccError(f"{output}: the output file must end in .npy or .npz")
    parent = output.parent
    if not parent.is_dir():
        raise EdgeccError(f"--output {output}: folder '{parent}' does not exist"
                          + (" (it is a file)" if parent.exists() else ""))
    if output.is_dir():
        raise EdgeccError(f"--output {output}: is a directory")


@click.command("bench", context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.argument("model", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-t", "--target", default="host", show_default=True,
              help="host: Numba latency; a Cortex-M core: instructions per layer on its emulated machine")
@click.option("-n", "--runs", default=100, show_default=True, type=click.IntRange(1),
              help="timed runs (host)")
@click.option("--warmup", default=10, show_default=True, type=click.IntRange(0),
              help="untimed runs first (host)")
@click.option("--input", "-i", "inputs", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="input data (default: random)")
@click.option("--memory", default="auto", show_default=True, type=click.Choice(("auto", "ram", "speed")),
              help="RAM/speed trade-off on CMSIS-NN targets (emulated).")
@click.option("--kernels", type=click.Choice(("portable",)),
              help="edgecc's kernels even on Cortex-M (emulated).")
@click.option("--quantize", default="auto", show_default=True, type=click.Choice(("auto", "none", "int8")),
              help="As for the main command (emulated).")
@click.option("--calib", type=click.Path(exists=True, path_type=Path), metavar="DATA",
              help="Calibration inputs (FILE.npz or DIR of <input>.npy) (emulated).")
@click.option("--io", default="int", show_default=True, type=click.Choice(("int", "float")),
              help="Interface of quantized models (emulated).")
@click.option("--input-shape", multiple=True, metavar="NAME=DIMS",
              help="Fix a dynamic input shape (emulated).")
@click.option("--seed", default=0, show_default=True, help="Seed of the random input (emulated).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (emulated).")
def bench_command(model: Path, target: str, runs: int, warmup: int, inputs: tuple[Path, ...], memory: str,
                  kernels: str | None, quantize: str, calib, io: str, input_shape: tuple[str, ...], seed: int,
                  as_json: bool) -> None:
    """Latency of MODEL on the host (Numba backend, one thread, batch of the model), or with
    -t CORE the instructions per layer of its C build on the emulated Cortex-M."""
    import numpy as np

    if target != "host":
        from edgecc.targets import core

        core(target)  # an unknown (or empty) -t is named as such, before the emulator is looked up
        _bench_emulated(model, target, inputs, memory, kernels, quantize, calib, io, input_shape, seed,
                        as_json)
        return
    if as_json:
        raise EdgeccError("--json needs -t CORE (a Cortex-M core run on its emulated machine)")
    t0 = time.perf_counter()
    sess = _session(model)
    first = time.perf_counter() - t0
    feeds = _read_feeds(sess, inputs) if inputs else _random_feeds(sess)
    host = sess.host_module
    click.echo(f"model: {model.name}")
    hits, misses = host.cache_stats()
    click.echo(f"first call: {first * 1e3:.1f} ms (import + compile; lowering and kernels "
               f"{host.compile_seconds * 1e3:.1f} ms: {hits} kernel signatures loaded from Numba's disk "
               "cache, "
               f"{misses} compiled)")
    for _ in range(warmup):
        sess.run(None, feeds)
    times = np.empty(runs)
    for k in range(runs):
        t = time.perf_counter()
        sess.run(None, feeds)
        times[k] = time.perf_counter() - t
    ms = times * 1e3
    click.echo(f"latency over {runs} runs: median {np.median(ms):.3f} ms, "
               f"p90 {np.percentile(ms, 90):.3f} ms, "
               f"p99 {np.percentile(ms, 99):.3f} ms, min {ms.min():.3f} ms")
    if host.fallbacks:
        click.echo(f"ops on the numpy reference kernel: {', '.join(sorted(set(host.fallbacks)))}")


__all__ = ["bench_command", "run_command"]
