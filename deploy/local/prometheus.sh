#!/usr/bin/env bash
# Prometheus (Debian's package) on 127.0.0.1:$PROM_PORT, scraping this stack's four services.
# Its config is deploy/prometheus/prometheus.yml (the default ports) rendered into $PROM_DIR/prometheus.yml with
# this stack's STAGETRACK_INGEST_PORT, STAGETRACK_ENGINE_PORT, STAGETRACK_KPI_PORT and STAGETRACK_DISPATCH_PORT, and the rules' absolute
# path; STAGETRACK_PROMETHEUS_CONFIG names a config to use as it is instead.
# usage: prometheus.sh start|stop|status|render|check   (check: both configs valid, every rule test passes)
source "$(dirname "$0")/common.sh"
PROM_DIR="$LOCAL_DIR/prometheus"
PIDFILE="$PROM_DIR/prometheus.pid"
PROM_SRC="$REPO_ROOT/deploy/prometheus"
CONFIG="${STAGETRACK_PROMETHEUS_CONFIG:-$PROM_DIR/prometheus.yml}"

ready() { curl -fsS "http://127.0.0.1:$PROM_PORT/-/ready"; }

ensure_prometheus() { command -v prometheus >/dev/null && command -v promtool >/dev/null || apt_install prometheus; }

# job_target JOB PORT: a sed program that points JOB's scrape target at 127.0.0.1:PORT.
job_target() { echo "/job_name: $1\$/,/targets:/ s|\"127\\.0\\.0\\.1:[0-9]*\"|\"127.0.0.1:$2\"|"; }

render() {
  if [ -n "${STAGETRACK_PROMETHEUS_CONFIG:-}" ]; then return 0; fi
  mkdir -p "$PROM_DIR"
  # the template's leading comment gives way to one saying where this copy comes from
  sed -e "1i # Rendered by deploy/local/prometheus.sh from deploy/prometheus/prometheus.yml for this stack's ports." \
      -e '1,/^[^#]/ { /^#/d }' \
      -e "$(job_target stagetrack-ingest "$INGEST_PORT")" \
      -e "$(job_target stagetrack-engine "$ENGINE_PORT")" \
      -e "$(job_target stagetrack-kpi "$KPI_PORT")" \
      -e "$(job_target stagetrack-dispatch "$DISPATCH_PORT")" \
      -e "s|^\\( *- \\)rules/|\\1$PROM_SRC/rules/|" \
      "$PROM_SRC/prometheus.yml" >"$CONFIG.new"
  for port in "$INGEST_PORT" "$ENGINE_PORT" "$KPI_PORT" "$DISPATCH_PORT"; do
    grep -q "\"127.0.0.1:$port\"" "$CONFIG.new" || die "rendering $CONFIG: no scrape target on port $port (did the jobs of deploy/prometheus/prometheus.yml change?)"
  done
  mv "$CONFIG.new" "$CONFIG"
}

check_config() {
  promtool check config "$1" >"$LOG_DIR/promtool.log" 2>&1 || { cat "$LOG_DIR/promtool.log" >&2; die "invalid Prometheus config $1"; }
}

start() {
  ensure_prometheus
  refuse_other_stack Prometheus "$PIDFILE" "$PROM_PORT"
  if pid_alive "$PIDFILE" && ready >/dev/null 2>&1; then say "Prometheus already running on 127.0.0.1:$PROM_PORT"; return 0; fi
  refuse_half_started Prometheus "$PIDFILE" "$PROM_PORT"
  if port_open "$PROM_PORT"; then die "port $PROM_PORT is taken by another process; set STAGETRACK_PROMETHEUS_PORT"; fi
  mkdir -p "$PROM_DIR/data"
  render
  check_config "$CONFIG"
  say "starting $(prometheus --version 2>&1 | head -1) on 127.0.0.1:$PROM_PORT, scraping ingest :$INGEST_PORT, engine :$ENGINE_PORT, kpi :$KPI_PORT, dispatch :$DISPATCH_PORT"
  setsid prometheus --config.file="$CONFIG" --storage.tsdb.path="$PROM_DIR/data" \
    --web.listen-address="127.0.0.1:$PROM_PORT" --web.enable-lifecycle \
    >"$LOG_DIR/prometheus.log" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  echo "$PROM_PORT" >"$(port_file "$PIDFILE")"
  wait_for "Prometheus" 60 ready || { tail -20 "$LOG_DIR/prometheus.log" >&2; die "Prometheus did not become ready in 60 s"; }
}

check() {
  ensure_prometheus
  check_config "$PROM_SRC/prometheus.yml"
  render
  check_config "$CONFIG"
  promtool test rules "$PROM_SRC"/tests/*.yml >&2 || die "a Prometheus rule test failed (deploy/prometheus/tests)"
  say "Prometheus configs valid ($PROM_SRC/prometheus.yml, $CONFIG); every rule test passes"
}

case "${1:-}" in
  start) start ;;
  stop) stop_pidfile Prometheus "$PIDFILE" "$PROM_PORT" ;;
  status) if ready >/dev/null 2>&1; then echo "prometheus up 127.0.0.1:$PROM_PORT"; else echo "prometheus down"; exit 1; fi ;;
  render) render; echo "$CONFIG" ;;
  check) check ;;
  *) die "usage: $0 start|stop|status|render|check" ;;
esac
