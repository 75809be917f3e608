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

def import_onnx(path_or_model, input_shapes: Mapping[str, tuple] | None = None,
                optimize: bool = True) -> Module:
    """Import an ONNX model as a verified ``nn`` module (see module docstring)."""
    from edgecc.conversion.onnx_to_nn import legalize

    module = load_onnx(path_or_model, input_shapes)
    legalize(module)
    if optimize:
        from edgecc.passes.manager import PassManager
        from edgecc.passes.registry import DEFAULT_PIPELINE

        PassManager.parse(DEFAULT_PIPELINE).run(module)
    module.verify()
    return module


__all__ = ["OnnxImportError", "import_onnx", "load_onnx"]
