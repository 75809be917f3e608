"""Cross-compilation of the emitted C with arm-none-eabi-gcc (warning-free) and code sizes."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from edgecc.backends.c import emit
from edgecc.backends.c.sizes import add_to_report, measure, toolchain_available

_h = importlib.util.spec_from_file_location("edgecc_tests_c_helpers", Path(__file__).with_name("helpers.py"))
helpers = importlib.util.module_from_spec(_h)
_h.loader.exec_module(helpers)

CORES = ("cortex-m0plus", "cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55")

pytestmark = pytest.mark.skipif(not toolchain_available(), reason="arm-none-eabi-gcc is not installed")


@pytest.fixture(scope="module")
def example_dirs(tmp_path_factory):
    import edgecc.examples as ex

    module = helpers.import_model(ex.path())
    out = {}
    for core in CORES:
        d = tmp_path_factory.mktemp(core)
        emit(module, d, target=core, prefix="kws")
        out[core] = d
    return out


@pytest.mark.parametrize("core", CORES)
def test_example_cross_compiles_and_sizes_go_into_the_report(core, example_dirs):
    d = example_dirs[core]
    sizes = measure(d, core, prefix="kws")
    assert sizes["warnings"] == ""
    report = json.loads((d / "report.json").read_text())
    assert sizes["text"] > 500
    assert sizes["rodata"] >= report["weights_bytes"]
    assert sizes["bss"] == report["arena_bytes"]  # the static arena is the only RAM
    assert sizes["data"] <= 16
    add_to_report(d, sizes)
    report = json.loads((d / "report.json").read_text())
    assert report["code_size"]["text"] == sizes["text"]
    assert ".text" in (d / "report.md").read_text()


@pytest.mark.parametrize("core", ["cortex-m0plus", "cortex-m55"])
def test_every_float_kernel_cross_compiles(core, tmp_path):
    """A model using most float kernels (pads, reductions, softmax, resize, gates) and the runtime."""
    models = helpers.load_test_models()
    for name in ("opset_variants_op17", "resize_upsampler_op17", "gru_bidirectional_op11", "squeezenet_fire"):
        module = helpers.import_model(models.MODELS[name]())
        emit(module, tmp_path / name, target=core)
        sizes = measure(tmp_path / name, core)
        assert sizes["warnings"] == "" and sizes["text"] > 0


def _qdq(path):
    from edgecc.passes.manager import PassManager

    module = helpers.import_model(path)
    PassManager.parse("qdq-fold").run(module)
    return module


@pytest.mark.parametrize("core", CORES)
def test_int8_portable_cross_compiles(core, shared_models, tmp_path):
    module = _qdq(shared_models / "kws_ref_model_qdq.onnx")
    emit(module, tmp_path, target=core, kernels="portable")
    sizes = measure(tmp_path, core)
    assert sizes["warnings"] == ""
    report = json.loads((tmp_path / "report.json").read_text())
    assert sizes["bss"] == report["arena_bytes"] == 8960
    assert "float" not in (tmp_path / "model.c").read_text().split("int model_run(void)")[1].split(
        "int model_invoke")[0]


@pytest.mark.parametrize("core", CORES)
def test_int8_cmsis_nn_cross_compiles(core, shared_models, tmp_path):
    import os

    root = os.environ.get("EDGECC_CMSIS_NN")
    if not root:
        pytest.skip("EDGECC_CMSIS_NN is not set (a CMSIS-NN checkout)")
    module = _qdq(shared_models / "kws_ref_model_qdq.onnx")
    emit(module, tmp_path, target=core, memory="speed")
    sizes = measure(tmp_path, core, cmsis_nn=Path(root))
    assert sizes["warnings"] == "" and sizes["includes_cmsis_nn"]
    add_to_report(tmp_path, sizes)
    report = json.loads((tmp_path / "report.json").read_text())
    assert "cmsis-nn" in report["libraries"] and report["code_size"]["text"] > 5000
