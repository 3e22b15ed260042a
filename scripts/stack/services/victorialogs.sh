# shellcheck shell=bash
# Sourced by scripts/stack.sh: VictoriaLogs, the central log store.

spawn_victorialogs() {
  local d=$DATA/victorialogs
  mkdir -p "$d"
  # -delete.enable: the tests remove a window of lines to prove gaps are found.
  launch victorialogs "$d" "$GO/bin/victoria-logs" -httpListenAddr="$IP:$VICTORIALOGS_PORT" \
    -storageDataPath="$d/data" -retentionPeriod="$VICTORIALOGS_RETENTION" -delete.enable \
    -loggerLevel=WARN
}

ready_victorialogs() { curl -fsS -o /dev/null --max-time 2 "http://$IP:$VICTORIALOGS_PORT/health" 2>/dev/null; }
