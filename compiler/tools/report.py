"""Compile report (report.json + report.md) of the IR when no backend writes a richer one."""

from __future__ import annotations

import json
from pathlib import Path

from edgecc.analysis.stats import module_stats
from edgecc.ir.core import Module


def report_data(module: Module, model: Path, target: str, pipeline: str) -> dict:
    from edgecc import __version__

    s = module_stats(module)
    return {
        "edgecc_version": __version__,
        "model": Path(model).name,
        "source_sha256": module.attrs.get("edgecc.source_sha256"),
        "target": target,
        "pipeline": pipeline,
        "inputs": [{"name": a.name_hint, "type": str(a.type)} for a in module.func.arguments],
        "outputs": [{"type": str(v.type)} for v in module.func.outputs],
        "total_macs": s.total_macs,
        "parameters": s.param_count,
        "parameter_bytes": s.param_bytes,
        "op_counts": dict(sorted(s.op_counts.items())),
        "layers": [vars(o) for o in s.ops],
    }


def write_report(module: Module, out: Path, model: Path, target: str, pipeline: str) -> None:
    data = report_data(module, model, target, pipeline)
    (out / "report.json").write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    lines = [f"# edgecc report: {data['model']}", "",
             f"- target: `{target}`", f"- pipeline: `{pipeline}`",
             f"- MACs: {data['total_macs']:,}", f"- parameters: {data['parameters']:,} "
             f"({data['parameter_bytes']:,} bytes)", "",
             "| # | op | location | MACs | params | in bytes | out bytes |",
             "|---:|---|---|---:|---:|---:|---:|"]
    for i, o in enumerate(data["layers"]):
        lines.append(f"| {i} | {o['name']} | {o['loc']} | {o['macs']:,} | {o['params']:,} | "
                     f"{o['in_bytes']:,} | {o['out_bytes']:,} |")
    (out / "report.md").write_text("\n".join(lines) + "\n")
