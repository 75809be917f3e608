"""The ``onnx`` dialect: one generic op per imported ONNX node.

``onnx.Conv``, ``onnx.Gemm`` ... all map to ``OnnxOp``, which carries the ONNX
op type in its name and the ONNX attributes verbatim. Import stays total and
dumb; the semantics live in the legalization to ``nn``.
"""

from __future__ import annotations

from edgecc.ir.core import Operation
from edgecc.ir.spec import Dialect


class OnnxOp(Operation):
    """A generic ONNX node ``onnx.<OpType>``; domain and opset live in attributes."""

    @property
    def op_type(self) -> str:
        return self.name.split(".", 1)[1]

    def verify(self) -> None:
        if not self.op_type:
            raise self.error("missing ONNX op type")


onnx = Dialect("onnx", "Imported ONNX nodes (generic).", generic=OnnxOp)
