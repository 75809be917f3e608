"""Low-rank factorisation: exact on low-rank weights, data-aware beats plain SVD, ad01 acceptance.

ad01 (MLPerf Tiny's dense autoencoder, 264k weights) has no public data in a
package, so its calibration and test inputs are synthetic log-mel-like
frames (smooth spectral envelopes, per-frame gains, noise); the measure is
the factorised model's output against the original float model's.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from edgecc.analysis.stats import module_stats
from edgecc.compress.lowrank import lowrank_module
from edgecc.dialects.nn import Conv2DOp, FullyConnectedOp, MatMulOp
from edgecc.interp.reference import run
from edgecc.ir import Builder, Func, Module
from edgecc.ir.diagnostics import EdgeccError
from edgecc.ir.types import f32, tensor
from edgecc.passes import PassManager
from edgecc.quant.graph import clone_module
from edgecc.quant.report import quantized_feeds


def _one_layer(kind: str, rng, rank: int, **attrs) -> Module:
    shape = {"fc": (1, 24), "matmul": (1, 3, 24), "conv": (1, 9, 8, 6)}[kind]
    func = Func("main", [tensor(shape, f32)], ["x"])
    b = Builder(func)
    x = func.arguments[0]
    if kind == "conv":
        w = (rng.standard_normal((16, rank)) @ rng.standard_normal((rank, 3 * 3 * 6))).reshape(16, 3, 3, 6)
        if attrs.pop("spatial", False):  # low rank as [(kw, cout), (kh, cin)]
            m = rng.standard_normal((3 * 16, rank)) @ rng.standard_normal((rank, 3 * 6))
            w = m.reshape(3, 16, 3, 6).transpose(1, 2, 0, 3)
        y = b.create(Conv2DOp, x, b.constant(w.astype(np.float32)), b.constant(rng.standard_normal(16).astype(
            np.float32)), loc=None, result_names=["y"], **attrs).result
    else:
        w = (rng.standard_normal((20, rank)) @ rng.standard_normal((rank, 24))).astype(np.float32)
        if kind == "fc":
            y = b.create(FullyConnectedOp, x, b.constant(w), b.constant(np.ones(20, np.float32)),
                         activation="relu", result_names=["y"]).result
        else:
            y = b.create(MatMulOp, x, b.constant(np.ascontiguousarray(w.T)), result_names=["y"]).result
    b.ret(y)
    module = Module(func, name=kind)
    module.verify()
    return module


def _feeds(module, rng, n):
    shape = module.func.arguments[0].type.shape
    mix = rng.standard_normal((shape[-1], shape[-1]))  # correlated features
    return [(rng.standard_normal(shape) @ mix).astype(np.float32) for _ in range(n)]


@pytest.mark.parametrize("kind,mode,attrs", [
    ("fc", "channel", {}), ("matmul", "channel", {}),
    ("conv", "channel", {"strides": (2, 1), "pads": (1, 0, 1, 2), "dilations": (1, 2)}),
    ("conv", "spatial", {"strides": (1, 2), "pads": (2, 1, 0, 1), "dilations": (2, 1), "spatial": True}),
])
@pytest.mark.parametrize("whiten", [False, True])
def test_low_rank_weights_are_reproduced(kind, mode, attrs, whiten):
    if whiten and mode == "spatial":
        pytest.skip("spatial mode is plain SVD")
    rng = np.random.default_rng(0)
    module = _one_layer(kind, rng, 3, **attrs)
    feeds = _feeds(module, rng, 12)
    want = [run(module, [f])[0] for f in feeds]
    done = lowrank_module(module, [{"x": f} for f in feeds[:8]], mode=mode, whiten=whiten,
                          ranks={"y": 3})
    module.verify()
    assert len(done) == 1 and done[0].rank == 3 and done[0].energy == pytest.approx(1.0)
    names = [op.name for op in module.ops if op.name != "builtin.constant"]
    assert names.count(f"nn.{ {'fc': 'fully_connected', 'conv': 'conv2d'}.get(kind, kind)}") == 2
    for f, w in zip(feeds, want):
        np.testing.assert_allclose(run(module, [f])[0], w, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("kind", ["fc", "conv"])
def test_data_aware_beats_plain_at_equal_rank(kind):
    rng = np.random.default_rng(1)
    base = _one_layer(kind, rng, 12)
    calib = _feeds(base, np.random.default_rng(2), 64)
    test = _feeds(base, np.random.default_rng(2), 96)[64:]  # same input distribution, other samples
    want = [run(base, [f])[0] for f in test]
    errors = {}
    for whiten in (False, True):
        m = clone_module(base)[0]
        lowrank_module(m, [{"x": f} for f in calib], whiten=whiten, ranks={"y": 4})
        errors[whiten] = sum(float(((run(m, [f])[0] - w) ** 2).sum()) for f, w in zip(test, want))
    assert errors[True] < 0.9 * errors[False], errors


def _tucker_conv(rng, ranks, stride=1) -> Module:
    """A 3x3 conv 12 -> 16 whose weights have Tucker ranks ``ranks`` (input, output channels)."""
    ri, ro = ranks
    core = rng.standard_normal((ro, 3, 3, ri))
    w = np.einsum("oa,akli,ci->okl c".replace(" ", ""), rng.standard_normal((16, ro)), core,
                  rng.standard_normal((12, ri)))
    func = Func("main", [tensor((1, 9, 9, 12), f32)], ["x"])
    b = Builder(func)
    y = b.create(Conv2DOp, func.arguments[0], b.constant(w.astype(np.float32)),
                 b.constant(rng.standard_normal(16).astype(np.float32)), result_names=["y"],
                 strides=(stride, stride), pads=(1, 1, 1, 1), activation="relu").result
    b.ret(y)
    module = Module(func, name="tucker")
    module.verify()
    return module


@pytest.mark.parametrize("whiten,stride", [(False, 1), (True, 1), (True, 2)])
def test_tucker2_reproduces_tucker_rank_weights(whiten, stride):
    rng = np.random.default_rng(5)
    module = _tucker_conv(rng, (3, 4), stride)
    feeds = _feeds(module, rng, 12)
    want = [run(module, [f])[0] for f in feeds]
    done = lowrank_module(module, [{"x": f} for f in feeds[:8]], mode="tucker", whiten=whiten,
                          ranks={"y": 4})
    module.verify()
    assert [f.rank for f in done] == [(4, 4)]
    convs = [op for op in module.ops if op.name == "nn.conv2d"]
    assert [op.operands[1].type.shape for op in convs] == [(4, 1, 1, 12), (4, 3, 3, 4), (16, 1, 1, 4)]
    for f, w in zip(feeds, want):
        np.testing.assert_allclose(run(module, [f])[0], w, rtol=1e-3, atol=1e-3)


def test_tucker2_data_aware_beats_plain_and_needs_savings():
    rng = np.random.default_rng(6)
    base = _tucker_conv(rng, (12, 16))  # full rank: the truncation error is what is compared
    calib = _feeds(base, np.random.default_rng(7), 48)
    test = _feeds(base, np.random.default_rng(7), 72)[48:]
    want = [run(base, [f])[0] for f in test]
    errors = {}
    for whiten in (False, True):
        m = clone_module(base)[0]
        lowrank_module(m, [{"x": f} for f in calib], mode="tucker", whiten=whiten, ranks={"y": 5})
        errors[whiten] = sum(float(((run(m, [f])[0] - w) ** 2).sum()) for f, w in zip(test, want))
    assert errors[True] < 0.9 * errors[False], errors
    # ratio 0.3: ranks (5, 7) keep 487 of 1,728 weights (the ranks keep Cin : Cout) and 28 % of the MACs
    m = clone_module(base)[0]
    (f,) = lowrank_module(m, [{"x": x} for x in calib], mode="tucker", ratio=0.3, min_rank=1)
    assert f.after[0] <= 0.3 * f.before[0] and f.after[1] < f.before[1]


def test_options_and_errors(tmp_path):
    rng = np.random.default_rng(3)
    m = _one_layer("fc", rng, 20)
    with pytest.raises(EdgeccError, match="needs calibration data"):
        PassManager.parse("lowrank").run(clone_module(m)[0])
    with pytest.raises(EdgeccError, match="no factorisable layer named 'nope'"):
        PassManager.parse("lowrank{whiten=false keep=[nope]}").run(clone_module(m)[0])
    with pytest.raises(EdgeccError, match="LAYER:RANK"):
        PassManager.parse("lowrank{whiten=false ranks=[y:0]}").run(clone_module(m)[0])
    pm = PassManager.parse("lowrank{whiten=false ratio=0.3}")
    pm.run(m)  # [20, 24]: rank r costs 44 r <= 0.3 * 480 -> r = 3, below min-rank 8: left alone
    assert pm.ctx.stats["lowrank.layers-factorised"] == 0
    pm = PassManager.parse("lowrank{whiten=false ratio=0.3 min-rank=2}")
    pm.run(m)
    assert pm.ctx.stats["lowrank.layers-factorised"] == 1 and pm.ctx.stats["lowrank.params-after"] < 480


# ------------------------------------------------------------------ ad01
def spectrogram_frames(n: int, seed: int) -> np.ndarray:
    """Synthetic ad01 inputs [n, 1, 640]: 5 frames of 128 log-mel-like bins."""
    rng = np.random.default_rng(seed)
    walk = np.cumsum(rng.standard_normal((n, 128)) * 0.3, axis=1)
    k = np.exp(-0.5 * (np.arange(-8, 9) / 3.0) ** 2)
    env = np.stack([np.convolve(r, k / k.sum(), mode="same") for r in walk])[:, None, :]
    frames = env + 0.3 * rng.standard_normal((n, 5, 1)) + 0.2 * rng.standard_normal((n, 5, 128))
    return frames.reshape(n, 1, 640).astype(np.float32)


@pytest.fixture(scope="module")
def ad01():
    from edgecc.frontend import import_onnx

    shared_models = Path(__file__).resolve().parents[2].parent / "shared" / "models" / "mlperf_tiny"
    if not (shared_models / "ad01_fp32.onnx").is_file():
        pytest.skip("../shared/models/mlperf_tiny is not present")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the dynamic batch dimension
        base = import_onnx(shared_models / "ad01_fp32.onnx")
    name = base.func.arguments[0].name_hint
    calib = [{name: x} for x in spectrogram_frames(64, 0)]
    test = spectrogram_frames(24, 1)
    want = np.stack([run(base, [x])[0] for x in test])
    models, sqnr = {}, {}
    for whiten in (True, False):
        m = clone_module(base)[0]
        lowrank_module(m, calib, whiten=whiten, ratio=0.45)
        got = np.stack([run(m, [x])[0] for x in test])
        models[whiten] = m
        sqnr[whiten] = 10 * np.log10((want ** 2).sum() / ((want - got) ** 2).sum())
    return base, models, sqnr, calib, test


def _int8(module, calib):
    from edgecc.quant.ptq import QuantizeConfig, quantize_module

    m = clone_module(module)[0]
    quantize_module(m, QuantizeConfig(scheme="int8", io="int"), calib[:64])
    return m


def _int8_sqnr(qm, base, test):
    name = qm.func.arguments[0].name_hint
    s = qm.func.outputs[0].type.element
    want = np.stack([run(base, [x])[0] for x in test])
    got = np.stack([(run(qm, quantized_feeds(qm, {name: x}))[0].astype(np.float64) - s.zero_points[0])
                    * s.scales[0] for x in test])
    return 10 * np.log10((want ** 2).sum() / ((want - got) ** 2).sum())


def test_ad01_half_the_weight_bytes_data_aware_beats_plain(ad01, record_property):
    base, models, sqnr, calib, test = ad01
    q0, q1 = _int8(base, calib), _int8(models[True], calib)
    b0, b1 = module_stats(q0).param_bytes, module_stats(q1).param_bytes
    int8_db = (_int8_sqnr(q0, base, test), _int8_sqnr(q1, base, test))
    record_property("ad01 int8 weight bytes", f"{b0} -> {b1}")
    record_property("ad01 float output SQNR (dB)", f"data-aware {sqnr[True]:.1f}, plain {sqnr[False]:.1f}")
    record_property("ad01 int8 output SQNR (dB)", f"original {int8_db[0]:.1f}, data-aware {int8_db[1]:.1f}")
    assert b1 * 2 <= b0, (b0, b1)
    assert module_stats(models[True]).total_macs * 2 <= module_stats(base).total_macs
    assert sqnr[True] > sqnr[False] + 20, sqnr  # measured: about 43 dB against 8 dB
    assert sqnr[True] > 35
    assert int8_db[1] > int8_db[0] - 3, int8_db  # the factors quantize as well as the original layers


def test_ad01_factorised_int8_is_bit_exact_in_tflm_and_c(ad01, runtime_lib, tmp_path):
    from edgecc.backends.c.verify import verify

    _, models, _, calib, test = ad01
    m = _int8(models[True], calib)
    name = m.func.arguments[0].name_hint
    samples = [[quantized_feeds(m, {name: x})[name]] for x in test[:3]]
    r = verify(m, samples=samples, runtime_lib=runtime_lib, workdir=tmp_path)
    assert r.passed, [vars(c) for c in r.outputs]
    tflite = pytest.importorskip("edgecc.backends.tflite")
    tv = pytest.importorskip("edgecc.backends.tflite.verify")
    pytest.importorskip("tflite_micro")
    data = tflite.to_bytes(m)
    it = tv.tflm_interpreter(data)
    for s in samples:
        ours = run(m, s)[0]
        theirs = tv.run_tflm(data, s, interpreter=it)[0]
        np.testing.assert_array_equal(ours, theirs.reshape(ours.shape))
