# `make run` and `make test` do all set-up on a fresh machine: a .venv with pinned dependencies.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint clean docs bench

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/utvag demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/pytest

clean:
	rm -rf $(VENV) var

docs: $(STAMP)
	UTVAG_CONVERSATIONS_DOC=docs/conversations.md $(BIN)/pytest -q -k "not postgresql" tests/handlers

bench: $(STAMP)
	$(BIN)/python -m bench.run
