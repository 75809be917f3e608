"""Malformed or unsupported ONNX input: each fails with one clean line naming the file (and node)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgecc.frontend import import_onnx, load_onnx
from edgecc.ir.diagnostics import EdgeccError

F = TensorProto.FLOAT


def make(nodes, inputs, outputs, inits=(), opset=17, name="g") -> onnx.ModelProto:
    g = helper.make_graph(nodes, name, inputs, outputs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def relu_model(shape=(1, 3, 4, 4), opset=17) -> onnx.ModelProto:
    return make([helper.make_node("Relu", ["x"], ["y"], name="relu")],
                [helper.make_tensor_value_info("x", F, list(shape))],
                [helper.make_tensor_value_info("y", F, None)], opset=opset)


def save(tmp_path: Path, model: onnx.ModelProto, name: str = "model.onnx") -> Path:
    p = tmp_path / name
    p.write_bytes(model.SerializeToString())
    return p


def fails(path_or_model, *needles, fn=import_onnx, **kw) -> str:
    with pytest.raises(EdgeccError) as info:
        fn(path_or_model, **kw)
    text = str(info.value)
    assert "\n" not in text, text
    for n in needles:
        assert n in text, f"{n!r} not in {text!r}"
    return text


# ---------------------------------------------------------------------- files
def test_missing_file(tmp_path):
    fails(tmp_path / "nothere.onnx", "nothere.onnx", "no such file")


def test_directory(tmp_path):
    (tmp_path / "dir.onnx").mkdir()
    fails(tmp_path / "dir.onnx", "dir.onnx", "directory")


def test_truncated_file(tmp_path):
    data = relu_model().SerializeToString()
    for cut in (len(data) // 2, len(data) - 3, 7):
        p = tmp_path / "model.onnx"
        p.write_bytes(data[:cut])
        fails(p, "model.onnx: not a valid ONNX model")


@pytest.mark.parametrize("payload", [b"hello, this is text\n", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
                                     bytes(range(256)), b""])
def test_not_onnx(tmp_path, payload):
    p = tmp_path / "notes.onnx"
    p.write_bytes(payload)
    fails(p, "notes.onnx: not a valid ONNX model")


def test_empty_model_proto():
    fails(onnx.ModelProto(), "not a valid ONNX model")


# ---------------------------------------------------------------------- graph structure
def test_cycle(tmp_path):
    nodes = [helper.make_node("Add", ["x", "b"], ["a"], name="add_a"),
             helper.make_node("Relu", ["a"], ["b"], name="relu_b")]
    m = make(nodes, [helper.make_tensor_value_info("x", F, [1, 4])], [helper.make_tensor_value_info("a", F, None)])
    text = fails(save(tmp_path, m), "model.onnx", "cycle", "'add_a'", "'relu_b'")
    assert "node 'add_a' (Add, opset 17)" in text or "node 'relu_b' (Relu, opset 17)" in text


def test_missing_initializer(tmp_path):
    nodes = [helper.make_node("Conv", ["x", "conv.weight"], ["y"], name="conv1")]
    m = make(nodes, [helper.make_tensor_value_info("x", F, [1, 3, 8, 8])], [helper.make_tensor_value_info("y", F, None)])
    fails(save(tmp_path, m), "model.onnx: node 'conv1' (Conv, opset 17): missing initializer or producer for "
                             "'conv.weight'")


def test_output_without_producer(tmp_path):
    m = make([helper.make_node("Relu", ["x"], ["y"], name="r")], [helper.make_tensor_value_info("x", F, [2])],
             [helper.make_tensor_value_info("z", F, None)])
    fails(save(tmp_path, m), "model.onnx", "'z'", "no producer")


def test_tensor_defined_twice(tmp_path):
    nodes = [helper.make_node("Relu", ["x"], ["y"], name="r1"), helper.make_node("Neg", ["x"], ["y"], name="r2")]
    m = make(nodes, [helper.make_tensor_value_info("x", F, [2])], [helper.make_tensor_value_info("y", F, None)])
    fails(save(tmp_path, m), "model.onnx", "node 'r2'", "more than once")


# ---------------------------------------------------------------------- types and shapes
@pytest.mark.parametrize("elem", [TensorProto.INT64, TensorProto.STRING])
def test_conv_on_wrong_dtype(tmp_path, elem):
    w = numpy_helper.from_array(np.ones((2, 3, 3, 3), np.float32), "w")
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], name="conv_int")]
    m = make(nodes, [helper.make_tensor_value_info("x", elem, [1, 3, 8, 8])],
             [helper.make_tensor_value_info("y", F, None)], [w])
    fails(save(tmp_path, m), "model.onnx: node 'conv_int' (Conv, opset 17):")


def test_conv_int64_everywhere(tmp_path):
    w = numpy_helper.from_array(np.ones((2, 3, 3, 3), np.int64), "w")
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], name="conv_i64")]
    m = make(nodes, [helper.make_tensor_value_info("x", TensorProto.INT64, [1, 3, 8, 8])],
             [helper.make_tensor_value_info("y", TensorProto.INT64, None)], [w])
    fails(save(tmp_path, m), "model.onnx: node 'conv_i64' (Conv, opset 17):", "int64")


def test_unsupported_element_type(tmp_path):
    nodes = [helper.make_node("Identity", ["x"], ["y"], name="ident")]
    m = make(nodes, [helper.make_tensor_value_info("x", TensorProto.UINT32, [4])],
             [helper.make_tensor_value_info("y", TensorProto.UINT32, None)])
    fails(save(tmp_path, m), "model.onnx: node 'ident' (Identity, opset 17):", "UINT32")


def test_zero_sized_input(tmp_path):
    fails(save(tmp_path, relu_model((1, 0, 4))), "model.onnx: node 'relu' (Relu, opset 17):", "zero-sized",
          "'x'")


def test_zero_sized_intermediate(tmp_path):
    nodes = [helper.make_node("Slice", ["x", "s", "e"], ["y"], name="empty_slice"),
             helper.make_node("Relu", ["y"], ["z"], name="r")]
    inits = [numpy_helper.from_array(np.array([2], np.int64), "s"), numpy_helper.from_array(np.array([2], np.int64), "e")]
    m = make(nodes, [helper.make_tensor_value_info("x", F, [4])], [helper.make_tensor_value_info("z", F, None)], inits)
    fails(save(tmp_path, m), "model.onnx: node 'empty_slice' (Slice, opset 17):", "zero-sized")


def test_dynamic_non_batch_dim(tmp_path):
    m = relu_model((1, "channels", 4))
    fails(save(tmp_path, m), "model.onnx: node 'relu' (Relu, opset 17):", "'x'", "dynamic dimension 1")


def test_input_shapes_unknown_name(tmp_path):
    fails(save(tmp_path, relu_model()), "model.onnx", "'nope'", fn=load_onnx, input_shapes={"nope": (1,)})


def test_input_shapes_conflict(tmp_path):
    fails(save(tmp_path, relu_model()), "model.onnx", "'x'", fn=load_onnx, input_shapes={"x": (1, 3, 5, 4)})
    fails(save(tmp_path, relu_model()), "model.onnx", "rank", fn=load_onnx, input_shapes={"x": (1, 3)})


def test_shape_inference_error(tmp_path):
    nodes = [helper.make_node("Add", ["x", "y"], ["z"], name="bad_add")]
    m = make(nodes, [helper.make_tensor_value_info("x", F, [2, 3]), helper.make_tensor_value_info("y", F, [4, 5])],
             [helper.make_tensor_value_info("z", F, None)])
    fails(save(tmp_path, m), "model.onnx: node 'bad_add' (Add, opset 17):")


# ---------------------------------------------------------------------- external data
def _external_model(tmp_path: Path, location: str) -> Path:
    w = numpy_helper.from_array(np.ones((4,), np.float32), "bias")
    w.data_location = TensorProto.EXTERNAL
    w.ClearField("raw_data")
    for k, v in (("location", location), ("offset", "0"), ("length", "16")):
        e = w.external_data.add()
        e.key, e.value = k, v
    nodes = [helper.make_node("Add", ["x", "bias"], ["y"], name="add")]
    m = make(nodes, [helper.make_tensor_value_info("x", F, [4])], [helper.make_tensor_value_info("y", F, None)], [w])
    d = tmp_path / "model_dir"
    d.mkdir(exist_ok=True)
    return save(d, m)


def test_external_data_inside_folder_loads(tmp_path):
    p = _external_model(tmp_path, "weights.bin")
    (p.parent / "weights.bin").write_bytes(np.arange(4, dtype=np.float32).tobytes())
    m = import_onnx(p, optimize=False)
    consts = [op for op in m.ops if op.name == "builtin.constant"]
    assert np.array_equal(consts[0].attr("value").array, np.arange(4, dtype=np.float32))


@pytest.mark.parametrize("location", ["../secret.bin", "sub/../../secret.bin", "/etc/passwd"])
def test_external_data_escaping_folder(tmp_path, location):
    (tmp_path / "secret.bin").write_bytes(b"\0" * 16)
    p = _external_model(tmp_path, location)
    fails(p, "model.onnx", "'bias'", "escapes the model's folder")


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks")
def test_external_data_symlink_escaping_folder(tmp_path):
    (tmp_path / "secret.bin").write_bytes(b"\0" * 16)
    p = _external_model(tmp_path, "link.bin")
    (p.parent / "link.bin").symlink_to(tmp_path / "secret.bin")
    fails(p, "model.onnx", "'bias'", "symlink")


def test_external_data_missing_file(tmp_path):
    fails(_external_model(tmp_path, "absent.bin"), "model.onnx", "'absent.bin'", "not found")


def test_external_data_too_short(tmp_path):
    p = _external_model(tmp_path, "short.bin")
    (p.parent / "short.bin").write_bytes(b"\0" * 8)
    fails(p, "model.onnx", "shorter")


# ---------------------------------------------------------------------- ops and opsets
def test_unsupported_op(tmp_path):
    nodes = [helper.make_node("Det", ["x"], ["y"], name="determinant")]
    m = make(nodes, [helper.make_tensor_value_info("x", F, [3, 3])], [helper.make_tensor_value_info("y", F, None)])
    text = fails(save(tmp_path, m), "model.onnx: node 'determinant' (Det, opset 17): unsupported op; supported: Abs, Add,")
    listed = text.split("supported: ")[1].split(", ")
    assert "Conv" in listed and "Det" not in listed and listed == sorted(listed)


def test_unknown_op_type(tmp_path):
    nodes = [helper.make_node("FooBar", ["x"], ["y"], name="mystery")]
    m = make(nodes, [helper.make_tensor_value_info("x", F, [3])], [helper.make_tensor_value_info("y", F, None)])
    fails(save(tmp_path, m), "model.onnx: node 'mystery' (FooBar, opset 17):", "not an ONNX operator")


def test_custom_domain_op(tmp_path):
    nodes = [helper.make_node("FusedConv", ["x"], ["y"], name="ms_op", domain="com.microsoft")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", F, [3])], [helper.make_tensor_value_info("y", F, None)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    fails(save(tmp_path, m), "model.onnx: node 'ms_op' (FusedConv, opset 17): unsupported op")


def test_unsupported_attribute_value(tmp_path):
    nodes = [helper.make_node("Resize", ["x", "", "s"], ["y"], name="cubic", mode="cubic")]
    s = numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "s")
    m = make(nodes, [helper.make_tensor_value_info("x", F, [1, 1, 4, 4])], [helper.make_tensor_value_info("y", F, None)], [s])
    fails(save(tmp_path, m), "model.onnx: node 'cubic' (Resize, opset 17): mode 'cubic' is not supported")


def test_dynamic_shape_operand(tmp_path):
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["y"], name="reshape_dyn")]
    m = make(nodes, [helper.make_tensor_value_info("x", F, [2, 3]), helper.make_tensor_value_info("shape", TensorProto.INT64, [2])],
             [helper.make_tensor_value_info("y", F, None)])
    fails(save(tmp_path, m), "model.onnx: node 'reshape_dyn' (Reshape, opset 17):", "static shape")


@pytest.mark.parametrize("opset", [5, 99])
def test_unknown_opset(tmp_path, opset):
    m = relu_model(opset=opset)
    fails(save(tmp_path, m), "model.onnx", f"unsupported opset {opset}")


def test_no_default_opset(tmp_path):
    m = relu_model()
    del m.opset_import[:]
    m.opset_import.append(helper.make_opsetid("ai.onnx.ml", 3))
    fails(save(tmp_path, m), "model.onnx", "no default ONNX opset")


def test_error_is_edgecc_error_with_format(tmp_path):
    with pytest.raises(EdgeccError) as info:
        import_onnx(tmp_path / "x.onnx")
    assert info.value.format().startswith("error: x.onnx: ")
