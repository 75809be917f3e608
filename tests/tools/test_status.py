"""The status line of long steps: shown on a terminal, silent in pipes and with -q.

``edgecc run`` (the first run compiles Numba kernels) and ``quantize-report``
draw a transient ``rich`` status line on stderr. Tests run the CLI with
stderr on a pseudo-terminal to see it, and captured to check that pipes and
``-q`` get nothing but the results.
"""

from __future__ import annotations

import os
import pty
import subprocess
import sys

import numpy as np
import pytest

from edgecc.examples import path as example_path

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="uses a pseudo-terminal")


@pytest.fixture(scope="module")
def relu(tmp_path_factory):
    from onnx import TensorProto, helper

    d = tmp_path_factory.mktemp("status")
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="relu")], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    (d / "relu.onnx").write_bytes(m.SerializeToString())
    np.save(d / "x.npy", np.array([[-1, 2, -3, 4]], np.float32))
    return d


def on_terminal(args, cwd) -> tuple[int, str, str]:
    """Run edgecc with stderr on a pseudo-terminal; returns (exit code, stdout, terminal text)."""
    master, slave = pty.openpty()
    env = dict(os.environ, TERM="xterm", COLUMNS="120")
    proc = subprocess.Popen([sys.executable, "-m", "edgecc", *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=slave, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    out, _ = proc.communicate(timeout=300)
    os.close(master)
    return proc.returncode, out.decode(), b"".join(chunks).decode(errors="replace")


def test_run_shows_a_status_line_on_a_terminal(relu):
    code, out, term = on_terminal(["run", "relu.onnx", "-i", "x.npy"], relu)
    assert code == 0 and "y: [1, 4] float32 [0, 2, 0, 4]" in out
    assert "compiling relu.onnx for the host" in term


@pytest.mark.slow
def test_run_is_silent_with_q_and_in_pipes(relu):
    code, out, term = on_terminal(["run", "relu.onnx", "-i", "x.npy", "-q"], relu)
    assert code == 0 and "y: [1, 4]" in out and "compiling" not in term
    proc = subprocess.run([sys.executable, "-m", "edgecc", "run", "relu.onnx", "-i", "x.npy"], cwd=relu,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and proc.stderr == "" and proc.stdout.startswith("y: [1, 4]")


@pytest.mark.slow
def test_quantize_report_shows_a_status_line_on_a_terminal(tmp_path):
    calib = example_path("kws_calib.npz")
    code, out, term = on_terminal(["quantize-report", str(example_path()), "--calib", str(calib), "--layers",
                                   "2"], tmp_path)
    assert code == 0 and "SQNR" in out
    assert "quantizing kws_dscnn.onnx (int8)" in term
    code, out, term = on_terminal(["quantize-report", str(example_path()), "--calib", str(calib), "--layers",
                                   "2", "-q"], tmp_path)
    assert code == 0 and "SQNR" in out and "quantizing" not in term
