"""quantize / qdq-fold: post-training quantization passes (see docs/quantization.md).

``quantize{scheme=int8 calibration=minmax ...}`` turns a float nn graph into
integer ops with quantized tensor types (``edgecc.quant.ptq``). Calibration
data comes from the pass-context option ``calibration`` (an iterable of feed
dicts or arrays, a mapping of stacked arrays, or a path) or the ``calib``
option (an ``.npz`` keyed by input name, or a directory of ``<input>.npy``);
without data the ranges come from ``quant.range`` attributes. A graph that is
already quantized with QDQ ops is folded instead (``qdq-fold``), keeping its
own scales. ``scheme=dynamic-int8`` and ``scheme=fp16-weights`` quantize the
weights only (``edgecc.quant.dynamic``).

Statistics: ``quantize.ops-quantized``, ``quantize.ops-kept-float`` (and
``quantize.kept-float.<op>`` per kind), ``quantize.inserted-<q|dq|rq>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

from edgecc.ir.core import Module
from edgecc.ir.diagnostics import EdgeccError
from edgecc.passes.manager import Pass, PassContext


def _report_kept(ctx: PassContext, ops, reasons=None) -> None:
    ctx.stat("ops-kept-float", len(ops))
    for op in ops:
        ctx.stat(f"kept-float.{op.name.split('.', 1)[-1]}")
        why = f" ({reasons[op]})" if reasons and op in reasons else ""
        ctx.log(f"kept float: {op.name} at {op.loc.describe()}{why}")


def run_fold(module: Module, ctx: PassContext) -> bool:
    from edgecc.quant.qdq import fold_qdq

    res = fold_qdq(module)
    ctx.stat("ops-folded", len(res.folded))
    if res.requantize:
        ctx.stat("inserted-rq", res.requantize)
    _report_kept(ctx, res.kept_float)
    if res.stored_bias:
        ctx.stat("stored-bias", len(res.stored_bias))
    for op, why in res.rederived_bias:
        ctx.stat("rederived-bias")
        ctx.log(f"re-derived the int32 bias of {op.name} at {op.loc.describe()}: {why}")
    ctx.log(res.summary())
    return bool(res.folded or res.pushed)


@dataclass
class Quantize(Pass):
    """Post-training quantization to TFLite-style int8 / int16x8 / int4-weight integer ops."""

    name: ClassVar[str] = "quantize"
    scheme: Literal["int8", "int16x8", "int8-w4", "dynamic-int8", "fp16-weights"] = field(
        default="int8", metadata={"doc": "int8 | int16x8 (int16 activations) | int8-w4 (4-bit weights) | "
                                         "dynamic-int8 / fp16-weights (weights only)"})
    calibration: Literal["minmax", "percentile", "entropy", "mse"] = field(
        default="minmax", metadata={"doc": "how activation ranges are chosen from the statistics"})
    percentile: float = field(default=99.99, metadata={"doc": "percentile kept by calibration=percentile"})
    per_channel: bool = field(default=True, metadata={"doc": "per-output-channel weight scales"})
    io: Literal["float", "int"] = field(
        default="float", metadata={"doc": "float: quantize/dequantize at the graph edges; int: integer "
                                          "inputs and outputs"})
    bias_correction: bool = field(default=False, metadata={
        "doc": "subtract the mean output shift caused by weight rounding from the bias"})
    equalize: bool = field(default=False, metadata={
        "doc": "cross-layer equalization of consecutive conv/depthwise layers first"})
    calib: str = field(default="", metadata={"doc": "calibration data: FILE.npz or DIR of <input>.npy"})
    samples: int = field(default=0, metadata={"doc": "use at most this many calibration samples (0: all)"})
    layers: tuple[str, ...] = field(default=(), metadata={
        "doc": "per-layer schemes LAYER:SCHEME, e.g. fc1:int8-w4 (4-bit weights for that layer only)"})

    def run(self, module: Module, ctx: PassContext) -> bool:
        from edgecc.quant.ptq import QuantizeConfig, has_qdq, quantize_module

        if self.scheme == "dynamic-int8":
            from edgecc.quant.dynamic import dynamic_int8

            res = dynamic_int8(module, per_channel=self.per_channel)
            ctx.stat("weights-quantized", res.weights)
            ctx.log(res.summary())
            return res.weights > 0
        if self.scheme == "fp16-weights":
            from edgecc.quant.dynamic import fp16_weights

            res = fp16_weights(module)
            ctx.stat("weights-fp16", res.weights)
            ctx.log(res.summary())
            return res.weights > 0
        if self.samples < 0:
            raise EdgeccError(f"samples must be >= 0, got {self.samples}")
        if has_qdq(module):
            return run_fold(module, ctx)
        source = ctx.options.get("calibration")
        if self.calib:
            if source is not None:
                ctx.log("calib= option overrides the context's calibration data")
            source = self.calib
        if source is not None and self.samples:
            from edgecc.quant.calibrate import load_calibration

            source = load_calibration(source, module, limit=self.samples)
        config = QuantizeConfig(scheme=self.scheme, calibration=self.calibration, percentile=self.percentile,
                                per_channel=self.per_channel, io=self.io,
                                bias_correction=self.bias_correction, equalize=self.equalize,
                                progress=ctx.options.get("progress"), overrides=layer_schemes(module, self.layers))
        res = quantize_module(module, config, source)
        ctx.stat("ops-quantized", len(res.quantized))
        for key, n in res.inserted.items():
            if n:
                ctx.stat(f"inserted-{ {'quantize': 'q', 'dequantize': 'dq', 'requantize': 'rq'}[key]}", n)
        if res.equalized_pairs:
            ctx.stat("equalized-pairs", res.equalized_pairs)
        if res.bias_corrections:
            ctx.stat("bias-corrected", len(res.bias_corrections))
        _report_kept(ctx, res.kept_float)
        ctx.log(res.summary())
        return bool(res.quantized) or self.io == "int"


def layer_schemes(module: Module, items: tuple[str, ...]) -> dict:
    """``quantize{layers=[NAME:SCHEME]}`` -> {op: scheme}; a name selects a layer as in the compression passes."""
    from edgecc.compress.layers import WEIGHT_OPS
    from edgecc.compress.layers import layer_name as weight_name
    from edgecc.compress.prune import layer_names

    out = {}
    ops = [op for op in module.func.body if op.name in WEIGHT_OPS]
    for item in items:
        name, sep, scheme = item.rpartition(":")
        if not sep or not name or scheme not in ("int8", "int8-w4", "int16x8"):
            raise EdgeccError(f"quantize: layers entry '{item}' must be LAYER:SCHEME with SCHEME int8, "
                              "int8-w4 or int16x8")
        hits = [op for op in ops if name == weight_name(op) or name in layer_names(op)]
        if not hits:
            raise EdgeccError(f"quantize: no weighted layer named '{name}'")
        out.update(dict.fromkeys(hits, scheme))
    return out


@dataclass
class QDQFold(Pass):
    """Fold dequantize -> float op -> quantize (QDQ models) into integer ops, keeping their scales."""

    name: ClassVar[str] = "qdq-fold"

    def run(self, module: Module, ctx: PassContext) -> bool:
        return run_fold(module, ctx)


__all__ = ["QDQFold", "Quantize"]
