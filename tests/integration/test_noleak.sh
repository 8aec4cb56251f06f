#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# No private key ever leaves the SP. The test makes three keys itself (RSA-2048, P-256, Ed25519,
# with stock openssl), has the operator encrypt them to the device's KEK (server-generated
# embodiment), issues them, uses them in every way their certificates allow, restarts the SP,
# and asks it every message type 0..255 — all of it through sc-sockrec, a proxy that records
# every byte both ways. Then every host-side file of the test (the recording, the SP's log, its
# sealed store, certificates, profiles; all but the test's own key files) is scanned for each
# key's PKCS#8 DER and for every 32-byte run of its private scalar/exponent/primes. Positive
# controls: the recording holds the issued certificates, and the store opened with its root key
# (docs/PROTOCOL.md section 6, outside the SP) holds every key. Last, OpenSSL's secure heap:
# where copies of private components sit in memory along the SP's own code paths.
SC_VG_BINS="SELFCERT_SPD"   # under valgrind (lib.sh); the CLI runs there in other tests
source "$SC_TESTLIB"
source "$(dirname "$SC_TESTLIB")/lib-sandbox.sh"
: "${SC_SOCKREC:?set SC_SOCKREC to the sc-sockrec binary (cmake/sandbox.cmake)}"

sc mfr init --dir "$T/mfr" >/dev/null || exit 1
sc net init --dir "$T/net" --network-id net-nl >/dev/null || exit 1
sc sp init --store "$T/dev" --device-id NL-1 >/dev/null || exit 1
start_spd dev || exit 1

# Every client below talks to the SP through the recorder.
"$SC_SOCKREC" "$T/rec.sock" "$T/dev.sock" "$T/wire" 2>"$T/rec.err" &
REC=$!
for _ in $(seq 1 100); do [ -S "$T/rec.sock" ] && break; sleep 0.05; done
P="$T/rec.sock"
ok "personalize (through the recorder)" sc mfr personalize --dir "$T/mfr" --sp "$P" --out "$T/dc" \
  --net-root "$T/net/root.pem" --network-id net-nl --kex-alg p256 --max-keys 16

# The test's own keys: the only files the scan leaves out.
mkdir -m 700 "$T/keys"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/keys/rsa2048.pem" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/keys/p256.pem" 2>/dev/null
openssl genpkey -algorithm ED25519 -out "$T/keys/ed25519.pem" 2>/dev/null
declare -A KU=([rsa2048]=digitalSignature,keyEncipherment [p256]=digitalSignature,keyAgreement [ed25519]=digitalSignature)
declare -A H
echo "the message" >"$T/msg"
for k in rsa2048 p256 ed25519; do
  "$SC_SPTOOL" needles "$T/keys/$k.pem" "$k" >>"$T/keys/needles" || fail "$k: needles"
  ok "$k: profile carrying the test's key, encrypted to the KEK" sc net profile --dir "$T/net" \
    --device-ca "$T/dc/device-ca.pem" --validity 1d --server-keygen "$k" --server-key "$T/keys/$k.pem" \
    --kex "$T/dc/kex.pem" --key-usage "${KU[$k]}" --out "$T/p-$k.der"
  H[$k]=$(sc device issue --sp "$P" --profile "$T/p-$k.der" --out "$T/$k-leaf.pem") && pass || fail "$k: issue"
  # The certificate certifies exactly the test's key.
  check "$k: the leaf certifies the test's key" cmp -s <(openssl pkey -in "$T/keys/$k.pem" -pubout) \
    <(openssl x509 -in "$T/$k-leaf.pem" -noout -pubkey)
  if "$SC_SPTOOL" exercise "$P" "${H[$k]}" "$T/$k-leaf.pem" >"$T/ex-$k.out" 2>&1; then pass; else
    fail "$k: use: $(tr '\n' ' ' <"$T/ex-$k.out")"; fi
done
# The needles agree with what stock openssl prints of the same keys (pkey -text).
text_hex() { # KEY FIELD: the hex under "FIELD:" in `openssl pkey -text`, leading zeros dropped
  openssl pkey -in "$1" -text -noout | awk -v f="$2:" '$0 == f { on = 1; next } on && /^ / { printf "%s", $0; next } { on = 0 }' |
    tr -d ' :\n' | sed 's/^\(00\)*//'
}
needle_hex() { awk -v l="$1" '$1 == l { print $3 }' "$T/keys/needles" | sed 's/^\(00\)*//'; }
check "rsa2048: d as openssl prints it" [ "$(text_hex "$T/keys/rsa2048.pem" privateExponent)" = "$(needle_hex rsa2048.d-be)" ]
check "rsa2048: p as openssl prints it" [ "$(text_hex "$T/keys/rsa2048.pem" prime1)" = "$(needle_hex rsa2048.p-be)" ]
check "p256: the scalar as openssl prints it" [ "$(text_hex "$T/keys/p256.pem" priv)" = "$(needle_hex p256.priv-be)" ]
check "ed25519: the seed as openssl prints it" [ "$(text_hex "$T/keys/ed25519.pem" priv)" = "$(needle_hex ed25519.priv)" ]
check "sign, sign-digest, sign-pss, decrypt, and sign, sign-digest, derive, and sign: 8 uses" \
  [ "$(cat "$T"/ex-*.out | grep -c ': ok$')" -eq 8 ]
check "the needles: PKCS#8 and private components of three keys" [ "$(wc -l <"$T/keys/needles")" -ge 12 ]

# A restart: the keys come back from the store and are used again.
stop_spd dev
start_spd dev || fail "restart"
for k in rsa2048 p256 ed25519; do
  ok "$k: signs after the restart" sc device sign --sp "$P" --key "${H[$k]}" --in "$T/msg" --out "$T/$k.sig"
  ok "$k: the signature verifies with the test's key" openssl pkeyutl -verify -rawin -pubin \
    -inkey <(openssl pkey -in "$T/keys/$k.pem" -pubout) -sigfile "$T/$k.sig" -in "$T/msg" \
    $([ "$k" = ed25519 ] || echo -digest sha256)
done
ok "keys, through the recorder" sc device keys --sp "$P"

# Every message type, with and without the keys' handles as body: no export request exists.
if "$SC_SPTOOL" types "$P" "$T/types.bin" "${H[rsa2048]}" "${H[p256]}" "${H[ed25519]}" >"$T/types" 2>"$T/types.err"; then
  pass; else fail "a type outside the defined ones answered: $(grep -v unknown-request "$T/types" | tr '\n' ' ')"; fi
grep -v 'unknown-request$' "$T/types" | awk '{ print $1 }' | sort >"$T/answered"
"$SELFCERT_SPD" --list-requests | awk '{ print $1 }' | sort >"$T/listed"
check "the types that answer are exactly the defined ones" cmp -s "$T/answered" "$T/listed"
check "and 243 others are unknown-request" [ "$(grep -c 'unknown-request$' "$T/types")" -eq $((256 - $(wc -l <"$T/listed"))) ]

kill "$REC"; wait "$REC" 2>/dev/null
stop_spd dev

# --- the scan ---
check "the recording saw requests" [ -s "$T/wire.c2s" ]
check "the recording saw answers" [ -s "$T/wire.s2c" ]
printf 'rsa2048-leaf.cert full %s\n' "$(openssl x509 -in "$T/rsa2048-leaf.pem" -outform DER | od -An -v -tx1 | tr -d ' \n')" >"$T/keys/cert.needle"
"$SC_SPTOOL" scan "$T/keys/cert.needle" "$T/wire.s2c" >"$T/keys/cert.out"
check "positive control: the recording holds the issued RSA certificate" grep -q '^FOUND rsa2048-leaf.cert' "$T/keys/cert.out"
mapfile -t files < <(find "$T" -type f ! -path "$T/keys/*" ! -name '.*' | sort)
check "scanning ${#files[@]} files, the SP's store and log among them" \
  bash -c "printf '%s\n' \"\$@\" | grep -qx '$T/dev/store' && printf '%s\n' \"\$@\" | grep -qx '$T/dev.log'" _ "${files[@]}"
if "$SC_SPTOOL" scan "$T/keys/needles" "${files[@]}" >"$T/keys/scan.out" 2>&1; then pass; else
  fail "private key bytes outside the SP: $(head -n 5 "$T/keys/scan.out" | tr '\n' ' ')"; fi
echo "noleak: $(cat "$T/keys/scan.out")"
if "$SC_SPTOOL" scan "$T/keys/needles" "$T/dev/store" >/dev/null; then pass; else
  fail "the sealed store holds key bytes in the clear"; fi

# Positive control: the keys are in the store, sealed. Opened with its root key, it has them all.
ok "the store opens with its root key, as docs/PROTOCOL.md says" "$SC_SPTOOL" unseal "$T/dev" "$T/keys/store.plain"
"$SC_SPTOOL" scan "$T/keys/needles" "$T/keys/store.plain" >"$T/keys/plain.out"
for k in rsa2048 p256 ed25519; do
  check "positive control: the unsealed store holds $k's PKCS#8" grep -q "^FOUND $k.pkcs8" "$T/keys/plain.out"
done

# --- memory: what OpenSSL keeps in the secure heap, along the SP's own paths ---
"$SC_SPTOOL" heapcheck --wipe >"$T/heap" 2>&1
rc=$?
if [ "$rc" -eq "$SC_SKIP" ]; then
  echo "NOTE: $(cat "$T/heap")"
else
  check "heapcheck ran" [ "$rc" -eq 0 ]
  sed 's/^/heap: /' "$T/heap"
  # columns: alg gen-bytes load-bytes decoded signed encoded freed (secure/elsewhere)
  for alg in rsa2048 p256 p384 ed25519; do
    read -r _ gen load dec sig enc fre < <(grep "^$alg " "$T/heap")
    check "$alg: generated and decoded keys live in the secure heap ($gen, $load bytes)" test "${gen:-0}" -gt 0 -a "${load:-0}" -gt 0
    check "$alg: decoded: in the secure heap, nowhere else ($dec)" test "${dec%/*}" -ge 1 -a "${dec#*/}" -eq 0
    check "$alg: freed: no copy left anywhere ($fre)" [ "$fre" = 0/0 ]
    if [ "$alg" = rsa2048 ]; then
      # OpenSSL's Montgomery contexts for p and q live in the normal heap (docs/THREAT-MODEL.md).
      check "rsa2048: after use, at most p and q outside, in Montgomery contexts ($sig, $enc)" \
        test "${sig#*/}" -le 2 -a "${enc#*/}" -le 2
    else
      check "$alg: used and re-encoded: still nowhere else ($sig, $enc)" test "${sig#*/}" -eq 0 -a "${enc#*/}" -eq 0
    fi
  done
fi
finish
