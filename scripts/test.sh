#!/usr/bin/env bash
# The whole test suite: lint, unit tests on SQLite and PostgreSQL, then the integration and browser
# tests against a real enclave (Docker, hub, proxy, OIDC provider, Chromium), started once per suite.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "[test] ruff"
.venv/bin/ruff check .
ENCLAVE_TEST_PG_URL="$(bash scripts/test_postgres.sh)"
export ENCLAVE_TEST_PG_URL
echo "[test] pytest (PostgreSQL at $ENCLAVE_TEST_PG_URL)"
.venv/bin/python -m pytest -p no:cacheprovider -ra "$@"
