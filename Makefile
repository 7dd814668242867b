# The README's two set-up commands. Each creates .venv on a fresh machine and installs
# what it needs: `make demo` only crossgrant with the sandbox and functions extras (a
# minute on a fresh machine), `make test` the test tools and checkov too.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.installed-demo
# checkov pins packaging<24 and ships its own fork of the hcl2 module, which clash with
# pytest and python-hcl2; it is a command-line tool, so it gets a virtualenv of its own.
CHECKOV_VENV := $(VENV)/checkov
CHECKOV := checkov==3.3.30

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(DEMO_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[sandbox,functions]'
	touch $(DEMO_STAMP)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet '$(CHECKOV)'
	touch $(STAMP)

demo: $(DEMO_STAMP)
	$(BIN)/crossgrant demo

test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy --strict src
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy --strict src

bench: $(STAMP)
	$(BIN)/python benchmarks/engine.py
	$(BIN)/python benchmarks/sandbox.py
	$(BIN)/python benchmarks/analyze.py
	$(BIN)/python benchmarks/runtime_import.py
	$(BIN)/python benchmarks/runtime.py
	$(BIN)/python benchmarks/thumbnails.py

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
