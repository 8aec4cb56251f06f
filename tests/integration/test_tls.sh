#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Mutual TLS 1.3 and 1.2 with a self-issued certificate whose key never leaves the SP, using
# unmodified Debian programs: `openssl s_server -Verify 2 -CAfile <manufacturer root>` on the
# loopback, and as the client OpenSSL through libp11 (`-engine pkcs11 -keyform engine`) and
# GnuTLS's gnutls-cli (`--provider` the module, `--x509keyfile` a pkcs11: URI). Data flows both
# ways and the server logs the client's subject. Also recorded here, as tests, the interop facts
# of docs/INTEROP.md that concern these stacks.
SC_VG_BINS="SELFCERT_SPD"   # under valgrind (lib.sh); the CLI runs there in other tests
source "$SC_TESTLIB"
source "$SC_PKCS11_LIB"
M=$SC_PKCS11_MODULE
SUBJECT="serialNumber = DEV-P11, O = $NET_ID, CN = DEV-P11"

p11_world || { fail "the world"; finish; exit 1; }
# No Ed25519 key on this token: libp11 0.4.12 stops enumerating keys at one (INTEROP.md §3).
ok "leaf ec"  issue_leaf ec --alg p256 --eku clientAuth
# Under valgrind the RSA key generation inside the SP (~30 s of CPU under memcheck, OpenSSL's code;
# test_pkcs11 runs that issuance under memcheck) is native: the SP restarts natively for it, then
# under memcheck again for every handshake below.
vg_spd_native() { [ "$SC_VALGRIND" = 1 ] || return 0; stop_spd dev; SELFCERT_SPD=$SELFCERT_SPD_NATIVE start_spd dev; }
vg_spd_back() { [ "$SC_VALGRIND" = 1 ] || return 0; stop_spd dev; start_spd dev; }
vg_spd_native || fail "SP restarted natively"
ok "leaf rsa" issue_leaf rsa --alg rsa2048 --eku clientAuth
vg_spd_back || fail "SP restarted under memcheck"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/srv.key" -out "$T/srv.pem" \
  -days 2 -subj /CN=localhost -addext subjectAltName=DNS:localhost 2>/dev/null || fail "server certificate"

# mtls NAME VERSION CLIENT-CMD…: s_server (TLS VERSION only) against the client; the client
# sends a line and must receive the server's; the server must log the client's subject and line.
# No fixed sleeps: the client's stdin ends once the server's line arrived (hold_until), and the
# server's once the client is done.
mtls() {
  local name=$1 version=$2; shift 2
  local port; port=$(free_port) || { fail "$name: no free port"; return; }
  local to_client="server says $RANDOM" to_server="client $name says $RANDOM"
  (echo "$to_client"; hold_until "$T/$name.done" done) | timeout 20 openssl s_server -accept "127.0.0.1:$port" -naccept 1 \
    -cert "$T/srv.pem" -key "$T/srv.key" -Verify 2 -CAfile "$T/mfr/root.pem" -verify_return_error \
    "-$version" >"$T/$name.srv" 2>"$T/$name.srv.err" &
  local spid=$!
  # Not a probe connection: it would be the one -naccept allows. s_server says ACCEPT.
  for _ in $(seq 1 100); do grep -q '^ACCEPT' "$T/$name.srv" 2>/dev/null && break; sleep 0.05; done
  if ! grep -q '^ACCEPT' "$T/$name.srv"; then
    fail "$name: s_server did not listen: $(head -c 300 "$T/$name.srv.err")"; kill "$spid" 2>/dev/null
    echo done >"$T/$name.done"; return
  fi
  (echo "$to_server"; hold_until "$T/$name.cli" "$to_client\$") | "$@" -p11port "$port" >"$T/$name.cli" 2>"$T/$name.cli.err"
  local rc=$?
  # s_server ends with its one connection; a client that never connected leaves it waiting
  # (until its stdin ends here: its end-of-file before the client's would cut the client off).
  echo done >"$T/$name.done"
  for _ in $(seq 1 50); do kill -0 "$spid" 2>/dev/null || break; sleep 0.1; done
  kill "$spid" 2>/dev/null
  wait "$spid" 2>/dev/null
  check "$name: client exit 0 (got $rc: $(grep -iE 'error|fail' "$T/$name.cli.err" | head -n 2))" [ "$rc" -eq 0 ]
  # (TLS 1.3: s_client prints the session ticket dump just before, on the same line)
  check "$name: the client received the server's line" grep -q "$to_client\$" "$T/$name.cli"
  check "$name: the server received the client's line" grep -q "^$to_server\$" "$T/$name.srv"
  check "$name: the server logs the client's subject" grep -q "^depth=0 $SUBJECT\$" "$T/$name.srv.err"
  check "$name: and its chain to the manufacturer root" grep -q "^depth=3 CN = Interop Devices Root\$" "$T/$name.srv.err"
}

# The clients take their port last ("-p11port N"), so mtls can append it.
ossl_client() {
  local key=$1 cert=$2 version=$3; shift 3
  local port=${*: -1}
  PKCS11_MODULE_PATH="$M" timeout 20 openssl s_client -connect "127.0.0.1:$port" -CAfile "$T/srv.pem" \
    -engine pkcs11 -keyform engine -key "$(key_uri "$key")" -cert "$T/certs/$cert.pem" \
    -cert_chain "$T/dev-certs/chain.pem" "-$version" "${@:1:$#-2}"
}
gnutls_client() {
  local key=$1 version=$2
  local port=${*: -1}
  timeout 20 gnutls-cli --provider "$M" -p "$port" localhost --x509cafile "$T/srv.pem" \
    --x509certfile "$T/$key-chain.pem" --x509keyfile "$(key_uri "$key")" \
    --priority "NORMAL:-VERS-ALL:+VERS-$version"
}

# ---- OpenSSL through libp11 ----
mtls ossl-ec-tls13  tls1_3 ossl_client ec ec tls1_3
mtls ossl-rsa-tls13 tls1_3 ossl_client rsa rsa tls1_3
mtls ossl-ec-tls12  tls1_2 ossl_client ec ec tls1_2
# PKCS#1 v1.5 in TLS 1.2: libp11 hands the module a DigestInfo (CKM_RSA_PKCS).
mtls ossl-rsa-tls12 tls1_2 ossl_client rsa rsa tls1_2 -client_sigalgs RSA+SHA256

# ---- GnuTLS ----
# GnuTLS (libtasn1) refuses OID arcs of 2^64 or more; id-selfcert's arcs are all below 2^24
# (docs/FORMATS.md, INTEROP.md §1), so certtool must parse the leaf and gnutls-cli must use it.
ok "GnuTLS parses a self-issued leaf (small OID arcs)" certtool -i --infile "$T/certs/ec.pem"
mtls gnutls-ec-tls13  tls1_3 gnutls_client ec TLS1.3
mtls gnutls-rsa-tls13 tls1_3 gnutls_client rsa TLS1.3
mtls gnutls-ec-tls12  tls1_2 gnutls_client ec TLS1.2
mtls gnutls-rsa-tls12 tls1_2 gnutls_client rsa TLS1.2
ok "GnuTLS (p11tool) signs through the module" p11tool --provider "$M" --test-sign "$(key_uri ec)"

# ---- interop facts ----
# GnuTLS does not enforce directoryName name constraints (form 1 device CAs, before 2026-12): a
# leaf naming another device verifies with certtool and fails with openssl. Form 2 (dNSName) it
# enforces: docs/INTEROP.md §2, test_interop.sh.
mkdir -p "$T/nc"
ok "sc-evil nc-leaves" "$SC_EVIL" nc-leaves "$T/mfr" "$T/nc" DEV-A DEV-B 1
cat "$T/nc/other.pem" "$T/nc/chain.pem" >"$T/nc/other-chain.pem"
certtool --verify --load-ca-certificate "$T/mfr/root.pem" --infile "$T/nc/other-chain.pem" >"$T/nc/gnutls.out" 2>&1
check "GnuTLS 3.7 accepts a leaf outside a form 1 device CA's directoryName constraint" \
  grep -q "Chain verification output: Verified. The certificate is trusted." "$T/nc/gnutls.out"
openssl verify -CAfile "$T/mfr/root.pem" -untrusted "$T/nc/chain.pem" "$T/nc/other-subject.pem" >"$T/nc/openssl.out" 2>&1
check "OpenSSL refuses it" grep -q "permitted subtree violation" "$T/nc/openssl.out"
finish
