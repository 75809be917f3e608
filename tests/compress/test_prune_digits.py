"""Acceptance: structured pruning + least-squares reconstruction of a CNN trained here on digits.

No fine-tuning: ``prune{ratio=0.5}`` on the float model, then int8 PTQ. The
pruned int8 model must hold >= 50 % fewer weight bytes and >= 40 % fewer
MACs than the unpruned int8 model and lose at most one point of top-1 on the
397 held-out images; it is an ordinary nn graph, so TFLite Micro runs its
.tflite and the emitted C (portable and CMSIS-NN) runs it bit-exactly with
the integer reference interpreter.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from edgecc.analysis.stats import module_stats
from edgecc.frontend import import_onnx
from edgecc.interp.reference import run
from edgecc.passes import PassManager
from edgecc.quant.graph import clone_module
from edgecc.quant.report import quantization_report, quantized_feeds

pytest.importorskip("sklearn")
_spec = importlib.util.spec_from_file_location("edgecc_tests_digits_cnn",
                                               Path(__file__).with_name("digits_cnn.py"))
D = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(D)


@pytest.fixture(scope="module")
def digits():
    from threadpoolctl import threadpool_limits

    params, train, test = D.train()
    calib = {"x": D.nchw(train[0][:256])}
    evaluation = {"x": D.nchw(test[0]), "y": test[1]}
    base = import_onnx(D.export_onnx(params))
    pruned = clone_module(base)[0]
    with threadpool_limits(1):
        pm = PassManager.parse("prune{ratio=0.5 multiple=4}", options={"calibration": calib})
        pm.run(pruned)
    return base, pruned, calib, evaluation, pm.ctx.stats


def _int8(module, calib):
    m = clone_module(module)[0]
    PassManager.parse("quantize{scheme=int8 io=int}", options={"calibration": {"x": calib["x"][:100]}}).run(m)
    return m


def test_half_the_bytes_and_macs_at_most_one_point_lost(digits):
    base, pruned, calib, evaluation, stats = digits
    q0, q1 = _int8(base, calib), _int8(pruned, calib)
    s0, s1 = module_stats(q0), module_stats(q1)
    assert s1.param_bytes <= 0.5 * s0.param_bytes, (s0.param_bytes, s1.param_bytes)
    assert s1.total_macs <= 0.6 * s0.total_macs, (s0.total_macs, s1.total_macs)
    acc0 = quantization_report(base, calibration={"x": calib["x"][:100]}, evaluation=evaluation).accuracy
    acc1 = quantization_report(pruned, calibration={"x": calib["x"][:100]}, evaluation=evaluation).accuracy
    assert acc0.quant_accuracy > 0.95
    assert acc1.quant_accuracy >= acc0.quant_accuracy - 0.01, (acc0.quant_accuracy, acc1.quant_accuracy)
    shapes = [op.results[0].type.shape[-1] for op in pruned.ops
              if op.name in ("nn.conv2d", "nn.fully_connected")]
    assert shapes == [8, 16, 32, 10]  # half of 16, 32, 64; the logits stay
    assert stats["prune.layers-refitted"] == 3 and stats["prune.channels-removed"] == 8 + 16 + 32


def test_reconstruction_is_what_keeps_the_accuracy(digits):
    """Slicing alone (no refit) loses clearly more than the reconstructed model."""
    base, pruned, calib, evaluation, _ = digits
    sliced = clone_module(base)[0]
    PassManager.parse("prune{ratio=0.5 multiple=4 reconstruct=false}").run(sliced)

    def acc(m):
        return np.mean([run(m, [x[None]])[0].argmax() == y for x, y in zip(evaluation["x"], evaluation["y"])])

    assert acc(pruned) >= acc(sliced) + 0.05


def test_pruned_int8_is_bit_exact_in_tflm(digits):
    tflite = pytest.importorskip("edgecc.backends.tflite")
    verify = pytest.importorskip("edgecc.backends.tflite.verify")
    pytest.importorskip("tflite_micro")
    _, pruned, calib, evaluation, _ = digits
    m = _int8(pruned, calib)
    data = tflite.to_bytes(m)
    it = verify.tflm_interpreter(data)
    for i in range(8):
        feeds = quantized_feeds(m, {"x": evaluation["x"][i][None]})
        ours = run(m, feeds)[0]
        theirs = verify.run_tflm(data, [feeds["x"]], interpreter=it)[0]
        np.testing.assert_array_equal(ours, theirs.reshape(ours.shape))


@pytest.mark.parametrize("target", ["generic", "cortex-m4"])
def test_pruned_int8_is_bit_exact_in_c(digits, target, runtime_lib, tmp_path):
    from edgecc.backends.c.verify import cmsis_nn_path, verify

    if target != "generic" and cmsis_nn_path() is None:
        pytest.skip("EDGECC_CMSIS_NN is not set")
    _, pruned, calib, evaluation, _ = digits
    m = _int8(pruned, calib)
    samples = [[quantized_feeds(m, {"x": evaluation["x"][i][None]})["x"]] for i in range(4)]
    r = verify(m, target=target, samples=samples, runtime_lib=runtime_lib, workdir=tmp_path)
    assert r.passed, [vars(c) for c in r.outputs]
