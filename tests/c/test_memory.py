"""Memory planner: offset algorithms, liveness with in-place/alias rules, scheduling."""

from __future__ import annotations

import random

import numpy as np
import pytest

from edgecc.analysis.liveness import Buffer, InPlace, analyze, executable_ops
from edgecc.analysis.memory import (
    INPLACE_RULES,
    arena_of,
    assign_offsets,
    check_no_overlap,
    exact,
    inplace_rule,
    lower_bound,
    place_in_order,
    plan_memory,
    tflm_greedy,
)
from edgecc.analysis.schedule import beam_order
from edgecc.dialects import nn as nn_dialect
from edgecc.ir import Builder, Func, Module, f32, tensor


def bufs(*specs):
    return [Buffer(i, size, first, last, label=f"b{i}") for i, (size, first, last) in enumerate(specs)]


# ----------------------------------------------------------------------------- offsets
def test_tflm_greedy_exact_offsets():
    b = bufs((100, 0, 1), (50, 1, 2), (100, 2, 3))
    # sorted by size: b0, b2 (no overlap: both at 0), then b1 above both
    assert tflm_greedy(b) == [0, 100, 0]
    assert arena_of(b, tflm_greedy(b)) == 150 == lower_bound(b)


def test_tflm_greedy_first_fit_uses_gaps():
    b = bufs((64, 0, 4), (32, 0, 1), (32, 2, 4), (16, 3, 3))
    offs = tflm_greedy(b)
    assert offs == [0, 64, 64, 96]
    check_no_overlap(b, offs)


def test_better_than_tflm_greedy():
    # greedy-by-size stacks three equal buffers; placing by first use needs only two slots
    b = bufs((48, 4, 5), (48, 0, 2), (48, 1, 3), (48, 3, 4))
    assert arena_of(b, tflm_greedy(b)) == 144
    a = assign_offsets(b)
    assert a.arena == 96 == lower_bound(b)
    assert a.optimal
    check_no_overlap(b, a.offsets)


def test_best_fit_picks_tightest_gap():
    from edgecc.analysis.memory import _place_best_fit, _place_first_fit

    placed = [(30, 10), (60, 10)]  # gaps: [0, 30) and [40, 60), then the top at 70
    assert _place_first_fit(20, placed) == 0
    assert _place_best_fit(20, placed) == 40
    assert _place_best_fit(40, placed) == 70
    b = bufs((10, 0, 5), (40, 0, 1), (10, 0, 5), (20, 2, 3), (30, 2, 3))
    assert place_in_order(b, [0, 1, 2], "first")[:3] == [0, 10, 50]
    check_no_overlap(b, place_in_order(b, [0, 1, 2, 3, 4], "best"))


def test_exact_search_finds_optimum_and_stops_at_lower_bound():
    rng = random.Random(3)
    for _ in range(40):
        b = bufs(*[(rng.choice([16, 32, 48, 80]), f, rng.randint(f, 7))
                   for f in (rng.randint(0, 6) for _ in range(rng.randint(3, 7)))])
        start = arena_of(b, tflm_greedy(b))
        found, proven = exact(b, start)
        assert proven
        if found is not None:
            check_no_overlap(b, found)
            assert lower_bound(b) <= arena_of(b, found) < start


def test_exact_search_budget():
    b = bufs((48, 4, 5), (48, 0, 2), (48, 1, 3), (48, 3, 4))
    found, proven = exact(b, 144, budget=2)
    assert found is None and not proven
    found, proven = exact(b, 144)
    assert proven and arena_of(b, found) == 96


def test_overlap_checker_catches_collisions():
    b = bufs((32, 0, 2), (32, 1, 3))
    with pytest.raises(AssertionError, match="overlap"):
        check_no_overlap(b, [0, 16])
    check_no_overlap(b, [0, 32])
    check_no_overlap(bufs((32, 0, 1), (32, 2, 3)), [0, 0])  # disjoint lifetimes may share


@pytest.mark.parametrize("seed", range(60))
def test_never_above_tflm_greedy_on_random_problems(seed):
    rng = random.Random(seed)
    n = rng.randint(2, 24)
    b = bufs(*[(rng.choice([4, 16, 64, 100, 256, 1000, 4096]) * rng.randint(1, 3), f, f + rng.randint(0, 6))
               for f in (rng.randint(0, 20) for _ in range(n))])
    a = assign_offsets(b)
    check_no_overlap(b, a.offsets)
    assert lower_bound(b) <= a.arena <= arena_of(b, tflm_greedy(b))


def test_a_shrinking_buffer_frees_its_tail():
    """A strided band writes its smaller output over the start of its input: from then on only
    those bytes are held, and a buffer born later may take the rest."""
    x = Buffer(0, 100, 0, 3, label="x", shrinks=((1, 20),))  # 100 B at 0, then 20 B (the output)
    y = Buffer(1, 80, 1, 2, label="y")
    assert [x.size_at(p) for p in range(4)] == [100, 20, 20, 20]
    assert (x.size_with(y), y.size_with(x)) == (20, 80)
    assert tflm_greedy([x, y]) == [0, 20]
    assert assign_offsets([x, y]).arena == 100 == lower_bound([x, y])
    check_no_overlap([x, y], [0, 20])
    with pytest.raises(AssertionError):
        check_no_overlap([x, y], [0, 19])
    # without the shrink the two stack
    assert assign_offsets(bufs((100, 0, 3), (80, 1, 2))).arena == 180


@pytest.mark.parametrize("seed", range(20))
def test_shrinking_buffers_on_random_problems(seed):
    rng = random.Random(100 + seed)
    b = []
    for i in range(rng.randint(2, 14)):
        f = rng.randint(0, 12)
        size = rng.choice([16, 64, 256, 1024]) * rng.randint(1, 3)
        last = f + rng.randint(0, 6)
        cuts = sorted(rng.sample(range(f + 1, last + 1), min(2, last - f))) if last > f else []
        sizes = sorted((rng.randint(1, size // 16) * 16 for _ in cuts), reverse=True)
        b.append(Buffer(i, size, f, last, label=f"b{i}", shrinks=tuple(zip(cuts, sizes))))
    a = assign_offsets(b)
    check_no_overlap(b, a.offsets)
    assert lower_bound(b) <= a.arena
    for pos in range(20):  # the checker's view: no two buffers share a byte at any position
        held = sorted((o, o + x.size_at(pos)) for x, o in zip(b, a.offsets) if x.first <= pos <= x.last)
        assert all(hi <= lo2 for (_, hi), (lo2, _) in zip(held, held[1:]))


# ----------------------------------------------------------------------------- IR graphs
def chain(*shapes_ops):
    """A function: x -> op1 -> op2 ... with the given nn op classes (unary, same shape)."""
    func = Func("main", [tensor((1, 25), f32)], ["x"])
    b = Builder(func)
    v = func.arguments[0]
    for cls in shapes_ops:
        v = b.create(cls, v).result
    b.ret(v)
    return Module(func)


def test_in_place_chain_uses_one_buffer():
    m = chain(nn_dialect.ReluOp, nn_dialect.SigmoidOp, nn_dialect.TanhOp)
    plan = plan_memory(m, alignment=4)
    assert plan.arena_size == 100  # everything in place on the input's 100 bytes
    assert plan.tflm_arena == 200
    assert all(r.in_place for r in plan.table)
    plan.check()


def test_without_rules_plan_equals_tflm():
    m = chain(nn_dialect.ReluOp, nn_dialect.SigmoidOp, nn_dialect.TanhOp)
    plan = plan_memory(m, alignment=4, rule_for=None)
    assert plan.arena_size == plan.tflm_arena == 200


def test_alignment_rounds_sizes_and_offsets():
    m = chain(nn_dialect.ExpOp)
    func = Func("main", [tensor((1, 3), f32)], ["x"])
    b = Builder(func)
    y = b.create(nn_dialect.ExpOp, func.arguments[0]).result
    z = b.create(nn_dialect.AddOp, y, func.arguments[0]).result
    b.ret(z)
    m = Module(func)
    plan = plan_memory(m, alignment=16)
    assert plan.arena_size == 32 and plan.tflm_arena == 48  # 12 B tensors take 16 B
    for buf in plan.buffers:
        assert buf.offset % 16 == 0 and buf.size % 16 == 0


def test_no_in_place_when_input_still_needed():
    func = Func("main", [tensor((1, 25), f32)], ["x"])
    b = Builder(func)
    x = func.arguments[0]
    y = b.create(nn_dialect.ReluOp, x).result
    z = b.create(nn_dialect.AddOp, x, y).result  # x read again: relu cannot overwrite x
    b.ret(z)
    live = analyze(func, alignment=4, rule_for=inplace_rule)
    relu, add = executable_ops(func)
    assert relu not in live.reuse
    assert live.reuse[add] == 0  # add overwrites x (dies here), not y
    assert len(live.buffers) == 2


def test_no_in_place_over_graph_output_or_broadcast_operand():
    func = Func("main", [tensor((1, 25), f32), tensor((25,), f32)], ["x", "s"])
    b = Builder(func)
    x, s = func.arguments
    y = b.create(nn_dialect.ReluOp, x).result
    z = b.create(nn_dialect.MulOp, s, y).result  # s is broadcast (25 vs 1x25: same count) -> allowed
    w = b.create(nn_dialect.NegOp, z).result
    b.ret(z, w)  # z is an output: neg must not overwrite it
    live = analyze(func, alignment=4, rule_for=inplace_rule)
    relu, mul, neg = executable_ops(func)
    assert neg not in live.reuse
    assert live.buffer_of[w] is not live.buffer_of[z]


def test_reshape_aliases_even_when_input_lives_on():
    func = Func("main", [tensor((2, 8), f32)], ["x"])
    b = Builder(func)
    x = func.arguments[0]
    r = b.create(nn_dialect.ReshapeOp, x, shape=(16,)).result
    e = b.create(nn_dialect.ExpOp, x).result
    b.ret(r, e)
    live = analyze(func, alignment=4, rule_for=inplace_rule)
    assert live.buffer_of[r] is live.buffer_of[x]
    assert live.buffer_of[e] is not live.buffer_of[x]  # x's group lives on as output r


def test_table_covers_elementwise_and_views():
    assert INPLACE_RULES["nn.reshape"].alias
    for name in ("nn.add", "nn.mul", "nn.relu", "nn.sigmoid", "nn.clamp"):
        assert isinstance(INPLACE_RULES[name], InPlace) and not INPLACE_RULES[name].alias
    assert "nn.conv2d" not in INPLACE_RULES


def branchy():
    """Two branches off x: x -> 4 KB s, and x -> 8 KB big -> 4 KB back; out = s + back.

    In block order s is computed first and stays alive while the big branch runs (16 KB);
    running the big branch first needs 13 KB.
    """
    func = Func("main", [tensor((1, 256), f32)], ["x"])
    b = Builder(func)
    x = func.arguments[0]
    w_s = b.constant(np.ones((1024, 256), np.float32))
    w_big = b.constant(np.ones((2048, 256), np.float32))
    w_back = b.constant(np.ones((1024, 2048), np.float32))
    s = b.create(nn_dialect.FullyConnectedOp, x, w_s).result
    big = b.create(nn_dialect.FullyConnectedOp, x, w_big).result
    back = b.create(nn_dialect.FullyConnectedOp, big, w_back).result
    out = b.create(nn_dialect.AddOp, s, back).result
    b.ret(out)
    return Module(func)


def test_scheduling_lowers_the_peak_on_branches():
    m = branchy()
    fixed = plan_memory(m, alignment=4, reorder=False)
    best = plan_memory(m, alignment=4)
    assert fixed.arena_size == 16384
    assert best.arena_size == 13312
    assert best.reordered
    best.check()
    # the big branch runs first, while only x is alive
    names = [op.operands[1].type.shape for op in best.order if op.name == "nn.fully_connected"]
    assert names[0] == (2048, 256)


def test_beam_order_is_topological():
    m = branchy()
    order = beam_order(m.func, width=8)
    seen = set(m.func.arguments)
    for op in order:
        for v in op.operands:
            assert v in seen or v.defining_op().has_trait("ConstantLike")
        seen.update(op.results)


def test_scratch_buffers_are_planned():
    m = chain(nn_dialect.ReluOp)
    relu = executable_ops(m.func)[0]
    plan = plan_memory(m, alignment=4, scratch_for=lambda op: 40 if op is relu else 0)
    assert plan.scratch_offset(relu) is not None
    assert plan.arena_size == 140
    plan.check()


def test_plan_table_and_json():
    m = branchy()
    plan = plan_memory(m, alignment=4)
    assert len(plan.table) == 4
    assert plan.peak_live <= plan.arena_size
    text = plan.format_table()
    assert "nn.fully_connected" in text
    assert plan.to_json()["arena_bytes"] == plan.arena_size
    assert "#" in plan.format_plan()
