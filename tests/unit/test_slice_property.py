"""nn.slice: the verifier's inferred shape, the reference interpreter and numpy agree."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from edgecc.dialects import nn
from edgecc.interp.reference import run
from edgecc.ir import Builder, EdgeccError, Func, Module, tensor


@st.composite
def slices(draw):
    dim = draw(st.integers(1, 7))
    stride = draw(st.sampled_from([1, 2, 3, -1, -2, -3]))
    if stride > 0:
        begin, end = draw(st.integers(0, dim)), draw(st.integers(0, dim))
    else:
        begin, end = draw(st.integers(0, dim - 1)), draw(st.integers(-1, dim - 1))
    return dim, begin, end, stride


@settings(max_examples=300, deadline=None)
@given(slices())
def test_slice_shape_matches_reference_and_numpy(case):
    dim, begin, end, stride = case
    x = np.arange(dim, dtype=np.float32)
    want = x[begin:(None if end == -1 else end):stride]  # end -1 with a negative stride: through 0
    f = Func("main", [tensor((dim,))], ["x"])
    b = Builder(f)
    try:
        op = b.create(nn.SliceOp, f.arguments[0], begin=[begin], end=[end], strides=[stride])
    except EdgeccError:
        assert want.size == 0  # only empty slices may be refused
        return
    b.ret(op.result)
    Module(f).verify()
    assert op.result.type.shape == want.shape
    np.testing.assert_array_equal(run(Module(f), [x])[0], want)
