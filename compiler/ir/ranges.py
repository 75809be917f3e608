"""Range checks at the boundary into a backend: every integer it writes must fit where it goes.

The frontends bound what a model may declare (``edgecc.ir.limits``), but a
value that is fine in Python can still overflow the type a backend writes it
into: a conv stride of 2^40 becomes 0 in an ``int32_t`` kernel parameter, an
8 GiB arena does not exist on a 32-bit core, a 2^31-element int8 tensor
overflows the kernels' ``int32_t`` element counts. Each backend calls
``check_module`` once, on the IR it is about to write, with its ``Bounds``;
the first value that does not fit is an ``EdgeccError`` naming the model
file, the node and the tensor or attribute. Nothing is silently truncated.

What is checked, per op: every integer attribute (also inside tuples) against
the backend's integer field type, and the type of every operand and result:
each dimension, the element count and the byte size. ``check_sizes`` checks
memory totals (arena, flash) against the target's address space.
Constant data (``DenseElements``) is not an attribute integer: its element
type is its storage type, checked when the constant was made.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgecc.ir.diagnostics import EdgeccError

INT32_MAX = (1 << 31) - 1
INT64_MAX = (1 << 63) - 1
#: a 32-bit core's address space: arena and flash above it cannot be mapped
SPACE_32 = 1 << 32


@dataclass(frozen=True)
class Bounds:
    """What one backend can represent (see the module docstring)."""

    backend: str
    #: the type integer attributes are written as (a C kernel parameter, a flatbuffer field)
    int_name: str
    int_min: int
    int_max: int
    #: largest dimension and element count (the kernels' and the format's index type)
    dim_max: int
    elements_max: int
    #: largest byte size of all memory of one kind (arena, flash, constant buffers), and its name
    bytes_max: int
    space_name: str
    #: largest byte size of one activation tensor (None: bytes_max)
    tensor_bytes_max: int | None = None


C_BOUNDS = Bounds("C", "int32_t", -(1 << 31), INT32_MAX, INT32_MAX, INT32_MAX, SPACE_32 - 1,
                  "the 32-bit address space")
#: FlatBuffers: shapes and options are ``int``, TFLM counts elements in ``int``, and buffers must
#: lie within the 2 GiB a FlatBuffer can address
TFLITE_BOUNDS = Bounds("TFLite", "int32", -(1 << 31), INT32_MAX, INT32_MAX, INT32_MAX, INT32_MAX,
                       "the 2 GiB a FlatBuffer can address", tensor_bytes_max=INT64_MAX)
NUMBA_BOUNDS = Bounds("Numba", "int64", -(1 << 63), INT64_MAX, INT64_MAX, INT64_MAX, INT64_MAX,
                      "the 64-bit address space")


def source_of(module) -> str:
    """The model file a module came from (for messages): its attribute, else a parsed op's file."""
    src = module.attrs.get("edgecc.source")
    if not src:
        src = next((op.location.file for op in module.func.body if op.location.file), None)
    return str(src or module.name or "model")


def _where(src: str, op) -> str:
    loc = op.location if op is not None else None
    node = f"node '{loc.label}'" if loc is not None and loc.label else (f"op '{op.name}'" if op else "")
    return f"{src}: {node}: " if node else f"{src}: "


def _tensor(v) -> str:
    return f"tensor '{v.name_hint}'" if getattr(v, "name_hint", None) else "a tensor"


def _ints(value):
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        yield value
    elif isinstance(value, (tuple, list)):
        for x in value:
            yield from _ints(x)


def check_type(src: str, op, v, b: Bounds) -> None:
    """Dims, element count and bytes of value V's tensor type against B."""
    t = v.type
    shape = getattr(t, "shape", None)
    if shape is None:
        return
    for d in shape:
        if not 0 <= d <= b.dim_max:
            raise EdgeccError(f"{_where(src, op)}{_tensor(v)} of type {t}: dimension {d} does not fit the "
                              f"{b.backend} backend's {b.int_name} (at most {b.dim_max:,})")
    if t.num_elements > b.elements_max:
        raise EdgeccError(f"{_where(src, op)}{_tensor(v)} of type {t}: {t.num_elements:,} elements do not "
                          f"fit the {b.backend} backend's element counts (at most {b.elements_max:,})")
    limit = b.bytes_max if b.tensor_bytes_max is None else b.tensor_bytes_max
    if t.nbytes > limit:
        raise EdgeccError(f"{_where(src, op)}{_tensor(v)} of type {t}: {t.nbytes:,} bytes exceed "
                          f"{b.space_name} ({limit + 1:,} bytes)")


def check_module(module, b: Bounds, *, source: str | None = None) -> None:
    """Every op's integer attributes and every tensor type of MODULE against B (one error).

    SOURCE names the model file when MODULE (a lowered copy) no longer carries it.
    """
    src = source or source_of(module)
    func = module.func
    for a in func.arguments:
        check_type(src, None, a, b)
    for op in func.body:
        for key, value in op.attrs.items():
            for x in _ints(value):
                if not b.int_min <= x <= b.int_max:
                    raise EdgeccError(f"{_where(src, op)}attribute '{key}' = {x} does not fit the "
                                      f"{b.backend} backend's {b.int_name} ({b.int_min:,} to {b.int_max:,})")
        for v in op.results:
            check_type(src, op, v, b)


def check_sizes(src: str, b: Bounds, sizes: dict[str, tuple[int, str]]) -> None:
    """Memory totals (name -> (bytes, what dominates it)) against B's address space."""
    for name, (size, detail) in sizes.items():
        if size > b.bytes_max:
            raise EdgeccError(f"{src}: {name} needs {size:,} bytes, more than {b.space_name} "
                              f"({b.bytes_max + 1:,} bytes){f'; {detail}' if detail else ''}")


__all__ = ["Bounds", "C_BOUNDS", "NUMBA_BOUNDS", "TFLITE_BOUNDS", "check_module", "check_sizes", "check_type",
           "source_of"]
