"""sparsify and cluster: exact shares and patterns, the data-aware methods against magnitude on the
layer output and on a CNN trained here on scikit-learn's digits, 1-D k-means against sklearn, the
encodings' byte layouts, and one-line errors."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from edgecc.compress.cluster import cluster_rows, kmeans_1d
from edgecc.compress.encode import (
    best_encoding,
    bitmask_size,
    decode,
    encode_bitmask,
    encode_lut,
    lut_size,
    sparse_lut_size,
)
from edgecc.compress.sparsity import prune_mask, sparsegpt
from edgecc.ir.diagnostics import EdgeccError
from edgecc.passes.manager import PassManager

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "c"))
import helpers  # noqa: E402

DIGITS = helpers.load("edgecc_tests_digits", HERE.parent / "quant" / "test_digits_accuracy.py")
sklearn = pytest.importorskip("sklearn")


# ----------------------------------------------------------------- masks
def test_unstructured_and_n_m_masks_are_exact():
    rng = np.random.default_rng(0)
    s = rng.random((6, 30))
    m = prune_mask(s, 0.4, None)
    assert (m.sum(1) == 12).all()
    assert (np.where(m, s, -1).max(1) <= np.where(m, 2, s).min(1)).all()  # the lowest go
    m = prune_mask(s, None, (2, 4))
    groups = m[:, :28].reshape(6, 7, 4)
    assert (groups.sum(2) == 2).all()
    assert (m[:, 28:].sum(1) == 0).all()  # a last partial group of 2 keeps min(N, 2) = 2


def _layer(rng, rows=16, cols=48, n=400):
    """Weights and inputs with correlated, unequally scaled columns (as in real activations)."""
    x = rng.standard_normal((n, cols)) @ rng.standard_normal((cols, cols)) * 0.3
    x *= np.exp(rng.standard_normal(cols))
    return rng.standard_normal((rows, cols)), x


@pytest.mark.parametrize("ratio, nm", [(0.5, None), (0.7, None), (None, (2, 4))])
def test_sparsegpt_beats_activation_beats_magnitude_on_the_layer_output(ratio, nm):
    rng = np.random.default_rng(1)
    w, x = _layer(rng)

    def err(wq):
        return float(np.sum((x @ (w - wq).T) ** 2))

    mag = np.where(prune_mask(np.abs(w), ratio, nm), 0, w)
    act = np.where(prune_mask(np.abs(w) * np.sqrt((x**2).sum(0)), ratio, nm), 0, w)
    gpt = sparsegpt(w, x.T @ x, ratio, nm)
    assert np.mean(gpt == 0) == pytest.approx(np.mean(mag == 0))
    assert err(gpt) < 0.8 * err(act) and err(act) < 0.8 * err(mag), (err(gpt), err(act), err(mag))


# ----------------------------------------------------------------- k-means
@pytest.mark.parametrize("k", [2, 4, 16])
@pytest.mark.parametrize("dist", ["normal", "laplace", "mixture"])
def test_kmeans_1d_is_as_good_as_sklearn_and_deterministic(k, dist):
    from sklearn.cluster import KMeans

    rng = np.random.default_rng(2)
    n = 700
    x = {
        "normal": rng.standard_normal(n),
        "laplace": rng.laplace(size=n),
        "mixture": np.concatenate([rng.normal(-2, 0.3, n // 2), rng.normal(1, 0.1, n // 2), [9.0]]),
    }[dist]
    c, lab = kmeans_1d(x, k)
    ours = float(np.sum((x - c[lab]) ** 2))
    ref = KMeans(k, n_init=10, random_state=0).fit(x[:, None]).inertia_
    assert ours <= ref * 1.02
    c2, lab2 = kmeans_1d(x.copy(), k)
    assert np.array_equal(c, c2) and np.array_equal(lab, lab2)


def test_cluster_rows_keeps_zeros_and_level_counts():
    rng = np.random.default_rng(3)
    w = rng.standard_normal((5, 40))
    w[:, ::3] = 0
    out = cluster_rows(w, 4, per_channel=True, keep_zero=True)
    assert ((out == 0) == (w == 0)).all()
    assert all(np.unique(r[r != 0]).size == 4 for r in out)
    assert np.unique(cluster_rows(w, 4, per_channel=False, keep_zero=False)).size == 4


# ----------------------------------------------------------------- encodings
def test_encodings_round_trip_and_pick_the_smallest():
    rng = np.random.default_rng(4)
    for _ in range(20):
        shape = tuple(int(d) for d in rng.integers(1, 9, 3))
        a = rng.integers(-127, 128, shape).astype(np.int8)
        a[rng.random(shape) < rng.random()] = 0
        e = encode_bitmask(a)
        assert e.nbytes == bitmask_size(a.size, int(np.count_nonzero(a)), 1)
        assert np.array_equal(decode(e, np.int8), a.reshape(-1))
        book = rng.integers(-127, 128, int(rng.integers(1, 17))).astype(np.int8)
        b = book[rng.integers(0, book.size, shape)]
        for axis in (0, 2, None):
            e = encode_lut(b, axis)
            assert np.array_equal(decode(e, np.int8), b.reshape(-1))
            assert e.nbytes == lut_size(b.size, e.channels, e.levels, e.bits, 1)
            s = np.where(rng.random(shape) < 0.5, 0, b).astype(np.int8)
            e = encode_lut(s, axis, sparse=True)
            assert np.array_equal(decode(e, np.int8), s.reshape(-1))
            assert e.nbytes == sparse_lut_size(
                s.size, int(np.count_nonzero(s)), e.channels, e.levels, e.bits, 1
            )
        best = best_encoding(b, 0)
        assert best is None or best.nbytes < b.size
    dense = rng.integers(-127, 128, (8, 64)).astype(np.int8)
    dense[dense == 0] = 1
    assert best_encoding(dense, 0) is None  # nothing to gain: stays dense


# ----------------------------------------------------------------- a trained CNN (digits)
@pytest.fixture(scope="module")
def digits():
    return DIGITS.train_digits()


def _accuracy(module, test) -> float:
    from edgecc.interp.reference import run

    return float(np.mean([run(module, [x[None, None]])[0].argmax() == y for x, y in zip(*test)]))


def _digits_after(digits, pipeline: str, quantize: bool = True):
    from edgecc.frontend import import_onnx
    from edgecc.quant.ptq import QuantizeConfig, quantize_module

    params, train, test = digits
    m = import_onnx(DIGITS.export_onnx(params))
    calib = {"x": train[0][:100, None]}
    PassManager.parse(pipeline, options={"calibration": calib}).run(m)
    if quantize:
        quantize_module(m, QuantizeConfig(scheme="int8"), calib)
    return m, test


def test_digits_sparsegpt_keeps_accuracy_where_magnitude_loses_it(digits):
    int8 = _accuracy(*_digits_after(digits, "canonicalize"))
    mag = _accuracy(*_digits_after(digits, "sparsify{pattern=2:4}"))
    gpt = _accuracy(*_digits_after(digits, "sparsify{pattern=2:4 method=sparsegpt}"))
    assert int8 > 0.95
    assert gpt >= int8 - 0.03 and gpt >= mag + 0.05, (int8, mag, gpt)  # measured: 0.960, 0.844, 0.945


def test_digits_16_levels_lose_at_most_one_point_and_leave_16_values_per_channel(digits):
    int8 = _accuracy(*_digits_after(digits, "canonicalize"))
    m, test = _digits_after(digits, "cluster{levels=16}")
    assert _accuracy(m, test) >= int8 - 0.01
    for op in m.func.body:
        if op.name in ("nn.conv2d", "nn.fully_connected"):
            w = np.asarray(op.operands[1].defining_op().attr("value").array)
            assert max(np.unique(r).size for r in w.reshape(w.shape[0], -1)) <= 16


# ----------------------------------------------------------------- errors
def test_one_line_errors(digits):
    from edgecc.frontend import import_onnx

    params = digits[0]
    m = import_onnx(DIGITS.export_onnx(params))
    cases = {
        "sparsify{method=sparsegpt}": "needs calibration data",
        "sparsify{pattern=3:2}": "is not N:M",
        "sparsify{sparsity=1.0}": "must be in [0, 1)",
        "sparsify{layers=[nope:0.5]}": "no layer named 'nope'",
        "cluster{levels=1}": "levels must be in 2..256",
        "cluster{weighted}": "needs calibration data",
    }
    for pipe, text in cases.items():
        with pytest.raises(EdgeccError) as e:
            PassManager.parse(pipe).run(m)
        assert text in str(e.value) and "\n" not in str(e.value), (pipe, str(e.value))
    q, _ = _digits_after(digits, "canonicalize")
    with pytest.raises(EdgeccError, match="run sparsify before quantize"):
        PassManager.parse("sparsify").run(q)
