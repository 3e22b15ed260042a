#!/usr/bin/env bash
# The stack's container images, built from this machine's Debian packages (nothing can be pulled)
# and pushed to the stack's registry. Run by `scripts/stack.sh up` once the engine and the
# registry are ready; it passes DOCKER_HOST, DOCKER_CONFIG, TITAN_REGISTRY and the registry login.
#
#   titan/redis:<major.minor>   /usr/bin/redis-server and exactly the libraries ldd lists; uid 999,
#                               WORKDIR /data, ENV REDIS_VERSION, ENTRYPOINT redis-server
#   titan/module:1, :2, :bad    busybox httpd on 127.0.0.1:$PORT as nobody (run with --network host):
#                               GET /version = the tag, GET /health = 200 "ok" (:bad has none: 404),
#                               one log line per request on stdout, a HEALTHCHECK on /health, which
#                               `docker import --change` accepts (20.10)
#
# Each image carries a titan.source label: a hash of everything it is made of (input files,
# image settings, this script). An image whose label in the registry matches is left alone, so a
# warm run costs two registry requests per image.
set -euo pipefail

: "${DOCKER_HOST:?}" "${DOCKER_CONFIG:?}" "${TITAN_REGISTRY:?}" "${TITAN_REGISTRY_USER:?}" "${TITAN_REGISTRY_PASSWORD:?}"
SELF=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)/$(basename "${BASH_SOURCE[0]}")
T=$(dirname "$(dirname "$SELF")")/.titan
LABEL=titan.source
MODULE_TAGS=(1 2 bad)

say() { printf '%s\n' "$*"; }
die() { printf 'images: %s\n' "$*" >&2; exit 1; }

WORK=
VERIFYING=
cleanup() {
  [ -z "$VERIFYING" ] || docker rm -f "$VERIFYING" >/dev/null 2>&1 || true
  [ -z "$WORK" ] || rm -rf "$WORK"
}
trap cleanup EXIT

# source_hash FILE... -- CHANGE...: hash of the files' contents and paths, the image settings and
# this script
source_hash() {
  local files=()
  while [ "$1" != -- ]; do files+=("$1"); shift; done
  shift
  { sha256sum "${files[@]}"; printf '%s\n' "$@"; sha256sum <"$SELF"; } | sha256sum | cut -d' ' -f1
}

# registry_get PATH [CURL-ARG...]: the body of an authenticated GET on the registry
registry_get() {
  local path=$1
  shift
  # credentials go through stdin (-K -), never the command line
  printf 'user = "%s:%s"\n' "$TITAN_REGISTRY_USER" "$TITAN_REGISTRY_PASSWORD" |
    curl -fsS --max-time 10 -K - "$@" "http://$TITAN_REGISTRY$path"
}

# registry_source REPO TAG: the titan.source label of REPO:TAG in the registry ("" if none)
registry_source() {
  local config
  config=$(registry_get "/v2/$1/manifests/$2" -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' 2>/dev/null |
    grep -o '"digest": *"sha256:[0-9a-f]*"' | head -n1 | grep -o 'sha256:[0-9a-f]*') || return 0
  registry_get "/v2/$1/blobs/$config" 2>/dev/null | grep -o "\"$LABEL\": *\"[0-9a-f]*\"" | grep -o '[0-9a-f]\{64\}' || true
}

logged_in=
login() {
  [ -z "$logged_in" ] || return 0
  local out
  out=$(printf '%s' "$TITAN_REGISTRY_PASSWORD" |
    docker login --username "$TITAN_REGISTRY_USER" --password-stdin "$TITAN_REGISTRY" 2>&1) ||
    die "docker login $TITAN_REGISTRY failed: $out"
  logged_in=1
}

# publish REPO TAG SOURCE BUILD [ARG...]: makes the registry hold REPO:TAG labelled SOURCE; BUILD
# (given REF SOURCE ARG...) imports and checks it when the engine lacks it too
pushed=0
publish() {
  local repo=$1 tag=$2 source=$3 build=$4 ref=$TITAN_REGISTRY/$1:$2
  shift 4
  [ "$(registry_source "$repo" "$tag")" != "$source" ] || return 0
  if [ "$(docker image inspect -f "{{index .Config.Labels \"$LABEL\"}}" "$ref" 2>/dev/null)" != "$source" ]; then
    [ -n "$WORK" ] || WORK=$(mktemp -d "$T/images.XXXXXX")
    "$build" "$ref" "$source" "$@"
  fi
  login
  docker push --quiet "$ref" >/dev/null
  pushed=$((pushed + 1))
  say "image       pushed $ref ($(docker image inspect -f '{{.Size}}' "$ref" | numfmt --to=iec) unpacked)"
}

# import ROOTFS REF SOURCE CHANGE...: a one-layer image of the directory, owners as they are there
import() {
  local root=$1 ref=$2 source=$3 c changes=()
  shift 3
  for c in "$@" "LABEL $LABEL=$source"; do changes+=(--change "$c"); done
  # a reproducible tar: the same files give the same layer, which the registry then stores once
  tar -C "$root" -c --sort=name --mtime=@0 --numeric-owner . | docker import "${changes[@]}" - "$ref" >/dev/null
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# check PROBE RUN-ARG...: `docker run`s a container on the host network in the background until
# the shell command PROBE succeeds (10 s at most), then removes it
check() {
  local probe=$1 i
  shift
  VERIFYING=titan-check-$$
  docker run -d --rm --name "$VERIFYING" --network host "$@" >/dev/null
  for i in $(seq 100); do
    sh -c "$probe" >/dev/null 2>&1 && break
    [ "$i" -lt 100 ] || die "check failed: $probe; the container's log:"$'\n'"$(docker logs "$VERIFYING" 2>&1 | tail -n 20)"
    sleep 0.1
  done
  docker rm -f "$VERIFYING" >/dev/null
  VERIFYING=
}

# ---------------------------------------------------------------------------------------------
# titan/redis

REDIS_BIN=$(readlink -f /usr/bin/redis-server)
# (called by that name: as redis-check-rdb, which Debian's redis-server links to, it reports less)
REDIS_VERSION=$(/usr/bin/redis-server --version | grep -o 'v=[0-9.]*' | cut -c3-)
# what ldd lists: "name => /path (addr)" and the loader as "/path (addr)"; not linux-vdso
mapfile -t REDIS_LIBS < <(ldd "$REDIS_BIN" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
REDIS_CHANGES=("USER 999:999" "WORKDIR /data" "ENV REDIS_VERSION=$REDIS_VERSION" 'ENTRYPOINT ["/usr/bin/redis-server"]')

build_redis() { # build_redis REF SOURCE
  local root=$WORK/redis lib port
  mkdir -p "$root/usr/bin" "$root/etc" "$root/data"
  cp "$REDIS_BIN" "$root/usr/bin/redis-server"
  # one binary: it acts as the checker its name says
  ln -s redis-server "$root/usr/bin/redis-check-rdb"
  ln -s redis-server "$root/usr/bin/redis-check-aof"
  for lib in "${REDIS_LIBS[@]}"; do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
  printf 'root:x:0:0:root:/root:/sbin/nologin\nredis:x:999:999:redis:/data:/sbin/nologin\n' >"$root/etc/passwd"
  printf 'root:x:0:\nredis:x:999:\n' >"$root/etc/group"
  chown 999:999 "$root/data"
  import "$root" "$1" "$2" "${REDIS_CHANGES[@]}"
  port=$(free_port)
  check "[ \"\$(env -u REDISCLI_AUTH redis-cli -h 127.0.0.1 -p $port ping)\" = PONG ]" "$1" --port "$port" --bind 127.0.0.1 --save ''
}

# ---------------------------------------------------------------------------------------------
# titan/module

module_changes() { # module_changes TAG
  # shellcheck disable=SC2016 # $PORT is the container's, expanded by its shell
  printf '%s\n' "ENV MODULE_VERSION=$1" 'ENV PORT=8080' 'USER 65534:65534' 'ENTRYPOINT ["/bin/module"]' \
    'HEALTHCHECK --interval=2s --timeout=2s --retries=3 CMD wget -q -O /dev/null "http://127.0.0.1:$PORT/health"'
}

build_module() { # build_module REF SOURCE TAG
  local root=$WORK/module-$3 changes port
  mkdir -p "$root/bin" "$root/etc" "$root/www"
  cp /bin/busybox "$root/bin/busybox"
  chroot "$root" /bin/busybox --install -s /bin
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  # busybox httpd serves files only (CGI only under /cgi-bin/), so the release's answers are files
  printf '%s\n' "$3" >"$root/www/version"
  [ "$3" = bad ] || printf 'ok\n' >"$root/www/health"
  cat >"$root/bin/module" <<'SH'
#!/bin/sh
# A Titan module: busybox httpd on 127.0.0.1:$PORT (containers share the host's network), one
# log line per request on stdout: "<client>: <path> <status>" (httpd -vv logs the two apart).
echo "module $MODULE_VERSION: serving on 127.0.0.1:$PORT"
# PID 1 gets no default action for SIGTERM; its exit ends the container's other processes
trap 'exit 0' TERM INT
httpd -f -vv -p "127.0.0.1:$PORT" -h /www 2>&1 | awk '
  $2 ~ /^url:/ { url[$1] = substr($2, 5); next }
  $2 ~ /^response:/ { print $1, url[$1], substr($2, 10); delete url[$1]; fflush(); next }
  { print; fflush() }' &
wait
echo "module $MODULE_VERSION: httpd exited"
exit 1
SH
  chmod 755 "$root/bin/module"
  mapfile -t changes < <(module_changes "$3")
  import "$root" "$1" "$2" "${changes[@]}"
  port=$(free_port)
  check "curl -fsS http://127.0.0.1:$port/version | grep -qx '$3'" -e "PORT=$port" "$1"
}

# ---------------------------------------------------------------------------------------------

source=$(source_hash "$REDIS_BIN" "${REDIS_LIBS[@]}" -- "${REDIS_CHANGES[@]}")
publish titan/redis "${REDIS_VERSION%.*}" "$source" build_redis
for tag in "${MODULE_TAGS[@]}"; do
  mapfile -t changes < <(module_changes "$tag")
  source=$(source_hash /bin/busybox -- "${changes[@]}")
  publish titan/module "$tag" "$source" build_module "$tag"
done
if [ "$pushed" -gt 0 ]; then
  docker image prune --force --filter "label=$LABEL" >/dev/null # what earlier builds left untagged
else
  say "image       up to date: $TITAN_REGISTRY/titan/redis:${REDIS_VERSION%.*}, titan/module:${MODULE_TAGS[*]}"
fi
