"""Float C path: emitted C compiles warning-free with host gcc, runs, matches the reference.

Every model of tests/frontend/models.py, the bundled example and the MLPerf Tiny float
models are emitted for ``-t generic``, compiled with ``gcc -std=c99 -Wall -Wextra
-Werror``, run through the testbench on random inputs and compared with
``edgecc.interp.reference`` (within 1e-5 of each output's largest magnitude). Arena
sizes are asserted exactly and never above TFLM's greedy plan of the same graph.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from edgecc.backends.c import emit
from edgecc.backends.c.generate import build_model
from edgecc.backends.c.verify import build_testbench, random_samples, run_testbench, verify
from edgecc.ir.diagnostics import EdgeccError

_h = importlib.util.spec_from_file_location("edgecc_tests_c_helpers", Path(__file__).with_name("helpers.py"))
helpers = importlib.util.module_from_spec(_h)
_h.loader.exec_module(helpers)
import_model, load_test_models = helpers.import_model, helpers.load_test_models
MODELS = load_test_models()

#: arena bytes per model for -t generic (16-byte alignment), with in-place execution and
#: memory-aware ordering; TFLM's greedy plan of the same graph is never smaller
ARENA = {
    "mobilenet_block_op11": 32768, "mobilenet_block_op17": 32768, "ds_cnn_kws_op11": 32000,
    "ds_cnn_kws_op17": 32000, "resnet_block": 16384, "mobilenetv3_block_op13": 114688,
    "mobilenetv3_block_op17": 114688, "dense_autoencoder_gemm": 3072,
    "dense_autoencoder_matmul_op11": 3072, "squeezenet_fire": 28800, "shufflenet_unit": 3456,
    "lstm_forward": 1344, "lstm_bidirectional_op11": 1552, "lstm_reverse_no_state": 1280,
    "lstm_peepholes": 1344, "gru_forward": 992, "gru_bidirectional_op11": 1200,
    "gru_linear_before_reset": 960, "resize_upsampler_op11": 12800, "resize_upsampler_op17": 12800,
    "opset_variants_op11": 480, "opset_variants_op13": 480, "opset_variants_op17": 480,
    "opset_variants_op18": 480, "shape_subgraph": 512,
}


def test_every_test_model_has_an_arena_figure():
    assert set(ARENA) == set(MODELS.MODELS)


@pytest.mark.parametrize("name", sorted(MODELS.MODELS))
def test_model_matches_reference(name, runtime_lib, tmp_path):
    module = import_model(MODELS.MODELS[name]())
    r = verify(module, inputs=3, runtime_lib=runtime_lib, workdir=tmp_path)
    assert r.passed, [vars(c) for c in r.outputs]
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["arena_bytes"] == ARENA[name]
    assert report["arena_bytes"] <= report["memory_plan"]["tflm_greedy_arena_bytes"]
    assert report["arena_bytes"] >= report["memory_plan"]["lower_bound"]


def test_bundled_example(runtime_lib, tmp_path):
    import edgecc.examples as ex

    module = import_model(ex.path())
    r = verify(module, inputs=4, runtime_lib=runtime_lib, workdir=tmp_path)
    assert r.passed and r.arena_bytes == 64000
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["macs"] == 2_656_768
    assert report["kernels"]["edgecc_conv2d_f32"] == 5
    assert report["kernels"]["edgecc_depthwise_conv2d_f32"] == 4


MLPERF_FLOAT = {"ad01_fp32.onnx": (3072, 3072), "kws_ref_model_float32.onnx": (64000, 64000),
                "pretrainedResnet.onnx": (196608, 196608), "vww_96_float.onnx": (221184, 258048)}


@pytest.mark.parametrize("name", sorted(MLPERF_FLOAT))
def test_mlperf_float_models(name, shared_models, runtime_lib, tmp_path):
    module = import_model(shared_models / name)
    r = verify(module, inputs=2, runtime_lib=runtime_lib, workdir=tmp_path)
    assert r.passed, [vars(c) for c in r.outputs]
    report = json.loads((tmp_path / "report.json").read_text())
    arena, tflm = MLPERF_FLOAT[name]
    assert (report["arena_bytes"], report["memory_plan"]["tflm_greedy_arena_bytes"]) == (arena, tflm)


@pytest.mark.parametrize("name", ["resnet_block", *(pytest.param(n, marks=pytest.mark.slow) for n in (
    "opset_variants_op11", "resize_upsampler_op17", "gru_bidirectional_op11"))])
def test_sanitizers_are_clean(name, gcc, tmp_path):
    module = import_model(MODELS.MODELS[name]())
    r = verify(module, inputs=2, sanitize=True, workdir=tmp_path)
    assert r.passed


def test_output_is_deterministic(tmp_path):
    files = {}
    for run in ("a", "b"):
        module = import_model(MODELS.ds_cnn_kws(17))
        emit(module, tmp_path / run, target="cortex-m4")
        files[run] = {p.relative_to(tmp_path / run): p.read_bytes()
                      for p in sorted((tmp_path / run).rglob("*")) if p.is_file()}
    assert files["a"].keys() == files["b"].keys()
    for k in files["a"]:
        assert files["a"][k] == files["b"][k], k
    assert {k.name for k in files["a"] if k.suffix == ".png"} == {"memory.png", "layers.png"}
    text = b"".join(v for k, v in files["a"].items() if k.suffix != ".png").decode()
    checkout_parent = str(Path(__file__).resolve().parents[3])
    assert str(tmp_path) not in text and checkout_parent + "/" not in text


def test_emitted_files_and_api(tmp_path):
    module = import_model(MODELS.ds_cnn_kws(17))
    written = emit(module, tmp_path, prefix="kws")
    names = {p.name for p in written}
    for f in ("kws.h", "kws.c", "kws_weights.c", "kws_testbench.c", "CMakeLists.txt", "kws.mk", "report.json",
              "report.md", "edgecc.h", "kernels.h", "conv_f32.c"):
        assert f in names, f
    h = (tmp_path / "kws.h").read_text()
    for needle in ("#define KWS_ARENA_SIZE 32000u", "#define KWS_INPUT0_NAME \"mfcc\"",
                   "#define KWS_INPUT0_SHAPE {1, 1, 49, 10}", "#define KWS_OUTPUT0_NAME \"probs\"",
                   "int kws_invoke(const float *mfcc, float *probs);", "int kws_run(void);",
                   "float *kws_input_mfcc(void);", "const float *kws_output_probs(void);",
                   "int kws_set_arena(void *arena, size_t size);"):
        assert needle in h, needle
    c = (tmp_path / "kws.c").read_text()
    assert "malloc" not in c and "printf" not in c
    assert c.count("edgecc_conv2d_f32(") == 5
    w = (tmp_path / "kws_weights.c").read_text()
    assert "EDGECC_WEIGHTS_SECTION" in w and "EDGECC_ALIGNED(16)" in w
    md = (tmp_path / "report.md").read_text()
    assert "arena (all activations, I/O and scratch): **32,000 B**" in md


def test_external_arena_and_api_errors(gcc, tmp_path):
    module = import_model(MODELS.dense_autoencoder(17, True))
    emit(module, tmp_path, arena="external", prefix="ae")
    main = tmp_path / "main.c"
    main.write_text("""
#include <stdio.h>
#include "ae.h"
static uint8_t buf[AE_ARENA_SIZE + 16] EDGECC_ALIGNED(16);
int main(void) {
    static float x[640], y[640];
    if (ae_run() != EDGECC_ERR_NO_ARENA) return 10;
    if (ae_input(0) != NULL) return 11;
    if (ae_set_arena(buf, AE_ARENA_SIZE - 1) != EDGECC_ERR_ARENA_SIZE) return 12;
    if (ae_set_arena(buf + 1, AE_ARENA_SIZE) != EDGECC_ERR_ARENA_ALIGN) return 13;
    if (ae_set_arena(buf, sizeof buf) != EDGECC_OK) return 14;
    if (ae_input(1) != NULL || ae_output(-1) != NULL) return 15;
    for (int i = 0; i < 640; ++i) x[i] = (float)(i % 7) * 0.25f;
    if (ae_invoke(x, y) != EDGECC_OK) return 16;
    if (ae_input_info[0].elements != 640 || ae_output_info[0].bytes != 2560) return 17;
    printf("%.6f\\n", (double)y[3]);
    return 0;
}
""")
    exe = tmp_path / "app"
    subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-I", str(tmp_path), "-I",
                    str(tmp_path / "edgecc/include"), str(main), str(tmp_path / "ae.c"),
                    str(tmp_path / "ae_weights.c"), *map(str, sorted((tmp_path / "edgecc/src").glob("*.c"))),
                    "-lm", "-o", str(exe)], check=True)
    proc = subprocess.run([str(exe)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.returncode
    from edgecc.interp.reference import run

    x = (np.arange(640) % 7).astype(np.float32).reshape(1, 640) * np.float32(0.25)
    want = run(module, [x])[0]
    assert abs(float(proc.stdout) - float(want[0, 3])) <= 1e-5 * max(1.0, abs(float(want[0, 3])))


def test_two_models_link_into_one_program(gcc, tmp_path):
    a = import_model(MODELS.ds_cnn_kws(17))
    b = import_model(MODELS.squeezenet_fire())
    emit(a, tmp_path / "a", prefix="kws")
    emit(b, tmp_path / "b", prefix="fire")
    main = tmp_path / "main.c"
    main.write_text("""
#include "kws.h"
#include "fire.h"
int main(void) {
    static float x[490], p[12], f[3600], o[16 * 7 * 7];
    if (kws_invoke(x, p) != EDGECC_OK) return 1;
    if (fire_invoke(f, o) != EDGECC_OK) return 2;
    return KWS_ARENA_SIZE > 0 && FIRE_ARENA_SIZE > 0 ? 0 : 3;
}
""")
    srcs = [main, tmp_path / "a/kws.c", tmp_path / "a/kws_weights.c", tmp_path / "b/fire.c",
            tmp_path / "b/fire_weights.c", *sorted((tmp_path / "a/edgecc/src").glob("*.c"))]
    exe = tmp_path / "app"
    subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-I", str(tmp_path / "a"), "-I",
                    str(tmp_path / "b"), "-I", str(tmp_path / "a/edgecc/include"), *map(str, srcs), "-lm", "-o",
                    str(exe)], check=True)
    assert subprocess.run([str(exe)]).returncode == 0


def test_testbench_reads_files_and_many_samples(runtime_lib, tmp_path):
    module = import_model(MODELS.opset_variants(17))
    emit(module, tmp_path)
    exe = build_testbench(tmp_path, runtime_lib=runtime_lib)
    samples = random_samples(module, 5, seed=3)
    got = run_testbench(exe, module, samples)
    (tmp_path / "in.bin").write_bytes(b"".join(a.tobytes() for s in samples for a in s))
    subprocess.run([str(exe), str(tmp_path / "in.bin"), str(tmp_path / "out.bin")], check=True)
    assert (tmp_path / "out.bin").read_bytes() == b"".join(a.tobytes() for s in got for a in s)
    (tmp_path / "bad.bin").write_bytes(b"\0" * 7)
    proc = subprocess.run([str(exe), str(tmp_path / "bad.bin")], capture_output=True)
    assert proc.returncode == 3 and b"truncated" in proc.stderr


def test_constant_output_and_passthrough_input(runtime_lib, tmp_path):
    from edgecc.dialects import nn
    from edgecc.ir import Builder, Func, Module, f32, tensor

    func = Func("main", [tensor((2, 3), f32), tensor((4,), f32)], ["x", "unused"])
    b = Builder(func)
    c = b.constant(np.arange(6, dtype=np.float32).reshape(2, 3))
    y = b.create(nn.AddOp, func.arguments[0], c).result
    b.ret(y, c, func.arguments[0])
    r = verify(Module(func), inputs=2, runtime_lib=runtime_lib, workdir=tmp_path)
    assert r.passed


def test_unsupported_op_is_one_clear_error(tmp_path):
    from edgecc.dialects import nn
    from edgecc.ir import Builder, Func, Module, f16, tensor

    from edgecc.ir.diagnostics import UNKNOWN

    func = Func("main", [tensor((4,), f16)], ["x"])
    b = Builder(func, UNKNOWN)
    b.ret(b.create(nn.ReluOp, func.arguments[0]).result)
    with pytest.raises(EdgeccError, match=r"cannot lower nn.relu \(f16\).*float32 only") as e:
        emit(Module(func), tmp_path / "out")
    assert "unknown" not in str(e.value)  # an op without a location is not "at <unknown>"
    assert not (tmp_path / "out" / "model.c").exists()


@pytest.mark.parametrize("prefix", ["9lives", "with-dash", "", "edgecc"])
def test_bad_prefix(prefix, tmp_path):
    module = import_model(MODELS.opset_variants(17))
    with pytest.raises(EdgeccError, match="--prefix"):
        emit(module, tmp_path, prefix=prefix)


def test_build_model_plan_is_consistent():
    module = import_model(MODELS.resnet_block())
    m = build_model(module)
    m.plan.check()
    assert all(op.dialect == "c" for op in m.plan.order)
    assert m.report["arena_bytes"] == m.plan.arena_size == ARENA["resnet_block"]
    in_place = [lay["op"] for lay in m.report["layers"] if lay["in_place"]]
    assert "c.binary_f32" in in_place  # the residual adds write into a dead input
