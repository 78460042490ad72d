# gisapp — see README.md. `make demo` runs the platform with demo data; `make test` runs the tests.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test down lint format deps venv js-deps bench clean

demo: deps venv ## Start PostGIS, Mosquitto, API, ingest and simulators with demo data (a disaster in progress; QUIET=1: a quiet day)
	@$(BIN)/gisapp up --demo --simulate $(if $(QUIET),--quiet-day,)

down: ## Stop everything `make demo` started
	$(BIN)/gisapp down

test: deps venv lint ## Lint, then run the tests against a real PostGIS and Mosquitto (two halves in parallel)
	$(BIN)/pytest -q -n 2 --dist loadgroup

lint: venv js-deps ## Python (ruff, import contracts) and the pages' JavaScript (Biome, biome.json)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	node_modules/.bin/biome lint --error-on-warnings frontend/static/js

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

# The JavaScript linter (package.json devDependencies, exact versions in package-lock.json), installed again
# only when the lock file is newer than the last install.
js-deps: node_modules/.installed

node_modules/.installed: package-lock.json package.json
	@command -v npm >/dev/null || { echo "npm がありません: make deps / npm is missing: run make deps"; exit 1; }
	@echo "JavaScript の検査ツールを準備中 / installing the JavaScript linter (node_modules) …"
	@npm ci --no-audit --no-fund --loglevel=error
	@touch $@

bench: deps venv
	$(BIN)/python bench/ingest_throughput.py
	$(BIN)/python bench/ingest_rate.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache node_modules
