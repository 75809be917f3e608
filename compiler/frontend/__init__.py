"""Model frontends: ONNX import (``load_onnx``) and the one-call ``import_onnx``.

``import_onnx`` = ``load_onnx`` (ONNX -> ``onnx`` dialect, static shapes) +
``legalize`` (``onnx`` -> ``nn``, NHWC) + an optional clean-up pipeline
(``canonicalize,fold-constants,cse,dce``; passes not registered are skipped)
+ ``module.verify()``.
"""

from __future__ import annotations

from collections.abc import Mapping

from edgecc.frontend.onnx_import import OnnxImportError, load_onnx
from edgecc.ir.core import Module

#: the clean-up pipeline run by ``import_onnx(optimize=True)``
DEFAULT_PIPELINE = ("canonicalize", "fold-constants", "cse", "dce")


def optimize_pipeline(names=DEFAULT_PIPELINE) -> str | None:
    """The pipeline string of those ``names`` that are registered passes (None if none is)."""
    try:
        from edgecc.passes.registry import available_passes
    except ImportError:
        return None
    have = set(available_passes())
    parts = [n for n in names if n in have]
    return ",".join(parts) if parts else None


def import_onnx(path_or_model, input_shapes: Mapping[str, tuple] | None = None,
                optimize: bool = True) -> Module:
    """Import an ONNX model as a verified ``nn`` module (see module docstring)."""
    from edgecc.conversion.onnx_to_nn import legalize

    module = load_onnx(path_or_model, input_shapes)
    legalize(module)
    if optimize:
        pipeline = optimize_pipeline()
        if pipeline:
            from edgecc.passes.manager import PassManager

            PassManager.parse(pipeline).run(module)
    module.verify()
    return module


__all__ = ["DEFAULT_PIPELINE", "OnnxImportError", "import_onnx", "load_onnx", "optimize_pipeline"]
