#!/usr/bin/env bash
# The local stack: Temporal dev server (+ Web UI), Redis, two SeaweedFS S3 endpoints (the primary
# and the offsite backup location), a Docker engine and a private registry holding the images that
# scripts/images.sh builds, and the central log store (VictoriaLogs, built from the Go module
# proxy) and OpenSearch (the Elasticsearch-API log store, from Maven Central), a Kubernetes control
# plane with kwok nodes (services/kubernetes.sh, built from the Go module proxy), all on 127.0.0.1 (Docker on a unix socket), all state under .titan/; and the Git
# repository of Titan's configuration (.titan/config-repo, created once with a sample).
#
#   scripts/stack.sh up                 install what is missing, start what is stopped, wait until
#                                       ready, build and push the images the registry lacks, create
#                                       the configuration repository if there is none
#   scripts/stack.sh down               stop everything this script started (by pid file)
#   scripts/stack.sh status             one line per service; exit 0 if all run, 3 otherwise
#   scripts/stack.sh env                endpoints as shell assignments (never secrets)
#   scripts/stack.sh start|stop SERVICE one of: temporal redis s3-primary s3-offsite docker registry
#                                       victorialogs opensearch etcd kube-apiserver
#                                       kube-controller-manager kube-scheduler kwok
#
# Layout: .titan/tools (py/ = pip --target dir, also the time-skipping test server; go/ = go install
# dir; bin/ = wrappers), .titan/data/<service>,
# .titan/logs/<service>.log, .titan/run/<service>.pid, .titan/secrets.env (generated, mode 600),
# .titan/run/docker.sock (the engine's only API socket), .titan/docker-config (the docker CLI's
# config with the registry login, mode 700), .titan/config-repo (titan.yaml's configSync repo).
#
# The parts, by job, under scripts/stack/: common.sh (paths, versions, ports, say/die), install.sh,
# secrets.sh, supervise.sh (pid files, start, stop, status, lock), services.sh (the table of
# services), services/<service>.sh (how each one is configured, started and found ready) and
# config-repo.sh (the configuration repository, its sample in config-repo/).
# shellcheck source-path=SCRIPTDIR/..
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
source "$ROOT/scripts/stack/common.sh"
source "$ROOT/scripts/stack/install.sh"
source "$ROOT/scripts/stack/secrets.sh"
source "$ROOT/scripts/stack/supervise.sh"
source "$ROOT/scripts/stack/services.sh"
source "$ROOT/scripts/stack/config-repo.sh"
source "$ROOT/scripts/stack/services/codec.sh"
source "$ROOT/scripts/stack/services/temporal.sh"
source "$ROOT/scripts/stack/services/redis.sh"
source "$ROOT/scripts/stack/services/s3.sh"
source "$ROOT/scripts/stack/services/docker.sh"
source "$ROOT/scripts/stack/services/registry.sh"
source "$ROOT/scripts/stack/services/victorialogs.sh"
source "$ROOT/scripts/stack/services/opensearch.sh"
source "$ROOT/scripts/stack/services/kubernetes.sh"

check_service() {
  local s
  for s in "${SERVICES[@]}"; do [ "$s" = "${1:-}" ] && return 0; done
  die "unknown service '${1:-}'; one of: ${SERVICES[*]}"
}

usage() {
  cat >&2 <<USAGE
usage: scripts/stack.sh up|down|status|env
       scripts/stack.sh start|stop SERVICE     (SERVICE: ${SERVICES[*]})
USAGE
  exit 2
}

cmd=${1:-}
case $cmd in
  up)
    lock
    install_tools
    ensure_secrets
    load_secrets
    config_repo
    for s in "${SERVICES[@]}"; do begin "$s"; done
    for s in "${SERVICES[@]}"; do await "$s"; done
    images
    ;;
  down)
    lock
    # the apiserver before etcd (and what talks to the apiserver before it)
    stop kwok kube-scheduler kube-controller-manager
    stop kube-apiserver
    stop "${SERVICES[@]}"
    ;;
  start)
    check_service "${2:-}"
    lock
    install_tools
    ensure_secrets
    load_secrets
    begin "$2"
    await "$2"
    ;;
  stop)
    check_service "${2:-}"
    lock
    stop "$2"
    ;;
  status) status ;;
  env) print_env ;;
  *) usage ;;
esac
