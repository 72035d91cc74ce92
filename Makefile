# LedgerFlow developer commands. `make run` runs everything; `make test` runs the tests.
# The environment decides the backing services: with no DATABASE_URL/REDIS_URL/CELERY_BROKER_URL
# it is the embedded default (SQLite + a filesystem broker under var/), with them PostgreSQL + Redis.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?= -n 2 --dist loadfile

.DEFAULT_GOAL := help
.PHONY: help venv run test test-faults lint fmt requirements requirements-check bench fuzz clean

help:
	@echo "make run           migrate, collect static, seed demo data, start web + worker + beat"
	@echo "make test          run the tests (PYTEST_ARGS='$(PYTEST_ARGS)')"
	@echo "make test-faults   only the fault tests (tests/faults; PostgreSQL + redis-server)"
	@echo "make lint | fmt    ruff check + format check + import contracts + mypy | ruff format + fix"
	@echo "make venv          create .venv from requirements-dev.txt (re-installs when a lock changes)"
	@echo "make requirements  re-lock requirements*.txt from pyproject.toml (UPGRADE=1: newest versions)"
	@echo "make requirements-check  fail when the lock files are out of date with pyproject.toml"
	@echo "make bench         run bench/run.py"
	@echo "make fuzz          schemathesis against a live server (FUZZ_ARGS='--max-examples 50')"
	@echo "make clean         remove .venv, var/ (the embedded database!) and build leftovers"

venv: $(STAMP)

# Re-install only when a lock file is newer than the stamp; a failed install leaves no stamp.
# requirements-dev.txt holds everything (runtime + tracing + dev), each file checked by hash.
$(STAMP): requirements.txt requirements-tracing.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-dev.txt
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

# Only the fault tests (tests/faults: real gunicorn, Celery worker and beat, a private
# redis-server each); they need PostgreSQL (DATABASE_URL) and skip on the embedded default.
test-faults: venv
	$(BIN)/pytest tests/faults $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy .

fmt: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Lock files, all compiled by uv from pyproject.toml (the one source of truth), pinned with the
# sha256 of every file of each release (any platform; pip's --require-hashes checks them):
#   requirements.txt          runtime: what the image installs
#   requirements-tracing.txt  runtime + the `tracing` extra (OpenTelemetry), same runtime pins
#   requirements-dev.txt      runtime + tracing + `dev`: what `make venv` installs
# Each is constrained by the one before, so a version is the same in all three. uv keeps the
# versions already locked unless pyproject needs others; UPGRADE=1 moves to the newest.
UV_COMPILE = $(CURDIR)/$(BIN)/uv pip compile pyproject.toml --quiet --universal \
	--python-version 3.11 --generate-hashes --custom-compile-command "make requirements" \
	$(if $(UPGRADE),--upgrade)
# compile-locks DIR: (re)write the three lock files in DIR, which holds a copy of pyproject.toml.
define compile-locks
(cd $(1) && $(UV_COMPILE) -o requirements.txt \
	&& $(UV_COMPILE) --extra tracing -c requirements.txt -o requirements-tracing.txt \
	&& $(UV_COMPILE) --extra tracing --extra dev -c requirements-tracing.txt -o requirements-dev.txt)
endef
LOCKS := requirements.txt requirements-tracing.txt requirements-dev.txt

requirements: venv
	$(call compile-locks,.)
	@echo "Lock files regenerated; 'make venv' installs requirements-dev.txt."

# Re-lock copies in a temporary folder and compare. Hash lines are left out of the comparison:
# PyPI may add a file (a new platform's wheel) to a release already pinned, which changes no
# version; pip still checks every file it installs against the committed hashes.
requirements-check: venv
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	cp pyproject.toml $(LOCKS) "$$tmp"/; \
	$(call compile-locks,"$$tmp"); \
	status=0; for lock in $(LOCKS); do \
	  grep -v -e '--hash=' "$$lock" > "$$tmp/$$lock.committed"; \
	  grep -v -e '--hash=' "$$tmp/$$lock" > "$$tmp/$$lock.fresh"; \
	  diff -u "$$tmp/$$lock.committed" "$$tmp/$$lock.fresh" || status=1; \
	done; \
	if [ "$$status" -ne 0 ]; then echo "Lock files are out of date with pyproject.toml: run 'make requirements'." >&2; exit 1; fi; \
	echo "Lock files match pyproject.toml."

# PostgreSQL + Redis of this machine (a scratch database whose name contains "bench": it is
# dropped and recreated). Not part of `make test`. E.g. make bench BENCH_ARGS="--quick".
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/lf_bench
BENCH_REDIS_URL ?= redis://127.0.0.1:6379/2
BENCH_BROKER_URL ?= redis://127.0.0.1:6379/1
BENCH_ARGS ?=
bench: venv
	DATABASE_URL=$(BENCH_DATABASE_URL) REDIS_URL=$(BENCH_REDIS_URL) \
	CELERY_BROKER_URL=$(BENCH_BROKER_URL) $(BIN)/python bench/run.py $(BENCH_ARGS)

# Schemathesis against gunicorn on a scratch PostgreSQL database (dropped and re-created), as
# CI runs it; e.g. make fuzz FUZZ_ARGS="--max-examples 50 --max-time 120 --seed 7".
FUZZ_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/ledgerflow_fuzz
FUZZ_ARGS ?=
fuzz: venv
	$(BIN)/python tests/fuzz/run_schemathesis.py --database-url $(FUZZ_DATABASE_URL) $(FUZZ_ARGS)

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache .hypothesis .ruff_cache .grimp_cache .import_linter_cache .mypy_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
