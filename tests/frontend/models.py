"""Builders of small real ONNX models (onnx.helper, seeded random weights).

Each builder returns an ``onnx.ModelProto`` checked by ``onnx.checker``. The
``MODELS`` table maps a test id to a zero-argument builder; ids carry the
opset where a model is built at several opsets.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

F = TensorProto.FLOAT


class G:
    """A tiny graph builder: ``g.node(...)`` returns output names, weights become initializers."""

    def __init__(self, name: str, opset: int, seed: int = 0) -> None:
        self.name = name
        self.opset = opset
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.inputs: list[onnx.ValueInfoProto] = []
        self.outputs: list[onnx.ValueInfoProto] = []
        self.count = 0

    def fresh(self, base: str) -> str:
        self.count += 1
        return f"{base}_{self.count}"

    def input(self, name: str, shape, elem=F) -> str:
        self.inputs.append(helper.make_tensor_value_info(name, elem, shape))
        return name

    def output(self, name: str, elem=F) -> None:
        self.outputs.append(helper.make_tensor_value_info(name, elem, None))

    def const(self, array, name: str | None = None) -> str:
        name = name or self.fresh("c")
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def weight(self, *shape, scale: float | None = None, name: str | None = None) -> str:
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
        s = scale if scale is not None else 1.0 / np.sqrt(max(fan_in, 1))
        return self.const((self.rng.standard_normal(shape) * s).astype(np.float32), name)

    def ints(self, values) -> str:
        return self.const(np.asarray(values, np.int64))

    def node(self, op: str, inputs, n_out: int = 1, name: str | None = None, outputs=None, **attrs):
        name = name or self.fresh(op.lower())
        outs = outputs or ([name] if n_out == 1 else [f"{name}_out{k}" for k in range(n_out)])
        self.nodes.append(helper.make_node(op, list(inputs), outs, name=name, **attrs))
        return outs[0] if n_out == 1 else outs

    # -- composite layers -------------------------------------------------------
    def conv(self, x, cin, cout, k, stride=1, pad=None, group=1, bias=True, **kw):
        kh, kw_ = (k, k) if isinstance(k, int) else k
        if pad is None:
            pad = [kh // 2, kw_ // 2, kh // 2, kw_ // 2]
        w = self.weight(cout, cin // group, kh, kw_)
        ins = [x, w] + ([self.weight(cout, scale=0.1)] if bias else [])
        return self.node("Conv", ins, kernel_shape=[kh, kw_], strides=[stride, stride], pads=pad, group=group,
                         **kw)

    def bn(self, x, c):
        gamma = self.const((1.0 + 0.1 * self.rng.standard_normal(c)).astype(np.float32))
        beta = self.const((0.1 * self.rng.standard_normal(c)).astype(np.float32))
        mean = self.const((0.1 * self.rng.standard_normal(c)).astype(np.float32))
        var = self.const((0.5 + self.rng.random(c)).astype(np.float32))
        return self.node("BatchNormalization", [x, gamma, beta, mean, var], epsilon=1e-3)

    def relu6(self, x):
        if self.opset >= 11:
            return self.node("Clip", [x, self.const(np.float32(0.0)), self.const(np.float32(6.0))])
        return self.node("Clip", [x], min=0.0, max=6.0)

    def model(self, outputs=None) -> onnx.ModelProto:
        graph = helper.make_graph(self.nodes, self.name, self.inputs, self.outputs, self.inits)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.opset)],
                              producer_name="edgecc-tests")
        m.ir_version = min(m.ir_version, 10 if self.opset >= 21 else 8)
        m = onnx.shape_inference.infer_shapes(m, strict_mode=True)  # fills in the output shapes
        del m.graph.value_info[:]
        onnx.checker.check_model(m)
        return m


# ----------------------------------------------------------------------- models
def mobilenet_block(opset: int = 17) -> onnx.ModelProto:
    """conv-bn-relu6, depthwise-bn-relu6, pointwise (+bn): MobileNet's depthwise-separable block."""
    g = G("mobilenet_block", opset, seed=1)
    x = g.input("image", [1, 3, 32, 32])
    y = g.relu6(g.bn(g.conv(x, 3, 8, 3, stride=2, pad=[0, 0, 1, 1]), 8))
    y = g.relu6(g.bn(g.conv(y, 8, 8, 3, group=8, bias=False), 8))
    y = g.bn(g.conv(y, 8, 16, 1, pad=[0, 0, 0, 0], bias=False), 16)
    g.node("Identity", [y], outputs=["features"])
    g.output("features")
    return g.model()


def ds_cnn_kws(opset: int = 17, filters: int = 32) -> onnx.ModelProto:
    """DS-CNN keyword spotting: 1x1x49x10 MFCC, conv 10x4 stride 2, 4 dw-sep blocks, avgpool, fc, softmax."""
    g = G("ds_cnn", opset, seed=2)
    x = g.input("mfcc", [1, 1, 49, 10])
    y = g.node("Relu", [g.bn(g.conv(x, 1, filters, (10, 4), stride=2, pad=[4, 1, 5, 1]), filters)])
    for _ in range(4):
        y = g.node("Relu", [g.bn(g.conv(y, filters, filters, 3, group=filters), filters)])
        y = g.node("Relu", [g.bn(g.conv(y, filters, filters, 1, pad=[0, 0, 0, 0]), filters)])
    y = g.node("AveragePool", [y], kernel_shape=[25, 5], strides=[25, 5])
    y = g.node("Flatten", [y], axis=1)
    y = g.node("Gemm", [y, g.weight(12, filters), g.weight(12, scale=0.1)], transB=1)
    g.node("Softmax", [y], outputs=["probs"], axis=1)
    g.output("probs")
    return g.model()


def resnet_block(opset: int = 17) -> onnx.ModelProto:
    """ResNet basic block with a strided projection shortcut, then an identity block."""
    g = G("resnet_block", opset, seed=3)
    x = g.input("x", [1, 8, 16, 16])
    y = g.node("Relu", [g.bn(g.conv(x, 8, 16, 3, stride=2), 16)])
    y = g.bn(g.conv(y, 16, 16, 3), 16)
    sc = g.bn(g.conv(x, 8, 16, 1, stride=2, pad=[0, 0, 0, 0]), 16)
    z = g.node("Relu", [g.node("Add", [y, sc])])
    y = g.node("Relu", [g.bn(g.conv(z, 16, 16, 3), 16)])
    y = g.bn(g.conv(y, 16, 16, 3), 16)
    out = g.node("Relu", [g.node("Add", [z, y])])
    g.node("GlobalAveragePool", [out], outputs=["pooled"])
    g.output("pooled")
    return g.model()


def mobilenetv3_block(opset: int = 17) -> onnx.ModelProto:
    """torchvision's MobileNetV3 InvertedResidual as ``torch.onnx`` exports it (eval mode): stem conv +
    hardswish, expand 1x1 + hardswish, depthwise 3x3 + hardswish, squeeze-excite (GlobalAveragePool,
    1x1 conv, Relu, 1x1 conv, HardSigmoid(alpha=1/6), Mul), project 1x1, residual Add. At opset 17
    BatchNorm is folded and hardswish is a HardSwish node; below opset 14 (no HardSwish) the
    TorchScript exporter writes ``Mul(x, HardSigmoid(x))``, here with the BatchNorms left unfolded."""
    g = G("mobilenetv3_block", opset, seed=13)
    folded = opset >= 14

    def hswish(x):
        if opset >= 14:
            return g.node("HardSwish", [x])
        return g.node("Mul", [x, g.node("HardSigmoid", [x], alpha=1 / 6)])

    def conv_bn(x, cin, cout, k, stride=1, group=1):
        if folded:
            return g.conv(x, cin, cout, k, stride=stride, group=group)
        return g.bn(g.conv(x, cin, cout, k, stride=stride, group=group, bias=False), cout)

    x = g.input("image", [1, 3, 32, 32])
    stem = hswish(conv_bn(x, 3, 16, 3, stride=2))
    y = hswish(conv_bn(stem, 16, 48, 1))
    y = hswish(conv_bn(y, 48, 48, 3, group=48))
    s = g.node("GlobalAveragePool", [y])
    s = g.node("Relu", [g.conv(s, 48, 16, 1)])
    s = g.node("HardSigmoid", [g.conv(s, 16, 48, 1)], alpha=1 / 6)
    y = g.node("Mul", [s, y])
    y = conv_bn(y, 48, 16, 1)
    g.node("Add", [y, stem], outputs=["features"])
    g.output("features")
    return g.model()


def dense_autoencoder(opset: int = 17, use_gemm: bool = True) -> onnx.ModelProto:
    """ToyADMOS-style autoencoder 640 -> 128 -> 128 -> 8 -> 128 -> 128 -> 640 (Gemm or MatMul+Add)."""
    g = G("autoencoder", opset, seed=4)
    y = g.input("spectrum", ["batch", 640])
    sizes = [640, 128, 128, 8, 128, 128, 640]
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        if use_gemm:
            y = g.node("Gemm", [y, g.weight(b, a), g.weight(b, scale=0.1)], transB=1)
        else:
            y = g.node("Add", [g.node("MatMul", [y, g.weight(a, b, scale=1 / np.sqrt(a))]), g.weight(b, scale=0.1)])
        if i < len(sizes) - 2:
            y = g.node("Relu", [y])
    g.node("Identity", [y], outputs=["reconstruction"])
    g.output("reconstruction")
    return g.model()


def squeezenet_fire(opset: int = 17) -> onnx.ModelProto:
    """SqueezeNet fire module: squeeze 1x1, expand 1x1 and 3x3, concat on channels, maxpool."""
    g = G("fire", opset, seed=5)
    x = g.input("x", [1, 16, 15, 15])
    s = g.node("Relu", [g.conv(x, 16, 4, 1, pad=[0, 0, 0, 0])])
    e1 = g.node("Relu", [g.conv(s, 4, 8, 1, pad=[0, 0, 0, 0])])
    e3 = g.node("Relu", [g.conv(s, 4, 8, 3)])
    c = g.node("Concat", [e1, e3], axis=1)
    g.node("MaxPool", [c], outputs=["out"], kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)
    g.output("out")
    return g.model()


def shufflenet_unit(opset: int = 17, groups: int = 2) -> onnx.ModelProto:
    """ShuffleNet: grouped 1x1 conv, channel shuffle (reshape-transpose-reshape), depthwise 3x3."""
    g = G("shuffle", opset, seed=6)
    c = 8
    x = g.input("x", [1, c, 6, 6])
    y = g.node("Relu", [g.bn(g.conv(x, c, c, 1, pad=[0, 0, 0, 0], group=groups), c)])
    y = g.node("Reshape", [y, g.ints([1, groups, c // groups, 6, 6])])
    y = g.node("Transpose", [y], perm=[0, 2, 1, 3, 4])
    y = g.node("Reshape", [y, g.ints([1, -1, 6, 6])])
    y = g.bn(g.conv(y, c, c, 3, group=c, bias=False), c)
    g.node("Add", [x, y], outputs=["out"])
    g.output("out")
    return g.model()


def lstm_model(opset: int = 17, direction: str = "forward", seq: int = 5, hidden: int = 8,
               features: int = 4, with_state: bool = True, peepholes: bool = False) -> onnx.ModelProto:
    g = G(f"lstm_{direction}", opset, seed=7)
    d = 2 if direction == "bidirectional" else 1
    x = g.input("x", [seq, 1, features])
    ins = [x, g.weight(d, 4 * hidden, features), g.weight(d, 4 * hidden, hidden),
           g.weight(d, 8 * hidden, scale=0.1)]
    if with_state or peepholes:
        ins += ["", g.input("h0", [d, 1, hidden]), g.input("c0", [d, 1, hidden])]
    if peepholes:
        ins.append(g.weight(d, 3 * hidden, scale=0.2))
    g.node("LSTM", ins, n_out=3, outputs=["y", "y_h", "y_c"], hidden_size=hidden, direction=direction)
    for o in ("y", "y_h", "y_c"):
        g.output(o)
    return g.model()


def gru_model(opset: int = 17, direction: str = "forward", seq: int = 5, hidden: int = 8, features: int = 4,
              linear_before_reset: int = 0, with_state: bool = True) -> onnx.ModelProto:
    g = G(f"gru_{direction}", opset, seed=8)
    d = 2 if direction == "bidirectional" else 1
    x = g.input("x", [seq, 1, features])
    ins = [x, g.weight(d, 3 * hidden, features), g.weight(d, 3 * hidden, hidden),
           g.weight(d, 6 * hidden, scale=0.1)]
    if with_state:
        ins += ["", g.input("h0", [d, 1, hidden])]
    g.node("GRU", ins, n_out=2, outputs=["y", "y_h"], hidden_size=hidden, direction=direction,
           linear_before_reset=linear_before_reset)
    g.output("y")
    g.output("y_h")
    return g.model()


def tiny_unet(opset: int = 17) -> onnx.ModelProto:
    """A small U-Net: conv, strided conv down, ConvTranspose up, Concat with the skip, a
    pixel-shuffle as torch exports it (Reshape to 6-D, Transpose, Reshape), a Pad on a 5-D view
    (time x channel groups) and a Resize back to the input size."""
    g = G("tiny_unet", opset, seed=14)
    x = g.input("image", [1, 4, 16, 16])
    skip = g.node("Relu", [g.conv(x, 4, 8, 3)])
    down = g.node("Relu", [g.conv(skip, 8, 16, 3, stride=2, pad=[1, 1, 1, 1])])
    up = g.node("ConvTranspose", [down, g.weight(16, 8, 2, 2), g.weight(8, scale=0.1)], kernel_shape=[2, 2],
                strides=[2, 2])
    y = g.node("Concat", [up, skip], axis=1)  # 1x16x16x16
    y = g.node("Reshape", [y, g.ints([1, 4, 2, 2, 16, 16])])
    y = g.node("Transpose", [y], perm=[0, 1, 4, 2, 5, 3])
    y = g.node("Reshape", [y, g.ints([1, 4, 32, 32])])
    y = g.node("Reshape", [y, g.ints([1, 2, 2, 32, 32])])
    y = g.node("Pad", [y, g.ints([0, 0, 0, 1, 1, 0, 0, 0, 1, 1])])
    y = g.node("Reshape", [y, g.ints([1, 4, 34, 34])])
    y = g.conv(y, 4, 4, 3, pad=[0, 0, 0, 0])
    g.node("Resize", [y, "", g.const(np.array([1.0, 1.0, 0.5, 0.5], np.float32))], outputs=["mask"],
           mode="nearest")
    g.output("mask")
    return g.model()


def resize_upsampler(opset: int = 17) -> onnx.ModelProto:
    """conv, nearest x2 (scales), conv, bilinear to a fixed size (sizes): a small decoder."""
    g = G("upsampler", opset, seed=9)
    x = g.input("x", [1, 4, 6, 6])
    y = g.node("Relu", [g.conv(x, 4, 8, 3)])
    empty = g.const(np.zeros(0, np.float32))
    y = g.node("Resize", [y, empty, g.const(np.array([1, 1, 2, 2], np.float32))], mode="nearest",
               coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    y = g.node("Relu", [g.conv(y, 8, 4, 3)])
    g.node("Resize", [y, empty, empty, g.ints([1, 4, 20, 20])], outputs=["out"], mode="linear",
           coordinate_transformation_mode="half_pixel")
    g.output("out")
    return g.model()


def opset_variants(opset: int) -> onnx.ModelProto:
    """Ops whose inputs/attributes moved between opsets: Split, Squeeze, Unsqueeze, ReduceMean,
    ReduceSum, Softmax (legacy 2-D coercion before 13), Clip, Pad."""
    g = G(f"variants_{opset}", opset, seed=10)
    x = g.input("x", [2, 6, 5])
    if opset >= 13:
        a, b = g.node("Split", [x, g.ints([2, 4])], n_out=2, axis=1)
    else:
        a, b = g.node("Split", [x], n_out=2, axis=1, split=[2, 4])
    if opset >= 13:
        u = g.node("Unsqueeze", [a, g.ints([0, 3])])
        s = g.node("Squeeze", [u, g.ints([0])])
    else:
        u = g.node("Unsqueeze", [a], axes=[0, 3])
        s = g.node("Squeeze", [u], axes=[0])
    if opset >= 18:
        m = g.node("ReduceMean", [s, g.ints([3])], keepdims=0)
        r = g.node("ReduceMax", [b, g.ints([-1])], keepdims=1)
    else:
        m = g.node("ReduceMean", [s], axes=[3], keepdims=0)
        r = g.node("ReduceMax", [b], axes=[-1], keepdims=1)
    rs = g.node("ReduceSum", [b, g.ints([1])] if opset >= 13 else [b], **({} if opset >= 13 else {"axes": [1]}))
    sm = g.node("Softmax", [b], axis=1)  # opset < 13: over the flattened [2, 4*5]
    c = g.node("Clip", [sm, g.const(np.float32(0.01)), g.const(np.float32(0.2))])
    p = g.node("Pad", [m, g.ints([0, 1, 0, 0, 2, 0]), g.const(np.float32(0.5))], mode="constant")
    g.node("Mul", [r, rs], outputs=["prod"])
    g.node("Identity", [c], outputs=["clipped"])
    g.node("Identity", [p], outputs=["padded"])
    for o in ("prod", "clipped", "padded"):
        g.output(o)
    return g.model()


def shape_subgraph(opset: int = 17) -> onnx.ModelProto:
    """A dynamic-batch input whose Reshape target is computed: Shape -> Gather -> Concat -> Reshape."""
    g = G("shape_subgraph", opset, seed=11)
    x = g.input("x", ["N", 3, 4, 4])
    y = g.conv(x, 3, 4, 3)
    shp = g.node("Shape", [y])
    n = g.node("Gather", [shp, g.const(np.array([0], np.int64))], axis=0)
    target = g.node("Concat", [n, g.ints([-1])], axis=0)
    flat = g.node("Reshape", [y, target])
    ones = g.node("ConstantOfShape", [g.node("Shape", [flat])],
                  value=numpy_helper.from_array(np.array([2.0], np.float32)))
    g.node("Mul", [flat, ones], outputs=["out"])
    g.output("out")
    return g.model()


def qdq_model(opset: int = 17) -> onnx.ModelProto:
    """A QDQ conv + fc: int8 per-channel weights, int32 bias, int8 activations with int8 I/O."""
    g = G("qdq", opset, seed=12)
    x = g.input("x_q", [1, 2, 6, 6], TensorProto.INT8)
    xs, xz = g.const(np.float32(0.05)), g.const(np.int8(-3))
    xf = g.node("DequantizeLinear", [x, xs, xz])
    w = g.rng.integers(-127, 128, (4, 2, 3, 3)).astype(np.int8)
    ws = g.const((0.01 + 0.01 * g.rng.random(4)).astype(np.float32))
    wz = g.const(np.zeros(4, np.int8))
    wf = g.node("DequantizeLinear", [g.const(w), ws, wz], axis=0)
    bq = g.const(g.rng.integers(-500, 500, 4).astype(np.int32))
    bs = g.const(np.float32(0.0005))
    bf = g.node("DequantizeLinear", [bq, bs])
    y = g.node("Relu", [g.node("Conv", [xf, wf, bf], kernel_shape=[3, 3], pads=[1, 1, 1, 1])])
    ys, yz = g.const(np.float32(0.04)), g.const(np.int8(-128))
    yq = g.node("QuantizeLinear", [y, ys, yz])
    yf = g.node("DequantizeLinear", [yq, ys, yz])
    flat = g.node("Flatten", [yf])
    fw = g.node("DequantizeLinear", [g.const(g.rng.integers(-127, 128, (144, 3)).astype(np.int8)),
                                     g.const(np.float32(0.002)), g.const(np.int8(0))])
    out = g.node("MatMul", [flat, fw])
    g.node("QuantizeLinear", [out, g.const(np.float32(0.1)), g.const(np.int8(0))], outputs=["y_q"])
    g.output("y_q", TensorProto.INT8)
    return g.model()


MODELS: dict[str, Callable[[], onnx.ModelProto]] = {
    "mobilenet_block_op11": lambda: mobilenet_block(11),
    "mobilenet_block_op17": lambda: mobilenet_block(17),
    "ds_cnn_kws_op11": lambda: ds_cnn_kws(11),
    "ds_cnn_kws_op17": lambda: ds_cnn_kws(17),
    "resnet_block": resnet_block,
    "mobilenetv3_block_op13": lambda: mobilenetv3_block(13),
    "mobilenetv3_block_op17": lambda: mobilenetv3_block(17),
    "dense_autoencoder_gemm": lambda: dense_autoencoder(17, True),
    "dense_autoencoder_matmul_op11": lambda: dense_autoencoder(11, False),
    "squeezenet_fire": squeezenet_fire,
    "shufflenet_unit": shufflenet_unit,
    "lstm_forward": lambda: lstm_model(17, "forward"),
    "lstm_bidirectional_op11": lambda: lstm_model(11, "bidirectional"),
    "lstm_reverse_no_state": lambda: lstm_model(17, "reverse", with_state=False),
    "lstm_peepholes": lambda: lstm_model(17, "forward", peepholes=True),
    "gru_forward": lambda: gru_model(17, "forward"),
    "gru_bidirectional_op11": lambda: gru_model(11, "bidirectional"),
    "gru_linear_before_reset": lambda: gru_model(17, "forward", linear_before_reset=1, with_state=False),
    "resize_upsampler_op11": lambda: resize_upsampler(11),
    "resize_upsampler_op17": lambda: resize_upsampler(17),
    "opset_variants_op11": lambda: opset_variants(11),
    "opset_variants_op13": lambda: opset_variants(13),
    "opset_variants_op17": lambda: opset_variants(17),
    "opset_variants_op18": lambda: opset_variants(18),
    "shape_subgraph": shape_subgraph,
}


# ----------------------------------------------------------------------- checking helpers
def random_feeds(module, seed: int = 0) -> list[np.ndarray]:
    """One random array per function argument (floats ~ N(0,1), integers over their range)."""
    rng = np.random.default_rng(seed)
    feeds = []
    for a in module.func.arguments:
        t = a.type
        dt = t.element.numpy
        if np.dtype(dt).kind == "f":
            feeds.append(rng.standard_normal(t.shape).astype(dt))
        elif np.dtype(dt) == np.bool_:
            feeds.append(rng.random(t.shape) > 0.5)
        else:
            info = np.iinfo(dt)
            feeds.append(rng.integers(max(info.min, -128), min(info.max, 127) + 1, t.shape).astype(dt))
    return feeds


def onnxruntime_outputs(model_or_path, feeds: list[np.ndarray]) -> list[np.ndarray]:
    import onnxruntime as ort

    src = model_or_path.SerializeToString() if isinstance(model_or_path, onnx.ModelProto) else str(model_or_path)
    sess = ort.InferenceSession(src, providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    return sess.run(None, dict(zip(names, feeds)))


def reference_run():
    """``edgecc.interp.reference.run``, or None while the interpreter does not exist."""
    try:
        from edgecc.interp.reference import run
    except ImportError:
        return None
    return run


def assert_matches_onnxruntime(model_or_path, module, rtol: float = 1e-5, atol: float = 1e-5,
                               seed: int = 0, int_atol: int = 0, feeds: dict | None = None) -> None:
    """Run ``module`` with the reference interpreter and the ONNX model with onnxruntime."""
    import pytest

    run = reference_run()
    if run is None:
        pytest.skip("edgecc.interp.reference is not available yet")
    given = feeds or {}
    feeds = [given.get(a.name_hint, f) for a, f in zip(module.func.arguments, random_feeds(module, seed))]
    want = onnxruntime_outputs(model_or_path, feeds)
    got = run(module, feeds)
    assert len(got) == len(want)
    for k, (g, w) in enumerate(zip(got, want)):
        assert g.shape == w.shape, f"output {k}: shape {g.shape} != {w.shape}"
        if w.dtype.kind == "f":
            np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=f"output {k}")
        else:
            diff = np.abs(g.astype(np.int64) - w.astype(np.int64))
            assert diff.max(initial=0) <= int_atol, f"output {k}: integer outputs differ by {diff.max()}"
