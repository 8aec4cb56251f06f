# SPDX-License-Identifier: Apache-2.0
# lib-sandbox.sh — helpers for the hostile-host and load tests (test_sandbox, test_states,
# test_noleak, test_load), sourced after lib.sh: skipping with a reason, running a command as
# another user, reading /proc, and the test tools built by cmake/sandbox.cmake.
: "${SC_SPTOOL:?set SC_SPTOOL to the sc-sptool binary (cmake/sandbox.cmake)}"

SC_SKIP=77      # ctest's SKIP_RETURN_CODE for these tests (cmake/sandbox.cmake)
NOBODY_UID=$(id -u nobody 2>/dev/null || echo 65534)
NOBODY_GID=$(id -g nobody 2>/dev/null || echo 65534)

# skip REASON: this test cannot run here; say why and leave with ctest's skip code.
skip() {
  echo "SKIP: $*"
  exit "$SC_SKIP"
}

# as_nobody CMD…: run CMD as nobody (uid, gid, no supplementary groups).
as_nobody() {
  setpriv --reuid="$NOBODY_UID" --regid="$NOBODY_GID" --clear-groups -- "$@"
}

# can_switch_user: root with setpriv, so a client can run under another uid.
can_switch_user() {
  [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null 2>&1
}

# proc_field PID FIELD: the value of FIELD in /proc/PID/status (tabs kept between values).
proc_field() {
  sed -n "s/^$2:\t//p" "/proc/$1/status"
}

# spd_pid NAME: the pid start_spd recorded for $T/NAME.
spd_pid() {
  local var; var="SPD_$(echo "$1" | tr -c 'A-Za-z0-9_\n' _)"
  echo "${!var:-}"
}

# sandboxed_or_skip NAME: the daemon NAME (started) must be sandboxed; a sanitizer build or a
# valgrind run (neither can be) skips the test with the reason the daemon logged.
sandboxed_or_skip() {
  local why
  why=$(grep -m 1 "sandbox off" "$T/$1.log")
  [ -z "$why" ] || skip "selfcert-spd runs without its sandbox here (${why#selfcert-spd: warning: }); the debug or release build runs this test"
}

# wait_socket PATH PID: wait until a daemon started by hand answers INFO on PATH (10 s).
wait_socket() {
  local i
  for i in $(seq 1 "$SC_VG_WAIT"); do
    "$SELFCERT" device info --sp "$1" >/dev/null 2>&1 && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}
