"""The targets database: cores, boards, fit checks, errors listing the choices."""

from __future__ import annotations

import pytest

from edgecc.ir.diagnostics import EdgeccError
from edgecc.targets import board, board_names, check_fit, core, core_names, resolve

CORES = ("cortex-m0", "cortex-m0plus", "cortex-m3", "cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55",
         "cortex-m85", "generic")


def test_every_core_is_listed():
    for name in CORES:
        assert name in core_names()


@pytest.mark.parametrize("name,isa,fpu", [
    ("cortex-m0", "none", False), ("cortex-m0plus", "none", False), ("cortex-m3", "none", False),
    ("cortex-m4", "dsp", True), ("cortex-m7", "dsp", True), ("cortex-m33", "dsp", True),
    ("cortex-m55", "mve", True), ("cortex-m85", "mve", True), ("generic", "none", True)])
def test_core_features(name, isa, fpu):
    c = core(name)
    assert c.isa == isa and c.has_fpu == fpu
    assert c.alignment in (4, 8, 16)
    if name.startswith("cortex-m"):
        assert f"-mcpu={name}" in c.cflags and "-mthumb" in c.cflags
        assert c.kernels == "cmsis-nn"
    else:
        assert c.kernels == "portable" and not c.cflags


@pytest.mark.parametrize("name,cpu,flash,ram", [
    ("nrf52840", "cortex-m4", 1 << 20, 256 << 10), ("stm32f746", "cortex-m7", 1 << 20, 320 << 10),
    ("stm32h743", "cortex-m7", 2 << 20, 1 << 20), ("rp2040", "cortex-m0plus", 2 << 20, 264 << 10),
    ("corstone-300", "cortex-m55", 4 << 20, 2 << 20)])
def test_boards(name, cpu, flash, ram):
    b = board(name)
    assert (b.core.name, b.flash, b.ram) == (cpu, flash, ram)
    assert name in board_names()


def test_rp2040_flash_is_external():
    assert board("rp2040").flash_external and not board("nrf52840").flash_external


def test_unknown_core_and_board_list_choices():
    with pytest.raises(EdgeccError, match="unknown core 'cortex-m5'.*choose from .*cortex-m55"):
        core("cortex-m5")
    with pytest.raises(EdgeccError, match="unknown board 'nrf5284'.*did you mean 'nrf52840'"):
        board("nrf5284")


def test_resolve_target_and_board():
    c, b = resolve(None, "stm32f746")
    assert c.name == "cortex-m7" and b.name == "stm32f746"
    assert resolve("cortex-m55", None)[0].name == "cortex-m55"
    assert resolve(None, None)[0].name == "generic"
    with pytest.raises(EdgeccError, match="has a cortex-m4, but -t asks for cortex-m7"):
        resolve("cortex-m7", "nrf52840")


def test_check_fit_gives_numbers_and_options():
    b = board("nrf52840")
    check_fit(b, 500_000, 100_000)
    with pytest.raises(EdgeccError) as e:
        check_fit(b, 2_000_000, 300_000)
    msg = str(e.value)
    assert "flash needs 2,000,000 B" in msg and "RAM needs 300,000 B" in msg and "262,144 B" in msg
    assert "--quantize int8" in msg and "int8-w4" in msg
    with pytest.raises(EdgeccError) as e:
        check_fit(b, 10, 300_000, quantized=True, resizable=True)
    assert "--quantize int8 " not in str(e.value) and "--input-shape" in str(e.value)
    with pytest.raises(EdgeccError) as e:  # a fixed resolution: no --input-shape hint
        check_fit(b, 10, 300_000, quantized=True)
    assert "--input-shape" not in str(e.value)
    assert "fits nrf52840" in check_fit(b, 500_000, 100_000) and "B free" in check_fit(b, 500_000, 100_000)
