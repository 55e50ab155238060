# tinhso — the two set-up commands are `make demo` and `make test` (see README.md).
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.tinhso-installed

.PHONY: help demo test install install-system assets lint typecheck check bench-gateway bench-monitoring

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

demo: install assets ## Install, load the demo data (SQLite) and serve on http://127.0.0.1:8000
	$(BIN)/tinhso demo

test: install-system install assets ## Install everything and run the whole suite on SQLite and PostgreSQL
	$(BIN)/python scripts/run_tests.py

install: $(STAMP) ## Python virtual environment with tinhso and its pinned dependencies

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade "pip==26.3"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	touch $(STAMP)

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

bench-monitoring: install ## Monitoring at national scale (bench/results/)
	$(BIN)/python -m bench.monitoring
