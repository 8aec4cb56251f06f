#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Batch profiles end to end (#17, docs/FORMATS.md "Batch profiles"): `net batch` signs one
# Merkle root over several devices' profile bodies; each device's SP takes its own BatchedProfile
# through BATCH_ISSUE and stock openssl accepts every leaf. Refused: a batch leaf used twice
# (replay), another device's leaf, a path that does not lead to the root, an SP older than 1.5.
source "$SC_TESTLIB"
# Under valgrind (lib.sh) every SP runs under memcheck throughout; the client commands run there
# once each: a repeat that does what the one before it did (set-up of BAT-2 and BAT-3, their
# issuance, the SP's refusals, whose client side is the same send-and-print-the-error) uses
# $SC2, natively there (scn).
SC2=sc
[ "$SC_VALGRIND" = 1 ] && SC2=scn

sc mfr init --dir "$T/mfr" >/dev/null || exit 1
sc net init --dir "$T/net" --network-id net-b >/dev/null || exit 1
dev() {  # dev NAME ID [selfcert-spd flags…]: a personalized SP on $T/NAME.sock (client: $DEV_SC)
  local name=$1 id=$2; shift 2
  ${DEV_SC:-sc} sp init --store "$T/$name" --device-id "$id" >/dev/null && start_spd "$name" "$@" &&
    ${DEV_SC:-sc} mfr personalize --dir "$T/mfr" --sp "$T/$name.sock" --out "$T/$name-c" \
      --net-root "$T/net/root.pem" --network-id net-b >/dev/null
}
dev d1 BAT-1 || exit 1
for i in 2 3; do DEV_SC=$SC2 dev "d$i" "BAT-$i" || exit 1; done
dev old BAT-OLD --revision 1.4 || exit 1  # an SP shipped before #17: no BATCH_ISSUE

# --- the batch: four devices, one signature ---
out=$(sc net batch --dir "$T/net" --device-ca "$T/d1-c/device-ca.pem" --device-ca "$T/d2-c/device-ca.pem" \
  --device-ca "$T/d3-c/device-ca.pem" --device-ca "$T/old-c/device-ca.pem" --validity 1d \
  --key-usage digitalSignature --out-dir "$T/b" --json) && pass || fail "net batch"
check "--json: one object, size 4" bash -c "jq -e '.size == 4 and (.devices | length) == 4' <<<'$out' >/dev/null"
check "one file per device" [ "$(ls "$T/b" | wc -l)" = 4 ]
check "each names its device" [ -f "$T/b/BAT-1.der" ] && check "BAT-OLD.der" [ -f "$T/b/BAT-OLD.der" ]

for i in 1 2 3; do
  cli=sc; [ "$i" = 1 ] || cli=$SC2
  ok "BAT-$i issues from its batch leaf (BATCH_ISSUE)" $cli device issue --sp "$T/d$i.sock" \
    --profile "$T/b/BAT-$i.der" --out "$T/l$i.pem"
  ok "BAT-$i: stock openssl accepts the leaf" openssl verify -CAfile "$T/mfr/root.pem" \
    -untrusted "$T/d$i-c/chain.pem" "$T/l$i.pem"
  check "BAT-$i: the SP logged batch-issue" grep -q ": batch-issue: ok$" "$T/d$i.log"
done
ok "verify --profile checks the leaf against its batch profile (path and root signature)" \
  sc verify --mfr-root "$T/mfr/root.pem" --chain "$T/d1-c/chain.pem" --net-root "$T/net/root.pem" \
  --profile "$T/b/BAT-1.der" "$T/l1.pem"
check "and says the profile was checked" grep -q "profile:  matches the certificate" "$T/.out"
refused "verify --profile: another device's batch leaf" 1 binding sc verify --mfr-root "$T/mfr/root.pem" \
  --chain "$T/d1-c/chain.pem" --net-root "$T/net/root.pem" --profile "$T/b/BAT-2.der" "$T/l1.pem"

# --- refusals ---
refused "a batch leaf used twice" 1 replay $SC2 device issue --sp "$T/d1.sock" --profile "$T/b/BAT-1.der" --out "$T/x.pem"
refused "another device's batch leaf" 1 device-mismatch $SC2 device issue --sp "$T/d1.sock" \
  --profile "$T/b/BAT-2.der" --out "$T/x.pem"
# One bit of the path's first hash flipped (its offset from asn1parse: the second element of the
# outer SEQUENCE is the path, its first child the hash).
off=$(openssl asn1parse -inform DER -in "$T/b/BAT-3.der" | awk '/:d=1 /{ n++ } n == 2 && /:d=2 .*OCTET STRING/ {
  split($0, a, ":"); match($0, /hl= *[0-9]+/); print a[1] + substr($0, RSTART + 3, RLENGTH - 3); exit }')
cp "$T/b/BAT-3.der" "$T/tampered.der"
byte=$(xxd -s "$off" -l 1 -p "$T/tampered.der")
printf "$(printf '\\x%02x' $((0x$byte ^ 1)))" | dd of="$T/tampered.der" bs=1 seek="$off" conv=notrunc status=none
check "the copy differs in one byte" [ "$(cmp -l "$T/b/BAT-3.der" "$T/tampered.der" | wc -l)" = 1 ]
refused "verify --profile: the tampered path" 1 batch-path sc verify --mfr-root "$T/mfr/root.pem" \
  --chain "$T/d3-c/chain.pem" --net-root "$T/net/root.pem" --profile "$T/tampered.der" "$T/l3.pem"
stop_spd d3
rm -rf "$T/d3" && DEV_SC=$SC2 dev d3 BAT-3 || exit 1   # a fresh SP: nothing spent, only the path is wrong
refused "a tampered inclusion path" 1 batch-path $SC2 device issue --sp "$T/d3.sock" --profile "$T/tampered.der" --out "$T/x.pem"
refused "an SP of revision 1.4 has no BATCH_ISSUE" 1 unknown-request sc device issue --sp "$T/old.sock" \
  --profile "$T/b/BAT-OLD.der" --out "$T/x.pem"

# --- net batch's own input checks: one line naming the file ---
refused "the same device twice" 2 usage sc net batch --dir "$T/net" --device-ca "$T/d1-c/device-ca.pem" \
  --device-ca "$T/d1-c/device-ca.pem" --validity 1d --out-dir "$T/b2"
check "naming the file" grep -q "$T/d1-c/device-ca.pem: device BAT-1 already in the batch" "$T/.err"
echo "not a certificate" >"$T/junk.pem"
refused "a file that is no certificate" 1 malformed sc net batch --dir "$T/net" --device-ca "$T/junk.pem" \
  --validity 1d --out-dir "$T/b2"
check "naming it" grep -q "$T/junk.pem" "$T/.err"
refused "no device" 2 usage sc net batch --dir "$T/net" --validity 1d --out-dir "$T/b2"
mkdir -p "$T/cas" && cp "$T/d1-c/device-ca.pem" "$T/cas/a.pem" && cp "$T/d2-c/device-ca.pem" "$T/cas/b.pem"
ok "--device-ca-dir" sc net batch --dir "$T/net" --device-ca-dir "$T/cas" --validity 1d --out-dir "$T/b3"
check "two profiles from the folder" [ "$(ls "$T/b3" | wc -l)" = 2 ]
# The bound: a folder of 4097 files is refused by their count, before any is read.
mkdir -p "$T/many" && seq -f "$T/many/%04g.pem" 1 4097 | xargs touch
refused "4097 devices: over the bound" 2 usage sc net batch --dir "$T/net" --device-ca-dir "$T/many" \
  --validity 1d --out-dir "$T/b4"
check "naming the folder and the bound" grep -q "$T/many: more than 4096 device CA files" "$T/.err"
check "and nothing written" [ ! -e "$T/b4" ]
finish
