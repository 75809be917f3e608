"""Print the batch-1 latency table: edgecc (Numba) vs onnxruntime vs LiteRT, one thread each.

    python benchmarks/compare.py [--runs 300] [--markdown] [--only SUBSTRING] [--no-litert]
    python benchmarks/compare.py --first-call [--only SUBSTRING]

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
    args = p.parse_args(argv)
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
