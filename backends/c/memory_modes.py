"""``--memory auto|ram|speed``: which kernels and which execution the C backend uses, per layer.

Three ways to run a layer on a CMSIS-NN target, from fast to small:

1. the CMSIS-NN call on whole tensors (input and output both alive);
2. band execution (``edgecc.backends.c.bands``): the same CMSIS-NN kernels on bands
   of rows, a chain of layers at a time, with line buffers and the output written
   over a dead input -- a few percent more instructions (band calls, halo copies);
3. edgecc's portable in-place kernels and the conv + add fusion -- the smallest
   arena for one layer, at several times the instructions.

The modes:

* ``speed``: 1 everywhere;
* ``auto`` (default): the fastest plan that fits -- with a RAM budget (``--board``,
  ``--ram-budget``) the first plan of the greedy search below that fits; without
  one, the smallest arena whose estimated instructions stay within 5 % of ``speed``;
* ``ram``: the smallest arena at any speed (bands without a limit, or 3, whichever
  is smaller).

The search is greedy on the exact memory plan: at each round it looks at the ops at
the live-bytes peak, tries every chain through them (length 1-4) with 1, 2, 4 or 8
rows per band and with or without an input window, plans each candidate and keeps
the smallest arena (then the cheapest); when no candidate shrinks the arena within
the instruction allowance it tries each group cut in two, and resumes if that helped.
It runs once with chains of up to 4 layers and once with single layers. Instructions are estimated by
``estimate`` (per-MAC and per-call figures per ISA, calibrated on the emulator;
``edgecc bench -t CORE`` measures them exactly).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from edgecc.analysis.memory import MemoryPlan, inplace_rule, plan_memory
from edgecc.ir.core import Module, clone_module
from edgecc.ir.diagnostics import EdgeccError

MEMORY = ("auto", "ram", "speed")
#: the instruction allowance of ``auto`` without a RAM budget, relative to ``speed``
AUTO_SLACK = 0.05
#: output rows per band step the search tries
BAND_ROWS = (1, 2, 4, 8)

#: estimated instructions per MAC: (ISA, kernel kind) -> figure (CMSIS-NN, -O2). Fitted on the
#: emulator (QEMU instruction counts, the bundled example: cortex-m55 = mve, cortex-m4 = dsp);
#: "none" (Cortex-M0/M3: CMSIS-NN's plain C) is not measurable on QEMU's machines for M0, guessed.
_PER_MAC = {
    ("mve", "conv"): 0.96, ("mve", "conv1x1"): 0.40, ("mve", "depthwise"): 2.34,
    ("mve", "fully_connected"): 0.6,
    ("dsp", "conv"): 3.5, ("dsp", "conv1x1"): 2.09, ("dsp", "depthwise"): 7.8, ("dsp", "fully_connected"): 2.1,
    ("none", "conv"): 4.0, ("none", "conv1x1"): 3.0, ("none", "depthwise"): 9.0,
    ("none", "fully_connected"): 3.6,
}
_PORTABLE_PER_MAC = 10.0
_PER_ELEMENT = 4.0  # element-wise ops, pooling, data movement
#: a CMSIS-NN call's fixed cost (wrapper, dispatch, setup)
_PER_CALL = 400
#: what one more call costs inside a band group, per ISA: least squares over band rows 1/2/4/8
#: on the emulator (cortex-m55: 321; cortex-m4: 7,384 — the DSP kernels rebuild per call what
#: Helium's read in place: im2col columns, reordered depthwise weights)
_BAND_CALL = {"mve": 320, "dsp": 7400, "none": 7400}
_PER_COPIED_BYTE = 0.3  # memcpy / memmove in band execution
#: CMSIS-NN kernels compute output pixels in groups (Helium convolutions and depthwise: 4, DSP
#: convolutions: 2); the pixels of a call left over from its groups run a slower path costing this
#: much more per MAC (fitted on the emulator: conv 0.555 on cortex-m55, 0.659 on cortex-m4;
#: depthwise 1.98 on cortex-m55, from one-row bands of the MLPerf KWS model)
_GROUP = {("mve", "conv"): (4, 0.55), ("dsp", "conv"): (2, 0.66), ("mve", "depthwise"): (4, 1.98)}


def _kind(op) -> str:
    kind = getattr(op, "mac_kind", None) or op.name
    kind = next((k for k in ("depthwise", "fully_connected", "conv") if k in kind), "conv")
    if kind == "conv" and len(op.operands) > 1 and tuple(op.operands[1].type.shape[1:3]) == (1, 1):
        return "conv1x1"
    return kind


def _band_overhead(op, isa: str) -> float:
    """Extra instructions of a ``c.band`` op over its members run on whole tensors."""
    from edgecc.backends.c.generate import op_macs

    g = op.group
    extra = (g.calls - len(op.member_ops())) * _BAND_CALL.get(isa, _PER_CALL) + g.copied_bytes * _PER_COPIED_BYTE
    k = len(g.stages)
    for i, st in enumerate(g.stages):
        if st.op is None:
            continue
        group, per_mac = _GROUP.get((isa, _kind(st.op).replace("conv1x1", "conv")), (1, 0.0))
        if group == 1:
            continue
        ow = st.op.results[0].type.shape[2]
        per_pixel = op_macs(st.op) / max(st.op.results[0].type.shape[1] * ow, 1)
        prev, left = 0, 0
        for s in range(g.steps):
            t = g.table[s * k + i][0]
            left += ((t - prev) * ow) % group
            prev = t
        left -= (st.out_h * ow) % group
        extra += max(left, 0) * per_pixel * per_mac
    return extra


def estimate(op, isa: str) -> float:
    """Estimated instructions of one ``c`` op (the cost model of the search)."""
    from edgecc.backends.c.generate import op_macs

    members = getattr(op, "member_ops", None)
    if callable(members):
        return sum(estimate(m, isa) for m in members()) + _band_overhead(op, isa)
    macs = op_macs(op)
    out = sum(r.type.num_elements for r in op.results)
    if macs:
        per = _PER_MAC.get((isa, _kind(op)), 4.0) if getattr(op, "library", "") == "cmsis-nn" else _PORTABLE_PER_MAC
        return macs * per + _PER_CALL
    return out * _PER_ELEMENT + _PER_CALL


def estimate_total(module: Module, isa: str) -> int:
    return int(sum(estimate(op, isa) for op in module.func.body
                   if not op.has_trait("ConstantLike") and not op.has_trait("Terminator")))


@dataclass
class Choice:
    """The outcome of the search: the lowered module, its plan and how it was chosen."""

    lowered: Module
    plan: MemoryPlan
    instructions: int  # estimated
    speed_instructions: int  # estimated, the all-CMSIS-NN build
    speed_arena: int
    groups: list = field(default_factory=list)  # (member indices, rows, window)
    mode: str = "auto"
    budget: int | None = None
    portable_layers: int = 0

    @property
    def arena(self) -> int:
        return self.plan.arena_size


def _plan(m: Module, core) -> MemoryPlan:
    return plan_memory(m, alignment=core.alignment, rule_for=inplace_rule)


def _key(plan: MemoryPlan, cost: float) -> tuple:
    """What the search minimises: the arena, then how many layers sit at the peak (several
    equal peaks fall one by one), then the instructions."""
    live = [r.live_bytes for r in plan.table]
    peak = max(live, default=0)
    return plan.arena_size, peak, live.count(peak), cost


def with_groups(base: Module, core, groups) -> Module | None:
    """A copy of ``base`` (lowered, no groups) with ``groups`` formed (None: one is impossible)."""
    from edgecc.backends.c.bands import form_group

    m, _ = clone_module(base)
    by_idx = {op.attrs["edgecc.index"]: op for op in m.func.body if "edgecc.index" in op.attrs}
    for members, rows, window in groups:
        ops = [by_idx.get(i) for i in members]
        if any(op is None for op in ops) or form_group(m, ops, rows, core.alignment, window) is None:
            return None
    return m


def _candidates(base: Module, plan: MemoryPlan, groups, max_len: int = 4) -> list:
    from edgecc.backends.c.bands import chains_through

    by_idx = {op.attrs["edgecc.index"]: op for op in base.func.body if "edgecc.index" in op.attrs}
    peak = plan.peak_live
    at_peak = []
    for op, row in zip(plan.order, plan.table):
        if row.live_bytes == peak:
            at_peak += list(op.attrs.get("edgecc.members") or (op.attrs.get("edgecc.index"),))
            break  # the first peak layer: one move per round
    chains = []
    for idx in at_peak:
        op = by_idx.get(idx)
        if op is None:
            continue
        for chain in chains_through(base, op, max_len):
            key = tuple(o.attrs["edgecc.index"] for o in chain)
            if key not in chains:
                chains.append(key)
    out = []
    for key in chains:
        rest = [g for g in groups if not set(g[0]) & set(key)]
        for rows in BAND_ROWS:
            for window in (False, True):
                out.append(rest + [(key, rows, window)])
    return out


def band_search(base: Module, core, slack: float | None, budget: int | None = None,
                lengths: tuple[int, ...] = (4, 1)) -> Choice:
    """Band grouping of ``base`` (lowered for speed; see the module docstring): the greedy search
    with chains of at most each of ``lengths`` layers, its groups then split where that helps;
    the smallest arena (then the fewest instructions) wins."""
    speed_plan = _plan(base, core)
    speed_cost = estimate_total(base, core.isa)
    limit = None if slack is None else speed_cost * (1 + slack)
    start = Choice(base, speed_plan, speed_cost, speed_cost, speed_plan.arena_size, [], budget=budget)
    found, cache = [], {}
    for max_len in lengths:
        best, seen = start, set()
        while True:
            best = _greedy(base, core, best, limit, max_len, seen, cache)
            split = _improve(base, core, best, limit, _splits(best.groups), seen, cache)
            if split is None:
                break
            best = split
        found.append(_polish(base, core, best))
        if budget is not None and found[-1].arena <= budget:
            break
    return min(found, key=lambda c: (c.arena, c.instructions))


def _improve(base: Module, core, best: Choice, limit: float | None, candidates, seen: set,
             cache: dict) -> Choice | None:
    """The candidate grouping with the smallest ``_key`` below ``best``'s (None: none is).
    ``cache`` keeps (cost, key) per grouping across searches: planning is the expensive part."""
    top = None
    for groups in candidates:
        key = tuple(sorted(groups))
        if key in seen:
            continue
        seen.add(key)
        if key not in cache:
            m = with_groups(base, core, groups)
            cost = None if m is None else estimate_total(m, core.isa)
            cache[key] = None if m is None or (limit is not None and cost > limit) else \
                (cost, _key(_plan(m, core), cost))
        if cache[key] is None or cache[key][1] >= _key(best.plan, best.instructions):
            continue
        if top is None or cache[key][1] < cache[tuple(sorted(top))][1]:
            top = groups
    if top is None:
        return None
    m = with_groups(base, core, top)
    return Choice(m, _plan(m, core), cache[tuple(sorted(top))][0], best.speed_instructions, best.speed_arena,
                  top, budget=best.budget)


def _greedy(base: Module, core, best: Choice, limit: float | None, max_len: int, seen: set,
            cache: dict) -> Choice:
    for _ in range(64):
        if best.budget is not None and best.arena <= best.budget:
            break
        top = _improve(base, core, best, limit, _candidates(base, best.plan, best.groups, max_len), seen, cache)
        if top is None:
            break
        best = top
    return best


def _splits(groups) -> list:
    """Each group cut in two at each layer boundary (the greedy forms groups whole, so a pair of
    shorter groups with a smaller peak between them is out of its reach)."""
    out = []
    for i, (members, rows, _) in enumerate(groups):
        for cut in range(1, len(members)):
            for w1 in (False, True):
                for w2 in (False, True):
                    out.append(groups[:i] + [(members[:cut], rows, w1), (members[cut:], rows, w2)] + groups[i + 1:])
    return out


def _polish(base: Module, core, best: Choice) -> Choice:
    """Greedy steps lower the peak one group at a time, so an early group may keep fewer rows per
    band than the final arena needs: give each group the cheapest rows and window that keep the
    arena (and the peak's layer count) where it is."""
    groups = list(best.groups)
    for i in range(len(groups)):
        members = groups[i][0]
        for rows in BAND_ROWS:
            for window in (False, True):
                trial = groups[:i] + [(members, rows, window)] + groups[i + 1:]
                if trial == best.groups:
                    continue
                m = with_groups(base, core, trial)
                if m is None:
                    continue
                cost = estimate_total(m, core.isa)
                if cost >= best.instructions:
                    continue
                p = _plan(m, core)
                if p.arena_size <= best.arena:
                    best = Choice(m, p, cost, best.speed_instructions, best.speed_arena, trial, budget=best.budget)
                    groups = trial
    return best


def choose(module: Module, core, kernels: str | None, memory: str, budget: int | None = None) -> Choice:
    """Lower ``module`` and plan its arena by ``memory`` (see the module docstring)."""
    from edgecc.backends.c.lower import lower_to_c

    if memory not in MEMORY:
        raise EdgeccError(f"memory must be one of {', '.join(MEMORY)}, got '{memory}'")
    if (kernels or core.kernels) != "cmsis-nn":
        lowered = lower_to_c(module, core, kernels, None)
        plan = _plan(lowered, core)
        cost = estimate_total(lowered, core.isa)
        return Choice(lowered, plan, cost, cost, plan.arena_size, mode=memory, budget=budget)
    base = lower_to_c(module, core, kernels, set())
    if memory == "speed":
        plan = _plan(base, core)
        cost = estimate_total(base, core.isa)
        return Choice(base, plan, cost, cost, plan.arena_size, mode="speed", budget=budget)
    if memory == "auto":
        c = band_search(base, core, AUTO_SLACK, budget)
        if budget is None or c.arena <= budget:
            c.mode = "auto"
            return c
        c = band_search(base, core, None, budget)
        if c.arena <= budget:
            c.mode = "auto"
            return c
    smallest = band_search(base, core, None)
    ram = lower_to_c(module, core, kernels, None)
    ram_plan = _plan(ram, core)
    if ram_plan.arena_size < smallest.arena:
        n = sum(1 for op in ram.func.body if getattr(op, "library", "") == "edgecc"
                and getattr(op, "mac_kind", None))
        smallest = Choice(ram, ram_plan, estimate_total(ram, core.isa), smallest.speed_instructions,
                          smallest.speed_arena, [], budget=budget, portable_layers=n)
    smallest.mode = memory
    return smallest


__all__ = ["AUTO_SLACK", "Choice", "MEMORY", "band_search", "choose", "estimate", "estimate_total", "with_groups"]
