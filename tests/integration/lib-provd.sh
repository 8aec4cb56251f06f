# SPDX-License-Identifier: Apache-2.0
# lib-provd.sh — helpers for the provisioning server and agent tests, sourced after lib.sh:
# a manufacturer and a network with the server's TLS certificate, the real selfcert-provd on a
# loopback port (ephemeral, or the same one again after a restart, retried on collision), curl
# calls that assert the HTTP status and the JSON error code, devices and agents.
: "${SELFCERT_PROVD:?set SELFCERT_PROVD to the selfcert-provd binary}"
: "${SELFCERT_AGENT:?set SELFCERT_AGENT to the selfcert-agent binary}"

PROVD_PID=
PROVD_PORT=0
PROVD_URL=
PROVD_ARGS=()
PROVD_TOKEN=operator-token-for-tests-0123456789
AGENT_PIDS=()

provd_cleanup() {
  [ -n "$PROVD_PID" ] && kill "$PROVD_PID" 2>/dev/null
  for pid in "${AGENT_PIDS[@]}"; do kill -CONT "$pid" 2>/dev/null; kill "$pid" 2>/dev/null; done
  [ -n "${SC_PG_DIR:-}" ] && { [ "$FAIL" -eq 0 ] || cp "$SC_PG_DIR/pg.log" "$T/" 2>/dev/null; pg_cleanup; }
  cleanup
}
trap provd_cleanup EXIT

# The registry: REG_DB is what --db gets. SC_DB=pg (CTest's *_pg variants) puts it on a
# throw-away PostgreSQL server (lib-pg.sh) instead of the SQLite file $T/reg.db; ROWID is the
# column that orders rows of one second (SQLite's rowid, PostgreSQL's identity id).
REG_DB=$T/reg.db
ROWID=rowid
if [ "${SC_DB:-sqlite}" = pg ]; then
  . "$(dirname "${BASH_SOURCE[0]}")/lib-pg.sh"
  pg_up || exit $?
  REG_DB=$SC_PG_URI
  ROWID=id
fi

# provd_world [NETWORK-ID]: $T/mfr, $T/net (with server.pem/key for 127.0.0.1 and localhost),
# $T/reg.db (empty registry), $T/token (the operator's bearer token).
provd_world() {
  local id=${1:-testnet}
  NET_ID=$id
  sc mfr init --dir "$T/mfr" >/dev/null || return 1
  sc net init --dir "$T/net" --network-id "$id" >/dev/null || return 1
  sc net server-cert --dir "$T/net" --host 127.0.0.1 --host localhost >/dev/null || return 1
  printf '%s\n' "$PROVD_TOKEN" >"$T/token"
  chmod 600 "$T/token"
}

# start_provd [flags…]: the server on 127.0.0.1:$PROVD_PORT (0 the first time: the kernel picks;
# later the same port again, retried while another process holds it). Waits for /healthz.
# The flags are remembered for restarts (restart_provd).
start_provd() {
  [ $# -gt 0 ] && PROVD_ARGS=("$@")
  local try
  for try in 1 2 3 4 5 6 7 8 9 10; do
    rm -f "$T/provd.port"
    "$SELFCERT_PROVD" --db "$REG_DB" --net-dir "$T/net" --mfr-root "$T/mfr/root.pem" \
      --listen "127.0.0.1:$PROVD_PORT" --tls-cert "$T/net/server.pem" --tls-key "$T/net/server.key" \
      --admin-token-file "$T/token" --port-file "$T/provd.port" "${PROVD_ARGS[@]}" 2>>"$T/provd.log" &
    PROVD_PID=$!
    local _
    for _ in $(seq 1 "$SC_VG_WAIT"); do
      [ -s "$T/provd.port" ] && break
      kill -0 "$PROVD_PID" 2>/dev/null || break
      sleep 0.05
    done
    if [ -s "$T/provd.port" ]; then
      PROVD_PORT=$(cat "$T/provd.port")
      PROVD_URL="https://127.0.0.1:$PROVD_PORT"
      for _ in $(seq 1 "$SC_VG_WAIT"); do
        if curl -sf --cacert "$T/net/root.pem" "$PROVD_URL/healthz" >/dev/null 2>&1; then return 0; fi
        sleep 0.05
      done
      echo "selfcert-provd does not answer /healthz" >&2
      return 1
    fi
    wait "$PROVD_PID" 2>/dev/null
    PROVD_PID=
    # The port is taken (a restart after SIGKILL can race another process): wait and retry.
    tail -n 1 "$T/provd.log" >&2
    sleep 0.5
  done
  echo "selfcert-provd did not start: $(tail -n 3 "$T/provd.log")" >&2
  return 1
}

stop_provd() {
  [ -n "$PROVD_PID" ] || return 0
  kill "$PROVD_PID" 2>/dev/null
  wait "$PROVD_PID" 2>/dev/null
  local rc=$?
  PROVD_PID=
  return $rc
}

kill9_provd() {
  [ -n "$PROVD_PID" ] || return 0
  kill -9 "$PROVD_PID" 2>/dev/null
  wait "$PROVD_PID" 2>/dev/null
  PROVD_PID=
}

# api METHOD PATH [curl args…]: one HTTPS call; the body goes to $T/.api, the status to $HTTP.
api() {
  local method=$1 path=$2; shift 2
  HTTP=$(curl -sS --cacert "$T/net/root.pem" -o "$T/.api" -w '%{http_code}' -X "$method" "$@" \
    "$PROVD_URL$path" 2>"$T/.curl") || HTTP=000
}

# scrape: provd's connection and TLS handshake counters (GET /metrics) into CONNS, FULL and
# RESUMED. The scrape is a connection of its own, a full handshake (curl's command line keeps no
# session): it is in the figures it reads, for the callers to take off.
scrape() {
  api GET /metrics
  FULL=$(sed -n 's/^selfcert_provd_tls_handshakes_total{kind="full"} \([0-9]*\)$/\1/p' "$T/.api")
  RESUMED=$(sed -n 's/^selfcert_provd_tls_handshakes_total{kind="resumed"} \([0-9]*\)$/\1/p' "$T/.api")
  CONNS=$(sed -n 's/^selfcert_provd_connections_total \([0-9]*\)$/\1/p' "$T/.api")
}

# api_json METHOD PATH JSON-FILE [curl args…]: POST/… a file as application/json.
api_json() {
  local method=$1 path=$2 file=$3; shift 3
  api "$method" "$path" -H 'Content-Type: application/json' --data-binary "@$file" "$@"
}

# api_is DESC STATUS [CODE]: the last call answered STATUS (and, for errors, {"error":"CODE",…}).
api_is() {
  local desc=$1 want=$2 code=${3:-}
  if [ "$HTTP" != "$want" ]; then
    fail "$desc: HTTP $HTTP, expected $want — $(head -c 300 "$T/.api" 2>/dev/null) $(head -c 200 "$T/.curl")"
  elif [ -n "$code" ] && ! grep -q "^{\"error\":\"$code\",\"detail\":\"" "$T/.api"; then
    fail "$desc: answer $(head -c 300 "$T/.api"), expected error \"$code\""
  else
    pass
  fi
}

# json_field KEY < file: the string value of a top-level key in our compact JSON.
json_field() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p" | head -n 1; }

# provd_device NAME ID [personalize flags…]: an SP personalized for the network (p256 CSK and
# KEK unless given), with its certificates in $T/NAME-certs.
provd_device() {
  local name=$1 id=$2; shift 2
  new_device "$name" "$id" "${CSK_ALG:-p256}" "${KEX_ALG:-p256}" --net-root "$T/net/root.pem" \
    --network-id "$NET_ID" "$@"
}

# agent NAME [flags…]: one run of the agent for device NAME (certificates in $T/NAME-out).
# --grace 0: these tests count keys right after a renewal (a later --grace wins).
agent() {
  local name=$1; shift
  "$SELFCERT_AGENT" --sp "$T/$name.sock" --certs "$T/$name-out" --device-dir "$T/$name-certs" \
    --server "$PROVD_URL" --ca "$T/net/root.pem" --grace 0 "$@"
}

# agent_bg NAME OUT ERR [flags…]: the agent in the background (APID is its own pid, so that a
# test can see it stop itself and continue it). In a session of its own (setsid execs it, same
# pid): a stopped agent in the test's process group is continued by the kernel (SIGHUP, SIGCONT)
# when that group becomes orphaned, which another process's exit can cause under a CI runner
# (seen once: "agent stopped with a pending certificate" found the agent already finished).
agent_bg() {
  local name=$1 out=$2 err=$3; shift 3
  setsid "$SELFCERT_AGENT" --sp "$T/$name.sock" --certs "$T/$name-out" --device-dir "$T/$name-certs" \
    --server "$PROVD_URL" --ca "$T/net/root.pem" --grace 0 "$@" >"$out" 2>"$err" &
  APID=$!
  AGENT_PIDS+=("$APID")
}

# agent_refused DESC EXIT NAME AGENT-ARGS…: exit code and `selfcert-agent: NAME: …` on stderr.
agent_refused() {
  local desc=$1 want_rc=$2 want_name=$3; shift 3
  agent "$@" >"$T/.out" 2>"$T/.err"
  local rc=$?
  if [ "$rc" -ne "$want_rc" ]; then
    fail "$desc: exit $rc, expected $want_rc — $(tail -n 2 "$T/.err")"
  elif ! grep -q "^selfcert-agent: $want_name: " "$T/.err"; then
    fail "$desc: expected 'selfcert-agent: $want_name: …', got: $(tail -n 2 "$T/.err")"
  else
    pass
  fi
}

# serial_of PEM: the certificate's serial in lower-case hex.
serial_of() { openssl x509 -in "$1" -noout -serial | sed 's/serial=//' | tr 'A-F' 'a-f'; }
# agentq16: the agent's queue of locally renewed certificates in CERTS dir (backlog.<0|1>.pem,
# named by state.json's "backlog_file" with its count and committed length; an older agent's
# inline "backlog" too). queued_count DIR: how many; queued_pem DIR I: the I-th (from 0), PEM.
queued_count() {
  jq '.backlog_file.count // (.backlog | length)' "$1/state.json" 2>/dev/null || echo 0
}
queued_pem() {
  local f b
  f=$(jq -r '.backlog_file.name // empty' "$1/state.json")
  b=$(jq -r '.backlog_file.bytes // empty' "$1/state.json")
  if [ -z "$f" ]; then
    jq -r ".backlog[$2]" "$1/state.json"
    return
  fi
  head -c "$b" "$1/$f" | awk -v want="$2" '/-----BEGIN CERTIFICATE-----/ { n++ } n == want + 1 { print }'
}

# proxy_start NAME SCRIPT [ARGS…]: a Python test proxy (SCRIPT PORT-FILE ARGS…, writing the port
# it listens on to $T/NAME.port, its stderr in $T/NAME.err) started and waited for with the
# suite's wait (SC_VG_WAIT polls); PROXY_PID and PROXY_URL set. Fails, saying so, if it died.
proxy_start() {
  local name=$1 script=$2; shift 2
  python3 "$script" "$T/$name.port" "$@" 2>"$T/$name.err" &
  PROXY_PID=$!
  for _ in $(seq 1 "$SC_VG_WAIT"); do
    [ -s "$T/$name.port" ] && break
    kill -0 "$PROXY_PID" 2>/dev/null || break
    sleep 0.05
  done
  [ -s "$T/$name.port" ] || { echo "the proxy $name did not start: $(cat "$T/$name.err")" >&2; return 1; }
  PROXY_URL="http://127.0.0.1:$(cat "$T/$name.port")"
}

# db SQL: one query on the registry (read-only use), whichever backend holds it.
db() {
  if [ -n "${SC_PG_URI:-}" ] && [ "$REG_DB" = "$SC_PG_URI" ]; then pg_sql "$1"
  else sqlite3 -batch -noheader "$T/reg.db" "$1"; fi
}
