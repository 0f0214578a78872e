#!/usr/bin/env bash
# Builds the control-plane binaries (etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kubectl) from the wrapper modules
# etcd/ and kubernetes/, and fetches the Flux CRDs, into the per-user cache
# (see lib.sh). Whatever is already in the cache is kept, so a warm run
# returns at once.
#
#   build.sh [--with-nodes] [--with-flux]
#   build.sh sources
#   build.sh helm
#   build.sh peers
#
# --with-nodes (or FLUXACT_CLUSTER_NODES=1) also builds kwok from the wrapper
# module kwok/ and copies its Logs/ClusterLogs CRDs and default Stages, for
# `cluster.sh up --with-nodes`.
#
# --with-flux (or FLUXACT_CLUSTER_FLUX=1; implies --with-nodes) also builds
# source-controller, kustomize-controller, helm-controller and flux-operator
# from the wrapper modules flux/*/, and copies flux-operator's Flux manifests
# and the RBAC they run under, for `cluster.sh up --with-flux`; and
# fluxact-sources from the module sources/, the Git, Helm and OCI server the
# Flux controllers fetch from (see README.md).
# `build.sh sources` builds only that, and prints the binary's path.
#
# `build.sh helm` builds only helm from the wrapper module helm/, and prints
# the binary's path. It holds a lock of its own rather than the cache's: a
# cold helm build takes minutes, and nothing else build.sh writes is in its
# directory.
#
# `build.sh peers` builds only the two programs the peer benchmarks
# (test/bench/peers.ts, test/bench/mcp-peers.ts) compare the project with: the
# flux CLI of the pinned Flux release and the Flux Operator MCP server of the
# pinned flux-operator; it prints their paths, one a line. Not part of make
# test. Its own lock, like helm's.
set -euo pipefail
# flux-operator v0.59.0's go.mod says go 1.27.0, newer than the machine's Go
# may be; one toolchain for every binary (the go command fetches it from the
# module proxy once).
export GOTOOLCHAIN=go1.27.3

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"

FLUX_OPERATOR_MODULE=github.com/controlplaneio-fluxcd/flux-operator

# Flux kinds the project relies on; the fetch fails if one is missing.
EXPECTED_KINDS=(
  GitRepository OCIRepository Bucket HelmChart HelmRepository
  Kustomization HelmRelease
  Receiver Alert Provider
  ImageRepository ImagePolicy ImageUpdateAutomation
  FluxInstance FluxReport ResourceSet ResourceSetInputProvider
)

# Fails unless the wrapper module in dir requires module at version, so that
# versions.env and the committed go.mod cannot drift apart.
check_pin() {
  local dir=$1 module=$2 version=$3 pinned
  pinned=$(cd "$dir" && go mod edit -json |
    jq -r --arg m "$module" '.Require[] | select(.Path == $m) | .Version')
  [[ $pinned == "$version" ]] ||
    die "$dir/go.mod requires $module ${pinned:-(nothing)}, versions.env says $version; run update-modules.sh"
}

# go_build <module dir> <package> <output file> [ldflags]
# Builds into a temporary file first so that an interrupted build never
# leaves a binary that later runs would take as complete.
go_build() {
  local dir=$1 pkg=$2 out=$3 ldflags=${4:-} start
  log "building $(basename "$out") ($pkg)"
  start=$SECONDS
  mkdir -p "$(dirname "$out")"
  (cd "$dir" && CGO_ENABLED=0 go build -trimpath -buildvcs=false \
    -ldflags "-s -w $ldflags" -o "$out.tmp" "$pkg")
  mv "$out.tmp" "$out"
  log "built $(basename "$out") in $((SECONDS - start))s"
}

build_etcd() {
  [[ -x $ETCD_BIN_DIR/etcd ]] && return
  check_pin "$ETCD_MODULE_DIR" go.etcd.io/etcd/server/v3 "$ETCD_VERSION"
  go_build "$ETCD_MODULE_DIR" go.etcd.io/etcd/server/v3 "$ETCD_BIN_DIR/etcd"
}

# The version variables of k8s.io/component-base/version (base.go); without
# them the binaries report v0.0.0-master and discovery shows no real version.
k8s_ldflags() {
  local v=k8s.io/component-base/version minor
  minor=${KUBERNETES_VERSION#v1.}
  minor=${minor%%.*}
  printf '%s ' "-X $v.gitVersion=$KUBERNETES_VERSION" "-X $v.gitMajor=1" \
    "-X $v.gitMinor=$minor" "-X $v.gitTreeState=clean"
}

build_kubernetes() {
  local bin checked=
  for bin in "${K8S_BINARIES[@]}"; do
    [[ -x $K8S_BIN_DIR/$bin ]] && continue
    [[ -n $checked ]] || { check_pin "$KUBERNETES_MODULE_DIR" k8s.io/kubernetes "$KUBERNETES_VERSION"; checked=1; }
    go_build "$KUBERNETES_MODULE_DIR" "k8s.io/kubernetes/cmd/$bin" "$K8S_BIN_DIR/$bin" "$(k8s_ldflags)"
  done
}

build_kwok() {
  [[ -x $KWOK_BIN_DIR/kwok ]] && return
  check_pin "$KWOK_MODULE_DIR" sigs.k8s.io/kwok "$KWOK_VERSION"
  # No version ldflags: the module's pkg/consts already says its version.
  go_build "$KWOK_MODULE_DIR" sigs.k8s.io/kwok/cmd/kwok "$KWOK_BIN_DIR/kwok"
}

# Helm's version variables (internal/version, as its Makefile sets them for a
# release tag); without them `helm version` says v4.3 and no tree state.
build_helm() {
  [[ -x $HELM_BIN_DIR/helm ]] && return
  check_pin "$here/helm" helm.sh/helm/v4 "$HELM_VERSION"
  local v=helm.sh/helm/v4/internal/version
  go_build "$here/helm" helm.sh/helm/v4/cmd/helm "$HELM_BIN_DIR/helm" "-X $v.version=$HELM_VERSION -X $v.gitTreeState=clean"
}

build_sources() {
  local bin
  bin=$(sources_bin)
  [[ -x $bin ]] && return
  go_build "$SOURCES_MODULE_DIR" . "$bin"
}

# kwok's CRDs for Logs and ClusterLogs (the only kwok kinds cluster.sh
# enables) and the Stages kwokctl uses by default (node-initialize,
# node-heartbeat-with-lease, pod-ready/complete/delete), from the module that
# the wrapper pins (checked against its go.sum).
fetch_kwok_files() {
  [[ -d $KWOK_CRD_DIR && -d $KWOK_STAGE_DIR ]] && return
  local dir tmp f
  dir=$(cd "$KWOK_MODULE_DIR" && go mod download -json sigs.k8s.io/kwok | jq -r '.Dir // error(.Error)')
  log "copying kwok $KWOK_VERSION CRDs and stages"
  mkdir -p "$CACHE_DIR/stages"
  rm -rf "$KWOK_CRD_DIR" "$KWOK_STAGE_DIR"
  tmp=$(mktemp -d "$CACHE_DIR/crds/.tmp.XXXXXX")
  cp "$dir"/kustomize/crd/bases/kwok.x-k8s.io_{logs,clusterlogs}.yaml "$tmp/"
  chmod u+w "$tmp"/*.yaml # the module cache is read-only
  mv "$tmp" "$KWOK_CRD_DIR"
  tmp=$(mktemp -d "$CACHE_DIR/stages/.tmp.XXXXXX")
  for f in node/fast/node-initialize node/heartbeat-with-lease/node-heartbeat-with-lease \
    pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete; do
    cp "$dir/kustomize/stage/$f.yaml" "$tmp/"
  done
  chmod u+w "$tmp"/*.yaml
  mv "$tmp" "$KWOK_STAGE_DIR"
}

# Prints the module directory of module@version, downloading it if needed
# (checked against the Go checksum database).
module_dir() {
  (cd "$CACHE_DIR" && go mod download -json "$1") | jq -r '.Dir // error(.Error)'
}

# Prints the CustomResourceDefinition documents of a multi-document YAML file.
crd_documents() {
  awk '
    function flush() { if (doc ~ /(^|\n)kind: CustomResourceDefinition\n/) printf "---\n%s", doc; doc = "" }
    /^---$/ { flush(); next }
    { doc = doc $0 "\n" }
    END { flush() }
  ' "$1"
}

# Fails unless the release manifest runs the pinned image tag of component.
check_component_version() {
  local file=$1 component=$2 version=$3
  grep -Eq "image: .*/$component:$version\$" "$file" ||
    die "$file does not run $component:$version (versions.env disagrees with Flux $FLUX_VERSION)"
}

# The CRDs of the controllers `--with-flux` builds (source-, kustomize- and
# helm-controller) come from the config/crd/bases of their modules, as the
# wrappers pin them (checked against their go.sum); the others' from
# flux-operator's copy of the release manifests
# (config/data/flux/<version>/<component>.yaml): the module proxy serves none
# of their versions in Flux 2.7 to 2.9 (see README.md). Every component's
# version is checked against the release manifests first, so that
# versions.env and the release agree.
fetch_flux_crds() {
  [[ -d $FLUX_CRD_DIR ]] && return
  local operator release tmp component version module dir f
  operator=$(module_dir "$FLUX_OPERATOR_MODULE@$FLUX_OPERATOR_VERSION")
  release=$operator/config/data/flux/$FLUX_VERSION
  [[ -d $release ]] || die "flux-operator $FLUX_OPERATOR_VERSION has no manifests for Flux $FLUX_VERSION"
  log "fetching Flux $FLUX_VERSION CRDs (controller modules, flux-operator $FLUX_OPERATOR_VERSION)"
  tmp=$(mktemp -d "$CACHE_DIR/crds/.tmp.XXXXXX")
  while read -r component version module; do
    check_component_version "$release/$component.yaml" "$component" "$version"
    if [[ $module == - ]]; then
      crd_documents "$release/$component.yaml" >"$tmp/$component.yaml"
      continue
    fi
    check_pin "$FLUX_MODULES_DIR/$component" "$module" "$version"
    dir=$(cd "$FLUX_MODULES_DIR/$component" && go mod download -json "$module" | jq -r '.Dir // error(.Error)')
    for f in "$dir"/config/crd/bases/*.yaml; do
      crd_documents "$f"
    done >"$tmp/$component.yaml"
    [[ -s $tmp/$component.yaml ]] || die "$module $version has no CRDs in config/crd/bases"
  done <<EOF
source-controller $SOURCE_CONTROLLER_VERSION github.com/fluxcd/source-controller
kustomize-controller $KUSTOMIZE_CONTROLLER_VERSION github.com/fluxcd/kustomize-controller
helm-controller $HELM_CONTROLLER_VERSION github.com/fluxcd/helm-controller
notification-controller $NOTIFICATION_CONTROLLER_VERSION -
image-reflector-controller $IMAGE_REFLECTOR_CONTROLLER_VERSION -
image-automation-controller $IMAGE_AUTOMATION_CONTROLLER_VERSION -
source-watcher $SOURCE_WATCHER_VERSION -
EOF
  mv "$tmp" "$FLUX_CRD_DIR"
}

fetch_flux_operator_crds() {
  [[ -d $FLUX_OPERATOR_CRD_DIR ]] && return
  local operator tmp
  operator=$(module_dir "$FLUX_OPERATOR_MODULE@$FLUX_OPERATOR_VERSION")
  log "fetching flux-operator $FLUX_OPERATOR_VERSION CRDs"
  tmp=$(mktemp -d "$CACHE_DIR/crds/.tmp.XXXXXX")
  cp "$operator"/config/crd/bases/*.yaml "$tmp/"
  chmod u+w "$tmp"/*.yaml # the module cache is read-only
  mv "$tmp" "$FLUX_OPERATOR_CRD_DIR"
}

check_kinds() {
  local kind missing=()
  for kind in "${EXPECTED_KINDS[@]}"; do
    grep -qrx "    kind: $kind" "$FLUX_CRD_DIR" "$FLUX_OPERATOR_CRD_DIR" || missing+=("$kind")
  done
  ((${#missing[@]} == 0)) || die "CRDs missing for: ${missing[*]}"
}

# ---------------------------------------------------------------- Flux (--with-flux)

# build_flux_controller <name> <module> <version>: the main package is the
# module root. No version ldflags: the Flux controllers have no version
# variable (their images carry the version).
build_flux_controller() {
  local name=$1 module=$2 version=$3
  [[ -x $FLUX_BIN_DIR/$name ]] && return
  check_pin "$FLUX_MODULES_DIR/$name" "$module" "$version"
  go_build "$FLUX_MODULES_DIR/$name" "$module" "$FLUX_BIN_DIR/$name"
}

build_flux_controllers() {
  build_flux_controller source-controller github.com/fluxcd/source-controller "$SOURCE_CONTROLLER_VERSION"
  build_flux_controller kustomize-controller github.com/fluxcd/kustomize-controller "$KUSTOMIZE_CONTROLLER_VERSION"
  build_flux_controller helm-controller github.com/fluxcd/helm-controller "$HELM_CONTROLLER_VERSION"
}

# flux-operator embeds its web UI (web/embed.go: `//go:embed dist/*`), which
# upstream builds with npm before `go build`; the module zip has no web/dist,
# so the package does not compile from the module as it is, and `go build
# -overlay` may not add files under the module cache. So the module (from the
# module cache, checked against the wrapper's go.sum) is copied, with a
# one-page web/dist, to <repo>/.cache/build/ (git-ignored), and built through
# a temporary copy of the wrapper's go.mod that replaces the module with that
# directory: same dependencies, same sources. The replacement path is
# relative, because the binary's build info records it: the same in every
# clone, so builds stay reproducible. cluster.sh runs it with the web server
# off. GOFIPS140=latest and main.VERSION as upstream's Dockerfile sets them:
# the operator exits at start unless FIPS 140-3 mode is on.
build_flux_operator() {
  local out=$FLUX_OPERATOR_BIN_DIR/flux-operator wrapper=$FLUX_MODULES_DIR/flux-operator
  local rel src copy tmp
  [[ -x $out ]] && return
  rel=$(realpath -m --relative-to="$wrapper" "$here/../../.cache/build/flux-operator-$FLUX_OPERATOR_VERSION")
  check_pin "$wrapper" "$FLUX_OPERATOR_MODULE" "$FLUX_OPERATOR_VERSION"
  src=$(cd "$wrapper" && go mod download -json "$FLUX_OPERATOR_MODULE" | jq -r '.Dir // error(.Error)')
  copy=$wrapper/$rel
  tmp=$(mktemp -d)
  # shellcheck disable=SC2064 # expanded now: the variables are local
  trap "rm -rf '$tmp' '$copy'" EXIT
  rm -rf "$copy"
  mkdir -p "$(dirname "$copy")"
  cp -R "$src" "$copy"
  chmod -R u+w "$copy" # the module cache is read-only
  mkdir "$copy/web/dist"
  printf '%s\n' '<!doctype html>' '<title>flux-operator</title>' \
    '<p>The web UI is not part of this build (its assets are not in the Go module).' \
    >"$copy/web/dist/index.html"
  cp "$wrapper/go.mod" "$wrapper/go.sum" "$tmp/"
  go mod edit -replace="$FLUX_OPERATOR_MODULE=$rel" "$tmp/go.mod"
  GOFLAGS="${GOFLAGS:+$GOFLAGS }-modfile=$tmp/go.mod" GOFIPS140=latest \
    go_build "$wrapper" "$FLUX_OPERATOR_MODULE/cmd/operator" "$out" "-X main.VERSION=$FLUX_OPERATOR_VERSION"
  rm -rf "$tmp" "$copy"
  trap - EXIT
}

# copy_tree <source dir> <destination dir>: copies into a temporary directory
# next to the destination, then renames it, so that a destination that exists
# is complete.
copy_tree() {
  local from=$1 to=$2 tmp
  mkdir -p "$(dirname "$to")"
  tmp=$(mktemp -d "$(dirname "$to")/.tmp.XXXXXX")
  cp -R "$from/." "$tmp/"
  chmod -R u+w "$tmp" # the module cache is read-only
  mv "$tmp" "$to"
}

# flux-operator's copy of the Flux release manifests (config/data, which its
# image carries in /data): a FluxInstance without a distribution artifact is
# built from them. And the RBAC: the release's rbac.yaml (cluster-reconciler
# binds kustomize- and helm-controller to cluster-admin, crd-controller gives
# every controller its own kinds) and flux-operator's own
# (config/default/rbac.yaml: its ServiceAccount bound to cluster-admin).
fetch_flux_operator_files() {
  [[ -d $FLUX_OPERATOR_DATA_DIR && -d $FLUX_RBAC_DIR && -d $FLUX_OPERATOR_RBAC_DIR ]] && return
  local operator
  operator=$(module_dir "$FLUX_OPERATOR_MODULE@$FLUX_OPERATOR_VERSION")
  [[ -f $operator/config/data/flux/$FLUX_VERSION/rbac.yaml ]] ||
    die "flux-operator $FLUX_OPERATOR_VERSION has no manifests for Flux $FLUX_VERSION"
  log "copying flux-operator $FLUX_OPERATOR_VERSION manifests (config/data) and the Flux RBAC"
  rm -rf "$FLUX_OPERATOR_DATA_DIR" "$FLUX_RBAC_DIR" "$FLUX_OPERATOR_RBAC_DIR"
  copy_tree "$operator/config/data" "$FLUX_OPERATOR_DATA_DIR"
  copy_file "$operator/config/data/flux/$FLUX_VERSION/rbac.yaml" "$FLUX_RBAC_DIR"
  copy_file "$operator/config/default/rbac.yaml" "$FLUX_OPERATOR_RBAC_DIR"
}

# copy_file <file> <destination dir>: a directory holding just that file.
copy_file() {
  local tmp
  tmp=$(mktemp -d)
  cp "$1" "$tmp/"
  copy_tree "$tmp" "$2"
  rm -rf "$tmp"
}

# ---------------------------------------------------------------- peers (build.sh peers)

# copy_module <module source dir> <copy dir>: a writable copy of a module
# (the module cache is read-only, and a copy can be given files its zip
# lacks); built with the module's own go.mod and go.sum.
copy_module() {
  local src=$1 copy=$2
  rm -rf "$copy"
  mkdir -p "$(dirname "$copy")"
  cp -R "$src" "$copy"
  chmod -R u+w "$copy" # the module cache is read-only
}

# The flux CLI (github.com/fluxcd/flux2/v2, cmd/flux) of the pinned Flux
# release. It embeds the release manifests (`//go:embed manifests/*.yaml` in
# cmd/flux/manifests.embed.go), which upstream's Makefile generates with
# kustomize before `go build`; the module zip has no cmd/flux/manifests/. They
# are the same files as flux-operator's copy of the release
# (config/data/flux/<version>/*.yaml), so the module is copied to
# <repo>/.cache/build/ (git-ignored) with those. main.VERSION as the release
# sets it (without the v).
build_flux_cli() {
  local out=$FLUX_CLI_BIN_DIR/flux module=github.com/fluxcd/flux2/v2 src manifests copy
  [[ -x $out ]] && return
  src=$(module_dir "$module@$FLUX_VERSION")
  manifests=$(module_dir "$FLUX_OPERATOR_MODULE@$FLUX_OPERATOR_VERSION")/config/data/flux/$FLUX_VERSION
  [[ -d $manifests ]] || die "flux-operator $FLUX_OPERATOR_VERSION has no manifests for Flux $FLUX_VERSION"
  copy=$(realpath -m "$here/../../.cache/build/flux2-$FLUX_VERSION")
  # shellcheck disable=SC2064 # expanded now: the variable is local
  trap "rm -rf '$copy'" EXIT
  copy_module "$src" "$copy"
  mkdir -p "$copy/cmd/flux/manifests"
  cp "$manifests"/*.yaml "$copy/cmd/flux/manifests/"
  go_build "$copy" ./cmd/flux "$out" "-X main.VERSION=${FLUX_VERSION#v}"
  rm -rf "$copy"
  trap - EXIT
}

# The Flux Operator MCP server (cmd/mcp of flux-operator) at the pinned
# version, built as its Dockerfile does (main.VERSION), from a copy of the
# module with its own go.mod and go.sum. Its documentation index
# (toolbox/docindex/index.json) is in the module.
build_flux_mcp() {
  local out=$FLUX_MCP_BIN_DIR/flux-operator-mcp src copy
  [[ -x $out ]] && return
  src=$(module_dir "$FLUX_OPERATOR_MODULE@$FLUX_OPERATOR_VERSION")
  copy=$(realpath -m "$here/../../.cache/build/flux-operator-mcp-$FLUX_OPERATOR_VERSION")
  # shellcheck disable=SC2064 # expanded now: the variable is local
  trap "rm -rf '$copy'" EXIT
  copy_module "$src" "$copy"
  go_build "$copy" ./cmd/mcp "$out" "-X main.VERSION=$FLUX_OPERATOR_VERSION"
  rm -rf "$copy"
  trap - EXIT
}

# ---------------------------------------------------------------- main

main() {
  local with_nodes=${FLUXACT_CLUSTER_NODES:-} with_flux=${FLUXACT_CLUSTER_FLUX:-} only_sources='' only_helm='' only_peers=''
  [[ $with_nodes == 0 ]] && with_nodes=
  [[ $with_flux == 0 ]] && with_flux=
  while (($#)); do
    case $1 in
      --with-nodes) with_nodes=1; shift ;;
      --with-flux) with_flux=1; shift ;;
      sources) only_sources=1; shift ;;
      helm) only_helm=1; shift ;;
      peers) only_peers=1; shift ;;
      *) die "unknown argument $1" ;;
    esac
  done
  [[ -z $with_flux ]] || with_nodes=1
  require_tools go jq flock
  mkdir -p "$CACHE_DIR/crds"
  if [[ -n $only_helm ]]; then
    # Its own lock: only this branch writes $HELM_BIN_DIR, and a cold build of
    # it must not hold up the control plane's builds (or theirs it).
    exec {lock}>"$CACHE_DIR/.build-helm.lock"
    flock "$lock"
    build_helm
    printf '%s\n' "$HELM_BIN_DIR/helm"
    return
  fi
  if [[ -n $only_peers ]]; then
    exec {lock}>"$CACHE_DIR/.build-peers.lock"
    flock "$lock"
    build_flux_cli
    build_flux_mcp
    printf '%s\n' "$FLUX_CLI_BIN_DIR/flux" "$FLUX_MCP_BIN_DIR/flux-operator-mcp"
    return
  fi
  # One build at a time per cache: parallel test runs or clones wait here.
  exec {lock}>"$CACHE_DIR/.build.lock"
  flock "$lock"

  if [[ -n $only_sources ]]; then
    build_sources
    sources_bin
    return
  fi

  local start=$SECONDS
  build_etcd
  build_kubernetes
  fetch_flux_crds
  fetch_flux_operator_crds
  check_kinds
  if [[ -n $with_nodes ]]; then
    build_kwok
    fetch_kwok_files
  fi
  if [[ -n $with_flux ]]; then
    build_flux_controllers
    build_flux_operator
    fetch_flux_operator_files
    build_sources
  fi
  ((SECONDS - start < 2)) || log "build.sh done in $((SECONDS - start))s; cache: $CACHE_DIR"
}

main "$@"
