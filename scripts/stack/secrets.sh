# shellcheck shell=bash
# Sourced by scripts/stack.sh: the generated secrets in .titan/secrets.env (mode 600), one
# NAME=value a line; the stack reads them into its own variables and never prints them.

ensure_secrets() {
  local name added=0
  mkdir -p "$T"
  [ -e "$SECRETS" ] || { (umask 077 && : >"$SECRETS"); added=1; }
  chmod 600 "$SECRETS"
  for name in "${SECRET_NAMES[@]}"; do
    grep -q "^$name=" "$SECRETS" || printf '%s=%s\n' "$name" "$(random_hex 16)" >>"$SECRETS"
  done
  # the backup encryption key of titan.yaml (backups.encryption): 32 random bytes, base64
  grep -q '^TITAN_BACKUP_KEY_K2026=' "$SECRETS" || printf 'TITAN_BACKUP_KEY_K2026=%s\n' "$(head -c 32 /dev/urandom | base64 -w0)" >>"$SECRETS"
  # the Temporal payload key of titan.yaml (temporal.encryption), used by the worker, the CLI and
  # the codec server: 32 random bytes, base64
  grep -q '^TITAN_PAYLOAD_KEY_P2026=' "$SECRETS" || printf 'TITAN_PAYLOAD_KEY_P2026=%s\n' "$(head -c 32 /dev/urandom | base64 -w0)" >>"$SECRETS"
  # beside its password, so a client finds the whole login in one place
  grep -q '^TITAN_REGISTRY_USER=' "$SECRETS" || printf 'TITAN_REGISTRY_USER=%s\n' "$REGISTRY_USER" >>"$SECRETS"
  [ "$added" = 1 ] && say "generated ${SECRETS#"$ROOT"/} (mode 600)"
  return 0
}

load_secrets() {
  [ -r "$SECRETS" ] || die "$SECRETS is missing: run 'scripts/stack.sh up' first"
  local k v
  while IFS='=' read -r k v; do
    case $k in TITAN_*) printf -v "$k" '%s' "$v" ;; esac
  done <"$SECRETS"
}
