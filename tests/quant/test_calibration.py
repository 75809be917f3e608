"""Calibration: observers, range methods, data sources, the statistics pass."""

from __future__ import annotations

import numpy as np
import pytest

import edgecc
from edgecc.ir.diagnostics import EdgeccError
from edgecc.quant.calibrate import collect_statistics, load_calibration
from edgecc.quant.observers import HALF_BINS, Observer, choose_range
from edgecc.quant.schemes import activation_params, quantize_bias, round_half_away, weight_scales
from edgecc.ir.types import i8, i16, i32

MODEL = """module @m {
  func.func @main(%x: tensor<1x4xf32>, %y: tensor<2x2xf32>) -> (tensor<1x4xf32>) {
    %r = nn.relu(%x) : (tensor<1x4xf32>) -> tensor<1x4xf32>
    %s = nn.reshape(%y) {shape = [1, 4]} : (tensor<2x2xf32>) -> tensor<1x4xf32>
    %a = nn.add(%r, %s) : (tensor<1x4xf32>, tensor<1x4xf32>) -> tensor<1x4xf32>
    func.return(%a) : (tensor<1x4xf32>) -> ()
  }
}"""


@pytest.fixture
def module():
    return edgecc.parse_ir(MODEL)


# ------------------------------------------------------------- observers
def test_observer_min_max_and_exact_counts_while_growing():
    rng = np.random.default_rng(0)
    o = Observer()
    chunks = [rng.standard_normal(1000) * s for s in (0.1, 1.0, 37.0, 0.5)]
    for c in chunks:
        o.update(c)
    allv = np.concatenate(chunks)
    assert o.min == allv.min() and o.max == allv.max()
    assert o.hist.sum() == allv.size == o.count
    assert o.radius >= np.abs(allv).max()
    # the histogram equals one built directly on the final grid
    direct = np.bincount(np.clip(np.floor(allv / (o.radius / HALF_BINS)).astype(int) + HALF_BINS, 0,
                                 2 * HALF_BINS - 1), minlength=2 * HALF_BINS)
    np.testing.assert_array_equal(o.hist, direct)


def test_observer_all_zero_then_data():
    o = Observer()
    o.update(np.zeros(10))
    assert choose_range(o, "percentile") == (0.0, 0.0)
    o.update(np.array([0.5, -0.25]))
    assert o.hist.sum() == 12
    assert choose_range(o, "minmax") == (-0.25, 0.5)


def test_minmax_range_always_contains_zero():
    o = Observer()
    o.update(np.array([2.0, 3.0, 5.0]))
    assert choose_range(o, "minmax") == (0.0, 5.0)
    assert choose_range(o, "minmax", symmetric=True) == (-5.0, 5.0)


def test_percentile_clips_outliers_but_not_the_body():
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, 100_000)
    x[:5] = [40.0, -30.0, 25.0, 50.0, -45.0]
    o = Observer()
    o.update(x)
    lo, hi = choose_range(o, "percentile", percentile=99.9)
    assert -1.2 < lo < -0.9 and 0.9 < hi < 1.2
    assert choose_range(o, "percentile", percentile=100.0) == (pytest.approx(-45.0, abs=0.1), 50.0)


def test_entropy_mse_and_percentile_clip_outliers():
    rng = np.random.default_rng(2)
    x = np.abs(rng.standard_normal(200_000))  # relu-like body (max ~ 5) ...
    x[:20] = rng.uniform(30, 60, 20)  # ... and a few large outliers
    o = Observer()
    o.update(x)
    for method in ("entropy", "percentile"):
        lo, hi = choose_range(o, method)
        assert lo == 0.0
        assert 2.5 < hi < 10.0, (method, hi)
    assert choose_range(o, "minmax")[1] == x.max()
    # a few far outliers cost MSE more when clipped than the coarser grid does: mse keeps them
    assert choose_range(o, "mse")[1] > 30


def test_mse_clips_a_gaussian_tail():
    rng = np.random.default_rng(4)
    x = rng.standard_normal(200_000)
    o = Observer()
    o.update(x)
    lo, hi = choose_range(o, "mse")
    assert 3.0 < hi < 0.95 * x.max() and 0.95 * x.min() < lo < -3.0
    lo16, hi16 = choose_range(o, "mse", levels=65536, symmetric=True)
    assert lo16 == -hi16 and hi16 > hi  # a finer grid clips less


def test_entropy_clips_a_laplace_tail():
    rng = np.random.default_rng(3)
    x = rng.laplace(0, 1.0, 200_000)
    o = Observer()
    o.update(x)
    lo, hi = choose_range(o, "entropy")
    assert lo == -hi and 5.0 < hi < 0.8 * max(-x.min(), x.max())


def test_entropy_keeps_a_uniform_range():
    o = Observer()
    o.update(np.linspace(-3, 3, 50_001))
    lo, hi = choose_range(o, "entropy")
    assert lo < -2.5 and hi > 2.5


def test_unknown_method():
    o = Observer()
    o.update(np.ones(3))
    with pytest.raises(ValueError, match="unknown calibration method"):
        choose_range(o, "median")


# --------------------------------------------------------------- params
def test_activation_params_tflite_rules():
    assert activation_params(-2.0, 1.984375) == (0.015625, 0)
    assert activation_params(0.0, 3.984375) == (0.015625, -128)
    scale, zp = activation_params(1.0, 2.0)  # widened to [0, 2]
    assert zp == -128 and scale == pytest.approx(2 / 255)
    assert activation_params(0.0, 0.0) == (pytest.approx(1 / 255), -128)
    assert activation_params(-1.0, 3.0, i16, symmetric=True) == (pytest.approx(3 / 32767), 0)
    # scales are stored as float32 values, as TFLite does
    assert activation_params(-1.0, 1.0)[0] == float(np.float32(2 / 255))


def test_weight_and_bias_quantization():
    w = np.array([[1.27, -0.5], [0.0, 0.0], [-2.54, 1.0]])
    s = weight_scales(w, 0, 127)
    np.testing.assert_allclose(s, [0.01, 1.0, 0.02], rtol=1e-6)
    assert round_half_away(np.array([0.5, -0.5, 1.5, -2.5])).tolist() == [1, -1, 2, -3]
    b = quantize_bias(np.array([0.5, 1e9]), 0.01, np.array([0.01, 0.01]), i32)
    assert b.tolist() == [5000, 2**31 - 1]
    assert i8.numpy == np.int8


# ------------------------------------------------------------ data sources
def test_sources_agree(module, tmp_path):
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((5, 1, 4)).astype(np.float32)
    ys = rng.standard_normal((5, 2, 2)).astype(np.float32)
    np.savez(tmp_path / "c.npz", x=xs, y=ys)
    (tmp_path / "d").mkdir()
    np.save(tmp_path / "d" / "x.npy", xs)
    np.save(tmp_path / "d" / "y.npy", ys)
    variants = [
        load_calibration(tmp_path / "c.npz", module),
        load_calibration(str(tmp_path / "d"), module),
        load_calibration({"x": xs, "y": ys}, module),
        load_calibration([{"x": a, "y": b} for a, b in zip(xs, ys)], module),
        load_calibration([(a, b) for a, b in zip(xs, ys)], module),
        load_calibration(iter([(a, b) for a, b in zip(xs, ys)]), module),
        load_calibration({"x": xs[:, 0], "y": ys}, module),  # batch dimension 1 replaced by N
    ]
    for v in variants:
        assert len(v) == 5
        for s, a, b in zip(v, xs, ys):
            np.testing.assert_array_equal(s["x"], a)
            np.testing.assert_array_equal(s["y"], b)
            assert s["x"].dtype == np.float32


def test_float64_is_converted_and_limit(module):
    xs = np.zeros((7, 1, 4))
    s = load_calibration({"x": xs, "y": np.zeros((7, 2, 2))}, module, limit=3)
    assert len(s) == 3 and s[0]["x"].dtype == np.float32


def test_single_input_array_and_npz_key_x(tmp_path):
    m = edgecc.parse_ir("""module @m {
  func.func @main(%img: tensor<1x3xf32>) -> (tensor<1x3xf32>) {
    %r = nn.relu(%img) : (tensor<1x3xf32>) -> tensor<1x3xf32>
    func.return(%r) : (tensor<1x3xf32>) -> ()
  }
}""")
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    assert len(load_calibration(x, m)) == 4
    np.savez(tmp_path / "e.npz", x=x, y=np.arange(4))
    s = load_calibration(tmp_path / "e.npz", m)
    assert len(s) == 4 and s[3]["img"].tolist() == [[9, 10, 11]]


@pytest.mark.parametrize("source, match", [
    ([], "calibration input 'x': the calibration set is empty"),
    ([{"x": np.zeros((1, 4), np.float32)}], "calibration input 'y': missing from calibration sample 0"),
    ([{"x": np.zeros((1, 4), np.float32), "y": np.zeros((2, 2), np.float32), "z": 1}], "'z': not an input"),
    ([{"x": np.zeros((1, 5), np.float32), "y": np.zeros((2, 2), np.float32)}],
     r"'x': sample 0 has shape \[1, 5\], expected \[1, 4\]"),
    ([{"x": np.zeros((1, 4), np.int8), "y": np.zeros((2, 2), np.float32)}], "'x': sample 0 has dtype int8"),
    ([{"x": np.zeros((1, 4), np.float32), "y": np.full((2, 2), np.nan, np.float32)}],
     "'y': sample 0 contains NaN"),
    ({"x": np.zeros((3, 1, 4)), "y": np.zeros((2, 2, 2))}, "different sample counts"),
    ({"x": np.zeros((3, 7)), "y": np.zeros((3, 2, 2))}, r"'x': stacked data has shape \[3, 7\]"),
    (np.zeros((3, 1, 4)), "single-input model"),
    (42, "must be a path, an array"),
    ([np.zeros((1, 4))], "is one array but the model has 2 inputs"),
])
def test_bad_sources(module, source, match):
    with pytest.raises(EdgeccError, match=match):
        load_calibration(source, module)


def test_missing_dir_file(module, tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((2, 1, 4), np.float32))
    with pytest.raises(EdgeccError, match="calibration input 'y': no file y.npy"):
        load_calibration(tmp_path, module)


def test_corrupt_npz(module, tmp_path):
    p = tmp_path / "bad.npz"
    p.write_bytes(b"not a zip")
    with pytest.raises(EdgeccError, match="cannot read calibration data"):
        load_calibration(p, module)


# ---------------------------------------------------------- statistics pass
def test_statistics_see_every_value(module):
    rng = np.random.default_rng(0)
    samples = load_calibration({"x": rng.standard_normal((6, 1, 4)), "y": rng.standard_normal((6, 2, 2))},
                               module)
    stats = collect_statistics(module, samples, progress=False)
    values = list(module.func.arguments) + [op.result for op in module.func.body if op.results]
    assert set(stats) == set(values)
    relu = next(op for op in module.func.body if op.name == "nn.relu")
    assert stats[relu.result].min == 0.0
    x_all = np.stack([s["x"] for s in samples])
    assert stats[module.func.arguments[0]].max == pytest.approx(float(x_all.max()))
    assert stats[relu.result].count == 24


def test_progress_bar_runs(module, capsys):
    samples = load_calibration({"x": np.zeros((25, 1, 4)), "y": np.zeros((25, 2, 2))}, module)
    stats = collect_statistics(module, samples, progress=True)
    assert stats[module.func.arguments[0]].count == 100


# ------------------------------------------------------- batched statistics pass
def test_update_samples_is_a_sequence_of_updates():
    pytest.importorskip("numba")
    rng = np.random.default_rng(4)
    for trial in range(40):
        n = int(rng.integers(1, 10))
        x = (rng.standard_normal((n, 1, 5, 3)) * 2.0 ** rng.integers(-3, 4, (n, 1, 1, 1))).astype(np.float32)
        x[int(rng.integers(0, n))] = 0  # an all-zero sample (possibly before any data)
        x[0, 0, 0, 0], x[-1, 0, 0, 0] = 4.0, 5.0  # a value on the radius, then growth past it
        one, many = Observer(), Observer()
        if trial % 2:
            first = rng.standard_normal((1, 5, 3)).astype(np.float32) * 0.1
            one.update(first)
            many.update(first)
        for i in range(n):
            one.update(x[i:i + 1])
        many.update_samples(x)
        for k in ("min", "max", "count", "radius", "zeros"):
            assert getattr(one, k) == getattr(many, k), (trial, k)
        np.testing.assert_array_equal(one.hist, many.hist)


def _example_and_samples(n: int):
    from edgecc.examples import path
    from edgecc.frontend import import_onnx

    module = import_onnx(path("kws_dscnn.onnx"))
    x = np.random.default_rng(5).standard_normal((n, 1, 1, 49, 10)).astype(np.float32)
    return module, load_calibration(list(x), module)


def test_batched_pass_equals_the_per_sample_reference_pass():
    pytest.importorskip("numba")
    module, samples = _example_and_samples(19)  # chunks of 8, 8 and a padded 3
    batched = collect_statistics(module, samples, batch=8, progress=False)
    reference = collect_statistics(module, samples, batch=1, progress=False)
    assert set(batched) == set(reference)
    for v, r in reference.items():
        b = batched[v]
        assert (b.min, b.max, b.count, b.zeros, b.radius) == (r.min, r.max, r.count, r.zeros, r.radius)
        np.testing.assert_array_equal(b.hist, r.hist)


def test_quantized_scales_are_those_of_the_per_sample_pass(monkeypatch):
    pytest.importorskip("numba")
    from edgecc.quant import calibrate
    from edgecc.quant.ptq import QuantizeConfig, quantize_module

    runners = []
    make = calibrate._batched_runner
    monkeypatch.setattr(calibrate, "_batched_runner", lambda *a: runners.append(make(*a)) or runners[-1])

    def scales(batch):
        monkeypatch.setattr(calibrate, "CALIBRATION_BATCH", batch)
        module, samples = _example_and_samples(12)
        quantize_module(module, QuantizeConfig(), samples)
        return [str(v.type) for op in module.func.body for v in op.results]

    assert scales(64) == scales(1)
    assert len(runners) == 1 and runners[0].n == 12  # batch 1 is the reference pass


def test_report_from_batches_equals_the_per_sample_report(monkeypatch):
    pytest.importorskip("numba")
    from edgecc.quant import calibrate
    from edgecc.quant.report import quantization_report

    def report(batch):
        monkeypatch.setattr(calibrate, "CALIBRATION_BATCH", batch)
        module, samples = _example_and_samples(6)
        return quantization_report(module, calibration=samples[:2], evaluation=samples, labels=np.arange(6))

    batched, reference = report(4), report(1)  # evaluation in chunks of 4 and a padded 2
    assert batched.layers == reference.layers
    assert batched.outputs == reference.outputs and batched.accuracy == reference.accuracy
