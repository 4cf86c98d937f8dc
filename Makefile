# Every target sets up what it needs: a fresh machine needs only Python 3.11.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint bench lock messages clean

$(STAMP): pyproject.toml constraints.txt
	@echo "== Setting up $(VENV) (Python packages, pinned in constraints.txt)"
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --progress-bar on -c constraints.txt -e ".[dev]"
	touch $(STAMP)
	@echo "== $(VENV) is ready"

## run: set up, migrate, load demo data, serve site/admin/API with worker and beat
run: export DEBUG ?= true
run: export STAFF_MFA_REQUIRED ?= false
run: export CELERY_BROKER_URL ?= filesystem://
run: $(STAMP)
	mkdir -p var/log
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_demo
	bin/run-platform

## test: the whole suite (PostgreSQL when DATABASE_URL is set, SQLite otherwise)
test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

## lint: ruff, mypy and the import layers (import-linter, contracts in pyproject.toml)
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy .
	$(VENV)/bin/lint-imports

## bench: the performance scenarios in benchmarks/
bench: $(STAMP)
	$(PY) benchmarks/run.py $(BENCH_ARGS)

## lock: re-pin every installed package after changing pyproject.toml
lock: $(STAMP)
	{ echo "# Full pinned lock of every installed package (direct and transitive)."; \
	  echo "# Regenerate with: make lock"; \
	  $(PY) -m pip freeze --exclude-editable | grep -v '^-e'; } > constraints.txt

## messages: extract and compile the Swedish translations
messages: export DEBUG ?= true
messages: $(STAMP)
	$(PY) manage.py makemessages -l sv -l en --ignore=.venv --ignore=staticfiles --ignore=tests --ignore=benchmarks
	$(PY) manage.py compilemessages --ignore=.venv

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache .mypy_cache .ruff_cache
