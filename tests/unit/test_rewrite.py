"""Pattern sets, the Rewriter and the greedy driver."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

import edgecc
from edgecc.dialects.builtin import ConstantOp
from edgecc.dialects.nn import NegOp, ReluOp
from edgecc.ir.core import Module, OpResult
from edgecc.ir.diagnostics import PassError, VerifyError
from edgecc.ir.spec import ANY_TENSOR, Dialect, Op, Str, attr, operand, result
from edgecc.ir.types import tensor
from edgecc.rewrite import PatternSet, Rewriter, apply_greedily, constant_array, producer

# Throwaway ops: a pure one with a fold, a pure flip-flop, and one with side effects.
trw = Dialect("trw", "ops for the rewrite tests")


@trw.op("double")
class DoubleOp(Op):
    """2 * x, folds."""

    input = operand(ANY_TENSOR)
    output = result(ANY_TENSOR)
    traits = {"Pure"}

    def infer_shapes(self):
        return [self.input.type.shape]

    def fold(self, inputs):
        return [inputs[0] * 2]


@trw.op("flip")
class FlipOp(Op):
    """Identity carrying a state attribute."""

    input = operand(ANY_TENSOR)
    output = result(ANY_TENSOR)
    state = attr(Str("a", "b"), default="a")
    traits = {"Pure"}

    def infer_shapes(self):
        return [self.input.type.shape]


@trw.op("effect")
class EffectOp(Op):
    """Not pure: never removed when unused."""

    input = operand(ANY_TENSOR, optional=True)
    output = result(ANY_TENSOR)

    def infer_shapes(self):
        return [self.input.type.shape if self.input is not None else (1,)]


T = "tensor<4xf32>"


def module(body: str, args: str = f"%x: {T}", outs: str = T, name: str = "m") -> Module:
    text = f"module @{name} {{\n  func.func @main({args}) -> ({outs}) {{\n{body}\n  }}\n}}\n"
    return edgecc.parse_ir(text, "rw.mlir")


def negs(n: int, src: str = "%x") -> str:
    lines, prev = [], src
    for i in range(n):
        lines.append(f"    %n{i} = nn.neg({prev}) : ({T}) -> {T}")
        prev = f"%n{i}"
    return "\n".join(lines) + f"\n    func.return({prev}) : ({T}) -> ()"


def check_use_lists(m: Module) -> None:
    """Every operand has exactly one matching use, every use one matching operand."""
    seen_values = list(m.func.arguments)
    for op in m.ops:
        assert op.parent is m.func.body
        for i, v in enumerate(op.operands):
            matching = [u for u in v.uses if u.op is op and u.index == i]
            assert len(matching) == 1, f"{op.name} operand {i} has {len(matching)} uses recorded"
        seen_values.extend(op.results)
    for v in seen_values:
        for u in v.uses:
            assert u.op.parent is m.func.body, f"use by erased op {u.op.name}"
            assert u.op.operands[u.index] is v
    m.verify()


def names(m: Module) -> list[str]:
    return [op.name for op in m.ops]


NEG_NEG = PatternSet("negneg")


@NEG_NEG.on("nn.neg")
def neg_neg(op, rw) -> bool:
    """neg(neg(x)) -> x."""
    inner = producer(op.operands[0], "nn.neg")
    if inner is None:
        return False
    rw.replace_op(op, [inner.operands[0]])
    return True


# ------------------------------------------------------------ pattern sets
def test_pattern_set_dispatch_and_order():
    ps = PatternSet("a")
    calls = []

    @ps.on("nn.relu", benefit=1)
    def low(op, rw):
        calls.append("low")
        return False

    @ps.on("nn.relu", benefit=5)
    def high(op, rw):
        calls.append("high")
        return False

    @ps.on("*")
    def anything(op, rw):
        calls.append("any")
        return False

    other = PatternSet("b")
    other.on(NegOp, "nn.relu")(lambda op, rw: calls.append("other") and False)

    both = ps + other
    assert len(both) == 5 and both.name == "a+b"
    m = module(f"    %r = nn.relu(%x) : ({T}) -> {T}\n    func.return(%r) : ({T}) -> ()")
    relu = next(iter(m.ops))
    assert [p.name for p in both.for_op(relu)] == ["high", "low", "anything", "<lambda>"]
    assert apply_greedily(m, both) is False
    assert calls[:4] == ["high", "low", "any", "other"]
    assert [p.name for p in ps.without(["low"]).for_op(relu)] == ["high", "anything"]
    with pytest.raises(KeyError):
        ps.without(["nope"])
    assert ps.for_op(relu)[0].doc == ""
    assert NEG_NEG.for_op(next(iter(module(negs(1)).ops)))[0].doc == "neg(neg(x)) -> x."


# ------------------------------------------------------------ the rewriter
def test_rewriter_replace_with_inherits_loc_and_hint():
    m = module(f"    %y = nn.neg(%x) : ({T}) -> {T} loc(\"node_y\")\n    func.return(%y) : ({T}) -> ()")
    neg = next(iter(m.ops))
    rw = Rewriter()
    new = rw.replace_with(neg, ReluOp.build(m.func.arguments[0]))
    assert names(m) == ["nn.relu", "func.return"]
    assert new.loc.name == "node_y" and new.result.name_hint == "y"
    assert rw.mutations >= 2
    check_use_lists(m)


def test_rewriter_create_insert_erase_and_uses():
    m = module(f"    %y = nn.neg(%x) : ({T}) -> {T}\n    func.return(%y) : ({T}) -> ()")
    neg = next(iter(m.ops))
    rw = Rewriter()
    relu = rw.create("nn.relu", neg.result, after=neg)
    rw.replace_all_uses(neg.result, relu.result, exclude=[relu])
    assert m.func.outputs[0] is relu.result and relu.operands[0] is neg.result
    with pytest.raises(VerifyError, match="still used by nn.relu"):
        rw.erase(neg)
    c = rw.constant(np.ones(4, np.float32), before=neg, name="one")
    add = rw.create("nn.add", neg.result, c, before=relu)
    rw.set_operand(relu, 0, add.result)
    assert names(m) == ["builtin.constant", "nn.neg", "nn.add", "nn.relu", "func.return"]
    assert constant_array(c).tolist() == [1, 1, 1, 1] and c.name_hint == "one"
    assert add.loc == relu.loc
    with pytest.raises(TypeError, match="exactly one of before= or after="):
        rw.create(ReluOp, c)
    check_use_lists(m)


def test_rewriter_notifies_listener():
    class Listener:
        def __init__(self):
            self.touched_ops, self.erased_ops = [], []

        def touched(self, op):
            self.touched_ops.append(op.name)

        def erased(self, op):
            self.erased_ops.append(op.name)

    m = module(negs(2))
    n0, n1, ret = list(m.ops)
    listener = Listener()
    rw = Rewriter(listener)
    rw.replace_op(n1, [n0.operands[0]])
    # the return (new user of %x) is revisited, n0 (lost its only user) too
    assert "func.return" in listener.touched_ops and "nn.neg" in listener.touched_ops
    assert listener.erased_ops == ["nn.neg"]
    rw.set_attr(n0, "edgecc.note", "x")
    assert listener.touched_ops[-1] == "nn.neg"


# ------------------------------------------------------------- the driver
def test_chain_collapses_to_fixed_point_in_one_call():
    m = module(negs(9))
    stats = Counter()
    assert apply_greedily(m, NEG_NEG, stats=stats) is True
    assert names(m) == ["nn.neg", "func.return"]
    assert stats["neg_neg"] == 4
    check_use_lists(m)
    assert apply_greedily(m, NEG_NEG) is False  # already a fixed point


def test_rewrite_revisits_users_of_changed_values():
    # relu(neg(neg(x))): the relu pattern only fires once its operand is an argument,
    # which happens only after neg_neg rewrites its producer.
    ps = NEG_NEG + PatternSet()
    fired = []

    @ps.on("nn.relu")
    def relu_of_arg(op, rw):
        if producer(op.operands[0]) is not None or op.attr("edgecc.seen"):
            return False
        fired.append(op)
        rw.set_attr(op, "edgecc.seen", True)
        return True

    body = negs(2).replace("func.return(%n1)", f"%r = nn.relu(%n1) : ({T}) -> {T}\n    func.return(%r)")
    m = module(body)
    assert apply_greedily(m, ps, max_iterations=1) is True
    assert len(fired) == 1 and names(m) == ["nn.relu", "func.return"]
    check_use_lists(m)


def test_fold_replaces_with_constant_keeping_hint_and_loc():
    body = (f"    %c = builtin.constant() {{value = dense<[1.0, 2.0, 3.0, 4.0]> : {T}}} : () -> {T}\n"
            f"    %d = trw.double(%c) : ({T}) -> {T} loc(\"dbl\")\n"
            f"    %e = nn.neg(%d) : ({T}) -> {T}\n"
            f"    %s = nn.add(%e, %x) : ({T}, {T}) -> {T}\n"
            f"    func.return(%s) : ({T}) -> ()")
    m = module(body)
    assert apply_greedily(m, PatternSet()) is True
    assert names(m) == ["builtin.constant", "nn.add", "func.return"]
    const = next(iter(m.ops))
    assert const.result.name_hint == "e"
    assert constant_array(const.result).tolist() == [-2, -4, -6, -8]
    check_use_lists(m)


def test_fold_keeps_loc_of_folded_op():
    body = (f"    %c = builtin.constant() {{value = dense<[1.0, 2.0, 3.0, 4.0]> : {T}}} : () -> {T}\n"
            f"    %d = trw.double(%c) : ({T}) -> {T} loc(\"dbl\")\n"
            f"    func.return(%d) : ({T}) -> ()")
    m = module(body)
    apply_greedily(m, PatternSet())
    const = next(iter(m.ops))
    assert isinstance(const, ConstantOp) and const.loc.name == "dbl" and const.result.name_hint == "d"
    assert apply_greedily(m, PatternSet(), fold=False) is False


def test_fold_can_be_disabled():
    body = (f"    %c = builtin.constant() {{value = dense<[1.0, 2.0, 3.0, 4.0]> : {T}}} : () -> {T}\n"
            f"    %d = trw.double(%c) : ({T}) -> {T}\n"
            f"    func.return(%d) : ({T}) -> ()")
    m = module(body)
    assert apply_greedily(m, PatternSet(), fold=False) is False
    assert names(m) == ["builtin.constant", "trw.double", "func.return"]


def test_dead_pure_ops_removed_and_effects_kept():
    body = (f"    %c = builtin.constant() {{value = dense<[1.0, 2.0, 3.0, 4.0]> : {T}}} : () -> {T}\n"
            f"    %a = nn.relu(%x) : ({T}) -> {T}\n"
            f"    %b = nn.add(%a, %c) : ({T}, {T}) -> {T}\n"
            f"    %e = trw.effect(%x) : ({T}) -> {T}\n"
            f"    func.return(%x) : ({T}) -> ()")
    m = module(body)
    assert apply_greedily(m, PatternSet()) is True
    assert names(m) == ["trw.effect", "func.return"]
    check_use_lists(m)
    m = module(negs(1))
    apply_greedily(m, PatternSet(), dce=False)
    assert names(m) == ["nn.neg", "func.return"]


def test_use_lists_consistent_after_many_rewrites():
    # A diamond: both branches collapse, then the add of twin values stays.
    body = negs(4).replace("    func.return(%n3) : (tensor<4xf32>) -> ()", "")
    body += "\n" + negs(4, "%x").replace("%n", "%m")
    body = body.replace("func.return(%m3)", f"%s = nn.add(%n3, %m3) : ({T}, {T}) -> {T}\n    func.return(%s)")
    m = module(body)
    apply_greedily(m, NEG_NEG)
    assert names(m) == ["nn.add", "func.return"]
    add = next(iter(m.ops))
    assert add.operands == (m.func.arguments[0], m.func.arguments[0])
    assert len(m.func.arguments[0].uses) == 2
    check_use_lists(m)


# ------------------------------------------------------------ non-convergence
def test_ping_pong_patterns_do_not_converge():
    ps = PatternSet("pingpong")

    @ps.on("trw.flip")
    def flip_to_b(op, rw):
        if op.attr("state") != "a":
            return False
        rw.set_attr(op, "state", "b")
        return True

    @ps.on("trw.flip")
    def flip_to_a(op, rw):
        if op.attr("state") != "b":
            return False
        rw.set_attr(op, "state", "a")
        return True

    m = module(f"    %f = trw.flip(%x) : ({T}) -> {T}\n    func.return(%f) : ({T}) -> ()")
    with pytest.raises(PassError, match=r"did not converge: more than 1000 rewrites in one sweep; "
                                        r"last rewrites: flip_to_\w @ rw.mlir:3:5; flip_to_\w @"):
        apply_greedily(m, ps)
    with pytest.raises(PassError, match="more than 10 rewrites"):
        apply_greedily(m, ps, max_rewrites=10)


def test_pattern_firing_once_per_sweep_hits_max_iterations():
    ps = PatternSet("grow")

    @ps.on("trw.flip")
    def spawn(op, rw):
        """Adds an unused side-effecting op every time it sees the flip."""
        rw.create(EffectOp, before=op, result_types=[tensor((1,))])
        return True

    m = module(f"    %f = trw.flip(%x) : ({T}) -> {T}\n    func.return(%f) : ({T}) -> ()")
    with pytest.raises(PassError, match=r"did not converge after 3 iterations; last rewrites: "
                                        r"spawn @ rw.mlir:3:5"):
        apply_greedily(m, ps, max_iterations=3)
    assert names(m).count("trw.effect") == 4


def test_pattern_claiming_a_change_without_one_is_an_error():
    ps = PatternSet()

    @ps.on("nn.neg")
    def liar(op, rw):
        return True

    with pytest.raises(PassError, match="pattern 'liar' reported a change on 'nn.neg' but made none"):
        apply_greedily(module(negs(1)), ps)


def test_trace_rewrites(monkeypatch, capsys):
    monkeypatch.setenv("EDGECC_TRACE_REWRITES", "1")
    apply_greedily(module(negs(2)), NEG_NEG)
    err = capsys.readouterr().err.splitlines()
    assert err == ["neg_neg @ rw.mlir:4:5", "dce(nn.neg) @ rw.mlir:3:5"]
    monkeypatch.setenv("EDGECC_TRACE_REWRITES", "0")
    apply_greedily(module(negs(2)), NEG_NEG)
    assert capsys.readouterr().err == ""


def test_fold_errors_are_located(monkeypatch):
    def boom(self, inputs):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(DoubleOp, "fold", boom)
    body = (f"    %c = builtin.constant() {{value = dense<[1.0, 2.0, 3.0, 4.0]> : {T}}} : () -> {T}\n"
            f"    %d = trw.double(%c) : ({T}) -> {T}\n"
            f"    func.return(%d) : ({T}) -> ()")
    with pytest.raises(PassError, match="folding 'trw.double' failed: ZeroDivisionError: boom") as info:
        apply_greedily(module(body), PatternSet())
    assert info.value.loc.describe() == "rw.mlir:4:5"


def test_op_results_after_rewrites_are_detached():
    m = module(negs(2))
    first = next(iter(m.ops))
    apply_greedily(m, NEG_NEG)
    assert first.parent is None and isinstance(first.results[0], OpResult)
    assert not first.results[0].uses
