"""Persistent state in the generated C: a region outside the arena, kept across ``<prefix>_run``.

Every ``state @name`` gets a fixed offset in ``<prefix>_state`` (``.bss``, 4-byte aligned
slots); ``<prefix>_reset_state()`` copies the initial values from flash into it, and the first
run calls it. ``state.read`` lowers to ``c.state_load`` (copy region -> arena) and
``state.write`` to ``c.state_store`` (arena -> region). The store takes the loads of its state
as extra operands, so any schedule the memory planner picks runs it after them: a load
copies, so the next invocation's value may then overwrite the region at once.
"""

from __future__ import annotations

import numpy as np

from edgecc.backends.c.dialect import KernelOp, c
from edgecc.ir.spec import ANY_TENSOR, Str, attr, operand, result

ALIGN = 4


@c.op("state_load")
class StateLoadOp(KernelOp):
    """Copy state ``@state`` from the persistent region into the arena."""

    fn = "memcpy"
    output = result(ANY_TENSOR)
    state = attr(Str(), required=True)
    traits = {"StateAccess"}

    def emit(self, e) -> list[str]:
        return [f"memcpy({e.ptr(self.output, typed=False)}, {e.state_ptr(self.attr('state'))}, "
                f"{self.output.type.nbytes}u);"]


@c.op("state_store")
class StateStoreOp(KernelOp):
    """Copy the new value of ``@state`` into the persistent region (after the loads it lists)."""

    fn = "memcpy"
    value = operand(ANY_TENSOR)
    after = operand(ANY_TENSOR, variadic=True, doc="the loads of the same state (ordering only)")
    state = attr(Str(), required=True)
    traits = {"StateAccess"}

    def infer_types(self):
        return []

    def emit(self, e) -> list[str]:
        return [f"memcpy({e.state_ptr(self.attr('state'))}, {e.ptr(self.value, typed=False)}, "
                f"{self.value.type.nbytes}u);"]


def lower_state_op(op, L) -> None:
    """state.read -> c.state_load, state.write -> c.state_store (after the state's loads)."""
    name = op.attrs["state"]
    if op.name == "state.read":
        L.replace(op, StateLoadOp, [], state=name)
        return
    loads = [o.result for o in op.parent if o.name == "c.state_load" and o.attrs["state"] == name]
    new = StateStoreOp.build(op.operands[0], *loads, state=name, loc=op.loc)
    if "edgecc.index" in op.attrs:
        new.attrs["edgecc.index"] = op.attrs["edgecc.index"]
    op.parent.insert_before(op, new)
    op.erase()


def layout(module) -> tuple[dict[str, int], int]:
    """Offsets of the states in the persistent region and its size in bytes."""
    offsets, size = {}, 0
    for d in module.states.values():
        offsets[d.name] = size
        size += -(-d.type.nbytes // ALIGN) * ALIGN
    return offsets, size


def initial_bytes(module) -> np.ndarray:
    """The region's initial contents (little-endian stored values, zero padding)."""
    offsets, size = layout(module)
    blob = np.zeros(size, np.uint8)
    for d in module.states.values():
        a = np.ascontiguousarray(d.init.array.astype(d.type.element.numpy))
        if a.dtype == np.bool_:
            a = a.astype(np.uint8)
        raw = np.frombuffer(a.astype(a.dtype.newbyteorder("<")).tobytes(), np.uint8)
        blob[offsets[d.name]:offsets[d.name] + raw.size] = raw
    return blob


def source_parts(module, P: str, PU: str) -> dict[str, str]:
    """Header macros, declarations and definitions of the persistent region for the templates."""
    from edgecc.backends.c.emitter import c_ints, wrap
    from edgecc.backends.c.escape import c_string

    offsets, size = layout(module)
    macros = [f"/* Persistent state: {len(offsets)} tensor(s), {size} bytes kept across runs outside the "
              f"arena; {P}_reset_state() restores the initial values (the first run calls it). */",
              f"#define {PU}_STATE_SIZE {size}u", f"#define {PU}_NUM_STATES {len(offsets)}"]
    for i, d in enumerate(module.states.values()):
        macros.append(f"#define {PU}_STATE{i}_NAME {c_string(d.name)}")
        macros.append(f"#define {PU}_STATE{i}_OFFSET {offsets[d.name]}u")
        macros.append(f"#define {PU}_STATE{i}_BYTES {d.type.nbytes}u")
    if size:
        init = wrap(c_ints(initial_bytes(module), "uint8_t"))
        defs = (f"static uint8_t {P}_state[{size}] EDGECC_ALIGNED({ALIGN});\n"
                f"static const uint8_t {P}_state_init[{size}] EDGECC_WEIGHTS_SECTION = {{\n{init}\n}};\n"
                f"static int {P}_state_ready = 0;\n\n"
                f"void {P}_reset_state(void)\n{{\n    memcpy({P}_state, {P}_state_init, {size}u);\n"
                f"    {P}_state_ready = 1;\n}}\n")
        first = f"    if (!{P}_state_ready) {{\n        {P}_reset_state();\n    }}\n"
    else:
        defs = f"void {P}_reset_state(void)\n{{\n    /* the model has no persistent state */\n}}\n"
        first = ""
    return {"state_macros": "\n".join(macros) + "\n", "state_defs": defs, "state_first_run": first}


__all__ = ["StateLoadOp", "StateStoreOp", "initial_bytes", "layout", "lower_state_op", "source_parts"]
