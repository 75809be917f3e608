"""Accuracy report: what quantization did to a model, layer by layer and class by class.

``quantization_report(module, calibration=..., evaluation=...)`` quantizes a
copy of the float ``module`` (or folds it, for a QDQ model) and runs both on
the evaluation samples (the calibration samples when no evaluation data is
given): the float model with the float reference interpreter, the quantized
one with the integer reference interpreter (bit-exact with TFLite Micro).
It reports

* per layer: the SQNR of the quantized op's (dequantized) result against the
  float value, ``10 log10(sum f^2 / sum (f - q)^2)`` dB over all samples, and the
  largest absolute error (errors accumulate through the network: a layer's
  figure includes everything before it);
* per output: SQNR, max / mean absolute error, and top-1 agreement (the share
  of samples whose arg-max matches float) for outputs with a class axis;
* with labels: accuracy of float and quantized overall and per class, and the
  classes that lose most.

``Report.text()`` formats it for people, ``Report.to_dict()`` / ``to_json()``
for tools (``edgecc quantize-report``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from edgecc.analysis.stats import short_label
from edgecc.ir.core import Module, Operation, Value
from edgecc.ir.diagnostics import EdgeccError
from edgecc.ir.types import QuantizedType, TensorType
from edgecc.quant.schemes import dequantize_array, quantize_array


@dataclass
class LayerStat:
    index: int
    name: str
    op: str
    type: str
    sqnr_db: float
    max_abs_error: float
    mean_abs_error: float


@dataclass
class OutputStat:
    name: str
    sqnr_db: float
    max_abs_error: float
    mean_abs_error: float
    top1_agreement: float | None


@dataclass
class ClassStat:
    label: int
    count: int
    float_accuracy: float
    quant_accuracy: float

    @property
    def delta(self) -> float:
        return self.quant_accuracy - self.float_accuracy


@dataclass
class Accuracy:
    float_accuracy: float
    quant_accuracy: float
    per_class: list[ClassStat]
    #: labels of the classes losing most accuracy (largest drop first; only drops)
    worst: list[int]


@dataclass
class Report:
    model: str
    scheme: str
    samples: int
    executor: str
    layers: list[LayerStat] = field(default_factory=list)
    outputs: list[OutputStat] = field(default_factory=list)
    accuracy: Accuracy | None = None
    kept_float: list[str] = field(default_factory=list)
    quantized_ops: int = 0

    def to_dict(self) -> dict:
        d = asdict(self)
        if self.accuracy is not None:
            for c, src in zip(d["accuracy"]["per_class"], self.accuracy.per_class):
                c["delta"] = src.delta
        return _clean(d)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def text(self, max_layers: int | None = None) -> str:
        lines = [f"quantization report: {self.model}",
                 f"  scheme {self.scheme}, {self.quantized_ops} ops quantized, executor: {self.executor}, "
                 f"{self.samples} samples"]
        if self.kept_float:
            lines.append(f"  kept float: {', '.join(self.kept_float)}")
        lines.append("")
        lines.append("outputs")
        lines.append(f"  {'name':<24} {'SQNR dB':>8} {'max |err|':>10} {'mean |err|':>10} "
                     f"{'top-1 agree':>11}")
        for o in self.outputs:
            agree = f"{100 * o.top1_agreement:10.1f}%" if o.top1_agreement is not None else f"{'-':>11}"
            lines.append(f"  {short_label(o.name, 24):<24} {_db(o.sqnr_db):>8} {o.max_abs_error:10.4g} "
                         f"{o.mean_abs_error:10.4g} {agree}")
        if self.accuracy is not None:
            a = self.accuracy
            lines += ["", "accuracy",
                      f"  float {100 * a.float_accuracy:.2f}%   quantized {100 * a.quant_accuracy:.2f}%   "
                      f"change {100 * (a.quant_accuracy - a.float_accuracy):+.2f} pp",
                      "", "per class",
                      f"  {'class':>5} {'count':>6} {'float %':>8} {'quant %':>8} {'change pp':>9}"]
            for c in a.per_class:
                mark = "  <-" if c.label in a.worst else ""
                lines.append(f"  {c.label:>5} {c.count:>6} {100 * c.float_accuracy:8.2f} "
                             f"{100 * c.quant_accuracy:8.2f} {100 * c.delta:+9.2f}{mark}")
            if a.worst:
                lines.append(f"  classes losing most: {', '.join(str(w) for w in a.worst)}")
            else:
                lines.append("  no class loses accuracy")
        layers = self.layers
        if max_layers is not None:
            layers = sorted(self.layers, key=lambda x: x.sqnr_db)[:max_layers]
        lines += ["", "layers" + (" (lowest SQNR first)" if max_layers is not None else ""),
                  f"  {'#':>3} {'op':<20} {'SQNR dB':>8} {'max |err|':>10}  name"]
        for s in layers:
            lines.append(f"  {s.index:>3} {s.op:<20} {_db(s.sqnr_db):>8} {s.max_abs_error:10.4g}  "
                         f"{short_label(s.name, 60)}")
        return "\n".join(lines) + "\n"


def _clean(x):
    if isinstance(x, float):
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        if math.isnan(x):
            return None
        return x
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_clean(v) for v in x]
    return x


def _db(x: float) -> str:
    return "inf" if math.isinf(x) else f"{x:.2f}"


def sqnr_db(signal_power: float, noise_power: float) -> float:
    if noise_power <= 0:
        return math.inf
    if signal_power <= 0:
        return -math.inf
    return 10.0 * math.log10(signal_power / noise_power)


class _Acc:
    __slots__ = ("sig", "noise", "max", "abs_sum", "n")

    def __init__(self) -> None:
        self.sig = self.noise = self.max = self.abs_sum = 0.0
        self.n = 0

    def add(self, f: np.ndarray, q: np.ndarray) -> None:
        f = np.asarray(f, dtype=np.float64)
        d = np.asarray(q, dtype=np.float64) - f
        self.sig += float(np.sum(f * f))
        self.noise += float(np.sum(d * d))
        if d.size:
            self.max = max(self.max, float(np.max(np.abs(d))))
            self.abs_sum += float(np.sum(np.abs(d)))
            self.n += d.size

    def add_rows(self, f: np.ndarray, q: np.ndarray) -> None:
        """``add(f[i:i + 1], q[i:i + 1])`` for each sample row ``i``, vectorised (same sums)."""
        n = len(f)
        f = np.asarray(f, dtype=np.float64).reshape(n, -1)
        d = np.asarray(q, dtype=np.float64).reshape(n, -1) - f
        if not d.size:
            return
        ad = np.abs(d)
        for sig, noise, mx, s in zip(np.sum(f * f, axis=1).tolist(), np.sum(d * d, axis=1).tolist(),
                                     ad.max(axis=1).tolist(), ad.sum(axis=1).tolist()):
            self.sig += sig
            self.noise += noise
            self.max = max(self.max, mx)
            self.abs_sum += s
        self.n += d.size

    @property
    def sqnr(self) -> float:
        return sqnr_db(self.sig, self.noise)

    @property
    def mean(self) -> float:
        return self.abs_sum / self.n if self.n else 0.0


def _real(v: Value, arr: np.ndarray) -> np.ndarray:
    t = v.type
    if isinstance(t, TensorType) and isinstance(t.element, QuantizedType):
        return dequantize_array(arr, t.element)
    return np.asarray(arr, dtype=np.float32)


def op_label(op: Operation, index: int) -> str:
    loc = op.loc
    if loc.fused:
        names = [p.name for p in loc.fused if p.name]
        if names:
            return "+".join(names)
    if loc.name:
        return loc.name
    hint = op.results[0].name_hint if op.results else None
    return f"%{hint}" if hint else f"{op.name}#{index}"


def quantized_feeds(module: Module, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Float feeds quantized to the types of ``module``'s quantized arguments (integer interface)."""
    from edgecc.interp.reference import feed_name

    out = {}
    for i, a in enumerate(module.func.arguments):
        n = feed_name(a, i)
        x = feeds[n]
        t = a.type
        if isinstance(t.element, QuantizedType) and np.asarray(x).dtype.kind == "f":
            x = quantize_array(x, t.element)
        out[n] = x
    return out


def compare_modules(float_module: Module, quant_module: Module, vmap: dict[Value, Value],
                    samples: list[dict[str, np.ndarray]], *, simulate: bool = False,
                    ) -> tuple[list[LayerStat], list[_Acc], list[np.ndarray], list[np.ndarray]]:
    """Per-layer and per-output statistics of ``quant_module`` against ``float_module``.

    ``vmap`` maps float values to quantized-module values. Returns the layer
    stats, the output accumulators and the stacked outputs (float, quantized).
    """
    from edgecc.quant.graph import run_observed

    pairs: list[tuple[Value, Value, Operation, int]] = []
    qops = {id(op): i for i, op in enumerate(quant_module.func.body)}
    for i, op in enumerate(float_module.func.body):
        if op.name in ("builtin.constant", "func.return"):
            continue
        for r in op.results:
            qv = vmap.get(r)
            if qv is None or qv.defining_op() is None or id(qv.defining_op()) not in qops:
                continue
            if not (isinstance(qv.type, TensorType) and isinstance(qv.type.element, QuantizedType)):
                continue
            if not isinstance(r.type, TensorType) or not r.type.is_float:
                continue
            pairs.append((r, qv, qv.defining_op(), i))
    accs = [_Acc() for _ in pairs]
    wanted_f = {r for r, _, _, _ in pairs}
    wanted_q = {qv for _, qv, _, _ in pairs}
    n_out = len(float_module.func.outputs)
    out_accs = [_Acc() for _ in range(n_out)]
    f_outs: list[list[np.ndarray]] = [[] for _ in range(n_out)]
    q_outs: list[list[np.ndarray]] = [[] for _ in range(n_out)]
    qret = quant_module.func.outputs
    runners = None if simulate else _host_runners(float_module, quant_module, pairs, len(samples))
    if runners is not None:
        fr, qr = runners
        for start in range(0, len(samples), fr.n):
            chunk = samples[start:start + fr.n]
            k = len(chunk)
            fvals = {v: (a, b) for v, a, b in fr(chunk)}
            qvals = {v: (a, b) for v, a, b in qr([quantized_feeds(quant_module, s) for s in chunk])}
            for acc, (r, qv, _, _) in zip(accs, pairs):
                (f, fb), (q, qb) = fvals[r], qvals[qv]
                if fb and qb:
                    acc.add_rows(f[:k], _real(qv, q[:k]))
                else:  # one side computed from constants only: the same array for every sample
                    for i in range(k):
                        acc.add(f[i:i + 1] if fb else f, _real(qv, q[i:i + 1] if qb else q))
            for j in range(n_out):
                f = np.asarray(fr.outputs[j][:k], dtype=np.float32)
                q = _real(qret[j], qr.outputs[j][:k])
                out_accs[j].add_rows(f, q)
                f_outs[j].extend(f[i:i + 1] for i in range(k))
                q_outs[j].extend(q[i:i + 1] for i in range(k))
        samples = []
    for s in samples:
        fvals: dict[Value, np.ndarray] = {}
        qvals: dict[Value, np.ndarray] = {}
        fo = run_observed(float_module, s, lambda v, a: fvals.__setitem__(v, a), lambda v: v in wanted_f)
        qo = run_observed(quant_module, quantized_feeds(quant_module, s),
                          lambda v, a: qvals.__setitem__(v, a), lambda v: v in wanted_q, simulate=simulate)
        for acc, (r, qv, _, _) in zip(accs, pairs):
            if r in fvals and qv in qvals:
                acc.add(fvals[r], _real(qv, qvals[qv]))
        for k in range(n_out):
            f = np.asarray(fo[k], dtype=np.float32)
            q = _real(qret[k], qo[k])
            out_accs[k].add(f, q)
            f_outs[k].append(f)
            q_outs[k].append(q)
    layers = []
    for acc, (r, qv, qop, i) in zip(accs, pairs):
        layers.append(LayerStat(i, op_label(qop, i), qop.name.split(".", 1)[-1], str(qv.type.element.kind),
                                acc.sqnr, acc.max, acc.mean))
    return layers, out_accs, [np.stack(x) for x in f_outs], [np.stack(x) for x in q_outs]


def _host_runners(float_module: Module, quant_module: Module, pairs, count: int):
    """Batched host programs of both modules (``calibrate.batched_runner``), or None."""
    from edgecc.quant.calibrate import CALIBRATION_BATCH, batched_runner

    n = min(CALIBRATION_BATCH, count)
    if n < 2:
        return None
    fr = batched_runner(float_module, n, [r for r, _, _, _ in pairs])
    qr = batched_runner(quant_module, n, [qv for _, qv, _, _ in pairs]) if fr is not None else None
    return (fr, qr) if qr is not None else None


def _top1_agreement(f: np.ndarray, q: np.ndarray) -> float | None:
    if f.ndim < 2 or f.shape[-1] < 2:
        return None
    fa = f.reshape(-1, f.shape[-1]).argmax(-1)
    qa = q.reshape(-1, q.shape[-1]).argmax(-1)
    return float(np.mean(fa == qa))


def class_accuracy(labels: np.ndarray, f_pred: np.ndarray, q_pred: np.ndarray, worst: int = 3) -> Accuracy:
    labels = np.asarray(labels).reshape(-1).astype(np.int64)
    per = []
    for c in sorted(set(labels.tolist())):
        m = labels == c
        per.append(ClassStat(int(c), int(m.sum()), float(np.mean(f_pred[m] == c)),
                             float(np.mean(q_pred[m] == c))))
    drops = sorted((c for c in per if c.delta < 0), key=lambda c: (c.delta, c.label))
    return Accuracy(float(np.mean(f_pred == labels)), float(np.mean(q_pred == labels)), per,
                    [c.label for c in drops[:worst]])


def load_eval(source, module: Module) -> tuple[list[dict[str, np.ndarray]], np.ndarray | None]:
    """Evaluation samples and labels from an npz/dict with ``x`` (and optionally ``y``) or input names."""
    from edgecc.quant.calibrate import input_names, load_calibration

    labels = None
    if isinstance(source, (str, Path)):
        p = Path(source)
        if not p.is_file():
            raise EdgeccError(f"evaluation data {p} does not exist")
        from edgecc.ir.limits import load_arrays

        data = load_arrays(p, "evaluation data")
    elif isinstance(source, Mapping):
        data = dict(source)
    else:
        return load_calibration(source, module), None
    if "y" in data:
        labels = np.asarray(data.pop("y"))
    names = input_names(module)
    if "x" in data and len(names) == 1 and names[0] not in data:
        data = {names[0]: data.pop("x")}
    samples = load_calibration(data, module)
    if labels is not None and len(labels) != len(samples):
        raise EdgeccError(f"evaluation data has {len(samples)} samples but {len(labels)} labels")
    return samples, labels


def quantization_report(module: Module, *, calibration=None, evaluation=None, labels=None,
                        scheme: str = "int8", config=None, quantized: tuple[Module, dict] | None = None,
                        simulate: bool = False, model_name: str | None = None, max_samples: int | None = None,
                        worst: int = 3) -> Report:
    """Quantize a copy of ``module`` and compare it with the float model (see the module docstring).

    ``calibration`` / ``evaluation``: any source ``load_calibration`` accepts;
    an evaluation npz/dict may hold ``x`` and labels ``y``. ``labels`` may also
    be passed directly. ``quantized``: an already quantized copy and its value
    map (skips quantization). ``simulate`` executes quantized ops in float
    ("fake quant") instead of the integer interpreter.
    """
    from edgecc.quant.calibrate import load_calibration
    from edgecc.quant.graph import clone_module
    from edgecc.quant.ptq import QuantizeConfig, has_qdq, quantize_module

    float_module = module
    kept: list[str] = []
    if quantized is None:
        qmod, vmap = clone_module(module)
        if has_qdq(qmod):
            from edgecc.quant.qdq import fold_qdq

            res = fold_qdq(qmod)
            scheme = "qdq"
            n_quant = len(res.folded)
            kept = [op.name for op in res.kept_float]
        else:
            if config is None:
                config = QuantizeConfig(scheme=scheme)
            if calibration is None:
                raise EdgeccError("the report needs calibration data to quantize the model")
            if config.equalize:
                # equalization rescales intermediate channels: compare layers against the
                # equalized float model (the same function, up to float rounding)
                from dataclasses import replace

                from edgecc.quant.equalize import equalize_module

                float_module, _ = clone_module(module)
                equalize_module(float_module)
                qmod, vmap = clone_module(float_module)
                config = replace(config, equalize=False)
            res = quantize_module(qmod, config, calibration)
            scheme = config.scheme
            n_quant = len(res.quantized)
            kept = [op.name for op in res.kept_float]
    else:
        qmod, vmap = quantized
        n_quant = sum(1 for op in qmod.func.body if op.name not in ("builtin.constant", "func.return")
                      and any(isinstance(r.type, TensorType) and r.type.is_quantized for r in op.results))
    if evaluation is not None:
        samples, ev_labels = load_eval(evaluation, float_module)
        if labels is None:
            labels = ev_labels
    elif calibration is not None:
        samples = load_calibration(calibration, float_module)
    else:
        raise EdgeccError("the report needs evaluation or calibration data")
    if max_samples is not None:
        samples = samples[:max_samples]
        if labels is not None:
            labels = np.asarray(labels)[:max_samples]
    layers, out_accs, f_outs, q_outs = compare_modules(float_module, qmod, vmap, samples, simulate=simulate)
    outputs = []
    for k, acc in enumerate(out_accs):
        v = float_module.func.outputs[k]
        name = v.name_hint or f"output{k}"
        outputs.append(OutputStat(name, acc.sqnr, acc.max, acc.mean, _top1_agreement(f_outs[k], q_outs[k])))
    accuracy = None
    if labels is not None:
        f0, q0 = f_outs[0], q_outs[0]
        fp = f0.reshape(len(samples), -1).argmax(-1)
        qp = q0.reshape(len(samples), -1).argmax(-1)
        accuracy = class_accuracy(np.asarray(labels), fp, qp, worst)
    name = model_name or str(module.attrs.get("edgecc.source", module.name or "model"))
    return Report(name, scheme, len(samples), "simulated (float)" if simulate else "integer reference",
                  layers, outputs, accuracy, sorted(set(kept)), n_quant)


__all__ = ["Accuracy", "ClassStat", "LayerStat", "OutputStat", "Report", "class_accuracy", "compare_modules",
           "load_eval", "quantization_report", "sqnr_db"]
