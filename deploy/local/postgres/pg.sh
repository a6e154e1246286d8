#!/usr/bin/env bash
# A private PostgreSQL cluster for development and tests, on loopback, from Debian's `postgresql` package.
#   deploy/local/postgres/pg.sh up      install the package if absent, initdb once, start, create role and db
#   deploy/local/postgres/pg.sh down    stop (fast shutdown)
#   deploy/local/postgres/pg.sh status  exit 0 when the server accepts connections
#   deploy/local/postgres/pg.sh reset   down, then delete the cluster
#   deploy/local/postgres/pg.sh dsn     print the project's connection string
# Settings (environment): PG_PORT (55432), GUNMA_STATE_DIR (<repo>/.local), PG_DB (gunma), PG_USER (gunma),
# PG_PASSWORD (gunma-local: a development default for a cluster that only listens on 127.0.0.1).
# initdb and postgres refuse to run as root; as root the cluster runs as the unprivileged `postgres` user.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
PG_PORT="${PG_PORT:-55432}"
STATE_DIR="${GUNMA_STATE_DIR:-$repo/.local}"
PG_DIR="$STATE_DIR/postgres-$PG_PORT"
PG_DB="${PG_DB:-gunma}"
PG_USER="${PG_USER:-gunma}"
PG_PASSWORD="${PG_PASSWORD:-gunma-local}"

say() { printf 'postgres: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

bindir() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [ -x "$d/initdb" ] && { echo "$d"; return 0; }
  done
  return 1
}

install_if_absent() {
  bindir >/dev/null && return 0
  [ "$(id -u)" -eq 0 ] || die "PostgreSQL not found: install it (sudo apt-get install -y postgresql)"
  say "installing Debian package postgresql"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null; } \
    || die "apt-get install postgresql failed"
  # Debian's package starts its own cluster on 5432; this project does not use it.
  bindir >/dev/null || die "postgresql installed but initdb not found under /usr/lib/postgresql"
}

# Run a command as the cluster's owner.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

answers() {
  local bin; bin="$(bindir)" || return 1
  "$bin/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t 2
}

psql_super() {
  PGPASSWORD="$PG_PASSWORD" psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres "$@"
}

init_once() {
  local bin; bin="$(bindir)"
  [ -f "$PG_DIR/data/PG_VERSION" ] && return 0
  mkdir -p "$PG_DIR"
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres: "$PG_DIR"
    # The owner must be able to reach the data directory through every parent.
    local d="$PG_DIR"
    while [ "$d" != "/" ]; do
      d="$(dirname "$d")"
      runuser -u postgres -- test -x "$d" || die "user postgres cannot enter $d: move GUNMA_STATE_DIR or chmod o+x $d"
    done
  fi
  local pwfile; pwfile="$(mktemp)"
  printf '%s\n' "$PG_PASSWORD" >"$pwfile"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$pwfile"
  say "initdb into $PG_DIR/data"
  as_owner "$bin/initdb" -D "$PG_DIR/data" -U postgres --pwfile="$pwfile" -A scram-sha-256 \
    -E UTF8 --locale=C.UTF-8 >"$PG_DIR/initdb.log" 2>&1 || { rm -f "$pwfile"; cat "$PG_DIR/initdb.log" >&2; die "initdb failed"; }
  rm -f "$pwfile"
  cat >>"$PG_DIR/data/postgresql.conf" <<CONF
# deploy/local/postgres/pg.sh: a private development cluster on loopback.
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_DIR'
max_connections = 300
shared_buffers = 512MB
work_mem = 16MB
maintenance_work_mem = 256MB
max_wal_size = 4GB
checkpoint_timeout = 15min
logging_collector = off
CONF
}

up() {
  install_if_absent
  local bin; bin="$(bindir)"
  if ! answers; then
    init_once
    as_owner "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 start >/dev/null \
      || { tail -n 30 "$PG_DIR/server.log" >&2; die "pg_ctl start failed (log: $PG_DIR/server.log)"; }
  fi
  psql_super <<SQL
SELECT format('CREATE ROLE %I LOGIN CREATEDB PASSWORD %L', '$PG_USER', '$PG_PASSWORD')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$PG_USER') \gexec
-- Tests drop their databases WITH (FORCE); on PostgreSQL 15 that refuses when an autovacuum worker is
-- in the database unless the role may signal backends (local development cluster only).
SELECT format('GRANT pg_signal_backend TO %I', '$PG_USER') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', '$PG_DB', '$PG_USER')
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '$PG_DB') \gexec
SQL
  say "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') answers on 127.0.0.1:$PG_PORT (database $PG_DB, role $PG_USER)"
}

down() {
  local bin; bin="$(bindir)" || { say "not installed"; return 0; }
  if [ -f "$PG_DIR/data/postmaster.pid" ]; then
    as_owner "$bin/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 60 stop >/dev/null 2>&1 || true
  fi
  say "stopped"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) answers ;;
  reset) down; rm -rf "$PG_DIR"; say "cluster removed" ;;
  dsn) echo "postgresql://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/$PG_DB" ;;
  *) echo "usage: $0 up|down|status|reset|dsn" >&2; exit 2 ;;
esac
