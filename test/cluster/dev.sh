#!/usr/bin/env bash
# make dev: the local control plane, the CRD and RBAC, the Flux simulator (a test double standing in
# for the Flux controllers), the operator running as its own ServiceAccount, and the sample requests
# carried out. Everything keeps running until `make dev-down`.
#
#   dev.sh up     start (idempotent: restarts the operator and the simulator)
#   dev.sh down   stop the operator and the simulator (the cluster: make cluster-down)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
dev_dir=$root/.cache/dev
cluster() { bash "$here/cluster.sh" "$@"; }
kubectl() { cluster kubectl "$@"; }
say() { printf '[dev] %s\n' "$*" >&2; }

stop_pid() {
  local file=$dev_dir/$1.pid pid
  pid=$(cat "$file" 2>/dev/null) || return 0
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$file"
}

# A kubeconfig that authenticates as the operator's ServiceAccount, so `make dev` runs with the
# permissions of config/rbac, not as cluster admin.
write_operator_kubeconfig() {
  local server ca token file=$dev_dir/operator.kubeconfig
  server=$(kubectl config view --minify --raw -o jsonpath='{.clusters[0].cluster.server}')
  ca=$(kubectl config view --minify --raw -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')
  token=$(kubectl create token fluxact-operator -n fluxact-system --duration=24h)
  cat >"$file" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
  - name: local
    cluster: {server: "$server", certificate-authority-data: "$ca"}
users:
  - name: fluxact-operator
    user: {token: "$token"}
contexts:
  - name: fluxact-operator
    context: {cluster: local, user: fluxact-operator}
current-context: fluxact-operator
KUBECONFIG
  chmod 600 "$file"
  echo "$file"
}

up() {
  mkdir -p "$dev_dir"
  cluster up
  eval "$(cluster env)"
  say "building"
  (cd "$root" && npm run --silent build:all)

  say "installing the CRD, the namespace and the operator's RBAC"
  kubectl apply --server-side --force-conflicts -k "$root/config/crd" >/dev/null
  kubectl apply --server-side --force-conflicts -f "$root/config/manager/namespace.yaml" >/dev/null
  kubectl apply --server-side --force-conflicts -k "$root/config/rbac" >/dev/null
  kubectl wait --for=condition=Established crd/fluxactionrequests.fluxaction.io --timeout=60s >/dev/null

  stop_pid operator
  stop_pid simulator
  say "starting the Flux simulator (test double for the Flux controllers)"
  KUBECONFIG=$KUBECONFIG nohup node "$root/dist/test/simulator/main.js" >"$dev_dir/simulator.log" 2>&1 &
  echo $! >"$dev_dir/simulator.pid"

  local operator_kc metrics_addr=${FLUXACT_DEV_METRICS_ADDR:-127.0.0.1:8080}
  operator_kc=$(write_operator_kubeconfig)
  say "starting the operator as ServiceAccount fluxact-system/fluxact-operator (metrics on $metrics_addr)"
  nohup node "$root/dist/src/cli/main.js" operator --kubeconfig "$operator_kc" --namespace fluxact-system \
    --metrics-addr "$metrics_addr" >"$dev_dir/operator.log" 2>&1 &
  echo $! >"$dev_dir/operator.pid"

  say "applying config/samples: Flux objects in namespace apps and a request of each action"
  kubectl apply -k "$root/config/samples" >/dev/null
  if ! kubectl wait --for=condition=Ready fluxactionrequests --all -n apps --timeout=120s >/dev/null; then
    kubectl get far -n apps -o wide >&2
    say "the sample requests did not all succeed; logs: $dev_dir/operator.log $dev_dir/simulator.log"
    exit 1
  fi
  kubectl get far -n apps -o wide
  cat >&2 <<DONE

[dev] ready. Try:
  eval "\$(bash test/cluster/cluster.sh env)"     # KUBECONFIG for this cluster
  bash test/cluster/cluster.sh kubectl get far -A
  bash test/cluster/cluster.sh kubectl describe far -n apps reconcile-podinfo
  curl -s http://$metrics_addr/metrics | grep fluxact_
[dev] logs: .cache/dev/operator.log, .cache/dev/simulator.log; stop with: make dev-down
DONE
}

down() {
  stop_pid operator
  stop_pid simulator
  say "operator and simulator stopped (the cluster keeps running: make cluster-down)"
}

case ${1:-} in
  up) up ;;
  down) down ;;
  *) sed -n '2,8s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2; exit 2 ;;
esac
