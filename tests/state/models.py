"""Streaming test models: a causal conv1d stream whose state is the last K-1 input frames."""

from __future__ import annotations

import numpy as np

C, K, F = 3, 3, 4  # channels, kernel taps, filters


def conv_stream_onnx(seed: int = 0):
    """ONNX: y = relu(conv1d(concat(s_in, x))), s_out = concat(s_in, x)[:, :, 1:] (state = last K-1 frames).

    A running accumulator (``acc_out = acc_in + y``, output ``level = acc_out / 2``) is a second state.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    w = rng.normal(0, 0.5, (F, C, K)).astype(np.float32)
    b = rng.normal(0, 0.1, (F,)).astype(np.float32)
    nodes = [
        helper.make_node("Concat", ["s_in", "x"], ["window"], axis=2),
        helper.make_node("Conv", ["window", "w", "b"], ["conv"], name="conv"),
        helper.make_node("Relu", ["conv"], ["y"]),
        helper.make_node("Slice", ["window", "starts", "ends", "axes"], ["s_out"], name="shift"),
        helper.make_node("Add", ["acc_in", "y"], ["acc_out"], name="accumulate"),
        helper.make_node("Mul", ["acc_out", "half"], ["level"], name="level"),
    ]
    inits = [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b"),
             numpy_helper.from_array(np.array([1], np.int64), "starts"),
             numpy_helper.from_array(np.array([K], np.int64), "ends"),
             numpy_helper.from_array(np.array([2], np.int64), "axes"),
             numpy_helper.from_array(np.array(0.5, np.float32), "half")]
    vi = helper.make_tensor_value_info
    graph = helper.make_graph(
        nodes, "conv_stream",
        [vi("x", TensorProto.FLOAT, [1, C, 1]), vi("s_in", TensorProto.FLOAT, [1, C, K - 1]),
         vi("acc_in", TensorProto.FLOAT, [1, F, 1])],
        [vi("y", TensorProto.FLOAT, [1, F, 1]), vi("s_out", TensorProto.FLOAT, [1, C, K - 1]),
         vi("acc_out", TensorProto.FLOAT, [1, F, 1]), vi("level", TensorProto.FLOAT, [1, F, 1])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


STATE = {"s_in": "s_out", "acc_in": "acc_out"}


def onnxruntime_stream(model, frames: list[np.ndarray]) -> list[list[np.ndarray]]:
    """The oracle: run ``model`` with onnxruntime, feeding each state output back as its input."""
    import onnxruntime as ort

    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    s = np.zeros((1, C, K - 1), np.float32)
    acc = np.zeros((1, F, 1), np.float32)
    outs = []
    for x in frames:
        y, s, acc, level = sess.run(None, {"x": x, "s_in": s, "acc_in": acc})
        outs.append([y, level])
    return outs


def frames(n: int = 12, seed: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(0, 1, (1, C, 1)).astype(np.float32) for _ in range(n)]
