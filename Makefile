# One command per job. Everything Python runs from .venv, which `uv sync --frozen` builds exactly
# as uv.lock says; uv itself lives in .tools so nothing is installed into the system Python.
#
# Setup also compiles every module to bytecode, ours and the dependencies'. Each `armory` command
# is a new process: without the compiled files, one whose environment forbids writing them
# (PYTHONDONTWRITEBYTECODE) compiles SQLAlchemy and the rest again at every start, 0.8 s of a
# 1.6 s start on a 2.8 GHz Xeon.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

UV := .tools/bin/uv
BIN := .venv/bin

.PHONY: setup lint test run bench fmt clean

setup:
	bash scripts/install-system-packages.sh
	test -x $(UV) || { python3 -m venv .tools && .tools/bin/pip install --quiet --disable-pip-version-check uv; }
	$(UV) sync --frozen --compile-bytecode
	$(BIN)/python -m compileall -q src bench

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# ARMORY_REQUIRE_POSTGRES=1 and ARMORY_REQUIRE_BROWSER=1: a machine that cannot start PostgreSQL
# or has no Chromium fails the suite instead of quietly skipping part of it.
test: setup lint
	ARMORY_REQUIRE_POSTGRES=1 ARMORY_REQUIRE_BROWSER=1 $(BIN)/pytest -p no:cacheprovider

# The demo keeps its SQLite file and keys in ./data, which `make clean` leaves alone. Only this
# target sets ARMORY_DATA_DIR: the tests must never write into a developer's data.
run: export ARMORY_DATA_DIR ?= $(CURDIR)/data
run: setup
	$(BIN)/armory demo
	$(BIN)/armory serve

bench: setup
	$(BIN)/python -m bench

fmt: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf .venv .pytest_cache .mypy_cache .ruff_cache .hypothesis .import_linter_cache build dist
	find . -path ./.tools -prune -o -path ./data -prune -o \
		\( -name __pycache__ -o -name '*.egg-info' \) -prune -exec rm -rf {} +
