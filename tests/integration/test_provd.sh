#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# selfcert-provd over real HTTPS (GnuTLS through libmicrohttpd) with curl, and the operator's
# commands: the server's TLS certificate, the registry commands and the CSV feed, start-up
# refusals, every malformed request with its HTTP status and JSON error code (bad JSON, wrong
# types, huge bodies with and without Content-Length, bad base64, bad DER, wrong content type,
# nesting, unknown endpoints and methods) — after which the server still serves — the refusal
# codes of a real device's requests, revocation, metrics, and plain HTTP on loopback only.
SC_VG_BINS="SELFCERT_SPD SELFCERT_PROVD"   # under valgrind (lib.sh); the CLI runs there in other tests
source "$SC_TESTLIB"
source "$(dirname "$SC_TESTLIB")/lib-provd.sh"

provd_world testnet || exit 1

# --- net server-cert ---
check "server.key is 0600" [ "$(stat -c %a "$T/net/server.key")" = 600 ]
ok "server cert chains to the network root" openssl verify -CAfile "$T/net/root.pem" "$T/net/server.pem"
openssl x509 -in "$T/net/server.pem" -noout -text >"$T/server.txt"
check "server cert: serverAuth" grep -q "TLS Web Server Authentication" "$T/server.txt"
check "server cert: SAN IP and DNS" grep -q "IP Address:127.0.0.1, DNS:localhost" "$T/server.txt"
check "server cert: not a CA" grep -q "CA:FALSE" "$T/server.txt"
refused "server-cert twice" 3 exists sc net server-cert --dir "$T/net" --host 127.0.0.1
refused "server-cert bad host" 2 usage sc net server-cert --dir "$T/n2" --host "bad_host!"
refused "server-cert no host" 2 usage sc net server-cert --dir "$T/net"
refused "server-cert no network" 3 io sc net server-cert --dir "$T/none" --host a.example

# --- the registry commands ---
for v in add revoke list show import; do
  ok "net device $v --help" sc net device $v --help
  check "net device $v usage" grep -q "^usage: selfcert net device $v" "$T/.out"
done
ok "net server-cert --help" sc net server-cert --help
check "net server-cert usage" grep -q "^usage: selfcert net server-cert" "$T/.out"
refused "net device without verb" 2 usage sc net device
refused "net device bad verb" 2 usage sc net device frobnicate --db "$T/reg.db"
refused "list before the registry exists" 3 io sc net device list --db "$T/reg.db"
ok "add two devices" sc net device add --db "$T/reg.db" --device-id DEV-1 --device-id DEV-2 --note "first batch"
check "registry is 0600" [ "$(stat -c %a "$T/reg.db")" = 600 ]
refused "add an existing device" 3 exists sc net device add --db "$T/reg.db" --device-id DEV-3 --device-id DEV-1
refused "nothing of a refused add" 1 not-found sc net device show --db "$T/reg.db" --device-id DEV-3
refused "add a bad ID" 2 usage sc net device add --db "$T/reg.db" --device-id "bad*id"
printf 'device_id,note\n# the activation feed\nDEV-3,"rack 7, shelf 2"\r\nDEV-4\nDEV-1,again\n' >"$T/feed.csv"
ok "import the feed" sc net device import --db "$T/reg.db" --csv "$T/feed.csv"
check "import counts" grep -q "imported 2 devices from .* (1 already registered)" "$T/.out"
printf 'DEV-5\nDEV-6,a,b\n' >"$T/bad.csv"
refused "import a bad line" 1 malformed sc net device import --db "$T/reg.db" --csv "$T/bad.csv"
check "the bad line is named" grep -q "bad.csv:2:" "$T/.err"
refused "nothing of a refused import" 1 not-found sc net device show --db "$T/reg.db" --device-id DEV-5
ok "list" sc net device list --db "$T/reg.db"
check "list shows four devices" [ "$(wc -l <"$T/.out")" -eq 4 ]
check "list line format" grep -q "^DEV-3 active 0 -$" "$T/.out"
ok "show" sc net device show --db "$T/reg.db" --device-id DEV-3
check "show the note" grep -q "^note: *rack 7, shelf 2$" "$T/.out"
ok "show --json" sc net device show --db "$T/reg.db" --device-id DEV-3 --json
check "show --json is one object" grep -q '^{"device_id":"DEV-3","status":"active"' "$T/.out"
refused "revoke unknown" 1 not-found sc net device revoke --db "$T/reg.db" --device-id DEV-9
ok "revoke DEV-4" sc net device revoke --db "$T/reg.db" --device-id DEV-4 --reason "returned to vendor"
ok "revoke DEV-4 again" sc net device revoke --db "$T/reg.db" --device-id DEV-4
check "already revoked said" grep -q "already revoked" "$T/.out"
ok "list revoked" sc net device list --db "$T/reg.db" --status revoked
check "one revoked" [ "$(cat "$T/.out")" = "DEV-4 revoked 0 -" ]
check "audit is append-only" bash -c "! sqlite3 '$T/reg.db' 'DELETE FROM audit' 2>/dev/null"
check "schema version 10 (17: pins, renewal periods, pins' chain verdicts, the unread time indexes dropped; 18: console; 10: PostgreSQL's only)" [ "$(db 'PRAGMA user_version')" = 10 ]
check "WAL mode" [ "$(db 'PRAGMA journal_mode')" = wal ]

# --- start-up refusals (exit 2 usage, 1 refused, 3 system) ---
P=(--db "$T/reg.db" --net-dir "$T/net" --mfr-root "$T/mfr/root.pem")
"$SELFCERT_PROVD" "${P[@]}" --listen 0.0.0.0:0 --insecure-http 2>"$T/.err"
check "plain HTTP off loopback refused" [ $? -eq 2 ]
check "plain HTTP refusal named" grep -q "insecure-http only on a loopback" "$T/.err"
"$SELFCERT_PROVD" "${P[@]}" --listen 127.0.0.1:0 2>"$T/.err"
check "TLS files required" [ $? -eq 2 ]
"$SELFCERT_PROVD" "${P[@]}" --listen 127.0.0.1:0 --tls-cert "$T/net/server.pem" --tls-key "$T/net/signer.key" 2>"$T/.err"
check "key of another certificate refused" [ $? -eq 1 ] && check "key-mismatch named" grep -q "key-mismatch" "$T/.err"
"$SELFCERT_PROVD" "${P[@]}" --listen 127.0.0.1:0 --insecure-http --profile-commit sometimes 2>"$T/.err"
check "--profile-commit other than durable/deferred refused" [ $? -eq 2 ] &&
  check "--profile-commit named" grep -q -- "--profile-commit: \"durable\" or \"deferred\", not 'sometimes'" "$T/.err"
echo '{"validity": "30d", "colour": "blue"}' >"$T/bad-policy.json"
"$SELFCERT_PROVD" "${P[@]}" --listen 127.0.0.1:0 --insecure-http --policy "$T/bad-policy.json" 2>"$T/.err"
check "unknown policy key refused" [ $? -eq 2 ] && check "policy key named" grep -q '"colour"' "$T/.err"
policy_refused() {  # policy_refused DESC TEXT: the server will not start on that policy file
  printf '%s' "$2" >"$T/p.json"
  "$SELFCERT_PROVD" "${P[@]}" --listen 127.0.0.1:0 --insecure-http --policy "$T/p.json" 2>"$T/.err"
  local rc=$?
  if [ "$rc" -ne 2 ] && [ "$rc" -ne 1 ]; then fail "$1: exit $rc"; elif ! grep -q "p.json" "$T/.err"; then
    fail "$1: the file is not named: $(cat "$T/.err")"; else pass; fi
}
policy_refused "policy truncated" '{"validity": "30d", "eku": ["clientAu'
policy_refused "policy with trailing data" '{"validity": "30d"} {}'
policy_refused "policy: validity of the wrong type" '{"validity": 30}'
policy_refused "policy: rate of the wrong type" '{"rate_limit": {"profiles": "ten", "window": "1h"}}'
policy_refused "policy: unknown algorithm" '{"algorithms": ["p256", "rsa1024"]}'
policy_refused "policy: unknown EKU" '{"eku": ["clientAuth", "frobnication"]}'
policy_refused "policy: not an object" '["validity", "30d"]'
policy_refused "policy: SAN of an unknown type" '{"san": ["dir:CN=x"]}'
policy_refused "policy: SAN with an unknown placeholder" '{"san": ["uri:spiffe://{network}/{serial}"]}'
policy_refused "policy: a dns: SAN outside the device's name" '{"san": ["dns:printer.example.com"]}'
check "the reason is named" grep -q 'policy "san"\[0\]: a dns: name must be {device_dns}' "$T/.err"
policy_refused "policy: SAN not a string" '{"san": [7]}'
policy_refused "policy oversize" "{\"validity\": \"30d\"$(head -c 20000 /dev/zero | tr '\0' ' ')}"
printf 'short\n' >"$T/short-token" && chmod 600 "$T/short-token"
"$SELFCERT_PROVD" "${P[@]}" --listen 127.0.0.1:0 --insecure-http --admin-token-file "$T/short-token" 2>"$T/.err"
check "a short operator token is refused" [ $? -eq 2 ] && check "token file named" grep -q "short-token" "$T/.err"
"$SELFCERT_PROVD" "${P[@]}" --listen 127.0.0.1:0 --insecure-http --rate-limit 10 2>"$T/.err"
check "bad --rate-limit refused" [ $? -eq 2 ]
(cd "$T" && "$SELFCERT_PROVD" --db postgresql://sc:s3cret@db.example/selfcert --net-dir "$T/net" \
  --mfr-root "$T/mfr/root.pem" --listen 127.0.0.1:0 --insecure-http 2>"$T/.err")
check "a PostgreSQL --db with a password refused" [ $? -eq 2 ] &&
  check "the refusal says why" grep -Eq "^selfcert-provd: usage: --db(: a password in the location is refused| postgresql://…: this build has no PostgreSQL backend)" "$T/.err"
check "the password not repeated" bash -c "! grep -q s3cret '$T/.err'"
check "no file made of the URI" [ ! -e "$T/postgresql:" ]

# --- the server, HTTPS ---
printf '{"validity": "2h", "algorithms": ["p256", "p384", "ed25519"], "eku": ["clientAuth", "serverAuth"],\n "rate_limit": {"profiles": 3, "window": "1h"},\n "san": ["uri:spiffe://{network}/device/{device}", "dns:api.{device_dns}", "ip:192.0.2.1"]}\n' >"$T/policy.json"
start_provd --policy "$T/policy.json" || exit 1
check "policy in the log" grep -q "validity 7200s, profile ttl 600s, algorithms p256 p384 ed25519" "$T/provd.log"
# The server's certificate names its hosts as subjectAltNames (net server-cert --host): Python's
# ssl checks the host name against them (issue 14: Python refused a certificate without SAN).
python3 - "$PROVD_PORT" "$T/net/root.pem" >"$T/py-healthz" 2>&1 <<'PY'
import ssl, sys, urllib.request
ctx = ssl.create_default_context(cafile=sys.argv[2])
for host in ("localhost", "127.0.0.1"):
    with urllib.request.urlopen("https://%s:%s/healthz" % (host, sys.argv[1]), context=ctx) as r:
        print(host, r.status)
PY
check "Python ssl verifies the server by host name and address" \
  bash -c "grep -qx 'localhost 200' '$T/py-healthz' && grep -qx '127.0.0.1 200' '$T/py-healthz'"
api GET /healthz
api_is "healthz" 200
# An answer without a body (HEAD: MHD sends the status line and headers only) comes at once, on a
# kept-alive connection too: the guard a change to how provd pushes its TLS records needs
# (sys16's, withdrawn, would have held a head with no body after it; PERFORMANCE.md 23.1).
HEADS=$(curl -sS --cacert "$T/net/root.pem" --max-time 5 -w '%{http_code} ' -I \
  -o /dev/null "$PROVD_URL/healthz" -o /dev/null "$PROVD_URL/healthz" 2>"$T/.curl")
check "HEAD twice on one connection: answered at once, 405 (GET only) ($HEADS)" \
  [ "$HEADS" = "405 405 " ]
check "healthz body" grep -q '"status":"ok","network_id":"testnet"' "$T/.api"
curl -sS "$PROVD_URL/healthz" >/dev/null 2>&1
check "the system trust store does not know the server" [ $? -ne 0 ]
curl -sS --cacert "$T/mfr/root.pem" "$PROVD_URL/healthz" >/dev/null 2>&1
check "the manufacturer root does not vouch for the server" [ $? -ne 0 ]
api GET /v1/devices/DEV-3
api_is "device status" 200
check "status fields" grep -q '"device_id":"DEV-3","status":"active"' "$T/.api"

# --- malformed requests: each its status and code; the server serves on ---
m() {  # m DESC STATUS CODE BODY [curl args…]
  local desc=$1 st=$2 code=$3 body=$4; shift 4
  printf '%s' "$body" >"$T/body"
  api POST /v1/profiles -H 'Content-Type: application/json' --data-binary "@$T/body" "$@"
  api_is "$desc" "$st" "$code"
}
m "bad JSON" 400 malformed-json '{"chain": '
m "not an object" 400 malformed-json '["chain"]'
m "trailing garbage" 400 malformed-json '{} {}'
m "duplicate key" 400 malformed-json '{"alg":"p256","alg":"p384"}'
m "too deep" 400 json-too-deep '{"a":[[[[[[[[[[1]]]]]]]]]]}'
m "unknown field" 400 unknown-field '{"chainz":"x"}'
m "missing field" 400 missing-field '{"kex":"AAAA"}'
m "wrong type: number" 400 wrong-type '{"chain":42,"kex":"AAAA"}'
m "wrong type: bool" 400 wrong-type '{"server_keygen":"true"}'
m "wrong type: object" 400 wrong-type '{"challenge":{}}'
m "bad base64" 400 bad-base64 '{"chain":"not base64!","kex":"AAAA"}'
m "bad base64 padding" 400 bad-base64 '{"chain":"AAA=A===","kex":"AAAA"}'
m "bad DER" 400 bad-der '{"chain":"MIIBAAAA","kex":"AAAA"}'
m "bad PEM" 400 bad-der '{"chain":"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n","kex":"AAAA"}'
api POST /v1/profiles -H 'Content-Type: text/plain' --data-binary '{}'
api_is "wrong content type" 415 unsupported-media-type
api POST /v1/profiles --data-binary '{}' -H 'Content-Type:'
api_is "no content type" 415 unsupported-media-type
head -c 70000 /dev/zero | tr '\0' ' ' >"$T/huge"
# Expect: 100-continue, so that curl waits for the verdict instead of racing it with the body.
api POST /v1/profiles -H 'Content-Type: application/json' -H 'Expect: 100-continue' --data-binary "@$T/huge"
api_is "huge body (Content-Length)" 413 body-too-large
api POST /v1/profiles -H 'Content-Type: application/json' -H 'Transfer-Encoding: chunked' --data-binary "@$T/huge"
api_is "huge body (chunked)" 413 body-too-large
head -c 2000000 /dev/zero | tr '\0' ' ' >"$T/enormous"
api POST /v1/profiles -H 'Content-Type: application/json' -H 'Transfer-Encoding: chunked' --data-binary "@$T/enormous"
# Past 16 x 64 KiB of a body without Content-Length the server hangs up (libmicrohttpd cannot
# queue an answer in the middle of an upload).
cut=0; { [ "$HTTP" = 000 ] || [ "$HTTP" = 413 ]; } && cut=1
check "an endless chunked body is cut off (HTTP $HTTP: $(head -c 80 "$T/.curl"))" [ "$cut" = 1 ]
api GET /v1/nothing
api_is "unknown endpoint" 404 not-found
api DELETE /v1/profiles
api_is "wrong method" 405 method-not-allowed
api GET "/v1/devices/bad%2Aid"
api_is "bad device ID in the path" 400 bad-value
api GET /v1/devices/DEV-77
api_is "unknown device status" 404 unknown-device
api GET /healthz
api_is "serves on after all that" 200

# --- a real device's requests ---
provd_device d1 DEV-1 || exit 1
provd_device d9 DEV-9 || exit 1           # not in the registry
chain_json() {  # chain_json NAME CHALLENGE [extra JSON members] > file
  printf '{"chain":"%s","kex":"%s","challenge":"%s"%s}' \
    "$(awk 'BEGIN{ORS="\\n"} {print}' "$T/$1-certs/chain.pem")" \
    "$(awk 'BEGIN{ORS="\\n"} {print}' "$T/$1-certs/kex.pem")" "$2" "${3:-}"
}
proved_json() {  # proved_json NAME CHALLENGE > file: chain_json with the SP's request proof
  chain_json "$1" "$2" ",\"proof\":$(sc device proof --sp "$T/$1.sock" --challenge "$2" \
    --chain "$T/$1-certs/chain.pem" --kex "$T/$1-certs/kex.pem")"
}
CH=$(sc device challenge --sp "$T/d1.sock")
proved_json d1 "$CH" >"$T/req1.json"
api_json POST /v1/profiles "$T/req1.json"
api_is "profile for DEV-1" 201
check "answer names the device" grep -q '"device_id":"DEV-1","network_id":"testnet","key_origin":"device","alg":"p256"' "$T/.api"
json_field profile <"$T/.api" | base64 -d >"$T/p1.der"
PID1=$(json_field profile_id <"$T/.api")
ok "the SP accepts the server's profile" sc device issue --sp "$T/d1.sock" --profile "$T/p1.der" --out "$T/leaf1.pem"
ok "the certificate verifies with the profile" sc verify --mfr-root "$T/mfr/root.pem" --chain "$T/d1-certs/chain.pem" \
  --net-root "$T/net/root.pem" --profile "$T/p1.der" "$T/leaf1.pem"
openssl x509 -in "$T/leaf1.pem" -noout -text >"$T/leaf1.txt"
check "policy EKU in the leaf" grep -q "TLS Web Client Authentication, TLS Web Server Authentication" "$T/leaf1.txt"
check "policy SANs in the leaf, after the device's DNS name" grep -q \
  "DNS:dev-1.selfcert.invalid, URI:spiffe://testnet/device/DEV-1, DNS:api.dev-1.selfcert.invalid, IP Address:192.0.2.1" "$T/leaf1.txt"
api_json POST /v1/profiles "$T/req1.json"
api_is "the same request again (replay)" 409 replay
printf '{"certificate":"%s"}' "$(awk 'BEGIN{ORS="\\n"} {print}' "$T/leaf1.pem")" >"$T/cert1.json"
api_json POST /v1/certificates "$T/cert1.json"
api_is "certificate returned" 201
check "certificate answer" grep -q "\"status\":\"registered\",\"device_id\":\"DEV-1\",\"profile_id\":\"$PID1\"" "$T/.api"
api_json POST /v1/certificates "$T/cert1.json"
api_is "returned again: idempotent" 200
check "already registered" grep -q '"status":"already-registered"' "$T/.api"
printf '{"certificate":"%s"}' "$(openssl x509 -in "$T/leaf1.pem" -outform DER | base64 -w0)" >"$T/cert1b.json"
api_json POST /v1/certificates "$T/cert1b.json"
api_is "returned again as base64 DER" 200
# A profile this server never issued (the operator's CLI signed it with the same key).
CH=$(sc device challenge --sp "$T/d1.sock")
ok "a profile outside the server" sc net profile --dir "$T/net" --device-ca "$T/d1-certs/device-ca.pem" \
  --challenge "$CH" --validity 1h --out "$T/outside.der"
ok "the SP issues it" sc device issue --sp "$T/d1.sock" --profile "$T/outside.der" --out "$T/outside.pem"
printf '{"certificate":"%s"}' "$(awk 'BEGIN{ORS="\\n"} {print}' "$T/outside.pem")" >"$T/outside.json"
api_json POST /v1/certificates "$T/outside.json"
api_is "certificate for a profile never issued" 422 profile-unknown
# ref10: read once (the judge's read), reported after the certificate's parse with its detail.
check "its detail names the profile" grep -q '"detail":"the certificate names profile [0-9a-f]\{32\}, which this server never issued"' "$T/.api"
api GET /v1/devices/DEV-1
check "status: one certificate" grep -q '"certificates_registered":1,"certificate":{"serial":"'"$(serial_of "$T/leaf1.pem")"'"' "$T/.api"
chain_json d1 "zz" >"$T/req-hex.json"
api_json POST /v1/profiles "$T/req-hex.json"
api_is "challenge not hex" 400 bad-hex
chain_json d1 "00ff" >"$T/req-short.json"
api_json POST /v1/profiles "$T/req-short.json"
api_is "challenge too short" 400 bad-value
# Refusals of the device itself.
CH=$(sc device challenge --sp "$T/d9.sock")
chain_json d9 "$CH" >"$T/req9.json"
api_json POST /v1/profiles "$T/req9.json"
api_is "unknown device" 403 unknown-device
chain_json d1 "$(sc device challenge --sp "$T/d1.sock")" ',"alg":"rsa2048"' >"$T/req-rsa.json"
api_json POST /v1/profiles "$T/req-rsa.json"
api_is "algorithm outside the policy" 422 algorithm
chain_json d1 "$(sc device challenge --sp "$T/d1.sock")" ',"server_keygen":true' >"$T/req-kg.json"
api_json POST /v1/profiles "$T/req-kg.json"
api_is "server keygen off" 422 policy
printf '{"chain":"%s","kex":"%s","challenge":"%s"}' \
  "$(awk 'BEGIN{ORS="\\n"} {print}' "$T/d1-certs/device-ca.pem")" "$(awk 'BEGIN{ORS="\\n"} {print}' "$T/d1-certs/kex.pem")" \
  "$(sc device challenge --sp "$T/d1.sock")" >"$T/req-nochain.json"
api_json POST /v1/profiles "$T/req-nochain.json"
api_is "chain without the manufacturer CA" 422 chain
printf '{"chain":"%s","kex":"%s","challenge":"%s"}' \
  "$(awk 'BEGIN{ORS="\\n"} {print}' "$T/d1-certs/chain.pem")" "$(awk 'BEGIN{ORS="\\n"} {print}' "$T/d9-certs/kex.pem")" \
  "$(sc device challenge --sp "$T/d1.sock")" >"$T/req-kex.json"
api_json POST /v1/profiles "$T/req-kex.json"
api_is "another device's KEK" 422 kek-mismatch
# Rate: three per hour in this policy; DEV-1 had one (its requests carry the SP's proof: the
# device's own budget; the unauthenticated ones above count in 127.0.0.1's).
proved_json d1 "$(sc device challenge --sp "$T/d1.sock")" >"$T/r2.json"
api_json POST /v1/profiles "$T/r2.json"
api_is "second profile of the hour" 201
proved_json d1 "$(sc device challenge --sp "$T/d1.sock")" >"$T/r3.json"
api_json POST /v1/profiles "$T/r3.json"
api_is "third profile of the hour" 201
proved_json d1 "$(sc device challenge --sp "$T/d1.sock")" >"$T/r4.json"
api_json POST /v1/profiles "$T/r4.json" -D "$T/headers"
api_is "fourth profile of the hour" 429 rate-limited
check "Retry-After sent" grep -qi "^retry-after: [0-9]" "$T/headers"

# --- revocation over the API (operator token) ---
api POST /v1/devices/DEV-1/revoke
api_is "revoke without a token" 401 unauthorized
api POST /v1/devices/DEV-1/revoke -H "Authorization: Bearer wrong-token-wrong-token"
api_is "revoke with a wrong token" 401 unauthorized
printf '{"reason":"key compromise"}' >"$T/reason.json"
api_json POST /v1/devices/DEV-1/revoke "$T/reason.json" -H "Authorization: Bearer $PROVD_TOKEN"
api_is "revoke" 200
chain_json d1 "$(sc device challenge --sp "$T/d1.sock")" >"$T/r5.json"
api_json POST /v1/profiles "$T/r5.json"
api_is "revoked device refused a profile" 403 revoked
api_json POST /v1/certificates "$T/cert1.json"
api_is "revoked device's certificate refused" 403 revoked
ok "the CLI sees the revocation" sc net device show --db "$T/reg.db" --device-id DEV-1
check "revocation reason" grep -q "^revoked: .*key compromise" "$T/.out"
check "audit names the operator" grep -q "device-revoked .*(operator admin (127.0.0.1))" "$T/.out"

# --- metrics ---
api GET /metrics
api_is "metrics" 200
check "profiles issued" grep -q '^selfcert_provd_profiles_issued_total{origin="device"} 3$' "$T/.api"
check "certificates registered" grep -q '^selfcert_provd_certificates_registered_total 1$' "$T/.api"
check "refusals by reason" grep -q '^selfcert_provd_refusals_total{reason="replay"} 1$' "$T/.api"
check "body-too-large counted" grep -q '^selfcert_provd_refusals_total{reason="body-too-large"} [23]$' "$T/.api"
check "latency histogram" grep -q '^selfcert_provd_request_duration_seconds_bucket{endpoint="profiles",le="+Inf"} [1-9]' "$T/.api"
check "registry gauges" grep -q '^selfcert_provd_devices{status="revoked"} 2$' "$T/.api"
check "no 5xx answered" bash -c "! grep -q ' 5[0-9][0-9] [0-9.]*ms' '$T/provd.log'"
check "no private key material logged" bash -c "! grep -qi 'PRIVATE' '$T/provd.log'"
ok "SIGTERM stops the server cleanly" stop_provd
check "stopping logged" grep -q "selfcert-provd: stopping" "$T/provd.log"

# --- connection limit and idle timeout (one worker, three connections, two seconds) ---
"$SELFCERT_PROVD" "${P[@]}" --listen 127.0.0.1:0 --tls-cert "$T/net/server.pem" --tls-key "$T/net/server.key" \
  --threads 1 --max-connections 3 --timeout 2 --port-file "$T/lim.port" 2>>"$T/provd-lim.log" &
LPID=$!
for _ in $(seq 1 "$SC_VG_WAIT"); do [ -s "$T/lim.port" ] && break; sleep 0.05; done
LPORT=$(cat "$T/lim.port")
exec 4<>"/dev/tcp/127.0.0.1/$LPORT" 5<>"/dev/tcp/127.0.0.1/$LPORT" 6<>"/dev/tcp/127.0.0.1/$LPORT"
sleep 0.2
# (Not accepted: it waits in the listen queue; well under the idle timeout that would free a slot.)
curl -sS --cacert "$T/net/root.pem" --max-time 1 "https://127.0.0.1:$LPORT/healthz" >/dev/null 2>&1
check "a fourth connection is not served" [ $? -eq 28 ]
exec 4>&- 5>&- 6>&-
sleep 0.2
check "served again once they close" curl -sf --cacert "$T/net/root.pem" --max-time 5 "https://127.0.0.1:$LPORT/healthz" -o /dev/null
exec 4<>"/dev/tcp/127.0.0.1/$LPORT"
start=$SECONDS
timeout 10 cat <&4 >/dev/null
rc=$?
exec 4>&-
check "an idle connection is closed by the server (after $((SECONDS - start)) s)" [ "$rc" -ne 124 ]
kill "$LPID"; wait "$LPID"

# --- plain HTTP on loopback (tests only) ---
"$SELFCERT_PROVD" "${P[@]}" --listen 127.0.0.1:0 --insecure-http --port-file "$T/http.port" 2>>"$T/provd-http.log" &
HPID=$!
for _ in $(seq 1 "$SC_VG_WAIT"); do [ -s "$T/http.port" ] && break; sleep 0.05; done
check "plain HTTP serves" curl -sf "http://127.0.0.1:$(cat "$T/http.port")/healthz" -o /dev/null
kill "$HPID"; wait "$HPID"
check "plain HTTP server stops with 0" [ $? -eq 0 ]
ok "registry intact" sqlite3 "$T/reg.db" "PRAGMA integrity_check"
check "integrity ok" [ "$(cat "$T/.out")" = ok ]
finish
