"""The tools an emulated run needs, and the libraries built once and cached between runs.

Cross-compiling CMSIS-NN takes seconds per core, an emulated model run a fraction of that,
so CMSIS-NN, the portable runtime and the QEMU plugin are built once per content hash of
their sources, compiler and flags into a cache folder (``EDGECC_CACHE_DIR``, else
``$XDG_CACHE_HOME/edgecc``, else ``~/.cache/edgecc``). Each build happens in a private
temporary folder that is renamed into place, so concurrent test processes never see (or
link) a half-written library: the first rename wins, later builders discard theirs.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from edgecc.ir.diagnostics import EdgeccError

CROSS = "arm-none-eabi-"
QEMU = "qemu-system-arm"
WARNINGS = ("-std=c99", "-Wall", "-Wextra", "-Werror")
DATA = Path(__file__).resolve().parent / "data"


def data_file(name: str) -> Path:
    """A file shipped with the package (startup code, linker scripts, plugin source)."""
    return DATA / name


def cache_root() -> Path:
    env = os.environ.get("EDGECC_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "edgecc"


def cross_tool(name: str) -> str:
    """Path of ``arm-none-eabi-<name>``; a one-line error naming the Debian package when absent."""
    path = shutil.which(CROSS + name)
    if path is None:
        raise EdgeccError(f"{CROSS}{name} is not on PATH: install the Arm GNU toolchain "
                          "(Debian: apt-get install gcc-arm-none-eabi binutils-arm-none-eabi)")
    return path


@functools.lru_cache(maxsize=None)
def check_newlib(gcc: str) -> None:
    """newlib with semihosting (librdimon, rdimon.specs) must come with the cross compiler."""
    for f in ("librdimon.a", "rdimon.specs"):
        out = subprocess.run([gcc, f"-print-file-name={f}"], capture_output=True, text=True).stdout.strip()
        if not out or not Path(out).is_file():
            raise EdgeccError(f"newlib for {CROSS}gcc has no {f} (semihosting): install it "
                              "(Debian: apt-get install libnewlib-arm-none-eabi)")


def qemu() -> str:
    path = shutil.which(QEMU)
    if path is None:
        raise EdgeccError(f"{QEMU} is not on PATH: install QEMU's Arm system emulator "
                          "(Debian: apt-get install qemu-system-arm)")
    return path


def host_cc() -> str:
    cc = os.environ.get("EDGECC_HOST_CC") or "gcc"
    path = shutil.which(cc) or shutil.which("cc")
    if path is None:
        raise EdgeccError(f"no host C compiler '{cc}' to build the QEMU plugin (set EDGECC_HOST_CC)")
    return path


@functools.lru_cache(maxsize=None)
def tool_version(tool: str) -> str:
    proc = subprocess.run([tool, "--version"], capture_output=True, text=True)
    return (proc.stdout.splitlines() or [""])[0]


def run(cmd: list[str], what: str, **kw) -> subprocess.CompletedProcess:
    """Run a build command; failure is a one-line error quoting the first diagnostic."""
    proc = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if proc.returncode != 0:
        lines = [ln.strip() for ln in (proc.stderr + proc.stdout).splitlines() if ln.strip()]
        first = next((ln for ln in lines if "error" in ln.lower()), lines[0] if lines else "no output")
        raise EdgeccError(f"{what} failed ({Path(cmd[0]).name}): {first}")
    return proc


def digest(*parts, files: list[Path] = ()) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(repr(p).encode())
        h.update(b"\0")
    for f in files:
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def cached(kind: str, key: str, product: str, build) -> Path:
    """``cache/kind/key/product``, made by ``build(folder)`` in a temporary folder renamed into place."""
    final = cache_root() / kind / key
    if (final / product).is_file():
        return final / product
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=final.parent))
    try:
        build(tmp)
        if not (tmp / product).is_file():
            raise EdgeccError(f"building {kind} produced no {product}")
        try:
            os.rename(tmp, final)
        except OSError:
            if not (final / product).is_file():  # neither ours nor another process's: a real error
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final / product


def compile_all(jobs: list[list[str]], what: str) -> None:
    """Compile commands in parallel (one per CPU)."""
    with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
        for f in [pool.submit(run, cmd, what) for cmd in jobs]:
            f.result()


def static_library(kind: str, sources: list[Path], flags: list[str], includes: list[Path]) -> Path:
    """``sources`` cross-compiled with ``flags`` into a cached ``lib<kind>.a``."""
    gcc, ar = cross_tool("gcc"), cross_tool("ar")
    headers = sorted(h for inc in includes for h in inc.rglob("*.h"))
    key = digest(kind, tool_version(gcc), flags, files=[*sources, *headers])
    product = f"lib{kind}.a"

    def build(folder: Path) -> None:
        incs = [a for inc in includes for a in ("-I", str(inc))]
        objs = [folder / f"{i:04d}_{s.stem}.o" for i, s in enumerate(sources)]
        compile_all([[gcc, *flags, *incs, "-c", str(s), "-o", str(o)] for s, o in zip(sources, objs)],
                    f"cross-compiling {kind}")
        run([ar, "rcs", str(folder / product), *map(str, objs)], f"archiving {kind}")

    return cached(kind, key, product, build)


def cmsis_nn_library(root: Path, cflags: list[str], opt: str) -> Path:
    """CMSIS-NN's integer library for one core and optimisation level."""
    from edgecc.backends.c.verify import cmsis_nn_sources

    return static_library("cmsis-nn", cmsis_nn_sources(root), [*cflags, "-std=c99", opt], [root / "Include"])


def runtime_library(cflags: list[str], opt: str) -> Path:
    """edgecc's portable kernels (``runtime/c``) for one core, warning-free."""
    from edgecc.backends.c.generate import runtime_dir

    rt = runtime_dir()
    return static_library("edgecc-runtime", sorted((rt / "src").glob("*.c")), [*cflags, *WARNINGS, opt],
                          [rt / "include", rt / "src"])


def plugin() -> Path:
    """The instruction-count plugin (``data/insn_count.c``) built for this host's QEMU."""
    cc = host_cc()
    src = data_file("insn_count.c")
    flags = ["-shared", "-fPIC", "-O2", "-fvisibility=hidden", "-std=c11", "-Wall", "-Wextra"]
    key = digest("plugin", tool_version(cc), flags, files=[src])
    product = "libedgecc_insn_count.so"
    return cached("qemu-plugin", key, product,
                  lambda d: run([cc, *flags, "-o", str(d / product), str(src)], "building the QEMU plugin"))


__all__ = ["cache_root", "check_newlib", "cmsis_nn_library", "cross_tool", "data_file", "plugin", "qemu",
           "run", "runtime_library"]
