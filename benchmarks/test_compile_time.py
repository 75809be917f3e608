"""Compile time of long graphs: a chain of N Relu nodes, ONNX -> C for a generic core.

The target (issue 14) is linear time: 10,000 nodes in at most 10 s. Not part of
the default test run::

    python -m pytest benchmarks/test_compile_time.py -q --benchmark-columns=median,min
    python benchmarks/test_compile_time.py 10000      # one timed compile, printed
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest


def relu_chain(n: int, path: Path) -> Path:
    import onnx
    from onnx import TensorProto, helper

    nodes = [helper.make_node("Relu", [f"t{i}"], [f"t{i + 1}"], name=f"relu{i}") for i in range(n)]
    g = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("t0", TensorProto.FLOAT, [1, 8])],
                          [helper.make_tensor_value_info(f"t{n}", TensorProto.FLOAT, None)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, path)
    return path


def compile_seconds(n: int) -> float:
    """Wall time of ``edgecc chain.onnx -t generic -o out/`` (a fresh process, as users run it)."""
    with tempfile.TemporaryDirectory() as d:
        model = relu_chain(n, Path(d) / "chain.onnx")
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "edgecc", str(model), "-t", "generic", "-o", str(Path(d) / "out"),
                        "-q"], check=True)
        return time.perf_counter() - t


@pytest.mark.parametrize("n", [1000, 4000, 10000])
def test_relu_chain_compile(benchmark, n):
    pytest.importorskip("pytest_benchmark")
    seconds = benchmark.pedantic(compile_seconds, args=(n,), rounds=1, iterations=1)
    if n == 10000:
        assert seconds <= 10, f"10,000-node chain took {seconds:.1f} s (target: 10 s)"


if __name__ == "__main__":
    for n in map(int, sys.argv[1:] or ["1000", "4000", "10000"]):
        print(f"{n:>6} nodes: {compile_seconds(n):.2f} s")
