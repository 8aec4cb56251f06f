# lib.sh — shared helpers for the integration tests: real selfcert and selfcert-spd processes,
# real Unix sockets, a private temporary folder per test, assertions on exit codes and the
# exact error name of the one-line error (`selfcert: <name>: …`).
set -u
: "${SELFCERT:?set SELFCERT to the selfcert binary}"
: "${SELFCERT_SPD:?set SELFCERT_SPD to the selfcert-spd binary}"
export SELFCERT_SPD

T=$(mktemp -d "${TMPDIR:-/tmp}/selfcert-it-XXXXXX")
PASS=0
FAIL=0
SPD_PIDS=()
SPD_NAMES=()

# SC_VALGRIND=1 (opt-in; scripts/test.sh's last pass): selfcert-spd (start_spd) and selfcert
# (sc) run under valgrind memcheck, each process logging to $T/valgrind/. A daemon that exits
# 99 at stop_spd, or any log with an error (invalid access, uninitialised value, a definite
# leak) at finish, fails the test. The daemon runs without its seccomp sandbox there, since
# valgrind's own system calls are not on the allowlist.
SC_VG=()
SC_VG_SPD=()
SC_VG_WAIT=200          # start_spd's polls, 0.05 s apart
if [ "${SC_VALGRIND:-0}" = 1 ]; then
  mkdir -p "$T/valgrind"
  SC_VG=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
         --log-file="$T/valgrind/%q{SC_VG_NAME}.%p.log")
  "$SELFCERT_SPD" --help 2>/dev/null | grep -q -- --insecure-no-sandbox && SC_VG_SPD=(--insecure-no-sandbox)
  SC_VG_WAIT=1200
fi

cleanup() {
  for pid in "${SPD_PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  wait 2>/dev/null
  if [ "$FAIL" -eq 0 ] && [ -z "${KEEP:-}" ]; then rm -rf "$T"; else echo "kept $T" >&2; fi
}
trap cleanup EXIT

sc() { SC_VG_NAME=selfcert "${SC_VG[@]}" "$SELFCERT" "$@"; }

pass() { PASS=$((PASS + 1)); }
fail() { FAIL=$((FAIL + 1)); echo "FAIL: $*" >&2; }

# ok DESC CMD…: the command must exit 0.
ok() {
  local desc=$1; shift
  if "$@" >"$T/.out" 2>"$T/.err"; then pass; else
    fail "$desc: exit $? — $(head -c 400 "$T/.err")"; fi
}

# refused DESC EXIT ERRNAME CMD…: exit code EXIT and stderr's one line `selfcert: ERRNAME: …`.
refused() {
  local desc=$1 want_rc=$2 want_name=$3; shift 3
  "$@" >"$T/.out" 2>"$T/.err"
  local rc=$?
  local line; line=$(head -n 1 "$T/.err")
  local lines; lines=$(wc -l <"$T/.err")
  if [ "$rc" -ne "$want_rc" ]; then
    fail "$desc: exit $rc, expected $want_rc — $line"
  elif [[ "$line" != "selfcert: $want_name: "* ]]; then
    fail "$desc: error line '$line', expected 'selfcert: $want_name: …'"
  elif [ "$lines" -ne 1 ]; then
    fail "$desc: $lines error lines, expected exactly one"
  else
    pass
  fi
}

# check DESC TEST-EXPRESSION…: a plain assertion.
check() {
  local desc=$1; shift
  if "$@"; then pass; else fail "$desc"; fi
}

# start_spd NAME: serve $T/NAME (store) on $T/NAME.sock; waits until it accepts.
start_spd() {
  local name=$1
  SC_VG_NAME="selfcert-spd-$name" "${SC_VG[@]}" "$SELFCERT_SPD" --store "$T/$name" --socket "$T/$name.sock" \
    --foreground "${SC_VG_SPD[@]}" 2>>"$T/$name.log" &
  local pid=$!
  SPD_PIDS+=("$pid")
  SPD_NAMES+=("$name")
  eval "SPD_$(echo "$name" | tr -c 'A-Za-z0-9_\n' _)=$pid"
  for _ in $(seq 1 "$SC_VG_WAIT"); do
    if "$SELFCERT" device info --sp "$T/$name.sock" >/dev/null 2>&1; then return 0; fi
    kill -0 "$pid" 2>/dev/null || { echo "selfcert-spd $name died: $(tail -n 3 "$T/$name.log")" >&2; return 1; }
    sleep 0.05
  done
  echo "selfcert-spd $name did not come up" >&2
  return 1
}

stop_spd() {
  local var; var="SPD_$(echo "$1" | tr -c 'A-Za-z0-9_\n' _)"
  local pid=${!var:-}
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  local rc=$?
  eval "$var="
  if [ ${#SC_VG[@]} -gt 0 ] && [ "$rc" -eq 99 ]; then
    fail "selfcert-spd $1: valgrind found errors (logs in $T/valgrind)"
  elif [ ${#SC_VG[@]} -gt 0 ] && [ "$rc" -ge 128 ]; then
    fail "selfcert-spd $1: died of signal $((rc - 128)) under valgrind, so nothing was checked at exit"
  fi
  return 0
}

# new_device NAME ID CSK-ALG KEX-ALG [personalize flags…]: init, start, personalize against the
# networks already made in $T/net-*.
new_device() {
  local name=$1 id=$2 csk=$3 kex=$4; shift 4
  sc sp init --store "$T/$name" --device-id "$id" >/dev/null || return 1
  start_spd "$name" || return 1
  sc mfr personalize --dir "$T/mfr" --sp "$T/$name.sock" --out "$T/$name-certs" \
     --csk-alg "$csk" --kex-alg "$kex" "$@" >/dev/null
}

key_count() { sc device keys --sp "$T/$1.sock" | wc -l; }

# Valgrind mode: stop the daemons still running (their exit code is checked), then every log
# with an error fails the test, its first lines shown.
vg_finish() {
  local name log
  for name in "${SPD_NAMES[@]}"; do stop_spd "$name"; done
  for log in "$T"/valgrind/*.log; do
    [ -e "$log" ] || continue
    if grep -q "ERROR SUMMARY: [1-9]" "$log" || grep -qE "(Invalid|uninitialised|definitely lost)" "$log"; then
      fail "valgrind: $(basename "$log"): $(grep -m 3 -E "Invalid|uninitialised|definitely lost|ERROR SUMMARY" "$log" | tr '\n' ' ')"
    fi
  done
  echo "valgrind: $(find "$T/valgrind" -name '*.log' | wc -l) processes checked" >&2
}

finish() {
  [ ${#SC_VG[@]} -gt 0 ] && vg_finish
  echo "$PASS passed, $FAIL failed"
  [ "$FAIL" -eq 0 ]
}
