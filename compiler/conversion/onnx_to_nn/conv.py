"""NCHW image ops: convolution, pooling, batch norm, LRN, resize and pad.

Each lowers to the NHWC ``nn`` op between ``nn.transpose``s (NCHW -> NHWC
before, back after). 1-D variants (``[N, C, L]``) run as 2-D with H = 1.
"""

from __future__ import annotations

import math

import numpy as np

from edgecc.conversion.onnx_to_nn.registry import Cx, WeightRef, converter
from edgecc.ir.core import Operation, Value
from edgecc.ir.types import FloatType


def resolve_pads(cx: Cx, auto_pad: str, in_hw, kernel, strides, dilations, pads) -> list[int]:
    """Explicit ONNX pads ``[b_0.., e_0..]`` for auto_pad NOTSET/VALID/SAME_UPPER/SAME_LOWER."""
    nd = len(in_hw)
    if auto_pad in ("NOTSET", ""):
        p = list(pads) if pads else [0] * (2 * nd)
        if len(p) != 2 * nd:
            raise cx.fail(f"pads has {len(p)} entries, expected {2 * nd}")
        return p
    if auto_pad == "VALID":
        return [0] * (2 * nd)
    if auto_pad not in ("SAME_UPPER", "SAME_LOWER"):
        raise cx.fail(f"auto_pad '{auto_pad}' is not supported")
    begin, end = [], []
    for i in range(nd):
        out = -(-in_hw[i] // strides[i])
        total = max((out - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - in_hw[i], 0)
        small, big = total // 2, total - total // 2
        if auto_pad == "SAME_UPPER":
            begin.append(small)
            end.append(big)
        else:
            begin.append(big)
            end.append(small)
    return begin + end


def _spatial(cx: Cx, x: Value, what: str) -> int:
    r = cx.rank(x)
    if r not in (3, 4):
        raise cx.fail(f"only 1-D and 2-D {what} are supported (input rank {r})")
    return r - 2


def _as2d(vals, nd: int, fill):
    """Prefix 1-D parameters with the neutral H entry."""
    vals = list(vals)
    return vals if nd == 2 else [fill] + vals


def _pads2d(p: list[int], nd: int) -> list[int]:
    """ONNX pads -> nn ``[top, left, bottom, right]``."""
    if nd == 2:
        return [p[0], p[1], p[2], p[3]]
    return [0, p[0], 0, p[1]]


def _in_nhwc(cx: Cx, x: Value, nd: int) -> Value:
    if nd == 1:
        n, c, length = cx.shape(x)
        x = cx.reshape(x, (n, c, 1, length))
    return cx.to_nhwc(x)


def _out_nchw(cx: Cx, y: Value, nd: int) -> Value:
    y = cx.to_nchw(y)
    if nd == 1:
        n, c, _, length = cx.shape(y)
        y = cx.reshape(y, (n, c, length))
    return y


def _hint(v: Value | None) -> str | None:
    """The name of the value a weight came from (through nn.dequantize)."""
    if v is None:
        return None
    op = v.defining_op()
    if op is not None and op.name == "nn.dequantize":
        return op.operands[0].name_hint or v.name_hint
    return v.name_hint


def sole_user(v: Value) -> Operation | None:
    users = v.users
    if len(users) == 1 and len(v.uses) == 1:
        return users[0]
    return None


def bn_params(cx: Cx, bn: Operation) -> tuple[np.ndarray, np.ndarray] | None:
    """(scale, shift) of an inference BatchNormalization with constant parameters."""
    from edgecc.conversion.onnx_to_nn import _onnx_attrs

    ops = bn.operands
    if len(ops) != 5 or len(bn.results) != 1 or "onnx.absent_results" in bn.attrs:
        return None
    attrs = _onnx_attrs(bn)
    if attrs.get("training_mode", 0):
        return None
    vals = [Cx.value(v) for v in ops[1:]]
    if any(v is None for v in vals):
        return None
    gamma, beta, mean, var = (np.asarray(v, np.float64) for v in vals)
    eps = attrs.get("epsilon", 1e-5)
    scale = gamma / np.sqrt(var + eps)
    return scale, beta - mean * scale


def fold_bn_into(cx: Cx, out: Value, w: WeightRef, bias: np.ndarray | None, cout: int):
    """If ``out``'s only user is a foldable BatchNormalization, return (bn op, W', b')."""
    bn = sole_user(out)
    if bn is None or bn.name != "onnx.BatchNormalization" or w.quantized or bn.operands[0] is not out:
        return None
    p = bn_params(cx, bn)
    if p is None:
        return None
    scale, shift = p
    if scale.shape != (cout,):
        return None
    dt = w.array.dtype
    new_w = (w.array.astype(np.float64) * scale.reshape((cout,) + (1,) * (w.array.ndim - 1))).astype(dt)
    b = np.zeros(cout) if bias is None else bias.astype(np.float64)
    new_b = (b * scale + shift).astype(dt)
    return bn, WeightRef(new_w), new_b


def absorb(cx: Cx, bn: Operation, value: Value) -> None:
    """Replace ``bn``'s result with ``value`` and erase it (it was folded into its producer)."""
    r = bn.results[0]
    if r.name_hint:
        value.name_hint = r.name_hint
    r.replace_all_uses_with(value)
    bn.erase()


# ------------------------------------------------------------------ Conv
@converter("Conv", 11, doc="nn.conv2d / nn.depthwise_conv2d (group == C); 1-D and 2-D; OIHW weights "
                           "become OHWI constants; a following BatchNormalization is folded in")
def conv(cx: Cx, x, w, b=None, *, auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None,
         pads=None, strides=None):
    nd = _spatial(cx, x, "convolutions")
    if not isinstance(x.type.element, FloatType):
        raise cx.fail(f"needs a float input, got {x.type.element}")
    in_hw = cx.shape(x)[2:]
    wshape = cx.shape(w)
    kernel = list(wshape[2:])
    strides = list(strides) if strides else [1] * nd
    dilations = list(dilations) if dilations else [1] * nd
    p = resolve_pads(cx, auto_pad, in_hw, kernel, strides, dilations, pads)
    cin, cout = cx.shape(x)[1], wshape[0]
    bias_arr = cx.value(b)
    ref = cx.weight_ref(w)
    if ref is not None and nd == 1:
        ref = ref.reshaped((cout, wshape[1], 1, kernel[0]))
    depthwise = group > 1 and group == cin and wshape[1] == 1 and cout % cin == 0
    # BatchNormalization right after: fold into the weights and bias
    folded = None
    if ref is not None and (b is None or bias_arr is not None):
        folded = fold_bn_into(cx, cx.out(0), ref, bias_arr, cout)
    if folded is not None:
        bn, ref, bias_arr = folded
    perm = (1, 2, 3, 0) if depthwise else (0, 2, 3, 1)
    if ref is not None:
        wv = cx.weight(ref.transposed(perm), name=_hint(w))
    else:
        if nd == 1:
            w = cx.reshape(w, (cout, wshape[1], 1, kernel[0]))
        wv = cx.transpose(w, perm)
    if bias_arr is not None:
        bv = cx.const(bias_arr, x.type.element, name=_hint(b) if b is not None else None)
    else:
        bv = b
    attrs = dict(strides=_as2d(strides, nd, 1), dilations=_as2d(dilations, nd, 1), pads=_pads2d(p, nd))
    xin = _in_nhwc(cx, x, nd)
    if depthwise:
        y = cx.emit("nn.depthwise_conv2d", xin, wv, bv, depth_multiplier=cout // cin, **attrs)
    else:
        y = cx.emit("nn.conv2d", xin, wv, bv, groups=group, **attrs)
    out = _out_nchw(cx, y, nd)
    if folded is not None:
        absorb(cx, bn, out)
    return out


# ------------------------------------------------------------------ pools
def _pool(cx: Cx, name: str, x: Value, kernel_shape, strides, pads, auto_pad, ceil_mode,
          dilations, count_include_pad=0) -> Value:
    nd = _spatial(cx, x, "pools")
    if not isinstance(x.type.element, FloatType):
        raise cx.fail(f"needs a float input, got {x.type.element}")
    if not kernel_shape:
        raise cx.fail("kernel_shape is required")
    kernel = list(kernel_shape)
    if dilations and any(d != 1 for d in dilations):
        raise cx.fail("dilated pooling is not supported")
    strides = list(strides) if strides else [1] * nd
    in_hw = cx.shape(x)[2:]
    p = resolve_pads(cx, auto_pad, in_hw, kernel, strides, [1] * nd, pads)
    out_hw = cx.out_shape(0)[2:]
    # ceil_mode (or any rounding up): extra padding at the end, ignored by the pool
    for i in range(nd):
        need = (out_hw[i] - 1) * strides[i] + kernel[i] - (in_hw[i] + p[i] + p[nd + i])
        if need > 0:
            p[nd + i] += need
    xin = _in_nhwc(cx, x, nd)
    if count_include_pad and any(p):
        # padded zeros count: pad explicitly (NHWC), then pool without padding
        q = _pads2d(p, nd)
        xin = cx.emit("nn.pad", xin, pads=[0, q[0], q[1], 0, 0, q[2], q[3], 0])
        p = [0] * (2 * nd)
    y = cx.emit(name, xin, kernel=_as2d(kernel, nd, 1), strides=_as2d(strides, nd, 1), pads=_pads2d(p, nd))
    return _out_nchw(cx, y, nd)


@converter("MaxPool", 11, doc="nn.max_pool2d (1-D/2-D, ceil_mode via end padding; no dilations, no "
                              "Indices output)")
def max_pool(cx: Cx, x, *, auto_pad="NOTSET", ceil_mode=0, dilations=None, kernel_shape=None, pads=None,
             storage_order=0, strides=None):
    if cx.used(1):
        raise cx.fail("the Indices output is not supported")
    return [_pool(cx, "nn.max_pool2d", x, kernel_shape, strides, pads, auto_pad, ceil_mode, dilations), None]


@converter("AveragePool", 11, doc="nn.avg_pool2d (1-D/2-D; count_include_pad=1 via an explicit nn.pad)")
def avg_pool(cx: Cx, x, *, auto_pad="NOTSET", ceil_mode=0, count_include_pad=0, dilations=None,
             kernel_shape=None, pads=None, strides=None):
    return _pool(cx, "nn.avg_pool2d", x, kernel_shape, strides, pads, auto_pad, ceil_mode, dilations,
                 count_include_pad)


def _global(cx: Cx, nn_name: str, x: Value) -> Value:
    r = cx.rank(x)
    if r < 3:
        raise cx.fail(f"input rank {r} is not supported")
    if r == 4:
        y = cx.emit(nn_name, cx.to_nhwc(x), axes=(1, 2), keepdims=True)
        return cx.to_nchw(y)
    return cx.emit(nn_name, x, axes=tuple(range(2, r)), keepdims=True)


@converter("GlobalAveragePool", 11, doc="nn.mean over H, W (keepdims) in NHWC")
def global_avg_pool(cx: Cx, x):
    return _global(cx, "nn.mean", x)


@converter("GlobalMaxPool", 11, doc="nn.reduce_max over H, W (keepdims) in NHWC")
def global_max_pool(cx: Cx, x):
    return _global(cx, "nn.reduce_max", x)


# ------------------------------------------------------------------ normalization
@converter("BatchNormalization", 11, doc="inference mode; folded into a preceding Conv/Gemm/MatMul, "
                                         "else nn.mul + nn.add with constants (NHWC for 4-D)")
def batch_norm(cx: Cx, x, scale, bias, mean, var, *, epsilon=1e-5, momentum=0.9, training_mode=0,
               spatial=1):
    if training_mode:
        raise cx.fail("training_mode=1 is not supported")
    if cx.used(1) or cx.used(2):
        raise cx.fail("running mean/var outputs are not supported")
    vals = [cx.value(v) for v in (scale, bias, mean, var)]
    if any(v is None for v in vals):
        raise cx.fail("scale, bias, mean and var must be constants")
    gamma, beta, mu, sigma2 = (np.asarray(v, np.float64) for v in vals)
    s = gamma / np.sqrt(sigma2 + epsilon)
    t = beta - mu * s
    dt = x.type.element
    r = cx.rank(x)
    if r == 4:
        y = cx.to_nhwc(x)
        y = cx.binary("mul", y, cx.const(s.astype(dt.numpy), dt))
        y = cx.binary("add", y, cx.const(t.astype(dt.numpy), dt))
        return cx.to_nchw(y)
    shape = (s.shape[0],) + (1,) * max(r - 2, 0)
    y = cx.binary("mul", x, cx.const(s.reshape(shape).astype(dt.numpy), dt))
    return cx.binary("add", y, cx.const(t.reshape(shape).astype(dt.numpy), dt))


@converter("LRN", 11, doc="nn.lrn in NHWC")
def lrn(cx: Cx, x, *, size, alpha=1e-4, beta=0.75, bias=1.0):
    if cx.rank(x) != 4:
        raise cx.fail("only 4-D input is supported")
    y = cx.emit("nn.lrn", cx.to_nhwc(x), size=size, alpha=alpha, beta=beta, bias=bias)
    return cx.to_nchw(y)


@converter("InstanceNormalization", 11, doc="nn.mean / rsqrt over H, W in NHWC, per-channel scale and bias")
def instance_norm(cx: Cx, x, scale, b, *, epsilon=1e-5):
    if cx.rank(x) != 4:
        raise cx.fail("only 4-D input is supported")
    s, bb = cx.value(scale), cx.value(b)
    if s is None or bb is None:
        raise cx.fail("scale and bias must be constants")
    dt = x.type.element
    y = cx.to_nhwc(x)
    mean = cx.emit("nn.mean", y, axes=(1, 2), keepdims=True)
    d = cx.binary("sub", y, mean)
    var = cx.emit("nn.mean", cx.binary("mul", d, d), axes=(1, 2), keepdims=True)
    inv = cx.unary("rsqrt", cx.binary("add", var, cx.scalar(epsilon, x)))
    y = cx.binary("mul", cx.binary("mul", d, inv), cx.const(s.astype(dt.numpy), dt))
    y = cx.binary("add", y, cx.const(bb.astype(dt.numpy), dt))
    return cx.to_nchw(y)


# ------------------------------------------------------------------ resize
_COORD = {"half_pixel": "half_pixel", "asymmetric": "asymmetric", "align_corners": "align_corners",
          "pytorch_half_pixel": "pytorch_half_pixel"}


def _resize(cx: Cx, x: Value, mode: str, coord: str, nearest_mode: str, scales) -> Value:
    if cx.rank(x) != 4:
        raise cx.fail("only 4-D (NCHW) input is supported")
    if not isinstance(x.type.element, FloatType):
        raise cx.fail(f"needs a float input, got {x.type.element}")
    n, c, h, w = cx.shape(x)
    on, oc, oh, ow = cx.out_shape(0)
    if (on, oc) != (n, c):
        raise cx.fail("resizing the batch or channel dimension is not supported")
    if mode not in ("nearest", "linear"):
        raise cx.fail(f"mode '{mode}' is not supported (nearest, linear)")
    if coord not in _COORD:
        raise cx.fail(f"coordinate_transformation_mode '{coord}' is not supported "
                      f"({', '.join(_COORD)})")
    if scales is not None and scales.size:
        sh, sw = float(scales[2]), float(scales[3])
        # the coordinate transforms use the scale itself: nn.resize{size} matches only when
        # scale * input length is the (whole) output length
        if not math.isclose(sh * h, oh, rel_tol=1e-6) or not math.isclose(sw * w, ow, rel_tol=1e-6):
            raise cx.fail(f"scales {sh:g}, {sw:g} do not give a whole output size ({h}x{w} -> {oh}x{ow})")
    if (oh, ow) == (h, w):
        return x
    y = cx.emit("nn.resize", cx.to_nhwc(x), size=(oh, ow), mode="bilinear" if mode == "linear" else "nearest",
                coordinate=_COORD[coord], nearest_mode=nearest_mode)
    return cx.to_nchw(y)


@converter("Resize", 11, doc="nn.resize in NHWC: nearest / linear (2-D) with half_pixel, asymmetric, "
                             "align_corners or pytorch_half_pixel coordinates")
def resize(cx: Cx, x, roi=None, scales=None, sizes=None, *, antialias=0, axes=None,
           coordinate_transformation_mode="half_pixel", cubic_coeff_a=-0.75, exclude_outside=0,
           extrapolation_value=0.0, keep_aspect_ratio_policy="stretch", mode="nearest",
           nearest_mode="round_prefer_floor"):
    sc = cx.const_input(scales, "scales")
    cx.const_input(sizes, "sizes")
    if axes is not None and list(axes) not in ([2, 3], [-2, -1]):
        raise cx.fail("axes other than the spatial ones are not supported")
    if axes is not None and sc is not None and sc.size == 2:
        sc = np.concatenate([[1.0, 1.0], sc])
    if antialias and mode != "nearest":
        oh, ow = cx.out_shape(0)[2:]
        h, w = cx.shape(x)[2:]
        if oh < h or ow < w:
            raise cx.fail("antialiased downscaling is not supported")
    if keep_aspect_ratio_policy != "stretch" and sc is None:
        pass  # the output shape (from shape inference) already reflects the policy
    return _resize(cx, x, mode, coordinate_transformation_mode, nearest_mode, sc)


@converter("Upsample", 7, doc="nn.resize, asymmetric coordinates (nearest: floor)")
def upsample(cx: Cx, x, scales=None, *, mode="nearest"):
    sc = cx.const_input(scales, "scales")
    return _resize(cx, x, "linear" if mode in ("linear", "bilinear") else mode, "asymmetric", "floor", sc)


# ------------------------------------------------------------------ pad
@converter("Pad", 11, doc="nn.pad (constant/reflect/edge) with constant pads; 4-D input runs in NHWC")
def pad(cx: Cx, x, pads, constant_value=None, axes=None, *, mode="constant"):
    p = cx.const_input(pads, "pads")
    cv = cx.const_input(constant_value, "constant_value")
    ax = cx.const_input(axes, "axes")
    r = cx.rank(x)
    p = [int(v) for v in np.asarray(p).reshape(-1)]
    if ax is not None:
        full = [0] * (2 * r)
        axl = [int(a) + r if int(a) < 0 else int(a) for a in np.asarray(ax).reshape(-1)]
        for i, a in enumerate(axl):
            full[a] = p[i]
            full[r + a] = p[len(axl) + i]
        p = full
    if len(p) != 2 * r:
        raise cx.fail(f"pads has {len(p)} entries for rank {r}")
    if any(v < 0 for v in p):
        raise cx.fail("negative pads (cropping) are not supported")
    if mode not in ("constant", "reflect", "edge"):
        raise cx.fail(f"mode '{mode}' is not supported (constant, reflect, edge)")
    value = float(np.asarray(cv).reshape(-1)[0]) if cv is not None and np.asarray(cv).size else 0.0
    if not any(p):
        return x
    if r == 4:
        perm = (0, 2, 3, 1)
        q = [p[i] for i in perm] + [p[4 + i] for i in perm]
        y = cx.emit("nn.pad", cx.to_nhwc(x), pads=q, value=value, mode=mode)
        return cx.to_nchw(y)
    return cx.emit("nn.pad", x, pads=p, value=value, mode=mode)
