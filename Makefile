# The two commands a newcomer runs: `make demo` and `make test`. Each creates .venv if missing.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test faults bench bench-quick lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# One stamp per extra set, remade when pyproject.toml or constraints.txt changes.
$(VENV)/.stamp-base: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c constraints.txt -e .
	touch $@

$(VENV)/.stamp-test: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $@

$(VENV)/.stamp-bench: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test,bench]'
	touch $@

demo: $(VENV)/.stamp-base
	$(BIN)/pylo demo

# The type check is part of the tests (CI runs `make test`): mypy --strict, from pyproject.toml.
test: $(VENV)/.stamp-test
	$(BIN)/python -m mypy --strict src/pylo
	tests/web/install-browser
	$(BIN)/python -m pytest

faults: $(VENV)/.stamp-test
	$(BIN)/python -m pytest tests/faults tests/test_bad_input.py

lint: $(VENV)/.stamp-test
	$(BIN)/python -m mypy --strict src/pylo

bench: $(VENV)/.stamp-bench
	$(BIN)/python benchmarks/run.py

bench-quick: $(VENV)/.stamp-bench
	$(BIN)/python benchmarks/run.py --quick

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis pylo-demo-store
