#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The command line a packaged product needs (issue 15): --version everywhere, group help, the
# `device issue` output check that never spends a profile on an unwritable --out, `device cert`
# exporting a leaf again, --json on every command that reports what it did (one object, the
# facts of the human line), and the daemons' --config refusals.
source "$SC_TESTLIB"
# exits DESC RC CMD…: exit code RC (stdout, stderr in $T/.out, $T/.err), for lines not `selfcert: …`.
exits() {
  local desc=$1 want=$2; shift 2
  "$@" >"$T/.out" 2>"$T/.err"
  local rc=$?
  if [ "$rc" -eq "$want" ]; then pass; else fail "$desc: exit $rc, expected $want — $(head -c 300 "$T/.err")"; fi
}

# --- --version and group help ---
ok "selfcert --version" sc --version
check "version line" grep -Eq '^selfcert [0-9]+\.[0-9]+\.[0-9]+( \(git [^)]+\))?$' "$T/.out"
ok "spd --version" "$SELFCERT_SPD" --version
check "spd version line" grep -Eq '^selfcert-spd [0-9]+\.[0-9]+\.[0-9]+' "$T/.out"
# Under valgrind the first group runs under memcheck, the others natively (scn): one function
# (main.c's group_help) with the group's name.
help_sc=sc
for g in mfr net sp device; do
  ok "$g --help" $help_sc $g --help
  check "$g --help lists its commands" grep -q "^  $g " "$T/.out"
  exits "$g alone: usage" 2 $help_sc $g
  [ "$SC_VALGRIND" = 1 ] && help_sc=scn
done
ok "device --help lists cert" sc device --help
check "device cert listed" grep -q '^  device cert ' "$T/.out"
refused "unknown in a group" 2 usage sc net frobnicate

# --- one device, one profile at a time ---
sc mfr init --dir "$T/mfr" >/dev/null || exit 1
sc net init --dir "$T/net" --network-id net-a >/dev/null || exit 1
new_device dev DEV-1 p256 p256 --net-root "$T/net/root.pem" --network-id net-a || exit 1
profile() { sc net profile --dir "$T/net" --device-ca "$T/dev-certs/device-ca.pem" --validity 1d --out "$1" >/dev/null; }
# `device info` here under memcheck too (start_spd's probe runs it natively).
ok "device info" sc device info --sp "$T/dev.sock"
check "device info names the device" grep -q "DEV-1" "$T/.out"

ok "profile" profile "$T/p1.der"
ok "net profile --json" sc net profile --dir "$T/net" --device-ca "$T/dev-certs/device-ca.pem" --validity 1d --out "$T/pj.der" --json
check "net profile --json ($(cat "$T/.out"))" grep -Eq '^\{"profile_id":"[0-9a-f]+","device_id":"DEV-1","network_id":"net-a","key_origin":"device-generated","bytes":[0-9]+,"out":"' "$T/.out"
keys=$(key_count dev)
refused "issue to a missing folder" 3 io sc device issue --sp "$T/dev.sock" --profile "$T/p1.der" --out "$T/nonexistent/leaf.pem"
check "the folder is named" grep -q "^selfcert: io: $T/nonexistent/leaf.pem: cannot write in $T/nonexistent: No such file or directory$" "$T/.err"
mkdir "$T/adir"
refused "issue onto a folder" 3 io sc device issue --sp "$T/dev.sock" --profile "$T/p1.der" --out "$T/adir"
check "a folder is named" [ "$(cat "$T/.err")" = "selfcert: io: $T/adir: is a folder" ]
check "no key spent on a bad --out" [ "$(key_count dev)" = "$keys" ]
ok "the same profile still issues (--json)" sc device issue --sp "$T/dev.sock" --profile "$T/p1.der" --out "$T/leaf.pem" --json
check "issue --json" grep -Eq '^\{"handle":[0-9]+\}$' "$T/.out"
h=$(sed 's/[^0-9]//g' "$T/.out")

# --- device cert ---
ok "device cert to stdout" sc device cert --sp "$T/dev.sock" --key "$h"
check "the same certificate" cmp -s "$T/.out" "$T/leaf.pem"
ok "device cert --out" sc device cert --sp "$T/dev.sock" --key "$h" --out "$T/again.pem"
check "written the same" cmp -s "$T/again.pem" "$T/leaf.pem"
refused "device cert unknown key" 1 no-key sc device cert --sp "$T/dev.sock" --key 999
check "unknown key named" [ "$(cat "$T/.err")" = "selfcert: no-key: the SP has no key 999 (selfcert device keys lists them)" ]
refused "device cert without --key" 2 usage sc device cert --sp "$T/dev.sock"
refused "device cert bad --key" 2 usage sc device cert --sp "$T/dev.sock" --key x1
refused "device cert bad --out" 3 io sc device cert --sp "$T/dev.sock" --key "$h" --out "$T/nonexistent/x.pem"
ok "challenge --json" sc device challenge --sp "$T/dev.sock" --json
check "challenge --json" grep -Eq '^\{"challenge":"[0-9a-f]+"\}$' "$T/.out"

# --- verify --json: a refusal is one JSON object on stdout as well ---
ok "verify --json" sc verify --mfr-root "$T/mfr/root.pem" --chain "$T/dev-certs/chain.pem" "$T/leaf.pem" --json
check "verify --json ok" grep -q '^{"ok":true,' "$T/.out"
refused "verify under the wrong root" 1 chain sc verify --mfr-root "$T/net/root.pem" --chain "$T/dev-certs/chain.pem" "$T/leaf.pem" --json
check "the refusal as JSON ($(cat "$T/.out"))" grep -q '^{"ok":false,"error":"chain","detail":"' "$T/.out"

# --- --json on every command that reports what it did (issue 15): one object, the same facts ---
# js DESC PY: $T/.out is one line of JSON and the Python expression PY holds for it (d).
js() {
  if python3 -c 'import json,sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 1, "%d lines" % len(lines)
d = json.loads(lines[0])
assert eval(sys.argv[2]), sys.argv[2]' "$T/.out" "$2" 2>"$T/.pyerr"; then pass
  else fail "$1: $(tail -n 1 "$T/.pyerr") — $(head -c 300 "$T/.out")"; fi
}
ok "mfr init --json" sc mfr init --dir "$T/jm" --name "JSON Maker" --alg p384 --json
js "mfr init --json" "d['manufacturer'] == 'JSON Maker' and d['alg'] == 'p384' and d['root'] == '$T/jm/root.pem' and d['ca'] == '$T/jm/ca.pem' and d['ca_not_after'].endswith('Z')"
ok "net init --json" sc net init --dir "$T/jn" --network-id net-j --offline-root "$T/jn-off" --json
js "net init --json" "d['network_id'] == 'net-j' and d['root'] == '$T/jn/root.pem' and d['signer'] == '$T/jn/signer.pem' and d['root_alg'] == 'p256' and d['root_key'] == '$T/jn-off/root.key' and d['signer_not_after'].endswith('Z')"
ok "net server-cert --json" sc net server-cert --dir "$T/net" --host localhost --host 127.0.0.1 --json
js "net server-cert --json" "d['hosts'] == ['localhost', '127.0.0.1'] and d['network_id'] == 'net-a' and d['alg'] == 'p256' and d['cert'] == '$T/net/server.pem' and d['key'] == '$T/net/server.key' and d['not_after'].endswith('Z')"
ok "sp init --json" sc sp init --store "$T/jd" --device-id DEV-J --json
js "sp init --json" "d == {'device_id': 'DEV-J', 'store': '$T/jd', 'backend': 'soft'}"
start_spd jd || exit 1
ok "mfr personalize --json" sc mfr personalize --dir "$T/mfr" --sp "$T/jd.sock" --out "$T/jd-certs" --net-root "$T/net/root.pem" --network-id net-a --kex-alg p384 --json
js "mfr personalize --json" "d['device_id'] == 'DEV-J' and d['csk_alg'] == 'p256' and d['kek_alg'] == 'p384' and d['networks'] == ['net-a'] and d['locked'] is True and d['chain'] == '$T/jd-certs/chain.pem' and d['not_after'].endswith('Z')"
ok "mfr revoke --json" sc mfr revoke --dir "$T/mfr" --device-ca "$T/jd-certs/device-ca.pem" --json
js "mfr revoke --json" "d['ca_crl'] == '$T/mfr/ca.crl' and d['root_crl'] == '$T/mfr/root.crl' and d['revoked'] == 1 and d['next_update'].endswith('Z') and d['out'] is None"
ok "device cert --out --json" sc device cert --sp "$T/dev.sock" --key "$h" --out "$T/again2.pem" --json
js "device cert --out --json" "d['handle'] == $h and d['out'] == '$T/again2.pem' and 'DEV-1' in d['subject'] and d['not_after'].endswith('Z')"
ok "device cert --json (no --out)" sc device cert --sp "$T/dev.sock" --key "$h" --json
js "device cert --json carries the PEM" "d['pem'] == open('$T/leaf.pem').read()"
ok "device proof --json" sc device proof --sp "$T/dev.sock" --challenge "$(sc device challenge --sp "$T/dev.sock")" --chain "$T/dev-certs/chain.pem" --kex "$T/dev-certs/kex.pem" --json
js "device proof --json" "d['device_id'] == 'DEV-1' and d['network_id'] == 'net-a'"
ok "device delete --json" sc device delete --sp "$T/dev.sock" --key "$h" --json
js "device delete --json" "d == {'deleted': $h}"
ok "device delete (no --json) prints nothing" sc device issue --sp "$T/dev.sock" --profile "$T/pj.der" --out "$T/leaf2.pem"
ok "device delete" sc device delete --sp "$T/dev.sock" --key "$(cat "$T/.out")"
check "device delete: no output" [ ! -s "$T/.out" ]
ok "net device add --json" sc net device add --db "$T/reg.db" --device-id A-1 --device-id A-2 --note batch --json
js "net device add --json" "d == {'activated': ['A-1', 'A-2'], 'note': 'batch'}"
ok "net device revoke --json" sc net device revoke --db "$T/reg.db" --device-id A-2 --reason lost --json
js "net device revoke --json" "d == {'device_id': 'A-2', 'revoked': True, 'already': False, 'reason': 'lost'}"
ok "net device revoke again --json" sc net device revoke --db "$T/reg.db" --device-id A-2 --json
js "net device revoke again --json" "d['already'] is True and d['reason'] is None"
printf 'device_id,note\nA-1,old\nA-3,new\n' >"$T/feed.csv"
ok "net device import --json" sc net device import --db "$T/reg.db" --csv "$T/feed.csv" --json
js "net device import --json" "d == {'csv': '$T/feed.csv', 'imported': 1, 'already_registered': 1}"
ok "net db status --json" sc net db status --db "$T/reg.db" --json
js "net db status --json" "d['backend'] == 'sqlite' and d['schema'] >= 1 and d['program_schema'] >= d['min_compatible'] and d['usable'] is True"
ok "net db check --json" sc net db check --db "$T/reg.db" --json
js "net db check --json" "d['consistent'] is True and d['backend'] == 'sqlite'"
ok "net db migrate --json" sc net db migrate --db "$T/reg.db" --json
js "net db migrate --json" "d['schema'] >= 1 and d['granted'] is None"
ok "net operator add --json" sc net operator add alice --operators "$T/ops" --out "$T/alice.token" --json
js "net operator add --json (no token)" "d == {'operator': 'alice', 'operators': '$T/ops', 'token_file': '$T/alice.token'}"
ok "net operator list --json" sc net operator list --operators "$T/ops" --json
js "net operator list --json" "len(d['operators']) == 1 and d['operators'][0]['name'] == 'alice' and d['operators'][0]['hash'].startswith('sha256:') and len(d['operators'][0]['hash']) == 23"
ok "net operator remove --json" sc net operator remove alice --operators "$T/ops" --json
js "net operator remove --json" "d == {'operator': 'alice', 'operators': '$T/ops', 'removed': True}"
ok "net revoked sign --json" sc net revoked sign --dir "$T/net" --db "$T/reg.db" --out "$T/rl.json" --sequence 7 --json
js "net revoked sign --json" "d['out'] == '$T/rl.json' and d['network_id'] == 'net-a' and d['sequence'] == 7 and d['devices'] == ['A-2'] and d['next_update'].endswith('Z')"
ok "net revoked check --json" sc net revoked check --net-root "$T/net/root.pem" "$T/rl.json" --json
js "net revoked check --json" "d['out'] is None and d['sequence'] == 7 and d['devices'] == ['A-2'] and d['this_update'] < d['next_update']"
ok "mfr init without --json: the human line" sc mfr init --dir "$T/jm2"
check "the human line unchanged" grep -q "^manufacturer \"Example Manufacturer\": $T/jm2/root.pem, $T/jm2/ca.pem (p256)$" "$T/.out"
refused "a refusal stays a stderr line under --json" 3 exists sc mfr init --dir "$T/jm" --json
check "nothing on stdout" [ ! -s "$T/.out" ]

# --- the daemons' --config refusals (the parser itself: unit/test_conf) ---
if [ -n "${SELFCERT_PROVD:-}" ]; then
  printf 'listen = 127.0.0.1:0\nlsten = x\n' >"$T/provd.conf"
  exits "provd: unknown key" 2 "$SELFCERT_PROVD" --config "$T/provd.conf"
  check "provd: the key and line named" [ "$(cat "$T/.err")" = \
    "selfcert-provd: malformed: $T/provd.conf:2: unknown key 'lsten' (the long flags of --help)" ]
  printf 'threads = 0\n' >"$T/provd2.conf"
  exits "provd: a bad value" 2 "$SELFCERT_PROVD" --config "$T/provd2.conf" --db x --net-dir x --mfr-root x --listen 127.0.0.1:0 --insecure-http
  check "provd: the bad value named as its flag" grep -q "threads" "$T/.err"
  printf 'retry-min = 5s' >"$T/agent.conf"
  exits "agent: a cut file" 2 "$SELFCERT_AGENT" --config "$T/agent.conf"
  check "agent: cut named" [ "$(cat "$T/.err")" = \
    "selfcert-agent: malformed: $T/agent.conf: no newline at the end (a cut file?)" ]
fi
finish
