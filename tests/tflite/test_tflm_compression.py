"""TFLM's weight compression (LUT + DECODE operator) on an edgecc .tflite of a clustered model.

edgecc writes dense weights into .tflite files (it does not emit DECODE operators yet); the
installed tflite-micro runs compressed models, so this checks that a model clustered by edgecc
(``cluster{levels=4}``: at most 4 int8 values per output channel) compresses with TFLM's own
compressor at 2-bit indices per channel and that TFLM runs it bit-exact with the dense file."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "c"))
import helpers  # noqa: E402

pytest.importorskip("sklearn")
pytest.importorskip("tflite_micro")


def test_tflm_runs_an_edgecc_clustered_model_lut_compressed_bit_exact():
    from edgecc.backends.tflite.verify import run_tflm
    from edgecc.backends.tflite.writer import to_bytes
    from edgecc.frontend import import_onnx
    from edgecc.passes.manager import PassManager
    from edgecc.quant.ptq import QuantizeConfig, quantize_module

    try:
        compress = importlib.import_module("tflite_micro.tensorflow.lite.micro.compression.compress")
        from tflite_micro.tensorflow.lite.micro.compression import model_editor, spec
    except ImportError:
        pytest.skip("this tflite-micro has no compression tools")
    digits = helpers.load("edgecc_tests_digits", HERE.parent / "quant" / "test_digits_accuracy.py")
    params, train, _ = digits.train_digits()
    calib = {"x": train[0][:100, None]}
    m = import_onnx(digits.export_onnx(params))
    PassManager.parse("cluster{levels=4}").run(m)
    quantize_module(m, QuantizeConfig(scheme="int8", io="int"), calib)
    dense = to_bytes(m)
    tensors = model_editor.read(dense).subgraphs[0].tensors
    specs = [
        spec.Tensor(
            subgraph=0,
            tensor=i,
            compression=[spec.LookUpTableCompression(index_bitwidth=2, mode=spec.PerChannel(axis=0))],
        )
        for i, t in enumerate(tensors)
        if t.array is not None and t.array.ndim >= 2 and t.array.dtype == np.int8
    ]
    assert len(specs) == 2  # conv and fc weights
    small = bytes(compress.compress(dense, specs))
    assert len(small) < len(dense)  # measured: 4,144 -> 3,888 B (DECODE ops and ancillary tensors cost some)
    rng = np.random.default_rng(0)
    for _ in range(5):
        x = rng.integers(-128, 128, (1, 8, 8, 1)).astype(np.int8)
        assert np.array_equal(run_tflm(dense, [x])[0], run_tflm(small, [x])[0])
