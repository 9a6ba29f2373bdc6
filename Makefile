# Two commands: `make run` (set up and start the server on the embedded default) and
# `make test` (set up and run the suite). Everything else is a helper for those two.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CONFIG ?= conf/evd.toml
# `make run` is the demo: the defaults plus the demo meters' behaviours (conf/demo.toml).
RUN_CONFIG ?= conf/demo.toml

.PHONY: run test lint format venv sysdeps db demo bench clean screenshots

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] >= (3, 11), "Python 3.11+ is required, found " + sys.version' \
	  || { echo "make: need Python 3.11 (set PYTHON=/path/to/python3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall whenever the project metadata changes (new dependency or new evd sub-command).
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

venv: $(STAMP)

# System packages the project needs: GnuPG for supplier stock files; Kannel (the SMS
# gateway), kannel-extras (its fake SMSC, for tests and `evd kannel`) and libpcre3 (fakesmsc
# needs it at run time); Dovecot (IMAP) for the bank e-mail tests (marker mail).
SYSDEPS := gnupg kannel kannel-extras libpcre3 dovecot-imapd chromium chromium-driver
sysdeps:
	@missing=""; \
	command -v gpg >/dev/null 2>&1 || missing="$$missing gnupg"; \
	{ command -v bearerbox >/dev/null 2>&1 || [ -x /usr/sbin/bearerbox ]; } || missing="$$missing kannel"; \
	[ -x /usr/lib/kannel/test/fakesmsc ] || missing="$$missing kannel-extras"; \
	/sbin/ldconfig -p 2>/dev/null | grep -q 'libpcre\.so\.3' || missing="$$missing libpcre3"; \
	{ command -v dovecot >/dev/null 2>&1 || [ -x /usr/sbin/dovecot ]; } || missing="$$missing dovecot-imapd"; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	[ -x /usr/bin/chromedriver ] || missing="$$missing chromium-driver"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "make: installing$$missing"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(SYSDEPS) >/dev/null || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(SYSDEPS) >/dev/null; }; \
	  else \
	    echo "make: missing$$missing. Install with:  sudo apt-get install -y $(SYSDEPS)"; exit 1; \
	  fi; \
	fi

db: $(STAMP)
	$(BIN)/evd --config $(CONFIG) db upgrade

demo: db
	$(BIN)/evd --config $(CONFIG) demo

run: sysdeps $(STAMP)
	$(BIN)/evd --config $(RUN_CONFIG) db upgrade
	$(BIN)/evd --config $(RUN_CONFIG) demo
	$(BIN)/evd --config $(RUN_CONFIG) serve

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Three pytest-xdist workers: much of the suite waits on real parts (servers, Kannel,
# Dovecot, Chromium), so three keep two cores busy. --dist loadfile keeps a file's tests on
# one worker, so its module and session fixtures (live servers, GnuPG keys, the worker's
# PostgreSQL database) are set up once per worker, not once per test. Each worker has its
# own PostgreSQL database and temporary directories (docs/ARCHITECTURE.md, "Tests on
# parallel workers").
# `make test PYTEST_ARGS=` (or PYTEST_ARGS=-p no:xdist) runs the suite serially.
PYTEST_ARGS ?= -n 3 --dist loadfile

test: sysdeps $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Every main screen of the admin suite as a PNG under docs/screenshots/ (docs/ADMIN.md).
screenshots: sysdeps $(STAMP)
	$(BIN)/python -m tools.admin_screenshots

bench: $(STAMP)
	$(BIN)/python -m tools.bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var/*.db var/*.db-* .pytest_cache
