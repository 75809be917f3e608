"""Integer LSTM kernel (``nn.lstm``, int8x8_16 and int16x8): TFLM's cell, bit-exact with
``edgecc.interp.quantized.lstm`` (whose ``LstmParams`` the backend passes in ``p``)."""

from __future__ import annotations

import numpy as np

from edgecc.runtime.kernels._jit import helper, kernel
from edgecc.runtime.kernels.quantized import mbqm, mbqm64, wrap32

# p: 0 wide, 1 x_offset, 2 h_offset, 3-4 forget m/s, 5-6 input m/s, 7-8 hidden m/s, 9 h_zp, 10 h_min,
#    11 h_max, 12 tanh_mult, 13 tanh_shift, 14 cell_clip, 15 time_major; gm/gs: [2, 4] multipliers and
#    shifts of the input and recurrent products per gate (i, f, c, o)


@helper
def _clamp16(v):
    return min(max(v, -32768), 32767)


@helper
def _lut16(x, mult, ls, tanh, table):
    """TFLite's int16 LOGISTIC (tanh=0) / TANH (tanh=1) on one stored value."""
    rnd = (1 << (ls - 1)) if ls > 0 else 0
    d = (np.int64(x) * mult + rnd) >> ls
    a = -d if d < 0 else d
    if tanh:
        uh = a >> 8
        if uh >= 255:
            r = np.int64(0xFFFF) << 8
        else:
            r = (table[uh] << 8) + (a & 0xFF) * (table[uh + 1] - table[uh])
        r = r - (1 << 23) + (1 << 7) if d >= 0 else -r + (1 << 23) + (1 << 7) - 1
        v = r >> 8
    else:
        uh = a >> 9
        if uh >= 255:
            r = np.int64(0x7FFF) << 10
        else:
            r = (table[uh] << 9) + (a & 0x1FF) * (table[uh + 1] - table[uh])
        r = r + (1 << 9) if d >= 0 else (1 << 25) - r + (1 << 9) - 1
        v = (r & 0xFFFFFFFF) >> 10
    return ((v + 32768) & 0xFFFF) - 32768


@helper
def _gate(k, xt, h, wx, wr, bias, gm, gs, p, tanh, table, out):
    wide = p[0]
    for b in range(xt.shape[0]):
        for u in range(wx.shape[1]):
            acc = np.int64(0)
            for j in range(xt.shape[1]):
                acc += (np.int64(xt[b, j]) + p[1]) * wx[k, u, j]
            acc += bias[k, u]
            a = mbqm64(acc, gm[0, k], gs[0, k]) if wide else mbqm(wrap32(acc), gm[0, k], gs[0, k])
            acc = np.int64(0)
            for j in range(h.shape[1]):
                acc += (np.int64(h[b, j]) + p[2]) * wr[k, u, j]
            r = mbqm64(acc, gm[1, k], gs[1, k]) if wide else mbqm(wrap32(acc), gm[1, k], gs[1, k])
            s = _clamp16(_clamp16(a) + _clamp16(r))
            out[b, u] = _lut16(s, 3, 0, tanh, table)


@kernel
def qlstm(x, wx, wr, bias, h_in, c_in, y, h, c, gates, p, gm, gs, table):
    """The whole sequence: h, c start from h_in, c_in; y gets h of every step."""
    h[:] = h_in
    c[:] = c_in
    time_major = p[15]
    steps = x.shape[0] if time_major else x.shape[1]
    f, i, g, o = gates[0], gates[1], gates[2], gates[3]
    for t in range(steps):
        xt = x[t] if time_major else x[:, t]
        _gate(1, xt, h, wx, wr, bias, gm, gs, p, 0, table, f)
        _gate(0, xt, h, wx, wr, bias, gm, gs, p, 0, table, i)
        _gate(2, xt, h, wx, wr, bias, gm, gs, p, 1, table, g)
        for b in range(c.shape[0]):
            for u in range(c.shape[1]):
                fc = _clamp16(mbqm(f[b, u] * np.int64(c[b, u]), p[3], p[4]))
                ig = _clamp16(mbqm(np.int64(i[b, u]) * g[b, u], p[5], p[6]))
                v = _clamp16(fc + ig)
                if p[14] > 0:
                    v = min(max(v, -p[14]), p[14])
                c[b, u] = v
        _gate(3, xt, h, wx, wr, bias, gm, gs, p, 0, table, o)
        for b in range(c.shape[0]):
            for u in range(c.shape[1]):
                th = _lut16(c[b, u], p[12], p[13], 1, table)
                h[b, u] = min(max(mbqm(th * np.int64(o[b, u]), p[7], p[8]) + p[9], p[10]), p[11])
            for u in range(c.shape[1]):
                if time_major:
                    y[t, b, u] = h[b, u]
                else:
                    y[b, t, u] = h[b, u]
