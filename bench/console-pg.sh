#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/console-pg.sh [DEVICES] [AUDIT-ROWS] — the console's PostgreSQL SQL (reg_pg.c: the
# overview, audit pages) at fleet size, timed by the server (EXPLAIN ANALYZE's execution time,
# median of 7): a throw-away PostgreSQL (tests/integration/lib-pg.sh), the schema made by
# `selfcert net db migrate` (its triggers included), filled as bench_console fills SQLite.
# Needs SELFCERT (the selfcert binary). docs/PERFORMANCE.md, section 12.
set -u
. "$(dirname "$0")/../tests/integration/lib-pg.sh"
: "${SELFCERT:?set SELFCERT to the selfcert binary}"
N=${1:-100000}
A=${2:-2000000}
trap pg_cleanup EXIT
pg_up || exit $?
"$SELFCERT" net db migrate --db "$SC_PG_URI" >/dev/null || exit 1
NOW=$(date +%s)
t0=$SECONDS
pg_sql "
INSERT INTO devices (device_id, status, note, created_at, updated_at)
  SELECT format('dev-%s', lpad(i::text, 6, '0')), CASE WHEN i % 50 = 0 THEN 'revoked' ELSE 'active' END,
  'batch ' || (i % 97), $NOW - 400 * 86400, $NOW - 400 * 86400 FROM generate_series(1, $N) i;
INSERT INTO profiles (profile_id, device_id, challenge, origin, alg, not_before, not_after,
  profile_not_after, der, chain_pem, created_at, consumed_at)
  SELECT lpad(to_hex(i), 16, '0') || lpad(to_hex(k), 16, '0'), format('dev-%s', lpad(i::text, 6, '0')),
  NULL, 'device', 'p256', t - 60, t + 86400, t + 600, '\\x3000', '', t, t + 1
  FROM (SELECT i, k, $NOW - k * 86400 - (i * 7919) % 86400 AS t
        FROM generate_series(1, $N) i, generate_series(0, 2) k
        WHERE i % 100 <> 7 AND (k = 0 OR i % 2 = 0)) p ORDER BY t;
INSERT INTO certificates (fingerprint, serial, device_id, profile_id, not_before, not_after, der,
  registered_at)
  SELECT profile_id || profile_id, substr(profile_id, 1, 32), device_id, profile_id, not_before,
  not_after, '\\x3000', consumed_at FROM profiles ORDER BY consumed_at;
INSERT INTO audit (at, actor, event, device_id, detail)
  SELECT $NOW - 365 * 86400 + k::bigint * 365 * 86400 / $A,
  CASE WHEN k % 1000 = 0 THEN 'operator alice (10.0.0.1)' WHEN k % 97 = 0 THEN 'operator bob (10.0.0.2)'
   ELSE 'api 10.1.' || (k % 250) END,
  CASE WHEN k % 1000 = 0 THEN 'device-revoked' WHEN k % 97 = 0 THEN 'device-added'
   WHEN k % 2 = 0 THEN 'profile-issued' ELSE 'certificate-registered' END,
  format('dev-%s', lpad((k % $N + 1)::text, 6, '0')), 'profile ' || md5(k::text) || ', device-generated key p256'
  FROM generate_series(0, $A - 1) k;" || exit 1
pg_sql "VACUUM ANALYZE" || exit 1
echo "console-pg: $N devices, $A audit rows, filled in $((SECONDS - t0)) s"
START=$(( (NOW / 3600 - 71) * 3600 ))
MID=$(printf 'dev-%06d' $((N / 2 + 1)))
q() { # q NAME SQL: the median of 7 execution times
  local name=$1 sql=$2 i
  for i in 1 2 3 4 5 6 7; do
    pg_sql "EXPLAIN (ANALYZE, FORMAT TEXT) $sql" | sed -n 's/^Execution Time: \([0-9.]*\) ms$/\1/p'
  done | sort -n | sed -n 4p | xargs printf '  %-36s %8.2f ms\n' "$name"
}
q "overview: counts, one pass a table" "WITH dv AS (SELECT count(*) FILTER (WHERE status = 'active') AS a,
  count(*) FILTER (WHERE status = 'revoked') AS rv FROM devices),
 e AS (SELECT count(*) AS n, count(*) FILTER (WHERE not_after >= $NOW) AS v,
  count(*) FILTER (WHERE not_after BETWEEN $NOW AND $NOW + 86400) AS d1,
  count(*) FILTER (WHERE not_after BETWEEN $NOW AND $NOW + 604800) AS d7 FROM device_expiry),
 r AS (SELECT count(*) AS n, count(*) FILTER (WHERE e.not_after >= $NOW) AS v,
  count(*) FILTER (WHERE e.not_after BETWEEN $NOW AND $NOW + 86400) AS d1,
  count(*) FILTER (WHERE e.not_after BETWEEN $NOW AND $NOW + 604800) AS d7
  FROM devices d JOIN device_expiry e ON e.device_id = d.device_id WHERE d.status = 'revoked')
 SELECT dv.a, dv.rv, e.n, e.v, e.d1, e.d7, r.n, r.v, r.d1, r.d7 FROM dv, e, r"
q "(before: a count per range)" "SELECT (SELECT count(*) FROM devices WHERE status = 'active'),
 (SELECT count(*) FROM devices WHERE status = 'revoked'), (SELECT count(*) FROM device_expiry),
 (SELECT count(*) FROM device_expiry WHERE not_after >= $NOW),
 (SELECT count(*) FROM device_expiry WHERE not_after BETWEEN $NOW AND $NOW + 86400),
 (SELECT count(*) FROM device_expiry WHERE not_after BETWEEN $NOW AND $NOW + 604800),
 count(*), count(*) FILTER (WHERE e.not_after >= $NOW),
 count(*) FILTER (WHERE e.not_after BETWEEN $NOW AND $NOW + 86400),
 count(*) FILTER (WHERE e.not_after BETWEEN $NOW AND $NOW + 604800)
 FROM devices d JOIN device_expiry e ON e.device_id = d.device_id WHERE d.status = 'revoked'"
q "overview: per hour (72 h)" "SELECT hour, sum(profiles), sum(certificates) FROM console_hourly WHERE hour >= $((START / 3600)) GROUP BY hour"
# Schema 10 (pg18) dropped profiles_by_time, the index this reference ran through: on 10 it
# scans profiles (PERFORMANCE 25.3), so it is what "before" cost only on a schema-9 registry.
q "(before: profiles per hour, counted; schema <= 9 only)" "SELECT created_at / 3600, count(*) FROM profiles WHERE created_at >= $START GROUP BY 1"
AUD="SELECT seq, at, actor, event, device_id, detail FROM audit WHERE seq < 9223372036854775807"
q "audit: newest page" "$AUD ORDER BY seq DESC LIMIT 101"
q "audit: a page 1,000,000 deep" "SELECT seq, at, actor, event, device_id, detail FROM audit WHERE seq < $((A / 2)) ORDER BY seq DESC LIMIT 101"
q "audit: a rare event" "$AUD AND event = 'device-revoked' ORDER BY seq DESC LIMIT 101"
q "audit: by actor" "$AUD AND left(actor, length('operator bob')) = 'operator bob' ORDER BY seq DESC LIMIT 101"
q "audit: by device" "$AUD AND device_id = '$MID' ORDER BY seq DESC LIMIT 101"
q "audit: one day a month ago" "$AUD AND at >= $((NOW - 30 * 86400)) AND at < $((NOW - 29 * 86400)) ORDER BY seq DESC LIMIT 101"
q "device: its audit (100)" "SELECT seq, at, actor, event, device_id, detail FROM (SELECT * FROM audit WHERE device_id = '$MID' ORDER BY seq DESC LIMIT 100) a ORDER BY seq"
