#!/usr/bin/env bash
# The chart's static checks, run by make test before the unit tests (a few seconds):
# `helm lint --strict` and `helm template` of charts/flux-action-operator with its default values
# and with every optional part on (all-features.values.yaml), and values.schema.json refusing bad
# values with a message that names the value. The rendered manifests go to .cache/chart/; the API
# server checks them in test/integration/chart.test.ts.
#
# helm: $FLUXACT_HELM_BIN, else the per-user cache (test/cluster/build.sh helm builds it when
# missing: a few minutes once).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"
helm=${FLUXACT_HELM_BIN:-$(bash test/cluster/build.sh helm)}
chart=charts/flux-action-operator
out=.cache/chart
mkdir -p "$out"
fail() { printf 'chart: %s\n' "$*" >&2; exit 1; }

# The oldest Kubernetes version the project supports, for the capabilities and deprecation checks.
# The mutating policy (admission.mutating.enabled) is MutatingAdmissionPolicy v1 where the cluster
# serves it (1.36+), else v1beta1 (1.34 and 1.35): helm template without a cluster renders v1, and
# with --api-versions naming only the v1beta1 kind, as a 1.35 cluster's discovery does, v1beta1.
# shellcheck source=../cluster/versions-compat.env
kube_version=$(source test/cluster/versions-compat.env && echo "$KUBERNETES_VERSION")

start=$SECONDS
"$helm" lint --strict --quiet --kube-version "$kube_version" "$chart"
"$helm" lint --strict --quiet --kube-version "$kube_version" "$chart" -f "$here/all-features.values.yaml"
"$helm" template fluxact "$chart" --kube-version "$kube_version" --namespace fluxact-system --include-crds >"$out/default.yaml"
"$helm" template fluxact "$chart" --kube-version "$kube_version" --namespace fluxact-system --include-crds \
  -f "$here/all-features.values.yaml" >"$out/all-features.yaml"
"$helm" template fluxact "$chart" --kube-version "$kube_version" --namespace fluxact-system \
  --api-versions admissionregistration.k8s.io/v1beta1/MutatingAdmissionPolicy \
  -f "$here/all-features.values.yaml" >"$out/all-features-v1beta1.yaml"
grep -q '^apiVersion: admissionregistration.k8s.io/v1beta1$' "$out/all-features-v1beta1.yaml" ||
  fail "a cluster serving MutatingAdmissionPolicy only in v1beta1 does not get the v1beta1 policy"

# refused <expected message part> <helm --set argument>...: the schema (or a template) refuses the values.
refused() {
  local expected=$1 err
  shift
  if err=$("$helm" template fluxact "$chart" "$@" 2>&1 >/dev/null); then
    fail "helm template $* succeeded; expected it to be refused with: $expected"
  fi
  [[ $err == *"$expected"* ]] || fail "helm template $* was refused, but not with '$expected': $err"
}
refused '/operator/replicas' --set operator.replicas=0
refused '/operator/concurrency' --set operator.concurrency=300
refused '/operator/logLevel' --set operator.logLevel=loud
refused '/operator/eventsAddr' --set operator.eventsAddr=notification-controller.flux-system
refused 'replics' --set operator.replics=2
refused '/mcp/token/value' --set mcp.enabled=true --set mcp.token.value=short
refused '/mcp/waitTimeout' --set mcp.waitTimeout=soon
refused '/mcp/auth' --set mcp.enabled=true --set mcp.auth=oauth
refused 'metrics.serviceMonitor.enabled needs metrics.service.enabled' \
  --set metrics.serviceMonitor.enabled=true --set metrics.service.enabled=false

printf 'chart: helm lint and template passed (%ss): %s, %s\n' "$((SECONDS - start))" "$out/default.yaml" "$out/all-features.yaml"
