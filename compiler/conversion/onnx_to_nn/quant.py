"""QuantizeLinear / DequantizeLinear -> nn.quantize / nn.dequantize with quantized types.

* ``QuantizeLinear(x)`` -> ``nn.quantize`` whose result element is the
  ``QuantizedType`` of the (constant) scale and zero point (per-axis when the
  scale is a vector).
* ``DequantizeLinear`` of a constant int8/int16/int4 initializer -> a
  ``builtin.constant`` with the quantized tensor type, then ``nn.dequantize``
  (the quantization pass consumes these); of an int32 (or int64 that fits
  int32) constant -> a ``qi32`` constant (biases, whose stored integers
  ``qdq-fold`` keeps when their scale is input_scale * weight_scale).
* ``DequantizeLinear`` of a quantized value -> ``nn.dequantize`` (plus a
  float correction when its parameters differ from the value's type).
* An integer graph input read only by DequantizeLinear nodes with equal
  parameters is retyped to the quantized type (the model's interface).
* uint8 data is re-expressed as int8 with zero point - 128 (same real values).
"""

from __future__ import annotations

import numpy as np

from edgecc.conversion.onnx_to_nn.registry import Cx, converter
from edgecc.ir.core import BlockArgument, Value
from edgecc.ir.types import FloatType, IntegerType, QuantizedType, TensorType, f32, i8, i16, i32
from edgecc.ir.types import i4 as I4

_STORAGE = {"i8": i8, "i16": i16, "i4": I4, "u8": i8, "i32": i32}


def qtype_from(cx: Cx, storage_kind: str, scale: np.ndarray, zp: np.ndarray | None, axis: int, rank: int,
               expressed: FloatType = f32) -> QuantizedType:
    scale = np.asarray(scale, np.float64).reshape(-1)
    if zp is None:
        zp = np.zeros(scale.shape, np.int64)
    zp = np.asarray(zp, np.int64).reshape(-1)
    if storage_kind == "u8":
        zp = zp - 128
    storage = _STORAGE.get(storage_kind)
    if storage is None:
        raise cx.fail(f"{storage_kind} quantization is not supported (int8, uint8, int16, int4)")
    if scale.size == 1:
        return QuantizedType(storage, expressed, (float(scale[0]),), (int(zp[0]),))
    ax = axis + rank if axis < 0 else axis
    return QuantizedType(storage, expressed, tuple(float(s) for s in scale), tuple(int(z) for z in zp), ax)


def _params(cx: Cx, scale, zero_point, what: str):
    s = cx.const_input(scale, f"{what} scale")
    z = cx.const_input(zero_point, f"{what} zero point") if zero_point is not None else None
    if s.ndim > 1:
        raise cx.fail("blocked quantization is not supported")
    if np.any(s <= 0) or not np.all(np.isfinite(s)):
        raise cx.fail("quantization scales must be positive and finite")
    return s, z


def _onnx_kind(cx: Cx, x: Value, zero_point: Value | None) -> str:
    """The ONNX element kind of DequantizeLinear's input (i8, u8, i16, i32 ...).

    ``legalize`` records it before any op is lowered (``onnx.x_kind``): a uint8
    input may since have become a qi8 value (zero point - 128)."""
    kind = cx.op.attrs.get("onnx.x_kind")
    if kind:
        return kind
    if zero_point is not None:
        return zero_point.type.element.kind
    return _kind(x.type.element)


def _kind(elem) -> str:
    if isinstance(elem, QuantizedType):
        return elem.kind[1:]
    return elem.kind


@converter("QuantizeLinear", 11, doc="nn.quantize to a QuantizedType (per-tensor or per-axis; int8, uint8 "
                                     "as int8, int16, int4)")
def quantize_linear(cx: Cx, x, y_scale, y_zero_point=None, *, axis=1, saturate=1, block_size=0,
                    output_dtype=0, precision=0):
    if block_size:
        raise cx.fail("blocked quantization is not supported")
    s, z = _params(cx, y_scale, y_zero_point, "QuantizeLinear")
    out_elem = cx.out(0).type.element
    if not isinstance(x.type.element, FloatType):
        raise cx.fail(f"needs a float input, got {x.type.element}")
    q = qtype_from(cx, _kind(out_elem), s, z, axis, cx.rank(x), x.type.element)
    return cx.emit("nn.quantize", x, result_type=TensorType(cx.shape(x), q))


@converter("DequantizeLinear", 11, doc="nn.dequantize; constant int8 data becomes a quantized constant")
def dequantize_linear(cx: Cx, x, x_scale, x_zero_point=None, *, axis=1, block_size=0, output_dtype=0):
    if block_size:
        raise cx.fail("blocked quantization is not supported")
    s, z = _params(cx, x_scale, x_zero_point, "DequantizeLinear")
    out_elem = cx.out(0).type.element
    if not isinstance(out_elem, FloatType):
        raise cx.fail(f"output type {out_elem} is not supported")
    rank = cx.rank(x)
    elem = x.type.element
    data = Cx.value(x)
    onnx_kind = _onnx_kind(cx, x, x_zero_point)
    if data is not None:
        kind = onnx_kind
        if kind in ("i32", "i64"):
            data = _bias_data(cx, data, kind)
            kind = "i32"
        q = qtype_from(cx, kind, s, z, _param_axis(cx, axis, rank, s.size, data.shape), rank, out_elem)
        stored = data.astype(np.int64) - (128 if kind == "u8" else 0)
        from edgecc.dialects.builtin import ConstantOp
        from edgecc.ir.attrs import DenseElements

        dense = DenseElements(stored.astype(q.storage.numpy), TensorType(data.shape, q))
        hint = x.name_hint
        qc = cx.builder.insert(ConstantOp.from_array(dense, loc=cx.loc, name=hint)).result
        return cx.emit("nn.dequantize", qc)
    if isinstance(elem, QuantizedType):
        want = qtype_from(cx, onnx_kind, s, z, axis, rank, out_elem)
        y = cx.emit("nn.dequantize", x)
        if want == elem or (want.scales == elem.scales and want.zero_points == elem.zero_points):
            return y
        return _reexpress(cx, y, elem, want)
    if isinstance(elem, IntegerType):
        arg = _source_argument(x)
        if arg is not None:
            if x is arg:
                q = qtype_from(cx, onnx_kind, s, z, axis, rank, out_elem)
            else:
                q = _arg_qtype(cx, arg, s, z, out_elem)
            _retype(arg, q)
            return dequantize_linear(cx, x, x_scale, x_zero_point, axis=axis)
    raise cx.fail(f"dequantizing a computed {elem} tensor is not supported (expected a QuantizeLinear "
                  "output, a constant or a graph input)")


def _bias_data(cx: Cx, data: np.ndarray, kind: str) -> np.ndarray:
    """int32 bias data (tf2onnx writes int64 for int16x8 models: it must fit int32, as TFLite's does)."""
    if kind == "i64":
        lo, hi = (int(data.min()), int(data.max())) if data.size else (0, 0)
        if lo < i32.min or hi > i32.max:
            raise cx.fail(f"int64 bias values [{lo}, {hi}] do not fit int32")
    return data.astype(np.int32)


def _param_axis(cx: Cx, axis: int, rank: int, size: int, shape) -> int:
    """The axis per-axis parameters of ``size`` entries apply to. A 1-D tensor has one axis
    whatever the attribute says (tf2onnx writes biases with the default axis 1 or the channel
    axis of NHWC); elsewhere the attribute must name an axis of that length."""
    if size <= 1:
        return 0
    if rank == 1 and shape[0] == size:
        return 0
    ax = axis + rank if axis < 0 else axis
    if not 0 <= ax < rank or shape[ax] != size:
        raise cx.fail(f"per-axis parameters ({size} scales) do not match axis {axis} of a tensor of shape "
                      f"{list(shape)}")
    return ax


def _reexpress(cx: Cx, y: Value, have: QuantizedType, want: QuantizedType) -> Value:
    """(q - z2) * s2 from r1 = (q - z1) * s1: r1 * s2/s1 + (z1 - z2) * s2."""
    if have.per_axis or want.per_axis:
        raise cx.fail("QuantizeLinear/DequantizeLinear pair with different per-axis parameters")
    ratio = want.scale / have.scale
    shift = (have.zero_point - want.zero_point) * want.scale
    if ratio != 1.0:
        y = cx.binary("mul", y, cx.scalar(ratio, y))
    if shift != 0.0:
        y = cx.binary("add", y, cx.scalar(shift, y))
    return y


#: nn ops that move integer data without changing it (their result element equals operand 0's)
DATA_MOVEMENT = frozenset({"nn.reshape", "nn.transpose", "nn.slice", "nn.split", "nn.gather", "nn.pad",
                           "nn.concat"})


def _source_argument(v: Value) -> BlockArgument | None:
    """The integer graph input ``v`` is (a data-movement view of), if any."""
    while not isinstance(v, BlockArgument):
        op = v.defining_op()
        if op is None or op.name not in DATA_MOVEMENT:
            return None
        v = op.operands[0]
    return v if isinstance(v.type.element, IntegerType) else None


def _arg_qtype(cx: Cx, arg: BlockArgument, s, z, out_elem) -> QuantizedType:
    if np.asarray(s).size != 1:
        raise cx.fail("per-axis DequantizeLinear of a reshaped graph input is not supported")
    return qtype_from(cx, _kind(arg.type.element), s, z, 1, len(arg.type.shape), out_elem)


def _retype(arg: BlockArgument, q: QuantizedType) -> None:
    """Make an integer graph input quantized and carry the type through data-movement users."""
    arg.type = TensorType(arg.type.shape, q)
    work = [arg]
    while work:
        v = work.pop()
        for user in v.users:
            if user.name in DATA_MOVEMENT and user.operands[0] is v:
                for r in user.results:
                    if isinstance(r.type.element, IntegerType):
                        r.type = TensorType(r.type.shape, q)
                        work.append(r)
