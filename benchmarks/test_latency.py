"""pytest-benchmark suite: batch-1 latency of edgecc (Numba) vs onnxruntime vs LiteRT, one thread.

Not part of the default test run (``benchmarks/`` is outside ``testpaths``)::

    python -m pytest benchmarks -q --benchmark-columns=median,iqr,min --benchmark-sort=name

``python benchmarks/compare.py`` prints the ratio table instead.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("edgecc_bench_runners", Path(__file__).with_name("runners.py"))
runners = sys.modules.get(_spec.name)
if runners is None:
    runners = importlib.util.module_from_spec(_spec)
    sys.modules[_spec.name] = runners
    _spec.loader.exec_module(runners)

pytest.importorskip("pytest_benchmark")

PARAMS = [pytest.param(row, rt, id=f"{row[1]}-{row[2].stem}-{rt}")
          for row in runners.ROWS for rt in runners.RUNTIMES]


@pytest.mark.parametrize("row, runtime", PARAMS)
def test_latency(benchmark, row, runtime):
    label, precision, onnx_path, tflite_path = row
    try:
        fn = runners.build(runtime, precision, onnx_path, tflite_path)
    except (FileNotFoundError, ImportError) as e:
        pytest.skip(f"{runtime} has no model for {label} {precision}: {e}")
    benchmark.group = f"{precision} {label}"
    benchmark.extra_info.update(runtime=runtime, precision=precision, model=label)
    for _ in range(20):
        fn()
    benchmark.pedantic(fn, rounds=200, iterations=1, warmup_rounds=10)
