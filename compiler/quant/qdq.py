"""Fold QDQ graphs (QuantizeLinear/DequantizeLinear around float ops) into integer ops.

Models quantized elsewhere (onnxruntime ``quantize_static``, tf2onnx of an
int8 .tflite, Brevitas, AIMET) import as float ops between ``nn.dequantize``
and ``nn.quantize``, with weights as quantized constants read through
``nn.dequantize`` and biases as float constants. ``fold_qdq(module)`` keeps
their scales and zero points, with no calibration:

1. ``nn.dequantize`` moves below data-movement ops (reshape, transpose, slice,
   gather, split, and pad when its fill value is exact), which then run on the
   integer data; ``quantize(dequantize(q))`` becomes ``q`` (same type) or
   ``nn.requantize``; reshape chains merge.
2. every float op with an integer kernel whose activation operands are all
   dequantized values (or constants) and whose results are read only by
   ``nn.quantize`` becomes the integer op: operands are the quantized values,
   the result takes the quantize's type, weights keep their quantized
   constants (asymmetric weights, e.g. uint8, are re-quantized symmetric per
   channel); a ``qi32`` bias constant (an integer bias initializer) keeps its
   stored integers when its scale is ``input_scale * weight_scale[c]`` (within
   float32 rounding, TFLite's rule), otherwise (and for float biases) the bias
   is re-derived as int32 (int64 for int16 activations) with that scale and
   the reason recorded in ``FoldResult.rederived_bias``.
3. TFLite's restrictions are enforced with ``nn.requantize``: fixed output
   parameters (softmax, sigmoid, tanh, log_softmax) and shared parameters
   (pools, concat, resize, maximum/minimum, data movement).
4. dead quantize/dequantize ops and constants are removed.

Ops that cannot fold (no integer kernel, float consumers) stay float between
their dequantize/quantize ops.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edgecc.ir.attrs import DenseElements
from edgecc.ir.core import Module, Operation, Value
from edgecc.ir.types import QuantizedType, TensorType
from edgecc.quant import schemes as S
from edgecc.quant.graph import WEIGHT_AXIS, WEIGHTED, constant_of, erase_dead, weight_data
from edgecc.quant.ptq import QUANTIZABLE, SAME_SCALE, _ALL_OPERANDS_SHARE, activation_operands, is_quantized

#: data-movement ops a dequantize moves below (their integer form is exact)
PUSH_THROUGH = frozenset({"nn.reshape", "nn.transpose", "nn.slice", "nn.gather", "nn.split", "nn.pad"})


@dataclass
class FoldResult:
    folded: list[Operation] = field(default_factory=list)
    kept_float: list[Operation] = field(default_factory=list)
    requantize: int = 0
    pushed: int = 0
    #: folded ops whose int32/int64 bias came from the model's stored integers
    stored_bias: list[Operation] = field(default_factory=list)
    #: folded ops whose bias was re-derived from real values, with why
    rederived_bias: list[tuple[Operation, str]] = field(default_factory=list)

    def summary(self) -> str:
        kept = sorted({op.name for op in self.kept_float})
        text = f"{len(self.folded)} ops folded to integer, {len(self.kept_float)} kept float"
        return text + (f" ({', '.join(kept)})" if kept else "")


def _dq_source(v: Value) -> Value | None:
    """``q`` when ``v = nn.dequantize(q)`` with a per-tensor quantized ``q``."""
    op = v.defining_op()
    if op is None or op.name != "nn.dequantize":
        return None
    q = op.operands[0]
    return q if is_quantized(q) else None


def _insert(anchor: Operation, cls, *operands, result_types, name=None, **attrs) -> Operation:
    op = cls.build(*operands, result_types=result_types, loc=anchor.loc, result_names=[name], **attrs)
    anchor.parent.insert_before(anchor, op)
    return op


# ------------------------------------------------------------- normalisation
def _push_dequantize(module: Module, result: FoldResult) -> bool:
    from edgecc.dialects import nn

    changed = False
    for op in list(module.func.body):
        if op.parent is None or op.name not in PUSH_THROUGH:
            continue
        q = _dq_source(op.operands[0])
        if q is None or q.type.element.per_axis:
            continue
        e = q.type.element
        if op.name == "nn.pad" and op.attr("mode", "constant") == "constant":
            v = float(op.attr("value", 0.0))
            stored = round(v / e.scale) + e.zero_point
            if not (e.qmin <= stored <= e.qmax) or (stored - e.zero_point) * e.scale != v:
                continue
        operands = [q] + list(op.operands[1:])
        new = op.clone_detached(operands)
        for r in new.results:
            r.type = TensorType(r.type.shape, e)
        op.parent.insert_before(op, new)
        for r, nr in zip(op.results, new.results):
            dq = _insert(op, nn.DequantizeOp, nr, result_types=[r.type], name=r.name_hint)
            r.replace_all_uses_with(dq.result)
        op.erase()
        result.pushed += 1
        changed = True
    return changed


def _cancel_pairs(module: Module, result: FoldResult) -> bool:
    from edgecc.dialects import nn

    changed = False
    for op in list(module.func.body):
        if op.parent is None:
            continue
        if op.name == "nn.quantize":
            q = _dq_source(op.operands[0])
            if q is None and op.operands[0].defining_op() is not None and \
                    op.operands[0].defining_op().name == "nn.dequantize":
                q = op.operands[0].defining_op().operands[0]
            if q is None:
                continue
            want = op.result.type
            if q.type == want:
                op.result.replace_all_uses_with(q)
            else:
                if q.type.element.per_axis or want.element.per_axis:
                    continue
                rq = _insert(op, nn.RequantizeOp, q, result_types=[want], name=op.result.name_hint)
                op.result.replace_all_uses_with(rq.result)
                result.requantize += 1
            op.erase()
            changed = True
        elif op.name == "nn.reshape":
            src = op.operands[0].defining_op()
            if src is not None and src.name == "nn.reshape" and \
                    src.operands[0].type.element == op.result.type.element:
                op.set_operand(0, src.operands[0])
                if tuple(op.attr("shape")) == op.operands[0].type.shape:
                    op.result.replace_all_uses_with(op.operands[0])
                    op.erase()
                changed = True
    return changed


# ------------------------------------------------------------------ folding
def _symmetric_weights(q: Value, op: Operation) -> tuple[np.ndarray, QuantizedType] | None:
    """Quantized weight data and type usable by an integer kernel (re-quantized if asymmetric)."""
    e = q.type.element
    data = constant_of(q)
    if data is None:
        return None
    if e.kind not in ("qi8", "qi4"):
        return None
    axis = WEIGHT_AXIS[op.name]
    if e.per_axis and e.axis != axis:
        return None
    if not any(e.zero_points):
        return np.asarray(data), e
    real = S.dequantize_array(data, e).astype(np.float64)
    scheme = S.SCHEMES["int8"]
    scales = S.weight_scales(real, axis, scheme.weight_qmax)
    qw = S.quantize_weights(real, scales, axis, scheme.weight_qmin, scheme.weight_qmax)
    return qw.astype(np.int8), S.weight_type(scales, axis, scheme)


def _weight_source(v: Value) -> Value | None:
    """The quantized constant behind a weight operand (``dequantize(const)``)."""
    op = v.defining_op()
    if op is None or op.name != "nn.dequantize":
        return None
    q = op.operands[0]
    return q if constant_of(q) is not None and is_quantized(q) else None


def _stored_bias(v: Value, x_scale: float, w_scales: np.ndarray, storage) -> tuple[np.ndarray | None, str]:
    """The model's own integer bias when its scale is ``x_scale * w_scale[c]``, else why not.

    TFLite accepts a bias scale within ``1e-6`` (relative) of the product, i.e. float32 rounding
    of ``input_scale * weight_scale`` (its kernels check exactly this); a float bias gives no reason."""
    q = _weight_source(v)
    if q is None or q.type.element.kind != "qi32":
        return None, ""
    e = q.type.element
    n = len(w_scales)
    have = np.asarray(e.scales if e.per_axis else e.scales * n, np.float64)
    want = x_scale * np.asarray(w_scales, np.float64)
    if have.size != n:
        return None, f"{have.size} bias scales for {n} channels"
    if any(e.zero_points):
        return None, "bias zero point is not 0"
    bad = np.abs(have - want) > 1e-6 * np.minimum(have, want)
    if bad.any():
        c = int(np.argmax(bad))
        return None, (f"bias scale {have[c]:.9g} != input_scale * weight_scale {want[c]:.9g} "
                      f"(channel {c})")
    return np.asarray(constant_of(q), np.int64).astype(storage.numpy), ""


def _materialize_dequantized_biases(module: Module) -> None:
    """``nn.dequantize`` of a qi32 constant left for a float op -> the float constant (no backend
    dequantizes int32)."""
    from edgecc.dialects.builtin import ConstantOp

    for op in list(module.func.body):
        if op.parent is None or op.name != "nn.dequantize":
            continue
        q = op.operands[0]
        if q.type.element.kind != "qi32" or constant_of(q) is None:
            continue
        real = S.dequantize_array(constant_of(q), q.type.element)
        c = ConstantOp.from_array(DenseElements(real, op.result.type), loc=op.loc, name=op.result.name_hint)
        op.parent.insert_before(op, c)
        op.result.replace_all_uses_with(c.result)
        op.erase()


def _out_type(op: Operation) -> list[QuantizedType] | None:
    """The quantized type of each result from its nn.quantize users (all users must be quantize)."""
    types = []
    for r in op.results:
        users = [u.op for u in r.uses]
        if not users or any(u.name != "nn.quantize" for u in users):
            return None
        t = users[0].result.type.element
        if t.per_axis:
            return None
        types.append(t)
    return types


def _try_fold(op: Operation, result: FoldResult) -> bool:
    from edgecc.dialects import nn
    from edgecc.dialects.builtin import ConstantOp

    if op.name not in QUANTIZABLE or not op.results:
        return False
    outs = _out_type(op)
    if outs is None:
        return False
    kind = outs[0].kind
    if kind not in ("qi8", "qi16") or any(t.kind != kind for t in outs):
        return False
    act = activation_operands(op)
    new_operands = list(op.operands)
    for i in act:
        v = op.operands[i]
        q = _dq_source(v)
        if q is not None:
            if q.type.element.per_axis or q.type.element.kind != kind:
                return False
            new_operands[i] = q
        elif constant_of(v) is not None and not is_quantized(v):
            new_operands[i] = None  # quantized below with the output's or its own range
        else:
            return False
    w_data = w_type = None
    if op.name in WEIGHTED:
        wq = _weight_source(op.operands[1])
        if wq is None:
            wf = constant_of(op.operands[1])
            if wf is None:
                return False
            scheme = S.SCHEMES["int8"]
            axis = WEIGHT_AXIS[op.name]
            scales = S.weight_scales(wf, axis, scheme.weight_qmax)
            w_data = S.quantize_weights(wf, scales, axis, scheme.weight_qmin,
                                        scheme.weight_qmax).astype(np.int8)
            w_type = S.weight_type(scales, axis, scheme)
        else:
            got = _symmetric_weights(wq, op)
            if got is None:
                return False
            w_data, w_type = got
        if kind == "qi16" and w_type.kind != "qi8":
            return False
        if len(op.operands) > 2 and weight_data(op.operands[2]) is None:
            return False
    # ---- rewrite
    scheme = S.SCHEMES["int8" if kind == "qi8" else "int16x8"]
    out0 = outs[0]
    fixed = S.fixed_output_type(op.name, scheme)
    produce = [fixed] * len(outs) if fixed is not None else list(outs)
    for i in act:
        q = new_operands[i]
        if q is None:  # float constant operand
            data = np.asarray(constant_of(op.operands[i]), dtype=np.float64)
            if op.name in SAME_SCALE:
                t = out0
            else:
                lo, hi = (float(data.min()), float(data.max())) if data.size else (0.0, 0.0)
                t = S.activation_type(lo, hi, scheme)
            c = ConstantOp.from_array(DenseElements(S.quantize_array(data, t), TensorType(data.shape, t)),
                                      loc=op.loc, name=op.operands[i].name_hint)
            op.parent.insert_before(op, c)
            q = c.result
        elif op.name in SAME_SCALE and (op.name in _ALL_OPERANDS_SHARE or i == 0) and \
                q.type.element != produce[0]:
            rq = _insert(op, nn.RequantizeOp, q, result_types=[TensorType(q.type.shape, produce[0])],
                         name=(q.name_hint or "x") + "_rq")
            result.requantize += 1
            q = rq.result
        op.set_operand(i, q)
    if op.name in WEIGHTED:
        x_scale = op.operands[0].type.element.scale
        wc = ConstantOp.from_array(DenseElements(w_data, TensorType(op.operands[1].type.shape, w_type)),
                                   loc=op.loc, name=op.operands[1].name_hint)
        op.parent.insert_before(op, wc)
        op.set_operand(1, wc.result)
        if len(op.operands) > 2:
            b = np.asarray(weight_data(op.operands[2]), dtype=np.float64)
            ws = np.asarray(w_type.scales) if w_type.per_axis else np.full(len(b), w_type.scales[0])
            qb, why = _stored_bias(op.operands[2], x_scale, ws, scheme.bias)
            if qb is None:
                qb = S.quantize_bias(b, x_scale, ws, scheme.bias)
                if why:
                    result.rederived_bias.append((op, why))
            else:
                result.stored_bias.append(op)
            bc = ConstantOp.from_array(DenseElements(qb, TensorType((len(b),), scheme.bias)), loc=op.loc,
                                       name=op.operands[2].name_hint)
            op.parent.insert_before(op, bc)
            op.set_operand(2, bc.result)
    for r, t_prod, t_want in zip(op.results, produce, outs):
        r.type = TensorType(r.type.shape, t_prod)
        for u in list(r.uses):
            qop = u.op
            if qop.result.type.element == t_prod:
                qop.result.replace_all_uses_with(r)
            else:
                rq = _insert(qop, nn.RequantizeOp, r, result_types=[qop.result.type],
                             name=qop.result.name_hint)
                result.requantize += 1
                qop.result.replace_all_uses_with(rq.result)
            qop.erase()
    result.folded.append(op)
    return True


def fold_qdq(module: Module) -> FoldResult:
    """Fold the QDQ patterns of ``module`` in place (see the module docstring)."""
    result = FoldResult()
    for _ in range(8):
        a = _push_dequantize(module, result)
        b = _cancel_pairs(module, result)
        erase_dead(module)
        if not (a or b):
            break
    for op in list(module.func.body):
        if op.parent is None or op.name in ("builtin.constant", "func.return"):
            continue
        _try_fold(op, result)
    for _ in range(8):
        a = _push_dequantize(module, result)
        b = _cancel_pairs(module, result)
        erase_dead(module)
        if not (a or b):
            break
    _materialize_dequantized_biases(module)
    erase_dead(module)
    for op in module.func.body:
        if op.name in ("builtin.constant", "func.return", "nn.quantize", "nn.dequantize", "nn.requantize"):
            continue
        if any(isinstance(r.type, TensorType) and r.type.is_float for r in op.results):
            result.kept_float.append(op)
    return result


__all__ = ["FoldResult", "fold_qdq"]
