"""A DS-CNN-style keyword model trained here (numpy, Adam) on a synthetic spectrogram dataset.

Input 49x10 (frames x features, as MLPerf's KWS), 8 classes. Each class is a
fixed time-frequency template of three Gaussian blobs; a sample shifts it in
time by up to 4 frames, scales it, and adds a distractor blob and noise.
Model (MLPerf DS-CNN layout, narrower): conv 5x3 stride 2 -> 32 + relu, two
blocks of depthwise 3x3 + relu and pointwise 1x1 -> 32 + relu, mean over
time and frequency, fully connected -> 8.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

CLASSES, C = 8, 32
H, W = 49, 10


def make_dataset(n: int, seed: int):
    """(x [n, 49, 10, 1] NHWC float32, y [n])."""
    rng = np.random.default_rng(1234)  # the class templates are fixed
    t, f = np.meshgrid(np.arange(H), np.arange(W), indexing="ij")
    templates = []
    for _ in range(CLASSES):
        tpl = np.zeros((H, W))
        for _ in range(3):
            ct, cf = rng.uniform(8, 41), rng.uniform(0, 9)
            st, sf = rng.uniform(2, 5), rng.uniform(0.8, 2)
            tpl += rng.uniform(0.6, 1.2) * np.exp(-0.5 * (((t - ct) / st) ** 2 + ((f - cf) / sf) ** 2))
        templates.append(tpl)
    rng = np.random.default_rng(seed)
    y = rng.integers(0, CLASSES, n)
    x = np.empty((n, H, W))
    for i, c in enumerate(y):
        img = np.roll(templates[c], rng.integers(-4, 5), axis=0) * rng.uniform(0.7, 1.3)
        ct, cf = rng.uniform(0, H), rng.uniform(0, W)
        img += 0.5 * np.exp(-0.5 * (((t - ct) / 3) ** 2 + ((f - cf) / 1.5) ** 2))
        x[i] = img + 0.25 * rng.standard_normal((H, W))
    return x[..., None].astype(np.float32), y.astype(np.int64)


def _cols(x, kh, kw, stride, pads):
    """[N, H, W, C] -> [N, OH, OW, kh*kw, C] windows (pads top, left, bottom, right)."""
    sh, sw = stride
    top, left, bottom, right = pads
    p = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    oh = (p.shape[1] - kh) // sh + 1
    ow = (p.shape[2] - kw) // sw + 1
    return np.stack([p[:, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw]
                     for i in range(kh) for j in range(kw)], axis=3)


def _uncols(g, shape):
    """Adjoint of ``_cols`` for 3x3, stride 1, pad 1: [N, H, W, 9, C] -> [N, H, W, C]."""
    n, h, w, c = shape
    out = np.zeros((n, h + 2, w + 2, c), g.dtype)
    for k in range(9):
        i, j = divmod(k, 3)
        out[:, i:i + h, j:j + w] += g[:, :, :, k]
    return out[:, 1:h + 1, 1:w + 1]


CONV1 = dict(k=(5, 3), stride=(2, 2), pads=(2, 1, 2, 1))


def forward(params, x):
    """Logits of NHWC inputs, and the values backprop needs."""
    w0, b0, d1, db1, p1, pb1, d2, db2, p2, pb2, wf, bf = params
    c0 = _cols(x, *CONV1["k"], CONV1["stride"], CONV1["pads"])
    n, oh, ow = c0.shape[:3]
    z0 = c0.reshape(n, oh, ow, -1) @ w0.reshape(C, -1).T + b0
    a0 = np.maximum(z0, 0)
    saved = [c0, z0]
    a = a0
    for d, db, pw, pb in ((d1, db1, p1, pb1), (d2, db2, p2, pb2)):
        cd = _cols(a, 3, 3, (1, 1), (1, 1, 1, 1))
        zd = np.einsum("nhwkc,kc->nhwc", cd, d.reshape(9, C)) + db
        ad = np.maximum(zd, 0)
        zp = ad @ pw.reshape(C, C).T + pb
        a = np.maximum(zp, 0)
        saved += [cd, zd, ad, zp]
    pooled = a.mean(axis=(1, 2))
    return pooled @ wf.T + bf, (saved, a.shape, pooled)


def _grads(params, x, y):
    w0, b0, d1, db1, p1, pb1, d2, db2, p2, pb2, wf, bf = params
    logits, (saved, shape, pooled) = forward(params, x)
    n = len(x)
    e = np.exp(logits - logits.max(1, keepdims=True))
    g = e / e.sum(1, keepdims=True)
    g[np.arange(n), y] -= 1
    g /= n
    grads = [None] * 12
    grads[10], grads[11] = g.T @ pooled, g.sum(0)
    ga = np.broadcast_to((g @ wf)[:, None, None, :] / (shape[1] * shape[2]), shape)
    c0, z0 = saved[:2]
    blocks = [saved[2:6], saved[6:10]]
    for bi in (1, 0):
        cd, zd, ad, zp = blocks[bi]
        d, pw = params[2 + 4 * bi], params[4 + 4 * bi]
        gzp = ga * (zp > 0)
        grads[4 + 4 * bi] = (gzp.reshape(-1, C).T @ ad.reshape(-1, C)).reshape(pw.shape)
        grads[5 + 4 * bi] = gzp.sum((0, 1, 2))
        gzd = (gzp @ pw.reshape(C, C)) * (zd > 0)
        grads[2 + 4 * bi] = np.einsum("nhwc,nhwkc->kc", gzd, cd).reshape(d.shape)
        grads[3 + 4 * bi] = gzd.sum((0, 1, 2))
        ga = _uncols(gzd[:, :, :, None, :] * d.reshape(9, C), gzd.shape)
    gz0 = ga * (z0 > 0)
    grads[0] = (gz0.reshape(-1, C).T @ c0.reshape(gz0.shape[0] * gz0.shape[1] * gz0.shape[2], -1)).reshape(
        w0.shape)
    grads[1] = gz0.sum((0, 1, 2))
    return grads


def train(epochs: int = 4, seed: int = 0, lr: float = 0.003):
    """(params, (x_train, y_train), (x_test, y_test)) on 1600 / 400 synthetic samples."""
    from threadpoolctl import threadpool_limits

    xtr, ytr = make_dataset(1600, seed)
    test = make_dataset(400, seed + 1)
    rng = np.random.default_rng(seed)
    kh, kw = CONV1["k"]
    shapes = [(C, kh, kw, 1), (C,), (1, 3, 3, C), (C,), (C, 1, 1, C), (C,), (1, 3, 3, C), (C,),
              (C, 1, 1, C), (C,), (CLASSES, C), (CLASSES,)]
    fan = [kh * kw, 0, 9, 0, C, 0, 9, 0, C, 0, C, 0]
    params = [(rng.standard_normal(s) * np.sqrt(2.0 / f)).astype(np.float32) if f else np.zeros(s, np.float32)
              for s, f in zip(shapes, fan)]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    step = 0
    with threadpool_limits(1):
        for _ in range(epochs):
            perm = rng.permutation(len(xtr))
            for s in range(0, len(xtr), 32):
                bi = perm[s:s + 32]
                step += 1
                for i, gr in enumerate(_grads(params, xtr[bi], ytr[bi])):
                    m[i] = 0.9 * m[i] + 0.1 * gr
                    v[i] = 0.999 * v[i] + 0.001 * gr ** 2
                    mh, vh = m[i] / (1 - 0.9 ** step), v[i] / (1 - 0.999 ** step)
                    params[i] = (params[i] - lr * mh / (np.sqrt(vh) + 1e-8)).astype(np.float32)
    return params, (xtr, ytr), test


def export_onnx(params) -> onnx.ModelProto:
    """The model as ONNX (NCHW input [1, 1, 49, 10], logits [1, 8])."""
    w0, b0, d1, db1, p1, pb1, d2, db2, p2, pb2, wf, bf = params

    def oihw(w):
        return np.ascontiguousarray(w.transpose(0, 3, 1, 2))

    def dw(w):  # [1, 3, 3, C] -> ONNX depthwise [C, 1, 3, 3]
        return np.ascontiguousarray(w.transpose(3, 0, 1, 2))

    arrays = {"w0": oihw(w0), "b0": b0, "d1": dw(d1), "db1": db1, "p1": oihw(p1), "pb1": pb1,
              "d2": dw(d2), "db2": db2, "p2": oihw(p2), "pb2": pb2, "wf": wf, "bf": bf}
    inits = [numpy_helper.from_array(a, k) for k, a in arrays.items()]
    top, left, bottom, right = CONV1["pads"]
    nodes = [helper.make_node("Conv", ["x", "w0", "b0"], ["c0"], name="conv1", kernel_shape=list(CONV1["k"]),
                              strides=list(CONV1["stride"]), pads=[top, left, bottom, right]),
             helper.make_node("Relu", ["c0"], ["a0"], name="relu1")]
    prev = "a0"
    for i in (1, 2):
        nodes += [
            helper.make_node("Conv", [prev, f"d{i}", f"db{i}"], [f"cd{i}"], name=f"dw{i}",
                             kernel_shape=[3, 3], pads=[1, 1, 1, 1], group=C),
            helper.make_node("Relu", [f"cd{i}"], [f"ad{i}"], name=f"dw{i}_relu"),
            helper.make_node("Conv", [f"ad{i}", f"p{i}", f"pb{i}"], [f"cp{i}"], name=f"pw{i}",
                             kernel_shape=[1, 1]),
            helper.make_node("Relu", [f"cp{i}"], [f"ap{i}"], name=f"pw{i}_relu")]
        prev = f"ap{i}"
    nodes += [helper.make_node("GlobalAveragePool", [prev], ["gap"], name="pool"),
              helper.make_node("Flatten", ["gap"], ["flat"], name="flatten"),
              helper.make_node("Gemm", ["flat", "wf", "bf"], ["logits"], name="fc", transB=1)]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, H, W])
    y = helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, CLASSES])
    model = helper.make_model(helper.make_graph(nodes, "dscnn", [x], [y], inits),
                              opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    return model


def nchw(x):
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))
