"""``emit(module, out_dir, ...)``: lower, plan memory and write the C project.

Files (``P`` is the prefix, default ``model``):

- ``P.h`` / ``P.c``: the API and the straight-line ``P_run`` (kernel calls on
  arena offsets; parameters as ``static const`` structs in flash);
- ``P_weights.c``: constant arrays, aligned, with ``EDGECC_WEIGHTS_SECTION``;
- ``edgecc/``: the portable runtime (headers and sources) the model calls;
- ``CMakeLists.txt`` (library target ``P``; CMSIS-NN through ``CMSIS_NN_PATH``)
  and ``P.mk`` for Make;
- ``P_testbench.c`` (emit "testbench"): raw inputs in, raw outputs out;
- ``report.json`` / ``report.md`` (emit "report"): flash, arena, MACs, the
  per-layer kernels and the memory plan.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from edgecc.analysis.memory import MemoryPlan
from edgecc.backends.c import templates as T
from edgecc.backends.c.report import report_markdown, write_report  # noqa: F401 (re-exported)
from edgecc.backends.c.emitter import CTYPES, DTYPE_ENUMS, Emitter, c_float, c_identifier, storage_kind
from edgecc.ir.core import Module, Value
from edgecc.ir.diagnostics import EdgeccError
from edgecc.ir.types import QuantizedType

EMITS = ("c", "report", "testbench")


@dataclass
class CModel:
    """Everything the emission produced (also returned by ``build_model``)."""

    lowered: Module
    plan: MemoryPlan
    files: dict[str, str]
    report: dict
    prefix: str
    core: object


def _version() -> str:
    from edgecc import __version__

    return __version__


#: longest --prefix: it starts every C symbol (identifiers are significant to 63 characters)
PREFIX_MAX = 40


def check_prefix(prefix: str) -> str:
    from edgecc.backends.c.escape import C_KEYWORDS, ascii_text

    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", prefix or "") or prefix in ("edgecc", "arena") \
            or prefix in C_KEYWORDS or len(prefix) > PREFIX_MAX:
        raise EdgeccError(f"--prefix '{ascii_text(prefix, 60)}' is not a usable C identifier (ASCII "
                          f"letters, digits, _; not starting with a digit; at most {PREFIX_MAX} "
                          "characters; not a C keyword or 'edgecc')")
    return prefix


def op_macs(op) -> int:
    """Multiply-accumulates of a ``c`` op (conv, depthwise, dense, matmul; 0 otherwise)."""
    if callable(getattr(op, "macs", None)):
        return op.macs()
    kind = getattr(op, "mac_kind", None) or op.name
    out = op.results[0].type.num_elements if op.results else 0
    if "depthwise" in kind:
        w = op.operands[1].type.shape
        return out * w[1] * w[2]
    if "conv" in kind:
        w = op.operands[1].type.shape
        return out * w[1] * w[2] * w[3]
    if "fully_connected" in kind:
        return out * op.operands[1].type.shape[-1]
    if "matmul" in kind:
        return out * op.attr("k", 0)
    return 0


def _io_names(values: list[Value], base: str, seen: set[str]) -> list[str]:
    names = []
    for i, v in enumerate(values):
        n = c_identifier(v.name_hint, f"{base}{i}")
        while n in seen:
            n = f"{n}_{i}"
        seen.add(n)
        names.append(n)
    return names


def lower_and_plan(module: Module, core, kernels: str | None = None, memory: str = "auto",
                   ram_budget: int | None = None):
    """Lower ``module`` and plan its arena; returns (lowered module, plan, choice).

    ``memory`` and ``ram_budget`` pick the kernels and band execution per layer
    (``edgecc.backends.c.memory_modes``).
    """
    from edgecc.backends.c.memory_modes import choose

    c = choose(module, core, kernels, memory, ram_budget)
    return c.lowered, c.plan, c


def build_model(module: Module, *, target="generic", prefix: str = "model", arena: str = "static",
                kernels: str | None = None, testbench: bool = True, memory: str = "auto",
                ram_budget: int | None = None, weights: str = "auto") -> CModel:
    """Lower ``module``, plan its arena and render every file (nothing written).

    ``weights`` stores sparse or clustered weights encoded ("auto", "encoded") or never
    ("dense"); see ``edgecc.backends.c.encoding``.
    """
    from edgecc.backends.c.encoding import choose_encodings

    weights_mode = weights

    from edgecc.targets import core as get_core

    check_prefix(prefix)
    if arena not in ("static", "external"):
        raise EdgeccError(f"arena must be 'static' or 'external', got '{arena}'")
    core = get_core(target) if isinstance(target, str) else target
    from edgecc.backends.c.ranges import check_c_ranges

    check_c_ranges(module)  # before lowering precomputes anything from an unwritable value
    lowered, plan, choice = lower_and_plan(module, core, kernels, memory, ram_budget)
    dense_arena = plan.arena_size
    plan = choose_encodings(lowered, plan, core, weights_mode, ram_budget)
    plan.check()
    check_c_ranges(module, lowered, plan, core)
    P, PU = prefix, prefix.upper()
    e = Emitter(lowered, plan, P, core.alignment)
    body = e.body()
    func = lowered.func
    ins, outs = list(func.arguments), list(func.outputs)
    seen: set[str] = set()
    in_names = _io_names(ins, "input", seen)
    out_names = _io_names(outs, "output", seen)
    from edgecc.backends.c.escape import c_comment, c_string, cmake_comment, make_comment

    raw_source = str(module.attrs.get("edgecc.source") or module.name or "model")
    source = c_comment(raw_source)  # a user's file name: escaped per language (see escape.py)
    common = dict(P=P, PU=PU, version=_version(), source=source, target=core.name)
    from edgecc.backends.c.state import source_parts

    common.update(source_parts(lowered, P, PU))

    # ---- weights (graph outputs that are constants need their arrays too
    for v in outs:
        if e._constant(v) is not None:
            e.weight(v)
    weights = sorted(e.weights.values(), key=lambda w: int(w.symbol.rsplit("_w", 1)[1]))
    walign = max(core.alignment, 4)
    arrays = "\n".join(f"/* {w.comment} */\nconst {w.ctype} {w.symbol}[{w.count}] EDGECC_ALIGNED({walign}) "
                       f"EDGECC_WEIGHTS_SECTION = {{\n{w.data}\n}};\n" for w in weights)
    weights_bytes = sum(w.nbytes for w in weights)
    weight_decls = "\n".join(f"extern const {w.ctype} {w.symbol}[{w.count}];" for w in weights) or "/* none */"
    flash_data = weights_bytes + e.param_bytes

    # ---- I/O
    def io_ptr(v: Value, cast: str) -> str:
        if e._constant(v) is not None:
            return f"({cast})(const void *){e.weight(v).symbol}"
        return f"({cast})(arena + {plan.offset(v)})"

    def info(v: Value, name: str) -> str:
        t = v.type
        q = t.element if isinstance(t.element, QuantizedType) else None
        shape = ", ".join(str(d) for d in t.shape) or "0"  # a static compound literal: any rank
        return (f"    {{\"{name}\", {DTYPE_ENUMS[storage_kind(v)]}, {t.rank}, (const int32_t[]){{{shape}}}, "
                f"{t.num_elements}u, "
                f"{t.nbytes}u, {1 if q else 0}, {c_float(q.scale) if q and not q.per_axis else '0.0f'}, "
                f"{q.zero_point if q and not q.per_axis else 0}}}")

    io_macros, accessors, accessor_defs, quant_h, quant_c = [], [], [], [], []
    for kind, vals, names in (("INPUT", ins, in_names), ("OUTPUT", outs, out_names)):
        for i, (v, n) in enumerate(zip(vals, names)):
            t = v.type
            ct = CTYPES[storage_kind(v)]
            q = t.element if isinstance(t.element, QuantizedType) else None
            io_macros.append(f"/* {kind.lower()} {i} \"{n}\": {t} */")
            io_macros.append(f"#define {PU}_{kind}{i}_NAME {c_string(n)}")
            io_macros.append(f"#define {PU}_{kind}{i}_CTYPE {ct}")
            io_macros.append(f"#define {PU}_{kind}{i}_DTYPE {DTYPE_ENUMS[storage_kind(v)]}")
            io_macros.append(f"#define {PU}_{kind}{i}_RANK {t.rank}")
            io_macros.append(f"#define {PU}_{kind}{i}_SHAPE {{{', '.join(map(str, t.shape)) or '0'}}}")
            io_macros.append(f"#define {PU}_{kind}{i}_ELEMENTS {t.num_elements}u")
            io_macros.append(f"#define {PU}_{kind}{i}_BYTES {t.nbytes}u")
            if q is not None and not q.per_axis:
                io_macros.append(f"#define {PU}_{kind}{i}_SCALE {c_float(q.scale)}")
                io_macros.append(f"#define {PU}_{kind}{i}_ZERO_POINT ({q.zero_point})")
            io_macros.append("")
            low = kind.lower()
            const = "const " if kind == "OUTPUT" else ""
            accessors.append(f"{const}{ct} *{P}_{low}_{n}(void);")
            accessor_defs.append(f"\n{const}{ct} *{P}_{low}_{n}(void)\n{{\n"
                                 f"    return ({const}{ct} *){P}_{low}({i});\n}}")
            if q is not None and not q.per_axis:
                fields = (f"{{{t.num_elements}, {q.storage.bits}, {c_float(q.scale)}, {q.zero_point}, "
                          f"{q.qmin}, {q.qmax}}}")
                if kind == "INPUT":
                    sig = f"void {P}_quantize_{n}(const float *x, {ct} *q)"
                    quant_h.append(f"/* real -> stored for input \"{n}\" ({t.num_elements} elements) */\n{sig};")
                    quant_c.append(f"\n{sig}\n{{\n    static const edgecc_quant_params_t p = {fields};\n"
                                   f"    edgecc_quantize_f32(&p, x, q);\n}}")
                else:
                    sig = f"void {P}_dequantize_{n}(const {ct} *q, float *x)"
                    quant_h.append(f"/* stored -> real for output \"{n}\" ({t.num_elements} elements) */\n"
                                   f"{sig};")
                    quant_c.append(f"\n{sig}\n{{\n    static const edgecc_quant_params_t p = {fields};\n"
                                   f"    edgecc_dequantize_f32(&p, q, x);\n}}")
    invoke_params = ", ".join([f"const {CTYPES[storage_kind(v)]} *{n}" for v, n in zip(ins, in_names)]
                              + [f"{CTYPES[storage_kind(v)]} *{n}" for v, n in zip(outs, out_names)]) or "void"
    def copies(vals, names, fmt, none):
        lines = [fmt(i, v, n) if v.type.nbytes else f"    (void){n};" for i, (v, n) in enumerate(zip(vals, names))]
        return "\n".join(lines) or none

    invoke_in = copies(ins, in_names, lambda i, v, n: f"    memcpy({P}_input({i}), {n}, {v.type.nbytes}u);",
                       "    /* no inputs */")
    invoke_out = copies(outs, out_names, lambda i, v, n: f"    memcpy({n}, {P}_output({i}), {v.type.nbytes}u);",
                        "    /* no outputs */")
    input_cases = "\n".join(f"    case {i}:\n        return {io_ptr(v, 'void *')};" for i, v in enumerate(ins))
    output_cases = "\n".join(f"    case {i}:\n        return {io_ptr(v, 'const void *')};"
                             for i, v in enumerate(outs))
    storage = max(plan.arena_size, 1)
    if arena == "static":
        arena_decl = (f"static uint8_t {P}_arena_storage[{storage}] EDGECC_ALIGNED({PU}_ARENA_ALIGN) "
                      f"EDGECC_ARENA_SECTION;\nstatic uint8_t *{P}_arena = {P}_arena_storage;")
    else:
        arena_decl = f"static uint8_t *{P}_arena = NULL; /* set with {P}_set_arena() */"
    macs = sum(op_macs(op) for op in plan.order)
    libraries = sorted({getattr(op, "library", "edgecc") for op in plan.order})
    includes = ['#include "edgecc/kernels.h"', '#include "edgecc/kernels_int.h"']
    if "cmsis-nn" in libraries:
        includes.append('#include "arm_nnfunctions.h"')
    nops = len(plan.order)
    summary = (f"{nops} kernel calls, {macs:,} MACs; arena {plan.arena_size:,} B; "
               f"constant data {flash_data:,} B")
    header = T.HEADER.substitute(
        common, arena_size=plan.arena_size, alignment=max(core.alignment, 4),
        external=1 if arena == "external" else 0, weights_bytes=flash_data, macs=macs,
        num_inputs=len(ins), num_outputs=len(outs), io_macros="\n".join(io_macros),
        io_accessors="\n".join(accessors) + ("\n" if accessors else ""), invoke_params=invoke_params,
        quant_helpers=("\n" + "\n".join(quant_h) + "\n") if quant_h else "",
        first_in=in_names[0] if in_names else "x", first_out=out_names[0] if out_names else "y",
        in_ctype=CTYPES[storage_kind(ins[0])] if ins else "void",
        out_ctype=CTYPES[storage_kind(outs[0])] if outs else "void")
    src = T.SOURCE.substitute(
        common, summary=summary, includes="\n".join(includes), weight_decls=weight_decls + "\n",
        param_decls="\n".join(e.decls) + ("\n" if e.decls else "/* none */\n"), arena_decl=arena_decl,
        arena_size_check=(f"    if (size < {PU}_ARENA_SIZE) {{\n        return EDGECC_ERR_ARENA_SIZE;\n    }}"
                          if plan.arena_size else "    (void)size; /* no arena memory needed */"),
        input_info=",\n".join(info(v, n) for v, n in zip(ins, in_names)) or "    {0}",
        output_info=",\n".join(info(v, n) for v, n in zip(outs, out_names)) or "    {0}",
        input_cases=input_cases, output_cases=output_cases, accessor_defs="\n".join(accessor_defs) + "\n",
        body="\n".join(body), invoke_params=invoke_params, invoke_in=invoke_in, invoke_out=invoke_out,
        quant_defs="\n".join(quant_c) + ("\n" if quant_c else ""))
    wsrc = T.WEIGHTS.substitute(common, weights_bytes=flash_data, alignment=walign,
                                arrays=arrays or "/* no constant arrays */\n")
    files_ = {f"{P}.h": header, f"{P}.c": src, f"{P}_weights.c": wsrc}
    uses_cmsis = "cmsis-nn" in libraries
    sources = f"${{CMAKE_CURRENT_SOURCE_DIR}}/{P}.c ${{CMAKE_CURRENT_SOURCE_DIR}}/{P}_weights.c"
    files_["CMakeLists.txt"] = T.CMAKE.substitute(
        common, source=cmake_comment(raw_source), sources=sources, testbench_default="OFF",
        cmsis_comment=("calls CMSIS-NN: configure with -DCMSIS_NN_PATH=<checkout> (default: the "
                       "environment variable EDGECC_CMSIS_NN)" if uses_cmsis
                       else "portable kernels only (no CMSIS-NN needed)"),
        cmsis_block=T.CMSIS_BLOCK.replace("@P@", P) if uses_cmsis else "")
    files_[f"{P}.mk"] = T.MAKE.substitute(
        common, source=make_comment(raw_source), make_sources=f"$({PU}_DIR)/{P}.c $({PU}_DIR)/{P}_weights.c",
        cpu_flags=" ".join(core.cflags) or "(none: host or any C99 compiler)",
        cmsis_include=" -I$(or $(CMSIS_NN_PATH),$(EDGECC_CMSIS_NN))/Include" if uses_cmsis else "",
        cmsis_srcs=" $(CMSIS_NN_SRCS)" if uses_cmsis else "",
        cmsis_make=("# CMSIS-NN's integer sources: set CMSIS_NN_PATH (default: the environment variable "
                    "EDGECC_CMSIS_NN)\nCMSIS_NN_PATH ?= $(EDGECC_CMSIS_NN)\nCMSIS_NN_SRCS ?= $(filter-out "
                    "%_f16.c %_f32.c %_flt.c,$(wildcard $(CMSIS_NN_PATH)/Source/*/*.c))\n" if uses_cmsis else ""))
    if testbench:
        setup = (f"    static uint8_t arena_buffer[{PU}_ARENA_SIZE > 0 ? {PU}_ARENA_SIZE : 1] "
                 f"EDGECC_ALIGNED({PU}_ARENA_ALIGN);\n    if ({P}_set_arena(arena_buffer, sizeof arena_buffer) "
                 "!= EDGECC_OK) {\n        return 6;\n    }" if arena == "external" else "    /* static arena */")
        files_[f"{P}_testbench.c"] = T.TESTBENCH.substitute(
            common, in_bytes=sum(v.type.nbytes for v in ins), out_bytes=sum(v.type.nbytes for v in outs),
            arena_setup=setup)
    report = _report(module, lowered, plan, core, P, e, flash_data, weights_bytes, macs, arena, libraries,
                     memory, choice)
    report["weight_encoding"] = _encoding_summary(report, weights_mode, dense_arena)
    return CModel(lowered, plan, files_, report, P, core)


def layer_encoding(op) -> dict | None:
    from edgecc.backends.c.encoding import encoding_of, flash_saved

    enc = encoding_of(op)
    if enc is None:
        return None
    return {"kind": enc.kind, "dense_bytes": enc.dense_bytes, "stored_bytes": enc.nbytes,
            "saved_bytes": flash_saved(enc), "levels": enc.levels, "bits": enc.bits,
            "codebooks": 0 if enc.kind == "bitmask" else enc.channels}


def _encoding_summary(report: dict, weights: str, dense_arena: int) -> dict:
    encoded = [lay for lay in report["layers"] if lay["weight_encoding"]]
    return {"mode": weights, "layers": len(encoded),
            "saved_bytes": sum(lay["weight_encoding"]["saved_bytes"] for lay in encoded),
            "dense_arena_bytes": dense_arena}


def _report(module, lowered, plan, core, prefix, e, flash_data, weights_bytes, macs, arena, libraries,
            memory, choice) -> dict:
    from edgecc.backends.c.memory_modes import estimate
    from edgecc.backends.c.report import io_entry, layer_rows

    layers = layer_rows(plan, core, choice, op_macs, estimate)
    for lay, op in zip(layers, plan.order):
        lay["weight_encoding"] = layer_encoding(op)
    state_bytes = _state_size(lowered)
    kernels: dict[str, int] = {}
    for op in plan.order:
        kernels[op.kernel_name(plan)] = kernels.get(op.kernel_name(plan), 0) + 1
    return {
        "edgecc_version": _version(),
        "model": str(module.attrs.get("edgecc.source") or module.name or "model"),
        "source_sha256": module.attrs.get("edgecc.source_sha256"),
        "target": core.name, "isa": core.isa, "prefix": prefix, "arena_mode": arena, "memory": memory,
        "libraries": libraries,
        "arena_bytes": plan.arena_size,
        "state_bytes": state_bytes,
        "ram_bytes": plan.arena_size + state_bytes,
        "states": [{"name": d.name, "type": str(d.type), "bytes": d.type.nbytes}
                   for d in lowered.states.values()],
        "flash_data_bytes": flash_data,
        "weights_bytes": weights_bytes,
        "param_bytes": e.param_bytes,
        "macs": macs,
        "kernel_calls": len(plan.order),
        "kernels": dict(sorted(kernels.items())),
        "memory_plan": {k: v for k, v in plan.to_json().items() if k not in ("buffers", "ops")},
        "memory_choice": {
            "mode": choice.mode, "ram_budget": choice.budget,
            "estimated_instructions": int(round(choice.instructions)),
            "speed_estimated_instructions": int(round(choice.speed_instructions)),
            "speed_arena_bytes": choice.speed_arena,
            "band_groups": len(choice.groups), "portable_layers": choice.portable_layers},
        "inputs": [io_entry(a) for a in lowered.func.arguments],
        "outputs": [io_entry(v) for v in lowered.func.outputs],
        "layers": layers,
    }


def _state_size(module) -> int:
    from edgecc.backends.c.state import layout

    return layout(module)[1]


def runtime_dir() -> Path:
    """Folder of the shipped C runtime (``include/edgecc/*.h``, ``src/*.c`` and their private ``src/*.h``)."""
    return Path(str(files("edgecc.runtime").joinpath("c")))


def copy_runtime(dest: Path) -> list[Path]:
    src = runtime_dir()
    out = []
    for sub, pattern in (("include/edgecc", "*.h"), ("src", "*.c"), ("src", "*.h")):
        d = dest / "edgecc" / sub
        d.mkdir(parents=True, exist_ok=True)
        for f in sorted((src / sub).glob(pattern)):
            shutil.copyfile(f, d / f.name)
            out.append(d / f.name)
    return out


def emit(module: Module, out_dir, *, target="generic", prefix: str = "model",
         emit=("c", "report", "testbench"), arena: str = "static", kernels: str | None = None,
         memory: str = "auto", ram_budget: int | None = None, weights: str = "auto") -> list[Path]:
    """Write the C project of ``module`` into ``out_dir``; returns the written files (sorted).

    ``emit`` selects artifacts among "c", "report", "testbench"; ``arena`` is
    "static" (a static buffer in .bss) or "external" (``P_set_arena`` must be
    called); ``kernels`` overrides the core's kernel library ("portable"); ``memory`` trades
    CMSIS-NN speed for RAM on Cortex-M targets ("auto", "ram", "speed"; see ``lower_and_plan``);
    ``ram_budget`` (bytes) makes ``auto`` take the fastest plan whose arena fits it.
    ``weights`` stores sparse or clustered weights encoded ("auto", "encoded", "dense").
    """
    wanted = tuple(emit)
    for w in wanted:
        if w not in EMITS:
            raise EdgeccError(f"unknown C artifact '{w}' (choose from {', '.join(EMITS)})")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    m = build_model(module, target=target, prefix=prefix, arena=arena, kernels=kernels,
                    testbench="testbench" in wanted, memory=memory, ram_budget=ram_budget, weights=weights)
    written: list[Path] = []
    if "c" in wanted or "testbench" in wanted:
        for name, text in m.files.items():
            if name.endswith("_testbench.c") and "testbench" not in wanted:
                continue
            if "c" not in wanted and not name.endswith("_testbench.c"):
                continue
            (out_dir / name).write_text(text, encoding="utf-8")
            written.append(out_dir / name)
        if "c" in wanted:
            written += copy_runtime(out_dir)
    if "report" in wanted:
        written += write_report(m.report, out_dir)
    return sorted(written)


__all__ = ["CModel", "EMITS", "build_model", "check_prefix", "copy_runtime", "emit", "layer_encoding",
           "op_macs", "report_markdown", "runtime_dir", "write_report"]
