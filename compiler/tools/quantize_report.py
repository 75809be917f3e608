"""``edgecc quantize-report MODEL --calib C.npz [--eval E.npz]``: what quantization does to a model.

Quantizes MODEL (.onnx or .mlir, float) with the given scheme and calibration
data, runs the float model and the integer model (the integer reference
interpreter, bit-exact with TFLite Micro) on the evaluation data (the
calibration data when ``--eval`` is absent), and prints per-layer SQNR, output
agreement and, when the evaluation npz holds labels ``y`` beside the inputs
(``x`` or one array per input name), accuracy overall and per class. A QDQ
model is folded with its own scales instead (no calibration needed).
``--sensitivity`` adds the one-layer-at-a-time ranking used by mixed precision.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import click

from edgecc.ir.diagnostics import EdgeccError


@click.command("quantize-report", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("model", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--calib", type=click.Path(path_type=Path),
              help="Calibration data: FILE.npz or DIR of <input>.npy.")
@click.option("--eval", "evaluation", type=click.Path(dir_okay=False, path_type=Path),
              help="Evaluation data (.npz with x and labels y, or one array per input).")
@click.option("--scheme", type=click.Choice(["int8", "int16x8", "int8-w4"]), default="int8",
              show_default=True)
@click.option("--calibration", "method", type=click.Choice(["minmax", "percentile", "entropy", "mse"]),
              default="minmax", show_default=True, help="Range selection method.")
@click.option("--per-tensor", is_flag=True, help="Per-tensor instead of per-channel weight scales.")
@click.option("--bias-correction", is_flag=True, help="Correct biases for the weight rounding error.")
@click.option("--equalize", is_flag=True, help="Cross-layer equalization before calibrating.")
@click.option("--samples", type=int, default=None, help="Use at most N evaluation samples.")
@click.option("--layers", type=int, default=None, help="Show only the N layers with the lowest SQNR.")
@click.option("--worst", type=int, default=3, show_default=True, help="Classes listed as losing most.")
@click.option("--sensitivity", is_flag=True, help="Also rank layers by output SQNR when quantized alone.")
@click.option("--input-shape", multiple=True, metavar="NAME=DIMS", help="Fix a dynamic input shape.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("-q", "--quiet", is_flag=True, help="No status line while measuring.")
def quantize_report_command(model, calib, evaluation, scheme, method, per_tensor, bias_correction, equalize,
                            samples, layers, worst, sensitivity, input_shape, as_json, quiet=False):
    """Compare MODEL quantized against float: per-layer SQNR, agreement, per-class accuracy."""
    from edgecc.quant.ptq import QuantizeConfig, has_qdq
    from edgecc.quant.report import quantization_report
    from edgecc.tools.compile import load_model, parse_input_shapes

    if samples is not None and samples < 1:
        raise EdgeccError("--samples must be at least 1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module = load_model(model, parse_input_shapes(input_shape))
    if calib is None and evaluation is None:
        raise EdgeccError("give calibration data (--calib) and/or evaluation data (--eval)")
    if calib is None and not has_qdq(module):
        raise EdgeccError(f"{model.name} is a float model: --calib is needed to quantize it")
    from edgecc.tools.status import status

    # (progress=False: one live display at a time, the status line stands for calibration too)
    config = QuantizeConfig(scheme=scheme, calibration=method, per_channel=not per_tensor,
                            bias_correction=bias_correction, equalize=equalize, progress=False)
    with status(f"quantizing {model.name} ({scheme}) and comparing every layer with float", quiet):
        report = quantization_report(module, calibration=calib, evaluation=evaluation, config=config,
                                     model_name=model.name, max_samples=samples, worst=worst)
    ranking = None
    if sensitivity:
        if has_qdq(module):
            raise EdgeccError("--sensitivity needs a float model")
        from edgecc.quant.sensitivity import layer_sensitivity

        with status(f"ranking the layers of {model.name} by sensitivity (a quantized run per layer)", quiet):
            ranking = layer_sensitivity(module, calib, scheme, config=QuantizeConfig(
                scheme=scheme, calibration=method, per_channel=not per_tensor, progress=False))
    if as_json:
        d = report.to_dict()
        if ranking is not None:
            from dataclasses import asdict

            d["sensitivity"] = [asdict(r) for r in ranking]
        click.echo(json.dumps(d, indent=2))
        return
    text = report.text(max_layers=layers)
    if ranking is not None:
        text += "\nsensitivity (output SQNR with one layer quantized, lowest first)\n"
        for r in ranking:
            text += f"  {r.index:>3} {r.op:<20} {r.sqnr_db:8.2f}  {r.name}\n"
    click.echo(text, nl=False)


__all__ = ["quantize_report_command"]
