"""The C backend's range check (``edgecc.ir.ranges`` with the C bounds, plus arena and flash).

Every kernel parameter of the generated C is an ``int32_t`` and the memory
plan must fit a 32-bit core, so a value that fits Python but not C is an
error naming the node and tensor before any file is written, never a
truncated constant (gcc: "overflow in conversion ... changes value").
"""

from __future__ import annotations

from edgecc.ir.ranges import C_BOUNDS, check_module, check_sizes, source_of


def _largest(values) -> str:
    best = max(values, key=lambda v: v.type.nbytes, default=None)
    if best is None:
        return ""
    name = f"tensor '{best.name_hint}'" if best.name_hint else "the largest tensor"
    return f"{name} ({best.type}) alone takes {best.type.nbytes:,} bytes"


def check_c_ranges(module, lowered=None, plan=None, core=None) -> None:
    """MODULE (the ``nn`` input) alone; with LOWERED/PLAN also every ``c`` op, the arena and flash."""
    src = source_of(module)
    if lowered is None:
        check_module(module, C_BOUNDS, source=src)
        return
    check_module(lowered, C_BOUNDS, source=src)
    consts = [r for op in lowered.func.body if op.has_trait("ConstantLike") for r in op.results]
    activations = [v for b in plan.buffers for v in b.values]
    flash = sum(v.type.nbytes for v in consts)
    where = f" for {core.name}" if core is not None else ""
    check_sizes(src, C_BOUNDS, {
        f"the arena{where}": (plan.arena_size, _largest(activations)),
        f"the constant data (flash){where}": (flash, _largest(consts)),
        f"arena and flash together{where}": (plan.arena_size + flash, ""),
    })
