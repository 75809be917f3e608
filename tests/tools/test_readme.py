"""README's set-up commands stay true: CI runs its test command, the example compiles."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def setup_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    section = text.split("## Set-up", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    return [line for line in blocks[-1].splitlines() if line.strip()]


def make_recipe(target: str) -> str:
    """The command a Makefile target runs (one recipe line; ``$(BIN)/`` dropped)."""
    text = (REPO / "Makefile").read_text()
    recipe = re.search(rf"^{target}:.*\n\t(.*)$", text, re.M).group(1)
    return recipe.replace("$(BIN)/", "")


def test_ci_runs_the_readme_test_command():
    example, test_cmd = setup_commands()
    ci = [line for line in (REPO / ".ci" / "run").read_text().splitlines() if line.strip()]
    assert ci[-1] == test_cmd, f"README test command {test_cmd!r} is not the last line of .ci/run"
    assert example == "make example" and make_recipe("example").startswith("edgecc ")


def test_setup_is_two_commands_that_create_the_environment():
    assert setup_commands() == ["make example", ".venv/bin/python -m pytest -q"]
    text = (REPO / "Makefile").read_text()
    assert "-m venv" in text and "pip install -q -e '.[test]'" in text
    assert make_recipe("test") == "python -m pytest -q"


def test_readme_example_command_runs(tmp_path):
    example = make_recipe("example")
    args = shlex.split(example)[1:]
    args = [str(tmp_path / "out") if a == "out/" else a for a in args]
    proc = subprocess.run([sys.executable, "-m", "edgecc", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    for name in ("model.h", "model.c", "model_weights.c", "CMakeLists.txt", "report.md"):
        assert (tmp_path / "out" / name).is_file(), name
    assert "kws_dscnn.onnx" in proc.stdout and "arena" in proc.stdout
