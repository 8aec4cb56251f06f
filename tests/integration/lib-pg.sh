# SPDX-License-Identifier: Apache-2.0
# lib-pg.sh — a throw-away PostgreSQL server for one test: initdb + pg_ctl in a private folder,
# listening on a unix socket in that folder only (no TCP port to collide with), fast unsafe
# settings (fsync off: a test, not a bank). Run as the 'postgres' user when the test runs as
# root (initdb refuses root). Sourced by the integration tests (after lib.sh) and by pg-run.sh,
# which wraps the unit tests. Every server is stopped by its own postmaster.pid, never by name.
#
# pg_up: start one, export SC_PG_DIR (its folder) and SC_PG_URI (a libpq URI, superuser
# 'selfcert', database 'selfcert'). Returns 77 when PostgreSQL is not installed — never in CI
# (scripts/deps.d/pg.txt installs it), where that is a failure.

SC_PG_DIR=
SC_PG_URI=
SC_PG_RUN=()
SC_PG_OPTS=()

# pg_sql SQL [URI]: run SQL through psql, one unaligned value per line, errors on stderr.
pg_sql() { psql -X -q -A -t -v ON_ERROR_STOP=1 -d "${2:-$SC_PG_URI}" -c "$1"; }

# pg_start [extra -c settings…]: the server of $SC_PG_DIR (settings kept for restarts). Fast and
# unsafe (fsync off) unless SC_PG_DURABLE=1 (benchmarks: as durable as the SQLite registry).
pg_start() {
  local fast="-c fsync=off -c full_page_writes=off"
  [ "${SC_PG_DURABLE:-0}" = 1 ] && fast=
  [ $# -gt 0 ] && SC_PG_OPTS=("$@")
  "${SC_PG_RUN[@]}" "$SC_PG_BIN/pg_ctl" -D "$SC_PG_DIR/data" -l "$SC_PG_DIR/pg.log" -w -t 60 \
    -o "-c listen_addresses='' -k $SC_PG_DIR -p 5432 $fast -c max_connections=200 ${SC_PG_OPTS[*]}" \
    start >/dev/null
}

pg_stop() { "${SC_PG_RUN[@]}" "$SC_PG_BIN/pg_ctl" -D "$SC_PG_DIR/data" -m "${1:-fast}" -w -t 60 stop >/dev/null; }

# pg_crash_restart: as a power cut would (immediate stop, WAL redo at start).
pg_crash_restart() { pg_stop immediate && pg_start; }

pg_cleanup() {
  [ -n "$SC_PG_DIR" ] || return 0
  [ -f "$SC_PG_DIR/data/postmaster.pid" ] && pg_stop immediate 2>/dev/null
  rm -rf "$SC_PG_DIR"
  SC_PG_DIR=
}

pg_up() {
  SC_PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ ! -x "$SC_PG_BIN/initdb" ] || ! command -v psql >/dev/null; then
    if [ -n "${CI:-}" ]; then
      echo "PostgreSQL is not installed, and CI must have it (scripts/deps.d/pg.txt)" >&2
      return 1
    fi
    echo "SKIP: PostgreSQL (initdb, psql) is not installed: apt-get install postgresql" >&2
    return 77
  fi
  # Short and private: a unix socket path is at most 107 bytes.
  SC_PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/scpg.XXXXXX") || return 1
  chmod 700 "$SC_PG_DIR"
  SC_PG_RUN=()
  if [ "$(id -u)" = 0 ]; then
    chown postgres:postgres "$SC_PG_DIR"
    SC_PG_RUN=(setpriv --reuid=postgres --regid=postgres --clear-groups)
  fi
  "${SC_PG_RUN[@]}" env LC_ALL=C "$SC_PG_BIN/initdb" -D "$SC_PG_DIR/data" -U selfcert -A trust \
    -E UTF8 --locale=C --no-sync >"$SC_PG_DIR/initdb.log" 2>&1 ||
    { echo "initdb failed: $(tail -n 3 "$SC_PG_DIR/initdb.log")" >&2; return 1; }
  pg_start || { echo "PostgreSQL did not start: $(tail -n 3 "$SC_PG_DIR/pg.log")" >&2; return 1; }
  "${SC_PG_RUN[@]}" "$SC_PG_BIN/createdb" -h "$SC_PG_DIR" -p 5432 -U selfcert selfcert || return 1
  SC_PG_URI="postgresql:///selfcert?host=$SC_PG_DIR&port=5432&user=selfcert"
  export SC_PG_DIR SC_PG_URI
}

# pg_newdb NAME: a fresh empty database on the server; echoes its URI.
pg_newdb() {
  pg_sql "CREATE DATABASE \"$1\"" >/dev/null || return 1
  echo "postgresql:///$1?host=$SC_PG_DIR&port=5432&user=selfcert"
}
