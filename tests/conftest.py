"""Shared test setup: collects ``tests/ir/**/*.mlir`` FileCheck files as tests.

Each ``// RUN:`` line is a shell pipeline (``%s`` is the file) run with bash
``-o pipefail`` and the interpreter's bin folder first on PATH, so ``edgecc``
and ``filecheck`` are the ones installed with this Python. This is the lit
convention without the lit dependency. Also the session fixtures several folders share: the
portable C runtime built once (``runtime_lib``), the MLPerf Tiny models beside the checkout.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

RUN_RE = re.compile(r"^\s*//\s*RUN:\s*(.*)$")
REPO = Path(__file__).resolve().parents[1]
SHARED_MODELS = REPO.parent / "shared" / "models" / "mlperf_tiny"
SHARED_CMSIS_NN = REPO.parent / "shared" / "third_party" / "CMSIS-NN"

# CMSIS-NN for the C tests (host verify, cross builds, the emulator): a checkout beside the clone
# unless EDGECC_CMSIS_NN names one
if not os.environ.get("EDGECC_CMSIS_NN") and (SHARED_CMSIS_NN / "Include").is_dir():
    os.environ["EDGECC_CMSIS_NN"] = str(SHARED_CMSIS_NN)


def run_lines(path: Path) -> list[str]:
    lines, cur = [], ""
    for line in path.read_text(encoding="utf-8").splitlines():
        m = RUN_RE.match(line)
        if not m:
            continue
        part = m.group(1).rstrip()
        if part.endswith("\\"):
            cur += part[:-1] + " "
            continue
        lines.append(cur + part)
        cur = ""
    return lines


class FileCheckItem(pytest.Item):
    def __init__(self, *, command: str, **kw):
        super().__init__(**kw)
        self.command = command

    def runtest(self):
        cmd = self.command.replace("%s", shlex.quote(str(self.path)))
        env = dict(os.environ)
        env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
        proc = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True, text=True,
                              env=env, cwd=self.path.parent, timeout=300)
        if proc.returncode != 0:
            raise FileCheckFailure(cmd, proc)

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, FileCheckFailure):
            e = excinfo.value
            return (f"RUN: {e.cmd}\nexit code {e.proc.returncode}\n--- stdout ---\n{e.proc.stdout}"
                    f"\n--- stderr ---\n{e.proc.stderr}")
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, 0, f"filecheck: {self.name}"


class FileCheckFailure(Exception):
    def __init__(self, cmd, proc):
        super().__init__(cmd)
        self.cmd = cmd
        self.proc = proc


class MlirFile(pytest.File):
    def collect(self):
        lines = run_lines(self.path)
        if not lines:
            raise pytest.UsageError(f"{self.path}: no RUN line")
        for i, cmd in enumerate(lines):
            yield FileCheckItem.from_parent(self, name=f"RUN{i}", command=cmd)


def pytest_collect_file(parent, file_path: Path):
    if file_path.suffix == ".mlir" and "ir" in file_path.relative_to(REPO / "tests").parts[:1]:
        return MlirFile.from_parent(parent, path=file_path)
    return None


@pytest.fixture
def shared_models() -> Path:
    """The MLPerf Tiny models beside the checkout (skips when absent)."""
    if not SHARED_MODELS.is_dir():
        pytest.skip("../shared/models/mlperf_tiny is not present")
    return SHARED_MODELS


@pytest.fixture(scope="session")
def gcc():
    if shutil.which("gcc") is None:
        pytest.skip("no host gcc")
    return "gcc"


@pytest.fixture(scope="session")
def runtime_lib(gcc, tmp_path_factory):
    """edgecc's portable C runtime compiled once per session with -std=c99 -Wall -Wextra -Werror."""
    from edgecc.backends.c.verify import build_runtime_library

    return build_runtime_library(tmp_path_factory.mktemp("edgecc-runtime"), gcc)
