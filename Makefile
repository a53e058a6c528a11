# stagetrack: `make run` starts everything locally; `make test` runs the whole suite. Both set up what is missing.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run up down status migrate test lint typecheck imports deps unit integration e2e bench clean install lock demo

UV_VERSION := 0.13.9

# Every install takes its versions from requirements.lock (all of them, transitive ones too).
$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c requirements.lock -e '.[dev,bench]'
	touch $(STAMP)

install: $(STAMP)

# Refresh the lock after changing pyproject.toml's dependencies (the versions already locked are kept where they
# still fit; `make lock LOCK_FLAGS=--upgrade` takes the newest allowed).
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q uv==$(UV_VERSION)
	$(BIN)/uv pip compile pyproject.toml --extra dev --extra bench --python-version 3.11 \
		--python-platform x86_64-unknown-linux-gnu $(LOCK_FLAGS) -o requirements.lock

up: $(STAMP)
	deploy/local/stack.sh up

down:
	-pkill -TERM -f "$(CURDIR)/$(BIN)/stagetrack serve" || true
	deploy/local/stack.sh down

status:
	deploy/local/stack.sh status

migrate: up
	$(BIN)/stagetrack migrate

run: migrate
	deploy/local/run-services.sh

# The demo website (examples/website) on 127.0.0.1:8080, its analytics.js calls sent to the local ingest
# (`make run` in another terminal); its tracker key is made on first use (docs/website.md).
demo: migrate
	deploy/local/browser.sh demo

lint: $(STAMP)
	$(BIN)/ruff check services tests bench migrations
	$(BIN)/ruff format --check services tests bench migrations

typecheck: $(STAMP)
	$(BIN)/mypy

# The rooms (domain pure, routes thin, no service imports another): contracts in pyproject.toml.
imports: $(STAMP)
	$(BIN)/lint-imports --no-cache

# Every import of the shipped code is a declared dependency, and every declared dependency is used.
deps: $(STAMP)
	$(BIN)/deptry .

prometheus-rules:
	deploy/local/prometheus.sh check

# The deployment files (Dockerfile, deploy/compose, deploy/helm, the settings in docs/deploy.md) checked without
# a Docker engine or Kubernetes; the first run builds Helm and the compose loader with Go (deploy/local/tools.sh).
.PHONY: deploy-checks
deploy-checks: $(STAMP)
	$(BIN)/pytest tests/deploy

test: lint typecheck imports deps $(STAMP)
	$(BIN)/pytest tests/unit tests/integration tests/e2e tests/deploy

unit: $(STAMP)
	$(BIN)/pytest tests/unit

# Integration and end-to-end tests start the services they need (Kafka, PostgreSQL, Prometheus) themselves.
integration: $(STAMP)
	$(BIN)/pytest tests/integration

e2e: $(STAMP)
	$(BIN)/pytest tests/e2e

# Each benchmark measures beside its baselines in the same run, on the local stack (started if it is not).
# `make bench BENCH=bench_ingest` runs one.
bench: up
	$(BIN)/python -m bench $(BENCH)

clean: down
	rm -rf .local $(VENV)
