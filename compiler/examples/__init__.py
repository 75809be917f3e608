"""Example models bundled with edgecc (README's first command compiles one).

``kws_dscnn.onnx`` is a DS-CNN keyword-spotting network with the MLPerf Tiny
KWS topology (49x10 MFCC input, conv 10x4/2, four depthwise-separable blocks
with batch norm, average pool, 12 classes) and seeded random weights;
``kws_calib.npz`` holds inputs for calibration. ``python -m
edgecc.examples`` regenerates both byte-identically.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import numpy as np


def path(name: str = "kws_dscnn.onnx") -> Path:
    """Location of a bundled example file."""
    return Path(str(files("edgecc.examples").joinpath(name)))


def build_kws_dscnn(channels: int = 64, seed: int = 0):
    """The DS-CNN KWS model as an onnx.ModelProto (opset 17, NCHW, float32)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    nodes, inits = [], []

    def const(name, arr):
        inits.append(numpy_helper.from_array(np.asarray(arr, np.float32), name))
        return name

    def bn(x, c, name):
        const(f"{name}_g", rng.uniform(0.5, 1.5, c))
        const(f"{name}_b", rng.normal(0, 0.1, c))
        const(f"{name}_m", rng.normal(0, 0.1, c))
        const(f"{name}_v", rng.uniform(0.5, 1.5, c))
        nodes.append(helper.make_node("BatchNormalization", [x, f"{name}_g", f"{name}_b", f"{name}_m",
                                                             f"{name}_v"], [f"{name}_out"], name=name))
        relu = f"{name}_relu"
        nodes.append(helper.make_node("Relu", [f"{name}_out"], [relu], name=relu))
        return relu

    def conv(x, cin, cout, k, stride, pads, group, name):
        fan_in = cin // group * k[0] * k[1]
        w = const(f"{name}_w", rng.normal(0, np.sqrt(2.0 / fan_in), (cout, cin // group, *k)))
        b = const(f"{name}_bias", np.zeros(cout))
        nodes.append(helper.make_node("Conv", [x, w, b], [f"{name}_out"], name=name, kernel_shape=k,
                                      strides=stride, pads=pads, group=group))
        return f"{name}_out"

    x = conv("input", 1, channels, [10, 4], [2, 2], [4, 1, 5, 2], 1, "conv1")
    x = bn(x, channels, "bn1")
    for i in range(4):
        x = conv(x, channels, channels, [3, 3], [1, 1], [1, 1, 1, 1], channels, f"dw{i}")
        x = bn(x, channels, f"dw{i}_bn")
        x = conv(x, channels, channels, [1, 1], [1, 1], [0, 0, 0, 0], 1, f"pw{i}")
        x = bn(x, channels, f"pw{i}_bn")
    nodes.append(helper.make_node("GlobalAveragePool", [x], ["pool"], name="pool"))
    nodes.append(helper.make_node("Flatten", ["pool"], ["flat"], name="flatten"))
    const("fc_w", rng.normal(0, 0.01, (channels, 12)))
    const("fc_b", rng.normal(0, 0.1, 12))
    nodes.append(helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["logits"], name="fc"))
    nodes.append(helper.make_node("Softmax", ["logits"], ["probs"], name="softmax", axis=-1))
    graph = helper.make_graph(
        nodes, "kws_dscnn",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 1, 49, 10])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, [1, 12])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="edgecc-examples")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


def calibration_inputs(n: int = 16, seed: int = 1) -> np.ndarray:
    """MFCC-like inputs (smooth in time, larger in low coefficients)."""
    rng = np.random.default_rng(seed)
    base = rng.normal(0, 1, (n, 1, 49, 10)).cumsum(axis=2) / 4
    return (base * np.linspace(4, 0.5, 10)).astype(np.float32)


def main() -> None:
    here = Path(__file__).parent
    (here / "kws_dscnn.onnx").write_bytes(build_kws_dscnn().SerializeToString())
    buf = here / "kws_calib.npz"
    with buf.open("wb") as f:
        np.savez(f, input=calibration_inputs())
    print(f"wrote {here / 'kws_dscnn.onnx'} and {buf}")


if __name__ == "__main__":
    main()
