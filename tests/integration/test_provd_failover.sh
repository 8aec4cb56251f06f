#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A PostgreSQL failover under load (issue 13): the registry's primary streams to a synchronous
# standby (set up here with pg_basebackup); two provd nodes connect through a two-host URI with
# target_session_attrs=read-write; the primary is killed (immediate stop) in the middle of the
# agents' enrolment and the standby promoted. Nothing acknowledged is lost: every agent that
# finished before or during the failover finds its certificate on the promoted server; the rest
# complete on retry; every device ends with exactly one registered certificate; no 500.
# Skipped under valgrind (test_agent_pg covers provd on PostgreSQL there).
if [ "${SC_VALGRIND:-0}" = 1 ]; then
  echo "SKIP: test_provd_failover under valgrind (too slow)" >&2
  exit 77
fi
export SC_DB=pg
source "$SC_TESTLIB"
source "$(dirname "$SC_TESTLIB")/lib-provd.sh"

N=${PROVD_FAILOVER_DEVICES:-16}
provd_world fleet || exit 1
PRIMARY_URI=$SC_PG_URI

# --- the standby: a base backup streaming from the primary, synchronous ---
SB=$SC_PG_DIR/standby
"${SC_PG_RUN[@]}" "$SC_PG_BIN/pg_basebackup" -h "$SC_PG_DIR" -p 5432 -U selfcert -D "$SB" -R -X stream \
  -c fast >"$SC_PG_DIR/basebackup.log" 2>&1 || { fail "pg_basebackup: $(tail -n 2 "$SC_PG_DIR/basebackup.log")"; finish; exit 1; }
"${SC_PG_RUN[@]}" "$SC_PG_BIN/pg_ctl" -D "$SB" -l "$SC_PG_DIR/standby.log" -w -t 60 \
  -o "-c listen_addresses='' -k $SC_PG_DIR -p 5433 -c cluster_name=standby1 -c max_connections=200" \
  start >/dev/null || { fail "standby did not start: $(tail -n 3 "$SC_PG_DIR/standby.log")"; finish; exit 1; }
pg_sql "ALTER SYSTEM SET synchronous_standby_names = 'standby1'" >/dev/null
pg_sql "SELECT pg_reload_conf()" >/dev/null
for _ in $(seq 1 200); do
  [ "$(pg_sql "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'standby1'")" = sync ] && break
  sleep 0.05
done
check "the standby is synchronous" [ "$(pg_sql "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'standby1'")" = sync ]
# Everyone from now on: whichever of the two accepts writes.
SC_PG_URI="postgresql:///selfcert?host=$SC_PG_DIR,$SC_PG_DIR&port=5432,5433&user=selfcert&target_session_attrs=read-write"
REG_DB=$SC_PG_URI

# --- the fleet ---
jobs_=()
for i in $(seq 1 "$N"); do sc sp init --store "$T/s$i" --device-id "FLEET-$i" >/dev/null & jobs_+=("$!"); done
for p in "${jobs_[@]}"; do wait "$p"; done
for i in $(seq 1 "$N"); do
  "$SELFCERT_SPD" --store "$T/s$i" --socket "$T/s$i.sock" --foreground 2>>"$T/s$i.log" &
  SPD_PIDS+=("$!")
done
for i in $(seq 1 "$N"); do
  for _ in $(seq 1 "$SC_VG_WAIT"); do sc device info --sp "$T/s$i.sock" >/dev/null 2>&1 && break; sleep 0.05; done
done
jobs_=()
for i in $(seq 1 "$N"); do
  sc mfr personalize --dir "$T/mfr" --sp "$T/s$i.sock" --out "$T/s$i-certs" --net-root "$T/net/root.pem" \
    --network-id fleet >/dev/null 2>"$T/s$i.perso" &
  jobs_+=("$!")
done
for p in "${jobs_[@]}"; do wait "$p"; done
{ echo "device_id"; for i in $(seq 1 "$N"); do echo "FLEET-$i"; done; } >"$T/fleet.csv"
ok "activation feed" sc net device import --db "$REG_DB" --csv "$T/fleet.csv"

NODE_PID=()
NODE_URL=()
for k in 0 1; do
  "$SELFCERT_PROVD" --db "$REG_DB" --net-dir "$T/net" --mfr-root "$T/mfr/root.pem" --listen 127.0.0.1:0 \
    --tls-cert "$T/net/server.pem" --tls-key "$T/net/server.key" --port-file "$T/node-$k.port" \
    --threads 3 --max-per-ip 0 2>>"$T/node-$k.log" &
  NODE_PID[k]=$!
  for _ in $(seq 1 "$SC_VG_WAIT"); do [ -s "$T/node-$k.port" ] && break; sleep 0.05; done
  NODE_URL[k]="https://127.0.0.1:$(cat "$T/node-$k.port")"
  for _ in $(seq 1 "$SC_VG_WAIT"); do curl -sf --cacert "$T/net/root.pem" "${NODE_URL[k]}/healthz" -o /dev/null && break; sleep 0.05; done
done
failover_cleanup() {
  for p in "${NODE_PID[@]}"; do kill "$p" 2>/dev/null; done
  [ -f "$SB/postmaster.pid" ] && "${SC_PG_RUN[@]}" "$SC_PG_BIN/pg_ctl" -D "$SB" -m immediate stop >/dev/null 2>&1
  provd_cleanup
}
trap failover_cleanup EXIT

# --- enrolment, staggered; the primary dies and the standby is promoted in the middle ---
pids=()
for i in $(seq 1 "$N"); do
  "$SELFCERT_AGENT" --sp "$T/s$i.sock" --certs "$T/s$i-out" --device-dir "$T/s$i-certs" \
    --server "${NODE_URL[$((i % 2))]}" --ca "$T/net/root.pem" --once >"$T/e.$i.out" 2>"$T/e.$i.err" &
  pids[i]=$!
  sleep 0.1
  if [ "$i" = $((N / 2)) ]; then
    "${SC_PG_RUN[@]}" "$SC_PG_BIN/pg_ctl" -D "$SC_PG_DIR/data" -m immediate stop >/dev/null
    "${SC_PG_RUN[@]}" "$SC_PG_BIN/pg_ctl" -D "$SB" -w promote >/dev/null
  fi
done
acked=()
for i in $(seq 1 "$N"); do wait "${pids[i]}" && acked+=("$i"); done
echo "${#acked[@]} of $N agents finished across the failover" >&2
check "the primary is down, the standby promoted" [ "$(psql -X -A -t -q -d "$SC_PG_URI" -c 'SELECT pg_is_in_recovery()')" = f ]
lost=0
for i in "${acked[@]}"; do
  [ "$(db "SELECT count(*) FROM certificates WHERE device_id = 'FLEET-$i'")" = 1 ] || { lost=$((lost + 1)); echo "FLEET-$i lost" >&2; }
done
check "nothing acknowledged is lost (${#acked[@]} acknowledged, $lost missing)" [ "$lost" = 0 ]
for round in 1 2 3; do
  for i in $(seq 1 "$N"); do
    [ -s "$T/s$i-out/leaf.pem" ] && grep -q '"pending": null' "$T/s$i-out/state.json" 2>/dev/null && continue
    "$SELFCERT_AGENT" --sp "$T/s$i.sock" --certs "$T/s$i-out" --device-dir "$T/s$i-certs" \
      --server "${NODE_URL[$(((i + round) % 2))]}" --ca "$T/net/root.pem" --once >>"$T/e.$i.out" 2>>"$T/e.$i.err"
  done
done
check "exactly one certificate per device" [ "$(db "SELECT count(*) || '/' || count(DISTINCT device_id) FROM certificates")" = "$N/$N" ]
bad=0
for i in $(seq 1 "$N"); do
  [ "$(serial_of "$T/s$i-out/leaf.pem")" = "$(db "SELECT serial FROM certificates WHERE device_id = 'FLEET-$i'")" ] || bad=$((bad + 1))
done
check "every leaf.pem is the registered certificate" [ "$bad" = 0 ]
ok "net db check on the promoted server" sc net db check --db "$REG_DB"
check "no 500 from either node" bash -c "! grep -h ' 500 [0-9.]*ms' '$T'/node-*.log"
check "both nodes serve from the promoted server" curl -sf --cacert "$T/net/root.pem" "${NODE_URL[0]}/healthz" -o /dev/null
check "node 1 too" curl -sf --cacert "$T/net/root.pem" "${NODE_URL[1]}/healthz" -o /dev/null
finish
