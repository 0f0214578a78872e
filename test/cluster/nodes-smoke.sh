#!/usr/bin/env bash
# Smoke test of `cluster.sh up --with-nodes`: a Deployment pinned to the fake
# Node turns Running, and `kubectl logs` of its pod prints the lines of a file
# that a ClusterLogs object maps its container to. Starts the cluster (with
# nodes) if needed; leaves it running, and removes what it created.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cluster() { bash "$here/cluster.sh" "$@"; }
k() { cluster kubectl "$@"; }

ns=kwok-smoke
tmp=$(mktemp -d)
cleanup() {
  k delete namespace "$ns" --ignore-not-found --wait=false >/dev/null 2>&1 || true
  k delete clusterlogs "$ns" --ignore-not-found >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

cluster up --with-nodes

# kwok reads container logs the way the kubelet does: the file must be in the
# CRI format (or Docker's JSON lines), one "<RFC3339Nano time> <stream> F <text>"
# per line; plain text is refused ("unsupported log format").
now=$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)
expected=$'hello from line one\nsecond line: 42\nthird and last line'
while IFS= read -r line; do printf '%s stdout F %s\n' "$now" "$line"; done <<<"$expected" >"$tmp/app.log"

k create namespace "$ns" >/dev/null
k apply -f - >/dev/null <<EOF
apiVersion: apps/v1
kind: Deployment
metadata:
  name: demo
  namespace: $ns
spec:
  replicas: 1
  selector:
    matchLabels: {app: demo}
  template:
    metadata:
      labels: {app: demo}
    spec:
      nodeSelector:
        type: kwok
      tolerations:
      - key: kwok.x-k8s.io/node
        operator: Exists
        effect: NoSchedule
      containers:
      - name: app
        image: example.invalid/demo:1.0
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterLogs
metadata:
  name: $ns
spec:
  selector:
    matchNamespaces: [$ns]
  logs:
  - containers: [app]
    logsFile: $tmp/app.log
EOF
k -n "$ns" wait --for=condition=Available deployment/demo --timeout=60s >/dev/null
pod=$(k -n "$ns" get pods -l app=demo -o jsonpath='{.items[0].metadata.name}')
k -n "$ns" get pod "$pod" -o wide

# kwok picks up the new ClusterLogs through a watch: retry briefly.
for _ in $(seq 50); do
  got=$(k -n "$ns" logs "$pod" 2>/dev/null) && [[ $got == "$expected" ]] && break
  sleep 0.2
done
printf '%s\n' "$got"
if [[ $got == "$expected" ]]; then
  echo "nodes-smoke: ok (kubectl logs returned the 3 lines)"
else
  echo "nodes-smoke: FAILED: kubectl logs returned something else" >&2
  k -n "$ns" logs "$pod" >&2 || true
  exit 1
fi
