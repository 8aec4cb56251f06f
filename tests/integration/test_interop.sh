#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The interop matrix (docs/INTEROP.md §2, docs/RELYING-PARTY.md): a real device (its keys in the
# SP, personalized with today's device CA) and the TLS stacks relying parties use. Path
# validation alone: OpenSSL, GnuTLS (certtool), Go crypto/x509 and Python ssl admit the device's
# leaf and refuse one naming another device. Relying parties, each configured as the guide says
# (the very files in examples/relying-party/): nginx, HAProxy, a Go server, a Python ssl server
# and openssl s_server admit the device, and refuse another network's device and an expired one.
# A device personalized before 2026-12 (form 1 device CA) is still admitted where it was.
SC_VG_BINS="SELFCERT_SPD"   # valgrind pass: the SP signs every handshake; the stacks run natively
source "$SC_TESTLIB"
source "$SC_PKCS11_LIB"
M=$SC_PKCS11_MODULE
EX=$(cd "$(dirname "$SC_TESTLIB")/../../examples/relying-party" && pwd)
START=$SECONDS

p11_world other-net || { fail "the world"; finish; exit 1; }
ok "leaf of the network" issue_leaf good --alg p256 --eku clientAuth
NETDIR="$T/net-other-net" ok "leaf of another network" issue_leaf other --alg p256 --eku clientAuth
# A leaf valid for 2 s: waiting is the only way a stock server sees one expire (the SP issues
# none whose validity has passed). The servers below see it after the other cases.
sc net profile --dir "$T/net" --device-ca "$T/dev-certs/device-ca.pem" --validity 2s --alg p256 \
  --eku clientAuth --out "$T/expired.der" >/dev/null && sc device issue --sp "$T/dev.sock" \
  --profile "$T/expired.der" --out "$T/certs/expired.pem" >"$T/expired.handle" || fail "a leaf valid for 2 s"
EXPIRES_AT=$((SECONDS + 3))
check "the leaf carries the device's DNS name" \
  bash -c "openssl x509 -in '$T/certs/good.pem' -noout -ext subjectAltName | grep -qx '  *DNS:dev-p11.selfcert.invalid'"

# A device CA made before 2026-12 (form 1, directoryName), in its own SP.
new_device old DEV-OLD p256 p256 --net-root "$T/net/root.pem" --network-id "$NET_ID" --device-ca-form 1 ||
  fail "personalize a form 1 device"
check "form 1 device CA" bash -c "openssl x509 -in '$T/old-certs/device-ca.pem' -noout -ext nameConstraints | grep -q DirName"
sc net profile --dir "$T/net" --device-ca "$T/old-certs/device-ca.pem" --validity 7d --alg p256 \
  --eku clientAuth --out "$T/old.der" >/dev/null && sc device issue --sp "$T/old.sock" \
  --profile "$T/old.der" --out "$T/old.pem" >"$T/old.handle" || fail "issue under the form 1 device CA"
check "form 1: the leaf has no subjectAltName, as before" \
  bash -c "openssl x509 -in '$T/old.pem' -noout -subject | grep -q DEV-OLD && ! openssl x509 -in '$T/old.pem' -noout -ext subjectAltName 2>/dev/null | grep -q DNS"
ok "form 1: the leaf is exactly its profile's" sc verify --mfr-root "$T/mfr/root.pem" \
  --net-root "$T/net/root.pem" --chain "$T/old-certs/chain.pem" --profile "$T/old.der" "$T/old.pem"

# A leaf for DEV-OTHER's DNS name under DEV-P11's device CA: only a broken SP could sign one
# (sc-evil, with a test CSK, under a device CA of today's form).
mkdir -p "$T/nc"
ok "a device CA and a leaf naming another device" "$SC_EVIL" nc-leaves "$T/mfr" "$T/nc" DEV-P11 DEV-OTHER

# ---- path validation by each stack ----
export GOCACHE="$T/go/cache" GOPATH="$T/go/path" GO111MODULE=off GOFLAGS= GOTOOLCHAIN=local
ok "build the Go relying party (offline, stdlib only)" go build -o "$T/go-verify" "$EX/go-verify.go"
cat "$T/certs/good.pem" "$T/dev-certs/chain.pem" >"$T/good-full.pem"
cat "$T/nc/other.pem" "$T/nc/chain.pem" >"$T/forged-full.pem"
cat "$T/nc/own.pem" "$T/nc/chain.pem" >"$T/ncown-full.pem"
cat "$T/old.pem" "$T/old-certs/chain.pem" >"$T/old-full.pem"
R="$T/mfr/root.pem"
ok "OpenSSL admits the device" openssl verify -CAfile "$R" -untrusted "$T/dev-certs/chain.pem" "$T/certs/good.pem"
if openssl verify -CAfile "$R" -untrusted "$T/nc/chain.pem" "$T/nc/other.pem" >"$T/.out" 2>&1; then
  fail "OpenSSL admitted a leaf naming another device"
else check "OpenSSL refuses another device's name" grep -q "permitted subtree violation" "$T/.out"; fi
ok "GnuTLS admits the device" bash -c "certtool --verify --load-ca-certificate '$R' --infile '$T/good-full.pem' | grep -q 'Chain verification output: Verified'"
certtool --verify --load-ca-certificate "$R" --infile "$T/forged-full.pem" >"$T/.out" 2>&1
check "GnuTLS refuses another device's name" grep -q "Chain verification output: Not verified.*constraint" "$T/.out"
"$T/go-verify" verify "$R" "$T/good-full.pem" "$NET_ID" >"$T/.out" 2>&1
check "Go admits the device" grep -qx "admitted: DEV-P11" "$T/.out"
"$T/go-verify" verify "$R" "$T/ncown-full.pem" >"$T/.out" 2>&1
check "Go admits sc-evil's own leaf (the control)" grep -q "^admitted" "$T/.out"
"$T/go-verify" verify "$R" "$T/forged-full.pem" >"$T/.out" 2>&1
check "Go refuses another device's name" grep -q "refused: x509: .*dev-other.selfcert.invalid.* is not permitted" "$T/.out"
"$T/go-verify" verify "$R" "$T/old-full.pem" >"$T/.out" 2>&1
check "Go refuses a form 1 device (as documented)" grep -qx "refused: x509: unhandled critical extension" "$T/.out"
python3 - "$R" "$T/good-full.pem" "$T/forged-full.pem" >"$T/.out" 2>&1 <<'PY'
import ssl, sys
# Python ssl is OpenSSL underneath: path validation through a server context with the chain.
from cryptography import x509
print("cryptography", __import__("cryptography").__version__)
for f in sys.argv[2:]:
    certs = x509.load_pem_x509_certificates(open(f, "rb").read())
    names = certs[0].extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    print(f.rsplit("/", 1)[1], names.get_values_for_type(x509.DNSName))
PY
check "Python cryptography reads the device's DNS name" grep -q "good-full.pem \['dev-p11.selfcert.invalid'\]" "$T/.out"

# ---- relying parties: TLS servers ----
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/srv.key" -out "$T/srv.pem" \
  -days 2 -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null || fail "server certificate"
cat "$T/srv.pem" "$T/srv.key" >"$T/srv-full.pem"

# client LEAF REQUEST [TOKEN SP CERTS-DIR CHAIN]: one TLS connection to $PORT with LEAF's key
# (in the SP) and chain, REQUEST sent; what came back on stdout.
client() {
  local leaf=$1 req=$2 token=${3:-DEV-P11} sp=${4:-$T/dev.sock} certs=${5:-$T/certs} chain=${6:-$T/dev-certs/chain.pem}
  printf '%b' "$req" | SELFCERT_SP="$sp" SELFCERT_CERTS="$certs" PKCS11_MODULE_PATH="$M" timeout 20 \
    openssl s_client -quiet -ign_eof -connect "127.0.0.1:$PORT" -engine pkcs11 -keyform engine \
    -key "pkcs11:token=$token;object=$(cat "$T/$leaf.handle");type=private" \
    -cert "$certs/$leaf.pem" -cert_chain "$chain" 2>>"$T/clients.err"
}
# logged FILE PATTERN: FILE gets a line matching PATTERN (polled, 10 s at most). Go's server and
# Python's log a refused handshake only after Handshake()/wrap_socket() returned, that is after
# the alert went out: the client can be gone, and this test at its check, before the line is.
logged() {
  local _
  for _ in $(seq 1 200); do grep -q -- "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
  return 1
}
mkdir -p "$T/old-host"; cp "$T/old.pem" "$T/old-host/old.pem"; cp "$T/old-certs/chain.pem" "$T/old-host/chain.pem"
old_client() { client old "$1" DEV-OLD "$T/old.sock" "$T/old-host" "$T/old-certs/chain.pem"; }
GET='GET / HTTP/1.0\r\nHost: localhost\r\n\r\n'

# fill TEMPLATE OUT: the example configuration with this test's paths and port.
fill() {
  sed -e "s|@DIR@|$T|g" -e "s|@PORT@|$PORT|g" -e "s|@NETWORK@|$NET_ID|g" -e "s|@MFR_ROOT@|$R|g" \
      -e "s|@SERVER_CERT@|$T/srv.pem|g" -e "s|@SERVER_KEY@|$T/srv.key|g" -e "s|@SERVER_PEM@|$T/srv-full.pem|g" "$1" >"$2"
}
stop() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }

# nginx
PORT=$(free_port); mkdir -p "$T/nginx-tmp"; fill "$EX/nginx.conf" "$T/nginx.conf"
nginx -p "$T" -c "$T/nginx.conf" -e "$T/nginx-error.log" 2>>"$T/nginx-error.log" & NGINX=$!
if wait_port "$PORT"; then
  client good "$GET" >"$T/ng-good" 
  check "nginx admits the device" grep -q "^device=DEV-P11 network=$NET_ID" "$T/ng-good"
  check "nginx maps the device ID to a header" grep -qi "^X-Device-ID: DEV-P11" "$T/ng-good"
  client other "$GET" >"$T/ng-other"
  check "nginx refuses another network's device (403)" grep -q "^HTTP/1.1 403" "$T/ng-other"
  old_client "$GET" >"$T/ng-old"
  check "nginx admits a form 1 device" grep -q "^device=DEV-OLD network=$NET_ID" "$T/ng-old"
else fail "nginx did not start: $(tail -n 3 "$T/nginx-error.log")"; fi
stop "$NGINX"
# the depth (docs/RELYING-PARTY.md): nginx's default 1 refuses every device, 2 is the least
for d in 1 2; do
  sed -i "s/ssl_verify_depth [0-9]*;/ssl_verify_depth $d;/" "$T/nginx.conf"
  nginx -p "$T" -c "$T/nginx.conf" -e "$T/nginx-error.log" 2>>"$T/nginx-error.log" & NGINX=$!
  wait_port "$PORT" && client good "$GET" >"$T/ng-depth$d"
  stop "$NGINX"
done
check "nginx with its default depth 1 refuses the device (400)" grep -q "^HTTP/1.1 400" "$T/ng-depth1"
check "nginx with depth 2 admits it" grep -q "^device=DEV-P11" "$T/ng-depth2"

# HAProxy
PORT=$(free_port); fill "$EX/haproxy.cfg" "$T/haproxy.cfg"
haproxy -f "$T/haproxy.cfg" -db >"$T/haproxy.log" 2>&1 & HAPROXY=$!
if wait_port "$PORT"; then
  client good "$GET" >"$T/hp-good"
  check "HAProxy admits the device" grep -q "^device=DEV-P11 network=$NET_ID" "$T/hp-good"
  check "HAProxy maps the device ID to a header" grep -qi "^X-Device-ID: DEV-P11" "$T/hp-good"
  client other "$GET" >"$T/hp-other"
  check "HAProxy refuses another network's device (403)" grep -q "^HTTP/1.[01] 403" "$T/hp-other"
  old_client "$GET" >"$T/hp-old"
  check "HAProxy admits a form 1 device" grep -q "^device=DEV-OLD" "$T/hp-old"
else fail "haproxy did not start: $(tail -n 3 "$T/haproxy.log")"; fi
stop "$HAPROXY"

# Go
"$T/go-verify" serve --cert "$T/srv.pem" --key "$T/srv.key" --ca "$R" --network "$NET_ID" >"$T/go.out" 2>"$T/go.log" & GOSRV=$!
for _ in $(seq 1 100); do PORT=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$T/go.out"); [ -n "$PORT" ] && break; sleep 0.05; done
if [ -n "$PORT" ]; then
  client good "ping\n" >"$T/go-good"
  check "Go admits the device" grep -qx "hello DEV-P11 ping" "$T/go-good"
  client other "ping\n" >"$T/go-other"
  check "Go refuses another network's device" logged "$T/go.log" "refused: .*network \"other-net\" is not \"$NET_ID\""
  old_client "ping\n" >"$T/go-old"
  check "Go refuses a form 1 device (docs/RELYING-PARTY.md)" logged "$T/go.log" "refused: .*x509: unhandled critical extension"
else fail "the Go server did not listen: $(head -c 300 "$T/go.log")"; fi

# Python ssl
python3 "$EX/python-server.py" --cert "$T/srv.pem" --key "$T/srv.key" --ca "$R" --network "$NET_ID" >"$T/py.out" 2>"$T/py.log" & PYSRV=$!
PORT=
for _ in $(seq 1 100); do PORT=$(sed -n 's/^listening on \([0-9]*\)$/\1/p' "$T/py.out"); [ -n "$PORT" ] && break; sleep 0.05; done
if [ -n "$PORT" ]; then
  client good "ping\n" >"$T/py-good"
  check "Python ssl admits the device" grep -qx "hello DEV-P11 ping" "$T/py-good"
  client other "ping\n" >"$T/py-other"
  check "Python ssl refuses another network's device" logged "$T/py.log" "refused: network 'other-net'"
  old_client "ping\n" >"$T/py-old"
  check "Python ssl admits a form 1 device" grep -qx "hello DEV-OLD ping" "$T/py-old"
else fail "the Python server did not listen: $(head -c 300 "$T/py.log")"; fi

# openssl s_server: path validation only (no subject rule; see docs/RELYING-PARTY.md)
PORT=$(free_port)
openssl s_server -accept "127.0.0.1:$PORT" -cert "$T/srv.pem" -key "$T/srv.key" -CAfile "$R" \
  -Verify 3 -verify_return_error -www >"$T/ss.out" 2>&1 & SSRV=$!
if wait_port "$PORT"; then
  client good "$GET" >"$T/ss-good"
  check "s_server admits the device" grep -q "serialNumber *= *DEV-P11" "$T/ss-good"
else fail "s_server did not start: $(tail -n 3 "$T/ss.out")"; fi

# ---- the expired leaf, at every server still running, and at nginx/HAProxy again ----
while [ "$SECONDS" -lt "$EXPIRES_AT" ]; do sleep 0.2; done
client expired "$GET" >"$T/ss-expired"
check "s_server refuses the expired leaf" bash -c "! grep -q 'DEV-P11' '$T/ss-expired'"
check "s_server names the reason" grep -q "certificate has expired" "$T/ss.out"
PORT=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$T/go.out")
client expired "ping\n" >"$T/go-expired"
check "Go refuses the expired leaf" logged "$T/go.log" "refused: .*certificate has expired or is not yet valid"
PORT=$(sed -n 's/^listening on \([0-9]*\)$/\1/p' "$T/py.out")
client expired "ping\n" >"$T/py-expired"
check "Python ssl refuses the expired leaf" logged "$T/py.log" "refused: .*certificate has expired"
stop "$SSRV"; stop "$GOSRV"; stop "$PYSRV"
PORT=$(free_port); fill "$EX/nginx.conf" "$T/nginx.conf"
nginx -p "$T" -c "$T/nginx.conf" -e "$T/nginx-error.log" 2>>"$T/nginx-error.log" & NGINX=$!
if wait_port "$PORT"; then
  client expired "$GET" >"$T/ng-expired"
  check "nginx refuses the expired leaf (400)" grep -q "^HTTP/1.1 400" "$T/ng-expired"
  check "nginx logs why" grep -q "certificate has expired" "$T/nginx-error.log"
fi
stop "$NGINX"
PORT=$(free_port); fill "$EX/haproxy.cfg" "$T/haproxy.cfg"
haproxy -f "$T/haproxy.cfg" -db >"$T/haproxy.log" 2>&1 & HAPROXY=$!
if wait_port "$PORT"; then
  client expired "$GET" >"$T/hp-expired"
  check "HAProxy refuses the expired leaf" bash -c "! grep -q '^device=' '$T/hp-expired'"
fi
stop "$HAPROXY"
echo "test_interop: $((SECONDS - START)) s" >&2
finish
