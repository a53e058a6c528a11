# stagetrack: `make run` starts everything locally; `make test` runs the whole suite. Both set up what is missing.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run up down status migrate test lint typecheck unit integration e2e bench clean install

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

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

lint: $(STAMP)
	$(BIN)/ruff check services tests bench migrations
	$(BIN)/ruff format --check services tests bench migrations

typecheck: $(STAMP)
	$(BIN)/mypy

prometheus-rules:
	deploy/local/prometheus.sh check

test: lint typecheck $(STAMP)
	$(BIN)/pytest tests/unit tests/integration tests/e2e

unit: $(STAMP)
	$(BIN)/pytest tests/unit

# Each benchmark measures beside its baselines in the same run, on the local stack (started if it is not).
# `make bench BENCH=bench_ingest` runs one.
bench: up
	$(BIN)/python -m bench $(BENCH)

clean: down
	rm -rf .local $(VENV)
