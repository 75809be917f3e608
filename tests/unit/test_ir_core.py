"""IR core: types, use lists, mutation helpers, builder, verifier."""

from __future__ import annotations

import numpy as np
import pytest

from edgecc.dialects.builtin import ConstantOp, ReturnOp
from edgecc.ir import (
    Builder,
    DenseElements,
    Func,
    Location,
    Module,
    VerifyError,
    f32,
    i4,
    i8,
    quant,
    tensor,
)
from edgecc.ir.spec import create_op


def generic(b: Builder, name: str, *operands, shape=(1, 4)):
    return b.insert(create_op(name, list(operands), [tensor(shape)], {}))


def make():
    f = Func("main", [tensor((1, 4))], ["x"])
    return Module(f), f, Builder(f)


def test_types_print_and_compare():
    assert str(tensor((1, 49, 10, 1), i8)) == "tensor<1x49x10x1xi8>"
    assert str(tensor((), f32)) == "tensor<f32>"
    q = quant(i8, 0.0235, -128)
    assert str(tensor((1, 4), q)) == "tensor<1x4x!quant.uniform<i8:f32, 0.0235:-128>>"
    per_axis = quant(i8, [0.5, 0.25], 0, axis=0, qmin=-127)
    assert str(per_axis) == "!quant.uniform<i8<-127:127>:f32:0, {0.5:0, 0.25:0}>"
    assert per_axis.kind == "qi8" and per_axis.narrow
    assert tensor((2, 3), q) == tensor((2, 3), quant(i8, 0.0235, -128))
    assert tensor((3, 3), i4).nbytes == 5  # two nibbles a byte, rounded up


@pytest.mark.parametrize("bad", [
    lambda: quant(i8, -1.0),
    lambda: quant(i8, [0.1, 0.2]),  # two scales need an axis
    lambda: quant(i8, 0.1, qmin=-200),
    lambda: tensor((-1, 2)),
])
def test_invalid_types_are_rejected(bad):
    with pytest.raises(ValueError):
        bad()


def test_use_lists_follow_mutations():
    m, f, b = make()
    x = f.arguments[0]
    a = generic(b, "onnx.Relu", x)
    c = generic(b, "onnx.Add", a.result, a.result)
    b.ret(c.result)
    assert [(u.op.name, u.index) for u in a.result.uses] == [("onnx.Add", 0), ("onnx.Add", 1)]
    assert a.result.users == [c]
    c.set_operand(1, x)
    assert len(a.result.uses) == 1 and len(x.uses) == 2
    a.result.replace_all_uses_with(x)
    assert not a.result.uses and len(x.uses) == 3
    a.erase()
    assert [op.name for op in f.ops] == ["onnx.Add", "func.return"]
    m.verify()


def test_erase_refuses_used_op_and_replace_with_values():
    m, f, b = make()
    a = generic(b, "onnx.Relu", f.arguments[0])
    b.ret(a.result)
    with pytest.raises(VerifyError, match="still used by func.return"):
        a.erase()
    a.replace_with_values([f.arguments[0]])
    assert f.outputs == (f.arguments[0],)


def test_insert_before_after_keep_order():
    m, f, b = make()
    x = f.arguments[0]
    first = generic(b, "onnx.A", x)
    ret = b.ret(first.result)
    before = Builder.before(first).insert(create_op("onnx.B", [x], [tensor((1, 4))], {}))
    after = Builder.after(first).insert(create_op("onnx.C", [x], [tensor((1, 4))], {}))
    assert [op.name for op in f.ops] == ["onnx.B", "onnx.A", "onnx.C", "func.return"]
    assert first.prev is before and first.next is after and f.body.last is ret
    # iteration is safe while erasing the current op
    for op in f.ops:
        if op.name in ("onnx.B", "onnx.C"):
            op.erase()
    assert len(f.body) == 2


def test_verifier_catches_use_before_definition():
    m, f, b = make()
    a = generic(b, "onnx.A", f.arguments[0])
    c = generic(b, "onnx.B", a.result)
    b.ret(c.result)
    f.body.remove(a)
    f.body.append(a)  # now after its user and after the return
    with pytest.raises(VerifyError):
        m.verify()


def test_verifier_requires_return_and_registered_ops():
    m, f, b = make()
    generic(b, "onnx.A", f.arguments[0])
    with pytest.raises(VerifyError, match="must end with func.return"):
        m.verify()
    m2, f2, b2 = make()
    op = generic(b2, "onnx.A", f2.arguments[0])
    op.name = "nosuch.op"
    b2.ret(op.result)
    with pytest.raises(VerifyError, match="not a registered op"):
        m2.verify()


def test_constants_and_dense_elements():
    m, f, b = make()
    w = b.constant(np.ones((2, 2), np.float32), name="w")
    assert w.defining_op().attrs["value"].array.flags.writeable is False
    d1 = DenseElements.from_numpy(np.arange(4, dtype=np.int8))
    d2 = DenseElements.from_numpy(np.arange(4, dtype=np.int8))
    assert d1 == d2 and hash(d1) == hash(d2)
    assert d1 != DenseElements.from_numpy(np.arange(4, dtype=np.int32))
    b.ret(w)
    m.verify()
    bad = ConstantOp.from_array(np.zeros(3, np.float32))
    bad.results[0].type = tensor((4,))
    f.body.insert_before(f.return_op, bad)
    with pytest.raises(VerifyError, match="differs from result type"):
        m.verify()


def test_spec_checks_operand_counts_and_attributes():
    m, f, b = make()
    ret = b.insert(ReturnOp.build([f.arguments[0]], result_types=[]))
    assert ret.values == (f.arguments[0],)
    c = ConstantOp.build(value=DenseElements.from_numpy(np.zeros(2, np.float32)), bogus=1)
    f.body.insert_before(ret, c)
    with pytest.raises(VerifyError, match="unknown attribute 'bogus'"):
        m.verify()
    c.attrs.pop("bogus")
    c.attrs["mem.offset"] = 64  # dialect-prefixed annotations are allowed
    m.verify()


def test_errors_are_located():
    m, f, b = make()
    loc = Location(name="conv_1", file="model.onnx")
    op = ConstantOp.build(value=DenseElements.from_numpy(np.zeros(2, np.float32)), loc=loc)
    err = op.error("is broken")
    assert err.format() == "model.onnx node 'conv_1': error: 'builtin.constant' is broken"


def test_resource_names_are_valid_identifiers_whatever_the_value_name():
    import edgecc

    m, f, b = make()
    c = b.constant(np.arange(20, dtype=np.float32), name=".")
    b.ret(c)
    text = edgecc.print_ir(m)
    assert "dense_resource<r_.>" in text
    assert edgecc.print_ir(edgecc.parse_ir(text)) == text
