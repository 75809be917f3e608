"""Float test models for the host benchmark, built with the test suite's ONNX graph builder.

The MLPerf Tiny models are small convolutional and dense graphs; these add the
shapes where per-op overhead and small-channel kernels dominate: a MobileNetV2-style
inverted-residual network, a U-Net-like encoder/decoder (max pool, nearest
upsampling, skip concatenation), a ResNet block with squeeze-excitation, a GRU
keyword spotter and an LSTM autoencoder (unrolled by the frontend into many small
ops per time step) and an MLP. Seeded weights, batch 1.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.frontend.models import G  # noqa: E402


def mobilenet_v2(opset: int = 17):
    """96x96 RGB, stem conv 3x3/2, six inverted residual blocks (expand 6), global pool, fc."""
    g = G("mobilenet_v2", opset, seed=11)
    y = g.relu6(g.bn(g.conv(g.input("image", [1, 3, 96, 96]), 3, 16, 3, stride=2), 16))
    cin = 16
    for cout, stride in ((16, 1), (24, 2), (24, 1), (32, 2), (32, 1), (64, 2)):
        h = g.relu6(g.bn(g.conv(y, cin, cin * 6, 1, pad=[0, 0, 0, 0], bias=False), cin * 6))
        h = g.relu6(g.bn(g.conv(h, cin * 6, cin * 6, 3, stride=stride, group=cin * 6, bias=False), cin * 6))
        h = g.bn(g.conv(h, cin * 6, cout, 1, pad=[0, 0, 0, 0], bias=False), cout)
        y = g.node("Add", [y, h]) if stride == 1 and cin == cout else h
        cin = cout
    y = g.node("Flatten", [g.node("GlobalAveragePool", [y])], axis=1)
    g.node("Gemm", [y, g.weight(10, cin), g.weight(10, scale=0.1)], outputs=["logits"], transB=1)
    g.output("logits")
    return g.model()


def unet(opset: int = 17):
    """64x64 encoder (16, 32, 64 channels, max pool) and decoder (nearest x2, skip concat), 1x1 head."""
    g = G("unet", opset, seed=12)

    def block(x, cin, cout):
        x = g.node("Relu", [g.conv(x, cin, cout, 3)])
        return g.node("Relu", [g.conv(x, cout, cout, 3)])

    x = g.input("image", [1, 3, 64, 64])
    e1 = block(x, 3, 16)
    e2 = block(g.node("MaxPool", [e1], kernel_shape=[2, 2], strides=[2, 2]), 16, 32)
    b = block(g.node("MaxPool", [e2], kernel_shape=[2, 2], strides=[2, 2]), 32, 64)
    scales = g.const(np.array([1, 1, 2, 2], np.float32))
    empty = g.const(np.zeros(0, np.float32))

    def up(x):
        return g.node("Resize", [x, empty, scales], mode="nearest", coordinate_transformation_mode="asymmetric",
                      nearest_mode="floor")

    d2 = block(g.node("Concat", [up(b), e2], axis=1), 96, 32)
    d1 = block(g.node("Concat", [up(d2), e1], axis=1), 48, 16)
    g.node("Sigmoid", [g.conv(d1, 16, 1, 1, pad=[0, 0, 0, 0])], outputs=["mask"])
    g.output("mask")
    return g.model()


def resnet_se(opset: int = 17):
    """32x32, stem conv, two residual blocks with squeeze-excitation (pool, fc, relu, fc, sigmoid, mul)."""
    g = G("resnet_se", opset, seed=13)
    y = g.node("Relu", [g.bn(g.conv(g.input("image", [1, 3, 32, 32]), 3, 32, 3), 32)])
    for _ in range(2):
        h = g.node("Relu", [g.bn(g.conv(y, 32, 32, 3), 32)])
        h = g.bn(g.conv(h, 32, 32, 3), 32)
        s = g.node("GlobalAveragePool", [h])
        s = g.node("Relu", [g.conv(s, 32, 8, 1, pad=[0, 0, 0, 0])])
        s = g.node("Sigmoid", [g.conv(s, 8, 32, 1, pad=[0, 0, 0, 0])])
        y = g.node("Relu", [g.node("Add", [y, g.node("Mul", [h, s])])])
    y = g.node("Flatten", [g.node("GlobalAveragePool", [y])], axis=1)
    g.node("Gemm", [y, g.weight(10, 32), g.weight(10, scale=0.1)], outputs=["logits"], transB=1)
    g.output("logits")
    return g.model()


def gru_kws(opset: int = 17):
    """49 MFCC frames of 10 features, GRU with 64 units, last state -> fc 12 -> softmax."""
    g = G("gru_kws", opset, seed=14)
    x = g.input("mfcc", [49, 1, 10])
    _, h = g.node("GRU", [x, g.weight(1, 192, 10), g.weight(1, 192, 64), g.weight(1, 384, scale=0.1)], n_out=2,
                  hidden_size=64)
    h = g.node("Reshape", [h, g.ints([1, 64])])
    y = g.node("Gemm", [h, g.weight(12, 64), g.weight(12, scale=0.1)], transB=1)
    g.node("Softmax", [y], outputs=["probs"], axis=1)
    g.output("probs")
    return g.model()


def lstm_autoencoder(opset: int = 17):
    """32 steps of 16 features: LSTM 32 units -> LSTM 16 units (sequence) -> per-step fc back to 16."""
    g = G("lstm_ae", opset, seed=15)
    x = g.input("series", [32, 1, 16])
    y = g.node("LSTM", [x, g.weight(1, 128, 16), g.weight(1, 128, 32), g.weight(1, 256, scale=0.1)], n_out=3,
               hidden_size=32)[0]
    y = g.node("Reshape", [y, g.ints([32, 1, 32])])
    y = g.node("LSTM", [y, g.weight(1, 64, 32), g.weight(1, 64, 16), g.weight(1, 128, scale=0.1)], n_out=3,
               hidden_size=16)[0]
    y = g.node("Reshape", [y, g.ints([32, 16])])
    g.node("Gemm", [y, g.weight(16, 16), g.weight(16, scale=0.1)], outputs=["recon"], transB=1)
    g.output("recon")
    return g.model()


def mlp(opset: int = 17):
    """784 -> 256 -> 128 -> 10, relu."""
    g = G("mlp", opset, seed=16)
    y = g.input("x", [1, 784])
    for i, (a, b) in enumerate(((784, 256), (256, 128), (128, 10))):
        y = g.node("Gemm", [y, g.weight(b, a), g.weight(b, scale=0.1)], transB=1)
        if i < 2:
            y = g.node("Relu", [y])
    g.node("Identity", [y], outputs=["logits"])
    g.output("logits")
    return g.model()


#: label -> builder
MODELS = {
    "MobileNetV2-style 96": mobilenet_v2,
    "U-Net-like 64": unet,
    "ResNet-SE 32": resnet_se,
    "GRU keyword spotter": gru_kws,
    "LSTM autoencoder": lstm_autoencoder,
    "MLP 784-256-128-10": mlp,
}


def write_all(folder: Path) -> dict[str, Path]:
    """Build every model into ``folder`` (``<builder name>.onnx``); label -> path."""
    import onnx

    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for label, build in MODELS.items():
        p = folder / f"{build.__name__}.onnx"
        onnx.save(build(), str(p))
        out[label] = p
    return out
