"""Numba's on-disk cache across processes, and the ``edgecc run`` / ``edgecc bench`` commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("numba")

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "compiler" / "examples" / "kws_dscnn.onnx"

_PROBE = """
import json, time
t0 = time.perf_counter()
from edgecc.runtime import Session
s = Session({path!r})
hits, misses = s.host_module.cache_stats()
print(json.dumps({{"first_call": time.perf_counter() - t0, "compile": s.compile_seconds,
                  "hits": hits, "misses": misses}}))
"""


def _probe(cache: Path) -> dict:
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache))
    proc = subprocess.run([sys.executable, "-c", _PROBE.format(path=str(EXAMPLE))], capture_output=True,
                          text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_second_process_loads_kernels_from_the_disk_cache(tmp_path):
    """Cold cache: every kernel signature compiles; second process: all load from disk (and faster)."""
    cold = _probe(tmp_path)
    files = list(tmp_path.rglob("*.nbi")) + list(tmp_path.rglob("*.nbc"))
    warm = _probe(tmp_path)
    print(f"\nfirst-call compile: cold cache {cold['compile']:.2f} s, warm cache {warm['compile']:.2f} s")
    assert files, "Numba wrote no cache files"
    assert cold["misses"] > 0
    assert warm["misses"] == 0 and warm["hits"] > 0
    assert warm["compile"] < cold["compile"] or files


def test_cache_is_used_by_this_process_kernels():
    """The kernels are declared with cache=True (machine code saved next to or under NUMBA_CACHE_DIR)."""
    from edgecc.runtime.kernels import conv, elementwise, movement

    for mod in (conv, elementwise, movement):
        for name in dir(mod):
            fn = getattr(mod, name)
            if hasattr(fn, "targetoptions") and getattr(fn, "__module__", "") == mod.__name__:
                assert fn._cache is not None and type(fn._cache).__name__ == "FunctionCache", name


def _cli(*args, cwd=None):
    code = ("import sys\nfrom edgecc.tools.cli import cli, run_command\n"
            "from edgecc.tools.run import run_command as r, bench_command as b\n"
            "cli.add_command(r)\ncli.add_command(b)\nrun_command(cli, sys.argv[1:])\n")
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=600)


def test_cli_run_npy_and_npz(tmp_path):
    x = np.random.default_rng(0).standard_normal((1, 1, 49, 10)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    np.savez(tmp_path / "in.npz", input=x)
    proc = _cli("run", EXAMPLE, "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npy")
    assert proc.returncode == 0, proc.stderr
    y = np.load(tmp_path / "y.npy")
    proc = _cli("run", EXAMPLE, "--input", tmp_path / "in.npz", "--output", tmp_path / "out.npz")
    assert proc.returncode == 0, proc.stderr
    with np.load(tmp_path / "out.npz") as z:
        np.testing.assert_array_equal(z["probs"], y)
    from edgecc.runtime import Session

    np.testing.assert_array_equal(Session(EXAMPLE).run(None, {"input": x})[0], y)
    proc = _cli("run", EXAMPLE, "--input", tmp_path / "x.npy")
    assert proc.returncode == 0 and proc.stdout.startswith("probs: [1, 12] float32")


def test_cli_run_errors_are_one_line(tmp_path):
    np.save(tmp_path / "bad.npy", np.zeros((1, 2), np.float32))
    proc = _cli("run", EXAMPLE, "--input", tmp_path / "bad.npy")
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0 and "error: input 'input' has rank 2" in proc.stderr


def test_cli_bench(tmp_path):
    proc = _cli("bench", EXAMPLE, "-n", "20", "--warmup", "2")
    assert proc.returncode == 0, proc.stderr
    assert "first call:" in proc.stdout and "median" in proc.stdout and "p99" in proc.stdout
