"""Build-system integration: edgecc.cmake (edgecc_add_model with a depfile), the example
firmware project (host build, Arm cross-build, GNU Make), the C backend command line and
``edgecc verify``."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edgecc.backends.c import cmake_dir
from edgecc.backends.c.sizes import toolchain_available

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "firmware"
COMMAND = f"{sys.executable};-m;edgecc.backends.c"

needs_cmake = pytest.mark.skipif(shutil.which("cmake") is None or shutil.which("ninja") is None,
                                 reason="cmake and ninja are needed")


@pytest.fixture
def model(tmp_path):
    import edgecc.examples as ex

    dst = tmp_path / "kws.onnx"
    shutil.copyfile(ex.path(), dst)
    return dst


def configure(build: Path, model: Path, *extra: str, generator: str = "Ninja"):
    cmd = ["cmake", "-S", str(EXAMPLE), "-B", str(build), "-G", generator, f"-DEDGECC_CMAKE_DIR={cmake_dir()}",
           f"-DEDGECC_COMMAND={COMMAND}", f"-DEXAMPLE_MODEL={model}", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, check=True)


def build(build_dir: Path) -> str:
    proc = subprocess.run(["cmake", "--build", str(build_dir)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_cmake_dir_holds_the_module():
    assert (cmake_dir() / "edgecc.cmake").is_file()


@needs_cmake
def test_cmake_host_build_and_depfile_reruns(model, tmp_path):
    b = tmp_path / "build"
    configure(b, model)
    out = build(b)
    assert "edgecc:" in out
    run = subprocess.run([str(b / "firmware")], capture_output=True, text=True, check=True)
    assert run.stdout.startswith("class ") and "arena 64000 bytes" in run.stdout
    assert "edgecc:" not in build(b)  # nothing changed: no regeneration
    model.write_bytes(model.read_bytes())  # the model changed (mtime): regenerate
    assert "edgecc:" in build(b)
    configure(b, model, "-DEXAMPLE_OPTIONS=--arena;external")  # options changed: regenerate
    assert "edgecc:" in build(b)
    assert "set_arena" in (b / "edgecc-gen" / "kws" / "kws.h").read_text()
    assert "edgecc:" not in build(b)


@needs_cmake
def test_cmake_with_make_generator(model, tmp_path):
    b = tmp_path / "build"
    configure(b, model, generator="Unix Makefiles")
    build(b)
    assert subprocess.run([str(b / "firmware")], capture_output=True).returncode == 0


@needs_cmake
@pytest.mark.skipif(not toolchain_available(), reason="arm-none-eabi-gcc is not installed")
def test_cmake_cross_build_for_cortex_m4(model, tmp_path):
    b = tmp_path / "build"
    configure(b, model, f"-DCMAKE_TOOLCHAIN_FILE={EXAMPLE / 'arm-none-eabi.cmake'}", "-DEXAMPLE_CORE=cortex-m4")
    build(b)
    sizes = subprocess.run(["arm-none-eabi-size", str(b / "firmware")], capture_output=True, text=True,
                           check=True).stdout.split("\n")[1].split()
    text, data, bss = (int(x) for x in sizes[:3])
    assert bss >= 64000 and text > 90000  # the arena in .bss, the weights in flash


@pytest.mark.skipif(shutil.which("make") is None, reason="make is needed")
def test_make_build_with_generated_mk(model, tmp_path):
    b = tmp_path / "mk"
    env_cmd = f"{sys.executable} -m edgecc.backends.c"
    args = ["make", "-C", str(EXAMPLE), f"MODEL={model}", f"EDGECC={env_cmd}", f"BUILD={b}", "CC=gcc"]
    subprocess.run(args, capture_output=True, text=True, check=True)
    run = subprocess.run([str(b / "firmware")], capture_output=True, text=True, check=True)
    assert run.stdout.startswith("class ")
    again = subprocess.run(args, capture_output=True, text=True, check=True)
    assert "Nothing to be done" in again.stdout


def run_cli(module: str, args: list[str]):
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True)


def test_backend_command_line(model, tmp_path):
    out = tmp_path / "out"
    p = run_cli("edgecc.backends.c", [str(model), "-t", "cortex-m4", "-o", str(out), "--board", "nrf52840",
                                      "--depfile", str(tmp_path / "m.d"), "--prefix", "kws"])
    assert p.returncode == 0, p.stderr
    assert (out / "kws.c").is_file() and (out / "report.md").is_file()
    dep = (tmp_path / "m.d").read_text()
    assert dep.startswith(str(out / "kws.h")) and str(model) in dep and "conv_f32.c" in dep
    # a board too small: one clear error, nothing written
    p = run_cli("edgecc.backends.c", [str(model), "-t", "cortex-m0plus", "-o", str(tmp_path / "x"),
                                      "--board", "nrf52840"])
    assert p.returncode == 1 and p.stderr.count("\n") == 1 and "nrf52840" in p.stderr
    p = run_cli("edgecc.backends.c", [str(model), "-t", "cortex-m9", "-o", str(tmp_path / "y")])
    assert p.returncode == 1 and "unknown core 'cortex-m9'" in p.stderr and "cortex-m55" in p.stderr
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_board_that_does_not_fit(tmp_path, shared_models):
    p = run_cli("edgecc.backends.c", [str(shared_models / "vww_96_float.onnx"), "-t", "cortex-m4", "-o",
                                      str(tmp_path / "o"), "--board", "stm32f401"])
    assert p.returncode == 1
    assert "does not fit stm32f401" in p.stderr and "--quantize int8" in p.stderr
    assert not (tmp_path / "o").exists()


def verify_cli(args):
    return subprocess.run([sys.executable, "-c", "import sys; from edgecc.tools.cli import run_command; "
                           "from edgecc.backends.c.verify_cli import verify_command; "
                           "run_command(verify_command, sys.argv[1:])", *args], capture_output=True, text=True)


def test_verify_command_float_and_failure(model):
    p = verify_cli([str(model), "--inputs", "3"])
    assert p.returncode == 0, p.stderr
    assert "PASS" in p.stdout and "probs" in p.stdout
    p = verify_cli([str(model), "--inputs", "2", "--rtol", "0"])  # float rounding differs: reported
    assert p.returncode == 1 and "FAIL" in p.stdout and "does not match" in p.stderr


def test_verify_command_quantized_with_tflm(shared_models):
    pytest.importorskip("tflite_micro")
    p = verify_cli([str(shared_models / "kws_ref_model_qdq.onnx"), "-t", "cortex-m4", "--inputs", "3"])
    assert p.returncode == 0, p.stderr
    lines = [x for x in p.stdout.splitlines() if x.startswith("Identity")]
    assert lines and lines[0].split()[-2:] == ["pass", "pass"]  # reference and TFLM


@needs_cmake
@pytest.mark.parametrize("cmsis", [False, True])
def test_emitted_cmakelists_builds_alone(cmsis, shared_models, tmp_path):
    import os

    from edgecc.backends.c import emit
    from edgecc.backends.tflite import read_tflite

    root = os.environ.get("EDGECC_CMSIS_NN")
    if cmsis and not root:
        pytest.skip("EDGECC_CMSIS_NN is not set (a CMSIS-NN checkout)")
    module = read_tflite(shared_models / "kws_ref_model.tflite")
    out = tmp_path / "kws"
    emit(module, out, target="cortex-m4" if cmsis else "generic", prefix="kws", memory="speed")
    b = tmp_path / "build"
    args = ["cmake", "-S", str(out), "-B", str(b), "-G", "Ninja", "-DKWS_TESTBENCH=ON"]
    if cmsis:
        args.append(f"-DCMSIS_NN_PATH={root}")
    subprocess.run(args, capture_output=True, text=True, check=True)
    build(b)
    data = bytes(range(246)) + bytes(range(244))
    run = subprocess.run([str(b / "kws_testbench")], input=data, capture_output=True, check=True)
    assert len(run.stdout) == 12


def test_docs_main_example_compiles_and_runs(gcc, shared_models, tmp_path):
    import re

    from edgecc.backends.c import emit
    from edgecc.backends.tflite import read_tflite

    text = (REPO / "docs" / "backends" / "c.md").read_text()
    main = re.findall(r"```c\n(.*?)```", text, re.S)[0]
    (tmp_path / "main.c").write_text(main)
    out = tmp_path / "kws"
    emit(read_tflite(shared_models / "kws_ref_model.tflite"), out, prefix="kws")
    exe = tmp_path / "app"
    subprocess.run([gcc, "-std=c99", "-Wall", "-Wextra", "-Werror", "-I", str(out), "-I",
                    str(out / "edgecc/include"), str(tmp_path / "main.c"), str(out / "kws.c"),
                    str(out / "kws_weights.c"), *map(str, sorted((out / "edgecc/src").glob("*.c"))), "-lm", "-o",
                    str(exe)], check=True)
    assert subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.startswith("class 3:")
