# shellcheck shell=bash
# Sourced by scripts/stack.sh: the Docker engine, on the stack's unix socket only, with no bridge;
# and what stopping it must clean up.

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
