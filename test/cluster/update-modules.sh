#!/usr/bin/env bash
# Regenerates the wrapper modules etcd/, kubernetes/, kwok/, helm/ and flux/*/ (go.mod
# and go.sum) from versions.env. Run it after bumping a version there, then
# commit the result: build.sh only builds what these files pin. With
# FLUXACT_VERSIONS=compat it regenerates the compatibility set's
# compat/kubernetes/ and compat/flux/*/ from versions-compat.env instead
# (etcd/, kwok/ and helm/ are shared by both sets).
set -euo pipefail
# flux-operator v0.59.0's go.mod says go 1.27.0, newer than the machine's Go
# may be; one toolchain for every module (the go command fetches it from the
# module proxy).
export GOTOOLCHAIN=go1.27.3

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"

# Creates a fresh go.mod in dir for module path mod.
init_module() {
  local dir=$1 mod=$2
  rm -f "$dir/go.mod" "$dir/go.sum"
  (cd "$dir" && go mod init "$mod" >/dev/null 2>&1)
}

# Prints the path of the go.mod of module@version (downloading it).
upstream_gomod() {
  go mod download -json "$1" | jq -r '.GoMod // error(.Error)'
}

# Prints `go mod edit` flags that give the wrapper the same language version
# and GODEBUG defaults as the upstream module, so the binaries behave as an
# upstream build does (and no newer Go than upstream needs is required).
go_directive_flags() {
  awk '$1 == "go" && !go {print "-go=" $2; go = 1}
       $1 == "godebug" && NF == 2 {print "-godebug=" $2}' "$1"
}

# update_plain <name> <module> <version>: a wrapper that only requires the
# module (etcd's and kwok's go.mod have no replace directives to repeat).
update_plain() {
  local name=$1 module=$2 version=$3 dir=$here/$1 upstream
  log "$name wrapper: $module $version"
  upstream=$(upstream_gomod "$module@$version")
  local args=(-require="$module@$version")
  mapfile -t -O ${#args[@]} args < <(go_directive_flags "$upstream")
  init_module "$dir" "flux-action-operator/test/cluster/$name"
  (cd "$dir" && go mod edit "${args[@]}" && go mod tidy)
}

update_etcd() { update_plain etcd go.etcd.io/etcd/server/v3 "$ETCD_VERSION"; }
update_kwok() { update_plain kwok sigs.k8s.io/kwok "$KWOK_VERSION"; }
update_helm() { update_plain helm helm.sh/helm/v4 "$HELM_VERSION"; }

# k8s.io/kubernetes replaces each staging module (k8s.io/api, ...) with a
# local directory that its module zip doesn't carry, so a module requiring it
# must replace each one with the published v0.<minor>.<patch> itself. The list
# is read from the replace block of k8s.io/kubernetes's own go.mod.
update_kubernetes() {
  local dir=$KUBERNETES_MODULE_DIR staging_version upstream
  staging_version=v0.${KUBERNETES_VERSION#v1.}
  log "kubernetes wrapper: k8s.io/kubernetes $KUBERNETES_VERSION, staging modules $staging_version"
  upstream=$(upstream_gomod "k8s.io/kubernetes@$KUBERNETES_VERSION")

  local args=(-require="k8s.io/kubernetes@$KUBERNETES_VERSION")
  mapfile -t -O ${#args[@]} args < <(go_directive_flags "$upstream")
  init_module "$dir" flux-action-operator/test/cluster/kubernetes
  (cd "$dir" && go mod edit "${args[@]}")
  {
    printf '\n// One per staging module in the replace block of k8s.io/kubernetes %s.\n' "$KUBERNETES_VERSION"
    printf 'replace (\n'
    awk -v v="$staging_version" '$2 == "=>" && $3 ~ /^\.\/staging\// {printf "\t%s => %s %s\n", $1, $1, v}' "$upstream"
    printf ')\n'
  } >>"$dir/go.mod"
  (cd "$dir" && go mod tidy)
}

# Prints a replace block that repeats the replace directives of the upstream
# go.mod of module at version. A directive pointing into the module's own tree
# (`github.com/fluxcd/source-controller/api => ./api`) names a directory the
# module zip carries but a requiring module cannot use; it becomes the
# published submodule at the same version (`=> .../api v1.7.3`). The others
# (go-digest at a commit, kustomize api/kyaml, yaml.v3) are copied as they are:
# they change what the binary is built from.
upstream_replaces() {
  local module=$1 version=$2 gomod=$3
  go mod edit -json "$gomod" | jq -r --arg m "$module" --arg v "$version" '
    (.Replace // [])[]
    | if (.New.Path | startswith("./")) then
        if .Old.Path == ($m + "/" + (.New.Path | ltrimstr("./"))) then
          "\t\(.Old.Path) => \(.Old.Path) \($v)"
        else error("\(.Old.Path) => \(.New.Path): not a directory of \($m)") end
      elif (.New.Path | startswith("../")) then
        error("\(.Old.Path) => \(.New.Path): outside the module")
      else
        "\t\(.Old.Path)\(if .Old.Version then " " + .Old.Version else "" end) => \(.New.Path) \(.New.Version)"
      end'
}

# Prints the module paths that upstream replaces with one of its own
# directories (./api): the wrapper requires them at the same version.
upstream_local_modules() {
  go mod edit -json "$1" | jq -r '(.Replace // [])[] | select(.New.Path | startswith("./")) | .Old.Path'
}

# update_flux <name> <module> <version> [--nosumdb MODULE]... [--replace 'OLD => NEW VERSION']...
# A wrapper in flux/<name>/ that requires the module and repeats its replace
# directives (see upstream_replaces). One module per component: their pins
# conflict (helm-controller replaces go-digest with another commit than
# source- and kustomize-controller; flux-operator requires the Kubernetes
# v0.36 modules, the controllers v0.34), and one module would build each with
# the others' versions.
#   --nosumdb: a module whose checksum the checksum database reachable here
#     does not answer (404, like the proxy's allow-list). It is fetched without
#     that lookup (GONOSUMDB), and its go.sum lines must then be the ones the
#     upstream module's own go.sum (checked against the database with the
#     upstream zip) records, or the update fails.
#   --replace: an extra replace directive, for a version upstream requires
#     that the module proxy does not serve (403).
update_flux() {
  local name=$1 module=$2 version=$3 dir=$FLUX_MODULES_DIR/$1 upstream replaces sub subs
  shift 3
  local nosumdb=() extra=()
  while (($#)); do
    case $1 in
      --nosumdb) nosumdb+=("$2"); shift 2 ;;
      --replace) extra+=("$2"); shift 2 ;;
      *) die "update_flux: unknown argument $1" ;;
    esac
  done
  log "flux/$name wrapper: $module $version"
  upstream=$(upstream_gomod "$module@$version")
  replaces=$(upstream_replaces "$module" "$version" "$upstream")
  local args=(-require="$module@$version")
  mapfile -t subs < <(upstream_local_modules "$upstream")
  for sub in "${subs[@]}"; do args+=(-require="$sub@$version"); done
  mapfile -t -O ${#args[@]} args < <(go_directive_flags "$upstream")
  mkdir -p "$dir"
  init_module "$dir" "flux-action-operator/test/cluster/flux/$name"
  (cd "$dir" && go mod edit "${args[@]}")
  {
    if [[ -n $replaces ]]; then
      printf '\n// The replace directives of %s %s' "$module" "$version"
      if ((${#subs[@]})); then
        printf ',\n// with its own directories replaced by the published submodules at %s' "$version"
      fi
      printf '.\nreplace (\n%s\n)\n' "$replaces"
    fi
    if ((${#extra[@]})); then
      printf '\n// Not from upstream: %s requires\n' "$module"
      printf '// versions the module proxy does not serve (403); replaced with older ones\n'
      printf '// it serves, see update-modules.sh.\n'
      printf 'replace (\n'
      printf '\t%s\n' "${extra[@]}"
      printf ')\n'
    fi
  } >>"$dir/go.mod"
  # -e: tidy also loads the tests of the controllers' own packages, and some
  # of their test-only modules (github.com/fluxcd/pkg/helmtestserver v0.31.0,
  # ...) are unknown to the checksum database reachable here (404). Nothing
  # the binary imports is skipped: build.sh builds with -mod=readonly and
  # would fail on a missing module.
  (cd "$dir" && GONOSUMDB=$(IFS=,; echo "${nosumdb[*]}") go mod tidy -e)
  check_sums_upstream "$dir" "$module@$version" "${nosumdb[@]}"
  check_binary_modules "$dir"
}

# check_binary_modules <wrapper dir>: fails when a module a package of the
# binary comes from cannot be downloaded. `go mod tidy -e` goes on past such
# a module (it must, for the test-only ones), so without this a wrapper could
# be committed that only build.sh finds broken.
check_binary_modules() {
  local dir=$1 missing
  missing=$(cd "$dir" && go list -mod=readonly -deps -tags tools -e \
    -f '{{with .Error}}{{$.ImportPath}}: {{.}}{{end}}' . |
    grep -E '403 Forbidden|missing go.sum entry|not available' || true)
  [[ -z $missing ]] || die "$dir: the binary needs modules the proxy does not serve:"$'\n'"$missing"
}

# check_sums_upstream <wrapper dir> <module@version> <module>...: fails
# unless the wrapper's go.sum lines for each module are in the upstream
# module's go.sum.
check_sums_upstream() {
  local dir=$1 upstream_sum m line lines
  shift
  (($# > 1)) || return 0
  upstream_sum=$(go mod download -json "$1" | jq -r '.Dir // error(.Error)')/go.sum
  shift
  for m in "$@"; do
    lines=$(awk -v m="$m" '$1 == m' "$dir/go.sum")
    [[ -n $lines ]] || die "$dir/go.sum has no line for $m"
    while read -r line; do
      grep -qxF "$line" "$upstream_sum" || die "$dir/go.sum: '$line' is not in $upstream_sum"
    done <<<"$lines"
  done
}

update_flux_controllers() {
  # v1.9.5 requires github.com/fluxcd/pkg/artifact v0.18.3, which answers 403
  # (v0.18.1 to v0.18.3 do, v0.18.0 is served); source-controller v1.9.0, the
  # one release that requires v0.18.0, is in no Flux release. --replace only
  # for the default set: the compat set's v1.7.3 gets everything it requires.
  if [[ $VERSION_SET == default ]]; then
    update_flux source-controller github.com/fluxcd/source-controller "$SOURCE_CONTROLLER_VERSION" \
      --replace 'github.com/fluxcd/pkg/artifact => github.com/fluxcd/pkg/artifact v0.18.0'
  else
    update_flux source-controller github.com/fluxcd/source-controller "$SOURCE_CONTROLLER_VERSION"
  fi
  update_flux kustomize-controller github.com/fluxcd/kustomize-controller "$KUSTOMIZE_CONTROLLER_VERSION" \
    --nosumdb github.com/fluxcd/pkg/http/fetch
  update_flux helm-controller github.com/fluxcd/helm-controller "$HELM_CONTROLLER_VERSION"
  # It requires go-containerregistry/pkg/authn/kubernetes at
  # v0.0.0-20260604213829-6849394e8a65, which answers 403; the older
  # pseudo-version is the one the github.com/fluxcd/pkg modules require, and
  # has the one function flux-operator calls (NewFromPullSecrets, same
  # signature; used for OCI pull secrets only).
  update_flux flux-operator github.com/controlplaneio-fluxcd/flux-operator "$FLUX_OPERATOR_VERSION" \
    --replace 'github.com/google/go-containerregistry/pkg/authn/kubernetes => github.com/google/go-containerregistry/pkg/authn/kubernetes v0.0.0-20250225234217-098045d5e61f'
}

main() {
  require_tools go jq
  if [[ $VERSION_SET == default ]]; then
    update_etcd
    update_kwok
  fi
  update_kubernetes
  if [[ $VERSION_SET == default ]]; then
    update_helm
  fi
  update_flux_controllers
  log "done; review and commit the wrappers' go.mod and go.sum ($VERSION_SET version set)"
}

main "$@"
