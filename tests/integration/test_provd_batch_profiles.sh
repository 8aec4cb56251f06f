#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Merkle batch profiles handed out by selfcert-provd (#17 direction 3, docs/API.md "Batch
# profiles from the server"): four agents whose SPs have BATCH_ISSUE ask at once, the server signs
# their four profiles under one root (one wave), each SP issues from its own leaf and the server
# registers each certificate against it. An SP before 1.5 still gets an ordinary profile from the
# same server. Hostile: "batch" of the wrong type, a leaf whose path is one hash short or long
# (batch-path, at the SP and in `selfcert verify`), a leaf used again (replay), another device's
# leaf, a certificate registered again (already-registered).
SC_VG_BINS="SELFCERT_PROVD"
source "$SC_TESTLIB"
source "$(dirname "$SC_TESTLIB")/lib-provd.sh"

provd_world testnet || exit 1
for i in 1 2 3 4; do provd_device "d$i" "BAT-$i" || exit 1; done
sc sp init --store "$T/o" --device-id BAT-OLD >/dev/null && start_spd o --revision 1.4 &&
  sc mfr personalize --dir "$T/mfr" --sp "$T/o.sock" --out "$T/o-certs" --net-root "$T/net/root.pem" \
    --network-id testnet >/dev/null || exit 1
sc net device add --db "$REG_DB" --device-id BAT-1 --device-id BAT-2 --device-id BAT-3 \
  --device-id BAT-4 --device-id BAT-OLD >/dev/null || exit 1
# A wave of at most 4 in a fixed window (--profile-batch-wait): its first request waits up to
# WAIT ms for the others, in its worker thread (batcher.h), so the agents start a little apart:
# each one's connection then goes to a worker that is not waiting (one that waits accepts
# nothing). The wave closes when the fourth joins.
WAIT=8000
[ "$SC_VALGRIND" = 1 ] && WAIT=20000
start_provd --profile-batch 4 --profile-batch-wait $WAIT --threads 8 || exit 1

refused_flag() { "$SELFCERT_PROVD" "$@" >"$T/.out" 2>"$T/.err"; [ $? = 2 ] && grep -q -- "$1" "$T/.err"; }
check "--profile-batch 1 is refused (2..4096)" refused_flag --profile-batch 1 --db x --net-dir x --mfr-root x --listen 127.0.0.1:0 --insecure-http
# audit17 item 10: each flag's bounds, by the exact usage line (exit 2).
refused_range() {
  local want=$1; shift
  "$SELFCERT_PROVD" "$@" --db x --net-dir x --mfr-root x --listen 127.0.0.1:0 --insecure-http \
    >"$T/.out" 2>"$T/.err"
  [ $? = 2 ] && grep -qF -- "$want" "$T/.err"
}
check "--profile-batch 4097 is refused" refused_range \
  "--profile-batch '4097': expected a whole number from 2 to 4096" --profile-batch 4097
check "--profile-batch-wait 60001 is refused" refused_range \
  "--profile-batch-wait '60001': expected a whole number from 0 to 60000" \
  --profile-batch 4 --profile-batch-wait 60001
check "--profile-batch-wait -1 is refused" refused_range \
  "--profile-batch-wait '-1': expected a whole number from 0 to 60000" \
  --profile-batch 4 --profile-batch-wait -1

# The registry's copy of a leaf, in hex (SQLite's hex(), PostgreSQL's encode()).
HEX="hex(der)"
[ -n "${SC_PG_URI:-}" ] && [ "$REG_DB" = "$SC_PG_URI" ] && HEX="encode(der, 'hex')"

# --- one wave: four agents at once ---
for i in 1 2 3 4; do
  agent "d$i" --once >"$T/a$i.out" 2>"$T/a$i.err" & eval "P$i=\$!"
  sleep 0.5
done
for i in 1 2 3 4; do
  eval "wait \$P$i"; rc=$?
  check "BAT-$i enrolled (exit $rc: $(tail -n 1 "$T/a$i.err"))" [ $rc = 0 ]
  check "BAT-$i: stdout says enrolled" grep -q "^BAT-$i enrolled " "$T/a$i.out"
  check "BAT-$i: its SP issued through BATCH_ISSUE" grep -q ": batch-issue: ok$" "$T/d$i.log"
  check "BAT-$i: provd logged a batch leaf" \
    grep -q "POST /v1/profiles 201 .* device=BAT-$i .*profile=.* batched=[1-4]$" "$T/provd.log"
  ok "BAT-$i: stock openssl accepts the leaf" openssl verify -CAfile "$T/mfr/root.pem" \
    -untrusted "$T/d$i-certs/chain.pem" "$T/d$i-out/leaf.pem"
  db "SELECT $HEX FROM profiles WHERE device_id = 'BAT-$i'" | xxd -r -p >"$T/leaf$i.der"
done
check "four certificates registered" [ "$(db "SELECT count(*) FROM certificates WHERE device_id LIKE 'BAT-_'")" = 4 ]
# One signature per wave: leaves of a wave carry the same signed root (SignedBatchRoot, the third
# element of the BatchedProfile, with the wave's random batch ID). Normally one wave of 4; a
# connection that a waiting worker had already accepted makes its own wave after it (hence
# "fewer than 4").
root_of() { python3 -c '
import sys, hashlib
b = open(sys.argv[1], "rb").read()
def tlv(i):
    l = b[i + 1]; h = 2
    if l & 0x80:
        n = l & 0x7f; l = int.from_bytes(b[i + 2:i + 2 + n], "big"); h = 2 + n
    return h, l
h, l = tlv(0); i = h
for _ in range(2):
    hh, ll = tlv(i); i += hh + ll
hh, ll = tlv(i)
print(hashlib.sha256(b[i:i + hh + ll]).hexdigest())' "$1"; }
waves=$(for i in 1 2 3 4; do root_of "$T/leaf$i.der"; done | sort -u | wc -l)
check "fewer root signatures than devices ($waves for 4)" [ "$waves" -lt 4 ]
check "the logged wave sizes agree ($waves waves)" [ "$(grep -o ' batched=[0-9]*' "$T/provd.log" |
  sort | uniq -c | awk '{ split($2, a, "="); w += $1 / a[2] } END { print w }')" = "$waves" ]
[ "$waves" = 1 ] || echo "note: $waves waves" >&2
api GET /metrics
check "/metrics counts $waves waves" grep -q "^selfcert_provd_profile_batch_waves_total $waves$" "$T/.api"
check "/metrics counts 4 leaves" grep -q "^selfcert_provd_profile_batch_leaves_total 4$" "$T/.api"
ok "verify --profile: the leaf and its certificate (path and root signature)" \
  sc verify --mfr-root "$T/mfr/root.pem" --chain "$T/d1-certs/chain.pem" --net-root "$T/net/root.pem" \
  --profile "$T/leaf1.der" "$T/d1-out/leaf.pem"

# --- the older SP: an ordinary profile from the same server ---
ok "BAT-OLD (SP revision 1.4) enrolls" agent o --once
check "BAT-OLD's profile is not batched" bash -c "grep 'POST /v1/profiles 201' '$T/provd.log' | tail -n 1 | grep -vq batched="
# A client that does not ask ("batch" absent) is served as before; "batch" must be a boolean.
printf '{"batch": "yes"}' >"$T/b.json"
api_json POST /v1/profiles "$T/b.json"; api_is "\"batch\" not a boolean" 400 wrong-type

# --- hostile leaves ---
# The path one hash short and one hash long (DER re-encoded around it): the SP refuses it
# before anything else (batch-path), and so does verify.
# A leaf of the largest wave (its path has at least one hash).
big=1 bign=0
for i in 1 2 3 4; do
  n=$(grep "POST /v1/profiles 201 .* device=BAT-$i " "$T/provd.log" | grep -o 'batched=[0-9]*' | cut -d= -f2)
  [ "${n:-0}" -gt "$bign" ] && big=$i bign=$n
done
python3 - "$T/leaf$big.der" "$T/short.der" "$T/long.der" <<'EOF' || fail "making the bad paths"
import sys
def tlv(b, i):
    t = b[i]; l = b[i + 1]; h = 2
    if l & 0x80:
        n = l & 0x7f; l = int.from_bytes(b[i + 2:i + 2 + n], 'big'); h = 2 + n
    return t, h, l
def enc(t, body):
    n = len(body)
    if n < 0x80: return bytes([t, n]) + body
    nb = n.to_bytes((n.bit_length() + 7) // 8, 'big')
    return bytes([t, 0x80 | len(nb)]) + nb + body
b = open(sys.argv[1], 'rb').read()
t, h, l = tlv(b, 0); i = h; parts = []
while i < h + l:
    _, hh, ll = tlv(b, i); parts.append(b[i:i + hh + ll]); i += hh + ll
body, path, root = parts
_, ph, pl = tlv(path, 0); hashes = []; j = ph
while j < ph + pl:
    _, hh, ll = tlv(path, j); hashes.append(path[j:j + hh + ll]); j += hh + ll
for out, hs in ((sys.argv[2], hashes[:-1]), (sys.argv[3], hashes + [hashes[-1]])):
    open(out, 'wb').write(enc(0x30, body + enc(0x30, b''.join(hs)) + root))
EOF
refused "SP: a path one hash short" 1 batch-path sc device issue --sp "$T/d$big.sock" --profile "$T/short.der" --out "$T/x.pem"
refused "SP: a path one hash long" 1 batch-path sc device issue --sp "$T/d$big.sock" --profile "$T/long.der" --out "$T/x.pem"
refused "verify: a path one hash short" 1 batch-path sc verify --mfr-root "$T/mfr/root.pem" \
  --chain "$T/d$big-certs/chain.pem" --net-root "$T/net/root.pem" --profile "$T/short.der" "$T/d$big-out/leaf.pem"
refused "SP: its own leaf again (replay)" 1 replay sc device issue --sp "$T/d3.sock" --profile "$T/leaf3.der" --out "$T/x.pem"
refused "SP: another device's leaf" 1 device-mismatch sc device issue --sp "$T/d3.sock" --profile "$T/leaf4.der" --out "$T/x.pem"
jq -Rs '{certificate: .}' <"$T/d1-out/leaf.pem" >"$T/c.json"
api_json POST /v1/certificates "$T/c.json"; api_is "the certificate again: already registered" 200
check "… says already-registered" grep -q '"status":"already-registered"' "$T/.api"

finish
