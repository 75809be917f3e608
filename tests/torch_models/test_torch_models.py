"""PyTorch-defined networks exported by ``torch.onnx`` through every backend.

Each network of ``nets.py`` is exported by both exporters (dynamo and TorchScript), with its
BatchNorms kept and folded into the convolutions, and must

* import and legalize fully (BatchNorm kept: the exporters' unoptimized graphs, with
  ``BatchNormalization`` nodes, and dynamo's Shape/Expand/CastLike) and match onnxruntime in
  float (<= 1e-5 relative to the output range);
* quantize to int8 (integer I/O) and give, as a .tflite run by TFLM, exactly edgecc's integer
  execution, while the dequantized output still tracks the float model;
* compile to C (portable kernels, and CMSIS-NN built for the host) bit-exact with that integer
  execution.

The default run covers the float matrix for TorchScript and, for three networks, dynamo (its export
is slow), and int8 / C for one variant per network (both exporters appear); ``-m slow`` runs every
other cell.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from edgecc.frontend import import_onnx
from edgecc.interp.reference import run

pytest.importorskip("torch", reason="torch (test extra) is not installed")
ort = pytest.importorskip("onnxruntime")
# each export is made once per worker: keep the module on one
pytestmark = pytest.mark.xdist_group("torch-exports")

NETS = ("mobilenet_v2", "mobilenet_v3_small", "resnet_se", "unet", "conv1d", "gru_kws", "lstm_autoencoder")
RECURRENT = ("gru_kws", "lstm_autoencoder")  # no BatchNorm: one "kept" variant per exporter
#: the variant of each network whose int8 and C cells run by default
DEFAULT = {"mobilenet_v2": ("torchscript", "kept"), "mobilenet_v3_small": ("torchscript", "folded"),
           "resnet_se": ("torchscript", "kept"), "unet": ("dynamo", "kept"), "conv1d": ("dynamo", "kept"),
           "gru_kws": ("torchscript", "kept"), "lstm_autoencoder": ("dynamo", "kept")}
#: networks exported by dynamo in the default run (its export takes 5-20 s a network; the rest is slow)
DYNAMO_DEFAULT = ("unet", "conv1d", "lstm_autoencoder")
#: networks whose default C cell also builds the CMSIS-NN flavour (cortex-m55; tests/c covers it too)
CMSIS_DEFAULT = ("conv1d",)


def _variants():
    for net in NETS:
        for exporter in ("dynamo", "torchscript"):
            for bn in ("kept",) if net in RECURRENT else ("kept", "folded"):
                yield net, exporter, bn


def _param(net, exporter, bn, default: bool):
    return pytest.param(net, exporter, bn, id=f"{net}-{exporter}-bn_{bn}",
                        marks=() if default else pytest.mark.slow)


FLOAT = [_param(*v, default=v[1] == "torchscript" or (v[0] in DYNAMO_DEFAULT and v[2] == "kept"))
         for v in _variants()]
INT8 = [_param(*v, default=DEFAULT[v[0]] == v[1:]) for v in _variants()]


def _import(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return import_onnx(path)


def _inputs(module, n, seed):
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(a.type.shape).astype(np.float32) for a in module.func.arguments]
            for _ in range(n)]


@pytest.mark.parametrize("net,exporter,bn", FLOAT)
def test_float_matches_onnxruntime(exported, net, exporter, bn):
    import onnx

    path = exported(net, exporter, bn)
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert ("BatchNormalization" in ops) == (bn == "kept" and net not in RECURRENT)
    module = _import(path)
    assert not {op.name for op in module.ops if op.name.startswith("onnx.")}
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for (x,) in _inputs(module, 2, seed=1):
        want = sess.run(None, {"x": x})[0]
        got = run(module, [x])[0]
        assert got.shape == want.shape
        err = float(np.abs(got - want).max() / np.abs(want).max())
        assert err <= 1e-5, f"relative error {err:.2e}"


_QUANTIZED: dict[tuple, tuple] = {}


def _quantized(exported, net, exporter, bn):
    """(int8 module with integer I/O, float module, calibration samples), quantized once per session."""
    from edgecc.quant.ptq import QuantizeConfig, quantize_module

    key = (net, exporter, bn)
    if key not in _QUANTIZED:
        path = exported(*key)
        module, ref = _import(path), _import(path)
        calib = _inputs(module, 8, seed=0)
        quantize_module(module, QuantizeConfig(scheme="int8", io="int"), calib)
        _QUANTIZED[key] = module, ref, calib
    return _QUANTIZED[key]


def _constant_bytes(module) -> int:
    return sum(op.result.type.nbytes for op in module.func.body if op.name == "builtin.constant")


def _quantize_input(module, x):
    q = module.func.arguments[0].type.element
    return np.clip(np.round(x / q.scale) + q.zero_point, -128, 127).astype(np.int8)


def _dequantize_output(module, y):
    q = module.func.outputs[0].type.element
    return (y.astype(np.float32) - q.zero_point) * q.scale


@pytest.mark.parametrize("net,exporter,bn", INT8)
def test_int8_tflite_in_tflm_is_bit_exact(exported, net, exporter, bn):
    pytest.importorskip("tflite_micro")
    from edgecc.backends.tflite.verify import run_tflm, tflm_interpreter
    from edgecc.backends.tflite.writer import to_bytes

    module, ref, calib = _quantized(exported, net, exporter, bn)
    assert all(not a.type.is_float for a in module.func.arguments)
    assert _constant_bytes(module) <= _constant_bytes(ref)  # each weight stored once, in fewer bits
    data = to_bytes(module)
    it = tflm_interpreter(data)
    rng = np.random.default_rng(2)
    for _ in range(2):
        x = rng.integers(-128, 128, module.func.arguments[0].type.shape).astype(np.int8)
        ours = run(module, [x])[0]
        np.testing.assert_array_equal(run_tflm(data, [x], interpreter=it)[0].reshape(ours.shape), ours)
    # quantization keeps the model: on a calibration sample the int8 output tracks the float one
    (x,) = calib[0]
    want = run(ref, [x])[0]
    got = _dequantize_output(module, run(module, [_quantize_input(module, x)])[0])
    sqnr = 10 * np.log10(np.sum(want ** 2) / np.sum((got - want) ** 2))
    assert sqnr > 15, f"int8 SQNR {sqnr:.1f} dB"


C = [pytest.param(*v, target, id=f"{v[0]}-{v[1]}-bn_{v[2]}-{target}",
                marks=() if DEFAULT[v[0]] == v[1:] and (target == "generic" or v[0] in CMSIS_DEFAULT)
                else pytest.mark.slow)
     for target in ("generic", "cortex-m55") for v in _variants()]


@pytest.mark.parametrize("net,exporter,bn,target", C)
def test_c_is_bit_exact(exported, runtime_lib, tmp_path, net, exporter, bn, target):
    """``generic`` builds the portable kernels, ``cortex-m55`` the CMSIS-NN ones, on the host."""
    from edgecc.backends.c.verify import cmsis_nn_path, verify

    if target != "generic" and cmsis_nn_path() is None:
        pytest.skip("EDGECC_CMSIS_NN does not name a CMSIS-NN checkout")
    module = _quantized(exported, net, exporter, bn)[0]
    r = verify(module, target=target, inputs=2, workdir=tmp_path,
               runtime_lib=runtime_lib if target == "generic" else None)
    assert r.passed, [vars(c) for c in r.outputs]
    assert ("cmsis-nn" in r.kernels.split(",")) == (target != "generic")
