"""Fixtures of the torch.onnx model tests: each network exported once per session.

A variant is ``(net, exporter, batchnorm)``: exporter "dynamo" (``torch.export``) or "torchscript",
batchnorm "kept" (exported unoptimized, so the file has ``BatchNormalization`` nodes) or "folded"
(``fuse_conv_bn_eval`` in torch, then the exporter's default optimizations). Networks without
BatchNorm (the recurrent ones) have one "kept" variant per exporter, with default options. Exports
go to a session temp folder with fixed seeds, so every run builds the same files on any machine.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
import warnings
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def nets():
    """tests/torch_models/nets.py (tests are not a package; torch is imported only here)."""
    name = "edgecc_tests_torch_nets"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, HERE / "nets.py")
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


@pytest.fixture(scope="session")
def exported(tmp_path_factory):
    """``exported(net, exporter, batchnorm)`` -> path of the .onnx file (exported on first use)."""
    pytest.importorskip("torch", reason="torch (test extra) is not installed")
    if exporter_missing := _onnxscript_missing():
        pytest.skip(exporter_missing)
    folder = tmp_path_factory.mktemp("torch-onnx")
    cache: dict[tuple, Path] = {}

    def get(net: str, exporter: str, batchnorm: str) -> Path:
        key = (net, exporter, batchnorm)
        if key not in cache:
            n = nets()
            model = n.build(net)
            if batchnorm == "folded":
                model = n.fold_batchnorm(model)
            path = folder / f"{net}-{exporter}-{batchnorm}.onnx"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                logging.getLogger("torch").setLevel(logging.ERROR)
                n.export(model, n.NETS[net][1], path, dynamo=exporter == "dynamo",
                         optimize=batchnorm == "folded" or not n.has_batchnorm(net))
            cache[key] = path
        return cache[key]

    return get


def _onnxscript_missing() -> str | None:
    try:
        import onnxscript  # noqa: F401  (the dynamo exporter's translator)
    except ImportError:
        return "onnxscript (needed by torch.onnx's dynamo exporter) is not installed"
    return None
