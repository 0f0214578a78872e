#!/usr/bin/env bash
# Smoke test of `cluster.sh up --with-flux`: each Flux controller really works,
# offline.
#   (a) source- and helm-controller: a HelmRepository served from a temporary
#       directory (python3 -m http.server; index.yaml and a chart packed with
#       tar) becomes Ready with an artifact that source-controller's artifact
#       server serves; a HelmRelease of that chart installs a Deployment (its
#       pod runs on the fake Node) and a ConfigMap, and becomes Ready.
#   (b) flux-operator: a ResourceSet with inline inputs renders a ConfigMap.
#   (c) kustomize- and source-controller: a GitRepository at an unreachable
#       URL fails, and a Kustomization built from it reports that its source
#       has no artifact.
#   (d) flux-operator: a FluxInstance (flux-system/flux) installs Flux from
#       the operator's own manifests and becomes Ready; suspended with
#       fluxcd.controlplane.io/reconcile=disabled it acknowledges a reconcile
#       request without reconciling, and resumed it reconciles again. Skipped
#       if a FluxInstance already exists.
# Starts the cluster (with Flux) if needed; leaves it running, and removes
# what it created.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
cluster() { bash "$here/cluster.sh" "$@"; }
k() { cluster kubectl "$@"; }

ns=flux-smoke
flux_ns=flux-system
tmp=$(mktemp -d)
http_pid=
instance_created=

cleanup() {
  set +e
  if [[ -n $instance_created ]]; then remove_flux_instance; fi
  k delete namespace "$ns" --ignore-not-found --wait=false >/dev/null 2>&1
  [[ -z $http_pid ]] || kill "$http_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
  echo "flux-smoke: FAILED: $*" >&2
  exit 1
}

# expect <what> <namespace> <object> <kubectl wait --for=...> [timeout]: waits
# for the condition; on timeout prints the object's status and fails.
expect() {
  local what=$1 namespace=$2 object=$3 for=$4 timeout=${5:-60s} start=$SECONDS
  if ! k -n "$namespace" wait "$object" "$for" --timeout="$timeout" >/dev/null; then
    k -n "$namespace" get "$object" -o yaml | sed -n '/^status:/,$p' >&2 || true
    fail "$what"
  fi
  echo "ok: $what ($((SECONDS - start))s)"
}

ready_message() {
  k -n "$1" get "$2" -o jsonpath='{.status.conditions[?(@.type=="Ready")].message}'
}

# Removes the FluxInstance without its uninstall: deleting an enabled one
# deletes what it installed, including the Flux CRDs (so every Flux object in
# the cluster) and the flux-system namespace with the ServiceAccounts the
# controllers of `up --with-flux` run as. Disabled, its deletion only drops
# the finalizer; then its Deployments, Service, ResourceQuota and cluster
# roles (suffixed -flux-system) go by its owner label, and the CRDs,
# namespace and ServiceAccounts it shares with `up` stay, minus the labels and
# annotations it put on them (a FluxReport reads them: "managedBy").
remove_flux_instance() {
  local owner=fluxcd.controlplane.io/name=flux shared=customresourcedefinitions,namespaces,serviceaccounts
  k -n "$flux_ns" annotate fluxinstance flux fluxcd.controlplane.io/reconcile=disabled --overwrite >/dev/null
  k -n "$flux_ns" delete fluxinstance flux --ignore-not-found --timeout=60s >/dev/null
  k -n "$flux_ns" delete deployments,services,resourcequotas -l "$owner" >/dev/null
  k delete clusterroles,clusterrolebindings -l "$owner" >/dev/null
  k label namespace "$flux_ns" pod-security.kubernetes.io/warn- pod-security.kubernetes.io/warn-version- >/dev/null
  k annotate "$shared" -A -l "$owner" kustomize.toolkit.fluxcd.io/prune- kustomize.toolkit.fluxcd.io/ssa- >/dev/null
  # The CRDs come with these two; `up` creates the namespace and ServiceAccounts without.
  k label namespaces,serviceaccounts -A -l "$owner" app.kubernetes.io/part-of- app.kubernetes.io/component- >/dev/null
  k label "$shared" -A -l "$owner" app.kubernetes.io/instance- app.kubernetes.io/managed-by- \
    app.kubernetes.io/version- fluxcd.controlplane.io/namespace- fluxcd.controlplane.io/name- >/dev/null
  instance_created=
}

start=$SECONDS
cluster up --with-flux
# A namespace left by a previous run may still be terminating.
k wait --for=delete "namespace/$ns" --timeout=120s >/dev/null 2>&1 || true
k create namespace "$ns" >/dev/null

# ---------------------------------------------------------------- (a) Helm

mkdir -p "$tmp/chart/demo/templates" "$tmp/repo"
cat >"$tmp/chart/demo/Chart.yaml" <<'EOF'
apiVersion: v2
name: demo
version: 0.1.0
appVersion: "1.0"
EOF
cat >"$tmp/chart/demo/values.yaml" <<'EOF'
greeting: hello
EOF
cat >"$tmp/chart/demo/templates/configmap.yaml" <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-config
data:
  greeting: {{ .Values.greeting | quote }}
EOF
cat >"$tmp/chart/demo/templates/deployment.yaml" <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  replicas: 1
  selector:
    matchLabels: {app: {{ .Release.Name }}}
  template:
    metadata:
      labels: {app: {{ .Release.Name }}}
    spec:
      containers:
      - name: app
        image: example.invalid/demo:1.0
EOF
# A chart archive is a gzipped tar of the chart's directory.
tar -czf "$tmp/repo/demo-0.1.0.tgz" -C "$tmp/chart" demo

python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$tmp/repo" >"$tmp/http.log" 2>&1 &
http_pid=$!
deadline=$((SECONDS + 10))
until port=$(sed -n 's/^Serving HTTP on 127.0.0.1 port \([0-9]*\) .*/\1/p' "$tmp/http.log") && [[ -n $port ]]; do
  ((SECONDS < deadline)) || fail "python3 -m http.server did not start: $(cat "$tmp/http.log")"
  sleep 0.1
done
repo=http://127.0.0.1:$port
cat >"$tmp/repo/index.yaml" <<EOF
apiVersion: v1
entries:
  demo:
  - apiVersion: v2
    name: demo
    version: 0.1.0
    appVersion: "1.0"
    created: "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    digest: $(sha256sum "$tmp/repo/demo-0.1.0.tgz" | cut -d' ' -f1)
    urls:
    - $repo/demo-0.1.0.tgz
generated: "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
EOF
echo "Helm repository: $repo"

greeting="hello from a HelmRelease"
k apply -f - >/dev/null <<EOF
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata:
  name: demo
  namespace: $ns
spec:
  interval: 10m
  url: $repo
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: demo
  namespace: $ns
spec:
  interval: 10m
  timeout: 2m
  chart:
    spec:
      chart: demo
      version: 0.1.0
      sourceRef:
        kind: HelmRepository
        name: demo
  values:
    greeting: $greeting
EOF
expect "HelmRepository Ready" "$ns" helmrepository/demo --for=condition=Ready
artifact=$(k -n "$ns" get helmrepository demo -o jsonpath='{.status.artifact.url}')
[[ -n $artifact ]] || fail "HelmRepository has no artifact"
curl -fsS -o /dev/null "$artifact" || fail "source-controller does not serve $artifact"
echo "ok: artifact served at $artifact"
expect "HelmChart Ready" "$ns" "helmchart/$ns-demo" --for=condition=Ready
expect "HelmRelease Ready" "$ns" helmrelease/demo --for=condition=Ready 120s
echo "   $(ready_message "$ns" helmrelease/demo)"
expect "Deployment demo Available (pod on the fake Node)" "$ns" deployment/demo --for=condition=Available
got=$(k -n "$ns" get configmap demo-config -o jsonpath='{.data.greeting}')
[[ $got == "$greeting" ]] || fail "ConfigMap demo-config has greeting '$got'"
echo "ok: ConfigMap demo-config from the chart"

# ---------------------------------------------------------------- (b) ResourceSet

k apply -f - >/dev/null <<EOF
apiVersion: fluxcd.controlplane.io/v1
kind: ResourceSet
metadata:
  name: demo
  namespace: $ns
spec:
  inputs:
  - name: alpha
    greeting: hello from a ResourceSet
  resources:
  - apiVersion: v1
    kind: ConfigMap
    metadata:
      name: rs-<< inputs.name >>
      namespace: $ns
    data:
      greeting: << inputs.greeting | quote >>
EOF
expect "ResourceSet Ready" "$ns" resourceset/demo --for=condition=Ready
got=$(k -n "$ns" get configmap rs-alpha -o jsonpath='{.data.greeting}')
[[ $got == "hello from a ResourceSet" ]] || fail "ConfigMap rs-alpha has greeting '$got'"
echo "ok: ConfigMap rs-alpha rendered by the ResourceSet"

# ---------------------------------------------------------------- (c) Kustomization

# Port 1 on the loopback: nothing listens, the connection is refused at once.
k apply -f - >/dev/null <<EOF
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: unreachable
  namespace: $ns
spec:
  interval: 10m
  timeout: 10s
  url: http://127.0.0.1:1/unreachable.git
  ref:
    branch: main
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: unreachable
  namespace: $ns
spec:
  interval: 10m
  path: ./
  prune: true
  sourceRef:
    kind: GitRepository
    name: unreachable
EOF
expect "GitRepository fails (GitOperationFailed)" "$ns" gitrepository/unreachable \
  --for=jsonpath='{.status.conditions[?(@.type=="Ready")].reason}'=GitOperationFailed
echo "   $(ready_message "$ns" gitrepository/unreachable)"
expect "Kustomization reports no source artifact (ArtifactFailed)" "$ns" kustomization/unreachable \
  --for=jsonpath='{.status.conditions[?(@.type=="Ready")].reason}'=ArtifactFailed
message=$(ready_message "$ns" kustomization/unreachable)
echo "   $message"
[[ $message == "Source artifact not found"* ]] || fail "Kustomization: unexpected message"

# ---------------------------------------------------------------- (d) FluxInstance

if k -n "$flux_ns" get fluxinstance flux >/dev/null 2>&1; then
  echo "skipped: FluxInstance $flux_ns/flux exists already (not ours to touch)"
else
  # No distribution artifact: built from the manifests the operator has on
  # disk (--storage-path), for the release whose controllers run here. Images
  # are never pulled: the pods run on kwok.
  instance_created=1
  k apply -f - >/dev/null <<EOF
apiVersion: fluxcd.controlplane.io/v1
kind: FluxInstance
metadata:
  name: flux
  namespace: $flux_ns
spec:
  distribution:
    version: "${FLUX_VERSION#v}"
    registry: ghcr.io/fluxcd
  components: [source-controller, kustomize-controller, helm-controller]
  cluster:
    type: kubernetes
    networkPolicy: false
EOF
  expect "FluxInstance Ready" "$flux_ns" fluxinstance/flux --for=condition=Ready 120s
  echo "   $(ready_message "$flux_ns" fluxinstance/flux); revision $(k -n "$flux_ns" get fluxinstance flux -o jsonpath='{.status.lastAppliedRevision}')"
  uid=$(k -n "$flux_ns" get fluxinstance flux -o jsonpath='{.metadata.uid}')
  reconciliations() {
    k -n "$flux_ns" get fluxinstance flux -o jsonpath='{.status.history[0].totalReconciliations}'
  }
  before=$(reconciliations)

  # Suspended: a reconcile request is acknowledged (lastHandledReconcileAt)
  # but nothing is reconciled; a Warning event says so.
  token=$(date +%s%N)
  k -n "$flux_ns" annotate fluxinstance flux --overwrite \
    fluxcd.controlplane.io/reconcile=disabled reconcile.fluxcd.io/requestedAt="$token" >/dev/null
  expect "suspended FluxInstance acknowledges request $token" "$flux_ns" fluxinstance/flux \
    --for=jsonpath='{.status.lastHandledReconcileAt}'="$token"
  events=$(k -n "$flux_ns" get events -o name \
    --field-selector "involvedObject.uid=$uid,reason=ReconciliationDisabled,type=Warning")
  [[ -n $events ]] || fail "no ReconciliationDisabled event for the suspended FluxInstance"
  [[ $(reconciliations) == "$before" ]] || fail "the suspended FluxInstance reconciled"
  echo "ok: Warning ReconciliationDisabled event; no reconciliation ($before so far)"

  # Resumed: the next request reconciles.
  token=$(date +%s%N)
  k -n "$flux_ns" annotate fluxinstance flux --overwrite \
    fluxcd.controlplane.io/reconcile- reconcile.fluxcd.io/requestedAt="$token" >/dev/null
  expect "resumed FluxInstance handles request $token" "$flux_ns" fluxinstance/flux \
    --for=jsonpath='{.status.lastHandledReconcileAt}'="$token"
  expect "resumed FluxInstance Ready" "$flux_ns" fluxinstance/flux --for=condition=Ready
  after=$(reconciliations)
  ((after > before)) || fail "the resumed FluxInstance did not reconcile ($before -> $after)"
  echo "ok: resumed FluxInstance reconciled ($before -> $after)"
  remove_flux_instance
  echo "ok: FluxInstance removed (without its uninstall)"
fi

echo "flux-smoke: ok ($((SECONDS - start))s)"
