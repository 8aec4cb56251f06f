#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# selfcert-agent end to end with the real server and real SP daemons: enrollment in both
# embodiments, renewal (forced, and by itself at two thirds of a short lifetime in daemon
# mode), refusals with their names and exit codes (unknown device, another manufacturer,
# revoked), a crash of the agent after every step, the SP restarted between challenge and
# issue, the server killed between issue and acknowledgement, both unreachable, the daemon
# waiting out a server that is down, SIGTERM, and the folder lock. After every recovery: one
# key in the SP, the one state.json and leaf.pem name, and the registry's newest certificate.
SC_VG_BINS="SELFCERT_SPD SELFCERT_PROVD SELFCERT_AGENT"   # under valgrind (lib.sh); the CLI runs there in other tests
source "$SC_TESTLIB"
source "$(dirname "$SC_TESTLIB")/lib-provd.sh"

provd_world testnet || exit 1
provd_device a1 DEV-A1 || exit 1
# Under valgrind only DEV-A1's SP runs under memcheck (ci17): it serves every SP request an agent
# makes (challenge, issue, delete, the restart between challenge and issue). The other devices'
# SPs run natively (SPN) there; what they do beyond DEV-A1's is memchecked elsewhere: the import
# of a server-generated key (DEV-A2) in test_matrix's server-p256/server-ed25519 issuances, a
# form 1 device CA's personalization and issuance (DEV-A3) in test_interop; DEV-R, DEV-U and
# DEV-O (refused by the server) ask their SP for nothing DEV-A1's does not. Each memchecked SP
# costs seconds of CPU (its start, its personalization's key generations).
SPN=$SELFCERT_SPD
[ "$SC_VALGRIND" = 1 ] && SPN=$SELFCERT_SPD_NATIVE
# Under valgrind an RSA key generation costs ~30 s of CPU: the server-keygen device is then EC
# (the RSA-OAEP path runs under valgrind in test_matrix).
A2_ALG=rsa2048
[ "$SC_VG_SMALL" = 1 ] && A2_ALG=p256
SELFCERT_SPD=$SPN KEX_ALG=$A2_ALG provd_device a2 DEV-A2 || exit 1
# DEV-A3 was personalized before 2026-12 (a form 1 device CA, docs/FORMATS.md): it enrolls and
# renews as it always did, its leaves without a subjectAltName.
SELFCERT_SPD=$SPN provd_device a3 DEV-A3 --device-ca-form 1 || exit 1
SELFCERT_SPD=$SPN provd_device r DEV-R || exit 1
SELFCERT_SPD=$SPN provd_device u DEV-U || exit 1
sc mfr init --dir "$T/mfr-other" --name "Other Maker" >/dev/null || exit 1
sc sp init --store "$T/o" --device-id DEV-O >/dev/null && SELFCERT_SPD=$SPN start_spd o &&
  sc mfr personalize --dir "$T/mfr-other" --sp "$T/o.sock" --out "$T/o-certs" --net-root "$T/net/root.pem" \
    --network-id testnet >/dev/null || exit 1
sc net device add --db "$REG_DB" --device-id DEV-A1 --device-id DEV-A2 --device-id DEV-A3 --device-id DEV-R \
  --device-id DEV-O >/dev/null || exit 1
start_provd --allow-server-keygen --rate-limit 100/1h --validity 1h || exit 1

# invariants NAME ID: exactly one key in the SP, and it is the one state.json, leaf.pem and the
# registry's newest certificate name; nothing pending or in flight.
invariants() {
  local name=$1 id=$2 desc=$3
  local keys; keys=$(sc device keys --sp "$T/$name.sock")
  local n; n=$(printf '%s\n' "$keys" | grep -c .)
  local handle; handle=$(printf '%s\n' "$keys" | awk '{print $1}')
  local st="$T/$name-out/state.json"
  local leaf_serial; leaf_serial=$(serial_of "$T/$name-out/leaf.pem")
  local reg_serial; reg_serial=$(db "SELECT serial FROM certificates WHERE device_id = '$id' ORDER BY registered_at DESC, $ROWID DESC LIMIT 1")
  if [ "$n" -ne 1 ]; then fail "$desc: $n keys in the SP, expected 1"
  elif ! grep -q "\"handle\": $handle," "$st"; then fail "$desc: state.json does not name key $handle"
  elif ! grep -q "\"serial\": \"$leaf_serial\"" "$st"; then fail "$desc: leaf.pem ($leaf_serial) is not state.json's"
  elif [ "$leaf_serial" != "$reg_serial" ]; then fail "$desc: leaf.pem $leaf_serial, registry $reg_serial"
  elif ! grep -q '"pending": null' "$st" || ! grep -q '"inflight": null' "$st"; then fail "$desc: left pending/in flight"
  else pass; fi
}
must_stop() {  # must_stop DESC: the background agent stopped itself, or the test ends here
  if wait_stopped "$APID"; then pass; else fail "$1: $(tail -n 2 "$T/stop.err")"; exit 1; fi
}
certs_of() { db "SELECT count(*) FROM certificates WHERE device_id = '$1'"; }
wait_stopped() {  # wait_stopped PID: until the process stopped itself (SIGSTOP); 20 s, 120 s under valgrind
  local _
  for _ in $(seq 1 $((SC_VG_WAIT * 2))); do
    [ "$(ps -o stat= -p "$1" 2>/dev/null | cut -c1)" = T ] && return 0
    kill -0 "$1" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

# --- usage ---
"$SELFCERT_AGENT" --help >"$T/.out"; check "agent --help" grep -q "^usage: selfcert-agent" "$T/.out"
"$SELFCERT_AGENT" --sp x --certs y 2>"$T/.err"; check "missing flags: exit 2" [ $? -eq 2 ]
"$SELFCERT_AGENT" --sp x --certs "$T/y" --server http://example.com --ca "$T/net/root.pem" 2>"$T/.err"
check "plain http off loopback: exit 2" [ $? -eq 2 ] && check "named" grep -q "http:// only to a loopback" "$T/.err"

# --- embodiment 1: the device generates the key ---
# conns: provd's connections so far (this scrape's own included).
conns() { api GET /metrics; sed -n 's/^selfcert_provd_connections_total \([0-9]*\)$/\1/p' "$T/.api"; }
C0=$(conns); L0=$(wc -l <"$T/provd.log")
ok "enroll DEV-A1" agent a1 --once
# One round, one connection (issue 17): the profile and the certificate went over the same TLS
# connection, one handshake (+1: the second scrape's).
C1=$(conns)
check "enrollment on one connection: $C0 -> $C1" [ -n "$C0" -a "$C1" = "$((C0 + 2))" ]
check "its two requests: a profile, a certificate" [ "$(tail -n +$((L0 + 1)) "$T/provd.log" | grep -cE ' POST /v1/(profiles 201|certificates 201) ')" = 2 ]
check "stdout says enrolled" grep -q "^DEV-A1 enrolled key=1 serial=" "$T/.out"
ok "leaf verifies with stock openssl" openssl verify -CAfile "$T/mfr/root.pem" -untrusted "$T/a1-out/chain.pem" "$T/a1-out/leaf.pem"
ok "leaf verifies with selfcert" sc verify --json --mfr-root "$T/mfr/root.pem" --chain "$T/a1-out/chain.pem" "$T/a1-out/leaf.pem"
check "device-generated key" grep -q '"key_origin":"device-generated"' "$T/.out"
invariants a1 DEV-A1 "after enrollment"
ok "second run: nothing due" agent a1 --once
check "stdout says unchanged" grep -q "^DEV-A1 unchanged key=1 " "$T/.out"
check "still one certificate" [ "$(certs_of DEV-A1)" = 1 ]
C0=$(conns)
ok "forced renewal" agent a1 --once --force-renew
C1=$(conns)
check "renewal on one connection: $C0 -> $C1" [ "$C1" = $((C0 + 2)) ]
check "stdout says renewed" grep -q "^DEV-A1 renewed key=2 " "$T/.out"
check "old key deleted" grep -q "old key 1 deleted" "$T/.err"
check "two certificates" [ "$(certs_of DEV-A1)" = 2 ]
invariants a1 DEV-A1 "after renewal"

# --- a damaged state.json stops the agent before it touches anything ---
cp "$T/a1-out/state.json" "$T/state.good"
keys_before=$(sc device keys --sp "$T/a1.sock")
head -c 60 "$T/state.good" >"$T/a1-out/state.json"
agent_refused "state.json truncated" 1 malformed a1 --once --force-renew
{ cat "$T/state.good"; echo '{}'; } >"$T/a1-out/state.json"
agent_refused "state.json with trailing data" 1 malformed a1 --once --force-renew
sed 's/"handle": \([0-9]*\)/"handle": "\1"/' "$T/state.good" >"$T/a1-out/state.json"
agent_refused "state.json with a wrong type" 1 malformed a1 --once --force-renew
sed 's/"version": 1/"version": 2/' "$T/state.good" >"$T/a1-out/state.json"
agent_refused "state.json of another version" 1 malformed a1 --once --force-renew
head -c 4300000 /dev/zero | tr '\0' ' ' >"$T/a1-out/state.json"
agent_refused "state.json oversize" 1 oversize a1 --once --force-renew
check "no SP key touched" [ "$(sc device keys --sp "$T/a1.sock")" = "$keys_before" ]
cp "$T/state.good" "$T/a1-out/state.json"
ok "works again with its state back" agent a1 --once
invariants a1 DEV-A1 "after the damaged state"

# --- embodiment 2: the server generates the key (RSA, encrypted to an RSA KEK) ---
ok "enroll DEV-A2, server keygen" agent a2 --once --server-keygen --alg "$A2_ALG"
ok "its leaf" sc verify --json --mfr-root "$T/mfr/root.pem" --chain "$T/a2-out/chain.pem" "$T/a2-out/leaf.pem"
check "server-supplied key" grep -q '"key_origin":"server-supplied"' "$T/.out"
check "an $A2_ALG key in the SP" grep -q "^1 $A2_ALG " <(sc device keys --sp "$T/a2.sock")
invariants a2 DEV-A2 "server keygen"
check "the registry knows it was the server's key" grep -q "server-generated key $A2_ALG" \
  <(sc net device show --db "$REG_DB" --device-id DEV-A2)

# --- refusals ---
agent_refused "unknown device" 1 unknown-device u --once
check "nothing written for it" [ ! -e "$T/u-out/leaf.pem" ]
check "no key issued for it" [ "$(key_count u)" -eq 0 ]
agent_refused "another manufacturer" 1 chain o --once
ok "enroll DEV-R" agent r --once
R_SERIAL=$(serial_of "$T/r-out/leaf.pem")
api POST /v1/devices/DEV-R/revoke -H "Authorization: Bearer $PROVD_TOKEN"
api_is "revoke DEV-R" 200
agent_refused "revoked device" 1 revoked r --once --force-renew
check "revoked: leaf.pem untouched" [ "$(serial_of "$T/r-out/leaf.pem")" = "$R_SERIAL" ]
check "revoked: its key kept" [ "$(key_count r)" -eq 1 ]
agent_refused "server not trusted by --ca" 3 io a1 --once --force-renew --ca "$T/mfr/root.pem"
agent_refused "wrong device folder" 2 usage a1 --once --device-dir "$T/a2-certs"
invariants a1 DEV-A1 "after the refusals"

# --- fail points (SC_FAILPOINTS builds only: a release agent has none, and no test flags) ---
if [ "${SC_FAILPOINTS:-ON}" != ON ]; then
  check "release agent: no fail point code" \
    sh -c '! grep -a -q -e SELFCERT_AGENT_FAILPOINT -e after-ack-received "$1"' _ "$SELFCERT_AGENT"
  echo "fail points not compiled in (SC_FAILPOINTS=OFF): crash and stop steps skipped"
else
SELFCERT_AGENT_FAILPOINT=after-chalenge:1 agent_refused "misspelled fail point" 2 usage a1 --once
check "misspelled fail point named" grep -q \
  "^selfcert-agent: usage: SELFCERT_AGENT_FAILPOINT: unknown fail point 'after-chalenge' (after-challenge … after-switch)" "$T/.err"
agent_refused "the old test flag is gone" 2 usage a1 --once --test-crash-at after-issue
# error mode: the round fails with io right after the challenge, and the next one recovers.
SELFCERT_AGENT_FAILPOINT=after-challenge:1:error agent_refused "injected error" 3 io a1 --once --force-renew
check "injected error named" grep -q "fail point after-challenge #1: injected error" "$T/.err"
ok "recover from an injected error" agent a1 --once
invariants a1 DEV-A1 "after an injected error"

# --- the agent crashes after each step, then runs again ---
# Under valgrind the crashing run is native: up to its fail point it runs a prefix of the forced
# renewal above, which ran under memcheck, and then exits; the recovery from each step (its own
# code path) runs under memcheck, as do the SP and the server throughout.
CRASH_AGENT=${SELFCERT_AGENT_NATIVE:-$SELFCERT_AGENT}
n=$(certs_of DEV-A1)
for step in after-challenge after-profile after-issue after-pending after-ack-received after-write after-switch; do
  SELFCERT_AGENT=$CRASH_AGENT SELFCERT_AGENT_FAILPOINT="$step:1" agent a1 --once --force-renew >/dev/null 2>"$T/.err"
  check "crash at $step" [ $? -eq 86 ]
  check "crash at $step named" grep -q "^selfcert-agent: fail point $step #1: stopping (exit 86)" "$T/.err"
  ok "recover from $step" agent a1 --once
  case $step in after-challenge|after-profile) ;; *) n=$((n + 1)) ;; esac
  check "$step: certificates registered $n" [ "$(certs_of DEV-A1)" = "$n" ]
  invariants a1 DEV-A1 "after a crash at $step"
done

# --- the SP restarts between challenge and issue: a new challenge, then it works ---
SELFCERT_AGENT_FAILPOINT=after-profile:1:stop agent_bg a1 "$T/stop.out" "$T/stop.err" --once --force-renew
must_stop "agent stopped after the profile"
stop_spd a1
start_spd a1 || exit 1
kill -CONT "$APID"
wait "$APID"
check "completes after the SP restart" [ $? -eq 0 ]
check "asked for a new challenge" grep -q "no longer knows the challenge" "$T/stop.err"
n=$((n + 1))
check "SP restart: one more certificate" [ "$(certs_of DEV-A1)" = "$n" ]
invariants a1 DEV-A1 "after the SP restart"

# --- the server dies between issue and acknowledgement ---
SELFCERT_AGENT_FAILPOINT=after-pending:1:stop agent_bg a1 "$T/stop.out" "$T/stop.err" --once --force-renew
must_stop "agent stopped with a pending certificate"
OLD_SERIAL=$(serial_of "$T/a1-out/leaf.pem")
agent_refused "a second agent on the same folder" 3 io a1 --once
check "the lock named" grep -q "another selfcert-agent is running" "$T/.err"
kill9_provd
kill -CONT "$APID"
wait "$APID"
check "server gone: exit 3" [ $? -eq 3 ]
check "leaf.pem keeps the acknowledged certificate" [ "$(serial_of "$T/a1-out/leaf.pem")" = "$OLD_SERIAL" ]
check "two keys while unacknowledged" [ "$(key_count a1)" -eq 2 ]
start_provd || exit 1
ok "acknowledged after the server's restart" agent a1 --once
n=$((n + 1))
check "server restart: one more certificate" [ "$(certs_of DEV-A1)" = "$n" ]
invariants a1 DEV-A1 "after the server restart"
# Killed and restarted while the agent waits: it simply carries on.
SELFCERT_AGENT_FAILPOINT=after-issue:1:stop agent_bg a1 "$T/stop.out" "$T/stop.err" --once --force-renew
must_stop "agent stopped after the issue"
kill9_provd
start_provd || exit 1
kill -CONT "$APID"
wait "$APID"
check "completes across a server restart" [ $? -eq 0 ]
n=$((n + 1))
invariants a1 DEV-A1 "across a server restart"
fi

# --- unreachable SP, unreachable server ---
stop_spd a1
agent_refused "SP down" 3 io a1 --once
start_spd a1 || exit 1
stop_provd
agent_refused "server down" 3 io a1 --once --force-renew
invariants a1 DEV-A1 "after the server was down"

# --- daemon: waits out the server, enrolls, renews by itself, stops on SIGTERM ---
agent_bg a3 "$T/a3.out" "$T/a3.log" --retry-min 1s --retry-max 2s
DPID=$APID
for _ in $(seq 1 "$SC_VG_WAIT"); do grep -q "retrying in" "$T/a3.log" && break; sleep 0.1; done
check "daemon backs off while the server is down" grep -q "io: .*retrying in [12]s" "$T/a3.log"
# Short certificates now: 60 s (plus the server's 60 s back-dating), so renewal is due in 8..20 s
# (two thirds of 120 s less up to a tenth, state.c). A fail point build takes 45 s (ci17: its
# SC_PROVD_TEST_VALIDITY_MIN, as test_agent_late_window): due 0..10 s after the enrollment, the
# daemon's wait for it ~9 s shorter in each of the four passes that run this test.
DVAL=60
[ "${SC_FAILPOINTS:-ON}" = ON ] && DVAL=45
SC_PROVD_TEST_VALIDITY_MIN=$DVAL start_provd --allow-server-keygen --rate-limit 100/1h --validity ${DVAL}s || exit 1
for _ in $(seq 1 "$((SC_VG_WAIT * 3 / 2))"); do grep -q "^DEV-A3 enrolled" "$T/a3.out" && break; sleep 0.1; done
check "daemon enrolled once the server came" grep -q "^DEV-A3 enrolled key=1" "$T/a3.out"
for _ in $(seq 1 "$((SC_VG_WAIT * 3))"); do grep -q "^DEV-A3 renewed" "$T/a3.out" && break; sleep 0.1; done
check "daemon renewed by itself" grep -q "^DEV-A3 renewed key=2" "$T/a3.out"
check "form 1 device: its leaf is as before (no subjectAltName)" \
  bash -c "openssl x509 -in '$T/a3-out/leaf.pem' -noout -subject | grep -q DEV-A3 && ! openssl x509 -in '$T/a3-out/leaf.pem' -noout -ext subjectAltName 2>/dev/null | grep -q DNS"
check "form 2 device: its leaf leads with its DNS name" \
  bash -c "openssl x509 -in '$T/a1-out/leaf.pem' -noout -ext subjectAltName | grep -qx '  *DNS:dev-a1.selfcert.invalid'"
kill -TERM "$DPID"
wait "$DPID"
check "SIGTERM: exit 0" [ $? -eq 0 ]
check "SIGTERM: said so" grep -q "DEV-A3: stopping" "$T/a3.log"
invariants a3 DEV-A3 "daemon"
check "no private key in any log" bash -c "! grep -qi 'PRIVATE KEY' '$T/provd.log' '$T/a3.log'"
ok "registry consistent" sc net db check --db "$REG_DB"
check "integrity ok" grep -q "^registry (.*): consistent$" "$T/.out"
finish
