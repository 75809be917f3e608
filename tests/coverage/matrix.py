"""The op coverage matrix: every `nn` op x scheme x backend, run against the reference interpreter.

``compute(workdir)`` builds one model per op (``cases.py``), quantizes it with the project's PTQ
for the integer schemes and runs it through every backend; each cell is

* ``pass``: the backend's outputs match the reference interpreter's on seeded inputs (float:
  within ``FLOAT_RTOL`` of each output's scale; integer: as ``tolerance`` says);
* ``error``: the backend refused the model at compile time with its one-line ``EdgeccError``
  (the message is recorded and printed in the doc);
* ``n/a``: the scheme does not apply: PTQ keeps the op in float because TFLite defines no
  integer kernel of that type to match (``edgecc.quant.ptq.integer_kernel``), or a quantization
  op has no float form;
* ``fail``: anything else (wrong numbers, a crash, an error at build, load or run time).

The C cells of one (scheme, kernels) pair are built as ONE program (one gcc run): each model
gets its own prefix, its testbench's ``main`` is renamed, and a generated ``main`` dispatches on
``argv[1]``. ``python tests/coverage/matrix.py`` rewrites docs/coverage.md from the result.
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from edgecc.ir.diagnostics import EdgeccError

HERE = Path(__file__).resolve().parent
DOC = HERE.parents[1] / "docs" / "coverage.md"
SCHEMES = ("float32", "int8", "int16x8")
BACKENDS = ("reference", "numba", "c-portable", "c-cmsis-nn", "tflm", "litert")
#: C backend column -> target core (its default kernel library)
C_TARGETS = {"c-portable": "generic", "c-cmsis-nn": "cortex-m55"}
FLOAT_RTOL = 1e-5
SAMPLES = 3
REFRESH = "python tests/coverage/matrix.py"
#: ops LiteRT runs with its default kernels: its reference kernel computes something else (LRN sums
#: channels [c - r, c + r), TFLite and ONNX [c - r, c + r]; its quantized SUM is off by up to the whole
#: int8 range from TFLM's, which the default kernel matches)
LITERT_OWN_KERNELS = {"nn.lrn", "nn.reduce_sum"}


_h = importlib.util.spec_from_file_location("edgecc_tests_c_helpers", HERE.parent / "c" / "helpers.py")
helpers = sys.modules.get(_h.name) or importlib.util.module_from_spec(_h)
if _h.name not in sys.modules:
    sys.modules[_h.name] = helpers
    _h.loader.exec_module(helpers)
cases = helpers.load("edgecc_tests_coverage_cases", HERE / "cases.py")


@dataclass(frozen=True)
class Cell:
    status: str  # pass | error | n/a | fail
    detail: str = ""


def nn_ops() -> list[str]:
    """Every op of the `nn` dialect: the rows the matrix must have."""
    from edgecc.ir.spec import DIALECTS, load_dialects

    load_dialects()
    return sorted(set(DIALECTS["nn"].ops) - set(cases.ELSEWHERE))


# ------------------------------------------------------------------ models
def _calibration(module, n: int = 8) -> list[list[np.ndarray]]:
    rng = np.random.default_rng(1)
    return [[rng.standard_normal(a.type.shape).astype(np.float32) for a in module.func.arguments]
            for _ in range(n)]


def _quantized_target(module, op: str) -> bool:
    from edgecc.interp.quantized import is_quantized_op

    return any(o.name == op and is_quantized_op(o) for o in module.ops)


def build(op: str, scheme: str):
    """(module, None) for the cell's model, or (None, Cell) when the whole row is decided."""
    from edgecc.quant.ptq import QuantizeConfig, quantize_module

    if op in cases.QUANT_CASES:
        if scheme == "float32":
            return None, Cell("n/a", "quantization op: no float form")
        return cases.quant_model(op, scheme), None
    module = cases.float_model(op)
    if scheme == "float32":
        return module, None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            quantize_module(module, QuantizeConfig(scheme=scheme, io="int"), _calibration(module))
    except EdgeccError as e:
        return None, Cell("error", f"quantize: {e.message}")
    if not _quantized_target(module, op):
        return None, Cell("n/a", "kept in float by PTQ")
    return module, None


def samples(module) -> list[list[np.ndarray]]:
    from edgecc.backends.c.verify import random_samples

    return random_samples(module, SAMPLES, seed=7)


def tolerance(op: str, scheme: str, backend: str) -> int:
    """Largest integer difference allowed for ``backend``.

    PTQ quantizes only ops with TFLite's integer semantics (``STATUS`` "tflm" or "tflite" in
    ``edgecc.interp.quantized``), which every backend matches bit-exactly (docs/
    quantization-semantics.md), except LiteRT on the "tflm" ops: the contract there is TFLM's
    kernels, and LiteRT's are allowed 1 LSB (its int8/int16 FULLY_CONNECTED differs by 1).
    """
    from edgecc.interp.quantized import STATUS

    if backend == "litert":
        return 0 if STATUS.get(op, ("", ""))[scheme == "int16x8"] == "tflite" else 1
    return 0


def check(got, want, lsb: int) -> Cell:
    from edgecc.backends.c.verify import compare

    if len(got) != len(want):
        return Cell("fail", f"{len(got)} samples back, expected {len(want)}")
    for g_s, w_s in zip(got, want):
        if len(g_s) != len(w_s):
            return Cell("fail", f"{len(g_s)} outputs, expected {len(w_s)}")
        for g, w in zip(g_s, w_s):
            if np.shape(g) != np.shape(w) and np.size(g) != np.size(w):
                return Cell("fail", f"output shape {np.shape(g)}, expected {np.shape(w)}")
    got = [[np.asarray(g).reshape(np.shape(w)) for g, w in zip(gs, ws)] for gs, ws in zip(got, want)]
    for c in compare(got, want, [f"output{k}" for k in range(len(want[0]))], FLOAT_RTOL):
        if c.dtype.startswith("float"):
            if not c.passed:
                return Cell("fail", f"{c.name}: max relative error {c.max_rel:.3g}")
        elif c.max_abs > lsb:
            return Cell("fail", f"{c.name}: {c.mismatches}/{c.elements} values differ by up to "
                                f"{int(c.max_abs)}")
    return Cell("pass")


# ------------------------------------------------------------------ backends
def run_reference(module, feeds, want) -> Cell:
    outs = module.func.outputs
    for row in want:
        for v, a in zip(outs, row):
            if a.shape != tuple(v.type.shape) or a.dtype != np.dtype(v.type.element.numpy):
                return Cell("fail", f"reference output {a.dtype}{list(a.shape)} is not {v.type}")
            if a.dtype.kind == "f" and not np.isfinite(a).all():
                return Cell("fail", "reference output is not finite")
    return Cell("pass")


def run_numba(module, feeds, want, lsb) -> Cell:
    from edgecc.backends.numba import compile_module

    try:
        host = compile_module(module)
    except EdgeccError as e:
        return Cell("error", e.message)
    return check([host.run(f) for f in feeds], want, lsb)


def run_tflite(module, op, scheme, feeds, want) -> dict[str, Cell]:
    """The .tflite in TFLM (written with ``runtime="tflm"``) and in LiteRT."""
    from edgecc.backends import tflite
    from edgecc.backends.tflite import verify as V

    out = {}
    for name in ("tflm", "litert"):
        try:
            data = tflite.to_bytes(module, runtime="tflm" if name == "tflm" else "any")
        except EdgeccError as e:
            out[name] = Cell("error", e.message)
            continue
        try:
            if name == "tflm":
                it = V.tflm_interpreter(data)
                got = [V.run_tflm(data, f, interpreter=it) for f in feeds]
            else:
                got = [V.run_litert(data, f, reference=op not in LITERT_OWN_KERNELS) for f in feeds]
        except (RuntimeError, ValueError) as e:  # a load or run failure of the runtime: a failed cell
            out[name] = Cell("fail", " ".join(f"{type(e).__name__}: {e}".split())[:200])
            continue
        out[name] = check(got, want, tolerance(op, scheme, name))
    return out


def _write_main(workdir: Path, prefixes: list[str]) -> None:
    """``main(argc, argv)`` running the testbench of model ``argv[1]`` on the remaining arguments."""
    decls = "".join(f"int {p}_main(int argc, char **argv);\n" for p in prefixes)
    calls = "".join(f"    if (strcmp(argv[1], \"{p}\") == 0) {{\n"
                    f"        return {p}_main(argc - 1, argv + 1);\n    }}\n" for p in prefixes)
    (workdir / "main.c").write_text(
        "#include <stdio.h>\n#include <string.h>\n\n" + decls +
        "\nint main(int argc, char **argv)\n{\n    if (argc < 2) {\n        return 2;\n    }\n" + calls +
        "    fprintf(stderr, \"unknown model %s\\n\", argv[1]);\n    return 2;\n}\n", encoding="utf-8")


def _c_program(models: dict[str, object], target: str, workdir: Path, runtime_lib: Path):
    """Emit every model with its own prefix into ``workdir`` and build one testbench program.

    Returns (executable or None, {op: Cell} for models the backend refused or that failed to build).
    """
    from edgecc.backends.c import verify as CV
    from edgecc.backends.c.generate import build_model, runtime_dir

    workdir.mkdir(parents=True, exist_ok=True)
    cells, prefixes, cmsis = {}, {}, False
    for op, module in models.items():
        prefix = "cov_" + op.removeprefix("nn.")
        try:
            m = build_model(module, target=target, prefix=prefix)
        except EdgeccError as e:
            cells[op] = Cell("error", e.message)
            continue
        for name, text in m.files.items():
            if name.endswith((".c", ".h")):
                (workdir / name).write_text(text, encoding="utf-8")
        (workdir / f"{prefix}_main.c").write_text(
            f"#define main {prefix}_main\n#include \"{prefix}_testbench.c\"\n", encoding="utf-8")
        cmsis = cmsis or "cmsis-nn" in m.report["libraries"]
        prefixes[op] = prefix
    if not prefixes:
        return None, cells, prefixes
    cc = CV.find_compiler()
    incs = ["-I", str(workdir), "-I", str(runtime_dir() / "include")]
    libs = []
    if cmsis:
        root = CV.cmsis_nn_path()
        if root is None:
            return None, {**cells, **{op: Cell("fail", "EDGECC_CMSIS_NN is not set") for op in prefixes}}, {}
        incs += ["-I", str(root / "Include")]
        libs = CV._cmsis_objects(root, workdir / "cmsis-obj", cc, "-O1", False)

    def compile_(ops):
        _write_main(workdir, [prefixes[o] for o in ops])
        srcs = [str(workdir / "main.c")] + [str(workdir / f"{prefixes[o]}{s}") for o in ops
                                            for s in (".c", "_weights.c", "_main.c")]
        exe = workdir / "coverage"
        CV._run([cc, *CV.WARNINGS, "-O1", *incs, *srcs, *libs, str(runtime_lib), "-lm", "-o", str(exe)],
                "compiling the coverage program")
        return exe

    try:
        return compile_(list(prefixes)), cells, prefixes
    except EdgeccError:
        pass
    good = []
    for op in list(prefixes):  # isolate the models that break the build
        try:
            compile_([op])
            good.append(op)
        except EdgeccError as e:
            cells[op] = Cell("fail", "gcc: " + " ".join(e.message.split())[:200])
    for op in set(prefixes) - set(good):
        del prefixes[op]
    return (compile_(good) if good else None), cells, prefixes


def run_c(models, feeds, wants, lsbs, target, workdir, runtime_lib) -> dict[str, Cell]:
    from edgecc.backends.c.verify import run_testbench

    exe, cells, prefixes = _c_program(models, target, workdir, runtime_lib)
    for op, prefix in prefixes.items():
        try:
            got = run_testbench(exe, models[op], feeds[op], args=(prefix,))
        except EdgeccError as e:
            cells[op] = Cell("fail", " ".join(e.message.split())[:200])
            continue
        cells[op] = check(got, wants[op], lsbs[op])
    return cells


# ------------------------------------------------------------------ the matrix
def compute(workdir: Path, runtime_lib: Path | None = None) -> dict[tuple[str, str, str], Cell]:
    """Every (op, scheme, backend) cell."""
    from edgecc.backends.c.verify import build_runtime_library, reference_outputs

    workdir = Path(workdir)
    runtime_lib = runtime_lib or build_runtime_library(workdir / "runtime")
    cells: dict[tuple[str, str, str], Cell] = {}
    for scheme in SCHEMES:
        models, feeds, wants, lsbs = {}, {}, {}, {}
        for op in nn_ops():
            module, row = build(op, scheme)
            if row is not None:
                for b in BACKENDS:
                    cells[op, scheme, b] = row
                continue
            models[op], feeds[op] = module, samples(module)
            wants[op], lsbs[op] = reference_outputs(module, feeds[op]), tolerance(op, scheme, "c")
            cells[op, scheme, "reference"] = run_reference(module, feeds[op], wants[op])
            cells[op, scheme, "numba"] = run_numba(module, feeds[op], wants[op], lsbs[op])
            for b, c in run_tflite(module, op, scheme, feeds[op], wants[op]).items():
                cells[op, scheme, b] = c
        for b, target in C_TARGETS.items():
            for op, c in run_c(models, feeds, wants, lsbs, target, workdir / f"{scheme}-{b}",
                               runtime_lib).items():
                cells[op, scheme, b] = c
    return cells


def markdown(cells: dict[tuple[str, str, str], Cell]) -> str:
    notes: dict[str, int] = {}

    def show(c: Cell) -> str:
        if c.status == "pass":
            return "pass"
        if c.status == "n/a":
            return "n/a"
        key = c.detail if c.status == "error" else f"{c.status}: {c.detail}"
        n = notes.setdefault(key, len(notes) + 1)
        return f"{'error' if c.status == 'error' else '**FAIL**'} [{n}](#note-{n})"

    ops = sorted({k[0] for k in cells})
    lines = ["# Op coverage matrix", "",
             f"Generated by `{REFRESH}` from the matrix `tests/coverage/test_coverage.py` checks; "
             "do not edit.", "",
             "Every `nn` op (one small model per op, `tests/coverage/cases.py`), float32 and quantized "
             "with edgecc's PTQ (int8, int16x8; integer inputs and outputs), through every backend: "
             "the reference interpreter, Numba (`compile_module`), the C backend with portable kernels "
             "(`-t generic`) and with CMSIS-NN (`-t cortex-m55`, built with host gcc) and the .tflite "
             "in TFLM and LiteRT. Each cell compares the backend with the reference interpreter on "
             f"{SAMPLES} seeded inputs: float within {FLOAT_RTOL:g} of each output's scale, integers "
             "bit-exact (LiteRT within 1 LSB on the ops whose contract is TFLM's kernels; LiteRT runs "
             "its reference kernels, its default ones for " +
             ", ".join(f"`{o}`" for o in sorted(LITERT_OWN_KERNELS)) + "). The reference column "
             "checks the interpreter runs and returns the declared types; the .tflite for TFLM is "
             "written with `runtime=\"tflm\"`.", "",
             "- **pass**: matches the reference;",
             "- **error [n]**: the backend refuses the model at compile time with the one-line error "
             "in note n;",
             "- **n/a**: the scheme does not apply: PTQ keeps the op in float because TFLite defines no "
             "integer kernel of that type to match (`integer_kernel` in `edgecc.quant.ptq`), or a "
             "quantization op has no float form;",
             "- **FAIL [n]**: a wrong result or a failure after compilation (the test fails).", "",
             "Checked by their own suites instead (stateful ops, whose cells need a sequence of calls): " +
             "; ".join(f"`{o}`: {w}" for o, w in sorted(cases.ELSEWHERE.items())) + ".", ""]
    for scheme in SCHEMES:
        lines += [f"## {scheme}", "", "| op | " + " | ".join(BACKENDS) + " |",
                  "| --- |" + " --- |" * len(BACKENDS)]
        for op in ops:
            lines.append(f"| `{op}` | " + " | ".join(show(cells[op, scheme, b]) for b in BACKENDS) + " |")
        lines.append("")
    if notes:
        lines += ["## Notes", ""]
        for text, n in notes.items():
            lines.append(f"<a id=\"note-{n}\"></a>{n}. {' '.join(text.split()).replace('|', chr(92) + '|')}")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import os

    root = HERE.parents[1] / ".." / "shared" / "third_party" / "CMSIS-NN"
    if not os.environ.get("EDGECC_CMSIS_NN") and (root / "Include").is_dir():
        os.environ["EDGECC_CMSIS_NN"] = str(root.resolve())
    out = Path(argv[0]) if argv else DOC
    with tempfile.TemporaryDirectory(prefix="edgecc-coverage-") as tmp:
        text = markdown(compute(Path(tmp)))
    out.write_text(text, encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
