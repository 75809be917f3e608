"""The ONNX backend test suite through ``edgecc.interp.onnx_backend.ReferenceBackend``.

Cases: ``onnx.backend.test.case.node.collect_testcases()`` plus the
``pytorch-converted``, ``pytorch-operator`` and ``light_*`` data of the
installed onnx package (see ``edgecc.tools.onnx_coverage`` for the outcome
rules). A model the frontend refuses (op without a converter, unsupported
feature) is skipped; any other difference fails. The largest light_* models
are marked slow (``-m slow``). The counts per category are printed at the
end of the module.
"""

from __future__ import annotations

import logging

import pytest

pytest.importorskip("onnx")

from edgecc.tools.onnx_coverage import collect_cases, format_counts, run_case, summarize  # noqa: E402

#: cases failing for reasons outside the interpreter, with the reason (xfail, not strict)
KNOWN_FAILURES: dict[str, str] = {}

logging.disable(logging.WARNING)
CASES = collect_cases()
RESULTS: list = []


@pytest.fixture(scope="module", autouse=True)
def _print_counts(request):
    yield
    if not RESULTS:
        return
    text = "ONNX backend suite (reference interpreter):\n" + format_counts(summarize(RESULTS))
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if capture is not None:
        with capture.global_and_fixture_disabled():
            print("\n" + text)
    else:  # pragma: no cover
        print(text)


def _param(case):
    marks = [pytest.mark.slow] if case.slow else []
    return pytest.param(case, id=case.id, marks=marks)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_onnx_backend_case(case, request):
    if case.slow and "slow" not in (request.config.option.markexpr or ""):
        pytest.skip("large light_* model: run with -m slow")
    outcome = run_case(case)
    RESULTS.append((case, outcome))
    if outcome.status == "skip":
        pytest.skip(f"{outcome.skip_kind}: {outcome.reason}")
    if outcome.status == "fail":
        if case.id in KNOWN_FAILURES:
            pytest.xfail(KNOWN_FAILURES[case.id])
        pytest.fail(outcome.reason, pytrace=False)


# ------------------------------------------------------------- the adapter
def _model(nodes, inputs, outputs, inits=()):
    from onnx import helper

    graph = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def test_adapter_reuse_with_another_run_function():
    import numpy as np
    from onnx import TensorProto, helper

    from edgecc.interp import reference
    from edgecc.interp.onnx_backend import make_backend

    calls = []

    def my_run(module, inputs):
        calls.append(module)
        return reference.run(module, inputs)

    backend = make_backend("CountingBackend", run=my_run)
    model = _model([helper.make_node("Relu", ["x"], ["y"])],
                   [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
                   [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])])
    x = np.array([[-1, 2, -3], [4, -5, 6]], np.float32)
    (y,) = backend.run_model(model, [x])
    np.testing.assert_array_equal(y, np.maximum(x, 0))
    assert len(calls) == 1 and backend.supports_device("CPU") and not backend.supports_device("CUDA")


def test_adapter_run_node_and_frozen_parameter_inputs():
    import numpy as np
    from onnx import TensorProto, helper

    from edgecc.interp.onnx_backend import ReferenceBackend

    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    (y,) = ReferenceBackend.run_node(helper.make_node("Sigmoid", ["x"], ["y"]), [x])
    np.testing.assert_allclose(y, 1 / (1 + np.exp(-x)), rtol=1e-6)
    model = _model([helper.make_node("Reshape", ["x", "shape"], ["y"])],
                   [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3]),
                    helper.make_tensor_value_info("shape", TensorProto.INT64, [2])],
                   [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    rep = ReferenceBackend.prepare(model)
    for shape in ([3, 2], [6, 1]):
        (y,) = rep.run({"x": x, "shape": np.array(shape, np.int64)})
        np.testing.assert_array_equal(y, x.reshape(shape))
        assert rep.frozen_inputs == ["shape"]
