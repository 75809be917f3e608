"""Structured pruning: channel groups, removal, options and errors (the digits acceptance is separate).

Removing a channel class must equal zeroing it: with reconstruction off, the
pruned graph computes exactly what the original computes once the removed
source channels (weights, biases, and the depthwise biases on their path)
are zero. The graphs below couple channels through residual adds, a
squeeze-excite multiply, pads, pools, a depthwise conv, a concat and a
flatten into a fully connected layer.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgecc.compress.channels import analyze, remove
from edgecc.compress.prune import choose_removed, prune_module
from edgecc.compress.scores import magnitude_scores
from edgecc.dialects.nn import (
    AddOp,
    ConcatOp,
    Conv2DOp,
    DepthwiseConv2DOp,
    FullyConnectedOp,
    MaxPool2DOp,
    MeanOp,
    MulOp,
    PadOp,
    ReshapeOp,
    SigmoidOp,
    SoftmaxOp,
)
from edgecc.interp.reference import run
from edgecc.ir import Builder, Func, Module
from edgecc.ir.diagnostics import EdgeccError
from edgecc.ir.types import f32, tensor
from edgecc.passes import PassManager
from edgecc.quant.graph import clone_module
from edgecc.rewrite.pattern import constant_array


def _w(b, rng, *shape):
    return b.constant(rng.standard_normal(shape).astype(np.float32))


def coupled_model(seed=0) -> Module:
    rng = np.random.default_rng(seed)
    func = Func("main", [tensor((1, 6, 6, 3), f32)], ["x"])
    b = Builder(func)
    x = func.arguments[0]

    def conv(v, cout, k=1, act="relu", name=None, pads=(0, 0, 0, 0)):
        cin = v.type.shape[-1]
        return b.create(Conv2DOp, v, _w(b, rng, cout, k, k, cin), _w(b, rng, cout), activation=act,
                        pads=pads, result_names=[name]).result

    a = conv(x, 8, 3, pads=(1, 1, 1, 1), name="a")
    p = b.create(PadOp, a, pads=(0, 1, 1, 0, 0, 1, 1, 0)).result
    d = b.create(DepthwiseConv2DOp, p, _w(b, rng, 1, 3, 3, 8), _w(b, rng, 8), activation="relu",
                 result_names=["dw"]).result
    c = conv(d, 8, act="none", name="b")
    s = b.create(AddOp, a, c).result                                     # residual: a and b coupled
    m = b.create(MeanOp, s, axes=(1, 2), keepdims=True).result
    e1 = conv(m, 4, name="se1")
    e2 = b.create(SigmoidOp, conv(e1, 8, act="none", name="se2")).result
    s = b.create(MulOp, s, e2).result                                    # squeeze-excite: se2 coupled too
    s = b.create(MaxPool2DOp, s, kernel=(2, 2), strides=(2, 2)).result
    side = conv(b.create(MaxPool2DOp, x, kernel=(2, 2), strides=(2, 2)).result, 6, name="side")
    cat = b.create(ConcatOp, [s, side], axis=3).result
    f = conv(cat, 8, 3, pads=(1, 1, 1, 1), name="f")
    flat = b.create(ReshapeOp, f, shape=(1, 72)).result
    out = b.create(FullyConnectedOp, flat, _w(b, rng, 5, 72), _w(b, rng, 5), result_names=["fc"]).result
    b.ret(out)
    module = Module(func, name="coupled")
    module.verify()
    return module


def _zeroed(module: Module, g, removed: set[int]) -> Module:
    """The oracle: the original with every removed channel's weights and biases zero."""
    oracle, vmap = clone_module(module)
    for op, ids in g.slots.items():
        drop = [ch for ch, s in enumerate(ids) if g.cls(s) in removed]
        new_op = vmap[op.results[0]].defining_op()
        for i in (1, 2):
            arr = constant_array(new_op.operands[i]).copy()
            arr[drop] = 0
            new_op.operands[i].defining_op().attrs["value"] = type(
                new_op.operands[i].defining_op().attrs["value"]).from_numpy(arr)
    for op in module.ops:
        if op.name == "nn.depthwise_conv2d":
            keep = g.keep_mask(g.tags[op.results[0]], removed).reshape(-1, 8)[0]
            new_op = vmap[op.results[0]].defining_op()
            arr = constant_array(new_op.operands[2]).copy()
            arr[~keep] = 0
            new_op.operands[2].defining_op().attrs["value"] = type(
                new_op.operands[2].defining_op().attrs["value"]).from_numpy(arr)
    return oracle


def test_groups_follow_adds_squeeze_excite_and_concats():
    module = coupled_model()
    g = analyze(module)
    names = {op.results[0].name_hint: op for op in g.slots}
    by_source = {}
    for c, members in g.classes().items():
        for op, ch in members:
            by_source.setdefault(op.results[0].name_hint, set()).add(c)
    # a, b and se2 share their 8 classes; se1, side and f are groups of their own; fc feeds the output
    assert by_source["a"] == by_source["b"] == by_source["se2"] and len(by_source["a"]) == 8
    assert len(by_source["se1"]) == 4 and len(by_source["side"]) == 6 and len(by_source["f"]) == 8
    assert "fc" not in by_source
    assert sorted(len(grp) for grp in g.groups()) == [4, 6, 8, 8]
    assert set(names) == {"a", "b", "se1", "se2", "side", "f", "fc"}


@pytest.mark.parametrize("ratio,multiple", [(0.5, 1), (0.3, 2), (0.7, 4)])
def test_removal_equals_zeroing(ratio, multiple):
    module = coupled_model()
    rng = np.random.default_rng(1)
    feeds = [rng.standard_normal((1, 6, 6, 3)).astype(np.float32) for _ in range(3)]
    g = analyze(module)
    removed = choose_removed(g, magnitude_scores(g, "l1"), ratio, {}, set(), multiple)
    assert removed
    want = [run(_zeroed(module, g, removed), [f])[0] for f in feeds]
    remove(module, g, removed)
    module.verify()
    for f, w in zip(feeds, want):
        np.testing.assert_allclose(run(module, [f])[0], w, rtol=1e-5, atol=1e-5)
    import math

    for op in module.ops:
        name = op.results[0].name_hint if op.results else None
        if op.name == "nn.conv2d" and name in ("a", "b", "se2", "side", "f"):
            n0 = {"side": 6}.get(name, 8)
            assert op.results[0].type.shape[-1] == min(n0, math.ceil(n0 * (1 - ratio) / multiple) * multiple)


def test_frozen_channels_stay():
    """Channels that reach an output or a softmax cannot be removed; nothing else is touched."""
    rng = np.random.default_rng(2)
    func = Func("main", [tensor((1, 4, 4, 2), f32)], ["x"])
    b = Builder(func)
    a = b.create(Conv2DOp, func.arguments[0], _w(b, rng, 6, 1, 1, 2), _w(b, rng, 6), activation="relu").result
    c = b.create(Conv2DOp, a, _w(b, rng, 4, 1, 1, 6), activation="relu").result
    b.ret(b.create(SoftmaxOp, c, axis=3).result, a)
    module = Module(func, name="frozen")
    res = prune_module(module, None, ratio=0.5, score="l2", reconstruct=False)
    assert res.removed == 0 and all(n0 == n1 for n0, n1 in res.channels.values())


def test_pass_options_and_statistics(tmp_path):
    module = coupled_model()
    rng = np.random.default_rng(3)
    np.savez(tmp_path / "calib.npz", x=rng.standard_normal((16, 1, 6, 6, 3)).astype(np.float32))
    calib = tmp_path / "calib.npz"
    pm = PassManager.parse(f"prune{{ratio=0.5 ratios=[side:0.0] keep=[f] multiple=2 calib={calib}}}")
    pm.run(module)
    shapes = {op.results[0].name_hint: op.results[0].type.shape[-1] for op in module.ops
              if op.name == "nn.conv2d"}
    assert shapes == {"a": 4, "b": 4, "se1": 2, "se2": 4, "side": 6, "f": 8}
    stats = pm.ctx.stats  # counters of the run
    assert stats["prune.channels-removed"] == 4 + 4 + 4 + 2 and stats["prune.layers-refitted"] >= 4
    assert stats["prune.macs-after"] < stats["prune.macs-before"]


def test_user_errors_are_one_line():
    module = coupled_model()
    with pytest.raises(EdgeccError, match="no prunable layer named 'nope'"):
        prune_module(module, None, ratio=0.5, keep=("nope",), score="l1", reconstruct=False)
    with pytest.raises(EdgeccError, match="needs calibration data"):
        PassManager.parse("prune").run(coupled_model())
    q = coupled_model()
    from edgecc.quant.ptq import QuantizeConfig, quantize_module

    quantize_module(q, QuantizeConfig(scheme="int8"), [{"x": np.ones((1, 6, 6, 3), np.float32)}])
    with pytest.raises(EdgeccError, match="prune needs a float model"):
        prune_module(q, None, score="l1", reconstruct=False)
    with pytest.raises(EdgeccError, match="LAYER:RATIO"):
        PassManager.parse("prune{ratios=[a] score=l1 reconstruct=false}").run(coupled_model())
