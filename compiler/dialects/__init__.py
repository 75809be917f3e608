"""Built-in dialects; importing this package registers their ops."""

from edgecc.dialects import builtin, nn, onnx, state  # noqa: F401
