# SPDX-License-Identifier: Apache-2.0
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

# SC_VALGRIND=1 (opt-in; scripts/test.sh's last pass): every product binary the test runs —
# selfcert, selfcert-spd, selfcert-provd, selfcert-agent, selfcert-gateway, and the PKCS#11
# driver that loads our module — runs under valgrind memcheck, however the test starts it: the
# variables naming them point at wrappers in $T/vgbin, and each process logs to $T/valgrind/.
# At finish, every log with an error (invalid access, uninitialised value, a definite leak)
# fails the test. The SP runs without its seccomp sandbox there (valgrind's own system calls,
# executable mappings among them, are not on the allowlist). A test whose subject is not the
# command line names the binaries it puts under valgrind in SC_VG_BINS (variable names, set
# before sourcing this file); its set-up and inspection commands then run natively, since every
# valgrind process costs at least half a second of CPU. Tests shrink their loop counts
# (SC_VG_SMALL) and wait longer (SC_VG_WAIT polls, 0.05 s apart); the test tools (sc-evil,
# sc-faults, sc-sptool, sc-load, sc-sockrec) and stock tools (openssl, gnutls) run natively.
SC_VALGRIND=${SC_VALGRIND:-0}
# SC_SMALL=1 (scripts/test.sh's ASan pass): the same shrunken loops without valgrind. A sanitizer
# looks for memory errors on code paths, and the small loops pass every path the full ones do
# (one RSA size, one point of each kind in the crash matrix); the debug pass runs them in full.
SC_VG_SMALL=${SC_SMALL:-0}
SC_VG_WAIT=200
vg_wrap() {          # vg_wrap VAR: point $VAR at a valgrind wrapper of the binary it names
  local var=$1 real=${!1:-} name extra=''
  [ -n "$real" ] && [ -x "$real" ] || return 0
  name=$(basename "$real")
  # The daemon form (with --socket) gets --insecure-no-sandbox, unless the test gave it.
  [ "$name" = selfcert-spd ] && extra='case " $* " in *" --socket "*) case " $* " in *" --insecure-no-sandbox "*) ;; *) set -- "$@" --insecure-no-sandbox ;; esac ;; esac
'
  printf '#!/bin/sh\n%sexec valgrind -q --vgdb=no --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --log-file=%q/valgrind/%s.%%p.log %q "$@"\n' \
    "$extra" "$T" "$name" "$real" >"$T/vgbin/$name"
  chmod +x "$T/vgbin/$name"
  VG_NATIVE_ENV+=("$var=$real")
  printf -v "${var}_NATIVE" '%s' "$real"   # e.g. SELFCERT_AGENT_NATIVE
  printf -v "$var" '%s' "$T/vgbin/$name"
  export "${var?}"
}
VG_NATIVE_ENV=()
# vgn CMD…: CMD with every wrapped binary native again (a run that repeats, process for process,
# work another step of the same test just did under memcheck; each valgrind process costs 1-3 s
# of CPU, at least 0.6 s for valgrind's own start).
vgn() { env "${VG_NATIVE_ENV[@]}" "$@"; }
# scn: the command line natively even under valgrind, for a test's set-up and inspection steps
# whose code other tests already run under memcheck (each valgrind process costs seconds).
SELFCERT_NATIVE=${SELFCERT:-}
SELFCERT_SPD_NATIVE=${SELFCERT_SPD:-}
scn() { "$SELFCERT_NATIVE" "$@"; }
if [ "$SC_VALGRIND" = 1 ]; then
  command -v valgrind >/dev/null || { echo "SC_VALGRIND=1 but valgrind is not installed" >&2; exit 1; }
  mkdir -p "$T/valgrind" "$T/vgbin"
  SC_VG_SMALL=1
  SC_VG_WAIT=1200
  for _v in ${SC_VG_BINS:-SELFCERT SELFCERT_SPD SELFCERT_PROVD SELFCERT_AGENT SC_GATEWAY SC_P11_DRIVE}; do
    vg_wrap "$_v"
  done
  unset _v
fi

# ---- TPM (docs/TPM.md): a private swtpm per test, on unix sockets in $T, no abrmd, no D-Bus ----
# start_swtpm DIR: swtpm with its state in DIR, serving DIR/sock (TCTI swtpm:path=DIR/sock) and
# DIR/sock.ctrl; stopped by cleanup (or stop_swtpm DIR). swtpm serves one connection at a time:
# stock tools (TPM2TOOLS_TCTI=swtpm:path=DIR/sock) run only while no selfcert-spd holds it.
start_swtpm() {
  local d=$1 _
  command -v swtpm >/dev/null || { echo "swtpm is not installed (scripts/deps.d/tpm.txt)" >&2; return 1; }
  mkdir -p "$d" || return 1
  swtpm socket --tpm2 --tpmstate dir="$d" --server type=unixio,path="$d/sock" \
    --ctrl type=unixio,path="$d/sock.ctrl" --flags not-need-init,startup-clear \
    --pid file="$d/swtpm.pid" --log file="$d/swtpm.log" --daemon || return 1
  for _ in $(seq 1 200); do [ -S "$d/sock" ] && [ -s "$d/swtpm.pid" ] && return 0; sleep 0.02; done
  echo "swtpm in $d did not come up" >&2
  return 1
}
stop_swtpm() {
  local d=$1 pid _
  [ -s "$d/swtpm.pid" ] || return 0
  pid=$(cat "$d/swtpm.pid")
  kill "$pid" 2>/dev/null
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.02; done
  rm -f "$d/swtpm.pid" "$d/sock" "$d/sock.ctrl"
}

# SC_BACKEND=tpm: every store the test makes is a TPM store, each folder DIR with its own swtpm
# in DIR.swtpm (selfcert-spd is wrapped: --init gets --backend tpm, and every run on a TPM
# store gets --tcti for its swtpm), so the same test runs on both backends unchanged.
SC_BACKEND=${SC_BACKEND:-soft}
if [ "$SC_BACKEND" = tpm ] && [ "$SC_VALGRIND" = 1 ]; then
  # The TPM copies run the soft copies' SP code plus ESAPI, at swtpm's pace: not under valgrind.
  echo "SC_BACKEND=tpm: skipped under valgrind (cmake/tpm.cmake)"; rm -rf "$T"; exit 77
fi
if [ "$SC_BACKEND" = tpm ]; then
  mkdir -p "$T/tpmbin"
  declare -f start_swtpm >"$T/tpmbin/lib"
  cat >"$T/tpmbin/selfcert-spd" <<EOF_TPM
#!/usr/bin/env bash
source $(printf %q "$T/tpmbin/lib")
store= init=0 be=0 tcti=0 prev=
for a in "\$@"; do
  [ "\$prev" = --store ] && store=\$a
  case "\$a" in --init) init=1 ;; --backend*) be=1 ;; --tcti*) tcti=1 ;; esac
  prev=\$a
done
extra=()
if [ -n "\$store" ] && [ "\$tcti" = 0 ] && { [ "\$init\$be" = 10 ] || [ -e "\$store/root.tpm" ]; }; then
  d=\$(realpath -m "\$store").swtpm
  if ! { [ -S "\$d/sock" ] && kill -0 "\$(cat "\$d/swtpm.pid" 2>/dev/null)" 2>/dev/null; }; then
    start_swtpm "\$d" >&2 || exit 1
  fi
  extra+=(--tcti "swtpm:path=\$d/sock")
fi
[ "\$init\$be" = 10 ] && extra+=(--backend tpm)
exec $(printf %q "$SELFCERT_SPD") "\$@" "\${extra[@]}"
EOF_TPM
  chmod +x "$T/tpmbin/selfcert-spd"
  SELFCERT_SPD=$T/tpmbin/selfcert-spd
  export SELFCERT_SPD
fi

cleanup() {
  for pid in "${SPD_PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  wait 2>/dev/null
  local p
  while IFS= read -r p; do stop_swtpm "$(dirname "$p")"; done < <(find "$T" -name swtpm.pid 2>/dev/null)
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
start_spd() {  # start_spd NAME [selfcert-spd flags…]
  local name=$1; shift
  "$SELFCERT_SPD" --store "$T/$name" --socket "$T/$name.sock" --foreground "$@" 2>>"$T/$name.log" &
  local pid=$!
  SPD_PIDS+=("$pid")
  SPD_NAMES+=("$name")
  eval "SPD_$(echo "$name" | tr -c 'A-Za-z0-9_\n' _)=$pid"
  # The probe runs natively: under valgrind each try would be a memcheck process of its own
  # (2-4 per start); test_pkg_cli runs `device info` under memcheck.
  for _ in $(seq 1 "$SC_VG_WAIT"); do
    if "$SELFCERT_NATIVE" device info --sp "$T/$name.sock" >/dev/null 2>&1; then return 0; fi
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
  if [ "$SC_VALGRIND" = 1 ] && [ "$rc" -eq 99 ]; then
    fail "selfcert-spd $1: valgrind found errors (logs in $T/valgrind)"
  elif [ "$SC_VALGRIND" = 1 ] && [ "$rc" -ge 128 ]; then
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

# Natively (scn): an inspection step; test_store and test_pkg_cli run `device keys` under memcheck.
key_count() { scn device keys --sp "$T/$1.sock" | wc -l; }

# Valgrind mode: stop the daemons still running (their exit code is checked), then every other
# background job (servers, agents: SIGCONT, SIGTERM, SIGKILL after 60 s) so that each writes its
# leak summary; then every log with an error fails the test, its first lines shown.
vg_finish() {
  local name log pid _ n bad=0
  for name in "${SPD_NAMES[@]}"; do stop_spd "$name"; done
  for pid in $(jobs -p); do kill -CONT "$pid" 2>/dev/null; kill "$pid" 2>/dev/null; done
  for pid in $(jobs -p); do
    for _ in $(seq 1 1200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  for log in "$T"/valgrind/*.log; do
    [ -e "$log" ] || continue
    if grep -q "ERROR SUMMARY: [1-9]" "$log" || grep -qE "(Invalid|uninitialised|definitely lost)" "$log"; then
      fail "valgrind: $(basename "$log"): $(grep -m 3 -E "Invalid|uninitialised|definitely lost|ERROR SUMMARY" "$log" | tr '\n' ' ')"
      [ -n "${SC_VG_SHOW:-}" ] && cat "$log" >&2
      bad=$((bad + 1))
    fi
  done
  n=$(find "$T/valgrind" -name '*.log' | wc -l)
  echo "valgrind: $n processes checked" >&2
  # SC_VG_SUMMARY=FILE (scripts/test.sh): one line per test, printed at the end of the pass.
  [ -n "${SC_VG_SUMMARY:-}" ] && printf '%-28s %4d processes under memcheck, %d with errors, %d s\n' \
    "$(basename "$0" .sh)" "$n" "$bad" "$SECONDS" >>"$SC_VG_SUMMARY"
  return 0
}

finish() {
  [ "$SC_VALGRIND" = 1 ] && vg_finish
  # A TPM variant that never made a TPM store would pass for the soft backend's sake only.
  if [ "$SC_BACKEND" = tpm ] && [ -z "$(find "$T" -name root.tpm -print -quit 2>/dev/null)" ]; then
    fail "SC_BACKEND=tpm, but no TPM store was made"
  fi
  echo "$PASS passed, $FAIL failed"
  [ "$FAIL" -eq 0 ]
}
