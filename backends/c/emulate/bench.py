"""``edgecc bench MODEL -t CORE``: instructions per layer of the generated C on an emulated core.

The host ``edgecc bench`` times the Numba backend; with a Cortex-M core it runs the
C build on the core's QEMU machine instead (``edgecc.backends.c.emulate``) and reports
the guest instructions of one model run, per layer and in total, with the arena size:
a deterministic figure to compare memory modes and kernels (not cycles).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgecc.ir.diagnostics import EdgeccError


def read_samples(module, paths: tuple[Path, ...]) -> list[list[np.ndarray]] | None:
    """One sample from ``--input`` files (one .npy per input in order, or one .npz keyed by name)."""
    if not paths:
        return None
    args = module.func.arguments
    names = [a.name_hint or f"arg{i}" for i, a in enumerate(args)]
    if len(paths) == 1 and paths[0].suffix == ".npz":
        with np.load(paths[0], allow_pickle=False) as z:
            missing = [n for n in names if n not in z.files]
            if missing:
                raise EdgeccError(f"{paths[0]}: no array for input '{missing[0]}' "
                                  f"(inputs: {', '.join(names)})")
            arrays = [z[n] for n in names]
    elif len(paths) == len(args):
        arrays = [np.load(p, allow_pickle=False) for p in paths]
    else:
        raise EdgeccError(f"the model has {len(args)} input(s) ({', '.join(names)}): give one .npy per input "
                          f"or one .npz keyed by input name; got {len(paths)} file(s)")
    out = []
    for a, arr, n in zip(args, arrays, names):
        arr = np.asarray(arr)
        if arr.size != a.type.num_elements:
            raise EdgeccError(f"input '{n}' needs {a.type.num_elements} elements ({a.type}), got {arr.size}")
        out.append(arr.astype(a.type.element.numpy).reshape(a.type.shape))
    return [out]


def summary(result, model_name: str) -> dict:
    """The bench figures as one JSON-ready dict."""
    run = result.run_instructions
    layers = []
    for lay, n in zip(result.report["layers"], result.layer_instructions):
        layers.append({"index": lay["index"], "op": lay["op"], "location": lay["location"],
                       "kernel": lay["kernel"], "library": lay["library"], "instructions": n,
                       "share": round(n / run, 6) if run else 0.0})
    return {"model": model_name, "target": result.target, "machine": result.machine,
            "memory": result.report.get("memory"), "libraries": result.report["libraries"],
            "arena_bytes": result.report["arena_bytes"], "run_instructions": run,
            "layer_instructions_total": sum(result.layer_instructions), "layers": layers,
            "unit": "guest instructions executed by QEMU (not cycles)"}


def table(s: dict) -> str:
    """The figures of ``summary`` as a text table."""
    head = f"{'#':>3}  {'op':<28} {'location':<24} {'kernel':<36} {'instructions':>13} {'share':>6}"
    lines = [f"{s['model']} on {s['target']} (QEMU {s['machine']}), memory {s['memory']}, "
             f"kernels: {', '.join(s['libraries'])}", head, "-" * len(head)]
    for lay in s["layers"]:
        loc = lay["location"] if len(lay["location"]) <= 24 else lay["location"][:21] + "..."
        lines.append(f"{lay['index']:>3}  {lay['op'][:28]:<28} {loc:<24} {lay['kernel'][:36]:<36} "
                     f"{lay['instructions']:>13,} {100 * lay['share']:>5.1f}%")
    lines.append("-" * len(head))
    other = s["run_instructions"] - s["layer_instructions_total"]
    lines.append(f"total per run: {s['run_instructions']:,} instructions "
                 f"({other:,} outside the layers: call, arena check, marks)")
    lines.append(f"arena: {s['arena_bytes']:,} B")
    lines.append("counts are instructions executed by QEMU, not cycles")
    return "\n".join(lines)


__all__ = ["read_samples", "summary", "table"]
