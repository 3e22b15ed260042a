# shellcheck shell=bash
# Sourced by scripts/stack.sh: Titan's codec server (`titan codec-server`), which the dev server's
# Web UI calls (--ui-codec-endpoint) to show encrypted payloads in plaintext. It runs the built
# CLI (dist/, built by npm start / npm test before `up`) with titan.yaml's payload keys.

codec_node() { command -v node || printf '/usr/bin/node'; }

spawn_codec() {
  local cli=$ROOT/dist/src/client.js
  [ -e "$cli" ] || die "codec: $cli is missing: run 'npm run build' first"
  mkdir -p "$RUN"
  # Only the payload keys are needed: the secrets file is read through titan.yaml's secretsFile.
  launch codec "$ROOT" "$(codec_node)" "$cli" --config "$ROOT/titan.yaml" codec-server \
    --port "$CODEC_PORT" --ui-origin "http://$IP:$TEMPORAL_UI_PORT"
}

ready_codec() {
  # A preflight as the Web UI sends it: the allowed methods must come back for the UI's origin.
  curl -fsS -o /dev/null --max-time 2 -X OPTIONS -H "Origin: http://$IP:$TEMPORAL_UI_PORT" \
    -H 'Access-Control-Request-Method: POST' "http://$IP:$CODEC_PORT/decode" 2>/dev/null
}
