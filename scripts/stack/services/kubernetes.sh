# shellcheck shell=bash
# Sourced by scripts/stack.sh: a real Kubernetes control plane for the modules on Kubernetes —
# etcd → kube-apiserver → (after /readyz) kube-controller-manager, kube-scheduler and kwok, which
# stands in for the kubelet of one fake node (pods get fake addresses in 10.244.0.0/24 that
# nothing may contact: there is no kubelet, so no logs, exec or port-forward). All on 127.0.0.1,
# certificates and service-account keys generated once under .titan/data/kubernetes/pki.

KUBE_DIR=$DATA/kubernetes
KUBE_PKI=$KUBE_DIR/pki
# The administrator's kubeconfig (system:masters), for the tests, kwok and kubectl.
KUBECONFIG_FILE=$T/kubeconfig
KWOK_NODE=titan-node-0

# kube_pki: a CA, the apiserver's serving certificate, one client certificate per component and the
# service-account signing key; kept across restarts (kubeconfigs and tokens stay valid)
kube_pki() {
  [ -s "$KUBE_PKI/sa.pub" ] && return 0
  command -v openssl >/dev/null || apt_install openssl
  local d=$KUBE_PKI.new who
  rm -rf "$d" && mkdir -p "$d"
  (
    cd "$d" && umask 077
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 -subj /CN=titan-kubernetes-ca
    printf 'subjectAltName=IP:%s,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:10.96.0.1\nextendedKeyUsage=serverAuth\n' "$IP" >server.ext
    openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr -subj /CN=kube-apiserver
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 -extfile server.ext -out apiserver.crt
    printf 'extendedKeyUsage=clientAuth\n' >client.ext
    for who in admin:system:masters controller-manager: scheduler:; do
      local name=${who%%:*} org=${who#*:} cn
      case $name in admin) cn=titan-admin ;; *) cn=system:kube-$name ;; esac
      openssl req -newkey rsa:2048 -nodes -keyout "$name.key" -out "$name.csr" -subj "/CN=$cn${org:+/O=$org}"
      openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 -extfile client.ext -out "$name.crt"
    done
    openssl genrsa -out sa.key 2048 && openssl rsa -in sa.key -pubout -out sa.pub
    rm -f ./*.csr ./*.ext
  ) >>"$INSTALL_LOG" 2>&1 || die "cannot generate the Kubernetes certificates; see $INSTALL_LOG"
  mv "$d" "$KUBE_PKI"
}

# kube_config NAME FILE: a kubeconfig for the client certificate NAME
kube_config() {
  local p=$KUBE_PKI
  cat >"$2" <<YAML
apiVersion: v1
kind: Config
clusters:
- name: titan
  cluster: {server: "https://$IP:$KUBE_APISERVER_PORT", certificate-authority: "$p/ca.crt"}
users:
- name: $1
  user: {client-certificate: "$p/$1.crt", client-key: "$p/$1.key"}
contexts:
- name: titan
  context: {cluster: titan, user: $1, namespace: default}
current-context: titan
YAML
  chmod 600 "$2"
}

spawn_etcd() {
  install -d -m 700 "$KUBE_DIR/etcd" # etcd warns about a wider data directory
  launch etcd "$KUBE_DIR" "$GO/bin/etcd" --name=titan --data-dir="$KUBE_DIR/etcd" \
    --listen-client-urls="http://$IP:$ETCD_PORT" --advertise-client-urls="http://$IP:$ETCD_PORT" \
    --listen-peer-urls="http://$IP:$ETCD_PEER_PORT" --initial-advertise-peer-urls="http://$IP:$ETCD_PEER_PORT" \
    --initial-cluster="titan=http://$IP:$ETCD_PEER_PORT" --listen-metrics-urls="http://$IP:$ETCD_METRICS_PORT" \
    --log-level=warn --quota-backend-bytes=$((512 * 1024 * 1024))
}
ready_etcd() { curl -fsS -o /dev/null --max-time 2 "http://$IP:$ETCD_PORT/health" 2>/dev/null; }

spawn_kube_apiserver() {
  kube_pki
  kube_config admin "$KUBECONFIG_FILE"
  local p=$KUBE_PKI
  # --endpoint-reconciler-type=none: no `kubernetes` Service endpoint pointing at this host
  launch kube-apiserver "$KUBE_DIR" "$GO/bin/kube-apiserver" --etcd-servers="http://$IP:$ETCD_PORT" \
    --bind-address="$IP" --advertise-address="$IP" --secure-port="$KUBE_APISERVER_PORT" \
    --tls-cert-file="$p/apiserver.crt" --tls-private-key-file="$p/apiserver.key" --client-ca-file="$p/ca.crt" \
    --service-account-issuer=https://kubernetes.default.svc --service-account-key-file="$p/sa.pub" \
    --service-account-signing-key-file="$p/sa.key" --service-cluster-ip-range="$KUBE_SERVICE_CIDR" \
    --authorization-mode=Node,RBAC --endpoint-reconciler-type=none --allow-privileged=false \
    --profiling=false --v=1
}
kube_readyz() { curl -fsS -o /dev/null --max-time 2 --cacert "$KUBE_PKI/ca.crt" "https://$IP:$KUBE_APISERVER_PORT/readyz" 2>/dev/null; }
ready_kube_apiserver() { kube_readyz; }

# await_kube_apiserver: the controllers start only once the apiserver is ready
await_kube_apiserver() {
  local deadline=$((SECONDS + READY_TIMEOUT))
  until kube_readyz; do
    [ "$SECONDS" -lt "$deadline" ] || die "kube-apiserver not ready after ${READY_TIMEOUT}s; see $(logfile kube-apiserver)"
    sleep 0.5
  done
}

# spawn_kube_component NAME PORT EXTRA...: controller-manager or scheduler with its own identity
spawn_kube_component() {
  local name=$1 port=$2 cfg=$KUBE_DIR/$1.kubeconfig
  shift 2
  await_kube_apiserver
  kube_config "$name" "$cfg"
  launch "kube-$name" "$KUBE_DIR" "$GO/bin/kube-$name" --kubeconfig="$cfg" \
    --authentication-kubeconfig="$cfg" --authorization-kubeconfig="$cfg" \
    --bind-address="$IP" --secure-port="$port" --leader-elect=false --profiling=false --v=1 "$@"
}
spawn_kube_controller_manager() {
  spawn_kube_component controller-manager "$KUBE_CONTROLLER_MANAGER_PORT" --use-service-account-credentials=true \
    --service-account-private-key-file="$KUBE_PKI/sa.key" --root-ca-file="$KUBE_PKI/ca.crt" \
    --cluster-signing-cert-file="$KUBE_PKI/ca.crt" --cluster-signing-key-file="$KUBE_PKI/ca.key"
}
spawn_kube_scheduler() { spawn_kube_component scheduler "$KUBE_SCHEDULER_PORT"; }
ready_kube_component() { curl -fsS -o /dev/null --max-time 2 -k "https://$IP:$1/healthz" 2>/dev/null; }

spawn_kwok() {
  await_kube_apiserver
  # kwok's own server (logs/exec emulation) is off: nothing may reach a pod
  launch kwok "$KUBE_DIR" "$GO/bin/kwok" --kubeconfig="$KUBECONFIG_FILE" --config="$ROOT/scripts/stack/kwok-stages.yaml" \
    --manage-all-nodes=false --manage-nodes-with-label-selector=type=kwok \
    --cidr=10.244.0.0/24 --node-ip=10.244.0.1 --server-address="" --node-port=0 \
    --node-lease-duration-seconds=40 --v=WARN
  kubectl_admin apply -f - >>"$(logfile kwok)" 2>&1 <<YAML || die "cannot create the fake node $KWOK_NODE"
apiVersion: v1
kind: Node
metadata:
  name: $KWOK_NODE
  labels: {type: kwok, kubernetes.io/hostname: $KWOK_NODE, kubernetes.io/os: linux, kubernetes.io/arch: amd64}
  annotations: {kwok.x-k8s.io/node: fake, node.alpha.kubernetes.io/ttl: "0"}
spec: {}
YAML
}
# ready: the fake node reports Ready (kwok took it over)
ready_kwok() {
  [ "$(kubectl_admin get node "$KWOK_NODE" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]
}

kubectl_admin() { "$BIN/kubectl" --kubeconfig="$KUBECONFIG_FILE" --request-timeout=10s "$@"; }
