"""Budget-driven compression: per layer, the method and strength chosen greedily against exact figures.

``search(module, calibration, budget=...)`` starts from the uncompressed int8 model and, while the
C build's flash (``flash_data_bytes`` for the target and ``--weights`` mode: encoded sparse and
clustered weights count as stored, not an estimate) exceeds the budget, tries one more step on
every layer -- a pruning step of its channel group (``PRUNE_STEPS``, least-squares refit), or the
next rung of a weight method (``LADDERS``: low-rank ratio, SparseGPT sparsity, k-means levels,
4-bit weights; a layer keeps one weight method once it took one) -- and keeps the step that loses
the least quality per byte saved. A candidate is an ordinary pipeline (``prune{...}``,
``lowrank{...}``, ``sparsify{...}``, ``cluster{...}``, ``quantize{... layers=[...]}``) that is run,
lowered to C and measured; the compile runs the chosen pipeline text, so its artifacts are the
candidate measured.

Quality: top-1 accuracy on labelled ``evaluation`` data, else output SQNR against the float model on
the calibration samples (with top-1 agreement). Candidates under the floor (``max_drop`` points of
top-1 accuracy, or of agreement without labels; ``min_sqnr`` dB) or over ``ram_budget`` are never
taken; when no step reaches the budget above the floor the search fails with the best flash found.
Evaluations run in parallel (``edgecc.compress.executor``); the result does not depend on where.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from edgecc.ir.core import Module
from edgecc.ir.diagnostics import EdgeccError

#: pruning ratios a channel group moves through, one step at a time
PRUNE_STEPS = (0.25, 0.5, 0.625, 0.75)
#: the rungs of each weight method, mildest first
LADDERS = {"lowrank": (0.5, 0.25), "sparse": (0.5, 0.75), "cluster": (16, 4), "int4": (4,)}
METHODS = ("prune", *LADDERS)


@dataclass
class Candidate:
    """One evaluated configuration: ``choice`` is ((method, layer, value), ...), sorted."""

    choice: tuple
    pipeline: str
    flash: int
    ram: int
    macs: int
    quality: float
    sqnr: float
    agreement: float | None = None
    accuracy: float | None = None

    def label(self) -> str:
        return ", ".join(f"{layer} {m} {v:g}" for m, layer, v in self.choice) or "none"


@dataclass
class SearchResult:
    chosen: Candidate
    baseline: Candidate
    budget: int
    measure: str
    floor: float
    evaluated: list[Candidate] = field(default_factory=list)

    def summary(self) -> dict:
        """The search for ``compress.json``: budget, floor, every candidate, the chosen one."""
        row = lambda c: {"choice": c.label(), "pipeline": c.pipeline, "flash_bytes": c.flash,  # noqa: E731
                         "ram_bytes": c.ram, "macs": c.macs, "quality": c.quality, "sqnr_db": c.sqnr,
                         "top1_agreement": c.agreement, "accuracy": c.accuracy}
        return {"budget_bytes": self.budget, "measure": self.measure, "floor": self.floor,
                "chosen": row(self.chosen), "baseline": row(self.baseline),
                "candidates": [row(c) for c in self.evaluated]}


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


@dataclass
class Task:
    """What every evaluation needs, picklable (sent to pool and dask workers once)."""

    module_text: str
    #: the calibration samples (feed dicts): the passes' context option and the SQNR reference
    calibration: list
    quantize: str
    target: str
    build: dict
    evaluation: tuple | None = None
    samples: int = 64
    #: per method, the layer names it may choose (the model's, computed once)
    layers: dict = field(default_factory=dict)
    key: str = ""

    def __post_init__(self):
        if not self.key:
            self.key = hashlib.sha256(self.module_text.encode()).hexdigest()[:16]


def pipeline_text(task: Task, choice: tuple) -> str:
    """The pipeline of a configuration: compression passes, then quantize (4-bit layers named)."""
    by = {m: {layer: v for mm, layer, v in choice if mm == m} for m in METHODS}
    lst = lambda d: ",".join(f"{k}:{v:g}" for k, v in sorted(d.items()))  # noqa: E731
    parts = []
    if by["prune"]:
        parts.append(f"prune{{ratio=0 ratios=[{lst(by['prune'])}] multiple=4}}")
    if by["lowrank"]:
        keep = [n for n in task.layers["lowrank"] if n not in by["lowrank"]]
        parts.append(f"lowrank{{ratios=[{lst(by['lowrank'])}] keep=[{','.join(keep)}]}}")
    if by["sparse"]:
        parts.append(f"sparsify{{sparsity=0 method=sparsegpt layers=[{lst(by['sparse'])}]}}")
    for levels in sorted(set(by["cluster"].values())):
        keep = [n for n in task.layers["cluster"] if by["cluster"].get(n) != levels]
        parts.append(f"cluster{{levels={levels:g} keep=[{','.join(keep)}]}}")
    w4 = ",".join(f"{n}:int8-w4" for n in sorted(by["int4"]))
    q = task.quantize.replace("quantize{", f"quantize{{layers=[{w4}] ", 1) if w4 else task.quantize
    return ",".join([*parts, q])


#: per worker process: task key -> (float module, calibration feeds, float reference outputs)
_PARSED: dict = {}


def _dequantized_output(q: Module, feed) -> np.ndarray:
    from edgecc.interp.reference import run
    from edgecc.quant.report import quantized_feeds

    y = run(q, quantized_feeds(q, feed))[0]
    e = q.func.outputs[0].type.element
    if getattr(e, "scales", None):
        y = (y.astype(np.float64) - e.zero_points[0]) * e.scales[0]
    return np.asarray(y, np.float64)


def _prepared(task: Task):
    if task.key not in _PARSED:
        from edgecc.interp.reference import run
        from edgecc.ir.text.parser import parse_module
        from edgecc.quant.calibrate import load_calibration

        module = parse_module(task.module_text)
        feeds = load_calibration(task.calibration, module, task.samples or None)
        _PARSED.clear()
        _PARSED[task.key] = (module, feeds, [np.asarray(run(module, f)[0], np.float64) for f in feeds])
    return _PARSED[task.key]


def evaluate(task: Task, choice: tuple) -> Candidate:
    """Compress, quantize, lower to C and measure one configuration (runs in a worker)."""
    from edgecc.backends.c.generate import build_model
    from edgecc.passes.manager import PassManager
    from edgecc.quant.graph import clone_module
    from edgecc.quant.report import sqnr_db

    module, feeds, ref = _prepared(task)
    m = clone_module(module)[0]
    text = pipeline_text(task, choice)
    PassManager.parse(text, options={"calibration": task.calibration, "progress": False}).run(m)
    report = build_model(m, target=task.target, testbench=False, **task.build).report
    got = [_dequantized_output(m, f) for f in feeds]
    sqnr = sqnr_db(sum(float((r ** 2).sum()) for r in ref), sum(float(((r - g) ** 2).sum())
                                                               for r, g in zip(ref, got)))
    agreement = None
    if ref and ref[0].size > 1:
        agreement = float(np.mean([r.argmax() == g.argmax() for r, g in zip(ref, got)]))
    accuracy = None
    if task.evaluation is not None:
        xs, ys = task.evaluation
        accuracy = float(np.mean([_dequantized_output(m, x).argmax() == y for x, y in zip(xs, ys)]))
    return Candidate(choice, text, int(report["flash_data_bytes"]), int(report["arena_bytes"]),
                     int(report["macs"]), accuracy if accuracy is not None else sqnr, sqnr, agreement, accuracy)


def choosable_layers(module: Module, methods=METHODS) -> dict[str, list[str]]:
    """Per method, the names (as that method's pass takes them) of the layers it may change."""
    from edgecc.compress.channels import analyze
    from edgecc.compress.layers import weight_layers
    from edgecc.compress.lowrank import candidates
    from edgecc.compress.prune import layer_name

    g = analyze(module)
    classes = g.classes()
    dense = [lay for lay in weight_layers(module) if lay.kind in ("conv2d", "fully_connected")
             and int(lay.op.attr("groups", 1) or 1) == 1]
    out = {
        "prune": [layer_name(classes[grp[0]][0][0]) for grp in g.groups()],
        "lowrank": [layer_name(op) for op in candidates(module)],
        "sparse": [lay.name for lay in dense],
        "cluster": [lay.name for lay in weight_layers(module)],
        "int4": [lay.name for lay in dense],
    }
    return {m: v for m, v in out.items() if m in methods}


def _moves(task: Task, state: dict) -> list[tuple]:
    """Every configuration one step further than ``state`` ({(method, layer): rung index})."""
    out = []
    weight_of = {layer: m for (m, layer) in state if m != "prune"}
    for m, names in task.layers.items():
        steps = PRUNE_STEPS if m == "prune" else LADDERS[m]
        for name in names:
            if m != "prune" and weight_of.get(name, m) != m:
                continue  # one weight method per layer
            i = state.get((m, name), -1) + 1
            if i < len(steps):
                out.append({**state, (m, name): i})
    return out


def _choice(state: dict) -> tuple:
    return tuple(sorted((m, layer, (PRUNE_STEPS if m == "prune" else LADDERS[m])[i])
                        for (m, layer), i in state.items()))


def search(module: Module, calibration: dict, *, budget: str, quantize: str, target: str = "generic",
           build: dict | None = None, evaluation=None, max_drop: float = 1.0, min_sqnr: float | None = None,
           ram_budget: int | None = None, methods=METHODS, executor: str | None = None, samples: int = 64,
           log=None) -> SearchResult:
    """Choose per-layer compression (see the module docstring); ``module`` (float) is not changed.

    ``calibration``: the calibration samples (the compile must run the chosen pipeline with the same
    as its context option, see ``compile_chosen``); ``quantize``: the quantize pipeline text; ``build``: ``build_model`` options; ``evaluation``: ``(feeds, labels)``.
    """
    from edgecc.compress.executor import open_executor
    from edgecc.ir.text.printer import print_module

    unknown = set(methods) - set(METHODS)
    if unknown:
        raise EdgeccError(f"search: unknown method '{sorted(unknown)[0]}' (choose from {', '.join(METHODS)})")
    task = Task(print_module(module), list(calibration), quantize, target, dict(build or {}), evaluation,
                samples, choosable_layers(module, methods))
    cache: dict[tuple, Candidate] = {}
    with open_executor(executor, task) as ex:
        def run(states: list[dict]) -> list[Candidate]:
            choices = [_choice(s) for s in states]
            todo = sorted({c for c in choices if c not in cache})
            for c, cand in zip(todo, ex.map(todo) if todo else []):
                cache[c] = cand
                if log is not None:
                    log(f"search: {cand.label()} -> flash {cand.flash} B, RAM {cand.ram} B, "
                        f"quality {cand.quality:.4f}")
            return [cache[c] for c in choices]

        base = run([{}])[0]
        limit = parse_budget(budget, base.flash)
        labelled = evaluation is not None

        def admissible(c: Candidate, cur: Candidate) -> bool:
            if labelled and c.accuracy < base.accuracy - max_drop / 100.0:
                return False
            if not labelled and c.agreement is not None and c.agreement < base.agreement - max_drop / 100.0:
                return False
            if min_sqnr is not None and c.sqnr < min_sqnr:
                return False
            return ram_budget is None or c.ram <= max(ram_budget, cur.ram)

        def over(c: Candidate) -> bool:
            return c.flash > limit or (ram_budget is not None and c.ram > ram_budget)

        state: dict = {}
        current = base
        while over(current):
            best = None
            states = _moves(task, state)
            for s, c in zip(states, run(states)):
                saved = max(current.flash - c.flash, 0) if current.flash > limit else 0
                if ram_budget is not None and current.ram > ram_budget:
                    saved += max(current.ram - c.ram, 0)
                if saved <= 0 or not admissible(c, current):
                    continue
                key = ((current.quality - c.quality) / saved, c.flash, c.choice)
                if best is None or key < best[0]:
                    best = (key, s, c)
            if best is None:
                smallest = min(cache.values(), key=lambda c: c.flash)
                raise EdgeccError(
                    f"flash budget {limit} B{'' if ram_budget is None else f' / RAM budget {ram_budget} B'} "
                    f"not reached within the quality floor: the best candidate found has {current.flash} B "
                    f"flash, {current.ram} B RAM at quality {current.quality:.4g} (smallest flash of all: "
                    f"{smallest.flash} B at {smallest.quality:.4g})")
            state, current = best[1], best[2]
    measure = "top-1" if labelled else "SQNR dB"
    floor = base.accuracy - max_drop / 100.0 if labelled else (min_sqnr if min_sqnr is not None else -np.inf)
    return SearchResult(current, base, limit, measure, floor, list(cache.values()))


def compile_chosen(module: Module, candidate: Candidate, calibration: list) -> None:
    """Run a candidate's pipeline on the float ``module`` in place: exactly what was measured."""
    from edgecc.passes.manager import PassManager

    PassManager.parse(candidate.pipeline, options={"calibration": list(calibration),
                                                    "progress": False}).run(module)


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


__all__ = ["LADDERS", "METHODS", "PRUNE_STEPS", "Candidate", "SearchResult", "Task", "choosable_layers", "compile_chosen",
           "evaluate", "load_evaluation", "parse_budget", "pipeline_text", "search"]
