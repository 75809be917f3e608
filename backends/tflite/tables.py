"""Window padding and resize coordinate rules shared by the reader and the writer.

TFLite windows (CONV_2D, DEPTHWISE_CONV_2D, pools) only know ``SAME`` and
``VALID`` padding; ``nn`` ops carry explicit ``[top, left, bottom, right]``
pads. ``same_pads`` computes the pads TFLite uses for SAME exactly as its
kernels do (``ComputePaddingHeightWidth``): output ``ceil(in / stride)``,
total ``max((out - 1) * stride + dilated_kernel - in, 0)``, the odd pixel at
the end.

TFLite resizes have two flags (``align_corners``, ``half_pixel_centers``);
``nn.resize`` has ONNX's coordinate transformation and nearest rounding.
``resize_flags`` finds flags that give the *same source indices* (nearest) or
the same clamped source coordinates (bilinear) for the op's static sizes, by
evaluating both formulas, so the writer never guesses.
"""

from __future__ import annotations

import numpy as np

from edgecc.backends.tflite.schema import S


def same_pads(in_hw, k_hw, strides, dilations) -> tuple[int, int, int, int]:
    """[top, left, bottom, right] of TFLite SAME padding."""
    pads = []
    for size, k, s, d in zip(in_hw, k_hw, strides, dilations):
        out = (size + s - 1) // s
        eff = (k - 1) * d + 1
        total = max((out - 1) * s + eff - size, 0)
        pads.append((total // 2, total - total // 2))
    (t, b), (lft, r) = pads
    return (t, lft, b, r)


def out_size(size: int, k: int, s: int, d: int, padding: int) -> int:
    if padding == S.Padding.SAME:
        return (size + s - 1) // s
    return (size - ((k - 1) * d + 1) + s) // s


def padding_for(in_hw, k_hw, strides, dilations, pads, out_hw) -> int | None:
    """``Padding.VALID``/``SAME`` reproducing ``pads`` and ``out_hw``, or None."""
    pads = tuple(pads)
    for mode, want in ((S.Padding.VALID, (0, 0, 0, 0)),
                       (S.Padding.SAME, same_pads(in_hw, k_hw, strides, dilations))):
        if pads != want:
            continue
        got = tuple(out_size(in_hw[i], k_hw[i], strides[i], dilations[i], mode) for i in range(2))
        if got == tuple(out_hw):
            return mode
    return None


# --------------------------------------------------------------------- resize
def _tfl_nearest(in_size: int, out_size: int, align: bool, half: bool) -> np.ndarray:
    """TFLite's GetNearestNeighbor for every output index (float32 like the kernel)."""
    if align and out_size > 1:
        scale = np.float32(in_size - 1) / np.float32(out_size - 1)
    else:
        scale = np.float32(in_size) / np.float32(out_size)
    off = np.float32(0.5 if half else 0.0)
    v = (np.arange(out_size, dtype=np.float32) + off) * np.float32(scale)
    if align:
        idx = np.where(v >= 0, np.floor(v + np.float32(0.5)), np.ceil(v - np.float32(0.5)))
    else:
        idx = np.floor(v)
    idx = np.minimum(idx.astype(np.int64), in_size - 1)
    return np.maximum(idx, 0) if half else idx


def _tfl_linear(in_size: int, out_size: int, align: bool, half: bool) -> np.ndarray:
    """TFLite bilinear source coordinate per output index, clamped to [0, in - 1]."""
    if align and out_size > 1:
        scale = np.float32(in_size - 1) / np.float32(out_size - 1)
    else:
        scale = np.float32(in_size) / np.float32(out_size)
    x = np.arange(out_size, dtype=np.float32)
    v = (x + np.float32(0.5)) * scale - np.float32(0.5) if half else x * scale
    return np.clip(v.astype(np.float64), 0.0, in_size - 1)


_PREFER = {"half_pixel": [(False, True)], "pytorch_half_pixel": [(False, True)],
           "align_corners": [(True, False)], "asymmetric": [(False, False)]}
_ALL = [(False, False), (False, True), (True, False)]


def resize_flags(op) -> tuple[bool, bool] | None:
    """(align_corners, half_pixel_centers) reproducing ``op`` exactly, or None."""
    from edgecc.interp.ops_shape import _nearest, _source_coords

    _, in_h, in_w, _ = op.input.type.shape
    out_h, out_w = op.attr("size")
    coord, mode = op.attr("coordinate"), op.attr("mode")
    candidates = _PREFER[coord] + [f for f in _ALL if f not in _PREFER[coord]]
    for align, half in candidates:
        if align and half:
            continue
        ok = True
        for i, o in ((in_h, out_h), (in_w, out_w)):
            c = _source_coords(op, o, i, coord)
            if mode == "nearest":
                ok &= bool(np.array_equal(_nearest(op, c, i, op.attr("nearest_mode")),
                                          _tfl_nearest(i, o, align, half)))
            else:
                ref = np.clip(c.astype(np.float64), 0.0, i - 1)
                ok &= bool(np.allclose(ref, _tfl_linear(i, o, align, half), rtol=0, atol=1e-6))
        if ok:
            return align, half
    return None


def nn_resize_attrs(mode: str, align: bool, half: bool) -> dict:
    """nn.resize attributes for a TFLite resize with these flags."""
    if mode == "bilinear":
        coord = "align_corners" if align else "half_pixel" if half else "asymmetric"
        return {"mode": "bilinear", "coordinate": coord}
    if align:
        return {"mode": "nearest", "coordinate": "align_corners", "nearest_mode": "round_prefer_ceil"}
    if half:
        return {"mode": "nearest", "coordinate": "half_pixel", "nearest_mode": "round_prefer_ceil"}
    return {"mode": "nearest", "coordinate": "asymmetric", "nearest_mode": "floor"}


__all__ = ["nn_resize_attrs", "out_size", "padding_for", "resize_flags", "same_pads"]
