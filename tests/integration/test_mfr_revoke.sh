#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The manufacturer cuts a stolen device off (issue 14 item 5): `selfcert mfr revoke` signs a CRL
# from the manufacturer CA revoking the device's CA certificate, and stock relying parties honour
# it: `openssl verify -crl_check` / `-crl_check_all` on the device CA and on leaves, and nginx
# `ssl_crl` with a bundle holding each device CA's own CRL (`selfcert device crl`, signed by the
# SP): the good device admitted, the stolen one and one without its CRL refused. Also the
# commands' refusals and that re-running keeps earlier entries and raises crlNumber.
SC_VG_BINS="SELFCERT_SPD"   # the CLI runs under valgrind in other tests; nginx never
source "$SC_TESTLIB"
source "$SC_PKCS11_LIB"   # free_port, wait_port

sc mfr init --dir "$T/mfr" --name "Revoking Maker" >/dev/null || exit 1
sc net init --dir "$T/net" --network-id revnet >/dev/null || exit 1
new_device a DEV-STOLEN p256 p256 --net-root "$T/net/root.pem" --network-id revnet || exit 1
new_device b DEV-GOOD p256 p256 --net-root "$T/net/root.pem" --network-id revnet || exit 1
for d in a b; do
  sc net profile --dir "$T/net" --device-ca "$T/$d-certs/device-ca.pem" --validity 3d --eku clientAuth \
    --out "$T/$d.der" >/dev/null || exit 1
  sc device issue --sp "$T/$d.sock" --profile "$T/$d.der" --out "$T/$d-leaf.pem" >"$T/$d.handle" || exit 1
done

# ---- refusals ----
refused "no --dir" 2 usage sc mfr revoke
refused "a device CA of another manufacturer" 1 chain \
  sh -c 'sc() { "$SELFCERT" "$@"; }; sc mfr init --dir "$1/other" >/dev/null && "$SELFCERT" mfr revoke --dir "$1/other" --device-ca "$1/a-certs/device-ca.pem"' _ "$T"
check "named" grep -q "not issued by $T/other/ca.pem" "$T/.err"

# ---- revoke ----
ok "mfr revoke" sc mfr revoke --dir "$T/mfr" --device-ca "$T/a-certs/device-ca.pem" --out "$T/copy.crl"
check "one entry" grep -q "ca.crl: 1 device CA(s) revoked" "$T/.out"
check "--out is the same CRL" cmp -s "$T/mfr/ca.crl" "$T/copy.crl"
openssl crl -in "$T/mfr/ca.crl" -noout -text >"$T/crl.txt"
check "crlNumber 1" grep -A1 "X509v3 CRL Number" "$T/crl.txt" | grep -q "^ *1$"
check "the device CA's serial, keyCompromise" grep -q "Key Compromise" "$T/crl.txt"
ok "the CRL verifies with stock openssl" openssl crl -in "$T/mfr/ca.crl" -CAfile "$T/mfr/ca.pem" -noout

# openssl verify on the device CA itself (the end entity of this check).
vrfy() { openssl verify -crl_check -CRLfile "$T/mfr/ca.crl" -CAfile "$T/mfr/root.pem" -untrusted "$T/mfr/ca.pem" "$@" 2>&1; }
out=$(vrfy "$T/a-certs/device-ca.pem")
check "openssl -crl_check: the stolen device's CA is revoked ($out)" grep -q "certificate revoked" <<<"$out"
out=$(vrfy "$T/b-certs/device-ca.pem")
check "openssl -crl_check: another device's CA is fine ($out)" grep -q ": OK$" <<<"$out"
# Every level above the device: the manufacturer CA's CRL and the root's (-crl_check_all).
cat "$T/mfr/ca.crl" "$T/mfr/root.crl" >"$T/all.crl"
out=$(openssl verify -crl_check_all -CRLfile "$T/all.crl" -CAfile "$T/mfr/root.pem" \
  -untrusted "$T/mfr/ca.pem" "$T/a-certs/device-ca.pem" 2>&1)
check "openssl -crl_check_all (device CA, manufacturer CA): revoked ($out)" grep -q "certificate revoked" <<<"$out"
out=$(openssl verify -crl_check_all -CRLfile "$T/all.crl" -CAfile "$T/mfr/root.pem" \
  -untrusted "$T/mfr/ca.pem" "$T/b-certs/device-ca.pem" 2>&1)
check "openssl -crl_check_all: the good device CA passes ($out)" grep -q ": OK$" <<<"$out"

# Again: the entry stays, crlNumber goes up; a second device joins it.
ok "mfr revoke again (no new device)" sc mfr revoke --dir "$T/mfr"
check "still one entry" grep -q "ca.crl: 1 device CA(s) revoked" "$T/.out"
check "crlNumber 2" sh -c "openssl crl -in '$T/mfr/ca.crl' -noout -crlnumber | grep -q 'crlNumber=0x02'"
printf 'junk' >"$T/bad.crl"; cp "$T/mfr/ca.crl" "$T/good.crl"; cp "$T/bad.crl" "$T/mfr/ca.crl"
refused "a damaged ca.crl is refused, not overwritten" 1 malformed sc mfr revoke --dir "$T/mfr"
check "named" grep -q "ca.crl: not a PEM CRL" "$T/.err"
cp "$T/good.crl" "$T/mfr/ca.crl"

# ---- the device CA's own CRL (SP request CRL, revision 1.3) ----
# nginx's ssl_crl checks every level (CRL_CHECK_ALL): the leaf's issuer is the device CA, whose
# key only the SP holds, so the SP signs that CRL itself (empty, short-lived).
refused "--days over 30" 2 usage sc device crl --sp "$T/b.sock" --days 31 --out "$T/x.crl"
refused "no --out" 2 usage sc device crl --sp "$T/b.sock"
for d in a b; do
  ok "device crl ($d)" sc device crl --sp "$T/$d.sock" --days 1 --out "$T/$d-devca.crl"
done
check "says what it wrote" grep -q "b-devca.crl: device CA CRL [0-9]*, next update" "$T/.out"
openssl crl -in "$T/b-devca.crl" -noout -text >"$T/devcrl.txt"
check "issuer = the device CA's subject" grep -q "Issuer:.*DEV-GOOD" "$T/devcrl.txt"
check "no entries" grep -q "No Revoked Certificates" "$T/devcrl.txt"
ski=$(openssl x509 -in "$T/b-certs/device-ca.pem" -noout -ext subjectKeyIdentifier | tail -n 1 | tr -d ' ')
check "AKI = the device CA's SKI ($ski)" sh -c "grep -A1 'Authority Key Identifier' '$T/devcrl.txt' | tr -d ' ' | grep -qi '$ski'"
ok "stock openssl verifies it under the device CA" openssl crl -in "$T/b-devca.crl" -CAfile "$T/b-certs/device-ca.pem" -noout
ok "device crl --json" sc device crl --sp "$T/b.sock" --days 1 --out "$T/b2.crl" --json
check "--json names crl_number" grep -q '"crl_number":' "$T/.out"
n1=$(openssl crl -in "$T/b-devca.crl" -noout -crlnumber | cut -d= -f2)
n2=$(openssl crl -in "$T/b2.crl" -noout -crlnumber | cut -d= -f2)
check "cRLNumber rises ($n1 < $n2)" test $((16#${n1#0x})) -lt $((16#${n2#0x}))
# An SP of revision 1.2 has no CRL request: the host hears unknown-request.
stop_spd b; start_spd b --revision 1.2 || fail "spd --revision 1.2"
refused "an SP of revision 1.2 has no CRL" 1 unknown-request sc device crl --sp "$T/b.sock" --out "$T/x.crl"
stop_spd b; start_spd b || fail "spd restart"

# The relying party's bundle: the root's and the manufacturer CA's CRLs (the stolen device's CA
# revoked) and each device CA's own. bundle-nob.pem lacks the good device's (a silent device).
cat "$T/mfr/root.crl" "$T/mfr/ca.crl" "$T/a-devca.crl" "$T/b-devca.crl" >"$T/bundle.pem"
cat "$T/mfr/root.crl" "$T/mfr/ca.crl" "$T/a-devca.crl" >"$T/bundle-nob.pem"
lv() { openssl verify -crl_check_all -CRLfile "$1" -CAfile "$T/mfr/root.pem" \
  -untrusted "$T/$2-certs/chain.pem" "${@:3}" "$T/$2-leaf.pem" 2>&1; }
out=$(lv "$T/bundle.pem" b)
check "openssl -crl_check_all with the bundle: the good leaf passes ($out)" grep -q ": OK$" <<<"$out"
out=$(lv "$T/bundle.pem" a)
check "openssl -crl_check_all: the stolen device's leaf is refused ($out)" grep -q "certificate revoked" <<<"$out"
out=$(lv "$T/bundle-nob.pem" b)
check "openssl -crl_check_all: no device CA CRL, refused ($out)" grep -q "unable to get certificate CRL" <<<"$out"
out=$(lv "$T/bundle.pem" b -attime $(( $(date +%s) + 36 * 3600 )))
check "openssl -crl_check_all: an expired device CA CRL, refused ($out)" grep -q "CRL has expired" <<<"$out"

# ---- nginx ssl_crl: the tested configuration (docs/RELYING-PARTY.md) ----
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if [ -x "$NGINX" ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/srv.key" -out "$T/srv.pem" \
    -days 2 -subj /CN=localhost 2>/dev/null || fail "server certificate"
  port=$(free_port); port2=$(free_port)
  mkdir -p "$T/ngx/tmp"
  srv() { cat <<EOF
  server {
    listen 127.0.0.1:$1 ssl;
    ssl_certificate $T/srv.pem;
    ssl_certificate_key $T/srv.key;
    ssl_client_certificate $T/mfr/root.pem;
    ssl_verify_client on;
    ssl_verify_depth 3;
    ssl_crl $2;
    location / { return 200 "admitted \$ssl_client_s_dn\n"; }
  }
EOF
  }
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
$(srv "$port" "$T/bundle.pem")
$(srv "$port2" "$T/bundle-nob.pem")
}
EOF
  "$NGINX" -p "$T/ngx" -c "$T/ngx/nginx.conf" -e "$T/ngx/error.log" 2>"$T/ngx/stderr" &
  NGX=$!
  trap 'kill $NGX 2>/dev/null; cleanup' EXIT
  hit() {  # hit DEVICE PORT TAG: one request with the device's SP-held key; its answer and log
    export SELFCERT_SP="$T/$1.sock" SELFCERT_CERTS="$T/$1-certs" PKCS11_MODULE_PATH="$SC_PKCS11_MODULE"
    local uri="pkcs11:token=$( [ "$1" = a ] && echo DEV-STOLEN || echo DEV-GOOD );object=$(cat "$T/$1.handle");type=private"
    : >"$T/ngx/error.log"
    printf 'GET / HTTP/1.0\r\n\r\n' | timeout 10 openssl s_client -quiet -connect "127.0.0.1:$2" \
      -engine pkcs11 -keyform engine -key "$uri" -cert "$T/$1-leaf.pem" -cert_chain "$T/$1-certs/chain.pem" \
      >"$T/ngx-$3.out" 2>"$T/ngx-$3.err"
    cp "$T/ngx/error.log" "$T/ngx-$3.log"
  }
  if wait_port "$port" && wait_port "$port2"; then
    hit b "$port" good
    check "nginx ssl_crl + bundle: the good device is admitted" grep -q "admitted .*DEV-GOOD" "$T/ngx-good.out"
    hit a "$port" stolen
    check "nginx ssl_crl: the stolen device is refused (400)" grep -q "^HTTP/1.1 400 Bad Request" "$T/ngx-stolen.out"
    check "(The SSL certificate error)" grep -q "The SSL certificate error" "$T/ngx-stolen.out"
    check "nginx says why: revoked" grep -q "client SSL certificate verify error: (23:certificate revoked)" "$T/ngx-stolen.log"
    hit b "$port2" silent
    check "nginx ssl_crl: a device without its device CA CRL is refused (400)" grep -q "The SSL certificate error" "$T/ngx-silent.out"
    check "nginx says why: no CRL" grep -q "client SSL certificate verify error: (3:unable to get certificate CRL)" "$T/ngx-silent.log"
  else
    fail "nginx did not listen: $(tail -n 3 "$T/ngx/error.log")"
  fi
fi

# ---- HAProxy crl-file: the working configuration ----
# HAProxy checks every level too, but can ignore one error at depth 0: the leaf's missing CRL
# (3, X509_V_ERR_UNABLE_TO_GET_CRL; its issuer is the device CA). The device CA's revocation is
# at depth 1 and still refuses.
HAPROXY=$(command -v haproxy || echo /usr/sbin/haproxy)
if [ -x "$HAPROXY" ]; then
  hport=$(free_port)
  cat "$T/srv.pem" "$T/srv.key" >"$T/srv-combined.pem"
  cat >"$T/haproxy.cfg" <<EOF
global
  log stderr format raw local0 info
defaults
  mode http
  log global
  timeout connect 5s
  timeout client 5s
  timeout server 5s
frontend devices
  bind 127.0.0.1:$hport ssl crt $T/srv-combined.pem ca-file $T/mfr/root.pem verify required crl-file $T/all.crl crt-ignore-err 3
  http-request return status 200 content-type text/plain lf-string "admitted %[ssl_c_s_dn]"
EOF
  "$HAPROXY" -db -f "$T/haproxy.cfg" >"$T/haproxy.log" 2>&1 &
  HAP=$!
  trap 'kill $NGX $HAP 2>/dev/null; cleanup' EXIT
  if wait_port "$hport"; then
    for d in a b; do
      export SELFCERT_SP="$T/$d.sock" SELFCERT_CERTS="$T/$d-certs" PKCS11_MODULE_PATH="$SC_PKCS11_MODULE"
      uri="pkcs11:token=$( [ $d = a ] && echo DEV-STOLEN || echo DEV-GOOD );object=$(cat "$T/$d.handle");type=private"
      printf 'GET / HTTP/1.0\r\n\r\n' | timeout 10 openssl s_client -quiet -connect "127.0.0.1:$hport" \
        -engine pkcs11 -keyform engine -key "$uri" -cert "$T/$d-leaf.pem" -cert_chain "$T/$d-certs/chain.pem" \
        >"$T/hap-$d.out" 2>"$T/hap-$d.err"
    done
    check "HAProxy crl-file: the stolen device is refused ($(grep -m1 -i alert "$T/hap-a.err"))" \
      sh -c "! grep -q admitted '$T/hap-a.out' && grep -qi 'alert' '$T/hap-a.err'"
    check "HAProxy crl-file + crt-ignore-err 3: the good device is admitted" \
      grep -q "admitted .*DEV-GOOD" "$T/hap-b.out"
  else
    fail "haproxy did not listen: $(tail -n 3 "$T/haproxy.log")"
  fi
fi
finish
