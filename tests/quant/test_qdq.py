"""QDQ models keep their own scales: onnxruntime's quantize_static output and the MLPerf Tiny QDQ files."""

from __future__ import annotations

import importlib.util
import sys
import warnings
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from edgecc.frontend import import_onnx
from edgecc.interp.reference import run
from edgecc.ir.types import QuantizedType, TensorType
from edgecc.passes.manager import PassManager
from edgecc.quant.graph import clone_module
from edgecc.quant.qdq import fold_qdq
from edgecc.quant.report import quantization_report

_spec = importlib.util.spec_from_file_location(
    "edgecc_tests_frontend_models", Path(__file__).resolve().parents[1] / "frontend" / "models.py")
models = sys.modules.get(_spec.name)
if models is None:
    models = importlib.util.module_from_spec(_spec)
    sys.modules[_spec.name] = models
    _spec.loader.exec_module(models)

ort = pytest.importorskip("onnxruntime")
ortq = pytest.importorskip("onnxruntime.quantization")


def _import(model, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return import_onnx(model, **kw)


def float_model() -> onnx.ModelProto:
    """conv+relu, depthwise conv+relu, residual add, max pool, concat, global pool, gemm, softmax."""
    g = models.G("ortq", 17, seed=21)
    x = g.input("x", [1, 4, 12, 12])
    a = g.node("Relu", [g.conv(x, 4, 8, 3)])
    b = g.node("Relu", [g.conv(a, 8, 8, 3, group=8)])
    s = g.node("Add", [a, b])
    p = g.node("MaxPool", [s], kernel_shape=[2, 2], strides=[2, 2])
    c = g.node("Concat", [p, g.node("Relu", [g.conv(p, 8, 4, 1, pad=[0, 0, 0, 0])])], axis=1)
    gp = g.node("GlobalAveragePool", [c])
    f = g.node("Flatten", [gp], axis=1)
    y = g.node("Gemm", [f, g.weight(5, 12), g.weight(5, scale=0.1)], transB=1)
    g.node("Softmax", [y], outputs=["probs"], axis=1)
    g.output("probs")
    return g.model()


class _Reader(ortq.CalibrationDataReader):
    def __init__(self, samples):
        self.it = iter([{"x": s} for s in samples])

    def get_next(self):
        return next(self.it, None)


def _samples(n, seed):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((1, 4, 12, 12)).astype(np.float32) for _ in range(n)]


@pytest.fixture(scope="module", params=[False, True], ids=["per-tensor", "per-channel"])
def ort_qdq(request, tmp_path_factory):
    d = tmp_path_factory.mktemp("ortq")
    src, dst = d / "float.onnx", d / "qdq.onnx"
    onnx.save(float_model(), src)
    import logging

    logging.getLogger().setLevel(logging.ERROR)
    ortq.quantize_static(str(src), str(dst), _Reader(_samples(16, 0)), quant_format=ortq.QuantFormat.QDQ,
                         per_channel=request.param, activation_type=ortq.QuantType.QInt8,
                         weight_type=ortq.QuantType.QInt8)
    return src, dst


def _qdq_params(path) -> tuple[set, set]:
    """(activation (scale, zp) pairs of QuantizeLinear nodes, weight scale tuples) of a QDQ model."""
    m = onnx.load(str(path))
    init = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    acts, weights = set(), set()
    for n in m.graph.node:
        if n.op_type == "QuantizeLinear":
            acts.add((float(np.float32(init[n.input[1]])), int(init[n.input[2]])))
        if n.op_type == "DequantizeLinear" and n.input[0] in init and init[n.input[0]].dtype == np.int8 \
                and init[n.input[0]].ndim >= 2:
            weights.add(tuple(float(v) for v in np.atleast_1d(init[n.input[1]]).astype(np.float32)))
    return acts, weights


def test_ort_quantize_static_model_keeps_its_scales_and_runs(ort_qdq):
    src, dst = ort_qdq
    module = _import(dst)
    pm = PassManager.parse("qdq-fold")
    pm.run(module)
    module.verify()
    assert pm.ctx.stats["qdq-fold.ops-kept-float"] == 0
    computing = [op for op in module.func.body if op.name not in ("builtin.constant", "func.return")]
    kinds = {op.name for op in computing}
    assert {"nn.conv2d", "nn.depthwise_conv2d", "nn.add", "nn.max_pool2d", "nn.concat",
            "nn.fully_connected", "nn.softmax"} <= kinds
    # every op between the input quantize and the output dequantize is an integer op
    for op in computing:
        if op.name not in ("nn.quantize", "nn.dequantize"):
            assert all(isinstance(r.type.element, QuantizedType) for r in op.results), op
    acts, weights = _qdq_params(dst)
    for op in computing:
        if op.name in ("nn.conv2d", "nn.depthwise_conv2d", "nn.add"):
            e = op.result.type.element
            assert (e.scale, e.zero_point) in acts, (op.name, e)
        if op.name in ("nn.conv2d", "nn.depthwise_conv2d", "nn.fully_connected"):
            w = op.operands[1].type.element
            assert tuple(w.scales) in weights
    # runs on the integer interpreter, close to onnxruntime on the same QDQ model
    sess = ort.InferenceSession(str(dst), providers=["CPUExecutionProvider"])
    fsess = ort.InferenceSession(str(src), providers=["CPUExecutionProvider"])
    out_step = module.func.outputs[0].defining_op().operands[0].type.element.scale
    for x in _samples(4, 1):
        ours = run(module, {"x": x})[0]
        theirs = sess.run(None, {"x": x})[0]
        assert np.max(np.abs(ours - theirs)) <= 2 * out_step + 1e-6
        assert np.max(np.abs(ours - fsess.run(None, {"x": x})[0])) < 0.05


def test_quantize_pass_folds_instead_of_recalibrating(ort_qdq):
    _, dst = ort_qdq
    a, b = _import(dst), _import(dst)
    PassManager.parse("qdq-fold").run(a)
    pm = PassManager.parse("quantize{scheme=int8}")  # no calibration data needed
    pm.run(b)
    assert str(a) == str(b)
    assert pm.ctx.stats["quantize.ops-folded"] > 5


def test_report_on_a_qdq_model(ort_qdq):
    _, dst = ort_qdq
    module = _import(dst)
    rep = quantization_report(module, evaluation={"x": np.stack(_samples(6, 2))})
    assert rep.scheme == "qdq" and rep.samples == 6
    assert rep.outputs[0].top1_agreement is not None
    assert rep.outputs[0].sqnr_db > 20
    assert rep.layers


def test_frontend_qdq_model_folds_to_integers():
    m = _import(models.qdq_model())
    ref = clone_module(m)[0]
    res = fold_qdq(m)
    m.verify()
    assert [op.name for op in res.folded] == ["nn.conv2d", "nn.fully_connected"]
    assert not any(op.name in ("nn.quantize", "nn.dequantize") for op in m.func.body)
    x = np.random.default_rng(0).integers(-128, 128, (1, 2, 6, 6)).astype(np.int8)
    np.testing.assert_array_equal(run(m, [x])[0], run(ref, [x])[0])


MLPERF = {"kws_ref_model_qdq.onnx": "kws_ref_model.tflite", "ad01_int8_qdq.onnx": "ad01_int8.tflite",
          "pretrainedResnet_quant_qdq.onnx": "pretrainedResnet_quant.tflite",
          "vww_96_int8_qdq.onnx": "vww_96_int8.tflite"}


@pytest.mark.parametrize("qdq", sorted(MLPERF))
def test_mlperf_qdq_folds_to_an_integer_graph_bit_exact_with_tflm(shared_models, qdq):
    verify = pytest.importorskip("edgecc.backends.tflite.verify")
    module = _import(shared_models / qdq)
    pm = PassManager.parse("qdq-fold")
    pm.run(module)
    module.verify()
    for op in module.func.body:
        if op.name in ("builtin.constant", "func.return"):
            continue
        assert op.name not in ("nn.quantize", "nn.dequantize", "nn.requantize"), op
        for v in (*op.operands, *op.results):
            assert isinstance(v.type, TensorType) and not v.type.is_float, (op.name, v.type)
    assert pm.ctx.stats["qdq-fold.ops-kept-float"] == 0
    # tf2onnx's int32 bias initializers are used as stored (their scales are input_scale * weight_scale)
    assert pm.ctx.stats["qdq-fold.stored-bias"] > 0 and pm.ctx.stats["qdq-fold.rederived-bias"] == 0
    (arg,) = module.func.arguments
    rng = np.random.default_rng(0)
    tfl = shared_models / MLPERF[qdq]
    it = verify.tflm_interpreter(tfl)
    for _ in range(2):
        x = rng.integers(-128, 128, arg.type.shape).astype(np.int8)
        ours = run(module, [x])[0]
        theirs = verify.run_tflm(tfl, [x], interpreter=it)[0]
        np.testing.assert_array_equal(ours, theirs.reshape(ours.shape))
