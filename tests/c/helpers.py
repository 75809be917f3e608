"""Helpers shared by the C backend tests (loaded by file path: tests are not a package)."""

from __future__ import annotations

import importlib.util
import sys
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent


def load(name: str, path: Path):
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def load_test_models():
    """tests/frontend/models.py (small ONNX model builders)."""
    return load("edgecc_tests_frontend_models", HERE.parent / "frontend" / "models.py")


def import_model(source, **kw):
    from edgecc.frontend import import_onnx

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return import_onnx(source, **kw)
