"""Calibration activations: stacked inputs, im2col patches and input covariances of weighted ops."""

from __future__ import annotations

import numpy as np
import pytest
from edgecc.compress.activations import collect_inputs, input_covariances, patches
from edgecc.dialects.nn import Conv2DOp, FullyConnectedOp, ReshapeOp
from edgecc.interp.reference import evaluate_op
from edgecc.ir import Builder, Func, Module
from edgecc.ir.types import f32, tensor


def _model(rng, strides=(2, 1), pads=(1, 0, 2, 1), dilations=(1, 2)):
    func = Func("main", [tensor((1, 7, 9, 3), f32)], ["x"])
    b = Builder(func)
    w = b.constant(rng.standard_normal((5, 3, 2, 3)).astype(np.float32))
    bias = b.constant(rng.standard_normal(5).astype(np.float32))
    conv = b.create(Conv2DOp, func.arguments[0], w, bias, strides=strides, pads=pads, dilations=dilations)
    n = int(np.prod(conv.result.type.shape))
    flat = b.create(ReshapeOp, conv.result, shape=(1, n))
    fw = b.constant(rng.standard_normal((4, n)).astype(np.float32))
    fc = b.create(FullyConnectedOp, flat.result, fw)
    b.ret(fc.result)
    m = Module(func, name="t")
    m.verify()
    return m, conv, fc


def test_patches_reproduce_conv_and_fc():
    rng = np.random.default_rng(0)
    m, conv, fc = _model(rng)
    samples = [{"x": rng.standard_normal((1, 7, 9, 3)).astype(np.float32)} for _ in range(3)]
    got = collect_inputs(m, samples, [conv, fc])
    assert got[conv].shape == (3, 1, 7, 9, 3)
    np.testing.assert_array_equal(got[conv][1], samples[1]["x"])
    w = conv.operands[1].defining_op().attr("value").array
    b = conv.operands[2].defining_op().attr("value").array
    for s, x in enumerate(got[conv]):
        want = evaluate_op(conv, [x, w, b])[0]
        rows = patches(conv, x)
        np.testing.assert_allclose(rows @ w.reshape(5, -1).T.astype(np.float64) + b,
                                   want.reshape(-1, 5), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(got[fc][s].reshape(-1), want.reshape(-1), rtol=1e-6)


def test_covariance_is_gram_of_patches():
    rng = np.random.default_rng(1)
    m, conv, fc = _model(rng, strides=(1, 1), pads=(0, 0, 0, 0), dilations=(1, 1))
    samples = [{"x": rng.standard_normal((1, 7, 9, 3)).astype(np.float32)} for _ in range(4)]
    cov = input_covariances(m, samples, [conv, fc])
    xs = collect_inputs(m, samples, [conv, fc])
    rows = patches(conv, xs[conv].reshape(4, 7, 9, 3))
    np.testing.assert_allclose(cov[conv], rows.T @ rows / len(rows), rtol=1e-9)
    assert cov[conv].shape == (18, 18) and cov[fc].shape == (fc.operands[1].type.shape[1],) * 2
    np.testing.assert_allclose(cov[conv], cov[conv].T)


def test_no_samples_is_an_error():
    from edgecc.ir.diagnostics import EdgeccError

    m, conv, _ = _model(np.random.default_rng(2))
    with pytest.raises(EdgeccError, match="no calibration samples"):
        collect_inputs(m, [], [conv])
