# shellcheck shell=bash
# Sourced by scripts/stack.sh: runs the services as detached processes tracked by pid files —
# start (begin, then await readiness), stop, status — and the lock that serialises every
# command that changes the stack. What each service runs and how it is probed: services.sh.

pidfile() { printf '%s/%s.pid' "$RUN" "$1"; }
logfile() { printf '%s/%s.log' "$LOGS" "$1"; }

# alive PID: exists and is not a zombie
alive() {
  local st
  [ -r "/proc/$1/stat" ] || return 1
  st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [ -n "$st" ] && [ "$st" != Z ]
}

# svc_pid SERVICE: prints the recorded pid if that process is alive and runs the service's binary
svc_pid() {
  local f pid exe want marker
  f=$(pidfile "$1")
  [ -s "$f" ] || return 1
  pid=$(tr -dc 0-9 <"$f")
  [ -n "$pid" ] && alive "$pid" || return 1
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
  exe=${exe% (deleted)}
  want=$(readlink -f "$(svc_exe "$1")")
  if [ "$(readlink -f "$exe" 2>/dev/null || printf '%s' "$exe")" != "$want" ]; then
    # one started through wrappers (opensearch: setpriv, then its start script) until it execs
    # its binary is known by its command line
    marker=$(svc_marker "$1")
    [ -n "$marker" ] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$marker" || return 1
  fi
  printf '%s' "$pid"
}

port_open() { (exec 3<>"/dev/tcp/$IP/$1") 2>/dev/null; }

# launch SERVICE DIR CMD...: runs CMD in its own session (it outlives this shell), stdio to its log
launch() {
  local svc=$1 dir=$2 pf log i
  shift 2
  pf=$(pidfile "$svc")
  log=$(logfile "$svc")
  rm -f "$pf"
  printf '=== %s starting %s\n' "$(date -Is)" "$svc" >>"$log"
  # The inner shell writes its own pid, then execs the server, so the pid file holds the
  # server's pid. No descriptor of ours (stdout pipes, the lock) is passed on, nor the caller's
  # AWS_*/S3_*/WEED_*/TEMPORAL_*/DOCKER_*/REGISTRY_* variables (weed mini would make an S3
  # identity or a bucket from AWS_ACCESS_KEY_ID / S3_BUCKET, and reads WEED_* as configuration;
  # docker-registry reads REGISTRY_* over its config file, dockerd some DOCKER_*).
  # shellcheck disable=SC2016 # expanded by the inner shell
  setsid -f bash -c '
    for v in $(compgen -e); do
      case $v in AWS_* | S3_* | WEED_* | TEMPORAL_* | REDISCLI_* | DOCKER_* | REGISTRY_*) unset "$v" ;; esac
    done
    cd "$1" && echo $$ >"$0" && shift && exec "$@"' "$pf" "$dir" "$@" \
    </dev/null >>"$log" 2>&1 9>&-
  for i in $(seq 50); do
    [ -s "$pf" ] && return 0
    sleep 0.1
  done
  die "$svc did not start; last lines of $log:"$'\n'"$(tail -n 20 "$log")"
}

# begin SERVICE: starts it unless it already runs (STARTED[SERVICE]=1 if it did)
declare -A STARTED=()
begin() {
  local svc=$1 pid p holder
  if pid=$(svc_pid "$svc"); then
    STARTED[$svc]=0
    return 0
  fi
  [ -e "$(pidfile "$svc")" ] && rm -f "$(pidfile "$svc")"
  for p in $(svc_ports "$svc"); do
    if port_open "$p"; then
      holder=$(ss -ltnpH "sport = :$p" 2>/dev/null | grep -o 'users:.*' | head -n1 || true)
      die "$svc: port $p on $IP is already in use by another process ${holder:-(unknown)}"
    fi
  done
  spawn "$svc"
  STARTED[$svc]=1
}

# await SERVICE: waits until ready; on timeout or death prints its log tail and fails
await() {
  local svc=$1 pid deadline log
  log=$(logfile "$svc")
  deadline=$((SECONDS + READY_TIMEOUT))
  while :; do
    if ! pid=$(svc_pid "$svc"); then
      printf 'stack: %s exited during start-up; last lines of %s:\n' "$svc" "${log#"$ROOT"/}" >&2
      tail -n 20 "$log" | sed 's/^/  /' >&2
      exit 1
    fi
    ready "$svc" && break
    if [ "$SECONDS" -ge "$deadline" ]; then
      printf 'stack: %s not ready after %ss (pid %s); last lines of %s:\n' \
        "$svc" "$READY_TIMEOUT" "$pid" "${log#"$ROOT"/}" >&2
      tail -n 20 "$log" | sed 's/^/  /' >&2
      exit 1
    fi
    sleep 0.5
  done
  if [ "${STARTED[$svc]:-0}" = 1 ]; then
    printf '%-12s started, pid %s: %s\n' "$svc" "$pid" "$(svc_addresses "$svc")"
  else
    printf '%-12s already running, pid %s\n' "$svc" "$pid"
  fi
}

# stop SERVICE...: SIGTERM by pid file, up to STOP_TIMEOUT s, then SIGKILL
stop() {
  local svc pid i pids=() names=() left
  for svc in "$@"; do
    if pid=$(svc_pid "$svc"); then
      [ "$svc" != docker ] || stop_containers
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
      names+=("$svc")
    elif [ -e "$(pidfile "$svc")" ]; then
      printf '%-12s not running (removed stale pid file)\n' "$svc"
      rm -f "$(pidfile "$svc")"
    else
      printf '%-12s not running\n' "$svc"
    fi
  done
  for i in $(seq $((STOP_TIMEOUT * 10))); do
    left=0
    for pid in "${pids[@]}"; do alive "$pid" && left=1; done
    [ "$left" = 0 ] && break
    sleep 0.1
  done
  for i in "${!pids[@]}"; do
    if alive "${pids[$i]}"; then
      say "${names[$i]}: still running after ${STOP_TIMEOUT}s, sending SIGKILL"
      kill -KILL "${pids[$i]}" 2>/dev/null || true
    fi
  done
  for i in "${!pids[@]}"; do
    for _ in $(seq 50); do alive "${pids[$i]}" || break; sleep 0.1; done
    rm -f "$(pidfile "${names[$i]}")"
    printf '%-12s stopped (pid %s)\n' "${names[$i]}" "${pids[$i]}"
  done
  for svc in "$@"; do [ "$svc" != docker ] || reap_docker; done
}

status() {
  local svc pid state rc=0
  for svc in "${SERVICES[@]}"; do
    if pid=$(svc_pid "$svc"); then
      state="running pid $pid"
      answering "$svc" || { state="$state (not answering)"; rc=3; }
    elif [ -s "$(pidfile "$svc")" ]; then
      state="stale pid $(tr -dc 0-9 <"$(pidfile "$svc")")"
      rc=3
    else
      state=stopped
      rc=3
    fi
    printf '%-12s %-22s %s\n' "$svc" "$state" "$(svc_addresses "$svc")"
  done
  return $rc
}

lock() {
  mkdir -p "$RUN" "$LOGS" "$DATA"
  exec 9>"$RUN/stack.lock"
  flock -w 600 9 || die "another scripts/stack.sh is still running (lock $RUN/stack.lock)"
}
