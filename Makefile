# `make example` compiles the bundled example (creating .venv when missing); `make test` runs pytest in it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: example test

$(VENV)/.installed: pyproject.toml setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

example: $(VENV)/.installed
	$(BIN)/edgecc compiler/examples/kws_dscnn.onnx -t cortex-m55 --calib compiler/examples/kws_calib.npz -o out/

test: $(VENV)/.installed
	$(BIN)/python -m pytest -q
