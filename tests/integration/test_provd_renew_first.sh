#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# renew13 (#17): a pinned device's renewal profile's window-first certificate judged in DER.
# The renewal profile request leaves a reference (the profile, the chain, the pin's answer), the
# window's first certificate is judged against the SP's own builder's TBS for its period
# (judge=pin ref=hit period=<i>) and leaves its siblings' reference from its DER, against which
# the rest of the window is judged (leaf_refs hits). Whatever the judge does not accept goes the
# full path, which names the refusal as before: a leaf re-signed by another key, trailing data,
# truncated DER, another device's leaf for this profile, a profile past its time.
SC_VG_BINS="SELFCERT_PROVD"
source "$SC_TESTLIB"
source "$(dirname "$SC_TESTLIB")/lib-provd.sh"

provd_world testnet || exit 1
provd_device r DEV-R || exit 1
provd_device s DEV-S || exit 1
ROOT=$T/mfr/root.pem
for n in r s; do
  id=DEV-$(printf %s "$n" | tr a-z A-Z)
  sc net device add --db "$REG_DB" --device-id "$id" --chain "$T/$n-certs/chain.pem" \
    --kek "$T/$n-certs/kex.pem" --mfr-root "$ROOT" >/dev/null || exit 1
done
# Three certificates of two hours, one an hour: the SP may issue the next one a cadence early.
printf '{"validity": "2h", "renewal": {"count": 3, "cadence": "3600s"}}\n' >"$T/policy.json"
start_provd --policy "$T/policy.json" --rate-limit 100/1h || exit 1

# renewal_profile NAME: a renewal profile for NAME's device (with its proof), its DER in
# $T/NAME-p.der, its ID in $PID.
renewal_profile() {
  local ch p
  ch=$(scn device challenge --sp "$T/$1.sock")
  p=$(scn device proof --sp "$T/$1.sock" --challenge "$ch" --chain "$T/$1-certs/chain.pem" \
    --kex "$T/$1-certs/kex.pem") || fail "device proof ($1)"
  printf '{"chain":"%s","kex":"%s","challenge":"%s","proof":%s,"renewal":true}' \
    "$(pem_json "$T/$1-certs/chain.pem")" "$(pem_json "$T/$1-certs/kex.pem")" "$ch" "$p" >"$T/req.json"
  api_json POST /v1/profiles "$T/req.json"
  api_is "a renewal profile for $1" 201
  check "$1: renewal_count 3" grep -q '"renewal_count":3' "$T/.api"
  PID=$(json_field profile_id <"$T/.api")
  json_field profile <"$T/.api" | base64 -d >"$T/$1-p.der"
}
pem_json() { awk 'BEGIN{ORS="\\n"} {print}' "$1"; }
register() { # register PEM: POST /v1/certificates with it
  printf '{"certificate":"%s"}' "$(pem_json "$1")" >"$T/cert.json"
  api_json POST /v1/certificates "$T/cert.json"
}
register_b64() { # register_b64 DER-FILE: the same, as base64 DER
  printf '{"certificate":"%s"}' "$(base64 -w0 "$1")" >"$T/cert.json"
  api_json POST /v1/certificates "$T/cert.json"
}
metric() { api GET /metrics; sed -n "s/^selfcert_provd_$1 \([0-9]*\)\$/\1/p" "$T/.api"; }
tamper() { # tamper IN.pem OUT.der: one byte of the signature (the last) changed
  openssl x509 -in "$1" -outform DER -out "$T/t.der"
  local last; last=$(tail -c 1 "$T/t.der" | od -An -tu1 | tr -d ' ')
  head -c -1 "$T/t.der" >"$2"
  printf "\\$(printf %03o $(((last + 1) % 256)))" >>"$2"
}

# --- the window: a renewal profile, its first certificate judged in DER, the rest against it ---
renewal_profile r
check "the profile request: pinned, the chain parsed for the reference" \
  grep -q "POST /v1/profiles 201 .*device=DEV-R auth=proof pin=hit x509=ref" "$T/provd.log"
check "/metrics: its first-certificate reference kept" [ "$(metric first_refs_entries)" = 1 ]
ok "DEV-R's SP: period 0" scn device issue --sp "$T/r.sock" --profile "$T/r-p.der" --out "$T/r0.pem"
ok "DEV-R's SP: period 1 (a cadence early)" scn device issue --sp "$T/r.sock" --profile "$T/r-p.der" --out "$T/r1.pem"
# The refusals first: each takes the full path (no judge=), with the full path's error.
tamper "$T/r0.pem" "$T/r0-bad.der"
register_b64 "$T/r0-bad.der"
api_is "a leaf re-signed (its signature not the device CA's)" 422 chain
check "named: the leaf's signature (depth 0)" grep -q "certificate signature failure (depth 0)" "$T/.api"
check "not judged: the full path named it" bash -c "! grep 'POST /v1/certificates 422 .*device=DEV-R ' '$T/provd.log' | grep -q judge="
openssl x509 -in "$T/r0.pem" -outform DER -out "$T/r0.der"
cp "$T/r0.der" "$T/r0-trail.der"; printf '\0' >>"$T/r0-trail.der"
register_b64 "$T/r0-trail.der"
api_is "trailing data" 400 bad-der
head -c -1 "$T/r0.der" >"$T/r0-short.der"
register_b64 "$T/r0-short.der"
api_is "truncated DER" 400 bad-der
check "neither judged" bash -c "! grep 'POST /v1/certificates 400 ' '$T/provd.log' | grep -q judge="
check "the reference still kept" [ "$(metric first_refs_entries)" = 1 ]
# The window's first certificate: period 1, registered before it starts (judged at its start).
register "$T/r1.pem"
api_is "DEV-R: period 1 first" 201
check "judged in DER from the profile request's reference, period 1" \
  bash -c "grep ' serial=$(serial_of "$T/r1.pem")' '$T/provd.log' | grep -q 'POST /v1/certificates 201 .*device=DEV-R .*pin=hit judge=pin ref=hit period=1'"
check "/metrics: one first-reference hit" [ "$(metric first_refs_hits_total)" = 1 ]
check "/metrics: the first reference released once recorded" [ "$(metric first_refs_entries)" = 0 ]
check "registered as period 1" [ "$(db "SELECT period FROM certificates WHERE serial = '$(serial_of "$T/r1.pem")'")" = 1 ]
# Its sibling judged against the reference the first one left from its DER.
H0=$(metric leaf_refs_hits_total)
register "$T/r0.pem"
api_is "DEV-R: period 0, its sibling" 201
check "the sibling: judged against the DER-made reference (leaf_refs hit)" [ "$(metric leaf_refs_hits_total)" = $((H0 + 1)) ]
check "registered as period 0" [ "$(db "SELECT period FROM certificates WHERE serial = '$(serial_of "$T/r0.pem")'")" = 0 ]
register "$T/r0.pem"
api_is "the same again: already registered" 200
check "says so" grep -q '"status":"already-registered"' "$T/.api"

# --- another device's leaf naming this device's profile is never judged for it ---
renewal_profile r
renewal_profile s
ok "DEV-S's SP: its certificate" scn device issue --sp "$T/s.sock" --profile "$T/s-p.der" --out "$T/s0.pem"
# DEV-S's profile row made DEV-R's (a row the certificate does not match): the full path.
db "UPDATE profiles SET device_id = 'DEV-R' WHERE profile_id = '$PID'"
stop_provd; start_provd || exit 1
register "$T/s0.pem"
api_is "DEV-S's leaf for a profile the registry says is DEV-R's" 422 device-mismatch
check "named" grep -q "was issued to device DEV-R, not DEV-S" "$T/.api"
check "not judged" bash -c "! grep 'POST /v1/certificates 422 .*device=DEV-S ' '$T/provd.log' | grep -q judge="

# --- after a restart (no reference, the profile no longer kept): the full path, as before ---
ok "DEV-R's SP: period 0 of its second profile" scn device issue --sp "$T/r.sock" --profile "$T/r-p.der" --out "$T/r2-0.pem"
register "$T/r2-0.pem"
api_is "DEV-R: its second window's first certificate, after a restart" 201
check "verified in full (pin=hit, not judged)" \
  bash -c "grep ' serial=$(serial_of "$T/r2-0.pem")' '$T/provd.log' | grep 'pin=hit' | grep -vq 'judge='"

# --- a profile past its time: the full path names it ---
renewal_profile r
ok "DEV-R's SP: period 0 of its third profile" scn device issue --sp "$T/r.sock" --profile "$T/r-p.der" --out "$T/r3-0.pem"
db "UPDATE profiles SET profile_not_after = 1 WHERE profile_id = '$PID'"
stop_provd; start_provd || exit 1
register "$T/r3-0.pem"
api_is "a profile past its profileNotAfter" 422 profile-expired
check "not judged" bash -c "! grep 'POST /v1/certificates 422 .*profile=$PID' '$T/provd.log' | grep -q judge="

# --- gaps15: --leaf-refs sizing and the evictions counter ---
# A count that is not a multiple of 16 is rounded up to whole sets, never down, and said.
stop_provd; start_provd --policy "$T/policy.json" --rate-limit 100/1h --leaf-refs 17 || exit 1
check "--leaf-refs 17: 32 references, logged" \
  grep -qF -- "--leaf-refs 17: 32 renewal references (rounded up to whole sets of 16)" "$T/provd.log"
api GET /metrics
check "/metrics: the evictions counter" grep -qx 'selfcert_provd_leaf_refs_evictions_total 0' "$T/.api"
check "/metrics: the retired counter, its own name" grep -qx 'selfcert_provd_leaf_refs_retired_total 0' "$T/.api"
check "/metrics: retired described as a counter" grep -qx '# TYPE selfcert_provd_leaf_refs_retired_total counter' "$T/.api"
# A multiple of 16 is kept as asked (nothing logged): one set of 16. 17 window-first
# certificates put 17 references into it, none found yet (all waiting): the 17th put evicts the
# waiting one whose profile ends last, the 16th (ties: put last) — an eviction of a reference
# still of use, counted as such; nothing retired (none spent).
stop_provd; start_provd --policy "$T/policy.json" --rate-limit 100/1h --leaf-refs 16 || exit 1
check "--leaf-refs 16: nothing rounded, nothing logged" [ "$(grep -c -- '--leaf-refs 16:' "$T/provd.log")" = 0 ]
for i in $(seq 1 17); do
  renewal_profile s
  cp "$T/s-p.der" "$T/s$i-p.der"
  # Both periods now: the SP retires a renewal profile when it takes the next.
  scn device issue --sp "$T/s.sock" --profile "$T/s$i-p.der" --out "$T/s$i-0.pem" >/dev/null &&
    scn device issue --sp "$T/s.sock" --profile "$T/s$i-p.der" --out "$T/s$i-1.pem" >/dev/null ||
    fail "DEV-S's SP: profile $i"
  register "$T/s$i-0.pem"
  api_is "DEV-S: profile $i's first certificate" 201
done
check "/metrics: one eviction (the 17th put, a set of 16)" [ "$(metric leaf_refs_evictions_total)" = 1 ]
check "/metrics: none retired" [ "$(metric leaf_refs_retired_total)" = 0 ]
H0=$(metric leaf_refs_hits_total)
for i in 1 17; do
  register "$T/s$i-1.pem"
  api_is "DEV-S: profile $i's second certificate" 201
done
check "profiles 1 and 17: their references kept (two hits)" [ "$(metric leaf_refs_hits_total)" = $((H0 + 2)) ]
M0=$(metric leaf_refs_misses_total)
register "$T/s16-1.pem"
api_is "DEV-S: profile 16's second certificate (checked in full)" 201
check "profile 16's reference was the one evicted (a miss)" [ "$(metric leaf_refs_misses_total)" = $((M0 + 1)) ]

stop_provd
finish
