#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# TLS 1.3 session resumption with the real agent (#17, session 13): selfcert-provd counts each
# connection's handshake at its first request, full or resumed
# (selfcert_provd_tls_handshakes_total{kind}). One agent process in daemon mode, contacting the
# server once per renewal period on a new connection each time (the server's idle --timeout 1
# closes the last one between contacts), handshakes in full once and resumes every later contact
# with provd's ticket (its one curl handle keeps the session); a new agent process handshakes in
# full. openssl s_client: a full handshake, its ticket resumed, TLS 1.2 never resumed, a ticket
# from before a restart refused, a connection without a request not counted.
SC_VG_BINS="SELFCERT_PROVD SELFCERT_AGENT"
source "$SC_TESTLIB"
source "$(dirname "$SC_TESTLIB")/lib-provd.sh"

provd_world testnet || exit 1
provd_device n DEV-N || exit 1
provd_device f DEV-F || exit 1
sc net device add --db "$REG_DB" --device-id DEV-N --device-id DEV-F >/dev/null || exit 1
# A renewal every 3 s (the SP renews locally, the agent registers each certificate with --batch
# 1: one contact a period; --batch 32, the default since session 15, waits for the window's end), well
# past the server's 1 s idle timeout, so each contact opens a new connection.
CAD=3 VAL=1m
[ "$SC_VALGRIND" = 1 ] && CAD=10 VAL=5m
printf '{"validity": "%s", "renewal": {"count": 50, "cadence": "%ds"}}\n' $VAL $CAD >"$T/policy.json"
start_provd --policy "$T/policy.json" --rate-limit 1000/1h --timeout 1 || exit 1

# scrape (lib-provd.sh): CONNS, FULL, RESUMED, the scrape's own connection in them.
scrape
check "/metrics has both kinds ($FULL, $RESUMED)" [ -n "$FULL" -a -n "$RESUMED" ]
check "TYPE counter" grep -q '^# TYPE selfcert_provd_tls_handshakes_total counter$' "$T/.api"
# start_provd's /healthz (one connection or more while it waited) and this scrape, all full.
check "nothing resumed yet" [ "$RESUMED" = 0 ]
check "every connection so far in full ($FULL of $CONNS)" [ "$FULL" = "$CONNS" ]

# --- one agent process, several contacts ---
F0=$FULL R0=$RESUMED C0=$CONNS
agent_bg n "$T/n.out" "$T/n.log" --retry-min 1s --retry-max 2s --batch 1
DPID=$APID
# Its enrollment (a profile and its certificate, one round), then local renewals each registered.
for _ in $(seq 1 "$((SC_VG_WAIT * 3))"); do
  [ "$(grep -c "^DEV-N renewed" "$T/n.out")" -ge 3 ] && break
  sleep 0.1
done
check "daemon enrolled" grep -q "^DEV-N enrolled key=1" "$T/n.out"
check "then renewed three times ($(grep -c "^DEV-N renewed" "$T/n.out"))" \
  [ "$(grep -c "^DEV-N renewed" "$T/n.out")" -ge 3 ]
kill -TERM "$DPID"
wait "$DPID"
check "SIGTERM: exit 0" [ $? -eq 0 ]
check "no failed contact" bash -c "! grep -q 'retrying in' '$T/n.log'"
scrape
# The agent's: what the counters gained less this scrape (a full handshake).
AF=$((FULL - F0 - 1)) AR=$((RESUMED - R0)) AC=$((CONNS - C0 - 1))
REG=$(db "SELECT count(*) FROM certificates WHERE device_id = 'DEV-N'")
# Contacts are a period apart less a round's work and fire at period boundaries: a round that
# wakes late on a loaded machine can leave the next within the idle timeout, on the same
# connection (seen once at load 12: 3 connections for 4 certificates). So: several
# connections, each after the first resumed.
check "several connections ($AC connections, $REG certificates registered)" \
  [ "$AC" -ge 3 -a "$REG" -ge 4 ]
check "the agent handshook in full once (full $AF)" [ "$AF" = 1 ]
check "and resumed every later connection (resumed $AR of $AC)" [ "$AR" = $((AC - 1)) ]
check "provd logged the agent's requests" \
  [ "$(grep -cE ' POST /v1/(profiles 201|certificates 201|certificates/batch 200) .*device=DEV-N' "$T/provd.log")" -ge 5 ]
echo "# agent daemon: $AC connections, $AF full, $AR resumed; $REG certificates" >&2

# --- a new agent process: a new curl handle, no session: its first connection in full ---
# (Under valgrind a round can outlast the 1 s idle timeout between its two requests: a second
# connection of that process, resumed.)
fresh() { # DESC: since the last scrape, one full handshake, any later connection resumed
  local f=$FULL r=$RESUMED c=$CONNS
  scrape
  local df=$((FULL - f - 1)) dr=$((RESUMED - r)) dc=$((CONNS - c - 1))
  check "$1 (full +$df, resumed +$dr, connections +$dc)" [ "$df" = 1 -a "$dr" = $((dc - 1)) ]
}
ok "a new agent process enrolls DEV-F" agent f --once
check "enrolled" grep -q "^DEV-F enrolled key=1" "$T/.out"
fresh "its handshake in full"
# The same device again from another process (DEV-N's state, a new handle): full again.
ok "a new agent process renews DEV-N" agent n --once --force-renew --batch 1
fresh "in full too"

# --- openssl s_client ---
tls_get() { # SESS-IN-OR-EMPTY SESS-OUT OUT [VERSION]
  local in=()
  [ -n "$1" ] && in=(-sess_in "$1")
  printf 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' |
    timeout 20 openssl s_client -connect "127.0.0.1:$PROVD_PORT" -CAfile "$T/net/root.pem" \
      "-${4:-tls1_3}" -ign_eof "${in[@]}" -sess_out "$2" >"$3" 2>&1
}
# counted DESC FULL-DELTA RESUMED-DELTA: since the last scrape (whose own full is taken off).
counted() {
  local f=$FULL r=$RESUMED
  scrape
  check "$1 (full +$((FULL - f - 1)), resumed +$((RESUMED - r)))" \
    [ $((FULL - f - 1)) = "$2" -a $((RESUMED - r)) = "$3" ]
}
tls_get "" "$T/sess1" "$T/tls1.out"
check "s_client: a full handshake" grep -q '^New, TLSv1.3' "$T/tls1.out"
counted "s_client: counted full" 1 0
tls_get "$T/sess1" "$T/sess2" "$T/tls2.out"
check "s_client: resumed with the ticket" grep -q '^Reused, TLSv1.3' "$T/tls2.out"
check "s_client: served" grep -q '^HTTP/1.1 200' "$T/tls2.out"
counted "s_client: counted resumed" 0 1
tls_get "$T/sess2" "$T/sess3" "$T/tls3.out"
tls_get "$T/sess3" "$T/sess4" "$T/tls4.out"
check "s_client: resumed twice more" bash -c "grep -q '^Reused, TLSv1.3' '$T/tls3.out' && grep -q '^Reused, TLSv1.3' '$T/tls4.out'"
counted "s_client: both counted resumed" 0 2
tls_get "" "$T/sess12" "$T/tls12a.out" tls1_2
tls_get "$T/sess12" "$T/sess12b" "$T/tls12b.out" tls1_2
check "s_client TLS 1.2: not resumed" grep -q '^New, TLSv1.2' "$T/tls12b.out"
counted "s_client TLS 1.2: two full" 2 0
# A handshake and no request (closed by the idle timeout): a connection, not a counted handshake.
C0=$CONNS
(sleep 1.5) | timeout 20 openssl s_client -connect "127.0.0.1:$PROVD_PORT" -CAfile "$T/net/root.pem" \
  -tls1_3 >"$T/tls0.out" 2>&1
check "s_client: a handshake alone" grep -q '^New, TLSv1.3' "$T/tls0.out"
counted "a connection without a request: no handshake counted" 0 0
check "but a connection ($C0 -> $CONNS: it and the scrape)" [ "$CONNS" = $((C0 + 2)) ]
# A restart draws a new ticket key: the old ticket is refused, a full handshake; counters restart.
ok "stop" stop_provd
ok "start again" start_provd
scrape
check "after the restart: nothing resumed" [ "$RESUMED" = 0 ]
tls_get "$T/sess4" "$T/sess5" "$T/tls5.out"
check "s_client: a ticket from before the restart is not taken" grep -q '^New, TLSv1.3' "$T/tls5.out"
counted "s_client: counted full" 1 0
finish
