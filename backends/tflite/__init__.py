"""TFLite backend: write ``nn`` graphs as .tflite FlatBuffers and read .tflite files back.

API (flatbuffers and the generated schema are imported on first use, so
importing this package stays cheap)::

    from edgecc.backends import tflite
    data = tflite.emit(module, "model.tflite", variant="auto")   # -> bytes
    data = tflite.to_bytes(module, variant="fp16")
    module = tflite.read_tflite("model.tflite")                  # or bytes

Variants: ``auto`` (as typed), ``float32``, ``fp16`` (float32 graph, fp16
weight buffers + DEQUANTIZE), ``int8`` and ``int16x8`` (the module must
already be quantized; the writer checks the activation types). See
``docs/backends/tflite.md`` for the op table; ``runtime="tflm"`` refuses at write time the
operators TFLM has no kernel for; ``edgecc.backends.tflite.verify``
runs files in LiteRT and TFLM for tests.
"""

from __future__ import annotations

VARIANTS = ("auto", "float32", "fp16", "int8", "int16x8")


def emit(module, path, *, variant: str = "auto", runtime: str = "any", compression: str = "auto",
         report: dict | None = None) -> bytes:
    """Write ``module`` to ``path`` as .tflite; returns the bytes."""
    from edgecc.backends.tflite.writer import emit as _emit

    return _emit(module, path, variant=variant, runtime=runtime, compression=compression, report=report)


def to_bytes(module, *, variant: str = "auto", runtime: str = "any", compression: str = "auto",
             report: dict | None = None) -> bytes:
    """Serialize ``module`` to .tflite bytes (``runtime="tflm"``: refuse what TFLM cannot run;
    ``compression``: TFLM LUT weights, see ``writer.to_bytes``)."""
    from edgecc.backends.tflite.writer import to_bytes as _to_bytes

    return _to_bytes(module, variant=variant, runtime=runtime, compression=compression, report=report)


def read_tflite(path_or_bytes, *, name: str | None = None):
    """Read a .tflite file (path or bytes) into an ``nn`` module."""
    from edgecc.backends.tflite.reader import read_tflite as _read

    return _read(path_or_bytes, name=name)


__all__ = ["VARIANTS", "emit", "read_tflite", "to_bytes"]
