#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The relying party of examples/gateway.c: a TLS server that admits a client only if
# sc_verify_chain() accepts its certificate (manufacturer root, issuance extension, an allowed
# network ID). A client of the allowed network is admitted and echoed; a client whose leaf
# belongs to another network, and one whose certificate has expired (judged deterministically
# with the gateway's --at, an hour after the leaf's notAfter), are refused with the reason
# logged. The clients are stock OpenSSL with their keys in the SP (libp11).
SC_VG_BINS="SELFCERT_SPD SC_GATEWAY"   # under valgrind (lib.sh); the CLI runs there in other tests
source "$SC_TESTLIB"
source "$SC_PKCS11_LIB"
: "${SC_GATEWAY:?set SC_GATEWAY to selfcert-gateway}"
M=$SC_PKCS11_MODULE

p11_world other-net || { fail "the world"; finish; exit 1; }
ok "leaf of the allowed network" issue_leaf good --alg p256 --eku clientAuth
NETDIR="$T/net-other-net" ok "leaf of another network" issue_leaf other --alg p256 --eku clientAuth
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/gw.key" -out "$T/gw.pem" \
  -days 2 -subj /CN=localhost 2>/dev/null || fail "gateway certificate"

# gateway NAME [flags…]: start one gateway for at most 2 connections (a later --max-connections
# wins: stop_gateway waits for it to end by itself after its last one); sets GW_PORT, GW_PID.
gateway() {
  local name=$1; shift
  "$SC_GATEWAY" --cert "$T/gw.pem" --key "$T/gw.key" --mfr-root "$T/mfr/root.pem" \
    --network-id "$NET_ID" --port 0 --max-connections 2 "$@" >"$T/$name.out" 2>"$T/$name.log" &
  GW_PID=$!
  GW_PORT=
  for _ in $(seq 1 "$SC_VG_WAIT"); do
    GW_PORT=$(sed -n 's/^selfcert-gateway: listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$T/$name.out")
    [ -n "$GW_PORT" ] && return 0
    sleep 0.05
  done
  fail "$name: the gateway did not listen: $(head -c 300 "$T/$name.log")"
  return 1
}

# client LEAF LINE OUT: one TLS connection with LEAF's key (in the SP) and chain; what came back
# in OUT. Its stdin ends once the echo is in OUT (hold_until; a fixed second was all the
# handshake had natively), or when it exits by itself (a refused handshake: the holder is
# stopped then: a process substitution, which nobody waits for, and which does not set $!).
client() {
  local leaf=$1 line=$2 out=$3
  : >"$out"
  PKCS11_MODULE_PATH="$M" timeout 20 openssl s_client -quiet -no_ign_eof \
    -connect "127.0.0.1:$GW_PORT" -CAfile "$T/gw.pem" -engine pkcs11 -keyform engine \
    -key "$(key_uri "$leaf")" -cert "$T/certs/$leaf.pem" -cert_chain "$T/dev-certs/chain.pem" \
    >"$out" 2>>"$T/clients.err" < <(echo "$BASHPID" >"$out.holder"; echo "$line"; hold_until "$out" "^$line\$")
  kill "$(cat "$out.holder")" 2>/dev/null
}

stop_gateway() {
  for _ in $(seq 1 "$SC_VG_WAIT"); do kill -0 "$GW_PID" 2>/dev/null || break; sleep 0.05; done
  kill "$GW_PID" 2>/dev/null
  wait "$GW_PID" 2>/dev/null
}

# ---- now: the allowed network in, another network out ----
if gateway now; then
  echo "ping $RANDOM" >"$T/ping"
  client good "$(cat "$T/ping")" "$T/good.echo"
  check "the allowed client is echoed" grep -qx "$(cat "$T/ping")" "$T/good.echo"
  check "the gateway logs the admission" \
    grep -q "^selfcert-gateway: admitted CN=DEV-P11,O=$NET_ID,serialNumber=DEV-P11 (device DEV-P11, network $NET_ID)\$" "$T/now.log"
  client other "not for you" "$T/other.echo"
  check "the other network's client gets nothing back" [ ! -s "$T/other.echo" ]
  check "refused: network-unknown, named" \
    grep -q "^selfcert-gateway: refused CN=DEV-P11,O=other-net,serialNumber=DEV-P11: network-unknown: .*other-net" "$T/now.log"
  stop_gateway
fi

# ---- an hour after the leaf expired: refused by path validation ----
not_after=$(openssl x509 -in "$T/certs/good.pem" -noout -enddate | cut -d= -f2)
at=$(date -u -d "$not_after + 1 hour" +%Y-%m-%dT%H:%M:%SZ)
if gateway expired --at "$at" --max-connections 1; then
  client good "too late" "$T/late.echo"
  check "the expired client gets nothing back" [ ! -s "$T/late.echo" ]
  check "refused: chain, certificate has expired" \
    grep -q "^selfcert-gateway: refused CN=DEV-P11,O=$NET_ID,serialNumber=DEV-P11: chain: .*certificate has expired" "$T/expired.log"
  stop_gateway
fi

# ---- the network's signed revocation list (issue 14): re-read when the file changes ----
sc net device add --db "$T/reg.db" --device-id DEV-P11 --device-id DEV-OTHER >/dev/null || fail "registry"
sc net device revoke --db "$T/reg.db" --device-id DEV-OTHER >/dev/null || fail "revoke DEV-OTHER"
ok "a list without DEV-P11" sc net revoked sign --dir "$T/net" --db "$T/reg.db" --out "$T/revoked.json"
if gateway revoked --revoked "$T/revoked.json" --net-root "$T/net/root.pem" --max-connections 3; then
  client good "still in" "$T/rev1.echo"
  check "a device not on the list is echoed" grep -qx "still in" "$T/rev1.echo"
  sc net device revoke --db "$T/reg.db" --device-id DEV-P11 >/dev/null || fail "revoke DEV-P11"
  ok "a newer list naming DEV-P11" sc net revoked sign --dir "$T/net" --db "$T/reg.db" --out "$T/revoked.json"
  client good "now out" "$T/rev2.echo"
  check "the revoked device gets nothing back" [ ! -s "$T/rev2.echo" ]
  check "refused: revoked, named" \
    grep -q "^selfcert-gateway: refused CN=DEV-P11,O=$NET_ID,serialNumber=DEV-P11: revoked: device DEV-P11 is on network $NET_ID's revocation list" "$T/revoked.log"
  printf 'junk' >"$T/revoked.json"
  client good "fail closed" "$T/rev3.echo"
  check "a damaged list refuses everyone" grep -q "revocation list unusable, refusing every client: malformed" "$T/revoked.log"
  stop_gateway
fi

# ---- usage ----
"$SC_GATEWAY" --cert "$T/gw.pem" --key "$T/gw.key" --mfr-root "$T/mfr/root.pem" --at yesterday >/dev/null 2>"$T/.err"
check "a bad --at is a usage error (exit 2)" [ $? -eq 2 ]
check "  naming --at" grep -q "^selfcert-gateway: usage: --at: " "$T/.err"
finish
