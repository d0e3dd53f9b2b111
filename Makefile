# One command to run the product, one to test it. Python 3.11 and pip are all they assume.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DAGSTER_HOME := $(CURDIR)

.PHONY: install demo demo-real demo-postgres celery-db cluster-up cluster-down demo-celery test ui ui-real lock bench bench-anchors clean

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check uv
	$(BIN)/uv pip install -q --python $(BIN)/python --compile-bytecode -r requirements.lock
	$(BIN)/uv pip install -q --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

install: $(STAMP)  ## set up .venv (quick when nothing changed)

demo: install  ## simulate a market and materialize every asset on the embedded default
	$(BIN)/poeconomy demo

# The 28 real leagues of ../shared/data (never copied here), in an instance and data folder of their own so the
# simulated demo's currencies never mix into the real models.
REAL_DUMPS ?= ../shared/data/poe-ninja
REAL_HOME := $(CURDIR)/.poeconomy/real
$(REAL_HOME)/dagster.yaml: dagster.yaml
	mkdir -p $(REAL_HOME)
	sed 's#\.poeconomy/dagster#$(REAL_HOME)/dagster#' dagster.yaml > $@
demo-real: install $(REAL_HOME)/dagster.yaml  ## the main job on the real leagues in $(REAL_DUMPS)
	DAGSTER_HOME=$(REAL_HOME) POECONOMY_HOME=$(REAL_HOME) $(BIN)/poeconomy demo --dumps $(REAL_DUMPS) --profile development
ui-real: install $(REAL_HOME)/dagster.yaml  ## the web UI on the real-data instance
	DAGSTER_HOME=$(REAL_HOME) POECONOMY_HOME=$(REAL_HOME) $(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

# Production mode on this machine's PostgreSQL (override PG_* on the command line).
PG_HOST ?= 127.0.0.1
PG_PORT ?= 5432
PG_USER ?= postgres
PG_DB ?= test
demo-postgres: install  ## the main job with the Dagster instance and the price store on PostgreSQL
	DAGSTER_HOME=$(CURDIR)/deploy/postgres POECONOMY_PG_HOST=$(PG_HOST) POECONOMY_PG_PORT=$(PG_PORT) \
	POECONOMY_PG_USER=$(PG_USER) POECONOMY_PG_PASSWORD=$(PG_PASSWORD) POECONOMY_PG_DB=$(PG_DB) \
	POECONOMY_PRICE_STORE_URL=postgresql://$(PG_USER)@$(PG_HOST):$(PG_PORT)/$(PG_DB) \
	POECONOMY_HOME=$(CURDIR)/.poeconomy/postgres POECONOMY_DAGSTER_STORAGE=$(CURDIR)/.poeconomy/postgres/dagster \
	sh -c '$(BIN)/dagster instance concurrency set training 2 >/dev/null && $(BIN)/poeconomy demo'

# Celery cluster on this machine (deploy/celery): RabbitMQ broker, Redis result backend, the Dagster instance
# on PostgreSQL (deploy/postgres/dagster.yaml) in a database of its own, asset files and models under
# .poeconomy/celery (on several machines: a shared mount; see the README, Production).
BROKER ?= pyamqp://guest:guest@127.0.0.1:5672//
BACKEND ?= redis://127.0.0.1:6379/0
CELERY_DB ?= poeconomy_celery
CELERY_HOME := $(CURDIR)/.poeconomy/celery
WORKERS ?=
CELERY_DEMO_ARGS ?=   # e.g. --currencies 4 --leagues 4 --profile development
CELERY_ENV = DAGSTER_HOME=$(CURDIR)/deploy/postgres POECONOMY_PG_HOST=$(PG_HOST) POECONOMY_PG_PORT=$(PG_PORT) \
	POECONOMY_PG_USER=$(PG_USER) POECONOMY_PG_PASSWORD=$(PG_PASSWORD) POECONOMY_PG_DB=$(CELERY_DB) \
	POECONOMY_PRICE_STORE_URL=postgresql://$(PG_USER)@$(PG_HOST):$(PG_PORT)/$(CELERY_DB) \
	POECONOMY_OPTUNA_STORAGE_URL=postgresql://$(PG_USER)@$(PG_HOST):$(PG_PORT)/$(CELERY_DB) \
	POECONOMY_HOME=$(CELERY_HOME) POECONOMY_DAGSTER_STORAGE=$(CELERY_HOME)/dagster \
	POECONOMY_CELERY_CONFIG=$(CURDIR)/deploy/celery/celery.yaml POECONOMY_CELERY_BROKER=$(BROKER) \
	POECONOMY_CELERY_BACKEND=$(BACKEND)
celery-db: install
	@$(BIN)/python -c "import psycopg2; c = psycopg2.connect(host='$(PG_HOST)', port=$(PG_PORT), user='$(PG_USER)', \
	password='$(PG_PASSWORD)', dbname='postgres'); c.autocommit = True; k = c.cursor(); \
	k.execute('SELECT 1 FROM pg_database WHERE datname = %s', ('$(CELERY_DB)',)); \
	k.fetchone() or k.execute('CREATE DATABASE $(CELERY_DB)')"
cluster-up: celery-db  ## start Celery workers (deploy/celery/workers.yaml, or WORKERS=N identical ones)
	$(CELERY_ENV) $(BIN)/poeconomy cluster up $(if $(WORKERS),--workers $(WORKERS))
cluster-down:  ## stop the Celery workers (warm shutdown: steps in hand finish first)
	$(CELERY_ENV) $(BIN)/poeconomy cluster down
demo-celery: celery-db  ## the main job with every step on Celery workers (started and stopped around it)
	$(CELERY_ENV) $(BIN)/poeconomy cluster demo $(if $(WORKERS),--workers $(WORKERS)) $(CELERY_DEMO_ARGS)

test: install  ## run the test suite
	$(BIN)/pytest -n 2 --dist loadfile

ui: install  ## the Dagster web UI on http://127.0.0.1:3000
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

# mlforecast and statsforecast on the held-out leagues, through the project's scorer (benchmarks/bench_anchors.py).
# They are the optional `bench` extra, never runtime dependencies.
ANCHORS_ARGS ?= --json benchmarks/out/anchors.json
bench-anchors: install  ## the field's standard tools (mlforecast, statsforecast) on held-out leagues
	$(BIN)/uv pip install -q --python $(BIN)/python -e '.[bench]'
	nice -n 10 $(BIN)/python benchmarks/bench_anchors.py --dumps $(REAL_DUMPS) $(ANCHORS_ARGS)

lock:  ## re-resolve requirements.lock from pyproject.toml
	$(BIN)/uv pip compile pyproject.toml --extra dev -o requirements.lock -q --python $(BIN)/python

clean:
	rm -rf .poeconomy
