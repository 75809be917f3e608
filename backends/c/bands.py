"""Band execution: a chain of row-local layers run band by band with the vendor kernels.

CMSIS-NN's kernels are fast but read a whole input and write a whole output, so
a layer at the memory peak needs its input and output alive together. Band
execution keeps the kernels and changes what they are called on: the chain
``X -> m1 -> m2 -> ... -> mk -> Y`` runs in *steps*; each step produces the next
``R`` output rows of ``Y`` and, before that, just the rows of every
intermediate that those rows need. An intermediate lives in a *line buffer* of
a few rows (its halo rows stay cached between steps, so nothing is computed
twice, unlike MCUNetV2's overlapping patches); when a buffer is full its live
rows slide to its start (one ``memmove`` of the halo). Each kernel call is the
ordinary CMSIS-NN call on a band: the input pointer is the first needed row,
the input height the rows present, and the top padding only where the band
touches the real border (bottom padding follows from the height).

``Y`` may be written over ``X`` (in place) when a compile-time simulation of
the steps proves that no byte of ``X`` is overwritten before its last read; a
single layer whose output would overwrite its own halo reads ``X`` through a
*window* (a line buffer filled by copies, the ``copy`` stage). ``Y`` may also
replace a residual operand that only the last layer reads, row by row.

A group is one ``c.band`` op: its operands are the arena tensors it reads
(``X`` first, then residual operands), its result ``Y``; the member ops are
kept detached (``op.group.stages``) and emit their band calls through
``band_call``. Its scratch holds the largest member ``ctx`` buffer followed
by the line buffers. The step table (target row and buffer base per stage)
is computed here and emitted as a ``static const int16_t`` table; the C loop
recomputes the input rows with the same formulas as ``Stage.in_range``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from edgecc.analysis.liveness import InPlace, align_up
from edgecc.backends.c.dialect import KernelOp, c
from edgecc.ir.core import Module, Operation, Value
from edgecc.ir.spec import ANY_TENSOR, Bool, Int, attr, operand, result


def _constant(v: Value) -> bool:
    op = v.defining_op()
    return op is not None and op.has_trait("ConstantLike")


@dataclass
class Stage:
    """One layer of a group (``op`` None: the window copy of ``X``)."""

    op: Operation | None
    in_h: int
    out_h: int
    in_rb: int  # bytes of one input row
    out_rb: int  # bytes of one output row
    stride: int = 1
    pad_top: int = 0
    span: int = 1  # input rows one output row reads
    side: Value | None = None  # a full tensor read at the output rows (residual operand)
    side_lhs: bool = False  # the side operand is the op's lhs
    side_index: int = -1  # operand of the c.band op that is the side tensor (0: X)
    ctx: int = 0  # CMSIS-NN ctx bytes

    def in_range(self, a: int, b: int) -> tuple[int, int]:
        """Input rows [lo, hi) that output rows [a, b) read (clipped to the input)."""
        lo = a * self.stride - self.pad_top
        hi = (b - 1) * self.stride - self.pad_top + self.span
        return max(lo, 0), min(hi, self.in_h)

    def first_needed(self, a: int) -> int:
        """The first input row still needed once output rows < ``a`` exist."""
        if a >= self.out_h:
            return self.in_h
        return max(a * self.stride - self.pad_top, 0)


def stage_of(op: Operation, primary: Value) -> Stage | None:
    """The row geometry of a bandable ``c`` op reading ``primary`` (None: not bandable)."""
    band = getattr(op, "band_kind", None)
    if band is None or not op.results:
        return None
    out = op.results[0].type
    x = primary.type
    if x.rank != 4 or out.rank != 4 or x.shape[0] != 1 or out.shape[0] != 1:
        return None
    esize_in, esize_out = max(1, x.element.bits // 8), max(1, out.element.bits // 8)
    in_rb = x.shape[2] * x.shape[3] * esize_in
    out_rb = out.shape[2] * out.shape[3] * esize_out
    ctx = int(op.attrs.get("scratch", 0) or 0)
    if band == "window":
        sh, pt = op.attr("strides")[0], op.attr("pads")[0]
        if "kernel" in op.attrs:  # pooling
            kh, dh = op.attr("kernel")[0], 1
        else:  # conv [cout, kh, kw, cin] and depthwise [1, kh, kw, c] weights
            kh, dh = op.operands[1].type.shape[1], op.attr("dilations")[0]
        return Stage(op, x.shape[1], out.shape[1], in_rb, out_rb, sh, pt, dh * (kh - 1) + 1, ctx=ctx)
    if band == "elementwise":
        lhs, rhs = op.operands[0], op.operands[1]
        if lhs.type.shape != out.shape or rhs.type.shape != out.shape or lhs is rhs:
            return None
        side = rhs if primary is lhs else lhs
        if _constant(side):
            return None
        return Stage(op, x.shape[1], out.shape[1], in_rb, out_rb, side=side, side_lhs=side is lhs, ctx=ctx)
    return None


def window_stage(x: Value) -> Stage:
    h, rb = x.type.shape[1], x.type.nbytes // max(x.type.shape[1], 1)
    return Stage(None, h, h, rb, rb)


@dataclass
class GroupPlan:
    """The simulated schedule of a group (see the module docstring)."""

    stages: list[Stage]
    rows: int  # R: output rows of Y per step
    steps: int
    table: list[tuple[int, int]]  # per step and stage: (target row, buffer base)
    caps: list[int]  # line-buffer rows per stage (0: writes Y)
    x_inplace: bool  # Y may be written over X
    x: Value
    sides: list[Value] = field(default_factory=list)
    ctx_bytes: int = 0
    line_offsets: list[int] = field(default_factory=list)
    scratch: int = 0
    copied_bytes: int = 0  # memmove/memcpy bytes per inference (cost model)
    calls: int = 0  # kernel calls per inference


def simulate(stages: list[Stage], x: Value, rows: int, alignment: int) -> GroupPlan | None:
    """Plan the steps of ``stages`` producing ``rows`` output rows each; None when impossible."""
    k = len(stages)
    last = stages[-1]
    steps = -(-last.out_h // rows)

    def targets(hi: list[int], s: int) -> list[int]:
        t = [0] * k
        t[k - 1] = min((s + 1) * rows, last.out_h)
        for i in range(k - 1, 0, -1):
            t[i - 1] = max(hi[i - 1], stages[i].in_range(0, t[i])[1]) if t[i] > 0 else hi[i - 1]
        return t

    def keep(i: int, hi: list[int]) -> int:
        return min(stages[i + 1].first_needed(hi[i + 1]), hi[i])

    # pass 1: line-buffer capacities
    caps = [0] * k
    hi = [0] * k
    for s in range(steps):
        t = targets(hi, s)
        for i in range(k):
            if t[i] > hi[i]:
                if i < k - 1:
                    caps[i] = max(caps[i], t[i] - keep(i, hi))
                hi[i] = t[i]
    if hi[k - 1] != last.out_h:
        return None
    # pass 2: slides, the step table, the in-place check on X
    reads_x = [i == 0 or st.side is x for i, st in enumerate(stages)]
    x_rb = stages[0].in_rb
    y_rb = last.out_rb
    hi, base = [0] * k, [0] * k
    table: list[tuple[int, int]] = []
    x_ok = True
    copied = calls = 0
    for s in range(steps):
        t = targets(hi, s)
        for i, st in enumerate(stages):
            if t[i] <= hi[i]:
                table.append((hi[i], base[i]))
                continue
            if i < k - 1 and t[i] > base[i] + caps[i]:
                nb = keep(i, hi)
                copied += (hi[i] - nb) * st.out_rb
                base[i] = nb
            lo, top = st.in_range(hi[i], t[i])
            if i > 0:
                prev_lo = base[i - 1]
                if lo < prev_lo or top > hi[i - 1]:
                    return None  # the simulation is inconsistent: never emit it
            y_written = hi[k - 1] * y_rb
            if reads_x[i]:
                rlo = lo if i == 0 else hi[i]  # a side operand is read at the output rows
                if rlo * x_rb < y_written:
                    x_ok = False
                if i == k - 1:
                    same_rows = st.op is not None and getattr(st.op, "band_kind", "") == "elementwise"
                    if not (same_rows and x_rb == y_rb) and t[i] * y_rb > rlo * x_rb:
                        x_ok = False
            if st.op is None:
                copied += (top - lo) * st.in_rb
            else:
                calls += 1
            table.append((t[i], base[i]))
            hi[i] = t[i]
    ctx = max((st.ctx for st in stages), default=0)
    offs, off = [], align_up(ctx, alignment)
    for i, st in enumerate(stages):
        offs.append(off)
        if i < k - 1:
            off += align_up(caps[i] * st.out_rb, alignment)
    sides = []
    for st in stages:
        if st.side is not None and st.side is not x and st.side not in sides:
            sides.append(st.side)
        if st.side is not None:
            st.side_index = 0 if st.side is x else 1 + sides.index(st.side)
    return GroupPlan(stages, rows, steps, table, caps, x_ok, x, sides, ctx, offs, off, copied, calls)


def chain_stages(ops: list[Operation], outputs: set[Value]) -> list[Stage] | None:
    """Stages of ``ops`` when they form a chain (each reads the previous result, used only there)."""
    stages: list[Stage] = []
    prev: Value | None = None
    for j, op in enumerate(ops):
        primary = op.operands[0] if prev is None else prev
        if prev is not None and prev not in op.operands:
            return None
        st = stage_of(op, primary)
        if st is None:
            return None
        if st.side is not None and any(st.side is o.results[0] for o in ops):
            return None  # residuals must come from outside the group
        if j < len(ops) - 1:
            r = op.results[0]
            if r in outputs or len(r.uses) != 1 or r.uses[0].op is not ops[j + 1]:
                return None
        stages.append(st)
        prev = op.results[0]
    return stages


@c.op("band")
class BandOp(KernelOp):
    """A group of layers executed band by band (see ``edgecc.backends.c.bands``)."""

    inputs = operand(ANY_TENSOR, variadic=True)
    output = result(ANY_TENSOR)
    band_rows = attr(Int(), required=True)
    steps = attr(Int(), required=True)
    scratch = attr(Int(), default=0, doc="member ctx buffer + line buffers")
    x_inplace = attr(Bool(), default=False)
    group: GroupPlan  # set by form_group

    @property
    def library(self) -> str:  # type: ignore[override]
        libs = {getattr(st.op, "library", "edgecc") for st in self.group.stages if st.op is not None}
        return "cmsis-nn" if "cmsis-nn" in libs else "edgecc"

    def inplace_for(self) -> InPlace | None:
        prefs = [0] if self.attr("x_inplace") else []
        last = self.group.stages[-1]
        if last.side_index > 0 and last.out_rb == last.in_rb:
            prefs.append(last.side_index)
        return InPlace(tuple(prefs), shrink=True) if prefs else None

    def member_ops(self) -> list[Operation]:
        return [st.op for st in self.group.stages if st.op is not None]

    def macs(self) -> int:
        from edgecc.backends.c.generate import op_macs

        return sum(op_macs(op) for op in self.member_ops())

    def kernel_name(self, plan=None) -> str:
        names = " + ".join(op.kernel_name() for op in self.member_ops())
        return f"band[{names}]"

    def emit(self, e) -> list[str]:
        g = self.group
        k = len(g.stages)
        flat = [v for pair in g.table for v in pair]
        ctype = "int16_t" if max(flat, default=0) < 2 ** 15 else "int32_t"
        tbl = e.table(ctype, flat)
        sb = f"((uint8_t *)arena + {e.plan.scratch_offset(self)})"
        y = f"((uint8_t *)arena + {e.plan.offset(self.output)})"
        x = f"((uint8_t *)arena + {e.plan.offset(self.operands[0])})"
        ctx_ptr = f"(void *){sb}" if g.ctx_bytes else "NULL"
        lines = [f"/* band execution: {k} stages, {g.steps} steps of {g.rows} output rows"
                 f"{', written over the input' if e.plan.reuses(self) == 0 else ''} */",
                 f"int32_t hi[{k}] = {{0}};"] + ([f"int32_t base[{k}] = {{0}};"] if k > 1 else []) + [
                 f"for (int32_t s = 0; s < {g.steps}; ++s) {{",
                 f"    const {ctype} *step = &{tbl}[s * {2 * k}];"]
        for i, st in enumerate(g.stages):
            final = i == k - 1
            buf = y if final else f"({sb} + {g.line_offsets[i]})"
            src = x if i == 0 else f"({sb} + {g.line_offsets[i - 1]})"
            src_base = "0" if i == 0 else f"base[{i - 1}]"
            body = [f"const int32_t t = step[{2 * i}];"]
            if not final:
                body += [f"const int32_t nb = step[{2 * i + 1}];",
                         f"if (nb != base[{i}]) {{",
                         f"    memmove({buf}, {buf} + (size_t)(nb - base[{i}]) * {st.out_rb}u, "
                         f"(size_t)(hi[{i}] - nb) * {st.out_rb}u);",
                         f"    base[{i}] = nb;", "}"]
            body += [f"const int32_t a = hi[{i}] * {st.stride} - {st.pad_top};",
                     "const int32_t lo = a > 0 ? a : 0;",
                     f"int32_t top = (t - 1) * {st.stride} - {st.pad_top} + {st.span};",
                     f"if (top > {st.in_h}) {{", f"    top = {st.in_h};", "}"]
            in_ptr = f"({src} + (size_t)(lo - {src_base}) * {st.in_rb}u)"
            out_ptr = f"({buf} + (size_t)(hi[{i}] - {'0' if final else f'base[{i}]'}) * {st.out_rb}u)"
            if st.op is None:
                body.append(f"memcpy({out_ptr}, {in_ptr}, (size_t)(top - lo) * {st.in_rb}u);")
            else:
                side_ptr = None
                if st.side is not None:
                    sv = self.operands[st.side_index]
                    sbase = x if st.side_index == 0 else f"((uint8_t *)arena + {e.plan.offset(sv)})"
                    side_ptr = f"({sbase} + (size_t)hi[{i}] * {st.out_rb}u)"
                body += st.op.band_call(e, in_ptr, "top - lo", "lo - a", out_ptr, f"t - hi[{i}]", ctx_ptr,
                                        side_ptr, st.side_lhs)
            body.append(f"hi[{i}] = t;")
            lines.append(f"    if (step[{2 * i}] > hi[{i}]) {{")
            lines += ["        " + b for b in body]
            lines.append("    }")
        lines.append("}")
        return ["{"] + ["    " + ln for ln in lines] + ["}"]


def form_group(module: Module, ops: list[Operation], rows: int, alignment: int,
               window: bool = False) -> BandOp | None:
    """Replace the chain ``ops`` of ``module`` by one ``c.band`` op (None: not possible)."""
    outputs = set(module.func.outputs)
    stages = chain_stages(ops, outputs)
    if stages is None:
        return None
    x = ops[0].operands[0]
    if _constant(x):
        return None
    if window:
        if any(st.side is x for st in stages):
            return None
        stages = [window_stage(x)] + stages
    plan = simulate(stages, x, rows, alignment)
    if plan is None:
        return None
    last = ops[-1]
    operands = [x] + plan.sides
    new = BandOp.build(*operands, result_types=[last.results[0].type], loc=last.loc,
                       result_names=[last.results[0].name_hint], band_rows=rows, steps=plan.steps,
                       scratch=plan.scratch, x_inplace=plan.x_inplace)
    new.group = plan
    idx = last.attrs.get("edgecc.index")
    if idx is not None:
        new.attrs["edgecc.index"] = idx
    new.attrs["edgecc.members"] = tuple(op.attrs.get("edgecc.index") for op in ops)
    block = last.parent
    block.insert_before(last, new)
    last.results[0].replace_all_uses_with(new.results[0])
    for op in ops:
        block.remove(op)
    return new


def chains_through(module: Module, op: Operation, max_len: int = 4) -> list[list[Operation]]:
    """Chains of bandable ops (length 1..max_len) that contain ``op``."""
    outputs = set(module.func.outputs)

    def ok(o):
        return getattr(o, "band_kind", None) is not None

    if not ok(op):
        return []
    back = [op]
    while len(back) < max_len:
        cur = back[0]
        prev = cur.operands[0].defining_op()
        if getattr(cur, "band_kind", "") == "elementwise":
            cands = [v.defining_op() for v in cur.operands[:2]]
            cands = [p for p in cands if p is not None and ok(p) and len(p.results[0].uses) == 1]
            prev = cands[0] if len(cands) == 1 else None
        if prev is None or not ok(prev) or len(prev.results[0].uses) != 1 or prev.results[0] in outputs:
            break
        back.insert(0, prev)
    fwd: list[Operation] = []
    cur = op
    while len(back) + len(fwd) < 2 * max_len:
        r = cur.results[0]
        if r in outputs or len(r.uses) != 1 or not ok(r.uses[0].op):
            break
        cur = r.uses[0].op
        fwd.append(cur)
    full = back + fwd
    pos = len(back) - 1
    out = []
    for i in range(0, pos + 1):
        for j in range(pos + 1, min(len(full), i + max_len) + 1):
            out.append(full[i:j])
    return out


__all__ = ["BandOp", "GroupPlan", "Stage", "chain_stages", "chains_through", "form_group", "simulate",
           "stage_of", "window_stage"]
