"""Packaging and code-layout rules that keep the one-import-name layout sound."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SOURCE_ROOTS = ("compiler", "backends", "runtime")
#: layers that must not be imported at module level by the lower ones
LOWER = {"edgecc.ir": ("edgecc.passes", "edgecc.transforms", "edgecc.frontend", "edgecc.backends",
                       "edgecc.tools", "edgecc.conversion", "edgecc.interp")}


def python_files():
    for root in SOURCE_ROOTS:
        for path in sorted((REPO / root).rglob("*.py")):
            if "_generated" not in path.parts:
                yield path


def module_name(path: Path) -> str:
    rel = path.relative_to(REPO)
    prefix = {"compiler": "edgecc", "backends": "edgecc.backends", "runtime": "edgecc.runtime"}
    parts = [prefix[rel.parts[0]], *rel.with_suffix("").parts[1:]]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def top_level_imports(tree: ast.Module):
    """Imports executed at import time (module body, not inside functions)."""
    for node in tree.body:
        if isinstance(node, ast.Import):
            for a in node.names:
                yield node.lineno, a.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module


def test_imports_from_outside_the_repo(tmp_path):
    code = ("import edgecc, edgecc.backends, edgecc.runtime, edgecc.ir\n"
            "import importlib.util as u\n"
            "assert u.find_spec('compiler') is None and u.find_spec('backends') is None\n"
            "assert u.find_spec('runtime') is None\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("path", list(python_files()), ids=lambda p: str(p.relative_to(REPO)))
def test_layering_and_absolute_imports(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""] if node.level == 0 else []
        else:
            continue
        for n in names:
            assert n.split(".")[0] not in SOURCE_ROOTS, \
                f"{path}:{node.lineno}: import edgecc.* instead of '{n}'"
    me = module_name(path)
    for layer, banned in LOWER.items():
        if me == layer or me.startswith(layer + "."):
            for line, n in top_level_imports(tree):
                assert not n.startswith(banned), f"{path}:{line}: {layer} must not import {n}"


@pytest.mark.parametrize("path", list(python_files()), ids=lambda p: str(p.relative_to(REPO)))
def test_file_size_cap(path: Path):
    lines = path.read_text(encoding="utf-8").count("\n")
    assert lines <= 1000, f"{path} has {lines} lines; split it (hard cap 1,000)"


def test_cli_starts_without_heavy_imports():
    code = ("import sys, edgecc.tools.cli, edgecc.tools.opt, edgecc.ir.text.parser\n"
            "heavy = [m for m in ('onnx', 'numba', 'flatbuffers', 'onnxruntime') if m in sys.modules]\n"
            "assert not heavy, heavy\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_version_and_help():
    out = subprocess.run([sys.executable, "-m", "edgecc", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("edgecc ")
    helptext = subprocess.run([sys.executable, "-m", "edgecc", "--help"], capture_output=True,
                              text=True).stdout
    for command in ("compile", "opt"):
        assert command in helptext
