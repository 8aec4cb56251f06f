#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Operator and manufacturer keys in a PKCS#11 token (SoftHSM, through OpenSSL's pkcs11
# provider): `mfr init` and `mfr personalize` with the manufacturer CA's key in a token, `net
# init` certifying a root and a signer that live in a token, `net server-cert` signed by it,
# the offline root, selfcert-provd signing every kind of profile with the token's key while
# agents enroll, `openssl verify` of everything made; a wrong PIN, a missing key, a pin-value
# URI and a key of another certificate refused with their exact lines; the PIN nowhere in any
# log, output or command line; provd stops cleanly (no exit-time crash in the token's module).
SC_VG_BINS=${SC_VG_BINS:-"SELFCERT SELFCERT_PROVD"}   # under valgrind: the two that open token keys
source "$SC_TESTLIB"
source "$(dirname "$SC_TESTLIB")/lib-provd.sh"
source "$(dirname "$SC_TESTLIB")/lib-hsm.sh"

missing=$(hsm_missing)
if [ -n "$missing" ]; then
  echo "SKIP: not installed: $missing (scripts/deps.sh installs them)"
  exit 77
fi
# ASan cannot run a library dlopen'ed with RTLD_DEEPBIND (google/sanitizers#611), and the
# provider opens every PKCS#11 module that way: the sanitized build cannot use a token at all.
if ldd "$SELFCERT" 2>/dev/null | grep -q libasan; then
  echo "SKIP: a sanitizer build: pkcs11-provider dlopens the module with RTLD_DEEPBIND, which ASan cannot run; the debug build and the valgrind pass run this test"
  exit 77
fi
hsm_init
hsm_token selfcert-net || exit 1
hsm_token acme-factory || exit 1
hsm_key selfcert-net root 01 EC:prime256v1 || exit 1
hsm_key selfcert-net signer 02 EC:prime256v1 || exit 1
hsm_key acme-factory device-ca 01 EC:secp384r1 || exit 1
hsm_key acme-factory spare 02 RSA:2048 || exit 1
hsm_key selfcert-net twin 03 EC:prime256v1 || exit 1
hsm_key selfcert-net twin 04 EC:prime256v1 || exit 1
ROOT_URI=$(hsm_uri selfcert-net root)
SIGNER_URI=$(hsm_uri selfcert-net signer)
CA_URI=$(hsm_uri acme-factory device-ca)
# module-path in the URI names the same module PKCS11_PROVIDER_MODULE does: accepted.
SIGNER_URI_MP="pkcs11:token=selfcert-net;object=signer;type=private?module-path=$HSM_MODULE&pin-source=file:$T/hsm.pin"

# --- the manufacturer: its CA key in the token, the root a file ---
ok "mfr init --ca-key URI" sc mfr init --dir "$T/mfr" --name "ACME Devices" --ca-key "$CA_URI"
check "no ca.key written" [ ! -e "$T/mfr/ca.key" ]
check "the root key is a file" [ -s "$T/mfr/root.key" ]
ok "ca.pem chains to the manufacturer root" openssl verify -CAfile "$T/mfr/root.pem" "$T/mfr/ca.pem"
check "ca.pem certifies the token's key" \
  [ "$(openssl x509 -in "$T/mfr/ca.pem" -noout -pubkey)" = "$(hsm_pubkey acme-factory device-ca)" ]

# --- the network: root and signer both in the token ---
ok "net init --root-key URI --signer-key URI" sc net init --dir "$T/net" --network-id hsmnet \
  --root-key "$ROOT_URI" --signer-key "$SIGNER_URI"
NET_ID=hsmnet
check "no private key in the server's folder" [ -z "$(grep -rl PRIVATE "$T/net")" ]
ok "signer.pem chains to root.pem" openssl verify -CAfile "$T/net/root.pem" "$T/net/signer.pem"
check "signer.pem certifies the token's signer key" \
  [ "$(openssl x509 -in "$T/net/signer.pem" -noout -pubkey)" = "$(hsm_pubkey selfcert-net signer)" ]
check "root.pem certifies the token's root key" \
  [ "$(openssl x509 -in "$T/net/root.pem" -noout -pubkey)" = "$(hsm_pubkey selfcert-net root)" ]
ok "net server-cert signed by the token's root" sc net server-cert --dir "$T/net" \
  --root-key "$ROOT_URI" --host 127.0.0.1 --host localhost
ok "server.pem chains to root.pem" openssl verify -CAfile "$T/net/root.pem" "$T/net/server.pem"
mkdir -p "$T/net4" && cp "$T/net/root.pem" "$T/net4/"
refused "server-cert without the root key" 3 io sc net server-cert --dir "$T/net4" --host a.example
printf '%s\n' "$PROVD_TOKEN" >"$T/token"
chmod 600 "$T/token"

# --- the offline root: the new root key goes elsewhere, the server's folder never has it ---
ok "net init --offline-root" sc net init --dir "$T/net2" --network-id offnet --offline-root "$T/vault"
check "root key in the vault" [ -s "$T/vault/root.key" ]
check "the vault is 0700" [ "$(stat -c %a "$T/vault")" = 700 ]
check "no root key in the server's folder" [ ! -e "$T/net2/root.key" ]
check "the server's folder: root.pem signer.pem signer.key" \
  [ "$(ls "$T/net2" | tr '\n' ' ')" = "root.pem signer.key signer.pem " ]
ok "server-cert from the vault's key" sc net server-cert --dir "$T/net2" --root-key "$T/vault/root.key" --host 127.0.0.1
ok "its server.pem chains" openssl verify -CAfile "$T/net2/root.pem" "$T/net2/server.pem"
refused "--offline-root with --root-key" 2 usage sc net init --dir "$T/net3" --network-id x \
  --offline-root "$T/v3" --root-key "$T/vault/root.key"

# --- refusals, each with its exact line, before anything is written ---
shown="pkcs11:token=selfcert-net;object=signer;type=private"
refused "a wrong PIN" 1 denied sc net init --dir "$T/bad1" --network-id x \
  --signer-key "$(hsm_uri selfcert-net signer "$T/hsm-bad.pin")"
check "wrong PIN: the line" [ "$(cat "$T/.err")" = \
  "selfcert: denied: $shown: the token refused the PIN in $T/hsm-bad.pin (the key's public half is there)" ]
refused "no such object" 1 not-found sc net init --dir "$T/bad2" --network-id x \
  --signer-key "$(hsm_uri selfcert-net nosuch)"
check "no such object: the line" [ "$(cat "$T/.err")" = \
  "selfcert: not-found: pkcs11:token=selfcert-net;object=nosuch;type=private: no such key in any token" ]
refused "a pin-value URI" 2 usage sc net init --dir "$T/bad3" --network-id x \
  --signer-key "$shown?pin-value=$HSM_PIN"
check "pin-value: the line" [ "$(cat "$T/.err")" = \
  "selfcert: usage: $shown: pin-value is refused: a PIN in a URI shows in the process list and in logs; put it in a file only its owner can read and give ?pin-source=file:/PATH" ]
refused "a URI naming two keys" 2 usage sc net init --dir "$T/bad7" --network-id x \
  --signer-key "$(hsm_uri selfcert-net twin)"
check "two keys: the line" [ "$(cat "$T/.err")" = \
  "selfcert: usage: pkcs11:token=selfcert-net;object=twin;type=private: names more than one private key; add id= or token=" ]
ok "the same with its id: one key" sc net init --dir "$T/twin" --network-id x \
  --signer-key "pkcs11:token=selfcert-net;object=twin;id=%04;type=private?pin-source=file:$T/hsm.pin"
refused "no PIN" 1 denied sc net init --dir "$T/bad4" --network-id x --signer-key "$shown"
chmod 644 "$T/hsm-bad.pin"
refused "a PIN file open to others" 3 io sc net init --dir "$T/bad5" --network-id x \
  --signer-key "$(hsm_uri selfcert-net signer "$T/hsm-bad.pin")"
check "nothing written by the refusals" [ ! -e "$T/bad1/root.pem" ] && [ ! -e "$T/bad2/root.pem" ] && [ ! -e "$T/bad3" ]
refused "a second module in one process" 2 usage env -u PKCS11_PROVIDER_MODULE "$SELFCERT" net init \
  --dir "$T/bad6" --network-id x \
  --root-key "pkcs11:token=selfcert-net;object=root;type=private?module-path=$HSM_MODULE&pin-source=file:$T/hsm.pin" \
  --signer-key "$shown?module-path=/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so&pin-source=file:$T/hsm.pin"
check "second module: the line" [ "$(cat "$T/.err")" = \
  "selfcert: usage: $shown: a second PKCS#11 module (/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so); one process uses one module ($HSM_MODULE)" ]
refused "module-path against PKCS11_PROVIDER_MODULE" 2 usage sc net init --dir "$T/bad9" \
  --network-id x --signer-key "$shown?module-path=$T/other.so&pin-source=file:$T/hsm.pin"
check "module conflict: the line" [ "$(cat "$T/.err")" = \
  "selfcert: usage: $shown: module-path differs from PKCS11_PROVIDER_MODULE ($HSM_MODULE), which the provider would use instead; give one of them" ]
refused "a module that is not there" 3 io env -u PKCS11_PROVIDER_MODULE "$SELFCERT" net init --dir "$T/bad8" --network-id x \
  --signer-key "$shown?module-path=$T/no-such-module.so&pin-source=file:$T/hsm.pin"
check "no module: the line" [ "$(cat "$T/.err")" = \
  "selfcert: io: $shown: cannot use the PKCS#11 module $T/no-such-module.so (missing, or it failed to initialize)" ]

# --- the provisioning server with the signer's key in the token ---
P=(--db "$T/reg.db" --net-dir "$T/net" --mfr-root "$T/mfr/root.pem" --listen 127.0.0.1:0 --insecure-http)
provd_refused() {  # provd_refused DESC EXIT LINE KEY: provd exits at start with exactly LINE
  "$SELFCERT_PROVD" "${P[@]}" --signer-key "$4" >"$T/.out" 2>"$T/.err"
  local rc=$?
  if [ "$rc" -ne "$2" ]; then fail "$1: exit $rc, expected $2 — $(head -n 2 "$T/.err")"
  elif [ "$(cat "$T/.err")" != "$3" ]; then fail "$1: '$(cat "$T/.err")', expected '$3'"
  else pass; fi
}
chmod 600 "$T/hsm-bad.pin"
provd_refused "provd: a wrong PIN" 1 \
  "selfcert-provd: denied: $shown: the token refused the PIN in $T/hsm-bad.pin (the key's public half is there)" \
  "$(hsm_uri selfcert-net signer "$T/hsm-bad.pin")"
provd_refused "provd: no such object" 1 \
  "selfcert-provd: not-found: pkcs11:token=selfcert-net;object=gone;type=private: no such key in any token" \
  "$(hsm_uri selfcert-net gone)"
provd_refused "provd: pin-value" 2 \
  "selfcert-provd: usage: $shown: pin-value is refused: a PIN in a URI shows in the process list and in logs; put it in a file only its owner can read and give ?pin-source=file:/PATH" \
  "$shown?pin-value=$HSM_PIN"
provd_refused "provd: the root's key for the signer" 1 \
  "selfcert-provd: key-mismatch: --signer-key does not belong to $T/net/signer.pem" "$ROOT_URI"
"$SELFCERT_PROVD" "${P[@]}" >"$T/.out" 2>"$T/.err"
check "provd: default signer.key absent: io" [ $? -eq 3 ] && check "names signer.key" grep -q "signer.key" "$T/.err"

for d in 1 2 3 4 5; do sc net device add --db "$T/reg.db" --device-id "DEV-H$d" >/dev/null; done
start_provd --signer-key "$SIGNER_URI_MP" --allow-server-keygen || exit 1
ok "provd's command line holds no PIN" bash -c "! tr '\\0' ' ' </proc/$PROVD_PID/cmdline | grep -q $HSM_PIN"

# Devices personalized with the manufacturer CA's key in the token (mfr personalize --ca-key).
CSK_ALG=p256 KEX_ALG=p256 provd_device h1 DEV-H1 --ca-key "$CA_URI" || exit 1
CSK_ALG=p384 KEX_ALG=rsa2048 provd_device h2 DEV-H2 --ca-key "$CA_URI" || exit 1
CSK_ALG=p256 KEX_ALG=p256 provd_device h3 DEV-H3 --ca-key "$CA_URI" || exit 1
for d in h1 h2 h3; do
  ok "$d: device CA verifies (CA key in SoftHSM)" openssl verify -CAfile "$T/mfr/root.pem" \
    -untrusted "$T/mfr/ca.pem" "$T/$d-certs/device-ca.pem"
  ok "$d: KEK certificate verifies" openssl verify -CAfile "$T/mfr/root.pem" \
    -untrusted "$T/mfr/ca.pem" "$T/$d-certs/kex.pem"
done
refused "personalize with a CA key of another certificate" 1 key-mismatch \
  sc mfr personalize --dir "$T/mfr" --sp "$T/h1.sock" --out "$T/x-certs" \
  --net-root "$T/net/root.pem" --network-id hsmnet --ca-key "$(hsm_uri acme-factory spare)"

# Every kind of profile, each signed by the token's key: device-generated keys of each
# algorithm, renewals, and server-generated keys encrypted to EC and RSA KEKs.
enroll() {  # enroll DEVICE DESC AGENT-FLAGS…
  local d=$1 desc=$2; shift 2
  ok "$desc" agent "$d" --once "$@"
  ok "$desc: the leaf verifies" openssl verify -CAfile "$T/mfr/root.pem" \
    -untrusted "$T/$d-out/chain.pem" "$T/$d-out/leaf.pem"
  ok "$desc: selfcert verify" sc verify --mfr-root "$T/mfr/root.pem" --chain "$T/$d-out/chain.pem" \
    "$T/$d-out/leaf.pem"
}
enroll h1 "h1: device-generated p256" --alg p256
enroll h1 "h1: renewed, ed25519" --alg ed25519 --force-renew
enroll h1 "h1: renewed, rsa2048" --alg rsa2048 --force-renew
enroll h2 "h2: device-generated p384" --alg p384
enroll h2 "h2: server-generated p256 to an RSA KEK" --server-keygen --alg p256 --force-renew
enroll h3 "h3: server-generated p384 to an EC KEK" --server-keygen --alg p384
check "every profile recorded" [ "$(db 'SELECT count(*) FROM profiles')" -ge 6 ]
check "every certificate recorded" [ "$(db 'SELECT count(*) FROM certificates')" -eq 6 ]

# A profile signed by the token through the CLI, verified against the network root.
ok "net profile --signer-key URI" sc net profile --dir "$T/net" --signer-key "$SIGNER_URI" \
  --device-ca "$T/h1-certs/device-ca.pem" --out "$T/p.der" --validity 1d
refused "a token key as the device's server-generated key" 2 usage sc net profile --dir "$T/net" \
  --device-ca "$T/h1-certs/device-ca.pem" --out "$T/p4.der" --validity 1d --server-keygen p256 \
  --kex "$T/h1-certs/kex.pem" --server-key "$SIGNER_URI" --signer-key "$SIGNER_URI"

# The operator's own openssl.cnf loads the provider (its module, its quirks): used as it is.
ok "the provider from OPENSSL_CONF" env OPENSSL_CONF="$T/openssl-hsm.cnf" PKCS11_PROVIDER_MODULE= \
  "$SELFCERT" net profile --dir "$T/net" --signer-key "$SIGNER_URI" \
  --device-ca "$T/h1-certs/device-ca.pem" --out "$T/p2.der" --validity 1d
refused "module-path beside OPENSSL_CONF's provider" 2 usage env OPENSSL_CONF="$T/openssl-hsm.cnf" \
  "$SELFCERT" net profile --dir "$T/net" --signer-key "$SIGNER_URI_MP" \
  --device-ca "$T/h1-certs/device-ca.pem" --out "$T/p3.der" --validity 1d
stop_provd
check "provd stops with exit 0 (no crash in the module at exit)" [ $? -eq 0 ]
check "provd logged no crash" bash -c "! grep -qi 'segmentation\\|core dumped\\|abort' '$T/provd.log'"

# --- the PIN nowhere: logs, outputs, error lines, state files ---
check "the PIN in no file of the test" bash -c "! grep -rl --exclude=hsm.pin --exclude-dir=tokens \
  --exclude=softhsm2.conf -e '$HSM_PIN' '$T' | grep -q ."

[ "$SC_VALGRIND" = 1 ] && vg_finish
echo "test_hsm: $PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
