#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Authenticated device requests (issue 16 item 1), with the real SP, server and agent: an
# attacker holding only a device's chain.pem and kex.pem floods POST /v1/profiles, and the real
# agent still enrolls and renews (before request proofs the flood used up the device's budget
# and the agent got 429); every way to tamper with a proof gets its exact error; a request
# without a proof (an old agent's) is served within its address's budget, or refused with
# proof-required at --unauthenticated-budget 0. The real agent on an SP run as revision 1.0
# (selfcert-spd --revision 1.0, no PROOF) enrolls without a proof.
SC_VG_BINS="SELFCERT_SPD SELFCERT_PROVD SELFCERT_AGENT"
# The PostgreSQL copy (integration/test_provd_auth_pg) differs in the server's registry backend
# only: under valgrind the SP and the agent, which do there what they do here, run natively.
[ "${SC_DB:-sqlite}" = pg ] && SC_VG_BINS="SELFCERT_PROVD"
source "$SC_TESTLIB"
source "$(dirname "$SC_TESTLIB")/lib-provd.sh"

provd_world testnet || exit 1
provd_device v DEV-V || exit 1     # the victim: its agent is the real one
provd_device m DEV-M || exit 1     # the attacker's own device: its SP signs for DEV-M only
# Under valgrind DEV-OLD's SP runs natively (ci17): it answers challenges and issues as DEV-V's
# SP does under memcheck here, and its revision 1.0 refusal (unknown-request for PROOF) runs under
# memcheck in test_states (revisions 1.0 and 1.1) and test_batch (1.4). Each memchecked SP
# process (sp init, each daemon start) costs seconds of CPU.
SPN_O=$SELFCERT_SPD
[ "$SC_VALGRIND" = 1 ] && SPN_O=$SELFCERT_SPD_NATIVE
SELFCERT_SPD=$SPN_O provd_device o DEV-OLD || exit 1   # a device whose host is too old to send proofs
sc net device add --db "$REG_DB" --device-id DEV-V --device-id DEV-M --device-id DEV-OLD \
  >/dev/null || exit 1
# Three profiles per device per hour; four per address for requests without a proof.
start_provd --rate-limit 3/1h --unauthenticated-budget 4 || exit 1

pem_json() { awk 'BEGIN{ORS="\\n"} {print}' "$1"; }
# req_json NAME CHALLENGE [extra JSON members]: a profile request with NAME's certificates.
req_json() {
  printf '{"chain":"%s","kex":"%s","challenge":"%s"%s}' "$(pem_json "$T/$1-certs/chain.pem")" \
    "$(pem_json "$T/$1-certs/kex.pem")" "$2" "${3:-}"
}
# proof_of SP CHALLENGE CERTS [flags]: the proof SP's SP signs for a request with CERTS's files.
proof_of() {
  local sp=$1 ch=$2 certs=$3; shift 3
  sc device proof --sp "$T/$sp.sock" --challenge "$ch" --chain "$T/$certs-certs/chain.pem" \
    --kex "$T/$certs-certs/kex.pem" "$@"
}
# post_is DESC STATUS CODE [DETAIL-WORDS]: POST $T/req.json; status, code, detail.
post_is() {
  api_json POST /v1/profiles "$T/req.json"
  api_is "$1" "$2" "${3:-}"
  [ -n "${4:-}" ] && check "$1: the detail names $4" grep -qF "$4" "$T/.api"
}
authed() { db "SELECT count(*) FROM profiles WHERE device_id = '$1' AND source IS NULL"; }

# --- an old agent (no proof): served from its address's budget, never the device's ---
CH=$(sc device challenge --sp "$T/o.sock")
req_json o "$CH" >"$T/req.json"
post_is "old agent's request without a proof" 201
json_field profile <"$T/.api" | base64 -d >"$T/old.der"
ok "its SP issues" sc device issue --sp "$T/o.sock" --profile "$T/old.der" --out "$T/old.pem"
printf '{"certificate":"%s"}' "$(pem_json "$T/old.pem")" >"$T/cert.json"
api_json POST /v1/certificates "$T/cert.json"
api_is "old agent's certificate registered" 201
check "recorded as unauthenticated, from 127.0.0.1" \
  [ "$(db "SELECT source FROM profiles WHERE device_id = 'DEV-OLD'")" = 127.0.0.1 ]
check "audit says so" grep -q "unauthenticated request from 127.0.0.1" \
  <(sc net device show --db "$REG_DB" --device-id DEV-OLD)

# The real agent on an SP of protocol revision 1.0 (no PROOF): it asks without a proof, and is
# served from the address's budget.
stop_spd o
SELFCERT_SPD=$SPN_O start_spd o --revision 1.0 || exit 1
refused "an SP of revision 1.0 has no PROOF" 1 unknown-request proof_of o "$(sc device challenge --sp "$T/o.sock")" o
ok "the agent with an old SP enrolls" agent o --once
check "enrolled" grep -q "^DEV-OLD enrolled key=2 " "$T/.out"
check "it said why there was no proof" grep -q "the SP has no request proofs" "$T/.err"
check "still unauthenticated only" [ "$(authed DEV-OLD)" = 0 ]

# --- the flood: DEV-V's public certificates and made-up challenges ---
for i in 1 2; do
  req_json v "$(openssl rand -hex 32)" >"$T/req.json"
  post_is "attacker's profile $i for DEV-V" 201
done
req_json v "$(openssl rand -hex 32)" >"$T/req.json"
post_is "attacker over the address budget" 429 rate-limited "unauthenticated requests from 127.0.0.1"
for i in 1 2 3 4 5 6; do
  req_json v "$(openssl rand -hex 32)" >"$T/req.json"
  api_json POST /v1/profiles "$T/req.json"
done
check "the flood goes on refused" [ "$HTTP" = 429 ]
check "nothing of it counts for DEV-V" [ "$(authed DEV-V)" = 0 ]

# --- the real agent enrolls and renews through it (3 per hour: all three) ---
ok "the victim's agent enrolls despite the flood" agent v --once
check "enrolled" grep -q "^DEV-V enrolled key=1 " "$T/.out"
ok "and renews" agent v --once --force-renew
check "renewed" grep -q "^DEV-V renewed key=2 " "$T/.out"
ok "and renews again" agent v --once --force-renew
check "its three requests were authenticated" [ "$(authed DEV-V)" = 3 ]
check "the server logged the proofs" grep -q "device=DEV-V auth=proof" "$T/provd.log"
# Issue 17: the flood (no proof) pinned nothing; the device's first proven request did, and its
# renewals showed the pinned path.
check "no pin from unauthenticated requests" bash -c "! grep -q 'device=DEV-V auth=none pin=new' '$T/provd.log'"
check "first contact pinned" [ "$(grep -c "device=DEV-V auth=proof pin=new" "$T/provd.log")" = 1 ]
check "renewals took the pinned path" [ "$(grep -c "device=DEV-V auth=proof pin=hit" "$T/provd.log")" = 2 ]
agent_refused "its own budget still holds (4th in the hour)" 3 rate-limited v --once --force-renew
check "the device's budget, named" grep -q "device DEV-V had 3 profiles" "$T/.err"

# --- tampering: each with its code and the field named (DEV-M, whose budget is fresh) ---
CH=$(sc device challenge --sp "$T/m.sock")
P=$(proof_of m "$CH" m) || fail "device proof"
check "the proof is one JSON object" grep -q '^{"device_id":"DEV-M","network_id":"testnet","challenge":"'"$CH"'","request":"[0-9a-f]\{64\}","time":[0-9]*,"signature":"' <<<"$P"
req_json m "$CH" ",\"proof\":${P/\"DEV-M\"/\"DEV-V\"}" >"$T/req.json"
post_is "proof naming another device" 403 proof-mismatch "proof.device_id"
req_json m "$CH" ",\"proof\":${P/\"testnet\"/\"othernet\"}" >"$T/req.json"
post_is "proof for another network" 403 proof-mismatch "proof.network_id"
CH2=$(sc device challenge --sp "$T/m.sock")
req_json m "$CH2" ",\"proof\":$P" >"$T/req.json"
post_is "proof for another challenge" 403 proof-mismatch "proof.challenge"
req_json m "$CH" ",\"alg\":\"p384\",\"proof\":$P" >"$T/req.json"
post_is "request changed after the proof (alg)" 403 proof-mismatch "proof.request"
T0=$(sed 's/.*"time":\([0-9]*\).*/\1/' <<<"$P")
req_json m "$CH" ",\"proof\":${P/\"time\":$T0/\"time\":$((T0 - 400))}" >"$T/req.json"
post_is "stale proof (400 s old)" 403 proof-expired "proof.time"
req_json m "$CH" ",\"proof\":${P/\"time\":$T0/\"time\":$((T0 + 120))}" >"$T/req.json"
post_is "proof from the future (120 s ahead)" 403 proof-expired "proof.time"
req_json m "$CH" ",\"proof\":${P/\"time\":$T0/\"time\":$((T0 + 1))}" >"$T/req.json"
post_is "proof with its time changed by a second" 403 bad-proof "DEV-M"
# DEV-M's SP signs for DEV-V's request (its own challenge), relabelled as DEV-V's: the
# signature is DEV-M's CSK, not DEV-V's device CA.
CHM=$(sc device challenge --sp "$T/m.sock")
PM=$(proof_of m "$CHM" v) || fail "device proof for the relabelled request"
req_json v "$CHM" ",\"proof\":${PM/\"DEV-M\"/\"DEV-V\"}" >"$T/req.json"
post_is "signed by another device's CSK" 403 bad-proof "DEV-V"
# The untouched proof works once; the same request again is a replay.
req_json m "$CH" ",\"proof\":$P" >"$T/req.json"
post_is "the genuine proof" 201
post_is "the same proof again" 409 replay
check "one authenticated profile for DEV-M" [ "$(authed DEV-M)" = 1 ]
# Session 8 (prof8): DEV-M is pinned now. Its own request is recognised by its certificates' DER
# (logged x509=ref: parsed once for the first certificate's reference only); a proof naming another pinned device misses DEV-M's pin and
# gets the full path's refusal; a certificate that does not parse is still the first refusal,
# before another field's or the policy's.
CH5=$(sc device challenge --sp "$T/m.sock")
P5=$(proof_of m "$CH5" m) || fail "device proof"
req_json m "$CH5" ",\"proof\":${P5/\"DEV-M\"/\"DEV-V\"}" >"$T/req.json"
post_is "pinned chain, proof naming another pinned device" 403 proof-mismatch "proof.device_id"
req_json m "$CH5" ",\"proof\":${P5/\"time\":$(sed 's/.*"time":\([0-9]*\).*/\1/' <<<"$P5")/\"time\":1}" >"$T/req.json"
post_is "pinned device, stale proof" 403 proof-expired "proof.time"
req_json m "$CH5" ",\"proof\":$P5" >"$T/req.json"
post_is "the pinned device's own request" 201
# judge11: recognised by its DER; schema14: its pin carries the strict chain verdict, so its
# chain is not parsed for the first certificate's reference either (x509=none; judge11's
# x509=ref, a parse through the certificate cache, for a pin without the verdict).
check "recognised by its DER, not parsed (the pin's strict verdict)" grep -q "device=DEV-M auth=proof pin=hit x509=none" "$T/provd.log"
printf '{"chain":"%s","kex":"AAAA","alg":"nope"}' "$(pem_json "$T/m-certs/chain.pem")" >"$T/req.json"
post_is "a KEK that does not parse, before a bad alg" 400 bad-der '\"kex\": '
printf '{"chain":"%s","kex":"%s","server_keygen":true}' "$(pem_json "$T/m-certs/chain.pem")" \
  "$(pem_json "$T/m-certs/kex.pem")" >"$T/req.json"
post_is "the policy's refusal (server keygen off)" 422 policy "server key generation is off"
printf '{"chain":"%s","kex":"AAAA","server_keygen":true}' "$(pem_json "$T/m-certs/chain.pem")" >"$T/req.json"
post_is "a KEK that does not parse, before the policy's refusal" 400 bad-der '\"kex\": '
printf '{"chain":["%s","AAAA"],"kex":"%s","gate":1}' "$(pem_json "$T/m-certs/chain.pem")" \
  "$(pem_json "$T/m-certs/kex.pem")" >"$T/req.json"
post_is "a chain certificate that does not parse, before a bad gate" 400 bad-der '\"chain\": '
# The SP's own refusals.
CH3=$(sc device challenge --sp "$T/m.sock")
ok "a proof for a fresh challenge" proof_of m "$CH3" m
refused "a second proof for one challenge" 1 challenge proof_of m "$CH3" m
check "named" grep -q "the challenge already has its proof" "$T/.err"
CH4=$(sc device challenge --sp "$T/m.sock")
refused "a network the SP has no anchor for" 1 network-unknown proof_of m "$CH4" m --network-id othernet
refused "a challenge the SP never gave" 1 challenge proof_of m "$(openssl rand -hex 32)" m

# --- --unauthenticated-budget 0: no proof, no profile; the agent is unaffected ---
stop_provd
start_provd --rate-limit 100/1h --unauthenticated-budget 0 || exit 1
req_json o "$(sc device challenge --sp "$T/o.sock")" >"$T/req.json"
post_is "no proof at budget 0" 403 proof-required 'only requests with the device SP'"'"'s proof (field \"proof\")'
ok "the agent still renews" agent v --once --force-renew
check "renewed" grep -q "^DEV-V renewed key=" "$T/.out"

finish
