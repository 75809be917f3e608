"""Fixtures of the compression tests: the C runtime compiled once (as in tests/c)."""

from __future__ import annotations

import shutil

import pytest


@pytest.fixture(scope="session")
def runtime_lib(tmp_path_factory):
    if shutil.which("gcc") is None:
        pytest.skip("no host gcc")
    from edgecc.backends.c.verify import build_runtime_library

    return build_runtime_library(tmp_path_factory.mktemp("edgecc-runtime"), "gcc")
