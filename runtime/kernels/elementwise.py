"""Elementwise kernels: broadcasting binary ops, unary activations, softmax, cast, (de)quantize.

Arrays are passed flat (1-D, contiguous output); broadcasting is described
by a shape and per-operand element strides of rank ``RANK`` (0 for a
broadcast dimension), computed once by the backend after merging adjacent
dimensions. The operation is an integer code (``BINARY``/``UNARY``): the
branch on it is loop invariant, so LLVM unswitches it out of the inner loop.

Rounding follows the reference interpreter exactly: IEEE float32 arithmetic
for + - * / min max and simple activations; transcendental and composite
functions (sigmoid, tanh, erf, exp, log, sqrt, rsqrt, hard_swish, softmax)
are evaluated in float64 and rounded once to float32.
"""

from __future__ import annotations

import math

import numpy as np

from edgecc.runtime.kernels._jit import helper, kernel

#: rank of the broadcast loop nests (shapes are left-padded with 1s)
RANK = 4

BINARY = {"add": 0, "sub": 1, "mul": 2, "div": 3, "maximum": 4, "minimum": 5, "pow": 6, "prelu": 7}
UNARY = {"relu": 0, "clamp": 1, "sigmoid": 2, "tanh": 3, "hard_swish": 4, "hard_sigmoid": 5,
         "leaky_relu": 6, "exp": 7, "log": 8, "sqrt": 9, "rsqrt": 10, "abs": 11, "neg": 12, "erf": 13,
         "copy": 14}


@helper
def clamp(v, lo, hi):
    if v < lo:
        v = lo
    if v > hi:
        v = hi
    return v


@helper
def _binary(op, x, y):
    if op == 0:
        return x + y
    elif op == 1:
        return x - y
    elif op == 2:
        return x * y
    elif op == 3:
        return x / y
    elif op == 4:
        if x != x:
            return x
        return x if x >= y else y
    elif op == 5:
        if x != x:
            return x
        return x if x <= y else y
    elif op == 6:
        return x ** y
    else:
        return x if x >= 0 else x * y


@kernel
def binary(op, a, b, out, shape, sa, sb, lo, hi):
    """out = clamp(a OP b) over a 4-D broadcast nest (``shape``, element strides ``sa``/``sb``).

    Inner loops index slices from offset 0 so they vectorise (no negative-index wraparound).
    """
    n0, n1, n2, n3 = shape[0], shape[1], shape[2], shape[3]
    a3, b3 = sa[3], sb[3]
    o = 0
    for i0 in range(n0):
        for i1 in range(n1):
            for i2 in range(n2):
                ia = i0 * sa[0] + i1 * sa[1] + i2 * sa[2]
                ib = i0 * sb[0] + i1 * sb[1] + i2 * sb[2]
                dst = out[o:o + n3]
                if a3 == 1 and b3 == 1:
                    xa = a[ia:ia + n3]
                    xb = b[ib:ib + n3]
                    for i in range(n3):
                        dst[i] = clamp(_binary(op, xa[i], xb[i]), lo, hi)
                elif a3 == 1:
                    xa = a[ia:ia + n3]
                    y = b[ib]
                    for i in range(n3):
                        dst[i] = clamp(_binary(op, xa[i], y), lo, hi)
                elif b3 == 1:
                    x = a[ia]
                    xb = b[ib:ib + n3]
                    for i in range(n3):
                        dst[i] = clamp(_binary(op, x, xb[i]), lo, hi)
                else:
                    for i in range(n3):
                        dst[i] = clamp(_binary(op, a[ia + i * a3], b[ib + i * b3]), lo, hi)
                o += n3


@kernel
def int_div(a, b, out, shape, sa, sb):
    """Integer division truncating toward zero (C semantics, as ONNX), over a broadcast nest."""
    o = 0
    for i0 in range(shape[0]):
        for i1 in range(shape[1]):
            for i2 in range(shape[2]):
                ia = i0 * sa[0] + i1 * sa[1] + i2 * sa[2]
                ib = i0 * sb[0] + i1 * sb[1] + i2 * sb[2]
                for i in range(shape[3]):
                    x = np.int64(a[ia + i * sa[3]])
                    y = np.int64(b[ib + i * sb[3]])
                    ay = y if y >= 0 else -y
                    if ay == 0:
                        ay = 1
                    ax = x if x >= 0 else -x
                    q = ax // ay
                    out[o + i] = -q if (x < 0) != (y < 0) else q
                o += shape[3]


@helper
def _unary(op, x, p0, p1):
    if op == 0:
        return x if not x < 0 else 0
    elif op == 1:
        return clamp(x, p0, p1)
    elif op == 2:
        return 1.0 / (1.0 + math.exp(-np.float64(x)))
    elif op == 3:
        return math.tanh(np.float64(x))
    elif op == 4:
        d = np.float64(x)
        return d * min(max(d + 3.0, 0.0), 6.0) / 6.0
    elif op == 5:
        return clamp(p0 * x + p1, 0.0, 1.0)
    elif op == 6:
        return x if x >= 0 else x * p0
    elif op == 7:
        return math.exp(np.float64(x))
    elif op == 8:
        d = np.float64(x)
        if d < 0:
            return math.nan
        if d == 0:
            return -math.inf
        return math.log(d)
    elif op == 9:
        d = np.float64(x)
        return math.sqrt(d) if d >= 0 else math.nan
    elif op == 10:
        d = np.float64(x)
        return 1.0 / math.sqrt(d) if d >= 0 else math.nan
    elif op == 11:
        return abs(x)
    elif op == 12:
        return -x
    elif op == 13:
        return math.erf(np.float64(x))
    else:
        return x


@kernel
def unary(op, x, out, p0, p1):
    """out = f(x) for one of ``UNARY`` (flat arrays); p0/p1 are alpha/beta or clamp bounds."""
    for i in range(out.size):
        out[i] = _unary(op, x[i], p0, p1)


@kernel
def softmax(x, out, acc, outer, n, inner, beta, log):
    """(log_)softmax over the middle axis of [outer, n, inner] (flat arrays), in float64."""
    for o in range(outer):
        for i in range(inner):
            base = o * n * inner + i
            m = -math.inf
            for k in range(n):
                v = np.float64(x[base + k * inner])
                if v > m or v != v:
                    m = v
            s = 0.0
            for k in range(n):
                d = np.float64(x[base + k * inner]) - m
                if log:
                    acc[k] = d
                    s += math.exp(d)
                else:
                    e = math.exp(beta * d)
                    acc[k] = e
                    s += e
            if log:
                ls = math.log(s)
                for k in range(n):
                    out[base + k * inner] = acc[k] - ls
            else:
                for k in range(n):
                    out[base + k * inner] = acc[k] / s


@kernel
def cast(x, out, mode):
    """Element conversion: mode 0 plain, 1 float -> int (truncate), 2 -> bool (x != 0)."""
    for i in range(out.size):
        if mode == 2:
            out[i] = x[i] != 0
        elif mode == 1:
            out[i] = math.trunc(x[i])
        else:
            out[i] = x[i]


@kernel
def quantize(x, out, scale, zp, inner, qmin, qmax, half_away):
    """saturate(round(x / scale) + zp), the division in float32; ``scale``/``zp`` per index of the
    middle axis of [outer, A, inner] (length 1 for per-tensor).

    ``half_away``: round half away from zero with NaN -> int32 min and int32 saturation
    (TFLite QUANTIZE); else round half to even (ONNX QuantizeLinear).
    """
    na = scale.size
    for i in range(out.size):
        k = (i // inner) % na
        q = x[i] / scale[k]
        if half_away:
            if q != q:
                r = -2147483648.0
            else:
                d = np.float64(q)
                r = math.floor(abs(d) + 0.5)
                if d < 0:
                    r = -r
                r = min(max(r, -2147483648.0), 2147483647.0)
        else:
            r = np.float64(np.rint(q))
        v = r + zp[k]
        if v < qmin:
            v = qmin
        if v > qmax:
            v = qmax
        out[i] = v


@kernel
def dequantize(x, out, scale, zp, inner):
    """float32(x - zp) * scale, parameters per index of the middle axis (see ``quantize``)."""
    na = scale.size
    for i in range(out.size):
        k = (i // inner) % na
        out[i] = np.float32(np.int64(x[i]) - zp[k]) * scale[k]


#: elements of a ``chain`` tile (kept in L1 while every op of the chain runs over it)
CHAIN_TILE = 256


@kernel
def chain(ops, params, x, e0, e1, e2, e3, out, tmp):
    """A fused chain of unary/binary float ops over flat arrays, one tile at a time.

    ``ops[k] = (kind, code, slot, reversed)``: kind 0 is ``UNARY[code]`` with ``params[k]`` as
    (p0, p1); kind 1 is ``BINARY[code]`` of the running value and operand ``e<slot>`` (the
    operand first when ``reversed``), clamped to ``params[k]``. An operand of one element is
    broadcast. Each op rounds to float32 in ``tmp`` exactly as the ``unary``/``binary`` kernels
    store, so results are bitwise the unfused ones; out may alias x or any operand (element i
    is read before it is written).
    """
    n = out.size
    for s in range(0, n, CHAIN_TILE):
        m = min(CHAIN_TILE, n - s)
        t = tmp[:m]
        xs = x[s:s + m]
        for i in range(m):
            t[i] = xs[i]
        for k in range(ops.shape[0]):
            code = ops[k, 1]
            p0, p1 = params[k, 0], params[k, 1]
            if ops[k, 0] == 0:
                for i in range(m):
                    t[i] = _unary(code, t[i], p0, p1)
                continue
            slot = ops[k, 2]
            e = e0 if slot == 0 else e1 if slot == 1 else e2 if slot == 2 else e3
            if e.size == 1:
                y = e[0]
                if ops[k, 3]:
                    for i in range(m):
                        t[i] = clamp(_binary(code, y, t[i]), p0, p1)
                else:
                    for i in range(m):
                        t[i] = clamp(_binary(code, t[i], y), p0, p1)
            else:
                es = e[s:s + m]
                if ops[k, 3]:
                    for i in range(m):
                        t[i] = clamp(_binary(code, es[i], t[i]), p0, p1)
                else:
                    for i in range(m):
                        t[i] = clamp(_binary(code, t[i], es[i]), p0, p1)
        dst = out[s:s + m]
        for i in range(m):
            dst[i] = t[i]
