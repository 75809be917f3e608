"""Persistent state end to end: a causal conv1d stream (state = the last K-1 frames) plus a running
accumulator, run for 12 invocations in every executor.

* float: the ONNX model with ``--state s_in=s_out --state acc_in=acc_out`` against onnxruntime fed
  its own state outputs back (interpreter, Numba Session, the .tflite in TFLM, the emitted C);
* int8: the same stream built with quantized types, bit-exact with TFLM running the .tflite edgecc
  writes (resource variables + CALL_ONCE), in the integer interpreter, the read-back .tflite, the
  Session and the emitted C;
* int8 from the ONNX model by post-training quantization (calibration frames run as one stream),
  bit-exact with TFLM in the interpreter and the C.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import models  # noqa: E402

from edgecc.frontend import import_onnx  # noqa: E402
from edgecc.interp import initial_state, run  # noqa: E402
from edgecc.ir.diagnostics import EdgeccError  # noqa: E402

RTOL, ATOL = 1e-5, 1e-6


@pytest.fixture(scope="module")
def onnx_model():
    return models.conv_stream_onnx()


@pytest.fixture(scope="module")
def float_module(onnx_model):
    return import_onnx(onnx_model, state=models.STATE)


@pytest.fixture(scope="module")
def oracle(onnx_model):
    fr = models.frames()
    return fr, models.onnxruntime_stream(onnx_model, fr)


def _close(got, want):
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=RTOL, atol=ATOL)


def test_state_option_declares_states_and_removes_the_pairs(float_module):
    assert list(float_module.states) == ["s_in", "acc_in"]
    assert [a.name_hint for a in float_module.func.arguments] == ["x"]
    assert [v.name_hint for v in float_module.func.outputs] == ["y", "level"]
    assert all(not d.init.array.any() for d in float_module.states.values())


def test_interpreter_keeps_state_across_calls(float_module, oracle):
    fr, want = oracle
    st = initial_state(float_module)
    for x, w in zip(fr, want):
        _close(run(float_module, {"x": x}, st), w)
    # without a state dict every call starts from the initial values
    _close(run(float_module, {"x": fr[0]}), want[0])


def test_session_keeps_state_and_resets(tmp_path, onnx_model, oracle):
    import onnx

    from edgecc.runtime import Session

    path = tmp_path / "stream.onnx"
    onnx.save(onnx_model, str(path))
    fr, want = oracle
    sess = Session(path, state=models.STATE)
    assert [i.name for i in sess.get_inputs()] == ["x"]
    for x, w in zip(fr, want):
        _close(sess.run(None, {"x": x}), w)
    sess.reset()
    _close(sess.run(None, {"x": fr[0]}), want[0])
    with pytest.raises(EdgeccError, match="one sample per call"):
        sess.run(None, {"x": np.concatenate([fr[0], fr[1]])})


def test_numba_compile_module_refuses_state_with_a_pointer_to_session(float_module):
    from edgecc.backends.numba import compile_module

    with pytest.raises(EdgeccError, match="persistent state .*Session"):
        compile_module(float_module)


def test_c_verify_runs_samples_as_one_stream(float_module, runtime_lib, tmp_path):
    """``edgecc verify``'s reference carries the state from sample to sample like the testbench."""
    from edgecc.backends.c.verify import verify

    result = verify(float_module, inputs=8, workdir=tmp_path, runtime_lib=runtime_lib)
    assert result.passed and result.samples == 8, result.outputs


def test_float_tflite_keeps_state_in_tflm(float_module, oracle):
    pytest.importorskip("tflite_micro")
    from edgecc.backends.tflite.verify import run_tflm, tflm_interpreter
    from edgecc.backends.tflite.writer import to_bytes

    fr, want = oracle
    data = to_bytes(float_module)
    it = tflm_interpreter(data)
    for x, w in zip(fr, want):
        _close(run_tflm(data, [x], interpreter=it), w)
    it.reset()  # TFLM's reset: CALL_ONCE runs again, the stream restarts
    _close(run_tflm(data, [fr[0]], interpreter=it), want[0])


def test_tflite_write_read_write_is_a_fixed_point(float_module):
    from edgecc.backends.tflite.reader import read_tflite
    from edgecc.backends.tflite.writer import to_bytes

    data = to_bytes(float_module)
    back = read_tflite(data)
    assert {n: str(d.type) for n, d in back.states.items()} == {
        n: str(d.type) for n, d in float_module.states.items()}
    assert to_bytes(back) == data


def test_float_c_keeps_state(float_module, oracle, runtime_lib, tmp_path):
    from edgecc.backends.c.generate import emit
    from edgecc.backends.c.verify import build_testbench, run_testbench

    fr, want = oracle
    emit(float_module, tmp_path)
    header = (tmp_path / "model.h").read_text()
    assert "#define MODEL_STATE_SIZE 40u" in header and "void model_reset_state(void);" in header
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["state_bytes"] == 40
    assert report["ram_bytes"] == report["arena_bytes"] + 40
    assert [s["name"] for s in report["states"]] == ["s_in", "acc_in"]
    assert "persistent state outside the arena: 40 B" in (tmp_path / "report.md").read_text()
    exe = build_testbench(tmp_path, runtime_lib=runtime_lib)
    got = run_testbench(exe, float_module, [[x] for x in fr])  # one process: the state carries over
    for g, w in zip(got, want):
        _close(g, w)


# ------------------------------------------------------------------------------------------- int8
@pytest.fixture(scope="module")
def int8_stream():
    pytest.importorskip("tflite_micro")
    from edgecc.backends.tflite.verify import run_tflm, tflm_interpreter
    from edgecc.backends.tflite.writer import to_bytes

    module = models.conv_stream_int8()
    data = to_bytes(module)
    it = tflm_interpreter(data)
    fr = models.int8_frames()
    return module, data, fr, [run_tflm(data, [x], interpreter=it) for x in fr]


def _exact(got, want):
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and np.array_equal(g, w)


def test_int8_interpreter_bit_exact_with_tflm(int8_stream):
    module, _, fr, tflm = int8_stream
    st = initial_state(module)
    outs = [run(module, [x], st) for x in fr]
    for g, w in zip(outs, tflm):
        _exact(g, w)
    assert len({o[1].tobytes() for o in outs}) > 5  # the accumulator state really evolves


def test_int8_read_back_tflite_bit_exact(int8_stream):
    from edgecc.backends.tflite.reader import read_tflite

    _, data, fr, tflm = int8_stream
    back = read_tflite(data)
    st = initial_state(back)
    for x, w in zip(fr, tflm):
        _exact(run(back, [x], st), w)


def test_int8_session_bit_exact(int8_stream):
    from edgecc.runtime import Session

    module, _, fr, tflm = int8_stream
    sess = Session(module)
    for x, w in zip(fr, tflm):
        _exact(sess.run(None, {"x": x}), w)


def test_int8_c_bit_exact(int8_stream, runtime_lib, tmp_path):
    from edgecc.backends.c.generate import emit
    from edgecc.backends.c.verify import build_testbench, run_testbench

    module, _, fr, tflm = int8_stream
    emit(module, tmp_path)
    exe = build_testbench(tmp_path, runtime_lib=runtime_lib)
    for g, w in zip(run_testbench(exe, module, [[x] for x in fr]), tflm):
        _exact(g, w)


# ------------------------------------------------------------------------------------------- CLI
def _edgecc(*args, cwd):
    return subprocess.run([sys.executable, "-m", "edgecc", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd)


def test_cli_state_flag(tmp_path, onnx_model):
    import onnx

    onnx.save(onnx_model, str(tmp_path / "stream.onnx"))
    p = _edgecc("compile", "stream.onnx", "--state", "s_in=s_out", "--state", "acc_in=acc_out",
                "--emit", "tflite,c", "-o", "out", "-q", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "#define MODEL_NUM_STATES 2" in (tmp_path / "out" / "model.h").read_text()
    from edgecc.backends.tflite.reader import read_tflite

    tfl = next((tmp_path / "out").glob("*.tflite"))
    assert list(read_tflite(tfl).states) == ["s_in", "acc_in"]
    p = _edgecc("compile", "stream.onnx", "--state", "s_in=nope", "-o", "bad", "-q", cwd=tmp_path)
    assert p.returncode == 1 and "has no output 'nope'" in p.stderr and "Traceback" not in p.stderr, p.stderr


@pytest.mark.parametrize("pairs, msg", [
    ({"nope": "s_out"}, "has no input 'nope'"),
    ({"s_in": "acc_out"}, "input is tensor<1x3x2xf32> but output is tensor<1x4x1xf32>"),
    ({"s_in": "s_out", "acc_in": "s_out"}, "has no output 's_out'"),
])
def test_state_option_errors(onnx_model, pairs, msg):
    with pytest.raises(EdgeccError, match=msg.replace("[", r"\[")):
        import_onnx(onnx_model, state=pairs)


def test_parse_state_pairs():
    from edgecc.frontend.state import parse_state_pairs

    assert parse_state_pairs(("a=b", "c=d")) == {"a": "b", "c": "d"}
    for bad in (("a",), ("=b",), ("a=",), ("a=b", "a=c")):
        with pytest.raises(EdgeccError, match="--state"):
            parse_state_pairs(bad)


# ------------------------------------------------------------------------ ONNX -> PTQ int8 stream
@pytest.fixture(scope="module", params=["int8", "int16x8"])
def ptq_stream(request, onnx_model):
    """The ONNX stream quantized with calibration frames run as one stream (state carried)."""
    pytest.importorskip("tflite_micro")
    from edgecc.backends.tflite.verify import run_tflm, tflm_interpreter
    from edgecc.backends.tflite.writer import to_bytes
    from edgecc.quant.ptq import QuantizeConfig, quantize_module
    from edgecc.quant.schemes import quantize_array

    module = import_onnx(onnx_model, state=models.STATE)
    fr = models.frames()
    quantize_module(module, QuantizeConfig(io="int", scheme=request.param),
                    [{"x": x} for x in models.frames(40, seed=1)])
    e = module.func.arguments[0].type.element
    qfr = [quantize_array(x, e).astype(e.numpy) for x in fr]
    data = to_bytes(module)
    it = tflm_interpreter(data)
    return module, data, qfr, [run_tflm(data, [x], interpreter=it) for x in qfr]


def test_ptq_states_share_one_type_and_match_tflm(ptq_stream, oracle):
    module, _, qfr, tflm = ptq_stream
    storage = module.func.arguments[0].type.element.storage
    assert all(d.type.element.storage == storage for d in module.states.values())
    st = initial_state(module)
    outs = [run(module, [x], st) for x in qfr]
    for g, w in zip(outs, tflm):
        _exact(g, w)
    # and the integer stream follows the float one (a few output steps, or 2 % of the output
    # range where int8 weights dominate the error, as in int16x8)
    _, want = oracle
    for k, v in enumerate(module.func.outputs):
        e = v.type.element
        real = np.stack([(o[k].astype(np.float32) - e.zero_point) * e.scale for o in outs])
        f = np.stack([w[k] for w in want])
        assert np.abs(real - f).max() <= max(6 * e.scale, 0.02 * np.abs(f).max())


def test_ptq_tflite_in_litert_bit_exact(ptq_stream):
    """LiteRT runs the same resource variables and CALL_ONCE (and keeps them across invoke)."""
    interp = pytest.importorskip("ai_edge_litert.interpreter")
    _, data, qfr, tflm = ptq_stream
    it = interp.Interpreter(model_content=data, num_threads=1)
    it.allocate_tensors()
    names = [d["name"] for d in it.get_output_details()]
    for x, w in zip(qfr, tflm):
        it.set_tensor(it.get_input_details()[0]["index"], x)
        it.invoke()
        got = {d["name"]: it.get_tensor(d["index"]) for d in it.get_output_details()}
        assert len(got) == len(w) == len(names)
        _exact([got[n] for n in sorted(got)], [w[i] for i in np.argsort(names)])


def test_ptq_c_bit_exact(ptq_stream, runtime_lib, tmp_path):
    from edgecc.backends.c.generate import emit
    from edgecc.backends.c.verify import build_testbench, run_testbench

    module, _, qfr, tflm = ptq_stream
    emit(module, tmp_path)
    exe = build_testbench(tmp_path, runtime_lib=runtime_lib)
    for g, w in zip(run_testbench(exe, module, [[x] for x in qfr]), tflm):
        _exact(g, w)


# ------------------------------------------------------------------------- variable tensors
def _variable_tensor_model() -> bytes:
    """y = x + h where h is an int8 variable tensor (is_variable, not a graph input): the form the
    TFLite converter gives state that an in-place op owns. TFLM resets it to its zero point."""
    from edgecc.backends.tflite.schema import S
    from edgecc.backends.tflite.writer import AlignedBuilder, to_bytes
    from edgecc.dialects import nn
    from edgecc.ir import Builder, Func, Module, i8, tensor
    from edgecc.ir.types import quant

    qx, qh, qy = quant(i8, 0.05, -3), quant(i8, 0.1, 7), quant(i8, 0.2, 1)
    func = Func("main", [tensor((1, 4), qx), tensor((1, 4), qh)], ["x", "h"])
    b = Builder(func)
    y = b.create(nn.AddOp, *func.arguments, result_types=[tensor((1, 4), qy)]).result
    b.ret(y)
    model = S.ModelT.InitFromObj(S.Model.GetRootAs(to_bytes(Module(func, name="var")), 0))
    sg = model.subgraphs[0]
    h = sg.inputs[1]
    sg.tensors[h].isVariable = True
    sg.inputs = [sg.inputs[0]]
    model.signatureDefs[0].inputs = model.signatureDefs[0].inputs[:1]
    builder = AlignedBuilder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def test_variable_tensor_reads_as_state_like_tflm():
    pytest.importorskip("tflite_micro")
    from edgecc.backends.tflite.reader import read_tflite
    from edgecc.backends.tflite.verify import run_tflm, tflm_interpreter

    data = _variable_tensor_model()
    module = read_tflite(data)
    assert list(module.states) == ["h"] and int(module.states["h"].init.array.ravel()[0]) == 7
    it = tflm_interpreter(data)
    st = initial_state(module)
    for x in np.random.default_rng(3).integers(-128, 128, (4, 1, 4)).astype(np.int8):
        _exact(run(module, [x], st), run_tflm(data, [x], interpreter=it))


def test_broken_resource_variable_ops_are_one_line_errors(float_module):
    """A READ_VARIABLE of a tensor no VAR_HANDLE produced, a VAR_HANDLE without outputs, a CALL_ONCE of a
    missing subgraph: located one-line read errors, not tracebacks."""
    from edgecc.backends.tflite.reader import TFLiteReadError, read_tflite
    from edgecc.backends.tflite.schema import S
    from edgecc.backends.tflite.writer import AlignedBuilder, to_bytes

    def broken(edit):
        model = S.ModelT.InitFromObj(S.Model.GetRootAs(to_bytes(float_module), 0))
        edit(model)
        b = AlignedBuilder(1024)
        b.Finish(model.Pack(b), file_identifier=b"TFL3")
        return bytes(b.Output())

    def code(model, o):
        return model.operatorCodes[o.opcodeIndex].builtinCode

    def first(model, builtin):
        return next(o for o in model.subgraphs[0].operators if code(model, o) == builtin)

    def no_handle_output(m):
        first(m, S.BuiltinOperator.VAR_HANDLE).outputs = []

    def read_of_input(m):
        first(m, S.BuiltinOperator.READ_VARIABLE).inputs = [m.subgraphs[0].inputs[0]]

    def missing_init(m):
        first(m, S.BuiltinOperator.CALL_ONCE).builtinOptions.initSubgraphIndex = 7

    for edit, msg in ((no_handle_output, "expects 0 input"),
                      (read_of_input, "is not the output of a VAR_HANDLE"),
                      (missing_init, "CALL_ONCE names subgraph 7")):
        with pytest.raises(TFLiteReadError, match=msg) as info:
            read_tflite(broken(edit))
        assert "\n" not in str(info.value) and "operator #" in str(info.value)


def test_c_reset_state_restarts_the_stream(int8_stream, runtime_lib, tmp_path):
    """A firmware loop: model_invoke per frame, model_reset_state() half-way: the second half
    repeats the outputs of a fresh stream (the reference restarted from the initial state)."""
    from edgecc.backends.c.generate import emit

    module, _, fr, _ = int8_stream
    emit(module, tmp_path)
    (tmp_path / "main.c").write_text("""
#include <stdio.h>
#include "model.h"
int main(void) {
    int8_t x[MODEL_INPUT0_ELEMENTS], y[MODEL_OUTPUT0_ELEMENTS], acc[MODEL_OUTPUT1_ELEMENTS];
    for (int k = 0; fread(x, 1, sizeof x, stdin) == sizeof x; ++k) {
        if (k == 6) model_reset_state();
        if (model_invoke(x, y, acc) != EDGECC_OK) return 10;
        fwrite(y, 1, sizeof y, stdout);
        fwrite(acc, 1, sizeof acc, stdout);
    }
    return MODEL_NUM_STATES == 2 && MODEL_STATE_SIZE == 12u ? 0 : 11;
}
""")
    exe = tmp_path / "app"
    subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-I", str(tmp_path), "-I",
                    str(tmp_path / "edgecc/include"), str(tmp_path / "main.c"), str(tmp_path / "model.c"),
                    str(tmp_path / "model_weights.c"), str(runtime_lib), "-lm", "-o", str(exe)], check=True)
    proc = subprocess.run([str(exe)], input=b"".join(x.tobytes() for x in fr), capture_output=True)
    assert proc.returncode == 0, proc.returncode
    want = []
    for part in (fr[:6], fr[6:]):
        st = initial_state(module)
        want += [b"".join(o.tobytes() for o in run(module, [x], st)) for x in part]
    assert proc.stdout == b"".join(want)
