"""ConvTranspose as a stride-1 convolution over the zero-upsampled input.

``y = ConvTranspose(x, W)`` equals ``conv2d(pad(upsample0(x)), flip(W)^T)``:
zeros are inserted between input pixels (``nn.reshape`` -> ``nn.pad`` ->
``nn.reshape``), the border is padded by ``dilation * (k - 1) - pad_begin``
(cropped with ``nn.slice`` where that is negative), and the kernel is flipped
spatially with input and output channels swapped (a compile-time constant).
"""

from __future__ import annotations

import numpy as np

from edgecc.conversion.onnx_to_nn.conv import _hint
from edgecc.conversion.onnx_to_nn.registry import Cx, WeightRef, converter
from edgecc.ir.core import Value
from edgecc.ir.types import FloatType, QuantizedType


def _begin_pads(cx: Cx, auto_pad, pads, output_shape, in_hw, out_hw, k, s, d, op, nd) -> list[int]:
    if auto_pad == "VALID":
        return [0] * nd
    if output_shape is not None or auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        begin = []
        for i in range(nd):
            total = s[i] * (in_hw[i] - 1) + op[i] + (k[i] - 1) * d[i] + 1 - out_hw[i]
            begin.append(total // 2 if auto_pad == "SAME_UPPER" else total - total // 2)
        return begin
    if auto_pad not in ("NOTSET", ""):
        raise cx.fail(f"auto_pad '{auto_pad}' is not supported")
    return list(pads[:nd]) if pads else [0] * nd


def _flip_weight(cx: Cx, ref: WeightRef, group: int) -> WeightRef:
    """[Cin, Cout/g, KH, KW] -> OHWI [Cout, KH, KW, Cin/g], spatially flipped."""
    w = ref.array
    cin, cout_g, kh, kw = w.shape
    g = group
    arr = w[:, :, ::-1, ::-1].reshape(g, cin // g, cout_g, kh, kw).transpose(0, 2, 3, 4, 1)
    arr = np.ascontiguousarray(arr.reshape(g * cout_g, kh, kw, cin // g))
    q = ref.qtype
    if q is not None and q.axis is not None:
        if q.axis != 1 or g != 1:
            raise cx.fail("per-axis quantized ConvTranspose weights are supported only along axis 1 "
                          "with group 1")
        q = QuantizedType(q.storage, q.expressed, q.scales, q.zero_points, 0, q.qmin, q.qmax)
    return WeightRef(arr, q)


@converter("ConvTranspose", 11, doc="zero-upsampling (reshape/pad/reshape) + nn.conv2d with the flipped "
                                    "kernel; 1-D and 2-D, groups, dilations, output_padding, constant weights")
def conv_transpose(cx: Cx, x, w, b=None, *, auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None,
                   output_padding=None, output_shape=None, pads=None, strides=None):
    r = cx.rank(x)
    if r not in (3, 4):
        raise cx.fail(f"only 1-D and 2-D transposed convolutions are supported (input rank {r})")
    if not isinstance(x.type.element, FloatType):
        raise cx.fail(f"needs a float input, got {x.type.element}")
    nd = r - 2
    ref = cx.weight_ref(w)
    if ref is None:
        raise cx.fail("the weights must be a constant")
    bias = cx.value(b)
    if b is not None and bias is None:
        raise cx.fail("the bias must be a constant")
    in_hw = list(cx.shape(x)[2:])
    out_hw = list(cx.out_shape(0)[2:])
    k = list(ref.array.shape[2:])
    s = list(strides) if strides else [1] * nd
    d = list(dilations) if dilations else [1] * nd
    op = list(output_padding) if output_padding else [0] * nd
    pb = _begin_pads(cx, auto_pad, pads, output_shape, in_hw, out_hw, k, s, d, op, nd)
    n, c = cx.shape(x)[:2]
    if nd == 1:  # run as 2-D with H = 1
        x = cx.reshape(x, (n, c, 1, in_hw[0]))
        ref = ref.reshaped(ref.array.shape[:2] + (1, k[0]))
        in_hw, out_hw, k, s, d, pb = [1] + in_hw, [1] + out_hw, [1] + k, [1] + s, [1] + d, [0] + pb
    y = cx.to_nhwc(x)
    h, w_ = in_hw
    sh, sw = s
    if sh > 1 or sw > 1:  # insert s - 1 zeros after every pixel
        y = cx.reshape(y, (n, h, 1, w_, 1, c))
        y = cx.emit("nn.pad", y, pads=[0, 0, 0, 0, 0, 0, 0, 0, sh - 1, 0, sw - 1, 0])
        y = cx.reshape(y, (n, h * sh, w_ * sw, c))
    up = [h * sh, w_ * sw]
    begin, end = [], []
    for i in range(2):
        full = (in_hw[i] - 1) * s[i] + 1
        e = s[i] * (in_hw[i] - 1) + (k[i] - 1) * d[i] + 1 - pb[i] - out_hw[i]  # cropped at the end
        begin.append(d[i] * (k[i] - 1) - pb[i])
        end.append(d[i] * (k[i] - 1) - e - (up[i] - full))
    if any(v < 0 for v in begin + end):
        lo = [max(-v, 0) for v in begin]
        hi = [up[i] - max(-end[i], 0) for i in range(2)]
        y = cx.emit("nn.slice", y, begin=[0, lo[0], lo[1], 0], end=[n, hi[0], hi[1], c])
    pb2 = [max(v, 0) for v in begin]
    pe2 = [max(v, 0) for v in end]
    if any(pb2 + pe2):
        y = cx.emit("nn.pad", y, pads=[0, pb2[0], pb2[1], 0, 0, pe2[0], pe2[1], 0])
    wv = cx.weight(_flip_weight(cx, ref, group), name=_hint(w))
    bv = cx.const(bias, x.type.element, name=_hint(b)) if bias is not None else None
    y = cx.emit("nn.conv2d", y, wv, bv, groups=group, dilations=d, strides=[1, 1], pads=[0, 0, 0, 0])
    y = cx.to_nchw(y)
    if nd == 1:
        y = cx.reshape(y, (n, cx.shape(y)[1], out_hw[1]))
    return y
