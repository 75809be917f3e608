"""What a newcomer following README and docs tripped over (issue 14), one test per finding."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from edgecc.examples import path as example_path

REPO = Path(__file__).resolve().parents[2]


def edgecc(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "edgecc", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=600)


def test_opt_list_passes_needs_no_file():
    proc = edgecc("opt", "--list-passes")
    assert proc.returncode == 0 and "canonicalize" in proc.stdout, proc.stderr


def test_opt_without_file_is_a_usage_error():
    proc = edgecc("opt")
    assert proc.returncode == 2 and "FILE" in proc.stderr


def test_rebuild_removes_stale_artifacts_but_keeps_user_files(tmp_path):
    out = tmp_path / "out"
    assert edgecc(example_path(), "-o", out, "--emit", "c,report").returncode == 0
    assert (out / "model.c").is_file()
    (out / "notes.txt").write_text("mine")
    proc = edgecc(example_path(), "-o", out, "--emit", "ir")
    assert proc.returncode == 0, proc.stderr
    names = {p.name for p in out.iterdir()}
    assert names == {"model.mlir", "notes.txt", ".edgecc-manifest"}, names


def test_user_file_in_the_way_leaves_out_untouched(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "edgecc").write_text("mine")
    proc = edgecc(example_path(), "-o", out)
    assert proc.returncode == 1 and "'edgecc' exists" in proc.stderr
    assert [p.name for p in out.iterdir()] == ["edgecc"]


def test_board_list_prints_core_flash_and_ram():
    proc = edgecc("--board", "list")
    assert proc.returncode == 0 and "nrf52840" in proc.stdout and "cortex-m4" in proc.stdout
    assert "KiB" in proc.stdout


def test_fit_check_prints_its_margin_also_without_c(tmp_path):
    proc = edgecc(example_path(), "-o", tmp_path / "o", "--emit", "tflite,report", "--board", "nrf52840",
                  "--calib", example_path("kws_calib.npz"))
    assert proc.returncode == 0, proc.stderr
    assert "fits nrf52840" in proc.stdout and "B free" in proc.stdout


def test_generated_cmake_warns_when_the_testbench_is_missing(tmp_path):
    out = tmp_path / "o"
    assert edgecc(example_path(), "-o", out, "-t", "generic").returncode == 0
    text = (out / "CMakeLists.txt").read_text()
    assert "message(WARNING" in text and "--emit c,report,testbench" in text


def test_cmsis_model_mk_lists_cmsis_sources_and_one_env_name(tmp_path):
    out = tmp_path / "o"
    proc = edgecc(example_path(), "-o", out, "-t", "cortex-m55", "--calib", example_path("kws_calib.npz"))
    assert proc.returncode == 0, proc.stderr
    mk = (out / "model.mk").read_text()
    assert "$(CMSIS_NN_SRCS)" in "".join(mk.splitlines(True)[:4]) and "EDGECC_CMSIS_NN" in mk
    assert "EDGECC_CMSIS_NN" in (out / "CMakeLists.txt").read_text()


def test_readme_says_mlperf_tests_skip_without_shared():
    readme = (REPO / "README.md").read_text()
    assert "../shared" in readme and "skipped" in readme


def test_dynamic_batch_warning_once_naming_the_cli_option(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="r")], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, tmp_path / "dyn.onnx")
    for args in (["inspect", tmp_path / "dyn.onnx"], [tmp_path / "dyn.onnx", "-o", tmp_path / "o"]):
        proc = edgecc(*args)
        assert proc.returncode == 0, proc.stderr
        warns = [ln for ln in proc.stderr.splitlines() if "dynamic batch" in ln]
        assert len(warns) == 1 and "--input-shape x=" in warns[0], proc.stderr


def test_session_dequantized_outputs_report_float32(tmp_path):
    from edgecc.runtime import Session

    out = tmp_path / "o"
    proc = edgecc(example_path(), "-o", out, "--emit", "tflite", "--calib", example_path("kws_calib.npz"))
    assert proc.returncode == 0, proc.stderr
    raw = Session(out / "model.tflite").get_outputs()[0]
    sess = Session(out / "model.tflite", dequantize_outputs=True)
    assert raw.type == "int8" and sess.get_outputs()[0].type == "float32"
    x = sess.get_inputs()[0]
    import numpy as np

    (y,) = sess.run(None, {x.name: np.zeros(x.shape, np.float32)})
    assert y.dtype == np.float32
