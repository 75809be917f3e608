"""The ONNX backend test suite through the Numba backend.

Same cases and outcome rules as ``tests/test_onnx_backend_suite.py`` (see
``edgecc.tools.onnx_coverage``), executed by ``edgecc.backends.numba``
through the ``make_backend(..., compile=...)`` adapter. Each prepared model
is compiled once (``compile_module``); kernels are compiled once per process
and element type, and loaded from Numba's disk cache in later processes. The
largest light_* models are marked slow, as in the reference suite. The counts
per category are printed at the end of the module and must equal the
reference interpreter's (698 passes with the slow models, 695 without).
"""

from __future__ import annotations

import logging

import pytest

pytest.importorskip("onnx")
pytest.importorskip("numba")

from edgecc.tools.onnx_coverage import collect_cases, format_counts, run_case, summarize  # noqa: E402

logging.disable(logging.WARNING)
CASES = collect_cases()
RESULTS: list = []
#: cases failing for reasons outside the backend, with the reason (xfail, not strict)
KNOWN_FAILURES: dict[str, str] = {}


def _backend():
    from edgecc.backends.numba import compile_module
    from edgecc.interp.onnx_backend import make_backend

    return make_backend("NumbaBackend", compile=lambda module: compile_module(module))


BACKEND = None


@pytest.fixture(scope="module", autouse=True)
def _print_counts(request):
    yield
    if not RESULTS:
        return
    text = "ONNX backend suite (Numba backend):\n" + format_counts(summarize(RESULTS))
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
def test_onnx_backend_case_numba(case, request):
    global BACKEND
    if case.slow and "slow" not in (request.config.option.markexpr or ""):
        pytest.skip("large light_* model: run with -m slow")
    if BACKEND is None:
        BACKEND = _backend()
    outcome = run_case(case, BACKEND)
    RESULTS.append((case, outcome))
    if outcome.status == "skip":
        pytest.skip(f"{outcome.skip_kind}: {outcome.reason}")
    if outcome.status == "fail":
        if case.id in KNOWN_FAILURES:
            pytest.xfail(KNOWN_FAILURES[case.id])
        pytest.fail(outcome.reason, pytrace=False)
