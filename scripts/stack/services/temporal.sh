# shellcheck shell=bash
# Sourced by scripts/stack.sh: the Temporal dev server (+ Web UI), its namespaces and the search
# attributes it registers.

temporal_cli() {
  "$PY/bin/temporal" --disable-config-file --disable-config-env "$@" --address "$IP:$TEMPORAL_PORT"
}

spawn_temporal() {
  local d=$DATA/temporal sa=() ns=() a
  mkdir -p "$d"
  for a in "${SEARCH_ATTRIBUTES[@]}"; do sa+=(--search-attribute "$a=Keyword"); done
  for a in "${NAMESPACES[@]}"; do ns+=(--namespace "$a"); done
  launch temporal "$d" "$PY/bin/temporal" server start-dev \
    --ip "$IP" --port "$TEMPORAL_PORT" --ui-ip "$IP" --ui-port "$TEMPORAL_UI_PORT" \
    --http-port "$TEMPORAL_HTTP_PORT" --metrics-port "$TEMPORAL_METRICS_PORT" \
    --db-filename "$d/temporal.db" "${ns[@]}" --log-level warn \
    --ui-disable-news-fetch --disable-config-file --disable-config-env "${sa[@]}"
}

ready_temporal() {
  local out a n
  temporal_cli operator cluster health 2>/dev/null | grep -q SERVING || return 1
  curl -fsS -o /dev/null --max-time 2 "http://$IP:$TEMPORAL_UI_PORT/" 2>/dev/null || return 1
  for n in "${NAMESPACES[@]}"; do
    out=$(temporal_cli operator search-attribute list --namespace "$n" 2>/dev/null) || return 1
    for a in "${SEARCH_ATTRIBUTES[@]}"; do grep -qw "$a" <<<"$out" || return 1; done
  done
}
