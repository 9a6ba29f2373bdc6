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

.PHONY: run test lint format venv sysdeps db demo bench clean

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

# System packages the project needs: GnuPG for supplier stock files; Dovecot (IMAP) for the
# bank e-mail tests (marker mail, mandatory under CI=true).
sysdeps:
	@command -v gpg >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "make: installing gnupg (needed to decrypt supplier stock files)"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q gnupg >/dev/null || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q gnupg >/dev/null; }; \
	  else \
	    echo "make: GnuPG is missing. Install it with:  sudo apt-get install -y gnupg"; exit 1; \
	  fi; }
	@{ command -v dovecot >/dev/null 2>&1 || [ -x /usr/sbin/dovecot ]; } || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "make: installing dovecot-imapd (the IMAP peer of the bank e-mail tests)"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q dovecot-imapd >/dev/null || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q dovecot-imapd >/dev/null; }; \
	  else \
	    echo "make: Dovecot is missing. Install it with:  sudo apt-get install -y dovecot-imapd"; exit 1; \
	  fi; }

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

test: sysdeps $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m tools.bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var/*.db var/*.db-* .pytest_cache
