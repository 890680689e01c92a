# make demo: set up and play a simulated escalation call. make test: set up and run the tests.
SHELL := /bin/sh
PY := .venv/bin/python
STAMP := .venv/.installed
ARGS ?=
# make test's pytest-xdist processes: 4 on these 2 cores, because the longest tests mostly wait
# (fail-over, killed workers, gunicorn starting, the chaos suite's processes) and the others work
# meanwhile (docs/testing.md: 844 tests, 5:44 on 3 processes, 5:09 on 4)
TEST_WORKERS ?= 4

.PHONY: setup demo what-if test lint run bench screenshots diagram clean redis-server chromium copy-archive

setup: $(STAMP) redis-server chromium node_modules/.package-lock.json

.venv/bin/python:
	python3 -m venv .venv

$(STAMP): requirements.txt .venv/bin/python
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

# redis-server, redis-sentinel, wrk and postgresql from apt when missing (the tests, the demo and the
# benchmarks start their own Redis on loopback; the fail-over test its own sentinel; wrk drives the
# benchmarks; the history tests start their own PostgreSQL server, issue 30).
redis-server:
	@missing=""; \
	command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ] || missing="$$missing redis-server"; \
	command -v wrk >/dev/null 2>&1 || missing="$$missing wrk"; \
	command -v redis-sentinel >/dev/null 2>&1 || [ -x /usr/bin/redis-sentinel ] || missing="$$missing redis-sentinel"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing with apt"; \
		if [ "$$(id -u)" = "0" ]; then SUDO=""; else SUDO="sudo"; fi; \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

# The console's softphone SDK (@twilio/voice-sdk, pinned in package.json / package-lock.json).
node_modules/.package-lock.json: package.json package-lock.json
	@if ! command -v npm >/dev/null 2>&1; then \
		echo "installing nodejs and npm with apt"; \
		if [ "$$(id -u)" = "0" ]; then SUDO=""; else SUDO="sudo"; fi; \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; \
	fi
	npm ci --no-audit --no-fund --loglevel=error
	touch node_modules/.package-lock.json

# Debian's chromium for the browser tests (Playwright drives it; its own browser download is not used).
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
		echo "installing chromium with apt"; \
		if [ "$$(id -u)" = "0" ]; then SUDO=""; else SUDO="sudo"; fi; \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	fi

demo: setup
	$(PY) -m sim.demo $(ARGS)

# Replay recorded calls under the current and a changed policy (docs/what-if.md), e.g.
# make what-if ARGS="--from 2026-12-01 --to 2026-12-02 --policy policies/what-if/shorter-hold.toml"
what-if: setup
	$(PY) -m sim.what_if $(ARGS)

# The house rules first (seconds): lint, import contracts (pyproject.toml), types; then the tests.
test: setup
	.venv/bin/ruff check .
	.venv/bin/lint-imports
	.venv/bin/mypy
	$(PY) -m pytest -n $(TEST_WORKERS)

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

# Draw the escalation's state diagram in docs/how-it-works.md again from the transition table
# (telephony/lifecycle.py); tests/escalation/test_diagram.py fails while it is stale.
diagram: $(STAMP)
	$(PY) -m scripts.diagram

run: setup
	scripts/run.sh

# Upgrading (issue 30): copy the old Redis archive of escalation records into the history
# database (DATABASE_URL, or var/history.sqlite3); safe to run twice (docs/operating.md).
copy-archive: setup
	$(PY) -m scripts.copy_archive

# Refresh the console's screenshots in docs/screenshots (docs/console.md, reports.md, what-if.md) with the browser tests.
screenshots: setup
	SCREENSHOTS=1 $(PY) -m pytest tests/console/test_console.py tests/console/test_console_reports.py tests/what_if/test_console_what_if.py -q

# Loopback benchmarks, bounded; writes bench/RESULTS.md and bench/*.png, and bench/HISTORY.md (the
# history database on SQLite and PostgreSQL, issue 30; BENCH_SIZE=full adds 300,000 records).
bench: setup
	$(PY) -m bench.run
	$(PY) -m bench.history

clean:
	rm -rf .venv var .pytest_cache .ruff_cache node_modules
