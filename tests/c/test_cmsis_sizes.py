"""CMSIS-NN scratch sizes: edgecc's rules against CMSIS-NN's own *_get_buffer_size functions
(compiled on the host from the checkout named by EDGECC_CMSIS_NN; skipped without it)."""

from __future__ import annotations

import os
import random
import subprocess
from pathlib import Path

import pytest

from edgecc.backends.c import cmsis_sizes as S


def test_known_figures():
    g = S.Conv((1, 32, 32, 16), (16, 3, 3, 16), (1, 32, 32, 16), (1, 1))
    assert S.convolve_wrapper_s8(g, "none") == S.convolve_wrapper_s8(g, "dsp") == 576
    assert S.convolve_wrapper_s8(g, "mve") == 576
    one = S.Conv((1, 8, 8, 16), (32, 1, 1, 16), (1, 8, 8, 32))
    assert S.convolve_wrapper_s8(one, "none") == 0 and S.convolve_wrapper_s8(one, "dsp") == 64
    dw = S.DwConv((1, 25, 5, 64), (1, 3, 3, 64), (1, 25, 5, 64), (1, 1))
    assert S.depthwise_conv_wrapper_s8(dw, "dsp") == 0 and S.depthwise_conv_wrapper_s8(dw, "mve") == 4464
    assert S.fully_connected_s8(12, "mve") == 48 and S.fully_connected_s8(12, "dsp") == 0
    assert S.avgpool_s8(1, 64, "dsp") == 256 and S.avgpool_s8(1, 64, "mve") == 0
    assert S.kernel_sums([[1, 2], [3, -4]], [10, 20], 3) == [19, 17]


def geometries(n: int = 300):
    rng = random.Random(7)
    for i in range(n):
        c = rng.choice([1, 2, 3, 4, 8, 16, 24])
        kh, kw = rng.choice([(1, 1), (3, 3), (1, 3), (3, 1), (5, 5), (1, 5), (10, 4)])
        h = 1 if i % 5 == 0 else rng.randint(kh, 12)
        if h < kh:
            kh = 1
        w = rng.randint(kw, 12)
        s = (rng.choice([1, 2]), rng.choice([1, 2]))
        p = (rng.choice([0, 1]) if kh > 1 else 0, rng.choice([0, 1]) if kw > 1 else 0)
        d = (1, 1) if i % 3 else (rng.choice([1, 2]), 1)
        oh = (h + 2 * p[0] - d[0] * (kh - 1) - 1) // s[0] + 1
        ow = (w + 2 * p[1] - d[1] * (kw - 1) - 1) // s[1] + 1
        if oh < 1 or ow < 1:
            continue
        cout = rng.choice([c, 2 * c, 8, 16])
        mult = rng.choice([1, 1, 2])
        yield c, kh, kw, h, w, s, p, d, oh, ow, cout, mult


HARNESS = r"""
#include <stdio.h>
#include "arm_nnfunctions.h"
int main(void) {
    int c, kh, kw, h, w, sh, sw, ph, pw, dh, dw, oh, ow, cout, mult;
    while (scanf("%d %d %d %d %d %d %d %d %d %d %d %d %d %d %d", &c, &kh, &kw, &h, &w, &sh, &sw, &ph, &pw,
                 &dh, &dw, &oh, &ow, &cout, &mult) == 15) {
        cmsis_nn_conv_params cp = {0, 0, {sw, sh}, {pw, ph}, {dw, dh}, {-128, 127}};
        cmsis_nn_dims in = {1, h, w, c}, f = {cout, kh, kw, c}, o = {1, oh, ow, cout};
        cmsis_nn_dw_conv_params dp = {0, 0, mult, {sw, sh}, {pw, ph}, {dw, dh}, {-128, 127}};
        cmsis_nn_dims df = {1, kh, kw, c * mult}, dout = {1, oh, ow, c * mult};
        printf("%d %d %d %d %d %d\n",
               arm_convolve_wrapper_s8_get_buffer_size(&cp, &in, &f, &o),
               arm_convolve_wrapper_s8_get_buffer_size_dsp(&cp, &in, &f, &o),
               arm_convolve_wrapper_s8_get_buffer_size_mve(&cp, &in, &f, &o),
               arm_depthwise_conv_wrapper_s8_get_buffer_size(&dp, &in, &df, &dout),
               arm_depthwise_conv_wrapper_s8_get_buffer_size_dsp(&dp, &in, &df, &dout),
               arm_depthwise_conv_wrapper_s8_get_buffer_size_mve(&dp, &in, &df, &dout));
    }
    return 0;
}
"""


def test_scratch_sizes_match_cmsis_nn(tmp_path, gcc):
    root = os.environ.get("EDGECC_CMSIS_NN")
    if not root:
        pytest.skip("EDGECC_CMSIS_NN is not set (a CMSIS-NN checkout)")
    root = Path(root)
    srcs = [p for p in (root / "Source" / "ConvolutionFunctions").glob("*get_buffer_sizes_s8.c")]
    (tmp_path / "h.c").write_text(HARNESS)
    exe = tmp_path / "h"
    subprocess.run([gcc, "-std=c99", "-O1", "-I", str(root / "Include"), str(tmp_path / "h.c"), *map(str, srcs),
                    "-o", str(exe)], check=True)
    rows = list(geometries())
    stdin = "\n".join(" ".join(str(x) for x in (c, kh, kw, h, w, s[0], s[1], p[0], p[1], d[0], d[1], oh, ow,
                                               cout, mult)) for c, kh, kw, h, w, s, p, d, oh, ow, cout, mult in rows)
    out = subprocess.run([str(exe)], input=stdin, capture_output=True, text=True, check=True).stdout.split("\n")
    checked = 0
    for (c, kh, kw, h, w, s, p, d, oh, ow, cout, mult), line in zip(rows, out):
        none, dsp, mve, dw_none, dw_dsp, dw_mve = (int(v) for v in line.split())
        g = S.Conv((1, h, w, c), (cout, kh, kw, c), (1, oh, ow, cout), p, s, d)
        assert S.convolve_wrapper_s8(g, "none") == none, g
        assert S.convolve_wrapper_s8(g, "mve") == mve, g
        ours = S.convolve_wrapper_s8(g, "dsp")
        one_by_one_fast = kh == kw == 1 and p == (0, 0) and d == (1, 1) and s == (1, 1)
        assert ours == dsp or (one_by_one_fast and ours == 4 * c and dsp == 0), g
        dg = S.DwConv((1, h, w, c), (1, kh, kw, c * mult), (1, oh, ow, c * mult), p, s, d)
        assert S.depthwise_conv_wrapper_s8(dg, "none") == dw_none, dg
        assert S.depthwise_conv_wrapper_s8(dg, "dsp") == dw_dsp, dg
        assert S.depthwise_conv_wrapper_s8(dg, "mve") >= dw_mve, dg
        if not (c == 1 and 1 < c * mult <= 8):
            assert S.depthwise_conv_wrapper_s8(dg, "mve") == dw_mve, dg
        checked += 1
    assert checked > 200


def test_known_figures_s16_s4():
    g = S.Conv((1, 8, 8, 3), (4, 3, 3, 3), (1, 8, 8, 4), (1, 1))
    assert S.convolve_wrapper_s16(g, "dsp") == 108 and S.convolve_wrapper_s16(g, "mve") == 256
    assert S.convolve_wrapper_s4(g, "none") == 108 and S.convolve_wrapper_s4(g, "mve") == 128
    one = S.Conv((1, 8, 8, 16), (32, 1, 1, 16), (1, 8, 8, 32))
    assert S.convolve_wrapper_s4(one, "mve") == 0 and S.convolve_wrapper_s16(one, "none") == 64
    dw = S.DwConv((1, 25, 5, 64), (1, 3, 3, 64), (1, 25, 5, 64), (1, 1))
    assert S.depthwise_conv_wrapper_s16(dw, "none") == 0 and S.depthwise_conv_wrapper_s16(dw, "dsp") == 1152
    assert S.depthwise_conv_wrapper_s16(dw, "mve") == 4616
    assert S.depthwise_conv_wrapper_s4(dw, "none") == 1152 and S.depthwise_conv_wrapper_s4(dw, "mve") == 4464
    assert S.avgpool_s16(1, 64, "dsp") == 256 and S.fully_connected_s16(10, "mve") == 0


HARNESS_S16_S4 = r"""
#include <stdio.h>
#include "arm_nnfunctions.h"
int main(void) {
    int c, kh, kw, h, w, sh, sw, ph, pw, dh, dw, oh, ow, cout, mult;
    while (scanf("%d %d %d %d %d %d %d %d %d %d %d %d %d %d %d", &c, &kh, &kw, &h, &w, &sh, &sw, &ph, &pw,
                 &dh, &dw, &oh, &ow, &cout, &mult) == 15) {
        cmsis_nn_conv_params cp = {0, 0, {sw, sh}, {pw, ph}, {dw, dh}, {-128, 127}};
        cmsis_nn_dims in = {1, h, w, c}, f = {cout, kh, kw, c}, o = {1, oh, ow, cout};
        cmsis_nn_dw_conv_params dp = {0, 0, mult, {sw, sh}, {pw, ph}, {dw, dh}, {-128, 127}};
        cmsis_nn_dims df = {1, kh, kw, c * mult}, dout = {1, oh, ow, c * mult};
        cmsis_nn_dims fc = {c * kh * kw, 1, 1, cout};
        printf("%d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d\n",
               arm_convolve_wrapper_s16_get_buffer_size(&cp, &in, &f, &o),
               arm_convolve_wrapper_s16_get_buffer_size_dsp(&cp, &in, &f, &o),
               arm_convolve_wrapper_s16_get_buffer_size_mve(&cp, &in, &f, &o),
               arm_depthwise_conv_wrapper_s16_get_buffer_size(&dp, &in, &df, &dout),
               arm_depthwise_conv_wrapper_s16_get_buffer_size_dsp(&dp, &in, &df, &dout),
               arm_depthwise_conv_wrapper_s16_get_buffer_size_mve(&dp, &in, &df, &dout),
               arm_convolve_wrapper_s4_get_buffer_size(&cp, &in, &f, &o),
               arm_convolve_wrapper_s4_get_buffer_size_dsp(&cp, &in, &f, &o),
               arm_convolve_wrapper_s4_get_buffer_size_mve(&cp, &in, &f, &o),
               arm_depthwise_conv_wrapper_s4_get_buffer_size(&dp, &in, &df, &dout),
               arm_depthwise_conv_wrapper_s4_get_buffer_size_dsp(&dp, &in, &df, &dout),
               arm_depthwise_conv_wrapper_s4_get_buffer_size_mve(&dp, &in, &df, &dout),
               arm_fully_connected_s16_get_buffer_size(&fc),
               arm_fully_connected_s16_get_buffer_size_dsp(&fc),
               arm_fully_connected_s16_get_buffer_size_mve(&fc),
               arm_avgpool_s16_get_buffer_size(ow, c),
               arm_avgpool_s16_get_buffer_size_dsp(ow, c),
               arm_avgpool_s16_get_buffer_size_mve(ow, c));
    }
    return 0;
}
"""


def test_scratch_sizes_s16_s4_match_cmsis_nn(tmp_path, gcc):
    """The host build of CMSIS-NN has neither DSP nor MVE: its generic ``*_get_buffer_size`` is the
    "none" figure (for the s4 depthwise it is the DSP rule, as on a plain-C Cortex-M build)."""
    root = os.environ.get("EDGECC_CMSIS_NN")
    if not root:
        pytest.skip("EDGECC_CMSIS_NN is not set (a CMSIS-NN checkout)")
    root = Path(root)
    srcs = [p for d in ("ConvolutionFunctions", "FullyConnectedFunctions", "PoolingFunctions")
            for p in (root / "Source" / d).glob("*get_buffer_sizes_s*.c")]
    (tmp_path / "h.c").write_text(HARNESS_S16_S4)
    exe = tmp_path / "h"
    subprocess.run([gcc, "-std=c99", "-O1", "-I", str(root / "Include"), str(tmp_path / "h.c"), *map(str, srcs),
                    "-o", str(exe)], check=True)
    rows = list(geometries())
    stdin = "\n".join(" ".join(str(x) for x in (c, kh, kw, h, w, s[0], s[1], p[0], p[1], d[0], d[1], oh, ow,
                                               cout, mult)) for c, kh, kw, h, w, s, p, d, oh, ow, cout, mult in rows)
    out = subprocess.run([str(exe)], input=stdin, capture_output=True, text=True, check=True).stdout.split("\n")
    checked = 0
    for (c, kh, kw, h, w, s, p, d, oh, ow, cout, mult), line in zip(rows, out):
        v = [int(x) for x in line.split()]
        g = S.Conv((1, h, w, c), (cout, kh, kw, c), (1, oh, ow, cout), p, s, d)
        dg = S.DwConv((1, h, w, c), (1, kh, kw, c * mult), (1, oh, ow, c * mult), p, s, d)
        assert [S.convolve_wrapper_s16(g, i) for i in ("none", "dsp", "mve")] == v[0:3], g
        assert [S.depthwise_conv_wrapper_s16(dg, i) for i in ("none", "dsp", "mve")] == v[3:6], dg
        assert [S.convolve_wrapper_s4(g, i) for i in ("none", "dsp", "mve")] == v[6:9], g
        assert [S.depthwise_conv_wrapper_s4(dg, i) for i in ("none", "dsp", "mve")] == v[9:12], dg
        assert [S.fully_connected_s16(cout, i) for i in ("none", "dsp", "mve")] == v[12:15]
        assert [S.avgpool_s16(ow, c, i) for i in ("none", "dsp", "mve")] == v[15:18]
        checked += 1
    assert checked > 200
