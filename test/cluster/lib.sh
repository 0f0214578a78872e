# shellcheck shell=bash
# Shared by build.sh, cluster.sh and update-modules.sh: paths, versions and
# small helpers. Source it; it sets no shell options of its own.
# shellcheck disable=SC2034 # the variables are used by the scripts sourcing this

CLUSTER_SCRIPTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

log() { printf '[cluster] %s\n' "$*" >&2; }
die() { printf '[cluster] error: %s\n' "$*" >&2; exit 1; }

# shellcheck source=versions.env
source "$CLUSTER_SCRIPTS_DIR/versions.env"
# The version set: FLUXACT_VERSIONS=compat runs the oldest Kubernetes and Flux
# the project supports (versions-compat.env overrides their pins), built from
# the wrapper modules under compat/. etcd and kwok are the same in both sets.
VERSION_SET=${FLUXACT_VERSIONS:-default}
case $VERSION_SET in
  default) SET_MODULES_DIR=$CLUSTER_SCRIPTS_DIR ;;
  compat)
    # shellcheck source=versions-compat.env
    source "$CLUSTER_SCRIPTS_DIR/versions-compat.env"
    SET_MODULES_DIR=$CLUSTER_SCRIPTS_DIR/compat
    ;;
  *) die "FLUXACT_VERSIONS=$VERSION_SET: expected default or compat" ;;
esac
# The wrapper modules (see update-modules.sh): kubernetes/ and flux/*/ per
# version set, etcd/ and kwok/ shared.
ETCD_MODULE_DIR=$CLUSTER_SCRIPTS_DIR/etcd
KWOK_MODULE_DIR=$CLUSTER_SCRIPTS_DIR/kwok
KUBERNETES_MODULE_DIR=$SET_MODULES_DIR/kubernetes
FLUX_MODULES_DIR=$SET_MODULES_DIR/flux

# Binaries and CRDs are per user and per machine, shared by every clone.
CACHE_DIR=${FLUXACT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/flux-action-operator}
K8S_BIN_DIR=$CACHE_DIR/bin/k8s-$KUBERNETES_VERSION
ETCD_BIN_DIR=$CACHE_DIR/bin/etcd-$ETCD_VERSION
FLUX_CRD_DIR=$CACHE_DIR/crds/flux-$FLUX_VERSION
FLUX_OPERATOR_CRD_DIR=$CACHE_DIR/crds/flux-operator-$FLUX_OPERATOR_VERSION
# Only for `cluster.sh up --with-nodes`: the kwok binary, its Logs/ClusterLogs
# CRDs and its default node and pod Stages (from the module's kustomize/).
KWOK_BIN_DIR=$CACHE_DIR/bin/kwok-$KWOK_VERSION
KWOK_CRD_DIR=$CACHE_DIR/crds/kwok-$KWOK_VERSION
KWOK_STAGE_DIR=$CACHE_DIR/stages/kwok-$KWOK_VERSION
# Only for `cluster.sh up --with-flux`: source-, kustomize- and
# helm-controller (keyed by the Flux release), flux-operator and its copy of
# the Flux release manifests (config/data, its --storage-path), and the RBAC
# the controllers run under.
FLUX_BIN_DIR=$CACHE_DIR/bin/flux-$FLUX_VERSION
FLUX_OPERATOR_BIN_DIR=$CACHE_DIR/bin/flux-operator-$FLUX_OPERATOR_VERSION
FLUX_OPERATOR_DATA_DIR=$CACHE_DIR/data/flux-operator-$FLUX_OPERATOR_VERSION
FLUX_RBAC_DIR=$CACHE_DIR/rbac/flux-$FLUX_VERSION
FLUX_OPERATOR_RBAC_DIR=$CACHE_DIR/rbac/flux-operator-$FLUX_OPERATOR_VERSION
FLUX_CONTROLLERS=(source-controller kustomize-controller helm-controller)

# Only for `build.sh helm` (the chart's lint, template and push): helm.
HELM_BIN_DIR=$CACHE_DIR/bin/helm-$HELM_VERSION

# Only for `build.sh peers` (the benchmarks against the project's peers, not
# part of make test): the flux CLI of the pinned Flux release and the Flux
# Operator MCP server of the pinned flux-operator.
FLUX_CLI_BIN_DIR=$CACHE_DIR/bin/flux-cli-$FLUX_VERSION
FLUX_MCP_BIN_DIR=$CACHE_DIR/bin/flux-operator-mcp-$FLUX_OPERATOR_VERSION

K8S_BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kubectl)

# fluxact-sources, the project's own Git/Helm/OCI source server (module
# sources/): built for `--with-flux`, keyed by a hash of the module's files
# rather than a version, so that a change to its code or pins rebuilds it.
SOURCES_MODULE_DIR=$CLUSTER_SCRIPTS_DIR/sources
sources_bin() {
  local key
  key=$(cd "$SOURCES_MODULE_DIR" && sha256sum go.mod go.sum ./*.go | sha256sum | cut -c1-16)
  printf '%s\n' "$CACHE_DIR/bin/sources-$key/fluxact-sources"
}

require_tools() {
  local t
  for t in "$@"; do
    command -v "$t" >/dev/null 2>&1 || die "'$t' is not on PATH"
  done
}
