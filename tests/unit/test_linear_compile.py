"""Compile-time steps that used to be quadratic in the number of ops (issue 14).

The lifetime-conflict sweep must agree with the pairwise definition and do no
pairwise tests; the benchmark itself is ``benchmarks/test_compile_time.py``.
"""

from __future__ import annotations

import numpy as np

from edgecc.analysis import memory
from edgecc.analysis.liveness import Buffer


def brute(bufs):
    return [[j for j in range(len(bufs)) if j != i and bufs[i].overlaps(bufs[j])] for i in range(len(bufs))]


def test_conflict_sweep_matches_pairwise_definition():
    rng = np.random.default_rng(14)
    for _ in range(50):
        n = int(rng.integers(1, 40))
        firsts = rng.integers(0, 30, n)
        bufs = [Buffer(i, 16, int(f), int(f + rng.integers(0, 8)), []) for i, f in enumerate(firsts)]
        assert memory._conflicts(bufs) == brute(bufs)


def test_conflict_sweep_does_no_pairwise_tests(monkeypatch):
    calls = []
    monkeypatch.setattr(Buffer, "overlaps", lambda self, other: calls.append(1) or True)
    chain = [Buffer(i, 32, i, i + 1, []) for i in range(20_000)]
    conflicts = memory._conflicts(chain)
    assert sum(map(len, conflicts)) == 2 * (len(chain) - 1) and not calls
