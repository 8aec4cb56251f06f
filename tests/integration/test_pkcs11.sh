#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# libselfcert-pkcs11.so under stock software: GnuTLS's p11tool and OpenSC's pkcs11-tool list the
# SP's keys and certificates; pkcs11-tool signs (EC, RSA PKCS#1 v1.5 and PSS, raw and hashed,
# Ed25519 through CKM_EDDSA), decrypts (RSA-OAEP) and derives (ECDH), each result checked by
# stock openssl against the leaf certificate; keys refuse what their certificate does not allow;
# the configuration file works and a bad one is named; and a walk of every object and attribute
# (sc-p11-drive) runs clean under valgrind.
SC_VG_BINS="SELFCERT_SPD SC_P11_DRIVE"   # under valgrind (lib.sh); the CLI runs there in other tests
source "$SC_TESTLIB"
source "$SC_PKCS11_LIB"
: "${SC_P11_DRIVE:?set SC_P11_DRIVE to sc-p11-drive}"
M=$SC_PKCS11_MODULE

p11_world || { fail "the world"; finish; exit 1; }
ok "leaf ec"   issue_leaf ec --alg p256 --eku clientAuth
ok "leaf p384" issue_leaf p384 --alg p384
ok "leaf rsa"  issue_leaf rsa --alg rsa2048 --key-usage digitalSignature,keyEncipherment
# SC_BACKEND=tpm (integration/tpm/test_pkcs11): a TPM holds no Ed25519 key, so "ed" is a fifth
# signing key (RSA-3072) there, and the Ed25519 leaf is refused instead.
ED_ALG=ed25519
[ "$SC_BACKEND" = tpm ] && ED_ALG=rsa3072
ok "leaf ed ($ED_ALG)" issue_leaf ed --alg "$ED_ALG"
if [ "$SC_BACKEND" = tpm ]; then
  if issue_leaf edx --alg ed25519 2>"$T/edx.err"; then fail "the TPM issued an Ed25519 leaf"; else
    check "the TPM backend refuses an Ed25519 leaf: algorithm" \
      grep -q "^selfcert: algorithm: the tpm backend cannot hold Ed25519 keys" "$T/edx.err"
  fi
fi
ok "leaf ecdh" issue_leaf ecdh --alg p256 --key-usage keyAgreement
printf 'data signed through PKCS#11 %s\n' "$RANDOM" >"$T/msg"
openssl dgst -sha256 -binary "$T/msg" >"$T/msg.sha256"

# ---- listing ----
p11tool --provider "$M" --list-all >"$T/p11tool.out" 2>"$T/p11tool.err"
check "p11tool --list-all runs" [ $? -eq 0 ]
for k in ec p384 rsa ed ecdh; do
  h=$(cat "$T/$k.handle")
  for type in private public cert; do
    check "p11tool lists $k's $type object" grep -q "token=DEV-P11;.*object=$h;type=$type\$" "$T/p11tool.out"
  done
done
check "p11tool: the EC key" grep -q "Type: Private key (EC/ECDSA-SECP256R1)" "$T/p11tool.out"
check "p11tool: the RSA key" grep -q "Type: Private key (RSA-2048)" "$T/p11tool.out"
check "p11tool: never extractable" grep -q "Flags: CKA_NEVER_EXTRACTABLE; CKA_SENSITIVE;" "$T/p11tool.out"
check "p11tool: the device CA" grep -q "object=device-ca;type=cert" "$T/p11tool.out"
check "p11tool: the manufacturer CA from the folder" grep -q "object=chain-2;type=cert" "$T/p11tool.out"

p11 --list-objects >"$T/objects.out" 2>&1
check "pkcs11-tool --list-objects runs" [ $? -eq 0 ]
check "5 private keys" [ "$(grep -c '^Private Key Object' "$T/objects.out")" -eq 5 ]
check "5 public keys" [ "$(grep -c '^Public Key Object' "$T/objects.out")" -eq 5 ]
check "7 certificates (5 leaves, device CA, manufacturer CA)" \
  [ "$(grep -c '^Certificate Object' "$T/objects.out")" -eq 7 ]
check "keys are sensitive, never extractable" \
  [ "$(grep -c 'Access:     sensitive, always sensitive, never extractable, local' "$T/objects.out")" -eq 5 ]
[ "$SC_BACKEND" = tpm ] ||
  check "an Ed25519 key" grep -q '^Private Key Object; EC_EDWARDS' "$T/objects.out"
check "the ECDH key derives only" grep -q 'Allowed mechanisms: ECDH1-DERIVE$' "$T/objects.out"
check "the RSA key signs and decrypts" grep -q 'Usage:      decrypt, sign' "$T/objects.out"
check "CKA_ID is the SKI" grep -q "ID:         $(cat "$T/ec.id")" "$T/objects.out"
p11 -M >"$T/mechs.out" 2>&1
for mech in ECDSA ECDSA-SHA256 ECDSA-SHA384 ECDSA-SHA512 RSA-PKCS SHA256-RSA-PKCS SHA384-RSA-PKCS \
    SHA512-RSA-PKCS RSA-PKCS-PSS SHA256-RSA-PKCS-PSS SHA384-RSA-PKCS-PSS SHA512-RSA-PKCS-PSS \
    RSA-PKCS-OAEP ECDH1-DERIVE; do
  check "mechanism $mech listed" grep -q "^  $mech[,:]" "$T/mechs.out"
done
check "mechanism EDDSA listed" grep -qE "^  (EDDSA|mechtype-0x1057)[,:]" "$T/mechs.out"
p11 -T >"$T/token.out" 2>&1
check "no login required (no PIN)" bash -c "! grep -q 'login required' '$T/token.out'"

# ---- signing, checked by openssl against the leaf certificate ----
# pkcs11-tool 0.23 picks the signing key by --id (it ignores --label for --sign).
sign() { local k=$1; shift; p11 --sign --id "$(cat "$T/$k.id")" "$@"; }
ok "ECDSA-SHA256 (P-256)" sign ec -m ECDSA-SHA256 -i "$T/msg" -o "$T/ec.sig" --signature-format openssl
ok "  verifies" openssl dgst -sha256 -verify "$T/ec.pub" -signature "$T/ec.sig" "$T/msg"
ok "ECDSA-SHA384 (P-384)" sign p384 -m ECDSA-SHA384 -i "$T/msg" -o "$T/p384.sig" --signature-format openssl
ok "  verifies" openssl dgst -sha384 -verify "$T/p384.pub" -signature "$T/p384.sig" "$T/msg"
ok "raw ECDSA over a SHA-256 digest" sign ec -m ECDSA -i "$T/msg.sha256" -o "$T/ecraw.sig" --signature-format openssl
ok "  verifies" openssl dgst -sha256 -verify "$T/ec.pub" -signature "$T/ecraw.sig" "$T/msg"
ok "SHA256-RSA-PKCS" sign rsa -m SHA256-RSA-PKCS -i "$T/msg" -o "$T/rsa.sig"
ok "  verifies" openssl dgst -sha256 -verify "$T/rsa.pub" -signature "$T/rsa.sig" "$T/msg"
# CKM_RSA_PKCS over a DigestInfo the caller built (as TLS 1.2 stacks do).
printf '\x30\x31\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01\x05\x00\x04\x20' >"$T/di"
cat "$T/msg.sha256" >>"$T/di"
ok "RSA-PKCS over a SHA-256 DigestInfo" sign rsa -m RSA-PKCS -i "$T/di" -o "$T/rsadi.sig"
ok "  verifies" openssl dgst -sha256 -verify "$T/rsa.pub" -signature "$T/rsadi.sig" "$T/msg"
sign rsa -m RSA-PKCS -i "$T/msg" -o "$T/rsabad.sig" >"$T/.out" 2>&1
check "RSA-PKCS over a non-DigestInfo: CKR_DATA_INVALID" grep -q "CKR_DATA_INVALID" "$T/.out"
ok "SHA384-RSA-PKCS-PSS" sign rsa -m SHA384-RSA-PKCS-PSS -i "$T/msg" -o "$T/pss.sig"
ok "  verifies (salt 48)" openssl dgst -sha384 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:48 \
  -verify "$T/rsa.pub" -signature "$T/pss.sig" "$T/msg"
ok "RSA-PKCS-PSS over a SHA-256 digest" sign rsa -m RSA-PKCS-PSS --hash-algorithm SHA256 --mgf MGF1-SHA256 \
  -i "$T/msg.sha256" -o "$T/pssraw.sig"
ok "  verifies (salt 32)" openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 \
  -verify "$T/rsa.pub" -signature "$T/pssraw.sig" "$T/msg"
sign rsa -m RSA-PKCS-PSS --hash-algorithm SHA256 --mgf MGF1-SHA384 -i "$T/msg.sha256" -o "$T/x.sig" >"$T/.out" 2>&1
check "PSS with MGF1 of another hash: CKR_MECHANISM_PARAM_INVALID" grep -q "CKR_MECHANISM_PARAM_INVALID" "$T/.out"
if [ "$SC_BACKEND" != tpm ]; then
  ok "EDDSA (Ed25519)" sign ed -m EDDSA -i "$T/msg" -o "$T/ed.sig"
  check "  64 bytes" [ "$(stat -c %s "$T/ed.sig")" -eq 64 ]
  ok "  verifies" openssl pkeyutl -verify -pubin -inkey "$T/ed.pub" -rawin -in "$T/msg" -sigfile "$T/ed.sig"
fi

# ---- what a key's certificate does not allow ----
sign ecdh -m ECDSA-SHA256 -i "$T/msg" -o "$T/x.sig" >"$T/.out" 2>&1
check "the keyAgreement key may not sign: CKR_KEY_FUNCTION_NOT_PERMITTED" grep -q "CKR_KEY_FUNCTION_NOT_PERMITTED" "$T/.out"
sign ec -m SHA256-RSA-PKCS -i "$T/msg" -o "$T/x.sig" >"$T/.out" 2>&1
check "an RSA mechanism on an EC key: CKR_KEY_TYPE_INCONSISTENT" grep -q "CKR_KEY_TYPE_INCONSISTENT" "$T/.out"

# ---- decryption (RSA-OAEP) and key agreement (ECDH), against openssl ----
openssl pkeyutl -encrypt -pubin -inkey "$T/rsa.pub" -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 \
  -pkeyopt rsa_mgf1_md:sha256 -in "$T/msg" -out "$T/ct256"
ok "RSA-PKCS-OAEP SHA-256 decrypts" p11 --decrypt --id "$(cat "$T/rsa.id")" -m RSA-PKCS-OAEP \
  --hash-algorithm SHA256 --mgf MGF1-SHA256 -i "$T/ct256" -o "$T/pt256"
check "  to the message" cmp -s "$T/pt256" "$T/msg"
openssl pkeyutl -encrypt -pubin -inkey "$T/rsa.pub" -pkeyopt rsa_padding_mode:oaep -in "$T/msg" -out "$T/ct1"
ok "RSA-PKCS-OAEP SHA-1 decrypts" p11 --decrypt --id "$(cat "$T/rsa.id")" -m RSA-PKCS-OAEP \
  --hash-algorithm SHA-1 --mgf MGF1-SHA1 -i "$T/ct1" -o "$T/pt1"
check "  to the message" cmp -s "$T/pt1" "$T/msg"
p11 --decrypt --id "$(cat "$T/rsa.id")" -m RSA-PKCS-OAEP --hash-algorithm SHA256 --mgf MGF1-SHA256 \
  -i "$T/ct1" -o "$T/x" >"$T/.out" 2>&1
check "the wrong OAEP hash: CKR_ENCRYPTED_DATA_INVALID" grep -q "CKR_ENCRYPTED_DATA_INVALID" "$T/.out"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/peer.key" 2>/dev/null
openssl pkey -in "$T/peer.key" -pubout -outform DER -out "$T/peer.der"
ok "ECDH1-DERIVE" p11 --derive --id "$(cat "$T/ecdh.id")" -m ECDH1-DERIVE -i "$T/peer.der" -o "$T/z"
openssl pkeyutl -derive -inkey "$T/peer.key" -peerkey "$T/ecdh.pub" -out "$T/z.openssl"
check "  the same secret as the peer's" cmp -s "$T/z" "$T/z.openssl"
p11 --derive --id "$(cat "$T/ec.id")" -m ECDH1-DERIVE -i "$T/peer.der" -o "$T/x" >"$T/.out" 2>&1
check "a signing-only key may not derive: CKR_KEY_FUNCTION_NOT_PERMITTED" grep -q "CKR_KEY_FUNCTION_NOT_PERMITTED" "$T/.out"

# ---- configuration file ----
printf '# the SP of this host\nsp = %s\ncerts = %s\nlabel = configured\n' "$T/dev.sock" "$T/certs" >"$T/p11.conf"
env -u SELFCERT_SP -u SELFCERT_CERTS SELFCERT_PKCS11_CONF="$T/p11.conf" \
  pkcs11-tool --module "$M" -T >"$T/conf.out" 2>&1
check "the config file names the SP and the label" grep -q "token label        : configured" "$T/conf.out"
printf 'sp = %s\nspp = x\n' "$T/dev.sock" >"$T/bad.conf"
env -u SELFCERT_SP SELFCERT_PKCS11_CONF="$T/bad.conf" pkcs11-tool --module "$M" -T >"$T/conf.out" 2>&1
check "a bad config file is named, with its line and key" \
  grep -q "^selfcert-pkcs11: configuration: malformed: $T/bad.conf:2: unknown key 'spp'" "$T/conf.out"
env -u SELFCERT_SP -u SELFCERT_PKCS11_CONF pkcs11-tool --module "$M" -L >"$T/conf.out" 2>&1
check "no SP configured: the slot, without a token" grep -q "(empty)" "$T/conf.out"

# ---- every object, every attribute, under valgrind ----
if command -v valgrind >/dev/null; then
  valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect,possible \
    --errors-for-leak-kinds=definite,indirect,possible "$SC_P11_DRIVE" walk "$M" >"$T/walk.out" 2>"$T/walk.err"
  rc=$?
  check "valgrind: no errors, no leaks (exit $rc) $(head -c 300 "$T/walk.err")" [ "$rc" -eq 0 ]
  check "the walk saw 17 objects and verified 4 of 4 signatures" \
    grep -q "^walked 17 objects, [0-9]* attributes, 4 of 4 signatures verified$" "$T/walk.out"
else
  fail "valgrind is not installed (scripts/deps.d/pkcs11.txt)"
fi
finish
