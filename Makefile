# `make run` and `make test` set everything up on a fresh machine (Python 3.11+).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/orm-monitor --demo run

lint: install
	$(BIN)/ruff check monitor connectors alerts tests bench training
	$(BIN)/ruff format --check monitor connectors alerts tests bench training
	$(BIN)/mypy
	$(BIN)/lint-imports --no-logo --no-cache

test: install lint
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python bench/alert_latency.py
	$(BIN)/python bench/idle_memory.py
	$(BIN)/python bench/digest.py

clean:
	rm -rf $(VENV) var build *.egg-info
