#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# selfcert-provd making server keys (embodiment 2) under load (issue 16 item 7): K concurrent
# RSA-4096 server-keygen profile requests (0.2 s apart) while /healthz is polled on fresh
# connections. Every /healthz answers within 2 s (the keys are made on the key generation pool,
# never on more than --threads - 1 of the HTTP workers), and the requests beyond what the pool
# admits are refused at once: 503 unavailable with Retry-After; the others get their profile.
# Before the fix the keys were made on the HTTP workers: /healthz stalled and nothing was refused.
# Not under valgrind (skipped, 77; ci17): RSA-4096 there takes minutes, so the server ran natively
# and the pass repeated the debug pass's run, against the other memchecked test it shares the
# machine with (the 2 s /healthz bound then measures that); memcheck watched only the CLI's
# set-up (mfr init, net init, net server-cert, sp init, mfr personalize, net device add, device
# challenge), each of which test_pkg_cli runs under memcheck.
if [ "${SC_VALGRIND:-0}" = 1 ]; then
  echo "SC_VALGRIND=1: the server runs natively here and the CLI's set-up is memchecked in test_pkg_cli; skipped"
  exit 77
fi
source "$SC_TESTLIB"
source "$(dirname "$SC_TESTLIB")/lib-provd.sh"

K=10
provd_world testnet || exit 1
provd_device d1 DEV-1 || exit 1
sc net device add --db "$REG_DB" --device-id DEV-1 >/dev/null || exit 1
# The defaults: 16 HTTP workers on a SQLite registry (4 on PostgreSQL), 1 key generation thread, a queue of 4 (3 jobs admitted). A
# connection an HTTP worker accepted just before it began waiting for a key waits behind it
# (main.c, start_keygen): on a loaded CI machine two such waits in a row pass the default
# 30 s idle timeout, so the timeout is longer here; /healthz on new connections is the point.
start_provd --allow-server-keygen --rate-limit 0/1h --timeout 120 || exit 1

for i in $(seq 1 "$K"); do
  printf '{"chain":"%s","kex":"%s","challenge":"%s","server_keygen":true,"alg":"rsa4096"}' \
    "$(awk 'BEGIN{ORS="\\n"} {print}' "$T/d1-certs/chain.pem")" \
    "$(awk 'BEGIN{ORS="\\n"} {print}' "$T/d1-certs/kex.pem")" \
    "$(sc device challenge --sp "$T/d1.sock")" >"$T/kg$i.json"
done

PIDS=()
for i in $(seq 1 "$K"); do
  curl -sS --max-time 120 --cacert "$T/net/root.pem" -D "$T/kg$i.hdr" -o "$T/kg$i.body" \
    -w '%{http_code}' -H 'Content-Type: application/json' --data-binary "@$T/kg$i.json" \
    "$PROVD_URL/v1/profiles" >"$T/kg$i.code" 2>"$T/kg$i.err" &
  PIDS+=($!)
  # One at a time (a burst would let one HTTP worker accept several connections before it begins
  # to wait; those are then served after its wait instead of refused: main.c, start_keygen).
  sleep 0.2
done
sleep 0.3
# /healthz on a new connection each time, while the keys are being made.
slow=0
for i in $(seq 1 10); do
  t=$(curl -sS --max-time 30 --cacert "$T/net/root.pem" -o /dev/null -w '%{http_code} %{time_total}' \
    "$PROVD_URL/healthz" 2>/dev/null) || t="000 30"
  echo "healthz $i: $t" >>"$T/healthz.log"
  case "$t" in
  200\ *) awk -v s="${t#* }" 'BEGIN { exit !(s < 2.0) }' || slow=$((slow + 1)) ;;
  *) slow=$((slow + 1)) ;;
  esac
  sleep 0.2
done
check "/healthz within 2 s while keys are made ($(tr '\n' ';' <"$T/healthz.log"))" [ "$slow" -eq 0 ]
for pid in "${PIDS[@]}"; do wait "$pid"; done

created=0 refused=0 other=0
for i in $(seq 1 "$K"); do
  code=$(cat "$T/kg$i.code")
  case "$code" in
  201) created=$((created + 1)) ;;
  503)
    refused=$((refused + 1))
    check "503 $i is unavailable" grep -q '^{"error":"unavailable","detail":"key generation: ' "$T/kg$i.body"
    check "503 $i carries Retry-After" grep -qi '^Retry-After: [1-9]' "$T/kg$i.hdr"
    ;;
  *) other=$((other + 1)); echo "request $i: HTTP $code $(head -c 200 "$T/kg$i.body")" >&2 ;;
  esac
done
echo "keygen requests: $created created, $refused refused (503), $other other" >&2
check "some requests beyond the queue refused with 503" [ "$refused" -ge 1 ]
check "the admitted ones get their profile" [ "$created" -ge 1 ]
check "nothing else" [ "$other" -eq 0 ]
# A created one is a real server-keygen profile.
for i in $(seq 1 "$K"); do
  if [ "$(cat "$T/kg$i.code")" = 201 ]; then
    check "key_origin server" grep -q '"key_origin":"server","alg":"rsa4096"' "$T/kg$i.body"
    break
  fi
done
api GET /healthz
api_is "still healthy afterwards" 200

ok "SIGTERM stops the server" stop_provd
finish
