"""Budget-driven compression: per-group pruning ratios chosen greedily against exact flash figures.

``search(module, samples, budget=...)`` starts from the unpruned model and,
while the int8 model's flash (the C backend's ``flash_data_bytes`` for the
target, not an estimate) exceeds the budget, tries one more pruning step
(``STEPS``) on every channel group, keeps the step that loses the least
quality per byte saved, and repeats. Every candidate is pruned with
reconstruction (``prune``), quantized by the same passes the compile uses,
emitted, and measured: top-1 accuracy on labelled ``evaluation`` data, else
output SQNR against the float model on the calibration samples. Candidates
below the quality floor (``max_drop`` points of top-1, or ``min_sqnr`` dB)
are never taken; when no step can reach the budget above the floor the
search fails with the best flash it found.

Scope: pruning ratios only (the other compression methods are not yet
among the choices).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edgecc.ir.core import Module
from edgecc.ir.diagnostics import EdgeccError

#: pruning ratios a group moves through, one step at a time
STEPS = (0.0, 0.25, 0.5, 0.625, 0.75)


@dataclass
class Candidate:
    """One evaluated configuration."""

    ratios: dict[str, float]
    flash: int
    ram: int
    quality: float


@dataclass
class SearchResult:
    chosen: Candidate
    baseline: Candidate
    budget: int
    measure: str
    evaluated: list[Candidate] = field(default_factory=list)


def parse_budget(text: str, baseline: int | None = None) -> int:
    """``N`` bytes (k/M suffixes) or ``P%`` of ``baseline``."""
    t = text.strip()
    try:
        if t.endswith("%"):
            if baseline is None:
                raise ValueError
            value = float(t[:-1]) / 100.0 * baseline
        else:
            mult = {"k": 1024, "K": 1024, "M": 1024 * 1024}.get(t[-1:], 1)
            value = float(t[:-1] if mult != 1 else t) * mult
    except ValueError:
        raise EdgeccError(f"--flash-budget '{text}': expected bytes (e.g. 40000, 64k) or a percentage"
                          ) from None
    if value <= 0:
        raise EdgeccError(f"--flash-budget '{text}' must be positive")
    return int(value)


class _Evaluator:
    def __init__(self, module, samples, quantize, target, evaluation):
        from edgecc.interp.reference import run

        self.module, self.samples, self.quantize, self.target = module, samples, quantize, target
        self.evaluation = evaluation
        self.cache: dict[tuple, Candidate] = {}
        if evaluation is None:
            self.reference = [run(module, s)[0] for s in samples]

    def quality(self, q: Module) -> float:
        from edgecc.interp.reference import run
        from edgecc.quant.report import quantized_feeds

        def out(feed):
            y = run(q, quantized_feeds(q, feed))[0]
            e = q.func.outputs[0].type.element
            if getattr(e, "scales", None):
                y = (y.astype(np.float64) - e.zero_points[0]) * e.scales[0]
            return y

        if self.evaluation is not None:
            xs, ys = self.evaluation
            return float(np.mean([out(x).argmax() == y for x, y in zip(xs, ys)]))
        num = den = 0.0
        for s, want in zip(self.samples, self.reference):
            got = out(s)
            num += float((want.astype(np.float64) ** 2).sum())
            den += float(((want - got) ** 2).sum())
        return 10 * np.log10(num / max(den, 1e-30))

    def __call__(self, ratios: dict[str, float]) -> Candidate:
        from edgecc.backends.c.generate import build_model
        from edgecc.compress.prune import prune_module
        from edgecc.quant.graph import clone_module

        key = tuple(sorted((k, v) for k, v in ratios.items() if v))
        if key in self.cache:
            return self.cache[key]
        m = clone_module(self.module)[0]
        if key:
            prune_module(m, self.samples, ratio=0.0, ratios=dict(key), multiple=4)
        self.quantize(m)
        report = build_model(m, target=self.target, testbench=False).report
        c = Candidate(dict(key), report["flash_data_bytes"], report["arena_bytes"], self.quality(m))
        self.cache[key] = c
        return c


def search(module: Module, samples: list, *, budget: str, quantize, target="generic", evaluation=None,
           max_drop: float = 1.0, min_sqnr: float | None = None, log=None) -> SearchResult:
    """Choose per-group pruning ratios (see the module docstring); ``module`` is not changed.

    ``quantize(module)`` quantizes a float model in place exactly as the compile will;
    ``evaluation``: ``(inputs, labels)`` with inputs as feed dicts.
    """
    from edgecc.compress.channels import analyze
    from edgecc.compress.prune import layer_name

    g = analyze(module)
    classes = g.classes()
    groups = [layer_name(classes[grp[0]][0][0]) for grp in g.groups()]
    ev = _Evaluator(module, samples, quantize, target, evaluation)
    base = ev({})
    limit = parse_budget(budget, base.flash)
    floor = (base.quality - max_drop / 100.0) if evaluation is not None else (
        min_sqnr if min_sqnr is not None else -np.inf)
    measure = "top-1" if evaluation is not None else "SQNR dB"
    level = {name: 0 for name in groups}
    current = base
    while current.flash > limit:
        best, best_cost = None, None
        for name in groups:
            if level[name] + 1 >= len(STEPS):
                continue
            trial = dict(level)
            trial[name] += 1
            c = ev({n: STEPS[i] for n, i in trial.items()})
            if log is not None:
                log(f"search: {c.ratios} -> flash {c.flash} B, {measure} {c.quality:.4f}")
            saved = current.flash - c.flash
            if c.quality < floor or saved <= 0:
                continue
            cost = (current.quality - c.quality) / saved
            if best_cost is None or cost < best_cost or (cost == best_cost and c.flash < best[1].flash):
                best, best_cost = (name, c), cost
        if best is None:
            smallest = min(ev.cache.values(), key=lambda c: c.flash)
            raise EdgeccError(f"flash budget {limit} B not reached within the quality floor: the smallest "
                              f"candidate found has {current.flash} B at {measure} {current.quality:.4g} "
                              f"(smallest of all: {smallest.flash} B at {smallest.quality:.4g})")
        level[best[0]] += 1
        current = best[1]
    return SearchResult(current, base, limit, measure, list(ev.cache.values()))


def load_evaluation(path, module: Module) -> tuple[list, np.ndarray]:
    """``(feeds, labels)`` from an npz holding the inputs (``x`` or the input name) and labels ``y``."""
    from edgecc.ir.limits import load_arrays
    from edgecc.quant.calibrate import load_calibration

    arrays = dict(load_arrays(path)) if not isinstance(path, dict) else dict(path)
    if "y" not in arrays:
        raise EdgeccError(f"--eval {path}: needs labels 'y' beside the inputs")
    labels = np.asarray(arrays.pop("y")).reshape(-1)
    feeds = load_calibration(arrays, module)
    if len(feeds) != len(labels):
        raise EdgeccError(f"--eval {path}: {len(feeds)} inputs but {len(labels)} labels")
    return feeds, labels


def compress_to_budget(module: Module, samples: list, **kw) -> SearchResult:
    """``search``, then prune ``module`` in place with the chosen ratios (the same, deterministic result)."""
    from edgecc.compress.prune import prune_module

    res = search(module, samples, **kw)
    if res.chosen.ratios:
        prune_module(module, samples, ratio=0.0, ratios=res.chosen.ratios, multiple=4)
    return res


__all__ = ["STEPS", "Candidate", "SearchResult", "compress_to_budget", "load_evaluation", "parse_budget",
           "search"]
