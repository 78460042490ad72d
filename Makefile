# gisapp — see README.md. `make demo` runs the platform with demo data; `make test` runs the tests.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test down lint format deps venv bench clean

demo: deps venv ## Start PostGIS, Mosquitto, API, ingest and simulators with demo data (a disaster in progress; QUIET=1: a quiet day)
	@$(BIN)/gisapp up --demo --simulate $(if $(QUIET),--quiet-day,)

down: ## Stop everything `make demo` started
	$(BIN)/gisapp down

test: deps venv lint ## Lint, then run the tests against a real PostGIS and Mosquitto
	$(BIN)/pytest -q

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

deps:
	@scripts/install-debs.sh

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "Python の環境を準備中 / installing the Python environment (.venv) …"
	@$(BIN)/python -m pip install -q --upgrade pip
	@$(BIN)/python -m pip install -q -e '.[test]'
	@touch $@

bench: deps venv
	$(BIN)/python bench/ingest_throughput.py
	$(BIN)/python bench/ingest_rate.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
