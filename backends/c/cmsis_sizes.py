"""Scratch-buffer sizes of CMSIS-NN kernels, by the rules of its ``*_get_buffer_size`` functions.

CMSIS-NN's wrappers pick a kernel from the layer geometry and the core's ISA
(``isa``: "none", "dsp" or "mve") and each kernel needs its own scratch
(``ctx->buf``). These functions restate those rules (CMSIS-NN
``Source/*/arm_*_get_buffer_sizes_s8.c``, written anew here) so the scratch
is planned into the arena at compile time. Two rules depend on the compiler
that builds CMSIS-NN (armclang enables a 1x1 DSP path with an im2col buffer,
and moves the Helium depthwise-to-convolution threshold from 1 to 8 output
channels); edgecc returns the larger of the two so either toolchain fits.
A test compares every figure with CMSIS-NN's own functions built on the host.
"""

from __future__ import annotations

from dataclasses import dataclass

CH_IN_BLOCK_MVE = 124


@dataclass(frozen=True)
class Conv:
    """Geometry in CMSIS-NN terms: dims are (n, h, w, c); pads/strides/dilations (h, w)."""

    input: tuple[int, int, int, int]
    filter: tuple[int, int, int, int]  # (c_out, kh, kw, c_in per group)
    output: tuple[int, int, int, int]
    pad: tuple[int, int] = (0, 0)
    stride: tuple[int, int] = (1, 1)
    dilation: tuple[int, int] = (1, 1)


def _is_1x1(g: Conv) -> bool:
    return g.pad == (0, 0) and g.filter[1:3] == (1, 1) and g.dilation == (1, 1) and g.input[3] == g.filter[3]


def _is_1xn(g: Conv) -> bool:
    return (g.input[1] == 1 and g.dilation[1] == 1 and g.filter[1] == 1
            and (g.stride[1] * g.input[3]) % 4 == 0 and g.input[3] == g.filter[3])


def _convolve_s8(g: Conv, isa: str) -> int:
    cols = g.filter[2] * g.filter[1] * g.input[3]
    if isa == "mve":
        return 4 * ((cols + 15) // 16) * 16
    aligned = cols + (4 - cols % 4 if cols % 4 else 0)
    return 2 * aligned * 2


def _convolve_1xn_mve(g: Conv) -> int:
    input_x, pad_x, kernel_x = g.input[2], g.pad[1], g.filter[2]
    output_x, stride_x, c = g.output[2], g.stride[1], g.input[3]
    total_pad = (output_x - 1) * stride_x + kernel_x - input_x
    asym = total_pad % 2
    right = max(1, (pad_x + asym + stride_x - 1) // stride_x) if pad_x + asym != 0 else 0
    left = max(1, (pad_x + stride_x - 1) // stride_x) if pad_x != 0 else 0
    no_pad = max(output_x - (right + left), 0)
    if right + no_pad + left != output_x:
        return _convolve_s8(g, "mve")
    pad_left = pad_x * c
    pad_right = right * c if asym else pad_left
    elem_left = kernel_x * c
    elem_right = elem_left - c
    return max(elem_left + pad_left, elem_right + pad_right)


def convolve_wrapper_s8(g: Conv, isa: str) -> int:
    """``arm_convolve_wrapper_s8_get_buffer_size`` for ``isa`` (max over GCC/armclang)."""
    if _is_1x1(g):
        if g.stride == (1, 1) and isa == "dsp":
            return 2 * g.input[3] * 2  # armclang's arm_convolve_1x1_s8_fast im2col (GCC: 0)
        return 0
    if _is_1xn(g):
        return _convolve_1xn_mve(g) if isa == "mve" else _convolve_s8(g, isa)
    return _convolve_s8(g, isa)


@dataclass(frozen=True)
class DwConv:
    input: tuple[int, int, int, int]
    filter: tuple[int, int, int, int]  # (1, kh, kw, c_out)
    output: tuple[int, int, int, int]
    pad: tuple[int, int] = (0, 0)
    stride: tuple[int, int] = (1, 1)
    dilation: tuple[int, int] = (1, 1)


def _dw_opt(g: DwConv, isa: str) -> int:
    kh, kw = g.filter[1], g.filter[2]
    if isa == "mve":
        return 4 * CH_IN_BLOCK_MVE * kw * kh
    if isa == "dsp":
        return g.input[3] * kw * kh * 2
    return 0


def _dw_one_in_ch_mve(g: DwConv) -> int:
    conv = Conv(g.input, (g.filter[3], g.filter[1], g.filter[2], g.filter[0]), g.output, g.pad, g.stride,
                g.dilation)
    return convolve_wrapper_s8(conv, "mve") + g.filter[3] * g.filter[1] * g.filter[2] * g.filter[0]


def depthwise_conv_wrapper_s8(g: DwConv, isa: str) -> int:
    """``arm_depthwise_conv_wrapper_s8_get_buffer_size`` for ``isa`` (max over GCC/armclang)."""
    kh, kw = g.filter[1], g.filter[2]
    regular = g.input[3] == g.output[3] and g.input[0] == 1 and g.dilation == (1, 1)
    size = 0
    if regular:
        if isa != "mve" and kh == 3 and kw == 3 and g.pad[0] <= 1 and g.pad[1] <= 1:
            size = 0
        else:
            size = _dw_opt(g, isa)
    if isa == "mve" and g.input[3] == 1:
        sizes = [size]
        for threshold in (1, 8):  # GCC converts to a convolution above 1 output channel, armclang above 8
            if g.output[3] > threshold:
                sizes.append(_dw_one_in_ch_mve(g))
        return max(sizes)
    return size


def fully_connected_s8(out_features: int, isa: str) -> int:
    """``arm_fully_connected_s8_get_buffer_size``: MVE keeps the kernel sums (edgecc puts them in
    flash instead: see ``kernel_sums``)."""
    return out_features * 4 if isa == "mve" else 0


def avgpool_s8(out_w: int, channels: int, isa: str) -> int:
    return channels * 4 if isa == "dsp" else 0


def kernel_sums(weights, bias, input_offset: int, filter_offset: int = 0) -> list[int]:
    """``arm_vector_sum_s8``: per row, bias + (sum(w) + cols * filter_offset) * input_offset (int32)."""
    import numpy as np

    w = np.asarray(weights, dtype=np.int64)
    rows, cols = w.shape
    b = np.zeros(rows, dtype=np.int64) if bias is None else np.asarray(bias, dtype=np.int64)
    if input_offset == 0:
        sums = b
    else:
        sums = b + (w.sum(axis=1) + cols * filter_offset) * input_offset
    wrapped = ((sums + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)
    return [int(v) for v in wrapped]


# ---------------------------------------------------------------- int16x8 (``_s16``)
def convolve_wrapper_s16(g: Conv, isa: str) -> int:
    """``arm_convolve_wrapper_s16_get_buffer_size``: always the im2col kernel (never 0: it
    rejects a NULL buffer), four Helium rows of whole 8-lane vectors, else two columns."""
    cols = g.filter[2] * g.filter[1] * g.input[3]
    if isa == "mve":
        return 4 * ((cols + 7) // 8) * 8 * 2
    return 2 * cols * 2


def _use_fast_dw_s16(g: DwConv, ch_mult: int) -> bool:
    return ch_mult == 1 and g.dilation == (1, 1) and g.filter[1] * g.filter[2] < 512


def depthwise_conv_wrapper_s16(g: DwConv, isa: str) -> int:
    """``arm_depthwise_conv_wrapper_s16_get_buffer_size``: the fast kernel's im2col (DSP/Helium;
    +8 for Helium's over-read), none for the generic kernel or without DSP."""
    ch_mult = g.output[3] // max(g.input[3], 1)
    if not _use_fast_dw_s16(g, ch_mult) or isa == "none":
        return 0
    k = g.input[3] * g.filter[1] * g.filter[2] * 2
    return 4 * k + 8 if isa == "mve" else k


def fully_connected_s16(out_features: int, isa: str) -> int:
    """``arm_fully_connected_s16_get_buffer_size``: no scratch on any ISA."""
    return 0


def avgpool_s16(out_w: int, channels: int, isa: str) -> int:
    """``arm_avgpool_s16_get_buffer_size``: an int32 row of sums on DSP cores."""
    return channels * 4 if isa == "dsp" else 0


# ---------------------------------------------------------------- int4 weights (``_s4``)
def convolve_wrapper_s4(g: Conv, isa: str) -> int:
    """``arm_convolve_wrapper_s4_get_buffer_size``: 1x1 needs none; Helium's 1xN kernel needs
    none unless its padding split fails; otherwise the im2col of the s4 kernels."""
    cols = g.filter[2] * g.filter[1] * g.input[3]
    if _is_1x1(g):
        return 0
    if isa == "mve":
        if _is_1xn(g) and _1xn_split_ok(g):
            return 0
        return 4 * ((cols + 15) // 16) * 16
    return 2 * cols * 2


def _1xn_split_ok(g: Conv) -> bool:
    input_x, pad_x, kernel_x = g.input[2], g.pad[1], g.filter[2]
    output_x, stride_x = g.output[2], g.stride[1]
    asym = ((output_x - 1) * stride_x + kernel_x - input_x) % 2
    right = max(1, (pad_x + asym + stride_x - 1) // stride_x) if pad_x + asym != 0 else 0
    left = max(1, (pad_x + stride_x - 1) // stride_x) if pad_x != 0 else 0
    return right + max(output_x - (right + left), 0) + left == output_x


def depthwise_conv_wrapper_s4(g: DwConv, isa: str) -> int:
    """``arm_depthwise_conv_wrapper_s4_get_buffer_size``: the optimised kernel's buffer (the s8
    rule of the Helium or DSP variant; the plain-C build takes the DSP figure too)."""
    if not (g.input[3] == g.output[3] and g.input[0] == 1 and g.dilation == (1, 1)):
        return 0
    kh, kw = g.filter[1], g.filter[2]
    if isa == "mve":
        return 4 * CH_IN_BLOCK_MVE * kw * kh
    return g.input[3] * kw * kh * 2


def fully_connected_s4(out_features: int, isa: str) -> int:
    """``arm_fully_connected_s4``: no scratch (it ignores ``ctx``)."""
    return 0


__all__ = ["Conv", "DwConv", "avgpool_s16", "avgpool_s8", "convolve_wrapper_s16", "convolve_wrapper_s4",
           "convolve_wrapper_s8", "depthwise_conv_wrapper_s16", "depthwise_conv_wrapper_s4",
           "depthwise_conv_wrapper_s8", "fully_connected_s16", "fully_connected_s4", "fully_connected_s8",
           "kernel_sums"]
