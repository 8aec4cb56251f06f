#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Renewal never breaks a consumer (issue 14 item 4): nginx on the device serves mutual TLS with
# its SP key through PKCS#11 (libp11's engine, `engine:pkcs11:` key, the module's stable
# `object=current` label) while a client loops handshakes against it across three forced
# renewals; the agent's hook reloads nginx (--exec once with its environment checked,
# --reload-pid/--reload-signal the others) and the old key goes only after --grace. Zero failed
# handshakes allowed. Also: a failing hook keeps the old key; fullchain.pem and key.uri.
# Under valgrind (lib.sh) the server and the agent run under memcheck; nginx and openssl never,
# and the SP natively (ci17): what it does here is memchecked elsewhere (the agent's challenge,
# issue and delete: test_agent's DEV-A1; signing through the PKCS#11 module: test_pkcs11 and
# test_interop, whose SP signs every handshake), and the client loop's handshakes go faster.
SC_VG_BINS="SELFCERT_PROVD SELFCERT_AGENT"
source "$SC_TESTLIB"
source "$(dirname "$SC_TESTLIB")/lib-provd.sh"
source "$SC_PKCS11_LIB"   # free_port, wait_port

NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || { echo "SKIP: no nginx"; finish; exit 0; }

provd_world testnet || exit 1
provd_device d DEV-N || exit 1
sc net device add --db "$T/reg.db" --device-id DEV-N >/dev/null || exit 1
# A server certificate's EKU (the default is clientAuth only); short leaves.
printf '{"eku": ["serverAuth", "clientAuth"], "validity": "1h"}\n' >"$T/policy.json"
start_provd --policy "$T/policy.json" --rate-limit 100/1h || exit 1

ok "enroll" agent d --once --grace 3s
for f in leaf.pem chain.pem fullchain.pem key.uri; do
  check "$f written" [ -s "$T/d-out/$f" ]
done
check "fullchain.pem is leaf.pem + chain.pem" cmp -s "$T/d-out/fullchain.pem" <(cat "$T/d-out/leaf.pem" "$T/d-out/chain.pem")
check "key.uri names the key in use" grep -qx "pkcs11:token=DEV-N;object=1;type=private" "$T/d-out/key.uri"

# ---- the module's stable name ----
export SELFCERT_SP="$T/d.sock" SELFCERT_CERTS="$T/d-out" PKCS11_MODULE_PATH="$SC_PKCS11_MODULE"
pkcs11-tool --module "$SC_PKCS11_MODULE" --list-objects >"$T/objs" 2>&1
check "the module lists a private key labelled current" grep -q "label: *current" "$T/objs"

# ---- nginx with the SP key ----
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/cli.key" -out "$T/cli.pem" \
  -days 2 -subj /CN=relying-client 2>/dev/null || fail "client certificate"
port=$(free_port) || { fail "no free port"; finish; exit 1; }
mkdir -p "$T/ngx/logs"
# The workers sign through the SP's socket: they run as this user (nginx's default is nobody).
NGX_USER=""
[ "$(id -u)" = 0 ] && NGX_USER="user root;"
cat >"$T/ngx/nginx.conf" <<EOF
$NGX_USER
daemon off;
master_process on;
worker_processes 1;
pid $T/ngx/nginx.pid;
error_log $T/ngx/error.log info;
ssl_engine pkcs11;
env PKCS11_MODULE_PATH;
env SELFCERT_SP;
env SELFCERT_CERTS;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path $T/ngx/tmp; proxy_temp_path $T/ngx/tmp; fastcgi_temp_path $T/ngx/tmp;
  uwsgi_temp_path $T/ngx/tmp; scgi_temp_path $T/ngx/tmp;
  server {
    listen 127.0.0.1:$port ssl;
    ssl_certificate $T/d-out/fullchain.pem;
    ssl_certificate_key "engine:pkcs11:pkcs11:token=DEV-N;object=current;type=private";
    ssl_client_certificate $T/cli.pem;
    ssl_verify_client on;
    ssl_session_cache off;
    ssl_session_tickets off;
    location / { return 200 "serial \$ssl_client_s_dn\n"; }
  }
}
EOF
mkdir -p "$T/ngx/tmp"
"$NGINX" -p "$T/ngx" -c "$T/ngx/nginx.conf" -e "$T/ngx/error.log" 2>"$T/ngx/stderr" &
NGX=$!
trap 'kill $NGX 2>/dev/null; [ -n "$LOOP" ] && kill $LOOP 2>/dev/null; provd_cleanup' EXIT
if ! wait_port "$port"; then
  fail "nginx did not listen: $(tail -n 3 "$T/ngx/error.log" "$T/ngx/stderr")"; finish; exit 1
fi

# One handshake: the device's chain must verify to the manufacturer root; prints the server's
# serial on success.
handshake() {
  echo | timeout 5 openssl s_client -connect "127.0.0.1:$port" -CAfile "$T/mfr/root.pem" \
    -verify_return_error -cert "$T/cli.pem" -key "$T/cli.key" -brief 2>&1 |
    grep -q "^Verification: OK" && echo ok || echo FAIL
}
served_serial() {
  echo | timeout 5 openssl s_client -connect "127.0.0.1:$port" -CAfile "$T/mfr/root.pem" \
    -cert "$T/cli.pem" -key "$T/cli.key" 2>/dev/null | openssl x509 -noout -serial | cut -d= -f2 | tr A-F a-f
}
check "nginx serves the device's leaf" [ "$(handshake)" = ok ]

# The client loop: handshakes back to back until told to stop; one line per handshake.
: >"$T/loop.out"
(while [ ! -e "$T/loop.stop" ]; do handshake >>"$T/loop.out"; done) &
LOOP=$!

serial_now() { openssl x509 -in "$T/d-out/leaf.pem" -noout -serial | cut -d= -f2 | tr A-F a-f; }
keys_in_sp() { sc device keys --sp "$T/d.sock" | grep -c .; }
wait_served() {  # wait_served SERIAL: nginx's new workers serve it (bounded: 5 s, 30 s under valgrind)
  for _ in $(seq 1 $((SC_VG_WAIT / 4))); do [ "$(served_serial)" = "$1" ] && return 0; sleep 0.1; done
  return 1
}

# Renewal 1: --exec, its environment recorded, nginx reloaded by the command.
HOOK='env | grep ^SELFCERT_ | sort >"$0.env" && kill -HUP "$(cat "$0.pid")"'
ok "renewal 1 (--exec)" agent d --once --force-renew --grace 3s \
  --exec "sh -c '$HOOK' $T/ngx/nginx"
s1=$(serial_now)
check "hook env: SELFCERT_ACTION=renewed" grep -qx "SELFCERT_ACTION=renewed" "$T/ngx/nginx.env"
check "hook env: SELFCERT_FULLCHAIN" grep -qx "SELFCERT_FULLCHAIN=$T/d-out/fullchain.pem" "$T/ngx/nginx.env"
check "hook env: SELFCERT_KEY_HANDLE=2" grep -qx "SELFCERT_KEY_HANDLE=2" "$T/ngx/nginx.env"
check "hook env: SELFCERT_PKCS11_URI" grep -qx "SELFCERT_PKCS11_URI=pkcs11:token=DEV-N;object=2;type=private" "$T/ngx/nginx.env"
check "hook env: SELFCERT_KEY_URI" grep -qx "SELFCERT_KEY_URI=$T/d-out/key.uri" "$T/ngx/nginx.env"
check "old key kept through the grace period" [ "$(keys_in_sp)" = 2 ]
check "nginx serves renewal 1" wait_served "$s1"

# Renewal 2: the simple form. The old key of renewal 1 has had its 3 s by now (the agent counts
# whole seconds and deletes a key only once its grace's last second has passed: 3 s to 4 s).
sleep 4
ok "renewal 2 (--reload-pid)" agent d --once --force-renew --grace 3s \
  --reload-pid "$T/ngx/nginx.pid" --reload-signal HUP
check "renewal 1's old key deleted after its grace" grep -q "old key 1 deleted" "$T/.err"
check "nginx serves renewal 2" wait_served "$(serial_now)"

# Renewal 3: a hook that fails keeps the old key past its grace, and is retried. The grace is
# G seconds: 1 natively, 8 under valgrind, where one agent run itself takes seconds. A grace
# of G s lasts G to G+1 s (whole seconds), so the waits past it are G+1.2 s.
G=1; [ "${SC_VALGRIND:-0}" = 1 ] && G=8
sleep 4
agent d --once --force-renew --grace ${G}s --exec false >"$T/.out" 2>"$T/.err"
check "a failing hook is not fatal (exit 0)" [ $? -eq 0 ]
check "the failure is logged" grep -q "the hook failed (--exec: the command exited with status 1)" "$T/.err"
check "renewal 2's old key deleted" grep -q "old key 2 deleted" "$T/.err"
sleep "$((G + 1)).2"
agent d --once --grace ${G}s --exec false >/dev/null 2>"$T/.err"
check "old key 3 kept while the hook fails, past its grace" [ "$(keys_in_sp)" = 2 ]
agent d --once --grace ${G}s --reload-pid "$T/ngx/nginx.pid" --reload-signal HUP >/dev/null 2>"$T/.err"
check "the hook retried and succeeded; old key 3 kept for its grace after that" [ "$(keys_in_sp)" = 2 ]
sleep "$((G + 1)).2"
agent d --once --grace ${G}s >/dev/null 2>"$T/.err"
check "then old key 3 deleted" grep -q "old key 3 deleted" "$T/.err"
check "one key left" [ "$(keys_in_sp)" = 1 ]
check "nginx serves renewal 3" wait_served "$(serial_now)"

touch "$T/loop.stop"
wait "$LOOP"
LOOP=
total=$(grep -c . "$T/loop.out")
failed=$(grep -c FAIL "$T/loop.out")
echo "# handshakes: $total, failed: $failed"
check "the client looped (at least 20 handshakes: $total)" [ "$total" -ge 20 ]
check "zero failed handshakes across three renewals ($failed of $total)" [ "$failed" -eq 0 ]
finish
