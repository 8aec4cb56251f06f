#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The kill -9 loop: a client (sc-faults churn, over include/selfcert/sp.h) issues, deletes and
# signs with leaf keys while selfcert-spd is SIGKILLed after a random delay and restarted, round
# after round. Each round the client first reconciles its journal with the SP's KEYS and fails
# on any broken promise (see tests/faults/churn.c): a delivered certificate without its key, a
# key nobody could know about beyond the one request in flight, anything issued twice. At the
# end the held keys are checked once more from the outside: `selfcert device keys` lists
# exactly them, each signs what stock openssl verifies with its certificate, and each
# certificate passes `selfcert verify` to the manufacturer root. p256 keys keep rounds short.
SC_VG_BINS="SELFCERT_SPD"   # under valgrind (lib.sh); the CLI runs there in other tests
source "$SC_TESTLIB"
source "${SC_FAULTS_LIB:?}"

ROUNDS=${SC_FAULTS_KILL_ROUNDS:-220}
MAX_DELAY_MS=${SC_FAULTS_KILL_MAX_DELAY_MS:-300}   # each round kills after 0..this many ms
# Under valgrind a daemon start takes seconds: fewer rounds, each killed later.
if [ "$SC_VG_SMALL" = 1 ]; then
  ROUNDS=${SC_FAULTS_KILL_ROUNDS:-8}
  MAX_DELAY_MS=${SC_FAULTS_KILL_MAX_DELAY_MS:-4000}
fi
START=$SECONDS
SOCK=$T/dev.sock
LOG=$T/spd.log
STATE=$T/client

sc mfr init --dir "$T/mfr" >/dev/null || exit 1
sc net init --dir "$T/net" --network-id net-k >/dev/null || exit 1
sc sp init --store "$T/dev" --device-id KILL-0001 >/dev/null || exit 1
fspd_start "$T/dev" "$SOCK" "$LOG" || { fail "daemon did not serve"; finish; exit 1; }
sc mfr personalize --dir "$T/mfr" --sp "$SOCK" --out "$T/dev-certs" --csk-alg p256 \
  --kex-alg p256 --net-root "$T/net/root.pem" --network-id net-k >/dev/null || exit 1
fspd_stop

n_gone=0
n_violations=0
for ((round = 1; round <= ROUNDS; round++)); do
  if ! fspd_start "$T/dev" "$SOCK" "$LOG"; then
    fail "round $round: the daemon did not start after the last SIGKILL: $(tail -n 2 "$LOG.cur")"
    break
  fi
  "$SC_FAULTS" churn run "$SOCK" "$T/net" "$T/dev-certs/device-ca.pem" "$STATE" \
    2>"$T/churn.err" &
  cpid=$!
  delay=$((RANDOM % MAX_DELAY_MS))
  sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
  fspd_kill9
  wait "$cpid"
  crc=$?
  case $crc in
    3) n_gone=$((n_gone + 1)) ;;            # the SP went away under it: expected
    0) ;;                                    # ran out of operations first (safety net)
    *) n_violations=$((n_violations + 1))
       fail "round $round (kill after $delay ms): client exit $crc: $(head -c 600 "$T/churn.err")"
       break ;;
  esac
done
ROUNDS_DONE=$((round - 1))
[ "$ROUNDS_DONE" -gt "$ROUNDS" ] && ROUNDS_DONE=$ROUNDS
check "every round ran" [ "$ROUNDS_DONE" -eq "$ROUNDS" ]

# The last word: reconcile once more, then check every held key from the outside.
fspd_start "$T/dev" "$SOCK" "$LOG" || { fail "final start"; finish; exit 1; }
check "no temp file left behind" no_temp_files "$T/dev"
if "$SC_FAULTS" churn check "$SOCK" "$T/net" "$T/dev-certs/device-ca.pem" "$STATE" \
    >"$T/check.out" 2>"$T/churn.err"; then
  pass
  cat "$T/check.out"
else
  fail "final reconcile: $(head -c 600 "$T/churn.err")"
fi
sc device keys --sp "$SOCK" | cut -d' ' -f1 | sort -n >"$T/sp-handles"
cut -d' ' -f1 "$STATE/held" | sort -n >"$T/held-handles"
check "the SP holds exactly the keys the client holds" same_file "$T/sp-handles" "$T/held-handles"
check "the client holds keys at the end" [ -s "$T/held-handles" ]
while read -r h cert; do
  check "key $h signs for its certificate" leaf_signs "$SOCK" "$h" "$cert"
  ok "certificate of key $h verifies to the manufacturer root" sc verify --mfr-root "$T/mfr/root.pem" \
    --chain "$T/dev-certs/chain.pem" "$cert"
done <"$STATE/held"
fspd_stop
issued=$(grep -c '^issue-begin ' "$STATE/journal")
echo "kill loop: $ROUNDS_DONE rounds (SIGKILL after 0..$MAX_DELAY_MS ms), $n_gone rounds ended by the kill, $issued issue requests sent, $FSPD_STARTS daemon starts, $n_violations violations, $((SECONDS - START)) s"
finish
