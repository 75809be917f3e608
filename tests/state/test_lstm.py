"""Float ``UNIDIRECTIONAL_SEQUENCE_LSTM`` read as unrolled nn ops whose h and c are persistent state:
10 invocations (state carried) against TFLM and LiteRT running the original file, and the .tflite
edgecc writes (resource variables) in TFLM, the Session and the emitted C against the reference."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import models  # noqa: E402

from edgecc.interp import initial_state, run  # noqa: E402

RTOL, ATOL = 1e-5, 1e-6
CALLS = 10


def _inputs(module, seed=0):
    rng = np.random.default_rng(seed)
    shape = module.func.arguments[0].type.shape
    return [rng.normal(0, 1, shape).astype(np.float32) for _ in range(CALLS)]


def _reference(module, xs):
    st = initial_state(module)
    return [run(module, [x], st)[0] for x in xs]


@pytest.fixture(scope="module")
def lstm():
    from edgecc.backends.tflite.reader import read_tflite

    data = models.lstm_tflite()
    module = read_tflite(data)
    xs = _inputs(module)
    return data, module, xs, _reference(module, xs)


def test_lstm_state_is_declared(lstm):
    _, module, _, ref = lstm
    assert {n: str(d.type) for n, d in module.states.items()} == {
        "h_state": "tensor<1x5xf32>", "c_state": "tensor<1x5xf32>"}
    assert not np.allclose(ref[0], ref[1])  # the state carries: same-shaped calls differ
    from edgecc.tools.inspect import inspect_text

    text = inspect_text(module, Path("lstm.tflite"))
    assert "output y: tensor<1x3x5xf32>" in text
    assert "state  h_state: tensor<1x5xf32> (kept across invocations)" in text


def test_lstm_matches_tflm_over_invocations(lstm):
    pytest.importorskip("tflite_micro")
    from edgecc.backends.tflite.verify import run_tflm, tflm_interpreter
    from edgecc.backends.tflite.writer import to_bytes

    data, module, xs, ref = lstm
    written = to_bytes(module)
    for model in (data, written):  # the original LSTM op, and edgecc's unrolled ops + resource variables
        it = tflm_interpreter(model)
        for x, want in zip(xs, ref):
            np.testing.assert_allclose(run_tflm(model, [x], interpreter=it)[0], want, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("variant", [{"cifg": True, "peephole": True}, {"peephole": True},
                                     {"time_major": True}], ids=["cifg-peephole", "peephole", "time-major"])
def test_lstm_variants_match_litert(variant):
    """TFLM's LSTM has no CIFG/peephole; LiteRT runs them (and keeps h, c across invoke)."""
    interp = pytest.importorskip("ai_edge_litert.interpreter")
    from edgecc.backends.tflite.reader import read_tflite

    data = models.lstm_tflite(**variant)
    module = read_tflite(data)
    it = interp.Interpreter(model_content=data, num_threads=1)
    it.allocate_tensors()
    xs = _inputs(module, seed=1)
    for x, want in zip(xs, _reference(module, xs)):
        it.set_tensor(it.get_input_details()[0]["index"], x)
        it.invoke()
        np.testing.assert_allclose(it.get_tensor(it.get_output_details()[0]["index"]), want, rtol=RTOL,
                                   atol=ATOL)


def test_lstm_session_and_c(lstm, runtime_lib, tmp_path):
    from edgecc.backends.c.generate import emit
    from edgecc.backends.c.verify import build_testbench, run_testbench
    from edgecc.runtime import Session

    _, module, xs, ref = lstm
    sess = Session(module)
    for x, want in zip(xs, ref):
        np.testing.assert_allclose(sess.run(None, {"x": x})[0], want, rtol=RTOL, atol=ATOL)
    emit(module, tmp_path)
    exe = build_testbench(tmp_path, runtime_lib=runtime_lib)
    for got, want in zip(run_testbench(exe, module, [[x] for x in xs]), ref):
        np.testing.assert_allclose(got[0], want, rtol=RTOL, atol=ATOL)
