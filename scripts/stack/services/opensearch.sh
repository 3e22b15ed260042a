# shellcheck shell=bash
# Sourced by scripts/stack.sh: OpenSearch, the Elasticsearch-API log store (deploy/titan.opensearch.yaml,
# the log tests run on it beside VictoriaLogs). It refuses to run as root, so it runs as the
# unprivileged OPENSEARCH_USER, which owns only its data folder; the install under .titan/tools stays
# root's and read-only to it. Every parent folder of the checkout must be searchable by that user
# (true for /work and /tmp, not for a checkout under /root).

opensearch_user() {
  id -u "$OPENSEARCH_USER" >/dev/null 2>&1 ||
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$OPENSEARCH_USER" ||
    die "cannot create the user $OPENSEARCH_USER that runs OpenSearch"
}

spawn_opensearch() {
  local d=$DATA/opensearch
  opensearch_user
  mkdir -p "$d/config" "$d/data" "$d/logs" "$d/tmp"
  # The distribution's config (jvm.options, log4j2) with our opensearch.yml; its jvm.options' 1 GiB
  # heap is overridden below, never left to the default (half the RAM).
  cp -r "$OPENSEARCH_HOME/config/." "$d/config/"
  cat >"$d/config/opensearch.yml" <<YML
# written by scripts/stack/services/opensearch.sh on every start
cluster.name: titan-logs
node.name: titan-logs-1
discovery.type: single-node
network.host: $IP
http.port: $OPENSEARCH_PORT
transport.port: $OPENSEARCH_TRANSPORT_PORT
path.data: $d/data
path.logs: $d/logs
# a nearly full disk of a test machine must not turn the log indices read-only
cluster.routing.allocation.disk.threshold_enabled: false
YML
  # its start script runs from OPENSEARCH_HOME: the GC log, heap dumps and crash files go to $d
  sed -i -e "s|logs/gc.log|$d/logs/gc.log|" -e "s|HeapDumpPath=data|HeapDumpPath=$d/data|" \
    -e "s|ErrorFile=logs/|ErrorFile=$d/logs/|" "$d/config/jvm.options"
  printf -- '-Xms%s\n-Xmx%s\n' "$OPENSEARCH_HEAP" "$OPENSEARCH_HEAP" >"$d/config/jvm.options.d/heap.options"
  chown -R "$OPENSEARCH_USER:" "$d"
  launch opensearch "$d" setpriv --reuid="$OPENSEARCH_USER" --regid="$OPENSEARCH_USER" --clear-groups \
    env OPENSEARCH_JAVA_HOME="$OPENSEARCH_JAVA_HOME" OPENSEARCH_PATH_CONF="$d/config" OPENSEARCH_TMPDIR="$d/tmp" \
    OPENSEARCH_JAVA_OPTS="-Xms$OPENSEARCH_HEAP -Xmx$OPENSEARCH_HEAP" "$OPENSEARCH_HOME/bin/opensearch"
}

ready_opensearch() {
  curl -fsS --max-time 2 "http://$IP:$OPENSEARCH_PORT/_cluster/health?wait_for_status=yellow&timeout=1s" 2>/dev/null | grep -q '"status":"\(green\|yellow\)"'
}
