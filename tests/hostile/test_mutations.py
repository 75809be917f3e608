"""Hypothesis-driven mutations of valid .onnx, .tflite and IR bytes: never an internal error.

A mutant may still be a valid model (exit 0); anything else must be exit 1 or
2 with one line and no traceback. The default run tries a few mutants per
format; ``-m slow`` runs many more.
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from .corpus import RELU_IR, _tflite_base, conv_model
from .harness import problems, run_cli

FAST = settings(max_examples=12, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
SLOW = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@functools.cache
def valid(fmt: str) -> bytes:
    if fmt == "onnx":
        return conv_model((1, 3, 8, 8), (4, 3, 3, 3), pads=[1, 1, 1, 1]).SerializeToString()
    if fmt == "tflite":
        return _tflite_base()
    return RELU_IR.encode()


@st.composite
def mutants(draw, fmt: str):
    data = bytearray(valid(fmt))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "set", "cut", "insert", "delete"]))
        i = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set" and data:
            data[i] = draw(st.sampled_from([0, 0x7F, 0x80, 0xFF, ord("9"), ord("<"), ord("[")]))
        elif kind == "cut":
            del data[i:]
        elif kind == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete":
            del data[i:i + draw(st.integers(1, 16))]
    return bytes(data)


def check(fmt: str, data: bytes, tools=("inspect", "compile")) -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        model = tmp / f"model.{'mlir' if fmt == 'ir' else fmt}"
        model.write_bytes(data)
        np.save(tmp / "x.npy", np.ones((1, 3, 8, 8), np.float32))
        for tool in tools:
            argv = (["inspect", model] if tool == "inspect" else
                    [model, "-o", tmp / "out", "--emit", "ir,c"] if tool == "compile" else
                    ["run", model, "--input", tmp / "x.npy"])
            o = run_cli(argv, cwd=tmp)
            bad = problems(o, accept_ok=True)
            assert not bad, f"{fmt} mutant {tool}: {bad}\n{o.stderr[-1500:]}\nbytes: {data!r}"[:4000]


@pytest.mark.parametrize("fmt", ["onnx", "tflite", "ir"])
def test_mutants_fail_cleanly(fmt):
    @FAST
    @given(mutants(fmt))
    def run(data):
        check(fmt, data)
    run()


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["onnx", "tflite", "ir"])
def test_many_mutants_fail_cleanly(fmt):
    @SLOW
    @given(mutants(fmt))
    def run(data):
        check(fmt, data, tools=("inspect", "compile", "run"))
    run()
