# The two set-up commands in the README are `make up` and `make test`; the rest are helpers.
SHELL := /bin/bash
VENV := .venv
ENCLAVE := $(VENV)/bin/enclave

.PHONY: up down test setup image lint bench bench-stale status mutation

## Install everything (idempotent) and start the enclave with embedded defaults and demo data.
up: setup
	$(ENCLAVE) up

## Stop the hub, proxy, IdP and all workspace containers.
down:
	@if [ -x $(ENCLAVE) ]; then $(ENCLAVE) down; else echo "nothing to stop"; fi

## Install everything (idempotent) and run the whole test suite (unit, PostgreSQL, Docker, hub, IdP, browser).
test: setup
	bash scripts/test.sh

setup:
	bash scripts/setup.sh

image:
	bash images/workspace/build.sh

lint:
	$(VENV)/bin/ruff check .

## Benchmarks (not part of `make test`): results are written to benchmarks/results/.
bench: setup
	$(VENV)/bin/python benchmarks/spawn_time.py

## Which results in benchmarks/results/ measured code that has changed since (exit 1 when any): rerun those.
bench-stale:
	$(VENV)/bin/python benchmarks/stale.py

## Mutation testing of the rule modules (not part of `make test`; minutes per module, 2 workers under nice):
## egress_review/rules.py, workflow.py, checks.py, sdc.py, records.py, enclave/pii/validators.py,
## datasets_mount/checks.py, enclave/audit.py (the MODULES of benchmarks/mutation.py); writes
## benchmarks/results/mutation.json. MUTATION_ARGS="--module enclave/pii/validators.py" for one module,
## MUTATION_ARGS="--module egress_review/workflow.py --function release" for some functions of a big one.
mutation: setup
	$(VENV)/bin/python benchmarks/mutation.py $(MUTATION_ARGS)
