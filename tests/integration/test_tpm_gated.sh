#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The operator-gated CSK (issue #12, docs/TPM.md "Operator-gated CSK"): with `sp init
# --operator-gated`, the TPM itself refuses every CSK signature the operator did not authorize.
# Proven with stock tpm2-tools on the CSK blob from the store (as root with the whole host would
# use it): a plain or empty-policy TPM2_Sign fails its authorization; the operator's own
# authorization replayed in a new session fails (nonce); an authorization for another digest
# passes PolicySigned but the TPM2_Sign fails (cpHash). The normal path issues certificates that
# `openssl verify` accepts, for a device-generated and a server-supplied key.
# swtpm-bound, like test_tpm: not in the valgrind pass.
[ "${SC_VALGRIND:-0}" = 1 ] && { echo "skipped under valgrind (cmake/tpm.cmake)"; exit 77; }
source "$SC_TESTLIB"
command -v swtpm >/dev/null && command -v tpm2_policysigned >/dev/null || { echo "swtpm/tpm2-tools missing: skipped"; exit 77; }

start_swtpm "$T/tpm" || { fail "swtpm"; finish; exit 1; }
TCTI="swtpm:path=$T/tpm/sock"
SRK_ATTRS='fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda|restricted|decrypt'
REF=selfcert-issue-v1

sc mfr init --dir "$T/mfr" --name "TPM Devices" >/dev/null || exit 1
sc net init --dir "$T/net" --network-id net-gate --alg p256 >/dev/null || exit 1
anchors=(--net-root "$T/net/root.pem" --network-id net-gate)

refused "--operator-gated without --gate-key" 2 usage \
  sc sp init --store "$T/x" --device-id GATE-X --backend tpm --tcti "$TCTI" --operator-gated
refused "--operator-gated on the soft backend" 2 usage \
  sc sp init --store "$T/x" --device-id GATE-X --operator-gated --gate-key "$T/net/signer.pem"
echo "not a key" >"$T/notakey.pem"
refused "a gate key that is not a key" 1 malformed \
  sc sp init --store "$T/x" --device-id GATE-X --backend tpm --tcti "$TCTI" --operator-gated --gate-key "$T/notakey.pem"
check "  names the file" grep -q "notakey.pem: not a PEM public key or certificate" "$T/.err"
ok "sp init --backend tpm --operator-gated" sc sp init --store "$T/dev" --device-id GATE-0001 \
  --backend tpm --tcti "$TCTI" --operator-gated --gate-key "$T/net/signer.pem"
check "  DIR/tpm.gate holds the signer's public key" \
  cmp -s <(openssl pkey -pubin -in "$T/dev/tpm.gate" -outform DER) <(openssl x509 -in "$T/net/signer.pem" -noout -pubkey | openssl pkey -pubin -outform DER)

serve() {
  TSS2_TCTI=$TCTI "$SELFCERT_SPD" --store "$T/dev" --socket "$T/dev.sock" 2>>"$T/dev.log" &
  SPD=$!
  for _ in $(seq 1 200); do sc device info --sp "$T/dev.sock" >/dev/null 2>&1 && return 0; sleep 0.05; done
  fail "selfcert-spd did not come up: $(tail -n 2 "$T/dev.log")"; return 1
}
halt() { kill "$SPD" 2>/dev/null; wait "$SPD" 2>/dev/null; }

serve || { finish; exit 1; }
ok "device info --store says operator-gated" sc device info --sp "$T/dev.sock" --store "$T/dev"
check "  in text" grep -q "^operator-gated:   yes" "$T/.out"
ok "device info --store --json" sc device info --sp "$T/dev.sock" --store "$T/dev" --json
check "  as JSON" grep -q '"operator_gated":true' "$T/.out"
ok "personalize (gated CSK P-256: its CSR is the factory branch's one signature)" \
  sc mfr personalize --dir "$T/mfr" --sp "$T/dev.sock" --out "$T/certs" --csk-alg p256 --kex-alg rsa2048 "${anchors[@]}"

# ---- the normal path: gate-challenge, profile, authorization, issue ----
gated_issue() {  # gated_issue TAG CHALLENGE-FLAGS -- PROFILE-FLAGS
  local tag=$1; shift
  local cf=() pf=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do cf+=("$1"); shift; done
  shift
  pf=("$@")
  local ch
  ch=$(sc device gate-challenge --sp "$T/dev.sock" --out "$T/$tag.gate" "${cf[@]}") &&
    sc net profile --dir "$T/net" --device-ca "$T/certs/device-ca.pem" --validity 7d \
      --challenge "$ch" --out "$T/$tag.der" "${pf[@]}" >/dev/null &&
    sc net authorize --dir "$T/net" --profile "$T/$tag.der" --gate "$T/$tag.gate" \
      --device-ca "$T/certs/device-ca.pem" --out "$T/$tag.auth" &&
    sc device issue --sp "$T/dev.sock" --profile "$T/$tag.der" --authorization "$T/$tag.auth" \
      --out "$T/$tag.pem" >"$T/$tag.handle"
}
ok "gated issuance, device-generated P-256 key" gated_issue g1 --alg p256 -- --alg p256
ok "  openssl verify accepts it" openssl verify -CAfile "$T/mfr/root.pem" \
  -untrusted <(cat "$T/certs/chain.pem") "$T/g1.pem"
# serial = SHA-256("selfcert gate serial" ‖ challenge)[0..16), top bit cleared, a zero first
# byte made 01 (sc_gate_serial: DER has no leading zero octet; 1 challenge in 128 hits it)
want_serial() {
  local h b; h=$( (printf 'selfcert gate serial'; jq -r .challenge "$1" | xxd -r -p) | sha256sum | cut -c1-32)
  b=$((0x${h:0:2} & 0x7f)); [ "$b" -ne 0 ] || b=1
  printf '%02x%s' "$b" "${h:2}"
}
check "  its serial is the one both sides derive from the challenge" \
  [ "$(openssl x509 -in "$T/g1.pem" -noout -serial | cut -d= -f2 | tr A-F a-f)" = "$(want_serial "$T/g1.gate")" ]
check "  its issuanceCounter is the one the SP announced" \
  bash -c "openssl x509 -in '$T/g1.pem' -noout -text >'$T/g1.txt'; [ \"\$(jq -r .counter '$T/g1.gate')\" -ge 1 ]"
ok "gated issuance, device-generated RSA-2048 decrypt key" gated_issue g2 --alg rsa2048 \
  --key-usage keyEncipherment -- --alg rsa2048 --key-usage keyEncipherment
ok "  openssl verify accepts it" openssl verify -CAfile "$T/mfr/root.pem" \
  -untrusted <(cat "$T/certs/chain.pem") "$T/g2.pem"
ok "gated issuance, server-supplied P-256 key (embodiment 2)" gated_issue g3 --server-keygen -- \
  --server-keygen p256 --kex "$T/certs/kex.pem"
ok "  openssl verify accepts it" openssl verify -CAfile "$T/mfr/root.pem" \
  -untrusted <(cat "$T/certs/chain.pem") "$T/g3.pem"

# ---- refusals through the SP ----
sc net profile --dir "$T/net" --device-ca "$T/certs/device-ca.pem" --validity 7d --alg p256 --out "$T/plain.der" >/dev/null
refused "plain ISSUE on a gated SP" 1 gate sc device issue --sp "$T/dev.sock" --profile "$T/plain.der" --out "$T/plain.pem"
ch=$(sc device gate-challenge --sp "$T/dev.sock" --out "$T/r.gate" --alg p256) || fail "gate-challenge"
sc net profile --dir "$T/net" --device-ca "$T/certs/device-ca.pem" --validity 7d --alg p256 --challenge "$ch" --out "$T/r.der" >/dev/null
refused "an authorization made for another profile" 1 gate \
  sc device issue --sp "$T/dev.sock" --profile "$T/r.der" --authorization "$T/g1.auth" --out "$T/r.pem"
check "  names the TPM's refusal" grep -q "the TPM refused the authorization" "$T/.err"
sc net authorize --dir "$T/net" --profile "$T/r.der" --gate "$T/r.gate" --device-ca "$T/certs/device-ca.pem" --out "$T/r.auth"
refused "the right authorization after the session died" 1 challenge \
  sc device issue --sp "$T/dev.sock" --profile "$T/r.der" --authorization "$T/r.auth" --out "$T/r.pem"
# Root swaps DIR/tpm.gate for its own key: the CSK's policy still names the operator's.
halt
cp "$T/dev/tpm.gate" "$T/tpm.gate.orig"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/evil.key" 2>/dev/null
openssl pkey -in "$T/evil.key" -pubout -out "$T/dev/tpm.gate"
serve || { finish; exit 1; }
refused "a replaced DIR/tpm.gate" 1 gate sc device gate-challenge --sp "$T/dev.sock" --out "$T/e.gate" --alg p256
check "  names the file" grep -q "DIR/tpm.gate is not the gate key this CSK's TPM policy names" "$T/.err"
halt
cp "$T/tpm.gate.orig" "$T/dev/tpm.gate"
serve || { finish; exit 1; }
refused "gate-challenge with an unknown algorithm" 2 usage sc device gate-challenge --sp "$T/dev.sock" --out "$T/y.gate" --alg dsa

# ---- stock tpm2-tools on the CSK blob, with the whole host ----
halt
ok "export the blobs (daemon stopped)" "$SELFCERT_SPD" --store "$T/dev" --tpm-export "$T/exp" --tcti "$TCTI"
check "  the gated CSK's two policy branches are exported" [ -s "$T/exp/csk.policy-gate" ] && [ -s "$T/exp/csk.policy-factory" ]
export TPM2TOOLS_TCTI=$TCTI
cd "$T" || exit 1
# No resource manager on a raw swtpm socket, 3 object slots: flush after every tool that loads.
fl() { tpm2_flushcontext -t >/dev/null 2>&1; tpm2_flushcontext -s >/dev/null 2>&1; }
lo() { fl; tpm2_flushcontext -t >/dev/null 2>&1; }
tpm2_createprimary -Q -C o -g sha256 -G ecc256:aes128cfb -a "$SRK_ATTRS" -c srk.ctx || fail "createprimary"
tpm2_flushcontext -t >/dev/null 2>&1
tpm2_load -Q -C srk.ctx -u exp/csk.pub -r exp/csk.priv -c csk.ctx || fail "tpm2_load csk"
tpm2_flushcontext -t >/dev/null 2>&1
openssl pkey -in net/signer.key -pubout -out gate.pub.pem 2>/dev/null
tpm2_loadexternal -Q -C n -G ecc -a 'sign|userwithauth' -u gate.pub.pem -c gate.ctx || fail "tpm2_loadexternal"
tpm2_flushcontext -t >/dev/null 2>&1
tpm2_readpublic -c csk.ctx >csk.txt 2>/dev/null
check "the CSK has no userWithAuth, and adminWithPolicy" \
  bash -c "grep -q 'adminwithpolicy' csk.txt && ! grep -q 'userwithauth' csk.txt"
head -c 32 /dev/urandom >dg.bin
tpm2_sign -c csk.ctx -g sha256 -s ecdsa -d dg.bin -o s.bin >/dev/null 2>tt.err
check "tpm2_sign with the CSK (password, empty) fails: no user auth" grep -q "0x12F\|0x12f\|authValue or authPolicy is not available" tt.err
fl
tpm2_startauthsession --policy-session -S sess.ctx >/dev/null
tpm2_sign -c csk.ctx -g sha256 -s ecdsa -d dg.bin -o s.bin -p session:sess.ctx >/dev/null 2>tt.err
check "tpm2_sign with an empty policy session fails: policy failure" grep -q "a policy check failed" tt.err
fl

# The operator's real authorization for g1, replayed in a new session (a fresh nonceTPM).
openssl x509 -in g1.pem -outform DER -out g1.der
openssl asn1parse -in g1.der -inform DER -strparse 4 -noout -out g1.tbs
openssl dgst -sha256 -binary g1.tbs >g1.dg
printf %s "$REF" >ref.bin
tpm2_sign -c csk.ctx -g sha256 -s ecdsa -d g1.dg --cphash cp.bin >/dev/null 2>cp.err || cat cp.err >&2
fl
tpm2_startauthsession --policy-session -S sess.ctx >/dev/null
tpm2_policysigned -S sess.ctx -g sha256 -s g1.auth -f ecdsa -c gate.ctx --cphash-input cp.bin \
  -q ref.bin -x >/dev/null 2>tt.err
check "the operator's authorization replayed in a new session fails (PolicySigned)" grep -q "the signature is not valid\|0x2DB\|0x2db" tt.err
fl

# A fresh, valid authorization for the digest d1, used to sign another digest d2.
head -c 32 /dev/urandom >d1.bin; head -c 32 /dev/urandom >d2.bin
tpm2_sign -c csk.ctx -g sha256 -s ecdsa -d d1.bin --cphash cp1.bin >/dev/null 2>cp.err || cat cp.err >&2
fl
authorize_session() {  # a policy session whose nonce the gate key signed with cpHash cp1.bin
  tpm2_startauthsession --policy-session -S sess.ctx >/dev/null &&
    tpm2_policysigned -S sess.ctx -g sha256 -c gate.ctx --cphash-input cp1.bin -q ref.bin -x \
      --raw-data tosign.bin >/dev/null &&
    openssl dgst -sha256 -sign net/signer.key -out fresh.sig tosign.bin &&
    tpm2_policysigned -S sess.ctx -g sha256 -s fresh.sig -f ecdsa -c gate.ctx \
      --cphash-input cp1.bin -q ref.bin -x >/dev/null &&
    tpm2_policyor -S sess.ctx -l "sha256:exp/csk.policy-gate,exp/csk.policy-factory" >/dev/null
}
ok "a fresh operator authorization passes PolicySigned and PolicyOR" authorize_session
rm -f s2.bin
tpm2_sign -c csk.ctx -g sha256 -s ecdsa -d d2.bin -o s2.bin -p session:sess.ctx >/dev/null 2>tt.err
check "but TPM2_Sign of another digest fails (cpHash: a policy check failed)" grep -q "a policy check failed" tt.err
check "  and produced no signature" [ ! -s s2.bin ]
fl
# Control: the same steps with the authorized digest sign, so the refusals above are the gate's.
ok "control: a fresh authorization for d1" authorize_session
ok "control: the authorized digest signs" tpm2_sign -c csk.ctx -g sha256 -s ecdsa -d d1.bin -o s1.bin -p session:sess.ctx
fl
cd - >/dev/null || exit 1
unset TPM2TOOLS_TCTI

# The daemon starts again and still issues (the stock tools left nothing loaded).
serve || { finish; exit 1; }
ok "after the stock tools, gated issuance still works" gated_issue g4 --alg p256 -- --alg p256

# ---- the authorization's wire form, refused by name (each attempt spends the challenge) ----
fresh_w() {
  local ch; ch=$(sc device gate-challenge --sp "$T/dev.sock" --out "$T/w.gate" --alg p256) &&
    sc net profile --dir "$T/net" --device-ca "$T/certs/device-ca.pem" --validity 7d --alg p256 \
      --challenge "$ch" --out "$T/w.der" >/dev/null
}
printf 'not DER' >"$T/w.bad"
fresh_w; refused "an authorization that is not DER ECDSA" 1 gate \
  sc device issue --sp "$T/dev.sock" --profile "$T/w.der" --authorization "$T/w.bad" --out "$T/w.pem"
check "  names the form" grep -q "authorization: not a DER ECDSA-Sig-Value" "$T/.err"
cat "$T/g1.auth" "$T/g1.auth" >"$T/w.two"
fresh_w; refused "an authorization with trailing bytes" 1 gate \
  sc device issue --sp "$T/dev.sock" --profile "$T/w.der" --authorization "$T/w.two" --out "$T/w.pem"
check "  names the form" grep -q "authorization: not a DER ECDSA-Sig-Value" "$T/.err"
head -c 600 /dev/zero >"$T/w.big"
fresh_w; refused "an authorization over 512 bytes" 1 malformed \
  sc device issue --sp "$T/dev.sock" --profile "$T/w.der" --authorization "$T/w.big" --out "$T/w.pem"
: >"$T/w.empty"
refused "an empty authorization" 1 malformed \
  sc device issue --sp "$T/dev.sock" --profile "$T/w.der" --authorization "$T/w.empty" --out "$T/w.pem"
check "  names the field" grep -q "empty authorization" "$T/.err"
sc net authorize --dir "$T/net" --profile "$T/w.der" --gate "$T/w.gate" --device-ca "$T/certs/device-ca.pem" --out "$T/w.auth"
ok "after wire-level refusals (no TPM use), the same challenge still issues" \
  sc device issue --sp "$T/dev.sock" --profile "$T/w.der" --authorization "$T/w.auth" --out "$T/w.pem"
halt

# ---- the shared builder, byte for byte, for every algorithm the TPM backend holds ----
# One gated device per CSK algorithm (same swtpm, one daemon at a time): the tbsCertificate the
# operator side built (net authorize --tbs-out) is the one inside the SP's certificate.
tbs_of() { openssl asn1parse -in "$1" -strparse 4 -noout -out "$2" >/dev/null; }
i=0
for pair in p256:p384 p384:rsa2048 rsa2048:rsa3072 rsa3072:p256; do
  csk=${pair%%:*} leaf=${pair##*:}; i=$((i + 1))
  sc sp init --store "$T/a$i" --device-id "GATE-A$i" --backend tpm --tcti "$TCTI" \
    --operator-gated --gate-key "$T/net/signer.pem" >/dev/null || { fail "init $csk"; continue; }
  TSS2_TCTI=$TCTI "$SELFCERT_SPD" --store "$T/a$i" --socket "$T/a$i.sock" 2>>"$T/a$i.log" &
  SPD=$!
  for _ in $(seq 1 200); do sc device info --sp "$T/a$i.sock" >/dev/null 2>&1 && break; sleep 0.05; done
  sc mfr personalize --dir "$T/mfr" --sp "$T/a$i.sock" --out "$T/a$i-certs" --csk-alg "$csk" \
    --kex-alg p256 "${anchors[@]}" >/dev/null || fail "personalize a $csk CSK"
  ch=$(sc device gate-challenge --sp "$T/a$i.sock" --out "$T/a$i.gate" --alg "$leaf")
  sc net profile --dir "$T/net" --device-ca "$T/a$i-certs/device-ca.pem" --validity 7d --alg "$leaf" \
    --challenge "$ch" --out "$T/a$i.der" >/dev/null
  sc net authorize --dir "$T/net" --profile "$T/a$i.der" --gate "$T/a$i.gate" \
    --device-ca "$T/a$i-certs/device-ca.pem" --out "$T/a$i.auth" --tbs-out "$T/a$i.tbs-server"
  ok "CSK $csk, leaf $leaf: gated issuance" sc device issue --sp "$T/a$i.sock" --profile "$T/a$i.der" \
    --authorization "$T/a$i.auth" --out "$T/a$i.pem"
  tbs_of "$T/a$i.pem" "$T/a$i.tbs-sp"
  check "  the server's tbsCertificate is the SP's, byte for byte" cmp -s "$T/a$i.tbs-server" "$T/a$i.tbs-sp"
  ok "  openssl verify accepts it" openssl verify -CAfile "$T/mfr/root.pem" -untrusted "$T/a$i-certs/chain.pem" "$T/a$i.pem"
  halt
done
finish
