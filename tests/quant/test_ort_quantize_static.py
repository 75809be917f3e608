"""Models quantized by onnxruntime's ``quantize_static`` (QDQ format, its defaults: uint8 activations,
int8 weights, int32 biases; per-channel on and off), as users make them: edgecc folds them to an
integer graph using the stored int32 biases, writes a .tflite that TFLM runs bit-exact with edgecc's
integer execution, and the C it generates verifies bit-exact. onnxruntime's own QDQ arithmetic is
float, not TFLM's, so it is compared only loosely (within a few quantization steps)."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tflite_micro", reason="the tflite_micro package (TFLM Python interpreter) is "
                                           "not installed")
quantization = pytest.importorskip("onnxruntime.quantization")

from edgecc.backends import tflite  # noqa: E402
from edgecc.backends.tflite import verify as V  # noqa: E402
from edgecc.frontend import import_onnx  # noqa: E402
from edgecc.interp.reference import run  # noqa: E402
from edgecc.passes.manager import PassContext  # noqa: E402
from edgecc.transforms.quantize import run_fold  # noqa: E402

HERE = Path(__file__).resolve().parent


sys.path.insert(0, str(HERE.parent / "c"))
import helpers  # noqa: E402

models = helpers.load_test_models()


class _Reader(quantization.CalibrationDataReader):
    def __init__(self, name: str, shape, n: int = 8) -> None:
        rng = np.random.default_rng(0)
        self._it = iter([{name: rng.standard_normal(shape).astype(np.float32)} for _ in range(n)])

    def get_next(self):
        return next(self._it, None)


def ort_quantized(name: str, per_channel: bool, tmp_path: Path):
    """``quantize_static`` of a float test model in QDQ format, uint8 activations and int8 weights (the
    classic defaults; onnxruntime >= 1.17 defaults to int8 activations)."""
    import onnx

    src, pre, dst = (tmp_path / f"{name}{s}.onnx" for s in ("", "_pre", "_qdq"))
    model = models.MODELS[name]()
    onnx.save(model, src)
    quantization.quant_pre_process(str(src), str(pre))  # onnxruntime's advice: fuses BatchNormalization
    inp = model.graph.input[0]
    shape = [d.dim_value for d in inp.type.tensor_type.shape.dim]
    quantization.quantize_static(str(pre), str(dst), _Reader(inp.name, shape),
                                 quant_format=quantization.QuantFormat.QDQ, per_channel=per_channel,
                                 activation_type=quantization.QuantType.QUInt8,
                                 weight_type=quantization.QuantType.QInt8)
    return onnx.load(dst)


@pytest.mark.parametrize("per_channel", [False, True], ids=["per-tensor", "per-channel"])
@pytest.mark.parametrize("name", ["resnet_block", "dense_autoencoder_gemm"])
def test_ort_quantize_static_folds_bit_exact_with_tflm_using_its_stored_biases(name, per_channel, tmp_path,
                                                                              runtime_lib):
    qdq = ort_quantized(name, per_channel, tmp_path)
    from onnx import TensorProto

    kinds = {i.data_type for i in qdq.graph.initializer}
    assert {TensorProto.UINT8, TensorProto.INT8, TensorProto.INT32} <= kinds
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module = import_onnx(qdq)
    ctx = PassContext()
    run_fold(module, ctx)
    assert ctx.stats["ops-kept-float"] == 0
    assert ctx.stats["stored-bias"] > 0 and ctx.stats["rederived-bias"] == 0, dict(ctx.stats)
    data = tflite.to_bytes(module)
    it = V.tflm_interpreter(data)
    feeds_list = V.random_inputs(data, 3, seed=3)
    worst = 0.0
    for feeds in feeds_list:
        got = run(module, feeds)
        V.assert_bit_exact(V.run_tflm(data, feeds, interpreter=it), got)
        want = models.onnxruntime_outputs(qdq, feeds)
        for g, w in zip(got, want):
            worst = max(worst, float(np.max(np.abs(np.asarray(g) - np.asarray(w)))))
    out_scale = _output_scale(qdq)
    print(f"{name} {'per-channel' if per_channel else 'per-tensor'}: {worst / out_scale:.2f} steps from ort")
    assert worst <= 8 * out_scale, f"{worst / out_scale:.1f} quantization steps from onnxruntime"
    from edgecc.backends.c.verify import verify

    r = verify(module, inputs=2, runtime_lib=runtime_lib, workdir=tmp_path / "c")
    assert r.passed, r


def _output_scale(qdq) -> float:
    from onnx import numpy_helper

    inits = {t.name: numpy_helper.to_array(t) for t in qdq.graph.initializer}
    out = qdq.graph.output[0].name
    node = next(n for n in qdq.graph.node if out in n.output and n.op_type == "DequantizeLinear")
    return float(inits[node.input[1]])
