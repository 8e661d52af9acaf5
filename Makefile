# Two commands on a fresh machine: `make demo` (the closed-loop demo on the embedded default) and
# `make test` (lint, then the suite). Both create .venv when it is missing and install into it.
VENV ?= .venv
PY := $(VENV)/bin/python
RETRAIN_HOME ?= $(CURDIR)/.retrain_home
DAGSTER_HOME ?= $(RETRAIN_HOME)/dagster
export RETRAIN_HOME DAGSTER_HOME

CHROMIUM ?= /usr/bin/chromium

.PHONY: install demo test test-fast dev bench feast-apply mlflow-ui lint fmt clean

$(VENV)/.installed: pyproject.toml setup.py constraints.txt
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -c constraints.txt -e ".[dev]"
	@touch $@

install: $(VENV)/.installed

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	@mkdir -p $(DAGSTER_HOME) && cp dagster.yaml $@

# The closed loop: backfill, then the sensors and automation decide day by day (options:
# `make demo DEMO_ARGS="--days 70 --drift-day 45"`, see `retrain-platform demo --help`).
DEMO_ARGS ?=
demo: install $(DAGSTER_HOME)/dagster.yaml
	$(VENV)/bin/retrain-platform demo $(DEMO_ARGS)

# The browser tests drive Debian's Chromium (no browser download); install it when missing.
$(CHROMIUM):
	@echo "installing Debian's chromium for the browser tests"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null

# Two workers (pytest-xdist), each test file on one worker so module-scoped homes are built once:
# most of the suite waits on Dagster runs, servers and daemons in other processes.
PYTEST_WORKERS ?= auto
test: lint $(CHROMIUM)
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile --durations=15

test-fast: install
	$(PY) -m pytest -m "not slow"

# `dg dev` (the project is a dg project, [tool.dg] in pyproject.toml); `dagster dev -w
# workspace.yaml` still works too.
dev: install $(DAGSTER_HOME)/dagster.yaml
	$(VENV)/bin/dg dev -h 127.0.0.1 -p 3000

# Production profile (docs/production.md): the same code on PostgreSQL instance storage.
# deploy/production/dagster.yaml goes into its own Dagster home under the platform home; every
# connection value comes from DAGSTER_PG_*, RETRAIN_MLFLOW_PG_* and RETRAIN_FEAST_REDIS (the
# passwords may be set but empty).
PRODUCTION_DAGSTER_HOME ?= $(RETRAIN_HOME)/dagster-production
PRODUCTION_PORT ?= 3000
PRODUCTION_PG_VARS := DAGSTER_PG_HOST DAGSTER_PG_PORT DAGSTER_PG_DB DAGSTER_PG_USERNAME \
	DAGSTER_PG_PASSWORD RETRAIN_MLFLOW_PG_HOST RETRAIN_MLFLOW_PG_PORT RETRAIN_MLFLOW_PG_DB \
	RETRAIN_MLFLOW_PG_USERNAME RETRAIN_MLFLOW_PG_PASSWORD RETRAIN_FEAST_REDIS

.PHONY: dev-production
dev-production: install
	@missing=""; for v in $(PRODUCTION_PG_VARS); do \
	  printenv $$v >/dev/null || missing="$$missing $$v"; done; \
	if [ -n "$$missing" ]; then \
	  echo "dev-production: set$$missing (see docs/production.md)" >&2; exit 2; fi
	@mkdir -p $(PRODUCTION_DAGSTER_HOME)
	cp deploy/production/dagster.yaml $(PRODUCTION_DAGSTER_HOME)/dagster.yaml
	DAGSTER_HOME=$(PRODUCTION_DAGSTER_HOME) RETRAIN_PROFILE=production \
	$(VENV)/bin/dagster dev -w workspace.yaml -h 127.0.0.1 -p $(PRODUCTION_PORT)

bench: install
	$(PY) -m benchmarks.ingest_validate
	$(PY) -m benchmarks.point_in_time
	$(PY) -m benchmarks.online_store
	$(PY) -m benchmarks.drift
	$(PY) -m benchmarks.serving
	$(PY) -m benchmarks.backtest

# Style, formatting and the import direction (contracts in pyproject.toml [tool.importlinter]).
LINT_PATHS := retrain_platform retrain_platform_tests benchmarks feature_store
lint: install
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/ruff format --check $(LINT_PATHS)
	$(VENV)/bin/lint-imports

fmt: install
	$(VENV)/bin/ruff check --fix $(LINT_PATHS)
	$(VENV)/bin/ruff format $(LINT_PATHS)

mlflow-ui: install
	@mkdir -p $(RETRAIN_HOME)/mlflow/artifacts
	$(VENV)/bin/mlflow ui --backend-store-uri sqlite:///$(RETRAIN_HOME)/mlflow/mlflow.db \
	  --default-artifact-root $(RETRAIN_HOME)/mlflow/artifacts --host 127.0.0.1 --port 5000

feast-apply: install
	@mkdir -p $(RETRAIN_HOME)
	cd feature_store && ../$(VENV)/bin/feast apply

clean:
	rm -rf $(RETRAIN_HOME)
