"""RAM of the generated C against TFLite Micro for the MLPerf Tiny int8 models.

``python -m edgecc.backends.c.ram_table [MODELS_DIR] [--measure-tflm] [--markdown]`` compiles
the four MLPerf Tiny int8 models (the QDQ ONNX files) with the C backend and prints
edgecc's total RAM -- the arena, which holds every activation, the model inputs and
outputs and all kernel scratch; there is no other state -- next to TFLM's arena total
(from the models' README, or measured with the ``tflite-micro`` interpreter with
``--measure-tflm``) for the portable kernels (``-t generic``) and for Cortex-M4 and
Cortex-M55 with CMSIS-NN (``--memory auto`` and ``speed``).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

#: TFLM arena totals from ../shared/models/mlperf_tiny/README.md (tflite-micro x86 reference kernels)
TFLM_ARENA = {"ad01": 3984, "kws": 24272, "resnet8": 55984, "vww": 103680}
FILES = {"ad01": ("ad01_int8_qdq.onnx", "ad01_int8.tflite"),
         "kws": ("kws_ref_model_qdq.onnx", "kws_ref_model.tflite"),
         "resnet8": ("pretrainedResnet_quant_qdq.onnx", "pretrainedResnet_quant.tflite"),
         "vww": ("vww_96_int8_qdq.onnx", "vww_96_int8.tflite")}
CONFIGS = (("generic", "auto"), ("cortex-m4", "auto"), ("cortex-m4", "speed"), ("cortex-m55", "auto"),
           ("cortex-m55", "speed"))


def default_models_dir() -> Path:
    here = Path(__file__).resolve()
    for parent in here.parents:
        cand = parent.parent / "shared" / "models" / "mlperf_tiny"
        if cand.is_dir():
            return cand
    return Path("models/mlperf_tiny")


def load(path: Path):
    from edgecc.frontend import import_onnx
    from edgecc.passes.manager import PassManager
    from edgecc.passes.registry import DEFAULT_PIPELINE

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module = import_onnx(path, optimize=False)
    PassManager.parse(DEFAULT_PIPELINE + ",qdq-fold").run(module)
    return module


def measure_tflm(path: Path) -> int | None:
    try:
        from edgecc.backends.tflite.verify import tflm_arena_bytes
    except ImportError:
        return None
    try:
        return int(tflm_arena_bytes(path)["total"])
    except Exception:
        return None


def table(models_dir: Path, measure: bool = False) -> list[dict]:
    from edgecc.backends.c.generate import build_model

    rows = []
    for fam, (onnx_name, tflite_name) in FILES.items():
        path = models_dir / onnx_name
        if not path.exists():
            continue
        module = load(path)
        tflm = TFLM_ARENA[fam]
        measured = measure_tflm(models_dir / tflite_name) if measure else None
        row = {"model": fam, "tflm": measured or tflm, "tflm_source": "measured" if measured else "README"}
        for target, memory in CONFIGS:
            m = build_model(module, target=target, memory=memory, testbench=False)
            row[f"{target}/{memory}"] = m.report["arena_bytes"]
            if target == "generic":
                row["flash"] = m.report["flash_data_bytes"]
                row["tflm_greedy_same_graph"] = m.report["memory_plan"]["tflm_greedy_arena_bytes"]
        rows.append(row)
    return rows


def format_table(rows: list[dict], markdown: bool = False) -> str:
    cols = ["model", "TFLM arena"] + [f"{t} {m}" for t, m in CONFIGS] + ["flash data"]
    lines = []
    if markdown:
        lines.append("| " + " | ".join(cols) + " |")
        lines.append("|---|" + "---:|" * (len(cols) - 1))
    else:
        lines.append("  ".join(f"{c:>20}" if i else f"{c:<8}" for i, c in enumerate(cols)))
    worst = 0.0
    for r in rows:
        cells = [r["model"], f"{r['tflm']:,}"]
        for t, m in CONFIGS:
            v = r[f"{t}/{m}"]
            ratio = v / r["tflm"]
            if m == "auto":
                worst = max(worst, ratio)
            cells.append(f"{v:,} ({ratio:.2f}x)")
        cells.append(f"{r['flash']:,}")
        if markdown:
            lines.append("| " + " | ".join(cells) + " |")
        else:
            lines.append("  ".join(f"{c:>20}" if i else f"{c:<8}" for i, c in enumerate(cells)))
    lines.append("")
    lines.append(f"edgecc RAM = arena (activations, I/O and scratch; nothing else). Worst ratio with "
                 f"--memory auto: {worst:.2f}x TFLM (goal: at most 0.60x).")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m edgecc.backends.c.ram_table", description=__doc__.split("\n")[0])
    ap.add_argument("models", nargs="?", type=Path, default=None, help="folder of the MLPerf Tiny models")
    ap.add_argument("--measure-tflm", action="store_true", help="measure TFLM's arena with tflite-micro")
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = ap.parse_args(argv)
    d = args.models or default_models_dir()
    rows = table(d, args.measure_tflm)
    if not rows:
        print(f"no MLPerf Tiny models in {d}", file=sys.stderr)
        return 1
    print(format_table(rows, args.markdown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
