# shellcheck shell=bash
# Sourced by scripts/stack.sh: the Temporal dev server (+ Web UI), its namespaces and the search
# attributes it registers.

temporal_cli() {
  "$PY/bin/temporal" --disable-config-file --disable-config-env "$@" --address "$IP:$TEMPORAL_PORT"
}

# search_attributes: fills SEARCH_ATTRIBUTES with NAME=TYPE, in file order, from the JSON object
# the TypeScript side imports too. Read once: the readiness check polls. Python, not jq (which may
# be missing): a JSON parser, and a bad entry is named before the dev server would refuse it.
SEARCH_ATTRIBUTES=()
search_attributes() {
  [ ${#SEARCH_ATTRIBUTES[@]} -eq 0 ] || return 0
  local out
  out=$("$PYTHON" - "$SEARCH_ATTRIBUTES_FILE" <<'PY'
import json, re, sys
try:
    with open(sys.argv[1], encoding="utf-8") as f:
        attributes = json.load(f)
except (OSError, ValueError) as e:
    sys.exit(e)
if not isinstance(attributes, dict) or not attributes:
    sys.exit("expected an object of NAME: TYPE")
types = ("Keyword", "Text", "Int", "Double", "Bool", "Datetime", "KeywordList")
for name, kind in attributes.items():
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) or kind not in types:
        sys.exit(f"{name!r}: {kind!r}: expected a name and one of {', '.join(types)}")
    print(f"{name}={kind}")
PY
  ) || die "cannot read the search attributes from ${SEARCH_ATTRIBUTES_FILE#"$ROOT"/}"
  mapfile -t SEARCH_ATTRIBUTES <<<"$out"
}

spawn_temporal() {
  local d=$DATA/temporal sa=() ns=() a
  mkdir -p "$d"
  search_attributes
  for a in "${SEARCH_ATTRIBUTES[@]}"; do sa+=(--search-attribute "$a"); done
  for a in "${NAMESPACES[@]}"; do ns+=(--namespace "$a"); done
  launch temporal "$d" "$PY/bin/temporal" server start-dev \
    --ip "$IP" --port "$TEMPORAL_PORT" --ui-ip "$IP" --ui-port "$TEMPORAL_UI_PORT" \
    --http-port "$TEMPORAL_HTTP_PORT" --metrics-port "$TEMPORAL_METRICS_PORT" \
    --db-filename "$d/temporal.db" "${ns[@]}" --log-level warn \
    --ui-disable-news-fetch --ui-codec-endpoint "http://$IP:$CODEC_PORT" --disable-config-file --disable-config-env "${sa[@]}"
}

ready_temporal() {
  local out a n
  search_attributes
  temporal_cli operator cluster health 2>/dev/null | grep -q SERVING || return 1
  curl -fsS -o /dev/null --max-time 2 "http://$IP:$TEMPORAL_UI_PORT/" 2>/dev/null || return 1
  for n in "${NAMESPACES[@]}"; do
    out=$(temporal_cli operator search-attribute list --namespace "$n" 2>/dev/null) || return 1
    for a in "${SEARCH_ATTRIBUTES[@]}"; do grep -qw "${a%%=*}" <<<"$out" || return 1; done
  done
}
