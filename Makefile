# Everything runs inside .venv, built from the committed lock files; a fresh machine
# needs only Python 3.11+, make and git.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test test-no-browser lint format seed screenshots bench clean

run: $(VENV)/.installed
	$(BIN)/livechat serve

# Tests run on every core, the browser tests on one worker (see tests/conftest.py); the
# chaos test, which times deliveries, then runs alone, as a test working on the other core
# would be measured as its latency. The suite runs on SQLite, then again on PostgreSQL:
# without one answering, that second run skips every test and says why (CI fails).
PARALLEL := --numprocesses auto --dist loadgroup
test: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest -m "not latency" $(PARALLEL) --cov --cov-report=term
	$(BIN)/pytest -m latency
	LIVECHAT_TEST_DATABASE=postgresql $(BIN)/pytest -m "not latency" $(PARALLEL)
	LIVECHAT_TEST_DATABASE=postgresql $(BIN)/pytest -m latency

# The tests alone, without the ones that drive Chromium: for a machine without it.
test-no-browser: $(VENV)/.installed-dev
	$(BIN)/pytest -m "not browser and not latency" $(PARALLEL)
	$(BIN)/pytest -m latency

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(VENV)/.installed-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

seed: $(VENV)/.installed
	$(BIN)/livechat seed

# A room of 500 at rising rates against a naive Starlette loop, idle memory per socket, and
# 2,000 pages reconnecting at once; a few minutes on a quiet 2-core machine.
bench: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/fanout.py --idle 10000
	$(BIN)/python benchmarks/presence.py --people 2000
	$(BIN)/python benchmarks/search_under_load.py

# The browser journey, photographing the main pages for the README on its way.
screenshots: $(VENV)/.installed-dev
	LIVECHAT_SCREENSHOTS=docs/screenshots $(BIN)/pytest tests/browser/test_journey.py -q --no-cov

# A first run spends about a minute here in silence otherwise: say what is happening.
# The pip that ships with Python 3.11 mis-resolves a dependency's extras (coverage[toml])
# under --require-hashes once a newer release exists upstream, so every venv gets a known pip.
$(BIN)/python:
	@echo "Creating the virtualenv in $(VENV) with $(PYTHON)..."
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==26.3

$(VENV)/.installed: requirements.lock pyproject.toml | $(BIN)/python
	@echo "Installing livechat's locked dependencies into $(VENV) (a minute the first time)..."
	$(BIN)/pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.installed-dev: requirements-dev.lock pyproject.toml | $(BIN)/python
	@echo "Installing livechat with its test and lint tools into $(VENV) (a minute or two the first time)..."
	$(BIN)/pip install --quiet --require-hashes -r requirements-dev.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@ $(VENV)/.installed

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .coverage htmlcov .cache
