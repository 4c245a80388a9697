# Every target creates .venv when it is missing and installs the pinned dependencies
# (constraints.txt) into it, so a fresh machine needs only Python 3.11+ and make. `demo` and
# `fake-canvas` install what the tool needs to run; the others add the developer tools
# (`.[dev]`: pytest, ruff, mypy...).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev
PIP_INSTALL = PIP_CONSTRAINT=constraints.txt $(BIN)/python -m pip install --quiet -c constraints.txt

.PHONY: demo test lint types pytest soak bench fake-canvas mutate clean venv

venv:
	test -x $(BIN)/python || { $(PYTHON) -m venv $(VENV) && \
		$(BIN)/python -m pip install --quiet --upgrade "pip>=24"; }

$(RUN_STAMP): pyproject.toml constraints.txt
	$(MAKE) --no-print-directory venv
	$(PIP_INSTALL) -e .
	touch $(RUN_STAMP)

$(DEV_STAMP): pyproject.toml constraints.txt
	$(MAKE) --no-print-directory venv
	$(PIP_INSTALL) -e ".[dev]"
	touch $(DEV_STAMP) $(RUN_STAMP)

demo: $(RUN_STAMP)
	$(BIN)/canvas-observers demo

test: lint types pytest

lint: $(DEV_STAMP)
	$(BIN)/ruff check src tests $(wildcard benchmarks tools)
	$(BIN)/ruff format --check src tests $(wildcard benchmarks tools)

types: $(DEV_STAMP)
	$(BIN)/mypy

pytest: $(DEV_STAMP)
	$(BIN)/pytest -q -m "not soak"

soak: $(DEV_STAMP)
	$(BIN)/pytest -q -m soak

bench: $(DEV_STAMP)
	$(BIN)/python benchmarks/bench.py

# Mutation testing of the safety core (docs/testing.md): long, so niced, and never part of
# `make test` or CI. `make mutate MODULES="rules files"` runs some modules only.
mutate: $(DEV_STAMP)
	nice -n 10 $(BIN)/python tools/mutate.py $(MODULES)

fake-canvas: $(RUN_STAMP)
	$(BIN)/canvas-observers fake-canvas --scenario demo

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis .mutmut mutants
