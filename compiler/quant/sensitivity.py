"""Per-layer sensitivity and mixed-precision selection.

``layer_sensitivity(module, calibration)`` quantizes one layer at a time (that
op's activations and weights, everything else float, with quantize/dequantize
around it) and measures the SQNR of the model outputs against float on the
calibration samples. The layers with the lowest SQNR are the ones the model
can least afford to quantize coarsely.

``choose_mixed_precision(module, calibration, base, budget_flash, budget_ram)``
starts from ``base`` (``int8`` or ``int8-w4``) and promotes the most sensitive
layers one by one to the higher precision (``int16x8`` activations for
``int8``; 8-bit weights for ``int8-w4``), keeping a promotion only while the
quantized model's estimated flash (constant bytes) and RAM (peak bytes of live
activations in program order) stay within the budgets.

Statistics are collected once on the float model and reused by every trial.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edgecc.ir.core import Module, Operation
from edgecc.ir.diagnostics import EdgeccError
from edgecc.ir.types import TensorType
from edgecc.quant.graph import WEIGHTED, clone_module, run_observed
from edgecc.quant.ptq import SAME_SCALE, QuantizeConfig, _Planner, quantize_module

#: scheme a layer is promoted to, by base scheme
PROMOTION = {"int8": "int16x8", "int8-w4": "int8"}


@dataclass
class LayerSensitivity:
    index: int
    name: str
    op: str
    sqnr_db: float


@dataclass
class MixedPrecisionResult:
    base: str
    promoted: list[LayerSensitivity] = field(default_factory=list)
    flash: int = 0
    ram: int = 0
    sensitivity: list[LayerSensitivity] = field(default_factory=list)
    #: op (of the module given) -> scheme for ``QuantizeConfig.overrides``
    overrides: dict[Operation, str] = field(default_factory=dict)
    #: calibration statistics of the module given (reusable by ``quantize_module(stats=...)``)
    stats: dict = field(default_factory=dict)


def flash_bytes(module: Module) -> int:
    """Bytes of every constant (weights, biases, quantization tables) as stored."""
    return sum(op.result.type.nbytes for op in module.func.body if op.name == "builtin.constant")


def ram_bytes(module: Module) -> int:
    """Peak bytes of live non-constant tensors when the ops run in program order."""
    ops = list(module.func.body)
    last: dict = {}
    for i, op in enumerate(ops):
        for v in op.operands:
            last[v] = i
    live = {a: a.type.nbytes for a in module.func.arguments if isinstance(a.type, TensorType)}
    peak = sum(live.values())
    for i, op in enumerate(ops):
        if op.name == "builtin.constant":
            continue
        for r in op.results:
            if isinstance(r.type, TensorType):
                live[r] = r.type.nbytes
        peak = max(peak, sum(live.values()))
        for v in op.operands:
            if last.get(v) == i and v in live and op.name != "func.return":
                del live[v]
    return peak


def _candidates(module: Module, config: QuantizeConfig, stats) -> list[Operation]:
    planner = _Planner(module, config, stats, {})
    planner.decide()
    return [op for op in planner.op_scheme if op.name in WEIGHTED or op.name not in SAME_SCALE]


def _label(op: Operation, index: int) -> str:
    from edgecc.quant.report import op_label

    return op_label(op, index)


def _output_sqnr(ref: list[list[np.ndarray]], module: Module, samples) -> float:
    from edgecc.quant.report import _real, quantized_feeds, sqnr_db

    sig = noise = 0.0
    outs = module.func.outputs
    for s, fo in zip(samples, ref):
        qo = run_observed(module, quantized_feeds(module, s))
        for v, f, q in zip(outs, fo, qo):
            f64 = np.asarray(f, dtype=np.float64)
            d = _real(v, q).astype(np.float64) - f64
            sig += float(np.sum(f64 * f64))
            noise += float(np.sum(d * d))
    return sqnr_db(sig, noise)


def _prepare(module: Module, calibration, samples: int | None, config: QuantizeConfig):
    from edgecc.quant.calibrate import collect_statistics, load_calibration

    data = load_calibration(calibration, module)
    origin = [op.operands[0] for op in module.func.body if op.name in WEIGHTED]
    stats = collect_statistics(module, data, channel_values=origin, progress=config.progress)
    evals = data[:samples] if samples else data
    ref = [run_observed(module, s) for s in evals]
    return stats, evals, ref


def _trial(module: Module, stats, config: QuantizeConfig, **overrides) -> Module:
    """A quantized copy of ``module`` (statistics translated to the copy)."""
    copy, vmap = clone_module(module)
    ops = {op: new for op, new in zip(module.func.body, copy.func.body)}
    cfg = QuantizeConfig(**{**config.__dict__, "equalize": False})
    if "only" in overrides:
        cfg.only = {ops[o] for o in overrides["only"]}
    if "overrides" in overrides:
        cfg.overrides = {ops[o]: s for o, s in overrides["overrides"].items()}
    quantize_module(copy, cfg, stats={vmap[v]: o for v, o in stats.items() if v in vmap})
    return copy


def layer_sensitivity(module: Module, calibration, scheme: str = "int8", *,
                      config: QuantizeConfig | None = None, samples: int | None = 32,
                      _prepared=None) -> list[LayerSensitivity]:
    """Output SQNR with only one layer quantized, for every quantizable layer (lowest first)."""
    config = config or QuantizeConfig(scheme=scheme)
    config.check()
    stats, evals, ref = _prepared or _prepare(module, calibration, samples, config)
    index = {op: i for i, op in enumerate(module.func.body)}
    out = []
    for op in _candidates(module, config, stats):
        q = _trial(module, stats, config, only={op})
        out.append(LayerSensitivity(index[op], _label(op, index[op]), op.name.split(".", 1)[-1],
                                    _output_sqnr(ref, q, evals)))
    return sorted(out, key=lambda s: (s.sqnr_db, s.index))


def parse_bytes(text: str | int | None) -> int | None:
    """``"64k"``, ``"1.5M"``, ``"2048"`` (bytes; k = 1024) -> int; empty -> None."""
    if text is None or text == "" or text == 0:
        return None
    if isinstance(text, int):
        return text
    t = text.strip().lower().removesuffix("b").removesuffix("i")
    mult = {"k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}.get(t[-1:], 1)
    if mult != 1:
        t = t[:-1]
    try:
        value = float(t)
    except ValueError:
        raise EdgeccError(f"cannot read the byte size '{text}' (examples: 65536, 64k, 1.5M)") from None
    if value < 0:
        raise EdgeccError(f"byte size must not be negative, got '{text}'")
    return int(value * mult)


def choose_mixed_precision(module: Module, calibration, base: str = "int8", *, budget_flash=None,
                           budget_ram=None, config: QuantizeConfig | None = None, samples: int | None = 32,
                           max_layers: int | None = None, min_gain_db: float = 0.0) -> MixedPrecisionResult:
    """Which layers to promote within the budgets (see the module docstring)."""
    if base not in PROMOTION:
        raise EdgeccError(f"mixed precision starts from int8 or int8-w4, got '{base}'")
    flash_limit, ram_limit = parse_bytes(budget_flash), parse_bytes(budget_ram)
    if flash_limit is None and ram_limit is None and max_layers is None:
        raise EdgeccError("mixed-precision needs a budget (budget-flash and/or budget-ram) or a layer count")
    config = QuantizeConfig(**{**(config or QuantizeConfig()).__dict__, "scheme": base})
    config.check()
    prepared = _prepare(module, calibration, samples, config)
    stats, evals, ref = prepared
    ranking = layer_sensitivity(module, calibration, base, config=config, _prepared=prepared)
    ops = list(module.func.body)
    high = PROMOTION[base]
    chosen: dict[Operation, str] = {}
    q = _trial(module, stats, config)
    result = MixedPrecisionResult(base, flash=flash_bytes(q), ram=ram_bytes(q), sensitivity=ranking,
                                  stats=stats)

    def over(flash: int, ram: int) -> bool:
        return ((flash_limit is not None and flash > flash_limit)
                or (ram_limit is not None and ram > ram_limit))

    if over(result.flash, result.ram):
        fb = f" (budget {flash_limit})" if flash_limit is not None else ""
        rb = f" (budget {ram_limit})" if ram_limit is not None else ""
        raise EdgeccError(f"the {base} model already exceeds the budget: flash {result.flash} B{fb}, "
                          f"RAM {result.ram} B{rb}")
    current = _output_sqnr(ref, q, evals) if min_gain_db > 0 else None
    for layer in ranking:
        if max_layers is not None and len(result.promoted) >= max_layers:
            break
        op = ops[layer.index]
        trial = dict(chosen)
        trial[op] = high
        q = _trial(module, stats, config, overrides=trial)
        flash, ram = flash_bytes(q), ram_bytes(q)
        if over(flash, ram):
            continue
        if current is not None:
            s = _output_sqnr(ref, q, evals)
            if s < current + min_gain_db:
                continue
            current = s
        chosen = trial
        result.promoted.append(layer)
        result.flash, result.ram = flash, ram
    result.overrides = chosen
    return result


__all__ = ["LayerSensitivity", "MixedPrecisionResult", "PROMOTION", "choose_mixed_precision", "flash_bytes",
           "layer_sensitivity", "parse_bytes", "ram_bytes"]
