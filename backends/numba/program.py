"""One generated, compiled function per model: the schedule as a Numba ``@njit`` program.

A Python loop over kernel calls costs ~0.3-0.5 us of dispatch per step, which
dominates graphs of many small ops (unrolled GRU/LSTM, elementwise chains). This
module turns a ``HostModule``'s steps into generated Python source whose functions
call the kernels in order, compiled by Numba into one machine-code function per
run of consecutive kernel steps (a *segment*; steps Numba cannot run, the reference
fallbacks and numpy copies, stay Python calls between segments).

* **One argument.** Every buffer the steps touch (arena, weights, scratch, I/O) is
  copied once into one 64-byte-aligned ``uint8`` blob; a segment takes only the
  blob and rebuilds each array as a constant-offset view of it, so a call unboxes
  one array instead of thousands. Scalars become literals of their exact numpy type.
* **Disk cache by content hash.** The source is written to
  ``<cache>/edgecc_programs/prog_<sha256>.py`` (never rewritten once present, so
  Numba's cache index stays valid) and compiled with ``cache=True``: a second
  process loads the machine code. The hash covers the source, the kernel modules'
  source files and the Numba version, because Numba's cache does not notice a
  changed callee.
* **Errors.** A kernel's runtime check that fails inside a segment is located by
  re-running that segment's steps one by one, so the error still names the op.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import math
import os
import sys
from pathlib import Path

import numpy as np

ALIGNMENT = 64
_SCALARS = (np.integer, np.floating, np.bool_)


def cache_dir() -> Path:
    """``$EDGECC_CACHE_DIR``, else ``$NUMBA_CACHE_DIR/edgecc_programs``, else the user cache folder."""
    d = os.environ.get("EDGECC_CACHE_DIR")
    if d:
        return Path(d)
    d = os.environ.get("NUMBA_CACHE_DIR")
    if d:
        return Path(d) / "edgecc_programs"
    base = os.environ.get("XDG_CACHE_HOME") or (Path.home() / ".cache")
    return Path(base) / "edgecc" / "programs"


# ---------------------------------------------------------------- one blob
def _root(a: np.ndarray) -> np.ndarray:
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


def _byte_bounds(a: np.ndarray) -> tuple[int, int]:
    """[first, last + 1) byte address of a non-empty array (``np.byte_bounds``, moved in numpy 2)."""
    lo = hi = a.__array_interface__["data"][0]
    for n, st in zip(a.shape, a.strides):
        lo, hi = lo + min(0, (n - 1) * st), hi + max(0, (n - 1) * st)
    return lo, hi + a.itemsize


def _arrays(obj, out: list) -> None:
    if isinstance(obj, np.ndarray):
        out.append(obj)
    elif isinstance(obj, (list, tuple)):
        for x in obj:
            _arrays(x, out)


def pack(arg_lists: list, extra: list[np.ndarray]):
    """Copy every buffer reachable from ``arg_lists`` (nested lists/tuples) and ``extra`` into one blob.

    Returns ``(blob, remap)``: ``remap(obj)`` gives ``obj`` with each array replaced by the
    same-shaped view at the same place in the blob (views of one buffer stay views of one
    buffer, so in-place planning and aliasing are preserved).
    """
    found: list[np.ndarray] = []
    for args in arg_lists:
        _arrays(args, found)
    found += extra
    roots: dict[int, np.ndarray] = {}
    extent: dict[int, list[int]] = {}  # used byte range of each root (the arena's alignment slack is not)
    for a in found:
        if a.nbytes == 0:
            continue
        r = _root(a)
        if not (r.flags.c_contiguous or r.flags.f_contiguous):
            raise ValueError("a buffer root is not contiguous")
        roots.setdefault(id(r), r)
        lo, hi = _byte_bounds(a)
        base = r.__array_interface__["data"][0]
        e = extent.setdefault(id(r), [lo - base, hi - base])
        e[0], e[1] = min(e[0], lo - base), max(e[1], hi - base)
    offsets, size = {}, 0
    for k in roots:
        offsets[k] = size - extent[k][0]
        size += -(-(extent[k][1] - extent[k][0]) // ALIGNMENT) * ALIGNMENT
    raw = np.zeros(size + ALIGNMENT, np.uint8)
    shift = (-raw.ctypes.data) % ALIGNMENT
    blob = raw[shift:shift + size]
    for k, r in roots.items():
        lo, hi = extent[k]
        blob[offsets[k] + lo:offsets[k] + hi] = r.ravel(order="K").view(np.uint8)[lo:hi]

    def remap(obj):
        if isinstance(obj, np.ndarray):
            if obj.nbytes == 0:
                return obj
            r = _root(obj)
            off = offsets[id(r)] + (obj.__array_interface__["data"][0] - r.__array_interface__["data"][0])
            return np.ndarray(obj.shape, obj.dtype, buffer=blob, offset=off, strides=obj.strides)
        if isinstance(obj, list):
            return [remap(x) for x in obj]
        if isinstance(obj, tuple):
            return tuple(remap(x) for x in obj)
        return obj

    return blob, remap


# ---------------------------------------------------------------- source
def _kernel_ref(fn) -> tuple[str, str] | None:
    """(module, name) of a Numba kernel importable by name, else None."""
    py = getattr(fn, "py_func", None)
    if py is None or not hasattr(fn, "overloads"):
        return None
    mod, name = py.__module__, py.__name__
    try:
        if getattr(importlib.import_module(mod), name) is not fn:
            return None
    except (ImportError, AttributeError):
        return None
    return mod, name


def _arg_kind(x) -> tuple | None:
    """The part of an argument's Numba type the program's branch fixes: ("a", dtype, ndim) or ("s", dtype)."""
    if isinstance(x, np.ndarray):
        if x.ndim == 0 or x.nbytes == 0 or not x.flags.c_contiguous:
            return None
        return ("a", x.dtype.name, x.ndim)
    if isinstance(x, (np.integer, np.floating, np.bool_)):
        return ("s", np.dtype(type(x)).name)
    return None


def _branch_source(index: int, alias: str, kinds: tuple) -> list[str]:
    """One ``elif`` of the interpreter loop: decode the arguments at ``code[pc:]``, call the kernel."""
    lines, names, k = [f"        elif b == {index}:"], [], 1
    for i, kind in enumerate(kinds):
        v = f"x{index}_{i}"
        if kind[0] == "a":
            dims = ", ".join(f"code[pc + {k + 2 + d}]" for d in range(kind[2])) + ("," if kind[2] == 1 else "")
            lines.append(f"            {v} = blob[code[pc + {k}]:code[pc + {k + 1}]].view(np.{kind[1]})"
                         f".reshape(({dims}))")
            k += 2 + kind[2]
        elif kind[1] == "bool":
            lines.append(f"            {v} = code[pc + {k}] != 0")
            k += 1
        elif kind[1].startswith("float"):
            lines.append(f"            {v} = np.{kind[1]}(fl[code[pc + {k}]])")
            k += 1
        else:
            lines.append(f"            {v} = np.{kind[1]}(code[pc + {k}])")
            k += 1
        names.append(v)
    lines += [f"            {alias}({', '.join(names)})", f"            pc += {k}"]
    return lines


def _encode(args, blob_addr: int, code: list[int], floats: list[float]) -> None:
    for x in args:
        if isinstance(x, np.ndarray):
            off = x.__array_interface__["data"][0] - blob_addr
            code += [off, off + x.nbytes, *x.shape]
        elif isinstance(x, np.floating):
            code.append(len(floats))
            floats.append(float(x))  # float32 values are exact in float64
        else:
            code.append(int(x))


def generate(steps, blob: np.ndarray):
    """(module source, code, floats, plan) for the steps whose arguments are all blob views or scalars.

    ``plan`` items: ``("seg", pc, n)`` runs ``n`` kernel steps from ``code[pc]`` in the compiled
    ``run`` function, ``("py", k, k)`` calls step ``k`` from Python (a reference fallback, a numpy copy).
    The source depends only on the set of (kernel, argument kinds) branches, not on shapes or
    offsets, so models built from the same kernels share one compiled program.
    """
    refs, branches = {}, {}
    for s in steps:
        ref = _kernel_ref(s.fn)
        kinds = tuple(_arg_kind(x) for x in s.args)
        if ref is not None and None not in kinds:
            refs[id(s)] = (ref, kinds)
    for ref, kinds in sorted(set(refs.values())):  # sorted: the source does not depend on step order
        branches[(ref, kinds)] = len(branches)
    aliases = {ref: f"k{i}" for i, ref in enumerate(sorted({r for r, _ in branches}))}
    code: list[int] = []
    floats: list[float] = [0.0]
    plan: list = []
    addr = blob.__array_interface__["data"][0]
    for k, s in enumerate(steps):
        key = refs.get(id(s))
        if key is None:
            plan.append(("py", k, k))
            continue
        if not plan or plan[-1][0] != "seg":
            plan.append(("seg", len(code), 0, []))
        plan[-1][3].append(k)
        code.append(branches[key])
        _encode(s.args, addr, code, floats)
    plan = [(p[0], p[1], len(p[3]), p[3]) if p[0] == "seg" else (p[0], p[1], 1, [p[1]]) for p in plan]
    head = ["# generated by edgecc.backends.numba.program: an interpreter over a schedule table (do not edit)",
            "import numpy as np", "from numba import njit"]
    mods: dict[str, str] = {}
    for mod, _ in aliases:
        if mod not in mods:
            mods[mod] = f"m{len(mods)}"
            head.append(f"import {mod} as {mods[mod]}")
    head += [f"{alias} = {mods[mod]}.{name}" for (mod, name), alias in aliases.items()]
    body = ["", "", "@njit(cache=True, error_model='numpy', nogil=True)", "def run(blob, code, fl, pc, n):",
            "    for _ in range(n):", "        b = code[pc]", "        if b < 0:", "            pc += 1"]
    for (ref, kinds), i in branches.items():
        body += _branch_source(i, aliases[ref], kinds)
    body += ["    return pc", ""]
    return "\n".join(head + body), np.array(code, np.int64), np.array(floats, np.float64), plan


def _fingerprint(source: str) -> str:
    import numba

    h = hashlib.sha256(source.encode())
    h.update(numba.__version__.encode())
    h.update(sys.version.encode())
    for line in source.splitlines():
        if line.startswith("import edgecc."):
            mod = importlib.import_module(line.split()[1])
            h.update(Path(inspect.getsourcefile(mod)).read_bytes())
    return h.hexdigest()[:32]


def load(source: str):
    """Write ``source`` under ``cache_dir()`` named by its content hash (once) and import it."""
    digest = _fingerprint(source)
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"prog_{digest}.py"
    if not path.exists():
        tmp = folder / f".prog_{digest}.{os.getpid()}.tmp"
        tmp.write_text(source, encoding="utf-8")
        os.replace(tmp, path)
    name = f"edgecc_program_{digest}"
    mod = sys.modules.get(name)
    if mod is None:
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        sys.modules[name] = mod
    return mod
