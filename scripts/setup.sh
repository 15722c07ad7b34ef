#!/usr/bin/env bash
# Everything a fresh Debian 12 machine needs for `make up` and `make test`. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
# --check: print what is missing or stale (one word per line: system, python, proxy, image), change nothing.
check=false
[ "${1:-}" = "--check" ] && check=true
stamp=.venv/.enclave-installed
want=$( (cat pyproject.toml; ls -d */__init__.py) | sha256sum | cut -c1-16)
if $check; then
  for cmd in docker debootstrap iptables chromium npm crontab restic clamscan; do command -v "$cmd" >/dev/null || { echo system; break; }; done
  [ -x .venv/bin/python ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] || echo python
  if [ ! -x node_modules/.bin/configurable-http-proxy ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    echo proxy
  fi
  if [ -x .venv/bin/python ]; then bash images/workspace/build.sh --check; else echo image; fi
  exit 0
fi
bash scripts/install_system.sh

if [ ! -x .venv/bin/python ]; then
  echo "[enclave] creating .venv"
  python3 -m venv .venv
fi
# Reinstall when the dependencies or the set of top-level packages change (editable installs map packages once).
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "[enclave] installing Python packages"
  .venv/bin/pip install --quiet --upgrade pip
  .venv/bin/pip install --quiet -e ".[dev]"
  echo "$want" > "$stamp"
fi
# The name lexicons the egress checks read, derived once from the packaged word lists (enclave.pii.lexicons)
.venv/bin/python -m enclave.pii.names

if [ ! -x node_modules/.bin/configurable-http-proxy ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "[enclave] installing configurable-http-proxy (npm)"
  npm ci --no-audit --no-fund --loglevel=error
fi

bash images/workspace/build.sh
