"""Hostile-but-valid models: their generated C builds warning-free and matches the reference (so does
``edgecc run``).

Models the compiler accepts although they are odd (no runtime inputs, constant
outputs, an input passed straight through, rank 6 to 8, a scalar, an empty
tensor) must give C that ``edgecc verify``'s flags (``-std=c99 -Wall -Wextra
-Werror``) accept, on the portable kernels (float and int8) and on CMSIS-NN
(int8, when ``EDGECC_CMSIS_NN`` names a checkout), and that computes what
the reference interpreter computes.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from .corpus import graph_model, init, node, vi
from .harness import run_cli

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is needed")
C = np.ones((2, 3), np.float32) * np.arange(6, dtype=np.float32).reshape(2, 3) - 2.5


def _models():
    return {
        "no-runtime-inputs": graph_model([node("Relu", ["c"], ["y"], "relu")], [], [vi("y", None)],
                                         [init("c", C)]),
        "constant-output": graph_model(
            [node("Relu", ["x"], ["y"], "relu"), node("Identity", ["c"], ["z"], "id")],
            [vi("x", [2, 3])], [vi("y", None), vi("z", None)], [init("c", C)]),
        "only-constant-outputs": graph_model([node("Identity", ["c"], ["z"], "id")], [vi("x", [2, 3])],
                                             [vi("z", None)], [init("c", C)]),
        "input-is-output": graph_model([node("Relu", ["x"], ["y"], "relu")], [vi("x", [2, 3])],
                                       [vi("x", [2, 3]), vi("y", None)]),
        "output-twice": graph_model([node("Relu", ["x"], ["y"], "relu")], [vi("x", [2, 3])],
                                    [vi("y", None), vi("y", None)]),
        "rank-6-broadcast": graph_model(
            [node("Add", ["x", "b"], ["y"], "add")], [vi("x", [1, 2, 1, 3, 2, 2])], [vi("y", None)],
            [init("b", np.linspace(-1, 1, 12, dtype=np.float32).reshape(1, 1, 1, 3, 2, 2))]),
        "rank-8": graph_model([node("Relu", ["x"], ["y"], "relu")], [vi("x", [1, 2, 1, 2, 1, 2, 1, 3])],
                              [vi("y", None)]),
        "rank-7-broadcast": graph_model(
            [node("Mul", ["x", "b"], ["y"], "mul")], [vi("x", [2, 1, 2, 1, 2, 1, 3])], [vi("y", None)],
            [init("b", np.full((1, 1, 1, 1, 1, 1, 3), 0.5, np.float32))]),
        "scalar": graph_model([node("Add", ["x", "b"], ["y"], "add")], [vi("x", [])], [vi("y", None)],
                              [init("b", np.array(1.5, np.float32))]),
    }


MODELS = _models()
INT8 = sorted(MODELS)


def _module(name: str):
    from edgecc.frontend import import_onnx

    return import_onnx(MODELS[name])


def _quantized(name: str):
    from edgecc.quant.ptq import QuantizeConfig, quantize_module

    module = _module(name)
    rng = np.random.default_rng(15)
    calib = [[rng.standard_normal(a.type.shape).astype(np.float32) for a in module.func.arguments]
             for _ in range(4)]
    quantize_module(module, QuantizeConfig(scheme="int8"), calib)
    return module


@pytest.mark.parametrize("name", sorted(MODELS))
def test_portable_float_builds_warning_free(name, tmp_path):
    from edgecc.backends.c.verify import verify

    r = verify(_module(name), inputs=1, workdir=tmp_path)
    assert r.passed, r.outputs


@pytest.mark.parametrize("name", INT8)
def test_portable_int8_builds_warning_free(name, tmp_path):
    from edgecc.backends.c.verify import verify

    r = verify(_quantized(name), inputs=1, workdir=tmp_path)
    assert r.passed, r.outputs


@pytest.mark.parametrize("name", INT8)
def test_cmsis_nn_int8_builds_warning_free(name, tmp_path):
    import os

    from edgecc.backends.c.verify import verify

    if not os.environ.get("EDGECC_CMSIS_NN"):
        pytest.skip("EDGECC_CMSIS_NN is not set (a CMSIS-NN checkout)")
    r = verify(_quantized(name), target="cortex-m55", kernels="cmsis-nn", inputs=1, workdir=tmp_path)
    assert r.passed, r.outputs


SLOW_RUN = [pytest.param(n, marks=pytest.mark.slow) for n in ("rank-8", "constant-output")]


@pytest.mark.parametrize("name", ["scalar", "no-runtime-inputs", *SLOW_RUN])
def test_edgecc_run_matches_the_reference(name, tmp_path):
    """The host path too: a rank-0 input kept its shape, a model without inputs needs no --input."""
    from edgecc.interp.reference import run as reference

    path = tmp_path / "m.onnx"
    path.write_bytes(MODELS[name].SerializeToString())
    module = _module(name)
    feeds = [np.full(a.type.shape, 1.25, np.float32) for a in module.func.arguments]
    args = []
    for i, x in enumerate(feeds):
        np.save(tmp_path / f"x{i}.npy", x)
        args += ["-i", str(tmp_path / f"x{i}.npy")]
    o = run_cli(["run", str(path), *args, "-o", str(tmp_path / "y.npz")], time_limit=120)
    assert o.code == 0, o.stderr
    got = np.load(tmp_path / "y.npz")
    want = reference(module, feeds)
    for v, w in zip(module.func.outputs, want):
        np.testing.assert_allclose(got[v.name_hint], w, rtol=1e-6)
        assert got[v.name_hint].shape == w.shape
