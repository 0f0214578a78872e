#!/usr/bin/env bash
# podman, set up for machines without a Docker engine and with a container runtime's usual
# assumptions not holding:
#
#   bash hack/podman.sh build ...   # podman build --isolation chroot ...
#   bash hack/podman.sh run ...     # podman run, with runc as the runtime
#
# It writes a containers.conf into the per-user cache (FLUXACT_CACHE_DIR, default
# ~/.cache/flux-action-operator) and points podman at it with CONTAINERS_CONF:
# - default_ulimits at the current hard limits: podman's defaults raise nofile and nproc, which
#   an unprivileged container host (or a sandbox) refuses. nproc is also at most
#   kernel.pid_max: podman lowers its own nproc limit to that when it starts, and a build step
#   cannot raise it again;
# - runtime runc: crun refuses hosts whose cgroups are mounted half v1, half v2.
# Builds use chroot isolation (no namespaces of their own to set up). Images go to podman's own
# storage, so `podman run flux-action-operator:latest` finds them afterwards.
set -euo pipefail

die() { echo "podman.sh: $*" >&2; exit 1; }
command -v podman >/dev/null 2>&1 || die "podman is not installed (Debian: apt-get install podman buildah runc)"

cache=${FLUXACT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/flux-action-operator}
conf=$cache/image/containers.conf
limit() { local v; v=$(ulimit "$1"); [[ $v == unlimited ]] && v=-1; echo "$v"; }
nofile=$(limit -Hn)
nproc=$(limit -Hu)
pid_max=$(cat /proc/sys/kernel/pid_max 2>/dev/null || echo -1)
if ((pid_max > 0 && (nproc < 0 || nproc > pid_max))); then nproc=$pid_max; fi
want=$(
  cat <<EOF
# Written by hack/podman.sh: limits at this machine's hard limits, runc as the runtime.
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]

[engine]
runtime = "runc"
EOF
)
if [[ ! -f $conf || $(<"$conf") != "$want" ]]; then
  mkdir -p "$(dirname "$conf")"
  printf '%s\n' "$want" >"$conf.tmp"
  mv "$conf.tmp" "$conf"
fi
export CONTAINERS_CONF=$conf

if [[ ${1:-} == build ]]; then
  shift
  exec podman build --isolation chroot "$@"
fi
exec podman "$@"
