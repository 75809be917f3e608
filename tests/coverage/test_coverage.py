"""The op coverage matrix (tests/coverage/matrix.py): every `nn` op, float32 / int8 / int16x8,
through the reference, Numba, portable C, CMSIS-NN C, TFLM and LiteRT; each cell matches the
reference interpreter or is a compile-time error of the backend; docs/coverage.md is its table."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

pytest.importorskip("tflite_micro", reason="the TFLM column needs the tflite_micro package")
pytest.importorskip("ai_edge_litert", reason="the LiteRT column needs the ai_edge_litert package")

_NAME = "edgecc_tests_coverage_matrix"
if _NAME not in sys.modules:
    _spec = importlib.util.spec_from_file_location(_NAME, Path(__file__).with_name("matrix.py"))
    sys.modules[_NAME] = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(sys.modules[_NAME])
M = sys.modules[_NAME]

# the matrix is built once per worker: keep every cell on the same one
pytestmark = pytest.mark.xdist_group("coverage-matrix")

CELLS = [(op, s, b) for op in M.nn_ops() for s in M.SCHEMES for b in M.BACKENDS]


@pytest.fixture(scope="session")
def matrix(tmp_path_factory):
    import shutil

    if shutil.which("gcc") is None:
        pytest.skip("no host gcc")
    from edgecc.backends.c.verify import cmsis_nn_path

    if cmsis_nn_path() is None:
        pytest.skip("the CMSIS-NN column needs EDGECC_CMSIS_NN")
    return M.compute(tmp_path_factory.mktemp("coverage"))


def test_every_nn_op_has_a_row():
    from edgecc.ir.spec import DIALECTS

    assert set(M.cases.CASES) | M.cases.QUANT_CASES == set(M.nn_ops())
    assert set(M.nn_ops()) | set(M.cases.ELSEWHERE) == set(DIALECTS["nn"].ops)
    assert not set(M.cases.CASES) & M.cases.QUANT_CASES


@pytest.mark.parametrize("op,scheme,backend", CELLS, ids=["-".join(c) for c in CELLS])
def test_cell_matches_the_reference_or_is_a_compile_time_error(matrix, op, scheme, backend):
    cell = matrix[op, scheme, backend]
    assert cell.status in ("pass", "error", "n/a"), cell.detail
    if cell.status == "error":
        assert cell.detail and "\n" not in cell.detail and "<unknown>" not in cell.detail


def test_integer_cells_are_na_exactly_where_tflite_has_no_integer_kernel(matrix):
    from edgecc.quant.ptq import integer_kernel

    for op in M.cases.CASES:
        for scheme, bits in (("int8", 8), ("int16x8", 16)):
            na = matrix[op, scheme, "reference"].status == "n/a"
            assert na == (not integer_kernel(op, bits)), (op, scheme)


def test_docs_coverage_md_is_current(matrix):
    want = M.markdown(matrix)
    assert M.DOC.read_text(encoding="utf-8") == want, f"docs/coverage.md is stale: run `{M.REFRESH}`"
