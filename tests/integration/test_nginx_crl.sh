#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# nginx ssl_crl with device chains, end to end (issue 14 item 5): the agent sends its SP's device
# CA CRL (SP request CRL, revision 1.3) with each certificate, provd keeps the newest per device
# (registry schema 4) and serves GET /v1/crls (the manufacturer's CRLs given with --mfr-crl, then
# every active device's unexpired device CA CRL), `net revoked fetch --crl-bundle` writes it for
# nginx. nginx (ssl_verify_client on, ssl_verify_depth 3, ssl_crl BUNDLE) then admits a good
# device, refuses one whose device CA the manufacturer revoked (certificate revoked) and one
# revoked in the registry (its CRL drops out: unable to get certificate CRL). Also provd's checks
# of a "crl" field and the agent with an older SP.
SC_VG_BINS="SELFCERT_PROVD"   # nginx and the clients never under valgrind
source "$SC_TESTLIB"
source "$(dirname "$SC_TESTLIB")/lib-provd.sh"
source "$SC_PKCS11_LIB"   # free_port, wait_port

provd_world crlnet || exit 1
for d in good:DEV-GOOD stolen:DEV-STOLEN gone:DEV-GONE old:DEV-OLD; do
  provd_device "${d%%:*}" "${d#*:}" || exit 1
done
sc net device add --db "$REG_DB" --device-id DEV-GOOD --device-id DEV-STOLEN --device-id DEV-GONE \
  --device-id DEV-OLD >/dev/null || exit 1
sc mfr revoke --dir "$T/mfr" >/dev/null || exit 1   # ca.crl (empty) and root.crl
start_provd --mfr-crl "$T/mfr/ca.crl" --mfr-crl "$T/mfr/root.crl" || exit 1

# ---- the agent sends its CRL; provd keeps it ----
for d in good stolen gone; do ok "enroll $d" agent "$d" --once; done
check "provd kept 3 device CRLs" [ "$(db 'SELECT count(*) FROM device_crls')" = 3 ]
check "provd logs crl=kept" grep -q "crl=kept" "$T/provd.log"
# An SP of revision 1.2 has no CRL: the agent enrolls without one, and says so.
stop_spd old; start_spd old --revision 1.2 || exit 1
ok "enroll with an SP of revision 1.2" agent old --once
check "the agent says why there is no CRL" grep -q "no device CA CRL for the server (unknown-request" "$T/.err"
check "no CRL kept for it" [ "$(db "SELECT count(*) FROM device_crls WHERE device_id = 'DEV-OLD'")" = 0 ]

# ---- GET /v1/crls ----
api GET /v1/crls
check "GET /v1/crls: 200 ($HTTP)" [ "$HTTP" = 200 ]
check "5 CRLs: the manufacturer's 2 and 3 devices'" [ "$(grep -c 'BEGIN X509 CRL' "$T/.api")" = 5 ]
F=(sc net revoked fetch --url "$PROVD_URL/v1/revoked" --ca "$T/net/root.pem" --net-root "$T/net/root.pem"
   --out "$T/revoked.json")
ok "fetch --crl-bundle" "${F[@]}" --crl-bundle "$T/bundle.pem"
check "says how many" grep -q "bundle.pem: 5 CRL(s)" "$T/.out"
refused "--crl-bundle with a --url not ending in /v1/revoked" 2 usage \
  sc net revoked fetch --url "$PROVD_URL/x" --net-root "$T/net/root.pem" --out "$T/r2.json" --crl-bundle "$T/b2.pem"

# ---- provd's checks of a "crl" (each refusal bad-value, naming the field; nothing recorded) ----
# A fresh profile and certificate for DEV-GOOD by hand, then POSTs with hostile CRLs.
post_cert() {  # post_cert CRL-FILE: POST /v1/certificates with good's pending leaf and that CRL
  python3 - "$T/good-out/leaf.pem" "$1" >"$T/body.json" <<'EOF'
import json, sys
print(json.dumps({"certificate": open(sys.argv[1]).read(), "crl": open(sys.argv[2]).read()}))
EOF
  api_json POST /v1/certificates "$T/body.json"
}
sc device crl --sp "$T/stolen.sock" --out "$T/stolen-own.crl" >/dev/null
post_cert "$T/stolen-own.crl"
api_is "another device's CRL" 400 bad-value
check "named: crl, key-usage or signature" grep -q '"detail":"crl: malformed: crl: issuer: not the device CA' "$T/.api"
printf 'not a crl' >"$T/junk.crl"; post_cert "$T/junk.crl"
api_is "not PEM" 400 bad-value
check "named" grep -q '"detail":"crl: malformed: crl: not one PEM CRL' "$T/.api"
sc device crl --sp "$T/good.sock" --out "$T/g1.crl" >/dev/null
cat "$T/g1.crl" "$T/g1.crl" >"$T/two.crl"; post_cert "$T/two.crl"
api_is "two CRLs" 400 bad-value
check "named" grep -q '"detail":"crl: trailing-data' "$T/.api"
head -c 300 "$T/g1.crl" >"$T/cut.crl"; post_cert "$T/cut.crl"
api_is "a truncated CRL" 400 bad-value
check "named" grep -q '"detail":"crl: malformed: crl: not one PEM CRL' "$T/.api"
head -c 9000 /dev/zero | tr '\0' A >"$T/big.crl"; post_cert "$T/big.crl"
api_is "a CRL over 8192 bytes" 400 bad-value
check "named: the field" grep -q 'field \\"crl\\": 9000 bytes, expected 1..8192' "$T/.api"
python3 -c 'import json,sys; print(json.dumps({"certificate": open(sys.argv[1]).read(), "crl": 5}))' \
  "$T/good-out/leaf.pem" >"$T/body.json"
api_json POST /v1/certificates "$T/body.json"
api_is "crl of the wrong type" 400 wrong-type
check "named" grep -q 'field \\"crl\\" must be a string' "$T/.api"
check "no refusal recorded a CRL: still one per device" [ "$(db 'SELECT count(*) FROM device_crls')" = 3 ]
post_cert "$T/g1.crl"
api_is "its own CRL with its (already registered) certificate" 200
check "kept (a higher number)" grep -q '"crl":"kept"' "$T/.api"

# ---- nginx ----
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || { fail "nginx is not installed"; finish; exit; }
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/srv.key" -out "$T/srv.pem" \
  -days 2 -subj /CN=localhost 2>/dev/null || fail "server certificate"
mkdir -p "$T/ngx/tmp"
NGX=
ngx_start() {
  port=$(free_port)
  cat >"$T/ngx/nginx.conf" <<EOF
daemon off;
master_process off;
pid $T/ngx/nginx.pid;
error_log $T/ngx/error.log info;
events { worker_connections 16; }
http {
  access_log off;
  client_body_temp_path $T/ngx/tmp; proxy_temp_path $T/ngx/tmp; fastcgi_temp_path $T/ngx/tmp;
  uwsgi_temp_path $T/ngx/tmp; scgi_temp_path $T/ngx/tmp;
  server {
    listen 127.0.0.1:$port ssl;
    ssl_certificate $T/srv.pem;
    ssl_certificate_key $T/srv.key;
    ssl_client_certificate $T/mfr/root.pem;
    ssl_verify_client on;
    ssl_verify_depth 3;
    ssl_crl $T/bundle.pem;
    location / { return 200 "admitted \$ssl_client_s_dn\n"; }
  }
}
EOF
  "$NGINX" -p "$T/ngx" -c "$T/ngx/nginx.conf" -e "$T/ngx/error.log" 2>"$T/ngx/stderr" &
  NGX=$!
  wait_port "$port"
}
ngx_stop() { [ -n "$NGX" ] && kill "$NGX" 2>/dev/null && wait "$NGX" 2>/dev/null; NGX=; }
trap 'ngx_stop; provd_cleanup' EXIT
hit() {  # hit DEVICE: one request with the device's SP-held key; $T/ngx-DEVICE.out, .log
  local uri; uri=$(cat "$T/$1-out/key.uri")
  : >"$T/ngx/error.log"
  printf 'GET / HTTP/1.0\r\n\r\n' | SELFCERT_SP="$T/$1.sock" SELFCERT_CERTS="$T/$1-out" \
    PKCS11_MODULE_PATH="$SC_PKCS11_MODULE" timeout 10 openssl s_client -quiet -connect "127.0.0.1:$port" \
    -engine pkcs11 -keyform engine -key "$uri" -cert "$T/$1-out/leaf.pem" -cert_chain "$T/$1-out/chain.pem" \
    >"$T/ngx-$1.out" 2>"$T/ngx-$1.err"
  cp "$T/ngx/error.log" "$T/ngx-$1.log"
}
refused_by_nginx() {  # refused_by_nginx DEVICE WHY
  check "nginx refuses $1 (400 The SSL certificate error)" grep -q "The SSL certificate error" "$T/ngx-$1.out"
  check "nginx logs why for $1: $2" grep -q "client SSL certificate verify error: ($2)" "$T/ngx-$1.log"
}
ngx_start || fail "nginx did not listen: $(tail -n 3 "$T/ngx/error.log")"
for d in good stolen gone; do hit $d; done
check "nginx admits DEV-GOOD" grep -q "admitted .*DEV-GOOD" "$T/ngx-good.out"
check "nginx admits DEV-STOLEN (not yet revoked)" grep -q "admitted .*DEV-STOLEN" "$T/ngx-stolen.out"
hit old
refused_by_nginx old "3:unable to get certificate CRL"

# The manufacturer cuts DEV-STOLEN off; the registry revokes DEV-GONE. provd reloads the
# manufacturer's CRL on SIGHUP; the relying party's timer fetches; nginx reloads.
ok "mfr revoke DEV-STOLEN" sc mfr revoke --dir "$T/mfr" --device-ca "$T/stolen-certs/device-ca.pem"
ok "net device revoke DEV-GONE" sc net device revoke --db "$REG_DB" --device-id DEV-GONE --reason lost
if [ "$SC_VALGRIND" = 1 ]; then
  # provd's SIGHUP re-executes /proc/self/exe, which under valgrind is valgrind's own image:
  # there a stop and a start read the changed --mfr-crl file instead.
  stop_provd
  start_provd || fail "provd did not start again"
else
  # SIGHUP restarts provd in place (same pid, the flags again: port 0 picks a new port).
  rm -f "$T/provd.port"
  kill -HUP "$PROVD_PID"
  for _ in $(seq 1 "$SC_VG_WAIT"); do [ -s "$T/provd.port" ] && break; sleep 0.05; done
  PROVD_URL="https://127.0.0.1:$(cat "$T/provd.port")"
fi
for _ in $(seq 1 "$SC_VG_WAIT"); do
  api GET /v1/crls
  [ "$HTTP" = 200 ] && break
  sleep 0.05
done
check "provd reloaded --mfr-crl on SIGHUP: DEV-STOLEN's CA in the served CRLs" sh -c \
  "openssl crl -in '$T/.api' -noout -text | grep -q 'Serial Number: $(openssl x509 -in "$T/stolen-certs/device-ca.pem" -noout -serial | cut -d= -f2)'"
F[5]="$PROVD_URL/v1/revoked"
ok "fetch --crl-bundle again" "${F[@]}" --crl-bundle "$T/bundle.pem"
check "4 CRLs: DEV-GONE's dropped out" grep -q "bundle.pem: 4 CRL(s)" "$T/.out"
ngx_stop; ngx_start || fail "nginx did not listen again"
for d in good stolen gone; do hit $d; done
check "nginx still admits DEV-GOOD" grep -q "admitted .*DEV-GOOD" "$T/ngx-good.out"
refused_by_nginx stolen "23:certificate revoked"
refused_by_nginx gone "3:unable to get certificate CRL"

# Stock openssl with the same bundle (-crl_check_all: every level, as nginx).
lv() { openssl verify -crl_check_all -CRLfile "$T/bundle.pem" -CAfile "$T/mfr/root.pem" \
  -untrusted "$T/$1-out/chain.pem" "$T/$1-out/leaf.pem" 2>&1; }
out=$(lv good); check "openssl -crl_check_all: DEV-GOOD OK ($out)" grep -q ": OK$" <<<"$out"
out=$(lv stolen); check "openssl -crl_check_all: DEV-STOLEN revoked ($out)" grep -q "certificate revoked" <<<"$out"
out=$(lv gone); check "openssl -crl_check_all: DEV-GONE no CRL ($out)" grep -q "unable to get certificate CRL" <<<"$out"
finish
