#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A fleet at once: 50 devices, each with its own SP daemon, activated through the CSV feed; 50
# agents enroll at the same time against one server (zero errors, exactly one registered
# certificate per device); then all 50 renew at once, profile commits deferred to the
# certificate's, and the server is killed with SIGKILL in the middle: the registry opens and is
# consistent (integrity check, every consumed profile has exactly one certificate), the restarted
# server serves, and every agent completes on retry — exactly two certificates per device, one
# key in each SP, and leaf.pem naming the newest.
SC_VG_BINS="SELFCERT_PROVD SELFCERT_AGENT"   # under valgrind (lib.sh); the CLI runs there in other tests
source "$SC_TESTLIB"
source "$(dirname "$SC_TESTLIB")/lib-provd.sh"

N=${PROVD_LOAD_DEVICES:-50}
[ "$SC_VG_SMALL" = 1 ] && N=${PROVD_LOAD_DEVICES:-4}   # under valgrind: the same steps, 4 devices
provd_world fleet || exit 1

# The SPs: stores made in parallel, daemons started from this shell (so that cleanup stops
# them), personalized in parallel.
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
n_ok=0
for i in $(seq 1 "$N"); do [ -s "$T/s$i-certs/chain.pem" ] && n_ok=$((n_ok + 1)); done
check "$N devices personalized" [ "$n_ok" -eq "$N" ]
{ echo "device_id,note"; for i in $(seq 1 "$N"); do echo "FLEET-$i,batch 1"; done; } >"$T/fleet.csv"
ok "activation feed" sc net device import --db "$REG_DB" --csv "$T/fleet.csv"
# Every device here connects from 127.0.0.1, as behind one NAT: no per-address limit.
start_provd --threads 4 --max-per-ip 0 || exit 1

# run_all OUT-PREFIX [agent flags…]: every agent at once; $T/OUT-PREFIX.$i.rc holds each exit code.
run_all() {
  local prefix=$1; shift
  local pids=() i
  for i in $(seq 1 "$N"); do
    "$SELFCERT_AGENT" --sp "$T/s$i.sock" --certs "$T/s$i-out" --device-dir "$T/s$i-certs" \
      --server "$PROVD_URL" --ca "$T/net/root.pem" --once "$@" >"$T/$prefix.$i.out" 2>"$T/$prefix.$i.err" &
    pids[i]=$!
  done
  for i in $(seq 1 "$N"); do wait "${pids[i]}"; echo $? >"$T/$prefix.$i.rc"; done
}
count_rc() { local want=$2 n=0 i; for i in $(seq 1 "$N"); do [ "$(cat "$T/$1.$i.rc")" = "$want" ] && n=$((n + 1)); done; echo "$n"; }

# --- 1: all enroll at once ---
run_all enroll
check "all $N agents exit 0" [ "$(count_rc enroll 0)" -eq "$N" ]
check "no error lines" bash -c "! cat '$T'/enroll.*.err | grep -v ': FLEET-[0-9]*: ' | grep -q ."
check "one certificate per device" [ "$(db "SELECT count(*) || '/' || count(DISTINCT device_id) FROM certificates")" = "$N/$N" ]
check "no 5xx from the server" bash -c "! grep -q ' 5[0-9][0-9] [0-9.]*ms' '$T/provd.log'"

# --- 2: all renew at once; the server is killed in the middle ---
# With --profile-commit deferred (issue 17): a profile's commit is not synced on its own, the
# certificate's is. A SIGKILL of the process must lose none of them (only a power loss may):
# the checks below (every consumed profile has its certificate, every agent completes) hold.
stop_provd
start_provd --threads 4 --max-per-ip 0 --profile-commit deferred || exit 1
check "the start log says profile commits are deferred" grep -q "profile commits deferred" "$T/provd.log"
kill_at=$((N + N / 5))
# --grace 0: the old key goes at the switch (the agent's default keeps it 10 min for a service's
# reload), so "one key per SP" below still proves no interrupted renewal left a key behind.
run_all renew --force-renew --grace 0 &
RUNNER=$!
killed_at=
# Watched in provd's own log (one line per answered request, a grep of a small file: a few ms),
# not by asking the registry: a psql start costs tens of ms, and a fast server on PostgreSQL
# registered every renewal between two such polls. Counted in the registry once it is dead.
for _ in $(seq 1 6000); do
  c=$(grep -c 'POST /v1/certificates 20[01] ' "$T/provd.log" 2>/dev/null) || c=0
  if [ "${c:-0}" -ge "$kill_at" ]; then
    kill9_provd
    killed_at=$(db "SELECT count(*) FROM certificates")
    break
  fi
  sleep 0.005
done
wait "$RUNNER"
[ -n "$killed_at" ] || kill9_provd
mid=0
[ -n "$killed_at" ] && [ "$killed_at" -lt $((2 * N)) ] && mid=1
check "the server was killed in the middle (${killed_at:-none} of $((2 * N)) certificates in)" [ "$mid" = 1 ]
failed=$((N - $(count_rc renew 0)))
echo "server SIGKILLed with ${killed_at:-?} certificates registered; $failed of $N renewals interrupted" >&2
check "some agents met the dead server ($failed)" [ "$failed" -gt 0 ]
check "those exit 3 (system), no other code" [ "$(count_rc renew 3)" -eq "$failed" ]

# The registry after SIGKILL, before the restart.
if [ "$ROWID" = rowid ]; then   # SQLite: the file itself after SIGKILL
  check "integrity_check ok" [ "$(db 'PRAGMA integrity_check')" = ok ]
  check "foreign keys hold" [ -z "$(db 'PRAGMA foreign_key_check')" ]
fi
ok "net db check after SIGKILL" sc net db check --db "$REG_DB"
check "consumed profiles = certificates" [ "$(db "SELECT count(*) FROM profiles WHERE consumed_at IS NOT NULL")" = \
  "$(db "SELECT count(*) FROM certificates")" ]
check "every certificate's profile consumed" [ "$(db "SELECT count(*) FROM certificates c JOIN profiles p \
  USING (profile_id) WHERE p.consumed_at IS NULL")" = 0 ]
check "audit rows for every certificate" [ "$(db "SELECT count(*) FROM audit WHERE event = 'certificate-registered'")" = \
  "$(db "SELECT count(*) FROM certificates")" ]

start_provd || exit 1
for i in $(seq 1 "$N"); do
  [ "$(cat "$T/renew.$i.rc")" = 0 ] && continue
  "$SELFCERT_AGENT" --sp "$T/s$i.sock" --certs "$T/s$i-out" --device-dir "$T/s$i-certs" --server "$PROVD_URL" \
    --ca "$T/net/root.pem" --once --force-renew --grace 0 >"$T/retry.$i.out" 2>"$T/retry.$i.err"
  echo $? >"$T/retry.$i.rc"
done
n_retry_ok=0
for i in $(seq 1 "$N"); do [ -e "$T/retry.$i.rc" ] && [ "$(cat "$T/retry.$i.rc")" = 0 ] && n_retry_ok=$((n_retry_ok + 1)); done
check "every failed agent completes on retry ($n_retry_ok of $failed)" [ "$n_retry_ok" -eq "$failed" ]
check "exactly two certificates per device" [ -z "$(db "SELECT device_id FROM certificates GROUP BY device_id \
  HAVING count(*) != 2")" ] && check "for all $N devices" [ "$(db "SELECT count(DISTINCT device_id) FROM certificates")" = "$N" ]
bad=0
for i in $(seq 1 "$N"); do
  keys=$(sc device keys --sp "$T/s$i.sock" | wc -l)
  leaf=$(serial_of "$T/s$i-out/leaf.pem")
  newest=$(db "SELECT serial FROM certificates WHERE device_id = 'FLEET-$i' ORDER BY registered_at DESC, $ROWID DESC LIMIT 1")
  if [ "$keys" -ne 1 ] || [ "$leaf" != "$newest" ] || ! grep -q '"pending": null' "$T/s$i-out/state.json"; then
    bad=$((bad + 1)); echo "FLEET-$i: $keys keys, leaf $leaf, registry $newest" >&2
  fi
done
check "one key per SP, leaf.pem is the newest registered certificate" [ "$bad" -eq 0 ]
[ "$ROWID" = rowid ] && check "integrity_check ok at the end" [ "$(db 'PRAGMA integrity_check')" = ok ]
ok "net db check at the end" sc net db check --db "$REG_DB"
api GET /metrics
check "metrics count the restarted server's work" grep -q '^selfcert_provd_registry_certificates '"$((2 * N))"'$' "$T/.api"
finish
