#!/usr/bin/env bash
# Starts a throw-away PostgreSQL server (Debian's packages) for the tests; prints its URL.
set -euo pipefail
port="${ENCLAVE_TEST_PG_PORT:-55432}"
data=/tmp/enclave-test-pg
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
if ! runuser -u postgres -- "$bin/pg_isready" -q -h /tmp -p "$port" 2>/dev/null; then
  if [ ! -f "$data/PG_VERSION" ]; then
    rm -rf "$data"
    install -d -o postgres -g postgres "$data"
    runuser -u postgres -- "$bin/initdb" -D "$data" -A trust -U postgres >/dev/null
  fi
  runuser -u postgres -- "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w \
    -o "-p $port -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
fi
echo "postgresql+psycopg://postgres@127.0.0.1:$port/postgres"
