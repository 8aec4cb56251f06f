#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Rollback and damage at start-up, beyond test_store.sh and tests/unit/test_store.c: on a real
# locked store with leaf keys,
#   - sc-faults sweep: every bit 0 and bit 7 of every store byte, every truncation length,
#     extensions, every counter bit (higher: rollback; one lower: the crash window, rolled
#     forward; lower still: store-damaged), every counter length, every root-key bit and
#     length, each file missing, older stores (1, 2 and 4 commits back) put back, and an old
#     store that is also damaged (damage wins: the tag is checked first) — each refused with
#     its own error naming the file, and after every refusal the files are exactly as put;
#   - the daemon itself on the cases the CLI contract promises, each with its one error line
#     and exit 1, nothing rewritten, nothing "repaired" (`sp init` will not overwrite either);
#   - the documented limit: an old store put back WITH its old counter is accepted, because
#     here the counter is a file; on hardware it cannot be put back.
# Afterwards the real files start the SP again with every key working.
SC_VG_BINS="SELFCERT_SPD"   # under valgrind (lib.sh); the CLI runs there in other tests
source "$SC_TESTLIB"
source "${SC_FAULTS_LIB:?}"

SOCK=$T/dev.sock
LOG=$T/spd.log
D=$T/dev

# The set-up (sp init, personalization, five issues, the other device's sp init) makes the
# stores the test damages; under valgrind its daemon runs natively (SETUP_SPD, ci17): sp init,
# personalization and issuance run under memcheck in test_faults_crash (its sp init and issue
# cells), test_matrix and test_pkg_cli. Every start on a damaged or restored store below, the
# test's subject, runs under memcheck as before.
SETUP_SPD=$SELFCERT_SPD
[ "$SC_VALGRIND" = 1 ] && SETUP_SPD=$SELFCERT_SPD_NATIVE
sc mfr init --dir "$T/mfr" >/dev/null || exit 1
sc net init --dir "$T/net" --network-id net-s >/dev/null || exit 1
SELFCERT_SPD=$SETUP_SPD sc sp init --store "$D" --device-id STORE-0001 >/dev/null || exit 1
FSPD_BIN=$SETUP_SPD fspd_start "$D" "$SOCK" "$LOG" || { fail "daemon did not serve"; finish; exit 1; }
sc mfr personalize --dir "$T/mfr" --sp "$SOCK" --out "$T/certs" --csk-alg p256 --kex-alg p256 \
  --net-root "$T/net/root.pem" --network-id net-s >/dev/null || exit 1
fspd_stop
# Four issues, keeping the store after each: snapshots 1..4 commits behind the last one.
for i in 1 2 3 4 5; do
  cp -a "$D" "$T/snap$i"
  FSPD_BIN=$SETUP_SPD fspd_start "$D" "$SOCK" "$LOG" || exit 1
  sc net profile --dir "$T/net" --device-ca "$T/certs/device-ca.pem" --validity 1d \
    --out "$T/p$i.der" >/dev/null || exit 1
  ok "issue $i" sc device issue --sp "$SOCK" --profile "$T/p$i.der" --out "$T/l$i.pem"
  fspd_stop
done
check "five keys" [ "$(grep -c '^slot ' <("$SC_FAULTS" dump "$D"))" -eq 5 ]
cp -a "$D" "$T/good"

# ---- every damage, at the store layer ----
if "$SC_FAULTS" sweep "$D" "$T/snap5/store" "$T/snap4/store" "$T/snap2/store" \
    >"$T/sweep.out" 2>"$T/sweep.err"; then
  pass
else
  fail "sweep: $(head -c 1500 "$T/sweep.err")"
fi
cat "$T/sweep.out"
check "sweep: no mismatch" grep -q "; 0 mismatches$" "$T/sweep.out"

# ---- the daemon on the contract's cases ----
restore() { rm -rf "$D"; cp -a "$T/good" "$D"; }
# refused DESC ERRNAME FILE: the daemon must not serve; exit 1; one line
# "selfcert-spd: ERRNAME: <detail naming FILE>"; the folder exactly as it was put.
refuses() {
  local desc=$1 name=$2 file=$3 rc
  rm -rf "$T/put"
  cp -a "$D" "$T/put"
  fspd_start "$D" "$SOCK" "$LOG"
  rc=$?
  [ "$rc" -eq 0 ] && fspd_stop
  check "$desc: refused at start (exit ${FSPD_RC:-serving})" test "$rc" -eq 1 -a "${FSPD_RC:-x}" = 1
  check "$desc: '$name' naming $file ($(grep -v warning "$LOG.cur" | head -n 1))" \
    grep -q "^selfcert-spd: $name: .*$file" "$LOG.cur"
  check "$desc: one error line" [ "$(grep -v -c -e ': warning: ' "$LOG.cur")" -eq 1 ]
  check "$desc: nothing rewritten or repaired" diff -r "$D" "$T/put"
  restore
}
flip() { # FILE OFFSET: xor one byte with 0x01
  local b
  b=$(od -An -tx1 -j "$2" -N1 "$1" | tr -d ' ')
  printf "\\x$(printf %02x $((0x$b ^ 0x01)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
be64() { printf "$(printf '%016x' "$1" | sed 's/../\\x&/g')"; }
C=$(od -An -tu8 --endian=big -N8 "$D/counter" | tr -d ' ')

cp "$T/snap5/store" "$D/store"; refuses "store 1 commit old" rollback store
cp "$T/snap2/store" "$D/store"; refuses "store 4 commits old" rollback store
be64 $((C + 1)) >"$D/counter"; refuses "counter ahead of the store" rollback store
be64 $((C - 2)) >"$D/counter"; refuses "counter 2 behind the store" store-damaged store
size=$(stat -c %s "$D/store")
# Offset 0 is the magic, 4 the version; from 5 on (the rest of the header is the AES-GCM AAD, then
# nonce, ciphertext, tag) every flip fails the tag check, one path (store.c unseal). Under
# valgrind the daemon refuses 0, 4 and 5 under memcheck, the other offsets natively.
for off in 0 4 5 12 13 24 25 $((size / 2)) $((size - 16)) $((size - 1)); do
  bin=$SELFCERT_SPD
  [ "$SC_VALGRIND" = 1 ] && [ "$off" -gt 5 ] && bin=$SELFCERT_SPD_NATIVE
  flip "$D/store" "$off"; FSPD_BIN=$bin refuses "store byte $off flipped" store-damaged store
done
for len in 0 24 40 $((size - 1)); do
  head -c "$len" "$T/good/store" >"$D/store"; refuses "store cut to $len bytes" store-damaged store
done
rm "$D/store"; refuses "store missing" store-damaged store
rm "$D/counter"; refuses "counter missing" store-damaged counter
head -c 7 "$T/good/counter" >"$D/counter"; refuses "counter of 7 bytes" store-damaged counter
{ cat "$T/good/counter"; printf '\0'; } >"$D/counter"; refuses "counter of 9 bytes" store-damaged counter
rm -f "$D/root.key"; refuses "root key missing" store-damaged root.key
# Another device's sealed files under this device's root key.
SELFCERT_SPD=$SETUP_SPD sc sp init --store "$T/other" --device-id STORE-0002 >/dev/null || exit 1
cp "$T/other/store" "$T/other/counter" "$D/"; refuses "another device's store" store-damaged store
chmod 600 "$D/root.key"; cp "$T/other/root.key" "$D/root.key"; refuses "another device's root key" store-damaged store

# A damaged device is never re-initialised over: sp init refuses, nothing changes.
rm "$D/counter"
rm -rf "$T/put"
cp -a "$D" "$T/put"
refused "sp init over a damaged store" 3 exists sc sp init --store "$D" --device-id STORE-0001
check "sp init changed nothing" diff -r "$D" "$T/put"
restore

# The crash window, from outside: the counter one behind is rolled forward, nothing lost.
be64 $((C - 1)) >"$D/counter"
if fspd_start "$D" "$SOCK" "$LOG"; then
  pass
  check "counter one behind: rolled forward" [ "$(od -An -tu8 --endian=big -N8 "$D/counter" | tr -d ' ')" = "$C" ]
  check "counter one behind: all five keys" [ "$(key_count dev)" -eq 5 ]
  fspd_stop
else
  fail "counter one behind: not accepted: $(tail -n 1 "$LOG.cur")"
fi
restore

# The documented limit: store and counter put back together look like a device that never
# advanced. The emulated counter is a file; a hardware counter cannot be wound back.
cp "$T/snap3/store" "$T/snap3/counter" "$D/"
if fspd_start "$D" "$SOCK" "$LOG"; then
  check "old store with its old counter: accepted, showing the old state (known limit)" \
    [ "$(key_count dev)" -eq 2 ]
  fspd_stop
else
  fail "old store with its old counter: $(tail -n 1 "$LOG.cur")"
fi
restore

# The real files: the SP starts and every key signs for its certificate.
fspd_start "$D" "$SOCK" "$LOG" || { fail "the real store does not start"; finish; exit 1; }
for i in 1 2 3 4 5; do
  check "key $i signs for its certificate" leaf_signs "$SOCK" "$i" "$T/l$i.pem"
done
fspd_stop
finish
