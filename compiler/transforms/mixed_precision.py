"""mixed-precision: quantize with the most sensitive layers kept at a higher precision.

``mixed-precision{base=int8 budget-ram=64k}`` ranks the layers by how much
quantizing each one alone hurts the model output (SQNR on the calibration
set, ``edgecc.quant.sensitivity``), promotes the most sensitive ones to
int16x8 activations (``base=int8``) or 8-bit weights (``base=int8-w4``) while
the quantized model's flash (constants) and RAM (peak live activations) stay
within the budgets, then quantizes the graph like ``quantize``. Calibration
data as for ``quantize`` (context option ``calibration`` or ``calib=FILE``).

Statistics: ``mixed-precision.layers-promoted``, ``mixed-precision.flash-bytes``,
``mixed-precision.ram-bytes``, plus the ``quantize`` counters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

from edgecc.ir.core import Module
from edgecc.ir.diagnostics import EdgeccError
from edgecc.passes.manager import Pass, PassContext


@dataclass
class MixedPrecision(Pass):
    """Keep the most sensitive layers at int16x8 (or 8-bit weights over int4) within flash/RAM budgets."""

    name: ClassVar[str] = "mixed-precision"
    base: Literal["int8", "int8-w4"] = field(default="int8", metadata={
        "doc": "scheme of the other layers: int8 (promote to int16x8) or int8-w4 (promote to 8-bit weights)"})
    budget_flash: str = field(default="", metadata={"doc": "flash budget in bytes (k/M suffixes), '' = none"})
    budget_ram: str = field(default="", metadata={"doc": "RAM budget in bytes (k/M suffixes), '' = none"})
    layers: int = field(default=0, metadata={"doc": "promote at most this many layers (0: budget only)"})
    calibration: Literal["minmax", "percentile", "entropy", "mse"] = field(
        default="minmax", metadata={"doc": "how activation ranges are chosen"})
    percentile: float = field(default=99.99, metadata={"doc": "percentile kept by calibration=percentile"})
    per_channel: bool = field(default=True, metadata={"doc": "per-output-channel weight scales"})
    io: Literal["float", "int"] = field(default="float", metadata={"doc": "graph interface, as quantize"})
    calib: str = field(default="", metadata={"doc": "calibration data: FILE.npz or DIR of <input>.npy"})
    samples: int = field(default=32, metadata={"doc": "calibration samples used to measure sensitivity"})

    def run(self, module: Module, ctx: PassContext) -> bool:
        from edgecc.quant.ptq import QuantizeConfig, has_qdq, quantize_module
        from edgecc.quant.sensitivity import choose_mixed_precision

        if has_qdq(module):
            raise EdgeccError("mixed-precision needs a float model; this one is already quantized (QDQ)")
        source = self.calib or ctx.options.get("calibration")
        if source is None:
            raise EdgeccError("mixed-precision needs calibration data: calib=FILE.npz|DIR or the "
                              "context option 'calibration'")
        if self.layers < 0 or self.samples < 1:
            raise EdgeccError("layers must be >= 0 and samples >= 1")
        if not self.budget_flash and not self.budget_ram and not self.layers:
            raise EdgeccError("mixed-precision needs budget-flash, budget-ram or layers")
        if not self.calib:
            from edgecc.quant.calibrate import load_calibration

            source = load_calibration(source, module)  # an iterator is read once
        config = QuantizeConfig(scheme=self.base, calibration=self.calibration, percentile=self.percentile,
                                per_channel=self.per_channel, io=self.io,
                                progress=ctx.options.get("progress"))
        res = choose_mixed_precision(module, source, self.base, budget_flash=self.budget_flash or None,
                                     budget_ram=self.budget_ram or None, config=config, samples=self.samples,
                                     max_layers=self.layers or None)
        for layer in res.promoted:
            ctx.log(f"promoted {layer.op} '{layer.name}' (alone at {self.base}: {layer.sqnr_db:.1f} dB)")
        config.overrides = res.overrides
        q = quantize_module(module, config, stats=res.stats)
        ctx.stat("layers-promoted", len(res.promoted))
        ctx.stat("flash-bytes", res.flash)
        ctx.stat("ram-bytes", res.ram)
        ctx.stat("ops-quantized", len(q.quantized))
        ctx.stat("ops-kept-float", len(q.kept_float))
        return True


__all__ = ["MixedPrecision"]
