"""The ONNX backend test suite through edgecc: case collection, running, coverage report.

``python -m edgecc.tools.onnx_coverage`` runs every case and prints
pass/fail/skip counts per category and per op; ``--output docs/onnx-coverage.md``
also writes the Markdown report. ``tests/test_onnx_backend_suite.py`` runs
the same cases under pytest.

Categories:

* ``node``: ``onnx.backend.test.case.node.collect_testcases()`` (one op per
  model, or its function expansion for ``*_expanded`` cases);
* ``pytorch-converted``, ``pytorch-operator``: the model folders under the
  onnx package's ``backend/test/data``;
* ``light``: the ``light_*`` model-zoo graphs there (weights are
  ConstantOfShape fills; the input is ``arange(n) / n`` as in onnx's runner).

Outcomes:

* ``pass``: every output within the strict tolerance: rtol 1e-5 (1e-4 when
  the graph accumulates: reductions, convolutions, matmuls, normalisations,
  pools, softmax), atol 1e-6; integer and bool outputs exactly; NaN equals NaN;
* ``loose``: not within the strict tolerance but within the case's own
  (rtol, atol) — e.g. hand-written expected values rounded to 4 decimals;
* ``fail``: wrong shape, dtype or values, or an error after the frontend
  accepted the model (interpreter error, crash, internal error);
* ``skip``: the frontend refuses the model cleanly: ``unsupported-op`` (an op
  type without a converter) or ``unsupported-feature`` (an attribute, element
  type, rank, dynamic shape, zero-sized tensor or opset it does not handle).

Parameter inputs (shapes, axes, scales ... fed as graph inputs by the test
cases) are frozen to constants when the plain import fails; see
``edgecc.interp.onnx_backend``.
"""

from __future__ import annotations

import argparse
import glob
import logging
import os
import sys
import time
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

CATEGORIES = ("node", "pytorch-converted", "pytorch-operator", "light")

STRICT_RTOL = 1e-5
REDUCTION_RTOL = 1e-4
STRICT_ATOL = 1e-6

#: ONNX ops whose outputs accumulate many terms (reduction tolerance)
ACCUMULATING_OPS = frozenset("""
    ReduceSum ReduceMean ReduceL1 ReduceL2 ReduceLogSum ReduceLogSumExp ReduceSumSquare ReduceProd
    Conv ConvTranspose ConvInteger QLinearConv Gemm MatMul MatMulInteger QLinearMatMul Einsum
    AveragePool GlobalAveragePool LpPool GlobalLpPool LRN Softmax LogSoftmax Hardmax
    BatchNormalization InstanceNormalization LayerNormalization GroupNormalization RMSNormalization
    MeanVarianceNormalization LpNormalization CumSum RNN GRU LSTM Attention DFT STFT
    NegativeLogLikelihoodLoss SoftmaxCrossEntropyLoss DeformConv RoiAlign Resize Upsample GridSample
""".split())

#: light models too big for the default pytest run (hundreds of MB of folded weights)
SLOW_LIGHT = frozenset({"light_vgg19", "light_zfnet512", "light_bvlc_alexnet"})


def onnx_data_dir() -> Path:
    import onnx

    return Path(onnx.__file__).parent / "backend" / "test" / "data"


# ------------------------------------------------------------------- cases
@dataclass
class Case:
    """One model with its data sets (loaded lazily: light models are large)."""

    category: str
    name: str
    load: Callable[[], tuple[Any, list[tuple[list, list]]]]
    rtol: float = 1e-3
    atol: float = 1e-7
    op_types: tuple[str, ...] = ()
    main_op: str = ""
    slow: bool = False

    @property
    def id(self) -> str:
        return f"{self.category}/{self.name}"


@dataclass
class Outcome:
    status: str  # pass | loose | fail | skip
    reason: str = ""
    skip_kind: str = ""  # unsupported-op | unsupported-feature
    blocking_op: str | None = None
    frozen: tuple[str, ...] = ()
    seconds: float = 0.0


def _op_names() -> dict[str, str]:
    import onnx.defs

    return {s.name.lower(): s.name for s in onnx.defs.get_all_schemas_with_history()
            if s.domain in ("", "ai.onnx")}


def main_op_of(name: str, op_types: Iterable[str], names: dict[str, str]) -> str:
    """The op a node test is about: its only node, else the longest op name its test name starts with."""
    ops = list(op_types)
    if len(set(ops)) == 1:
        return ops[0]
    tokens = name.removeprefix("test_").split("_")
    for k in range(len(tokens), 0, -1):
        hit = names.get("".join(tokens[:k]).lower())
        if hit is not None:
            return hit
    return ops[0] if ops else "?"


def _node_cases() -> list[Case]:
    from onnx.backend.test.case import node

    names = _op_names()
    out = []
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # the case generators divide by zero on purpose
        testcases = node.collect_testcases(None)
    for tc in testcases:
        ops = tuple(n.op_type for n in tc.model.graph.node)
        out.append(Case("node", tc.name, (lambda tc=tc: (tc.model, list(tc.data_sets))), tc.rtol, tc.atol,
                        ops, main_op_of(tc.name, ops, names)))
    return out


def _load_dir(model_dir: str):
    import onnx

    model = onnx.load(os.path.join(model_dir, "model.onnx"))
    sets = []
    for d in sorted(glob.glob(os.path.join(model_dir, "test_data_set*"))):
        sets.append(([_read_pb(f) for f in _pbs(d, "input")], [_read_pb(f) for f in _pbs(d, "output")]))
    return model, sets


def _pbs(folder: str, kind: str) -> list[str]:
    """``input_0.pb``, ``input_1.pb`` ... in index order."""
    paths = glob.glob(os.path.join(folder, f"{kind}_*.pb"))
    return sorted(paths, key=lambda p: int(Path(p).stem.rsplit("_", 1)[1]))


def _read_pb(path: str) -> np.ndarray:
    import onnx
    from onnx import numpy_helper

    return numpy_helper.to_array(onnx.load_tensor(path))


def _dir_cases(kind: str) -> list[Case]:
    import onnx
    from onnx.backend.test.loader import load_model_tests

    out = []
    for tc in load_model_tests(kind=kind):
        model = onnx.load(os.path.join(tc.model_dir, "model.onnx"), load_external_data=False)
        ops = tuple(n.op_type for n in model.graph.node)
        out.append(Case(kind, tc.name, (lambda d=tc.model_dir: _load_dir(d)), tc.rtol, tc.atol, ops,
                        ops[0] if len(set(ops)) == 1 else ""))
    return out


def _load_light(model_name: str):
    import onnx
    from onnx import numpy_helper

    base = onnx_data_dir() / "light"
    model = onnx.load(str(base / f"light_{model_name}.onnx"))
    inits = {t.name for t in model.graph.initializer}
    inputs = []
    for i in model.graph.input:
        if i.name in inits:
            continue
        shape = tuple(d.dim_value if d.HasField("dim_value") else 1 for d in i.type.tensor_type.shape.dim)
        n = int(np.prod(shape))
        inputs.append((np.arange(n).reshape(shape) / n).astype(np.float32))
    outputs = []
    for k in range(len(model.graph.output)):
        path = base / f"light_{model_name}_output_{k}.pb"
        outputs.append(numpy_helper.to_array(onnx.load_tensor(str(path))))
    return model, [(inputs, outputs)]


def _light_cases() -> list[Case]:
    import onnx
    from onnx.backend.test.loader import load_model_tests

    out = []
    for tc in load_model_tests(kind="real"):
        path = onnx_data_dir() / "light" / f"light_{tc.model_name}.onnx"
        if not path.exists():
            continue
        model = onnx.load(str(path))
        ops = tuple(n.op_type for n in model.graph.node)
        name = f"light_{tc.model_name}"
        out.append(Case("light", name, (lambda m=tc.model_name: _load_light(m)), tc.rtol, tc.atol, ops, "",
                        slow=name in SLOW_LIGHT))
    return out


def collect_cases(categories: Iterable[str] = CATEGORIES) -> list[Case]:
    """All cases of the given categories, in a stable order."""
    cases: list[Case] = []
    for cat in categories:
        if cat == "node":
            cases += _node_cases()
        elif cat in ("pytorch-converted", "pytorch-operator"):
            cases += sorted(_dir_cases(cat), key=lambda c: c.name)
        elif cat == "light":
            cases += _light_cases()
        else:
            raise ValueError(f"unknown category '{cat}' (known: {', '.join(CATEGORIES)})")
    return cases


# ----------------------------------------------------------------- running
def strict_tolerance(case: Case) -> tuple[float, float]:
    rtol = REDUCTION_RTOL if ACCUMULATING_OPS.intersection(case.op_types) else STRICT_RTOL
    return rtol, STRICT_ATOL


def _as_array(x) -> Any:
    from onnx import TensorProto, numpy_helper

    if isinstance(x, TensorProto):
        return numpy_helper.to_array(x)
    return x


def compare(got, want, rtol: float, atol: float) -> str | None:
    """None when ``got`` matches ``want``, else what differs."""
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape:
        return f"shape {list(got.shape)} != expected {list(want.shape)}"
    if got.dtype != want.dtype:
        return f"dtype {got.dtype} != expected {want.dtype}"
    if want.dtype.kind in "fc":
        if np.allclose(got, want, rtol=rtol, atol=atol, equal_nan=True):
            return None
        g, w = got.astype(np.float64), want.astype(np.float64)
        bad = ~np.isclose(g, w, rtol=rtol, atol=atol, equal_nan=True)
        diff = np.abs(g - w)[bad]
        return (f"{int(bad.sum())}/{want.size} values differ (max abs diff {np.nanmax(diff):.3g}, "
                f"rtol {rtol:g}, atol {atol:g})")
    if np.array_equal(got, want):
        return None
    return f"{int((got != want).sum())}/{want.size} values differ"


def run_case(case: Case, backend=None) -> Outcome:
    """Prepare and run ``case`` with ``backend`` (default: the reference interpreter)."""
    from edgecc.interp.onnx_backend import ReferenceBackend, UnsupportedModel

    backend = backend or ReferenceBackend
    start = time.perf_counter()
    frozen: tuple[str, ...] = ()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model, data_sets = case.load()
            rep = backend.prepare(model)
            worst = "pass"
            reason = ""
            for inputs, outputs in data_sets:
                got = list(rep.run([_as_array(x) for x in inputs]))
                frozen = tuple(getattr(rep, "frozen_inputs", ()))
                expected = [_as_array(x) for x in outputs]
                if len(got) != len(expected):
                    return Outcome("fail", f"{len(got)} outputs, expected {len(expected)}", frozen=frozen,
                                   seconds=time.perf_counter() - start)
                for k, (g, w) in enumerate(zip(got, expected)):
                    rtol, atol = strict_tolerance(case)
                    err = compare(g, w, rtol, atol)
                    if err is None:
                        continue
                    loose = compare(g, w, max(rtol, case.rtol), max(atol, case.atol))
                    if loose is not None:
                        return Outcome("fail", f"output #{k}: {err}", frozen=frozen,
                                       seconds=time.perf_counter() - start)
                    worst, reason = "loose", f"output #{k}: {err}; within the case's rtol {case.rtol:g}"
    except UnsupportedModel as e:
        r = e.refusal
        return Outcome("skip", r.message, r.kind, r.op_type, frozen, time.perf_counter() - start)
    except Exception as e:  # noqa: BLE001 - every other error is a failure of the case
        msg = getattr(e, "message", None) or str(e)
        return Outcome("fail", f"{type(e).__name__}: {msg}", frozen=frozen,
                       seconds=time.perf_counter() - start)
    return Outcome(worst, reason, frozen=frozen, seconds=time.perf_counter() - start)


def run_all(cases: Iterable[Case], backend=None, progress: Callable[[Case, Outcome], None] | None = None
            ) -> list[tuple[Case, Outcome]]:
    results = []
    for c in cases:
        o = run_case(c, backend)
        if progress is not None:
            progress(c, o)
        results.append((c, o))
    return results


# ----------------------------------------------------------------- reports
STATUSES = ("pass", "loose", "fail", "skip")


@dataclass
class Summary:
    by_category: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    by_op: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    blocking_ops: Counter = field(default_factory=Counter)
    frozen: int = 0


def summarize(results: Iterable[tuple[Case, Outcome]]) -> Summary:
    s = Summary()
    for case, o in results:
        key = o.status if o.status != "skip" else f"skip:{o.skip_kind}"
        s.by_category[case.category][key] += 1
        s.by_category["total"][key] += 1
        if case.category == "node":
            s.by_op[case.main_op][key] += 1
        if o.status == "skip" and o.skip_kind == "unsupported-op" and o.blocking_op:
            s.blocking_ops[o.blocking_op] += 1
        if o.frozen and o.status in ("pass", "loose"):
            s.frozen += 1
    return s


def _count_cols(c: Counter) -> list[int]:
    return [c["pass"], c["loose"], c["fail"], c["skip:unsupported-op"], c["skip:unsupported-feature"]]


def format_counts(summary: Summary) -> str:
    """Plain-text counts per category (printed by the CLI and the pytest suite)."""
    lines = [f"{'category':<20} {'pass':>6} {'loose':>6} {'fail':>6} {'skip-op':>8} {'skip-feat':>9} "
             f"{'total':>6}"]
    order = [c for c in CATEGORIES if c in summary.by_category] + ["total"]
    for cat in order:
        c = summary.by_category.get(cat)
        if c is None:
            continue
        cols = _count_cols(c)
        lines.append(f"{cat:<20} {cols[0]:>6} {cols[1]:>6} {cols[2]:>6} {cols[3]:>8} {cols[4]:>9} "
                     f"{sum(cols):>6}")
    return "\n".join(lines)


def format_ops(summary: Summary) -> str:
    lines = [f"{'op (node cases)':<28} {'pass':>5} {'loose':>5} {'fail':>5} {'skip-op':>7} {'skip-feat':>9}"]
    for op in sorted(summary.by_op):
        cols = _count_cols(summary.by_op[op])
        lines.append(f"{op:<28} {cols[0]:>5} {cols[1]:>5} {cols[2]:>5} {cols[3]:>7} {cols[4]:>9}")
    return "\n".join(lines)


def markdown(results: list[tuple[Case, Outcome]], summary: Summary, command: str) -> str:
    from edgecc.conversion.onnx_to_nn import SUPPORTED_OPS

    import onnx

    out = ["# ONNX backend test-suite coverage", "",
           f"Generated by `{command}` with onnx {onnx.__version__}: the ONNX backend test cases run "
           "through `edgecc.interp.onnx_backend.ReferenceBackend` (frontend import, "
           "`canonicalize,fold-constants,cse,dce`, reference interpreter). Categories and outcomes are "
           "defined in `compiler/tools/onnx_coverage.py`:", "",
           "- **pass**: outputs within rtol 1e-5 (1e-4 for accumulating ops), atol 1e-6; exact for "
           "integers;",
           "- **loose**: outside that but within the case's own tolerance (onnx default rtol 1e-3);",
           "- **fail**: wrong result or an error after the frontend accepted the model;",
           "- **skip-op** / **skip-feat**: the frontend refuses the model: an op without a converter, or "
           "an attribute, element type, rank, dynamic shape or opset it does not handle.", "",
           f"Cases that pass only with their parameter inputs (shapes, axes, scales ...) frozen to "
           f"constants: {summary.frozen}.", "",
           "## Per category", "",
           "| category | pass | loose | fail | skip-op | skip-feat | total |",
           "|---|---:|---:|---:|---:|---:|---:|"]
    for cat in [c for c in CATEGORIES if c in summary.by_category] + ["total"]:
        cols = _count_cols(summary.by_category[cat])
        out.append(f"| {cat} | " + " | ".join(str(x) for x in cols) + f" | {sum(cols)} |")
    failures = [(c, o) for c, o in results if o.status == "fail"]
    out += ["", "## Failures", ""]
    if failures:
        out += ["| case | reason |", "|---|---|"]
        out += [f"| {c.id} | {_md(o.reason)} |" for c, o in failures]
    else:
        out.append("None.")
    loose = [(c, o) for c, o in results if o.status == "loose"]
    out += ["", "## Loose passes", ""]
    if loose:
        out += ["| case | detail |", "|---|---|"]
        out += [f"| {c.id} | {_md(o.reason)} |" for c, o in loose]
    else:
        out.append("None.")
    out += ["", "## Ops without a converter, by number of cases they block", "",
            "| op | cases |", "|---|---:|"]
    out += [f"| {op} | {n} |" for op, n in summary.blocking_ops.most_common()]
    reasons = Counter(_feature_reason(o.reason) for _, o in results
                      if o.status == "skip" and o.skip_kind == "unsupported-feature")
    out += ["", "## Unsupported features, by number of cases", "", "| reason | cases |", "|---|---:|"]
    out += [f"| {_md(r)} | {n} |" for r, n in reasons.most_common()]
    out += ["", "## Per op (node cases)", "",
            "| op | converter | pass | loose | fail | skip-op | skip-feat |",
            "|---|---|---:|---:|---:|---:|---:|"]
    have = set(SUPPORTED_OPS)
    for op in sorted(summary.by_op):
        cols = _count_cols(summary.by_op[op])
        out.append(f"| {op} | {'yes' if op in have else ''} | " + " | ".join(str(x) for x in cols) + " |")
    return "\n".join(out) + "\n"


def _feature_reason(message: str) -> str:
    """A refusal message without file and node names, for grouping."""
    import re

    text = message.split(": ", 1)[1] if ".onnx: " in message else message
    text = re.sub(r"node '[^']*' ", "", text)
    text = re.sub(r"'[^']*'", "'…'", text)
    text = re.sub(r"\d+(\.\d+)?(?!-D)", "N", text)
    return text[:140]


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")[:300]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m edgecc.tools.onnx_coverage",
                                description=__doc__.splitlines()[0])
    p.add_argument("--category", action="append", choices=CATEGORIES,
                   help="run only these categories (repeatable; default: all)")
    p.add_argument("--output", "-o", type=Path,
                   help="write the Markdown report here (e.g. docs/onnx-coverage.md)")
    p.add_argument("--skip-slow", action="store_true", help="leave out the largest light_* models")
    p.add_argument("--no-ops", action="store_true", help="do not print the per-op table")
    p.add_argument("--verbose", "-v", action="store_true", help="print each non-passing case")
    args = p.parse_args(argv)
    logging.disable(logging.WARNING)
    cases = collect_cases(args.category or CATEGORIES)
    if args.skip_slow:
        cases = [c for c in cases if not c.slow]

    def progress(c: Case, o: Outcome) -> None:
        if args.verbose and o.status in ("fail", "loose"):
            print(f"{o.status.upper():5} {c.id}: {o.reason}", file=sys.stderr)

    results = run_all(cases, progress=progress)
    summary = summarize(results)
    if not args.no_ops:
        print(format_ops(summary))
        print()
    print(format_counts(summary))
    if args.output is not None:
        cmd = "python -m edgecc.tools.onnx_coverage" + (f" -o {args.output}" if args.output else "")
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(markdown(results, summary, cmd))
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
