#!/usr/bin/env bash
# Builds the workspace image with no network inside the build:
#   1. a Debian 12 base made with debootstrap on the host and loaded with `docker import`; on it, R, its
#      Jupyter kernel, a CJK font and the R packages of policies/packages.yaml (`r:`), installed from Debian with
#      apt-get in a chroot on the host and imported as a second base (enclave-base:bookworm-r);
#   2. a wheelhouse downloaded on the host for the image's Python (cp311, manylinux, binary only);
#   3. the JupyterLab extension (images/workspace/labextension) built on the host: `npm ci` from its lockfile,
#      then @jupyterlab/builder against the core (jupyterlab/staging) of the wheelhouse's jupyterlab;
#   4. `docker build --network=none` from those three.
# Re-running is cheap: each step is skipped when its result is already there and unchanged.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
image="${ENCLAVE_IMAGE:-enclave-workspace:latest}"
base="enclave-base:bookworm"      # plain debootstrap; the production-path test's host is built from it too
rbase="enclave-base:bookworm-r"   # base + R (its label enclave.r: the hash of the packages and the base)
cache="${ENCLAVE_BUILD_CACHE:-$root/var/build}"
pip="${ENCLAVE_PIP:-$root/.venv/bin/pip}"
py="$(dirname "$pip")/python"
mkdir -p "$cache"
# R itself, the kernel, reticulate (enclave_read_parquet: Debian 12 packages no r-cran-arrow) and the
# libpython it embeds, the CJK font (zh-CN labels in R and matplotlib); then the allow-list's `r:` packages.
rfixed="r-base-core r-cran-irkernel r-cran-reticulate libpython3.11 fonts-wqy-microhei"
rlist=$(cd "$root" && PYTHONPATH="$root" "$py" -c 'from pathlib import Path
from policies.loader import load_section
print(" ".join(load_section(Path("policies/packages.yaml"), "packages").r))') || exit 1
check=false
[ "${1:-}" = "--check" ] && check=true   # print "image" when a build is needed, build nothing
if $check && ! docker image inspect "$base" >/dev/null 2>&1; then echo image; exit 0; fi

if ! docker image inspect "$base" >/dev/null 2>&1; then
  echo "[image] debootstrap Debian 12 base (a few minutes)"
  rootfs="$cache/rootfs"
  rm -rf "$rootfs"
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates,tini \
    bookworm "$rootfs" http://deb.debian.org/debian >"$cache/debootstrap.log" 2>&1 \
    || { tail -n 30 "$cache/debootstrap.log" >&2; exit 1; }
  chroot "$rootfs" apt-get clean
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*
  tar -C "$rootfs" -c . | docker import -c 'CMD ["/bin/bash"]' - "$base" >/dev/null
  rm -rf "$rootfs"
fi

# rebuilt when the packages or the plain base change
rsum=$(echo "$rfixed $rlist $(docker image inspect -f '{{.Id}}' "$base")" | sha256sum | cut -c1-16)
if [ "$(docker image inspect -f '{{ index .Config.Labels "enclave.r" }}' "$rbase" 2>/dev/null)" != "$rsum" ]; then
  if $check; then echo image; exit 0; fi
  echo "[image] R from Debian into the base: $rfixed $rlist (a few minutes)"
  rootfs="$cache/rootfs-r"
  rm -rf "$rootfs" && mkdir -p "$rootfs"
  cid=$(docker create "$base")
  docker export "$cid" | tar -C "$rootfs" -x && docker rm "$cid" >/dev/null && rm -f "$rootfs/.dockerenv"
  cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
  # shellcheck disable=SC2086  # the lists are words
  chroot "$rootfs" sh -c "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      $rfixed $rlist && apt-get clean" >"$cache/apt-r.log" 2>&1 || { tail -n 30 "$cache/apt-r.log" >&2; exit 1; }
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* && : > "$rootfs/etc/resolv.conf"
  tar -C "$rootfs" -c . | docker import -c 'CMD ["/bin/bash"]' -c "LABEL enclave.r=$rsum" - "$rbase" >/dev/null
  rm -rf "$rootfs"
fi

ctx="$cache/context"
mkdir -p "$ctx/wheelhouse"
cp "$here"/Dockerfile "$here"/*.py "$here"/page_config.json "$here"/overrides.json "$ctx/"   # enclave_job.py among them: `enclave-job`
cp "$here"/enclave.R "$here"/matplotlibrc "$ctx/"   # R's enclave_read_parquet; matplotlib's CJK font
cp "$root/egress_review/client.py" "$ctx/enclave_export.py"   # the in-workspace `enclave-export`
# ...whose request_export, in the workspace, is the notebook one (a readable summary, refusals in one sentence)
printf '\nfrom enclave_export_notebook import request_export  # noqa: E402,F811  (images/workspace/build.sh)\n' \
  >> "$ctx/enclave_export.py"
if $check && ! cmp -s "$here/requirements.txt" "$ctx/wheelhouse/requirements.txt"; then echo image; exit 0; fi
if ! cmp -s "$here/requirements.txt" "$ctx/wheelhouse/requirements.txt"; then
  echo "[image] downloading the wheelhouse (binary wheels for cp311 manylinux)"
  "$pip" download --quiet --only-binary=:all: --python-version 3.11 --implementation cp --abi cp311 \
    --platform manylinux_2_36_x86_64 --platform manylinux2014_x86_64 --platform linux_x86_64 \
    -d "$ctx/wheelhouse" -r "$here/requirements.txt"
  cp "$here/requirements.txt" "$ctx/wheelhouse/requirements.txt"
fi

lab="$here/labextension"
labcache="$cache/labextension"
labsum=$( (cd "$lab" && cat package.json package-lock.json tsconfig.json install.json src/*.ts style/*.css
           ls "$ctx/wheelhouse" | grep '^jupyterlab-[0-9]') | sha256sum | cut -c1-16)
if [ "$(cat "$ctx/labextension/.enclave-build" 2>/dev/null)" != "$labsum" ]; then
  if $check; then echo image; exit 0; fi
  echo "[image] building the JupyterLab extension enclave-lab (npm ci, @jupyterlab/builder)"
  wheel=$(ls "$ctx"/wheelhouse/jupyterlab-[0-9]*.whl | head -n 1)
  mkdir -p "$labcache/core"
  # the core's package.json names the shared packages and their versions: the build must agree with this Lab
  unzip -p "$wheel" jupyterlab/staging/package.json > "$labcache/core/package.json"
  if ! cmp -s "$lab/package-lock.json" "$labcache/package-lock.json" || [ ! -d "$labcache/node_modules" ]; then
    cp "$lab/package.json" "$lab/package-lock.json" "$labcache/"
    (cd "$labcache" && npm ci --no-audit --no-fund --ignore-scripts) >"$cache/labextension-npm.log" 2>&1 \
      || { tail -n 30 "$cache/labextension-npm.log" >&2; exit 1; }
  fi
  rm -rf "$labcache/src" "$labcache/style" "$labcache/lib" "$labcache/build"
  cp -r "$lab/package.json" "$lab/tsconfig.json" "$lab/src" "$lab/style" "$labcache/"
  (cd "$labcache" && node_modules/.bin/tsc && node_modules/.bin/build-labextension --core-path core .) \
    >"$cache/labextension-build.log" 2>&1 || { tail -n 30 "$cache/labextension-build.log" >&2; exit 1; }
  rm -rf "$ctx/labextension"
  cp -r "$labcache/build/enclave-lab" "$ctx/labextension"
  cp "$lab/install.json" "$ctx/labextension/"
  echo "$labsum" > "$ctx/labextension/.enclave-build"
fi

sum=$( (cat "$ctx"/Dockerfile "$ctx"/*.py "$ctx"/page_config.json "$ctx"/overrides.json "$ctx"/enclave.R "$ctx"/matplotlibrc \
            "$ctx/labextension/.enclave-build"
        ls "$ctx/wheelhouse"; echo "$rsum") | sha256sum | cut -c1-16)
if [ "$(docker image inspect -f '{{ index .Config.Labels "enclave.build" }}' "$image" 2>/dev/null)" = "$sum" ]; then
  $check || echo "[image] $image is up to date"
  exit 0
fi
if $check; then echo image; exit 0; fi
echo "[image] docker build --network=none $image"
docker build --network=none --build-arg "BASE=$rbase" --label "enclave.build=$sum" -t "$image" "$ctx" \
  >"$cache/docker-build.log" 2>&1 \
  || { tail -n 40 "$cache/docker-build.log" >&2; exit 1; }
echo "[image] built $image"
