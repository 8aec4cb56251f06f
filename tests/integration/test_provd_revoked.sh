#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Revocation that reaches relying parties (issue 14 item 5): provd serves the network's signed
# list of revoked devices (GET /v1/revoked); `selfcert net revoked check` verifies a fetched list
# (signature, network root, not stale, not older than the one held) and `selfcert verify
# --revoked` refuses a revoked device's leaf and admits the others. Also the offline signer
# (`net revoked sign`), a tampered list, a stale one, a rollback and another network's root.
SC_VG_BINS="SELFCERT_PROVD"   # under valgrind (lib.sh); the CLI runs there in other tests
source "$SC_TESTLIB"
source "$(dirname "$SC_TESTLIB")/lib-provd.sh"

provd_world testnet || exit 1
provd_device a DEV-A || exit 1
provd_device b DEV-B || exit 1
sc net device add --db "$T/reg.db" --device-id DEV-A --device-id DEV-B >/dev/null || exit 1
start_provd || exit 1
ok "enroll DEV-A" agent a --once
ok "enroll DEV-B" agent b --once
sc net init --dir "$T/other" --network-id testnet >/dev/null || exit 1

# fetch NAME: GET /v1/revoked into $T/NAME.json, 200 and JSON.
fetch() {
  api GET /v1/revoked
  cp "$T/.api" "$T/$1.json"
  [ "$HTTP" = 200 ]
}
vrfy() {  # vrfy NAME LIST: selfcert verify of NAME's leaf with the list
  sc verify --mfr-root "$T/mfr/root.pem" --chain "$T/$1-out/chain.pem" --net-root "$T/net/root.pem" \
    --revoked "$T/$2.json" "$T/$1-out/leaf.pem"
}

check "GET /v1/revoked: 200, no authentication needed" fetch l0
ok "the empty list checks" sc net revoked check --net-root "$T/net/root.pem" "$T/l0.json"
check "network testnet, no device" grep -q "^network testnet, sequence 1, 0 revoked device(s)$" "$T/.out"
ok "verify --revoked: DEV-A admitted before" vrfy a l0

ok "revoke DEV-A in the registry" sc net device revoke --db "$T/reg.db" --device-id DEV-A --reason stolen
check "GET /v1/revoked again" fetch l1
ok "the new list checks, not older than the held one" \
  sc net revoked check --net-root "$T/net/root.pem" --previous "$T/l0.json" "$T/l1.json"
check "it names DEV-A" grep -qx "DEV-A" "$T/.out"
refused "verify --revoked: DEV-A refused" 1 revoked vrfy a l1
check "named, with the sequence" grep -q "device DEV-A is on network testnet's revocation list (sequence" "$T/.err"
ok "verify --revoked: DEV-B admitted" vrfy b l1
ok "the same list again (same sequence, same devices) is accepted" \
  sc net revoked check --net-root "$T/net/root.pem" --previous "$T/l1.json" "$T/l1.json"

# A relying party's refusals.
refused "rollback: an older list after a newer one" 1 rollback \
  sc net revoked check --net-root "$T/net/root.pem" --previous "$T/l1.json" "$T/l0.json"
check "named" grep -q "is lower than the held list's" "$T/.err"
refused "another network root" 1 untrusted-signer \
  sc net revoked check --net-root "$T/other/root.pem" "$T/l1.json"
sed 's/"signature": "\(.\{20\}\)./"signature": "\1A/' "$T/l1.json" >"$T/tampered.json"
cmp -s "$T/l1.json" "$T/tampered.json" && sed 's/"signature": "\(.\{20\}\)./"signature": "\1B/' "$T/l1.json" >"$T/tampered.json"
refused "a tampered signature" 1 signature sc net revoked check --net-root "$T/net/root.pem" "$T/tampered.json"
head -c 100 "$T/l1.json" >"$T/cut.json"
refused "a truncated list" 1 malformed sc net revoked check --net-root "$T/net/root.pem" "$T/cut.json"
refused "verify --revoked needs --net-root" 2 usage \
  sc verify --mfr-root "$T/mfr/root.pem" --chain "$T/a-out/chain.pem" --revoked "$T/l1.json" "$T/a-out/leaf.pem"

# The operator's offline signer: the same sequence rule as provd's.
ok "net revoked sign" sc net revoked sign --dir "$T/net" --db "$T/reg.db" --out "$T/off.json"
check "one device" grep -q "1 revoked device(s)" "$T/.out"
seq_of() { sc net revoked check --net-root "$T/net/root.pem" "$T/$1.json" | head -n 1 | sed 's/.*sequence \([0-9]*\),.*/\1/'; }
check "provd's and the offline signer's sequence agree" [ "$(seq_of off)" = "$(seq_of l1)" ]
ok "a list that expires in a second" sc net revoked sign --dir "$T/net" --db "$T/reg.db" --out "$T/stale.json" --next-update 1s
sleep 2.1
refused "a stale list" 1 stale vrfy b stale
check "named" grep -q "past its next update" "$T/.err"
# The relying party's fetcher (from a timer): checks, refuses a rollback, replaces atomically.
F=(sc net revoked fetch --url "$PROVD_URL/v1/revoked" --ca "$T/net/root.pem" --net-root "$T/net/root.pem")
ok "fetch: nothing held yet" "${F[@]}" --out "$T/held.json"
check "held: 1 device" grep -q "held.json: network testnet, sequence .*, 1 revoked device(s)" "$T/.out"
ok "revoke DEV-B" sc net device revoke --db "$T/reg.db" --device-id DEV-B
ok "fetch: the newer list replaces it" "${F[@]}" --out "$T/held.json"
check "held: 2 devices" grep -q "2 revoked device(s)" "$T/.out"
ok "fetch --json" "${F[@]}" --out "$T/held2.json" --json
check "fetch --json: one object with the file and both devices ($(cat "$T/.out"))" python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
assert d["out"] == sys.argv[2] and d["network_id"] == "testnet" and len(d["devices"]) == 2 and d["next_update"].endswith("Z")' "$T/.out" "$T/held2.json"
refused "verify --revoked with the fetched list: DEV-B refused now" 1 revoked vrfy b held
ok "a held list with a higher sequence" sc net revoked sign --dir "$T/net" --db "$T/reg.db" --out "$T/held.json" --sequence 9007199254740992
cp "$T/held.json" "$T/held.before"
refused "fetch: a lower sequence than the held list's is refused" 1 rollback "${F[@]}" --out "$T/held.json"
check "the held list is kept" cmp -s "$T/held.json" "$T/held.before"
printf 'junk' >"$T/held.json"
refused "fetch: a damaged held list stops it" 1 malformed "${F[@]}" --out "$T/held.json"
refused "fetch: a server that is not there" 3 io \
  sc net revoked fetch --url "http://127.0.0.1:1/v1/revoked" --net-root "$T/net/root.pem" --out "$T/x.json"
refused "fetch: not a list (404)" 3 peer "${F[@]/\/v1\/revoked/\/v1\/nothing}" --out "$T/y.json"
finish
