#!/usr/bin/env bash
# Builds enclave-prodhost:latest, the systemd-booted Debian host of the production-path test, from the local
# debootstrap base (images/workspace/build.sh makes it). Skipped when the image's label already holds the
# content hash of its Dockerfile, so only the first run on a machine pays the download (a few minutes).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
image="${ENCLAVE_PRODHOST_IMAGE:-enclave-prodhost:latest}"
sum=$( (cat "$here/prod_host/Dockerfile"; docker image inspect -f '{{.Id}}' enclave-base:bookworm) | sha256sum | cut -c1-16)
if [ "$(docker image inspect -f '{{ index .Config.Labels "enclave.build" }}' "$image" 2>/dev/null)" = "$sum" ]; then
  exit 0
fi
log="${TMPDIR:-/tmp}/enclave-prodhost-build.log"
echo "[prodhost] docker build $image (log: $log)"
docker build --label "enclave.build=$sum" -t "$image" "$here/prod_host" >"$log" 2>&1 \
  || { tail -n 40 "$log" >&2; exit 1; }
