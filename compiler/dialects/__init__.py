"""Built-in dialects; importing this package registers their ops."""

from edgecc.dialects import builtin, nn, nn_lstm, onnx, state  # noqa: F401
