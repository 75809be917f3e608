"""The output folder: checked up front, staged beside OUT, committed only on success.

Artifacts are written to a fresh temporary folder next to OUT (same file
system, so every move is a rename). Before anything in OUT changes, every
name to be written is checked: a user's own file where edgecc wants a folder
(or the reverse) is an error, and OUT stays untouched. On success each new
artifact replaces its old version atomically, and the artifacts the previous
build wrote but this one did not are removed. What a build wrote is recorded
in ``OUT/.edgecc-manifest``, so files edgecc did not write are never deleted.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from edgecc.ir.diagnostics import EdgeccError

MANIFEST = ".edgecc-manifest"


def _fail(out: Path, message: str) -> EdgeccError:
    return EdgeccError(f"-o {out}: {message}")


def check_output_folder(out: Path) -> Path:
    """The absolute OUT path; refuses loops, non-folders and unwritable places before any work."""
    if not str(out):
        raise _fail(out, "empty output folder name")
    try:
        resolved = out.resolve(strict=False)
    except (RuntimeError, OSError):
        raise _fail(out, "symlink loop") from None
    if out.is_symlink() and not out.exists():
        raise _fail(out, f"is a dangling symlink to '{os.readlink(out)}'")
    if resolved.exists() and not resolved.is_dir():
        raise _fail(out, "exists and is not a folder")
    parent = resolved.parent
    probe = parent
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise _fail(out, f"'{probe}' is not a folder")
    if not os.access(probe, os.W_OK | os.X_OK) or (resolved.is_dir() and not os.access(resolved, os.W_OK | os.X_OK)):
        raise _fail(out, f"'{resolved if resolved.is_dir() else probe}' is not writable")
    return resolved


def read_manifest(out: Path) -> set[str]:
    try:
        text = (out / MANIFEST).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return set()
    return {line for line in text.splitlines() if line and "/" not in line and line not in (".", "..")}


@contextmanager
def staged_output(out: Path):
    """Yield a temporary folder; on success move its content into OUT (see the module docstring).

    After the block, the yielded path's ``written`` lists the paths this build wrote in OUT.
    """
    out = check_output_folder(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name[:64]}.tmp-", dir=out.parent))
    except OSError as e:
        raise _fail(out, f"cannot create a folder beside it: {e.strerror or e}") from None
    staged = Staged(tmp)
    try:
        yield staged
        staged.written = commit(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class Staged(type(Path())):
    """The staging folder (a Path); ``written`` lists OUT's paths after a successful commit."""

    written: list[Path] = []


def commit(tmp: Path, out: Path) -> list[Path]:
    """Move TMP's entries into OUT; returns OUT's paths written by this build."""
    new = sorted(p.name for p in tmp.iterdir())
    if not out.exists():
        (tmp / MANIFEST).write_text("".join(n + "\n" for n in new), encoding="utf-8")
        try:
            os.rename(tmp, out)
        except OSError as e:
            raise _fail(out, f"cannot create: {e.strerror or e}") from None
        return [out / n for n in new]
    old = read_manifest(out)
    for name in new:  # conflicts first: nothing in OUT changes when one is found
        target = out / name
        if not (target.exists() or target.is_symlink()) or name in old:
            continue
        if target.is_dir() != (tmp / name).is_dir() or target.is_symlink():
            kind = "folder" if target.is_dir() else "file"
            raise _fail(out, f"'{name}' exists as a {kind} that edgecc did not write; move it away "
                             "(edgecc writes its own there)")
    trash = Path(tempfile.mkdtemp(prefix=".old-", dir=tmp))
    try:
        for name in new:
            target = out / name
            if target.is_dir() and not target.is_symlink():
                os.rename(target, trash / name)  # a folder cannot be replaced by rename in one step
            os.replace(tmp / name, target)
        for name in sorted(old - set(new) - {MANIFEST}):
            stale = out / name
            if stale.is_dir() and not stale.is_symlink():
                shutil.rmtree(stale, ignore_errors=True)
            elif stale.exists() or stale.is_symlink():
                stale.unlink()
        write_manifest(out, new)
    except OSError as e:
        raise _fail(out, f"cannot write: {e.strerror or e}") from None
    return [out / n for n in new]


def write_manifest(out: Path, names: list[str]) -> None:
    tmp = out / (MANIFEST + ".tmp")
    tmp.write_text("".join(n + "\n" for n in sorted(names)), encoding="utf-8")
    os.replace(tmp, out / MANIFEST)
