#!/usr/bin/env bash
# make dev: the local control plane with the real Flux controllers (source-, kustomize-,
# helm-controller, flux-operator), a fake node whose pods run, the local Git/Helm/OCI server holding
# what the samples point at, the CRD and RBAC, the operator running as its own ServiceAccount, and
# the sample requests carried out by Flux, then the sample policies (config/samples/policies).
# Everything keeps running until `make dev-down`.
#
#   dev.sh up     start (idempotent: restarts the operator)
#   dev.sh down   stop the operator (the cluster and Flux: make cluster-down)
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
  cluster up --with-flux
  eval "$(cluster env)"
  say "building"
  (cd "$root" && npm run --silent build:all)

  say "installing the CRD, the namespace and the operator's RBAC"
  kubectl apply --server-side --force-conflicts -k "$root/config/crd" >/dev/null
  kubectl apply --server-side --force-conflicts -f "$root/config/manager/namespace.yaml" >/dev/null
  kubectl apply --server-side --force-conflicts -k "$root/config/rbac" >/dev/null
  kubectl wait --for=condition=Established crd/fluxactionrequests.fluxaction.io --timeout=60s >/dev/null
  # The MutatingAdmissionPolicy in the version the API server serves: v1 from Kubernetes 1.36, v1beta1
  # on the compat set's 1.35.
  local mutating=mutating
  kubectl get --raw /apis/admissionregistration.k8s.io/v1 | grep -q '"mutatingadmissionpolicies"' || mutating=mutating-v1beta1
  say "installing the admission policies and roles (config/admission, config/admission/$mutating)"
  kubectl apply --server-side --force-conflicts -k "$root/config/admission" >/dev/null
  kubectl apply --server-side --force-conflicts -k "$root/config/admission/$mutating" >/dev/null

  stop_pid operator
  stop_pid simulator # left by an older make dev

  local operator_kc metrics_addr=${FLUXACT_DEV_METRICS_ADDR:-127.0.0.1:8080}
  operator_kc=$(write_operator_kubeconfig)
  say "starting the operator as ServiceAccount fluxact-system/fluxact-operator (metrics on $metrics_addr)"
  nohup node "$root/dist/src/cli/main.js" operator --kubeconfig "$operator_kc" --namespace fluxact-system \
    --metrics-addr "$metrics_addr" >"$dev_dir/operator.log" 2>&1 &
  echo $! >"$dev_dir/operator.pid"

  # The samples point at podinfo upstream (GitHub, ghcr.io); here they fetch from the local
  # sources server, which gets the same repository layout and chart.
  say "applying config/samples (sources served by $SOURCES_URL): Flux objects in namespace apps and a request of each action"
  local rendered requests
  rendered=$(kubectl kustomize "$root/config/samples" | node "$root/dist/test/cluster/dev-samples.js" "$SOURCES_URL")
  mapfile -t requests < <(kubectl create --dry-run=client -o name -f - <<<"$rendered" | grep '^fluxactionrequest')
  # A request is carried out once; the samples of an earlier make dev go, so these run anew.
  kubectl delete -n apps --ignore-not-found "${requests[@]}" >/dev/null
  kubectl apply --server-side --force-conflicts -f - <<<"$rendered" >/dev/null
  # Finished (Succeeded or Failed) first, then all Succeeded.
  kubectl wait --for=jsonpath='{.status.completionTime}' -n apps --timeout=300s "${requests[@]}" >/dev/null || true
  if [[ $(kubectl get -n apps "${requests[@]}" -o jsonpath='{range .items[*]}{.status.phase}{"\n"}{end}' | sort -u) != Succeeded ]]; then
    kubectl get far -n apps -o wide >&2
    say "the sample requests did not all succeed; logs: $dev_dir/operator.log, .cache/cluster/logs/"
    exit 1
  fi
  # The sample policies once the samples ran: agents' HelmRelease actions in apps need approval,
  # prod-* is frozen on Friday evenings (README: Worked example). The samples' own requests come
  # from kubectl, which no rule matches, so a later make dev runs them as before.
  say "applying config/samples/policies: FluxActionPolicy apps/guardrails, ClusterFluxActionPolicy platform"
  kubectl apply --server-side --force-conflicts -k "$root/config/samples/policies" >/dev/null
  kubectl wait --for=condition=Ready -n apps fluxactionpolicy/guardrails --timeout=60s >/dev/null
  kubectl wait --for=condition=Ready clusterfluxactionpolicy/platform --timeout=60s >/dev/null
  kubectl get kustomizations,helmreleases,gitrepositories,ocirepositories -n apps
  kubectl get pods -n apps -o wide
  kubectl get far -n apps -o wide
  kubectl get fluxactionpolicies -n apps
  cat >&2 <<DONE

[dev] ready. Try:
  eval "\$(bash test/cluster/cluster.sh env)"     # KUBECONFIG for this cluster
  bash test/cluster/cluster.sh kubectl get far -A
  bash test/cluster/cluster.sh kubectl describe far -n apps reconcile-podinfo
  bash test/cluster/cluster.sh kubectl describe fap -n apps guardrails    # README: Worked example
  curl -s http://$metrics_addr/metrics | grep fluxact_
[dev] logs: .cache/dev/operator.log, .cache/cluster/logs/ (Flux controllers); stop with: make dev-down
DONE
}

down() {
  stop_pid operator
  stop_pid simulator
  say "operator stopped (the cluster and the Flux controllers keep running: make cluster-down)"
}

case ${1:-} in
  up) up ;;
  down) down ;;
  *) sed -n '2,9s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2; exit 2 ;;
esac
