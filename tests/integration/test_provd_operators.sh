#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Operators as people (issue 16, item 12): named operator tokens in an owner-only file of
# SHA-256 hashes (selfcert net operator), each operator's name in the audit log for every
# action, wrong tokens throttled per address (429, Retry-After) and audited without the token,
# the file re-read without a restart (a removed operator refused on its next request, a broken
# file failing closed), the operator endpoints (list with filters and keyset pages, activate,
# import, revoke, show) round trip, and the legacy --admin-token-file still the operator "admin".
SC_VG_BINS="SELFCERT_PROVD"   # under valgrind (lib.sh); the CLI runs there in other tests
source "$SC_TESTLIB"
source "$(dirname "$SC_TESTLIB")/lib-provd.sh"

provd_world testnet || exit 1
OPS=$T/ops

# --- the CLI ---
for v in add remove list; do
  ok "net operator $v --help" sc net operator $v --help
  check "net operator $v usage" grep -q "^usage: selfcert net operator $v" "$T/.out"
done
refused "operator without verb" 2 usage sc net operator
refused "a bad operator name" 2 usage sc net operator add Alice --operators "$OPS" --out "$T/x.tok"
check "the name rule is said" grep -q "operator name 'Alice': 1..32 of a-z 0-9" "$T/.err"
refused "a name too long" 2 usage sc net operator add "$(printf 'a%.0s' $(seq 33))" --operators "$OPS" --out "$T/x.tok"
refused "no --out" 2 usage sc net operator add alice --operators "$OPS"
ok "add alice" sc net operator add alice --operators "$OPS" --out "$T/alice.tok"
ok "add bob" sc net operator add bob --operators "$OPS" --out "$T/bob.tok"
check "operators file is 0600" [ "$(stat -c %a "$OPS")" = 600 ]
check "token file is 0600" [ "$(stat -c %a "$T/alice.tok")" = 600 ]
ALICE=$(cat "$T/alice.tok"); BOB=$(cat "$T/bob.tok")
check "a token is scop_ and 43 base64url characters" grep -Eq '^scop_[A-Za-z0-9_-]{43}$' "$T/alice.tok"
check "the file holds the hash, not the token" \
  grep -qx "alice sha256:$(printf '%s' "$ALICE" | sha256sum | cut -d' ' -f1)" "$OPS"
check "no token in the file" [ "$(grep -c scop_ "$OPS")" = 0 ]
refused "add alice twice" 3 exists sc net operator add alice --operators "$OPS" --out "$T/a2.tok"
check "no token file for a refused add" [ ! -e "$T/a2.tok" ]
refused "an existing token file is kept" 3 exists sc net operator add carol --operators "$OPS" --out "$T/alice.tok"
check "carol not added" [ "$(grep -c '^carol ' "$OPS")" = 0 ]
ok "list" sc net operator list --operators "$OPS"
check "list: two operators" [ "$(wc -l <"$T/.out")" = 2 ]
check "list line" grep -Eq '^alice sha256:[0-9a-f]{16}$' "$T/.out"
refused "remove a stranger" 1 not-found sc net operator remove zed --operators "$OPS"

# --- start-up refusals, naming the file ---
P=(--db "$REG_DB" --net-dir "$T/net" --mfr-root "$T/mfr/root.pem" --listen 127.0.0.1:0 --insecure-http)
chmod 644 "$OPS"
"$SELFCERT_PROVD" "${P[@]}" --operators "$OPS" 2>"$T/.err"
check "operators file open to others: exit 3" [ $? -eq 3 ]
check "… naming the file" grep -q "^selfcert-provd: io: $OPS: open to group or others" "$T/.err"
chmod 600 "$OPS"
cp "$T/token" "$T/token-open"; chmod 640 "$T/token-open"
"$SELFCERT_PROVD" "${P[@]}" --admin-token-file "$T/token-open" 2>"$T/.err"
check "token file open to the group: exit 3" [ $? -eq 3 ]
check "… naming the file" grep -q "^selfcert-provd: io: $T/token-open: open to group or others" "$T/.err"
printf 'alice sha256:00\n' >"$T/ops-bad"; chmod 600 "$T/ops-bad"
"$SELFCERT_PROVD" "${P[@]}" --operators "$T/ops-bad" 2>"$T/.err"
check "a malformed operators file refused at start, file and line named" \
  grep -q "^selfcert-provd: malformed: $T/ops-bad:1: token hash" "$T/.err"
printf 'admin sha256:%064d\n' 0 >"$T/ops-admin"; chmod 600 "$T/ops-admin"
"$SELFCERT_PROVD" "${P[@]}" --operators "$T/ops-admin" --admin-token-file "$T/token" 2>"$T/.err"
check "\"admin\" in the file and --admin-token-file: refused" grep -q "names an operator \"admin\"" "$T/.err"

start_provd --operators "$OPS" || exit 1
A=(-H "Authorization: Bearer $ALICE"); B=(-H "Authorization: Bearer $BOB")
L=(-H "Authorization: Bearer $PROVD_TOKEN")

# --- who is who ---
api GET /v1/operator/whoami "${A[@]}"; api_is "alice signs in" 200
check "… as alice" grep -qx '{"operator":"alice"}' "$T/.api"
api GET /v1/operator/whoami "${B[@]}"; api_is "bob signs in" 200
check "… as bob" grep -qx '{"operator":"bob"}' "$T/.api"
api GET /v1/operator/whoami "${L[@]}"; api_is "the legacy token signs in" 200
check "… as admin" grep -qx '{"operator":"admin"}' "$T/.api"
api GET /v1/operator/whoami; api_is "no token" 401 unauthorized

# --- activate, import, revoke: each under its operator's name ---
printf '{"device_ids":["DEV-A","DEV-B"],"note":"batch 1"}' >"$T/act.json"
api_json POST /v1/operator/devices "$T/act.json" "${A[@]}"; api_is "alice activates two" 200
check "activated list" grep -qx '{"activated":\["DEV-A","DEV-B"\]}' "$T/.api"
api_json POST /v1/operator/devices "$T/act.json" "${A[@]}"; api_is "activate again" 409 already-registered
printf '{"device_ids":["DEV-Z","dev-z"]}' >"$T/act2.json"
api_json POST /v1/operator/devices "$T/act2.json" "${A[@]}"; api_is "one ID twice by case" 400 bad-value
printf '{"device_ids":"DEV-Z"}' >"$T/act3.json"
api_json POST /v1/operator/devices "$T/act3.json" "${A[@]}"; api_is "device_ids not an array" 400 wrong-type
printf '{"device_ids":["bad*id"]}' >"$T/act4.json"
api_json POST /v1/operator/devices "$T/act4.json" "${A[@]}"; api_is "a bad ID" 400 bad-value
printf '{"device_ids":["DEV-Z"],"colour":"red"}' >"$T/act5.json"
api_json POST /v1/operator/devices "$T/act5.json" "${A[@]}"; api_is "an unknown field" 400 unknown-field
printf 'device_id,note\nDEV-C,"rack 7, shelf 2"\r\nDEV-D\nDEV-E\nDEV-A,again\nX-1\n' >"$T/feed.csv"
api POST /v1/operator/devices/import "${B[@]}" -H 'Content-Type: text/csv' --data-binary "@$T/feed.csv"
api_is "bob imports the feed" 200
check "import counts" grep -qx '{"added":4,"already_registered":1}' "$T/.api"
printf 'DEV-F\nDEV-G,a,b\n' >"$T/bad.csv"
api POST /v1/operator/devices/import "${B[@]}" -H 'Content-Type: text/csv' --data-binary "@$T/bad.csv"
api_is "a bad line refuses the import" 400 bad-value
check "… naming the line" grep -q '"detail":"csv:2: ' "$T/.api"
api POST /v1/operator/devices/import "${B[@]}" -H 'Content-Type: application/json' --data-binary "@$T/feed.csv"
api_is "the import is text/csv" 415 unsupported-media-type
api GET /v1/operator/devices/DEV-F "${B[@]}"; api_is "nothing of a refused import" 404 unknown-device
printf '{"reason":"stolen"}' >"$T/rev.json"
api_json POST /v1/operator/devices/DEV-B/revoke "$T/rev.json" "${B[@]}"; api_is "bob revokes DEV-B" 200
api_json POST /v1/devices/DEV-E/revoke "$T/rev.json" "${L[@]}"; api_is "admin revokes DEV-E (legacy route)" 200
api_json POST /v1/operator/devices/DEV-Q/revoke "$T/rev.json" "${B[@]}"; api_is "revoke a stranger" 404 unknown-device

check "DEV-A added by alice" [ "$(db "SELECT actor FROM audit WHERE event='device-added' AND device_id='DEV-A'")" = "operator alice (127.0.0.1)" ]
check "DEV-C added by bob" [ "$(db "SELECT actor FROM audit WHERE event='device-added' AND device_id='DEV-C'")" = "operator bob (127.0.0.1)" ]
check "the import by bob" [ "$(db "SELECT actor FROM audit WHERE event='devices-imported'")" = "operator bob (127.0.0.1)" ]
check "DEV-B revoked by bob" [ "$(db "SELECT actor FROM audit WHERE event='device-revoked' AND device_id='DEV-B'")" = "operator bob (127.0.0.1)" ]
check "DEV-E revoked by admin" [ "$(db "SELECT actor FROM audit WHERE event='device-revoked' AND device_id='DEV-E'")" = "operator admin (127.0.0.1)" ]

# --- a device enrolled, for the certificate filters and the show ---
provd_device d1 DEV-A || exit 1
ok "enroll DEV-A" agent d1 --once

# --- list: filters and keyset pages, exact ---
ids() { grep -o '"device_id":"[^"]*"' "$T/.api" | cut -d'"' -f4 | tr '\n' ' '; }
api GET "/v1/operator/devices?limit=2" "${A[@]}"; api_is "page 1" 200
check "page 1: DEV-A DEV-B (got $(ids))" [ "$(ids)" = "DEV-A DEV-B " ]
check "page 1: next DEV-B" grep -q '"next":"DEV-B"' "$T/.api"
api GET "/v1/operator/devices?limit=2&after=DEV-B" "${A[@]}"; api_is "page 2" 200
check "page 2: DEV-C DEV-D (got $(ids))" [ "$(ids)" = "DEV-C DEV-D " ]
api GET "/v1/operator/devices?limit=2&after=DEV-D" "${A[@]}"; api_is "page 3" 200
check "page 3: DEV-E X-1 (got $(ids))" [ "$(ids)" = "DEV-E X-1 " ]
check "page 3 is the last: next null" grep -q '"next":null' "$T/.api"
api GET "/v1/operator/devices?status=revoked" "${A[@]}"; api_is "revoked" 200
check "revoked: DEV-B DEV-E (got $(ids))" [ "$(ids)" = "DEV-B DEV-E " ]
check "revoked: the reason, for an operator" grep -q '"revocation_reason":"stolen"' "$T/.api"
api GET "/v1/operator/devices?status=active&prefix=DEV-" "${A[@]}"; api_is "active DEV-*" 200
check "active DEV-*: DEV-A DEV-C DEV-D (got $(ids))" [ "$(ids)" = "DEV-A DEV-C DEV-D " ]
api GET "/v1/operator/devices?prefix=dev-" "${A[@]}"; api_is "the prefix is bytes" 200
check "no device begins dev- (got $(ids))" [ "$(ids)" = "" ]
soon=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ); later=$(date -u -d '+400 days' +%Y-%m-%dT%H:%M:%SZ)
api GET "/v1/operator/devices?expiring_before=$later" "${A[@]}"; api_is "expiring within 400 days" 200
check "expiring: DEV-A alone (got $(ids))" [ "$(ids)" = "DEV-A " ]
api GET "/v1/operator/devices?expiring_before=$soon" "${A[@]}"; api_is "expiring within the hour" 200
check "expiring within the hour: none, leaves last 24 h (got $(ids))" [ "$(ids)" = "" ]
api GET "/v1/operator/devices?limit=0" "${A[@]}"; api_is "limit 0" 400 bad-value
api GET "/v1/operator/devices?limit=501" "${A[@]}"; api_is "limit 501" 400 bad-value
api GET "/v1/operator/devices?status=lost" "${A[@]}"; api_is "bad status" 400 bad-value
api GET "/v1/operator/devices?expiring_before=tomorrow" "${A[@]}"; api_is "bad time" 400 bad-value
api GET "/v1/operator/devices?colour=red" "${A[@]}"; api_is "unknown parameter" 400 unknown-field
api GET "/v1/operator/devices?limit=1&limit=2" "${A[@]}"; api_is "a parameter twice" 400 bad-value
api GET "/v1/operator/devices?a=1&b=2&c=3&d=4&e=5&f=6&g=7&h=8&i=9" "${A[@]}"; api_is "too many parameters" 400 bad-value
api GET "/v1/operator/devices" ; api_is "list without a token" 401 unauthorized

# --- show ---
api GET "/v1/operator/devices/DEV-A" "${A[@]}"; api_is "show DEV-A" 200
check "show: the device" grep -q '^{"device_id":"DEV-A","status":"active","note":"batch 1"' "$T/.api"
check "show: one certificate" [ "$(grep -o '"fingerprint"' "$T/.api" | wc -l)" = 2 ]  # newest + list
check "show: one profile, consumed" grep -q '"profiles":\[{"profile_id":"[0-9a-f]\{32\}","key_origin":"device"' "$T/.api"
check "show: audit with alice's activation" grep -q '"actor":"operator alice (127.0.0.1)","event":"device-added"' "$T/.api"
api GET "/v1/operator/devices/DEV-A?audit=0" "${A[@]}"; api_is "show without audit" 200
check "audit=0: none" grep -q '"audit":\[\]' "$T/.api"
api GET "/v1/operator/devices/import" "${A[@]}"; api_is "GET of import is a device show" 404 unknown-device

# --- wrong tokens: throttled per address, audited without the token ---
W=(-H "Authorization: Bearer scop_wrongwrongwrongwrongwrongwrongwrongwrongwro" --interface 127.0.0.2)
for i in 1 2 3 4 5; do
  api GET /v1/operator/whoami "${W[@]}"; api_is "wrong token $i" 401 unauthorized
done
api GET /v1/operator/whoami "${W[@]}" -D "$T/.hdr"; api_is "the sixth: throttled" 429 rate-limited
check "… with Retry-After" grep -Eqi '^Retry-After: [1-9][0-9]*' "$T/.hdr"
api GET /v1/operator/whoami -H "Authorization: Bearer $ALICE" --interface 127.0.0.2
api_is "a right token from the throttled address: still 429" 429 rate-limited
api GET /v1/operator/whoami "${A[@]}"; api_is "another address is not throttled" 200
api GET /v1/devices/DEV-B "${W[@]}"; api_is "the public status with a wrong token: answered" 200
check "… without the reason" [ "$(grep -c revocation_reason "$T/.api")" = 0 ]
check "five failures audited" [ "$(db "SELECT count(*) FROM audit WHERE event='operator-auth-failed' AND actor='api 127.0.0.2'")" = 5 ]
check "the throttle audited once" [ "$(db "SELECT count(*) FROM audit WHERE event='operator-auth-throttled' AND actor='api 127.0.0.2'")" = 1 ]
check "no token in the audit log" [ "$(db "SELECT count(*) FROM audit WHERE actor LIKE '%scop_%' OR detail LIKE '%scop_%'")" = 0 ]
check "no token in the server log" [ "$(grep -c scop_ "$T/provd.log")" = 0 ]

# --- rotation without a restart ---
pid=$PROVD_PID
ok "remove bob" sc net operator remove bob --operators "$OPS"
api GET /v1/operator/whoami "${B[@]}"; api_is "bob refused at once" 401 unauthorized
api GET /v1/operator/whoami "${A[@]}"; api_is "alice still in" 200
ok "add carol" sc net operator add carol --operators "$OPS" --out "$T/carol.tok"
api GET /v1/operator/whoami -H "Authorization: Bearer $(cat "$T/carol.tok")"; api_is "carol in at once" 200
check "… as carol" grep -qx '{"operator":"carol"}' "$T/.api"
cp "$OPS" "$T/ops.good"
printf 'alice sha256:%s\ncarol\n' "$(printf '%s' "$ALICE" | sha256sum | cut -d' ' -f1)" >"$T/ops.tmp"
chmod 600 "$T/ops.tmp"; mv "$T/ops.tmp" "$OPS"
api GET /v1/operator/whoami "${A[@]}"; api_is "a broken file: fail closed" 503 unavailable
check "… and the server log says why" grep -q "$OPS:2: expected NAME sha256:HEX" "$T/provd.log"
api GET /v1/operator/whoami "${L[@]}"; api_is "the legacy token unaffected" 200
cp "$T/ops.good" "$T/ops.tmp"; chmod 600 "$T/ops.tmp"; mv "$T/ops.tmp" "$OPS"
api GET /v1/operator/whoami "${A[@]}"; api_is "fixed: alice back" 200
chmod 644 "$OPS"
api GET /v1/operator/whoami "${A[@]}"; api_is "opened to others: fail closed" 503 unavailable
chmod 600 "$OPS"
api GET /v1/operator/whoami "${A[@]}"; api_is "owner-only again: alice back" 200
check "all without a restart" [ "$PROVD_PID" = "$pid" ] && kill -0 "$pid"

stop_provd
finish
