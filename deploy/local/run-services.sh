#!/usr/bin/env bash
# The four services in the foreground with their logs interleaved; Ctrl-C (or SIGTERM) stops them cleanly.
# The dispatcher reads deploy/local/subscriptions.yaml unless STAGETRACK_DISPATCH_SUBSCRIPTIONS names another file:
# it subscribes nothing, so nothing is sent anywhere until you add an endpoint (docs/dispatch.md).
source "$(dirname "$0")/common.sh"
BIN="${STAGETRACK_BIN:-$REPO_ROOT/.venv/bin/stagetrack}"
# A stack on other ports must point the services at its own Kafka and PostgreSQL, or they use the default stack's.
if [ "$KAFKA_PORT" != 19092 ] && [ -z "${STAGETRACK_KAFKA_BOOTSTRAP_SERVERS:-}" ]; then
  die "STAGETRACK_KAFKA_PORT is $KAFKA_PORT: export STAGETRACK_KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$KAFKA_PORT too"
fi
if [ "$PG_PORT" != 55432 ] && [ -z "${STAGETRACK_DATABASE_URL:-}" ]; then
  die "STAGETRACK_PG_PORT is $PG_PORT: export STAGETRACK_DATABASE_URL=postgresql+asyncpg://stagetrack@127.0.0.1:$PG_PORT/stagetrack too"
fi
export STAGETRACK_DISPATCH_SUBSCRIPTIONS="${STAGETRACK_DISPATCH_SUBSCRIPTIONS:-$REPO_ROOT/deploy/local/subscriptions.yaml}"
pids=()
stop_all() {
  trap - INT TERM
  say "stopping the services"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  local rc=0
  # uvicorn re-raises the signal after a graceful shutdown, so 130/143 are clean exits too
  for pid in "${pids[@]}"; do
    wait "$pid" && continue
    local status=$?; case "$status" in 130|143) ;; *) rc=$status ;; esac
  done
  say "services stopped with status $rc (the stack keeps running: make down stops it)"
  exit "$rc"
}
trap stop_all INT TERM
for service in ingest engine kpi dispatch; do
  # each line of output prefixed with the service name
  "$BIN" serve "$service" > >(trap "" INT TERM; exec sed -u "s/^/[$service] /") 2>&1 &
  pids+=($!)
done
for port in "$INGEST_PORT" "$ENGINE_PORT" "$KPI_PORT" "$DISPATCH_PORT"; do
  wait_for "service on :$port" 60 curl -fsS "http://127.0.0.1:$port/readyz" \
    || say "WARNING: the service on :$port is not ready after 60 s (see its log above)"
done
say "all started: ingest :$INGEST_PORT, engine :$ENGINE_PORT, kpi :$KPI_PORT, dispatch :$DISPATCH_PORT, prometheus :$PROM_PORT"
wait
