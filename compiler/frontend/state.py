"""Turn graph input/output pairs into persistent state (``--state IN=OUT``).

An ONNX streaming or recurrent model has no notion of state: the caller feeds the
previous call's output (``h_out``) back as an input (``h_in``). ``make_state``
rewrites such a pair into a ``state @h_in`` declaration (initial value zero,
as a fresh stream starts) read where the input was used and written with the
output's value, so every backend keeps it across invocations and the caller
no longer sees it.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from edgecc.ir.core import Module, sanitize_hint
from edgecc.ir.diagnostics import EdgeccError


def parse_state_pairs(specs) -> dict[str, str]:
    """``("h_in=h_out", ...)`` -> ``{"h_in": "h_out"}`` (one-line errors for bad specs)."""
    pairs: dict[str, str] = {}
    for spec in specs or ():
        name, sep, out = spec.partition("=")
        if not sep or not name or not out:
            raise EdgeccError(f"--state '{spec}': expected INPUT=OUTPUT (a graph input and the output "
                              "that carries its next value)")
        if name in pairs:
            raise EdgeccError(f"--state: input '{name}' is given twice")
        pairs[name] = out
    return pairs


def make_state(module: Module, pairs: Mapping[str, str]) -> Module:
    """Replace each input ``name`` / output ``pairs[name]`` by persistent state (in place)."""
    from edgecc.dialects.state import ReadOp, WriteOp
    from edgecc.ir.attrs import DenseElements

    func = module.func
    used_outputs: set[int] = set()
    for in_name, out_name in pairs.items():
        args = {a.name_hint: a for a in func.arguments}
        arg = args.get(sanitize_hint(in_name))
        if arg is None:
            raise EdgeccError(f"--state {in_name}={out_name}: the model has no input '{in_name}' "
                              f"(inputs: {', '.join(str(a.name_hint) for a in func.arguments)})")
        outs = list(func.outputs)
        hits = [i for i, v in enumerate(outs) if v.name_hint == sanitize_hint(out_name)]
        if not hits:
            names = ", ".join(str(v.name_hint) for v in outs)
            raise EdgeccError(f"--state {in_name}={out_name}: the model has no output '{out_name}' "
                              f"(outputs: {names})")
        j = hits[0]
        if j in used_outputs:
            raise EdgeccError(f"--state: output '{out_name}' carries two states")
        used_outputs.add(j)
        value = outs[j]
        if value.type != arg.type:
            raise EdgeccError(f"--state {in_name}={out_name}: input is {arg.type} but output is {value.type}")
        name = arg.name_hint
        t = arg.type
        module.add_state(name, t, DenseElements(np.zeros(t.shape, t.element.numpy), t))
        read = ReadOp.build(state=name, result_types=[t], result_names=[name])
        first = func.body.first
        if first is None:
            func.body.append(read)
        else:
            func.body.insert_before(first, read)
        arg.replace_all_uses_with(read.result)
        ret = func.return_op
        func.body.insert_before(ret, WriteOp.build(value, state=name))
        ret.set_operands([v for i, v in enumerate(outs) if i != j])
        used_outputs = {i - (i > j) for i in used_outputs if i != j}
        _remove_argument(func, arg)
    module.verify()
    return module


def _remove_argument(func, arg) -> None:
    if arg.uses:
        raise EdgeccError(f"internal: argument %{arg.name_hint} still used")
    func.arguments.remove(arg)
    for i, a in enumerate(func.arguments):
        a.index = i


def externalize_state(module: Module) -> tuple[Module, list[str], list[str]]:
    """The inverse of ``make_state`` on a copy: each ``state.read`` becomes an extra trailing argument
    and each ``state.write`` an extra trailing output. Returns (module, read names in argument
    order, written names in output order), for executors that keep the state arrays themselves
    (the Numba ``Session``)."""
    from edgecc.ir.core import clone_module

    m, _ = clone_module(module)
    func = m.func
    reads, writes = [], []
    new_outs = []
    for op in list(func.body):
        if op.name == "state.read":
            name = op.attrs["state"]
            arg = func.add_argument(op.results[0].type, f"state_{name}")
            op.results[0].replace_all_uses_with(arg)
            op.erase()
            reads.append(name)
        elif op.name == "state.write":
            new_outs.append(op.operands[0])
            writes.append(op.attrs["state"])
            op.erase()
    ret = func.return_op
    ret.set_operands(list(ret.operands) + new_outs)
    m.states = {}
    m.verify()
    return m, reads, writes


__all__ = ["externalize_state", "make_state", "parse_state_pairs"]
