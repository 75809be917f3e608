"""TFLM's kernel limits, enforced when a .tflite is written instead of discovered at load.

``MAX_INPUTS`` and ``MAX_RANK`` are the checks TFLM's kernels make in Prepare (measured with the
``tflite_micro`` interpreter; sources: ``concatenation.cc`` ``kMaxInputNum``, ``pad_common.cc``
``PadKernelMaxDimensionCount()``, ``transpose_common.cc``, ``strided_slice_common.cc``).
``legalize`` rewrites, on a copy of the module, every op whose builtin would break one into an
exact equivalent that keeps within them:

* a concat of more than 10 inputs becomes a tree of concats of at most 10 (the partial results
  carry the output's element type, so a quantized concat still requantizes each input once);
* a pad, transpose or slice of too high a rank runs on a reshaped view of lower rank: dimensions
  that are not padded / stay adjacent under the permutation / are taken whole merge with their
  neighbour, size-1 dimensions drop (nn.reshape, the op, nn.reshape back); a constant pad of too
  many dimensions becomes two pads, each on such a view.

Where no such form exists the result is a one-line ``EdgeccError`` naming the op, at compile time.

``TFLM_TYPES`` lists the builtins the writer emits for LiteRT that TFLM has no kernel for (or none
for some tensor types); ``check_tflm`` turns them into a compile-time error when the .tflite is
written for TFLM (``to_bytes(..., runtime="tflm")``) instead of a failed ``AllocateTensors``.
"""

from __future__ import annotations

import numpy as np

from edgecc.ir.core import Module, Operation, clone_module
from edgecc.ir.diagnostics import EdgeccError
from edgecc.ir.types import TensorType

#: builtin -> the most inputs TFLM's kernel accepts
MAX_INPUTS: dict[str, int] = {"CONCATENATION": 10}
#: builtin -> the highest input rank TFLM's kernel accepts
MAX_RANK: dict[str, int] = {"PAD": 5, "PADV2": 5, "MIRROR_PAD": 5, "TRANSPOSE": 5, "STRIDED_SLICE": 4}
#: nn op -> the builtin whose limits apply (nn.pad: PAD / PADV2 / MIRROR_PAD share them)
BUILTIN = {"nn.concat": "CONCATENATION", "nn.pad": "PAD", "nn.transpose": "TRANSPOSE",
           "nn.slice": "STRIDED_SLICE"}

#: builtin -> the output tensor types TFLM's kernel takes (empty: TFLM registers no kernel for it);
#: builtins not listed run for every type the writer emits. Measured with the tflite_micro
#: interpreter (exp.cc: float32 only; resize_bilinear.cc: float32 and int8).
TFLM_TYPES: dict[str, frozenset[str]] = {
    "POW": frozenset(), "LOCAL_RESPONSE_NORMALIZATION": frozenset(),
    "EXP": frozenset({"FLOAT32"}), "RESIZE_BILINEAR": frozenset({"FLOAT32", "INT8"}),
}


def _error(op: Operation, why: str) -> EdgeccError:
    return EdgeccError(f"'{op.name}' {why} (tflite backend)", op.location)


def _needs(op: Operation) -> bool:
    b = BUILTIN.get(op.name)
    if b is None:
        return False
    if b in MAX_INPUTS and len(op.operands) > MAX_INPUTS[b]:
        return True
    return b in MAX_RANK and op.operands[0].type.rank > MAX_RANK[b]


def legalize(module: Module) -> Module:
    """``module`` itself when every op fits TFLM's limits, else a rewritten copy."""
    if not any(_needs(op) for op in module.func.body):
        return module
    module, _ = clone_module(module)
    for op in list(module.func.body):
        if _needs(op):
            REWRITES[op.name](op)
    module.verify()
    return module


# ------------------------------------------------------------------ concat
def _concat_tree(op: Operation) -> None:
    from edgecc.dialects.nn import ConcatOp

    limit, axis = MAX_INPUTS["CONCATENATION"], op.norm_axis
    elem, out = op.results[0].type.element, op.results[0]
    level, parts = list(op.operands), 0
    while len(level) > limit:
        nxt = []
        for k in range(0, len(level), limit):
            group = level[k:k + limit]
            if len(group) == 1:
                nxt.append(group[0])
                continue
            shape = list(group[0].type.shape)
            shape[axis] = sum(v.type.shape[axis] for v in group)
            parts += 1
            part = ConcatOp.build(group, result_types=[TensorType(tuple(shape), elem)], loc=op.loc, axis=axis,
                                  result_names=[f"{out.name_hint or 'concat'}_part{parts}"])
            op.parent.insert_before(op, part)
            nxt.append(part.result)
        level = nxt
    new = ConcatOp.build(level, result_types=[out.type], loc=op.loc, axis=axis, result_names=[out.name_hint])
    op.parent.insert_before(op, new)
    out.replace_all_uses_with(new.result)
    op.erase()


# ------------------------------------------------------------------ lower-rank views
def _groups_pad(op: Operation) -> list[list[int]] | None:
    """Dimension groups a pad can merge: a padded dimension with the unpadded ones inside it."""
    shape, r, p = op.operands[0].type.shape, op.operands[0].type.rank, op.attr("pads")
    if op.attr("mode") != "constant":
        return None
    groups: list[list[int]] = []
    for d in range(r):
        padded = p[d] != 0 or p[r + d] != 0
        if groups and not padded and shape[d] != 0:
            groups[-1].append(d)
        else:
            groups.append([d])
    return groups


def _groups_transpose(op: Operation) -> list[list[int]]:
    """Input dimensions that stay adjacent (and in order) under the permutation; size-1
    dimensions go with any group."""
    shape = op.operands[0].type.shape
    kept = [d for d in range(len(shape)) if shape[d] != 1] or [0]
    pos = {d: k for k, d in enumerate(kept)}
    perm = [d for d in op.attr("perm") if d in pos]
    groups: list[list[int]] = []
    for k, d in enumerate(perm):
        if k and pos[perm[k - 1]] == pos[d] - 1:
            groups[-1].append(d)
        else:
            groups.append([d])
    return sorted(groups)


def _groups_slice(op: Operation) -> list[list[int]]:
    """A sliced dimension with the dimensions inside it that are taken whole."""
    shape = op.operands[0].type.shape
    begin, end, steps = op.attr("begin"), op.attr("end"), list(op.steps)
    groups: list[list[int]] = []
    for d in range(len(shape)):
        whole = begin[d] == 0 and end[d] >= shape[d] and steps[d] == 1
        head = groups[-1][0] if groups else None
        if head is not None and whole and steps[head] == 1 and 0 <= begin[head] <= end[head]:
            groups[-1].append(d)
        else:
            groups.append([d])
    return groups


def _reshaped(op: Operation, view_in, view_out, **attrs) -> None:
    """Replace ``op`` by reshape(view_in) -> the op on the view -> reshape back."""
    from edgecc.dialects.nn import ReshapeOp

    x, out = op.operands[0], op.results[0]
    base = out.name_hint or op.name[3:]
    r1 = ReshapeOp.build(x, result_types=[x.type.with_shape(view_in)], loc=op.loc, shape=list(view_in),
                         result_names=[f"{base}_view"])
    op.parent.insert_before(op, r1)
    core = type(op).build(r1.result, result_types=[out.type.with_shape(view_out)], loc=op.loc,
                          result_names=[f"{base}_core"], **{**dict(op.attrs), **attrs})
    op.parent.insert_before(op, core)
    r2 = ReshapeOp.build(core.result, result_types=[out.type], loc=op.loc, shape=list(out.type.shape),
                         result_names=[out.name_hint])
    op.parent.insert_before(op, r2)
    out.replace_all_uses_with(r2.result)
    op.erase()


def _lower_rank(op: Operation) -> None:
    x, y = op.operands[0].type, op.results[0].type
    builtin = BUILTIN[op.name]
    limit = MAX_RANK[builtin]
    if op.name == "nn.pad":
        groups = _groups_pad(op)
    elif op.name == "nn.transpose":
        groups = _groups_transpose(op)
    else:
        groups = _groups_slice(op)
    if op.name == "nn.pad" and groups is not None and len(groups) > limit:
        _split_pad(op, limit)
        return
    if groups is None or len(groups) > limit:
        raise _error(op, f"on a {x.rank}-D tensor has no form within TFLM's {limit}-D {builtin} "
                         f"({len(groups) if groups else x.rank} dimensions cannot be merged)")
    size = lambda shape, g: int(np.prod([shape[d] for d in g], dtype=np.int64))  # noqa: E731
    view_in = [size(x.shape, g) for g in groups]
    if op.name == "nn.pad":
        r, p = x.rank, op.attr("pads")
        inner = [size(x.shape, g[1:]) for g in groups]
        pads = [p[g[0]] * n for g, n in zip(groups, inner)] + [p[r + g[0]] * n for g, n in zip(groups, inner)]
        view_out = [v + a + b for v, a, b in zip(view_in, pads[:len(groups)], pads[len(groups):])]
        _reshaped(op, view_in, view_out, pads=pads)
    elif op.name == "nn.transpose":
        perm = list(op.attr("perm"))
        order = sorted(range(len(groups)), key=lambda k: perm.index(groups[k][0]))
        _reshaped(op, view_in, [view_in[k] for k in order], perm=order)
    else:
        begin, end, steps = op.attr("begin"), op.attr("end"), list(op.steps)
        inner = [size(x.shape, g[1:]) for g in groups]
        b = [begin[g[0]] * n for g, n in zip(groups, inner)]
        e = [min(end[g[0]], x.shape[g[0]]) * n if steps[g[0]] == 1 else end[g[0]]
             for g, n in zip(groups, inner)]
        st = [steps[g[0]] for g in groups]
        _reshaped(op, view_in, [size(y.shape, g) for g in groups], begin=b, end=e, strides=st)


def _split_pad(op: Operation, limit: int) -> None:
    """A constant pad of more dimensions than one PAD view allows: the first ``limit - 1`` padded
    dimensions in one pad, the rest in a second (each then on a lower-rank view)."""
    from edgecc.dialects.nn import PadOp

    x, out = op.operands[0], op.results[0]
    r, p = x.type.rank, list(op.attr("pads"))
    padded = [d for d in range(r) if p[d] or p[r + d]]
    first = set(padded[:limit - 1])
    p1 = [p[d] if d in first else 0 for d in range(r)] + [p[r + d] if d in first else 0 for d in range(r)]
    p2 = [0 if d in first else p[d] for d in range(r)] + [0 if d in first else p[r + d] for d in range(r)]
    mid = tuple(x.type.shape[d] + p1[d] + p1[r + d] for d in range(r))
    base = out.name_hint or "pad"
    a = PadOp.build(x, result_types=[x.type.with_shape(mid)], loc=op.loc, result_names=[f"{base}_pad1"],
                    **{**dict(op.attrs), "pads": p1})
    op.parent.insert_before(op, a)
    b = PadOp.build(a.result, result_types=[out.type], loc=op.loc, result_names=[out.name_hint],
                    **{**dict(op.attrs), "pads": p2})
    op.parent.insert_before(op, b)
    out.replace_all_uses_with(b.result)
    op.erase()
    for new in (a, b):
        if _needs(new):
            _lower_rank(new)


def check_tflm(data: bytes) -> None:
    """Raise the one-line error for the first operator of ``data`` TFLM cannot run."""
    from edgecc.backends.tflite.schema import TYPE_NAMES, S, builtin_name

    model = S.Model.GetRootAs(data, 0)
    for g in range(model.SubgraphsLength()):
        sg = model.Subgraphs(g)
        for k in range(sg.OperatorsLength()):
            op = sg.Operators(k)
            code = model.OperatorCodes(op.OpcodeIndex())  # flat API: no copy of the buffers
            name = builtin_name(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()))
            allowed = TFLM_TYPES.get(name)
            if allowed is None:
                continue
            kind = TYPE_NAMES.get(sg.Tensors(op.Outputs(0)).Type(), "?") if op.OutputsLength() else "?"
            if kind not in allowed:
                why = (f"TFLM's kernel takes {', '.join(sorted(allowed))} only" if allowed
                       else "TFLM registers no kernel for it")
                raise EdgeccError(f"operator #{k} {name} on {kind}: {why}; write the .tflite for LiteRT, "
                                  "or keep that op in another type (tflite backend)")


REWRITES = {"nn.concat": _concat_tree, "nn.pad": _lower_rank, "nn.transpose": _lower_rank,
            "nn.slice": _lower_rank}

__all__ = ["BUILTIN", "MAX_INPUTS", "MAX_RANK", "TFLM_TYPES", "check_tflm", "legalize"]
