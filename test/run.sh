#!/usr/bin/env bash
# make test: type-check, unit tests, then the integration tests against the local control plane
# (started here when it is not running, and stopped again afterwards).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$root"
results=$root/.cache/test-results
mkdir -p "$results"

npm run --silent typecheck
npm run --silent test:unit -- --json --outputFile="$results/unit.json"
# Some integration tests run `fluxact` as a process, from dist/.
npm run --silent build:all

# The local control plane with a fake node (kwok), so pods run and serve logs.
started=false
if [[ -z ${KUBECONFIG:-} ]]; then
  bash test/cluster/cluster.sh status >/dev/null 2>&1 || started=true
  bash test/cluster/cluster.sh up --with-nodes
fi
stop() { if $started; then bash test/cluster/cluster.sh down; fi; }
trap stop EXIT

npm run --silent test:integration -- --json --outputFile="$results/integration.json"

# One closing line for both suites.
node -e '
  const files = process.argv.slice(1).map((f) => JSON.parse(require("fs").readFileSync(f, "utf8")));
  const sum = (k) => files.reduce((n, r) => n + r[k], 0);
  console.log(`tests: ${sum("numPassedTests")} passed, ${sum("numFailedTests")} failed, ${sum("numPendingTests")} skipped`);
' "$results/unit.json" "$results/integration.json"
