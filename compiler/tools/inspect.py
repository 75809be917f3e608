"""``edgecc inspect MODEL``: what the imported, legalized graph looks like.

Prints ops by type, parameters, MACs per layer and in total, activation
sizes, and every unsupported ONNX op (all of them, not just the first).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import click

from edgecc.ir.diagnostics import EdgeccError


def _shape(t) -> str:
    return "x".join(map(str, t.shape)) or "scalar"


def unsupported_ops(path: Path, input_shapes) -> list[tuple[str, str, str]]:
    """(node name, op type, opset) of every ONNX node the frontend cannot lower."""
    from edgecc.conversion.onnx_to_nn import SUPPORTED_OPS
    from edgecc.frontend.onnx_import import load_onnx

    module = load_onnx(path, input_shapes=input_shapes)
    supported = set(SUPPORTED_OPS)
    opset = module.attrs.get("onnx.opset", "?")
    out = []
    for op in module.ops:
        if op.dialect == "onnx" and op.name.split(".", 1)[1] not in supported:
            out.append((op.loc.name or "?", op.name.split(".", 1)[1], str(opset)))
    return out


def inspect_text(module, model: Path) -> str:
    from edgecc.analysis.stats import module_stats

    from edgecc.analysis.stats import short_label

    s = module_stats(module)
    lines = [f"model: {model.name}"]
    for a in module.func.arguments:
        lines.append(f"input  {a.name_hint or '?'}: {a.type}")
    for i, v in enumerate(module.func.outputs):
        lines.append(f"output {v.name_hint or i}: {v.type}")
    for d in module.states.values():
        lines.append(f"state  {d.name}: {d.type} (kept across invocations)")
    lines.append("")
    header = f"{'#':>3}  {'op':<22} {'layer':<28} {'output':<16} {'MACs':>12} {'params':>9} {'act bytes':>10}"
    lines += [header, "-" * len(header)]
    ops = [op for op in module.ops if op.name not in ("builtin.constant", "func.return")]
    for i, (op, st) in enumerate(zip(ops, s.ops)):
        out = _shape(op.results[0].type) if op.results else "-"
        lines.append(f"{i:>3}  {st.name:<22} {short_label(st.loc, 28):<28} {out:<16} {st.macs:>12,} "
                     f"{st.params:>9,} {st.out_bytes:>10,}")
    lines.append("")
    lines.append(f"ops: {sum(s.op_counts.values())} ("
                 + ", ".join(f"{k.split('.', 1)[1]} {v}" for k, v in sorted(s.op_counts.items())) + ")")
    lines.append(f"MACs: {s.total_macs:,}")
    lines.append(f"parameters: {s.param_count:,} ({s.param_bytes:,} bytes)")
    lines.append(f"largest activation: {s.largest_activation:,} bytes; inputs {s.input_bytes:,} bytes, "
                 f"outputs {s.output_bytes:,} bytes")
    return "\n".join(lines)


@click.command("inspect", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("model", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--input-shape", multiple=True, metavar="NAME=DIMS", help="Fix a dynamic input shape.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--ir", "show_ir", is_flag=True, help="Print the legalized IR (large constants elided).")
def inspect_command(model, input_shape, as_json, show_ir):
    """Summarise MODEL (.onnx or .mlir) after import and legalization."""
    from edgecc.tools.compile import load_model, parse_input_shapes

    shapes = parse_input_shapes(input_shape)
    if model.suffix.lower() == ".onnx" and model.exists():
        missing = unsupported_ops(model, shapes)
        if missing:
            listing = "; ".join(f"'{n}' ({t}, opset {o})" for n, t, o in missing)
            counts = Counter(t for _, t, _ in missing)
            raise EdgeccError(f"{model}: {len(missing)} unsupported node(s) of type(s) "
                              f"{', '.join(sorted(counts))}: {listing}")
    module = load_model(model, shapes, optimize=True)
    if as_json:
        from edgecc.tools.report import report_data

        click.echo(json.dumps(report_data(module, model, "-", "import"), indent=2, sort_keys=True))
        return
    click.echo(inspect_text(module, model))
    if show_ir:
        from edgecc.ir.text.printer import print_module

        click.echo("")
        click.echo(print_module(module, elide_resources=True))
