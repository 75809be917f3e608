"""Acceptance: structured pruning of a DS-CNN-style model trained here on synthetic keywords.

The channels of the first conv flow through the first depthwise conv into
the first pointwise conv (one group), those of each pointwise conv through
the next depthwise conv or the mean into the next consumer. ``prune{ratio=
0.5 multiple=4}`` + reconstruction, no fine-tuning, then int8: >= 50 % fewer
weight bytes, >= 40 % fewer MACs, at most one point of top-1 lost against
the unpruned int8 model on 400 held-out samples; bit-exact in C.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from edgecc.analysis.stats import module_stats
from edgecc.frontend import import_onnx
from edgecc.passes import PassManager
from edgecc.quant.graph import clone_module
from edgecc.quant.report import quantization_report, quantized_feeds

pytest.importorskip("threadpoolctl")
_spec = importlib.util.spec_from_file_location("edgecc_tests_dscnn", Path(__file__).with_name("dscnn.py"))
D = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(D)


@pytest.mark.slow
def test_dscnn_half_the_bytes_and_macs_at_most_one_point_lost(runtime_lib, tmp_path):
    from edgecc.backends.c.verify import verify
    from threadpoolctl import threadpool_limits

    params, train, test = D.train()
    calib = {"x": D.nchw(train[0][:128])}
    evaluation = {"x": D.nchw(test[0]), "y": test[1]}
    base = import_onnx(D.export_onnx(params))
    pruned = clone_module(base)[0]
    with threadpool_limits(1):
        PassManager.parse("prune{ratio=0.5 multiple=4}", options={"calibration": calib}).run(pruned)
    widths = [op.results[0].type.shape[-1] for op in pruned.ops
              if op.name in ("nn.conv2d", "nn.depthwise_conv2d", "nn.fully_connected")]
    assert widths == [16, 16, 16, 16, 16, 8]
    quantized = []
    for m in (base, pruned):
        q = clone_module(m)[0]
        PassManager.parse("quantize{scheme=int8 io=int}", options={"calibration": calib}).run(q)
        quantized.append(q)
    s0, s1 = (module_stats(q) for q in quantized)
    assert s1.param_bytes <= 0.5 * s0.param_bytes and s1.total_macs <= 0.6 * s0.total_macs
    acc0, acc1 = (quantization_report(m, calibration=calib, evaluation=evaluation).accuracy.quant_accuracy
                  for m in (base, pruned))
    assert acc0 > 0.85
    assert acc1 >= acc0 - 0.01, (acc0, acc1)
    samples = [[quantized_feeds(quantized[1], {"x": evaluation["x"][i][None]})["x"]] for i in range(3)]
    r = verify(quantized[1], samples=samples, runtime_lib=runtime_lib, workdir=tmp_path)
    assert r.passed
