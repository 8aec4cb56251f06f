#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The agent's queue of locally renewed certificates at its bound, with the real agent and a real
# selfcert-provd (#17, session 16: agentq16, PERFORMANCE.md 23.4). The bound (1024 certificates
# or 3 MiB) is lowered to 4 by SC_AGENT_TEST_BACKLOG_MAX (fail point builds only; the same code,
# agent_backlog_full). K = 64 certificates one a second (2 s each, SC_PROVD_TEST_VALIDITY_MIN):
#   1. provd down: the daemon queues 4 and stops there; one round with the queue full asks the
#      server once (one "no answer"), not three times, and does not ask for a new profile;
#   2. two poison entries put in front of the queue: one larger than provd's 64 KiB body limit
#      (never sent) and one that is no certificate (refused bad-der): provd back, one round sets both
#      aside (a line each, appended to unregistered.pem) and registers the 4 behind them, all
#      in provd's registry; the certificate in use and its key untouched;
#   3. the device revoked: its queued certificate is refused for good and set aside, named by
#      serial and period; the queue's files are removed once it is empty.
# agentweak17: under valgrind (scripts/test.sh's memcheck pass) a small variant: only the agent
# under memcheck, and only in the two rounds whose code no other test memchecks (1's round with
# the queue full and no server: one request a round; 2's poison round: the too-large entry set
# aside unsent, the refusal set aside, the batch behind them); the daemon (rounds a second apart,
# which memcheck cannot keep) and step 3 run natively, and the window is longer (K = 256) so
# that the slow rounds stay inside it.
SC_VG_BINS="SELFCERT_AGENT"
if [ "${SC_FAILPOINTS:-ON}" != ON ]; then
  echo "fail points not compiled in (SC_FAILPOINTS=OFF): no test bound, no short policy; skipped"
  exit 77
fi
source "$SC_TESTLIB"
source "$(dirname "$SC_TESTLIB")/lib-provd.sh"
# nagent: the agent natively even under valgrind (the steps memchecked elsewhere).
nagent() { SELFCERT_AGENT=${SELFCERT_AGENT_NATIVE:-$SELFCERT_AGENT} agent "$@"; }
K=64
[ "$SC_VALGRIND" = 1 ] && K=256

provd_world testnet || exit 1
provd_device o DEV-O || exit 1
sc net device add --db "$REG_DB" --device-id DEV-O >/dev/null || exit 1
export SC_PROVD_TEST_VALIDITY_MIN=1 SC_AGENT_TEST_BACKLOG_MAX=4
printf '{"validity": "2s", "renewal": {"count": %d, "cadence": "1s"}}\n' $K >"$T/policy.json"
start_provd --policy "$T/policy.json" --rate-limit 1000/1h || exit 1
O="$T/o-out"

ok "enroll DEV-O (the window's first certificate)" nagent o --once
P1=$(db "SELECT profile_id FROM profiles WHERE device_id = 'DEV-O'")
stop_provd

# 1. Full, server down.
SELFCERT_AGENT=${SELFCERT_AGENT_NATIVE:-$SELFCERT_AGENT} agent_bg o "$T/o.out" "$T/o.log" --retry-min 1s --retry-max 1s
for _ in $(seq 1 300); do
  [ "$(queued_count "$O")" -ge 4 ] && grep -q "most the state keeps" "$T/o.log" && break
  kill -0 "$APID" 2>/dev/null || break
  sleep 0.1
done
kill -TERM "$APID"
wait "$APID"
check "server down: 4 queued, the bound" [ "$(queued_count "$O")" = 4 ]
check "queued in backlog.N.pem, state.json small ($(stat -c %s "$O/state.json") bytes)" \
  [ "$(stat -c %s "$O/state.json")" -lt 8192 ]
agent o --once >"$T/r1.out" 2>"$T/r1.err"
rc=$?
check "a round with the queue full and no server: exit 3 ($rc), 'the server did not answer'" \
  [ $rc = 3 -a "$(grep -c 'the server did not answer' "$T/r1.err")" = 1 ]
check "... the server asked once (one 'no answer'; was three)" \
  [ "$(grep -c 'no answer' "$T/r1.err")" = 1 ]
check "... no new profile asked for" bash -c "! grep -Eq ': (renewing|enrolling)$' '$T/r1.err'"
check "... still 4 queued" [ "$(queued_count "$O")" = 4 ]

# A downgrade (run by hand: SC_OLD_AGENT=/tmp/main-A/selfcert-agent, an agent before session 16):
# it refuses a state whose queue is in backlog.N.pem, by name, and touches nothing.
if [ -n "${SC_OLD_AGENT:-}" ]; then
  sum=$(cat "$O/state.json" "$O"/backlog.*.pem | md5sum)
  SELFCERT_AGENT=$SC_OLD_AGENT agent o --once >"$T/old.out" 2>"$T/old.err"
  rc=$?
  check "an agent before session 16: refuses the state (exit $rc: $(tail -n 1 "$T/old.err"))" \
    [ $rc != 0 ] && grep -q 'not a version-1 agent state' "$T/old.err"
  check "... and leaves it as it was" [ "$(cat "$O/state.json" "$O"/backlog.*.pem | md5sum)" = "$sum" ]
fi

# 2. Poison in front: larger than provd's body limit, and no certificate at all.
{
  echo "-----BEGIN CERTIFICATE-----"
  head -c 52000 /dev/zero | base64 -w 64
  echo "-----END CERTIFICATE-----"
} >"$T/big.pem"
printf -- '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' >"$T/junk.pem"
real=""
for i in 0 1 2 3; do
  queued_pem "$O" $i >"$T/q$i.pem"
  real="$real $(serial_of "$T/q$i.pem")"
done
jq --rawfile b "$T/big.pem" --rawfile j "$T/junk.pem" \
  --rawfile q0 "$T/q0.pem" --rawfile q1 "$T/q1.pem" --rawfile q2 "$T/q2.pem" --rawfile q3 "$T/q3.pem" \
  'del(.backlog_file) | .backlog = [$b, $j, $q0, $q1, $q2, $q3]' \
  "$O/state.json" >"$T/s.json" && mv "$T/s.json" "$O/state.json"
rm -f "$O"/backlog.*.pem
check "6 queued, the poison first (an older agent's inline layout)" [ "$(queued_count "$O")" = 6 ]
cur=$(jq -r .current.serial "$O/state.json")
start_provd || exit 1
agent o --once >"$T/r2.out" 2>"$T/r2.err"
rc=$?
check "provd back: exit 0 ($rc)" [ $rc = 0 ] || cat "$T/r2.err"
check "the large one set aside, saying why" grep -q \
  "set aside an entry that is not a certificate: too large for the server (its request alone is 69357 bytes, over the 65536-byte body limit)" "$T/r2.err"
check "the junk set aside, saying why" grep -Eq \
  "set aside an entry that is not a certificate: the server refused it: bad-(der|value)" "$T/r2.err"
check "two set aside, no more" [ "$(grep -c ': set aside ' "$T/r2.err")" = 2 ]
check "the 4 behind them registered in one request" grep -q \
  "registered 5 renewed certificates in one request (4 accepted, 1 refused for good, 0 kept queued)" \
  "$T/r2.err"
miss=0
for s in $real; do
  [ "$(db "SELECT count(*) FROM certificates WHERE serial = '$s' AND profile_id = '$P1'")" = 1 ] ||
    miss=$((miss + 1))
done
check "every real queued certificate in the registry ($miss of 4 missing)" [ "$miss" = 0 ]
check "unregistered.pem keeps both, the large one first" \
  [ "$(grep -c 'BEGIN CERTIFICATE' "$O/unregistered.pem")" = 2 -a \
  "$(sed -n 2p "$O/unregistered.pem")" = "$(sed -n 2p "$T/big.pem")" ]
now=$(jq -r .current.serial "$O/state.json")
check "then renewed locally again (queue not full): $(queued_count "$O") queued" \
  [ "$(queued_count "$O")" = 1 -a "$now" != "$cur" ]
check "leaf.pem is the certificate in use" [ "$(serial_of "$O/leaf.pem")" = "$now" ]
h=$(jq -r .current.handle "$O/state.json")
sc device keys --sp "$T/o.sock" >"$T/keys.txt"
check "its key is in the SP (handle $h)" grep -Eq "(^|[^0-9])$h([^0-9]|$)" "$T/keys.txt"

# 3. Revoked: its queued certificate is refused for good, named by serial and period.
qs=$(queued_pem "$O" 0 | serial_of /dev/stdin)
ok "revoke DEV-O" sc net device revoke --db "$REG_DB" --device-id DEV-O --reason agentq16
# --batch 1: the queue is offered at the round's end whether or not a renewal is due (a round
# that comes before the next period makes none; one after it renews and offers that one too).
# 3a. unregistered.pem that cannot be written (a dangling symlink: O_NOFOLLOW): the certificate
# is not set aside and stays queued, one line says so (review of agentq16: it was dropped).
mv "$O/unregistered.pem" "$T/unregistered.keep"
ln -s /nonexistent/x "$O/unregistered.pem"
nagent o --once --batch 1 >"$T/r3a.out" 2>"$T/r3a.err"
rc=$?
check "unwritable unregistered.pem: exit 0 ($rc)" [ $rc = 0 ] || cat "$T/r3a.err"
check "its queued certificate $qs not set aside, stays queued" grep -Eq \
  "unregistered.pem: [^;]+; certificate $qs \(period [0-9]+\) not set aside \(the server refused it: revoked: .*\): it stays queued" \
  "$T/r3a.err"
check "no 'set aside' line" [ "$(grep -c ': set aside ' "$T/r3a.err")" = 0 ]
check "still queued ($(queued_count "$O"))" [ "$(queued_count "$O")" -ge 1 ]
check "the first queued is still $qs" [ "$(queued_pem "$O" 0 | serial_of /dev/stdin)" = "$qs" ]
rm -f "$O/unregistered.pem"
mv "$T/unregistered.keep" "$O/unregistered.pem"
n0=$(grep -c 'BEGIN CERTIFICATE' "$O/unregistered.pem")
nagent o --once --batch 1 >"$T/r3.out" 2>"$T/r3.err"
rc=$?
check "revoked: exit 0 ($rc): local renewal goes on" [ $rc = 0 ] || cat "$T/r3.err"
check "its queued certificate $qs set aside by serial and period: revoked" grep -Eq \
  "set aside certificate $qs \(period [0-9]+\): the server refused it: revoked" "$T/r3.err"
# Every certificate the round set aside (the queued one, and any the round renewed: a slow
# round, under memcheck, renews more than one period) is appended, one per "set aside" line.
n=$(grep -c 'BEGIN CERTIFICATE' "$O/unregistered.pem")
na=$(grep -c ': set aside ' "$T/r3.err")
check "unregistered.pem keeps it too ($n = $n0 before + $na set aside, $na >= 1)" \
  [ "$n" = $((n0 + na)) -a "$na" -ge 1 ]
check "nothing queued" [ "$(queued_count "$O")" = 0 -a ! -e "$O/backlog.0.pem" -a ! -e "$O/backlog.1.pem" ]
finish
