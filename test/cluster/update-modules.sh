#!/usr/bin/env bash
# Regenerates the wrapper modules etcd/, kubernetes/ and kwok/ (go.mod and go.sum)
# from versions.env. Run it after bumping a version there, then commit the
# result: build.sh only builds what these files pin.
set -euo pipefail

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

# k8s.io/kubernetes replaces each staging module (k8s.io/api, ...) with a
# local directory that its module zip doesn't carry, so a module requiring it
# must replace each one with the published v0.<minor>.<patch> itself. The list
# is read from the replace block of k8s.io/kubernetes's own go.mod.
update_kubernetes() {
  local dir=$here/kubernetes staging_version upstream
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

main() {
  require_tools go jq
  update_etcd
  update_kubernetes
  update_kwok
  log "done; review and commit $here/{etcd,kubernetes,kwok}/go.{mod,sum}"
}

main "$@"
