#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# #17 (dur11): a profile the registry lost (a power loss under --profile-commit deferred,
# simulated by deleting its row) is recorded again from the certificate registration that
# carries it ("profile" with "chain", docs/API.md "Session 11 (dur11)"): 201 and both rows,
# one durable transaction, a profile-recovered audit row. Without the field: profile-unknown as
# before. Every refusal (malformed field, another device's profile, a tampered or foreign-signed
# one, a revoked device, a chain that is not the leaf's one path or not a device CA, a device
# CA other than its pin: also audited device-ca-changed, fix17) names its error and records nothing. Under --profile-commit durable
# nothing is recovered (profile-unknown). The agent sends the field only after profile-unknown;
# an ordinary registration carries nothing.
# SC_DB=pg runs it with the registry on PostgreSQL (the row deleted there).
# Under valgrind only the subjects: provd's recovery and the agent's carried profile (the CLI
# and the SP, ~80 processes here, are memchecked by their own tests).
SC_VG_BINS="SELFCERT_PROVD SELFCERT_AGENT"
source "$SC_TESTLIB"
source "$(dirname "$SC_TESTLIB")/lib-provd.sh"

provd_world testnet || exit 1
ok "devices" sc net device add --db "$REG_DB" --device-id DEV-1 --device-id DEV-2 --device-id DEV-3
start_provd --profile-commit deferred || exit 1
provd_device d1 DEV-1 || exit 1
provd_device d2 DEV-2 || exit 1
provd_device d3 DEV-3 || exit 1

pem_json() { awk 'BEGIN{ORS="\\n"} {print}' "$1"; }
# profile NAME OUT: a proven profile request of device NAME; the DER in $T/OUT.der, its answer's
# base64 in $T/OUT.b64, its ID in P_ID; the SP's certificate in $T/OUT.pem.
profile() {
  local name=$1 out=$2 ch
  ch=$(sc device challenge --sp "$T/$name.sock")
  printf '{"chain":"%s","kex":"%s","challenge":"%s","proof":%s}' "$(pem_json "$T/$name-certs/chain.pem")" \
    "$(pem_json "$T/$name-certs/kex.pem")" "$ch" "$(sc device proof --sp "$T/$name.sock" --challenge "$ch" \
    --chain "$T/$name-certs/chain.pem" --kex "$T/$name-certs/kex.pem")" >"$T/$out.req"
  api_json POST /v1/profiles "$T/$out.req"
  [ "$HTTP" = 201 ] || { fail "profile for $name: HTTP $HTTP $(head -c 300 "$T/.api")"; return 1; }
  json_field profile <"$T/.api" >"$T/$out.b64"
  base64 -d <"$T/$out.b64" >"$T/$out.der"
  P_ID=$(json_field profile_id <"$T/.api")
  sc device issue --sp "$T/$name.sock" --profile "$T/$out.der" --out "$T/$out.pem" >/dev/null
}
# body OUT CERT [PROFILE-B64-TEXT [CHAIN-PEM-FILE]]: a registration body in $T/OUT.json.
body() {
  local out=$1 cert=$2 prof=${3:-} chain=${4:-}
  {
    printf '{"certificate":"%s"' "$(pem_json "$cert")"
    [ -n "$prof" ] && printf ',"profile":%s' "$prof"
    [ -n "$chain" ] && printf ',"chain":"%s"' "$(pem_json "$chain")"
    printf '}'
  } >"$T/$out.json"
}
lose() { db "DELETE FROM profiles WHERE profile_id = '$1'" >/dev/null; }   # the power loss
rows() { db "SELECT (SELECT count(*) FROM profiles WHERE profile_id = '$1') || '/' || (SELECT count(*) FROM certificates WHERE profile_id = '$1')"; }
nothing() { check "$1: nothing recorded" [ "$(rows "$2")" = "0/0" ]; }

# --- the recovery ---
profile d1 a || exit 1
A=$P_ID
check "the profile's row is there" [ "$(rows "$A")" = "1/0" ]
lose "$A"
check "its row is gone (the power loss)" [ "$(rows "$A")" = "0/0" ]
body a-plain "$T/a.pem"
api_json POST /v1/certificates "$T/a-plain.json"
api_is "without the profile: as before" 422 profile-unknown
nothing "profile-unknown" "$A"
body a-nochain "$T/a.pem" "\"$(cat "$T/a.b64")\""
api_json POST /v1/certificates "$T/a-nochain.json"
api_is "the profile without the chain" 400 missing-field
check "its detail names chain" grep -q '"detail":"field \\"chain\\" is required with \\"profile\\"' "$T/.api"
nothing "missing chain" "$A"
body a-carry "$T/a.pem" "\"$(cat "$T/a.b64")\"" "$T/d1-certs/chain.pem"
api_json POST /v1/certificates "$T/a-carry.json"
api_is "with the profile and chain: registered" 201
check "answer: registered" grep -q "\"status\":\"registered\",\"device_id\":\"DEV-1\",\"profile_id\":\"$A\"" "$T/.api"
check "both rows, the profile consumed" [ "$(rows "$A")/$(db "SELECT count(*) FROM profiles WHERE profile_id = '$A' AND consumed_at IS NOT NULL")" = "1/1/1" ]
if [ "$ROWID" = rowid ]; then HEX="lower(hex(der))"; else HEX="encode(der, 'hex')"; fi
check "the recovered row keeps the DER sent" [ "$(db "SELECT $HEX FROM profiles WHERE profile_id = '$A'")" = "$(od -An -tx1 -v "$T/a.der" | tr -d ' \n')" ]
check "a profile-recovered audit row" [ "$(db "SELECT count(*) FROM audit WHERE event = 'profile-recovered' AND device_id = 'DEV-1' AND detail LIKE 'profile $A recovered%'")" = 1 ]
check "and its certificate-registered row" [ "$(db "SELECT count(*) FROM audit WHERE event = 'certificate-registered' AND detail LIKE '%profile $A'")" = 1 ]
check "the log says recovered" grep -q "POST /v1/certificates 201 .*recover.*recovered" "$T/provd.log"
ok "net db check" sc net db check --db "$REG_DB"
api_json POST /v1/certificates "$T/a-carry.json"
api_is "the same again: idempotent, the profile ignored" 200
check "already registered" grep -q '"status":"already-registered"' "$T/.api"
api_json POST /v1/certificates "$T/a-plain.json"
api_is "and without it" 200
check "still one profile-recovered row" [ "$(db "SELECT count(*) FROM audit WHERE event = 'profile-recovered'")" = 1 ]

# --- the field's form, on any request (here one whose profile the registry holds) ---
profile d1 b || exit 1
B=$P_ID
m() {  # m DESC STATUS CODE PROFILE-JSON-VALUE [CHAIN]
  body bad "$T/b.pem" "$4" "${5:-}"
  api_json POST /v1/certificates "$T/bad.json"
  api_is "$1" "$2" "$3"
  check "$1: detail names the field" grep -q '"detail":"field \\"\(profile\|chain\)\\"' "$T/.api"
  check "$1: nothing recorded" [ "$(db "SELECT count(*) FROM certificates WHERE profile_id = '$B'")" = 0 ]
}
m "profile of the wrong type" 400 wrong-type '42'
m "profile empty" 400 bad-value '""'
m "profile oversize" 400 bad-value "\"$(head -c 30000 /dev/zero | tr '\0' 'A')\""
m "profile not base64" 400 bad-base64 '"not*base64"'
m "profile truncated" 400 bad-der "\"$(head -c 200 "$T/b.der" | base64 -w0)\""
m "trailing data after the DER" 400 bad-der "\"$( (cat "$T/b.der"; printf 'x') | base64 -w0)\""
check "its detail says trailing data" grep -q 'trailing data after the DER' "$T/.api"
body bad "$T/b.pem" "" "$T/d1-certs/chain.pem"
api_json POST /v1/certificates "$T/bad.json"
api_is "a chain without a profile" 400 bad-value
body bad "$T/b.pem" "\"$(cat "$T/b.b64")\""
printf '%s' "$(sed 's/}$/,"chain":7}/' "$T/bad.json")" >"$T/bad2.json"
api_json POST /v1/certificates "$T/bad2.json"
api_is "a chain of the wrong type" 400 wrong-type
# Known profile: the field is not read further (another profile's bytes are ignored).
body b-other "$T/b.pem" "\"$(cat "$T/a.b64")\"" "$T/d1-certs/chain.pem"
api_json POST /v1/certificates "$T/b-other.json"
api_is "a known profile: the carried one ignored" 201
check "no recovery for it" [ "$(db "SELECT count(*) FROM audit WHERE event = 'profile-recovered'")" = 1 ]

# --- refusals of a carried profile, each recording nothing ---
profile d1 c || exit 1
C=$P_ID
lose "$C"
# Not a profile at all (a certificate's DER): decoded only when it is used.
body c-notprof "$T/c.pem" "\"$(openssl x509 -in "$T/c.pem" -outform DER | base64 -w0)\"" "$T/d1-certs/chain.pem"
api_json POST /v1/certificates "$T/c-notprof.json"
api_is "not a profile" 400 bad-der
check "its detail" grep -q '"detail":"field \\"profile\\": not a signed profile' "$T/.api"
nothing "not a profile" "$C"
# Another profile (the device's own, A) with C's certificate.
body c-wrong "$T/c.pem" "\"$(cat "$T/a.b64")\"" "$T/d1-certs/chain.pem"
api_json POST /v1/certificates "$T/c-wrong.json"
api_is "another profile than the certificate's" 422 binding
nothing "another profile" "$C"
# Tampered: one byte of the profile changed (its signature no longer holds; the leaf's digest
# neither): the ID is the same.
python3 - "$T/c.der" "$T/c-t.der" <<'PY'
import sys
d = bytearray(open(sys.argv[1], 'rb').read())
i = d.find(b'\x18\x0f')      # the first GeneralizedTime (profileNotAfter): a seconds digit
assert i > 0
d[i + 2 + 13] ^= 0x01
open(sys.argv[2], 'wb').write(d)
raise SystemExit(0)
open(sys.argv[2], 'wb').write(d)
PY
body c-tamper "$T/c.pem" "\"$(base64 -w0 "$T/c-t.der")\"" "$T/d1-certs/chain.pem"
api_json POST /v1/certificates "$T/c-tamper.json"
api_is "a tampered profile" 422 binding
nothing "tampered" "$C"
# Another device's profile and certificate chain for DEV-1's certificate.
profile d2 e || exit 1
E=$P_ID
lose "$E"
body c-dev "$T/c.pem" "\"$(cat "$T/e.b64")\"" "$T/d2-certs/chain.pem"
api_json POST /v1/certificates "$T/c-dev.json"
api_is "another device's profile" 422 binding
nothing "another device's profile" "$C"
nothing "another device's profile (its own)" "$E"
# DEV-2's own certificate sent with DEV-1's chain: not its device CA.
body e-chain "$T/e.pem" "\"$(cat "$T/e.b64")\"" "$T/d1-certs/chain.pem"
api_json POST /v1/certificates "$T/e-chain.json"
api_is "a chain that is not the device's (not the leaf's issuer)" 422 chain
nothing "another chain" "$E"
# Foreign-signed: another network root's signer with this network's ID (same ID "testnet"),
# carried with a certificate this server's profile made (the SP trusts this root only).
sc net init --dir "$T/net2" --network-id testnet >/dev/null
CH=$(sc device challenge --sp "$T/d3.sock")
ok "a profile signed by another signer" sc net profile --dir "$T/net2" --device-ca "$T/d3-certs/device-ca.pem" \
  --challenge "$CH" --validity 1h --out "$T/f.der"
profile d3 g || exit 1
G=$P_ID
lose "$G"
body f "$T/g.pem" "\"$(base64 -w0 "$T/f.der")\"" "$T/d3-certs/chain.pem"
api_json POST /v1/certificates "$T/f.json"
api_is "a foreign-signed profile" 422 binding
nothing "foreign-signed" "$G"
check "its detail: untrusted signer" grep -q 'untrusted-signer' "$T/.api"
# A renewal profile is not recovered (signed with this server's key by the operator's CLI).
CH=$(sc device challenge --sp "$T/d3.sock")
ok "a renewal profile" sc net profile --dir "$T/net" --device-ca "$T/d3-certs/device-ca.pem" \
  --validity 1h --renewal 2/1h --out "$T/r.der"
ok "its first certificate" sc device issue --sp "$T/d3.sock" --profile "$T/r.der" --out "$T/r.pem"
body r "$T/r.pem" "\"$(base64 -w0 "$T/r.der")\"" "$T/d3-certs/chain.pem"
api_json POST /v1/certificates "$T/r.json"
api_is "a renewal profile carried" 422 profile-unknown
check "its detail" grep -q 'a renewal profile sent back is not recovered' "$T/.api"
check "nothing recorded for DEV-3" [ "$(db "SELECT count(*) FROM certificates WHERE device_id = 'DEV-3'")" = 0 ]
# Another device's chain (DEV-2's) with DEV-3's certificate: not its leaf's issuer, refused
# before the pin is read (the pin's own refusal: below, a second device CA for DEV-1).
body pinx "$T/g.pem" "\"$(cat "$T/g.b64")\"" "$T/d2-certs/chain.pem"
api_json POST /v1/certificates "$T/pinx.json"
api_is "another device's chain" 422 chain
nothing "another device's chain" "$G"
# A revoked device.
profile d3 h || exit 1
H=$P_ID
lose "$H"
ok "DEV-3 revoked" sc net device revoke --db "$REG_DB" --device-id DEV-3 --reason test
body h "$T/h.pem" "\"$(cat "$T/h.b64")\"" "$T/d3-certs/chain.pem"
api_json POST /v1/certificates "$T/h.json"
api_is "a revoked device's profile" 403 revoked
nothing "revoked" "$H"
# An expired carried profile: tests/unit/test_api.c test_carried_expired (no minute of waiting).
# --- the carried chain is the leaf's one path, and a device CA (dur11 review) ---
# A second manufacturer-certified device CA for DEV-1 (another SP), its leaf under a profile
# signed with this server's key (the operator's CLI: no row, as a lost one). Carried with a
# chain that starts with DEV-1's pinned device CA, the pin's check on chain[0] would pass while
# the leaf's path went through the other CA: refused before the pin, nothing recorded.
ok "DEV-5" sc net device add --db "$REG_DB" --device-id DEV-5
provd_device d1x DEV-1 || exit 1
CH=$(sc device challenge --sp "$T/d1x.sock")
ok "a profile for DEV-1's other device CA" sc net profile --dir "$T/net" --device-ca "$T/d1x-certs/device-ca.pem" \
  --challenge "$CH" --validity 1h --out "$T/y.der"
ok "its certificate, from the other CA" sc device issue --sp "$T/d1x.sock" --profile "$T/y.der" --out "$T/y.pem"
N1=$(db "SELECT (SELECT count(*) FROM profiles WHERE device_id = 'DEV-1') || '/' || (SELECT count(*) FROM certificates WHERE device_id = 'DEV-1')")
cat "$T/d1-certs/device-ca.pem" "$T/d1x-certs/chain.pem" >"$T/mixed.pem"
body y-mixed "$T/y.pem" "\"$(base64 -w0 "$T/y.der")\"" "$T/mixed.pem"
api_json POST /v1/certificates "$T/y-mixed.json"
api_is "[pinned CA, other CA, mfr CA] with the other CA's leaf" 422 chain
check "its detail: not one path" grep -q '"detail":"field \\"chain\\": not one path (each certificate issued by the next, the last by the manufacturer root, no subject twice)"' "$T/.api"
body y-pinned "$T/y.pem" "\"$(base64 -w0 "$T/y.der")\"" "$T/d1-certs/chain.pem"
api_json POST /v1/certificates "$T/y-pinned.json"
api_is "[pinned CA, mfr CA] with the other CA's leaf" 422 chain
check "its detail: not the leaf's issuer" grep -q '"detail":"field \\"chain\\": the certificate was not issued by the chain.s first certificate"' "$T/.api"
# The other CA's own chain: one path, the leaf's issuer, a device CA for DEV-1, but not the
# device CA DEV-1 is pinned to.
body y-own "$T/y.pem" "\"$(base64 -w0 "$T/y.der")\"" "$T/d1x-certs/chain.pem"
api_json POST /v1/certificates "$T/y-own.json"
api_is "a device CA other than the device's pin" 409 device-ca-changed
check "its detail" grep -q '"detail":"field \\"chain\\": device DEV-1 is pinned to another device CA"' "$T/.api"
# fix17: audited as a profile request showing another device CA is: one device-ca-changed row,
# its detail the two device CAs (the pin's from the registry, the shown one's DER hashed here).
PINNED=$(db "SELECT ca_sha256 FROM device_pins WHERE device_id = 'DEV-1'")
SHOWN=$(openssl x509 -in "$T/d1x-certs/device-ca.pem" -outform DER | sha256sum | cut -c1-16)
check "one device-ca-changed audit row for DEV-1" [ "$(db "SELECT count(*) FROM audit WHERE device_id = 'DEV-1' AND event = 'device-ca-changed'")" = 1 ]
check "its detail: both device CAs" [ "$(db "SELECT detail FROM audit WHERE device_id = 'DEV-1' AND event = 'device-ca-changed'")" = "refused (certificate with its profile): device CA $SHOWN… shown, ${PINNED:0:16}… pinned" ]
# flood19: refused each time, its row once per chain shown per 60 s in this provd: the two requests
# again write no row, and /metrics counts the two rows not written.
api_json POST /v1/certificates "$T/y-own.json"
api_is "the same again" 409 device-ca-changed
api_json POST /v1/certificates "$T/y-own.json"
api_is "and a third time" 409 device-ca-changed
check "still one device-ca-changed row: one per chain shown per window" [ "$(db "SELECT count(*) FROM audit WHERE device_id = 'DEV-1' AND event = 'device-ca-changed'")" = 1 ]
check "no other device's device-ca-changed row" [ "$(db "SELECT count(*) FROM audit WHERE event = 'device-ca-changed'")" = 1 ]
# flood19 review (MEDIUM-2): a third device CA for DEV-1 shown inside the window is another
# chain: its own row (a decoy refusal does not hide it), its repeat held.
provd_device d1z DEV-1 || exit 1
CH=$(sc device challenge --sp "$T/d1z.sock")
ok "a profile for DEV-1's third device CA" sc net profile --dir "$T/net" --device-ca "$T/d1z-certs/device-ca.pem" \
  --challenge "$CH" --validity 1h --out "$T/z.der"
ok "its certificate" sc device issue --sp "$T/d1z.sock" --profile "$T/z.der" --out "$T/z.pem"
body z-own "$T/z.pem" "\"$(base64 -w0 "$T/z.der")\"" "$T/d1z-certs/chain.pem"
api_json POST /v1/certificates "$T/z-own.json"
api_is "a third device CA for DEV-1" 409 device-ca-changed
api_json POST /v1/certificates "$T/z-own.json"
api_is "the third device CA again" 409 device-ca-changed
SHOWN3=$(openssl x509 -in "$T/d1z-certs/device-ca.pem" -outform DER | sha256sum | cut -c1-16)
check "two device-ca-changed rows for DEV-1, one per chain" [ "$(db "SELECT count(*) FROM audit WHERE device_id = 'DEV-1' AND event = 'device-ca-changed'")" = 2 ]
check "the second row: the third device CA" [ "$(db "SELECT count(*) FROM audit WHERE device_id = 'DEV-1' AND event = 'device-ca-changed' AND detail = 'refused (certificate with its profile): device CA $SHOWN3… shown, ${PINNED:0:16}… pinned'")" = 1 ]
api GET /metrics
check "metrics: three rows suppressed" grep -q '^selfcert_provd_audit_suppressed_total 3$' "$T/.api"
check "metrics: no bucket full" grep -q '^selfcert_provd_audit_limiter_full_total 0$' "$T/.api"
check "nothing recorded for DEV-1" [ "$(db "SELECT (SELECT count(*) FROM profiles WHERE device_id = 'DEV-1') || '/' || (SELECT count(*) FROM certificates WHERE device_id = 'DEV-1')")" = "$N1" ]
# An unpinned device (DEV-5: its profile made offline, never a profile request): a chain[0]
# that is not its leaf's issuer is refused (a CRL signed by it would have been kept); its own
# chain recovers.
provd_device d5 DEV-5 || exit 1
CH=$(sc device challenge --sp "$T/d5.sock")
ok "an offline profile for DEV-5" sc net profile --dir "$T/net" --device-ca "$T/d5-certs/device-ca.pem" \
  --challenge "$CH" --validity 1h --out "$T/w.der"
ok "its certificate" sc device issue --sp "$T/d5.sock" --profile "$T/w.der" --out "$T/w.pem"
check "DEV-5 has no pin" [ "$(db "SELECT count(*) FROM device_pins WHERE device_id = 'DEV-5'")" = 0 ]
body w-other "$T/w.pem" "\"$(base64 -w0 "$T/w.der")\"" "$T/d1-certs/chain.pem"
api_json POST /v1/certificates "$T/w-other.json"
api_is "unpinned: chain[0] not the leaf's issuer" 422 chain
check "its detail: not the leaf's issuer" grep -q '"detail":"field \\"chain\\": the certificate was not issued by the chain.s first certificate"' "$T/.api"
check "nothing recorded for DEV-5" [ "$(db "SELECT count(*) FROM certificates WHERE device_id = 'DEV-5'")" = 0 ]
body w "$T/w.pem" "\"$(base64 -w0 "$T/w.der")\"" "$T/d5-certs/chain.pem"
api_json POST /v1/certificates "$T/w.json"
api_is "unpinned: its own chain recovers" 201
check "DEV-5 registered" [ "$(db "SELECT count(*) FROM certificates WHERE device_id = 'DEV-5'")" = 1 ]
# (A device CA without the name constraints: sc_device_verify's device CA half, which the
# recovery now applies; tests/unit/test_device.c test_no_kek, as no SP makes one.)
check "exactly two recovered profiles" [ "$(db "SELECT count(*) FROM audit WHERE event = 'profile-recovered'")" = 2 ]
api GET /metrics
api_is "metrics" 200
check "metrics: two recovered" grep -q '^selfcert_provd_profiles_recovered_total 2$' "$T/.api"
ok "net db check at the end" sc net db check --db "$REG_DB"

# --- under --profile-commit durable (the default) a missing row is no power loss ---
stop_provd
start_provd --profile-commit durable || exit 1
profile d2 z || exit 1
Z=$P_ID
lose "$Z"
body z "$T/z.pem" "\"$(cat "$T/z.b64")\"" "$T/d2-certs/chain.pem"
api_json POST /v1/certificates "$T/z.json"
api_is "durable: a valid carried profile is not recovered" 422 profile-unknown
nothing "durable" "$Z"
check "durable: the log says carried, not recover" grep -q "POST /v1/certificates 422 .*carried" "$T/provd.log"
body z-bad "$T/z.pem" '"not*base64"' "$T/d2-certs/chain.pem"
api_json POST /v1/certificates "$T/z-bad.json"
api_is "durable: the field's form still checked" 400 bad-base64
api GET /metrics
check "metrics: none recovered" grep -q '^selfcert_provd_profiles_recovered_total 0$' "$T/.api"

# --- the agent: it sends the profile, so its registration survives the loss ---
stop_provd
start_provd --profile-commit deferred || exit 1
provd_device d4 DEV-4 || exit 1
ok "DEV-4" sc net device add --db "$REG_DB" --device-id DEV-4
# The agent stops after its profile is answered (failpoint), the profile's row is lost, and the
# agent continues: the SP issues, the registration carries the profile.
if [ "${SC_FAILPOINTS:-ON}" = ON ]; then
  SELFCERT_AGENT_FAILPOINT=after-pending:1 agent d4 --once >"$T/ag1.out" 2>"$T/ag1.err"
  check "the agent stopped with a pending certificate" [ $? -eq 86 ]
  P4=$(db "SELECT profile_id FROM profiles WHERE device_id = 'DEV-4'")
  lose "$P4"
  L0=$(wc -l <"$T/provd.log")
  agent d4 --once >"$T/ag2.out" 2>"$T/ag2.err"
  check "the agent registers after the loss" [ "$(db "SELECT count(*) FROM certificates WHERE device_id = 'DEV-4'")" = 1 ]
  check "its profile recovered" [ "$(db "SELECT count(*) FROM audit WHERE event = 'profile-recovered' AND device_id = 'DEV-4'")" = 1 ]
  tail -n +"$((L0 + 1))" "$T/provd.log" | grep 'POST /v1/certificates' >"$T/ag2.log"
  check "first without the profile: profile-unknown" bash -c "head -1 '$T/ag2.log' | grep -q 'POST /v1/certificates 422' && ! head -1 '$T/ag2.log' | grep -q carried"
  check "then with it: recovered" bash -c "sed -n 2p '$T/ag2.log' | grep -q 'POST /v1/certificates 201 .*carried.*recovered'"
  check "two registrations in all" [ "$(wc -l <"$T/ag2.log")" = 2 ]
  check "the agent said why" grep -q "the server has no record of profile $P4; sending it with the certificate" "$T/ag2.err"
else
  ok "the agent enrolls (with the profile carried)" agent d4 --once
  check "DEV-4 registered" [ "$(db "SELECT count(*) FROM certificates WHERE device_id = 'DEV-4'")" = 1 ]
fi
check "no unknown-field anywhere" bash -c "! grep -q 'unknown-field' '$T'/provd.log"
# An ordinary registration carries nothing (its profile's row is there).
provd_device d6 DEV-6 || exit 1
ok "DEV-6" sc net device add --db "$REG_DB" --device-id DEV-6
L0=$(wc -l <"$T/provd.log")
ok "DEV-6 enrolls" agent d6 --once
tail -n +"$((L0 + 1))" "$T/provd.log" | grep 'POST /v1/certificates' >"$T/ag6.log"
check "one registration, 201" bash -c "[ \$(wc -l <'$T/ag6.log') = 1 ] && grep -q 'POST /v1/certificates 201' '$T/ag6.log'"
check "without the profile" bash -c "! grep -q carried '$T/ag6.log'"
finish
