#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The command line a packaged product needs (issue 15): --version everywhere, group help, the
# `device issue` output check that never spends a profile on an unwritable --out, `device cert`
# exporting a leaf again, --json on challenge and issue, and the daemons' --config refusals.
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
for g in mfr net sp device; do
  ok "$g --help" sc $g --help
  check "$g --help lists its commands" grep -q "^  $g " "$T/.out"
  exits "$g alone: usage" 2 sc $g
done
ok "device --help lists cert" sc device --help
check "device cert listed" grep -q '^  device cert ' "$T/.out"
refused "unknown in a group" 2 usage sc net frobnicate

# --- one device, one profile at a time ---
sc mfr init --dir "$T/mfr" >/dev/null || exit 1
sc net init --dir "$T/net" --network-id net-a >/dev/null || exit 1
new_device dev DEV-1 p256 p256 --net-root "$T/net/root.pem" --network-id net-a || exit 1
profile() { sc net profile --dir "$T/net" --device-ca "$T/dev-certs/device-ca.pem" --validity 1d --out "$1" >/dev/null; }

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
