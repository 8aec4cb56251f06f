#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Renewal profiles end to end (#17): selfcert-provd with a renewal policy, selfcert-spd of
# revision 1.5 and selfcert-agent. The agent enrolls once through the server, then its SP renews
# locally from the one renewal profile several times, the agent registers the certificates in
# one batch request (visible in the registry: one profile, one row per period), a spent profile
# makes it ask for a new one, and a device whose SP predates RENEW (--revision 1.1) still gets
# ordinary profiles. Hostile batches: wrong type, empty, oversize, a replayed batch.
SC_VG_BINS="SELFCERT_PROVD SELFCERT_AGENT"
source "$SC_TESTLIB"
source "$(dirname "$SC_TESTLIB")/lib-provd.sh"

provd_world testnet || exit 1
provd_device n DEV-N || exit 1
# The old device: its SP answers as revision 1.1 (no RENEW), as a chip shipped before #17.
sc sp init --store "$T/o" --device-id DEV-OLD >/dev/null && start_spd o --revision 1.1 &&
  sc mfr personalize --dir "$T/mfr" --sp "$T/o.sock" --out "$T/o-certs" --net-root "$T/net/root.pem" \
    --network-id testnet >/dev/null || exit 1
sc net device add --db "$REG_DB" --device-id DEV-N --device-id DEV-OLD >/dev/null || exit 1
# Eight certificates of a minute each, one every 3 s (a short cadence keeps the test fast; a
# slow round, e.g. under valgrind, makes the SP skip a period, which the checks allow).
K=8 CAD=3
# Under valgrind an agent round takes seconds: a 10 s cadence keeps three rounds inside the
# window, and 5-minute certificates outlive the whole test (the replayed batch must find them
# registered, not expired).
VAL=1m
[ "$SC_VALGRIND" = 1 ] && CAD=10 VAL=5m
printf '{"validity": "%s", "renewal": {"count": %d, "cadence": "%ds"}}\n' $VAL $K $CAD >"$T/policy.json"
# --leaf-refs (session 9): a small table is still a table; its counters are checked below.
refused_flag() { "$SELFCERT_PROVD" "$@" >"$T/.out" 2>"$T/.err"; [ $? = 2 ] && grep -q -- "$1" "$T/.err"; }
check "--leaf-refs 15 is refused (16..1000000)" refused_flag --leaf-refs 15 --db x --net-dir x --mfr-root x --listen 127.0.0.1:0 --insecure-http
start_provd --policy "$T/policy.json" --rate-limit 100/1h --leaf-refs 16 || exit 1

# The SQL that differs between the backends (SC_DB=pg: CTest's _pg twin): the periods of a
# profile's certificates in registration order, joined by spaces; a certificate's DER as hex.
if [ "${SC_DB:-sqlite}" = pg ]; then
  periods_of() { db "SELECT string_agg(period::text, ' ' ORDER BY registered_at, period) FROM certificates WHERE profile_id = '$1'"; }
  HEX_DER="encode(der, 'hex')"
else
  periods_of() { db "SELECT group_concat(period, ' ') FROM (SELECT period FROM certificates WHERE profile_id = '$1' ORDER BY registered_at, period)"; }
  HEX_DER="hex(der)"
fi
profiles_of() { db "SELECT count(*) FROM profiles WHERE device_id = '$1'"; }
certs_of() { db "SELECT count(*) FROM certificates WHERE device_id = '$1'"; }
# run NAME [flags…]: one agent round, stdout and stderr kept.
run() { agent "$@" --once >"$T/.out" 2>"$T/.err"; }

# --- the renewing device ---
ok "enroll DEV-N" run n --batch 3
check "stdout says enrolled" grep -q "^DEV-N enrolled " "$T/.out"
check "a renewal profile kept in state.json" grep -q '"renewal": "' "$T/n-out/state.json"
pid=$(db "SELECT profile_id FROM profiles WHERE device_id = 'DEV-N'")
for i in 1 2 3; do
  sleep $CAD
  ok "local renewal $i" run n --batch 3
  check "renewal $i: renewed locally" grep -q "renewed locally: key" "$T/.err"
  check "renewal $i: leaf.pem is the new one" [ "$(serial_of "$T/n-out/leaf.pem")" = \
    "$(sed -n 's/.*"serial": "\([0-9a-f]*\)".*/\1/p' "$T/n-out/state.json" | head -n 1)" ]
done
check "still one profile: the server signed once" [ "$(profiles_of DEV-N)" = 1 ]
check "three renewals registered in one request" grep -q "registered 3 renewed certificates in one request (3 accepted)" "$T/.err"
check "provd logged one batch of 3" grep -q "POST /v1/certificates/batch 200 .* batch=3 device=DEV-N" "$T/provd.log"
api GET /metrics
check "/metrics: the batch's three judged against the first certificate's reference" \
  grep -q '^selfcert_provd_leaf_refs_hits_total 3$' "$T/.api"
# The enrollment's registration carries the device CA's CRL ("crl"), which always takes the full
# check: it looked for no reference, so no miss.
check "/metrics: no lookup found none" grep -q '^selfcert_provd_leaf_refs_misses_total 0$' "$T/.api"
check "four certificates, one profile" [ "$(db "SELECT count(*) FROM certificates WHERE profile_id = '$pid'")" = 4 ]
periods=$(periods_of "$pid")
# The first is period 0 when the SP issues within half a cadence of provd making the profile (its
# notBefore is back-dated by that much; at whole seconds, 1 to 2 s here). Under valgrind provd's
# signing and registry write and the agent's handling of the answer take seconds: its window is
# 5 s of a 10 s cadence, and period 1 is allowed there (the debug pass checks period 0).
FIRST_MAX=0; [ "$SC_VALGRIND" = 1 ] && FIRST_MAX=1
check "one per period, in order, from 0 ($periods)" bash -c "set -- $periods; [ \$1 -le $FIRST_MAX ] && [ \$2 -gt \$1 ] && [ \$3 -gt \$2 ] && [ \$4 -gt \$3 ] && [ \$4 -lt $K ]"
ok "the newest leaf verifies" sc verify --json --mfr-root "$T/mfr/root.pem" --chain "$T/n-out/chain.pem" "$T/n-out/leaf.pem"
check "backlog empty" bash -c "! grep -q '\"backlog' '$T/n-out/state.json' && ! ls '$T/n-out' | grep -q backlog"

# --- the old device: ordinary profiles, as before ---
# Here, while DEV-N's profile runs out (ci17): its rounds (under valgrind seconds each) take
# time off the wait below instead of adding to the test's; it shares nothing with DEV-N.
ok "enroll DEV-OLD (SP revision 1.1)" run o
check "no renewal profile kept" bash -c "! grep -q '\"renewal\"' '$T/o-out/state.json'"
ok "forced renewal of DEV-OLD" run o --force-renew
check "one profile per certificate" [ "$(profiles_of DEV-OLD)" = 2 ] && check "two certificates" [ "$(certs_of DEV-OLD)" = 2 ]
check "its profiles carry no [6]" [ "$(db "SELECT count(*) FROM certificates WHERE device_id = 'DEV-OLD' AND period <> 0")" = 0 ]

# Past the last period the profile is spent: the next renewal asks the server for a new one.
nb=$(db "SELECT not_before FROM profiles WHERE profile_id = '$pid'")
wait_s=$((nb + K * CAD + 1 - $(date +%s)))
[ "$wait_s" -gt 0 ] && sleep "$wait_s"
ok "renewal after the count" run n --batch 3
check "the SP said spent" grep -q "renewal-spent" "$T/.err"
check "a second profile" [ "$(profiles_of DEV-N)" = 2 ]
check "five certificates" [ "$(certs_of DEV-N)" = 5 ]

# --- hostile and replayed batches ---
batch() { printf '%s' "$1" >"$T/.batch"; api_json POST /v1/certificates/batch "$T/.batch"; }
batch '{"certificates": "x"}'; api_is "batch: not an array" 400 wrong-type
batch '{"certificates": []}'; api_is "batch: empty" 400 bad-value
big=$(printf '"x",%.0s' $(seq 1 33)); batch "{\"certificates\": [${big%,}]}"
api_is "batch: 33 entries" 400 bad-value
batch '{"certificates": [1]}'; api_is "batch: an entry not a string" 400 wrong-type
batch '{"certificates": ["x"], "y": 1}'; api_is "batch: unknown field" 400 unknown-field
batch '{}'; api_is "batch: no certificates" 400 missing-field
# Replay: the same certificates again are already registered, nothing new is written.
pems=""
for p in 1 2 3; do
  db "SELECT $HEX_DER FROM certificates WHERE profile_id = '$pid' ORDER BY period LIMIT 1 OFFSET $p" | xxd -r -p |
    openssl x509 -inform DER >"$T/p$p.pem"
  pems="$pems$(jq -Rs . <"$T/p$p.pem"),"
done
batch "{\"certificates\": [${pems%,}]}"
api_is "replayed batch: 200" 200
check "replayed batch: nothing registered" grep -q '"registered":0' "$T/.api"
check "replayed batch: each already registered" [ "$(grep -o already-registered "$T/.api" | wc -l)" = 3 ]
check "still five certificates" [ "$(certs_of DEV-N)" = 5 ]
# The same certificate twice in one batch (renew7: judged against the profile's reference, not
# the full check): each answered already-registered, nothing written.
batch "{\"certificates\": [$(jq -Rs . <"$T/p2.pem"), $(jq -Rs . <"$T/p2.pem")]}"
api_is "one certificate twice: 200" 200
check "one certificate twice: both already registered" [ "$(grep -o already-registered "$T/.api" | wc -l)" = 2 ]
check "one certificate twice: still five certificates" [ "$(certs_of DEV-N)" = 5 ]
# A bad entry is refused alone, with its name; the good one beside it is answered.
batch "{\"certificates\": [$(jq -Rs . <"$T/p1.pem"), \"-----BEGIN CERTIFICATE-----\"]}"
api_is "mixed batch: 200" 200
check "mixed batch: the bad one refused by name" grep -q '"status":"refused","error":"bad-der"' "$T/.api"
check "mixed batch: the good one already registered" grep -q 'already-registered' "$T/.api"

# --- the operator's CLI: `net profile --renewal`, `device issue` through RENEW ---
refused "net profile --renewal 1/1m: K below 2" 2 usage sc net profile --dir "$T/net" \
  --device-ca "$T/n-certs/device-ca.pem" --out "$T/r.der" --validity 2m --renewal 1/1m
ok "net profile --renewal 3/1m" sc net profile --dir "$T/net" --device-ca "$T/n-certs/device-ca.pem" \
  --out "$T/r.der" --validity 2m --renewal 3/1m
ok "device issue: certificate 1 of 3" sc device issue --sp "$T/n.sock" --profile "$T/r.der" --out "$T/r1.pem"
ok "device issue: certificate 2 of 3 (one cadence ahead)" sc device issue --sp "$T/n.sock" --profile "$T/r.der" --out "$T/r2.pem"
check "certificate 2 starts a minute after 1" [ $(( $(date -d "$(openssl x509 -in "$T/r2.pem" -noout -startdate | cut -d= -f2)" +%s) - \
  $(date -d "$(openssl x509 -in "$T/r1.pem" -noout -startdate | cut -d= -f2)" +%s) )) = 60 ]
refused "device issue: certificate 3 is early" 1 renewal-early sc device issue --sp "$T/n.sock" --profile "$T/r.der" --out "$T/r3.pem"
refused "the old device's SP has no RENEW" 1 unknown-request sc device issue --sp "$T/o.sock" --profile "$T/r.der" --out "$T/r4.pem"

finish
