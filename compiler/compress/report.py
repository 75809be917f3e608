"""The compression report: ``compress.json`` / ``compress.md`` (+ figures), before against after.

``compression_report(before, after, calibration=..., evaluation=...)`` compares two modules of the
same network -- typically the int8 model and its compressed int8 model -- on the figures the
device sees: per layer the output channels, rank (when a layer was factorised: the other
helper's ``lowrank`` adds the factor layers), sparsity, levels per channel, stored bits per
weight, parameters, MACs, flash bytes of the weights as the C backend stores them (dense or
encoded, ``edgecc.backends.c.encoding``) and the SQNR of the layer's output against the same
layer of ``before`` on the calibration data; for the whole model the C build's flash and RAM, the
MACs, output SQNR and top-1 agreement and, with labelled evaluation data (``x``, ``y``), accuracy
overall and per class, flagging the classes that lose most: a compressed model can harm a
subgroup while the average holds.

Layers are matched by name (``edgecc.compress.layers.layer_name``); a layer of ``after`` with no
counterpart (a factor of a split layer) is reported alone. ``write_report`` writes the files;
with matplotlib installed (extra ``plots``) it adds ``layers.png`` (flash and SQNR per layer)
and, given candidates of a search, ``pareto.png`` (``pareto_figure``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from edgecc.compress.layers import WEIGHT_OPS, layer_name
from edgecc.ir.core import Module, Operation
from edgecc.ir.types import QuantizedType


def _weights(op: Operation) -> np.ndarray:
    return np.asarray(op.operands[1].defining_op().attr("value").array)


def _dense_bytes(op: Operation, w: np.ndarray, packed: set) -> int:
    """Bytes the weights take stored dense: int4 is two a byte where the C build packs it (the CMSIS-NN
    ``_s4`` kernels), a byte each where a portable kernel reads it."""
    bits = getattr(getattr(op.operands[1].type, "element", None), "bits", None)
    if bits is not None and bits < 8 and op.loc in packed:
        return -(-w.size * bits // 8)
    return w.size * w.dtype.itemsize


def _packed_locs(lowered: Module) -> set:
    """Locations of the lowered ops that read a constant the C emitter stores packed."""
    from edgecc.backends.c.packing import PACK_ATTR

    locs = set()
    for op in lowered.func.body:
        for v in op.operands:
            d = v.defining_op()
            if d is not None and d.attr(PACK_ATTR) is not None:
                locs.add(op.loc)
    return locs


def _levels(op: Operation, w: np.ndarray) -> int:
    """Most distinct values of one output channel (a codebook's size)."""
    rows = w.reshape(-1, w.shape[-1]).T if op.name == "nn.depthwise_conv2d" else w.reshape(w.shape[0], -1)
    return int(max((np.unique(r).size for r in rows), default=0))


def _out_channels(op: Operation) -> int:
    return int(op.results[0].type.shape[-1])


def _layer_outputs(module: Module, samples, ops: list[Operation]) -> dict[int, list[np.ndarray]]:
    """Real-valued outputs of ``ops`` for every sample (reference interpreter)."""
    from edgecc.interp.reference import evaluate_op
    from edgecc.quant.report import quantized_feeds
    from edgecc.quant.schemes import dequantize_array

    want = {id(op) for op in ops}
    out: dict[int, list[np.ndarray]] = {id(op): [] for op in ops}
    body = list(module.func.body)
    for s in samples:
        feeds = quantized_feeds(module, s)
        env = {id(a): np.asarray(feeds[k]) for a, k in zip(module.func.arguments, feeds)}
        for op in body:
            if op.name == "func.return":
                out.setdefault("outputs", []).append(
                    [_real(v, env[id(v)], dequantize_array) for v in op.operands]
                )
                break
            for r, y in zip(op.results, evaluate_op(op, [env[id(v)] for v in op.operands])):
                env[id(r)] = y
            if id(op) in want:
                out[id(op)].append(_real(op.results[0], env[id(op.results[0])], dequantize_array))
    return out


def _real(v, arr, dequantize_array):
    e = v.type.element
    return dequantize_array(arr, e) if isinstance(e, QuantizedType) else np.asarray(arr, dtype=np.float64)


def _sqnr(ref: list[np.ndarray], got: list[np.ndarray]) -> float:
    from edgecc.quant.report import sqnr_db

    sig = sum(float(np.sum(np.asarray(r, np.float64) ** 2)) for r in ref)
    noise = sum(float(np.sum((np.asarray(g, np.float64) - r) ** 2)) for r, g in zip(ref, got))
    return sqnr_db(sig, noise)


def _c_layers(cmodel) -> dict:
    """Location -> {"macs", "weight_encoding"} of the MAC layers of a C build."""
    from edgecc.backends.c.generate import layer_encoding, op_macs

    return {
        op.loc: {"macs": op_macs(op), "weight_encoding": layer_encoding(op)}
        for op in cmodel.plan.order
        if op_macs(op) and op.loc is not None
    }


def _layer_rows(before: Module, after: Module, samples, cb: dict, ca: dict, packed: set = frozenset()):
    b_ops = {layer_name(op): op for op in before.func.body if op.name in WEIGHT_OPS}
    a_ops = [op for op in after.func.body if op.name in WEIGHT_OPS]
    outs_b = _layer_outputs(before, samples, list(b_ops.values()))
    outs_a = _layer_outputs(after, samples, a_ops)
    rows = []
    for op in a_ops:
        name = layer_name(op)
        ref = b_ops.get(name)
        w = _weights(op)
        c_lay = ca.get(op.loc) or {}
        enc = c_lay.get("weight_encoding")
        dense_bytes = _dense_bytes(op, w, packed)
        stored = (
            enc["stored_bytes"] + (dense_bytes - enc["stored_bytes"] - enc["saved_bytes"])
            if enc
            else dense_bytes
        )
        row = {
            "layer": name,
            "op": op.name.split(".", 1)[1],
            "channels": [_out_channels(ref) if ref is not None else None, _out_channels(op)],
            "params": [int(_weights(ref).size) if ref is not None else None, int(w.size)],
            "nonzero": int(np.count_nonzero(w)),
            "sparsity": float(np.mean(w == 0)) if w.size else 0.0,
            "levels": _levels(op, w),
            "bits": 8.0 * stored / max(w.size, 1),
            "macs": [(cb.get(ref.loc) or {}).get("macs") if ref is not None else None, c_lay.get("macs")],
            "flash_bytes": [int(_weights(ref).nbytes) if ref is not None else None, int(stored)],
            "encoding": enc["kind"] if enc else "dense",
            "sqnr_db": _sqnr(outs_b[id(ref)], outs_a[id(op)])
            if ref is not None and ref.results[0].type.shape == op.results[0].type.shape
            else None,
        }
        rows.append(row)
    return rows, outs_b.get("outputs", []), outs_a.get("outputs", [])


def compression_report(
    before: Module,
    after: Module,
    *,
    calibration,
    evaluation=None,
    target: str = "generic",
    weights: str = "auto",
    samples: int = 32,
    worst: int = 3,
) -> dict:
    """The report of ``after`` against ``before`` (see the module docstring).

    ``calibration`` / ``evaluation``: paths or arrays, or float feeds already loaded (a list of
    samples; ``(feeds, labels)``)."""
    from edgecc.backends.c.generate import build_model
    from edgecc.quant.calibrate import load_calibration
    from edgecc.quant.report import class_accuracy, load_eval

    # float samples already loaded for the float model (e.g. by the search) also serve integer-io models
    cal = calibration[:samples or None] if isinstance(calibration, list) else load_calibration(
        calibration, before, samples or None)
    mb = build_model(before, target=target, weights="dense", testbench=False)
    ma = build_model(after, target=target, weights=weights, testbench=False)
    c_before, c_after = mb.report, ma.report
    layers, ref_out, got_out = _layer_rows(before, after, cal, _c_layers(mb), _c_layers(ma),
                                             _packed_locs(ma.lowered))
    out0 = [o[0] for o in ref_out], [o[0] for o in got_out]
    agree = None
    if out0[0] and out0[0][0].ndim >= 1 and out0[0][0].shape[-1] > 1:
        agree = float(np.mean([np.argmax(a) == np.argmax(b) for a, b in zip(*out0)]))
    model = {
        "flash_bytes": [c_before["flash_data_bytes"], c_after["flash_data_bytes"]],
        "weights_bytes": [c_before["weights_bytes"], c_after["weights_bytes"]],
        "ram_bytes": [c_before["arena_bytes"], c_after["arena_bytes"]],
        "macs": [c_before["macs"], c_after["macs"]],
        "nonzero_macs": _nonzero_macs(layers),
        "output_sqnr_db": _sqnr(*out0),
        "top1_agreement": agree,
        "encoded_layers": c_after["weight_encoding"]["layers"],
        "target": target,
        "weights": weights,
    }
    if evaluation is not None:
        ev, labels = evaluation if isinstance(evaluation, tuple) else load_eval(evaluation, before)
        if labels is not None:
            pb = np.array([np.argmax(o[0]) for o in _layer_outputs(before, ev, [])["outputs"]])
            pa = np.array([np.argmax(o[0]) for o in _layer_outputs(after, ev, [])["outputs"]])
            acc = class_accuracy(labels, pb, pa, worst)
            model["accuracy"] = [acc.float_accuracy, acc.quant_accuracy]
            model["per_class"] = [
                {"label": c.label, "count": c.count, "accuracy": [c.float_accuracy, c.quant_accuracy]}
                for c in acc.per_class
            ]
            model["worst_classes"] = acc.worst
    model["tflite_bytes"] = _tflite_storage(before, after, layers)
    return {
        "model": str(after.attrs.get("edgecc.source") or after.name or "model"),
        "layers": layers,
        "total": model,
    }


def _tflite_storage(before: Module, after: Module, layers: list[dict]) -> list[int] | None:
    """[dense .tflite of ``before``, TFLM LUT .tflite of ``after``] bytes; sets each layer's ``tflite``
    to ``lut`` (its weights stored as TFLM LUT indices) or ``dense``. None when no .tflite can be written."""
    from edgecc.backends.tflite.writer import to_bytes
    from edgecc.ir.diagnostics import EdgeccError

    try:
        dense = to_bytes(before, compression="none")
        rep: dict = {}
        to_bytes(after, compression="lut", report=rep)
    except EdgeccError:
        return None
    lut = {r["tensor"] for r in rep["tensors"] if r["stored"] == "lut"}
    weights = {layer_name(op): op.operands[1].name_hint for op in after.func.body if op.name in WEIGHT_OPS}
    for row in layers:
        row["tflite"] = "lut" if weights.get(row["layer"]) in lut else "dense"
    return [len(dense), rep["bytes"][1]]


def _nonzero_macs(layers: list[dict]) -> int | None:
    """MACs with a nonzero weight (what a sparse kernel would run; edgecc's kernels run them all)."""
    if any(r["macs"][1] is None for r in layers):
        return None
    return int(sum(r["macs"][1] * (1.0 - r["sparsity"]) for r in layers))


def _fmt(x, spec: str = ",") -> str:
    if x is None:
        return "-"
    if isinstance(x, float) and math.isinf(x):
        return "inf"
    return format(x, spec)


def _pair(p, spec: str = ",") -> str:
    return _fmt(p[0], spec) if p[0] == p[1] else f"{_fmt(p[0], spec)} -> {_fmt(p[1], spec)}"


def report_markdown(r: dict) -> str:
    t = r["total"]
    lines = [
        f"# edgecc compression report: {r['model']}",
        "",
        f"- flash (constant data, C build for `{t['target']}`): {_pair(t['flash_bytes'])} B "
        f"({t['flash_bytes'][1] / max(t['flash_bytes'][0], 1):.1%}); weights {_pair(t['weights_bytes'])} B, "
        f"{t['encoded_layers']} layers stored encoded (`weights={t['weights']}`)",
        f"- RAM (arena): {_pair(t['ram_bytes'])} B",
        f"- MACs: {_pair(t['macs'])} (with a nonzero weight: {_fmt(t['nonzero_macs'])})",
        f"- output SQNR against the uncompressed model: {_fmt(t['output_sqnr_db'], '.1f')} dB; top-1 "
        f"agreement {_fmt(t['top1_agreement'], '.1%')}",
    ]
    if t.get("tflite_bytes"):
        lines.append(f"- .tflite for TFLM (LUT-compressed weights where smaller): {_pair(t['tflite_bytes'])} "
                     "B")
    if "accuracy" in t:
        lines.append(
            f"- accuracy: {_pair(t['accuracy'], '.2%')}; classes losing most: "
            f"{', '.join(map(str, t['worst_classes'])) or 'none'}"
        )
    lines += [
        "",
        "| layer | op | channels | params | sparsity | levels | bits | MACs | flash B | encoding | .tflite "
        "| SQNR dB |",
        "|---|---|---|---|---:|---:|---:|---|---|---|---|---:|",
    ]
    for x in r["layers"]:
        lines.append(
            f"| {x['layer']} | {x['op']} | {_pair(x['channels'])} | {_pair(x['params'])} | "
            f"{x['sparsity']:.1%} | {x['levels']} | {x['bits']:.2f} | {_pair(x['macs'])} | "
            f"{_pair(x['flash_bytes'])} | {x['encoding']} | {x.get('tflite', '-')} | "
            f"{_fmt(x['sqnr_db'], '.1f')} |"
        )
    if "search" in r:
        sr = r["search"]
        lines += ["", f"Search: budget {sr['budget_bytes']:,} B, {len(sr['candidates'])} candidates measured by "
                  f"{sr['measure']}; chosen: {sr['chosen']['choice']} ({sr['chosen']['flash_bytes']:,} B, "
                  f"{sr['chosen']['quality']:.4g}); pipeline `{sr['chosen']['pipeline']}`", "",
                  "![flash against quality of every candidate](pareto.png)"]
    if "per_class" in t:
        worst = set(t["worst_classes"])
        lines += ["", "| class | samples | accuracy before | after | change |", "|---:|---:|---:|---:|---:|"]
        for c in t["per_class"]:
            b, a = c["accuracy"]
            flag = " **(loses most)**" if c["label"] in worst else ""
            lines.append(
                f"| {c['label']}{flag} | {c['count']} | {b:.1%} | {a:.1%} | {100 * (a - b):+.1f} pts |"
            )
    return "\n".join(lines) + "\n"


def _clean(x):
    if isinstance(x, float) and not math.isfinite(x):
        return None if math.isnan(x) else ("inf" if x > 0 else "-inf")
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    return x


def layers_figure(r: dict, path: Path) -> None:
    """Flash bytes (before, after) and SQNR per layer as a bar chart."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [x["layer"] for x in r["layers"]]
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(max(6, 0.6 * len(names) + 2), 6), sharex=True)
    idx = np.arange(len(names))
    a1.bar(idx - 0.2, [x["flash_bytes"][0] or 0 for x in r["layers"]], 0.4, label="before")
    a1.bar(idx + 0.2, [x["flash_bytes"][1] for x in r["layers"]], 0.4, label="after")
    a1.set_ylabel("weight flash (B)")
    a1.legend()
    a2.bar(
        idx,
        [
            x["sqnr_db"] if isinstance(x["sqnr_db"], float) and math.isfinite(x["sqnr_db"]) else 0
            for x in r["layers"]
        ],
    )
    a2.set_ylabel("layer output SQNR (dB)")
    a2.set_xticks(idx, names, rotation=45, ha="right", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)


def pareto_figure(
    candidates: list[tuple[int, float]], chosen: tuple[int, float], path: Path, quality: str = "quality"
) -> None:
    """Flash bytes against quality of every evaluated candidate, the chosen one marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    if candidates:
        f, q = zip(*candidates)
        ax.scatter(f, q, s=12, label="candidates")
    ax.scatter([chosen[0]], [chosen[1]], s=60, marker="*", color="red", label="chosen")
    ax.set_xlabel("flash (B)")
    ax.set_ylabel(quality)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)


def write_report(r: dict, out_dir, figures: bool = True) -> list[Path]:
    """``compress.json``, ``compress.md`` and, with matplotlib, ``layers.png``; returns the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "compress.json").write_text(
        json.dumps(_clean(r), indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    (out / "compress.md").write_text(report_markdown(r), encoding="utf-8")
    paths = [out / "compress.json", out / "compress.md"]
    if figures:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            return paths
        layers_figure(r, out / "layers.png")
        paths.append(out / "layers.png")
    return paths


__all__ = ["compression_report", "layers_figure", "pareto_figure", "report_markdown", "write_report"]
