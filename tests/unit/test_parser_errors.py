"""Parse errors are one line, located at file:line:col, saying what was expected."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import edgecc
from edgecc.ir import ParseError

HEADER = "module {\n  func.func @main(%x: tensor<1x4xf32>) -> (tensor<1x4xf32>) {\n"
FOOTER = "    func.return(%x) : (tensor<1x4xf32>) -> ()\n  }\n}\n"


@pytest.mark.parametrize("body, where, message", [
    ("    %0 = nn.relu(%x : (tensor<1x4xf32>) -> tensor<1x4xf32>\n", "3:21",
     "unexpected ':', expected ',', ')'"),
    ("    %0 = nosuch.op(%x) : (tensor<1x4xf32>) -> tensor<1x4xf32>\n", "3:5", "unknown op 'nosuch.op'"),
    ("    %0 = onnx.Relu(%y) : (tensor<1x4xf32>) -> tensor<1x4xf32>\n", "3:20",
     "use of undefined value %y"),
    ("    %0 = onnx.Relu(%x) : (tensor<1x5xf32>) -> tensor<1x4xf32>\n", "3:5",
     "operand %x has type tensor<1x4xf32>, signature says tensor<1x5xf32>"),
    ("    %x = onnx.Relu(%x) : (tensor<1x4xf32>) -> tensor<1x4xf32>\n", "3:5",
     "value %x is defined twice"),
    ("    %0 = onnx.Relu(%x) : (tensor<1x4xf32>) -> tensor<1x4xq32>\n", "3:58",
     "unexpected 'q32', expected a float type, an integer type, '!quant.uniform'"),
    ("    %0 = onnx.A() {value = dense_resource<nope> : tensor<4xf32>} : () -> tensor<4xf32>\n",
     "3:28", "dense_resource<nope> has no blob"),
    ("    %0 = onnx.A() {t = tensor<2x!quant.uniform<i8:f32, -1.0:0>>} : () -> tensor<4xf32>\n",
     "3:33", "scale must be positive"),
])
def test_parse_error_is_located(body, where, message):
    with pytest.raises(ParseError) as info:
        edgecc.parse_ir(HEADER + body + FOOTER, "t.mlir")
    text = info.value.format()
    assert "\n" not in text
    assert text.startswith(f"t.mlir:{where}: error: "), text
    assert message in text


def test_truncated_input_reports_end_of_input():
    with pytest.raises(ParseError, match="unexpected end of input"):
        edgecc.parse_ir(HEADER, "t.mlir")


def test_opt_cli_reports_one_line_and_exit_code_1(tmp_path: Path):
    bad = tmp_path / "bad.mlir"
    bad.write_text(HEADER + "    %0 = nn.relu(%x : f32\n" + FOOTER)
    proc = subprocess.run([sys.executable, "-m", "edgecc", "opt", str(bad)], capture_output=True,
                          text=True)
    assert proc.returncode == 1
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{bad}:3:21: error:")
    assert "Traceback" not in proc.stderr
