# LedgerFlow developer commands. `make run` runs everything; `make test` runs the tests.
# The environment decides the backing services: with no DATABASE_URL/REDIS_URL/CELERY_BROKER_URL
# it is the embedded default (SQLite + a filesystem broker under var/), with them PostgreSQL + Redis.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?= -n 2 --dist loadfile

.DEFAULT_GOAL := help
.PHONY: help venv run test lint fmt requirements bench clean

help:
	@echo "make run           migrate, collect static, seed demo data, start web + worker + beat"
	@echo "make test          run the tests (PYTEST_ARGS='$(PYTEST_ARGS)')"
	@echo "make lint | fmt    ruff check + format check | ruff format + fix"
	@echo "make venv          create .venv from requirements.txt (re-installs when it changes)"
	@echo "make requirements  regenerate requirements.txt from pyproject.toml"
	@echo "make bench         run bench/run.py"
	@echo "make clean         remove .venv, var/ (the embedded database!) and build leftovers"

venv: $(STAMP)

# Re-install only when requirements.txt is newer than the stamp; a failed install leaves no stamp.
$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

# honcho runs web, worker and beat in the foreground: Ctrl-C stops all three.
run: venv
	mkdir -p var
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput -v0
	$(BIN)/python manage.py seed_demo
	# One metrics folder for web, worker and beat: /metrics then shows them all (fresh per run).
	rm -rf var/prometheus && mkdir -p var/prometheus
	PROMETHEUS_MULTIPROC_DIR=$(CURDIR)/var/prometheus exec $(BIN)/honcho start -f Procfile

test: venv
	$(BIN)/pytest $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Resolve pyproject's dependencies (runtime + dev) in a throw-away venv and pin what got installed.
# pyproject declares no packages, so the project itself is not installed: only its dependency lists.
requirements:
	set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(PYTHON) -m venv "$$tmp/venv"; \
	"$$tmp/venv/bin/python" -m pip install --quiet --upgrade pip; \
	"$$tmp/venv/bin/python" -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; print("\n".join(p["dependencies"] + p["optional-dependencies"]["dev"]))' > "$$tmp/requirements.in"; \
	"$$tmp/venv/bin/python" -m pip install --quiet -r "$$tmp/requirements.in"; \
	{ echo '# Pinned, generated from pyproject.toml. Regenerate with make requirements'; "$$tmp/venv/bin/python" -m pip freeze; } > "$$tmp/requirements.txt"; \
	mv "$$tmp/requirements.txt" requirements.txt
	@echo "requirements.txt regenerated; 'make venv' installs it."

# PostgreSQL + Redis of this machine (a scratch database whose name contains "bench": it is
# dropped and recreated). Not part of `make test`. E.g. make bench BENCH_ARGS="--quick".
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/lf_bench
BENCH_REDIS_URL ?= redis://127.0.0.1:6379/2
BENCH_BROKER_URL ?= redis://127.0.0.1:6379/1
BENCH_ARGS ?=
bench: venv
	DATABASE_URL=$(BENCH_DATABASE_URL) REDIS_URL=$(BENCH_REDIS_URL) \
	CELERY_BROKER_URL=$(BENCH_BROKER_URL) $(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache .hypothesis .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
