#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The algorithm matrix with the real daemon: CSK x leaf x profile signer over
# {rsa3072, p256, p384, ed25519}, plus RSA-2048 in both embodiments and server-generated keys
# for every KEK type. Each certificate: `openssl verify` to the manufacturer root, `selfcert
# verify` with and without its profile, a signature by the leaf key checked by stock openssl;
# then the daemon restarts and every key signs again.
source "$SC_TESTLIB"

ALGS=(rsa3072 p256 p384 ed25519)
# Under valgrind (SC_VG_SMALL) an RSA key generation costs about 30 s of CPU, so the pass takes a
# Latin square instead of the cube: the EC and Ed25519 algorithms each once as CSK, signer and
# leaf, and RSA-2048 once as CSK and KEK (RSA-3072 runs the same code; the supplied key is P-256). The set-up
# (mfr init, net init) and `selfcert verify` run natively there (scn): test_cli, test_pkg_cli
# and test_demo run them under memcheck; here memcheck watches the daemon, `net profile` and
# `device sign` (its client hashes or sends the message by the key's algorithm) per algorithm,
# and the client's `device issue` once (ISSUE_CLI: it only sends the profile and writes the
# certificate, whatever the algorithm; the SP's side of every issuance runs under memcheck).
VG_COMBOS=(p256:p384:ed25519 p384:ed25519:p256 ed25519:p256:p384)
[ "$SC_VG_SMALL" = 1 ] && ALGS=(p256 p384 ed25519)
# The CSK and leaf algorithms: on the TPM backend (SC_BACKEND=tpm) no Ed25519 (docs/TPM.md);
# the profile signers, the network's software keys, stay all four.
# CI time on the TPM: two profile signers (EC and EdDSA; the signer is the network's software
# key, which the soft run covers in full).
KEYS=("${ALGS[@]}")
SIGNERS=("${ALGS[@]}")
[ "$SC_BACKEND" = tpm ] && KEYS=(rsa3072 p256 p384) && SIGNERS=(p256 ed25519)

scn mfr init --dir "$T/mfr" --name "Matrix Devices" >/dev/null || exit 1
anchors=()
NETS=("${ALGS[@]}" rsa2048)
[ "$SC_VG_SMALL" = 1 ] && NETS=("${ALGS[@]}")
for s in "${NETS[@]}"; do
  scn net init --dir "$T/net-$s" --network-id "net-$s" --alg "$s" >/dev/null || exit 1
  anchors+=(--net-root "$T/net-$s/root.pem" --network-id "net-$s")
done
echo "signed data $RANDOM" >"$T/msg"

# verify_sig NAME LEAF.pem SIG: the leaf certificate's public key checks SIG over $T/msg.
verify_sig() {
  local pub="$T/$1.pub"
  openssl x509 -in "$2" -noout -pubkey -out "$pub" || return 1
  if openssl x509 -in "$2" -noout -text | grep -q ED25519; then
    openssl pkeyutl -verify -pubin -inkey "$pub" -rawin -in "$T/msg" -sigfile "$3" >/dev/null
  else
    openssl dgst -sha256 -verify "$pub" -signature "$3" "$T/msg" >/dev/null
  fi
}

# issue_and_check DEV TAG NETALG PROFILE-FLAGS…
ISSUE_CLI=sc
issue_and_check() {
  local dev=$1 tag=$2 net=$3; shift 3
  local p="$T/$dev-$tag.der" leaf="$T/$dev-$tag.pem"
  ok "$dev/$tag: net profile" sc net profile --dir "$T/net-$net" --device-ca "$T/$dev-certs/device-ca.pem" \
     --validity 7d --out "$p" "$@"
  if ! $ISSUE_CLI device issue --sp "$T/$dev.sock" --profile "$p" --out "$leaf" >"$T/$dev-$tag.handle" 2>"$T/.err"; then
    fail "$dev/$tag: device issue: $(cat "$T/.err")"; return
  fi
  pass
  [ "$SC_VALGRIND" = 1 ] && ISSUE_CLI=scn
  ok "$dev/$tag: openssl verify" openssl verify -CAfile "$T/mfr/root.pem" -untrusted "$T/$dev-certs/chain.pem" "$leaf"
  ok "$dev/$tag: selfcert verify" scn verify --mfr-root "$T/mfr/root.pem" --chain "$T/$dev-certs/chain.pem" "$leaf"
  ok "$dev/$tag: selfcert verify --profile" scn verify --mfr-root "$T/mfr/root.pem" --chain "$T/$dev-certs/chain.pem" \
     --net-root "$T/net-$net/root.pem" --profile "$p" "$leaf"
  local h; h=$(cat "$T/$dev-$tag.handle")
  ok "$dev/$tag: device sign" sc device sign --sp "$T/$dev.sock" --key "$h" --in "$T/msg" --out "$T/$dev-$tag.sig"
  ok "$dev/$tag: openssl checks the signature" verify_sig "$dev-$tag" "$leaf" "$T/$dev-$tag.sig"
}

for csk in "${KEYS[@]}"; do
  kex=$csk; [ "$kex" = ed25519 ] && kex=p256
  new_device "d-$csk" "DEV-$csk" "$csk" "$kex" "${anchors[@]}" || { fail "personalize d-$csk"; continue; }
  for signer in "${SIGNERS[@]}"; do
    for leaf in "${KEYS[@]}"; do
      [ "$SC_VG_SMALL" = 1 ] && [[ " ${VG_COMBOS[*]} " != *" $csk:$signer:$leaf "* ]] && continue
      issue_and_check "d-$csk" "$signer-$leaf" "$signer" --alg "$leaf"
    done
  done
  # The server-generated embodiment through this device's KEK (RSA-OAEP or ECDH recipient).
  issue_and_check "d-$csk" "server-p256" p256 --server-keygen p256 --kex "$T/d-$csk-certs/kex.pem"
  if [ "$SC_BACKEND" = tpm ]; then
    sc net profile --dir "$T/net-ed25519" --device-ca "$T/d-$csk-certs/device-ca.pem" --validity 7d \
      --out "$T/d-$csk-server-ed.der" --server-keygen ed25519 --kex "$T/d-$csk-certs/kex.pem" >/dev/null
    refused "d-$csk: a server-generated Ed25519 key is refused by the TPM backend" 1 algorithm \
      sc device issue --sp "$T/d-$csk.sock" --profile "$T/d-$csk-server-ed.der" --out "$T/x.pem"
  else
    issue_and_check "d-$csk" "server-ed25519" ed25519 --server-keygen ed25519 --kex "$T/d-$csk-certs/kex.pem"
  fi
done

# RSA-2048 everywhere, in both embodiments (the patent's own configuration, modernised).
# Under valgrind the SP's two RSA key generations at personalization (OpenSSL's code, ~30 s of CPU
# each under memcheck; our code around them runs there for the EC devices) are native: the daemon
# is personalized natively, then restarted under memcheck for everything that follows.
if [ "$SC_VALGRIND" = 1 ]; then
  { SELFCERT_SPD=$SELFCERT_SPD_NATIVE new_device d-rsa2048 DEV-rsa2048 rsa2048 rsa2048 "${anchors[@]}" &&
    stop_spd d-rsa2048 && start_spd d-rsa2048; } || fail "personalize d-rsa2048"
else
  new_device d-rsa2048 DEV-rsa2048 rsa2048 rsa2048 "${anchors[@]}" || fail "personalize d-rsa2048"
fi
if [ "$SC_VG_SMALL" = 1 ]; then
  issue_and_check d-rsa2048 generated p256 --alg p256
else
  issue_and_check d-rsa2048 generated rsa2048 --alg rsa2048 --key-usage digitalSignature,keyEncipherment
fi
if [ "$SC_VG_SMALL" = 1 ]; then   # no RSA network signer there, so no PSS profile signature;
  # a P-256 key for the RSA KEK: RSA-OAEP both ways without an RSA key generation in `net profile`
  issue_and_check d-rsa2048 supplied p256 --server-keygen p256 --kex "$T/d-rsa2048-certs/kex.pem"
else
  issue_and_check d-rsa2048 supplied rsa2048 --server-keygen rsa2048 --kex "$T/d-rsa2048-certs/kex.pem" --rsa-pss
fi

# Restart every daemon: the keys come back from the sealed store and sign again. Under valgrind
# the SP signs under memcheck and the client, which ran there for each algorithm above, natively.
SIGN_CLI=sc
[ "$SC_VALGRIND" = 1 ] && SIGN_CLI=scn
for dev in "${KEYS[@]/#/d-}" d-rsa2048; do
  before=$(key_count "$dev")
  stop_spd "$dev"
  start_spd "$dev" || { fail "$dev restart"; continue; }
  check "$dev: $before keys after restart" [ "$(key_count "$dev")" -eq "$before" ]
  for hf in "$T/$dev"-*.handle; do
    tag=$(basename "$hf" .handle)
    ok "$tag: sign after restart" $SIGN_CLI device sign --sp "$T/$dev.sock" --key "$(cat "$hf")" --in "$T/msg" --out "$T/$tag.sig2"
    ok "$tag: signature after restart verifies" verify_sig "$tag-2" "$T/$tag.pem" "$T/$tag.sig2"
  done
done
finish
