"""emit/to_bytes: test models -> .tflite that LiteRT and TFLM run like onnxruntime; file layout."""

from __future__ import annotations

import importlib.util
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from edgecc.backends import tflite
from edgecc.backends.tflite import verify as V
from edgecc.backends.tflite.schema import S
from edgecc.ir.diagnostics import EdgeccError

_spec = importlib.util.spec_from_file_location("edgecc_tests_frontend_models",
                                               Path(__file__).resolve().parents[1] / "frontend/models.py")
models = sys.modules.get(_spec.name)
if models is None:
    models = importlib.util.module_from_spec(_spec)
    sys.modules[_spec.name] = models
    _spec.loader.exec_module(models)

EXAMPLE = "kws_example"
NAMES = sorted(models.MODELS) + [EXAMPLE]


def _onnx(name):
    if name == EXAMPLE:
        from edgecc import examples

        return str(examples.path())
    return models.MODELS[name]()


def _module(model):
    from edgecc.frontend import import_onnx

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return import_onnx(model)


def _unpack(data: bytes):
    return S.ModelT.InitFromObj(S.Model.GetRootAs(data, 0))


@pytest.mark.parametrize("name", NAMES)
def test_float32_runs_in_litert_and_tflm_like_onnxruntime(name):
    model = _onnx(name)
    module = _module(model)
    data = tflite.to_bytes(module, variant="float32")
    feeds = models.random_feeds(module)
    want = models.onnxruntime_outputs(model, feeds)
    V.compare_float(V.run_litert(data, feeds), want, rtol=1e-5)
    V.compare_float(V.run_tflm(data, feeds), want, rtol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_deterministic_and_write_read_write_identical(name):
    module = _module(_onnx(name))
    first = tflite.to_bytes(module)
    assert tflite.to_bytes(module) == first
    assert tflite.to_bytes(tflite.read_tflite(first)) == first


@pytest.mark.parametrize("name", ["ds_cnn_kws_op17", "resnet_block", "lstm_forward", "opset_variants_op17",
                                  "resize_upsampler_op17", EXAMPLE])
def test_fp16_weights_run_in_litert(name):
    model = _onnx(name)
    module = _module(model)
    data = tflite.to_bytes(module, variant="fp16")
    m = _unpack(data)
    types = {t.type for t in m.subgraphs[0].tensors if t.buffer}
    assert S.TensorType.FLOAT16 in types and S.TensorType.FLOAT32 not in types - {S.TensorType.INT32}
    feeds = models.random_feeds(module)
    V.compare_float(V.run_litert(data, feeds), models.onnxruntime_outputs(model, feeds), rtol=1e-2)
    assert tflite.to_bytes(tflite.read_tflite(data), variant="fp16") == data


def test_qdq_model_runs_bit_exact_in_litert_and_tflm():
    """A QDQ import (int8 I/O, float compute): DEQUANTIZE of constant weights is folded."""
    model = models.qdq_model()
    module = _module(model)
    data = tflite.to_bytes(module)
    codes = {S.BuiltinOperator.QUANTIZE, S.BuiltinOperator.DEQUANTIZE, S.BuiltinOperator.CONV_2D}
    assert codes <= {oc.builtinCode for oc in _unpack(data).operatorCodes}
    feeds = models.random_feeds(module)
    want = models.onnxruntime_outputs(model, feeds)
    for got in (V.run_litert(data, feeds), V.run_tflm(data, feeds)):
        assert np.abs(got[0].astype(int) - want[0].astype(int)).max() <= 1


# --------------------------------------------------------------------------- file layout
def _buffer_offsets(data: bytes) -> list[int]:
    """Absolute file offset of every non-empty buffer's data."""
    m = S.Model.GetRootAs(data, 0)
    out = []
    for i in range(m.BuffersLength()):
        b = m.Buffers(i)
        if b.DataLength():
            o = b._tab.Offset(4)
            out.append(b._tab.Vector(o))
    return out


def test_buffers_are_16_byte_aligned():
    module = _module(_onnx(EXAMPLE))
    for variant in ("float32", "fp16"):
        data = tflite.to_bytes(module, variant=variant)
        offsets = _buffer_offsets(data)
        assert len(offsets) > 20
        assert all(o % 16 == 0 for o in offsets), [o % 16 for o in offsets]


def test_signature_metadata_and_description():
    module = _module(_onnx(EXAMPLE))
    data = tflite.to_bytes(module)
    m = _unpack(data)
    (sig,) = m.signatureDefs
    assert sig.signatureKey == b"serving_default"
    assert [t.name for t in sig.inputs] == [b"input"] and [t.name for t in sig.outputs] == [b"probs"]
    meta = {md.name.decode(): bytes(m.buffers[md.buffer].data).decode() for md in m.metadata}
    from edgecc import __version__

    assert meta["edgecc_version"] == __version__
    assert meta["edgecc_source_sha256"] == module.attrs["edgecc.source_sha256"]
    assert m.description.decode().startswith("edgecc ")
    from ai_edge_litert.interpreter import Interpreter

    sigs = Interpreter(model_content=data).get_signature_list()
    assert sigs == {"serving_default": {"inputs": ["input"], "outputs": ["probs"]}}
    assert tflite.read_tflite(data).attrs["edgecc.source_sha256"] == module.attrs["edgecc.source_sha256"]


def test_emit_writes_the_file(tmp_path):
    module = _module(_onnx("squeezenet_fire"))
    path = tmp_path / "m.tflite"
    data = tflite.emit(module, path)
    assert path.read_bytes() == data and data[4:8] == b"TFL3"


def test_operator_versions_match_the_converter(shared_models):
    """Re-emitting the converter's int8 MLPerf files keeps every (builtin, version) pair."""
    for name in ("kws_ref_model", "pretrainedResnet_quant", "vww_96_int8", "ad01_int8"):
        orig = (shared_models / f"{name}.tflite").read_bytes()
        ours = tflite.to_bytes(tflite.read_tflite(orig))

        def pairs(data):
            m = _unpack(data)
            used = [m.operatorCodes[op.opcodeIndex] for op in m.subgraphs[0].operators]
            return {(max(oc.builtinCode, oc.deprecatedBuiltinCode), oc.version) for oc in used}
        assert pairs(ours) == pairs(orig), name


# --------------------------------------------------------------------------- errors
def _single(op_cls, shape=(1, 4), **attrs):
    from edgecc.ir.builder import Builder
    from edgecc.ir.core import Func, Module
    from edgecc.ir.diagnostics import Location
    from edgecc.ir.types import tensor

    f = Func("main", [tensor(shape)], ["x"])
    b = Builder(f, Location("the_node", "model.onnx"))
    b.ret(b.create(op_cls, f.arguments[0], **attrs).result)
    return Module(f)


def test_op_without_tflite_equivalent_is_an_error():
    from edgecc.dialects.nn import ErfOp, HardSigmoidOp

    with pytest.raises(EdgeccError) as info:
        tflite.to_bytes(_single(ErfOp))
    text = info.value.format()
    assert "'nn.erf'" in text and "no TFLite builtin equivalent" in text
    assert "model.onnx" in text and "the_node" in text
    with pytest.raises(EdgeccError, match=r"'nn.hard_sigmoid' alpha -0.5 <= 0 has no TFLite form") as info:
        tflite.to_bytes(_single(HardSigmoidOp, alpha=-0.5))
    assert "the_node" in info.value.format()


def test_attribute_combination_tflite_cannot_express():
    from edgecc.dialects.nn import AvgPool2DOp, PadOp

    with pytest.raises(EdgeccError, match="neither SAME nor VALID"):
        tflite.to_bytes(_single(AvgPool2DOp, (1, 5, 5, 2), kernel=[3, 3], pads=[1, 0, 0, 1]))
    with pytest.raises(EdgeccError, match="mode 'edge'"):
        tflite.to_bytes(_single(PadOp, (1, 4), pads=[0, 1, 0, 1], mode="edge"))


def test_unknown_variant_and_mismatched_variants():
    module = _module(_onnx("squeezenet_fire"))
    with pytest.raises(EdgeccError, match="unknown tflite variant"):
        tflite.to_bytes(module, variant="int4")
    with pytest.raises(EdgeccError, match="needs a quantized module"):
        tflite.to_bytes(module, variant="int8")
    with pytest.raises(EdgeccError, match="needs a float module"):
        tflite.to_bytes(_module(models.qdq_model()), variant="float32")


def test_docs_worked_example_runs(capsys):
    import re

    doc = Path(__file__).resolve().parents[2] / "docs/backends/tflite.md"
    blocks = re.findall(r"```python\n(.*?)```", doc.read_text(encoding="utf-8"), re.S)
    example = next(b for b in blocks if "examples.path()" in b)
    exec(compile(example, str(doc), "exec"), {})
    printed = capsys.readouterr().out
    claimed = re.search(r"print\(verify.tflm_arena_bytes\(data\)\)\s+# (\{.*\})", example).group(1)
    assert printed.strip() == claimed
