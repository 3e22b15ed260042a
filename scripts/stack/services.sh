# shellcheck shell=bash
# Sourced by scripts/stack.sh: the table of services — the binary each one runs, its ports and
# addresses, how to start it and how to tell it is ready (spawn_* and ready_* live in
# services/<service>.sh) — and the endpoints `env` prints.

svc_exe() {
  case $1 in
    temporal) printf '%s' "$PY/bin/temporal" ;;
    codec) codec_node ;;
    redis) command -v redis-server || printf '/usr/bin/redis-server' ;;
    s3-primary | s3-offsite) printf '%s' "$PY/bin/weed" ;;
    docker) command -v dockerd || printf '/usr/sbin/dockerd' ;;
    registry) command -v docker-registry || printf '/usr/bin/docker-registry' ;;
    victorialogs) printf '%s' "$GO/bin/victoria-logs" ;;
    opensearch) printf '%s' "$OPENSEARCH_JAVA_HOME/bin/java" ;; # bin/opensearch execs java
    etcd | kube-* | kwok) printf '%s' "$GO/bin/$1" ;;
  esac
}

# svc_marker SERVICE: text in the command line of a service that reaches svc_exe through wrappers
svc_marker() {
  case $1 in
    opensearch) printf '%s' "$OPENSEARCH_HOME/" ;;
  esac
}

# answering SERVICE: its main endpoint accepts connections
answering() {
  case $1 in
    docker) curl -fsS -o /dev/null --max-time 2 --unix-socket "$DOCKER_SOCK" http://docker/_ping 2>/dev/null ;;
    kwok) ready_kwok ;;
    *) port_open "$(svc_ports "$1" | cut -d' ' -f1)" ;;
  esac
}

svc_ports() { # every TCP port the service listens on (the first one is its main port)
  case $1 in
    temporal) echo "$TEMPORAL_PORT $TEMPORAL_UI_PORT $TEMPORAL_HTTP_PORT $TEMPORAL_METRICS_PORT" ;;
    redis) echo "$REDIS_PORT" ;;
    codec) echo "$CODEC_PORT" ;;
    registry) echo "$REGISTRY_PORT" ;;
    victorialogs) echo "$VICTORIALOGS_PORT" ;;
    opensearch) echo "$OPENSEARCH_PORT $OPENSEARCH_TRANSPORT_PORT" ;;
    etcd) echo "$ETCD_PORT $ETCD_PEER_PORT $ETCD_METRICS_PORT" ;;
    kube-apiserver) echo "$KUBE_APISERVER_PORT" ;;
    kube-controller-manager) echo "$KUBE_CONTROLLER_MANAGER_PORT" ;;
    kube-scheduler) echo "$KUBE_SCHEDULER_PORT" ;;
    kwok) ;; # a client of the apiserver only
    docker) ;; # its unix socket only
    s3-*) s3_conf "$1"; echo "$S3_PORT $S3_GRPC $MASTER_PORT $MASTER_GRPC $VOLUME_PORT $VOLUME_GRPC $FILER_PORT $FILER_GRPC $ADMIN_PORT $ADMIN_GRPC" ;;
  esac
}

svc_addresses() {
  case $1 in
    temporal) echo "$IP:$TEMPORAL_PORT (gRPC), http://$IP:$TEMPORAL_UI_PORT (UI)" ;;
    redis) echo "redis://$IP:$REDIS_PORT" ;;
    codec) echo "http://$IP:$CODEC_PORT (codec server for the Web UI)" ;;
    s3-*) s3_conf "$1"; echo "http://$IP:$S3_PORT (S3, bucket $S3_BUCKET)" ;;
    docker) echo "unix://$DOCKER_SOCK" ;;
    registry) echo "http://$IP:$REGISTRY_PORT (registry, user $REGISTRY_USER)" ;;
    victorialogs) echo "http://$IP:$VICTORIALOGS_PORT (logs: Elasticsearch bulk in, LogsQL out)" ;;
    opensearch) echo "http://$IP:$OPENSEARCH_PORT (logs: Elasticsearch API, OpenSearch $OPENSEARCH_VERSION)" ;;
    etcd) echo "http://$IP:$ETCD_PORT (etcd $ETCD_VERSION, Kubernetes' store)" ;;
    kube-apiserver) echo "https://$IP:$KUBE_APISERVER_PORT (Kubernetes $KUBERNETES_VERSION, kubeconfig ${KUBECONFIG_FILE#"$ROOT"/})" ;;
    kube-controller-manager | kube-scheduler) echo "https://$IP:$(svc_ports "$1") (health)" ;;
    kwok) echo "fake node $KWOK_NODE (kwok $KWOK_VERSION, a client of https://$IP:$KUBE_APISERVER_PORT)" ;;
  esac
}

spawn() {
  case $1 in
    temporal) spawn_temporal ;;
    redis) spawn_redis ;;
    codec) spawn_codec ;;
    s3-primary | s3-offsite) spawn_s3 "$1" ;;
    docker) spawn_docker ;;
    registry) spawn_registry ;;
    victorialogs) spawn_victorialogs ;;
    opensearch) spawn_opensearch ;;
    etcd) spawn_etcd ;;
    kube-apiserver) spawn_kube_apiserver ;;
    kube-controller-manager) spawn_kube_controller_manager ;;
    kube-scheduler) spawn_kube_scheduler ;;
    kwok) spawn_kwok ;;
  esac
}

ready() {
  case $1 in
    temporal) ready_temporal ;;
    redis) ready_redis ;;
    codec) ready_codec ;;
    s3-primary | s3-offsite) ready_s3 "$1" ;;
    docker) ready_docker ;;
    registry) ready_registry ;;
    victorialogs) ready_victorialogs ;;
    opensearch) ready_opensearch ;;
    etcd) ready_etcd ;;
    kube-apiserver) ready_kube_apiserver ;;
    kube-controller-manager) ready_kube_component "$KUBE_CONTROLLER_MANAGER_PORT" ;;
    kube-scheduler) ready_kube_component "$KUBE_SCHEDULER_PORT" ;;
    kwok) ready_kwok ;;
  esac
}

print_env() {
  local q
  printf 'TEMPORAL_ADDRESS=%s\n' "$IP:$TEMPORAL_PORT"
  printf 'TITAN_UI=%s\n' "http://$IP:$TEMPORAL_UI_PORT"
  printf 'TITAN_CODEC_ENDPOINT=%s\n' "http://$IP:$CODEC_PORT"
  printf 'TITAN_REDIS_URL=%s\n' "redis://$IP:$REDIS_PORT"
  s3_conf s3-primary
  printf 'TITAN_S3_PRIMARY=%s\n' "http://$IP:$S3_PORT"
  printf 'TITAN_S3_PRIMARY_BUCKET=%s\n' "$S3_BUCKET"
  s3_conf s3-offsite
  printf 'TITAN_S3_OFFSITE=%s\n' "http://$IP:$S3_PORT"
  printf 'TITAN_S3_OFFSITE_BUCKET=%s\n' "$S3_BUCKET"
  printf -v q '%q' "unix://$DOCKER_SOCK"
  printf 'DOCKER_HOST=%s\n' "$q"
  printf 'TITAN_REGISTRY=%s\n' "$IP:$REGISTRY_PORT"
  printf 'TITAN_LOG_STORE=%s\n' "http://$IP:$VICTORIALOGS_PORT"
  printf 'TITAN_OPENSEARCH=%s\n' "http://$IP:$OPENSEARCH_PORT"
  printf 'TITAN_KUBERNETES=%s\n' "https://$IP:$KUBE_APISERVER_PORT"
  printf -v q '%q' "$KUBECONFIG_FILE"
  printf 'TITAN_KUBECONFIG=%s\n' "$q"
  printf -v q '%q' "$SECRETS"
  printf 'TITAN_SECRETS_FILE=%s\n' "$q"
  printf -v q '%q' "$BIN"
  printf 'TITAN_TOOLS_BIN=%s\n' "$q"
}
