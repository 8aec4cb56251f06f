#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The crash matrix: every request that commits (factory keygen, install cert, install anchor,
# set limits, lock; issue; delete) x every fail point its commit passes (each write, each fsync,
# the rename and the folder fsync, of the store and of the counter; and "all durable, not yet
# answered"). Each cell starts from a copy of the state before the request:
#   exit mode:  the daemon stops at the point (_exit 70) while serving the request; restarted
#               without a fail point it must hold EXACTLY the old state (stopped before the
#               store's rename) or EXACTLY the new one (after it), compared as `device info
#               --json`, `device keys` and a dump of every sealed field. A stop between the
#               store's rename and the counter's update is then repeated at every step of the
#               roll-forward that the next start-up performs.
#   error mode: the step fails instead (SC_ERR_IO): the client gets `io`, the running daemon
#               still shows the old state, and the request sent again to it succeeds (the
#               next commit reuses the counter the failed one may have put on disk); had the
#               daemon died after the failure instead, the disk holds the old state, or the new
#               one when the failure came after the rename (the documented window), and the
#               request sent again ends in the new state or the documented refusal.
# Every certificate that left the SP earlier keeps a key that signs what it verifies; a new key
# that became visible signs too. Keys are p256 to keep the run short.
SC_VG_BINS="SELFCERT_SPD"   # under valgrind (lib.sh); the CLI runs there in other tests
source "$SC_TESTLIB"
source "${SC_FAULTS_LIB:?}"

# A release build holds no fail point code: check that (the SP, and the agent whose test hooks
# are fail points too), and report the matrix as skipped.
if [ "${SC_FAILPOINTS:-ON}" != ON ]; then
  if grep -a -q -e SELFCERT_SPD_FAILPOINT -e store-dirsync -e commit-done "$SELFCERT_SPD"; then
    fail "SC_FAILPOINTS=OFF but $SELFCERT_SPD contains fail point code"
    finish
    exit 1
  fi
  if [ -n "${SELFCERT_AGENT:-}" ] && grep -a -q -e SELFCERT_AGENT_FAILPOINT -e after-ack-received \
      -e 'fail point' -e test-crash-at "$SELFCERT_AGENT"; then
    fail "SC_FAILPOINTS=OFF but $SELFCERT_AGENT contains fail point code"
    finish
    exit 1
  fi
  echo "fail points not compiled in (SC_FAILPOINTS=OFF): the binaries hold none; matrix skipped"
  exit 77
fi
# A development build has them in both (the check above is not vacuous).
if [ -n "${SELFCERT_AGENT:-}" ]; then
  check "the agent's fail points are compiled in" grep -a -q SELFCERT_AGENT_FAILPOINT "$SELFCERT_AGENT"
fi

START=$SECONDS
OLD_POINTS="store-open store-write store-fsync store-rename"   # stops before the store's rename
# A commit replaces the store, then writes the counter's next slot in place (counter-write,
# counter-fsync): a stop before that write leaves the store new and the counter old; a stop
# before its fsync leaves the write in the page cache (what a crash of the process keeps).
ROLL_POINTS="counter-write"  # store new, counter old
ALL_POINTS="store-open store-write store-fsync store-rename store-dirsync counter-write
  counter-fsync commit-done"
# The replace of the counter (sp init, the roll-forward at start, and the first commit on an
# older store's 8-byte counter) passes all five.
REPLACE_POINTS="counter-open counter-write counter-fsync counter-rename counter-dirsync"
SOCK=$T/w.sock
LOG=$T/spd.log
mkdir -p "$T/views" "$T/ref" "$T/cell"

sc mfr init --dir "$T/mfr" >/dev/null || exit 1
sc net init --dir "$T/net" --network-id net-a >/dev/null || exit 1
sc sp init --store "$T/st-start" --device-id FAULT-0001 >/dev/null || exit 1

# A misspelled fail point must stop the daemon from starting, not silently inject nothing.
fspd_start "$T/st-start" "$SOCK" "$LOG" "store-renam:1"
rc=$?
check "unknown fail point: the daemon does not serve" [ "$rc" -eq 1 ]
check "unknown fail point: exit 1" [ "${FSPD_RC:-0}" = 1 ]
check "unknown fail point named" grep -q "^selfcert-spd: usage: SELFCERT_SPD_FAILPOINT: unknown fail point 'store-renam'" "$LOG.cur"

# run_req REQ SOCK OUTDIR: send one request. Outputs (a certificate made from a CSR, a leaf
# certificate) go to OUTDIR; inputs come from the reference run in $T/ref.
run_req() {
  local req=$1 sock=$2 out=$3
  case $req in
    keygen-csk)  "$SC_FAULTS" keygen "$sock" csk p256 "$T/mfr" "$out/csk.pem" ;;
    install-csk) "$SC_FAULTS" install-cert "$sock" csk "$T/ref/csk.pem" ;;
    keygen-kek)  "$SC_FAULTS" keygen "$sock" kek p256 "$T/mfr" "$out/kek.pem" ;;
    install-kek) "$SC_FAULTS" install-cert "$sock" kek "$T/ref/kek.pem" ;;
    anchor)      "$SC_FAULTS" install-anchor "$sock" net-a "$T/net/root.pem" ;;
    limits)      "$SC_FAULTS" set-limits "$sock" 30 16 ;;
    lock)        "$SC_FAULTS" lock "$sock" ;;
    issue-l1)    sc device issue --sp "$sock" --profile "$T/p1.der" --out "$out/l1.pem" ;;
    issue)       sc device issue --sp "$sock" --profile "$T/p2.der" --out "$out/l2.pem" ;;
    delete)      sc device delete --sp "$sock" --key 1 ;;
  esac
}

# What a retry after an injected error must answer when the new state is already on disk.
retry_answer_when_new() {
  case $1 in
    anchor) echo exists ;; lock) echo locked ;; issue) echo replay ;; delete) echo no-key ;;
    *) echo ok ;;
  esac
}

# mask REQ: hide what the request makes at random (a fresh key pair, a fresh leaf), so two runs
# of it compare equal; everything else, counters included, must match exactly.
mask() {
  case $1 in
    keygen-csk) sed -E 's/^csk (p256) [0-9a-f]{64}$/csk \1 */' ;;
    keygen-kek) sed -E 's/^kek (p256) [0-9a-f]{64}$/kek \1 */' ;;
    issue)      sed -E 's/^slot 2 (p256) [0-9a-f]{64} [0-9a-f]{64}$/slot 2 \1 * */' ;;
    *)          cat ;;
  esac
}

# views DIR NAME: info --json and keys from a daemon on DIR (started here), then the dump.
# Under valgrind that daemon is native (VIEW_SPD) for every state but the last: the reference
# run's next memchecked daemon starts on a copy of the same state.
VIEW_SPD=$SELFCERT_SPD
[ "$SC_VALGRIND" = 1 ] && VIEW_SPD=$SELFCERT_SPD_NATIVE
views() {
  local dir=$1 name=$2
  FSPD_BIN=$VIEW_SPD fspd_start "$dir" "$SOCK" "$LOG" || { echo "daemon on $dir did not serve" >&2; return 1; }
  sc device info --sp "$SOCK" --json >"$T/views/$name.info" 2>&1
  sc device keys --sp "$SOCK" >"$T/views/$name.keys" 2>&1
  fspd_stop
  mkdir -p "$T/views/$name-certs"
  "$SC_FAULTS" dump "$dir" "$T/views/$name-certs" >"$T/views/$name.dump"
}

# ---- the reference run: each request once, from the state the previous one left, traced ----
REQS="keygen-csk install-csk keygen-kek install-kek anchor limits lock issue-l1 issue delete"
declare -A BEFORE
prev=st-start
views "$T/$prev" "$prev" || exit 1
for req in $REQS; do
  BEFORE[$req]=$prev
  cp -a "$T/$prev" "$T/st-$req"
  fspd_start "$T/st-$req" "$SOCK" "$LOG" trace || { fail "reference $req: daemon did not serve"; finish; exit 1; }
  run_req "$req" "$SOCK" "$T/ref" >/dev/null 2>"$T/.err" || fail "reference $req: $(cat "$T/.err")"
  fspd_stop
  [ "$req" = delete ] && VIEW_SPD=$SELFCERT_SPD   # the last state: no daemon loads it after this
  sed -n 's/^selfcert-spd: fail point \([a-z-]*\) #\([0-9]*\)$/\1 \2/p' "$LOG.cur" >"$T/hits-$req"
  for p in $ALL_POINTS; do
    grep -q "^$p " "$T/hits-$req" || fail "reference $req: its commit never passed fail point $p"
  done
  views "$T/st-$req" "st-$req" || exit 1
  if [ "$req" = install-csk ]; then
    for i in 1 2; do
      sc net profile --dir "$T/net" --device-ca "$T/ref/csk.pem" --validity 1d \
        --out "$T/p$i.der" >/dev/null || exit 1
    done
  fi
  prev=st-$req
done
check "reference: locked, two keys issued, one deleted" \
  grep -q '"state":"locked".*"keys":1,' "$T/views/st-delete.info"
[ "$FAIL" -eq 0 ] || { finish; exit 1; }

# delivered REQ: "handle cert" of every leaf whose certificate left the SP before REQ.
delivered() {
  case $1 in
    issue)  echo "1 $T/ref/l1.pem" ;;
    delete) echo "1 $T/ref/l1.pem"; echo "2 $T/ref/l2.pem" ;;
  esac
}

# judge REQ DIR DESC EXPECT: restart on DIR and decide old/new (EXPECT: old|new) from the
# dump of every sealed field, then require the CLI's views of that same state; also checks
# temp files, the delivered leaves and a new key's use. Leaves the daemon stopped.
N_OLD=0
N_NEW=0
judge() {
  local req=$1 dir=$2 desc=$3 expect=$4 before=${BEFORE[$1]} got=none h c
  if ! fspd_start "$dir" "$SOCK" "$LOG"; then
    fail "$desc: no start after the fault: $(tail -n 1 "$LOG.cur")"
    return
  fi
  check "$desc: temp files removed at start" no_temp_files "$dir"
  sc device info --sp "$SOCK" --json >"$T/.info" 2>&1
  sc device keys --sp "$SOCK" >"$T/.keys" 2>&1
  # The dump reads a scratch copy: safe beside the idle daemon.
  rm -rf "$T/cell-certs"
  mkdir -p "$T/cell-certs"
  "$SC_FAULTS" dump "$dir" "$T/cell-certs" >"$T/.dump" 2>&1
  if cmp -s "$T/.dump" "$T/views/$before.dump"; then
    got=old
    check "$desc: old state (info)" same_file "$T/.info" "$T/views/$before.info"
    check "$desc: old state (keys)" same_file "$T/.keys" "$T/views/$before.keys"
  elif cmp -s <(mask "$req" <"$T/.dump") <(mask "$req" <"$T/views/st-$req.dump"); then
    got=new
    check "$desc: new state (info)" same_file "$T/.info" "$T/views/st-$req.info"
    check "$desc: new state (keys)" same_file "$T/.keys" "$T/views/st-$req.keys"
  else
    diff "$T/.dump" "$T/views/st-$req.dump" | head -n 6 >&2
    fail "$desc: the state is neither exactly the old nor exactly the new one"
    fspd_stop
    return
  fi
  [ "$got" = old ] && N_OLD=$((N_OLD + 1)) || N_NEW=$((N_NEW + 1))
  check "$desc: $got state, expected $expect" [ "$got" = "$expect" ]
  # Every certificate that left the SP earlier still has its key (unless this very request
  # deleted it and the deletion is what got committed).
  while read -r h c; do
    [ -n "$h" ] || continue
    if [ "$req" = delete ] && [ "$h" = 1 ] && [ "$got" = new ]; then continue; fi
    check "$desc: delivered key $h signs for its certificate" leaf_signs "$SOCK" "$h" "$c"
  done < <(delivered "$req")
  if [ "$req" = issue ] && [ "$got" = new ]; then
    # The new key became visible although its certificate never reached the client: usable.
    check "$desc: the new key 2 signs for its certificate" leaf_signs "$SOCK" 2 "$T/cell-certs/2.pem"
  fi
  fspd_stop
}

# The requests whose commits are stopped and failed. Under valgrind (SC_VG_SMALL), where each
# daemon start costs seconds, only `issue`: the one a device makes in the field; the reference
# run above still passes every request through every point.
CELL_REQS="keygen-csk install-csk keygen-kek install-kek anchor limits lock issue delete"
[ "$SC_VG_SMALL" = 1 ] && CELL_REQS=issue
# vg_cell POINT: whether a cell at POINT runs; under valgrind one point of each kind: before the
# store's rename (old), after it (new), between it and the counter's (roll-forward), the end.
vg_cell() { [ "$SC_VG_SMALL" != 1 ] || [[ " store-write store-dirsync counter-write commit-done " == *" $1 "* ]]; }

# ---- exit mode: a stop at every point of every commit, then the restart ----
# Under valgrind the daemons that stop at a point (STOP_SPD) are native: each runs a prefix of
# a commit, or of the roll-forward at start, that a memchecked daemon runs in full (the reference
# run above; judge's restart, which rolls forward), and then _exits. Every restart that judges
# the state after a stop runs under memcheck, and so does the error mode below but for one
# judge per cell (see there).
STOP_SPD=$SELFCERT_SPD
[ "$SC_VALGRIND" = 1 ] && STOP_SPD=$SELFCERT_SPD_NATIVE
N_STOPS=0
N_RECOVERY_STOPS=0
N_CELLS=0
for req in $CELL_REQS; do
  while read -r point nth; do
    vg_cell "$point" || continue
    desc="$req, stop at $point #$nth"
    W=$T/w-exit
    rm -rf "$W" "$T/cell"/*
    cp -a "$T/${BEFORE[$req]}" "$W"
    N_CELLS=$((N_CELLS + 1))
    if ! FSPD_BIN=$STOP_SPD fspd_start "$W" "$SOCK" "$LOG" "$point:$nth"; then
      fail "$desc: daemon did not serve"
      continue
    fi
    run_req "$req" "$SOCK" "$T/cell" >/dev/null 2>"$T/.err"
    rc=$?
    fspd_wait_exit || fail "$desc: the daemon did not stop at the point"
    check "$desc: the request failed (exit $rc)" [ "$rc" -ne 0 ]
    check "$desc: the daemon stopped at the point (exit $FSPD_RC)" [ "$FSPD_RC" = 70 ]
    grep -q "fail point $point #$nth: stopping" "$LOG.cur" && N_STOPS=$((N_STOPS + 1))
    check "$desc: no certificate reached the client" [ ! -e "$T/cell/l2.pem" ]
    expect=new
    [[ " $OLD_POINTS " == *" $point "* ]] && expect=old
    if [[ " $ROLL_POINTS " == *" $point "* ]]; then
      # The store is renamed, the counter not: the next start rolls it forward. Stop that
      # start at each of its steps in turn; the state must survive all of them.
      for rp in $REPLACE_POINTS; do
        FSPD_BIN=$STOP_SPD fspd_start "$W" "$SOCK" "$LOG" "$rp:1"
        if [ $? -eq 1 ] && [ "$FSPD_RC" = 70 ]; then
          N_RECOVERY_STOPS=$((N_RECOVERY_STOPS + 1))
          pass
        else
          fspd_stop
          fail "$desc: the roll-forward at start did not pass $rp"
        fi
      done
    fi
    judge "$req" "$W" "$desc" "$expect"
  done <"$T/hits-$req"
done
echo "exit mode: $N_CELLS cells, $N_STOPS stops inside commits + $N_RECOVERY_STOPS inside the roll-forward at start = $((N_STOPS + N_RECOVERY_STOPS)) injected stops; after restart $N_OLD old, $N_NEW new"
EXIT_OLD=$N_OLD
EXIT_NEW=$N_NEW

# ---- error mode: the step fails, the daemon lives on ----
N_OLD=0
N_NEW=0
N_ERRORS=0
for req in $CELL_REQS; do
  before=${BEFORE[$req]}
  while read -r point nth; do
    vg_cell "$point" || continue
    desc="$req, error at $point #$nth"
    W=$T/w-error
    W2=$T/w-error-disk
    rm -rf "$W" "$W2" "$T/cell"/*
    cp -a "$T/$before" "$W"
    if ! fspd_start "$W" "$SOCK" "$LOG" "$point:$nth:error"; then
      fail "$desc: daemon did not serve"
      continue
    fi
    run_req "$req" "$SOCK" "$T/cell" >/dev/null 2>"$T/.err"
    rc=$?
    check "$desc: the client is told io (exit $rc: $(head -c 200 "$T/.err"))" \
      grep -q -E "^(selfcert|sc-faults): io: fail point $point #$nth: injected error" "$T/.err"
    grep -q "injected error" "$T/.err" && N_ERRORS=$((N_ERRORS + 1))
    # The failed request changed nothing in the running SP.
    sc device info --sp "$SOCK" --json >"$T/.info" 2>&1
    sc device keys --sp "$SOCK" >"$T/.keys" 2>&1
    check "$desc: memory unchanged (info)" same_file "$T/.info" "$T/views/$before.info"
    check "$desc: memory unchanged (keys)" same_file "$T/.keys" "$T/views/$before.keys"
    # What the disk holds now, for the case that the daemon dies next (copied beside the idle
    # daemon: every file in place is complete).
    cp -a "$W" "$W2"
    # Sent again to the same daemon: accepted, and committed with the same counter + 1 that
    # the failed commit may already have put on disk (which would otherwise read as damage).
    run_req "$req" "$SOCK" "$T/cell" >/dev/null 2>"$T/.err"
    check "$desc: the retry on the same daemon succeeds ($(head -c 200 "$T/.err"))" [ $? -eq 0 ]
    fspd_stop
    check "$desc: orderly stop" [ "$FSPD_RC" = 0 ]
    # (Native under valgrind: a clean new state that a memchecked daemon just committed and
    # stopped on; loading such a state runs under memcheck in the exit mode's judges.)
    FSPD_BIN=$STOP_SPD judge "$req" "$W" "$desc, retried" new
    # The daemon died after the failure instead: the disk holds the old state, or the new one
    # when the failure came after the rename (the client was told io: the documented window).
    expect=new
    [[ " $OLD_POINTS " == *" $point "* ]] && expect=old
    judge "$req" "$W2" "$desc, then a restart" "$expect"
    # Sent again after that restart: done now, or, the new state being there, the documented
    # answer (a profile that was committed is a replay, and so on).
    want=ok
    [ "$expect" = new ] && want=$(retry_answer_when_new "$req")
    fspd_start "$W2" "$SOCK" "$LOG" || { fail "$desc: restart for the retry"; continue; }
    run_req "$req" "$SOCK" "$T/cell" >/dev/null 2>"$T/.err"
    rc=$?
    if [ "$want" = ok ]; then
      check "$desc: the retry after the restart succeeds (exit $rc: $(head -c 200 "$T/.err"))" [ "$rc" -eq 0 ]
    else
      check "$desc: the retry after the restart is refused as $want ($(head -c 200 "$T/.err"))" \
        grep -q "^\(selfcert\|sc-faults\): $want: " "$T/.err"
    fi
    sc device info --sp "$SOCK" --json >"$T/.info" 2>&1
    sc device keys --sp "$SOCK" >"$T/.keys" 2>&1
    fspd_stop
    check "$desc: after the retry, the new state (info)" same_file "$T/.info" "$T/views/st-$req.info"
    check "$desc: after the retry, the new state (keys)" same_file "$T/.keys" "$T/views/st-$req.keys"
    # A retry that committed once more advanced the counters; all else equals the new state.
    "$SC_FAULTS" dump "$W2" >"$T/.dump" 2>&1
    check "$desc: after the retry, the new state (dump)" same_file \
      <(mask "$req" <"$T/.dump" | grep -v -e '^counter-file ' -e '^store-counter ') \
      <(mask "$req" <"$T/views/st-$req.dump" | grep -v -e '^counter-file ' -e '^store-counter ')
  done <"$T/hits-$req"
done
echo "error mode: $N_ERRORS injected errors; each retried on the same daemon (new state), and, from the disk as the failure left it, restarted: $((N_OLD)) old, $((N_NEW - N_ERRORS)) new (new: the client was told io after the rename)"
# ---- an older store's 8-byte counter: the first commit replaces it with the two-slot form; a
# stop at each step of that replace (the store already renamed) ends in the new state ----
old_counter() {  # old_counter DIR: DIR/counter in the 8-byte form, same value
  local v hex i
  v=$("$SC_FAULTS" dump "$1" | sed -n 's/^counter-file //p')
  hex=$(printf '%016x' "$v")
  for i in 0 2 4 6 8 10 12 14; do printf "\\x${hex:$i:2}"; done >"$1/counter"
}
N_CONV=0
before=${BEFORE[issue]}
W=$T/w-old
rm -rf "$W" "$T/cell"/*
cp -a "$T/$before" "$W"
old_counter "$W"
check "an older store's counter: 8 bytes" [ "$(stat -c %s "$W/counter")" = 8 ]
fspd_start "$W" "$SOCK" "$LOG" trace || fail "older counter: daemon did not serve"
run_req issue "$SOCK" "$T/cell" >/dev/null 2>"$T/.err" || fail "older counter: issue: $(cat "$T/.err")"
fspd_stop
for p in $REPLACE_POINTS; do
  check "older counter: the first commit replaces the counter ($p)" \
    grep -q "^selfcert-spd: fail point $p #1$" "$LOG.cur"
done
check "older counter: now in the two-slot form" [ "$(stat -c %s "$W/counter")" = 4112 ]
judge issue "$W" "older counter, converted" new
for p in $REPLACE_POINTS; do
  vg_cell "$p" || [ "$p" = counter-rename ] || continue
  desc="older counter: issue, stop at $p #1"
  rm -rf "$W" "$T/cell"/*
  cp -a "$T/$before" "$W"
  old_counter "$W"
  if ! FSPD_BIN=$STOP_SPD fspd_start "$W" "$SOCK" "$LOG" "$p:1"; then
    fail "$desc: daemon did not serve"
    continue
  fi
  run_req issue "$SOCK" "$T/cell" >/dev/null 2>"$T/.err"
  fspd_wait_exit || fail "$desc: the daemon did not stop at the point"
  check "$desc: the daemon stopped at the point (exit $FSPD_RC)" [ "$FSPD_RC" = 70 ]
  N_CONV=$((N_CONV + 1))
  judge issue "$W" "$desc" new
  check "$desc: the counter is in the two-slot form after the restart" \
    [ "$(stat -c %s "$W/counter")" = 4112 ]
done
echo "older counter: converted by the first commit; $N_CONV stops inside the conversion"

# ---- sp init: a stop at each of its steps leaves a complete empty device or a folder that is
# refused (never a device that half works) and that `sp init` will not overwrite ----
N_INIT=0
env SELFCERT_SPD_FAILPOINT=trace "$SELFCERT_SPD" --init --store "$T/init-trace" --device-id FAULT-0002 \
  2>"$T/init-trace.log" || fail "sp init traced"
while read -r point nth; do
  vg_cell "$point" || continue
  desc="sp init, stop at $point #$nth"
  I=$T/init-$point-$nth
  # (STOP_SPD: native under valgrind, a prefix of the traced init above, which ran under memcheck.)
  SELFCERT_SPD_FAILPOINT=$point:$nth "$STOP_SPD" --init --store "$I" --device-id FAULT-0002 2>/dev/null
  rc=$?
  check "$desc: stopped (exit $rc)" [ "$rc" = 70 ]
  N_INIT=$((N_INIT + 1))
  if [ "$point" = counter-dirsync ]; then
    # Everything was renamed into place: a complete, empty device.
    if fspd_start "$I" "$SOCK" "$LOG"; then
      check "$desc: an empty device" grep -q '"state":"empty","device_id":"FAULT-0002"' \
        <(sc device info --sp "$SOCK" --json)
      fspd_stop
    else
      fail "$desc: the complete device does not start: $(tail -n 1 "$LOG.cur")"
    fi
    continue
  fi
  fspd_start "$I" "$SOCK" "$LOG"
  rc=$?
  [ "$rc" -eq 0 ] && fspd_stop
  check "$desc: refused as store-damaged ($(tail -n 1 "$LOG.cur"))" \
    grep -q '^selfcert-spd: store-damaged: ' "$LOG.cur"
  rm -rf "$T/init-put"
  cp -a "$I" "$T/init-put"
  refused "$desc: sp init does not overwrite it" 3 exists sc sp init --store "$I" --device-id FAULT-0002
  check "$desc: the folder unchanged" diff -r "$I" "$T/init-put"
done < <(sed -n 's/^selfcert-spd: fail point \([a-z-]*\) #\([0-9]*\)$/\1 \2/p' "$T/init-trace.log")
if [ "$SC_VG_SMALL" = 1 ]; then
  check "sp init: a stop at each of the points chosen under valgrind" [ "$N_INIT" -ge 3 ]
else
  check "sp init passes every store and counter fail point" [ "$N_INIT" -ge 10 ]
fi
echo "sp init: $N_INIT stops, each a complete empty device or refused"

echo "crash matrix: $((N_STOPS + N_RECOVERY_STOPS + N_INIT)) injected stops ($EXIT_OLD old, $EXIT_NEW new; $N_INIT in sp init), $N_ERRORS injected errors, $FSPD_STARTS daemon starts in $((SECONDS - START)) s"
finish
