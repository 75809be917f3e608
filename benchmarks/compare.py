"""Print the batch-1 latency table: edgecc (Numba) vs onnxruntime vs LiteRT, one thread each.

    python benchmarks/compare.py [--runs 200] [--repeats 5] [--markdown]

For every row of ``runners.ROWS`` whose model files exist: the median latency
(ms) of each runtime (lowest median over ``--repeats`` blocks of ``--runs``
calls, to resist noise on a shared machine) and the ratios edgecc/onnxruntime
and edgecc/LiteRT (below 1: edgecc is faster). The first-call compile time of
the edgecc Session is printed separately.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

_spec = importlib.util.spec_from_file_location("edgecc_bench_runners", Path(__file__).with_name("runners.py"))
runners = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = runners
_spec.loader.exec_module(runners)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=200)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = p.parse_args(argv)
    rows = []
    for label, precision, onnx_path, tflite_path in runners.ROWS:
        if not Path(onnx_path).exists():
            continue
        ms: dict[str, float | None] = {}
        compile_s = None
        for rt in runners.RUNTIMES:
            try:
                t0 = time.perf_counter()
                fn = runners.build(rt, precision, onnx_path, tflite_path)
                if rt == "edgecc":
                    compile_s = time.perf_counter() - t0
                ms[rt] = runners.measure(fn, args.runs, 20, args.repeats) * 1e3
            except (FileNotFoundError, ImportError):
                ms[rt] = None
        rows.append((label, precision, ms, compile_s))
        print(f"measured {precision} {label}", file=sys.stderr)

    def f(v):
        return "n/a" if v is None else f"{v:.3f}"

    def ratio(a, b):
        return "n/a" if a is None or b is None else f"{a / b:.2f}"

    head = ["model", "precision", "edgecc ms", "onnxruntime ms", "LiteRT ms", "edgecc/ort", "edgecc/LiteRT",
            "edgecc first call s"]
    body = [[label, prec, f(ms["edgecc"]), f(ms["onnxruntime"]), f(ms["litert"]),
             ratio(ms["edgecc"], ms["onnxruntime"]), ratio(ms["edgecc"], ms["litert"]),
             "n/a" if c is None else f"{c:.2f}"] for label, prec, ms, c in rows]
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
