"""Print the batch-1 latency table: edgecc (Numba) vs onnxruntime vs LiteRT, one thread each.

    python benchmarks/compare.py [--runs 300] [--markdown] [--only SUBSTRING] [--no-litert]
    python benchmarks/compare.py --first-call [--only SUBSTRING]
    python benchmarks/compare.py --calibration [--samples 1000] [--only SUBSTRING]
    python benchmarks/compare.py --batch 64 [--runs 20] [--only SUBSTRING]

Rows: the MLPerf Tiny models of ``runners.ROWS`` whose files exist (float32 and
int8) and the float test models of ``bench_models.MODELS`` (built into a temporary
folder). Per row every runtime is built once and warmed up, then the runtimes are
called **alternately** (edgecc, onnxruntime, LiteRT, edgecc, ...) ``--runs`` times in
this one process, so load from other jobs on a shared machine hits all of them alike;
each cell is the median **CPU time of the calling thread** (ms; every runtime runs
single-threaded in the caller's thread). CPU time rather than wall time because on an
oversubscribed machine a call longer than a scheduler slice is preempted more often
than a short one, which inflates the wall time of the slower runtime by up to 3x
(measured at load 7 on 2 cores); idle, the two agree. The summary gives the median and worst
edgecc/onnxruntime ratio of the float rows and of the int8 rows. ``first call s`` is
the edgecc Session's construction plus first run in this process (kernels compiled or
loaded from Numba's disk cache).

``--calibration``: per float MLPerf row, wall seconds of ``collect_statistics`` over
``--samples`` random samples (batched host pass, including compiling the batched
program from a warm Numba cache) against one onnxruntime pass over the same samples
(batch-1 calls, and chunks of 64 where the graph's batch is dynamic); a 2-sample
calibration runs first, so Numba's one-time start-up in the process is not counted. ``--batch N``:
per-sample ms of one batch-N call of ``Session.run`` (batch-folded program) against
onnxruntime fed the same batch (dynamic-batch graphs) and N batch-1 calls of each.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _load(name: str):
    key = f"edgecc_bench_{name}"
    mod = sys.modules.get(key)
    if mod is None:
        spec = importlib.util.spec_from_file_location(key, Path(__file__).with_name(f"{name}.py"))
        mod = importlib.util.module_from_spec(spec)
        sys.modules[key] = mod
        spec.loader.exec_module(mod)
    return mod


runners = _load("runners")


def alternate(fns: dict[str, object], runs: int, warmup: int = 20) -> dict[str, float]:
    """Median seconds per runtime, calling the runtimes in turn ``runs`` times."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times = {k: np.empty(runs) for k in fns}
    for i in range(runs):
        for k, fn in fns.items():
            t0 = time.thread_time()
            fn()
            times[k][i] = time.thread_time() - t0
    return {k: float(np.median(t)) for k, t in times.items()}


def rows(only: str | None) -> list[tuple]:
    out = list(runners.ROWS)
    folder = Path(tempfile.mkdtemp(prefix="edgecc-bench-"))
    for label, path in _load("bench_models").write_all(folder).items():
        out.append((label, "float32", path, None))
    return [r for r in out if only is None or only.lower() in r[0].lower()]


def measure_rows(table: list[tuple], runs: int, litert: bool = True) -> list[tuple]:
    result = []
    for label, precision, onnx_path, tflite_path in table:
        if not Path(onnx_path).exists():
            continue
        fns, first = {}, None
        for rt in runners.RUNTIMES:
            if rt == "litert" and not litert:
                continue
            try:
                t0 = time.perf_counter()
                fn = runners.build(rt, precision, onnx_path, tflite_path)
                fn()
                if rt == "edgecc":
                    first = time.perf_counter() - t0
                fns[rt] = fn
            except (FileNotFoundError, ImportError):
                pass
        ms = {k: v * 1e3 for k, v in alternate(fns, runs).items()}
        result.append((label, precision, ms, first))
        print(f"measured {precision} {label}", file=sys.stderr)
    return result


_FIRST_CALL = """
import sys, time, warnings
warnings.simplefilter("ignore")
t0 = time.perf_counter()
import numpy as np, onnx, numba
from edgecc.runtime import Session
t1 = time.perf_counter()
s = Session(sys.argv[1])
a = s.get_inputs()[0]
s.run(None, {a.name: np.zeros(a.shape, a.type)})
t2 = time.perf_counter()
print(f"{t1 - t0:.3f} {t2 - t1:.3f} {s.compile_seconds:.3f}")
"""


def first_calls(table: list[tuple]) -> list[tuple]:
    """Per float row, in a fresh process (run twice, so the second has a warm disk cache): seconds to import
    numpy/onnx/numba/edgecc, then Session construction + first run, of which backend compile."""
    import subprocess

    out = []
    for label, precision, onnx_path, _ in table:
        if precision != "float32" or not Path(onnx_path).exists():
            continue
        for _ in range(2):
            r = subprocess.run([sys.executable, "-c", _FIRST_CALL, str(onnx_path)], capture_output=True, text=True,
                               check=True)
        out.append((label, *map(float, r.stdout.split())))
    return out


def _ort(onnx_path: Path):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.log_severity_level = 3
    sess = ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])
    dynamic = not isinstance(sess.get_inputs()[0].shape[0], int)
    return sess, sess.get_inputs()[0].name, dynamic


def calibration_rows(table: list[tuple], samples: int) -> list[tuple]:
    """(label, edgecc s, ort batch-1 pass s, ort batch-64 pass s or None) per float MLPerf row."""
    import warnings

    from edgecc.frontend import import_onnx
    from edgecc.quant.calibrate import collect_statistics, load_calibration

    out = []
    for label, precision, onnx_path, tflite_path in table:
        if precision != "float32" or tflite_path is None or not Path(onnx_path).exists():
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module = import_onnx(onnx_path)
        shape = module.func.arguments[0].type.shape
        x = np.random.default_rng(0).standard_normal((samples, *shape[1:])).astype(np.float32)
        data = load_calibration(x, module)
        collect_statistics(module, data[:2], progress=False)  # Numba's first use in this process
        t0 = time.perf_counter()
        collect_statistics(module, data, progress=False)
        ours = time.perf_counter() - t0
        sess, name, dynamic = _ort(onnx_path)
        t0 = time.perf_counter()
        for i in range(samples):
            sess.run(None, {name: x[i:i + 1]})
        ort1 = time.perf_counter() - t0
        ort64 = None
        if dynamic:
            t0 = time.perf_counter()
            for i in range(0, samples, 64):
                sess.run(None, {name: x[i:i + 64]})
            ort64 = time.perf_counter() - t0
        out.append((label, ours, ort1, ort64))
        print(f"calibrated {label}", file=sys.stderr)
    return out


def batch_rows(table: list[tuple], n: int, runs: int) -> list[tuple]:
    """(label, precision, per-sample ms of: edgecc batch n, edgecc n x batch 1, ort batch n, ort n x 1)."""
    import warnings

    from edgecc.runtime import Session

    out = []
    for label, precision, onnx_path, tflite_path in table:
        src = onnx_path if precision == "float32" else tflite_path
        if src is None or not Path(src).exists() or not Path(onnx_path).exists():
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sess = Session(src)
        arg = sess.get_inputs()[0]
        if arg.shape[0] != 1:
            continue
        x = runners._feed((n, *arg.shape[1:]), arg.type)
        ort, name, dynamic = _ort(onnx_path)
        xo = x.astype({"tensor(int8)": np.int8, "tensor(uint8)": np.uint8}.get(ort.get_inputs()[0].type,
                                                                              np.float32))
        fns = {"edgecc batch": lambda: sess.run(None, {arg.name: x}),
               "edgecc x1": lambda: [sess.run(None, {arg.name: x[i:i + 1]}) for i in range(n)],
               "ort x1": lambda: [ort.run(None, {name: xo[i:i + 1]}) for i in range(n)]}
        if dynamic:
            fns["ort batch"] = lambda: ort.run(None, {name: xo})
        ms = {k: v * 1e3 / n for k, v in alternate(fns, runs, warmup=2).items()}
        out.append((label, precision, ms))
        print(f"batched {precision} {label}", file=sys.stderr)
    return out


def summary(result: list[tuple]) -> list[str]:
    lines = []
    for prec in ("float32", "int8"):
        r = [ms["edgecc"] / ms["onnxruntime"] for _, p, ms, _ in result
             if p == prec and "edgecc" in ms and "onnxruntime" in ms]
        if r:
            lines.append(f"{prec}: edgecc/onnxruntime median {np.median(r):.2f}, worst {max(r):.2f} "
                         f"over {len(r)} models")
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=300)
    p.add_argument("--markdown", action="store_true", help="print a Markdown table")
    p.add_argument("--only", help="rows whose label contains this (case-insensitive)")
    p.add_argument("--no-litert", action="store_true")
    p.add_argument("--first-call", action="store_true",
                   help="instead: fresh-process first-call times with a warm disk cache")
    p.add_argument("--calibration", action="store_true",
                   help="instead: calibration time of --samples samples vs one onnxruntime pass")
    p.add_argument("--samples", type=int, default=1000)
    p.add_argument("--batch", type=int, default=0, help="instead: per-sample time of batch-N runs")
    args = p.parse_args(argv)
    if args.calibration:
        print(f"| model | edgecc calibration s ({args.samples} samples) | ort pass s (batch 1) | ratio | "
              "ort pass s (batch 64) | ratio |")
        print("|---|---:|---:|---:|---:|---:|")
        for label, ours, o1, o64 in calibration_rows(rows(args.only), args.samples):
            b = "n/a | n/a" if o64 is None else f"{o64:.3f} | {ours / o64:.1f}"
            print(f"| {label} | {ours:.2f} | {o1:.3f} | {ours / o1:.1f} | {b} |")
        return 0
    if args.batch:
        n = args.batch
        print(f"| model | precision | edgecc batch {n} ms/sample | edgecc {n} x batch 1 "
              f"| onnxruntime batch {n} | onnxruntime {n} x batch 1 | edgecc batch / ort batch |")
        print("|---|---|---:|---:|---:|---:|---:|")
        for label, prec, ms in batch_rows(rows(args.only), n, max(args.runs // 15, 3)):
            ours, ob = ms["edgecc batch"], ms.get("ort batch")
            ort_b, r = ("n/a", "n/a") if ob is None else (f"{ob:.3f}", f"{ours / ob:.2f}")
            print(f"| {label} | {prec} | {ours:.3f} | {ms['edgecc x1']:.3f} | {ort_b} | "
                  f"{ms['ort x1']:.3f} | {r} |")
        return 0
    if args.first_call:
        print("| model | imports s | Session + first run s | of which backend compile s |")
        print("|---|---:|---:|---:|")
        for label, imp, first, comp in first_calls(rows(args.only)):
            print(f"| {label} | {imp:.2f} | {first:.2f} | {comp:.2f} |")
        return 0
    result = measure_rows(rows(args.only), args.runs, not args.no_litert)

    def f(v):
        return "n/a" if v is None else f"{v:.3f}"

    def ratio(a, b):
        return "n/a" if a is None or b is None else f"{a / b:.2f}"

    head = ["model", "precision", "edgecc ms", "onnxruntime ms", "LiteRT ms", "edgecc/ort", "edgecc/LiteRT",
            "first call s"]
    body = [[label, prec, f(ms.get("edgecc")), f(ms.get("onnxruntime")), f(ms.get("litert")),
             ratio(ms.get("edgecc"), ms.get("onnxruntime")), ratio(ms.get("edgecc"), ms.get("litert")),
             "n/a" if c is None else f"{c:.2f}"] for label, prec, ms, c in result]
    if args.markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "|".join(["---"] * 2 + ["---:"] * (len(head) - 2)) + "|")
        for r in body:
            print("| " + " | ".join(r) + " |")
    else:
        widths = [max(len(str(x)) for x in col) for col in zip(head, *body)]
        for r in [head] + body:
            print("  ".join(str(x).ljust(w) if i < 2 else str(x).rjust(w) for i, (x, w) in
                            enumerate(zip(r, widths))))
    print("\n".join(summary(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
