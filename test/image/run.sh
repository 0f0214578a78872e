#!/usr/bin/env bash
# make test-image: builds the container image (hack/image.sh, tagged flux-action-operator:test)
# and runs test/image against the local control plane: the image as a pod's container, with host
# networking and only the in-cluster configuration, `fluxact operator` carrying out a request and
# `fluxact mcp` answering over HTTP.
#
# Without a Docker engine, podman, buildah, runc and debootstrap are installed from Debian's
# packages when missing (as root). The control plane is .cache/test-cluster, like make test's:
# started when not running, and stopped again afterwards if this run started it.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"
log() { echo "[test-image] $*" >&2; }

if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
  export FLUXACT_CONTAINER_ENGINE=docker
else
  export FLUXACT_CONTAINER_ENGINE=podman
  missing=()
  for tool in podman:podman buildah:buildah runc:runc debootstrap:debootstrap; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool#*:}")
  done
  if ((${#missing[@]})); then
    [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1 ||
      { log "no Docker engine, and ${missing[*]} missing: install them (Debian: apt-get install ${missing[*]})"; exit 1; }
    log "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
fi

export FLUXACT_TEST_IMAGE=${FLUXACT_TEST_IMAGE:-flux-action-operator:test}
start=$SECONDS
bash hack/image.sh "$FLUXACT_TEST_IMAGE"
build_seconds=$((SECONDS - start))

export FLUXACT_CLUSTER_DIR=${FLUXACT_CLUSTER_DIR:-$root/.cache/test-cluster}
cluster() { bash test/cluster/cluster.sh "$@"; }
started=false
cluster status >/dev/null 2>&1 || started=true
stop() { if $started; then cluster down; fi; }
trap stop EXIT
cluster up --with-nodes

results=$root/.cache/test-results
mkdir -p "$results"
rm -f "$results/image.json"
node --experimental-vm-modules node_modules/jest/bin/jest.js --selectProjects image --runInBand --forceExit \
  --json --outputFile="$results/image.json"

if [[ $FLUXACT_CONTAINER_ENGINE == docker ]]; then
  size=$(docker image inspect --format '{{.Size}}' "$FLUXACT_TEST_IMAGE")
else
  size=$(bash hack/podman.sh image inspect --format '{{.Size}}' "$FLUXACT_TEST_IMAGE")
fi
log "image $FLUXACT_TEST_IMAGE: $((size / 1000000)) MB; built in ${build_seconds}s"
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests} skipped`);
' "$results/image.json"
