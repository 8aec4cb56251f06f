#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The TPM 2.0 key backend's claims, proven with swtpm and stock tpm2-tools (docs/TPM.md): the
# store holds only TPM blobs that stock tools load under the owner storage key and show as
# fixedTPM|fixedParent|sensitiveDataOrigin with the certificate's uses; the store folder copied
# next to a second TPM does not open (store-damaged); an old copy of the whole folder is refused
# (rollback) because the counter is a TPM NV counter; Ed25519 and RSA-4096 are refused with
# `algorithm` at personalization and at issuance; a killed daemon's objects do not exhaust the TPM.
# swtpm-bound, and the SP code it runs is the soft tests' plus ESAPI: not in the valgrind pass.
[ "${SC_VALGRIND:-0}" = 1 ] && { echo "skipped under valgrind (cmake/tpm.cmake)"; exit 77; }
source "$SC_TESTLIB"
command -v swtpm >/dev/null && command -v tpm2_load >/dev/null || { echo "swtpm/tpm2-tools missing: skipped"; exit 77; }

start_swtpm "$T/tpm" || { fail "swtpm"; finish; exit 1; }
TCTI="swtpm:path=$T/tpm/sock"
SRK_ATTRS='fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda|restricted|decrypt'

sc mfr init --dir "$T/mfr" --name "TPM Devices" >/dev/null || exit 1
sc net init --dir "$T/net" --network-id net-tpm --alg p256 >/dev/null || exit 1
anchors=(--net-root "$T/net/root.pem" --network-id net-tpm)

ok "sp init --backend tpm" sc sp init --store "$T/dev" --device-id TPM-0001 --backend tpm --tcti "$TCTI"
check "the store holds root.tpm, no root.key, no counter file" \
  [ -f "$T/dev/root.tpm" ] && [ ! -e "$T/dev/root.key" ] && [ ! -e "$T/dev/counter" ]
check "tpm.info names the TPM" grep -q "^tpm: manufacturer IBM, vendor SW" "$T/dev/tpm.info"
refused "sp init over a TPM store" 3 exists sc sp init --store "$T/dev" --device-id TPM-0001 --backend tpm --tcti "$TCTI"
refused "--tcti without --backend tpm" 2 usage sc sp init --store "$T/x" --device-id X --tcti "$TCTI"
refused "a TCTI the SP cannot hold open" 2 usage sc sp init --store "$T/x" --device-id X --backend tpm --tcti "mssim:host=localhost"

cp -a "$T/dev" "$T/dev-at-init"   # the whole folder, for the rollback proof below

serve() {  # serve: the daemon on $T/dev, TCTI from the environment (TSS2_TCTI)
  TSS2_TCTI=$TCTI "$SELFCERT_SPD" --store "$T/dev" --socket "$T/dev.sock" 2>>"$T/dev.log" &
  SPD=$!
  for _ in $(seq 1 200); do sc device info --sp "$T/dev.sock" >/dev/null 2>&1 && return 0; sleep 0.05; done
  fail "selfcert-spd did not come up: $(tail -n 2 "$T/dev.log")"; return 1
}
halt() { kill "$SPD" 2>/dev/null; wait "$SPD" 2>/dev/null; }

serve || { finish; exit 1; }
# A sanitizer build cannot sandbox (it says "sandbox off"): then only the backend is checked.
if grep -q "sandbox off" "$T/dev.log"; then
  check "the daemon says it serves the tpm backend" grep -q "tpm backend" "$T/dev.log"
else
  check "the daemon says it serves the tpm backend under its sandbox" \
    grep -q "tpm backend.*sandbox: seccomp" "$T/dev.log"
fi
ok "device info --store" sc device info --sp "$T/dev.sock" --store "$T/dev"
check "  shows the backend and the TPM recorded at init" \
  grep -q "^key backend:      tpm: manufacturer IBM, vendor SW" "$T/.out"
ok "device info --store --json" sc device info --sp "$T/dev.sock" --store "$T/dev" --json
check "  as JSON" grep -q '"backend":"tpm","tpm":"manufacturer IBM' "$T/.out"
# The same over the socket alone (BACKEND, revision 1.2), as a host sees it: read by the
# sandboxed daemon from tpm.info at start.
ok "device info over the SP socket" sc device info --sp "$T/dev.sock"
check "  shows the TPM's manufacturer, vendor and firmware" \
  grep -Eq "^backend:          tpm \(manufacturer IBM \(IBM\), vendor SW.*, firmware [0-9]+\.[0-9]+\.[0-9]+\.[0-9]+\)$" "$T/.out"
ok "device info --json over the SP socket" sc device info --sp "$T/dev.sock" --json
check "  as JSON" grep -q '"sp_backend":{"name":"tpm","manufacturer":"IBM","manufacturer_name":"IBM","vendor":"SW' "$T/.out"
refused "device info --store on a folder without a store" 1 not-found sc device info --sp "$T/dev.sock" --store "$T/mfr"
refused "personalize with an Ed25519 CSK" 1 algorithm \
  sc mfr personalize --dir "$T/mfr" --sp "$T/dev.sock" --out "$T/x-certs" --csk-alg ed25519 "${anchors[@]}"
check "  the refusal names the backend" grep -q "tpm backend cannot hold Ed25519" "$T/.err"
refused "personalize with an RSA-4096 CSK" 1 algorithm \
  sc mfr personalize --dir "$T/mfr" --sp "$T/dev.sock" --out "$T/x-certs" --csk-alg rsa4096 "${anchors[@]}"
check "  the refusal names the backend" grep -q "tpm backend cannot hold RSA-4096" "$T/.err"
ok "personalize (CSK P-256, KEK RSA-2048)" sc mfr personalize --dir "$T/mfr" --sp "$T/dev.sock" \
  --out "$T/certs" --csk-alg p256 --kex-alg rsa2048 "${anchors[@]}"

issue() {  # issue TAG PROFILE-FLAGS…
  local tag=$1; shift
  sc net profile --dir "$T/net" --device-ca "$T/certs/device-ca.pem" --validity 7d --out "$T/$tag.der" "$@" >/dev/null &&
    sc device issue --sp "$T/dev.sock" --profile "$T/$tag.der" --out "$T/$tag.pem" >"$T/$tag.handle"
}
echo "signed with an imported key $RANDOM" >"$T/msg0"
ok "issue a P-256 signing leaf" issue sig --alg p256
ok "issue an RSA-3072 decrypt-only leaf" issue dec --alg rsa3072 --key-usage keyEncipherment
ok "issue a P-384 key-agreement leaf" issue ka --alg p384 --key-usage keyAgreement
refused "issue an Ed25519 leaf" 1 algorithm issue ed --alg ed25519
check "  the refusal names the backend" grep -q "tpm backend cannot hold Ed25519" "$T/.err"
refused "issue an RSA-4096 leaf" 1 algorithm issue r4 --alg rsa4096
# Embodiment 2: the server's key, whose private scalar this test knows, in CMS to the RSA KEK.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/server.pem" 2>/dev/null
openssl ec -in "$T/server.pem" -no_public -outform DER 2>/dev/null | tail -c +8 | head -c 32 >"$T/scalar"
openssl pkey -in "$T/server.pem" -outform DER >"$T/server.p8"
ok "issue a server-generated P-256 key (CMS to the TPM's RSA KEK)" \
  issue sup --server-keygen p256 --kex "$T/certs/kex.pem" --server-key "$T/server.pem"
check "  its certificate carries the server's public key" \
  [ "$(openssl x509 -in "$T/sup.pem" -noout -pubkey | openssl pkey -pubin -outform DER | od -An -tx1)" = \
    "$(openssl pkey -in "$T/server.pem" -pubout -outform DER | od -An -tx1)" ]
ok "the leaves verify to the manufacturer root" openssl verify -CAfile "$T/mfr/root.pem" \
  -untrusted "$T/certs/chain.pem" "$T/sig.pem" "$T/dec.pem" "$T/ka.pem" "$T/sup.pem"
ok "sign with the imported key" sc device sign --sp "$T/dev.sock" --key "$(cat "$T/sup.handle")" --in "$T/msg0" --out "$T/sup.sig"
ok "  openssl verifies it with the server's key" openssl dgst -sha256 -verify <(openssl pkey -in "$T/server.pem" -pubout) \
  -signature "$T/sup.sig" "$T/msg0"
echo "signed on the TPM $RANDOM" >"$T/msg"
# The device CA's own CRL (SP request CRL, issue 14): signed by the TPM-held CSK.
ok "device crl: the TPM's CSK signs the device CA CRL" sc device crl --sp "$T/dev.sock" --days 2 --out "$T/devca.crl"
ok "  openssl verifies it under the device CA" openssl crl -in "$T/devca.crl" \
  -CAfile "$T/certs/device-ca.pem" -noout
ok "sign with the TPM leaf" sc device sign --sp "$T/dev.sock" --key "$(cat "$T/sig.handle")" --in "$T/msg" --out "$T/msg.sig"
openssl x509 -in "$T/sig.pem" -noout -pubkey >"$T/sig.pub"
ok "  openssl verifies it" openssl dgst -sha256 -verify "$T/sig.pub" -signature "$T/msg.sig" "$T/msg"
counter_before_kill=$(sc device info --sp "$T/dev.sock" --json | sed -n 's/.*"issuance_counter":\([0-9]*\).*/\1/p')

# kill -9: loaded objects and sessions stay in a TPM without a resource manager; the next
# start flushes them, or three starts would exhaust its three object slots.
for i in 1 2 3 4; do
  kill -9 "$SPD"; wait "$SPD" 2>/dev/null
  serve || break
  sc device sign --sp "$T/dev.sock" --key "$(cat "$T/sig.handle")" --in "$T/msg" --out "$T/msg.sig.$i" >/dev/null 2>"$T/.err" ||
    { fail "sign after kill -9 #$i: $(cat "$T/.err")"; break; }
done
pass
halt

# ---- stock tools on the blobs (swtpm serves one connection: the daemon is stopped) ----
ok "selfcert-spd --tpm-export" "$SELFCERT_SPD" --store "$T/dev" --tpm-export "$T/blobs" --tcti "$TCTI"
export TPM2TOOLS_TCTI=$TCTI
tpm2_flushcontext -t >/dev/null 2>&1
ok "tpm2_createprimary: the owner storage key the SP uses" \
  tpm2_createprimary -Q -C o -g sha256 -G ecc256:aes128cfb -a "$SRK_ATTRS" -c "$T/srk.ctx"
attrs() {  # attrs NAME: what tpm2_readpublic shows for the blob, loaded under that key
  tpm2_load -Q -C 0x80000000 -u "$T/blobs/$1.pub" -r "$T/blobs/$1.priv" -c "$T/$1.ctx" >/dev/null 2>&1 || { echo "not loaded"; return; }
  tpm2_readpublic -c 0x80000001 | sed -n '/^attributes:/{n;s/^ *value: //p}'
  tpm2_flushcontext 0x80000001 >/dev/null 2>&1
}
base="fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda"
h_sig=$(cat "$T/sig.handle"); h_dec=$(cat "$T/dec.handle"); h_ka=$(cat "$T/ka.handle")
check "CSK: $base|sign ($(attrs csk))" [ "$(attrs csk)" = "$base|sign" ]
check "KEK: decrypt and sign (its CSR) ($(attrs kek))" [ "$(attrs kek)" = "$base|decrypt|sign" ]
check "signing leaf: sign only ($(attrs leaf-$h_sig))" [ "$(attrs "leaf-$h_sig")" = "$base|sign" ]
check "keyEncipherment leaf: decrypt only ($(attrs leaf-$h_dec))" [ "$(attrs "leaf-$h_dec")" = "$base|decrypt" ]
check "keyAgreement leaf: decrypt only ($(attrs leaf-$h_ka))" [ "$(attrs "leaf-$h_ka")" = "$base|decrypt" ]
h_sup=$(cat "$T/sup.handle")
check "imported key: never duplicable, not fixedTPM/fixedParent (Import's rule) ($(attrs leaf-$h_sup))" \
  [ "$(attrs "leaf-$h_sup")" = "userwithauth|noda|sign" ]
tpm2_flushcontext -t >/dev/null 2>&1
unset TPM2TOOLS_TCTI

# No file the daemon wrote holds the server key's private scalar or its PKCS#8 form.
hex() { od -An -v -tx1 "$1" | tr -d ' \n'; }
leaks=0
while IFS= read -r f; do
  h=$(hex "$f")
  for secret in "$T/scalar" "$T/server.p8"; do
    [[ "$h" == *"$(hex "$secret")"* ]] && { leaks=$((leaks + 1)); echo "key material in $f" >&2; }
  done
done < <(find "$T/dev" "$T/blobs" -type f)
check "no private key material in the store folder or the exported blobs ($(find "$T/dev" -type f | wc -l) files)" [ "$leaks" -eq 0 ]
contains() { [[ "$(hex "$1")" == *"$(hex "$2")"* ]]; }
check "  (the search works: it finds the scalar in the server's own key file)" \
  contains "$T/server.p8" "$T/scalar"

# ---- rollback: the whole folder as it was at init, counter state included ----
mv "$T/dev" "$T/dev-now"
cp -a "$T/dev-at-init" "$T/dev"
"$SELFCERT_SPD" --store "$T/dev" --tpm-export "$T/blobs-old" --tcti "$TCTI" 2>"$T/old.err"
check "an old copy of the whole store folder is refused: rollback ($(head -c 200 "$T/old.err"))" \
  grep -q "^selfcert-spd: rollback: .*/dev/store: counter 0, but the device counter is" "$T/old.err"
rm -rf "$T/dev"; mv "$T/dev-now" "$T/dev"

# ---- root.tpm, a decoder of outside input: each damage named, nothing repaired ----
seal_case() {  # seal_case DESC WHAT-GREP: run on $T/bad (a copy with root.tpm replaced)
  "$SELFCERT_SPD" --store "$T/bad" --tpm-export "$T/bad-out" --tcti "$TCTI" 2>"$T/bad.err"
  check "root.tpm $1: $(head -c 160 "$T/bad.err")" grep -q "^selfcert-spd: store-damaged: .*root.tpm: $2" "$T/bad.err"
}
cp_bad() { rm -rf "$T/bad" "$T/bad-out"; cp -a "$T/dev" "$T/bad"; chmod u+w "$T/bad/root.tpm"; }
cp_bad; head -c 40 "$T/dev/root.tpm" >"$T/bad/root.tpm"; seal_case "truncated" "not a TPM seal of this format"
cp_bad; { cat "$T/dev/root.tpm"; printf 'x'; } >"$T/bad/root.tpm"; seal_case "with trailing data" "not a TPM seal of this format"
cp_bad; head -c 5000 /dev/zero >"$T/bad/root.tpm"; seal_case "oversize" "too large for a TPM seal"
cp_bad; { printf 'SCTQ'; tail -c +5 "$T/dev/root.tpm"; } >"$T/bad/root.tpm"; seal_case "wrong magic" "not a TPM seal of this format"
cp_bad; rm -f "$T/bad/root.tpm"; "$SELFCERT_SPD" --store "$T/bad" --tpm-export "$T/bad-out" --tcti "$TCTI" 2>"$T/bad.err"
check "root.tpm missing: the folder is no TPM store any more ($(head -c 120 "$T/bad.err"))" \
  grep -q "^selfcert-spd: usage: --tcti: .*/bad uses the soft backend, not a TPM" "$T/bad.err"
mkdir -p "$T/bad-sock"
"$SELFCERT_SPD" --store "$T/bad" --socket "$T/bad-sock/s" 2>"$T/bad.err"
check "  and without --tcti it does not open: store-damaged, root.key missing ($(head -c 120 "$T/bad.err"))" \
  grep -q "^selfcert-spd: store-damaged: .*root.key: the root key is missing" "$T/bad.err"
# tpm.info, read by the CLI: one bounded printable line or `malformed`
cp_bad; chmod u+w "$T/bad/tpm.info"; printf 'garbage' >"$T/bad/tpm.info"
refused "device info --store: a malformed tpm.info" 1 malformed sc device info --sp /nonexistent --store "$T/bad"
rm -rf "$T/bad" "$T/bad-out"

# ---- the store folder next to another TPM ----
start_swtpm "$T/tpm2" || fail "second swtpm"
cp -a "$T/dev" "$T/dev-copy"
TSS2_TCTI="swtpm:path=$T/tpm2/sock" "$SELFCERT_SPD" --store "$T/dev-copy" --socket "$T/copy.sock" 2>"$T/copy.err" &
wait $!
check "the copy on a second TPM does not open: store-damaged, another TPM named" \
  grep -q "^selfcert-spd: store-damaged: .*root.tpm: this TPM cannot open the store's seal (made on another TPM" "$T/copy.err"

# ---- and the original still serves ----
serve && ok "the original store serves again after all that" sc device sign --sp "$T/dev.sock" \
  --key "$h_sig" --in "$T/msg" --out "$T/msg.sig.end"
check "  the counter did not move back" [ "$(sc device info --sp "$T/dev.sock" --json | sed -n 's/.*"issuance_counter":\([0-9]*\).*/\1/p')" = "$counter_before_kill" ]
halt
finish
