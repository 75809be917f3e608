"""Integer ``UNIDIRECTIONAL_SEQUENCE_LSTM`` from the TFLite converter (a Keras LSTM keyword spotter, full
int8): read as one ``nn.lstm`` with h (qi8) and c (qi16) as persistent state, and bit-exact with TFLM
over 12 invocations with the state carried, then after a reset, in the reference interpreter, the
Session, the emitted C and the .tflite edgecc writes back."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import models  # noqa: E402

from edgecc.interp import initial_state, run  # noqa: E402

CALLS = 12
# the converted Keras model is made once per worker: keep the module on one
pytestmark = pytest.mark.xdist_group("keras-lstm")


@pytest.fixture(scope="module")
def kws(tmp_path_factory):
    for mod in ("tensorflow", "tf_keras", "tflite_micro"):
        if importlib.util.find_spec(mod) is None:
            pytest.skip(f"{mod} is not installed")
    from edgecc.backends.tflite.reader import read_tflite
    from edgecc.backends.tflite.verify import run_tflm, tflm_interpreter

    data = models.keras_lstm_int8(tmp_path_factory.mktemp("kws"))
    module = read_tflite(data)
    rng = np.random.default_rng(7)
    shape = module.func.arguments[0].type.shape
    xs = [rng.integers(-128, 128, shape).astype(np.int8) for _ in range(CALLS)]
    xs[5] = xs[4]  # the same input twice in a row: only the carried state tells the answers apart
    it = tflm_interpreter(data)
    tflm = [run_tflm(data, [x], interpreter=it)[0] for x in xs]
    return data, module, xs, tflm


def _exact(got, want):
    assert len(got) == len(want)
    for k, (g, w) in enumerate(zip(got, want)):
        assert g.dtype == w.dtype and np.array_equal(g, w), f"invocation {k}: {g} != {w}"


def test_converter_lstm_is_one_nn_lstm_over_persistent_state(kws):
    from edgecc.backends.tflite.verify import _op_names

    data, module, _, tflm = kws
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in _op_names(data)
    assert [op.name for op in module.func.ops if op.name.startswith("nn.")][:1] == ["nn.lstm"]
    kinds = sorted(d.type.element.kind for d in module.states.values())
    assert kinds == ["qi16", "qi8"]  # h in the output's int8 scale, c in a power-of-two int16 scale
    assert not np.array_equal(tflm[4], tflm[5])  # TFLM keeps h and c between invocations


def test_interpreter_bit_exact_with_tflm_over_invocations_and_after_reset(kws):
    from edgecc.backends.tflite.verify import run_tflm, tflm_interpreter

    data, module, xs, tflm = kws
    st = initial_state(module)
    _exact([run(module, [x], st)[0] for x in xs], tflm)
    st = initial_state(module)  # reset: a new stream from zero state, as a fresh TFLM interpreter
    fresh = tflm_interpreter(data)
    _exact([run(module, [x], st)[0] for x in xs[6:9]], [run_tflm(data, [x], interpreter=fresh)[0]
                                                        for x in xs[6:9]])


def test_session_bit_exact_and_reset(kws):
    from edgecc.runtime import Session

    _, module, xs, tflm = kws
    sess = Session(module)
    assert sess._host.fallbacks == []  # the LSTM runs as its Numba kernel
    name = module.func.arguments[0].name_hint
    _exact([sess.run(None, {name: x})[0] for x in xs], tflm)
    sess.reset()
    _exact([sess.run(None, {name: xs[0]})[0]], tflm[:1])


def test_c_bit_exact_over_invocations(kws, runtime_lib, tmp_path):
    from edgecc.backends.c.generate import emit
    from edgecc.backends.c.verify import build_testbench, run_testbench

    _, module, xs, tflm = kws
    emit(module, tmp_path)
    assert "edgecc_lstm(" in (tmp_path / "model.c").read_text()
    exe = build_testbench(tmp_path, runtime_lib=runtime_lib)
    _exact([o[0] for o in run_testbench(exe, module, [[x] for x in xs])], tflm)


def test_written_tflite_is_the_fused_op_and_bit_exact_in_tflm(kws):
    from edgecc.backends.tflite.reader import read_tflite
    from edgecc.backends.tflite.verify import _op_names, run_tflm, tflm_interpreter
    from edgecc.backends.tflite.writer import to_bytes

    _, module, xs, tflm = kws
    written = to_bytes(module)
    names = _op_names(written)
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in names and "VAR_HANDLE" not in names  # h, c: variable tensors
    assert to_bytes(read_tflite(written)) == written
    it = tflm_interpreter(written)
    _exact([run_tflm(written, [x], interpreter=it)[0] for x in xs], tflm)


# ------------------------------------------------------------ built directly: int16x8, time-major, batch
VARIANTS = {"int8-time-major-batch2": dict(time_major=True, batch=2, cell_power=-12),
            "int16x8": dict(wide=True), "int16x8-cell-2^-14": dict(wide=True, cell_power=-14)}


@pytest.fixture(scope="module", params=list(VARIANTS), ids=list(VARIANTS))
def built(request):
    pytest.importorskip("tflite_micro")
    from edgecc.backends.tflite.verify import run_tflm, tflm_interpreter
    from edgecc.backends.tflite.writer import to_bytes

    module = models.lstm_module(**VARIANTS[request.param])
    data = to_bytes(module)
    xs = models.lstm_inputs(module)
    it = tflm_interpreter(data)
    return module, data, xs, [run_tflm(data, [x], interpreter=it)[0] for x in xs]


def test_built_lstm_reference_session_and_c_bit_exact_with_tflm(built, runtime_lib, tmp_path):
    from edgecc.backends.c.generate import emit
    from edgecc.backends.c.verify import build_testbench, run_testbench
    from edgecc.runtime import Session

    module, _, xs, tflm = built
    assert len({t.tobytes() for t in tflm}) == CALLS
    st = initial_state(module)
    _exact([run(module, [x], st)[0] for x in xs], tflm)
    sess = Session(module)
    assert sess._host.fallbacks == []
    _exact([sess.run(None, {"x": x})[0] for x in xs], tflm)
    emit(module, tmp_path)
    exe = build_testbench(tmp_path, runtime_lib=runtime_lib)
    _exact([o[0] for o in run_testbench(exe, module, [[x] for x in xs])], tflm)


# ------------------------------------------------------------------------------------- refusals
def _patched(data: bytes, path: Path, patch) -> Path:
    """The converter's file with the LSTM operator's inputs changed (FlatBuffers object API)."""
    from edgecc.backends.tflite.schema import S
    from edgecc.backends.tflite.writer import AlignedBuilder

    model = S.ModelT.InitFromObj(S.Model.GetRootAs(data, 0))
    op = model.subgraphs[0].operators[0]
    op.inputs = patch([int(i) for i in op.inputs])
    b = AlignedBuilder(1024)
    b.Finish(model.Pack(b), file_identifier=b"TFL3")
    path.write_bytes(bytes(b.Output()))
    return path


@pytest.mark.parametrize("patch, why", [
    (lambda ins: [ins[0], -1] + ins[2:], "without input 1 (CIFG)"),
    (lambda ins: ins[:9] + [ins[12]] + ins[10:], "with peephole inputs"),
], ids=["cifg", "peephole"])
def test_lstm_tflm_cannot_run_is_a_one_line_error(kws, tmp_path, patch, why):
    import subprocess

    path = _patched(kws[0], tmp_path / "bad.tflite", patch)
    proc = subprocess.run([sys.executable, "-m", "edgecc", "inspect", str(path)], capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and why in proc.stderr, proc.stderr


def test_writer_refuses_lstm_state_tflm_cannot_reset_to():
    from edgecc.backends.tflite.writer import to_bytes
    from edgecc.ir.attrs import DenseElements
    from edgecc.ir.diagnostics import EdgeccError

    module = models.lstm_module()
    d = module.states["c"]
    module.states["c"].init = DenseElements(np.ones(d.type.shape, np.int16), d.type)
    with pytest.raises(EdgeccError, match="h and c must be states read only by the LSTM"):
        to_bytes(module)


def test_verify_cli_compares_the_c_with_tflm_as_one_stream(kws, tmp_path):
    """``edgecc verify`` runs the samples through one TFLM interpreter, as the testbench keeps the state."""
    import subprocess

    path = tmp_path / "kws.tflite"
    path.write_bytes(kws[0])
    proc = subprocess.run([sys.executable, "-m", "edgecc", "verify", str(path), "--inputs", "12"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    row = next(line for line in proc.stdout.splitlines() if line.startswith("StatefulPartitioned"))
    assert row.split()[-2:] == ["pass", "pass"]  # the reference and TFLM
