"""TFLM's kernel limits are enforced when the .tflite is written (backends/tflite/limits.py):
graphs beyond them are rewritten into exact forms TFLM loads, bit-exact with the reference
interpreter; the table itself is checked against the TFLM interpreter."""

from __future__ import annotations

import importlib.util
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tflite_micro", reason="the tflite_micro package (TFLM Python interpreter) is "
                                           "not installed")

from edgecc.backends import tflite  # noqa: E402
from edgecc.backends.tflite import verify as V  # noqa: E402
from edgecc.backends.tflite.limits import MAX_INPUTS, MAX_RANK, TFLM_TYPES  # noqa: E402
from edgecc.backends.tflite.schema import S, builtin_name, opcode_builtin  # noqa: E402
from edgecc.dialects import nn as N  # noqa: E402
from edgecc.interp.reference import run  # noqa: E402
from edgecc.ir.builder import Builder  # noqa: E402
from edgecc.ir.core import Func, Module  # noqa: E402
from edgecc.ir.diagnostics import EdgeccError, Location  # noqa: E402
from edgecc.ir.types import i8, i16, quant, tensor  # noqa: E402

_spec = importlib.util.spec_from_file_location(
    "edgecc_tests_frontend_models", Path(__file__).resolve().parents[1] / "frontend" / "models.py")
models = sys.modules.get(_spec.name)
if models is None:
    models = importlib.util.module_from_spec(_spec)
    sys.modules[_spec.name] = models
    _spec.loader.exec_module(models)

Q8 = quant(i8, 0.1, 3)


def _graph(shapes, make, out_shape, elem=None):
    t = (lambda s: tensor(s, elem)) if elem is not None else tensor
    f = Func("main", [t(s) for s in shapes], [f"x{i}" for i in range(len(shapes))])
    b = Builder(f, Location("the_node", "model.onnx"))
    b.ret(make(b, f.arguments, [t(out_shape)]).result)
    return Module(f)


CASES = {
    "concat_23_inputs": ([(1, 2)] * 23,
                         lambda b, a, rt: b.create(N.ConcatOp, list(a), axis=1, result_types=rt), (1, 46)),
    "pad_6d_two_dims": ([(1, 2, 3, 2, 2, 3)], lambda b, a, rt: b.create(
        N.PadOp, a[0], pads=[0, 1, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0], result_types=rt), (1, 3, 3, 4, 2, 3)),
    "pad_6d_every_dim": ([(2,) * 6], lambda b, a, rt: b.create(N.PadOp, a[0], pads=[1] * 6 + [0] * 6,
                                                                 value=0.5, result_types=rt), (3,) * 6),
    "transpose_6d": ([(1, 2, 3, 4, 5, 2)], lambda b, a, rt: b.create(
        N.TransposeOp, a[0], perm=[0, 3, 4, 1, 2, 5], result_types=rt), (1, 4, 5, 2, 3, 2)),
    "slice_5d": ([(2, 3, 4, 5, 2)], lambda b, a, rt: b.create(
        N.SliceOp, a[0], begin=[0, 1, 0, 0, 0], end=[2, 3, 4, 5, 2], result_types=rt), (2, 2, 4, 5, 2)),
}


def _builtins(data: bytes):
    m = S.ModelT.InitFromObj(S.Model.GetRootAs(data, 0))
    sg = m.subgraphs[0]
    for op in sg.operators:
        yield builtin_name(opcode_builtin(m.operatorCodes[op.opcodeIndex])), op, sg


def assert_within_limits(data: bytes) -> None:
    for name, op, sg in _builtins(data):
        assert len(op.inputs) <= MAX_INPUTS.get(name, 1 << 30), f"{name} has {len(op.inputs)} inputs"
        rank = len(sg.tensors[op.inputs[0]].shape)
        assert rank <= MAX_RANK.get(name, 1 << 30), f"{name} on a {rank}-D tensor"


def check(module, feeds_n=2, variant="auto"):
    data = tflite.to_bytes(module, variant=variant)
    assert_within_limits(data)
    it = V.tflm_interpreter(data)
    for feeds in V.random_inputs(data, feeds_n, seed=3):
        got, want = V.run_tflm(data, feeds, interpreter=it), run(module, feeds)
        V.assert_bit_exact([np.asarray(g).reshape(w.shape) for g, w in zip(got, want)], want)
    assert tflite.to_bytes(tflite.read_tflite(data), variant=variant) == data
    return data


@pytest.mark.parametrize("elem", [None, Q8], ids=["f32", "int8"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_over_the_limit_ops_are_rewritten_and_bit_exact(case, elem):
    shapes, make, out = CASES[case]
    check(_graph(shapes, make, out, elem))


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_table_is_tflm_s(case):
    """Without the rewrite TFLM refuses each case at load (so the limit is real), and one step
    inside the limit it loads."""
    from edgecc.backends.tflite.writer import Writer

    shapes, make, out = CASES[case]
    raw = Writer(_graph(shapes, make, out), "auto").build()
    with pytest.raises(Exception, match="allocate tensors"):
        V.tflm_interpreter(raw)
    name = {"concat_23_inputs": "CONCATENATION", "pad_6d_two_dims": "PAD", "pad_6d_every_dim": "PAD",
            "transpose_6d": "TRANSPOSE", "slice_5d": "STRIDED_SLICE"}[case]
    if name == "CONCATENATION":
        n = MAX_INPUTS[name]
        ok = _graph([(1, 2)] * n, lambda b, a, rt: b.create(N.ConcatOp, list(a), axis=1, result_types=rt),
                    (1, 2 * n))
    else:
        r = MAX_RANK[name]
        x = tuple(range(2, 2 + r))
        if name == "PAD":
            ok = _graph([x], lambda b, a, rt: b.create(N.PadOp, a[0], pads=[1] * r + [0] * r,
                                                       result_types=rt), tuple(d + 1 for d in x))
        elif name == "TRANSPOSE":
            ok = _graph([x], lambda b, a, rt: b.create(N.TransposeOp, a[0], perm=list(range(r))[::-1],
                                                       result_types=rt), x[::-1])
        else:
            ok = _graph([x], lambda b, a, rt: b.create(N.SliceOp, a[0], begin=[1] * r, end=list(x),
                                                       result_types=rt), tuple(d - 1 for d in x))
    data = Writer(ok, "auto").build()
    V.run_tflm(data, V.random_inputs(data, 1)[0])


def test_no_legal_form_is_a_one_line_compile_time_error():
    module = _graph([(2,) * 6], lambda b, a, rt: b.create(N.PadOp, a[0], pads=[1] * 6 + [1] * 6,
                                                           mode="reflect", result_types=rt), (4,) * 6)
    with pytest.raises(EdgeccError) as info:
        tflite.to_bytes(module)
    text = info.value.format()
    assert "'nn.pad' on a 6-D tensor has no form within TFLM's 5-D PAD" in text and "the_node" in text
    assert "\n" not in text.strip()


def _int8(model):
    from edgecc.frontend import import_onnx
    from edgecc.quant.ptq import QuantizeConfig, quantize_module

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module = import_onnx(model)
    models.assert_matches_onnxruntime(model, module)
    calib = [{a.name_hint: x for a, x in zip(module.func.arguments, models.random_feeds(module, seed=s))}
             for s in range(4)]
    over = [op.name for op in module.ops if op.name in ("nn.concat", "nn.pad", "nn.transpose")
            and (len(op.operands) > 10 or op.operands[0].type.rank > 5)]
    quantize_module(module, QuantizeConfig(scheme="int8", io="int"), calib)
    return module, over


@pytest.mark.parametrize("name, build", [
    ("gru_12_steps", lambda: models.gru_model(17, "forward", seq=12)),
    ("lstm_12_steps", lambda: models.lstm_model(17, "forward", seq=12)),
    ("tiny_unet", lambda: models.tiny_unet(17)),
])
def test_models_beyond_the_limits_run_in_tflm_bit_exact(name, build):
    """Unrolled recurrent models (a CONCATENATION of 12 steps) and a U-Net (ConvTranspose, Resize,
    Concat, a pixel shuffle through a 6-D transpose, a pad on a 5-D view): int8 in TFLM."""
    module, over = _int8(build())
    assert over, "the model should need the rewrite"
    check(module, variant="int8")


Q16 = quant(i16, 0.001, 0)
#: (builtin, element, model): one model per entry of TFLM_TYPES, in a type TFLM refuses
REFUSED = {
    "EXP": (Q8, lambda b, a, rt: b.create(N.ExpOp, a[0], result_types=rt)),
    "RESIZE_BILINEAR": (Q16, lambda b, a, rt: b.create(N.ResizeOp, a[0], size=[4, 4], mode="bilinear",
                                                       result_types=rt)),
    "POW": (None, lambda b, a, rt: b.create(N.PowOp, a[0], b.constant(np.float32([2.0])), result_types=rt)),
    "LOCAL_RESPONSE_NORMALIZATION": (None, lambda b, a, rt: b.create(N.LRNOp, a[0], size=3, result_types=rt)),
}


@pytest.mark.parametrize("builtin", sorted(TFLM_TYPES))
def test_tflm_types_are_refused_when_written_for_tflm(builtin):
    """What TFLM cannot load is a one-line error at write time with runtime="tflm"."""
    elem, make = REFUSED[builtin]
    out = (1, 4, 4, 2) if builtin == "RESIZE_BILINEAR" else (1, 2, 2, 2)
    module = _graph([(1, 2, 2, 2)], make, out, elem)
    data = tflite.to_bytes(module)  # written for LiteRT
    assert builtin in {name for name, _, _ in _builtins(data)}
    with pytest.raises(RuntimeError):  # TFLM itself refuses it when loading or running
        V.run_tflm(data, V.random_inputs(data, 1)[0])
    with pytest.raises(EdgeccError, match=rf"^error: operator #0 {builtin} on \w+: .*\(tflite backend\)$"):
        tflite.to_bytes(module, runtime="tflm")
