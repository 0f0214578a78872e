#!/usr/bin/env bash
# A local Kubernetes control plane (etcd, kube-apiserver,
# kube-controller-manager) run as background processes, the way
# controller-runtime's envtest runs one, plus the Flux CRDs. No nodes: objects
# are stored and controllers act on them, but pods never run. With
# --with-nodes (or FLUXACT_CLUSTER_NODES=1) also kube-scheduler and kwok, and
# one fake Node (kwok-node) whose pods turn Running and serve `kubectl logs`
# from kwok's Logs/ClusterLogs objects. With --with-flux (or
# FLUXACT_CLUSTER_FLUX=1; implies --with-nodes) also the real Flux
# source-controller, kustomize-controller, helm-controller and flux-operator,
# as processes under their own ServiceAccounts in flux-system.
#
#   cluster.sh up [--with-nodes] [--with-flux] [--profiling] [--timeout SECONDS]
#                                      start (building binaries if needed); idempotent;
#                                      --profiling: kube-apiserver serves /debug/pprof
#                                      (the bench's --apiserver-profile-seconds reads it)
#   cluster.sh down [--purge]          stop; --purge also deletes the cluster data
#   cluster.sh status                  what runs, where
#   cluster.sh env                     export lines for a shell (eval "$(cluster.sh env)")
#   cluster.sh kubectl ARGS...         the pinned kubectl, on this cluster
#   cluster.sh restart etcd|kube-apiserver [--kill]
#                                      stop (SIGKILL with --kill) and start one component
#                                      again, on the same ports and data; for the chaos tests
#
# Everything the cluster writes lives in <repo>/.cache/cluster (git-ignored):
# certificates, kubeconfigs, etcd data, logs, pid files and the env file.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"

REPO_ROOT=$(cd "$here/../.." && pwd)
DATA_DIR=${FLUXACT_CLUSTER_DIR:-$REPO_ROOT/.cache/cluster}
PKI_DIR=$DATA_DIR/pki
LOG_DIR=$DATA_DIR/logs
RUN_DIR=$DATA_DIR/run
ENV_FILE=$DATA_DIR/env
KUBECONFIG_FILE=$DATA_DIR/kubeconfig
KUBECTL=$K8S_BIN_DIR/kubectl

# Start order; down stops them in reverse. The node components run only with
# `up --with-nodes`, the Flux ones only with `up --with-flux`; down always
# stops them too.
BASE_COMPONENTS=(etcd kube-apiserver kube-controller-manager)
NODE_COMPONENTS=(kube-scheduler kwok)
FLUX_COMPONENTS=("${FLUX_CONTROLLERS[@]}" flux-operator)
# The Git, Helm and OCI server they fetch from, started before them.
SOURCES_COMPONENT=fluxact-sources
ALL_COMPONENTS=("${BASE_COMPONENTS[@]}" "${NODE_COMPONENTS[@]}" "$SOURCES_COMPONENT" "${FLUX_COMPONENTS[@]}")
COMPONENTS=("${BASE_COMPONENTS[@]}")

# The fake Node of `up --with-nodes`, and the annotation kwok selects the
# Nodes it manages by (its default; kwok leaves other Nodes alone).
NODE_NAME=kwok-node
KWOK_NODE_ANNOTATION=kwok.x-k8s.io/node=fake
# Pod IPs kwok writes into pod status (never routed); not the service range.
POD_CIDR=10.244.0.0/16

# `up --with-flux`: the namespace the Flux controllers' ServiceAccounts live
# in (their RUNTIME_NAMESPACE), and their files (kubeconfigs, the
# source-controller's artifact storage).
FLUX_NAMESPACE=flux-system
FLUX_DIR=$DATA_DIR/flux
# Lifetime of the ServiceAccount tokens in the controllers' kubeconfigs; each
# `up` mints new ones (client-go reads a kubeconfig token once, at start).
FLUX_TOKEN_DURATION=8760h
# The toolkit controllers run as Flux's main shard does: they leave alone the
# objects labelled with a shard key (sharding.fluxcd.io/key). The tests label
# the Flux simulator's objects so, and the two never compete for one object.
# (flux-operator has no such selector.)
FLUX_SHARD_SELECTOR='!sharding.fluxcd.io/key'

SERVICE_CIDR=10.0.0.0/24
# The issuer is fixed (not derived from the port) so that tokens stay valid
# across a restart on other ports.
SA_ISSUER=https://kubernetes.default.svc.cluster.local
STOP_TIMEOUT=10
START_TIMEOUT=60

# ---------------------------------------------------------------- processes

binary_of() {
  case $1 in
    etcd) echo "$ETCD_BIN_DIR/etcd" ;;
    kwok) echo "$KWOK_BIN_DIR/kwok" ;;
    source-controller | kustomize-controller | helm-controller) echo "$FLUX_BIN_DIR/$1" ;;
    flux-operator) echo "$FLUX_OPERATOR_BIN_DIR/flux-operator" ;;
    fluxact-sources) sources_bin ;;
    *) echo "$K8S_BIN_DIR/$1" ;;
  esac
}

# Prints the pid of a running component, or fails. The process must run the
# component's binary (of any version) with this cluster's data dir in its
# arguments or environment (the Flux controllers take their kubeconfig from
# KUBECONFIG only), so a stale pid file never leads to signalling another
# process.
running_pid() {
  local name=$1 pid exe
  pid=$(cat "$RUN_DIR/$name.pid" 2>/dev/null) || return 1
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
  [[ $(basename "${exe% (deleted)}") == "$name" ]] || return 1
  cat "/proc/$pid/cmdline" "/proc/$pid/environ" 2>/dev/null | tr '\0' '\n' |
    grep -qF "$DATA_DIR/" || return 1
  echo "$pid"
}

# start_process <name> <args...>: runs the component's binary detached (its
# own session, so it outlives this script and the terminal's signals).
start_process() {
  local name=$1 bin
  shift
  bin=$(binary_of "$name")
  # Appended to, so that a previous run's shutdown stays readable.
  printf '=== %s: starting %s\n' "$(date -u +%FT%TZ)" "$name" >>"$LOG_DIR/$name.log"
  # {lock}>&-: the child must not inherit (and so hold) the cluster lock.
  setsid "$bin" "$@" >>"$LOG_DIR/$name.log" 2>&1 </dev/null {lock}>&- &
  echo $! >"$RUN_DIR/$name.pid"
}

# SIGTERM, then SIGKILL once STOP_TIMEOUT has passed.
stop_process() {
  local name=$1 pid deadline
  pid=$(running_pid "$name") || { rm -f "$RUN_DIR/$name.pid"; return 0; }
  log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$((SECONDS + STOP_TIMEOUT))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name did not stop within ${STOP_TIMEOUT}s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$RUN_DIR/$name.pid"
}

# The Flux components all at once: each takes ≈ 2 s to shut down, and none
# depends on another.
stop_flux_components() {
  local name pids=()
  for name in "${FLUX_COMPONENTS[@]}" "$SOURCES_COMPONENT"; do
    stop_process "$name" &
    pids+=($!)
  done
  # Only these: the daemons that up started are background jobs too.
  wait "${pids[@]}"
}

# The Flux components first, then the others one by one in reverse order.
stop_all() {
  local i
  stop_flux_components
  for ((i = ${#ALL_COMPONENTS[@]} - 1; i >= 0; i--)); do stop_process "${ALL_COMPONENTS[i]}"; done
}

fail_with_log() {
  local name=$1 msg=$2
  log "error: $msg"
  log "last lines of $LOG_DIR/$name.log (this start):"
  awk '/^=== / {n = 0} {line[++n] = $0} END {for (i = (n > 30 ? n - 29 : 1); i <= n; i++) print line[i]}' \
    "$LOG_DIR/$name.log" >&2 || true
  exit 1
}

# wait_ready <name> <curl args...>: polls until the URL answers "ok", and
# fails early with the log tail if the process dies.
# Whether the process start_process started for a component still runs. Not
# running_pid: right after the start the pid may still be the forked shell or
# setsid, before either execs the component's binary; and a child that exited
# stays a zombie (state Z) until this script reaps it.
started_alive() {
  local pid state
  pid=$(cat "$RUN_DIR/$1.pid" 2>/dev/null) || return 1
  state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
  [[ -n $state && $state != Z ]]
}

wait_ready() {
  local name=$1 deadline=$((SECONDS + START_TIMEOUT))
  shift
  until [[ $(curl -fsS --max-time 2 "$@" 2>/dev/null) == ok ]]; do
    started_alive "$name" || fail_with_log "$name" "$name exited during start"
    ((SECONDS < deadline)) || fail_with_log "$name" "$name not ready within ${START_TIMEOUT}s ($*)"
    sleep 0.2
  done
}

# ---------------------------------------------------------------- ports

# Prints n free TCP ports on 127.0.0.1, one a line, preferring the given
# ones (the previous run's) so that URLs stay the same across restarts.
free_ports() {
  local n=$1
  shift
  node - "$n" "$@" <<'EOF'
const net = require('node:net');
const [n, ...preferred] = process.argv.slice(2).map(Number);
const listen = (port) => new Promise((resolve) => {
  const server = net.createServer();
  server.once('error', () => resolve(null));
  server.listen(port, '127.0.0.1', () => resolve(server));
});
(async () => {
  const servers = [];
  for (let i = 0; i < n; i++) {
    // Held open until all are chosen, so the n ports are distinct.
    servers.push((preferred[i] && await listen(preferred[i])) || await listen(0));
  }
  for (const s of servers) console.log(s.address().port);
  for (const s of servers) s.close();
})();
EOF
}

# The ports of the env file, in this order.
PORT_VARS=(ETCD_PORT ETCD_PEER_PORT APISERVER_PORT CONTROLLER_MANAGER_PORT SCHEDULER_PORT KWOK_PORT)
# The Flux controllers' ports (chosen in every mode, used with --with-flux):
# metrics and health of each, and source-controller's artifact server.
FLUX_PORT_VARS=(
  SOURCE_CONTROLLER_STORAGE_PORT SOURCE_CONTROLLER_METRICS_PORT SOURCE_CONTROLLER_HEALTH_PORT
  KUSTOMIZE_CONTROLLER_METRICS_PORT KUSTOMIZE_CONTROLLER_HEALTH_PORT
  HELM_CONTROLLER_METRICS_PORT HELM_CONTROLLER_HEALTH_PORT
  FLUX_OPERATOR_METRICS_PORT FLUX_OPERATOR_HEALTH_PORT
  SOURCES_PORT
)

# Chooses the ports and writes the env file that status/env/tests read.
write_env() {
  local vars=("${PORT_VARS[@]}" "${FLUX_PORT_VARS[@]}") previous=() ports var i
  for var in "${vars[@]}"; do previous+=("$(env_value "$var")"); done
  # ports[2] is APISERVER_PORT (PORT_VARS order), ports[-1] SOURCES_PORT.
  mapfile -t ports < <(free_ports ${#vars[@]} "${previous[@]}")
  ((${#ports[@]} == ${#vars[@]})) || die "could not find free ports"
  {
    printf '# Written by test/cluster/cluster.sh up; sourceable.\n'
    printf 'KUBERNETES_VERSION=%s\n' "$KUBERNETES_VERSION"
    for i in "${!vars[@]}"; do printf '%s=%s\n' "${vars[i]}" "${ports[i]}"; done
    cat <<EOF
NODES=${WITH_NODES:-0}
FLUX=${WITH_FLUX:-0}
PROFILING=${WITH_PROFILING:-0}
FLUX_VERSION=$FLUX_VERSION
FLUX_NAMESPACE=$FLUX_NAMESPACE
APISERVER_URL=https://127.0.0.1:${ports[2]}
SOURCES_URL=http://127.0.0.1:${ports[-1]}
KUBECONFIG=$KUBECONFIG_FILE
KUBECTL=$KUBECTL
EOF
  } >"$ENV_FILE.tmp"
  mv "$ENV_FILE.tmp" "$ENV_FILE"
}

env_value() {
  [[ -f $ENV_FILE ]] || return 0
  sed -n "s/^$1=//p" "$ENV_FILE"
}

# ---------------------------------------------------------------- certificates

# new_cert <name> <subject> <issuer name> <extensions>: a key and a
# certificate signed by the CA <issuer name> (both in PKI_DIR).
new_cert() {
  local name=$1 subject=$2 ca=$3 ext=$4
  openssl req -new -newkey rsa:2048 -nodes -keyout "$PKI_DIR/$name.key" \
    -subj "$subject" 2>/dev/null |
    openssl x509 -req -days 3650 -sha256 -set_serial "0x$(openssl rand -hex 16)" \
      -CA "$PKI_DIR/$ca.crt" -CAkey "$PKI_DIR/$ca.key" \
      -extfile <(printf '%s\n' "$ext") -out "$PKI_DIR/$name.crt" 2>/dev/null
}

new_ca() {
  local name=$1 cn=$2
  openssl req -x509 -new -newkey rsa:2048 -nodes -days 3650 -sha256 \
    -keyout "$PKI_DIR/$name.key" -out "$PKI_DIR/$name.crt" -subj "/CN=$cn" \
    -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign,digitalSignature 2>/dev/null
}

client_ext() {
  printf '%s\n' basicConstraints=CA:FALSE keyUsage=critical,digitalSignature,keyEncipherment \
    extendedKeyUsage=clientAuth
}

# Every file ensure_pki writes; if one is missing (an interrupted start, or
# a data dir from an older version of this script), all are generated anew.
PKI_FILES=(ca.crt client-ca.crt front-proxy-ca.crt apiserver.crt admin.crt
  controller-manager.crt front-proxy-client.crt sa.key sa.pub)

pki_complete() {
  local f
  for f in "${PKI_FILES[@]}"; do [[ -s $PKI_DIR/$f ]] || return 1; done
}

# Kept across restarts (only `down --purge` removes them), so kubeconfigs and
# ServiceAccount tokens handed out stay valid.
ensure_pki() {
  pki_complete && return
  log "generating certificates in $PKI_DIR"
  rm -rf "$PKI_DIR"
  mkdir -p "$PKI_DIR"
  new_ca ca fluxact-cluster-ca
  new_ca client-ca fluxact-client-ca
  new_cert apiserver /CN=kube-apiserver ca "$(printf '%s\n' basicConstraints=CA:FALSE \
    keyUsage=critical,digitalSignature,keyEncipherment extendedKeyUsage=serverAuth \
    subjectAltName=DNS:localhost,IP:127.0.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:10.0.0.1)"
  new_cert admin /O=system:masters/CN=fluxact-admin client-ca "$(client_ext)"
  new_cert controller-manager /CN=system:kube-controller-manager client-ca "$(client_ext)"
  # The aggregation layer's front proxy, as kubeadm sets it up: without it
  # the apiserver publishes no request-header CA and the controller-manager's
  # delegated authentication logs an error every few seconds.
  new_ca front-proxy-ca fluxact-front-proxy-ca
  new_cert front-proxy-client /CN=front-proxy-client front-proxy-ca "$(client_ext)"
  # ServiceAccount token signing pair: the apiserver signs and verifies
  # TokenRequest tokens, the controller-manager signs legacy token Secrets.
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$PKI_DIR/sa.key" 2>/dev/null
  openssl pkey -in "$PKI_DIR/sa.key" -pubout -out "$PKI_DIR/sa.pub" 2>/dev/null
}

# Certificates of the node components (kube-scheduler's client cert, kwok's
# kubelet serving cert), generated when missing so that a data dir made
# without --with-nodes keeps its other certificates.
ensure_node_pki() {
  [[ -s $PKI_DIR/scheduler.crt && -s $PKI_DIR/kwok.crt ]] && return
  log "generating kube-scheduler and kwok certificates"
  new_cert scheduler /CN=system:kube-scheduler client-ca "$(client_ext)"
  # kwok serves the kubelet API (logs, exec...) at the Node's InternalIP
  # (127.0.0.1); the apiserver checks it against ca.crt
  # (--kubelet-certificate-authority).
  new_cert kwok /CN=kwok-kubelet ca "$(printf '%s\n' basicConstraints=CA:FALSE \
    keyUsage=critical,digitalSignature,keyEncipherment extendedKeyUsage=serverAuth \
    subjectAltName=DNS:localhost,IP:127.0.0.1,DNS:$NODE_NAME)"
}

# write_kubeconfig <file> <user> <cert name>: certificates embedded, so the
# file works on its own.
write_kubeconfig() {
  local cert=$3
  kubeconfig_file "$1" "$2" \
    "client-certificate-data: $(base64 -w0 "$PKI_DIR/$cert.crt")" \
    "client-key-data: $(base64 -w0 "$PKI_DIR/$cert.key")"
}

# kubeconfig_file <file> <user> <credential>...: a kubeconfig for this
# cluster, readable by its owner only; each credential is a `key: value` line
# of the user.
kubeconfig_file() {
  local file=$1 user=$2 credential
  shift 2
  (
    umask 077
    cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: fluxact
  cluster:
    server: https://127.0.0.1:$(env_value APISERVER_PORT)
    certificate-authority-data: $(base64 -w0 "$PKI_DIR/ca.crt")
users:
- name: $user
  user:
$(for credential in "$@"; do printf '    %s\n' "$credential"; done)
contexts:
- name: fluxact
  context:
    cluster: fluxact
    user: $user
current-context: fluxact
EOF
  )
  chmod 600 "$file"
}

# ---------------------------------------------------------------- components

start_etcd() {
  local url peer
  url=http://127.0.0.1:$(env_value ETCD_PORT)
  peer=http://127.0.0.1:$(env_value ETCD_PEER_PORT)
  log "starting etcd on $url"
  # unsafe-no-fsync: a throw-away test store; without it every write waits
  # for the disk.
  start_process etcd --name=fluxact --data-dir="$DATA_DIR/etcd" \
    --listen-client-urls="$url" --advertise-client-urls="$url" \
    --listen-peer-urls="$peer" --initial-advertise-peer-urls="$peer" \
    --initial-cluster="fluxact=$peer" --unsafe-no-fsync=true --log-level=warn
  wait_ready etcd "$url/health" -o /dev/null -w ok
}

# MutatingAdmissionPolicy fills in fluxaction.io/requested-by. From Kubernetes 1.36 it is GA and
# on by default (admissionregistration.k8s.io/v1: config/admission/mutating), so the API server
# runs with the defaults, as a cluster of that version does. In 1.34 and 1.35 it is beta and off
# by default: the feature gate and the v1beta1 API are turned on (config/admission/mutating-v1beta1).
kube_minor=${KUBERNETES_VERSION#v1.}
kube_minor=${kube_minor%%.*}
ADMISSION_POLICY_FLAGS=()
if ((kube_minor < 36)); then
  ADMISSION_POLICY_FLAGS=(--feature-gates=MutatingAdmissionPolicy=true
    --runtime-config=admissionregistration.k8s.io/v1beta1=true)
fi

start_apiserver() {
  local port
  port=$(env_value APISERVER_PORT)
  log "starting kube-apiserver on https://127.0.0.1:$port"
  # Flags after envtest's defaults; ServiceAccount admission stays on, since
  # the controller-manager creates the default ServiceAccounts.
  # endpoint-reconciler-type=none: the advertised address is loopback, which
  # the kubernetes Service's endpoints may not hold.
  start_process kube-apiserver \
    --etcd-servers="http://127.0.0.1:$(env_value ETCD_PORT)" \
    --bind-address=127.0.0.1 --secure-port="$port" --advertise-address=127.0.0.1 \
    --endpoint-reconciler-type=none \
    --tls-cert-file="$PKI_DIR/apiserver.crt" --tls-private-key-file="$PKI_DIR/apiserver.key" \
    --client-ca-file="$PKI_DIR/client-ca.crt" \
    --requestheader-client-ca-file="$PKI_DIR/front-proxy-ca.crt" \
    --requestheader-allowed-names=front-proxy-client \
    --requestheader-username-headers=X-Remote-User \
    --requestheader-group-headers=X-Remote-Group \
    --requestheader-extra-headers-prefix=X-Remote-Extra- \
    --proxy-client-cert-file="$PKI_DIR/front-proxy-client.crt" \
    --proxy-client-key-file="$PKI_DIR/front-proxy-client.key" \
    --authorization-mode=Node,RBAC \
    --service-account-issuer="$SA_ISSUER" \
    --service-account-key-file="$PKI_DIR/sa.pub" \
    --service-account-signing-key-file="$PKI_DIR/sa.key" \
    --service-cluster-ip-range="$SERVICE_CIDR" \
    --kubelet-certificate-authority="$PKI_DIR/ca.crt" \
    --kubelet-preferred-address-types=InternalIP \
    --allow-privileged=true --profiling="$([[ $(env_value PROFILING) == 1 ]] && echo true || echo false)" \
    "${ADMISSION_POLICY_FLAGS[@]}"
  wait_ready kube-apiserver "https://127.0.0.1:$port/readyz" --cacert "$PKI_DIR/ca.crt" \
    --cert "$PKI_DIR/admin.crt" --key "$PKI_DIR/admin.key"
}

# All default controllers but those that only act on Nodes (the cluster has
# none): namespace deletion, garbage collection, ServiceAccounts and tokens,
# workloads' ReplicaSets, RBAC aggregation etc. remain.
CONTROLLERS='*,-node-ipam-controller,-node-lifecycle-controller,-taint-eviction-controller,-persistentvolume-attach-detach-controller,-ttl-controller'
# With nodes, node-lifecycle-controller runs too: it removes the
# node.kubernetes.io/not-ready taint that admission (TaintNodesByCondition)
# puts on every new Node, once kwok has made it Ready; without it nothing is
# ever scheduled.
CONTROLLERS_WITH_NODES='*,-node-ipam-controller,-persistentvolume-attach-detach-controller,-ttl-controller'

start_controller_manager() {
  local port kubeconfig=$DATA_DIR/controller-manager.kubeconfig
  port=$(env_value CONTROLLER_MANAGER_PORT)
  write_kubeconfig "$kubeconfig" system:kube-controller-manager controller-manager
  log "starting kube-controller-manager on https://127.0.0.1:$port"
  start_process kube-controller-manager \
    --kubeconfig="$kubeconfig" \
    --authentication-kubeconfig="$kubeconfig" --authorization-kubeconfig="$kubeconfig" \
    --bind-address=127.0.0.1 --secure-port="$port" \
    --service-account-private-key-file="$PKI_DIR/sa.key" \
    --root-ca-file="$PKI_DIR/ca.crt" \
    --use-service-account-credentials=true \
    --service-cluster-ip-range="$SERVICE_CIDR" \
    --controllers="$([[ -n $WITH_NODES ]] && echo "$CONTROLLERS_WITH_NODES" || echo "$CONTROLLERS")" \
    --leader-elect=false --profiling=false
  wait_ready kube-controller-manager "https://127.0.0.1:$port/healthz" -k
}

start_scheduler() {
  local port kubeconfig=$DATA_DIR/scheduler.kubeconfig
  port=$(env_value SCHEDULER_PORT)
  write_kubeconfig "$kubeconfig" system:kube-scheduler scheduler
  log "starting kube-scheduler on https://127.0.0.1:$port"
  start_process kube-scheduler \
    --kubeconfig="$kubeconfig" \
    --authentication-kubeconfig="$kubeconfig" --authorization-kubeconfig="$kubeconfig" \
    --bind-address=127.0.0.1 --secure-port="$port" \
    --leader-elect=false --profiling=false
  wait_ready kube-scheduler "https://127.0.0.1:$port/healthz" -k
}

# kwok's configuration: the options below, and the Stages that kwokctl uses by
# default (node-initialize, node-heartbeat-with-lease, pod-ready,
# pod-complete, pod-delete), copied by build.sh from the kwok module.
# kwok v0.8.0 does not apply its API defaults to a KwokConfiguration read from
# --config (it exits with "node leases parallelism must be greater than 0"),
# so the options carry the defaults of its zz_generated.defaults.go;
# enableDebuggingHandlers is what serves containerLogs.
write_kwok_config() {
  local file=$1 stage
  {
    cat <<EOF
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokConfiguration
options:
  manageNodesWithAnnotationSelector: '$KWOK_NODE_ANNOTATION'
  nodeLeaseDurationSeconds: 40
  nodeLeaseParallelism: 4
  podPlayStageParallelism: 4
  nodePlayStageParallelism: 4
  podsOnNodeSyncParallelism: 1
  enablePodsOnNodeSyncListPager: true
  enablePodsOnNodeSyncStreamWatch: false
  enableDebuggingHandlers: true
  enableProfilingHandler: false
  enableContentionProfiling: false
  enableCRDs:
  - Logs
  - ClusterLogs
EOF
    for stage in "$KWOK_STAGE_DIR"/*.yaml; do
      printf -- '---\n'
      cat "$stage"
    done
  } >"$file"
}

# kwok manages the Nodes annotated kwok.x-k8s.io/node=fake and their Pods
# through its Stages, and serves the kubelet API (TLS, kwok.crt) on
# 127.0.0.1:KWOK_PORT, which node-initialize writes into each Node's status
# (InternalIP from --node-ip, daemonEndpoints.kubeletEndpoint.Port from
# --node-port): so the apiserver sends `kubectl logs` there.
start_kwok() {
  local port workdir=$DATA_DIR/kwok
  port=$(env_value KWOK_PORT)
  mkdir -p "$workdir"
  write_kwok_config "$workdir/kwok.yaml"
  log "installing kwok $KWOK_VERSION CRDs (Logs, ClusterLogs)"
  local applied names
  applied=$(kubectl apply --server-side --force-conflicts -o name -f "$KWOK_CRD_DIR")
  mapfile -t names <<<"$applied"
  wait_established "${names[@]##*/}"
  log "starting kwok; kubelet API on https://127.0.0.1:$port"
  # KWOK_WORKDIR: kwok would otherwise also read ~/.kwok/kwok.yaml.
  KWOK_WORKDIR=$workdir start_process kwok \
    --config="$workdir/kwok.yaml" \
    --kubeconfig="$KUBECONFIG_FILE" \
    --manage-nodes-with-annotation-selector="$KWOK_NODE_ANNOTATION" \
    --node-ip=127.0.0.1 --node-port="$port" --server-address="127.0.0.1:$port" \
    --tls-cert-file="$PKI_DIR/kwok.crt" --tls-private-key-file="$PKI_DIR/kwok.key" \
    --cidr="$POD_CIDR"
  wait_ready kwok "https://127.0.0.1:$port/healthz" --cacert "$PKI_DIR/ca.crt"
}

# The fake Node: kwok picks it up by its annotation and makes it Ready; the
# node-lifecycle-controller then lifts the not-ready taint. No taint of our
# own: it is the only Node, so every Pod that needs one lands on it; pin
# with nodeSelector type=kwok if you like.
create_node() {
  log "creating Node $NODE_NAME"
  kubectl apply --server-side --force-conflicts -f - >/dev/null <<EOF
apiVersion: v1
kind: Node
metadata:
  name: $NODE_NAME
  annotations:
    ${KWOK_NODE_ANNOTATION%%=*}: ${KWOK_NODE_ANNOTATION#*=}
  labels:
    type: kwok
    kubernetes.io/hostname: $NODE_NAME
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
EOF
  local deadline=$((SECONDS + START_TIMEOUT)) node
  while :; do
    node=$(kubectl get node "$NODE_NAME" -o json 2>/dev/null) || node=
    if [[ -n $node ]] && jq -e '
      any(.status.conditions[]?; .type == "Ready" and .status == "True")
      and all(.spec.taints[]?; .key != "node.kubernetes.io/not-ready")' <<<"$node" >/dev/null; then
      return
    fi
    started_alive kwok || fail_with_log kwok "kwok exited"
    ((SECONDS < deadline)) || fail_with_log kwok "Node $NODE_NAME not Ready and untainted within ${START_TIMEOUT}s"
    sleep 0.2
  done
}

# ---------------------------------------------------------------- Flux (--with-flux)

# The namespace, one ServiceAccount per controller (names as in the Flux
# release), the release's RBAC (rbac.yaml: cluster-reconciler binds kustomize-
# and helm-controller to cluster-admin, crd-controller grants every controller
# the Flux kinds, Secrets/ConfigMaps reads, Events and leases) and
# flux-operator's (config/default/rbac.yaml: cluster-admin), then a kubeconfig
# per controller holding a token of its ServiceAccount. So each controller is
# authorised exactly as in a cluster: a TokenRequest token (`kubectl create
# token`) authenticates as system:serviceaccount:flux-system:<name>, the same
# identity a pod's projected token gives, which a client certificate could
# only imitate (no ServiceAccount groups).
ensure_flux_identity() {
  local name token
  log "creating namespace $FLUX_NAMESPACE, the Flux ServiceAccounts and RBAC"
  mkdir -p "$FLUX_DIR"
  {
    printf 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n' "$FLUX_NAMESPACE"
    for name in "${FLUX_COMPONENTS[@]}"; do
      printf -- '---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: %s\n  namespace: %s\n' \
        "$name" "$FLUX_NAMESPACE"
    done
  } | kubectl apply --server-side --force-conflicts -f - >/dev/null
  # The release's ResourceQuota (critical-pods) has no namespace of its own:
  # like its kustomization, -n puts it in flux-system.
  kubectl apply --server-side --force-conflicts -n "$FLUX_NAMESPACE" \
    -f "$FLUX_RBAC_DIR/rbac.yaml" -f "$FLUX_OPERATOR_RBAC_DIR/rbac.yaml" >/dev/null
  for name in "${FLUX_COMPONENTS[@]}"; do
    token=$(kubectl -n "$FLUX_NAMESPACE" create token "$name" --duration="$FLUX_TOKEN_DURATION")
    write_token_kubeconfig "$FLUX_DIR/$name.kubeconfig" "$name" "$token"
  done
}

# write_token_kubeconfig <file> <user> <token>
write_token_kubeconfig() { kubeconfig_file "$1" "$2" "token: $3"; }

# Prints the env file's name prefix of a Flux component's ports
# (source-controller -> SOURCE_CONTROLLER).
flux_port_prefix() {
  local p=${1^^}
  echo "${p//-/_}"
}

# start_flux_component <name> <args...>: flags every one of them takes
# (fluxcd/pkg/runtime): metrics and health on 127.0.0.1, leader election off
# (the release turns it on; one replica here), logs as in the release (JSON,
# info). The kubeconfig comes from KUBECONFIG: they have no --kubeconfig
# flag. RUNTIME_NAMESPACE as a pod's fieldRef sets it.
start_flux_component() {
  local name=$1 prefix health
  shift
  prefix=$(flux_port_prefix "$name")
  health=$(env_value "${prefix}_HEALTH_PORT")
  log "starting $name; health on http://127.0.0.1:$health"
  KUBECONFIG=$FLUX_DIR/$name.kubeconfig RUNTIME_NAMESPACE=$FLUX_NAMESPACE start_process "$name" \
    --metrics-addr="127.0.0.1:$(env_value "${prefix}_METRICS_PORT")" \
    --health-addr="127.0.0.1:$health" \
    --enable-leader-election=false \
    --log-level=info --log-encoding=json \
    "$@"
  wait_ready "$name" "http://127.0.0.1:$health/readyz"
}

# The Flux controllers, as the release's Deployments run them, minus
# --events-addr (no notification-controller: events go to the API only).
# source-controller serves artifacts on 127.0.0.1:SOURCE_CONTROLLER_STORAGE_PORT
# and advertises that address in each artifact URL, so kustomize- and
# helm-controller download them from there. flux-operator: see README.md.
start_flux() {
  local storage
  storage=127.0.0.1:$(env_value SOURCE_CONTROLLER_STORAGE_PORT)
  start_sources
  ensure_flux_identity
  # The storage directory must exist (a volume in the release).
  mkdir -p "$FLUX_DIR/source-controller/storage"
  # TUF_ROOT: sigstore's cache (the release sets /tmp/.sigstore).
  TUF_ROOT=$FLUX_DIR/source-controller/sigstore start_flux_component source-controller \
    --watch-all-namespaces=true --watch-label-selector="$FLUX_SHARD_SELECTOR" \
    --storage-path="$FLUX_DIR/source-controller/storage" \
    --storage-addr="$storage" --storage-adv-addr="$storage"
  # The artifact server starts once the manager runs (its readinessProbe in
  # the release is GET / on that port).
  wait_ready source-controller "http://$storage/" -o /dev/null -w ok
  start_flux_component kustomize-controller --watch-all-namespaces=true --watch-label-selector="$FLUX_SHARD_SELECTOR"
  # graceful-shutdown-timeout: below down's SIGKILL deadline (default 600s).
  start_flux_component helm-controller --watch-all-namespaces=true --watch-label-selector="$FLUX_SHARD_SELECTOR" \
    --graceful-shutdown-timeout="$((STOP_TIMEOUT / 2))s"
  # NOTIFICATIONS_DISABLED: otherwise it sends events to a notification-controller
  # Service address when a FluxInstance has one, and logs an error for every
  # event while none exists. --web-server-port=0: no web UI (not in the build,
  # see build.sh). --storage-path: the Flux manifests its image has in /data.
  NOTIFICATIONS_DISABLED=true start_flux_component flux-operator \
    --storage-path="$FLUX_OPERATOR_DATA_DIR" --web-server-port=0
}

# fluxact-sources: Git over HTTP (push and fetch), a Helm repository and an
# OCI registry on SOURCES_URL, with its Git and Helm data in $DATA_DIR/sources
# (the registry is in memory). See README.md.
start_sources() {
  local port
  port=$(env_value SOURCES_PORT)
  log "starting fluxact-sources (Git, Helm, OCI) on http://127.0.0.1:$port"
  mkdir -p "$DATA_DIR/sources"
  start_process "$SOURCES_COMPONENT" --root "$DATA_DIR/sources" --addr "127.0.0.1:$port"
  wait_ready "$SOURCES_COMPONENT" "http://127.0.0.1:$port/healthz"
}

install_crds() {
  log "installing Flux $FLUX_VERSION and flux-operator $FLUX_OPERATOR_VERSION CRDs"
  local applied names
  applied=$(kubectl apply --server-side --force-conflicts -o name \
    -f "$FLUX_CRD_DIR" -f "$FLUX_OPERATOR_CRD_DIR")
  mapfile -t names <<<"$applied"
  names=("${names[@]##*/}") # customresourcedefinition.apiextensions.k8s.io/<name>
  wait_established "${names[@]}"
}

# Waits until the named CRDs are Established. One LIST per poll: kubectl's
# client-side rate limit makes a GET per CRD (as `kubectl wait` does) take
# seconds.
wait_established() {
  local deadline=$((SECONDS + START_TIMEOUT)) established name missing
  while :; do
    established=$(kubectl get crd -o json | jq -r '.items[]
      | select(any(.status.conditions[]?; .type == "Established" and .status == "True"))
      | .metadata.name') || established=
    missing=()
    for name in "$@"; do grep -qxF "$name" <<<"$established" || missing+=("$name"); done
    ((${#missing[@]} == 0)) && return
    ((SECONDS < deadline)) || die "CRDs not Established within ${START_TIMEOUT}s: ${missing[*]}"
    sleep 0.2
  done
}

kubectl() { "$KUBECTL" --kubeconfig="$KUBECONFIG_FILE" "$@"; }

healthy() {
  local name
  [[ -f $ENV_FILE ]] || return 1
  for name in "${COMPONENTS[@]}"; do running_pid "$name" >/dev/null || return 1; done
  if [[ -n $WITH_NODES ]]; then
    for name in "${NODE_COMPONENTS[@]}"; do running_pid "$name" >/dev/null || return 1; done
  fi
  if [[ -n $WITH_FLUX ]]; then
    for name in "$SOURCES_COMPONENT" "${FLUX_COMPONENTS[@]}"; do running_pid "$name" >/dev/null || return 1; done
  fi
  [[ $(curl -fsS --max-time 2 --cacert "$PKI_DIR/ca.crt" --cert "$PKI_DIR/admin.crt" \
    --key "$PKI_DIR/admin.key" "$(env_value APISERVER_URL)/readyz" 2>/dev/null) == ok ]]
}

# ---------------------------------------------------------------- commands

# Serialises up and down of this clone's cluster (parallel test runs may all
# call up).
lock_cluster() {
  mkdir -p "$DATA_DIR"
  exec {lock}>"$DATA_DIR/.lock"
  flock "$lock"
}

cmd_up() {
  while (($#)); do
    case $1 in
      --with-nodes) WITH_NODES=1; shift ;;
      --with-flux) WITH_FLUX=1; shift ;;
      --profiling) WITH_PROFILING=1; shift ;;
      --timeout) START_TIMEOUT=$2; shift 2 ;;
      *) die "up: unknown argument $1" ;;
    esac
  done
  [[ -z $WITH_FLUX ]] || WITH_NODES=1
  require_tools openssl curl jq node setsid flock base64
  lock_cluster
  if healthy; then
    local running="Kubernetes $(env_value KUBERNETES_VERSION), Flux $(env_value FLUX_VERSION)"
    local pinned="Kubernetes $KUBERNETES_VERSION, Flux $FLUX_VERSION"
    # Another version set, or pins bumped since the start: its binaries and
    # CRDs are not the pinned ones, and etcd data is not for downgrading.
    [[ $running == "$pinned" ]] ||
      die "$DATA_DIR runs $running, the pins ($VERSION_SET) say $pinned: stop it first (cluster.sh down --purge)"
    if [[ -n $WITH_NODES && $(env_value NODES) != 1 ]]; then
      log "running without nodes; restarting with them"
    elif [[ -n $WITH_FLUX && $(env_value FLUX) != 1 ]]; then
      log "running without the Flux controllers; restarting with them"
    elif [[ -n $WITH_PROFILING && $(env_value PROFILING) != 1 ]]; then
      log "kube-apiserver runs without profiling; restarting with it"
    else
      # A start that asks for no Flux controllers (make test, make dev) gets
      # none: the Flux simulator stands in for them and would compete with
      # the real ones over every Flux object. The rest keeps running.
      if [[ -z $WITH_FLUX && $(env_value FLUX) == 1 ]]; then
        log "stopping the Flux controllers (this start asks for none; up --with-flux keeps them)"
        stop_flux_components
        sed -i 's/^FLUX=1$/FLUX=0/' "$ENV_FILE"
      fi
      log "already running: $(env_value APISERVER_URL) (KUBECONFIG=$KUBECONFIG_FILE)"
      return
    fi
  fi
  "$here/build.sh" ${WITH_NODES:+--with-nodes} ${WITH_FLUX:+--with-flux}
  local start=$SECONDS
  # Whatever is left of a previous, broken start goes first; and if this
  # start fails, nothing is left running.
  stop_all
  trap 'log "start failed; stopping what was started"; stop_all' EXIT
  mkdir -p "$LOG_DIR" "$RUN_DIR"
  ensure_pki
  write_env
  write_kubeconfig "$KUBECONFIG_FILE" fluxact-admin admin
  start_etcd
  start_apiserver
  start_controller_manager
  install_crds
  if [[ -n $WITH_NODES ]]; then
    ensure_node_pki
    start_scheduler
    start_kwok
    create_node
  fi
  if [[ -n $WITH_FLUX ]]; then
    start_flux
  fi
  trap - EXIT
  log "up in $((SECONDS - start))s: $(env_value APISERVER_URL)"
  log "use: export KUBECONFIG=$KUBECONFIG_FILE  (or: eval \"\$(bash test/cluster/cluster.sh env)\")"
}

cmd_down() {
  local purge=
  case ${1:-} in
    '') ;;
    --purge) purge=1 ;;
    *) die "down: unknown argument $1" ;;
  esac
  [[ -d $DATA_DIR ]] || { log "no cluster in $DATA_DIR"; return 0; }
  lock_cluster
  stop_all
  if [[ -n $purge ]]; then
    log "removing $DATA_DIR"
    rm -rf "$DATA_DIR"
  fi
}

cmd_status() {
  local name pid state=0
  [[ $(env_value NODES) == 1 ]] && WITH_NODES=1
  [[ $(env_value FLUX) == 1 ]] && WITH_FLUX=1
  for name in "${ALL_COMPONENTS[@]}"; do
    if pid=$(running_pid "$name"); then
      printf '%-24s running (pid %s)\n' "$name" "$pid"
    elif [[ " ${BASE_COMPONENTS[*]} " == *" $name "* ]] ||
      { [[ -n $WITH_NODES ]] && [[ " ${NODE_COMPONENTS[*]} " == *" $name "* ]]; } ||
      [[ -n $WITH_FLUX ]]; then
      printf '%-24s stopped\n' "$name"
      state=1
    fi
  done
  if running_pid "$SOURCES_COMPONENT" >/dev/null; then
    printf '%-24s %s\n' "sources (Git/Helm/OCI)" "$(env_value SOURCES_URL)"
  fi
  if running_pid source-controller >/dev/null; then
    printf '%-24s http://127.0.0.1:%s\n' "artifact storage" "$(env_value SOURCE_CONTROLLER_STORAGE_PORT)"
  fi
  if healthy; then
    printf '%-24s %s (ready)\nkubeconfig               %s\n' apiserver "$(env_value APISERVER_URL)" "$KUBECONFIG_FILE"
  else
    state=1
  fi
  return $state
}

cmd_env() {
  [[ -f $ENV_FILE ]] || die "no cluster in $DATA_DIR; run: cluster.sh up"
  local key value
  while IFS='=' read -r key value; do
    if [[ $key =~ ^[A-Z_]+$ ]]; then printf 'export %s=%q\n' "$key" "$value"; fi
  done <"$ENV_FILE"
}

# Restarts one control plane component in place: what a crash and a supervisor's restart look like to
# its clients. Same ports, same data; the rest keeps running.
cmd_restart() {
  local name=${1:-} kill= pid deadline
  [[ ${2:-} == --kill ]] && kill=1
  case $name in
    etcd | kube-apiserver) ;;
    *) die "restart: expected etcd or kube-apiserver, got '${name}'" ;;
  esac
  [[ -f $ENV_FILE ]] || die "no cluster in $DATA_DIR; run: cluster.sh up"
  lock_cluster
  if [[ -n $kill ]]; then
    pid=$(running_pid "$name") || die "$name is not running"
    log "killing $name (pid $pid)"
    kill -KILL "$pid"
    deadline=$((SECONDS + STOP_TIMEOUT))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.05; done
    rm -f "$RUN_DIR/$name.pid"
  else
    stop_process "$name"
  fi
  case $name in
    etcd) start_etcd ;;
    kube-apiserver) start_apiserver ;;
  esac
}

main() {
  WITH_NODES=${FLUXACT_CLUSTER_NODES:-}
  [[ $WITH_NODES == 0 ]] && WITH_NODES=
  WITH_FLUX=${FLUXACT_CLUSTER_FLUX:-}
  [[ $WITH_FLUX == 0 ]] && WITH_FLUX=
  WITH_PROFILING=
  local cmd=${1:-}
  shift || true
  case $cmd in
    up) cmd_up "$@" ;;
    down) cmd_down "$@" ;;
    status) cmd_status ;;
    env) cmd_env ;;
    restart) cmd_restart "$@" ;;
    kubectl) [[ -x $KUBECTL ]] || die "kubectl not built yet; run: cluster.sh up"; kubectl "$@" ;;
    *) sed -n '2,24s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2; [[ $cmd == help || $cmd == -h ]] || exit 2 ;;
  esac
}

main "$@"
