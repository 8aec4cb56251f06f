# SPDX-License-Identifier: Apache-2.0
# lib-faults.sh — helpers of the fault tests (test_faults_*.sh), sourced after lib.sh: start a
# selfcert-spd with or without a fail point armed and learn whether it serves or how it ended,
# stop it, compare store states, check that a leaf key signs what its certificate verifies.
: "${SC_FAULTS:?set SC_FAULTS to the sc-faults tool (cmake/faults.cmake does)}"

# Extra daemon flags. SC_FAULTS_SPD_FLAGS="--insecure-no-sandbox" runs without seccomp (for a
# sanitizer build); by default the daemon runs exactly as shipped, sandbox included.
read -r -a FSPD_FLAGS <<<"${SC_FAULTS_SPD_FLAGS:-}"
FSPD_PID=
FSPD_RC=
FSPD_STARTS=0
FSPD_WAIT_TICKS=2000          # x 10 ms: a 20 s safety net for a start on a loaded machine
[ "${SC_VG_SMALL:-0}" = 1 ] && FSPD_WAIT_TICKS=12000   # 120 s under valgrind

# fspd_start DIR SOCK LOG [FAILPOINT]: run selfcert-spd on store DIR, socket SOCK, stderr
# appended to LOG (this start's own lines are in LOG.cur). Returns 0 once it serves (FSPD_PID
# set), 1 if it ended first (FSPD_RC = its exit status), 2 if it did neither in time.
# FSPD_BIN (default $SELFCERT_SPD): the daemon binary, e.g. $SELFCERT_SPD_NATIVE under valgrind.
fspd_start() {
  local dir=$1 sock=$2 log=$3 fp=${4:-} i
  rm -f "$sock"
  : >"$log.cur"
  FSPD_STARTS=$((FSPD_STARTS + 1))
  if [ -n "$fp" ]; then
    SELFCERT_SPD_FAILPOINT=$fp "${FSPD_BIN:-$SELFCERT_SPD}" --store "$dir" --socket "$sock" "${FSPD_FLAGS[@]}" \
      2>"$log.cur" &
  else
    env -u SELFCERT_SPD_FAILPOINT "${FSPD_BIN:-$SELFCERT_SPD}" --store "$dir" --socket "$sock" \
      "${FSPD_FLAGS[@]}" 2>"$log.cur" &
  fi
  FSPD_PID=$!
  FSPD_RC=
  for ((i = 0; i < FSPD_WAIT_TICKS; i++)); do
    if [[ "$(<"$log.cur")" == *"selfcert-spd: serving "* ]]; then
      cat "$log.cur" >>"$log"
      return 0
    fi
    if ! kill -0 "$FSPD_PID" 2>/dev/null; then
      wait "$FSPD_PID" 2>/dev/null
      FSPD_RC=$?
      cat "$log.cur" >>"$log"
      FSPD_PID=
      return 1
    fi
    sleep 0.01
  done
  kill -9 "$FSPD_PID" 2>/dev/null
  wait "$FSPD_PID" 2>/dev/null
  FSPD_PID=
  cat "$log.cur" >>"$log"
  return 2
}

# fspd_wait: wait for the running daemon to end by itself; FSPD_RC = its exit status.
fspd_wait() {
  [ -n "$FSPD_PID" ] || return 0
  wait "$FSPD_PID" 2>/dev/null     # no "Killed" notice from the shell: a kill is the plan
  FSPD_RC=$?
  FSPD_PID=
}

# fspd_wait_exit: the daemon is expected to end by itself (a fail point in exit mode). Returns 1
# if it is still running after the safety net, and then kills it; FSPD_RC = its exit status.
fspd_wait_exit() {
  local i
  [ -n "$FSPD_PID" ] || return 0
  for ((i = 0; i < FSPD_WAIT_TICKS; i++)); do
    kill -0 "$FSPD_PID" 2>/dev/null || { fspd_wait; return 0; }
    sleep 0.01
  done
  fspd_kill9
  return 1
}

# fspd_stop: SIGTERM and wait; FSPD_RC = its exit status (0 for an orderly stop).
fspd_stop() {
  [ -n "$FSPD_PID" ] || return 0
  kill "$FSPD_PID" 2>/dev/null
  fspd_wait
}

# fspd_kill9: SIGKILL and wait.
fspd_kill9() {
  [ -n "$FSPD_PID" ] || return 0
  kill -9 "$FSPD_PID" 2>/dev/null
  fspd_wait
}

# Make sure no daemon of ours outlives the test (lib.sh's trap only knows its own).
fspd_cleanup() {
  [ -n "$FSPD_PID" ] && kill -9 "$FSPD_PID" 2>/dev/null
  cleanup
}
trap fspd_cleanup EXIT

# leaf_signs SOCK HANDLE CERT.pem: the SP signs with HANDLE and stock openssl verifies the
# signature with CERT's public key.
leaf_signs() {
  local sock=$1 h=$2 cert=$3
  printf 'fault test message for key %s\n' "$h" >"$T/.msg"
  "$SELFCERT" device sign --sp "$sock" --key "$h" --in "$T/.msg" --out "$T/.sig" 2>"$T/.sign.err" &&
    openssl x509 -in "$cert" -noout -pubkey -out "$T/.pub" 2>/dev/null &&
    openssl dgst -sha256 -verify "$T/.pub" -signature "$T/.sig" "$T/.msg" >/dev/null 2>&1
}

# no_temp_files DIR: no interrupted commit's temp file is left in the store folder.
no_temp_files() {
  local f
  for f in "$1"/store.tmp-* "$1"/counter.tmp-*; do
    [ -e "$f" ] && return 1
  done
  return 0
}

# same_file A B: byte-identical; otherwise show the difference on stderr.
same_file() {
  cmp -s "$1" "$2" && return 0
  diff "$1" "$2" | head -n 8 >&2
  return 1
}
