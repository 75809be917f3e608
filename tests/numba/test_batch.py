"""Batches through one compiled program: ``edgecc.frontend.batch`` and ``Session`` with a batch feed.

A batch-1 model from any source runs N samples in one program call, bitwise equal to N calls of
batch 1 (float and int8); models whose ops mix the batch axis are refused with the op and reason,
and the session runs them once per sample.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("numba")
pytest.importorskip("onnx")

from edgecc.frontend import import_onnx  # noqa: E402
from edgecc.frontend.batch import BatchFoldError, batch_module  # noqa: E402
from edgecc.ir.text.parser import parse_module  # noqa: E402
from edgecc.runtime import Session  # noqa: E402
from edgecc.runtime import session as session_module  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "compiler" / "examples" / "kws_dscnn.onnx"
sys.path.insert(0, str(REPO / "tests" / "c"))
import helpers  # noqa: E402

models = helpers.load_test_models()


def _per_sample(sess: Session, name: str, x: np.ndarray) -> list[np.ndarray]:
    runs = [sess.run(None, {name: x[i:i + 1]}) for i in range(len(x))]
    return [np.concatenate([r[k] for r in runs]) for k in range(len(runs[0]))]


def _assert_batch_is_per_sample(sess: Session, x: np.ndarray) -> None:
    name = sess.get_inputs()[0].name
    got = sess.run(None, {name: x})
    assert sess.batch_fallback is None
    for y, want in zip(got, _per_sample(sess, name, x)):
        assert y.shape[0] == len(x)
        np.testing.assert_array_equal(y, want)


def test_float_batch_is_bitwise_per_sample_from_a_module_source():
    sess = Session(import_onnx(EXAMPLE))  # an IR Module: no ONNX re-import to fall back on
    x = np.random.default_rng(0).standard_normal((5, 1, 49, 10)).astype(np.float32)
    _assert_batch_is_per_sample(sess, x)
    host = sess._hosts[((5, 1, 49, 10),)]
    assert host.inputs[0].shape == (5, 1, 49, 10) and host.program_stats[1] == 0  # one program, no Python steps


def test_int8_batch_is_bitwise_per_sample(tmp_path):
    import onnx

    path = tmp_path / "qdq.onnx"
    onnx.save(models.qdq_model(), path)
    sess = Session(path)
    arg = sess.get_inputs()[0]
    x = np.random.default_rng(1).integers(-128, 128, (6, *arg.shape[1:])).astype(np.int8)
    _assert_batch_is_per_sample(sess, x)


def test_large_batches_run_in_chunks(monkeypatch):
    monkeypatch.setattr(session_module, "BATCH_CHUNK", 3)
    sess = Session(EXAMPLE)
    x = np.random.default_rng(2).standard_normal((7, 1, 49, 10)).astype(np.float32)
    _assert_batch_is_per_sample(sess, x)
    assert {k[0][0] for k in sess._hosts} == {1, 3}  # chunks 3, 3, 1: batch 1 is the model itself


def test_a_model_mixing_the_batch_axis_runs_per_sample_and_says_why(tmp_path):
    import onnx

    g = models.G("mix", 17)
    y = g.node("Transpose", [g.input("x", [1, 4, 3])], perm=[1, 0, 2])
    g.node("Relu", [y], outputs=["y"])
    g.output("y")
    path = tmp_path / "mix.onnx"
    onnx.save(g.model(), path)
    sess = Session(path)
    x = np.random.default_rng(3).standard_normal((3, 4, 3)).astype(np.float32)
    (got,) = sess.run(None, {"x": x})
    assert "batch axis" in sess.batch_fallback  # (the transpose of a size-1 axis is canonicalised to a reshape)
    np.testing.assert_array_equal(got, np.concatenate([np.maximum(x[i:i + 1].transpose(1, 0, 2), 0)
                                                       for i in range(3)]))


HEADER = "module @m {\n  func.func @main(%x: tensor<1x4x6xf32>) -> (RESULT) {\n"


@pytest.mark.parametrize("body, result, reason", [
    ('%y = nn.reshape(%x) {shape = [4, 6]} : (tensor<1x4x6xf32>) -> tensor<4x6xf32>', "tensor<4x6xf32>",
     "'nn.reshape' to \\[4, 6\\] merges or drops the batch axis"),
    ('%y = nn.softmax(%x) {axis = 0} : (tensor<1x4x6xf32>) -> tensor<1x4x6xf32>', "tensor<1x4x6xf32>",
     "'nn.softmax' works along the batch axis"),
    ('%y = nn.mean(%x) {axes = [0, 1], keepdims = true} : (tensor<1x4x6xf32>) -> tensor<1x1x6xf32>',
     "tensor<1x1x6xf32>", "'nn.mean' reduces over the batch axis"),
])
def test_batch_fold_refuses_ops_that_mix_samples(body, result, reason):
    text = HEADER.replace("RESULT", result) + f"    {body}\n    func.return(%y) : ({result}) -> ()\n  }}\n}}\n"
    with pytest.raises(BatchFoldError, match=reason):
        batch_module(parse_module(text), 8)


def test_batch_fold_rewrites_shapes_and_attributes():
    text = HEADER.replace("RESULT", "tensor<1x2x6xf32>") + (
        '    %r = nn.reshape(%x) {shape = [1, 24]} : (tensor<1x4x6xf32>) -> tensor<1x24xf32>\n'
        '    %b = nn.reshape(%r) {shape = [1, 4, 6]} : (tensor<1x24xf32>) -> tensor<1x4x6xf32>\n'
        '    %y = nn.slice(%b) {begin = [0, 1, 0], end = [1, 3, 6]} : (tensor<1x4x6xf32>) -> tensor<1x2x6xf32>\n'
        '    func.return(%y) : (tensor<1x2x6xf32>) -> ()\n  }\n}\n')
    module = parse_module(text)
    out = batch_module(module, 8)
    assert [a.type.shape for a in out.func.arguments] == [(8, 4, 6)]
    assert [v.type.shape for v in out.func.outputs] == [(8, 2, 6)]
    assert module.func.outputs[0].type.shape == (1, 2, 6)  # the original is untouched
