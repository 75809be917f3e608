"""edgecc: compile ONNX models for microcontrollers and edge devices.

Heavy dependencies (onnx, numba, flatbuffers) are imported lazily by the
modules that need them, so ``edgecc opt`` starts fast.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("edgecc")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+unknown"

from edgecc.ir import (  # noqa: E402
    Builder,
    EdgeccError,
    Func,
    Module,
    Operation,
    Value,
)


def parse_ir(text: str, filename: str = "<string>") -> Module:
    """Parse textual IR into a verified-ready ``Module``."""
    from edgecc.ir.text.parser import parse_module

    return parse_module(text, filename)


def print_ir(module: Module, **kw) -> str:
    from edgecc.ir.text.printer import print_module

    return print_module(module, **kw)


__all__ = ["Builder", "EdgeccError", "Func", "Module", "Operation", "Value", "parse_ir",
           "print_ir", "__version__"]
