"""Instructions per run of the bundled example and MLPerf Tiny models on emulated cores.

``python -m edgecc.backends.c.emulate.table [MODELS_DIR] [--cores cortex-m55,cortex-m4]`` runs
the bundled example (int8, its calibration data) and the MLPerf Tiny kws and resnet8 QDQ models
(from MODELS_DIR, default ``../shared/models/mlperf_tiny`` beside the clone) with
``--memory speed`` and ``auto`` on each core and prints a Markdown table of
``run_instructions`` (one sample, seed 0, per-layer marks in) with the arena bytes, and the
portable kernels' figures per core last: the table in docs/backends/c.md, section 9. Needs
``EDGECC_CMSIS_NN``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

MLPERF = {"MLPerf kws": "kws_ref_model_qdq.onnx", "MLPerf resnet8": "pretrainedResnet_quant_qdq.onnx"}


def models(models_dir: Path) -> dict:
    import edgecc.examples as ex
    from edgecc.backends.c.ram_table import load
    from edgecc.backends.c.verify_cli import _load

    out = {"bundled example (int8)": _load(ex.path(), "auto", ex.path("kws_calib.npz"), "int", ())[0]}
    for name, file in MLPERF.items():
        if (models_dir / file).is_file():
            out[name] = load(models_dir / file)
    return out


def main(argv: list[str] | None = None) -> None:
    from edgecc.backends.c.emulate import emulate
    from edgecc.backends.c.ram_table import default_models_dir
    from edgecc.backends.c.verify import random_samples

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models_dir", nargs="?", type=Path, default=None)
    ap.add_argument("--cores", default="cortex-m55,cortex-m4")
    args = ap.parse_args(argv)
    cores = args.cores.split(",")
    cols = [(c, m) for c in cores for m in ("speed", "auto")]
    head = " | ".join(f"{c} {m}" for c, m in cols)
    print(f"| model | {head} | portable kernels, {' / '.join(cores)} |")
    print("|---|" + "---:|" * (len(cols) + 1))
    for name, module in models(args.models_dir or default_models_dir()).items():
        samples = random_samples(module, 1, seed=0)
        cells = []
        for core, memory in cols:
            r = emulate(module, core, memory=memory, samples=samples)
            cells.append(f"{r.run_instructions:,} ({r.report['arena_bytes']:,} B)")
        portable = [emulate(module, c, kernels="portable", samples=samples).run_instructions for c in cores]
        cells.append(" / ".join(f"{n:,}" for n in portable))
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
