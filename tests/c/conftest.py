"""Fixtures of the C backend tests: the runtime compiled once per session, model loading."""

from __future__ import annotations

import shutil

import pytest


@pytest.fixture(scope="session")
def gcc():
    if shutil.which("gcc") is None:
        pytest.skip("no host gcc")
    return "gcc"


@pytest.fixture(scope="session")
def runtime_lib(gcc, tmp_path_factory):
    """The portable runtime compiled once with -std=c99 -Wall -Wextra -Werror."""
    from edgecc.backends.c.verify import build_runtime_library

    return build_runtime_library(tmp_path_factory.mktemp("edgecc-runtime"), gcc)
