#!/usr/bin/env bash
# make image: builds the container image with docker where a Docker engine answers, else with
# podman (hack/podman.sh: chroot isolation, this machine's ulimits).
#
#   bash hack/image.sh [image]     # default flux-action-operator:latest (or $IMAGE)
#
# With podman, a base image that is not in local storage is replaced by a stand-in built from
# Debian's packages and the pinned Node.js (hack/base-image.sh); `podman pull
# docker.io/library/node:24-bookworm-slim` first to build on the real one. npm inside the build
# trusts the CA bundle this machine's npm trusts (NODE_EXTRA_CA_CERTS or npm's cafile), mounted
# for the build only: nothing of it is in the image. Builds run under nice.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
image=${1:-${IMAGE:-flux-action-operator:latest}}
log() { echo "[image] $*" >&2; }
die() { echo "[image] error: $*" >&2; exit 1; }

if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
  log "docker build -t $image"
  exec nice -n 10 docker build -t "$image" "$root"
fi
command -v podman >/dev/null 2>&1 ||
  die "no Docker engine answers and podman is not installed (Debian: apt-get install podman buildah runc)"

bash "$here/base-image.sh"
cache=${FLUXACT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/flux-action-operator}/image
mounts=()
ca=${NODE_EXTRA_CA_CERTS:-}
if [[ -z $ca ]] && command -v npm >/dev/null 2>&1; then
  ca=$(npm config get cafile 2>/dev/null || true)
  [[ $ca == null || $ca == undefined ]] && ca=
fi
if [[ -n $ca ]]; then
  [[ -r $ca ]] || die "CA bundle $ca is not readable"
  registry=$(npm config get registry 2>/dev/null || echo https://registry.npmjs.org/)
  mkdir -p "$cache"
  printf 'cafile=/run/fluxact-build/ca.crt\nregistry=%s\n' "$registry" >"$cache/build.npmrc"
  mounts=(--volume "$ca:/run/fluxact-build/ca.crt:ro" --volume "$cache/build.npmrc:/root/.npmrc:ro")
fi
log "podman build -t $image"
start=$SECONDS
nice -n 10 bash "$here/podman.sh" build "${mounts[@]}" --tag "$image" "$root"
log "built $image in $((SECONDS - start))s"
