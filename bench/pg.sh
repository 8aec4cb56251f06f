#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/pg.sh BENCH [ARGS…] — run a benchmark with provd's registry on a throw-away PostgreSQL
# (tests/integration/lib-pg.sh), durable like the SQLite registry (fsync and synchronous_commit
# on: SC_PG_DURABLE=1): BENCH gets --db URI --db-pid POSTMASTER, so bench_ca counts the
# database's CPU too. Example: SELFCERT=… SELFCERT_PROVD=… bench/pg.sh build/release/bench_ca
# SC_PG_STATS=FILE: also load pg_stat_statements (every statement, those run by triggers and
# functions too, and BEGIN/COMMIT) and write its table to FILE after the run: calls, rows, mean
# and total execution time (ms), buffers read per call (a scan shows), whether it came from the
# client (t) or a trigger or function (f), the statement; then the WAL's records, writes and
# flushes beside the database's commits. Timing the statements costs the server a little CPU: compare runs made alike.
# SC_PG_BACKEND_CPU=FILE (pg17): also the CPU of provd's own database backends ('postgres: selfcert
# selfcert' children of this server, opened at provd's start: its pool), `perf stat -e task-clock` attached to them 0.3 s
# after they appear until they end, into FILE; with SC_PG_STATS, FILE.info has the profile inserts
# pg_stat_statements had counted at that moment (the enrollments measured: the end's count less
# it). Needs perf; SELFCERT_PROVD is wrapped for it.
# cfssl (bench_ca, bench_fleet) records its certificates in a database of the same server
# (BENCH_CFSSL_PG: "both durable, on PostgreSQL"), with cfssl's certdb/pg schema; its CPU there
# is counted for cfssl. SC_CFSSL_SQLITE=1: cfssl on its SQLite file instead (sessions 6-9's
# comparison).
set -u
. "$(dirname "$0")/../tests/integration/lib-pg.sh"
export SC_PG_DURABLE=${SC_PG_DURABLE:-1}
stats=${SC_PG_STATS:-}
trap pg_cleanup EXIT
if [ -n "$stats" ]; then
  SC_PG_OPTS=(-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all
    -c pg_stat_statements.track_utility=on -c pg_stat_statements.max=1000)
fi
pg_up || exit $?
if [ -n "$stats" ]; then
  pg_sql "CREATE EXTENSION pg_stat_statements; SELECT pg_stat_statements_reset();
    SELECT pg_stat_reset_shared('wal'); SELECT pg_stat_reset()" >/dev/null || exit 1
fi
if [ "${SC_CFSSL_SQLITE:-0}" != 1 ]; then
  # cfssl's certdb/pg/migrations (the eight columns this cfssl's INSERT names).
  pg_newdb cfssl >/dev/null || exit 1
  pg_sql "CREATE TABLE certificates (serial_number bytea NOT NULL,
      authority_key_identifier bytea NOT NULL, ca_label bytea, status bytea NOT NULL,
      reason int, expiry timestamptz, revoked_at timestamptz, pem bytea NOT NULL,
      PRIMARY KEY (serial_number, authority_key_identifier));
    CREATE TABLE ocsp_responses (serial_number bytea NOT NULL,
      authority_key_identifier bytea NOT NULL, body bytea NOT NULL, expiry timestamptz,
      PRIMARY KEY (serial_number, authority_key_identifier),
      FOREIGN KEY (serial_number, authority_key_identifier)
        REFERENCES certificates (serial_number, authority_key_identifier))" \
    "postgresql:///cfssl?host=$SC_PG_DIR&port=5432&user=selfcert" >/dev/null || exit 1
  export BENCH_CFSSL_PG="host=$SC_PG_DIR port=5432 user=selfcert dbname=cfssl sslmode=disable"
fi
if [ -n "${SC_PG_BACKEND_CPU:-}" ]; then
  pm=$(head -n 1 "$SC_PG_DIR/data/postmaster.pid") # this server's backends only
  cat >"$SC_PG_DIR/provd-wrap.sh" <<WRAP
#!/bin/bash
(
  for i in \$(seq 200); do sleep 0.05; pgrep -P $pm -f '^postgres: selfcert selfcert' >/dev/null && break; done
  sleep 0.3
  pids=\$(pgrep -d, -P $pm -f '^postgres: selfcert selfcert')
  c0=\$(psql -X -A -t -d "$SC_PG_URI" -c "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements
    WHERE query LIKE 'WITH p AS (INSERT INTO profiles%'" 2>/dev/null)
  echo "backends \$pids profile inserts before \${c0:-?}" >"$SC_PG_BACKEND_CPU.info"
  perf stat -x, -e task-clock -p "\$pids" -o "$SC_PG_BACKEND_CPU" 2>/dev/null
) &
exec "${SELFCERT_PROVD:?SELFCERT_PROVD}" "\$@"
WRAP
  chmod 755 "$SC_PG_DIR/provd-wrap.sh"
  export SELFCERT_PROVD="$SC_PG_DIR/provd-wrap.sh"
fi
bench=$1; shift
"$bench" "$@" --db "$SC_PG_URI" --db-pid "$(head -n 1 "$SC_PG_DIR/data/postmaster.pid")"
rc=$?
if [ -n "$stats" ]; then
  # toplevel: f for a statement a trigger or function ran (no round trip of its own).
  pg_sql "SELECT calls || E'\t' || rows || E'\t' || round(mean_exec_time::numeric, 4) || E'\t' ||
      round(total_exec_time::numeric, 1) || E'\t' ||
      round(shared_blks_hit::numeric / greatest(calls, 1), 1) || E'\t' || toplevel || E'\t' ||
      regexp_replace(left(query, 160), '\s+', ' ', 'g')
    FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat_statements%'
      AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
    ORDER BY total_exec_time DESC" >"$stats" || rc=1
  # The WAL's flushes (wal_sync): fewer than commits when concurrent commits shared one.
  pg_sql "SELECT 'wal: ' || wal_records || ' records, ' || wal_bytes || ' bytes, ' ||
      wal_write || ' writes, ' || wal_sync || ' flushes; commits: ' ||
      (SELECT sum(xact_commit) FROM pg_stat_database WHERE datname IN (current_database(), 'cfssl')) ||
      ' (both databases: the WAL is the cluster''s)'
    FROM pg_stat_wal" >>"$stats" || rc=1
fi
exit $rc
