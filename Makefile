# Greenlight: `make run` for a working demo, `make test` for the whole suite. `make help` lists the rest.
#
# Everything runs from a project-local virtual environment in .venv, built with the first Python 3.12+
# found: $(PYTHON) if given, python3.13, python3.12, then pyenv's installed 3.13.x and 3.12.x versions.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
# Where `make run` serves; for example `make run ADDRESS=0.0.0.0:8080`.
ADDRESS ?= 127.0.0.1:8000
# Extra arguments for pytest, for example `make test PYTEST_ARGS="-k invitation -x"`.
PYTEST_ARGS ?=

# The install stamp is named after a hash of the requirements, so editing either file reinstalls and a
# second run with the same requirements installs nothing.
REQUIREMENTS := requirements.txt requirements-dev.txt
REQUIREMENTS_HASH := $(shell cat $(REQUIREMENTS) | sha256sum | cut -c1-16)
STAMP := $(VENV)/.installed-$(REQUIREMENTS_HASH)

# Prints the first interpreter that really runs and is 3.12 or newer (pyenv shims exist even when the
# version behind them is not selected, so each candidate is executed, not just looked up).
define find_python
pyenv_root="$$(pyenv root 2>/dev/null || echo "$$HOME/.pyenv")"; \
for candidate in $(PYTHON) python3.13 python3.12 \
    $$(ls -d "$$pyenv_root"/versions/3.13*/bin/python 2>/dev/null | sort -rV) \
    $$(ls -d "$$pyenv_root"/versions/3.12*/bin/python 2>/dev/null | sort -rV); do \
  if "$$candidate" -c 'import sys; raise SystemExit(sys.version_info < (3, 12))' >/dev/null 2>&1; then \
    echo "$$candidate"; exit 0; \
  fi; \
done; exit 1
endef

.PHONY: help run test faults worker beat bench bench-api load lint audit format install migrate seed check-python clean-venv

help: ## List the make targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  make %-13s %s\n", $$1, $$2}'

run: install migrate seed ## Install, migrate, seed the demo organisation and serve http://127.0.0.1:8000
	@# ASGI (uvicorn) rather than runserver, so the assistant's answers stream as they do in production.
	$(BIN)/uvicorn config.asgi:application --host $(firstword $(subst :, ,$(ADDRESS))) \
	  --port $(lastword $(subst :, ,$(ADDRESS))) --reload --lifespan off

test: install ## Run the whole test suite (SQLite unless DATABASE_URL is set)
	$(BIN)/pytest $(PYTEST_ARGS)

# The whole directory, so fault tests added later run too. They are part of `make test` as well.
faults: install ## Run the fault tests (tests/faults: Redis, PostgreSQL or a worker failing mid-journey)
	$(BIN)/pytest tests/faults $(PYTEST_ARGS)

worker: install ## Run a Celery worker (needs REDIS_URL; without it tasks run eagerly in the web process)
	@[ -n "$${REDIS_URL:-}" ] || echo "warning: REDIS_URL is not set, so this worker has no broker to listen to." >&2
	$(BIN)/celery -A config worker --loglevel=INFO

beat: install ## Run Celery beat with the database scheduler (schedules are edited in the admin)
	@[ -n "$${REDIS_URL:-}" ] || echo "warning: REDIS_URL is not set, so scheduled tasks have no broker to go to." >&2
	$(BIN)/celery -A config beat --loglevel=INFO --scheduler django_celery_beat.schedulers:DatabaseScheduler

# On PostgreSQL it ends with the API's throughput through gunicorn over the same seeded data; on SQLite it
# warns that the budgets are stated for PostgreSQL and skips the throughput.
bench: install ## Every performance budget as one table (latency, queries, memory, verdict) on a throwaway database
	$(PY) -m config.bench $(BENCH_ARGS)

bench-api: install ## API requests per second through gunicorn on PostgreSQL (needs DATABASE_URL=postgres://...)
	$(PY) -m config.bench_api $(BENCH_ARGS)

# Fails when any request failed: `make load` passes only with no errors. LOAD_ARGS="--users 50 --seconds 60".
load: install ## 50 people for 60 s through gunicorn, Celery, PostgreSQL and Redis (needs DATABASE_URL and REDIS_URL)
	$(PY) -m config.load $(LOAD_ARGS)

# Every step runs even when an earlier one fails, so one pass shows all problems.
lint: install ## Check style (ruff), formatting (ruff format) and types (mypy)
	@failed=""; \
	echo "--- ruff check"; $(BIN)/ruff check . || failed="$$failed ruff-check"; \
	echo "--- ruff format --check"; $(BIN)/ruff format --check . || failed="$$failed ruff-format"; \
	echo "--- mypy"; $(BIN)/mypy . || failed="$$failed mypy"; \
	if [ -n "$$failed" ]; then echo "lint failed:$$failed" >&2; exit 1; fi; \
	echo "lint passed."

# Not part of `make test`: it asks PyPI's vulnerability data about every pinned requirement (network).
# --strict fails when a requirement could not be looked up, rather than calling an unchecked list clean.
audit: install ## Check the pinned requirements for known vulnerabilities (pip-audit; needs PyPI)
	$(BIN)/pip-audit -r requirements.txt --strict --progress-spinner off

format: install ## Fix what ruff can fix and format the code
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

install: $(STAMP) ## Create .venv and install the pinned requirements (fast when nothing changed)
	@$(PY) -c 'import sys; raise SystemExit(sys.version_info < (3, 12))' || { \
	  echo "$(VENV) was built with Python older than 3.12: run 'make clean-venv' and try again." >&2; exit 1; }

migrate: install
	$(PY) manage.py migrate --noinput

seed: migrate
	$(PY) manage.py seed_demo

check-python: ## Show which Python would build .venv
	@($(find_python)) || { echo "No Python 3.12+ found." >&2; exit 1; }

# A .venv whose interpreter no longer runs (Python upgraded or removed underneath it) is rebuilt.
$(PY):
	@if [ -d $(VENV) ] && ! $(PY) -c '' >/dev/null 2>&1; then echo "Rebuilding broken $(VENV)"; rm -rf $(VENV); fi
	@python="$$($(find_python))" || { \
	  echo "Greenlight needs Python 3.12 or newer: install python3.13 (or 'pyenv install 3.13') and re-run." >&2; \
	  exit 1; }; \
	echo "Creating $(VENV) with $$python ($$("$$python" --version))"; \
	"$$python" -m venv $(VENV)

$(STAMP): | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@rm -f $(VENV)/.installed-*
	@touch $@

clean-venv: ## Delete .venv (the next target rebuilds it)
	rm -rf $(VENV)
