"""Hostile inputs through ``inspect``, the main compile and ``run``: exit 1/2, one line, OUT untouched.

The corpus (``corpus.py``) covers bad files, impossible shapes, bad external
data, malformed .tflite and IR text, bad calibration data and hostile CLI
arguments. Every case runs in-process (see ``harness.run_cli``) with a time
and address-space bound; a few also run as a subprocess to check the real
exit code and that no traceback reaches the terminal.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from .corpus import all_cases
from .harness import problems, run_cli, snapshot

CASES = all_cases()


def argv_for(case, tool: str, tmp: Path, model: Path) -> list[str]:
    out = tmp / "out"
    subst = {"{tmp}": str(tmp), "{out}": str(out), "{model}": str(model)}

    def s(a: str) -> str:
        for k, v in subst.items():
            a = a.replace(k, v)
        return a

    if case.argv is not None:
        return [s(a) for a in case.argv]
    if tool == "inspect":
        return ["inspect", str(model)]
    if tool == "run":
        return ["run", str(model), "--input", str(tmp / "x.npy")]
    return [str(model), "-o", str(out), *[s(a) for a in case.compile_args]]


def prepare(case, tmp: Path) -> Path:
    model = case.make(tmp)
    np.save(tmp / "x.npy", np.ones((1, 3, 4, 4), np.float32))
    out = tmp / "out"
    if not out.exists() and not out.is_symlink():
        out.mkdir()
        (out / "keep.txt").write_text("a previous build")
    return model


def outcome_problems(case, tool, tmp: Path) -> tuple[list[str], object]:
    model = prepare(case, tmp)
    before = snapshot(tmp)
    o = run_cli(argv_for(case, tool, tmp, model), cwd=tmp)
    names = list(case.names)
    if case.argv is None and case.name_model and not case.compile_args:
        names.append(model.name)
    bad = problems(o, must_name=names, accept_ok=case.accept_ok)
    if o.code != 0 and snapshot(tmp) != before:
        bad.append("the folder changed on failure")
    return bad, o


PARAMS = [pytest.param(c, t, id=f"{c.id}-{t}",
                       marks=[pytest.mark.skip(reason=c.skip)] if c.skip else [])
          for c in CASES for t in c.tools]


@pytest.mark.parametrize("case, tool", PARAMS)
def test_hostile_input_fails_cleanly(case, tool, tmp_path):
    bad, o = outcome_problems(case, tool, tmp_path)
    assert not bad, f"{bad}: exit {o.code}\n{o.stderr[-2000:]}"


def test_corpus_is_large_enough():
    assert len(CASES) >= 150
    assert len(PARAMS) >= 300


@pytest.mark.parametrize("case_id", ["fifo.onnx", "devzero.onnx", "tile-hang", "ir-deep-brackets"])
def test_subprocess_exit_code_and_no_traceback(case_id, tmp_path):
    case = next(c for c in CASES if c.id == case_id)
    model = prepare(case, tmp_path)
    proc = subprocess.run([sys.executable, "-m", "edgecc", *argv_for(case, "compile", tmp_path, model)],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
