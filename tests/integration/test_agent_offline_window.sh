#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A device whose server is down for most of a renewal window keeps renewing locally (#17, session
# 15 review: late15b, PERFORMANCE.md 22.1). Before, the queue's bound (32) equalled the default
# --batch (32): the one flush at the round that filled the queue got no answer, the next local
# renewal found the queue full and fell back to the server, which was down, so the device stopped
# renewing with periods left in its profile and its certificate could expire. Now the queue holds
# a whole profile's renewals (bounded by the state's size), a full one is first offered whole, and
# a late registration is judged at each certificate's own period. Here: K = 48 certificates one a
# second (2 s each; a fail point build's SC_PROVD_TEST_VALIDITY_MIN), selfcert-provd stopped right
# after the window's first certificate, the real agent's daemon (default --batch 32) renewing on;
# at >= 34 queued (past the old bound) the server comes back on the same port and every queued
# certificate is registered, none refused, the device never having asked for a new profile.
SC_VG_BINS="SELFCERT_PROVD SELFCERT_AGENT"
if [ "${SC_FAILPOINTS:-ON}" != ON ]; then
  echo "fail points not compiled in (SC_FAILPOINTS=OFF): no policy below 60 s; skipped"
  exit 77
fi
if [ "${SC_VALGRIND:-0}" = 1 ]; then
  # 34 rounds of a second each: an agent round under valgrind takes seconds (skipped, 77).
  echo "SC_VALGRIND=1: a round a second is too fast under valgrind; skipped"
  exit 77
fi
source "$SC_TESTLIB"
source "$(dirname "$SC_TESTLIB")/lib-provd.sh"

provd_world testnet || exit 1
provd_device o DEV-O || exit 1
sc net device add --db "$REG_DB" --device-id DEV-O >/dev/null || exit 1
K=64 CAD=1 WANT=34   # K: room for rounds that drift late (a period skipped now and then)
export SC_PROVD_TEST_VALIDITY_MIN=1
printf '{"validity": "2s", "renewal": {"count": %d, "cadence": "%ds"}}\n' $K $CAD >"$T/policy.json"
start_provd --policy "$T/policy.json" --rate-limit 1000/1h || exit 1

queued() { queued_count "$T/o-out"; }
ok "enroll DEV-O (the window's first certificate)" agent o --once
P1=$(db "SELECT profile_id FROM profiles WHERE device_id = 'DEV-O'")
check "one certificate registered" [ "$(db "SELECT count(*) FROM certificates WHERE device_id = 'DEV-O'")" = 1 ]
stop_provd
agent_bg o "$T/o.out" "$T/o.log" --retry-min 1s --retry-max 2s
for _ in $(seq 1 600); do
  [ "$(queued)" -ge $WANT ] && break
  kill -0 "$APID" 2>/dev/null || break
  sleep 0.1
done
n=$(queued)
check "server down: $n renewals queued (>= $WANT, past the old bound of 32)" [ "$n" -ge $WANT ]
check "the agent tried to register them while the server was down" \
  grep -q "renewed certificates: no answer" "$T/o.log"
check "it never fell back to the server" bash -c "! grep -q 'asking the server' '$T/o.log'"
check "nothing registered meanwhile" [ "$(db "SELECT count(*) FROM certificates WHERE device_id = 'DEV-O'")" = 1 ]
start_provd || exit 1
# The next round (a second later) renews once more and registers the queue, 32 a request.
for _ in $(seq 1 200); do
  [ "$(queued)" = 0 ] && break
  sleep 0.1
done
kill -TERM "$APID"
wait "$APID"
check "SIGTERM: exit 0" [ $? -eq 0 ]
check "the queue is empty" [ "$(queued)" = 0 ]
check "provd refused none" bash -c "! grep -q 'refused' '$T/provd.log'"
made=$(sed -n 's/.*renewed locally: key [0-9]* (certificate \([0-9a-f]*\)).*/\1/p' "$T/o.log")
nm=$(printf '%s\n' "$made" | grep -c .)
check "the agent renewed locally $nm times (> $WANT)" [ "$nm" -gt $WANT ]
miss=0
for s in $made; do
  [ "$(db "SELECT count(*) FROM certificates WHERE serial = '$s' AND profile_id = '$P1'")" = 1 ] ||
    miss=$((miss + 1))
done
check "every locally renewed certificate registered ($miss of $nm missing)" [ "$miss" = 0 ]
check "still the first profile: no new one asked for" \
  [ "$(db "SELECT count(*) FROM profiles WHERE device_id = 'DEV-O'")" = 1 ]
finish
