#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The systemd units (dist/systemd, as built into build/dist/systemd), run the way systemd runs
# them when systemd is not running here: each unit's exact ExecStart line (its %i, its
# EnvironmentFile variables, its StateDirectory/RuntimeDirectory made first), a clean environment
# as systemd gives (PATH, NOTIFY_SOCKET, JOURNAL_STREAM), as an unprivileged user when we are
# root. Checked: Type=notify readiness (READY=1 on a real notify socket), SIGHUP never kills
# (spd ignores it; provd and the agent restart in place, same pid, READY=1 again; a bad policy is
# refused and the old one kept), journald priorities, the socket's mode, SIGTERM exits 0; and
# systemd-analyze verify/security on every unit where it runs.
# Not under valgrind (skipped, 77; ci17): the daemons restart themselves through /proc/self/exe,
# so they never ran under it, and memcheck watched only the CLI's set-up and one `device info`
# (sp init, mfr init, net init, net server-cert, mfr personalize, net device add), each of which
# test_pkg_cli runs under memcheck; the rest of the run repeated the debug pass's.
if [ "${SC_VALGRIND:-0}" = 1 ]; then
  echo "SC_VALGRIND=1: the daemons never run under valgrind here, the CLI's set-up is memchecked in test_pkg_cli; skipped"
  exit 77
fi
source "$SC_TESTLIB"
source "$(dirname "$SC_TESTLIB")/lib-provd.sh"
: "${SC_UNIT_DIR:?set SC_UNIT_DIR to the built units (build/dist/systemd)}"

ROOT=$T/root  # every absolute path of a unit, other than our programs, lives under here
UNIT_PIDS=()
trap 'for p in "${UNIT_PIDS[@]}"; do kill "$p" 2>/dev/null; done; kill "$NPID" 2>/dev/null; provd_cleanup' EXIT

# The notification socket systemd would listen on: every datagram, one line each, in $T/notify.
python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
import os; os.chmod(sys.argv[1], 0o777)
with open(sys.argv[2], "a", buffering=1) as out:
    while True:
        out.write(s.recv(4096).decode().replace("\n", " ") + "\n")
' "$T/notify.sock" "$T/notify" &
NPID=$!
for _ in $(seq 1 100); do [ -S "$T/notify.sock" ] && break; sleep 0.05; done

# Run as systemd would run User=: an unprivileged account when we are root (nobody), else us.
AS=()
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
  AS=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
  chmod 0711 "$T"
fi
own() { [ ${#AS[@]} -eq 0 ] || chown -R nobody:nogroup "$@"; }

# unit_key FILE KEY: the values of KEY= in FILE, one per line.
unit_key() { sed -n "s/^$2=//p" "$1"; }

# map WORD: our program for /…/selfcert-*, $ROOT/… for any other absolute path.
map() {
  case "$1" in
  */selfcert-spd) echo "$SELFCERT_SPD" ;;
  */selfcert-provd) echo "$SELFCERT_PROVD" ;;
  */selfcert-agent) echo "$SELFCERT_AGENT" ;;
  /*) echo "$ROOT$1" ;;
  *) echo "$1" ;;
  esac
}

# unit_start UNIT INSTANCE LOG: make its directories, then run its ExecStart line; UPID is the pid.
unit_start() {
  local file=$SC_UNIT_DIR/$1 inst=$2 log=$3 line w v d words=() envf
  check "$1 exists" [ -f "$file" ]
  line=$(unit_key "$file" ExecStart | sed "s/%i/$inst/g")
  for d in $(unit_key "$file" StateDirectory | sed "s/%i/$inst/g"); do
    mkdir -p "$ROOT/var/lib/$d" && own "$ROOT/var/lib/$d"
  done
  for d in $(unit_key "$file" RuntimeDirectory | sed "s/%i/$inst/g"); do
    mkdir -p "$ROOT/run/$d" && own "$ROOT/run/$d"
    chmod "$(unit_key "$file" RuntimeDirectoryMode)" "$ROOT/run/$d"
  done
  # EnvironmentFile=-PATH: its variables, when the file is there.
  declare -A uenv=()
  for envf in $(unit_key "$file" EnvironmentFile | sed "s/%i/$inst/g; s/^-//"); do
    envf=$(map "$envf")
    [ -f "$envf" ] || continue
    while IFS='=' read -r w v; do uenv[$w]=${v//\"/}; done < <(grep -v '^#' "$envf")
  done
  for w in $line; do
    case "$w" in
    \$*) v=${uenv[${w#\$}]:-}; for d in $v; do words+=("$d"); done ;; # unquoted: split, dropped if empty
    *) words+=("$(map "$w")") ;;
    esac
  done
  : >"$log"
  # stderr into the log, JOURNAL_STREAM naming it as systemd names its journal socket.
  exec 9>>"$log"
  env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    NOTIFY_SOCKET="$T/notify.sock" JOURNAL_STREAM="$(stat -L -c '%d:%i' /dev/fd/9)" \
    LANG=C.UTF-8 "${AS[@]}" "${words[@]}" 2>&9 >&9 &
  UPID=$!
  exec 9>&-
  UNIT_PIDS+=("$UPID")
  echo "${words[*]}" >"$log.cmd"
}

# ready PID N: wait until the notify socket has had N READY=1 lines (from this test so far).
ready() {
  local want=$2
  for _ in $(seq 1 200); do
    [ "$(grep -c 'READY=1' "$T/notify" 2>/dev/null)" -ge "$want" ] && return 0
    kill -0 "$1" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}
alive() { kill -0 "$1" 2>/dev/null; }
stopped_ok() { kill -TERM "$1"; wait "$1"; }

# --- the unit files themselves ---
if command -v systemd-analyze >/dev/null; then
  for u in selfcert-spd@.service selfcert-agent@.service selfcert-provd.service; do
    # verify: only complaints about the programs and man pages not installed here are allowed.
    systemd-analyze verify "$SC_UNIT_DIR/$u" 2>&1 | grep -v -e 'is not executable' -e "Command 'man " >"$T/verify.out"
    check "$u: systemd-analyze verify is clean: $(head -c 300 "$T/verify.out")" [ ! -s "$T/verify.out" ]
    score=$(systemd-analyze security --offline=true "$SC_UNIT_DIR/$u" 2>/dev/null | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p')
    check "$u: exposure score measured ($score) and at most 2.5" awk -v s="$score" 'BEGIN { exit !(s != "" && s <= 2.5) }'
    echo "systemd-analyze security $u: $score"
  done
fi

# --- selfcert-spd@dev1 ---
mkdir -p "$ROOT/var/lib/selfcert/sp"
sc sp init --store "$ROOT/var/lib/selfcert/sp/dev1" --device-id ACME-0001 >/dev/null
unit_start selfcert-spd@.service dev1 "$T/spd.log"
SPD=$UPID
SOCK=$ROOT/run/selfcert-sp/dev1/sp.sock
check "spd: READY=1 ($(tail -n 2 "$T/spd.log"))" ready "$SPD" 1
check "spd: socket is 0660" [ "$(stat -c %a "$SOCK")" = 660 ]
check "spd: its folder is 0750 (RuntimeDirectoryMode)" [ "$(stat -c %a "$(dirname "$SOCK")")" = 750 ]
check "spd: journald priority on its lines" grep -q '^<6>selfcert-spd: serving' "$T/spd.log"
kill -HUP "$SPD"
sleep 0.3
check "spd: alive after SIGHUP" alive "$SPD"
# The SP, personalized through the unit's socket (as nobody's peer only root and nobody pass).
ok "spd: answers after SIGHUP" sc device info --sp "$SOCK"
provd_world testnet || exit 1
ok "personalize through the unit's socket" sc mfr personalize --dir "$T/mfr" --sp "$SOCK" \
  --out "$T/dev1-certs" --net-root "$T/net/root.pem" --network-id testnet
own "$T/dev1-certs"

# --- selfcert-provd, configured by its file ---
CONF=$(map "$(unit_key "$SC_UNIT_DIR/selfcert-provd.service" ExecStart | sed 's/.*--config \([^ ]*\).*/\1/')")
mkdir -p "$(dirname "$CONF")"
echo '{"validity": "1h"}' >"$T/policy.json"
cat >"$CONF" <<EOF
# the test's provd.conf
db = $ROOT/var/lib/selfcert/provd/registry.db
net-dir = $T/net
mfr-root = $T/mfr/root.pem
listen = 127.0.0.1:0
tls-cert = $T/net/server.pem
tls-key = $T/net/server.key
policy = $T/policy.json
admin-token-file = $T/token
port-file = $ROOT/var/lib/selfcert/provd/port
EOF
mkdir -p "$ROOT/var/lib/selfcert/provd"
sc net device add --db "$ROOT/var/lib/selfcert/provd/registry.db" --device-id ACME-0001 >/dev/null
own "$T/net" "$T/mfr" "$T/token" "$T/policy.json" "$ROOT/var/lib/selfcert/provd"
before=$(grep -c READY=1 "$T/notify")
unit_start selfcert-provd.service "" "$T/provd.log"
PROVD=$UPID
check "provd: READY=1 ($(tail -n 2 "$T/provd.log"))" ready "$PROVD" $((before + 1))
url() { echo "https://127.0.0.1:$(cat "$ROOT/var/lib/selfcert/provd/port")"; }
ok "provd: /healthz" curl -sf --cacert "$T/net/root.pem" "$(url)/healthz"
check "provd: the file's policy (validity 1h)" grep -q 'validity 3600s' "$T/provd.log"
# SIGHUP with a broken policy: refused by name, old configuration kept, same process.
echo '{"validity": ' >"$T/policy.json"
kill -HUP "$PROVD"
# Until the refusal is logged (a fixed 0.5 s was all a loaded machine had for it), bounded.
for _ in $(seq 1 200); do grep -q "reload refused" "$T/provd.log" && break; sleep 0.05; done
check "provd: alive after a refused reload" alive "$PROVD"
check "provd: the refusal names the policy file" grep -q "^<3>selfcert-provd: usage: SIGHUP: reload refused.*policy.json:2: " "$T/provd.log"
ok "provd: still serving" curl -sf --cacert "$T/net/root.pem" "$(url)/healthz"
# SIGHUP with a good one: RELOADING=1, then READY=1 from the restarted image, same pid.
echo '{"validity": "2h"}' >"$T/policy.json"
before=$(grep -c READY=1 "$T/notify")
kill -HUP "$PROVD"
check "provd: READY=1 again after SIGHUP" ready "$PROVD" $((before + 1))
check "provd: RELOADING=1 sent" grep -q RELOADING=1 "$T/notify"
check "provd: same pid after the reload" alive "$PROVD"
check "provd: the new policy (validity 2h)" grep -q 'validity 7200s' "$T/provd.log"
ok "provd: serving after the reload" curl -sf --cacert "$T/net/root.pem" "$(url)/healthz"

# --- selfcert-agent@dev1, its shared agent.conf plus the unit's own --sp and --certs ---
ACONF=$(map "$(unit_key "$SC_UNIT_DIR/selfcert-agent@.service" ExecStart | sed 's/.*--config \([^ ]*\).*/\1/')")
cat >"$ACONF" <<EOF
server = $(url)
ca = $T/net/root.pem
device-dir = $T/dev1-certs
EOF
before=$(grep -c READY=1 "$T/notify")
unit_start selfcert-agent@.service dev1 "$T/agent.log"
AGENT=$UPID
check "agent: READY=1 ($(tail -n 2 "$T/agent.log"))" ready "$AGENT" $((before + 1))
LEAF=$ROOT/var/lib/selfcert/agent/dev1/leaf.pem
for _ in $(seq 1 200); do [ -s "$LEAF" ] && break; sleep 0.05; done
check "agent: enrolled through the units ($(tail -n 2 "$T/agent.log"))" [ -s "$LEAF" ]
before=$(grep -c READY=1 "$T/notify")
kill -HUP "$AGENT"
check "agent: READY=1 again after SIGHUP" ready "$AGENT" $((before + 1))
check "agent: says why it restarted" grep -q 'SIGHUP: restarting' "$T/agent.log"
check "agent: same pid" alive "$AGENT"

check "agent: SIGTERM exits 0" stopped_ok "$AGENT"
check "provd: SIGTERM exits 0" stopped_ok "$PROVD"
check "spd: SIGTERM exits 0" stopped_ok "$SPD"
check "spd: its socket removed" [ ! -e "$SOCK" ]
finish
