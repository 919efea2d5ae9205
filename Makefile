# xtablo: `make run` serves the app, `make test` runs the whole suite. See README.md.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
export FLASK_APP := wsgi

.PHONY: run test services chromium bench clean catalogues translations

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamp files: a second `make run` installs nothing unless pyproject.toml changed.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

# The benchmarks' own packages (Flask-SSE, measured beside the chat): never the app's.
$(VENV)/.installed-bench: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[bench]'
	@touch $@

run: $(VENV)/.installed catalogues
	@$(BIN)/flask db upgrade 2>&1 | grep -v '^INFO  \[alembic.runtime.migration\] \(Context impl\|Will assume\)' || true
	@echo "xtablo is serving on http://127.0.0.1:$(PORT)  (Ctrl-C to stop)"
	@PORT=$(PORT) exec $(BIN)/gunicorn -c gunicorn.conf.py wsgi:app

# The suite runs every test on SQLite and on PostgreSQL, with Redis, and drives Debian's
# chromium against a live gunicorn. A missing PostgreSQL or Redis is a failure, not a skip.
test: $(VENV)/.installed-test catalogues services chromium
	$(BIN)/pytest -n auto --dist loadgroup

# Translations: the catalogues (messages.po) are the source; the compiled .mo files are built
# from them here, never committed. `make translations` gathers the strings of the code into
# messages.pot and updates every catalogue with them (then translate what is new or marked).
TRANSLATIONS := xtablo/translations
CATALOGUES := $(wildcard $(TRANSLATIONS)/*/LC_MESSAGES/messages.po)

catalogues: $(CATALOGUES:.po=.mo)

$(TRANSLATIONS)/%/LC_MESSAGES/messages.mo: $(TRANSLATIONS)/%/LC_MESSAGES/messages.po | $(VENV)/.installed
	@$(BIN)/pybabel compile --use-fuzzy -l $* -d $(TRANSLATIONS) -i $< -o $@ >/dev/null

translations: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k lazy_ngettext:1,2 --no-location --sort-output \
	  --project xtablo --msgid-bugs-address= -o $(TRANSLATIONS)/messages.pot .
	$(BIN)/pybabel update -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS) --no-fuzzy-matching --ignore-obsolete
	@$(MAKE) --no-print-directory catalogues

# scripts/test-services.sh: installs (as root, with apt-get) and starts what the suite needs
# outside Python, or says in one line what to install; a quick check when all is there.
services:
	@scripts/test-services.sh postgresql redis chromium

chromium:
	@scripts/test-services.sh chromium

bench: $(VENV)/.installed-test
	$(BIN)/python bench/board.py

clean:
	rm -rf $(VENV) .pytest_cache

# Page latency while 50 clients sign in at once (bench/signin.py; RESULTS.md has its section).
# BEFORE=<commit> serves that commit's code first, for a before/after comparison.
.PHONY: bench-signin
bench-signin: $(VENV)/.installed-test
	$(BIN)/python bench/signin.py $(if $(BEFORE),--before $(BEFORE))

# The chat's streams per worker, fanout latency and crossing workers, beside a bare gevent hub and
# Flask-SSE (bench/chat.py; RESULTS.md has its section). Needs PostgreSQL and Redis on 127.0.0.1.
# BROKERS=database,postgresql,redis measures those REALTIME_BROKER values; COUNTS=100,1000 is quicker.
.PHONY: bench-chat
bench-chat: $(VENV)/.installed-bench
	@scripts/test-services.sh postgresql redis
	$(BIN)/python bench/chat.py $(if $(BROKERS),--brokers $(BROKERS)) $(if $(COUNTS),--counts $(COUNTS))
