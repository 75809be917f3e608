"""Legalization of the ``onnx`` dialect to ``nn`` (NHWC, static shapes).

``legalize(module)`` walks the ``onnx.*`` ops in order. An op whose inputs are
all constants and that ``fold`` can evaluate becomes ``builtin.constant``;
any other op goes to the converter registered for its type and opset (see
``registry``). NCHW ops are wrapped in ``nn.transpose`` to NHWC and back so
each op is locally correct; the ``layout`` pass cancels the transposes.

Converters live by op family: ``elementwise``, ``conv`` (convolution,
pooling, normalization, resize, pad), ``linear`` (Gemm, MatMul), ``shape_ops``
(reshape-like, slicing, gathering, reductions), ``rnn`` (LSTM, GRU) and
``quant`` (QuantizeLinear/DequantizeLinear).
"""

from __future__ import annotations

import numpy as np

from edgecc.conversion.onnx_to_nn import (  # noqa: F401  (register converters)
    conv,
    conv_transpose,
    elementwise,
    linear,
    quant,
    rnn,
    shape_ops,
)
from edgecc.conversion.onnx_to_nn.fold import FOLDERS, TYPE_ONLY, FoldError, evaluate
from edgecc.conversion.onnx_to_nn.registry import CONVERTERS, Cx, Unsupported, lookup
from edgecc.ir.core import Module, Operation, Value
from edgecc.ir.diagnostics import EdgeccError, VerifyError
from edgecc.ir.types import IntegerType, QuantizedType, TensorType

#: every ONNX op type legalization accepts (for some opset), sorted
SUPPORTED_OPS: list[str] = sorted(CONVERTERS)


class LegalizeError(EdgeccError):
    """A node could not be lowered; the message names the file, node, op type and opset."""

    def format(self) -> str:
        return f"error: {self.message}"


def _node_error(op: Operation, file: str, opset: int, msg: str) -> LegalizeError:
    name = op.loc.name if op.loc.name is not None else op.name
    op_type = op.name.split(".", 1)[1]
    return LegalizeError(f"{file}: node '{name}' ({op_type}, opset {opset}): {msg}", op.loc)


def _onnx_inputs(op: Operation) -> list[Value | None]:
    absent = set(op.attrs.get("onnx.absent_inputs", ()))
    out: list[Value | None] = []
    it = iter(op.operands)
    for k in range(len(op.operands) + len(absent)):
        out.append(None if k in absent else next(it))
    return out


def _onnx_attrs(op: Operation) -> dict:
    return {k: v for k, v in op.attrs.items() if not k.startswith("onnx.")}


def _compatible(old: TensorType, new: TensorType) -> bool:
    if old.shape != new.shape:
        return False
    if old.element == new.element:
        return True
    q = new.element
    if isinstance(q, QuantizedType) and isinstance(old.element, IntegerType):
        return old.element.bits == q.storage.bits  # i8 -> qi8 (and u8 re-expressed as qi8)
    return False


def _try_fold(op: Operation, cx: Cx, inputs: list[Value | None], attrs: dict, opset: int) -> bool:
    op_type = cx.op_type
    if op_type not in FOLDERS:
        return False
    arrays = []
    for v in inputs:
        if v is None:
            arrays.append(None)
            continue
        a = Cx.value(v)
        if a is None and op_type not in TYPE_ONLY:
            return False
        arrays.append(a)
    if any(isinstance(r.type.element, QuantizedType) for r in op.results):
        return False
    shapes = [v.type.shape if v is not None else None for v in inputs]
    try:
        vals = evaluate(op_type, arrays, attrs, opset, len(cx.result_slots), shapes)
    except FoldError:
        return False
    for k, r in enumerate(cx.result_slots):
        if r is None or k >= len(vals):
            continue
        arr = np.asarray(vals[k])
        t = r.type
        if tuple(arr.shape) != t.shape:
            return False
        arr = arr.astype(t.element.numpy, copy=False)
        c = cx.const(arr, t.element, name=r.name_hint)
        r.replace_all_uses_with(c)
    op.erase()
    return True


def legalize_op(op: Operation, opset: int, file: str) -> None:
    """Lower one ``onnx.*`` op in place (fold, or convert and replace)."""
    cx = Cx(op, opset, file)
    inputs = _onnx_inputs(op)
    attrs = _onnx_attrs(op)
    if _try_fold(op, cx, inputs, attrs, opset):
        return
    conv_ = lookup(cx.op_type, opset)
    if conv_ is None or op.attrs.get("onnx.domain") not in (None, "", "ai.onnx"):
        raise _node_error(op, file, opset, f"unsupported op; supported: {', '.join(SUPPORTED_OPS)}")
    if not conv_.has_var_kw:
        extra = sorted(set(attrs) - conv_.attrs)
        if extra:
            raise _node_error(op, file, opset, f"attribute '{extra[0]}' is not supported")
    if conv_.n_inputs >= 0 and len(inputs) > conv_.n_inputs:
        extra_in = [k for k in range(conv_.n_inputs, len(inputs)) if inputs[k] is not None]
        if extra_in:
            raise _node_error(op, file, opset, f"input #{extra_in[0]} is not supported")
        inputs = inputs[:conv_.n_inputs]
    first_new = op.prev
    try:
        result = conv_.fn(cx, *inputs, **attrs)
    except Unsupported as e:
        _drop_new_ops(first_new, op)
        raise _node_error(op, file, opset, str(e)) from None
    except VerifyError as e:
        raise _node_error(op, file, opset, e.message) from None
    except EdgeccError as e:
        if e.loc is None:  # e.g. a shape over the limits: say which node asked for it
            raise _node_error(op, file, opset, e.message) from None
        raise
    except Exception as e:  # a converter bug: keep the traceback, name the node
        raise _node_error(op, file, opset, f"internal error while legalizing: {type(e).__name__}: {e}") from e
    outs = list(result) if isinstance(result, (list, tuple)) else [result]
    new_ops = _ops_between(first_new, op)
    new_ids = {id(o) for o in new_ops}
    for k, r in enumerate(cx.result_slots):
        if r is None:
            continue
        if k >= len(outs) or outs[k] is None:
            if r.has_uses:
                raise _node_error(op, file, opset, f"output #{k} ('{r.name_hint}') is not supported")
            continue
        new = outs[k]
        if not _compatible(r.type, new.type):
            raise _node_error(op, file, opset, f"internal error: lowered output #{k} has type {new.type}, "
                                               f"expected {r.type}")
        owner = new.defining_op()
        if owner is not None and id(owner) in new_ids and r.name_hint:
            new.name_hint = r.name_hint
        r.replace_all_uses_with(new)
    for o in new_ops:
        try:
            o.verify()
        except VerifyError as e:
            raise _node_error(op, file, opset, e.message) from None
    op.erase()


def _ops_between(first: Operation | None, last: Operation) -> list[Operation]:
    out = []
    cur = first.next if first is not None else last.parent.first
    while cur is not None and cur is not last:
        out.append(cur)
        cur = cur.next
    return out


def _drop_new_ops(first: Operation | None, anchor: Operation) -> None:
    for o in reversed(_ops_between(first, anchor)):
        if not any(r.has_uses for r in o.results):
            o.erase()


def legalize(module: Module) -> None:
    """Lower every ``onnx.*`` op of ``module`` to ``nn`` ops, in place."""
    opset = int(module.attrs.get("onnx.opset", 17))
    file = str(module.attrs.get("edgecc.source", "<model>"))
    for op in module.func.body:
        if op.name == "onnx.DequantizeLinear" and op.operands:
            # the ONNX input type, before lowering re-expresses uint8 data as qi8
            op.attrs["onnx.x_kind"] = op.operands[0].type.element.kind
    for op in list(module.func.body):
        if op.parent is None or not op.name.startswith("onnx."):
            continue  # erased by an earlier converter (e.g. a BatchNormalization folded into Conv)
        legalize_op(op, opset, file)
    remove_dead_constants(module)


def remove_dead_constants(module: Module) -> None:
    """Erase constants nothing uses (weights replaced by transformed copies)."""
    changed = True
    while changed:
        changed = False
        for op in reversed(list(module.func.body)):
            if op.name in ("builtin.constant", "nn.dequantize", "nn.transpose", "nn.reshape") and \
                    not any(r.has_uses for r in op.results):
                op.erase()
                changed = True


def supported_ops_table() -> list[tuple[str, int, str]]:
    """(op type, first opset handled, constraints) for docs and ``--list-ops``."""
    rows = []
    for name in SUPPORTED_OPS:
        for c in CONVERTERS[name]:
            rows.append((name, c.since, c.doc))
    return rows


__all__ = ["LegalizeError", "SUPPORTED_OPS", "legalize", "legalize_op", "supported_ops_table"]
