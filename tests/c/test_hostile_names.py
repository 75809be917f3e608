"""Hostile names in generated C, Make and CMake: escaped, never injected; the output still builds.

A model file name, ONNX node and tensor names and the ``edgecc.source``
attribute reach comments, string literals, identifiers, ``model.mk`` and
``CMakeLists.txt``. With newlines, quotes, ``$()``, ``*/``, backslashes,
unicode and 5,000 characters in them, the generated files must build with
gcc, GNU Make and CMake, and no build step may run injected commands.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgecc.backends.c.escape import (c_comment, c_identifier, c_string, cmake_comment, cmake_string,
                                      make_comment, make_path)
from edgecc.ir.diagnostics import EdgeccError

NASTY = ['a\nb', 'say "hi"', "$(shell touch PWNED)", "*/ int evil; /*", "back\\slash\\", "??=",
         "modèle 模型 \U0001F600", "x" * 5000, "\r\n\t\0", "${CMAKE_COMMAND} @P@ ;", "#include <x>",
         "??/\nline", "a\u2028b\u0085c", "\x1b[31m", "*\\/ /\\*", "`touch PWNED` $$(x) %s"]
gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is needed")


@pytest.mark.parametrize("text", NASTY)
def test_comment_and_identifier_are_inert(text):
    for esc in (c_comment(text), make_comment(text), cmake_comment(text)):
        assert esc.isascii() and esc.isprintable()
        assert not esc.endswith("\\") and len(esc) <= 200
    assert "*/" not in c_comment(text) and "/*" not in c_comment(text)
    ident = c_identifier(text, "fallback")
    assert ident.isidentifier() and ident.isascii() and len(ident) <= 63
    assert "\n" not in cmake_string(text) and "${" not in cmake_string(text).replace("\\${", "")


def test_long_identifiers_stay_distinct():
    assert c_identifier("y" * 5000 + "a", "f") != c_identifier("y" * 5000 + "b", "f")


def test_make_path_refuses_newlines():
    assert make_path("a b$c#d") == "a\\ b$$c\\#d"
    with pytest.raises(EdgeccError, match="newline"):
        make_path("a\nb")


@gcc
def test_c_string_holds_the_exact_bytes(tmp_path):
    texts = [t for t in NASTY if "\0" not in t]
    src = "#include <stdio.h>\nint main(void) {\n" + "".join(
        f"    fputs({c_string(t)}, stdout); fputs(\"\\n---\\n\", stdout);\n" for t in texts) + "    return 0;\n}\n"
    (tmp_path / "s.c").write_text(src, encoding="ascii")
    subprocess.run(["gcc", "-std=c99", "-Wall", "-Werror", "-o", tmp_path / "s", tmp_path / "s.c"], check=True)
    out = subprocess.run([tmp_path / "s"], capture_output=True, check=True).stdout
    assert out == b"".join(t.encode() + b"\n---\n" for t in texts)


def hostile_model(long: bool = True):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    name = ("conv \n*/ evil(); /* \"q\" $(shell touch PWNED) \\ é" + ("z" * 5000 if long else ""))
    w = numpy_helper.from_array(np.full((4, 3, 3, 3), 0.1, np.float32), "weight */ $(X)\n" + "w" * 5000)
    g = helper.make_graph(
        [helper.make_node("Conv", ["in\n$(shell touch PWNED)", w.name], ["mid"], name=name, pads=[1, 1, 1, 1]),
         helper.make_node("Relu", ["mid"], ["out \"*/\" ${X}"], name="relu\n#define main evil")],
        "g", [helper.make_tensor_value_info("in\n$(shell touch PWNED)", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("out \"*/\" ${X}", TensorProto.FLOAT, None)], [w])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


FILE_NAME = "evil\n$(shell touch PWNED)\nall:;touch PWNED2\n\"q\" 'a' \\ ${X} é 模型.onnx"


def compile_model(src: Path, out: Path, *extra: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "edgecc", str(src), "-t", "generic", "-o", str(out),
                           "--emit", "c,report,testbench", *extra], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """The hostile model compiled twice: from .onnx with a hostile file name, and from .mlir
    whose ``edgecc.source`` holds ``*/``, a newline and 5,000 characters."""
    from edgecc.frontend import import_onnx
    from edgecc.ir.text.printer import print_module

    root = tmp_path_factory.mktemp("hostile-names")
    onnx_path = root / FILE_NAME
    onnx_path.write_bytes(hostile_model().SerializeToString())
    compile_model(onnx_path, root / "from-onnx")
    module = import_onnx(hostile_model())
    module.attrs["edgecc.source"] = ("src */ evil(); /*\n$(shell touch PWNED)\n\"q\" 'a' \\ ??/\n${X} "
                                     "`touch PWNED3` é 模型\u2028" + "s" * 5000)
    mlir = root / "model.mlir"
    mlir.write_text(print_module(module), encoding="utf-8")
    compile_model(mlir, root / "from-mlir")
    return root


@pytest.mark.parametrize("which", ["from-onnx", "from-mlir"])
def test_generated_text_has_no_raw_names(generated, which):
    out = generated / which
    for f in ("model.c", "model.h", "model_weights.c", "model.mk", "CMakeLists.txt", "model_testbench.c"):
        text = (out / f).read_text(encoding="utf-8")
        assert text.isascii(), f
        for line in text.splitlines():
            assert len(line) < 1000, f"{f}: a {len(line)}-character line"
            if f in ("model.mk", "CMakeLists.txt") and not line.lstrip().startswith("#"):
                assert "PWNED" not in line and "${X}" not in line, f"{f}: {line}"


@gcc
@pytest.mark.parametrize("which", ["from-onnx", "from-mlir"])
def test_names_only_inside_comments(generated, which):
    """Preprocessed (comments dropped), no hostile text remains in the C code."""
    out = generated / which
    for f in ("model.c", "model.h", "model_weights.c"):
        code = subprocess.run(["gcc", "-E", "-P", "-I", out, "-I", out / "edgecc" / "include", out / f],
                              capture_output=True, text=True, check=True).stdout
        for bad in ("evil(", "$(", "${", "touch PWNED"):  # (sanitised identifiers may keep letters)
            assert bad not in code, f"{f}: {bad}"


@gcc
@pytest.mark.parametrize("which", ["from-onnx", "from-mlir"])
def test_hostile_names_build_with_gcc_make_and_cmake(generated, which, tmp_path):
    out = generated / which
    # 1. gcc, strict: a comment broken by a name would be a warning or an error
    subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror=comment", "-Werror=implicit-function-declaration",
                    "-I", out, "-I", out / "edgecc" / "include", "-c", out / "model.c", "-o", tmp_path / "m.o"],
                   check=True, capture_output=True)
    # 2. GNU Make, including model.mk as documented
    if shutil.which("make"):
        mk = tmp_path / "Makefile"
        mk.write_text(f"include {make_path(str(out / 'model.mk'))}\n"
                      "tb: $(MODEL_SRCS) $(EDGECC_RUNTIME_SRCS) $(MODEL_DIR)/model_testbench.c\n"
                      "\tgcc $(MODEL_CFLAGS) -o $@ $^ $(MODEL_LDLIBS)\n")
        proc = subprocess.run(["make", "-f", str(mk), "tb"], cwd=tmp_path, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        run_testbench(tmp_path / "tb")
    # 3. CMake, the generated CMakeLists.txt on its own with the testbench
    if shutil.which("cmake"):
        b = tmp_path / "build"
        proc = subprocess.run(["cmake", "-S", str(out), "-B", str(b), "-DMODEL_TESTBENCH=ON"],
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        proc = subprocess.run(["cmake", "--build", str(b)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        run_testbench(b / "model_testbench")
    for folder in (tmp_path, out, generated):
        assert not list(folder.rglob("PWNED*")), "an injected command ran"


def run_testbench(exe: Path) -> None:
    x = np.ones((1, 3, 8, 8), np.float32)
    proc = subprocess.run([str(exe)], input=x.tobytes(), capture_output=True, check=True)
    assert len(proc.stdout) == 4 * 8 * 8 * 4


def test_depfile_refuses_a_model_path_make_cannot_express(tmp_path):
    src = tmp_path / "a\nb.onnx"
    src.write_bytes(hostile_model(long=False).SerializeToString())
    proc = subprocess.run([sys.executable, "-m", "edgecc", str(src), "-t", "generic", "-o", str(tmp_path / "o"),
                           "--depfile", str(tmp_path / "o.d")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1 and "newline" in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
