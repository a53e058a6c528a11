# Shared settings for the local stack scripts. Sourced, never run.
# Everything lives under $STAGETRACK_LOCAL (default: <repo>/.local, git-ignored), all on 127.0.0.1.
# A second stack beside the first sets its own ports AND its own STAGETRACK_LOCAL (docs/observability.md,
# "A second local stack"); a server already running from the same directory for other ports is refused.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LOCAL_DIR="${STAGETRACK_LOCAL:-$REPO_ROOT/.local}"
LOG_DIR="$LOCAL_DIR/logs"
KAFKA_VERSION="4.1.1"
KAFKA_PORT="${STAGETRACK_KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${STAGETRACK_KAFKA_CONTROLLER_PORT:-19093}"
PG_PORT="${STAGETRACK_PG_PORT:-55432}"
PG_BIN="${STAGETRACK_PG_BIN:-/usr/lib/postgresql/15/bin}"
PROM_PORT="${STAGETRACK_PROMETHEUS_PORT:-19090}"
# The services' ports (their own settings read the same variables); Prometheus scrapes these.
INGEST_PORT="${STAGETRACK_INGEST_PORT:-8000}"
ENGINE_PORT="${STAGETRACK_ENGINE_PORT:-8001}"
KPI_PORT="${STAGETRACK_KPI_PORT:-8002}"
DISPATCH_PORT="${STAGETRACK_DISPATCH_PORT:-8003}"

say() { echo "[stack] $*" >&2; }
die() { echo "[stack] ERROR: $*" >&2; exit 1; }

for var in KAFKA_PORT KAFKA_CONTROLLER_PORT PG_PORT PROM_PORT INGEST_PORT ENGINE_PORT KPI_PORT DISPATCH_PORT; do
  [[ "${!var}" =~ ^[0-9]+$ ]] && (( ${!var} > 0 && ${!var} < 65536 )) \
    || die "STAGETRACK_${var/PROM_/PROMETHEUS_} must be a TCP port number, not '${!var}'"
done
mkdir -p "$LOG_DIR"

# wait_for DESCRIPTION SECONDS COMMAND...: poll COMMAND until it succeeds or the deadline passes.
wait_for() {
  local what="$1" seconds="$2"; shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if (( SECONDS >= deadline )); then return 1; fi
    sleep 0.2
  done
  say "$what ready"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# Beside a server's PIDFILE (name.pid) its start records the port it serves (name.port): the stack it belongs to.
port_file() { echo "${1%.pid}.port"; }

# refuse_other_stack NAME PIDFILE PORT: dies when PIDFILE's server is alive for another port than PORT: this
# directory belongs to another stack, and starting or stopping from here would hit that stack.
refuse_other_stack() {
  local name="$1" pidfile="$2" port="$3" recorded
  pid_alive "$pidfile" || return 0
  recorded="$(cat "$(port_file "$pidfile")" 2>/dev/null || true)"
  if [ -z "$recorded" ] || [ "$recorded" = "$port" ]; then return 0; fi
  die "$name in $(dirname "$pidfile") belongs to the stack on port $recorded (pid $(cat "$pidfile")), not to port $port: \
give each stack a directory of its own with STAGETRACK_LOCAL"
}

# refuse_half_started NAME PIDFILE PORT: called when PORT does not answer; dies if PIDFILE's server is alive anyway
# (still starting, or another stack's from before ports were recorded) rather than start a second one on its data.
refuse_half_started() {
  local name="$1" pidfile="$2" port="$3"
  pid_alive "$pidfile" || return 0
  die "$name in $(dirname "$pidfile") runs as pid $(cat "$pidfile") but does not answer on port $port: \
wait for it or stop it; if it is another stack's, give this one its own STAGETRACK_LOCAL"
}

# stop_pidfile NAME PIDFILE PORT: SIGTERM, wait up to 30 s, then SIGKILL; never another stack's server.
stop_pidfile() {
  local name="$1" pidfile="$2"
  refuse_other_stack "$name" "$pidfile" "$3"
  if ! pid_alive "$pidfile"; then rm -f "$pidfile" "$(port_file "$pidfile")"; return 0; fi
  local pid; pid="$(cat "$pidfile")"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 30))
  while kill -0 "$pid" 2>/dev/null; do
    if (( SECONDS >= deadline )); then say "$name did not stop in 30 s; killing"; kill -KILL "$pid" 2>/dev/null || true; fi
    sleep 0.2
  done
  rm -f "$pidfile" "$(port_file "$pidfile")"
  say "$name stopped"
}

apt_install() {
  command -v apt-get >/dev/null || die "apt-get not found; install $* by hand"
  [ "$(id -u)" = 0 ] || die "need root to apt-get install $*"
  say "installing Debian packages: $*"
  apt-get update -qq >"$LOG_DIR/apt.log" 2>&1 || { cat "$LOG_DIR/apt.log" >&2; die "apt-get update failed"; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >>"$LOG_DIR/apt.log" 2>&1 \
    || { tail -20 "$LOG_DIR/apt.log" >&2; die "apt-get install $* failed"; }
}

# fetch_kafka_jars: Kafka $KAFKA_VERSION's jars from Maven Central into $KAFKA_LIB, once (kafka-cluster.sh; the same
# cache and recipe as kafka.sh's single broker).
KAFKA_LIB="$LOCAL_DIR/kafka/lib"
fetch_kafka_jars() {
  if [ -f "$KAFKA_LIB/.complete-$KAFKA_VERSION" ]; then return 0; fi
  command -v mvn >/dev/null || die "mvn not found: Maven is needed to fetch Kafka's jars"
  command -v java >/dev/null || die "java not found: Java 17 is needed to run Kafka"
  say "fetching Kafka $KAFKA_VERSION jars with Maven (once; cached in $KAFKA_LIB)"
  rm -rf "$KAFKA_LIB"; mkdir -p "$KAFKA_LIB"
  mvn -q -B -f "$REPO_ROOT/deploy/local/kafka/pom.xml" dependency:copy-dependencies \
      -Dkafka.version="$KAFKA_VERSION" -DoutputDirectory="$KAFKA_LIB" >"$LOG_DIR/kafka-maven.log" 2>&1 \
    || { tail -20 "$LOG_DIR/kafka-maven.log" >&2; die "Maven could not fetch Kafka jars (log: $LOG_DIR/kafka-maven.log)"; }
  touch "$KAFKA_LIB/.complete-$KAFKA_VERSION"
}
