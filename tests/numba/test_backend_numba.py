"""``edgecc.backends.numba.compile_module`` against the reference interpreter, op by op.

Float results must equal the reference within 1e-5 (relative and absolute);
integer and quantized results exactly. Each variant (arena planning on/off,
fusion on/off, float64 accumulation) must give the same numbers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("numba")

from edgecc import parse_ir  # noqa: E402
from edgecc.backends.numba import compile_module  # noqa: E402
from edgecc.interp.reference import run as reference_run  # noqa: E402
from edgecc.ir.diagnostics import EdgeccError  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def feeds_for(module, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for a in module.func.arguments:
        t = a.type
        dt = t.element.numpy
        if dt.kind == "f":
            out.append(rng.standard_normal(t.shape).astype(dt))
        elif dt == np.bool_:
            out.append(rng.random(t.shape) > 0.5)
        else:
            lo, hi = (0, 6) if "indices" in (a.name_hint or "") or a.name_hint == "idx" else (-100, 100)
            out.append(rng.integers(lo, hi, t.shape).astype(dt))
    return out


def check(module, feeds=None, **kw):
    feeds = feeds if feeds is not None else feeds_for(module)
    want = reference_run(module, feeds)
    host = compile_module(module, **kw)
    got = host.run(feeds)
    assert len(got) == len(want)
    for k, (g, w) in enumerate(zip(got, want)):
        assert g.shape == w.shape and g.dtype == w.dtype, f"output {k}: {g.shape} {g.dtype} vs {w.shape} {w.dtype}"
        if w.dtype.kind == "f":
            np.testing.assert_allclose(g.astype(np.float64), w.astype(np.float64), rtol=1e-5, atol=1e-5,
                                       err_msg=f"output {k}")
        else:
            np.testing.assert_array_equal(g, w, err_msg=f"output {k}")
    again = host.run(feeds)  # buffers are reused: a second run gives the same result
    for g, h in zip(got, again):
        np.testing.assert_array_equal(g, h)
    return host


def test_every_nn_op_of_the_roundtrip_file():
    text = (REPO / "tests" / "ir" / "nn-roundtrip.mlir").read_text()
    module = parse_ir(text, "nn-roundtrip.mlir")
    host = check(module)
    quantized = {op.name for op in module.ops
                 if any(getattr(v.type, "is_quantized", False) for v in (*op.operands, *op.results))}
    float_fallbacks = [n for n in host.fallbacks if n not in quantized]
    assert not float_fallbacks, float_fallbacks


@pytest.mark.parametrize("kw", [dict(plan=False), dict(fuse=False), dict(accumulate="float64"),
                                dict(fast_calls=False)])
def test_variants_agree(kw):
    text = (REPO / "tests" / "ir" / "nn-roundtrip.mlir").read_text()
    check(parse_ir(text, "nn-roundtrip.mlir"), **kw)


FUSION = """
module @m {
  func.func @main(%x: tensor<1x6x6x8xf32>, %r: tensor<1x6x6x4xf32>) -> (tensor<1x6x6x4xf32>, tensor<1x6x6x4xf32>, tensor<1x6x6x4xf32>) {
    %w = builtin.constant() {value = dense<0.25> : tensor<4x3x3x8xf32>} : () -> tensor<4x3x3x8xf32>
    %b = builtin.constant() {value = dense<[0.5, -0.5, 1.0, -1.0]> : tensor<4xf32>} : () -> tensor<4xf32>
    %c = nn.conv2d(%x, %w, %b) {pads = [1, 1, 1, 1]} : (tensor<1x6x6x8xf32>, tensor<4x3x3x8xf32>, tensor<4xf32>) -> tensor<1x6x6x4xf32>
    %s = nn.add(%c, %r) {activation = "relu"} : (tensor<1x6x6x4xf32>, tensor<1x6x6x4xf32>) -> tensor<1x6x6x4xf32>
    %c2 = nn.conv2d(%x, %w, %b) {pads = [1, 1, 1, 1], activation = "relu6"} : (tensor<1x6x6x8xf32>, tensor<4x3x3x8xf32>, tensor<4xf32>) -> tensor<1x6x6x4xf32>
    %s2 = nn.add(%r, %c2) : (tensor<1x6x6x4xf32>, tensor<1x6x6x4xf32>) -> tensor<1x6x6x4xf32>
    %c3 = nn.conv2d(%x, %w) {pads = [1, 1, 1, 1], activation = "relu"} : (tensor<1x6x6x8xf32>, tensor<4x3x3x8xf32>) -> tensor<1x6x6x4xf32>
    %k = nn.clamp(%c3) {min = -2.0, max = 0.75} : (tensor<1x6x6x4xf32>) -> tensor<1x6x6x4xf32>
    func.return(%s, %s2, %k) : (tensor<1x6x6x4xf32>, tensor<1x6x6x4xf32>, tensor<1x6x6x4xf32>) -> ()
  }
}
"""


def test_epilogue_fusion():
    module = parse_ir(FUSION)
    host = check(module)
    ops = [s.op for s in host.steps]
    assert "nn.add" not in ops and "nn.clamp" not in ops, ops
    unfused = check(module, fuse=False)
    assert "nn.add" in [s.op for s in unfused.steps]


MOVEMENT = """
module @m {
  func.func @main(%x: tensor<2x3x4x5xf32>, %i: tensor<2x2xi64>, %y: tensor<3x1x5xf32>) -> (tensor<2x4x5x3xf32>, tensor<2x3xf32>, tensor<4x7x6x5xf32>, tensor<2x2x2x4x5xf32>, tensor<2x1x4x1xf32>, tensor<2x3x4x5xf32>, tensor<1x2x2x3xf32>, tensor<2x3x4x5xf32>) {
    %t = nn.transpose(%x) {perm = [0, 2, 3, 1]} : (tensor<2x3x4x5xf32>) -> tensor<2x4x5x3xf32>
    %m = nn.reduce_max(%x) {axes = [2, 3], keepdims = false} : (tensor<2x3x4x5xf32>) -> tensor<2x3xf32>
    %p = nn.pad(%x) {pads = [1, 2, 1, 0, 1, 2, 1, 0], mode = "reflect"} : (tensor<2x3x4x5xf32>) -> tensor<4x7x6x5xf32>
    %g = nn.gather(%x, %i) {axis = 1} : (tensor<2x3x4x5xf32>, tensor<2x2xi64>) -> tensor<2x2x2x4x5xf32>
    %r = nn.mean(%x) {axes = [1, 3]} : (tensor<2x3x4x5xf32>) -> tensor<2x1x4x1xf32>
    %b = nn.mul(%x, %y) : (tensor<2x3x4x5xf32>, tensor<3x1x5xf32>) -> tensor<2x3x4x5xf32>
    %s = nn.slice(%x) {begin = [1, 2, 3, 4], end = [0, 0, 0, 0], strides = [-1, -1, -2, -2]} : (tensor<2x3x4x5xf32>) -> tensor<1x2x2x2xf32>
    %st = nn.slice(%t) {begin = [1, 0, 0, 0], end = [2, 2, 4, 3], strides = [1, 1, 2, 1]} : (tensor<2x4x5x3xf32>) -> tensor<1x2x2x3xf32>
    %e = nn.pad(%b) {pads = [0, 0, 0, 0, 0, 0, 0, 0], mode = "edge"} : (tensor<2x3x4x5xf32>) -> tensor<2x3x4x5xf32>
    func.return(%t, %m, %p, %g, %r, %b, %st, %e) : (tensor<2x4x5x3xf32>, tensor<2x3xf32>, tensor<4x7x6x5xf32>, tensor<2x2x2x4x5xf32>, tensor<2x1x4x1xf32>, tensor<2x3x4x5xf32>, tensor<1x2x2x3xf32>, tensor<2x3x4x5xf32>) -> ()
  }
}
"""


def test_movement_reductions_broadcasting():
    module = parse_ir(MOVEMENT)
    feeds = feeds_for(module)
    feeds[1] = np.array([[0, 2], [-1, 1]], np.int64)
    host = check(module, feeds)
    assert not host.fallbacks


def test_gather_index_out_of_range_is_a_clean_error():
    module = parse_ir(MOVEMENT)
    feeds = feeds_for(module)
    feeds[1] = np.array([[0, 7], [0, 1]], np.int64)
    host = compile_module(module)
    with pytest.raises(EdgeccError, match="nn.gather"):
        host.run(feeds)


RUNTIME_WEIGHTS = """
module @m {
  func.func @main(%x: tensor<1x5x5x4xf32>, %w: tensor<6x3x3x2xf32>, %dw: tensor<1x3x3x8xf32>, %fw: tensor<3x100xf32>, %a: tensor<2x1x3x4xf32>, %bb: tensor<5x4x2xf32>) -> (tensor<1x3x3x6xf32>, tensor<1x5x5x8xf32>, tensor<1x3xf32>, tensor<2x5x3x2xf32>) {
    %c = nn.conv2d(%x, %w) {groups = 2, dilations = [1, 1]} : (tensor<1x5x5x4xf32>, tensor<6x3x3x2xf32>) -> tensor<1x3x3x6xf32>
    %d = nn.depthwise_conv2d(%x, %dw) {depth_multiplier = 2, pads = [1, 1, 1, 1]} : (tensor<1x5x5x4xf32>, tensor<1x3x3x8xf32>) -> tensor<1x5x5x8xf32>
    %f = nn.reshape(%x) {shape = [1, 100]} : (tensor<1x5x5x4xf32>) -> tensor<1x100xf32>
    %y = nn.fully_connected(%f, %fw) : (tensor<1x100xf32>, tensor<3x100xf32>) -> tensor<1x3xf32>
    %m = nn.matmul(%a, %bb) : (tensor<2x1x3x4xf32>, tensor<5x4x2xf32>) -> tensor<2x5x3x2xf32>
    func.return(%c, %d, %y, %m) : (tensor<1x3x3x6xf32>, tensor<1x5x5x8xf32>, tensor<1x3xf32>, tensor<2x5x3x2xf32>) -> ()
  }
}
"""


def test_weights_fed_at_run_time_grouped_and_multiplier():
    module = parse_ir(RUNTIME_WEIGHTS)
    check(module)
    host = compile_module(module)
    f1, f2 = feeds_for(module, 1), feeds_for(module, 2)
    for f in (f1, f2):  # weights change between runs: relaid out every run
        for g, w in zip(host.run(f), reference_run(module, f)):
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)


HALF = """
module @m {
  func.func @main(%x: tensor<2x8xf16>, %y: tensor<8xf16>) -> (tensor<2x8xf16>, tensor<8x2xf16>, tensor<2x8xf32>) {
    %a = nn.add(%x, %y) : (tensor<2x8xf16>, tensor<8xf16>) -> tensor<2x8xf16>
    %s = nn.sigmoid(%a) : (tensor<2x8xf16>) -> tensor<2x8xf16>
    %t = nn.transpose(%s) {perm = [1, 0]} : (tensor<2x8xf16>) -> tensor<8x2xf16>
    %c = nn.cast(%s) {to = f32} : (tensor<2x8xf16>) -> tensor<2x8xf32>
    func.return(%s, %t, %c) : (tensor<2x8xf16>, tensor<8x2xf16>, tensor<2x8xf32>) -> ()
  }
}
"""


def test_float16_through_float32_shadows():
    host = check(parse_ir(HALF))
    assert not host.fallbacks


def test_input_checks():
    module = parse_ir(HALF)
    host = compile_module(module)
    with pytest.raises(EdgeccError, match="dtype"):
        host.run([np.zeros((2, 8), np.float32), np.zeros(8, np.float16)])
    with pytest.raises(EdgeccError, match="shape"):
        host.run([np.zeros((3, 8), np.float16), np.zeros(8, np.float16)])
    with pytest.raises(EdgeccError, match="expected 2 inputs"):
        host.run([np.zeros((2, 8), np.float16)])


def test_arena_is_smaller_than_one_buffer_per_value():
    text = (REPO / "compiler" / "examples" / "kws_dscnn.onnx")
    from edgecc.frontend import import_onnx

    module = import_onnx(text)
    planned = compile_module(module)
    per_value = sum(op.result.type.nbytes for op in module.ops
                    if op.results and op.name not in ("builtin.constant",))
    assert 0 < planned.arena_bytes < per_value


@pytest.mark.parametrize("scale", [0.02, 0.1, 0.5, 2.0])
def test_int8_softmax_bit_exact(scale):
    text = f"""
module @m {{
  func.func @main(%x: tensor<6x37x!quant.uniform<i8:f32, {scale}:3>>) -> (tensor<6x37x!quant.uniform<i8:f32, 0.00390625:-128>>) {{
    %y = nn.softmax(%x) : (tensor<6x37x!quant.uniform<i8:f32, {scale}:3>>) -> tensor<6x37x!quant.uniform<i8:f32, 0.00390625:-128>>
    func.return(%y) : (tensor<6x37x!quant.uniform<i8:f32, 0.00390625:-128>>) -> ()
  }}
}}
"""
    module = parse_ir(text)
    x = np.random.default_rng(7).integers(-128, 128, (6, 37)).astype(np.int8)
    x[0] = 5  # a constant row
    x[1, :] = -128
    x[1, 3] = 127  # one large value
    host = check(module, [x])
    assert not host.fallbacks


@pytest.mark.parametrize("bits", [8, 16])
def test_integer_conv_depthwise_fc_bit_exact(bits):
    """int8 and int16x8 conv2d (3x3 and pointwise), depthwise and fully_connected against the integer
    reference (per-channel weights, fused activations, zero points)."""
    import json

    rng = np.random.default_rng(bits)
    act = f"i{bits}"
    zp = 0 if bits == 16 else -5
    bias_t = "i64" if bits == 16 else "i32"
    xq = f"!quant.uniform<{act}:f32, 0.05:{zp}>"
    yq = f"!quant.uniform<{act}:f32, 0.08:{zp}>"

    def wq(n, axis):
        scales = ", ".join(f"{s:.4f}:0" for s in 0.002 + 0.01 * rng.random(n))
        return f"!quant.uniform<i8<-127:127>:f32:{axis}, {{{scales}}}>"

    def dense(a):
        return json.dumps(a.tolist())

    w1 = rng.integers(-127, 128, (6, 3, 3, 4))
    w2 = rng.integers(-127, 128, (5, 1, 1, 6))
    dw = rng.integers(-127, 128, (1, 3, 3, 5))
    fw = rng.integers(-127, 128, (3, 125))
    b1, b2 = rng.integers(-3000, 3000, 6), rng.integers(-3000, 3000, 5)
    t1, t2, tdw, tf = wq(6, 0), wq(5, 0), wq(5, 3), wq(3, 0)
    text = f"""
module @m {{
  func.func @main(%x: tensor<1x6x6x4x{xq}>) -> (tensor<1x5x5x5x{yq}>, tensor<1x3x{yq}>) {{
    %w1 = builtin.constant() {{value = dense<{dense(w1)}> : tensor<6x3x3x4x{t1}>}} : () -> tensor<6x3x3x4x{t1}>
    %b1 = builtin.constant() {{value = dense<{dense(b1)}> : tensor<6x{bias_t}>}} : () -> tensor<6x{bias_t}>
    %c1 = nn.conv2d(%x, %w1, %b1) {{pads = [1, 0, 0, 1], strides = [1, 1], activation = "relu"}} : (tensor<1x6x6x4x{xq}>, tensor<6x3x3x4x{t1}>, tensor<6x{bias_t}>) -> tensor<1x5x5x6x{yq}>
    %w2 = builtin.constant() {{value = dense<{dense(w2)}> : tensor<5x1x1x6x{t2}>}} : () -> tensor<5x1x1x6x{t2}>
    %b2 = builtin.constant() {{value = dense<{dense(b2)}> : tensor<5x{bias_t}>}} : () -> tensor<5x{bias_t}>
    %c2 = nn.conv2d(%c1, %w2, %b2) : (tensor<1x5x5x6x{yq}>, tensor<5x1x1x6x{t2}>, tensor<5x{bias_t}>) -> tensor<1x5x5x5x{yq}>
    %dw = builtin.constant() {{value = dense<{dense(dw)}> : tensor<1x3x3x5x{tdw}>}} : () -> tensor<1x3x3x5x{tdw}>
    %d = nn.depthwise_conv2d(%c2, %dw) {{pads = [1, 1, 1, 1], activation = "relu6"}} : (tensor<1x5x5x5x{yq}>, tensor<1x3x3x5x{tdw}>) -> tensor<1x5x5x5x{yq}>
    %f = nn.reshape(%d) {{shape = [1, 125]}} : (tensor<1x5x5x5x{yq}>) -> tensor<1x125x{yq}>
    %fw = builtin.constant() {{value = dense<{dense(fw)}> : tensor<3x125x{tf}>}} : () -> tensor<3x125x{tf}>
    %y = nn.fully_connected(%f, %fw) : (tensor<1x125x{yq}>, tensor<3x125x{tf}>) -> tensor<1x3x{yq}>
    func.return(%d, %y) : (tensor<1x5x5x5x{yq}>, tensor<1x3x{yq}>) -> ()
  }}
}}
"""
    module = parse_ir(text)
    info = np.iinfo(np.int16 if bits == 16 else np.int8)
    x = rng.integers(max(info.min, -2000), min(info.max, 2000) + 1, (1, 6, 6, 4)).astype(info.dtype)
    host = check(module, [x])
    assert not host.fallbacks, host.fallbacks


@pytest.mark.parametrize("op, attrs", [("nn.hard_sigmoid", "{alpha = 0.16666667, beta = 0.5}"),
                                       ("nn.hard_sigmoid", "{alpha = 0.2, beta = 0.5}"), ("nn.hard_swish", ""),
                                       ("nn.sigmoid", ""), ("nn.leaky_relu", "{alpha = 0.1}")])
def test_int8_activations_run_by_table_bit_exact(op, attrs):
    """int8 unary ops run as a 256-entry table of the integer reference kernel (no fallback)."""
    xq, yq = "!quant.uniform<i8:f32, 0.05:7>", "!quant.uniform<i8:f32, 0.0039215689:-128>"
    if op in ("nn.hard_swish", "nn.leaky_relu"):
        yq = "!quant.uniform<i8:f32, 0.03:-20>"
    elif op == "nn.sigmoid":
        yq = "!quant.uniform<i8:f32, 0.00390625:-128>"
    text = f"""
module @m {{
  func.func @main(%x: tensor<4x64x{xq}>) -> (tensor<4x64x{yq}>) {{
    %y = {op}(%x) {attrs} : (tensor<4x64x{xq}>) -> tensor<4x64x{yq}>
    func.return(%y) : (tensor<4x64x{yq}>) -> ()
  }}
}}
"""
    module = parse_ir(text)
    x = np.resize(np.arange(-128, 128), (4, 64)).astype(np.int8)
    host = check(module, [x])
    assert not host.fallbacks


@pytest.mark.parametrize("p, k, n, wdt, xdt", [(1, 1, 1, np.int8, np.int8), (7, 13, 9, np.int8, np.int8),
                                               (6, 40, 4, np.int8, np.int8), (5, 31, 8, np.int8, np.uint8),
                                               (3, 24, 7, np.int16, np.int8)])
def test_qgemm8_odd_shapes_bit_exact(p, k, n, wdt, xdt):
    """The int8 GEMM kernel (2x4 tile plus row/column remainders, input zero point folded into a
    per-column correction) equals sum((x - zp) * w) + b wrapped to int32 and requantized by the
    reference arithmetic, at shapes no tile divides and with sums that overflow int32; int8 weights,
    and int16 ones for weights outside int8; int8 and uint8 activations."""
    from edgecc.quant import math as qm
    from edgecc.runtime.kernels import quantized as Q

    rng = np.random.default_rng(p * 100 + k * 10 + n)
    info = np.iinfo(xdt)
    x = rng.integers(info.min, info.max + 1, (p, k)).astype(xdt)
    x[0, :] = info.min
    x[-1, :] = info.max
    w = rng.integers(-127, 128, (k, n)).astype(np.int16)
    if wdt == np.int16:
        w[-1, -1] = 300
    b = rng.integers(-20000, 20000, n).astype(np.int64)
    b[0] = 2**31 - 1000  # the sum wraps to int32 (else column 0 would clamp to hi, not lo)
    zp, out_zp, lo, hi = 7, -3, -128, 100
    m = rng.integers(1 << 30, 1 << 31, n).astype(np.int64)
    s = rng.integers(-13, -9, n).astype(np.int64)  # outputs spread over the int8 range, few clamp
    corr = -zp * w.sum(axis=0, dtype=np.int64)
    out = np.zeros((p, n), np.int8)
    scratch = (np.zeros((2, n), np.int32), np.zeros(8, np.int32))
    Q.qgemm8(x, np.ascontiguousarray(w.T, dtype=wdt), b, corr, out, *scratch, m, s, np.int64(out_zp), np.int64(lo),
             np.int64(hi))
    acc = qm.wrap_int32((x.astype(np.int64) - zp) @ w.astype(np.int64) + b)
    want = np.clip(qm.multiply_by_quantized_multiplier(acc, m, s) + out_zp, lo, hi)
    np.testing.assert_array_equal(out, want)
    assert p * n < 9 or len(np.unique(want)) > p * n // 3  # not all clamped
