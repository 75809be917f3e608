"""int8 C path: portable integer kernels bit-exact with the integer reference interpreter
(and with TFLM on the MLPerf Tiny int8 models), CMSIS-NN flavour when EDGECC_CMSIS_NN names a
CMSIS-NN checkout, in-place convolutions and conv + add fusion, arena sizes."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import numpy as np
import pytest

from edgecc.backends.c.generate import build_model
from edgecc.backends.c.lower_int import inplace_geometry
from edgecc.backends.c.verify import random_samples, run_testbench, verify

_h = importlib.util.spec_from_file_location("edgecc_tests_c_helpers", Path(__file__).with_name("helpers.py"))
helpers = importlib.util.module_from_spec(_h)
_h.loader.exec_module(helpers)
MODELS = helpers.load_test_models()

#: arena bytes of the int8 test models for -t generic
ARENA = {
    "mobilenet_block_op11": 20480, "mobilenet_block_op17": 20480, "ds_cnn_kws_op11": 4496,
    "ds_cnn_kws_op17": 4496, "resnet_block": 10240, "mobilenetv3_block_op13": 28672,
    "mobilenetv3_block_op17": 20480, "dense_autoencoder_gemm": 3200,
    "dense_autoencoder_matmul_op11": 3200, "squeezenet_fire": 18000, "shufflenet_unit": 1440,
    "lstm_forward": 352, "lstm_bidirectional_op11": 480, "lstm_reverse_no_state": 320, "lstm_peepholes": 352,
    "gru_forward": 304, "gru_bidirectional_op11": 416, "gru_linear_before_reset": 288,
    "resize_upsampler_op11": 8000, "resize_upsampler_op17": 8000, "opset_variants_op11": 384,
    "opset_variants_op13": 384, "opset_variants_op17": 384, "opset_variants_op18": 384, "shape_subgraph": 320,
}

#: MLPerf Tiny int8 (QDQ ONNX): edgecc's arena for -t generic and TFLM's arena total (README)
MLPERF = {"ad01_int8_qdq.onnx": (768, 3984), "kws_ref_model_qdq.onnx": (8960, 24272),
          "pretrainedResnet_quant_qdq.onnx": (32768, 55984), "vww_96_int8_qdq.onnx": (55296, 103680)}
TFLITE = ("ad01_int8.tflite", "kws_ref_model.tflite", "pretrainedResnet_quant.tflite", "vww_96_int8.tflite")


def quantized(name: str, scheme: str = "int8"):
    from edgecc.quant.ptq import QuantizeConfig, quantize_module

    module = helpers.import_model(MODELS.MODELS[name]())
    rng = np.random.default_rng(0)
    calib = [[rng.standard_normal(a.type.shape).astype(np.float32) for a in module.func.arguments]
             for _ in range(8)]
    quantize_module(module, QuantizeConfig(scheme=scheme), calib)
    return module


def qdq(path):
    from edgecc.passes.manager import PassManager

    module = helpers.import_model(path)
    PassManager.parse("qdq-fold").run(module)
    return module


def test_every_test_model_has_an_arena_figure():
    assert set(ARENA) == set(MODELS.MODELS)


@pytest.mark.parametrize("name", sorted(MODELS.MODELS))
def test_int8_model_is_bit_exact(name, runtime_lib, tmp_path):
    module = quantized(name)
    r = verify(module, inputs=3, runtime_lib=runtime_lib, workdir=tmp_path)
    assert r.passed, [vars(c) for c in r.outputs]
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["arena_bytes"] == ARENA[name]
    assert report["arena_bytes"] <= report["memory_plan"]["tflm_greedy_arena_bytes"]
    float_kernels = {k for k in report["kernels"] if k.endswith("_f32")}
    assert float_kernels <= {"edgecc_quantize_f32", "edgecc_dequantize_f32"}  # no float inside


INT16_FAST = ("ds_cnn_kws_op17", "resnet_block", "mobilenetv3_block_op17", "lstm_forward",
              "resize_upsampler_op17", "opset_variants_op17", "squeezenet_fire")


@pytest.mark.parametrize("name", [n if n in INT16_FAST else pytest.param(n, marks=pytest.mark.slow)
                                  for n in sorted(MODELS.MODELS)])
def test_int16x8_model_is_bit_exact(name, runtime_lib, tmp_path):
    r = verify(quantized(name, "int16x8"), inputs=3, runtime_lib=runtime_lib, workdir=tmp_path)
    assert r.passed, [vars(c) for c in r.outputs]
    kernels = json.loads((tmp_path / "report.json").read_text())["kernels"]
    assert any(k.endswith("_s16") for k in kernels)


def test_int8_w4_weights_run_on_portable_kernels(runtime_lib, tmp_path):
    r = verify(quantized("ds_cnn_kws_op17", "int8-w4"), inputs=2, runtime_lib=runtime_lib, workdir=tmp_path)
    assert r.passed


@pytest.mark.parametrize("name", sorted(MLPERF))
def test_mlperf_int8_arena_vs_tflm(name, shared_models, runtime_lib, tmp_path):
    module = qdq(shared_models / name)
    r = verify(module, inputs=2, runtime_lib=runtime_lib, workdir=tmp_path)
    assert r.passed
    report = json.loads((tmp_path / "report.json").read_text())
    arena, tflm_total = MLPERF[name]
    assert report["arena_bytes"] == arena
    assert report["arena_bytes"] <= report["memory_plan"]["tflm_greedy_arena_bytes"]
    assert report["arena_bytes"] <= 0.6 * tflm_total  # the goal


@pytest.mark.parametrize("name", TFLITE)
def test_mlperf_int8_bit_exact_with_tflm(name, shared_models, runtime_lib, tmp_path):
    pytest.importorskip("tflite_micro")
    from edgecc.backends.tflite import read_tflite
    from edgecc.backends.tflite.verify import run_tflm

    module = read_tflite(shared_models / name)
    samples = random_samples(module, 3, seed=5)
    r = verify(module, samples=samples, runtime_lib=runtime_lib, workdir=tmp_path)
    assert r.passed
    got = run_testbench(tmp_path / "model_testbench", module, samples)
    for s, g in zip(samples, got):
        want = run_tflm(shared_models / name, s)
        for a, b in zip(g, want):
            np.testing.assert_array_equal(a.reshape(-1), np.asarray(b).reshape(-1))


def test_in_place_kernels_and_fusion_are_used(shared_models):
    kws = build_model(qdq(shared_models / "kws_ref_model_qdq.onnx"))
    kernels = kws.report["kernels"]
    assert kernels["edgecc_depthwise_conv2d_s8_inplace"] == 4
    assert kernels["edgecc_conv2d_s8_inplace"] == 4
    m = build_model(quantized("resnet_block"))
    assert m.report["kernels"].get("edgecc_conv2d_add_s8", 0) == 2


def test_in_place_geometry_rule():
    # 3x3 stride 1 "same": a ring of 3 rows
    assert inplace_geometry((1, 25, 5, 64), (1, 25, 5, 64), (3, 3), (1, 1), (1, 1, 1, 1), (1, 1)) == (True, 960)
    # stride 2 shrinks the output: fine
    assert inplace_geometry((1, 16, 16, 8), (1, 8, 8, 8), (3, 3), (2, 2), (1, 1, 1, 1), (1, 1))[0]
    # more output channels than input: the output would overtake the input
    assert not inplace_geometry((1, 8, 8, 4), (1, 8, 8, 8), (1, 1), (1, 1), (0, 0, 0, 0), (1, 1))[0]
    # batches are not streamed in place
    assert not inplace_geometry((2, 8, 8, 4), (2, 8, 8, 4), (1, 1), (1, 1), (0, 0, 0, 0), (1, 1))[0]


def test_memory_modes_trade_speed_for_ram(shared_models):
    module = qdq(shared_models / "pretrainedResnet_quant_qdq.onnx")
    arenas = {m: build_model(module, target="cortex-m4", memory=m).report["arena_bytes"]
              for m in ("speed", "auto", "ram")}
    # auto keeps CMSIS-NN everywhere and runs the residual blocks band by band
    assert arenas["speed"] == 49728 and arenas["auto"] == 26688 and arenas["ram"] == 26688
    auto = build_model(module, target="cortex-m4", memory="auto").report
    assert not any(k.startswith("edgecc_conv") for k in auto["kernels"])
    assert auto["memory_choice"]["band_groups"] == 2
    assert auto["memory_choice"]["estimated_instructions"] <= 1.05 * auto["memory_choice"][
        "speed_estimated_instructions"]


@pytest.mark.parametrize("name", ["ds_cnn_kws_op17", "resnet_block", *(
    pytest.param(n, marks=pytest.mark.slow) for n in ("gru_forward", "opset_variants_op11", "resize_upsampler_op17",
                                                      "squeezenet_fire"))])
def test_int8_sanitizers_are_clean(name, gcc, tmp_path):
    r = verify(quantized(name), inputs=2, sanitize=True, workdir=tmp_path)
    assert r.passed


# ------------------------------------------------------------------ CMSIS-NN (needs a checkout)
def cmsis_nn() -> Path:
    p = os.environ.get("EDGECC_CMSIS_NN")
    if not p:
        pytest.skip("EDGECC_CMSIS_NN is not set (a CMSIS-NN checkout)")
    return Path(p)


CMSIS_MODELS = ["ds_cnn_kws_op17", "resnet_block", "mobilenet_block_op17", "dense_autoencoder_gemm",
                "squeezenet_fire", "lstm_forward", "shufflenet_unit", "mobilenetv3_block_op17"]


@pytest.mark.parametrize("core", ["cortex-m0plus", "cortex-m4", "cortex-m55"])
@pytest.mark.parametrize("memory", ["speed", "auto"])
def test_cmsis_nn_flavour_is_bit_exact(core, memory, runtime_lib, tmp_path):
    cmsis_nn()
    for name in CMSIS_MODELS:
        r = verify(quantized(name), target=core, inputs=2, runtime_lib=runtime_lib, workdir=tmp_path / name,
                   memory=memory)
        assert r.passed and "cmsis-nn" in r.kernels, name


@pytest.mark.parametrize("name", sorted(MLPERF))
def test_cmsis_nn_mlperf_is_bit_exact(name, shared_models, runtime_lib, tmp_path):
    cmsis_nn()
    module = qdq(shared_models / name)
    for core in ("cortex-m4", "cortex-m55"):
        r = verify(module, target=core, inputs=2, runtime_lib=runtime_lib, workdir=tmp_path / core)
        assert r.passed, core


def test_cmsis_nn_under_sanitizers(tmp_path):
    cmsis_nn()
    r = verify(quantized("resnet_block"), target="cortex-m4", inputs=2, sanitize=True, workdir=tmp_path,
               memory="speed")
    assert r.passed
