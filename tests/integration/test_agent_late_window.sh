#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A renewal window's certificates registered after they expired, on a real clock (#17, session 15:
# late15, PERFORMANCE.md 22.1). The policy's certificates last 2 s, one every 2 s, K = 4 a
# profile (a fail point build's SC_PROVD_TEST_VALIDITY_MIN lets a policy go below 60 s). The real
# agent with --batch 32 queues the window's local renewals and registers them at its end, with
# the next profile request: by then each has expired. selfcert-provd judges each at its own
# period (its last second), so all are registered, none refused, and `selfcert net device show`
# lists them. Hostile: the same batch again (already-registered, nothing written), a late
# certificate of a profile this server never issued (profile-unknown), and a device revoked
# while its certificates waited in the queue (revoked, each of them).
SC_VG_BINS="SELFCERT_PROVD SELFCERT_AGENT"
# The 2 s policy needs SC_PROVD_TEST_VALIDITY_MIN, read only by a fail point build: skip (77,
# cmake/provd.cmake) where it is not compiled in, as test_agent.sh skips its fail point steps.
if [ "${SC_FAILPOINTS:-ON}" != ON ]; then
  echo "fail points not compiled in (SC_FAILPOINTS=OFF): no policy below 60 s; skipped"
  exit 77
fi
source "$SC_TESTLIB"
source "$(dirname "$SC_TESTLIB")/lib-provd.sh"

provd_world testnet || exit 1
provd_device l DEV-L || exit 1
provd_device r DEV-R || exit 1
sc net device add --db "$REG_DB" --device-id DEV-L --device-id DEV-R >/dev/null || exit 1
# Under valgrind an agent round takes seconds: 8 s certificates, one every 8 s.
K=4 CAD=2
[ "$SC_VALGRIND" = 1 ] && CAD=8
export SC_PROVD_TEST_VALIDITY_MIN=$CAD
printf '{"validity": "%ds", "renewal": {"count": %d, "cadence": "%ds"}}\n' $CAD $K $CAD >"$T/policy.json"
start_provd --policy "$T/policy.json" --rate-limit 1000/1h || exit 1
unset SC_PROVD_TEST_VALIDITY_MIN

certs_of() { db "SELECT count(*) FROM certificates WHERE device_id = '$1'"; }
run() { agent "$@" --once >"$T/.out" 2>"$T/.err"; }
batch() { printf '%s' "$1" >"$T/.batch"; api_json POST /v1/certificates/batch "$T/.batch"; }
# mid_period PROFILE I: sleep until the middle of the profile's period I (its notBefore + I
# cadences + half of one), so that each round makes the next period's certificate however long
# the rounds before it took (a round that comes a period late makes the SP skip one).
mid_period() {
  local nb
  nb=$(db "SELECT not_before FROM profiles WHERE profile_id = '$1'")
  sleep "$(awk -v t="$((nb * 2 + (2 * $2 + 1) * CAD))" -v now="$(date +%s.%N)" \
    'BEGIN { d = t / 2 - now; print (d > 0 ? d : 0) }')"
}

# --- DEV-L: a window's local renewals queued, registered at its end, all expired ---
# late15b: asserted on the set the agent made (its "renewed locally" lines), not on exact counts:
# a round more than half a cadence late (CI: 2 cores, tests in parallel, ASan) makes the SP skip
# a period, which is no failure; everything queued must be registered.
made() { sed -n 's/.*renewed locally: key [0-9]* (certificate \([0-9a-f]*\)).*/\1/p' "$1"; }
ok "enroll DEV-L" run l --batch 32
P1=$(db "SELECT profile_id FROM profiles WHERE device_id = 'DEV-L'")
: >"$T/l-made.log"
for i in 1 2 3; do
  mid_period "$P1" $i
  ok "local renewal $i" run l --batch 32
  cat "$T/.err" >>"$T/l-made.log"
done
ML=$(made "$T/l-made.log")
NL=$(printf '%s\n' "$ML" | grep -c .)
check "the window's local renewals: $NL (at least 2 of 3)" [ "$NL" -ge 2 ]
check "nothing of the queue registered yet ($(certs_of DEV-L))" [ "$(certs_of DEV-L)" = 1 ]
check "all $NL queued" [ "$(queued_count "$T/l-out")" = "$NL" ]
mid_period "$P1" $K
ok "the window's end: the queue, then a new profile" run l --batch 32
check "the agent registered the $NL in one request, all accepted" \
  grep -q "registered $NL renewed certificates in one request ($NL accepted)" "$T/.err"
check "provd: one batch of $NL" grep -q "POST /v1/certificates/batch 200 .*batch=$NL device=DEV-L" "$T/provd.log"
api GET /metrics
check "/metrics: the $NL judged against the window's reference" \
  grep -q "^selfcert_provd_leaf_refs_hits_total $NL\$" "$T/.api"
check "provd refused none" bash -c "! grep -q 'refused' '$T/provd.log'"
check "the first profile's periods registered: the first and the $NL made" \
  [ "$(db "SELECT count(DISTINCT period) FROM certificates WHERE profile_id = '$P1'")" = $((NL + 1)) ]
for s in $ML; do
  check "$s registered" [ "$(db "SELECT count(*) FROM certificates WHERE profile_id = '$P1' AND serial = '$s'")" = 1 ]
done
# Registered after they ended: notAfter <= registered_at (whole seconds; the last one may have
# ended in the same second it was sent: all but it).
late=$(db "SELECT count(*) FROM certificates WHERE profile_id = '$P1' AND period > 0 AND not_after <= registered_at")
check "at least $((NL - 1)) of the $NL registered after they expired ($late)" [ "$late" -ge $((NL - 1)) ]
check "a second profile" [ "$(db "SELECT count(*) FROM profiles WHERE device_id = 'DEV-L'")" = 2 ]
sc net device show --db "$REG_DB" --device-id DEV-L >"$T/show.txt" || fail "net device show"
for s in $(db "SELECT serial FROM certificates WHERE profile_id = '$P1'"); do
  check "net device show lists $s" grep -qi "$s" "$T/show.txt"
done

# --- the same late batch again: already registered, nothing written ---
HEX_DER="hex(der)"; [ "${SC_DB:-sqlite}" = pg ] && HEX_DER="encode(der, 'hex')"
# The NL the agent made, by serial: not "period > 0", as the first certificate is period 1 when
# the enrolment's issue came more than half a cadence after the profile's backdated notBefore
# (seen once under CI's ASan: 3 sent for NL = 2, the first "again").
pems=""
for s in $ML; do
  db "SELECT $HEX_DER FROM certificates WHERE profile_id = '$P1' AND serial = '$s'" | xxd -r -p |
    openssl x509 -inform DER >"$T/p-$s.pem"
  pems="$pems$(jq -Rs . <"$T/p-$s.pem"),"
done
n0=$(certs_of DEV-L)
batch "{\"certificates\": [${pems%,}]}"
api_is "replayed late batch: 200" 200
check "replayed late batch: nothing registered" grep -q '"registered":0' "$T/.api"
check "replayed late batch: each already registered" [ "$(grep -o already-registered "$T/.api" | wc -l)" = "$NL" ]
check "still $n0 certificates" [ "$(certs_of DEV-L)" = "$n0" ]

# --- a late certificate of a profile this server never issued: profile-unknown ---
sc net profile --dir "$T/net" --device-ca "$T/l-certs/device-ca.pem" --out "$T/u.der" \
  --validity 2m --renewal 2/1m >/dev/null || fail "net profile"
sc device issue --sp "$T/l.sock" --profile "$T/u.der" --out "$T/u1.pem" >/dev/null || fail "device issue"
jq -Rs '{certificate: .}' <"$T/u1.pem" >"$T/u.json"
api_json POST /v1/certificates "$T/u.json"
api_is "a certificate of a profile never issued" 422 profile-unknown
batch "{\"certificates\": [$(jq -Rs . <"$T/u1.pem")]}"
api_is "the same in a batch: 200" 200
check "the same in a batch: refused profile-unknown" grep -q '"status":"refused","error":"profile-unknown"' "$T/.api"

# --- DEV-R: revoked while its local renewals waited in the queue ---
ok "enroll DEV-R" run r --batch 32
PR=$(db "SELECT profile_id FROM profiles WHERE device_id = 'DEV-R'")
for i in 1 2; do
  mid_period "$PR" $i
  ok "DEV-R local renewal $i" run r --batch 32
done
NR=$(queued_count "$T/r-out")
check "DEV-R: $NR queued (at least 1 of 2)" [ "$NR" -ge 1 ]
ok "revoke DEV-R" sc net device revoke --db "$REG_DB" --device-id DEV-R --reason late15
# Past the end of period 3: a round that came late may have made period 3's certificate.
mid_period "$PR" 4
rpems=""
for i in $(seq 0 $((NR - 1))); do
  queued_pem "$T/r-out" "$i" >"$T/r$i.pem"
  check "DEV-R's queued certificate $i has expired" bash -c \
    "! openssl x509 -in '$T/r$i.pem' -noout -checkend 0 >/dev/null"
  rpems="$rpems$(jq -Rs . <"$T/r$i.pem"),"
done
jq -Rs '{certificate: .}' <"$T/r0.pem" >"$T/r.json"
api_json POST /v1/certificates "$T/r.json"
api_is "a late certificate of a revoked device" 403 revoked
batch "{\"certificates\": [${rpems%,}]}"
api_is "the revoked device's late batch: 200" 200
check "each refused revoked" [ "$(grep -o '"status":"refused","error":"revoked"' "$T/.api" | wc -l)" = "$NR" ]
check "DEV-R: only its first certificate" [ "$(certs_of DEV-R)" = 1 ]
finish
