"""Property: print -> parse -> print is a fixed point on generated graphs."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import edgecc
from edgecc.ir import Builder, DenseElements, Func, Location, Module, quant, tensor
from edgecc.ir.spec import create_op
from edgecc.ir.types import FloatType, IntegerType

INT_TYPES = [IntegerType(b, s) for b in (1, 4, 8, 16, 32, 64) for s in (True, False)]
FLOAT_TYPES = [FloatType(16), FloatType(32), FloatType(64)]
NAMES = st.text("abcxyz_0123456789./:-", min_size=1, max_size=8)
finite = st.floats(allow_nan=False, allow_infinity=False, width=32)
scales = st.floats(min_value=1e-8, max_value=1e4, allow_nan=False)


@st.composite
def quant_types(draw):
    storage = draw(st.sampled_from([IntegerType(8), IntegerType(16), IntegerType(4),
                                    IntegerType(8, False)]))
    narrow = draw(st.booleans())
    qmin = storage.min + 1 if narrow else None
    n = draw(st.integers(1, 3))
    axis = draw(st.integers(0, 2)) if n > 1 or draw(st.booleans()) else None
    zps = [draw(st.integers(storage.min + 1, storage.max)) for _ in range(n)]
    return quant(storage, [draw(scales) for _ in range(n)], zps, axis=axis, qmin=qmin)


elements = st.one_of(st.sampled_from(INT_TYPES + FLOAT_TYPES), quant_types())
shapes = st.lists(st.integers(1, 5), min_size=0, max_size=4).map(tuple)
tensor_types = st.builds(tensor, shapes, elements)


def scalar_attrs():
    return st.one_of(st.integers(-(2**40), 2**40), st.booleans(), NAMES,
                     st.floats(allow_nan=True, allow_infinity=True), tensor_types)


attr_values = st.recursive(scalar_attrs(), lambda inner: st.lists(inner, max_size=3).map(tuple),
                           max_leaves=6)


@st.composite
def dense(draw):
    t = draw(st.builds(tensor, st.lists(st.integers(1, 6), max_size=3).map(tuple),
                       st.sampled_from([IntegerType(8), IntegerType(32), FloatType(32),
                                        IntegerType(1), FloatType(16)])))
    seed = draw(st.integers(0, 1000))
    rng = np.random.default_rng(seed)
    if t.element.bits == 1:
        arr = rng.integers(0, 2, t.shape).astype(bool)
    elif isinstance(t.element, FloatType):
        arr = rng.standard_normal(t.shape).astype(t.element.numpy)
    else:
        arr = rng.integers(-100, 100, t.shape).astype(t.element.numpy)
    return DenseElements(arr, t)


locations = st.one_of(
    st.just(Location()), st.builds(Location, name=NAMES),
    st.builds(Location, name=st.none() | NAMES, file=NAMES, line=st.integers(0, 99),
              col=st.integers(0, 99)))


@st.composite
def modules(draw):
    args = draw(st.lists(tensor_types, max_size=3))
    f = Func("main", args, [draw(st.none() | NAMES) for _ in args])
    m = Module(f, name=draw(st.none() | st.sampled_from(["m", "model_1"])),
               attrs=draw(st.dictionaries(st.sampled_from(["a", "onnx.opset", "b.c"]), attr_values,
                                          max_size=2)))
    b = Builder(f)
    values = list(f.arguments)
    for _ in range(draw(st.integers(0, 8))):
        if draw(st.booleans()):
            op = b.insert(create_op("builtin.constant", [], [], {}, draw(locations)))
            d = draw(dense())
            op.attrs["value"] = d
            from edgecc.ir.core import OpResult

            op.results.append(OpResult(d.type, op, 0, draw(st.none() | NAMES)))
            values.append(op.results[0])
        else:
            operands = draw(st.lists(st.sampled_from(values), max_size=3)) if values else []
            outs = draw(st.lists(tensor_types, max_size=2))
            attrs = draw(st.dictionaries(st.sampled_from(["k", "alpha", "axes", "mode"]), attr_values,
                                         max_size=3))
            name = "onnx." + draw(st.sampled_from(["Conv", "Relu", "Custom_Op", "Split"]))
            op = b.insert(create_op(name, operands, outs, attrs, draw(locations),
                                    [draw(st.none() | NAMES) for _ in outs]))
            values.extend(op.results)
    rets = draw(st.lists(st.sampled_from(values), max_size=3)) if values else []
    b.ret(*rets)
    return m


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(modules())
def test_print_parse_print_is_fixed_point(module):
    text = edgecc.print_ir(module)
    again = edgecc.print_ir(edgecc.parse_ir(text))
    assert again == text
