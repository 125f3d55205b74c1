# Wegweiser Jena — two commands do all set-up on a fresh machine:
#   make run    install, ingest corpus/ into the embedded Qdrant store, serve on http://$(HOST):$(PORT)
#   make test   install (with dev tools and Debian's chromium) and run the whole test suite
PYTHON ?= python3
VENV ?= .venv
HOST ?= 127.0.0.1
PORT ?= 8000
# torch is only needed by argostranslate (via stanza) and the optional sentence-transformers backend.
# The CPU build is small: set TORCH_INDEX=https://download.pytorch.org/whl/cpu where that index is reachable.
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX ?=
# Pinned versions (what CI tested): every install below is constrained by this file; `make lock` refreshes it.
CONSTRAINTS ?= constraints.txt
PIP := $(VENV)/bin/pip
BIN := $(VENV)/bin
TORCH_INDEX_ARG := $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX),)

.PHONY: run test install install-dev ingest serve lint format eval bench browser-deps clean lock

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	$(PIP) install -c $(CONSTRAINTS) $(TORCH_INDEX_ARG) "$(TORCH_SPEC)"
	$(PIP) install -c $(CONSTRAINTS) -e ".[argos]"
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed package.json $(CONSTRAINTS)
	$(PIP) install -c $(CONSTRAINTS) -e ".[argos,st,dev]"
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev browser-deps

# Debian's chromium for the browser tests (Playwright's own browser download does not work offline).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian's chromium for the browser tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; }

ingest: install
	$(BIN)/wegweiser ingest

serve: install
	$(BIN)/wegweiser serve --host $(HOST) --port $(PORT)

run: install
	$(BIN)/wegweiser ingest
	$(BIN)/wegweiser serve --host $(HOST) --port $(PORT)

test: install-dev
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: install-dev
	$(BIN)/ruff check .

format: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

eval: install
	$(BIN)/wegweiser eval

bench: install
	$(BIN)/wegweiser bench

# Resolve pyproject.toml's ranges afresh in a throw-away venv and pin the result.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install $(TORCH_INDEX_ARG) "$(TORCH_SPEC)"
	.lock-venv/bin/pip install -e ".[argos,st,dev]"
	{ head -2 $(CONSTRAINTS); .lock-venv/bin/pip freeze --exclude-editable | sed 's/+cpu$$//'; } > $(CONSTRAINTS).new
	mv $(CONSTRAINTS).new $(CONSTRAINTS) && rm -rf .lock-venv

clean:
	rm -rf $(VENV) node_modules data .pytest_cache
