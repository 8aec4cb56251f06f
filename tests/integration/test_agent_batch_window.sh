#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A renewal window's connections as the real agent makes them (#17, session 14: fleet14,
# PERFORMANCE.md 21.1). With a renewal profile of K the SP renews locally and the agent queues
# each certificate; --batch N registers them N per request, and always all of them at the
# window's end, in the round that asks for the next profile (on the same connection, before the
# profile request). So --batch N >= K makes one connection a window (the previous window's batch,
# the profile, its first certificate); --batch K-1 sends the batch on its own on the day of the
# window's last renewal: two a window. Counted by selfcert-provd
# (selfcert_provd_connections_total, selfcert_provd_tls_handshakes_total) and its log, the
# registry holding every certificate the agent registered.
SC_VG_BINS="SELFCERT_PROVD SELFCERT_AGENT"
source "$SC_TESTLIB"
source "$(dirname "$SC_TESTLIB")/lib-provd.sh"

provd_world testnet || exit 1
provd_device n DEV-N || exit 1
provd_device f DEV-F || exit 1
provd_device s DEV-S || exit 1
sc net device add --db "$REG_DB" --device-id DEV-N --device-id DEV-F --device-id DEV-S \
  >/dev/null || exit 1
# K = 3 certificates a window, one every 3 s: a window of ~9 s. The server's idle --timeout 1
# closes a connection between two contacts (a round's requests are milliseconds apart), so each
# contact opens a new one. Two contacts are a cadence apart less a round's work, and rounds fire
# at period boundaries (a late wake-up shortens the next gap): 3 s leaves 2 s over the timeout
# on a loaded machine. Under valgrind a round takes seconds: 15 s and a 5 s idle timeout.
K=3 CAD=3 VAL=1m TO=1
[ "$SC_VALGRIND" = 1 ] && CAD=15 VAL=5m TO=5
printf '{"validity": "%s", "renewal": {"count": %d, "cadence": "%ds"}}\n' $VAL $K $CAD >"$T/policy.json"
start_provd --policy "$T/policy.json" --rate-limit 1000/1h --timeout $TO || exit 1

# scrape (lib-provd.sh): CONNS, FULL, RESUMED, the scrape's own connection in them.
certs_of() { db "SELECT count(*) FROM certificates WHERE device_id = '$1'"; }
profiles_of() { db "SELECT count(*) FROM profiles WHERE device_id = '$1'"; }
# firsts DEV: provd's answers to a window's first certificate of DEV so far.
firsts() { grep -c " POST /v1/certificates 201 .*device=$1" "$T/provd.log"; }
# shape FROM-LINE: the agent's requests in provd's log from that line on, one letter each:
# P a profile, C a certificate, B a batch (/healthz and /metrics left out).
shape() {
  tail -n "+$1" "$T/provd.log" | sed -n \
    -e 's/.* POST \/v1\/profiles 201 .*/P/p' -e 's/.* POST \/v1\/certificates 201 .*/C/p' \
    -e 's/.* POST \/v1\/certificates\/batch 200 .*/B/p' | tr -d '\n'
}
# run_windows NAME DEV WINDOWS --batch N: the agent's daemon until its WINDOWS-th window's first
# certificate is registered (then SIGTERM, long before the next window); sets AC (its connections),
# AF/AR (full/resumed handshakes) and SHAPE.
run_windows() {
  local name=$1 dev=$2 windows=$3; shift 3
  scrape
  local f0=$FULL r0=$RESUMED c0=$CONNS from=$(($(wc -l <"$T/provd.log") + 1)) _
  agent_bg "$name" "$T/$name.out" "$T/$name.log" --retry-min 1s --retry-max 2s "$@"
  for _ in $(seq 1 "$((SC_VG_WAIT * 2))"); do
    [ "$(firsts "$dev")" -ge "$windows" ] && break
    sleep 0.1
  done
  kill -TERM "$APID"
  wait "$APID"
  check "$dev: SIGTERM, exit 0" [ $? -eq 0 ]
  check "$dev: $windows windows ($(firsts "$dev") first certificates)" [ "$(firsts "$dev")" = "$windows" ]
  check "$dev: no failed contact" bash -c "! grep -q 'retrying in' '$T/$name.log'"
  scrape
  AF=$((FULL - f0 - 1)) AR=$((RESUMED - r0)) AC=$((CONNS - c0 - 1))
  SHAPE=$(shape "$from")
  echo "# $dev $*: $windows windows, $AC connections ($AF full, $AR resumed), requests $SHAPE" >&2
}

# --- --batch 5 (>= K): one connection a window ---
# Three windows natively; two under valgrind (each window is 45 s of waiting there, and CI's
# memcheck pass is near its time limit: the second window already runs the batch-then-profile
# round under memcheck).
NW=3; [ "$SC_VALGRIND" = 1 ] && NW=2
run_windows n DEV-N $NW --batch 5
# Window 1: its profile and first certificate; each later window: the previous window's K-1 = 2
# local renewals in one batch, then the profile and the first certificate, one contact each.
WANT=PC; for _ in $(seq 2 $NW); do WANT+=BPC; done
check "requests: profile, certificate, then batch, profile, certificate ($SHAPE)" \
  [ "$SHAPE" = "$WANT" ]
check "one connection a window ($NW windows: $AC)" [ "$AC" = $NW ]
check "the first in full, the others resumed (full $AF, resumed $AR)" \
  [ "$AF" = 1 -a "$AR" = $((NW - 1)) ]
check "each batch the previous window's two" \
  [ "$(grep -c ' POST /v1/certificates/batch 200 .*batch=2 .*registered=2' "$T/provd.log")" = $((NW - 1)) ]
check "the agent registered them in one request, each window" \
  [ "$(grep -c 'registered 2 renewed certificates in one request (2 accepted)' "$T/n.log")" = $((NW - 1)) ]
check "renewed locally at least $((2 * (NW - 1))) times" \
  [ "$(grep -c 'renewed locally' "$T/n.log")" -ge $((2 * (NW - 1))) ]
# The registry: a profile a window, each window's first certificate and the batches.
check "$NW profiles ($(profiles_of DEV-N))" [ "$(profiles_of DEV-N)" = $NW ]
check "$((3 * NW - 2)) certificates registered ($(certs_of DEV-N))" \
  [ "$(certs_of DEV-N)" = $((3 * NW - 2)) ]
P1=$(db "SELECT profile_id FROM profiles WHERE device_id = 'DEV-N' ORDER BY $ROWID LIMIT 1")
check "the first window's three periods, all registered" \
  [ "$(db "SELECT count(DISTINCT period) FROM certificates WHERE profile_id = '$P1'")" = 3 ]

# --- --batch 2 (K-1): the batch on its own connection, two a window ---
# Natively only: a count of connections, whose code (the agent's batch on its own contact) the
# --batch 32 split below runs under memcheck too.
if [ "$SC_VALGRIND" != 1 ]; then
  run_windows f DEV-F 2 --batch 2
  check "requests: profile, certificate, batch, profile, certificate ($SHAPE)" [ "$SHAPE" = PCBPC ]
  check "window 1 two connections, window 2 its first ($AC)" [ "$AC" = 3 ]
  check "the first in full, the others resumed (full $AF, resumed $AR)" [ "$AF" = 1 -a "$AR" = 2 ]
  check "four certificates registered ($(certs_of DEV-F))" [ "$(certs_of DEV-F)" = 4 ]
fi

# --- --batch 32, a queue larger than a request may carry: split, same round ---
# A request carries at most 48 KiB of certificates (provd refuses bodies over 64 KiB); here
# SC_AGENT_BATCH_BODY_MAX=1500 lets one P-256 certificate (~1 KB of PEM) through a request.
export SC_AGENT_BATCH_BODY_MAX=1500
run_windows s DEV-S 2 --batch 32
unset SC_AGENT_BATCH_BODY_MAX
check "requests: profile, certificate, two batches of one, profile, certificate ($SHAPE)" \
  [ "$SHAPE" = PCBBPC ]
check "one connection a window ($AC)" [ "$AC" = 2 ]
check "each batch one certificate" \
  [ "$(grep -c ' POST /v1/certificates/batch 200 .*batch=1 .*registered=1' "$T/provd.log")" = 2 ]
check "the agent registered them one a request" \
  [ "$(grep -c 'registered 1 renewed certificates in one request (1 accepted)' "$T/s.log")" = 2 ]
check "four certificates registered ($(certs_of DEV-S))" [ "$(certs_of DEV-S)" = 4 ]
finish
