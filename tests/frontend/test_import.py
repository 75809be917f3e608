"""The ONNX importer (onnx dialect, shapes, locations) and per-op legalization to nn."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import warnings
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import edgecc
from edgecc.conversion.onnx_to_nn import SUPPORTED_OPS, legalize, supported_ops_table
from edgecc.frontend import import_onnx, load_onnx
from edgecc.ir.diagnostics import Location

_spec = importlib.util.spec_from_file_location("edgecc_tests_frontend_models", Path(__file__).with_name("models.py"))
models = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = models
_spec.loader.exec_module(models)
G = models.G
F = TensorProto.FLOAT


def quiet(fn, *a, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*a, **kw)


def op_names(module) -> list[str]:
    return [op.name for op in module.ops]


# ====================================================================== importer
def test_onnx_dialect_module(tmp_path):
    model = models.mobilenet_block(17)
    path = tmp_path / "mbnet.onnx"
    path.write_bytes(model.SerializeToString())
    m = load_onnx(path)
    assert m.name == "mobilenet_block"
    assert m.attrs["edgecc.source"] == "mbnet.onnx"
    assert m.attrs["edgecc.source_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert m.attrs["onnx.opset"] == 17
    onnx_ops = [op for op in m.ops if op.name.startswith("onnx.")]
    assert [op.name for op in onnx_ops] == [f"onnx.{n.op_type}" for n in model.graph.node]
    conv = onnx_ops[0]
    assert conv.attrs["kernel_shape"] == (3, 3) and conv.attrs["strides"] == (2, 2)
    assert conv.loc == Location(name=model.graph.node[0].name, file="mbnet.onnx")
    assert conv.results[0].name_hint == model.graph.node[0].output[0]
    assert m.func.arguments[0].name_hint == "image"
    assert m.func.arguments[0].type.shape == (1, 3, 32, 32)
    consts = [op for op in m.ops if op.name == "builtin.constant"]
    assert {op.attr("value").resource for op in consts} <= {t.name for t in model.graph.initializer}
    assert consts[0].loc.file == "mbnet.onnx"
    for op in m.ops:
        for r in op.results:
            assert all(d > 0 for d in r.type.shape) or op.name == "builtin.constant"
    m.verify()


def test_sanitized_names():
    g = G("my graph/v1", 17)
    x = g.input("input:0", [1, 4])
    g.node("Add", [x, g.const(np.ones(4, np.float32), name="1bias/weight:0")], outputs=["out:0"], name="add/op")
    g.output("out:0")
    m = load_onnx(g.model())
    assert m.name == "my_graph_v1"
    text = str(m)
    assert "_1bias_weight_0" in text or "dense<" in text
    assert m.func.arguments[0].name_hint == "input_0"
    assert next(op for op in m.ops if op.name == "onnx.Add").loc.name == "add/op"
    assert edgecc.parse_ir(text, "t.mlir") is not None


def test_print_parse_roundtrip():
    model = models.ds_cnn_kws(17, filters=8)
    m = load_onnx(model)
    text = str(m)
    assert str(edgecc.parse_ir(text, "a.mlir")) == text
    legalize(m)
    text = str(m)
    again = edgecc.parse_ir(text, "b.mlir")
    again.verify()
    assert str(again) == text


def test_unnamed_nodes_are_named_by_type_and_index():
    g = G("anon", 17)
    x = g.input("x", [2, 3])
    y = g.node("Relu", [x], name="")
    g.nodes[-1].name = ""
    g.node("Neg", [y], outputs=["z"])
    g.nodes[-1].name = ""
    g.output("z")
    m = load_onnx(g.model())
    locs = [op.loc.name for op in m.ops if op.name.startswith("onnx.")]
    assert locs == ["Relu_0", "Neg_1"]


def test_any_dag_order_is_accepted():
    model = models.resnet_block()
    nodes = list(model.graph.node)[::-1]
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    m = quiet(import_onnx, model)
    m.verify()
    models.assert_matches_onnxruntime(models.resnet_block(), m)


def test_dynamic_batch_defaults_to_one_with_a_warning():
    model = models.dense_autoencoder(17)
    with pytest.warns(UserWarning, match="dynamic batch dimension; using 1"):
        m = load_onnx(model)
    assert m.func.arguments[0].type.shape == (1, 640)


def test_input_shapes_fix_the_batch():
    model = models.dense_autoencoder(17)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = load_onnx(model, input_shapes={"spectrum": (3, 640)})
    assert m.func.arguments[0].type.shape == (3, 640)
    assert m.func.outputs[0].type.shape == (3, 640)


def test_shape_subgraph_is_completed_and_folded():
    model = models.shape_subgraph()
    m = quiet(load_onnx, model, input_shapes={"x": (2, 3, 4, 4)})
    reshape = next(op for op in m.ops if op.name == "onnx.Reshape")
    assert reshape.results[0].type.shape == (2, 64)
    legalize(m)
    assert not any(n.startswith("onnx.") for n in op_names(m))
    assert "nn.reshape" in op_names(m)
    models.assert_matches_onnxruntime(model, m)


def test_absent_optional_inputs_are_recorded():
    g = G("clip", 17)
    x = g.input("x", [4])
    g.node("Clip", [x, "", g.const(np.float32(0.5))], outputs=["y"])
    g.output("y")
    m = load_onnx(g.model())
    clip = next(op for op in m.ops if op.name == "onnx.Clip")
    assert clip.attrs["onnx.absent_inputs"] == (1,)
    assert len(clip.operands) == 2
    legalize(m)
    clamp = next(op for op in m.ops if op.name == "nn.clamp")
    assert clamp.attr("max") == 0.5 and clamp.attr("min") == -np.inf


def test_old_opset_is_upgraded():
    g = G("old", 9, seed=3)
    x = g.input("x", [1, 2, 3, 3])
    y = g.node("Upsample", [x, g.const(np.array([1, 1, 2, 2], np.float32))], mode="nearest")
    y = g.node("Gemm", [g.node("Flatten", [y]), g.weight(4, 72), g.weight(4)], transB=1)
    g.node("Softmax", [y], outputs=["p"])
    g.output("p")
    model = g.model()
    with pytest.warns(UserWarning, match="opset 9 upgraded to 11"):
        m = import_onnx(model)
    assert m.attrs["onnx.opset"] == 11
    models.assert_matches_onnxruntime(model, m)


def test_load_from_bytes_and_proto():
    model = models.squeezenet_fire()
    a = load_onnx(model.SerializeToString())
    b = load_onnx(model)
    assert a.attrs["edgecc.source"] == "model.onnx"
    assert b.attrs["edgecc.source"] == "fire.onnx"
    assert a.attrs["edgecc.source_sha256"] == b.attrs["edgecc.source_sha256"]


def test_import_without_optimize_keeps_every_lowered_op():
    m = import_onnx(models.mobilenet_block(17), optimize=False)
    names = op_names(m)
    assert names.count("nn.transpose") >= 6
    assert "nn.conv2d" in names and "nn.depthwise_conv2d" in names


# ====================================================================== legalization structure
def _conv_model(cin=3, cout=4, group=1, bias=True, bn=False, share=False):
    g = G("conv", 17, seed=4)
    x = g.input("x", [1, cin, 6, 6])
    y = g.conv(x, cin, cout, 3, group=group, bias=bias)
    if bn:
        z = g.bn(y, cout)
        if share:
            g.node("Relu", [y], outputs=["side"])
            g.output("side")
        y = z
    g.node("Identity", [y], outputs=["out"])
    g.output("out")
    return g.model()


def test_conv_is_wrapped_in_layout_transposes():
    model = _conv_model()
    m = import_onnx(model, optimize=False)
    seq = [op for op in m.ops if op.name.startswith("nn.")]
    assert [op.name for op in seq] == ["nn.transpose", "nn.conv2d", "nn.transpose"]
    assert seq[0].attr("perm") == (0, 2, 3, 1) and seq[2].attr("perm") == (0, 3, 1, 2)
    conv = seq[1]
    w = numpy_helper.to_array(model.graph.initializer[0])
    got = conv.operands[1].defining_op().attr("value").array
    np.testing.assert_array_equal(got, np.transpose(w, (0, 2, 3, 1)))
    assert conv.attr("pads") == (1, 1, 1, 1)
    assert conv.loc.name == model.graph.node[0].name
    models.assert_matches_onnxruntime(model, m)


def test_depthwise_conv_layout():
    model = _conv_model(cin=4, cout=8, group=4)
    m = import_onnx(model)
    dw = next(op for op in m.ops if op.name == "nn.depthwise_conv2d")
    assert dw.operands[1].type.shape == (1, 3, 3, 8) and dw.attr("depth_multiplier") == 2
    models.assert_matches_onnxruntime(model, m)


def test_batchnorm_folds_into_conv():
    model = _conv_model(bn=True)
    m = import_onnx(model)
    names = op_names(m)
    assert names.count("nn.conv2d") == 1 and "nn.mul" not in names and "nn.add" not in names
    models.assert_matches_onnxruntime(model, m)


def test_batchnorm_not_folded_when_conv_output_is_shared():
    model = _conv_model(bn=True, share=True, bias=False)
    m = import_onnx(model)
    names = op_names(m)
    assert "nn.mul" in names and "nn.add" in names
    models.assert_matches_onnxruntime(model, m)


def test_matmul_add_becomes_fully_connected_with_bias():
    model = models.dense_autoencoder(17, use_gemm=False)
    m = quiet(import_onnx, model)
    names = op_names(m)
    assert names.count("nn.fully_connected") == 6 and "nn.add" not in names
    fcs = [op for op in m.ops if op.name == "nn.fully_connected"]
    assert all(len(op.operands) == 3 for op in fcs)


def test_gemm_with_dynamic_b_is_matmul():
    g = G("gemm_dyn", 17)
    a, b = g.input("a", [3, 4]), g.input("b", [5, 4])
    g.node("Gemm", [a, b, g.weight(5)], outputs=["y"], transB=1, alpha=0.5, beta=2.0)
    g.output("y")
    model = g.model()
    m = import_onnx(model)
    assert "nn.matmul" in op_names(m)
    models.assert_matches_onnxruntime(model, m)


def test_qdq_quantized_constants_and_types():
    m = import_onnx(models.qdq_model(), optimize=False)
    conv = next(op for op in m.ops if op.name == "nn.conv2d")
    deq = conv.operands[1].defining_op()
    assert deq.name == "nn.dequantize"
    qw = deq.operands[0].type
    assert qw.shape == (4, 3, 3, 2) and qw.element.kind == "qi8" and qw.element.axis == 0
    assert len(qw.element.scales) == 4
    bias = conv.operands[2].defining_op()  # the int32 initializer, kept as stored integers
    assert bias.name == "nn.dequantize" and bias.operands[0].type.element.kind == "qi32"
    assert m.func.arguments[0].type.element.zero_point == -3
    q = [op for op in m.ops if op.name == "nn.quantize"]
    assert [op.result.type.element.scale for op in q] == pytest.approx([0.04, 0.1])


def test_every_op_has_a_node_location():
    model = models.ds_cnn_kws(17, filters=8)
    m = import_onnx(model, optimize=False)
    names = {n.name for n in model.graph.node} | {t.name for t in model.graph.initializer}
    for op in m.ops:
        if op.name != "func.return":
            assert op.loc.file == "ds_cnn.onnx" and op.loc.name in names, op


def test_supported_ops():
    assert SUPPORTED_OPS == sorted(SUPPORTED_OPS)
    for op in ("Abs", "Add", "AveragePool", "BatchNormalization", "Cast", "Clip", "Concat", "Conv",
               "DequantizeLinear", "Div", "Dropout", "Erf", "Exp", "Expand", "Flatten", "GRU", "Gather", "Gelu",
               "Gemm", "GlobalAveragePool", "HardSigmoid", "HardSwish", "Identity", "LRN", "LSTM", "LeakyRelu",
               "Log", "LogSoftmax", "MatMul", "Max", "MaxPool", "Min", "Mul", "Neg", "PRelu", "Pad", "Pow",
               "QuantizeLinear", "Reciprocal", "ReduceMax", "ReduceMean", "ReduceMin", "ReduceSum", "Relu",
               "Reshape", "Resize", "Shape", "Sigmoid", "Slice", "Softmax", "Split", "Sqrt", "Squeeze", "Sub",
               "Sum", "Tanh", "Tile", "Transpose", "Unsqueeze", "Constant", "ConstantOfShape", "Range"):
        assert op in SUPPORTED_OPS, op
    rows = supported_ops_table()
    assert all(doc for _, _, doc in rows)


# ====================================================================== per-op numerics
CASES: dict[str, tuple] = {}


def case(name: str, opset: int = 17, rtol: float = 1e-5, atol: float = 1e-5):
    def register(fn):
        CASES[name] = (fn, opset, rtol, atol)
        return fn

    return register


def _out(g: G, y: str, name: str = "y") -> None:
    g.node("Identity", [y], outputs=[name])
    g.output(name)


@case("conv_same_upper")
def _(g):
    _out(g, g.node("Conv", [g.input("x", [1, 3, 9, 9]), g.weight(4, 3, 3, 3)], auto_pad="SAME_UPPER",
                   strides=[2, 2]))


@case("conv_same_lower_k4")
def _(g):
    _out(g, g.node("Conv", [g.input("x", [1, 2, 8, 7]), g.weight(3, 2, 4, 4)], auto_pad="SAME_LOWER",
                   strides=[2, 2]))


@case("conv_valid_dilated")
def _(g):
    _out(g, g.node("Conv", [g.input("x", [1, 2, 10, 10]), g.weight(3, 2, 3, 3), g.weight(3)], auto_pad="VALID",
                   dilations=[2, 2]))


@case("conv_1d")
def _(g):
    _out(g, g.node("Conv", [g.input("x", [1, 3, 20]), g.weight(4, 3, 5), g.weight(4)], pads=[2, 1], strides=[2]))


@case("conv_grouped")
def _(g):
    _out(g, g.conv(g.input("x", [1, 4, 6, 6]), 4, 6, 3, group=2))


@case("conv_dynamic_weight")
def _(g):
    _out(g, g.node("Conv", [g.input("x", [1, 2, 5, 5]), g.input("w", [3, 2, 3, 3])], pads=[1, 1, 1, 1]))


def _convt_case(cin=2, cout=3, k=(3, 3), hw=(4, 5), group=1, bias=True, **attrs):
    def build(g):
        x = g.input("x", [1, cin, *hw])
        ins = [x, g.weight(cin, cout // group, *k)] + ([g.weight(cout)] if bias else [])
        _out(g, g.node("ConvTranspose", ins, group=group, **attrs))

    return build


for _name, _kw in {
    "stride2_pads_outpad": dict(strides=[2, 2], pads=[1, 1, 1, 1], output_padding=[1, 0]),
    "plain": dict(),
    "stride3_dilated": dict(strides=[3, 2], dilations=[2, 1], pads=[0, 2, 1, 0]),
    "grouped": dict(cin=4, cout=6, group=2, strides=[2, 2]),
    "depthwise": dict(cin=3, cout=3, group=3, strides=[2, 2], bias=False),
    "same_upper": dict(strides=[2, 2], auto_pad="SAME_UPPER", k=(4, 3)),
    "same_lower": dict(strides=[2, 2], auto_pad="SAME_LOWER", k=(3, 4)),
    "output_shape": dict(strides=[2, 2], output_shape=[9, 10]),
    "big_pads": dict(k=(2, 2), strides=[2, 2], pads=[2, 1, 2, 3]),
    "1d": dict(k=(4,), hw=(7,), strides=[2], pads=[1, 2]),
}.items():
    case(f"conv_transpose_{_name}")(_convt_case(**_kw))


@case("maxpool_ceil_mode")
def _(g):
    _out(g, g.node("MaxPool", [g.input("x", [1, 2, 10, 10])], n_out=1, kernel_shape=[3, 3], strides=[2, 2],
                   pads=[1, 1, 0, 0], ceil_mode=1))


@case("avgpool_count_include_pad")
def _(g):
    _out(g, g.node("AveragePool", [g.input("x", [1, 2, 6, 6])], kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                   count_include_pad=1))


@case("avgpool_exclude_pad_same_upper")
def _(g):
    _out(g, g.node("AveragePool", [g.input("x", [1, 2, 7, 7])], kernel_shape=[2, 2], strides=[2, 2],
                   auto_pad="SAME_UPPER"))


@case("maxpool_1d")
def _(g):
    _out(g, g.node("MaxPool", [g.input("x", [1, 2, 11])], kernel_shape=[3], strides=[2]))


@case("global_max_pool")
def _(g):
    _out(g, g.node("GlobalMaxPool", [g.input("x", [1, 3, 5, 4])]))


@case("global_avg_pool_1d")
def _(g):
    _out(g, g.node("GlobalAveragePool", [g.input("x", [1, 3, 7])]))


@case("batchnorm_4d")
def _(g):
    _out(g, g.bn(g.input("x", [1, 3, 4, 4]), 3))


@case("batchnorm_2d")
def _(g):
    _out(g, g.bn(g.input("x", [2, 5]), 5))


@case("lrn")
def _(g):
    _out(g, g.node("LRN", [g.input("x", [1, 6, 3, 3])], size=3, alpha=1e-2, beta=0.75, bias=2.0))


@case("instance_norm", atol=1e-4)
def _(g):
    _out(g, g.node("InstanceNormalization", [g.input("x", [1, 3, 4, 5]), g.weight(3), g.weight(3)]))


@case("resize_nearest_half_pixel_ceil")
def _(g):
    x = g.input("x", [1, 2, 3, 4])
    _out(g, g.node("Resize", [x, "", g.const(np.array([1, 1, 2, 3], np.float32))], mode="nearest",
                   nearest_mode="round_prefer_ceil"))


@case("resize_linear_align_corners")
def _(g):
    x = g.input("x", [1, 2, 3, 4])
    _out(g, g.node("Resize", [x, "", "", g.ints([1, 2, 7, 5])], mode="linear",
                   coordinate_transformation_mode="align_corners"))


@case("resize_linear_pytorch_down")
def _(g):
    x = g.input("x", [1, 2, 8, 6])
    _out(g, g.node("Resize", [x, "", "", g.ints([1, 2, 4, 3])], mode="linear",
                   coordinate_transformation_mode="pytorch_half_pixel"))


@case("pad_reflect_4d")
def _(g):
    _out(g, g.node("Pad", [g.input("x", [1, 2, 4, 5]), g.ints([0, 0, 1, 2, 0, 0, 2, 1])], mode="reflect"))


@case("pad_edge_3d")
def _(g):
    _out(g, g.node("Pad", [g.input("x", [2, 3, 4]), g.ints([0, 1, 2, 1, 0, 1])], mode="edge"))


@case("pad_axes_18", opset=18)
def _(g):
    x = g.input("x", [1, 2, 3, 3])
    _out(g, g.node("Pad", [x, g.ints([1, 1, 2, 0]), g.const(np.float32(-1.0)), g.ints([2, 3])]))


@case("gemm_transA_alpha_beta_full_c")
def _(g):
    a = g.input("a", [4, 3])
    _out(g, g.node("Gemm", [a, g.weight(5, 4), g.weight(3, 5)], transA=1, transB=1, alpha=0.7, beta=1.3))


@case("gemm_scalar_c")
def _(g):
    _out(g, g.node("Gemm", [g.input("a", [2, 4]), g.weight(4, 6), g.const(np.float32(0.25))], beta=2.0))


@case("matmul_batched_dynamic")
def _(g):
    _out(g, g.node("MatMul", [g.input("a", [2, 3, 4]), g.input("b", [2, 4, 5])]))


@case("matmul_3d_const")
def _(g):
    _out(g, g.node("MatMul", [g.input("a", [2, 3, 4]), g.weight(4, 5)]))


@case("matmul_batchnorm")
def _(g):
    y = g.node("MatMul", [g.input("a", [3, 4]), g.weight(4, 5)])
    _out(g, g.bn(y, 5))


@case("prelu_channel")
def _(g):
    _out(g, g.node("PRelu", [g.input("x", [1, 3, 4, 4]), g.weight(3, 1, 1)]))


@case("prelu_last_axis")
def _(g):
    _out(g, g.node("PRelu", [g.input("x", [2, 3, 4]), g.weight(4)]))


_UNARY = {"Relu": {}, "Sigmoid": {}, "Tanh": {}, "Exp": {}, "Abs": {}, "Neg": {}, "Erf": {}, "Reciprocal": {},
          "LeakyRelu": {"alpha": 0.2}, "HardSigmoid": {"alpha": 0.3, "beta": 0.4}, "HardSwish": {},
          "Elu": {"alpha": 0.7}, "Selu": {}, "Softmax": {"axis": 1}, "LogSoftmax": {"axis": 0}}


def _unary_case(op, attrs):
    def build(g):
        _out(g, g.node(op, [g.input("x", [3, 4, 5])], **attrs))

    return build


for _op, _attrs in _UNARY.items():
    case(f"unary_{_op}")(_unary_case(_op, _attrs))


@case("softplus_softsign_mish_celu", opset=18)
def _(g):
    x = g.node("Mul", [g.input("x", [3, 8]), g.const(np.float32(30.0))])  # large |x|: overflow-safe forms
    _out(g, g.node("Softplus", [x]), "a")
    _out(g, g.node("Softsign", [x]), "b")
    _out(g, g.node("Mish", [x]), "c")
    _out(g, g.node("Celu", [x], alpha=2.0), "d")


@case("swish", opset=24)
def _(g):
    _out(g, g.node("Swish", [g.input("x", [3, 8])], alpha=1.5))


@case("layer_norm_all_outputs", atol=1e-4)
def _(g):
    y, mean, inv = g.node("LayerNormalization", [g.input("x", [2, 3, 8]), g.weight(3, 8)], n_out=3, axis=1)
    for k, v in enumerate((y, mean, inv)):
        _out(g, v, f"o{k}")


@case("lp_normalization")
def _(g):
    x = g.input("x", [3, 5])
    _out(g, g.node("LpNormalization", [x], axis=1, p=2), "a")
    _out(g, g.node("LpNormalization", [x], axis=0, p=1), "b")


@case("depth_to_space_space_to_depth")
def _(g):
    x = g.input("x", [1, 8, 3, 2])
    _out(g, g.node("DepthToSpace", [x], blocksize=2, mode="DCR"), "a")
    _out(g, g.node("DepthToSpace", [x], blocksize=2, mode="CRD"), "b")
    _out(g, g.node("SpaceToDepth", [g.input("z", [1, 2, 4, 6])], blocksize=2), "c")


@case("reductions_log", atol=1e-4)
def _(g):
    x = g.input("x", [2, 3, 4])
    big = g.node("Mul", [x, g.const(np.float32(50.0))])
    _out(g, g.node("ReduceLogSumExp", [big], axes=[1], keepdims=0), "a")
    _out(g, g.node("ReduceLogSum", [g.node("Abs", [x])], axes=[2]), "b")
    _out(g, g.node("ReduceL1", [x], axes=[0, 2], keepdims=0), "c")


@case("cast_like", opset=15)
def _(g):
    y = g.node("Mul", [g.input("x", [3, 4]), g.const(np.float32(10.0))])
    g.node("CastLike", [y, g.const(np.zeros(1, np.int32))], outputs=["y"])
    g.output("y", TensorProto.INT32)


@case("softmax_legacy_axis_op11", opset=11)
def _(g):
    _out(g, g.node("Softmax", [g.input("x", [2, 3, 4])], axis=1))


@case("log_softmax_legacy_default_op11", opset=11)
def _(g):
    _out(g, g.node("LogSoftmax", [g.input("x", [2, 3, 4])]))


@case("sqrt_log_pow")
def _(g):
    x = g.node("Add", [g.node("Abs", [g.input("x", [3, 4])]), g.const(np.float32(0.5))])
    y = g.node("Add", [g.node("Sqrt", [x]), g.node("Log", [x])])
    _out(g, g.node("Pow", [y, g.const(np.float32(1.5))]))


@case("gelu_erf", opset=20)
def _(g):
    _out(g, g.node("Gelu", [g.input("x", [3, 7])]))


@case("gelu_tanh", opset=20)
def _(g):
    _out(g, g.node("Gelu", [g.input("x", [3, 7])], approximate="tanh"))


@case("layer_norm", atol=1e-4)
def _(g):
    _out(g, g.node("LayerNormalization", [g.input("x", [2, 3, 8]), g.weight(8), g.weight(8)], axis=-1))


@case("binary_broadcast")
def _(g):
    a, b = g.input("a", [2, 3, 4]), g.input("b", [3, 1])
    s = g.node("Sub", [g.node("Add", [a, g.weight(4)]), b])
    d = g.node("Div", [g.node("Mul", [s, b]), g.node("Add", [g.node("Abs", [a]), g.const(np.float32(1.0))])])
    _out(g, d)


@case("variadic_max_min_sum_mean")
def _(g):
    a, b, c = g.input("a", [2, 3]), g.input("b", [3]), g.input("c", [2, 1])
    y = g.node("Sum", [g.node("Max", [a, b, c]), g.node("Min", [a, b, c]), g.node("Mean", [a, b, c])])
    _out(g, y)


@case("clip_variants")
def _(g):
    x = g.input("x", [4, 5])
    a = g.node("Clip", [x, g.const(np.float32(0.0)), g.const(np.float32(6.0))])
    b = g.node("Clip", [x, g.const(np.float32(0.0))])
    c = g.node("Clip", [x])
    d = g.node("Clip", [x, "", g.const(np.float32(-0.3))])
    _out(g, g.node("Sum", [a, b, c, d]))


@case("clip_int")
def _(g):
    x = g.input("x", [6], TensorProto.INT32)
    g.node("Clip", [x, g.const(np.int32(-5)), g.const(np.int32(7))], outputs=["y"])
    g.output("y", TensorProto.INT32)


@case("cast_to_int32")
def _(g):
    y = g.node("Mul", [g.input("x", [3, 4]), g.const(np.float32(10.0))])
    g.node("Cast", [y], outputs=["y"], to=TensorProto.INT32)
    g.output("y", TensorProto.INT32)


@case("slice_negative_steps")
def _(g):
    x = g.input("x", [5, 6])
    _out(g, g.node("Slice", [x, g.ints([-1, 4]), g.ints([-10, 0]), g.ints([0, 1]), g.ints([-2, -1])]))


@case("slice_some_axes")
def _(g):
    x = g.input("x", [2, 6, 7])
    _out(g, g.node("Slice", [x, g.ints([1, -5]), g.ints([100, -1]), g.ints([2, 1])]))


@case("gather_constant_indices")
def _(g):
    x = g.input("x", [3, 5, 2])
    a = g.node("Gather", [x, g.ints([-1, 0, 2])], axis=1)
    b = g.node("Gather", [x, g.const(np.array(2, np.int64))], axis=0)
    _out(g, a, "a")
    _out(g, b, "b")


@case("gather_constant_data")
def _(g):
    table = g.weight(10, 3)
    g.node("Gather", [table, g.input("idx", [2, 2], TensorProto.INT64)], outputs=["y"], axis=0)
    g.output("y")


@case("expand_tile_dynamic")
def _(g):
    x = g.input("x", [3, 1])
    e = g.node("Expand", [x, g.ints([2, 3, 4])])
    t = g.node("Tile", [x, g.ints([2, 3])])
    _out(g, e, "e")
    _out(g, t, "t")


@case("transpose_concat_split")
def _(g):
    x = g.input("x", [2, 3, 4])
    t = g.node("Transpose", [x])
    c = g.node("Concat", [t, t, t], axis=-1)
    a, b, d = g.node("Split", [c], n_out=3, axis=2)
    _out(g, g.node("Add", [g.node("Sub", [a, b]), d]))


@case("split_num_outputs_op18", opset=18)
def _(g):
    x = g.input("x", [2, 7])
    a, b, c = g.node("Split", [x], n_out=3, axis=1, num_outputs=3)
    _out(g, a, "a")
    _out(g, b, "b")
    _out(g, c, "c")


@case("flatten_axis2_squeeze_unsqueeze")
def _(g):
    x = g.input("x", [2, 3, 1, 4])
    f = g.node("Flatten", [x], axis=2)
    s = g.node("Squeeze", [x, g.ints([2])])
    u = g.node("Unsqueeze", [s, g.ints([-1])])
    _out(g, f, "f")
    _out(g, u, "u")


@case("reductions", atol=1e-4)
def _(g):
    x = g.input("x", [2, 3, 4])
    outs = [g.node("ReduceMean", [x], axes=[1, 2], keepdims=0), g.node("ReduceSum", [x, g.ints([-1])]),
            g.node("ReduceMin", [x], axes=[0]), g.node("ReduceMax", [x]),
            g.node("ReduceL2", [x], axes=[2]), g.node("ReduceSumSquare", [x], axes=[1], keepdims=0)]
    for i, o in enumerate(outs):
        _out(g, o, f"r{i}")


@case("reductions_op18", opset=18)
def _(g):
    x = g.input("x", [2, 3, 4])
    _out(g, g.node("ReduceMean", [x, g.ints([0, 2])], keepdims=0), "a")
    _out(g, g.node("ReduceMax", [x]), "b")


@case("constant_only_ops_fold")
def _(g):
    x = g.input("x", [2, 3])
    r = g.node("Range", [g.const(np.float32(0)), g.const(np.float32(3)), g.const(np.float32(1))])
    c = g.node("Constant", [], value=numpy_helper.from_array(np.array([1.0, -1.0, 2.0], np.float32)))
    w = g.node("Where", [g.node("Greater", [c, r]), c, r])
    sh = g.node("Cast", [g.node("Shape", [x])], to=TensorProto.FLOAT)
    three = g.node("Gather", [sh, g.const(np.array(1, np.int64))], axis=0)
    e = g.node("Equal", [g.node("Floor", [g.node("Add", [three, g.const(np.float32(0.7))])]), g.const(np.float32(3))])
    m = g.node("Mul", [x, w])
    y = g.node("Where", [g.node("Not", [g.node("Not", [e])]), m, g.const(np.zeros((1, 1), np.float32))])
    _out(g, y)


@case("dropout_identity_op12", opset=12)
def _(g):
    x = g.input("x", [3])
    d = g.node("Dropout", [x, g.const(np.float32(0.3))])
    _out(g, g.node("Identity", [d]))


@case("maxpool_auto_pad_same_lower")
def _(g):
    _out(g, g.node("MaxPool", [g.input("x", [1, 1, 6, 5])], kernel_shape=[2, 3], strides=[2, 2],
                   auto_pad="SAME_LOWER"))


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_case(name):
    fn, opset, rtol, atol = CASES[name]
    g = G(name, opset, seed=len(name))
    fn(g)
    model = g.model()
    m = import_onnx(model)
    assert not any(n.startswith("onnx.") for n in op_names(m))
    feeds = {"idx": np.array([[0, 9], [3, 3]], np.int64)} if name == "gather_constant_data" else None
    models.assert_matches_onnxruntime(model, m, rtol=rtol, atol=atol, feeds=feeds)
