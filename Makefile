# Org Desk: `make run` serves the app on the sandbox tenant, `make test` runs every test.
# Both work from a fresh clone: they create .venv (Python >= 3.12) and install what they need.

VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

# The first Python >= 3.12 found: $PYTHON, python3.13/3.12 on PATH, pyenv's, then python3.
# (On these machines the default python3 is 3.11, where pip silently installs Django 5.)
define find_python
for p in "$$PYTHON" python3.13 python3.12 \
         "$$(pyenv prefix 3.13 2>/dev/null)/bin/python3" "$$(pyenv prefix 3.12 2>/dev/null)/bin/python3" \
         python3; do \
  [ -n "$$p" ] && "$$p" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null && { echo "$$p"; exit 0; }; \
done; echo "Org Desk needs Python >= 3.12 (Django 6): install it or set PYTHON=/path/to/python3.12" >&2; exit 1
endef

.PHONY: system-deps install run test test-fast lint format serve bench bench-process load clean

$(BIN)/python:
	@PY=$$($(find_python)) && echo "Creating $(VENV) with $$PY" && "$$PY" -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.app: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q --group app
	@touch $@

$(VENV)/.test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q --group test
	@touch $@ $(VENV)/.app

# Debian's chromium drives the browser tests (Playwright's own browser download is unreachable);
# redis-server lets the tests check the token and rate-limit budget shared through Redis;
# postgresql's server runs the second test pass, the two-instance test and `make bench-process`
# (each in a throwaway cluster of its own, tests/pgcluster.py; the system's cluster is never used).
system-deps:
	@missing=""; command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	[ -z "$$missing" ] || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  echo "Installing Debian's$$missing for the tests"; \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends $$missing; }

# The application's packages in .venv (docs/deploy.md runs it as the org-desk user); nothing
# to do when they are up to date.
install: $(VENV)/.app

# The web server and the jobs worker (adminsite/jobs: bulk changes, exports) together, on the
# sandbox served over HTTP so that both see one tenant; one Ctrl-C stops all three.
run: $(VENV)/.app
	DEBUG=true $(BIN)/python manage.py migrate --noinput -v 0
	DEBUG=true $(BIN)/python manage.py create_operator --url http://$(HOST):$(PORT)/
	DEBUG=true $(BIN)/python manage.py run_with_worker $(HOST):$(PORT)

# Production: static files collected for whitenoise, migrations applied, gunicorn configured by
# gunicorn.conf.py (2 workers × 4 threads unless GUNICORN_WORKERS / GUNICORN_THREADS say else).
# Reads the environment and .env like any start-up (DEBUG off: SECRET_KEY, ALLOWED_HOSTS...);
# see docs/deploy.md. Behind the SSO proxy bind to the address the proxy reaches, e.g.
# `make serve HOST=10.0.3.10 PORT=8000`; `WORKERS=4` still works.
serve: $(VENV)/.app
	$(BIN)/python manage.py collectstatic --noinput -v 0
	$(BIN)/python manage.py migrate --noinput -v 0
	GUNICORN_BIND=$(HOST):$(PORT) $(if $(WORKERS),GUNICORN_WORKERS=$(WORKERS)) \
	  $(BIN)/gunicorn -c gunicorn.conf.py adminsite.wsgi

# Every test on SQLite, then every test that touches the database again on PostgreSQL.
test: $(VENV)/.test system-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/pytest
	$(MAKE) --no-print-directory test-postgres

# The tests that touch the database, on a throwaway PostgreSQL cluster made for the run (in a
# temporary folder, on a free port, deleted after): `make test-postgres PYTEST_ARGS=tests/audit`.
.PHONY: test-postgres
test-postgres: $(VENV)/.test system-deps
	ORGDESK_DATABASE_TESTS_ONLY=1 $(BIN)/python -m tests.pgcluster run -- $(BIN)/pytest $(PYTEST_ARGS)

# The fast loop while working: no browser and none of the tests marked slow (sweeps over every
# route, subprocesses, gunicorn, live-server races, big tenants); under a minute on 2 cores.
test-fast: $(VENV)/.test
	$(BIN)/pytest -q -m "not slow and not browser"

# Where people wait: each page and action timed at the client socket against gunicorn in
# production's configuration (throwaway PostgreSQL and Redis, SSO headers with the session cookie
# kept, DEBUG off), the sandbox over HTTP with BENCH_LATENCY ms per call (default 50), at 100 and
# 20,000 organizations: upstream calls, total and upstream time, Org Desk's own time and share,
# and the time inside the view stack. PASS/FAIL per target (upstream calls per page and action,
# own time < 8 ms and <= 10%, one token per lifetime, about the same time at 20,000
# organizations), non-zero exit if one fails. BENCH_ROUNDS (default 15). Needs Debian's redis-server
# and postgresql (tests/pgcluster.py).
bench: $(VENV)/.app
	$(BIN)/python -m tests.perf.bench

# Two versions measured together (tests/perf/ab.py): the working tree against BASE (a commit),
# same PostgreSQL and Redis, rounds interleaved; own time per page and action and the difference.
.PHONY: bench-ab
bench-ab: $(VENV)/.app
	@test -n "$(BASE)" || { echo "make bench-ab BASE=<commit>"; exit 2; }
	$(BIN)/python -m tests.perf.ab $(BASE)

# Issue #15's figures (tests/perf/bench_bulk.py), against the sandbox over HTTP in its own
# process: a role for 1,000 members by a real jobs_worker at Auth0's member-roles limit (20 burst,
# 200 a minute), killed with kill -9 at a random point and restarted: elapsed vs the least time
# the limit allows (target within 10 %), lost and duplicated (0); then an export of
# BENCH_EXPORT_MEMBERS (100,000) members: the worker's peak RSS (< 200 MB), the file complete.
.PHONY: bench-bulk
bench-bulk: $(VENV)/.app
	$(BIN)/python -m tests.perf.bench_bulk

# Is a process lean? gunicorn (1 worker × 4 threads, production config) on a throwaway Postgres,
# a Redis and the sandbox over HTTP: seconds from spawn to the first 200 from /healthz (< 3 s),
# then PROCESS_REQUESTS (default 10,000) signed-in requests over keep-alive, the worker's RSS
# every 1,000 (< 150 MB at the end, < 10 MB growth from 2,000). PASS/FAIL; non-zero exit on FAIL.
bench-process: $(VENV)/.app
	$(BIN)/python -m tests.perf.process

# Issue #12's figures in Debian's chromium, against the sandbox over HTTP: Tab presses from the
# top of an organization page to the members pager's "Next →" (1280×900), and how far each page
# and state of tests/browser/test_accessibility.py scrolls sideways at 390 px and at 320 px.
.PHONY: a11y-figures
a11y-figures: $(VENV)/.test system-deps
	$(BIN)/python -m tests.perf.a11y_figures

# 50 signed-in people on gunicorn (2 workers) and the sandbox over HTTP for 60 s, loopback only;
# prints requests, errors and latency, and checks the audit log and the sandbox's final state.
load: $(VENV)/.app
	$(BIN)/python tests/perf/load.py --users 50 --seconds 60 --workers 2

# Style, then types (mypy with django-stubs; configured in pyproject.toml).
lint: $(VENV)/.test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

format: $(VENV)/.test
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) staticfiles
