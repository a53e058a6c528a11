#!/usr/bin/env bash
# Prometheus (Debian's package) on 127.0.0.1:$PROM_PORT, scraping the three services (deploy/prometheus/prometheus.yml).
# usage: prometheus.sh start|stop|status
source "$(dirname "$0")/common.sh"
PROM_DIR="$LOCAL_DIR/prometheus"
PIDFILE="$PROM_DIR/prometheus.pid"
CONFIG="${STAGETRACK_PROMETHEUS_CONFIG:-$REPO_ROOT/deploy/prometheus/prometheus.yml}"

ready() { curl -fsS "http://127.0.0.1:$PROM_PORT/-/ready"; }

start() {
  command -v prometheus >/dev/null && command -v promtool >/dev/null || apt_install prometheus
  if pid_alive "$PIDFILE" && ready >/dev/null 2>&1; then say "Prometheus already running on 127.0.0.1:$PROM_PORT"; return 0; fi
  if port_open "$PROM_PORT"; then die "port $PROM_PORT is taken by another process; set STAGETRACK_PROMETHEUS_PORT"; fi
  mkdir -p "$PROM_DIR/data"
  promtool check config "$CONFIG" >"$LOG_DIR/promtool.log" 2>&1 || { cat "$LOG_DIR/promtool.log" >&2; die "invalid Prometheus config $CONFIG"; }
  say "starting $(prometheus --version 2>&1 | head -1) on 127.0.0.1:$PROM_PORT"
  setsid prometheus --config.file="$CONFIG" --storage.tsdb.path="$PROM_DIR/data" \
    --web.listen-address="127.0.0.1:$PROM_PORT" --web.enable-lifecycle \
    >"$LOG_DIR/prometheus.log" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  wait_for "Prometheus" 60 ready || { tail -20 "$LOG_DIR/prometheus.log" >&2; die "Prometheus did not become ready in 60 s"; }
}

case "${1:-}" in
  start) start ;;
  stop) stop_pidfile Prometheus "$PIDFILE" ;;
  status) if ready >/dev/null 2>&1; then echo "prometheus up 127.0.0.1:$PROM_PORT"; else echo "prometheus down"; exit 1; fi ;;
  *) die "usage: $0 start|stop|status" ;;
esac
