"""Integer kernels (int8 and int16x8) with TFLite Micro's reference arithmetic, bit-exact with
``edgecc.interp.quantized``.

Prepare-time parameters (Q31 multipliers and shifts, activation ranges, ADD's
scalings) are computed once by the backend with ``edgecc.quant.math``; the
per-element loops here do the fixed-point arithmetic of TFLite's
``MultiplyByQuantizedMultiplier`` (int32 double rounding for int8
activations, the int64 variant for int16):

* ``qgemm``: ``sum(w * (x - zp_x)) + bias`` per output channel, requantized
  (fully_connected, pointwise conv, conv on ``im2col`` patches filled with the
  input zero point); ``qgemm8`` is its int8 form (int32 dot products over K);
* ``qdepthwise``: the same per channel over the window;
* ``qavg_pool``: TFLM's rounded average of the valid cells;
* ``qadd``: TFLM ADD/SUB (both inputs rescaled to a common 2^left_shift
  fixed point, summed, rescaled);
* ``qlut_s8``: int8 activations (relu, clamp, sigmoid, tanh, hard_swish, hard_sigmoid ...) by a
  table the backend computes with the reference kernel.

Accumulators are int64; for int8 activations the sum is wrapped to int32
before requantization, as the C accumulator wraps.
"""

from __future__ import annotations

import numpy as np

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from edgecc.runtime.kernels._jit import CONTRACT, helper, kernel

INT32_MIN = -2147483648
INT32_MAX = 2147483647


@helper
def wrap32(x):
    return ((x + 2147483648) & 0xFFFFFFFF) - 2147483648


@helper
def srdhm(a, b):
    """gemmlowp SaturatingRoundingDoublingHighMul on int32 values held in int64."""
    if a == b and a == -2147483648:
        return np.int64(2147483647)
    ab = a * b
    t = ab + (1073741824 if ab >= 0 else 1 - 1073741824)
    return t >> 31 if t >= 0 else -((-t) >> 31)


@helper
def rdbp(x, e):
    """gemmlowp RoundingDivideByPOT: x / 2^e, ties away from zero."""
    mask = (np.int64(1) << e) - 1
    rem = x & mask
    thr = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> e) + (1 if rem > thr else 0)


@helper
def mbqm(x, m, shift):
    """TFLite MultiplyByQuantizedMultiplier(int32 x, m, shift)."""
    left = shift if shift > 0 else 0
    right = -shift if shift < 0 else 0
    return rdbp(srdhm(wrap32(x << left), m), right)


@helper
def mbqm64(x, m, shift):
    """TFLite MultiplyByQuantizedMultiplier(int64 x, m, shift) (int16x8 kernels)."""
    reduced = (m + 32768) >> 16 if m < 0x7FFF0000 else np.int64(0x7FFF)
    total = 15 - shift
    y = x * reduced + (np.int64(1) << (total - 1))
    return wrap32(y >> total)


@helper
def mbqm_pos(x, m, shift):
    """``mbqm`` for a multiplier in [0, 2^31) (every requantization multiplier): the saturating
    INT32_MIN * INT32_MIN case cannot occur, and the roundings are written as selects so the
    epilogue loops vectorise."""
    left = shift if shift > 0 else 0
    right = -shift if shift < 0 else 0
    ab = wrap32(x << left) * m
    t = ab + (1073741824 if ab >= 0 else -1073741823)
    q = (t + (2147483647 if t < 0 else 0)) >> 31
    mask = (np.int64(1) << right) - 1
    thr = (mask >> 1) + (1 if q < 0 else 0)
    return (q >> right) + (1 if (q & mask) > thr else 0)


@helper
def requant(acc, m, shift, wide):
    if wide:
        return mbqm64(acc, m, shift)
    return mbqm_pos(wrap32(acc), m, shift)


@kernel(fastmath=CONTRACT)
def qgemm(x, w, b, out, acc, x_zp, m, shift, out_zp, lo, hi, wide):
    """out[P, N] = clamp(requant(sum_k (x[p, k] - x_zp) * w[k, n] + b[n]) + out_zp).

    ``w`` [K, N] holds the integer weights as float64 and ``acc`` [4, N] is float64: every product
    and partial sum is an integer below 2^53, so the float64 sums are exact (as the reference's
    float64 BLAS products) and vectorise better than int64 multiplies. Four rows at a time, the
    reduction unrolled by four, like ``conv.gemm``.
    """
    p_, k_ = x.shape
    n_ = w.shape[1]
    k4 = k_ - k_ % 4
    zp = np.float64(x_zp)
    p = 0
    while p < p_:
        t = min(4, p_ - p)
        for j in range(4):
            for o in range(n_):
                acc[j, o] = 0.0
        for j in range(t):
            xr = x[p + j]
            ar = acc[j]
            for k in range(0, k4, 4):
                x0 = np.float64(xr[k]) - zp
                x1 = np.float64(xr[k + 1]) - zp
                x2 = np.float64(xr[k + 2]) - zp
                x3 = np.float64(xr[k + 3]) - zp
                w0 = w[k]
                w1 = w[k + 1]
                w2 = w[k + 2]
                w3 = w[k + 3]
                for o in range(n_):
                    a = ar[o]
                    a += x0 * w0[o]
                    a += x1 * w1[o]
                    a += x2 * w2[o]
                    a += x3 * w3[o]
                    ar[o] = a
            for k in range(k4, k_):
                xv = np.float64(xr[k]) - zp
                wk = w[k]
                for o in range(n_):
                    ar[o] += xv * wk[o]
        for j in range(t):
            orow = out[p + j]
            ar = acc[j]
            for o in range(n_):
                y = requant(np.int64(ar[o]) + b[o], m[o], shift[o], wide) + out_zp
                if y < lo:
                    y = lo
                if y > hi:
                    y = hi
                orow[o] = y
        p += 4


def _pair_dots(builder, ptrs, unsigned, accs, start, steps, lanes):
    """``steps`` blocks of ``lanes`` K values from ``start``: each of the 2 x 4 products widened to
    int32, its even and odd lanes added (the pattern X86 selects as ``vpmaddwd``), into the eight
    <8 x i32> ``accs`` (an 8-lane block fills their low half)."""
    i16v, i32v = ir.VectorType(ir.IntType(16), lanes), ir.VectorType(ir.IntType(32), lanes)
    idx = ir.VectorType(ir.IntType(32), lanes // 2)
    even, odd = ir.Constant(idx, list(range(0, lanes, 2))), ir.Constant(idx, list(range(1, lanes, 2)))
    half = ir.VectorType(ir.IntType(32), lanes // 2)
    widen = ir.Constant(ir.VectorType(ir.IntType(32), 8), list(range(8)))

    def load(ptr, off):
        v = builder.load(builder.bitcast(builder.gep(ptr, [off]), ir.VectorType(ptr.type.pointee, lanes)
                                         .as_pointer()), align=1)
        if unsigned[ptr]:  # uint8: 0..255 is an int16 too
            return builder.sext(builder.zext(v, i16v), i32v)
        return builder.sext(builder.sext(v, i16v) if ptr.type.pointee.width < 16 else v, i32v)

    one = ir.Constant(steps.type, lanes)
    stop = builder.add(start, builder.mul(steps, one))
    with cgutils.for_range_slice(builder, start, stop, one) as (off, _):
        xs = [load(p, off) for p in ptrs[:2]]
        ws = [load(p, off) for p in ptrs[2:]]
        for i in range(2):
            for j in range(4):
                pr = builder.mul(xs[i], ws[j])
                pair = builder.add(builder.shuffle_vector(pr, pr, even), builder.shuffle_vector(pr, pr, odd))
                if lanes < 16:
                    pair = builder.shuffle_vector(pair, ir.Constant(half, None), widen)
                acc = accs[4 * i + j]
                builder.store(builder.add(builder.load(acc), pair), acc)
    return stop


@intrinsic
def dot2x4_pairs(typingctx, r0, r1, w0, w1, w2, w3, n16, n8, sums):
    """``sums[4 i + j] = sum_k r_i[k] * w_j[k]`` (int32, wrapping) over the first ``16 n16 + 8 n8``
    K values of six contiguous int8/uint8/int16 rows, in int16 pair products summed into int32 lanes
    (``vpmaddwd``): Numba's int32 -> int64 promotion keeps LLVM from forming that pattern from a
    loop, so the vector IR is written here. Generic LLVM vectors: other targets get their own code."""
    rows = (r0, r1, w0, w1, w2, w3)
    if not all(isinstance(t, types.Array) and t.ndim == 1 and t.layout == "C"
               and t.dtype in (types.int8, types.uint8, types.int16) for t in rows) \
            or not (isinstance(sums, types.Array) and sums.dtype == types.int32 and sums.layout == "C"):
        return None
    sig = types.void(*rows, types.int64, types.int64, sums)

    def codegen(context, builder, signature, args):
        ptrs = [context.make_array(t)(context, builder, v).data for t, v in zip(rows, args[:6])]
        unsigned = {p: t.dtype == types.uint8 for p, t in zip(ptrs, rows)}
        out = context.make_array(signature.args[8])(context, builder, args[8]).data
        vt = ir.VectorType(ir.IntType(32), 8)
        accs = [cgutils.alloca_once_value(builder, ir.Constant(vt, None)) for _ in range(8)]
        start = _pair_dots(builder, ptrs, unsigned, accs, ir.Constant(args[6].type, 0), args[6], 16)
        _pair_dots(builder, ptrs, unsigned, accs, start, args[7], 8)
        red = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.IntType(32), [vt]),
                                             "llvm.vector.reduce.add.v8i32")
        for q, a_ in enumerate(accs):
            at = builder.gep(out, [ir.Constant(ir.IntType(64), q)])
            builder.store(builder.call(red, [builder.load(a_)]), at)
        return context.get_dummy_value()

    return sig, codegen


@kernel
def qgemm8(x, wt, b, corr, out, acc, sums, m, shift, out_zp, lo, hi):
    """int8 ``qgemm`` as int32 dot products over a contiguous K.

    ``wt`` [N, K] is int8 (int16 if a weight does not fit), transposed once at compile time; ``x``
    [P, K] int8 (or uint8) is read raw and ``corr[n] = -x_zp * sum_k w[k, n]`` (compile time) restores
    ``sum_k (x - x_zp) * w``. The sums wrap modulo 2^32 exactly as the C int32 accumulator (and the
    reference's final int32 wrap) does. A 2-row x 4-column tile: ``dot2x4_pairs`` sums the first
    K - K % 8 products in int16 pairs (``vpmaddwd``) with its eight accumulators in registers, a
    scalar loop the rest into ``sums`` [8] int32; columns past a multiple of 4 are plain dot
    loops (``vpmulld``). ``acc`` [2, N] int32 feeds the vectorised requantization epilogue."""
    p_, k_ = x.shape
    n_ = wt.shape[0]
    if wt.shape[1] != k_ or out.shape[0] != p_ or out.shape[1] != n_:
        raise ValueError("qgemm8: shapes of x, wt and out do not agree")
    n4 = n_ - n_ % 4
    kv = k_ - k_ % 8
    i32 = np.int32
    for p in range(0, p_, 2):
        r0 = x[p]
        r1 = x[p + 1] if p + 1 < p_ else r0
        a0 = acc[0]
        a1 = acc[1]
        for n in range(0, n4, 4):
            dot2x4_pairs(r0, r1, wt[n], wt[n + 1], wt[n + 2], wt[n + 3], kv // 16, (kv % 16) // 8, sums)
            for k in range(kv, k_):
                u = i32(r0[k])
                v = i32(r1[k])
                for j in range(4):
                    sums[j] = i32(sums[j] + u * i32(wt[n + j, k]))
                    sums[4 + j] = i32(sums[4 + j] + v * i32(wt[n + j, k]))
            for j in range(4):
                a0[n + j] = sums[j]
                a1[n + j] = sums[4 + j]
        for n in range(n4, n_):
            wn = wt[n]
            s0 = i32(0)
            s1 = i32(0)
            for k in range(k_):
                s0 = i32(s0 + i32(r0[k]) * i32(wn[k]))
                s1 = i32(s1 + i32(r1[k]) * i32(wn[k]))
            a0[n] = s0
            a1[n] = s1
        for j in range(min(2, p_ - p)):
            orow = out[p + j]
            ar = acc[j]
            for o in range(n_):
                y = mbqm_pos(wrap32(np.int64(ar[o]) + b[o] + corr[o]), m[o], shift[o]) + out_zp
                if y < lo:
                    y = lo
                if y > hi:
                    y = hi
                orow[o] = y


@kernel
def qdepthwise(x, w, b, out, acc, x_zp, m, shift, out_zp, lo, hi, wide, mult, sh, sw, pt, pl, dh, dw):
    """Integer depthwise convolution (weight [KH, KW, C*M], ``acc`` [C*M]); padding taps skipped
    (they contribute (zp - zp) * w = 0). int8: int32 ``acc``, ``w`` and ``x_zp``, so LLVM keeps
    32-bit lanes and vectorises over the channels (the sums wrap modulo 2^32 as the C int32
    accumulator and the reference's final wrap do); int16x8: int64."""
    n_, h_, w_, c_ = x.shape
    kh_, kw_, cm = w.shape
    oh_, ow_ = out.shape[1], out.shape[2]
    for n in range(n_):
        for oh in range(oh_):
            ih0 = oh * sh - pt
            for ow in range(ow_):
                iw0 = ow * sw - pl
                for o in range(cm):
                    acc[o] = 0
                for kh in range(kh_):
                    ih = ih0 + kh * dh
                    if ih < 0 or ih >= h_:
                        continue
                    for kw in range(kw_):
                        iw = iw0 + kw * dw
                        if iw < 0 or iw >= w_:
                            continue
                        xr = x[n, ih, iw]
                        wr = w[kh, kw]
                        if mult == 1:
                            for c in range(c_):
                                acc[c] += (xr[c] - x_zp) * wr[c]
                        else:
                            for c in range(c_):
                                xv = xr[c] - x_zp
                                for mm in range(mult):
                                    acc[c * mult + mm] += xv * wr[c * mult + mm]
                orow = out[n, oh, ow]
                for o in range(cm):
                    y = requant(np.int64(acc[o]) + b[o], m[o], shift[o], wide) + out_zp
                    if y < lo:
                        y = lo
                    if y > hi:
                        y = hi
                    orow[o] = y


@kernel
def qavg_pool(x, out, acc, kh_, kw_, sh, sw, pt, pl, lo, hi):
    """TFLM integer AVERAGE_POOL_2D: (sum +- count/2) / count (truncating), clamped."""
    n_, h_, w_, c_ = x.shape
    oh_, ow_ = out.shape[1], out.shape[2]
    for n in range(n_):
        for oh in range(oh_):
            ih0 = oh * sh - pt
            for ow in range(ow_):
                iw0 = ow * sw - pl
                for c in range(c_):
                    acc[c] = 0
                count = 0
                for kh in range(kh_):
                    ih = ih0 + kh
                    if ih < 0 or ih >= h_:
                        continue
                    for kw in range(kw_):
                        iw = iw0 + kw
                        if iw < 0 or iw >= w_:
                            continue
                        count += 1
                        xr = x[n, ih, iw]
                        for c in range(c_):
                            acc[c] += np.int64(xr[c])
                if count == 0:
                    raise ValueError("pooling window entirely in the padding")
                half = count // 2
                orow = out[n, oh, ow]
                for c in range(c_):
                    t = acc[c]
                    if t > 0:
                        y = (t + half) // count
                    else:
                        v = t - half
                        y = -((-v) // count)
                    if y < lo:
                        y = lo
                    if y > hi:
                        y = hi
                    orow[c] = y


@kernel
def qadd(a, b, out, shape, sa, sb, zp1, zp2, zpo, ls, m1, s1, m2, s2, mo, so, lo, hi, sub):
    """TFLM quantized ADD/SUB over a 4-D broadcast nest (see ``elementwise.binary``)."""
    o = 0
    for i0 in range(shape[0]):
        for i1 in range(shape[1]):
            for i2 in range(shape[2]):
                ia = i0 * sa[0] + i1 * sa[1] + i2 * sa[2]
                ib = i0 * sb[0] + i1 * sb[1] + i2 * sb[2]
                for i in range(shape[3]):
                    x1 = mbqm((np.int64(a[ia + i * sa[3]]) - zp1) << ls, m1, s1)
                    x2 = mbqm((np.int64(b[ib + i * sb[3]]) - zp2) << ls, m2, s2)
                    raw = wrap32(x1 - x2 if sub else x1 + x2)
                    y = mbqm(raw, mo, so) + zpo
                    if y < lo:
                        y = lo
                    if y > hi:
                        y = hi
                    out[o + i] = y
                o += shape[3]


@kernel
def qlut_s8(x, out, table):
    """int8 unary op by its 256-entry table (``edgecc.interp.quantized.tables``)."""
    for i in range(x.size):
        out[i] = table[np.int64(x[i]) + 128]


# ------------------------------------------------------------------ softmax
@helper
def _sat_mul_pot(x, e):
    """gemmlowp SaturatingRoundingMultiplyByPOT for e > 0."""
    threshold = (np.int64(1) << (31 - e)) - 1
    if x > threshold:
        return np.int64(2147483647)
    if x < -threshold:
        return np.int64(-2147483648)
    return x << e


@helper
def _one_over_one_plus_x(a):
    """gemmlowp one_over_one_plus_x_for_x_in_0_1 (Q0.31 in and out), three Newton steps."""
    s = a + 2147483647
    t = s + (1 if s >= 0 else -1)
    half_den = t // 2 if t >= 0 else -((-t) // 2)
    x = wrap32(1515870810 + srdhm(half_den, np.int64(-1010580540)))
    for _ in range(3):
        one_minus = wrap32((np.int64(1) << 29) - srdhm(half_den, x))
        x = wrap32(x + _sat_mul_pot(srdhm(x, one_minus), 2))
    return _sat_mul_pot(x, 1)


@kernel
def qsoftmax_int8(x, out, e_lut, e12_lut, valid_lut, rows, depth):
    """TFLM int8 softmax over the last axis of [rows, depth] (flat). ``e_lut``/``e12_lut``/``valid_lut``
    give exp(diff) in Q0.31, the same rescaled to Q12.19 (0 when out of range) and validity for
    diff = x - max in [-255, 0] (index diff + 255), computed at Prepare time."""
    for r in range(rows):
        row = x[r * depth:(r + 1) * depth]
        dst = out[r * depth:(r + 1) * depth]
        m = np.int64(row[0])
        for k in range(1, depth):
            if np.int64(row[k]) > m:
                m = np.int64(row[k])
        total = np.int64(0)
        for k in range(depth):
            total += e12_lut[np.int64(row[k]) - m + 255]
        total = wrap32(total)
        u = total & 0xFFFFFFFF
        headroom = 32
        while u != 0:
            u >>= 1
            headroom -= 1
        bits_over_unit = 12 - headroom
        shifted = ((total & 0xFFFFFFFF) << headroom) & 0xFFFFFFFF
        scale = _one_over_one_plus_x(wrap32(shifted - 2147483648))
        exponent = bits_over_unit + 31 - 8
        for k in range(depth):
            d = np.int64(row[k]) - m + 255
            if valid_lut[d]:
                y = rdbp(srdhm(scale, e_lut[d]), exponent) - 128
                if y < -128:
                    y = -128
                if y > 127:
                    y = 127
                dst[k] = y
            else:
                dst[k] = -128
