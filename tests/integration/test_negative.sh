#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Every issuance check of DESIGN.md §4 refused by the real SP with its own error name and
# exit code 1, and nothing changed: afterwards a valid profile still issues and the number of
# keys grew by exactly that one. Bad artifacts are made with stock openssl where possible.
source "$SC_TESTLIB"
# Under valgrind (lib.sh) the subject, the SP deciding every refusal, runs under memcheck
# throughout, and so does each `net profile` with flags of its own and every other client command.
# Natively there (scn): the set-up (mfr init, net init, sp init, personalize: test_pkg_cli,
# test_batch and test_demo run them under memcheck), the profiles that repeat the first plain one
# (PROFILE_N), and `device issue` after the first issuance and the first refusal (ISSUE_CLI): the
# client does the same for every refusal, it sends the profile and prints the SP's error line.
SC_SET=sc
[ "$SC_VALGRIND" = 1 ] && SC_SET=scn
$SC_SET mfr init --dir "$T/mfr" >/dev/null || exit 1
$SC_SET mfr init --dir "$T/mfr2" --name "Other Maker" >/dev/null || exit 1
$SC_SET net init --dir "$T/net-a" --network-id net-a >/dev/null || exit 1
$SC_SET net init --dir "$T/net-b" --network-id net-b >/dev/null || exit 1
# Same network ID as net-a, different root: its signer does not chain to the installed anchor.
$SC_SET net init --dir "$T/net-a-rogue" --network-id net-a >/dev/null || exit 1

SELFCERT=$SELFCERT_NATIVE new_device dev DEV-1 p256 p256 --net-root "$T/net-a/root.pem" --network-id net-a --max-leaf-days 30 || exit 1
DCA="$T/dev-certs/device-ca.pem"
profile() { sc net profile --device-ca "$DCA" "$@" >/dev/null; }
profile_n() { $SC_SET net profile --device-ca "$DCA" "$@" >/dev/null; }
ISSUE_CLI=sc
issue() { $ISSUE_CLI device issue --sp "$T/dev.sock" --profile "$1" --out "$T/leaf.pem"; }

# A valid profile first, so the replay check has something to replay.
ok "valid profile" profile --dir "$T/net-a" --validity 1d --out "$T/good.der"
ok "valid profile issues" issue "$T/good.der"
keys_before=$(key_count dev)
echo data >"$T/msg"

# --- strict DER ---
cp "$T/good.der" "$T/trailing.der"; printf '\0' >>"$T/trailing.der"
refused "trailing byte" 1 trailing-data issue "$T/trailing.der"
[ "$SC_VALGRIND" = 1 ] && ISSUE_CLI=scn
head -c -7 "$T/good.der" >"$T/truncated.der"
refused "truncated profile" 1 malformed issue "$T/truncated.der"
head -c 17000 /dev/zero | tr '\0' '\060' >"$T/huge.der"
refused "profile over 16 KiB" 1 oversize issue "$T/huge.der"

# contentType and version: patch one byte of a valid profile (found with openssl asn1parse).
ok "profile for patching" profile_n --dir "$T/net-a" --validity 1d --out "$T/patch.der"
patch_byte() { printf "\\x$3" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none; }
read -r off hl len < <(openssl asn1parse -inform DER -in "$T/patch.der" | awk -F'[:= ]+' '/OBJECT/ {print $2, $6, $8; exit}')
cp "$T/patch.der" "$T/ctype.der"; patch_byte "$T/ctype.der" $((off + hl + len - 1)) 02
refused "wrong content type" 1 content-type issue "$T/ctype.der"
read -r off hl len < <(openssl asn1parse -inform DER -in "$T/patch.der" | awk -F'[:= ]+' '/INTEGER/ {print $2, $6, $8; exit}')
cp "$T/patch.der" "$T/version.der"; patch_byte "$T/version.der" $((off + hl)) 02
refused "version 2" 1 version issue "$T/version.der"

# --- who signed it ---
ok "net-b profile" profile_n --dir "$T/net-b" --validity 1d --out "$T/netb.der"
refused "network not installed" 1 network-unknown issue "$T/netb.der"
ok "rogue net-a profile" profile_n --dir "$T/net-a-rogue" --validity 1d --out "$T/rogue.der"
refused "signer from another root" 1 untrusted-signer issue "$T/rogue.der"

# A signer certificate without the profile-signing EKU, made with stock openssl under net-a's root.
mkdir -p "$T/net-noeku"
cp "$T/net-a/root.pem" "$T/net-noeku/"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/net-noeku/signer.key" 2>/dev/null
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nsubjectKeyIdentifier=hash\n' >"$T/noeku.ext"
openssl req -new -key "$T/net-noeku/signer.key" -subj "/O=net-a/CN=net-a No EKU" -out "$T/noeku.csr" 2>/dev/null
openssl x509 -req -in "$T/noeku.csr" -CA "$T/net-a/root.pem" -CAkey "$T/net-a/root.key" -days 30 \
  -extfile "$T/noeku.ext" -set_serial 7 -out "$T/net-noeku/signer.pem" 2>/dev/null
ok "no-EKU profile" profile_n --dir "$T/net-noeku" --validity 1d --out "$T/noeku.der"
refused "signer without profile-signing EKU" 1 signer-eku issue "$T/noeku.der"

# One bit of the signature flipped (the BIT STRING right under SignedProfile, via asn1parse).
cp "$T/patch.der" "$T/badsig.der"
read -r off hl len < <(openssl asn1parse -inform DER -in "$T/badsig.der" | awk -F'[:= ]+' '/d=1 .*BIT STRING/ {print $2, $6, $8; exit}')
last=$((off + hl + len - 1))
b=$(od -An -tx1 -j "$last" -N1 "$T/badsig.der" | tr -d ' ')
patch_byte "$T/badsig.der" "$last" "$(printf %02x $((0x$b ^ 0x01)))"
refused "signature does not verify" 1 profile-signature issue "$T/badsig.der"

# --- what it asks for ---
ok "other-device profile" profile --dir "$T/net-a" --validity 1d --device-id DEV-2 --out "$T/other.der"
refused "profile for another device" 1 device-mismatch issue "$T/other.der"
ok "expired profile" profile --dir "$T/net-a" --validity 1d --profile-not-after 2020-01-01T00:00:00Z --out "$T/expired.der"
refused "profile expired" 1 profile-expired issue "$T/expired.der"
refused "profile replayed" 1 replay issue "$T/good.der"

ok "unknown-challenge profile" profile --dir "$T/net-a" --validity 1d --challenge "$(openssl rand -hex 32)" --out "$T/ch-unknown.der"
refused "challenge the SP never gave" 1 challenge issue "$T/ch-unknown.der"
CH=$(sc device challenge --sp "$T/dev.sock")
ok "challenge profile 1" profile --dir "$T/net-a" --validity 1d --challenge "$CH" --out "$T/ch1.der"
ok "challenge profile 2" profile --dir "$T/net-a" --validity 1d --challenge "$CH" --out "$T/ch2.der"
ok "challenge profile issues" issue "$T/ch1.der"
refused "challenge used twice" 1 challenge issue "$T/ch2.der"
keys_before=$((keys_before + 1))

ok "too-long profile" profile --dir "$T/net-a" --validity 31d --out "$T/long.der"
refused "validity beyond the SP's maximum" 1 validity issue "$T/long.der"
ok "reversed-validity profile" profile --dir "$T/net-a" --not-before 2027-02-01T00:00:00Z --not-after 2027-01-01T00:00:00Z --out "$T/reversed.der"
refused "notAfter before notBefore" 1 validity issue "$T/reversed.der"
ok "past-validity profile" profile --dir "$T/net-a" --not-before 2020-01-01T00:00:00Z --not-after 2020-01-02T00:00:00Z --out "$T/past.der"
refused "validity already over" 1 validity issue "$T/past.der"
ok "beyond-CSK profile" profile --dir "$T/net-a" --not-before 2099-01-01T00:00:00Z --not-after 2099-01-02T00:00:00Z --out "$T/beyond.der"
refused "validity outside the device CA's" 1 validity issue "$T/beyond.der"

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out "$T/rsa1024.key" 2>/dev/null
ok "RSA-1024 supplied profile" profile --dir "$T/net-a" --validity 1d --server-keygen rsa2048 \
   --server-key "$T/rsa1024.key" --kex "$T/dev-certs/kex.pem" --out "$T/rsa1024.der"
refused "supplied RSA-1024 key" 1 algorithm issue "$T/rsa1024.der"

ok "keyCertSign profile" profile --dir "$T/net-a" --validity 1d --key-usage digitalSignature,keyCertSign --out "$T/kcs.der"
refused "keyCertSign requested" 1 extension issue "$T/kcs.der"
ok "keyEncipherment-for-EC profile" profile --dir "$T/net-a" --validity 1d --alg p256 --key-usage keyEncipherment --out "$T/kenc.der"
refused "keyEncipherment for an EC key" 1 extension issue "$T/kenc.der"

# Supplied key encrypted to another SP's KEK (same device ID, other manufacturer): no decrypt.
$SC_SET sp init --store "$T/twin" --device-id DEV-1 >/dev/null
start_spd twin
$SC_SET mfr personalize --dir "$T/mfr2" --sp "$T/twin.sock" --out "$T/twin-certs" --net-root "$T/net-a/root.pem" --network-id net-a >/dev/null
ok "twin-KEK profile" profile --dir "$T/net-a" --validity 1d --server-keygen p256 --kex "$T/twin-certs/kex.pem" --out "$T/twin.der"
refused "supplied key for another KEK" 1 key-decrypt issue "$T/twin.der"

if [ -x "${SC_EVIL:-}" ]; then
  ok "supplied profile" profile --dir "$T/net-a" --validity 1d --server-keygen p256 --kex "$T/dev-certs/kex.pem" --out "$T/sup.der"
  ok "swap its public key" "$SC_EVIL" swap-public-key "$T/sup.der" "$T/net-a" "$T/mismatch.der"
  refused "supplied key not the profile's public key" 1 key-mismatch issue "$T/mismatch.der"
  # Issue 16: a leaf signed by the device CA's key, every field the profile names right, and
  # one subject attribute more (OU=operators): not the certificate the profile dictates.
  mkdir -p "$T/ou"
  ok "craft a leaf with OU=operators" "$SC_EVIL" extra-ou "$T/mfr" "$T/net-a" "$T/ou" DEV-OU net-a
  vp() { sc verify --mfr-root "$T/mfr/root.pem" --chain "$T/ou/chain.pem" --net-root "$T/net-a/root.pem" --profile "$T/ou/profile.der" "$@"; }
  ok "the profile's own leaf verifies against it" vp "$T/ou/good.pem"
  refused "OU=operators added: not the profile's certificate" 1 binding vp "$T/ou/ou.pem"
  check "the subject is named" grep -q "subject: .*OU=operators" "$T/.err"
else
  fail "SC_EVIL (the test tool that crafts a key-mismatch profile) is not built"
fi

# --- key use ---
refused "sign with no such key" 1 no-key sc device sign --sp "$T/dev.sock" --key 9999 --in "$T/good.der" --out "$T/x.sig"
refused "delete no such key" 1 no-key sc device delete --sp "$T/dev.sock" --key 9999

# --- the state machine ---
refused "factory request after lock" 1 locked sc mfr personalize --dir "$T/mfr" --sp "$T/dev.sock" --out "$T/again" \
  --net-root "$T/net-a/root.pem" --network-id net-a

# Nothing changed: the valid profile still works, and exactly one more key exists.
check "no key added by any refusal" [ "$(key_count dev)" -eq "$keys_before" ]
ok "valid profile after all refusals" profile_n --dir "$T/net-a" --validity 1d --out "$T/good2.der"
ok "issues" issue "$T/good2.der"
check "exactly one key more" [ "$(key_count dev)" -eq $((keys_before + 1)) ]

# --- a device with two slots: the third issuance is refused ---
SELFCERT=$SELFCERT_NATIVE new_device small DEV-S p256 p256 --net-root "$T/net-a/root.pem" --network-id net-a --max-keys 2 || fail "small device"
for i in 1 2 3; do
  $SC_SET net profile --dir "$T/net-a" --device-ca "$T/small-certs/device-ca.pem" --validity 1d --out "$T/s$i.der" >/dev/null
done
ok "slot 1" $ISSUE_CLI device issue --sp "$T/small.sock" --profile "$T/s1.der" --out "$T/s1.pem"
ok "slot 2" $ISSUE_CLI device issue --sp "$T/small.sock" --profile "$T/s2.der" --out "$T/s2.pem"
refused "no free slot" 1 store-full $ISSUE_CLI device issue --sp "$T/small.sock" --profile "$T/s3.der" --out "$T/s3.pem"
ok "delete frees a slot" sc device delete --sp "$T/small.sock" --key "$($SC_SET device keys --sp "$T/small.sock" | head -n 1 | cut -d' ' -f1)"
ok "then it issues" $ISSUE_CLI device issue --sp "$T/small.sock" --profile "$T/s3.der" --out "$T/s3.pem"

# --- a key whose certificate allows only key agreement cannot sign ---
ok "keyAgreement profile" sc net profile --dir "$T/net-a" --device-ca "$T/small-certs/device-ca.pem" --validity 1d \
   --alg p256 --key-usage keyAgreement --out "$T/ka.der"
$SC_SET device delete --sp "$T/small.sock" --key "$($SC_SET device keys --sp "$T/small.sock" | head -n 1 | cut -d' ' -f1)"
KA=$($ISSUE_CLI device issue --sp "$T/small.sock" --profile "$T/ka.der" --out "$T/ka.pem")
refused "sign with a keyAgreement-only key" 1 key-usage sc device sign --sp "$T/small.sock" --key "$KA" --in "$T/msg" --out "$T/ka.sig"

# --- an unlocked device serves no network requests ---
$SC_SET sp init --store "$T/open" --device-id DEV-O >/dev/null
start_spd open
refused "challenge before personalization" 1 state sc device challenge --sp "$T/open.sock"
finish
