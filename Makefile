# Two commands do everything on a fresh machine: `make demo` and `make test`.
# Only Python 3.11 is needed; the environment is built from requirements.lock.

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
SVW    := PYTHONPATH=plugins $(BIN)/python -m social_value
STAMP  := $(VENV)/.installed

.PHONY: help install demo test lint check manifest psql airflow env stop simulator gx-suites lock erase bench bench-memory bench-replay bench-cosmos clean docs

help:
	@echo "make demo     run the whole pipeline on the embedded default and show the result"
	@echo "make test     install what is missing and run every check"
	@echo "make psql     psql on the warehouse (SQL on stdin works: echo 'select 1' | make -s psql)"
	@echo "make airflow  the Airflow UI on the same embedded setup (http://127.0.0.1:8080)"
	@echo "make docs     serve the dbt docs and GX Data Docs of the latest build (http://127.0.0.1:8081)"
	@echo "make stop     stop the embedded Postgres"

$(STAMP): requirements.lock
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11 or set PYTHON=" >&2; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@test -x $(BIN)/uv || $(BIN)/python -m pip install --quiet uv==0.13.8
	@# --compile-bytecode: uv skips it by default, and where PYTHONDONTWRITEBYTECODE is set every
	@# Airflow and dbt process would compile its imports again (about 6 s each here).
	$(BIN)/uv pip sync --quiet --compile-bytecode --python $(BIN)/python requirements.lock
	@touch $(STAMP)

install: $(STAMP)

demo: install
	@$(SVW) demo

test: install lint check
	PYTHONPATH=plugins $(BIN)/pytest

lint: install
	$(BIN)/ruff check dags plugins tests
	$(SVW) run $(BIN)/sqlfluff lint dbt/models

check: install manifest
	$(SVW) check-gx

# dbt parse: the manifest build_warehouse's cosmos task group is rendered from (also validates the project).
manifest: install
	@$(SVW) manifest

psql: install
	@$(SVW) psql $(if $(ROLE),--role $(ROLE))

airflow: install
	@$(SVW) airflow

env: install
	@$(SVW) env

stop: install
	@$(SVW) stop

simulator: install
	@$(SVW) simulator

gx-suites: install
	$(SVW) run $(BIN)/python -m social_value.quality.gx_project

lock: install
	$(BIN)/uv pip compile requirements.in --python-version 3.11 --no-header --quiet -o requirements.lock

# Load vs the database's floor, full vs incremental build, loader RSS, DAG parse time (docs/performance.md).
# L takes long: `make bench SCALES=S,M` for a quicker run.
SCALES ?= S,M,L
bench: install
	$(SVW) run $(BIN)/python -m social_value.bench.run --scales $(SCALES) --out reports/bench.json

bench-memory: install
	$(SVW) run $(BIN)/python -m social_value.bench.loader_memory --factor 10

# One more incremental build on a database kept by `make bench ... --keep` (bench/replay.py).
DB ?= bench_l
bench-replay: install
	$(SVW) run $(BIN)/python -m social_value.bench.replay $(DB)

bench-cosmos: install
	$(SVW) run $(BIN)/python -m social_value.bench.cosmos_overhead --rounds $(or $(ROUNDS),3) $(if $(DB),--database $(DB))

docs: install
	@$(SVW) docs $(if $(PORT),--port $(PORT))

erase: install
	@$(SVW) erase --email "$(EMAIL)" $(if $(DRY_RUN),--dry-run)

clean: stop
	rm -rf .svw dbt/target dbt/logs
