"""Values that fit Python but not the backend's types are one-line errors, never truncated.

Each backend checks what it writes at its boundary (``edgecc.ir.ranges``):
C kernel parameters are ``int32_t`` and the arena and flash must fit a
32-bit core; TFLite shapes and options are flatbuffer ``int``; the Numba
kernels index with int64. Before the check, a conv stride of 2^40 compiled
to C as 0 (gcc: "overflow in conversion") and made the TFLite writer fail
with an internal error.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from .corpus import conv_model, graph_model, node, vi
from .harness import problems, run_cli


def _write(tmp_path, model, name="model.onnx"):
    p = tmp_path / name
    p.write_bytes(model.SerializeToString())
    return p


OVERFLOWS = {
    "conv-stride-2^40": (lambda: conv_model(strides=[1 << 40, 1 << 40]), "'strides' = 1099511627776"),
    "conv-pads-2^31": (lambda: conv_model(pads=[1 << 31] * 4, strides=[1 << 31, 1 << 31]), "2147483648"),
    "pool-stride-2^32": (lambda: graph_model([node("MaxPool", ["x"], ["y"], "conv", kernel_shape=[2, 2],
                                                   strides=[1 << 32, 1 << 32])], [vi("x", [1, 3, 4, 4])],
                                             [vi("y", None)]), "'strides' = 4294967296"),
}


@pytest.mark.parametrize("emit", ["c", "tflite"])
@pytest.mark.parametrize("case", sorted(OVERFLOWS))
def test_attribute_beyond_int32_is_an_error(case, emit, tmp_path):
    make, text = OVERFLOWS[case]
    model = _write(tmp_path, make())
    o = run_cli([str(model), "-o", str(tmp_path / "out"), "--emit", emit], cwd=tmp_path)
    assert not problems(o, must_name=["model.onnx", "'conv'", text, "does not fit"]), o.stderr
    assert ("int32_t" if emit == "c" else "TFLite backend's int32") in o.stderr
    assert not (tmp_path / "out").exists()


def test_int8_tensor_of_2_31_elements_overflows_the_c_element_counts(tmp_path):
    """2 GiB of int8 is within EDGECC_MAX_TENSOR_BYTES, but 2^31 elements overflow ``int32_t``."""
    t = "tensor<2x1073741824x!quant.uniform<i8:f32, 0.5:0>>"
    ir = (f"module {{\n  func.func @main(%x: {t}) -> ({t}) {{\n    %y = nn.relu(%x) : ({t}) -> {t}\n"
          f"    func.return(%y) : ({t}) -> ()\n  }}\n}}\n")
    (tmp_path / "big.mlir").write_text(ir)
    o = run_cli([str(tmp_path / "big.mlir"), "-o", str(tmp_path / "out"), "--emit", "c"], cwd=tmp_path)
    assert not problems(o, must_name=["big.mlir", "tensor 'x'", "2,147,483,648 elements"]), o.stderr


def test_arena_beyond_the_32_bit_address_space_names_the_tensor(tmp_path):
    """Two 3 GiB inputs (allowed once EDGECC_MAX_TENSOR_BYTES is raised) need a 6 GiB arena."""
    m = graph_model([node("Add", ["a", "b"], ["y"], "add")], [vi("a", [3, 1 << 28]), vi("b", [3, 1 << 28])],
                    [vi("y", None)])
    model = _write(tmp_path, m, "huge.onnx")
    env = {"EDGECC_MAX_TENSOR_BYTES": str(4 << 30), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-m", "edgecc", str(model), "-o", str(tmp_path / "out"), "--emit",
                           "c", "-t", "cortex-m55"], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 1, proc.stderr
    line, = proc.stderr.strip().splitlines()
    assert "huge.onnx: the arena for cortex-m55 needs 6,442,450,944 bytes" in line
    assert "32-bit address space" in line and "tensor 'a'" in line
    assert not (tmp_path / "out").exists()


def test_numba_backend_checks_its_int64_indices():
    from edgecc.backends.numba.lower import compile_module
    from edgecc.frontend import import_onnx
    from edgecc.ir.diagnostics import EdgeccError

    module = import_onnx(conv_model())
    conv = next(op for op in module.func.body if "conv" in op.name)
    conv.attrs["strides"] = (1 << 64, 1)
    with pytest.raises(EdgeccError, match=r"node 'conv': attribute 'strides' = 18446744073709551616 does not "
                                          r"fit the Numba backend's int64"):
        compile_module(module)


def test_the_example_passes_every_backend_check():
    """No false alarms on a real model (the bundled keyword-spotting DS-CNN)."""
    from edgecc.examples import path
    from edgecc.frontend import import_onnx
    from edgecc.ir.ranges import C_BOUNDS, NUMBA_BOUNDS, TFLITE_BOUNDS, check_module

    module = import_onnx(str(path()))
    for b in (C_BOUNDS, TFLITE_BOUNDS, NUMBA_BOUNDS):
        check_module(module, b)
