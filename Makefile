# threatgraph: `make run` serves the seeded graph, `make test` runs the whole suite.
# Every install step lives here, so a clean clone (and CI) needs nothing else.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TG := $(BIN)/threatgraph

.PHONY: install lock run test lint format bench bench-full bench-install neo4j-start neo4j-stop schema clean chromium screenshots soak

FEDERATION := tests/federation

install: $(VENV)/.installed chromium $(FEDERATION)/node_modules/.installed
	@$(TG) neo4j install
	@$(TG) graphiql install

# Apollo's real composer (npm, pinned by the lockfile) for the federation tests.
$(FEDERATION)/node_modules/.installed: $(FEDERATION)/package.json $(FEDERATION)/package-lock.json
	npm ci --prefix $(FEDERATION) --no-audit --no-fund --loglevel=error
	@touch $@

# Python packages come from the lock files (requirements/*.txt): exact versions, each
# checked against its hashes. pyproject.toml keeps the ranges; `make lock` resolves them
# again, the one deliberate step that upgrades anything.
$(VENV)/.installed: pyproject.toml requirements/dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "threatgraph needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q --require-hashes -r requirements/dev.txt
	$(BIN)/pip install -q --no-deps -e .
	@touch $@

# Resolve pyproject.toml's ranges to the newest versions, for every platform and Python
# 3.11+: bench.txt (every extra) first, then dev.txt (make install) and runtime.txt (the
# Dockerfile) within it, so the three agree on every version they share.
# `make lock LOCK_UPGRADE=` keeps the current pins and only adds what pyproject.toml gained.
LOCK_UPGRADE ?= --upgrade
UV_COMPILE = $(BIN)/uv pip compile pyproject.toml --universal --python-version 3.11 \
	--generate-hashes --quiet --custom-compile-command 'make lock' $(LOCK_UPGRADE)

lock: $(VENV)/.installed
	$(UV_COMPILE) --extra dev --extra bench -o requirements/bench.txt
	$(UV_COMPILE) --extra dev -c requirements/bench.txt -o requirements/dev.txt
	$(UV_COMPILE) -c requirements/bench.txt -o requirements/runtime.txt

run: install
	$(TG) neo4j start
	$(TG) seed --if-empty
	$(TG) serve

test: install lint
	$(BIN)/pytest

# Ten minutes of mixed load with Neo4j killed under it; prints the figures (docs/operations.md: Reliability).
soak: install
	$(BIN)/python -m tests.soak --seconds $${SOAK_SECONDS:-600}

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(VENV)/.installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

schema: install
	$(TG) schema export

# The browser tests drive Debian's chromium and chromedriver, never a browser a test tool
# downloads itself. Installed once (as root, or through sudo).
chromium:
	@test -x /usr/bin/chromium -a -x /usr/bin/chromedriver || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium chromium-driver; }

# Regenerate the README's screenshots (docs/img/) with the browser tests.
screenshots: install
	THREATGRAPH_SCREENSHOT_DIR=docs/img $(BIN)/pytest tests/test_browser_ui.py -q

neo4j-start: install
	$(TG) neo4j start

neo4j-stop: install
	$(TG) neo4j stop

# Benchmarks (bench/README.md): `make bench` = 10k + 100k nodes (~10 min), bench-full adds 1M.
# bench-install adds the bench extra (matplotlib, aiohttp, profilers), the peer's npm packages
# (bench/peer, from its package-lock.json) and APOC core for the bench's own Neo4j.
bench-install: install $(VENV)/.bench-installed bench/peer/node_modules/.package-lock.json
	$(BIN)/python -m bench install

$(VENV)/.bench-installed: pyproject.toml requirements/bench.txt
	$(BIN)/pip install -q --require-hashes -r requirements/bench.txt
	@touch $@

bench/peer/node_modules/.package-lock.json: bench/peer/package-lock.json
	cd bench/peer && npm ci --no-audit --no-fund

bench: bench-install
	$(BIN)/python -m bench quick

bench-full: bench-install
	$(BIN)/python -m bench full

clean:
	-$(TG) neo4j stop
	rm -rf $(VENV) .neo4j .mypy_cache .ruff_cache .pytest_cache $(FEDERATION)/node_modules
