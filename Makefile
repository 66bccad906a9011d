# assay — the commands people and CI use. Everything runs from the project venv (.venv).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
ASSAY  := $(BIN)/assay
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=

export HF_HUB_OFFLINE := 1
export GX_ANALYTICS_ENABLED := false
export MLFLOW_DISABLE_TELEMETRY := true

.PHONY: help venv demo test lint typecheck unit airflow mlflow stop db-up db-down clean bench

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): requirements.txt requirements-dev.txt constraints.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { \
	  echo "assay needs Python 3.11: '$(PYTHON)' was not found on PATH."; \
	  echo "Install it (e.g. 'apt-get install python3.11' or pyenv), or run 'make PYTHON=/path/to/python3.11 ...'."; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' || { \
	  echo "assay needs Python 3.11, but '$(PYTHON)' is $$($(PYTHON) --version 2>&1)."; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@# pip's own output (hundreds of lines, index warnings included) goes to a log file whose path is
	@# printed; on a failure its last lines are shown. Same rule as the demo's library logs.
	@mkdir -p .assay/logs; log=.assay/logs/install-$$(date -u +%Y%m%dT%H%M%SZ).log; start=$$(date +%s); \
	  echo "installing the pinned requirements into $(VENV) (pip's log: $$log)"; \
	  { $(BIN)/python -m pip install --quiet --upgrade pip \
	    && $(BIN)/python -m pip install --quiet -r requirements.txt -r requirements-dev.txt -c constraints.txt \
	    && $(BIN)/python -m pip install --quiet --no-deps -e . ; } >"$$log" 2>&1 \
	  || { tail -n 40 "$$log"; echo "install failed: the whole log is $$log"; exit 1; }; \
	  echo "installed in $$(( $$(date +%s) - start )) s"
	@touch $(STAMP)

venv: $(STAMP) ## create .venv and install the pinned requirements

db-up: $(STAMP) ## start the embedded PostgreSQL (idempotent)
	$(ASSAY) db up

db-down: $(STAMP) ## stop the embedded PostgreSQL (data kept in .assay/pg)
	$(ASSAY) db down

demo: $(STAMP) ## run the main job end to end on the embedded PostgreSQL (V=1: library logs on the console too)
	$(ASSAY) db up
	$(ASSAY) catalog migrate
	$(ASSAY) $(if $(V),-v) demo

lint: $(STAMP) ## ruff
	$(BIN)/ruff check .

typecheck: $(STAMP) ## mypy on include/assay
	$(BIN)/mypy include/assay

unit: $(STAMP) ## fast tests only (no database)
	$(BIN)/pytest -q tests/unit $(PYTEST_ARGS)

test: $(STAMP) ## lint, type-check and the whole test suite (real PostgreSQL, GX, MLflow, Airflow)
	$(BIN)/ruff check .
	$(BIN)/mypy include/assay
	$(BIN)/pytest -q $(PYTEST_ARGS)

airflow: $(STAMP) ## Airflow standalone on the embedded PostgreSQL (background; `make stop` ends it)
	$(ASSAY) db up
	$(ASSAY) catalog migrate
	$(ASSAY) airflow up

mlflow: $(STAMP) ## MLflow UI on the same store (background; `make stop` ends it)
	$(ASSAY) db up
	$(ASSAY) mlflow-ui

bench: $(STAMP) ## benchmarks (ratios printed; results go in docs/benchmarks.md)
	$(BIN)/python -m bench

stop: ## stop Airflow, the MLflow UI and the embedded PostgreSQL
	@if [ -x $(ASSAY) ]; then $(ASSAY) airflow down; $(ASSAY) mlflow-ui --stop; $(ASSAY) db down; fi

clean: stop ## remove all local state (.assay/) — the venv stays
	rm -rf .assay
