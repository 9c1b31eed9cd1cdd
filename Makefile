# tradelab: one command to run the stack, one to test it. Both install what is missing first.
SHELL := /bin/bash
UV := ./scripts/uv

.PHONY: up test lint typecheck unit integration e2e schemas bench soak load bench-fairness bench-latency fuzz setup browser redis prometheus clean

setup: ## install uv (if missing) and the whole workspace from uv.lock
	@$(UV) sync --all-packages --frozen

up: setup redis ## start PostgreSQL, the broker, Redis and every service in the foreground (Ctrl-C stops all)
	@exec $(UV) run --frozen tradelab-dev up

lint: setup
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen lint-imports

typecheck: setup
	$(UV) run --frozen mypy

browser: ## install Debian's Chromium (the HTML report is checked in it) when it is missing
	@./scripts/ensure-chromium

redis: ## install Debian's redis-server when no Redis answers and none is installed
	@./scripts/ensure-redis

prometheus: ## install Debian's prometheus when missing (the metrics e2e test scrapes the stack with it)
	@./scripts/ensure-prometheus

test: lint typecheck browser redis prometheus ## lint, type-check, then unit, integration and e2e tests against real infrastructure
	$(UV) run --frozen tradelab-contracts-export --check
	$(UV) run --frozen pytest

unit: setup
	$(UV) run --frozen pytest -m "not integration and not e2e"

integration: setup redis
	$(UV) run --frozen pytest -m integration

e2e: setup browser redis prometheus
	$(UV) run --frozen pytest -m e2e

schemas: setup ## regenerate the committed JSON schemas and AsyncAPI document of the contracts
	$(UV) run --frozen tradelab-contracts-export

fuzz: setup ## schemathesis against a fresh stack: FUZZ_EXAMPLES (100) cases per operation, coverage and stateful phases
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-100} FUZZ_STEPS=$${FUZZ_STEPS:-10} FUZZ_COVERAGE=$${FUZZ_COVERAGE:-1} \
		$(UV) run --frozen pytest tests/e2e/test_openapi_fuzz.py tests/e2e/fuzz_stateful.py \
		--timeout=$${FUZZ_TIMEOUT_S:-3600}

soak: setup ## 10 minutes of mixed jobs with random service kills; prints what was lost (must be 0)
	TRADELAB_STATE_DIR=$${TRADELAB_STATE_DIR:-/tmp/tradelab-soak} $(UV) run --frozen python bench/soak.py $(SOAK_ARGS)

load: ## Locust: LOAD_USERS (50) users for LOAD_DURATION (5m) on `make up`'s gateway or a stack of its own; errors must be 0
	@$(UV) sync --all-packages --frozen --group load
	TRADELAB_STATE_DIR=$${TRADELAB_STATE_DIR:-/tmp/tradelab-load} $(UV) run --frozen --group load python bench/load/run.py

bench-fairness: setup ## user B's one backtest with and without user A's 200 queued; prints the waits and ratio
	TRADELAB_STATE_DIR=$${TRADELAB_STATE_DIR:-/tmp/bench-fairness} $(UV) run --frozen python bench/fairness.py $(FAIRNESS_ARGS)

bench-latency: setup ## upload->ready, submit->completed, completed->analysis, the grid vs in-process; per-stage breakdown
	TRADELAB_STATE_DIR=$${TRADELAB_STATE_DIR:-/tmp/bench-latency} $(UV) run --frozen python bench/latency.py $(LATENCY_ARGS)

clean: ## remove the local stack's state (logs, throwaway database cluster)
	rm -rf .tradelab
