# tinhso — the two set-up commands are `make demo` and `make test` (see README.md).
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.tinhso-installed

.PHONY: help demo test install install-system assets lint typecheck check lock bench-gateway bench-monitoring bench-opendata

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

demo: install assets ## Install, load the demo data (SQLite) and serve on http://127.0.0.1:8000
	$(BIN)/tinhso demo

test: install-system install assets ## Install everything and run the whole suite on SQLite and PostgreSQL
	$(BIN)/python scripts/run_tests.py

install: $(STAMP) ## Python virtual environment with tinhso and its pinned dependencies

# Every package, transitive ones and the build back-end included, comes from requirements.lock
# with its hashes (pip --require-hashes); tinhso itself is then installed editable on top.
$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check --disable-pip-version-check >/dev/null
	touch $(STAMP)

lock: install ## Refresh requirements.lock from pyproject.toml (exact pins, every transitive package, hashes)
	$(BIN)/uv pip compile pyproject.toml scripts/build-requirements.in --extra dev --generate-hashes \
		--universal --python-version 3.11 --quiet -o requirements.lock

install-system: ## Debian packages: PostgreSQL, Redis, Chromium, nginx, wrk, fonts
	bash scripts/install-system.sh

assets: ## Front-end assets from the npm registry (htmx, ECharts) into the portal's static/vendor
	bash scripts/vendor-assets.sh

lint: install ## ruff
	$(BIN)/ruff check src tests bench migrations scripts
	$(BIN)/ruff format --check src tests bench migrations scripts

typecheck: install ## mypy --strict
	$(BIN)/mypy

check: lint typecheck ## lint and type-check

bench-gateway: install-system install ## Gateway throughput and latency against nginx (bench/results/)
	$(BIN)/python -m bench.gateway

bench-monitoring: install-system install ## Monitoring at national scale through tinhso serve on PostgreSQL and SQLite, DuckDB/pandas as reference (bench/results/)
	$(BIN)/python -m bench.monitoring

bench-opendata: install-system install ## Open data search and datastore through the HTTP API, SQLite and PostgreSQL (bench/results/)
	$(BIN)/python -m bench.opendata
