"""The Python examples of docs/ir.md run, in order, as one script."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "ir.md"


def test_ir_doc_examples_run():
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert len(blocks) >= 3
    import sys
    import types

    module = types.ModuleType("ir_doc_example")  # a real module, as the user's code would be
    sys.modules[module.__name__] = module
    namespace = module.__dict__
    try:
        for block in blocks:
            exec(compile(block, str(DOC), "exec"), namespace)
    finally:
        from edgecc.ir.spec import DIALECTS
        from edgecc.passes.registry import unregister_pass

        sys.modules.pop(module.__name__, None)
        DIALECTS.pop("demo", None)
        unregister_pass("mul-to-square")


def test_ir_doc_filecheck_example_passes(tmp_path):
    import subprocess
    import sys

    text = DOC.read_text()
    mlir = re.findall(r"```mlir\n(// RUN:.*?)```", text, re.S)
    assert mlir
    case = tmp_path / "case.mlir"
    case.write_text(mlir[0])
    run = mlir[0].splitlines()[0].split("RUN:", 1)[1].replace("%s", str(case))
    import os

    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    proc = subprocess.run(["bash", "-o", "pipefail", "-c", run], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr + proc.stdout


def test_generated_reference_docs_are_current():
    from edgecc.tools.docgen import generated_files

    docs = DOC.parent
    stale = [rel for rel, text in generated_files().items()
             if not (docs / rel).is_file() or (docs / rel).read_text() != text]
    assert not stale, f"run 'python -m edgecc.tools.docgen' to refresh: {stale}"


def test_tutorial_python_example_runs(monkeypatch):
    import os

    tutorial = DOC.parent / "tutorial.md"
    blocks = re.findall(r"```python\n(.*?)```", tutorial.read_text(), re.S)
    monkeypatch.chdir(DOC.parents[1])
    assert os.path.exists("compiler/examples/kws_dscnn.onnx")
    for block in blocks:
        exec(compile(block, str(tutorial), "exec"), {})
