"""The generated program (``edgecc.backends.numba.program``): same numbers as the step loop, one
source per kernel set, cached by content hash, Python steps interleaved."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("numba")

from edgecc import parse_ir  # noqa: E402
from edgecc.backends.numba import compile_module  # noqa: E402

REPO = Path(__file__).resolve().parents[2]

CHAIN = """
module @m {{
  func.func @main(%x: tensor<{s}xf32>, %y: tensor<{s}xf32>) -> (tensor<{s}xf32>) {{
    %a = nn.add(%x, %y) : (tensor<{s}xf32>, tensor<{s}xf32>) -> tensor<{s}xf32>
    %b = nn.sigmoid(%a) : (tensor<{s}xf32>) -> tensor<{s}xf32>
    %c = nn.mul(%b, %x) : (tensor<{s}xf32>, tensor<{s}xf32>) -> tensor<{s}xf32>
    %d = nn.tanh(%c) : (tensor<{s}xf32>) -> tensor<{s}xf32>
    func.return(%d) : (tensor<{s}xf32>) -> ()
  }}
}}
"""


def _feeds(host, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for s in host.inputs:
        if s.dtype.kind == "f":
            out.append(rng.standard_normal(s.shape).astype(s.dtype))
        elif s.dtype == np.bool_:
            out.append(rng.random(s.shape) > 0.5)
        else:  # gather indices are small in range
            lo, hi = (0, 6) if "ind" in s.name or s.name == "idx" else (-100, 100)
            out.append(rng.integers(lo, hi, s.shape).astype(s.dtype))
    return out


def test_program_is_bitwise_the_step_loop_with_python_steps_between():
    """The round-trip file has reference fallbacks (quantized LUT ops): they stay Python calls between
    program segments, and every output is bitwise the per-step loop's."""
    module = parse_ir((REPO / "tests" / "ir" / "nn-roundtrip.mlir").read_text(), "nn-roundtrip.mlir")
    loop = compile_module(module, program=False)
    prog = compile_module(module)
    in_program, in_python = prog.program_stats
    assert in_program > 0 and in_program + in_python == len(prog.steps)
    assert in_python >= len(prog.fallbacks) > 0
    feeds = _feeds(loop)
    for a, b in zip(loop.run(feeds), prog.run(feeds)):
        np.testing.assert_array_equal(a, b)
    assert loop.program_stats is None


def test_one_program_source_per_kernel_set(tmp_path, monkeypatch):
    """Shapes and offsets are table data: two shapes of one graph share one cached source; another
    kernel set gets its own. Results match the step loop."""
    monkeypatch.setenv("EDGECC_CACHE_DIR", str(tmp_path))
    hosts = [compile_module(parse_ir(CHAIN.format(s=s))) for s in ("1x4x4x8", "2x3x5")]
    assert len(list(tmp_path.glob("prog_*.py"))) == 1
    for h in hosts:
        assert h.program_stats == (len(h.steps), 0)
        feeds = _feeds(h, 1)
        want = compile_module(parse_ir(CHAIN.format(s="x".join(map(str, h.inputs[0].shape)))),
                              program=False).run(feeds)
        np.testing.assert_array_equal(h.run(feeds)[0], want[0])
    compile_module(parse_ir((REPO / "tests" / "ir" / "nn-roundtrip.mlir").read_text(), "nn-roundtrip.mlir"))
    assert len(list(tmp_path.glob("prog_*.py"))) == 2


def test_io_buffers_live_in_the_program_blob():
    """Inputs and outputs are views of the one blob the program takes (no per-call argument unboxing)."""
    h = compile_module(parse_ir(CHAIN.format(s="1x16")))
    blob = h._calls[0][1][0]
    for buf in h.input_buffers + h.output_buffers:
        assert buf.base is blob or np.shares_memory(buf, blob)


CHAINS = """
module @m {
  func.func @main(%x: tensor<1x300xf32>, %y: tensor<1x300xf32>, %z: tensor<300xf32>) -> (tensor<1x300xf32>, tensor<1x300xf32>) {
    %c = builtin.constant() {value = dense<0.5> : tensor<1xf32>} : () -> tensor<1xf32>
    %a = nn.sigmoid(%x) : (tensor<1x300xf32>) -> tensor<1x300xf32>
    %b = nn.mul(%a, %y) : (tensor<1x300xf32>, tensor<1x300xf32>) -> tensor<1x300xf32>
    %d = nn.sub(%c, %b) : (tensor<1xf32>, tensor<1x300xf32>) -> tensor<1x300xf32>
    %e = nn.add(%d, %z) {activation = "relu6"} : (tensor<1x300xf32>, tensor<300xf32>) -> tensor<1x300xf32>
    %f = nn.tanh(%e) : (tensor<1x300xf32>) -> tensor<1x300xf32>
    %g = nn.div(%f, %x) : (tensor<1x300xf32>, tensor<1x300xf32>) -> tensor<1x300xf32>
    %h = nn.clamp(%g) {min = -2.0, max = 3.0} : (tensor<1x300xf32>) -> tensor<1x300xf32>
    %k = nn.mul(%x, %x) : (tensor<1x300xf32>, tensor<1x300xf32>) -> tensor<1x300xf32>
    %l = nn.exp(%k) : (tensor<1x300xf32>) -> tensor<1x300xf32>
    func.return(%h, %l) : (tensor<1x300xf32>, tensor<1x300xf32>) -> ()
  }
}
"""


def test_elementwise_chains_are_one_kernel_and_bitwise_the_unfused_ops():
    """sigmoid-mul-sub(scalar first)-add(relu6, rank-1 operand)-tanh-div (the clamp fused into div) runs as one tiled ``chain``
    call (tiles of 256 over 300 elements), x*x-exp as another; bitwise equal to the unfused kernels and to
    the reference interpreter within 1e-6 (float64 transcendentals rounded once, as the unfused kernels)."""
    from edgecc.interp.reference import run as reference_run

    module = parse_ir(CHAINS)
    fused = compile_module(module)
    kernels = [s.kernel for s in fused.steps]
    assert kernels == ["chain:sigmoid+mul+sub+add+tanh+div", "chain:mul+exp"], kernels
    unfused = compile_module(module, fuse=False)
    assert len(unfused.steps) == 9
    feeds = _feeds(fused, 2)
    got, want, ref = fused.run(feeds), unfused.run(feeds), reference_run(module, feeds)
    for g, w, r in zip(got, want, ref):
        np.testing.assert_array_equal(g, w)
        np.testing.assert_allclose(g, r, rtol=1e-6, atol=1e-6)
