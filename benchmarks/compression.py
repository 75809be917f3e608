"""Print the compression table: flash / RAM / MACs / quality before and after, per model and strength.

    python benchmarks/compression.py [--markdown] [--target cortex-m4]

Rows: the digits CNN and the DS-CNN-style model trained by the tests
(``tests/compress``; structured pruning + least-squares refit, int8; quality
= top-1 on their held-out sets) and MLPerf Tiny ad01 (low-rank, data-aware,
int8; quality = output SQNR against the float model on synthetic
spectrogram frames, as in ``tests/compress/test_lowrank.py``). Flash is the
C backend's exact constant data (``flash_data_bytes``), RAM its arena.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent / "tests" / "compress"
AD01 = HERE.parent.parent / "shared" / "models" / "mlperf_tiny" / "ad01_fp32.onnx"


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def _int8(module, calib):
    from edgecc.quant.graph import clone_module
    from edgecc.quant.ptq import QuantizeConfig, quantize_module

    m = clone_module(module)[0]
    quantize_module(m, QuantizeConfig(scheme="int8", io="int"), calib)
    return m


def _figures(qmodule, target):
    from edgecc.analysis.stats import module_stats
    from edgecc.backends.c.generate import build_model

    r = build_model(qmodule, target=target).report
    return r["flash_data_bytes"], r["arena_bytes"], module_stats(qmodule).total_macs


def _top1(qmodule, x, y):
    from edgecc.interp.reference import run
    from edgecc.quant.report import quantized_feeds

    name = qmodule.func.arguments[0].name_hint
    return float(np.mean([run(qmodule, quantized_feeds(qmodule, {name: xi[None]}))[0].argmax() == yi
                          for xi, yi in zip(x, y)]))


def classifier_rows(label, helper, target, ratios=(0.3, 0.5, 0.7)):
    from threadpoolctl import threadpool_limits

    from edgecc.compress.prune import prune_module
    from edgecc.frontend import import_onnx
    from edgecc.quant.graph import clone_module

    params, train, test = helper.train()
    calib = [{"x": helper.nchw(x[None])} for x in train[0][:256]]
    xt = helper.nchw(test[0])
    base = import_onnx(helper.export_onnx(params))
    q = _int8(base, calib[:100])
    flash0, ram0, macs0 = _figures(q, target)
    acc0 = _top1(q, xt, test[1])
    rows = [(label, "int8", flash0, ram0, macs0, f"{100 * acc0:.2f} %", flash0, macs0)]
    for r in ratios:
        m = clone_module(base)[0]
        with threadpool_limits(1):
            prune_module(m, calib, ratio=r, multiple=4)
        q = _int8(m, calib[:100])
        flash, ram, macs = _figures(q, target)
        rows.append((label, f"prune {r:.0%} + int8", flash, ram, macs, f"{100 * _top1(q, xt, test[1]):.2f} %",
                     flash0, macs0))
    return rows


def ad01_rows(target, ratios=(0.7, 0.5, 0.3)):
    from edgecc.compress.lowrank import lowrank_module
    from edgecc.frontend import import_onnx
    from edgecc.interp.reference import run
    from edgecc.quant.graph import clone_module
    from edgecc.quant.report import quantized_feeds

    lr = _load("edgecc_tests_lowrank", TESTS / "test_lowrank.py")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        base = import_onnx(AD01)
    name = base.func.arguments[0].name_hint
    calib = [{name: x} for x in lr.spectrogram_frames(128, 0)]
    test = lr.spectrogram_frames(48, 1)
    want = np.stack([run(base, [x])[0] for x in test])

    def sqnr(qm):
        s = qm.func.outputs[0].type.element
        got = np.stack([(run(qm, quantized_feeds(qm, {name: x}))[0].astype(np.float64) - s.zero_points[0])
                        * s.scales[0] for x in test])
        return f"{10 * np.log10((want ** 2).sum() / ((want - got) ** 2).sum()):.1f} dB"

    q = _int8(base, calib[:64])
    flash0, ram0, macs0 = _figures(q, target)
    rows = [("ad01", "int8", flash0, ram0, macs0, sqnr(q), flash0, macs0)]
    for r in ratios:
        for whiten in (True, False):
            m = clone_module(base)[0]
            lowrank_module(m, calib, ratio=r, whiten=whiten)
            q = _int8(m, calib[:64])
            flash, ram, macs = _figures(q, target)
            kind = "data-aware" if whiten else "plain"
            rows.append(("ad01", f"lowrank {r:.0%} {kind} + int8", flash, ram, macs, sqnr(q), flash0, macs0))
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--markdown", action="store_true", help="print a Markdown table")
    p.add_argument("--target", default="cortex-m4")
    args = p.parse_args(argv)
    digits = _load("edgecc_tests_digits_cnn", TESTS / "digits_cnn.py")
    dscnn = _load("edgecc_tests_dscnn", TESTS / "dscnn.py")
    rows = classifier_rows("digits CNN", digits, args.target)
    rows += classifier_rows("DS-CNN (synthetic)", dscnn, args.target)
    if AD01.is_file():
        rows += ad01_rows(args.target)
    head = ("model", "variant", "flash B", "flash %", "RAM B", "MACs", "MACs %", "quality")
    lines = []
    for label, variant, flash, ram, macs, quality, flash0, macs0 in rows:
        lines.append((label, variant, f"{flash:,}", f"{100 * flash / flash0:.0f}", f"{ram:,}", f"{macs:,}",
                      f"{100 * macs / macs0:.0f}", quality))
    if args.markdown:
        print("| " + " | ".join(head) + " |")
        print("| " + " | ".join("---" if i < 2 else "---:" for i in range(len(head))) + " |")
        for line in lines:
            print("| " + " | ".join(line) + " |")
    else:
        widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(head)]
        print("  ".join(h.ljust(w) for h, w in zip(head, widths)))
        for line in lines:
            print("  ".join(c.ljust(w) for c, w in zip(line, widths)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
