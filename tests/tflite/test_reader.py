"""read_tflite: MLPerf Tiny .tflite files -> nn IR; numerics against LiteRT/TFLM; malformed files."""

from __future__ import annotations

import numpy as np
import pytest

from edgecc.backends import tflite
from edgecc.backends.tflite import verify as V
from edgecc.backends.tflite.reader import TFLiteReadError
from edgecc.ir.diagnostics import EdgeccError

INT8 = ["ad01_int8", "kws_ref_model", "pretrainedResnet_quant", "vww_96_int8"]
FLOAT = ["ad01_fp32", "kws_ref_model_float32", "pretrainedResnet", "vww_96_float"]
HYBRID = {"kws_ref_model_float32"}  # CONV_2D filters stored as int8 (LiteRT runs them hybrid)


def _ops(module) -> set[str]:
    return {op.name for op in module.ops}


@pytest.mark.parametrize("name", INT8 + FLOAT)
def test_reads_and_verifies(shared_models, name):
    module = tflite.read_tflite(shared_models / f"{name}.tflite")
    module.verify()
    assert not any(n.startswith("onnx.") for n in _ops(module))
    arg = module.func.arguments[0]
    quantized = name in INT8
    assert arg.type.is_quantized == quantized
    for op in module.ops:
        if op.name in ("nn.conv2d", "nn.depthwise_conv2d", "nn.fully_connected"):
            w = op.weight.type.element
            assert w.kind == ("qi8" if quantized else "f32")
            if quantized and op.name != "nn.fully_connected":
                assert w.per_axis and w.axis == (0 if op.name == "nn.conv2d" else 3)
            if quantized and op.bias is not None:
                assert op.bias.type.element.kind == "i32"


def test_int8_reads_quantization_parameters(shared_models):
    module = tflite.read_tflite(shared_models / "kws_ref_model.tflite")
    e = module.func.arguments[0].type.element
    assert (e.kind, e.zero_point) == ("qi8", 83) and abs(e.scale - 0.5847029) < 1e-6
    out = module.func.outputs[0].type.element
    assert (out.zero_point, out.scale) == (-128, 1 / 256)
    first = next(op for op in module.ops if op.name == "nn.conv2d")
    assert first.attr("strides") == (2, 2) and first.attr("activation") == "relu"
    assert first.attr("pads") == (4, 1, 5, 1)  # SAME for 49x10, kernel 10x4, stride 2


@pytest.mark.parametrize("name", FLOAT)
def test_float_matches_litert(shared_models, name):
    """The reference interpreter on the read IR vs LiteRT on the file (hybrid: on our rewrite)."""
    from edgecc.interp.reference import run

    path = shared_models / f"{name}.tflite"
    module = tflite.read_tflite(path)
    target = tflite.to_bytes(module) if name in HYBRID else path
    for feeds in V.random_inputs(path, 3, seed=1):
        V.compare_float(run(module, feeds), V.run_litert(target, feeds), rtol=1e-5)


def test_hybrid_kws_is_close_to_the_original(shared_models):
    """LiteRT's hybrid CONV_2D quantizes activations on the fly: only ~1e-2 agreement."""
    from edgecc.interp.reference import run

    path = shared_models / "kws_ref_model_float32.tflite"
    module = tflite.read_tflite(path)
    assert all(op.weight.type.element.kind == "f32" for op in module.ops if op.name == "nn.conv2d")
    feeds = V.random_inputs(path, 1, seed=2)[0]
    V.compare_float(run(module, feeds), V.run_litert(path, feeds), rtol=1e-1)


@pytest.mark.parametrize("name", INT8)
def test_int8_round_trip_is_bit_exact_in_tflm(shared_models, name):
    """read -> write gives a file that TFLM runs exactly like the original (20 random inputs)."""
    path = shared_models / f"{name}.tflite"
    rewritten = tflite.to_bytes(tflite.read_tflite(path))
    a, b = V.tflm_interpreter(path), V.tflm_interpreter(rewritten)
    for feeds in V.random_inputs(path, 20, seed=3):
        V.assert_bit_exact(V.run_tflm(rewritten, feeds, interpreter=b), V.run_tflm(path, feeds, interpreter=a))
    assert V.tflm_arena_bytes(rewritten)["total"] <= V.tflm_arena_bytes(path)["total"]


def _integer_interpreter():
    """edgecc's integer reference interpreter, or a skip reason naming what is missing."""
    try:
        from edgecc.interp.reference import run
    except ImportError as e:  # pragma: no cover
        return None, f"edgecc.interp.reference is missing ({e})"
    from edgecc.ir.types import QuantizedType, TensorType, i8, quant
    from edgecc.ir.core import Func, Module
    from edgecc.ir.builder import Builder
    from edgecc.dialects.nn import ReluOp

    qt = TensorType((1, 4), quant(i8, 0.1, 0))
    f = Func("main", [qt], ["x"])
    b = Builder(f)
    b.ret(b.create(ReluOp, f.arguments[0], result_types=[qt]).result)
    try:
        run(Module(f), [np.zeros((1, 4), np.int8)])
    except EdgeccError as e:
        return None, ("edgecc.interp.reference.run does not execute quantized graphs yet "
                      f"(integer reference semantics, helper-7's compiler/interp/quantized): {e.message}")
    assert isinstance(qt.element, QuantizedType)
    return run, None


@pytest.mark.parametrize("name", INT8)
def test_int8_reference_interpreter_is_bit_exact_with_tflm(shared_models, name):
    """Acceptance: the read IR through edgecc's integer interpreter equals TFLM (20 inputs)."""
    run, reason = _integer_interpreter()
    if run is None:
        pytest.skip(reason)
    path = shared_models / f"{name}.tflite"
    module = tflite.read_tflite(path)
    it = V.tflm_interpreter(path)
    for feeds in V.random_inputs(path, 20, seed=4):
        V.assert_bit_exact(run(module, feeds), V.run_tflm(path, feeds, interpreter=it))


# --------------------------------------------------------------------------- malformed files
def _read_error(data) -> str:
    with pytest.raises(TFLiteReadError) as info:
        tflite.read_tflite(data)
    text = info.value.format()
    assert "\n" not in text
    return text


def test_truncated_files_are_clean_errors(shared_models):
    data = (shared_models / "kws_ref_model.tflite").read_bytes()
    for cut in (0, 5, 8, 64, 1000, len(data) // 2, len(data) - 100):
        text = _read_error(data[:cut])
        assert "<tflite bytes>" in text
        assert "truncated" in text or "not a TFLite file" in text or "outside" in text


def test_wrong_identifier_names_the_file(tmp_path):
    path = tmp_path / "model.tflite"
    path.write_bytes(b"\x10\x00\x00\x00TFL2" + bytes(64))
    text = _read_error(path)
    assert str(path) in text and "wrong file identifier" in text and "TFL3" in text


def _tiny_model() -> bytes:
    from edgecc.dialects.nn import ReshapeOp
    from edgecc.ir.builder import Builder
    from edgecc.ir.core import Func, Module
    from edgecc.ir.types import tensor

    f = Func("main", [tensor((1, 4))], ["x"])
    b = Builder(f)
    b.ret(b.create(ReshapeOp, f.arguments[0], shape=[2, 2]).result)
    return tflite.to_bytes(Module(f))


def _edit(data: bytes, fn) -> bytes:
    """Unpack with the object API, change it, repack (as a corrupt writer would)."""
    import flatbuffers

    from edgecc.backends.tflite.schema import S

    m = S.ModelT.InitFromObj(S.Model.GetRootAs(data, 0))
    fn(m)
    b = flatbuffers.Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def test_buffer_index_out_of_range():
    def corrupt(m):
        m.subgraphs[0].tensors[1].buffer = 99
    text = _read_error(_edit(_tiny_model(), corrupt))
    assert "refers to buffer 99" in text


def test_unknown_opcode():
    def corrupt(m):
        m.operatorCodes[0].builtinCode = 999
    text = _read_error(_edit(_tiny_model(), corrupt))
    assert "unknown to this TFLite schema" in text and "999" in text


def test_opcode_index_and_tensor_index_out_of_range():
    def bad_opcode(m):
        m.subgraphs[0].operators[0].opcodeIndex = 7
    assert "opcode index 7" in _read_error(_edit(_tiny_model(), bad_opcode))

    def bad_tensor(m):
        op = m.subgraphs[0].operators[0]
        op.inputs = [42] + list(op.inputs[1:])
    assert "refers to tensor 42" in _read_error(_edit(_tiny_model(), bad_tensor))


def test_unsupported_builtin_names_the_operator():
    from edgecc.backends.tflite.schema import S

    def to_l2norm(m):
        m.operatorCodes[0].builtinCode = S.BuiltinOperator.L2_NORMALIZATION
        m.operatorCodes[0].deprecatedBuiltinCode = S.BuiltinOperator.L2_NORMALIZATION
    text = _read_error(_edit(_tiny_model(), to_l2norm))
    assert "operator #0 (L2_NORMALIZATION)" in text and "no nn equivalent" in text


def test_missing_file_is_a_clean_error(tmp_path):
    text = _read_error(tmp_path / "absent.tflite")
    assert "absent.tflite" in text and "cannot read" in text


def test_reader_errors_are_edgecc_errors():
    assert issubclass(TFLiteReadError, EdgeccError)
