# Every target creates .venv when it is missing and installs the pinned dependencies
# (constraints.txt) into it, so a fresh machine needs only Python 3.11+ and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint types pytest soak bench fake-canvas mutate clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	PIP_CONSTRAINT=constraints.txt $(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/canvas-observers demo

test: lint types pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests $(wildcard benchmarks tools)
	$(BIN)/ruff format --check src tests $(wildcard benchmarks tools)

types: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest -q -m "not soak"

soak: $(STAMP)
	$(BIN)/pytest -q -m soak

bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py

# Mutation testing of the safety core (docs/testing.md): long, so niced, and never part of
# `make test` or CI. `make mutate MODULES="rules files"` runs some modules only.
mutate: $(STAMP)
	nice -n 10 $(BIN)/python tools/mutate.py $(MODULES)

fake-canvas: $(STAMP)
	$(BIN)/canvas-observers fake-canvas --scenario demo

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis .mutmut mutants
