"""Batch-1 latency runners shared by ``test_latency.py`` (pytest-benchmark) and ``compare.py``.

Each runner is built once (model loaded/compiled, feeds prepared) and
returns a zero-argument callable that runs one inference:

* ``edgecc``: ``edgecc.runtime.Session`` (Numba backend, one thread);
* ``onnxruntime``: ``InferenceSession`` with ``intra_op_num_threads=1`` and
  ``inter_op_num_threads=1``, sequential execution, CPU provider;
* ``litert``: ``ai_edge_litert`` ``Interpreter(num_threads=1)``.

``ROWS`` lists (label, precision, onnx file, tflite file): the four MLPerf
Tiny models (float and int8) from ``../shared/models/mlperf_tiny`` and the
bundled example. For int8 rows edgecc runs the int8 .tflite (integer
kernels), onnxruntime the QDQ .onnx, LiteRT the int8 .tflite.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
MLPERF = REPO.parent / "shared" / "models" / "mlperf_tiny"
EXAMPLE = REPO / "compiler" / "examples" / "kws_dscnn.onnx"

#: (label, precision, onnx path, tflite path or None)
ROWS = [
    ("ad01 (anomaly, FC)", "float32", MLPERF / "ad01_fp32.onnx", MLPERF / "ad01_fp32.tflite"),
    ("kws (DS-CNN)", "float32", MLPERF / "kws_ref_model_float32.onnx",
     MLPERF / "kws_ref_model_float32.tflite"),
    ("resnet (CIFAR-10)", "float32", MLPERF / "pretrainedResnet.onnx", MLPERF / "pretrainedResnet.tflite"),
    ("vww (MobileNet 96)", "float32", MLPERF / "vww_96_float.onnx", MLPERF / "vww_96_float.tflite"),
    ("example kws_dscnn", "float32", EXAMPLE, None),
    ("ad01 (anomaly, FC)", "int8", MLPERF / "ad01_int8_qdq.onnx", MLPERF / "ad01_int8.tflite"),
    ("kws (DS-CNN)", "int8", MLPERF / "kws_ref_model_qdq.onnx", MLPERF / "kws_ref_model.tflite"),
    ("resnet (CIFAR-10)", "int8", MLPERF / "pretrainedResnet_quant_qdq.onnx",
     MLPERF / "pretrainedResnet_quant.tflite"),
    ("vww (MobileNet 96)", "int8", MLPERF / "vww_96_int8_qdq.onnx", MLPERF / "vww_96_int8.tflite"),
]
RUNTIMES = ("edgecc", "onnxruntime", "litert")


def _feed(shape, dtype, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    if dt.kind == "f":
        return rng.standard_normal(shape).astype(dt)
    return rng.integers(-128, 128, shape).astype(dt)


def edgecc_runner(precision: str, onnx_path: Path, tflite_path: Path | None) -> Callable[[], object]:
    from edgecc.runtime import Session

    src = onnx_path if precision == "float32" else tflite_path
    if src is None or not Path(src).exists():
        raise FileNotFoundError(src)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sess = Session(src)
    arg = sess.get_inputs()[0]
    feeds = {arg.name: _feed(arg.shape, arg.type)}
    return lambda: sess.run(None, feeds)


def onnxruntime_runner(precision: str, onnx_path: Path, tflite_path: Path | None) -> Callable[[], object]:
    import onnxruntime as ort

    if not Path(onnx_path).exists():
        raise FileNotFoundError(onnx_path)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.log_severity_level = 3
    sess = ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])
    arg = sess.get_inputs()[0]
    shape = [d if isinstance(d, int) else 1 for d in arg.shape]
    dtype = {"tensor(float)": np.float32, "tensor(int8)": np.int8, "tensor(uint8)": np.uint8}[arg.type]
    feeds = {arg.name: _feed(shape, dtype)}
    return lambda: sess.run(None, feeds)


def litert_runner(precision: str, onnx_path: Path, tflite_path: Path | None) -> Callable[[], object]:
    from ai_edge_litert.interpreter import Interpreter

    if tflite_path is None or not Path(tflite_path).exists():
        raise FileNotFoundError(tflite_path)
    it = Interpreter(model_path=str(tflite_path), num_threads=1)
    it.allocate_tensors()
    inp = it.get_input_details()[0]
    out = it.get_output_details()[0]
    it.set_tensor(inp["index"], _feed(inp["shape"], inp["dtype"]))

    def run():
        it.invoke()
        return it.get_tensor(out["index"])

    return run


RUNNERS = {"edgecc": edgecc_runner, "onnxruntime": onnxruntime_runner, "litert": litert_runner}


def build(runtime: str, precision: str, onnx_path: Path, tflite_path: Path | None) -> Callable[[], object]:
    return RUNNERS[runtime](precision, onnx_path, tflite_path)


def measure(fn: Callable[[], object], runs: int = 200, warmup: int = 20, repeats: int = 5) -> float:
    """Median latency in seconds: the lowest median of ``repeats`` blocks of ``runs`` calls (noise-robust
    on a shared machine)."""
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(repeats):
        t = np.empty(runs)
        for i in range(runs):
            t0 = time.perf_counter()
            fn()
            t[i] = time.perf_counter() - t0
        best = min(best, float(np.median(t)))
    return best
