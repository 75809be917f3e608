"""``edgecc MODEL -t TARGET -o OUT/``: import, optimise, quantize and emit artifacts.

The flow is one pipeline: import (.onnx, .tflite or .mlir) -> the default
optimisation pipeline -> ``quantize`` (when asked, or when the model is
already quantized) -> emitters. Artifacts are written to a temporary folder
beside OUT and moved into place only when everything succeeded, so a failed
run leaves OUT untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import click

from edgecc.ir.core import Module
from edgecc.ir.diagnostics import EdgeccError
from edgecc.passes.registry import DEFAULT_PIPELINE
from edgecc.tools.outdir import check_output_folder, staged_output

QUANTIZE = ("auto", "none", "int8", "int16x8", "int8-w4", "fp16")


@dataclass
class Job:
    """Everything an emitter may need besides the module."""

    model: Path
    target: str
    out: Path
    pipeline: str
    quantize: str
    prefix: str = "model"
    board: str | None = None
    emits: tuple[str, ...] = ()
    c_options: dict = field(default_factory=dict)
    #: filled by the C emitter: its report (arena, flash, kernels per layer)
    c_report: dict | None = None
    extra_code_size: bool = False
    #: the fit check's margin line (with --board)
    fit: str = ""
    #: the input resolution came from --input-shape (so a smaller one may be suggested)
    resizable: bool = False
    #: --tflite-compression, and the .tflite writer's report of it (filled by the tflite emitter)
    tflite_compression: str = "auto"
    tflite_report: dict = field(default_factory=dict)


def _emit_ir(module: Module, job: Job, tmp: Path) -> None:
    from edgecc.ir.text.printer import print_module

    (tmp / "model.mlir").write_text(print_module(module), encoding="utf-8")


def _emit_report(module: Module, job: Job, tmp: Path) -> None:
    if "c" in job.emits or "testbench" in job.emits:
        return  # the C backend writes the richer report (arena, flash, kernel per layer)
    from edgecc.tools.report import write_report

    write_report(module, tmp, model=job.model, target=job.target, pipeline=job.pipeline)


def _emit_c(module: Module, job: Job, tmp: Path) -> None:
    import json

    from edgecc.backends.c.generate import emit

    wanted = [e for e in ("c", "report", "testbench") if e in job.emits]
    if "report" not in wanted:
        wanted.append("report")  # needed for the summary and --board; removed below if not asked
    emit(module, tmp, target=job.target, prefix=job.prefix, emit=tuple(wanted), **job.c_options)
    job.c_report = json.loads((tmp / "report.json").read_text())
    budget = job.c_options.get("ram_budget")
    ram = job.c_report.get("ram_bytes", job.c_report["arena_bytes"])  # arena + persistent state
    if budget is not None and job.board is None and ram > budget:
        mode = job.c_options.get("memory")
        hint = "--memory auto or ram" if mode == "speed" else "--quantize int8, a smaller input resolution"
        raise EdgeccError(f"{job.model.name}: the model needs {ram:,} B of RAM with --memory "
                          f"{mode}, over --ram-budget {budget:,} B (options that would help: {hint})")
    if job.extra_code_size:
        import os

        from edgecc.backends.c.sizes import add_to_report, measure

        cmsis = os.environ.get("EDGECC_CMSIS_NN")
        add_to_report(tmp, measure(tmp, job.target, job.prefix, cmsis_nn=Path(cmsis) if cmsis else None))
        job.c_report = json.loads((tmp / "report.json").read_text())
    if "report" not in job.emits:
        for name in ("report.json", "report.md"):
            (tmp / name).unlink(missing_ok=True)


def _emit_tflite(module: Module, job: Job, tmp: Path) -> None:
    from edgecc.backends.tflite import emit
    from edgecc.targets import core

    # a .tflite for a microcontroller core runs in TFLM: what TFLM cannot run stops here, not at load
    runtime = "tflm" if core(job.target).arch != "any" else "any"
    emit(module, tmp / f"{job.prefix}.tflite", variant="fp16" if job.quantize == "fp16" else "auto",
         runtime=runtime, compression=job.tflite_compression, report=job.tflite_report)


def add_tflite_report(job: Job, tmp: Path) -> None:
    """report.json / report.md say which .tflite tensors are LUT-compressed and the file bytes."""
    import json

    from edgecc.backends.tflite.lut import report_markdown

    rj, rm = tmp / "report.json", tmp / "report.md"
    if not job.tflite_report or not rj.exists():
        return
    r = json.loads(rj.read_text())
    r["tflite"] = job.tflite_report
    rj.write_text(json.dumps(r, indent=2, sort_keys=True) + "\n")
    if rm.exists():
        rm.write_text(rm.read_text().rstrip("\n") + "\n\n" + report_markdown(job.tflite_report))


#: artifact name -> writer; backends add theirs here
EMITTERS: dict[str, Callable[[Module, Job, Path], None]] = {
    "ir": _emit_ir,
    "report": _emit_report,
    "tflite": _emit_tflite,
    "c": _emit_c,
    "testbench": _emit_c,
}


def parse_bytes(text: str, option: str) -> int:
    """``65536``, ``64K``/``64KiB`` (x1024), ``1M``/``1MiB`` -> bytes."""
    t = text.strip().upper().removesuffix("IB").removesuffix("B")
    mult = {"K": 1024, "M": 1024 * 1024}.get(t[-1:], 1)
    digits = t[:-1] if mult > 1 else t
    if not digits.isdigit() or int(digits) <= 0 or int(digits) * mult >= 2 ** 32:
        raise EdgeccError(f"{option} '{text}': expected a positive byte count below 4 GiB, e.g. 65536, 64K or 1M")
    return int(digits) * mult


def parse_input_shapes(specs: tuple[str, ...]) -> dict[str, tuple[int, ...]]:
    """``name=1x3x96x96`` -> {"name": (1, 3, 96, 96)}."""
    shapes: dict[str, tuple[int, ...]] = {}
    for spec in specs:
        name, sep, dims = spec.rpartition("=")
        try:
            if not sep or not name:
                raise ValueError
            shape = tuple(int(d) for d in dims.lower().split("x"))
            if any(d <= 0 for d in shape):
                raise ValueError
        except ValueError:
            raise EdgeccError(f"--input-shape '{spec}': expected NAME=DxDx... with positive "
                              "dimensions, e.g. input=1x3x96x96") from None
        shapes[name] = shape
    return shapes


def load_model(path: Path, input_shapes: dict | None = None, optimize: bool = True,
               state: dict | None = None) -> Module:
    """Import a model file (.onnx, .tflite or .mlir) into ``nn`` IR.

    ``state`` (ONNX only): graph input -> output pairs that become persistent state.
    """
    if not path.exists():
        raise EdgeccError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if state and suffix != ".onnx":
        raise EdgeccError(f"{path}: --state applies to .onnx models (a .tflite or .mlir model declares "
                          "its state itself)")
    if suffix == ".mlir":
        from edgecc.ir.text.parser import parse_module

        from edgecc.ir.limits import read_text

        module = parse_module(read_text(path, "IR text"), str(path))
        module.verify()
        return module
    if suffix == ".onnx":
        from edgecc.frontend import import_onnx

        return import_onnx(path, input_shapes=input_shapes, optimize=optimize, state=state)
    if suffix == ".tflite":
        from edgecc.backends.tflite import read_tflite

        if input_shapes:
            raise EdgeccError(f"{path}: --input-shape does not apply to .tflite models "
                              "(their shapes are static)")
        module = read_tflite(path)
        module.verify()
        return module
    raise EdgeccError(f"{path}: unknown model format '{suffix}' (expected .onnx, .tflite or .mlir)")


def is_quantized(module: Module) -> bool:
    """Whether the model already computes on quantized activations (QDQ ONNX, int8 .tflite)."""
    return any(op.name == "nn.quantize" or (op.name != "builtin.constant" and any(
        getattr(r.type, "is_quantized", False) for r in op.results)) for op in module.ops)


def build_pipeline(passes: str, quantize: str, calib: Path | None, io: str, verbose: bool):
    from edgecc.passes.manager import PassManager

    # compression passes in the pipeline (prune, lowrank, ...) read --calib as the context option
    options = {"calibration": str(calib)} if calib else {}
    pm = PassManager.parse(passes, timing=verbose, options=options)
    if quantize in ("int8", "int16x8", "int8-w4"):
        from edgecc.transforms.quantize import Quantize

        from edgecc.passes.registry import get_pass

        pm.add(Quantize(scheme=quantize, calib=str(calib) if calib else "", io=io))
        pm.add(get_pass("canonicalize")())
        pm.add(get_pass("dce")())
    return pm


def resolve_quantize(requested: str, module: Module, calib: Path | None, emits: list[str]) -> str:
    if requested != "auto":
        if requested in ("int8", "int16x8", "int8-w4") and calib is None and not is_quantized(module):
            raise EdgeccError(f"--quantize {requested} needs calibration data: pass --calib FILE.npz "
                              "(or DIR of <input>.npy) with representative inputs")
        return requested
    if is_quantized(module):
        return "int8"  # keep the model's own scales (QDQ fold); no calibration needed
    return "int8" if calib is not None else "none"


@click.command("compile", context_settings={"help_option_names": ["-h", "--help"],
                                            "max_content_width": 100})
@click.argument("model", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-t", "--target", default=None, metavar="CORE",
              help="Core: generic, host, cortex-m0|m0plus|m3|m4|m7|m33|m55|m85 (default: the "
                   "board's core, else generic).")
@click.option("--board", default=None, metavar="BOARD",
              help="Check that the model fits this board's flash and RAM (e.g. nrf52840, "
                   "stm32f746, stm32h743, rp2040, corstone-300).")
@click.option("-o", "--output", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output folder (created; only replaced when compilation succeeds).")
@click.option("--emit", default="c,report", show_default=True, metavar="LIST",
              help="Comma-separated artifacts: " + ", ".join(EMITTERS) + ".")
@click.option("--quantize", "quantize", default="auto", show_default=True, type=click.Choice(QUANTIZE),
              help="auto: int8 when --calib is given or the model is already quantized, else none.")
@click.option("--calib", type=click.Path(exists=True, path_type=Path), metavar="DATA",
              help="Calibration inputs: FILE.npz keyed by input name, or DIR of <input>.npy.")
@click.option("--io", default="int", show_default=True, type=click.Choice(("int", "float")),
              help="Interface of quantized models: integer tensors (with their scales in the "
                   "artifacts) or float tensors quantized inside the model.")
@click.option("--input-shape", multiple=True, metavar="NAME=DIMS",
              help="Fix a dynamic input shape, e.g. input=1x3x96x96 (repeatable).")
@click.option("--state", "state_pairs", multiple=True, metavar="IN=OUT",
              help="ONNX: make graph input IN persistent state, updated with output OUT after every "
                   "call (repeatable; initial value zero).")
@click.option("--prefix", default="model", show_default=True,
              help="Name of the generated files and C symbols (two models link together).")
@click.option("--arena", default="static", show_default=True, type=click.Choice(("static", "external")),
              help="C: a static arena in .bss, or one the caller provides.")
@click.option("--memory", default="auto", show_default=True, type=click.Choice(("auto", "ram", "speed")),
              help="C: trade CMSIS-NN speed for RAM (in-place kernels) at the memory peak.")
@click.option("--ram-budget", default=None, metavar="BYTES",
              help="C: RAM for the arena (e.g. 65536, 64K, 1M; default: the --board's RAM); "
                   "--memory auto takes the fastest plan that fits it.")
@click.option("--kernels", default=None, type=click.Choice(("portable", "cmsis-nn")),
              help="C: override the core's kernel library.")
@click.option("--weights", "weight_storage", default="auto", show_default=True,
              type=click.Choice(("auto", "dense", "encoded")),
              help="C: store sparse/clustered weights encoded, decoded per layer into the arena "
                   "(auto: where it saves flash without growing the arena).")
@click.option("--tflite-compression", default="auto", show_default=True,
              type=click.Choice(("auto", "none", "lut")),
              help="tflite: store clustered int8 weights as TFLM LUT indices + DECODE where the file shrinks "
                   "(only TFLM runs it; auto: for a microcontroller core only tensors of <=4-bit indices, since "
                   "each decoded tensor sits in TFLM's arena; none for host/generic).")
@click.option("--code-size", is_flag=True, help="C: measure .text/.rodata/.bss with arm-none-eabi-gcc.")
@click.option("--depfile", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a Make/Ninja depfile (outputs depend on the model, calibration data, edgecc).")
@click.option("-p", "--passes", default=DEFAULT_PIPELINE, show_default=True, metavar="PIPELINE",
              help="Optimisation pipeline run after import.")
@click.option("--flash-budget", default=None, metavar="N|P%",
              help="Compress per layer (prune, low-rank, sparsity, clustering, 4-bit weights) until the C "
                   "flash data fits N bytes (k/M) or P% of the uncompressed model, within --ram-budget; "
                   "needs --calib; writes compress.json/.md and pareto.png.")
@click.option("--eval", "evaluation", type=click.Path(exists=True, path_type=Path), metavar="E.npz",
              help="Labelled samples (inputs + y) judging --flash-budget candidates by top-1 "
                   "(default: output SQNR against the float model on the calibration data).")
@click.option("--max-accuracy-drop", default=1.0, show_default=True, metavar="PTS",
              help="--flash-budget: never lose more top-1 points than this (of accuracy with --eval, "
                   "else of agreement with the float model).")
@click.option("--min-sqnr", default=None, type=float, metavar="DB",
              help="--flash-budget: never go below this output SQNR against the float model.")
@click.option("--executor", default=None, metavar="local[:N]|dask://HOST:PORT",
              help="--flash-budget: where candidates are evaluated (default: a local process pool).")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
@click.option("-v", "--verbose", is_flag=True, help="Print the time taken by each pass.")
def compile_command(model, target, board, out, emit, quantize, calib, io, input_shape, state_pairs, prefix,
                    arena, memory, ram_budget, kernels, weight_storage, tflite_compression, code_size,
                    depfile, passes, flash_budget, evaluation, max_accuracy_drop, min_sqnr, executor, quiet,
                    verbose):
    """Compile MODEL (.onnx, .tflite or .mlir) for TARGET into OUT/."""
    from edgecc.targets import resolve

    emits = tuple(e.strip() for e in emit.split(",") if e.strip())
    if not emits:
        raise EdgeccError(f"--emit '{emit}': nothing to emit (choose from {', '.join(EMITTERS)})")
    if board is not None and not board.strip():
        raise EdgeccError("--board: empty board name (see --board list)")
    for e in emits:
        if e not in EMITTERS:
            raise EdgeccError(f"--emit: unknown artifact '{e}' (choose from {', '.join(EMITTERS)})")
    from edgecc.backends.c.generate import check_prefix

    check_prefix(prefix)
    check_output_folder(out)  # before the (slow) pipeline: a bad OUT fails at once
    if depfile is not None:
        check_depfile(depfile)
    core, board_info = resolve(target, board)
    budget = parse_bytes(ram_budget, "--ram-budget") if ram_budget is not None else \
        (board_info.ram if board_info is not None else None)
    shapes = parse_input_shapes(input_shape)
    from edgecc.frontend.state import parse_state_pairs

    module = load_model(model, shapes, optimize=False, state=parse_state_pairs(state_pairs))
    scheme = resolve_quantize(quantize, module, calib, list(emits))
    pm = build_pipeline(passes, scheme, calib, io, verbose)
    pipeline_text = pm.pipeline_text()
    if flash_budget is None and executor is not None:
        raise EdgeccError("--executor applies to --flash-budget only")
    if weight_storage == "auto" and flash_budget is not None and budget is None:
        weight_storage = "encoded"  # no RAM budget: the search may spend arena on decoded weights
    build = dict(arena=arena, memory=memory, kernels=kernels, ram_budget=budget, weights=weight_storage)
    searched = None
    if flash_budget is not None:
        pipeline_text, *searched = fit_flash_budget(module, passes, scheme, calib, io, core, flash_budget,
                                                    evaluation, max_accuracy_drop, min_sqnr, quiet, build,
                                                    executor)
        pm = build_pipeline("", "none", None, io, verbose)
    if quiet:
        pm.options["progress"] = False  # no calibration progress bar either
    if verbose:
        click.echo(f"pipeline: {pipeline_text}", err=True)
    pm.run(module)
    job = Job(model, core.name, out, pipeline_text, scheme, prefix, board, emits,
              build, extra_code_size=code_size,
              resizable=bool(shapes), tflite_compression=tflite_compression)
    with staged_output(out) as tmp:
        done: set = set()
        for e in emits:
            if EMITTERS[e] not in done:
                EMITTERS[e](module, job, tmp)
                done.add(EMITTERS[e])
        add_tflite_report(job, tmp)
        if board_info is not None:
            check_board(module, job, board_info)
        if searched:
            res, baseline, samples, ev = searched
            write_search_report(res, baseline, module, samples, ev, core.name, weight_storage, tmp)
    if depfile is not None:
        from edgecc.backends.c.depfile import write_depfile

        if "c" in emits:  # the generated sources, header first (what build systems list as OUTPUT)
            outputs = [out / f"{prefix}.h", out / f"{prefix}.c", out / f"{prefix}_weights.c"]
        else:
            outputs = sorted(p for p in tmp.written if p.is_file())
        write_depfile(depfile, outputs, [model, calib])
    if not quiet:
        click.echo(summary(module, job))


def fit_flash_budget(module: Module, passes: str, scheme: str, calib: Path | None, io: str, core, budget: str,
                     evaluation: Path | None, max_drop: float, min_sqnr: float | None, quiet: bool,
                     build: dict, executor: str | None):
    """Run the float pipeline, search the compression for the flash budget and apply it to ``module``.

    Returns (pipeline text of it all, the search result, the uncompressed int8 model, the samples)."""
    from edgecc.compress.search import compile_chosen, load_evaluation, search
    from edgecc.quant.calibrate import load_calibration
    from edgecc.quant.graph import clone_module

    if calib is None or scheme not in ("int8", "int8-w4", "int16x8"):
        raise EdgeccError("--flash-budget needs calibration data (--calib) and a quantized output")
    float_pm = build_pipeline(passes, "none", calib, io, False)
    float_pm.run(module)
    samples = load_calibration(calib, module)
    ev = load_evaluation(evaluation, module) if evaluation is not None else None
    res = search(module, samples, budget=budget, target=core.name, evaluation=ev, max_drop=max_drop,
                 min_sqnr=min_sqnr, ram_budget=build.get("ram_budget"), build=build, executor=executor,
                 quantize=f"quantize{{scheme={scheme} io={io}}},canonicalize,dce")
    baseline = clone_module(module)[0]
    compile_chosen(baseline, res.baseline, samples)
    compile_chosen(module, res.chosen, samples)
    if not quiet:
        click.echo(f"flash budget {res.budget:,} B: {res.baseline.flash:,} -> {res.chosen.flash:,} B, "
                   f"{res.measure} {res.baseline.quality:.4g} -> {res.chosen.quality:.4g} "
                   f"({len(res.evaluated)} candidates; chosen: {res.chosen.label()})", err=True)
    text = ",".join(t for t in (float_pm.pipeline_text(), res.chosen.pipeline) if t)
    return text, res, baseline, samples, ev


def write_search_report(res, baseline: Module, module: Module, samples: list, evaluation,
                        target: str, weights: str, tmp: Path) -> None:
    """compress.json / compress.md (the search and per-class accuracy with --eval), pareto.png."""
    from edgecc.compress.report import compression_report, pareto_figure, write_report

    r = compression_report(baseline, module, calibration=samples, evaluation=evaluation, target=target,
                           weights=weights)
    r["search"] = res.summary()
    write_report(r, tmp)
    pareto_figure([(c.flash, c.quality) for c in res.evaluated], (res.chosen.flash, res.chosen.quality),
                  tmp / "pareto.png", res.measure)


def check_depfile(depfile: Path) -> None:
    """Refuse a depfile path that cannot be written, before anything else is."""
    probe = depfile.parent
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if depfile.is_dir():
        raise EdgeccError(f"--depfile {depfile}: is a folder")
    if not probe.is_dir():
        raise EdgeccError(f"--depfile {depfile}: '{probe}' is not a folder")
    import os

    if not os.access(probe, os.W_OK | os.X_OK):
        raise EdgeccError(f"--depfile {depfile}: '{probe}' is not writable")


def check_board(module: Module, job: Job, board) -> None:
    """Fail (nothing written) when the model does not fit the board, with what would help."""
    from edgecc.targets import check_fit

    if job.c_report is not None:
        r = job.c_report
        flash = r["flash_data_bytes"] + r.get("code_size", {}).get("text", 0)
        ram = r["arena_bytes"]
    else:
        from edgecc.analysis.stats import module_stats

        s = module_stats(module)
        flash, ram = s.param_bytes, s.largest_activation + s.input_bytes + s.output_bytes
    job.fit = check_fit(board, flash, ram, quantized=job.quantize != "none", resizable=job.resizable)


def summary(module: Module, job: Job) -> str:
    """The closing lines: what was written, fit, arena, flash, kernels per layer."""
    from edgecc.analysis.stats import module_stats

    s = module_stats(module)
    head = (f"{job.model.name} -> {job.out}/ ({', '.join(job.emits)}) for {job.target}"
            f"{' (' + job.board + ')' if job.board else ''}: {sum(s.op_counts.values())} ops, "
            f"{s.total_macs:,} MACs, {s.param_count:,} parameters ({s.param_bytes:,} bytes)"
            f"{', ' + job.quantize if job.quantize != 'none' else ', float'}")
    r = job.c_report
    fit = f"\n  {job.fit}" if job.fit else ""
    if r is None:
        return head + fit
    kernels = ", ".join(f"{k} {v}" for k, v in sorted(r["kernels"].items(), key=lambda kv: -kv[1]))
    return (f"{head}\n  arena {r['arena_bytes']:,} B, flash data {r['flash_data_bytes']:,} B{_speed_note(r)}\n"
            f"  kernels: {kernels}{fit}")


def _speed_note(r: dict) -> str:
    """What the memory mode traded: the speed build's arena and the estimated instruction ratio."""
    mc = r.get("memory_choice") or {}
    est, sp = mc.get("estimated_instructions"), mc.get("speed_estimated_instructions")
    if not est or not sp:
        return ""
    if mc.get("speed_arena_bytes") == r["arena_bytes"]:
        return f"; ~{est / 1e6:.2f} M instructions per inference (estimated)"
    return (f"; ~{est / 1e6:.2f} M instructions per inference (estimated; --memory speed: "
            f"{mc['speed_arena_bytes']:,} B, {est / sp:.2f}x its instructions)")


def _version() -> str:
    from edgecc import __version__

    return __version__
