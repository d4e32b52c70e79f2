# Two commands for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
CONFIG ?= examples/basic

.PHONY: demo test bench schemas reference install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Stamps so a second `make` does not reinstall; pyproject changes do.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed

# The demo key decrypts examples/basic; a real config uses your own key.
demo: $(VENV)/.installed
	$(BIN)/regops validate --config $(CONFIG)
	SOPS_AGE_KEY_FILE=$(CONFIG)/keys/config.agekey $(BIN)/regops render --config $(CONFIG)

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest

# Fleet benchmark (40 registries x 200 clusters x 8 namespaces); not run by CI.
bench: $(VENV)/.installed-test
	$(BIN)/python -m pip install -q -e '.[bench]'
	$(BIN)/python tests/benchmarks/bench_render.py

schemas: $(VENV)/.installed
	$(BIN)/regops schema --write schemas

# The README's field reference, generated from schemas/ (a test fails when it is stale).
reference: $(VENV)/.installed
	$(BIN)/python -m compiler.reference --write README.md

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
