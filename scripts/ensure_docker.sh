#!/usr/bin/env bash
# Starts dockerd when no engine answers (machines here have no init system running it).
set -euo pipefail
if docker info >/dev/null 2>&1; then exit 0; fi
mkdir -p /var/log/enclave
echo "[enclave] starting dockerd"
nohup dockerd >/var/log/enclave/dockerd.log 2>&1 &
for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then exit 0; fi
  sleep 1
done
echo "[enclave] dockerd did not start; see /var/log/enclave/dockerd.log" >&2
tail -n 20 /var/log/enclave/dockerd.log >&2 || true
exit 1
