"""The C backend's report: ``report.json``, ``report.md`` and its two pictures.

``report.md`` answers what an embedded engineer asks first: does it fit (arena, flash), how fast
is it likely to be (instructions per inference: the cost model's estimate, or the emulator's
count when ``edgecc bench -t CORE`` measured it), what was traded for RAM (the ``speed`` build's
figures beside the chosen ones), and, per layer, which kernel runs and why. ``memory.png`` shows
the live bytes per step against the arena (and TFLM's greedy arena on the same graph);
``layers.png`` the estimated instructions and output bytes per layer. The pictures are drawn
with matplotlib (Agg, no timestamps), so the same model gives byte-identical files.
"""

from __future__ import annotations

import json
from pathlib import Path

from edgecc.analysis.stats import layer_label, short_label
from edgecc.ir.types import QuantizedType

#: pictures written beside report.md
FIGURES = ("memory.png", "layers.png")


def io_entry(v) -> dict:
    """Name, type and (quantized) scale / zero point of a model input or output."""
    entry = {"name": v.name_hint, "type": str(v.type)}
    q = v.type.element if isinstance(v.type.element, QuantizedType) else None
    if q is not None and len(q.scales) == 1:
        entry["scale"] = float(q.scales[0])
        entry["zero_point"] = int(q.zero_points[0])
    return entry


def why(op, core, choice, plan) -> str:
    """Why this layer runs the kernel it runs (the report's last column)."""
    kernel = op.kernel_name(plan)
    if hasattr(op, "group"):
        return f"CMSIS-NN over bands of {op.attr('band_rows')} rows: lowers the peak"
    if kernel.startswith("alias"):
        return "alias of its input: no code"
    lib = getattr(op, "library", "")
    if lib == "cmsis-nn":
        return "CMSIS-NN"
    if not getattr(op, "mac_kind", None) or lib != "edgecc":
        return ""
    if (core.kernels or "") != "cmsis-nn":
        return "portable (no CMSIS-NN on this target)"
    if choice.portable_layers:
        return "portable in-place kernel (--memory ram)"
    return "portable (no bit-exact CMSIS-NN kernel for this case)"


def layer_rows(plan, core, choice, op_macs, estimate) -> list[dict]:
    from edgecc.backends.c.encoding import c_scratch

    rows = []
    for i, op in enumerate(plan.order):
        outs = list(op.results)
        rows.append({
            "index": i, "op": op.name, "kernel": op.kernel_name(plan), "library": op.library,
            "location": layer_label(op),
            "output_shape": [list(r.type.shape) for r in outs],
            "macs": op_macs(op), "scratch_bytes": c_scratch(op),
            "in_place": plan.reuses(op) is not None,
            "output_offset": [plan.offset(r) if plan.has(r) else None for r in outs],
            "output_bytes": sum(r.type.nbytes for r in outs),
            "live_bytes": plan.table[i].live_bytes,
            "estimated_instructions": 0 if op.kernel_name(plan).startswith("alias") else
            int(round(estimate(op, core.isa))),
            "why": why(op, core, choice, plan),
        })
    return rows


def _memory_lines(r: dict) -> list[str]:
    mc = r.get("memory_choice")
    if not mc:
        return []
    budget = f", RAM budget {mc['ram_budget']:,} B" if mc.get("ram_budget") else ""
    est, sp = mc["estimated_instructions"], mc["speed_estimated_instructions"]
    ratio = f" ({est / sp:.3f}x)" if sp else ""
    lines = ["", f"## Memory against speed (`--memory {mc['mode']}`{budget})", "",
             "| build | arena B | instructions per inference (estimated) |", "|---|---:|---:|",
             f"| this build | {r['arena_bytes']:,} | {est:,}{ratio} |",
             f"| `--memory speed` (all CMSIS-NN, whole tensors) | {mc['speed_arena_bytes']:,} | {sp:,} |"]
    if "emulated" in r:
        e = r["emulated"]
        lines.append(f"| measured on {e['machine']} (QEMU) | {r['arena_bytes']:,} | "
                     f"{e['run_instructions']:,} |")
    lines += ["", f"{mc['band_groups']} band group(s), {mc['portable_layers']} layer(s) on portable "
              "in-place kernels. Estimates come from the cost model in `edgecc.backends.c.memory_modes`; "
              "`edgecc bench MODEL -t CORE` counts the real figure on an emulated core."]
    return lines


def report_markdown(r: dict) -> str:
    mp = r["memory_plan"]
    lines = [f"# edgecc C report: {r['model']}", "",
             f"- target: `{r['target']}` (CMSIS-NN path: {r['isa']}; libraries: {', '.join(r['libraries'])})",
             f"- arena (all activations, I/O and scratch): **{r['arena_bytes']:,} B** "
             f"({mp['strategy']}{', optimal' if mp['optimal'] else ''}; live-bytes lower bound "
             f"{mp['lower_bound']:,} B; TFLM greedy on the same graph {mp['tflm_greedy_arena_bytes']:,} B)",
             f"- constant data in flash: {r['flash_data_bytes']:,} B (weights {r['weights_bytes']:,} B, "
             f"kernel parameters {r['param_bytes']:,} B)",
             f"- MACs: {r['macs']:,} in {r['kernel_calls']} kernel calls"]
    we = r.get("weight_encoding")
    if we and we["layers"]:
        lines.append(f"- encoded weights (`{we['mode']}`): {we['layers']} layers, {we['saved_bytes']:,} B "
                     f"of flash saved, decoded into scratch (arena {we['dense_arena_bytes']:,} B with dense "
                     "weights)")
    if r.get("state_bytes"):
        names = ", ".join(f"`{s['name']}` {s['bytes']:,} B" for s in r["states"])
        lines.append(f"- persistent state outside the arena: {r['state_bytes']:,} B ({names})")
    if "code_size" in r:
        cs = r["code_size"]
        lines.append(f"- compiled with {cs['compiler']} {' '.join(cs['flags'])}: .text {cs['text']:,} B, "
                     f".rodata {cs['rodata']:,} B, .data {cs['data']:,} B, .bss {cs['bss']:,} B")
    for kind, entries in (("input", r["inputs"]), ("output", r["outputs"])):
        for e in entries:
            q = f", scale {e['scale']:.9g}, zero point {e['zero_point']}" if "scale" in e else ""
            lines.append(f"- {kind} `{e['name'] or '?'}`: {e['type']}{q}")
    lines += _memory_lines(r)
    if r.get("figures"):
        lines += ["", "![live bytes per step](memory.png)", "", "![instructions and bytes per layer](layers.png)"]
    lines += ["", "## Layers", "",
              "| # | op | location | kernel | why | output | MACs | est. instr | scratch | in place | offset "
              "| live B |",
              "|---:|---|---|---|---|---|---:|---:|---:|---|---:|---:|"]
    for lay in r["layers"]:
        shape = "; ".join("x".join(map(str, s)) for s in lay["output_shape"])
        offs = ", ".join("-" if o is None else f"{o:,}" for o in lay["output_offset"])
        lines.append(f"| {lay['index']} | {lay['op']} | {short_label(lay['location'])} | `{lay['kernel']}` | "
                     f"{lay.get('why', '')} | {shape} | {lay['macs']:,} | "
                     f"{lay.get('estimated_instructions', 0):,} | {lay['scratch_bytes']:,} | "
                     f"{'yes' if lay['in_place'] else ''} | {offs} | {lay['live_bytes']:,} |")
    return "\n".join(lines) + "\n"


def draw_figures(r: dict, out_dir: Path) -> list[Path]:
    """``memory.png`` and ``layers.png`` (matplotlib, Agg backend, deterministic metadata)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    layers = r["layers"]
    steps = [lay["index"] for lay in layers]
    meta = {"Software": None}
    out = []

    fig, ax = plt.subplots(figsize=(8, 3.6), dpi=100)
    ax.step(steps, [lay["live_bytes"] for lay in layers], where="mid", label="live bytes")
    ax.axhline(r["arena_bytes"], color="tab:red", linestyle="--", label=f"arena {r['arena_bytes']:,} B")
    tflm = r["memory_plan"]["tflm_greedy_arena_bytes"]
    ax.axhline(tflm, color="tab:gray", linestyle=":", label=f"TFLM greedy {tflm:,} B")
    mc = r.get("memory_choice") or {}
    if mc.get("speed_arena_bytes") and mc["speed_arena_bytes"] != r["arena_bytes"]:
        ax.axhline(mc["speed_arena_bytes"], color="tab:orange", linestyle="-.",
                   label=f"--memory speed {mc['speed_arena_bytes']:,} B")
    ax.set_xlabel("step (kernel call)")
    ax.set_ylabel("bytes")
    ax.set_title(f"{r['target']}: live bytes per step")
    ax.set_ylim(0, max(tflm, r["arena_bytes"], mc.get("speed_arena_bytes") or 0) * 1.35)
    ax.legend(fontsize=8, loc="upper right", ncol=2)
    fig.tight_layout()
    fig.savefig(out_dir / "memory.png", metadata=meta)
    plt.close(fig)
    out.append(out_dir / "memory.png")

    fig, ax = plt.subplots(figsize=(8, 3.6), dpi=100)
    ax.bar(steps, [lay.get("estimated_instructions", 0) for lay in layers], color="tab:blue",
           label="instructions (estimated)")
    ax.set_yscale("symlog")
    ax.set_xlabel("layer")
    ax.set_ylabel("instructions")
    ax2 = ax.twinx()
    ax2.plot(steps, [lay["output_bytes"] for lay in layers], color="tab:green", marker=".",
             label="output bytes")
    ax2.set_ylabel("output bytes")
    ax.set_title(f"{r['target']}: per layer")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize=8, loc="upper right")
    fig.tight_layout()
    fig.savefig(out_dir / "layers.png", metadata=meta)
    plt.close(fig)
    out.append(out_dir / "layers.png")
    return out


def write_report(report: dict, out_dir: Path, figures: bool = True) -> list[Path]:
    out_dir = Path(out_dir)
    report = dict(report, figures=list(FIGURES) if figures and report.get("layers") else [])
    (out_dir / "report.json").write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    (out_dir / "report.md").write_text(report_markdown(report), encoding="utf-8")
    written = [out_dir / "report.json", out_dir / "report.md"]
    if report["figures"]:
        written += draw_figures(report, out_dir)
    return written


__all__ = ["FIGURES", "draw_figures", "io_entry", "layer_rows", "report_markdown", "why", "write_report"]
