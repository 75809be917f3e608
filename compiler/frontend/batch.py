"""Batch folding: a batch-1 model rewritten to take a leading batch dimension ``n``.

A model exported with batch 1 (every ``.tflite``, most ONNX graphs, IR modules) computes each
sample independently along axis 0 as long as no op mixes that axis. ``batch_module(module, n)``
proves that op by op and returns a copy whose inputs, activations and outputs have ``n`` in
place of the leading 1, so one compiled host program runs the whole batch (convolutions see
``n * H * W`` GEMM rows, dense layers ``n`` rows) instead of a Python loop over samples.

An op whose batch rule does not hold (a reshape that merges or drops the batch axis, a transpose
that moves it, a reduction, softmax, concat, split, pad or slice along it, a per-axis quantized
activation on axis 0, persistent state) raises ``BatchFoldError`` naming the op and the reason;
``Session`` then runs such a model once per sample.
"""

from __future__ import annotations

from edgecc.ir.core import Module, Operation, Value, clone_module
from edgecc.ir.diagnostics import EdgeccError
from edgecc.ir.types import QuantizedType, TensorType

#: ops acting on each element (or each sample's own window/row) independently of axis 0
_PER_SAMPLE = frozenset({
    "nn.add", "nn.sub", "nn.mul", "nn.div", "nn.maximum", "nn.minimum", "nn.pow", "nn.prelu",
    "nn.relu", "nn.clamp", "nn.sigmoid", "nn.tanh", "nn.hard_swish", "nn.hard_sigmoid", "nn.leaky_relu",
    "nn.exp", "nn.log", "nn.sqrt", "nn.rsqrt", "nn.abs", "nn.neg", "nn.erf", "nn.cast", "nn.quantize",
    "nn.dequantize", "nn.requantize", "nn.conv2d", "nn.depthwise_conv2d", "nn.fully_connected",
    "nn.avg_pool2d", "nn.max_pool2d", "nn.resize", "nn.lrn",
})
#: ops with an ``axis`` attribute that must not be the batch axis
_AXIS = frozenset({"nn.softmax", "nn.log_softmax", "nn.concat", "nn.split", "nn.gather"})
_REDUCE = frozenset({"nn.mean", "nn.reduce_sum", "nn.reduce_max", "nn.reduce_min"})


class BatchFoldError(EdgeccError):
    """The model cannot take a batch through one program (the message says which op and why)."""


def batch_module(module: Module, n: int) -> Module:
    """A copy of ``module`` (batch 1) running ``n`` samples at once; ``BatchFoldError`` if invalid."""
    return fold_batch(module, n)[0]


def fold_batch(module: Module, n: int) -> tuple[Module, dict[Value, Value]]:
    """``batch_module`` and the map original value -> batched value."""
    if module.states:
        raise BatchFoldError("the model has persistent state (one stream per session)")
    out, vmap = clone_module(module)
    func = out.func
    batched: set[Value] = set()
    for a in func.arguments:
        _check_batch_one(a, f"input '{a.name_hint or '?'}'")
        a.type = _with_batch(a.type, n)
        batched.add(a)
    for op in func.body:
        ins = [v for v in op.operands if v in batched]
        if op.name == "func.return":
            for v in op.operands:
                if v not in batched:
                    raise BatchFoldError(f"output '{v.name_hint or '?'}' does not depend on the inputs")
            break
        if not ins:
            continue
        _check_op(op, ins, n)
        for r in op.results:
            _check_batch_one(r, f"'{op.name}' result")
            r.type = _with_batch(r.type, n)
            batched.add(r)
    try:
        out.verify()
    except EdgeccError as e:  # a rule above missed a case: refuse rather than run it wrong
        raise BatchFoldError(f"batched model does not verify: {e.message}") from None
    return out, vmap


def _with_batch(t: TensorType, n: int) -> TensorType:
    return TensorType((n, *t.shape[1:]), t.element)


def _check_batch_one(v: Value, what: str) -> None:
    t = v.type
    if not isinstance(t, TensorType) or not t.shape or t.shape[0] != 1:
        shape = list(t.shape) if isinstance(t, TensorType) else t
        raise BatchFoldError(f"{what} has shape {shape}, not a leading batch dimension of 1")
    e = t.element
    if isinstance(e, QuantizedType) and e.axis is not None and e.axis % len(t.shape) == 0:
        raise BatchFoldError(f"{what} is quantized per axis 0 (the batch axis)")


def _fail(op: Operation, reason: str) -> BatchFoldError:
    return BatchFoldError(f"'{op.name}' {reason}", op.loc)


def _check_op(op: Operation, ins: list[Value], n: int) -> None:
    """Raise unless ``op`` computes each sample on its own when its batched operands ``ins`` grow."""
    name = op.name
    rank = op.results[0].type.rank if op.results and isinstance(op.results[0].type, TensorType) else 0
    if name in _PER_SAMPLE:
        if name == "nn.fully_connected" and op.operands[0].type.rank != 2:
            raise _fail(op, "has an input of rank > 2 (rows beyond the batch)")
        for v in ins:
            if v.type.rank != rank:  # broadcasting would align axis 0 with another axis
                raise _fail(op, f"broadcasts a batched operand of rank {v.type.rank} to rank {rank}")
        if op.operands and ins[0] is not op.operands[0] and name in ("nn.conv2d", "nn.depthwise_conv2d",
                                                                     "nn.fully_connected", "nn.prelu"):
            raise _fail(op, "has weights computed from the input")
        return
    if name in _AXIS:
        axis = op.attr("axis", 0) % max(op.operands[0].type.rank, 1)
        if name == "nn.gather" and op.operands[0] not in ins:  # constant table, batched indices
            if axis != 0:
                raise _fail(op, "gathers batched indices along an axis other than 0")
            return
        if axis == 0:
            raise _fail(op, "works along the batch axis")
        if name == "nn.concat" and len(ins) != len(op.operands):
            raise _fail(op, "joins batched and unbatched tensors")
        if name == "nn.gather" and op.operands[1] in ins:
            raise _fail(op, "has indices computed from the input")
        return
    if name in _REDUCE:
        if 0 in op.norm_axes:
            raise _fail(op, "reduces over the batch axis")
        return
    if name == "nn.matmul":
        a, b = op.operands
        for v in ins:
            if v.type.rank < 3 and not (v is a and v.type.rank == 2 and b not in ins):
                raise _fail(op, "has a batched operand whose leading axis is not a batch axis")
        if any(v.type.rank != rank for v in ins):
            raise _fail(op, "broadcasts a batched operand to another rank")
        return
    if name == "nn.reshape":
        shape = tuple(op.attr("shape"))
        if not shape or shape[0] != 1:
            raise _fail(op, f"to {list(shape)} merges or drops the batch axis")
        op.set_attr("shape", (n, *shape[1:]))
        return
    if name == "nn.transpose":
        if tuple(op.attr("perm"))[0] != 0:
            raise _fail(op, "moves the batch axis")
        return
    if name == "nn.pad":
        pads = op.attr("pads")
        if pads[0] or pads[len(pads) // 2]:
            raise _fail(op, "pads the batch axis")
        return
    if name == "nn.slice":
        begin, end, steps = op.attr("begin"), op.attr("end"), op.steps
        if (begin[0], end[0], steps[0]) != (0, 1, 1):
            raise _fail(op, "slices the batch axis")
        op.set_attr("end", (n, *end[1:]))
        return
    raise _fail(op, "has no batch rule")


__all__ = ["BatchFoldError", "batch_module", "fold_batch"]
