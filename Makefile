# Two entry points for users: `make quickstart` and `make test`. Both depend on
# `make install`, which is idempotent: it (re)creates .venv only when missing or
# when pyproject.toml or requirements.lock changed. Every package is installed at
# the version requirements.lock pins (a pip constraints file), so a fresh machine
# regenerates the recorded datasets and numbers; `make lock` re-resolves it.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements.lock

.PHONY: install install-ray quickstart test lint lock bench clean

install: $(STAMP)

$(STAMP): pyproject.toml $(LOCK)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -c $(LOCK) --upgrade pip
	$(BIN)/python -m pip install -q -c $(LOCK) "torch==2.13.0"
	$(BIN)/python -m pip install -q -c $(LOCK) -e ".[dev,collect]"
	@touch $(STAMP)

# The optional cluster backend (`safemil bench --executor ray`): about 240 MB, so not in `install`.
install-ray: install
	$(BIN)/python -m pip install -q -c $(LOCK) -e ".[dev,collect,ray]"

quickstart: install
	$(BIN)/safemil quickstart

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check src tests benchmarks

lock:
	scripts/refresh_lock.sh

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
