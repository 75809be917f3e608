"""A two-conv CNN trained here on scikit-learn's digits (numpy, Adam), exported to ONNX.

conv 3x3 1->16 + relu, conv 3x3 16->32 + relu, 2x2 average pool, flatten
(ONNX NCHW order), fully connected 512->64 + relu, fully connected 64->10:
about 38k weights and 340k MACs, wide enough that half its channels can go.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SHAPES = [(16, 3, 3, 1), (16,), (32, 3, 3, 16), (32,), (64, 512), (64,), (10, 64), (10,)]


def _im2col(x):
    """[N, 8, 8, C] -> [N, 64, 9*C] patches in (kh, kw, c) order, zero pad 1."""
    n, h, w, c = x.shape
    p = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    cols = np.stack([p[:, i:i + h, j:j + w] for i in range(3) for j in range(3)], axis=3)
    return cols.reshape(n, h * w, 9 * c)


def _col2im(g, c):
    """Adjoint of ``_im2col``: [N, 64, 9*C] -> [N, 8, 8, C]."""
    n = g.shape[0]
    g = g.reshape(n, 8, 8, 9, c)
    out = np.zeros((n, 10, 10, c), g.dtype)
    for k in range(9):
        i, j = divmod(k, 3)
        out[:, i:i + 8, j:j + 8] += g[:, :, :, k]
    return out[:, 1:9, 1:9]


def forward(params, x):
    """Logits of NHWC images ``x`` [N, 8, 8, 1], and the values backprop needs."""
    w1, b1, w2, b2, w3, b3, w4, b4 = params
    n = x.shape[0]
    c1 = _im2col(x)
    z1 = c1 @ w1.reshape(16, -1).T + b1
    a1 = np.maximum(z1, 0).reshape(n, 8, 8, 16)
    c2 = _im2col(a1)
    z2 = c2 @ w2.reshape(32, -1).T + b2
    a2 = np.maximum(z2, 0).reshape(n, 8, 8, 32)
    p = a2.reshape(n, 4, 2, 4, 2, 32).mean(axis=(2, 4))
    f = p.transpose(0, 3, 1, 2).reshape(n, 512)
    z3 = f @ w3.T + b3
    h = np.maximum(z3, 0)
    return h @ w4.T + b4, (c1, z1, c2, z2, f, z3, h)


def _grads(params, x, y):
    w1, _, w2, _, w3, _, w4, _ = params
    n = len(x)
    logits, (c1, z1, c2, z2, f, z3, h) = forward(params, x)
    e = np.exp(logits - logits.max(1, keepdims=True))
    g = e / e.sum(1, keepdims=True)
    g[np.arange(n), y] -= 1
    g /= n
    gh = (g @ w4) * (z3 > 0)
    gf = gh @ w3
    gp = gf.reshape(n, 32, 4, 4).transpose(0, 2, 3, 1)
    ga2 = np.repeat(np.repeat(gp, 2, axis=1), 2, axis=2) / 4.0
    gz2 = ga2.reshape(n, 64, 32) * (z2 > 0)
    ga1 = _col2im(gz2 @ w2.reshape(32, -1), 16)
    gz1 = ga1.reshape(n, 64, 16) * (z1 > 0)
    return [(gz1.reshape(-1, 16).T @ c1.reshape(-1, c1.shape[-1])).reshape(w1.shape), gz1.sum((0, 1)),
            (gz2.reshape(-1, 32).T @ c2.reshape(-1, c2.shape[-1])).reshape(w2.shape), gz2.sum((0, 1)),
            gh.T @ f, gh.sum(0), g.T @ h, g.sum(0)]


def load_split(seed: int = 0):
    """((x_train, y_train), (x_test, y_test)): NHWC images in [0, 1], 1400 / 397."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)[..., None]
    y = d.target.astype(np.int64)
    idx = np.random.default_rng(seed).permutation(len(x))
    x, y = x[idx], y[idx]
    return (x[:1400], y[:1400]), (x[1400:], y[1400:])


def train(epochs: int = 8, seed: int = 0, lr: float = 0.003):
    """(params, train, test) of the CNN trained with Adam on the digits training split.

    One BLAS thread: these small matmuls only lose time to thread hand-offs on a shared machine.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        return _train(epochs, seed, lr)


def _train(epochs, seed, lr):
    (xtr, ytr), test = load_split(seed)
    rng = np.random.default_rng(seed)
    params = []
    for s in SHAPES:
        fan_in = int(np.prod(s[1:])) if len(s) > 1 else 0
        params.append((rng.standard_normal(s) * np.sqrt(2.0 / fan_in)).astype(np.float32) if fan_in
                      else np.zeros(s, np.float32))
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    step = 0
    for _ in range(epochs):
        perm = rng.permutation(len(xtr))
        for s in range(0, len(xtr), 32):
            bi = perm[s:s + 32]
            grads = _grads(params, xtr[bi], ytr[bi])
            step += 1
            for i, gr in enumerate(grads):
                m[i] = 0.9 * m[i] + 0.1 * gr
                v[i] = 0.999 * v[i] + 0.001 * gr ** 2
                mh, vh = m[i] / (1 - 0.9 ** step), v[i] / (1 - 0.999 ** step)
                params[i] = (params[i] - lr * mh / (np.sqrt(vh) + 1e-8)).astype(np.float32)
    return params, (xtr, ytr), test


def export_onnx(params) -> onnx.ModelProto:
    """The CNN as an ONNX graph (NCHW input [1, 1, 8, 8], logits [1, 10])."""
    w1, b1, w2, b2, w3, b3, w4, b4 = params
    arrays = {"w1": w1.transpose(0, 3, 1, 2), "b1": b1, "w2": w2.transpose(0, 3, 1, 2), "b2": b2,
              "w3": w3, "b3": b3, "w4": w4, "b4": b4}
    inits = [numpy_helper.from_array(np.ascontiguousarray(a), n) for n, a in arrays.items()]
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", kernel_shape=[3, 3], pads=[1] * 4),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], name="conv2", kernel_shape=[3, 3], pads=[1] * 4),
        helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
        helper.make_node("AveragePool", ["r2"], ["p2"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["p2"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "w3", "b3"], ["z3"], name="fc1", transB=1),
        helper.make_node("Relu", ["z3"], ["h"], name="relu3"),
        helper.make_node("Gemm", ["h", "w4", "b4"], ["logits"], name="fc2", transB=1),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 8, 8])
    y = helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 10])
    model = helper.make_model(helper.make_graph(nodes, "digits_cnn", [x], [y], inits),
                              opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    return model


def nchw(x):
    """NHWC images -> the ONNX model's NCHW feed."""
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))
