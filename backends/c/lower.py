"""Lowering ``nn`` -> ``c``: pick a kernel per op and precompute its parameters.

``lower_to_c(module, core)`` returns a new module (the input is untouched)
whose ops are ``c.*`` kernel calls and ``builtin.constant``s:

1. ops whose operands are all constants are evaluated now (e.g. the
   ``nn.dequantize`` of int8 weights in hybrid models), so constants reach
   the C as the data kernels read;
2. each remaining op is replaced through ``LOWERINGS`` (float ops, this
   module) or ``edgecc.backends.c.lower_int`` (quantized ops): the lowering
   reads the nn attributes and types and writes the kernel's parameters
   (collapsed shapes and strides for broadcasting, reductions, transposes
   and slices; activation bounds; index tables for resize and gather).

An op without a lowering is a one-line ``EdgeccError`` naming the op, its
location and the element types.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from edgecc.backends.c import dialect as C
from edgecc.dialects.builtin import ConstantOp
from edgecc.dialects.nn import ACTIVATION_RANGES
from edgecc.dialects.nn_shapes import normalize_axis, slice_shape
from edgecc.ir.core import Module, Operation, Value, clone_module
from edgecc.ir.diagnostics import EdgeccError
from edgecc.ir.types import QuantizedType, TensorType

MAX_RANK = 6


class LoweringContext:
    """What a lowering function may use: the target core and op replacement."""

    def __init__(self, core, kernels: str, ram=None) -> None:
        self.core = core
        self.kernels = kernels  # "portable" or "cmsis-nn"
        self.ram = ram  # nn op indices lowered for minimum RAM (None: all)

    def use_ram(self, op: Operation) -> bool:
        """Whether ``op`` gets the RAM-saving lowering (in-place portable kernels, fusions)
        rather than the fastest one (CMSIS-NN)."""
        return self.ram is None or op.attrs.get("edgecc.index") in self.ram

    def replace(self, op: Operation, cls, operands: Sequence[Value], **attrs) -> Operation:
        new = cls.build(*operands, result_types=[r.type for r in op.results], loc=op.loc,
                        result_names=[r.name_hint for r in op.results], **attrs)
        if "edgecc.index" in op.attrs:
            new.attrs["edgecc.index"] = op.attrs["edgecc.index"]
        op.parent.insert_before(op, new)
        for r, nr in zip(op.results, new.results):
            r.replace_all_uses_with(nr)
        op.erase()
        return new

    def constant(self, before: Operation, array: np.ndarray, element=None, name: str | None = None) -> Value:
        c = ConstantOp.from_array(np.asarray(array), element, loc=before.loc, name=name)
        before.parent.insert_before(before, c)
        return c.result


def unsupported(op: Operation, why: str = "") -> EdgeccError:
    types = ", ".join(v.type.element.kind for v in op.operands if isinstance(v.type, TensorType))
    extra = f": {why}" if why else ""
    where = op.location.describe() if op.location is not None else ""
    at = f" at {where}" if where and where != "<unknown>" else ""
    return EdgeccError(f"the C backend cannot lower {op.name} ({types}){at}{extra}")


# ------------------------------------------------------------------ shape helpers
def contiguous(shape: Sequence[int]) -> tuple[int, ...]:
    return C.contiguous_strides(shape)


def collapse(shape: Sequence[int], *strides: Sequence[int]) -> list[tuple[int, tuple[int, ...]]]:
    """Drop size-1 dims and merge neighbours that every stride list walks contiguously."""
    out: list[tuple[int, tuple[int, ...]]] = []
    for i, d in enumerate(shape):
        if d == 1:
            continue
        st = tuple(s[i] for s in strides)
        if out:
            pd, pst = out[-1]
            if all(ps == s * d for ps, s in zip(pst, st)):
                out[-1] = (pd * d, st)
                continue
        out.append((d, st))
    return out


def pad6(dims: list[tuple[int, tuple[int, ...]]], nstrides: int, op: Operation):
    """(shape6, [strides6 ...]) with leading unit dims; errors past rank 6."""
    if len(dims) > MAX_RANK:
        raise unsupported(op, f"needs {len(dims)} dims after collapsing, the kernels handle {MAX_RANK}")
    pad = MAX_RANK - len(dims)
    shape = (1,) * pad + tuple(d for d, _ in dims)
    lists = [(0,) * pad + tuple(st[k] for _, st in dims) for k in range(nstrides)]
    return shape, lists


def broadcast_strides(shape: Sequence[int], out: Sequence[int]) -> tuple[int, ...]:
    """Element strides of an operand per output dim, 0 where it is broadcast."""
    r = len(out)
    padded = (1,) * (r - len(shape)) + tuple(shape)
    st = (0,) * (r - len(shape)) + contiguous(shape)
    return tuple(0 if (padded[i] == 1 and out[i] != 1) else st[i] for i in range(r))


def act_range(op: Operation) -> tuple[float, float]:
    lo, hi = ACTIVATION_RANGES[op.attr("activation", "none") or "none"]
    return (-math.inf if lo is None else float(lo)), (math.inf if hi is None else float(hi))


def is_f32(v: Value) -> bool:
    return isinstance(v.type, TensorType) and v.type.element.kind == "f32"


def is_quantized(op: Operation) -> bool:
    return any(isinstance(v.type, TensorType) and isinstance(v.type.element, QuantizedType)
               for v in (*op.operands, *op.results))


def _need_f32(op: Operation, values: Sequence[Value] | None = None) -> None:
    for v in values if values is not None else (*op.operands, *op.results):
        if not is_f32(v):
            raise unsupported(op, f"{v.type.element} tensors are not supported by this kernel (float32 only)")


# ------------------------------------------------------------------ float lowerings
LOWERINGS: dict[str, Callable[[Operation, LoweringContext], None]] = {}


def lowering(*names: str):
    def register(fn):
        for n in names:
            LOWERINGS[n] = fn
        return fn

    return register


@lowering("nn.conv2d", "nn.depthwise_conv2d")
def _conv(op, L):
    _need_f32(op)
    lo, hi = act_range(op)
    dw = op.name == "nn.depthwise_conv2d"
    cls = C.DepthwiseConv2DF32Op if dw else C.Conv2DF32Op
    groups = op.attr("depth_multiplier") if dw else op.attr("groups")
    L.replace(op, cls, op.operands, strides=op.attr("strides"), pads=op.attr("pads"),
              dilations=op.attr("dilations"), groups=groups, act_min=lo, act_max=hi)


@lowering("nn.fully_connected")
def _fc(op, L):
    _need_f32(op)
    lo, hi = act_range(op)
    L.replace(op, C.FullyConnectedF32Op, op.operands, act_min=lo, act_max=hi)


def matmul_geometry(op) -> dict:
    """m, k, n and per-batch matrix offsets of numpy-style (broadcast) matmul."""
    a, b = (v.type.shape for v in op.operands)
    a2 = (1,) + a if len(a) == 1 else a
    b2 = b + (1,) if len(b) == 1 else b
    m, k = a2[-2:]
    n = b2[-1]
    batch = np.broadcast_shapes(a2[:-2], b2[:-2])
    a_idx = np.arange(int(np.prod(a2[:-2], dtype=np.int64))).reshape(a2[:-2]) * (m * k)
    b_idx = np.arange(int(np.prod(b2[:-2], dtype=np.int64))).reshape(b2[:-2]) * (k * n)
    ao = np.broadcast_to(a_idx, batch).reshape(-1)
    bo = np.broadcast_to(b_idx, batch).reshape(-1)
    return dict(m=m, k=k, n=n, a_offsets=tuple(int(x) for x in ao), b_offsets=tuple(int(x) for x in bo))


@lowering("nn.matmul")
def _matmul(op, L):
    _need_f32(op)
    L.replace(op, C.MatMulF32Op, op.operands, **matmul_geometry(op))


@lowering("nn.add", "nn.sub", "nn.mul", "nn.div", "nn.maximum", "nn.minimum", "nn.pow", "nn.prelu")
def _binary(op, L):
    _need_f32(op)
    out = op.results[0].type.shape
    a, b = op.operands
    sa = broadcast_strides(a.type.shape, out)
    sb = broadcast_strides(b.type.shape, out)
    shape, (sa6, sb6) = pad6(collapse(out, sa, sb, contiguous(out)), 2, op)
    lo, hi = act_range(op)
    L.replace(op, C.BinaryF32Op, [a, b], kind=op.name[3:], shape=shape, lhs_strides=sa6, rhs_strides=sb6,
              act_min=lo, act_max=hi)


@lowering("nn.relu", "nn.sigmoid", "nn.tanh", "nn.hard_swish", "nn.exp", "nn.log", "nn.sqrt", "nn.rsqrt",
          "nn.abs", "nn.neg", "nn.erf", "nn.clamp", "nn.leaky_relu", "nn.hard_sigmoid")
def _unary(op, L):
    _need_f32(op)
    kind = op.name[3:]
    alpha = beta = 0.0
    if kind == "clamp":
        alpha, beta = float(op.attr("min")), float(op.attr("max"))
    elif kind == "leaky_relu":
        alpha = float(op.attr("alpha"))
    elif kind == "hard_sigmoid":
        alpha, beta = float(op.attr("alpha")), float(op.attr("beta"))
    L.replace(op, C.UnaryF32Op, op.operands, kind=kind, alpha=alpha, beta=beta)


@lowering("nn.softmax", "nn.log_softmax")
def _softmax(op, L):
    _need_f32(op)
    shape = op.operands[0].type.shape
    axis = normalize_axis(op.attr("axis"), len(shape))
    outer = int(np.prod(shape[:axis], dtype=np.int64))
    inner = int(np.prod(shape[axis + 1:], dtype=np.int64))
    log = op.name == "nn.log_softmax"
    L.replace(op, C.SoftmaxF32Op, op.operands, outer=outer, axis_size=shape[axis], inner=inner,
              beta=1.0 if log else float(op.attr("beta")), log=log)


@lowering("nn.avg_pool2d", "nn.max_pool2d")
def _pool(op, L):
    _need_f32(op)
    lo, hi = act_range(op)
    L.replace(op, C.PoolF32Op, op.operands, kind="avg" if op.name == "nn.avg_pool2d" else "max",
              kernel=op.attr("kernel"), strides=op.attr("strides"), pads=op.attr("pads"), act_min=lo,
              act_max=hi)


def reduce_params(op) -> tuple[tuple[int, ...], tuple[int, ...], int]:
    shape = op.operands[0].type.shape
    axes = set(op.norm_axes)
    kept = tuple(1 if i in axes else d for i, d in enumerate(shape))
    ost = tuple(0 if i in axes else s for i, s in enumerate(contiguous(kept)))
    count = int(np.prod([shape[i] for i in axes], dtype=np.int64))
    dims = collapse(shape, ost, contiguous(shape))
    shape6, (ost6,) = pad6(dims, 1, op)
    return shape6, ost6, count


@lowering("nn.mean", "nn.reduce_sum", "nn.reduce_max", "nn.reduce_min")
def _reduce(op, L):
    _need_f32(op)
    shape6, ost6, count = reduce_params(op)
    kind = {"nn.mean": "mean", "nn.reduce_sum": "sum", "nn.reduce_max": "max", "nn.reduce_min": "min"}[op.name]
    L.replace(op, C.ReduceF32Op, op.operands, kind=kind, shape=shape6, out_strides=ost6, count=count)


@lowering("nn.lrn")
def _lrn(op, L):
    _need_f32(op)
    L.replace(op, C.LRNF32Op, op.operands, size=op.attr("size"), alpha=float(op.attr("alpha")),
              beta=float(op.attr("beta")), bias=float(op.attr("bias")))


# ------------------------------------------------------------------ data movement (any type)
def copy_or_strided(op, L, src: Value, out_shape, src_strides, offset: int) -> None:
    dims = collapse(out_shape, src_strides, contiguous(out_shape))
    if offset == 0 and all(st[0] == st[1] for _, st in dims):
        L.replace(op, C.CopyOp, [src])  # the data is already in order: a view
        return
    shape6, (ss6,) = pad6(dims, 1, op)
    L.replace(op, C.CopyNDOp, [src], shape=shape6, src_strides=ss6, src_offset=offset)


@lowering("nn.reshape")
def _reshape(op, L):
    L.replace(op, C.CopyOp, op.operands)


@lowering("nn.transpose")
def _transpose(op, L):
    x = op.operands[0]
    perm = op.attr("perm")
    st = contiguous(x.type.shape)
    copy_or_strided(op, L, x, op.results[0].type.shape, tuple(st[p] for p in perm), 0)


@lowering("nn.slice")
def _slice(op, L):
    x = op.operands[0]
    shape = x.type.shape
    begin, end, steps = op.attr("begin"), op.attr("end"), op.steps
    out = slice_shape(shape, begin, end, steps)
    st = contiguous(shape)
    offset = sum(b * s for b, s, d in zip(begin, st, out) if d > 0)
    copy_or_strided(op, L, x, out, tuple(s * k for s, k in zip(st, steps)), offset)


def _outer_inner(shape, axis) -> tuple[int, int]:
    return int(np.prod(shape[:axis], dtype=np.int64)), int(np.prod(shape[axis + 1:], dtype=np.int64))


@lowering("nn.concat")
def _concat(op, L):
    shape = op.results[0].type.shape
    outer, inner = _outer_inner(shape, op.norm_axis)
    L.replace(op, C.ConcatOp, op.operands, outer=outer, inner=inner)


@lowering("nn.split")
def _split(op, L):
    shape = op.operands[0].type.shape
    outer, inner = _outer_inner(shape, op.norm_axis)
    L.replace(op, C.SplitOp, op.operands, outer=outer, inner=inner)


def stored_fill(v: Value, value: float) -> float:
    """A real fill value in the stored domain of ``v`` (quantized: the rounded integer)."""
    e = v.type.element
    if isinstance(e, QuantizedType):
        from edgecc.quant.math import quantize_value

        q = quantize_value(value, e.scale, e.zero_point)  # TFLite PAD: float32 division, round half away
        return float(min(max(q, e.qmin), e.qmax))
    if e.kind != "f32":
        return float(int(value))
    return float(value)


@lowering("nn.pad")
def _pad(op, L):
    x = op.operands[0]
    shape = x.type.shape
    r = len(shape)
    pads = op.attr("pads")
    if r > MAX_RANK:
        raise unsupported(op, f"rank {r} padding (at most {MAX_RANK})")
    k = MAX_RANK - r
    out = op.results[0].type.shape
    L.replace(op, C.PadOp, [x], in_shape=(1,) * k + shape, out_shape=(1,) * k + out,
              begin=(0,) * k + tuple(pads[:r]), mode=op.attr("mode"),
              value=stored_fill(x, float(op.attr("value"))))


@lowering("nn.gather")
def _gather(op, L):
    data, idx = op.operands
    shape = data.type.shape
    axis = op.norm_axis
    outer, inner = _outer_inner(shape, axis)
    src = idx.defining_op()
    if src is not None and src.has_trait("ConstantLike"):
        arr = np.asarray(src.attr("value").array, dtype=np.int64)
        arr = np.where(arr < 0, arr + shape[axis], arr).astype(np.int32)
        idx = L.constant(op, arr)
    L.replace(op, C.GatherOp, [data, idx], outer=outer, axis_size=shape[axis], inner=inner)


@lowering("nn.resize")
def _resize(op, L):
    from edgecc.interp.ops_shape import _linear, _nearest, _source_coords

    x = op.operands[0]
    _, ih, iw, _ = x.type.shape
    oh, ow = op.attr("size")
    mode, coord = op.attr("mode"), op.attr("coordinate")
    ch = _source_coords(op, oh, ih, coord)
    cw = _source_coords(op, ow, iw, coord)
    if mode == "nearest":
        nm = op.attr("nearest_mode")
        L.replace(op, C.ResizeOp, [x], mode="nearest", rows=tuple(int(i) for i in _nearest(op, ch, ih, nm)),
                  cols=tuple(int(i) for i in _nearest(op, cw, iw, nm)))
        return
    if isinstance(x.type.element, QuantizedType) or x.type.element.kind != "f32":
        raise unsupported(op, "bilinear resize of non-float32 tensors")

    def pairs(c, size):
        i0, i1, w0, w1 = _linear(c, size)
        return (tuple(int(v) for v in np.stack([i0, i1], 1).reshape(-1)),
                tuple(float(np.float32(v)) for v in np.stack([w0, w1], 1).reshape(-1)))

    rows, rw = pairs(ch, ih)
    cols, cwts = pairs(cw, iw)
    L.replace(op, C.ResizeOp, [x], mode="bilinear", rows=rows, cols=cols, row_weights=rw, col_weights=cwts)


@lowering("nn.cast")
def _cast(op, L):
    for v in (*op.operands, *op.results):
        if v.type.element.kind not in ("f32", "i8", "i16", "i32", "i64", "u8", "i1"):
            raise unsupported(op, f"cast of {v.type.element}")
    L.replace(op, C.CastOp, op.operands)


@lowering("nn.quantize")
def _quantize(op, L):
    q = op.results[0].type.element
    _need_f32(op, op.operands)
    if q.per_axis:
        raise unsupported(op, "per-axis quantization of activations")
    L.replace(op, C.QuantizeF32Op, op.operands, scale=q.scale, zero_point=q.zero_point, qmin=q.qmin,
              qmax=q.qmax, bits=q.storage.bits)


@lowering("nn.dequantize")
def _dequantize(op, L):
    q = op.operands[0].type.element
    _need_f32(op, op.results)
    if q.per_axis:
        raise unsupported(op, "per-axis dequantization of activations")
    L.replace(op, C.DequantizeF32Op, op.operands, scale=q.scale, zero_point=q.zero_point, qmin=q.qmin,
              qmax=q.qmax, bits=q.storage.bits)


# ------------------------------------------------------------------ driver


def _fold_constant_ops(module: Module) -> None:
    """Evaluate ops whose operands are all constants (float reference or integer interpreter)."""
    from edgecc.interp.reference import evaluate_op

    for op in list(module.func.body):
        if op.has_trait("ConstantLike") or op.has_trait("Terminator") or not op.operands:
            continue
        srcs = [v.defining_op() for v in op.operands]
        if not all(s is not None and s.has_trait("ConstantLike") for s in srcs):
            continue
        try:
            outs = evaluate_op(op, [s.attr("value").array for s in srcs])
        except Exception:
            continue
        for r, arr in zip(op.results, outs):
            c = ConstantOp.from_array(np.asarray(arr).reshape(r.type.shape), r.type.element, loc=op.loc,
                                      name=r.name_hint)
            op.parent.insert_before(op, c)
            r.replace_all_uses_with(c.result)
        op.erase()
    for op in list(module.func.body):  # drop constants nothing reads any more
        if op.has_trait("ConstantLike") and not op.results[0].uses:
            op.erase()


#: ops that move bytes without arithmetic: one lowering for every element type
DATA_MOVEMENT = frozenset({"nn.reshape", "nn.transpose", "nn.slice", "nn.concat", "nn.split", "nn.pad",
                           "nn.gather", "nn.resize", "nn.quantize", "nn.dequantize"})


def _type_agnostic(op: Operation) -> bool:
    """A data-movement op whose quantized operands and results share one element type."""
    if op.name in ("nn.quantize", "nn.dequantize"):
        return True
    if op.name not in DATA_MOVEMENT:
        return False
    if op.name == "nn.resize" and op.attr("mode") != "nearest":
        return False
    elems = {v.type.element for v in (*op.operands, *op.results)
             if isinstance(v.type.element, QuantizedType)}
    return len(elems) <= 1


def lower_to_c(module: Module, core=None, kernels: str | None = None, ram=None) -> Module:
    """A copy of ``module`` in the ``c`` dialect for ``core`` (see the module docstring).

    ``ram``: indices (in ``module``'s op order) of the ops to lower for minimum RAM rather
    than speed on CMSIS-NN targets (in-place portable convolutions, conv + add fusion); None
    means every op. Lowered ops carry their source index as ``edgecc.index``.
    """
    from edgecc.targets import core as get_core

    core = core if core is not None and not isinstance(core, str) else get_core(core or "generic")
    kernels = kernels or core.kernels
    m, _ = clone_module(module)
    for i, op in enumerate(m.func.body):
        if not op.has_trait("ConstantLike") and not op.has_trait("Terminator"):
            op.attrs["edgecc.index"] = i
    _fold_constant_ops(m)
    L = LoweringContext(core, kernels, ram)
    if any(is_quantized(op) for op in m.func.body):
        from edgecc.backends.c.lower_int import fuse_conv_add

        fuse_conv_add(m, L)
    int_lowerings = None
    for op in list(m.func.body):
        if op.has_trait("ConstantLike") or op.has_trait("Terminator") or op.dialect == "c":
            continue
        if op.dialect == "state":
            from edgecc.backends.c.state import lower_state_op

            lower_state_op(op, L)
            continue
        if is_quantized(op) and not _type_agnostic(op):
            if int_lowerings is None:
                from edgecc.backends.c.lower_int import lower_quantized_op as int_lowerings
            int_lowerings(op, L)
            continue
        fn = LOWERINGS.get(op.name)
        if fn is None:
            raise unsupported(op, "no kernel for this op")
        fn(op, L)
    m.verify()
    return m


__all__ = ["LOWERINGS", "LoweringContext", "broadcast_strides", "collapse", "contiguous", "lower_to_c",
           "lowering", "pad6", "unsupported"]
