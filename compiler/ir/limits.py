"""Resource limits checked before anything is allocated, and safe reading of input files.

A hostile model can declare a tensor of 10^12 elements or name a FIFO or
/dev/zero as its file; both must end as one error line, not as a
MemoryError or a hang. The limits are generous for microcontroller models
and can be raised with environment variables:

- ``EDGECC_MAX_TENSOR_BYTES`` (default 2 GiB): bytes of one tensor;
- ``EDGECC_MAX_DIM`` (default 2^31 - 1): one dimension;
- ``EDGECC_MAX_FILE_BYTES`` (default 4 GiB): one input file.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from edgecc.ir.diagnostics import EdgeccError, Location


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    try:
        value = int(raw) if raw.strip() else default
    except ValueError:
        raise EdgeccError(f"{name}='{raw}' is not an integer") from None
    return value if value > 0 else default


MAX_TENSOR_BYTES = _env_int("EDGECC_MAX_TENSOR_BYTES", 2 << 30)
MAX_DIM = _env_int("EDGECC_MAX_DIM", (1 << 31) - 1)
MAX_FILE_BYTES = _env_int("EDGECC_MAX_FILE_BYTES", 4 << 30)
#: the deepest bracket nesting the IR parser accepts (a recursive-descent parser's stack)
MAX_NESTING = 200


class LimitError(EdgeccError, ValueError):
    """A declared size beyond a limit or an impossible shape (also a ValueError for old callers,
    whose ``str(e)`` is the bare message they embed in their own located error)."""

    def __str__(self) -> str:
        return self.message


def check_shape(shape: tuple[int, ...], bits: int) -> None:
    """Refuse negative dims, dims beyond MAX_DIM and tensors beyond MAX_TENSOR_BYTES."""
    count = 1
    for d in shape:
        if d < 0:
            raise LimitError(f"negative dimension in shape {shape_text(shape)}")
        if d > MAX_DIM:
            raise LimitError(f"dimension {d} in shape {shape_text(shape)} exceeds the limit {MAX_DIM} "
                             "(set EDGECC_MAX_DIM to raise it)")
        count *= d
    if (count * bits + 7) // 8 > MAX_TENSOR_BYTES:
        raise LimitError(f"tensor of shape {shape_text(shape)} would take {(count * bits + 7) // 8:,} "
                         f"bytes, over the limit of {MAX_TENSOR_BYTES:,} (set EDGECC_MAX_TENSOR_BYTES "
                         "to raise it)")


def shape_text(shape) -> str:
    return "x".join(map(str, shape)) or "scalar"


def check_regular_file(path: Path | str, what: str = "file") -> os.stat_result:
    """Stat PATH without blocking: refuse folders, FIFOs, devices and files over MAX_FILE_BYTES."""
    p = Path(path)
    try:
        st = os.stat(p)
    except RuntimeError:
        raise EdgeccError(f"{p.name}: cannot read {what}: symlink loop at '{p}'") from None
    except OSError as e:
        raise EdgeccError(f"{p.name}: cannot read {what}: {e.strerror or e}") from None
    if stat.S_ISDIR(st.st_mode):
        raise EdgeccError(f"{p.name}: cannot read {what}: '{p}' is a directory")
    if not stat.S_ISREG(st.st_mode):
        kind = "a FIFO" if stat.S_ISFIFO(st.st_mode) else (
            "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else "not a regular file")
        raise EdgeccError(f"{p.name}: cannot read {what}: '{p}' is {kind} (only regular files are read)")
    if st.st_size > MAX_FILE_BYTES:
        raise EdgeccError(f"{p.name}: cannot read {what}: {st.st_size:,} bytes is over the limit of "
                          f"{MAX_FILE_BYTES:,} (set EDGECC_MAX_FILE_BYTES to raise it)")
    return st


def read_file(path: Path | str, what: str = "file") -> bytes:
    """The bytes of a regular file, checked first (never blocks on a FIFO, never reads /dev/zero)."""
    p = Path(path)
    try:
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as e:
        check_regular_file(p, what)  # a clearer message when there is one
        raise EdgeccError(f"{p.name}: cannot read {what}: {e.strerror or e}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_FILE_BYTES:
            check_regular_file(p, what)
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(st.st_size + 1)  # (not MAX_FILE_BYTES: read() preallocates its size)
            if len(data) > st.st_size:  # growing while read, or /proc-like files that report size 0
                chunks = [data]
                total = len(data)
                while total <= MAX_FILE_BYTES and (chunk := fh.read(1 << 20)):
                    chunks.append(chunk)
                    total += len(chunk)
                data = b"".join(chunks)
    except OSError as e:
        raise EdgeccError(f"{p.name}: cannot read {what}: {e.strerror or e}") from None
    finally:
        os.close(fd)
    if len(data) > MAX_FILE_BYTES:
        raise EdgeccError(f"{p.name}: cannot read {what}: over the limit of {MAX_FILE_BYTES:,} bytes")
    return data


def read_text(path: Path | str, what: str = "file") -> str:
    """A UTF-8 text file; invalid bytes are an error naming the line and column."""
    data = read_file(path, what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise EdgeccError(f"not UTF-8 text (byte 0x{data[e.start]:02x})",
                          Location(file=Path(path).name, line=line, col=col)) from None


def _read_npy(fh, label: str):
    import numpy as np
    from numpy.lib import format as npf

    version = npf.read_magic(fh)
    shape, fortran, dtype = (npf.read_array_header_1_0(fh) if version == (1, 0)
                             else npf.read_array_header_2_0(fh))
    if dtype.hasobject:
        raise ValueError("holds Python objects (pickled data is never loaded)")
    try:
        check_shape(tuple(shape), dtype.itemsize * 8)
    except LimitError as e:
        raise ValueError(e.message) from None
    count = 1
    for d in shape:
        count *= d
    data = fh.read(count * dtype.itemsize)
    if len(data) != count * dtype.itemsize:
        raise ValueError(f"truncated: {len(data):,} of {count * dtype.itemsize:,} data bytes")
    array = np.frombuffer(data, dtype=dtype).copy()
    return array.reshape(shape[::-1]).T if fortran else array.reshape(shape)


def load_arrays(path: Path | str, what: str = "data") -> dict:
    """Arrays of a ``.npy`` (key ``""``) or ``.npz`` file, headers checked before any allocation."""
    import zipfile

    p = Path(path)
    check_regular_file(p, what)
    try:
        if zipfile.is_zipfile(p):
            out = {}
            with zipfile.ZipFile(p) as z:
                for name in z.namelist():
                    with z.open(name) as fh:
                        out[name[:-4] if name.endswith(".npy") else name] = _read_npy(fh, name)
            return out
        with open(p, "rb") as fh:
            return {"": _read_npy(fh, p.name)}
    except EdgeccError:
        raise
    except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile, NotImplementedError) as e:
        detail = " ".join(str(e).split()) or type(e).__name__
        raise EdgeccError(f"{p.name}: cannot read {what}: {detail}") from None
