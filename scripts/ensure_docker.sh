#!/usr/bin/env bash
# Starts dockerd when no engine answers (machines here have no init system running it).
set -euo pipefail
# pid of the dockerd this script started (read by tests/integration/test_docker_restart.py)
OWNED_PIDFILE=${ENCLAVE_DOCKERD_PIDFILE:-/run/enclave/dockerd.pid}
if docker info >/dev/null 2>&1; then exit 0; fi
# an engine that is still shutting down holds its pid file: wait for it to go
for _ in $(seq 1 60); do pgrep -x dockerd >/dev/null || break; sleep 1; done
if docker info >/dev/null 2>&1; then exit 0; fi
if [ -f /var/run/docker.pid ] && ! pgrep -x dockerd >/dev/null; then rm -f /var/run/docker.pid; fi
mkdir -p /var/log/enclave "$(dirname "$OWNED_PIDFILE")"
echo "[enclave] starting dockerd"
nohup dockerd >>/var/log/enclave/dockerd.log 2>&1 &
# this engine is ours: the Docker-restart test stops only an engine whose pid is recorded here
echo $! >"$OWNED_PIDFILE"
# a restart can wait on the previous containerd and its shims letting go: allow it time
for _ in $(seq 1 180); do
  if docker info >/dev/null 2>&1; then exit 0; fi
  sleep 1
done
echo "[enclave] dockerd did not start; see /var/log/enclave/dockerd.log" >&2
tail -n 20 /var/log/enclave/dockerd.log >&2 || true
exit 1
