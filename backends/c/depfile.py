"""Make/Ninja depfiles: rebuild generated code when the model, calibration data or edgecc change.

``write_depfile(path, outputs, inputs)`` writes ``out1 out2: in1 in2 ...`` with spaces and
``$``/``#`` escaped as GNU Make and Ninja read them. ``edgecc_files()`` lists the installed
edgecc package's own files (Python sources, grammar, targets database, C runtime), so an
upgrade of edgecc re-runs the generation too.
"""

from __future__ import annotations

import os
from pathlib import Path

from edgecc.ir.diagnostics import EdgeccError

_PATTERNS = ("*.py", "*.lark", "*.toml", "*.h", "*.c", "*.cmake")


def _escape(p: str) -> str:
    from edgecc.backends.c.escape import make_path

    return make_path(p)


def edgecc_files() -> list[Path]:
    """Every file of the installed edgecc packages that affects generated code."""
    import edgecc
    import edgecc.backends
    import edgecc.runtime

    files: set[Path] = set()
    for pkg in (edgecc, edgecc.backends, edgecc.runtime):
        root = Path(pkg.__file__).resolve().parent
        for pattern in _PATTERNS:
            files.update(p for p in root.rglob(pattern) if "__pycache__" not in p.parts and "tests" not in p.parts)
    return sorted(files)


def write_depfile(path, outputs, inputs, include_edgecc: bool = True) -> Path:
    """Write a depfile: every output depends on every input (and on edgecc's own files)."""
    path = Path(path)
    deps = [Path(p).resolve() for p in inputs if p is not None]
    if include_edgecc:
        deps += edgecc_files()
    outs = " ".join(_escape(str(Path(o).resolve())) for o in outputs)
    lines = [f"{outs}: \\"]
    lines += [f"  {_escape(str(d))} \\" for d in deps[:-1]]
    if deps:
        lines.append(f"  {_escape(str(deps[-1]))}")
    else:
        lines[0] = lines[0][:-2]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError as e:
        raise EdgeccError(f"--depfile {path}: cannot write: {e.strerror or e}") from None
    return path


__all__ = ["edgecc_files", "write_depfile"]
