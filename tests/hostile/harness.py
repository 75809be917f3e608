"""Run the edgecc CLI in-process with a time and memory bound, and classify the outcome.

A hostile input must end with exit 1 (user error) or 2 (usage error), one
line on stderr, no traceback, within the time bound and without touching
OUT/. Exit 3 (internal error), a timeout or MemoryError are failures.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import resource
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

#: seconds one in-process CLI call may take
TIME_LIMIT = 10
#: extra address space a call may map beyond what the process already has
MEMORY_HEADROOM = 3 << 30


class Timeout(BaseException):
    """Raised by the alarm; a BaseException so the CLI's ``except Exception`` cannot swallow it."""


@dataclass
class Outcome:
    code: int | str
    stdout: str
    stderr: str
    seconds: float

    @property
    def lines(self) -> list[str]:
        return [ln for ln in self.stderr.splitlines() if not ln.startswith("warning: ")]


def _vm_size() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    return 0


def run_cli(argv: list[str], *, cwd: Path | None = None, time_limit: int = TIME_LIMIT) -> Outcome:
    """``edgecc ARGV`` in this process; ``code`` is the exit code, "timeout" or "memory"."""
    from edgecc.tools.cli import main

    out, err = io.StringIO(), io.StringIO()
    old_alarm = signal.signal(signal.SIGALRM, _raise_timeout)
    old_as = resource.getrlimit(resource.RLIMIT_AS)
    old_cwd = os.getcwd()
    start = time.perf_counter()
    code: int | str = 0
    try:
        if cwd is not None:
            os.chdir(cwd)
        resource.setrlimit(resource.RLIMIT_AS, (_vm_size() + MEMORY_HEADROOM, old_as[1]))
        signal.alarm(time_limit)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(list(map(str, argv)))
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except Timeout:
        code = "timeout"
    except MemoryError:
        code = "memory"
    finally:
        signal.alarm(0)
        resource.setrlimit(resource.RLIMIT_AS, old_as)
        signal.signal(signal.SIGALRM, old_alarm)
        os.chdir(old_cwd)
    return Outcome(code, out.getvalue(), err.getvalue(), time.perf_counter() - start)


def _raise_timeout(signum, frame):
    raise Timeout()


def snapshot(folder: Path) -> dict[str, tuple]:
    """Every path under FOLDER (not following symlinks) -> (kind, digest); FIFOs are never opened."""
    import stat

    snap: dict[str, tuple] = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            p = os.path.join(root, name)
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                entry = ("link", os.readlink(p))
            elif stat.S_ISREG(st.st_mode):
                with open(p, "rb") as fh:
                    entry = ("file", hashlib.sha256(fh.read()).hexdigest(), st.st_mode & 0o777)
            else:
                entry = ("other", stat.S_IFMT(st.st_mode), st.st_mode & 0o777)
            snap[os.path.relpath(p, folder)] = entry
    return snap


def problems(o: Outcome, *, must_name: list[str] = (), accept_ok: bool = False) -> list[str]:
    """What is wrong with an outcome of a hostile input (empty when it is clean)."""
    bad = []
    if o.code == 0 and accept_ok:
        return bad
    if o.code not in (1, 2):
        bad.append(f"exit {o.code}")
    if "Traceback" in o.stderr or "internal error" in o.stderr:
        bad.append("traceback/internal error")
    lines = o.lines
    if o.code == 1 and len(lines) != 1:
        bad.append(f"{len(lines)} error lines")
    if o.code == 1:
        for n in must_name:
            if n not in o.stderr:
                bad.append(f"does not name {n!r}")
    if o.seconds > TIME_LIMIT:
        bad.append(f"took {o.seconds:.1f} s")
    return bad


if sys.platform != "linux":  # pragma: no cover
    raise ImportError("the hostile-input harness uses /proc and RLIMIT_AS")
