"""Device benchmark: arena and instructions per inference of the MLPerf Tiny int8 models on emulated
Cortex-M cores, for each memory mode, against TFLM's arena and the ``--memory speed`` build.

Run: ``python benchmarks/device.py [MODELS_DIR] [--cores cortex-m55,cortex-m4] [--models kws,vww]``
(needs ``arm-none-eabi-gcc``, ``qemu-system-arm`` and ``EDGECC_CMSIS_NN``; MODELS_DIR defaults to
``../shared/models/mlperf_tiny`` beside the clone). Instructions are guest instructions QEMU
executed for one ``model_run()`` (seed-0 random input), exact and repeatable; the estimate column is
the cost model's figure the compiler chose by. Also checks that every mode's outputs are
bit-exact with the speed build. Prints a Markdown table (the one in docs/backends/c.md).
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np

MODES = ("speed", "auto", "ram")


def main(argv: list[str] | None = None) -> None:
    from edgecc.backends.c.emulate import emulate
    from edgecc.backends.c.ram_table import FILES, TFLM_ARENA, default_models_dir, load
    from edgecc.backends.c.verify import random_samples

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models_dir", nargs="?", type=Path, default=None)
    ap.add_argument("--cores", default="cortex-m55,cortex-m4")
    ap.add_argument("--models", default=",".join(FILES))
    ap.add_argument("--modes", default=",".join(MODES))
    args = ap.parse_args(argv)
    root = args.models_dir or default_models_dir()
    print("| model | core | mode | arena B | arena / TFLM | instructions | / speed | estimated / speed |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for name in args.models.split(","):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module = load(root / FILES[name][0])
        samples = random_samples(module, 1, seed=0)
        for core in args.cores.split(","):
            speed = None
            for mode in args.modes.split(","):
                r = emulate(module, core, memory=mode, samples=samples)
                if speed is None:
                    speed = r
                for a, b in zip(r.outputs[0], speed.outputs[0]):
                    if not np.array_equal(a, b):
                        raise SystemExit(f"{name} {core}: --memory {mode} differs from the first mode")
                mc = r.report["memory_choice"]
                arena = r.report["arena_bytes"]
                print(f"| {name} | {core} | {mode} | {arena:,} | {arena / TFLM_ARENA[name]:.2f} | "
                      f"{r.run_instructions:,} | {r.run_instructions / speed.run_instructions:.3f} | "
                      f"{mc['estimated_instructions'] / mc['speed_estimated_instructions']:.3f} |", flush=True)


if __name__ == "__main__":
    main()
