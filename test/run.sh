#!/usr/bin/env bash
# make test: type-check, format check, lint, the chart's helm lint and template, unit tests, the integration tests (the operator and the MCP adapter against
# the local control plane, with the Flux simulator), then the end-to-end tests (the same against the
# real Flux controllers, a Git server and a Helm repository).
# make e2e: only the end-to-end tests.
# make test-compat: the end-to-end tests against the oldest supported Kubernetes and Flux
# (FLUXACT_VERSIONS=compat: test/cluster/versions-compat.env).
# make chaos: only the chaos suite (test/chaos), at full size: the operator SIGKILLed 100 times,
# kube-apiserver and etcd killed mid-burst, the leader killed, a slow API server, 1200 invalid requests,
# 10 000 fuzzed MCP calls. make test runs a short version of it after the integration tests.
#
#   test/run.sh [all|e2e|chaos]
#
# The tests get a control plane of their own (.cache/test-cluster, .cache/test-cluster-compat), so a `make dev` cluster
# (.cache/cluster) keeps running beside them untouched. It is started when not running, and
# stopped again afterwards if this run started it. With KUBECONFIG set, the integration tests use
# that cluster instead, and the end-to-end tests are skipped (they need the local Flux controllers).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$root"
mode=${1:-all}
[[ $mode == all || $mode == e2e || $mode == chaos ]] || { echo "usage: test/run.sh [all|e2e|chaos]" >&2; exit 2; }
results=$root/.cache/test-results
mkdir -p "$results"
rm -f "$results"/*.json

npm run --silent typecheck
npm run --silent format:check
npm run --silent lint
if [[ $mode == all ]]; then
  # helm lint and helm template of the chart (helm from the per-user cache, built when missing).
  bash test/chart/check.sh
  npm run --silent test:unit -- --json --outputFile="$results/unit.json"
fi
# Some tests run `fluxact` as a process, from dist/.
npm run --silent build:all

# The compatibility run (FLUXACT_VERSIONS=compat, make test-compat) gets a cluster of its own: one
# cluster runs one version set.
suffix=${FLUXACT_VERSIONS:-default}
[[ $suffix == default ]] && suffix= || suffix=-$suffix
export FLUXACT_CLUSTER_DIR=${FLUXACT_CLUSTER_DIR:-$root/.cache/test-cluster$suffix}
cluster() { bash test/cluster/cluster.sh "$@"; }
started=false
local_cluster=false
if [[ -z ${KUBECONFIG:-} ]]; then
  local_cluster=true
  cluster status >/dev/null 2>&1 || started=true
fi
stop() { if $started; then cluster down; fi; }
trap stop EXIT

if [[ $mode == all ]]; then
  # The simulator plays Flux here: the real controllers must not run beside it.
  if $local_cluster; then cluster up --with-nodes; fi
  npm run --silent test:integration -- --json --outputFile="$results/integration.json"
  # The short chaos run (the sizes' defaults): a few minutes.
  npm run --silent test:chaos -- --json --outputFile="$results/chaos.json"
fi

if [[ $mode == chaos ]]; then
  # Full size, unless set otherwise in the environment.
  export CHAOS_KILLS=${CHAOS_KILLS:-100} CHAOS_RESTARTS=${CHAOS_RESTARTS:-3} CHAOS_FAILOVERS=${CHAOS_FAILOVERS:-5}
  export CHAOS_PROXY_REQUESTS=${CHAOS_PROXY_REQUESTS:-500} CHAOS_INVALID=${CHAOS_INVALID:-1200} CHAOS_MCP_CALLS=${CHAOS_MCP_CALLS:-10000}
  if $local_cluster; then cluster up --with-nodes; fi
  npm run --silent test:chaos -- --json --outputFile="$results/chaos.json"
elif $local_cluster; then
  cluster up --with-flux
  npm run --silent test:e2e -- --json --outputFile="$results/e2e.json"
else
  echo "end-to-end tests skipped: they need the local control plane with the Flux controllers (unset KUBECONFIG)" >&2
fi

# One closing line for the suites that ran.
node -e '
  const files = process.argv.slice(1).map((f) => JSON.parse(require("fs").readFileSync(f, "utf8")));
  const sum = (k) => files.reduce((n, r) => n + r[k], 0);
  console.log(`tests: ${sum("numPassedTests")} passed, ${sum("numFailedTests")} failed, ${sum("numPendingTests")} skipped`);
' "$results"/*.json
