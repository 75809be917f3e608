"""Vela (ethos-u-vela) accepts edgecc's int8 .tflite files for Ethos-U55-128.

The summary's NPU/CPU operator counts (Vela's own operator count after its
graph lowering) are printed; run with ``-s`` to see them.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from edgecc.backends import tflite
from edgecc.backends.tflite import verify as V

INT8 = ["ad01_int8", "kws_ref_model", "pretrainedResnet_quant", "vww_96_int8"]


def _vela_available() -> bool:
    return Path(sys.executable).with_name("vela").exists() or shutil.which("vela") is not None


pytestmark = pytest.mark.skipif(not _vela_available(), reason="vela (ethos-u-vela) is not installed")


@pytest.mark.parametrize("name", INT8)
def test_vela_accepts_round_tripped_mlperf_int8(shared_models, name):
    path = shared_models / f"{name}.tflite"
    ours = V.run_vela(tflite.to_bytes(tflite.read_tflite(path)))
    orig = V.run_vela(path)
    print(f"\n{name}: Vela ethos-u55-128 NPU operators {ours['npu_ops']}, CPU operators {ours['cpu_ops']} "
          f"(converter's file: {orig['npu_ops']} / {orig['cpu_ops']})")
    assert ours["npu_ops"] > 0 and ours["cpu_ops"] == 0
    assert (ours["npu_ops"], ours["cpu_ops"]) == (orig["npu_ops"], orig["cpu_ops"])
    assert ours["output"] is not None and ours["output"][4:8] == b"TFL3"
    assert set(ours["output_ops"]) == {"ethos-u"}  # every TFLite operator went to the NPU


def test_vela_accepts_a_quantized_edgecc_model():
    from edgecc import examples
    from edgecc.frontend import import_onnx

    try:
        from edgecc.quant.ptq import QuantizeConfig, quantize_module
    except ImportError as e:
        pytest.skip(f"the quantize pass is not available: {e}")
    import numpy as np

    module = import_onnx(str(examples.path()))
    calib = np.load(examples.path("kws_calib.npz"))["input"]
    quantize_module(module, QuantizeConfig(scheme="int8", io="int"), [{"input": x[None]} for x in calib])
    res = V.run_vela(tflite.to_bytes(module, variant="int8"))
    print(f"\nkws example (int8): Vela NPU operators {res['npu_ops']}, CPU operators {res['cpu_ops']}")
    assert res["npu_ops"] > 0 and res["cpu_ops"] == 0
