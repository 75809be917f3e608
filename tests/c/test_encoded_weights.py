"""Encoded weights in the C build (edgecc.backends.c.encoding): the C decoders read exactly the
layouts of edgecc.compress.encode, flash drops by the encodings' exact figure, and the encoded
build is bit-exact with the dense build and the integer reference (portable kernels, and
CMSIS-NN when EDGECC_CMSIS_NN is set)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from edgecc.backends.c.generate import build_model, emit
from edgecc.backends.c.verify import build_testbench, random_samples, reference_outputs, run_testbench
from edgecc.compress.layers import WEIGHT_OPS
from edgecc.compress.encode import (
    bitmask_size,
    encode_bitmask,
    encode_lut,
    lut_plan,
    lut_size,
    sparse_lut_size,
)
from edgecc.passes.manager import PassManager

_h = importlib.util.spec_from_file_location("edgecc_tests_c_helpers", Path(__file__).with_name("helpers.py"))
helpers = importlib.util.module_from_spec(_h)
_h.loader.exec_module(helpers)
DIGITS = helpers.load("edgecc_tests_digits", Path(__file__).parents[1] / "quant" / "test_digits_accuracy.py")

pytest.importorskip("sklearn")


# ----------------------------------------------------------------- the decoders themselves
CASES = [  # (dtype, shape, axis, kind, levels or sparsity)
    (np.int8, (5, 3, 3, 3), 0, "lut", 2),
    (np.int8, (7, 13), 0, "lut", 4),
    (np.int8, (1, 3, 3, 11), 3, "lut", 16),
    (np.int8, (3, 101), None, "lut", 200),
    (np.float32, (6, 17), 0, "lut", 3),
    (np.int8, (9, 37), None, "bitmask", 0.7),
    (np.float32, (4, 3, 3, 5), None, "bitmask", 0.5),
    (np.int8, (1, 1), None, "bitmask", 1.0),
    (np.int8, (6, 3, 3, 7), 0, "sparse_lut", 3),
    (np.int8, (1, 3, 3, 13), 3, "sparse_lut", 16),
    (np.float32, (5, 11), 0, "sparse_lut", 2),
    (np.int8, (3, 50), None, "sparse_lut", 150),
]


def _case(dtype, shape, axis, kind, p, rng):
    if kind == "bitmask":
        a = rng.integers(-127, 128, shape).astype(dtype)
        a[rng.random(shape) < p] = 0
        return a, encode_bitmask(a)
    channels = shape[axis] if axis is not None else 1
    books = rng.integers(-127, 128, (channels, p)).astype(dtype)
    flat = np.empty(int(np.prod(shape)), dtype=dtype)
    inner = int(np.prod(shape[axis + 1 :])) if axis is not None else flat.size
    for i in range(flat.size):
        flat[i] = books[(i // inner) % channels, rng.integers(p)]
    a = flat.reshape(shape)
    if kind == "sparse_lut":
        a[rng.random(shape) < 0.5] = 0
    return a, encode_lut(a, axis, sparse=kind == "sparse_lut")


def test_c_decoders_read_the_python_layouts(gcc, tmp_path):
    from edgecc.backends.c.emitter import c_ints
    from edgecc.backends.c.generate import copy_runtime

    rng = np.random.default_rng(0)
    copy_runtime(tmp_path)
    body, expected = [], b""
    for k, case in enumerate(CASES):
        a, enc = _case(*case, rng)
        data = ", ".join(c_ints(enc.data, "uint8_t"))
        body.append(
            f"    {{ static const uint8_t src[{enc.nbytes}] = {{{data}}}; static uint8_t dst[{a.nbytes}];"
        )
        if enc.kind == "bitmask":
            body.append(f"      edgecc_decode_bitmask(src, {enc.count}u, {enc.elem_size}u, dst);")
        else:
            body.append(
                f"      static const edgecc_lut_params_t p = {{{enc.count}u, {enc.elem_size}u, "
                f"{enc.channels}u, {enc.inner}u, {enc.levels}u, {enc.bits}u}};\n"
                f"      edgecc_decode_{enc.kind}(&p, src, dst);"
            )
        body.append("      fwrite(dst, 1, sizeof dst, stdout); }")
        expected += a.tobytes()
        nnz = int(np.count_nonzero(a))
        if enc.kind == "bitmask":
            size = bitmask_size(a.size, nnz, a.itemsize)
        else:
            c, _, levels, bits = lut_plan(a, case[2], nonzero=enc.kind == "sparse_lut")
            assert (c, levels, bits) == (enc.channels, enc.levels, enc.bits)
            size = (
                lut_size(a.size, c, levels, bits, a.itemsize)
                if enc.kind == "lut"
                else sparse_lut_size(a.size, nnz, c, levels, bits, a.itemsize)
            )
        assert enc.nbytes == size, case
    src = tmp_path / "main.c"
    src.write_text(
        '#include <stdio.h>\n#include "edgecc/kernels.h"\nint main(void)\n{\n'
        + "\n".join(body)
        + "\n    return 0;\n}\n"
    )
    exe = tmp_path / "decode"
    subprocess.run(
        [
            gcc,
            "-std=c99",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-I",
            str(tmp_path / "edgecc" / "include"),
            str(src),
            str(tmp_path / "edgecc" / "src" / "decode.c"),
            "-o",
            str(exe),
        ],
        check=True,
    )
    assert subprocess.run([str(exe)], capture_output=True, check=True).stdout == expected


# ----------------------------------------------------------------- models
@pytest.fixture(scope="module")
def digits():
    params, train, test = DIGITS.train_digits()
    return params, train, test


def _compressed(digits, pipeline: str, scheme: str | None = "int8"):
    from edgecc.frontend import import_onnx
    from edgecc.quant.ptq import QuantizeConfig, quantize_module

    params, train, test = digits
    module = import_onnx(DIGITS.export_onnx(params))
    calib = {"x": train[0][:64, None]}
    PassManager.parse(pipeline, options={"calibration": calib}).run(module)
    if scheme:
        quantize_module(module, QuantizeConfig(scheme=scheme), calib)
    return module


def _expected_saving(module, report) -> int:
    """Flash the encodings must save, from the int8 weights alone (formulas of the docs)."""
    total = 0
    for lay in report["layers"]:
        enc = lay["weight_encoding"]
        if not enc:
            continue
        ws = [
            np.asarray(o.operands[1].defining_op().attr("value").array)
            for o in module.func.body
            if o.name in WEIGHT_OPS
        ]
        (w,) = [w for w in ws if w.nbytes == enc["dense_bytes"]]  # the digits layers differ in size
        n, es = w.size, w.dtype.itemsize
        nnz = int(np.count_nonzero(w))
        if enc["kind"] == "bitmask":
            stored = -(-n // 8) + nnz * es
        elif enc["kind"] == "lut":
            stored = enc["codebooks"] * enc["levels"] * es + -(-n * enc["bits"] // 8) + 24
        else:  # mask, codebooks of the nonzeros, an index per nonzero, parameters
            stored = -(-n // 8) + enc["codebooks"] * enc["levels"] * es + -(-nnz * enc["bits"] // 8) + 24
        total += n * es - stored
    return total


def _run(module, out: Path, target: str, weights: str, samples, cmsis=None):
    emit(module, out, target=target, weights=weights)
    exe = build_testbench(out, cmsis_nn=cmsis)
    return run_testbench(exe, module, samples)


PIPELINES = {
    "sparse": "sparsify{sparsity=0.6 method=sparsegpt}",
    "clustered": "cluster{levels=4}",
    "sparse-clustered": "sparsify{pattern=2:4 method=activation},cluster{levels=16}",
}


@pytest.mark.parametrize("name", sorted(PIPELINES))
def test_encoded_build_saves_the_exact_figure_and_stays_bit_exact(digits, name, tmp_path):
    module = _compressed(digits, PIPELINES[name])
    dense = build_model(module, weights="dense").report
    enc = build_model(module, weights="encoded").report
    by_macs = {lay["macs"]: lay["weight_encoding"] for lay in enc["layers"] if lay["macs"]}
    assert by_macs[1280] is not None  # the fc (1,280 weights) shrinks; the 72-weight conv only when
    if name == "clustered":  # its codebooks and parameters cost less than 72 B: not with 4 levels
        assert by_macs[64 * 72] is None
    saved = _expected_saving(module, enc)
    assert saved > 0 and saved == enc["weight_encoding"]["saved_bytes"]
    assert dense["flash_data_bytes"] - enc["flash_data_bytes"] == saved
    assert (
        by_macs[1280]["kind"]
        == {"sparse": "bitmask", "clustered": "lut", "sparse-clustered": "sparse_lut"}[name]
    )
    samples = random_samples(module, 4, seed=1)
    got_dense = _run(module, tmp_path / "dense", "generic", "dense", samples)
    got_enc = _run(module, tmp_path / "enc", "generic", "encoded", samples)
    want = reference_outputs(module, samples)
    for d, e, w in zip(got_dense, got_enc, want):
        assert np.array_equal(d[0], e[0]) and np.array_equal(e[0], w[0])


def test_auto_encodes_only_within_the_arena_or_budget(digits):
    module = _compressed(digits, PIPELINES["sparse-clustered"])
    dense = build_model(module, weights="dense").report
    auto = build_model(module, weights="auto").report
    assert auto["arena_bytes"] <= dense["arena_bytes"]
    enc = build_model(module, weights="encoded").report
    assert enc["arena_bytes"] > dense["arena_bytes"]  # decoding the fc (1,280 B) into scratch costs RAM
    budget = build_model(module, weights="auto", ram_budget=enc["arena_bytes"]).report
    assert budget["weight_encoding"]["layers"] == 2 and budget["arena_bytes"] <= enc["arena_bytes"]


def test_dense_weights_are_never_encoded(digits):
    module = _compressed(digits, "canonicalize")
    r = build_model(module, weights="auto").report
    assert r["weight_encoding"]["layers"] == 0


def test_float_model_stores_8_bit_indices_to_float_codebooks(digits, tmp_path):
    module = _compressed(digits, "cluster{levels=256 per-channel=false}", scheme=None)
    dense = build_model(module, weights="dense").report
    enc = build_model(module, weights="encoded").report
    fc = next(
        lay["weight_encoding"] for lay in enc["layers"] if lay["weight_encoding"] and lay["macs"] == 1280
    )
    assert fc["kind"] == "lut" and fc["bits"] == 8
    assert (
        dense["flash_data_bytes"] - enc["flash_data_bytes"] == _expected_saving(module, enc) > 3 * 1280 // 2
    )
    samples = random_samples(module, 3, seed=2)
    a = _run(module, tmp_path / "dense", "generic", "dense", samples)
    b = _run(module, tmp_path / "enc", "generic", "encoded", samples)
    assert all(np.array_equal(x[0], y[0]) for x, y in zip(a, b))


@pytest.mark.parametrize("memory", ["speed", "auto"])
def test_cmsis_nn_reads_decoded_weights_bit_exact(digits, memory, tmp_path):
    if not os.environ.get("EDGECC_CMSIS_NN"):
        pytest.skip("EDGECC_CMSIS_NN is not set: the CMSIS-NN build cannot be checked on the host")
    module = _compressed(digits, PIPELINES["sparse-clustered"])
    r = build_model(module, target="cortex-m4", weights="encoded", memory=memory).report
    assert "cmsis-nn" in r["libraries"] and r["weight_encoding"]["layers"] >= 1
    samples = random_samples(module, 4, seed=3)
    emit(module, tmp_path, target="cortex-m4", weights="encoded", memory=memory)
    got = run_testbench(
        build_testbench(tmp_path, cmsis_nn=Path(os.environ["EDGECC_CMSIS_NN"])), module, samples
    )
    want = reference_outputs(module, samples)
    assert all(np.array_equal(g[0], w[0]) for g, w in zip(got, want))


def test_main_command_compresses_and_encodes_the_bundled_example(tmp_path):
    """`edgecc MODEL --calib C --passes "...,sparsify{...},cluster{...}" --weights encoded`."""
    import json
    import subprocess
    import sys

    from edgecc.examples import __file__ as examples
    from edgecc.passes.registry import DEFAULT_PIPELINE

    d = Path(examples).parent
    passes = DEFAULT_PIPELINE + ",sparsify{pattern=2:4 method=sparsegpt samples=8},cluster{levels=4}"
    args = [d / "kws_dscnn.onnx", "-t", "generic", "-o", tmp_path / "out", "--calib", d / "kws_calib.npz",
            "--passes", passes, "--weights", "encoded", "-q"]
    proc = subprocess.run([sys.executable, "-m", "edgecc", *map(str, args)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    r = json.loads((tmp_path / "out" / "report.json").read_text())
    we = r["weight_encoding"]
    assert we["mode"] == "encoded" and we["layers"] >= 6
    assert we["saved_bytes"] == sum(lay["weight_encoding"]["saved_bytes"] for lay in r["layers"]
                                    if lay["weight_encoding"])
    assert r["flash_data_bytes"] < 0.6 * 32156  # the dense int8 build: 32,156 B
    assert "edgecc_decode_" in (tmp_path / "out" / "model.c").read_text()
