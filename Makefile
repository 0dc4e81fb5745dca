# BillingOne: `make run` for the demo console, `make test` for the whole suite.
# Both set themselves up (venv, install, migrate) on a bare machine with Python 3.11+.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
export PORT

.PHONY: run test bench lint migrate install clean

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

install: $(VENV)/.installed

migrate: install
	$(PY) manage.py migrate --noinput

# The demo console: web + Celery worker + Celery beat, stopped together with Ctrl-C.
# No configuration needed (SQLite, file-system broker); DATABASE_URL / REDIS_URL switch
# to PostgreSQL and Redis.
run: export DEBUG ?= true
run: migrate
	$(PY) manage.py seed_demo
	@echo ""
	@echo "BillingOne is starting on http://127.0.0.1:$(PORT)/  (Ctrl-C stops web, worker and beat)"
	@echo ""
	exec $(PY) bin/procrun.py Procfile

# The whole suite. PostgreSQL when DATABASE_URL is set, SQLite otherwise; Redis and
# browser tests run when those are there (REQUIRE_SERVICES=1 makes a skip a failure).
test: install
	$(PY) manage.py makemigrations --check --dry-run --settings=billingone.settings_test
	$(VENV)/bin/ruff check .
	$(PY) -m pytest --create-db $(PYTEST_ARGS)

# Benchmarks (PostgreSQL). BENCH_DATABASE_URL picks the database they build and fill.
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/billingone_bench
bench: install
	@for f in bench/bench_*.py; do \
		echo "== $$f"; \
		DATABASE_URL=$(BENCH_DATABASE_URL) $(PY) $$f || exit 1; \
	done

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) db.sqlite3 var staticfiles .pytest_cache
