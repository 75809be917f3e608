"""prune: structured pruning of whole output channels, with least-squares reconstruction.

``prune{ratio=0.5 multiple=4 calib=calib.npz}`` removes, in
every channel group (``channels``: a layer, or the layers coupled by
residual adds / concats / squeeze-excite multiplies), the lowest-scoring
fraction ``ratio`` of output channels (``scores``), together with the
matching channels of depthwise convs, pads, pools and activations and the
input channels of every consumer. Then each consumer, in graph order, is
re-fitted by least squares to reproduce its original output from the pruned
model's activations (``reconstruct``). The result is an ordinary float nn
graph: quantize it and emit it like any other.

Options: ``ratio`` (every group), ``ratios=[conv1:0.3,fc1:0.7]`` (per layer,
by name; a group takes the smallest ratio named among its layers), ``keep``
(layers never pruned), ``multiple`` (kept channels per group rounded up to
a multiple, so CMSIS-NN's 4/8-channel fast paths stay on). Channels that
reach a graph output or an op the analysis cannot follow are never removed.

Statistics: ``prune.channels-removed``, ``prune.params-before/after``,
``prune.macs-before/after``, ``prune.layers-refitted``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar, Literal

import numpy as np

from edgecc.ir.core import Module, Operation
from edgecc.ir.diagnostics import EdgeccError
from edgecc.ir.types import TensorType
from edgecc.passes.manager import Pass, PassContext

#: patch rows per sample and layer used by the least-squares refit (evenly strided over the output map)
REFIT_ROWS = 256


def layer_name(op: Operation) -> str:
    """The name a user gives a layer: its location label, else its result's name."""
    return op.loc.label or (op.results[0].name_hint if op.results else "") or op.name


def layer_names(op: Operation) -> set[str]:
    """Every name that selects ``op`` in options: its label, each fused node name, its result's name."""
    label = layer_name(op)
    hint = op.results[0].name_hint if op.results else None
    return {label, *label.split("+"), *([hint] if hint else [])}


def parse_ratios(items: tuple[str, ...]) -> dict[str, float]:
    out = {}
    for item in items:
        name, sep, value = item.rpartition(":")
        try:
            r = float(value)
        except ValueError:
            r = -1.0
        if not sep or not name or not 0.0 <= r < 1.0:
            raise EdgeccError(f"prune: ratios entry '{item}' must be LAYER:RATIO with 0 <= RATIO < 1")
        out[name] = r
    return out


@dataclass
class PruneResult:
    """What ``prune_module`` did."""

    removed: int = 0
    #: layer name -> (channels before, after) of every source layer
    channels: dict[str, tuple[int, int]] = field(default_factory=dict)
    refitted: list[str] = field(default_factory=list)


def choose_removed(g, scores: dict[int, float], ratio: float, ratios: dict[str, float],
                   keep: set[str], multiple: int) -> set[int]:
    """The classes to remove: per group, the lowest scores, leaving a multiple of ``multiple`` channels."""
    removed: set[int] = set()
    classes = g.classes()
    for group in g.groups():
        sources = list(dict.fromkeys(op for c in group for op, _ in classes[c]))
        names = set().union(*(layer_names(op) for op in sources))
        if names & keep:
            continue
        named = [ratios[n] for n in names if n in ratios]
        r = min(named) if named else ratio
        total = sources[0].results[0].type.shape[-1]
        kept = min(total, max(multiple, math.ceil(total * (1.0 - r) / multiple) * multiple))
        n = min(total - kept, len(group))
        order = sorted(group, key=lambda c: (scores.get(c, 0.0), c))
        removed.update(order[:n])
    return removed


def prune_module(module: Module, samples: list | None, *, ratio: float = 0.5,
                 ratios: dict[str, float] | None = None, keep: tuple[str, ...] = (), multiple: int = 1,
                 score: str = "l2", reconstruct: bool = True, ridge: float = 1e-3) -> PruneResult:
    """Prune ``module`` in place (see the module docstring); ``samples``: calibration feeds."""
    from edgecc.compress.activations import collect_inputs, patches
    from edgecc.compress.channels import analyze, remove
    from edgecc.compress.reconstruct import refit
    from edgecc.compress.scores import activation_scores, magnitude_scores
    from edgecc.rewrite.pattern import constant_array

    for op in module.ops:
        if op.name in ("nn.quantize", "nn.dequantize") or any(
                isinstance(v.type, TensorType) and v.type.is_quantized for v in op.results):
            raise EdgeccError(f"prune needs a float model (prune before quantize); {op.name} "
                              f"'{layer_name(op)}' is quantized")
    if not 0.0 <= ratio < 1.0 or multiple < 1:
        raise EdgeccError("prune: ratio must be in [0, 1) and multiple >= 1")
    ratios = ratios or {}
    g = analyze(module)
    names = set().union(*(layer_names(op) for op in g.slots)) if g.slots else set()
    for n in (*ratios, *keep):
        if n not in names:
            listed = ", ".join(sorted(layer_name(op) for op in g.slots)) or "none"
            raise EdgeccError(f"prune: no prunable layer named '{n}' (layers: {listed})")
    needs_data = score == "activation" or reconstruct
    if needs_data and not samples:
        raise EdgeccError(f"prune with score={score} reconstruct={str(reconstruct).lower()} needs "
                          "calibration data: calib=FILE.npz|DIR or the context option 'calibration'")
    consumers = list(g.consumed)
    inputs = collect_inputs(module, samples, consumers) if needs_data else {}
    scores = activation_scores(g, inputs) if score == "activation" else magnitude_scores(g, score)
    removed = choose_removed(g, scores, ratio, ratios, set(keep), multiple)
    res = PruneResult(removed=len(removed))
    before = {op: op.results[0].type.shape[-1] for op in g.slots}
    targets = {}
    if reconstruct:
        for op in consumers:
            w = constant_array(op.operands[1]).astype(np.float64)
            b = constant_array(op.operands[2]) if len(op.operands) > 2 else np.zeros(w.shape[0])
            rows = patches(op, inputs[op], REFIT_ROWS)
            targets[op] = rows @ w.reshape(w.shape[0], -1).T + b
    out_keep = {op: np.array([g.cls(s) not in removed for s in ids]) for op, ids in g.slots.items()}
    renamed = remove(module, g, removed)
    for op, n in before.items():
        res.channels[layer_name(op)] = (n, int(out_keep[op].sum()))
    if not reconstruct or not removed:
        return res
    first = next((i for i, op in enumerate(consumers) if op in renamed), None)
    for op in consumers[first:] if first is not None else []:
        new = renamed.get(op, op)
        x = collect_inputs(module, samples, [new])[new]
        rows = patches(new, x, REFIT_ROWS)
        w0 = constant_array(new.operands[1])
        b0 = constant_array(new.operands[2]) if len(new.operands) > 2 else np.zeros(w0.shape[0], w0.dtype)
        w, b = refit(rows, targets[op][:, out_keep[op]] if op in out_keep else targets[op],
                     w0.reshape(w0.shape[0], -1), b0, ridge)
        _set_weights(module, new, w.reshape(w0.shape).astype(w0.dtype), b.astype(w0.dtype))
        res.refitted.append(layer_name(new))
    return res


def _set_weights(module: Module, op: Operation, w: np.ndarray, b: np.ndarray) -> None:
    """Give ``op`` new constant weight and bias operands (a bias is added if it had none)."""
    from edgecc.dialects.builtin import ConstantOp

    old = list(op.operands[1:])
    wc = ConstantOp.from_array(w, op.operands[1].type.element, loc=op.loc, name=op.operands[1].name_hint)
    bc = ConstantOp.from_array(b, op.operands[1].type.element, loc=op.loc,
                               name=op.operands[2].name_hint if len(op.operands) > 2 else None)
    module.func.body.insert_before(op, wc)
    module.func.body.insert_before(op, bc)
    op.set_operands([op.operands[0], wc.result, bc.result])
    for v in old:
        if not v.uses and v.defining_op() is not None:
            v.defining_op().erase()


@dataclass
class Prune(Pass):
    """Remove the least important output channels of conv/fc layers; refit the next ones by least squares."""

    name: ClassVar[str] = "prune"
    ratio: float = field(default=0.5, metadata={"doc": "fraction of output channels removed in every group"})
    ratios: tuple[str, ...] = field(default=(), metadata={
        "doc": "per-layer ratios LAYER:RATIO (a coupled group takes the smallest)"})
    keep: tuple[str, ...] = field(default=(), metadata={"doc": "layers whose channels are never removed"})
    multiple: int = field(default=1, metadata={"doc": "kept channels per group rounded up to a multiple"})
    score: Literal["l2", "l1", "activation"] = field(default="l2", metadata={
        "doc": "channel importance: weight L2/L1 norm, or weight x input activation norm at the consumers"})
    reconstruct: bool = field(default=True, metadata={
        "doc": "refit the consumers' weights and biases by least squares on calibration data"})
    ridge: float = field(default=1e-3, metadata={"doc": "refit regularisation towards the sliced weights"})
    calib: str = field(default="", metadata={"doc": "calibration data: FILE.npz or DIR of <input>.npy"})
    samples: int = field(default=256, metadata={"doc": "calibration samples used (0: all)"})

    def run(self, module: Module, ctx: PassContext) -> bool:
        from edgecc.analysis.stats import module_stats

        samples = None
        if self.score == "activation" or self.reconstruct:
            samples = load_samples(self.calib or ctx.options.get("calibration"), module, self.samples)
        before = module_stats(module)
        res = prune_module(module, samples, ratio=self.ratio, ratios=parse_ratios(self.ratios),
                           keep=self.keep, multiple=self.multiple, score=self.score,
                           reconstruct=self.reconstruct, ridge=self.ridge)
        after = module_stats(module)
        for name, (n0, n1) in res.channels.items():
            if n1 != n0:
                ctx.log(f"{name}: {n0} -> {n1} channels")
        ctx.stat("channels-removed", sum(n0 - n1 for n0, n1 in res.channels.values()))
        ctx.stat("params-before", before.param_count)
        ctx.stat("params-after", after.param_count)
        ctx.stat("macs-before", before.total_macs)
        ctx.stat("macs-after", after.total_macs)
        ctx.stat("layers-refitted", len(res.refitted))
        return res.removed > 0


def load_samples(source, module: Module, limit: int) -> list | None:
    """Calibration samples from a path, mapping or sample list (None when there is no source)."""
    if source is None or source == "":
        return None
    from edgecc.quant.calibrate import load_calibration

    return load_calibration(source, module, limit or None)


__all__ = ["Prune", "PruneResult", "choose_removed", "layer_name", "layer_names", "parse_ratios",
           "prune_module"]
