# Crypto purchase backend. `make dev` runs everything locally; `make test` runs every test.
SHELL := /bin/bash
.DEFAULT_GOAL := help
NPM := npm
RUN := npm run --silent

.PHONY: help install dev test test-alerts lint typecheck migrate seed worker api exchange-sim reconcile exchange-check up down bench chaos clean

help: ## Show the available commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

# `npm install` rather than `npm ci`: the lockfile leaves out platform packages (other OSes' swc and
# resolver builds) that the registry mirror does not carry, which `npm ci` treats as out of sync.
node_modules/.package-lock.json: package.json package-lock.json
	$(NPM) install --no-audit --no-fund
	@touch $@

.tools/bin/temporal-test-server:
	scripts/install-temporal.sh

install: node_modules/.package-lock.json .tools/bin/temporal-test-server ## Install npm packages and the Temporal binaries (idempotent)

dev: install ## Start Temporal, Postgres, migrations, seed, worker, exchange simulator and the API
	$(RUN) dev

test: install test-alerts ## Lint, type-check and run every test (real Postgres, real Temporal)
	$(RUN) lint
	$(RUN) typecheck
	$(RUN) test

# promtool ships with Debian's `prometheus` package (.ci/run installs it).
test-alerts: ## Check the Prometheus config and rules, and run the alert rules' unit tests (promtool)
	@command -v promtool >/dev/null || { echo "promtool not found: apt-get install prometheus (see .ci/run)"; exit 1; }
	promtool check config deployments/prometheus/prometheus.yml
	promtool test rules deployments/prometheus/alerts.test.yml

lint: install ## ESLint and Prettier
	$(RUN) lint

typecheck: install ## TypeScript, no emit
	$(RUN) typecheck

migrate: install ## Apply database migrations (DATABASE_URL)
	$(RUN) migrate

seed: install ## Seed cryptos and the admin user (DATABASE_URL)
	$(RUN) seed

worker: install ## Run the Temporal worker
	$(RUN) worker

api: install ## Run the HTTP API on API_PORT
	$(RUN) api

exchange-sim: install ## Run the exchange simulator on EXCHANGE_SIM_PORT
	$(RUN) exchange-sim

reconcile: install ## Check wallets against the ledger and purchases against the house account (exit 1 if not)
	$(RUN) reconcile

exchange-check: install ## Check the configured exchange: markets, minimums, prices, balance; buys nothing (ARGS="--cryptos BTC,ETH")
	$(RUN) exchange:check -- $(ARGS)

bench: install ## Benchmarks with baselines; writes bench/results/<timestamp>.json
	$(RUN) bench

chaos: install ## Minutes of load with every fault (worker kill -9, Temporal and Postgres restarts, exchange faults), then the invariants
	$(RUN) chaos

up: ## docker compose up (needs a Docker engine)
	docker compose up --build -d

down: ## docker compose down
	docker compose down

clean: ## Remove build output and local data (keeps .tools)
	rm -rf dist .data coverage
