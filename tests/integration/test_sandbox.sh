#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# selfcert-spd's least privilege, seen from outside (docs/THREAT-MODEL.md). With its sandbox on
# (the default: seccomp, and Landlock where the kernel has it), the daemon serves every request
# type it has (selfcert-spd --list-requests): each must succeed at least once here, over the
# real socket, including both issuance embodiments, a restart, and every leaf-key use. /proc
# shows the filter
# (Seccomp 2), NoNewPrivs 1 and no core files; a forbidden system call kills the process, a
# path outside the store folder is refused.
# As root: --user drops to nobody after binding (and the same uid then cannot read the daemon's
# memory: it is not dumpable), and the SO_PEERCRED allow list refuses other uids with `denied`.
# Sanitizer and valgrind runs cannot sandbox, so there this test is skipped, saying so.
source "$SC_TESTLIB"
source "$(dirname "$SC_TESTLIB")/lib-sandbox.sh"

sc mfr init --dir "$T/mfr" >/dev/null || exit 1
sc net init --dir "$T/net" --network-id net-s >/dev/null || exit 1
sc sp init --store "$T/dev" --device-id SBX-1 >/dev/null || exit 1
start_spd dev || exit 1
sandboxed_or_skip dev
PID=$(spd_pid dev)

# --- the process, as the kernel sees it ---
check "Seccomp: 2 (a filter is in force)" [ "$(proc_field "$PID" Seccomp)" = 2 ]
check "NoNewPrivs: 1" [ "$(proc_field "$PID" NoNewPrivs)" = 1 ]
check "no core files (RLIMIT_CORE 0 0)" awk '/^Max core file size/ { exit !($5 == 0 && $6 == 0) }' "/proc/$PID/limits"
check "the log says the sandbox is on (no warning)" bash -c "! grep -q 'sandbox off' '$T/dev.log'"
check "and which: seccomp, and Landlock where the kernel has it" grep -q "; sandbox: seccomp" "$T/dev.log"
check "the secure heap is reported in use" grep -q "secure heap [0-9]* of 8388608 bytes in use" "$T/dev.log"

# --- every request type, under the filter ---
sc device info --sp "$T/dev.sock" >/dev/null
ok "personalize: keygen, install-cert, install-anchor, set-limits, lock" \
  sc mfr personalize --dir "$T/mfr" --sp "$T/dev.sock" --out "$T/dc" --net-root "$T/net/root.pem" \
  --network-id net-s --csk-alg p256 --kex-alg rsa2048 --max-keys 16 --max-leaf-days 30
profile() { sc net profile --dir "$T/net" --device-ca "$T/dc/device-ca.pem" --validity 1d "$@" >/dev/null; }
issue() { sc device issue --sp "$T/dev.sock" --profile "$1" --out "$2"; }

CH=$(sc device challenge --sp "$T/dev.sock")
ok "challenge profile (P-256, sign and key agreement)" profile --challenge "$CH" --alg p256 \
  --key-usage digitalSignature,keyAgreement --out "$T/p-ec.der"
H_EC=$(issue "$T/p-ec.der" "$T/ec.pem") && pass || fail "issue, device-generated P-256 with a challenge"
ok "a request proof (the CSK signs under the filter)" sc device proof --sp "$T/dev.sock" \
  --challenge "$(sc device challenge --sp "$T/dev.sock")" --chain "$T/dc/chain.pem" --kex "$T/dc/kex.pem"
ok "server-generated RSA-2048 profile (sign and key transport)" profile --server-keygen rsa2048 \
  --kex "$T/dc/kex.pem" --key-usage digitalSignature,keyEncipherment --out "$T/p-rsa.der"
H_RSA=$(issue "$T/p-rsa.der" "$T/rsa.pem") && pass || fail "issue, server-generated RSA-2048 (RSA-OAEP unwrap)"
ok "Ed25519 profile" profile --alg ed25519 --out "$T/p-ed.der"
H_ED=$(issue "$T/p-ed.der" "$T/ed.pem") && pass || fail "issue, device-generated Ed25519"
# #17: a renewal profile goes through RENEW, the SP counting its certificates.
ok "renewal profile (2 certificates, one a day)" profile --renewal 2/1d --out "$T/p-rn.der"
ok "issue through RENEW (renewal profile)" issue "$T/p-rn.der" "$T/rn.pem"
# #17: a batch leaf (one signed Merkle root) goes through BATCH_ISSUE.
ok "batch profile (net batch)" sc net batch --dir "$T/net" --device-ca "$T/dc/device-ca.pem" \
  --validity 1d --out-dir "$T/batch"
ok "issue through BATCH_ISSUE (batch profile)" issue "$T/batch/SBX-1.der" "$T/bt.pem"
check "keys lists the five" [ "$(sc device keys --sp "$T/dev.sock" | wc -l)" -eq 5 ]
ok "the device CA's own CRL (the CSK signs under the filter)" sc device crl --sp "$T/dev.sock" --out "$T/devca.crl"

echo "signed under seccomp" >"$T/msg"
ok "device sign (CLI)" sc device sign --sp "$T/dev.sock" --key "$H_EC" --in "$T/msg" --out "$T/msg.sig"
openssl x509 -in "$T/ec.pem" -noout -pubkey -out "$T/ec.pub"
ok "the signature verifies with stock openssl" openssl dgst -sha256 -verify "$T/ec.pub" -signature "$T/msg.sig" "$T/msg"
for k in "EC:$H_EC:ec" "RSA:$H_RSA:rsa" "Ed25519:$H_ED:ed"; do
  IFS=: read -r label h f <<<"$k"
  if "$SC_SPTOOL" exercise "$T/dev.sock" "$h" "$T/$f.pem" >"$T/ex-$f.out" 2>&1; then pass; else
    fail "$label key: every use its certificate allows: $(tr '\n' ' ' <"$T/ex-$f.out")"; fi
done
check "RSA: sign, sign-digest, sign-pss, decrypt" [ "$(grep -c ': ok$' "$T/ex-rsa.out")" -eq 4 ]
check "EC: sign, sign-digest, derive" [ "$(grep -c ': ok$' "$T/ex-ec.out")" -eq 3 ]

# A restart: the store is loaded and served again under the filter.
stop_spd dev
start_spd dev || fail "restart"
PID=$(spd_pid dev)
ok "sign after the restart" sc device sign --sp "$T/dev.sock" --key "$H_RSA" --in "$T/msg" --out "$T/msg2.sig"
ok "delete" sc device delete --sp "$T/dev.sock" --key "$H_ED"

# The operator-gated requests (issue 12) exist only on a gated TPM SP: one on its own swtpm,
# under the same filter (the TPM's connection is opened before it), one gated issuance.
: >"$T/gdev.log"
if command -v swtpm >/dev/null; then
  start_swtpm "$T/tpm" || fail "swtpm"
  TCTI="swtpm:path=$T/tpm/sock"
  ok "sp init --backend tpm --operator-gated" sc sp init --store "$T/gdev" --device-id SBX-G \
    --backend tpm --tcti "$TCTI" --operator-gated --gate-key "$T/net/signer.pem"
  TSS2_TCTI=$TCTI "$SELFCERT_SPD" --store "$T/gdev" --socket "$T/gdev.sock" 2>>"$T/gdev.log" &
  GPID=$!
  for _ in $(seq 1 "$SC_VG_WAIT"); do sc device info --sp "$T/gdev.sock" >/dev/null 2>&1 && break; sleep 0.05; done
  check "the gated TPM SP is sandboxed too (Seccomp 2)" [ "$(proc_field "$GPID" Seccomp)" = 2 ]
  ok "personalize the gated SP" sc mfr personalize --dir "$T/mfr" --sp "$T/gdev.sock" --out "$T/gc" \
    --net-root "$T/net/root.pem" --network-id net-s --csk-alg p256 --kex-alg p256
  GCH=$(sc device gate-challenge --sp "$T/gdev.sock" --out "$T/g.gate" --alg p256) && pass ||
    fail "gate-challenge"
  ok "a profile for the gated challenge" sc net profile --dir "$T/net" --device-ca "$T/gc/device-ca.pem" \
    --validity 1d --challenge "$GCH" --alg p256 --out "$T/p-g.der"
  ok "the operator's authorization" sc net authorize --dir "$T/net" --profile "$T/p-g.der" \
    --gate "$T/g.gate" --device-ca "$T/gc/device-ca.pem" --out "$T/g.auth"
  ok "gated issue (the TPM checks the authorization) under the filter" sc device issue \
    --sp "$T/gdev.sock" --profile "$T/p-g.der" --authorization "$T/g.auth" --out "$T/g.pem"
  check "still sandboxed after it" [ "$(proc_field "$GPID" Seccomp)" = 2 ]
  kill "$GPID"; wait "$GPID" 2>/dev/null
else
  echo "swtpm missing (scripts/deps.d/tpm.txt): the gated requests are not exercised here"
fi

# Every request this build answers must have succeeded at least once above.
"$SELFCERT_SPD" --list-requests >"$T/requests" || fail "--list-requests"
check "--list-requests names the 13 requests of docs/PROTOCOL.md at least" [ "$(wc -l <"$T/requests")" -ge 13 ]
while read -r type name; do
  case $name in gate-*) command -v swtpm >/dev/null || continue ;; esac
  if grep -q "^selfcert-spd: uid [0-9]*: $name: ok$" "$T/dev.log" "$T/gdev.log"; then pass; else
    fail "request $type ($name) never succeeded under the sandbox here: exercise it in this test"; fi
done <"$T/requests"
check "still sandboxed after all of it" [ "$(proc_field "$PID" Seccomp)" = 2 ]
kill "$PID"
wait "$PID"
rc=$?
check "SIGTERM: a clean exit under the filter (exit $rc)" [ "$rc" -eq 0 ]
check "and it said so" grep -q "^selfcert-spd: stopped$" "$T/dev.log"

# --- what the filter forbids kills (the daemon's own allowlist, sc-sptool sandbox-probe) ---
mkdir -p "$T/probe"
ok "allowed: files, randomness, memory, a signature" "$SC_SPTOOL" sandbox-probe allowed "$T/probe"
for what in execve socket unix-socket fork ptrace setuid dumpable mmap-exec mprotect-exec \
            getsockopt sendto-addr kill chmod ioctl; do
  # In a command substitution, so that its death by SIGSYS is not reported on our stderr.
  rc=$( { "$SC_SPTOOL" sandbox-probe "$what" "$T/probe" >"$T/.probe" 2>&1; echo $?; } 2>/dev/null )
  if [ "$rc" -eq $((128 + 31)) ]; then pass; else
    fail "sandbox-probe $what: exit $rc, expected death by SIGSYS (159): $(head -c 200 "$T/.probe")"; fi
done

# --- Landlock: outside the store folder, the file system is gone (where the kernel has it) ---
if grep -q "landlock ABI [0-9]" "$T/dev.log"; then
  for what in landlock-proc-mem landlock-outside landlock-parent; do
    out=$("$SC_SPTOOL" sandbox-probe "$what" "$T/probe" 2>&1)
    rc=$?
    check "$what: refused, not opened ($out)" [ "$rc" -eq 0 ]
  done
else
  echo "NOTE: this kernel has no Landlock; the SP is confined by seccomp alone ($(grep -m 1 -o 'sandbox: [^;]*' "$T/dev.log"))"
fi

# --- users: drop to nobody, the allow list, not dumpable ---
if ! can_switch_user; then
  echo "NOTE: not root (or no setpriv): --user, --allow-uid and the same-uid memory check not run"
  finish
  exit
fi
chmod o+x "$T"     # nobody must reach its store and socket below $T

# A store nobody cannot write: refused at start, not at the first commit.
sc sp init --store "$T/rootonly" --device-id SBX-R >/dev/null
"$SELFCERT_SPD" --store "$T/rootonly" --socket "$T/ro.sock" --user nobody 2>"$T/ro.err"
rc=$?
check "store not writable by --user: exit 1 (got $rc)" [ "$rc" -eq 1 ]
check "with io naming the folder and the fix" grep -q "^selfcert-spd: io: $T/rootonly: not writable by user nobody (chown -R nobody" "$T/ro.err"
"$SELFCERT_SPD" --store "$T/rootonly" --socket "$T/ro.sock" --user no-such-user-sbx 2>"$T/ro.err"
rc=$?
check "unknown --user: usage, exit 2 (got $rc)" [ "$rc" -eq 2 ]
check "unknown --user: the error names it" grep -q "^selfcert-spd: usage: --user no-such-user-sbx: no such user" "$T/ro.err"

sc sp init --store "$T/u" --device-id SBX-U >/dev/null
chown -R nobody: "$T/u"
"$SELFCERT_SPD" --store "$T/u" --socket "$T/u.sock" --user nobody 2>>"$T/u.log" &
UPID=$!
SPD_PIDS+=("$UPID")
wait_socket "$T/u.sock" "$UPID" || fail "--user nobody: did not come up: $(tail -n 2 "$T/u.log")"
check "runs as nobody (real, effective, saved, fs uid)" [ "$(proc_field "$UPID" Uid)" = "$NOBODY_UID	$NOBODY_UID	$NOBODY_UID	$NOBODY_UID" ]
check "with nobody's gid" [ "$(proc_field "$UPID" Gid)" = "$NOBODY_GID	$NOBODY_GID	$NOBODY_GID	$NOBODY_GID" ]
check "and no other group" [ "$(proc_field "$UPID" Groups | tr -d ' ')" = "$NOBODY_GID" ]
check "no capabilities left" [ "$(proc_field "$UPID" CapEff)" = 0000000000000000 ]
check "sandboxed too" [ "$(proc_field "$UPID" Seccomp)" = 2 ]
check "the socket belongs to nobody" [ "$(stat -c %u "$T/u.sock")" = "$NOBODY_UID" ]
ok "root (on the default allow list) personalizes it: commits as nobody" \
  sc mfr personalize --dir "$T/mfr" --sp "$T/u.sock" --out "$T/uc" --net-root "$T/net/root.pem" --network-id net-s
check "the store was rewritten by nobody" [ "$(stat -c %u "$T/u/store")" = "$NOBODY_UID" ]

# Not dumpable: the same uid cannot read its memory or environment; a plain process of that
# uid (the control) can.
setpriv --reuid="$NOBODY_UID" --regid="$NOBODY_GID" --clear-groups -- sleep 60 &
CONTROL=$!
# Until setpriv has dropped to nobody and exec'd sleep (a loaded machine can take a while).
for _ in $(seq 1 200); do
  [ "$(cat "/proc/$CONTROL/comm" 2>/dev/null)" = sleep ] && break
  sleep 0.05
done
ok "control: nobody reads its own process's environ" as_nobody cat "/proc/$CONTROL/environ"
kill "$CONTROL" 2>/dev/null
if as_nobody cat "/proc/$UPID/environ" >/dev/null 2>&1; then fail "nobody read the SP's /proc/PID/environ"; else pass; fi
if as_nobody dd if="/proc/$UPID/mem" bs=1 count=1 skip=4096 status=none >/dev/null 2>&1; then
  fail "nobody read the SP's /proc/PID/mem"; else pass; fi
check "its /proc files belong to root (the kernel's mark of a non-dumpable process)" [ "$(stat -c %u "/proc/$UPID/environ")" = 0 ]

# The default allow list is the serving uid (nobody here) and root. The socket is opened to
# everyone for this, so that only SO_PEERCRED decides.
chmod 666 "$T/u.sock"
ok "default allow list: nobody, the serving uid, is served" as_nobody "$SELFCERT" device info --sp "$T/u.sock"
refused "default allow list: uid 65533 is not" 1 denied \
  setpriv --reuid=65533 --regid=65533 --clear-groups -- "$SELFCERT" device info --sp "$T/u.sock"
check "the SP logged the refusal with the uid" grep -q "uid 65533: -: denied" "$T/u.log"
kill "$UPID"; wait "$UPID"

"$SELFCERT_SPD" --store "$T/dev" --socket "$T/a.sock" --allow-uid "$NOBODY_UID" 2>>"$T/a.log" &
APID=$!
SPD_PIDS+=("$APID")
for _ in $(seq 1 200); do [ -S "$T/a.sock" ] && break; sleep 0.05; done
chmod 666 "$T/a.sock"
# Until it accepts (the socket file exists a moment before listen()); 10 s at most.
for _ in $(seq 1 200); do as_nobody "$SELFCERT" device info --sp "$T/a.sock" >/dev/null 2>&1 && break; sleep 0.05; done
ok "--allow-uid nobody: nobody is served" as_nobody "$SELFCERT" device info --sp "$T/a.sock"
refused "--allow-uid nobody: root is not" 1 denied sc device info --sp "$T/a.sock"
refused "nor is another uid (65533)" 1 denied setpriv --reuid=65533 --regid=65533 --clear-groups -- "$SELFCERT" device info --sp "$T/a.sock"
check "each refusal logged with its uid" grep -q "uid 0: -: denied" "$T/a.log"
kill "$APID"; wait "$APID"
finish
