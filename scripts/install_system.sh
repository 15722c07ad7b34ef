#!/usr/bin/env bash
# Installs the Debian packages the enclave host needs and makes sure a Docker engine answers.
# Idempotent: safe to run on every `make up` / `make test`.
set -euo pipefail
need=()
# keep in step with ansible/roles/enclave_host/tasks/main.yml
for pkg in docker.io debootstrap iptables chromium fonts-noto-cjk postgresql sqlite3 curl ca-certificates python3-venv cron clamav restic; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ "${#need[@]}" -gt 0 ]; then
  echo "[enclave] installing Debian packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
bash "$(dirname "$0")/ensure_docker.sh"
