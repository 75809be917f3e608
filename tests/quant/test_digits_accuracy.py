"""int8 PTQ of a small CNN trained here on scikit-learn's digits: accuracy and the report.

The model (conv 3x3x8 + relu, 2x2 average pool, flatten, fully connected) is
trained with numpy (Adam, a few seconds), exported to ONNX with onnx.helper,
imported, quantized with 100 calibration samples and run by the integer
reference interpreter on the held-out images.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgecc.frontend import import_onnx
from edgecc.quant.report import quantization_report

pytest.importorskip("sklearn")


def _im2col(x):
    p = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    cols = np.stack([p[:, i:i + 8, j:j + 8] for i in range(3) for j in range(3)], axis=-1)
    return cols.reshape(x.shape[0], 64, 9)


def _forward(params, x):
    w1, b1, w2, b2 = params
    cols = _im2col(x)
    z1 = cols @ w1.reshape(8, 9).T + b1
    a1 = np.maximum(z1, 0).reshape(-1, 8, 8, 8)
    p = a1.reshape(-1, 4, 2, 4, 2, 8).mean(axis=(2, 4))
    f = p.transpose(0, 3, 1, 2).reshape(-1, 128)  # ONNX (NCHW) flatten order
    return f @ w2.T + b2, (cols, z1, f)


def train_digits(epochs: int = 15, seed: int = 0):
    """(params, (x_train, y_train), (x_test, y_test)); images scaled to [0, 1]."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)
    y = d.target.astype(np.int64)
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(x))
    x, y = x[idx], y[idx]
    xtr, ytr, xte, yte = x[:1400], y[:1400], x[1400:], y[1400:]
    params = [rng.standard_normal((8, 1, 3, 3)).astype(np.float32) * 0.5, np.zeros(8, np.float32),
              rng.standard_normal((10, 128)).astype(np.float32) * 0.1, np.zeros(10, np.float32)]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    step = 0
    for _ in range(epochs):
        perm = rng.permutation(len(xtr))
        for s in range(0, len(xtr), 32):
            bi = perm[s:s + 32]
            n = len(bi)
            logits, (cols, z1, f) = _forward(params, xtr[bi])
            e = np.exp(logits - logits.max(1, keepdims=True))
            g = e / e.sum(1, keepdims=True)
            g[np.arange(n), ytr[bi]] -= 1
            g /= n
            gf = g @ params[2]
            gp = gf.reshape(-1, 8, 4, 4).transpose(0, 2, 3, 1)
            ga = np.repeat(np.repeat(gp, 2, axis=1), 2, axis=2) / 4.0
            gz = ga.reshape(-1, 64, 8) * (z1 > 0)
            gw1 = np.einsum("nkc,nkj->cj", gz, cols).reshape(8, 1, 3, 3)
            grads = [gw1, gz.sum((0, 1)), g.T @ f, g.sum(0)]
            step += 1
            for i in range(4):
                m[i] = 0.9 * m[i] + 0.1 * grads[i]
                v[i] = 0.999 * v[i] + 0.001 * grads[i] ** 2
                mh, vh = m[i] / (1 - 0.9 ** step), v[i] / (1 - 0.999 ** step)
                params[i] = (params[i] - 0.01 * mh / (np.sqrt(vh) + 1e-8)).astype(np.float32)
    return params, (xtr, ytr), (xte, yte)


def export_onnx(params) -> onnx.ModelProto:
    w1, b1, w2, b2 = params
    inits = [numpy_helper.from_array(a, n) for a, n in ((w1, "w1"), (b1, "b1"), (w2, "w2"), (b2, "b2"))]
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv", kernel_shape=[3, 3],
                         pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu"),
        helper.make_node("AveragePool", ["r1"], ["p1"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["p1"], ["f1"], name="flatten"),
        helper.make_node("Gemm", ["f1", "w2", "b2"], ["logits"], name="fc", transB=1),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 8, 8])
    y = helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 10])
    graph = helper.make_graph(nodes, "digits", [x], [y], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    return model


@pytest.fixture(scope="module")
def digits():
    params, train, test = train_digits()
    return import_onnx(export_onnx(params)), params, train, test


def _calib(train, n=100):
    return {"x": train[0][:n, None]}


def _eval(test):
    return {"x": test[0][:, None], "y": test[1]}


def test_int8_loses_at_most_one_point(digits):
    module, params, train, test = digits
    float_acc = float(np.mean(_forward(params, test[0])[0].argmax(1) == test[1]))
    assert float_acc > 0.93
    rep = quantization_report(module, calibration=_calib(train), evaluation=_eval(test), scheme="int8")
    acc = rep.accuracy
    assert acc.float_accuracy == pytest.approx(float_acc, abs=1e-9)
    assert acc.quant_accuracy >= acc.float_accuracy - 0.01, rep.text()
    assert rep.executor == "integer reference"
    assert rep.outputs[0].top1_agreement >= 0.97
    assert rep.outputs[0].sqnr_db > 30
    # every quantized layer has a decent SQNR; the conv and the fc are listed
    ops = [layer.op for layer in rep.layers]
    assert "conv2d" in ops and "fully_connected" in ops and "avg_pool2d" in ops
    assert all(layer.sqnr_db > 25 for layer in rep.layers), rep.text()


def test_per_class_table(digits):
    module, params, train, test = digits
    rep = quantization_report(module, calibration=_calib(train), evaluation=_eval(test), scheme="int8-w4",
                              worst=3)
    acc = rep.accuracy
    labels = test[1]
    float_pred = _forward(params, test[0])[0].argmax(1)
    assert [c.label for c in acc.per_class] == list(range(10))
    for c in acc.per_class:
        m = labels == c.label
        assert c.count == int(m.sum())
        assert c.float_accuracy == pytest.approx(float(np.mean(float_pred[m] == c.label)), abs=1e-6)
    total_q = sum(c.count * c.quant_accuracy for c in acc.per_class) / len(labels)
    assert total_q == pytest.approx(acc.quant_accuracy)
    # "worst" lists only classes that lost accuracy, the biggest drop first
    drops = {c.label: c.delta for c in acc.per_class}
    assert all(drops[w] < 0 for w in acc.worst) and len(acc.worst) <= 3
    assert [drops[w] for w in acc.worst] == sorted(drops[w] for w in acc.worst)
    losers = sorted((d, k) for k, d in drops.items() if d < 0)[:3]
    assert acc.worst == [k for _, k in losers]
    text = rep.text()
    assert "per class" in text
    for w in acc.worst:
        assert any(line.strip().startswith(str(w)) and line.endswith("<-") for line in text.splitlines())
    d = rep.to_dict()
    assert d["accuracy"]["per_class"][0]["delta"] == pytest.approx(acc.per_class[0].delta)


def test_int4_and_int16x8_accuracy(digits):
    module, params, train, test = digits
    accs = {}
    for scheme in ("int8-w4", "int16x8"):
        rep = quantization_report(module, calibration=_calib(train), evaluation=_eval(test), scheme=scheme)
        accs[scheme] = rep.accuracy.quant_accuracy
        assert rep.accuracy.quant_accuracy >= rep.accuracy.float_accuracy - 0.03, (scheme, rep.text())
    assert accs["int16x8"] >= accs["int8-w4"] - 0.01


def test_quantize_report_command(digits, tmp_path):
    import json

    from click.testing import CliRunner

    from edgecc.tools.quantize_report import quantize_report_command

    module, params, train, test = digits
    onnx.save(export_onnx(params), tmp_path / "digits.onnx")
    np.savez(tmp_path / "calib.npz", x=train[0][:100, None])
    np.savez(tmp_path / "eval.npz", x=test[0][:, None], y=test[1])
    model, calib = str(tmp_path / "digits.onnx"), str(tmp_path / "calib.npz")
    r = CliRunner().invoke(quantize_report_command,
                           [model, "--calib", calib, "--eval", str(tmp_path / "eval.npz"), "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["scheme"] == "int8" and d["samples"] == len(test[1])
    assert len(d["accuracy"]["per_class"]) == 10
    assert d["accuracy"]["quant_accuracy"] >= d["accuracy"]["float_accuracy"] - 0.01
    r = CliRunner().invoke(quantize_report_command,
                           [model, "--calib", calib, "--layers", "2", "--sensitivity"])
    assert r.exit_code == 0, r.output
    assert "lowest SQNR first" in r.output and "sensitivity" in r.output and "accuracy" not in r.output
    r = CliRunner().invoke(quantize_report_command, [model])
    assert r.exit_code != 0 and "give calibration data" in str(r.exception)


def test_ptq_model_is_bit_exact_in_tflm(digits):
    """The quantized digits model emitted as .tflite runs bit-exactly in TFLite Micro."""
    tflite = pytest.importorskip("edgecc.backends.tflite")
    verify = pytest.importorskip("edgecc.backends.tflite.verify")
    pytest.importorskip("tflite_micro")
    from edgecc.interp.reference import run
    from edgecc.passes.manager import PassManager
    from edgecc.quant.graph import clone_module
    from edgecc.quant.report import quantized_feeds

    module, params, train, test = digits
    for scheme in ("int8", "int16x8"):
        m = clone_module(module)[0]
        pm = PassManager.parse(f"quantize{{scheme={scheme} io=int}}", options={"calibration": _calib(train)})
        pm.run(m)
        data = tflite.to_bytes(m)
        it = verify.tflm_interpreter(data)
        for i in range(10):
            feeds = quantized_feeds(m, {"x": test[0][i][None, None]})
            ours = run(m, feeds)[0]
            theirs = verify.run_tflm(data, [feeds["x"]], interpreter=it)[0]
            np.testing.assert_array_equal(ours, theirs.reshape(ours.shape))
