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
                optimize: bool = True, state: Mapping[str, str] | None = None) -> Module:
    """Import an ONNX model as a verified ``nn`` module (see module docstring).

    ``state`` maps graph inputs to the outputs that carry their next value; each pair becomes
    persistent state (``edgecc.frontend.state.make_state``).
    """
    from edgecc.conversion.onnx_to_nn import legalize

    module = load_onnx(path_or_model, input_shapes)
    if state:
        from edgecc.frontend.state import make_state

        make_state(module, state)
    legalize(module)
    if optimize:
        from edgecc.passes.manager import PassManager
        from edgecc.passes.registry import DEFAULT_PIPELINE

        PassManager.parse(DEFAULT_PIPELINE).run(module)
    module.verify()
    return module


__all__ = ["OnnxImportError", "import_onnx", "load_onnx"]
