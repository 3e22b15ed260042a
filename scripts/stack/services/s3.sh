# shellcheck shell=bash
# Sourced by scripts/stack.sh: the two SeaweedFS S3 endpoints, s3-primary (the primary backup
# location) and s3-offsite (the offsite one): one `weed mini` each, each with its bucket.

s3_conf() { # s3_conf SERVICE -> sets the S3_* variables for that instance
  local -a c
  case $1 in
    s3-primary) c=("${S3_PRIMARY[@]}") ;;
    s3-offsite) c=("${S3_OFFSITE[@]}") ;;
    *) die "not an S3 service: $1" ;;
  esac
  S3_PORT=${c[0]} S3_GRPC=${c[1]} MASTER_PORT=${c[2]} MASTER_GRPC=${c[3]}
  VOLUME_PORT=${c[4]} VOLUME_GRPC=${c[5]} FILER_PORT=${c[6]} FILER_GRPC=${c[7]}
  ADMIN_PORT=${c[8]} ADMIN_GRPC=${c[9]} S3_BUCKET=${c[10]} S3_KEY_VAR=${c[11]} S3_SECRET_VAR=${c[12]} S3_LOCK=${c[13]}
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
  # Its gRPC servers also listen on /tmp/seaweedfs-<server>-grpc-<port>.sock, with no flag to move
  # them: two stacks on one host (e.g. in network namespaces) would take over each other's
  # sockets. As root, each instance gets its own /tmp in a private mount namespace; unshare
  # without --fork keeps the pid, so the pid file still names weed. A checkout that itself lies
  # under /tmp is bound into the new /tmp at its own path first, so weed and its data stay visible.
  local private_tmp=()
  if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
    mkdir -p "$d/tmp"
    # shellcheck disable=SC2016 # expanded by the inner shell
    private_tmp=(unshare --mount --propagation private bash -c '
      root=$0 tmp=$1
      shift
      case $root/ in
        /tmp/*) mkdir -p "$tmp/${root#/tmp/}" && mount --bind "$root" "$tmp/${root#/tmp/}" || exit 1 ;;
      esac
      mount --rbind "$tmp" /tmp && exec "$@"' "$(readlink -f "$ROOT")" "$d/tmp")
  fi
  launch "$svc" "$d" "${private_tmp[@]}" "$PY/bin/weed" -logtostderr mini \
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

# s3_request SERVICE METHOD PATH [CURL-ARGS…]: prints the HTTP status of a signed request (000 if none)
s3_request() {
  local svc=$1 method=$2 path=$3 key secret
  shift 3
  s3_conf "$svc"
  key=${!S3_KEY_VAR} secret=${!S3_SECRET_VAR}
  # credentials go through stdin (-K -), never the command line
  printf 'user = "%s:%s"\n' "$key" "$secret" |
    curl -sS -o /dev/null -w '%{http_code}' --max-time 5 -K - "$@" \
      --aws-sigv4 "aws:amz:us-east-1:s3" -X "$method" "http://$IP:$S3_PORT$path" 2>/dev/null || true
}

# s3_put_xml SERVICE PATH XML: a signed PUT of an XML body (curl signs a body only given its
# x-amz-content-sha256, and a bare "?x" subresource only written "?x=")
s3_put_xml() {
  local body='<?xml version="1.0" encoding="UTF-8"?>'$3
  s3_request "$1" PUT "$2" -H 'Content-Type: application/xml' \
    -H "x-amz-content-sha256: $(printf %s "$body" | sha256sum | cut -d' ' -f1)" --data-binary "$body"
}

# A bucket of an earlier stack, created without Object Lock: S3 (and SeaweedFS) can enable it on
# an existing bucket once versioning is on. Objects already there stay unlocked (`titan backups
# list` says so) until retention removes them.
s3_enable_lock() {
  local svc=$1
  [ "$(s3_request "$svc" GET "/$S3_BUCKET?object-lock=")" = 200 ] && return 0
  [ "$(s3_put_xml "$svc" "/$S3_BUCKET?versioning=" '<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>')" = 200 ] || return 1
  [ "$(s3_put_xml "$svc" "/$S3_BUCKET?object-lock=" '<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>')" = 200 ] || return 1
  say "enabled Object Lock on the existing bucket $S3_BUCKET of $svc (objects already there stay unlocked)"
}

ready_s3() {
  local svc=$1 code
  s3_conf "$svc"
  code=$(s3_request "$svc" HEAD "/$S3_BUCKET")
  local lock=()
  [ "$S3_LOCK" = yes ] && lock=(-H 'x-amz-bucket-object-lock-enabled: true')
  case $code in
    200) ;;
    404)
      code=$(s3_request "$svc" PUT "/$S3_BUCKET" "${lock[@]}")
      [ "$code" = 200 ] || return 1
      say "created bucket $S3_BUCKET on $svc${lock[*]:+ with Object Lock}"
      [ "$(s3_request "$svc" HEAD "/$S3_BUCKET")" = 200 ] || return 1
      ;;
    *) return 1 ;;
  esac
  [ "$S3_LOCK" != yes ] || s3_enable_lock "$svc"
}
