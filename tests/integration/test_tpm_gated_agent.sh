#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Operator-gated issuance end to end (issue #12, docs/TPM.md): selfcert-agent on an operator-gated
# TPM device and selfcert-provd, both embodiments. The agent asks the SP for a gated challenge
# (GATE_CHALLENGE, revision 1.4), sends what the SP reported in the request's "gate" object, gets
# the profile and the TPM authorization beside it, and issues with GATE_ISSUE; the certificate
# verifies with openssl and the server registers it. An ungated device on the same server and
# agent goes the usual way (interoperation). swtpm-bound: not in the valgrind pass.
[ "${SC_VALGRIND:-0}" = 1 ] && { echo "skipped under valgrind (cmake/tpm.cmake)"; exit 77; }
source "$SC_TESTLIB"
source "$(dirname "$SC_TESTLIB")/lib-provd.sh"
command -v swtpm >/dev/null || { echo "swtpm missing: skipped"; exit 77; }

provd_world gatenet || exit 1
start_swtpm "$T/tpm" || { fail "swtpm"; finish; exit 1; }
TCTI="swtpm:path=$T/tpm/sock"
sc sp init --store "$T/g" --device-id DEV-G1 --backend tpm --tcti "$TCTI" \
  --operator-gated --gate-key "$T/net/signer.pem" >/dev/null || exit 1
start_spd g --tcti "$TCTI" || exit 1
sc mfr personalize --dir "$T/mfr" --sp "$T/g.sock" --out "$T/g-certs" --csk-alg p256 --kex-alg p256 \
  --net-root "$T/net/root.pem" --network-id gatenet >/dev/null || exit 1
provd_device s DEV-S1 || exit 1
sc net device add --db "$REG_DB" --device-id DEV-G1 --device-id DEV-S1 >/dev/null || exit 1
start_provd --allow-server-keygen --rate-limit 100/1h --validity 1h || exit 1

ok "the agent enrolls the gated device (device-generated P-256 key)" agent g --once
check "  through the gated path" grep -q "gated" "$T/provd.log"
ok "  openssl verify accepts the leaf" openssl verify -CAfile "$T/mfr/root.pem" \
  -untrusted "$T/g-certs/chain.pem" "$T/g-out/leaf.pem"
check "  the server registered it" \
  [ "$(db "SELECT count(*) FROM certificates WHERE device_id = 'DEV-G1'")" -eq 1 ]
ok "the agent renews it with a server-supplied key (embodiment 2)" agent g --once --force-renew --server-keygen --alg p256
ok "  openssl verify accepts the leaf" openssl verify -CAfile "$T/mfr/root.pem" \
  -untrusted "$T/g-certs/chain.pem" "$T/g-out/leaf.pem"
check "  the server registered both" \
  [ "$(db "SELECT count(*) FROM certificates WHERE device_id = 'DEV-G1'")" -eq 2 ]
ok "an ungated device, same server and agent: as before" agent s --once
ok "  openssl verify accepts its leaf" openssl verify -CAfile "$T/mfr/root.pem" \
  -untrusted "$T/s-certs/chain.pem" "$T/s-out/leaf.pem"

# A network whose RSA leaves also encipher: the agent's first pending key (signing) does not fit
# the server's profile (the SP says key-mismatch); it learns the uses from that profile and the
# next round's pending key is made for them.
stop_provd
printf '{"key_usage": ["digitalSignature", "keyEncipherment"]}\n' >"$T/policy.json"
start_provd --allow-server-keygen --rate-limit 100/1h --validity 1h --policy "$T/policy.json" || exit 1
ok "gated RSA-2048 leaf for signing and encipherment" agent g --once --force-renew --alg rsa2048
check "  the agent learned the uses from the refused profile" grep -q "wants other key uses" "$T/.err"
check "  the leaf allows both" bash -c "openssl x509 -in '$T/g-out/leaf.pem' -noout -ext keyUsage | grep -q 'Digital Signature, Key Encipherment'"
ok "  openssl verify accepts it" openssl verify -CAfile "$T/mfr/root.pem" \
  -untrusted "$T/g-certs/chain.pem" "$T/g-out/leaf.pem"

# The server refuses a "gate" object that does not fit: the SP would refuse it anyway.
chain=$(cat "$T/g-certs/device-ca.pem" "$T/mfr/ca.pem")
jq -n --arg c "$chain" --arg k "$(cat "$T/g-certs/kex.pem")" \
  '{chain: $c, kex: $k, challenge: ("ab" * 32), gate: {counter: 1, csk_name: "00"}}' >"$T/b1.json"
api_json POST /v1/profiles "$T/b1.json"
api_is "a gate.csk_name that is not a TPM Name" 400 bad-hex
jq -n --arg c "$chain" --arg k "$(cat "$T/g-certs/kex.pem")" \
  '{chain: $c, kex: $k, challenge: ("ab" * 32), gate: {counter: 1, csk_name: ("00" * 34), extra: 1}}' >"$T/b2.json"
api_json POST /v1/profiles "$T/b2.json"
api_is "an unknown field inside gate" 400 unknown-field
jq -n --arg c "$chain" --arg k "$(cat "$T/g-certs/kex.pem")" \
  '{chain: $c, kex: $k, challenge: ("ab" * 32), gate: []}' >"$T/b3.json"
api_json POST /v1/profiles "$T/b3.json"
api_is "a gate that is not an object" 400 wrong-type
finish
