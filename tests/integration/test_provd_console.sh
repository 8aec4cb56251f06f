#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The operator's console (issue 18): its files from inside selfcert-provd with the security
# headers, sign-in with an operator token to an HttpOnly/Secure/SameSite=Strict session kept in
# the registry (only its hash), the exact refusals (no session: 401 unauthorized; a change without
# the CSRF token: 403 csrf; console off without operator credentials: 403 admin-disabled), every
# console action audited under the operator's name, the audit export; then a real browser
# (console_browser.py, headless Chromium) over a registry of 3,000 devices: sign in, keyboard-only
# search and revoke, the revocation in the list and the audit log, a hostile note inert, the
# phone width, sign-out; and the revoked device's agent refused afterwards.
# Not under valgrind: Chromium waiting on a provd under memcheck takes minutes, and the console's
# C paths run natively here and under ASan through the same requests (curl part).
SC_VG_BINS="SELFCERT_PROVD"
source "$SC_TESTLIB"
source "$(dirname "$SC_TESTLIB")/lib-provd.sh"
if [ "$SC_VALGRIND" = 1 ]; then
  echo "test_provd_console: skipped under valgrind (a browser against memcheck is minutes)"; exit 77
fi

provd_world consolenet || exit 1
OPS=$T/ops
sc net operator add alice --operators "$OPS" --out "$T/alice.tok" >/dev/null || exit 1
ALICE=$(cat "$T/alice.tok")

# --- off without operator credentials ---
"$SELFCERT_PROVD" --db "$REG_DB" --net-dir "$T/net" --mfr-root "$T/mfr/root.pem" \
  --listen 127.0.0.1:0 --tls-cert "$T/net/server.pem" --tls-key "$T/net/server.key" \
  --port-file "$T/off.port" 2>"$T/off.log" &
OFF_PID=$!
for _ in $(seq 1 200); do [ -s "$T/off.port" ] && break; sleep 0.05; done
OFF_URL="https://127.0.0.1:$(cat "$T/off.port")"
HTTP=$(curl -sS --cacert "$T/net/root.pem" -o "$T/.api" -w '%{http_code}' "$OFF_URL/console/")
api_is "no operator credentials: the console is off" 403 admin-disabled
HTTP=$(curl -sS --cacert "$T/net/root.pem" -o "$T/.api" -w '%{http_code}' -H 'Content-Type: application/json' \
  --data "{\"token\":\"$ALICE\"}" "$OFF_URL/console/api/session")
api_is "… and its sign-in" 403 admin-disabled
kill "$OFF_PID"; wait "$OFF_PID" 2>/dev/null

# --- a registry of a few thousand devices, one of them enrolled, one with a hostile note ---
XSS_NOTE='<script>window.__xss=1</script>"><img src=x onerror="window.__xss=2">'
{
  echo 'device_id,note'
  for i in $(seq -w 1 3000); do echo "dev-$i,batch $((10#$i % 7))"; done
  printf 'XSS-1,"%s"\n' "${XSS_NOTE//\"/\"\"}"
  echo 'web-0042,the enrolled one'
} >"$T/fleet.csv"
start_provd --operators "$OPS" || exit 1
api POST /v1/operator/devices/import -H "Authorization: Bearer $ALICE" -H 'Content-Type: text/csv' \
  --data-binary "@$T/fleet.csv"
api_is "3,002 devices imported" 200
check "import counts" grep -qx '{"added":3002,"already_registered":0}' "$T/.api"
provd_device w web-0042 || exit 1
ok "web-0042 enrolls" agent w --once

# --- the files and their headers ---
curl -sS --cacert "$T/net/root.pem" -D "$T/h" -o "$T/index.html" "$PROVD_URL/console/"
check "the page is served" grep -q '<script src="/console/app.js" defer></script>' "$T/index.html"
check "no inline script in the page" [ "$(grep -c '<script>' "$T/index.html")" = 0 ]
check "CSP: scripts from here only, no framing" grep -qi "^content-security-policy: default-src 'none'; script-src 'self'; .*frame-ancestors 'none'" "$T/h"
check "nosniff" grep -qi '^x-content-type-options: nosniff' "$T/h"
check "html type" grep -qi '^content-type: text/html; charset=utf-8' "$T/h"
curl -sS --cacert "$T/net/root.pem" -D "$T/h" -o "$T/app.js" "$PROVD_URL/console/app.js"
check "the script is served as JavaScript" grep -qi '^content-type: text/javascript' "$T/h"
check "the script never writes markup" [ "$(grep -c 'innerHTML\|outerHTML\|insertAdjacentHTML\|document.write' "$T/app.js")" = 0 ]
api GET /console/nothing.js; api_is "an unknown file" 404 not-found
api POST /console/app.js; api_is "files answer GET only" 405 method-not-allowed

# --- sessions: the exact refusals ---
api GET /console/api/overview; api_is "no session: refused" 401 unauthorized
api GET /console/api/overview -H "Cookie: __Host-sc_console=$(printf '%064d' 0)"
api_is "a made-up session: refused" 401 unauthorized
printf '{"token":"scop_not-a-token-of-anyone-000000000000000000"}' >"$T/bad.json"
api_json POST /console/api/session "$T/bad.json"; api_is "a wrong token: refused" 401 unauthorized
check "the failed sign-in is audited" [ "$(db "SELECT count(*) FROM audit WHERE event='operator-auth-failed'")" -ge 1 ]
api POST /console/api/session -H 'Content-Type: text/plain' --data "{\"token\":\"$ALICE\"}"
api_is "sign-in is JSON only (no cross-site form can send it)" 415 unsupported-media-type
printf '{"token":"%s"}' "$ALICE" >"$T/in.json"
api_json POST /console/api/session "$T/in.json" -D "$T/h"; api_is "alice signs in" 200
check "Set-Cookie: __Host-, Secure, HttpOnly, SameSite=Strict, 30 minutes" \
  grep -qiE '^set-cookie: __Host-sc_console=[0-9a-f]{64}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=1800' "$T/h"
SID=$(sed -n 's/^[Ss]et-[Cc]ookie: __Host-sc_console=\([0-9a-f]*\);.*/\1/p' "$T/h")
CSRF=$(json_field csrf <"$T/.api")
check "the answer names the operator" grep -q '"operator":"alice"' "$T/.api"
check "the registry keeps the session's hash, not the cookie" \
  [ "$(db "SELECT count(*) FROM console_sessions WHERE id_hash = '$(printf '%s' "$SID" | sha256sum | cut -d' ' -f1)'")" = 1 ]
check "… and never the cookie itself" [ "$(db "SELECT count(*) FROM console_sessions WHERE id_hash = '$SID'")" = 0 ]
C=(-H "Cookie: __Host-sc_console=$SID")
# The cookie's decoder: exactly 64 lower-case hex digits, anything else is no session at all.
for bad in "${SID:0:63}" "${SID}0" "$(printf '%s' "$SID" | tr 'a-f' 'A-F')" "${SID:0:63}g" "\"$SID\"" ""; do
  api GET /console/api/session -H "Cookie: __Host-sc_console=$bad"
  api_is "a session cookie of another shape (${#bad} bytes): no session" 401 unauthorized
done
api GET /console/api/session -H "Cookie: theme=dark; __Host-sc_console=$SID; lang=en"
api_is "the session cookie among others" 200
api GET /console/api/session -H "Cookie: x__Host-sc_console=$SID"
api_is "a cookie whose name only ends like it: no session" 401 unauthorized
# The sign-in body: the JSON rules of every endpoint.
printf '{"token":42}' >"$T/b.json"; api_json POST /console/api/session "$T/b.json"
api_is "sign-in: a token of the wrong type" 400 wrong-type
printf '{}' >"$T/b.json"; api_json POST /console/api/session "$T/b.json"
api_is "sign-in: no token" 400 missing-field
printf '{"token":"%s"}' "$(head -c 300 /dev/zero | tr '\0' a)" >"$T/b.json"; api_json POST /console/api/session "$T/b.json"
api_is "sign-in: a token over 256 bytes" 400 bad-value
printf '{"token":"%s","user":"alice"}' "$ALICE" >"$T/b.json"; api_json POST /console/api/session "$T/b.json"
api_is "sign-in: an unknown field" 400 unknown-field
printf '{"token":"%s"' "$ALICE" >"$T/b.json"; api_json POST /console/api/session "$T/b.json"
api_is "sign-in: truncated JSON" 400 malformed-json
printf '{"token":"%s"} {}' "$ALICE" >"$T/b.json"; api_json POST /console/api/session "$T/b.json"
api_is "sign-in: trailing data" 400 malformed-json
api GET /console/api/overview "${C[@]}"; api_is "overview with the session" 200
check "overview counts" grep -q '"devices":{"active":3002,"revoked":0,"never_enrolled":3001}' "$T/.api"
check "overview: the enrolled one expires within 24 h ($(grep -o '"certificates":{[^}]*}' "$T/.api"))" grep -q '"certificates":{"expiring_24h":1,"expiring_7d":1,"expired":0}' "$T/.api"
api GET /console/api/devices?prefix=dev-001 "${C[@]}"; api_is "search" 200
check "search: ten devices" [ "$(grep -o '"device_id"' "$T/.api" | wc -l)" = 10 ]
api GET /console/api/audit?limit=0 "${C[@]}"; api_is "audit limit 0" 400 bad-value
api GET /console/api/audit?format=xml "${C[@]}"; api_is "audit format xml" 400 bad-value
api GET "/console/api/audit?since=yesterday" "${C[@]}"; api_is "audit since: not a time" 400 bad-value
api GET /console/api/audit?colour=red "${C[@]}"; api_is "audit: an unknown parameter" 400 unknown-field
api GET /console/api/policy "${C[@]}"; api_is "policy" 200
check "policy names the network" grep -q '"network_id":"consolenet"' "$T/.api"
printf '{"reason":"forged"}' >"$T/rev.json"
api_json POST /console/api/devices/dev-0001/revoke "$T/rev.json" "${C[@]}"
api_is "revoke without the CSRF token: refused" 403 csrf
api_json POST /console/api/devices/dev-0001/revoke "$T/rev.json" "${C[@]}" -H "X-CSRF-Token: $(printf '%064d' 0)"
api_is "revoke with a wrong CSRF token: refused" 403 csrf
api_json POST /console/api/devices/dev-0001/revoke "$T/rev.json" "${C[@]}" -H "X-CSRF-Token: ${CSRF:0:63}"
api_is "revoke with a truncated CSRF token: refused" 403 csrf
api_json POST /console/api/devices/dev-0001/revoke "$T/rev.json" "${C[@]}" -H "X-CSRF-Token: ${CSRF}0"
api_is "revoke with a CSRF token and more: refused" 403 csrf
api_json POST /console/api/devices/dev-0001/revoke "$T/rev.json" -H "X-CSRF-Token: $CSRF"
api_is "revoke with the token but no session: refused" 401 unauthorized
check "dev-0001 is still active" [ "$(db "SELECT status FROM devices WHERE device_id='dev-0001'")" = active ]
api POST /console/api/session/end "${C[@]}"; api_is "sign-out without the CSRF token: refused" 403 csrf
api GET "/console/api/audit?format=csv&event=console-sign-in" "${C[@]}" -D "$T/h"; api_is "CSV export" 200
check "CSV: text/csv, an attachment" grep -qi '^content-disposition: attachment; filename="selfcert-audit.csv"' "$T/h"
check "CSV: the header row and the sign-in" grep -q '^"seq","at","actor","event","device_id","detail"$' "$T/.api"
check "CSV: alice's sign-in" grep -q '"operator alice (127.0.0.1)","console-sign-in"' "$T/.api"
check "the export is audited" [ "$(db "SELECT count(*) FROM audit WHERE event='console-audit-export' AND actor='operator alice (127.0.0.1)'")" = 1 ]
api POST /console/api/session/end "${C[@]}" -H "X-CSRF-Token: $CSRF" -H 'Content-Type: application/json'
api_is "sign-out" 200
api GET /console/api/overview "${C[@]}"; api_is "the session is over on the server" 401 unauthorized
check "sign-in and sign-out audited under alice" \
  [ "$(db "SELECT count(*) FROM audit WHERE event IN ('console-sign-in','console-sign-out') AND actor='operator alice (127.0.0.1)'")" = 2 ]

# --- a removed operator's session ends at once ---
api_json POST /console/api/session "$T/in.json" -D "$T/h"; api_is "alice signs in again" 200
SID=$(sed -n 's/^[Ss]et-[Cc]ookie: __Host-sc_console=\([0-9a-f]*\);.*/\1/p' "$T/h")
cp "$OPS" "$T/ops.keep"
ok "alice removed" sc net operator remove alice --operators "$OPS"
api GET /console/api/overview -H "Cookie: __Host-sc_console=$SID"
api_is "a removed operator's session is refused" 401 unauthorized
check "… saying why" grep -q 'operator alice may no longer act' "$T/.api"
cp "$T/ops.keep" "$OPS"

# --- the browser ---
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ] || ! /usr/bin/python3 -c 'import selenium' 2>/dev/null; then
  fail "the browser test needs chromium, chromium-driver and python3-selenium (scripts/deps.d/console.txt)"
else
  mkdir -p "$T/browser" "$T/shots"
  CONSOLE_URL=$PROVD_URL CONSOLE_TOKEN=$ALICE CONSOLE_DEVICE=web-0042 CONSOLE_PREFIX=web-00 \
    CONSOLE_XSS=XSS-1 CONSOLE_XSS_NOTE=$XSS_NOTE CONSOLE_OUT=$T/browser \
    CONSOLE_SHOTS=${SC_CONSOLE_SHOTS:-$T/shots} HOME=$T/browser \
    timeout 120 /usr/bin/python3 "$(dirname "$0")/console_browser.py" >"$T/browser.out" 2>"$T/browser.err"
  rc=$?
  while read -r line; do
    case $line in
      ok\ *) pass ;;
      FAIL\ *) fail "browser: ${line#FAIL }" ;;
    esac
  done <"$T/browser.out"
  check "the browser run finished (exit $rc: $(tail -n 3 "$T/browser.err" | tr '\n' ' '))" [ "$rc" = 0 ]
  check "the browser made its checks" [ "$(grep -c "^ok " "$T/browser.out")" -ge 37 ]
  check "web-0042 revoked in the registry, by alice" \
    [ "$(db "SELECT actor || ' ' || reason FROM revocations WHERE device_id='web-0042'")" = "operator alice (127.0.0.1) lost in transit" ]
  # The cookie the browser held: dead on the server after its sign-out.
  api GET /console/api/overview -H "Cookie: __Host-sc_console=$(cat "$T/browser/cookie" 2>/dev/null)"
  api_is "the browser's session is over after its sign-out" 401 unauthorized
  agent_refused "the revoked device's agent is refused" 1 revoked w --once --force-renew
fi

finish
