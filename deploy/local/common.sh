# Shared settings for the local stack scripts. Sourced, never run.
# Everything lives under $STAGETRACK_LOCAL (default: <repo>/.local, git-ignored), all on 127.0.0.1.
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
mkdir -p "$LOG_DIR"

say() { echo "[stack] $*" >&2; }
die() { echo "[stack] ERROR: $*" >&2; exit 1; }

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

# stop_pidfile NAME PIDFILE: SIGTERM, wait up to 30 s, then SIGKILL.
stop_pidfile() {
  local name="$1" pidfile="$2"
  if ! pid_alive "$pidfile"; then rm -f "$pidfile"; return 0; fi
  local pid; pid="$(cat "$pidfile")"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 30))
  while kill -0 "$pid" 2>/dev/null; do
    if (( SECONDS >= deadline )); then say "$name did not stop in 30 s; killing"; kill -KILL "$pid" 2>/dev/null || true; fi
    sleep 0.2
  done
  rm -f "$pidfile"
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
