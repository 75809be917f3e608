"""TFLM's weight compression (LUT indices + ``TFLM_DECODE``) of edgecc's clustered models.

``cluster{levels=4|16}`` leaves at most 4 / 16 int8 values per output channel; the .tflite writer
then stores such weights as per-channel value tables + 2 / 4-bit indices (``backends/tflite/lut.py``)
where the file shrinks. The installed TFLM interpreter must run the file bit-exact with the dense
one; TFLM's own compressor is the cross-check of the format."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from functools import cache
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "c"))
import helpers

pytest.importorskip("sklearn")
pytest.importorskip("tflite_micro")


@cache
def _digits():
    digits = helpers.load("edgecc_tests_digits", HERE.parent / "quant" / "test_digits_accuracy.py")
    params, train, _ = digits.train_digits()
    return digits, params, {"x": train[0][:100, None]}


def clustered(levels: int):
    """The digits CNN clustered to ``levels`` per channel, int8 with integer io."""
    from edgecc.frontend import import_onnx
    from edgecc.passes.manager import PassManager
    from edgecc.quant.ptq import QuantizeConfig, quantize_module

    digits, params, calib = _digits()
    m = import_onnx(digits.export_onnx(params))
    PassManager.parse(f"cluster{{levels={levels}}}").run(m)
    quantize_module(m, QuantizeConfig(scheme="int8", io="int"), calib)
    return m


def assert_tflm_equal(a: bytes, b: bytes, n: int = 6) -> None:
    from edgecc.backends.tflite.verify import run_tflm, tflm_interpreter

    ia, ib = tflm_interpreter(a), tflm_interpreter(b)
    rng = np.random.default_rng(0)
    for _ in range(n):
        x = rng.integers(-128, 128, (1, 8, 8, 1)).astype(np.int8)
        assert np.array_equal(run_tflm(a, [x], interpreter=ia)[0], run_tflm(b, [x], interpreter=ib)[0])


@pytest.mark.parametrize("levels, bits, size", [(4, 2, 3472), (16, 4, 3904)])
def test_tflm_runs_edgecc_lut_file_bit_exact_and_smaller_by_the_encoding(levels, bits, size):
    from edgecc.backends.tflite.writer import to_bytes

    m = clustered(levels)
    report: dict = {}
    dense = to_bytes(m, compression="none")
    small = to_bytes(m, compression="lut", report=report)
    assert small == to_bytes(m, runtime="tflm", report={})  # auto is lut for TFLM: deterministic bytes
    assert to_bytes(m) == dense  # auto for LiteRT ("any") stays dense: LiteRT has no DECODE kernel
    assert report["bytes"] == [len(dense), len(small)] == [4144, size]
    fc = next(r for r in report["tensors"] if r["tensor"] == "w2")  # fc weights [10, 128]
    assert fc["stored"] == "lut" and fc["bits"] == bits and fc["tables"] == 10
    assert fc["encoded_bytes"] == 10 * 128 * bits // 8 and fc["ancillary_bytes"] == 16 + 10 * levels
    # the 72-byte conv weights stay dense: indices + tables + a DECODE cost more than they save
    assert all(r["stored"] == "dense" for r in report["tensors"] if r["tensor"] == "w1")
    assert_tflm_equal(dense, small)


def test_nothing_compressible_writes_the_dense_file_byte_identical():
    from edgecc.backends.tflite.writer import to_bytes

    m = clustered(256)  # up to 256 values per channel: no 7-bit table holds them
    report: dict = {}
    assert to_bytes(m, compression="lut", report=report) == to_bytes(m, compression="none")
    assert report["bytes"][0] == report["bytes"][1] and report["tensors"] == []


def test_auto_encodes_only_few_valued_weights_so_tflm_arena_does_not_pay_for_7_bit_tables(shared_models):
    """MLPerf ad01's unclustered fc weights shrink the file by 7,440 B at 7-bit indices, but each
    decoded tensor would sit in TFLM's arena: ``auto`` (``clustered``) keeps them dense."""
    from edgecc.backends.tflite.reader import read_tflite
    from edgecc.backends.tflite.writer import to_bytes

    m = read_tflite(shared_models / "ad01_int8.tflite")
    report: dict = {}
    dense = to_bytes(m, compression="none")
    assert to_bytes(m, runtime="tflm", report=report) == dense
    assert report["compression"] == "clustered" and all(r["stored"] == "dense" for r in report["tensors"])
    assert len(dense) - len(to_bytes(m, compression="lut")) == 7440


def test_unknown_compression_is_a_one_line_error():
    from edgecc.backends.tflite.writer import to_bytes
    from edgecc.ir.diagnostics import EdgeccError

    with pytest.raises(EdgeccError, match=r"unknown tflite compression 'zip' \(expected one of auto, "):
        to_bytes(clustered(4), compression="zip")


def test_cli_tflite_compression_flag_writes_lut_file_and_reports_it(tmp_path):
    import onnx
    from edgecc.passes.registry import DEFAULT_PIPELINE

    digits, params, calib = _digits()
    onnx.save(digits.export_onnx(params), tmp_path / "digits.onnx")
    np.savez(tmp_path / "calib.npz", **calib)
    runs = {}
    for mode in ("lut", "none"):
        out = tmp_path / mode
        proc = subprocess.run(
            [sys.executable, "-m", "edgecc", tmp_path / "digits.onnx", "-t", "cortex-m4", "-o", out,
             "--calib", tmp_path / "calib.npz", "-p", f"{DEFAULT_PIPELINE},cluster{{levels=4}}",
             "--emit", "tflite,report", "--tflite-compression", mode, "-q"],
            check=False, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr
        runs[mode] = (out / "model.tflite").read_bytes(), json.loads((out / "report.json").read_text())
    (lut, rep), (dense, rep_none) = runs["lut"], runs["none"]
    assert rep["tflite"]["bytes"] == [len(dense), len(lut)] and len(lut) < len(dense)
    assert [r["stored"] for r in rep["tflite"]["tensors"]].count("lut") == 1
    assert rep_none["tflite"]["bytes"] == [len(dense), len(dense)]
    assert "LUT" not in (tmp_path / "none" / "report.md").read_text()
    assert "| w2 | lut | 2 |" in (tmp_path / "lut" / "report.md").read_text()
    assert_tflm_equal(dense, lut, n=3)


def test_tflm_own_compressor_agrees_on_the_format():
    """Cross-check: TFLM's compressor (a test oracle) compresses the same weights; TFLM runs both."""
    from edgecc.backends.tflite.writer import to_bytes

    try:
        compress = importlib.import_module("tflite_micro.tensorflow.lite.micro.compression.compress")
        from tflite_micro.tensorflow.lite.micro.compression import model_editor, spec
    except ImportError:
        pytest.skip("this tflite-micro has no compression tools")
    m = clustered(4)
    dense = to_bytes(m, compression="none")
    tensors = model_editor.read(dense).subgraphs[0].tensors
    w2 = next(i for i, t in enumerate(tensors) if t.name == "w2")
    theirs = bytes(compress.compress(dense, [spec.Tensor(
        subgraph=0, tensor=w2,
        compression=[spec.LookUpTableCompression(index_bitwidth=2, mode=spec.PerChannel(axis=0))])]))
    ours = to_bytes(m, compression="lut")
    enc = model_editor.read(theirs).subgraphs[0]
    mine = model_editor.read(ours).subgraphs[0]

    def data(sg):
        return {t.name: bytes(t.buffer.data) for t in sg.tensors if t.buffer is not None and t.buffer.data}

    assert data(mine)["w2"] == data(enc)["w2"]  # the same packed indices
    assert data(mine)["w2_ancillary"] == data(enc)["w2_ancillary"]  # the same header and value tables
    assert_tflm_equal(theirs, ours, n=3)


def test_compress_report_says_which_layers_the_tflite_stores_lut_and_its_bytes():
    from edgecc.backends.tflite.writer import to_bytes
    from edgecc.compress.report import compression_report, report_markdown

    _, _, calib = _digits()
    before, after = clustered(256), clustered(4)  # 256 levels: nothing LUT-compressible
    r = compression_report(before, after, calibration=[{"x": x[None]} for x in calib["x"][:4]], samples=4)
    assert r["total"]["tflite_bytes"] == [len(to_bytes(before)), len(to_bytes(after, compression="lut"))]
    assert {x["layer"]: x["tflite"] for x in r["layers"]} == {"conv": "dense", "fc": "lut"}
    assert "| lut |" in report_markdown(r)


def test_reader_reads_a_lut_file_as_the_dense_model_and_refuses_bad_metadata_in_one_line():
    from edgecc.backends.tflite import read_tflite
    from edgecc.backends.tflite.reader import TFLiteReadError
    from edgecc.backends.tflite.writer import to_bytes

    m = clustered(4)
    small = to_bytes(m, compression="lut")
    back = read_tflite(small)
    assert to_bytes(back, compression="none") == to_bytes(m, compression="none")  # write -> read -> write
    assert to_bytes(back, compression="lut") == small
    header = bytes([0, 1, 0, 0, 1, 0x02, 4])  # LUT, version 1, axis 0, 2 bits, stride 4: as written
    at = small.index(header)
    bad = small[:at + 5] + bytes([0x32]) + small[at + 6:]  # axis 3: 128 tables the tensor has not
    with pytest.raises(TFLiteReadError, match=r"TFLM_DECODE output 0: LUT metadata does not fit the tensor"):
        read_tflite(bad)
