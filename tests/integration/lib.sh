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

cleanup() {
  for pid in "${SPD_PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  wait 2>/dev/null
  if [ "$FAIL" -eq 0 ] && [ -z "${KEEP:-}" ]; then rm -rf "$T"; else echo "kept $T" >&2; fi
}
trap cleanup EXIT

sc() { "$SELFCERT" "$@"; }

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
  "$SELFCERT_SPD" --store "$T/$name" --socket "$T/$name.sock" --foreground 2>>"$T/$name.log" &
  local pid=$!
  SPD_PIDS+=("$pid")
  eval "SPD_$(echo "$name" | tr -c 'A-Za-z0-9_\n' _)=$pid"
  for _ in $(seq 1 200); do
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
  eval "$var="
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

finish() {
  echo "$PASS passed, $FAIL failed"
  [ "$FAIL" -eq 0 ]
}
