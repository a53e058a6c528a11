#!/usr/bin/env bash
# PostgreSQL 15, a private cluster in .local/postgres on 127.0.0.1:$PG_PORT, database and role "stagetrack".
# usage: postgres.sh start|stop|status
# With STAGETRACK_PG_TLS_DIR (a folder holding server.crt and server.key, and optionally root.crt) the server
# also accepts TLS; with root.crt a TLS connection must present a client certificate signed by it whose CN is
# the role (`cert` authentication); plain connections stay as they are (tests/integration/test_postgres_tls.py).
source "$(dirname "$0")/common.sh"
PG_DIR="$LOCAL_DIR/postgres"
DATA="$PG_DIR/data"
SOCK="$PG_DIR/run"
TLS_SOURCE="${STAGETRACK_PG_TLS_DIR:-}"
PG_LOG="$PG_DIR/postgres.log"   # in a folder the server user may write

# initdb refuses root: as root, the cluster belongs to the "postgres" system user.
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

ensure_server() {
  if [ -x "$PG_BIN/postgres" ] && [ -x "$PG_BIN/initdb" ]; then return 0; fi
  apt_install postgresql-15
  [ -x "$PG_BIN/postgres" ] || die "PostgreSQL server not found in $PG_BIN after install"
}

ready() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -d postgres; }

# The port of the server running on $DATA (line 4 of postmaster.pid), empty when none runs.
running_port() {
  local pid
  pid="$(head -1 "$DATA/postmaster.pid" 2>/dev/null)" && [ -n "$pid" ] && [ -d "/proc/$pid" ] \
    && sed -n 4p "$DATA/postmaster.pid"
}

# A cluster directory serves one stack: never start or stop it for another stack's port.
refuse_other_stack_pg() {
  local theirs; theirs="$(running_port || true)"
  if [ -n "$theirs" ] && [ "$theirs" != "$PG_PORT" ]; then
    die "the PostgreSQL cluster in $DATA runs for the stack on port $theirs, not $PG_PORT: \
give each stack a directory of its own with STAGETRACK_LOCAL"
  fi
}

# The server's TLS options (empty without STAGETRACK_PG_TLS_DIR). The files are copied where the server user
# owns them: PostgreSQL refuses a key that others may read.
tls_options() {
  [ -n "$TLS_SOURCE" ] || return 0
  [ -f "$TLS_SOURCE/server.crt" ] && [ -f "$TLS_SOURCE/server.key" ] \
    || die "STAGETRACK_PG_TLS_DIR=$TLS_SOURCE must hold server.crt and server.key"
  local tls="$PG_DIR/tls"
  rm -rf "$tls" && mkdir -p "$tls" && cp "$TLS_SOURCE"/server.crt "$TLS_SOURCE"/server.key "$tls"/
  local options="-c ssl=on -c ssl_cert_file=$tls/server.crt -c ssl_key_file=$tls/server.key"
  if [ -f "$TLS_SOURCE/root.crt" ]; then
    cp "$TLS_SOURCE/root.crt" "$tls"/
    printf '%s\n' "local all all trust" "hostssl all all 127.0.0.1/32 cert" "host all all 127.0.0.1/32 trust" \
      >"$tls/pg_hba.conf"
    options+=" -c ssl_ca_file=$tls/root.crt -c hba_file=$tls/pg_hba.conf"
  fi
  chmod 600 "$tls"/*
  if [ "$(id -u)" = 0 ]; then chown -R postgres "$tls"; fi
  echo "$options"
}

start() {
  ensure_server
  refuse_other_stack_pg
  if ready; then say "PostgreSQL already running on 127.0.0.1:$PG_PORT"; return 0; fi
  mkdir -p "$PG_DIR" "$SOCK"
  if [ "$(id -u)" = 0 ]; then
    chown postgres "$PG_DIR" "$SOCK"
    # the postgres user must be able to reach the cluster folder
    local d="$PG_DIR"; while [ "$d" != / ]; do d="$(dirname "$d")"; chmod o+x "$d" 2>/dev/null || true; done
  fi
  if [ ! -f "$DATA/PG_VERSION" ]; then
    say "creating a private PostgreSQL cluster in $DATA"
    as_owner "$PG_BIN/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$LOG_DIR/initdb.log" 2>&1 \
      || { cat "$LOG_DIR/initdb.log" >&2; die "initdb failed"; }
  fi
  local tls; tls="$(tls_options)"
  say "starting $("$PG_BIN/postgres" --version) on 127.0.0.1:$PG_PORT${tls:+ with TLS}"
  # fsync stays on: the durability tests need a real commit. Settings sized for a 2-core dev box.
  as_owner "$PG_BIN/pg_ctl" -D "$DATA" -l "$PG_LOG" -w -t 60 start -o \
    "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $SOCK -c max_connections=200 -c shared_buffers=256MB \
     -c max_prepared_transactions=0 -c synchronous_commit=on $tls" >/dev/null \
    || { tail -30 "$PG_LOG" >&2; die "PostgreSQL did not start (log: $PG_LOG)"; }
  wait_for "PostgreSQL" 60 ready || die "PostgreSQL not answering on 127.0.0.1:$PG_PORT"
  psql_admin -tAc "SELECT 1 FROM pg_roles WHERE rolname='stagetrack'" | grep -q 1 \
    || psql_admin -qc "CREATE ROLE stagetrack LOGIN SUPERUSER"
  psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname='stagetrack'" | grep -q 1 \
    || psql_admin -qc "CREATE DATABASE stagetrack OWNER stagetrack"
  say "$(psql_admin -tAc 'SHOW server_version' | sed 's/^/PostgreSQL version: /')"
}

# Plain TCP: with client certificates required on TLS connections, psql's default (prefer) would be refused.
psql_admin() { PGSSLMODE=disable "$PG_BIN/psql" -X -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres "$@"; }

stop() {
  refuse_other_stack_pg
  if [ -f "$DATA/postmaster.pid" ]; then
    as_owner "$PG_BIN/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null 2>&1 || true
    say "PostgreSQL stopped"
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  status) if ready; then echo "postgres up 127.0.0.1:$PG_PORT"; else echo "postgres down"; exit 1; fi ;;
  *) die "usage: $0 start|stop|restart|status" ;;
esac
