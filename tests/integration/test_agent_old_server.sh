#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# fix17 (session 19): the real agent against answers a real selfcert-provd does not give, made by
# a proxy in front of it ($T/px.py: plain HTTP on loopback, which the agent allows, forwarded to
# provd's HTTPS; each request's path and body logged; what it changes read from $T/mode):
#   1. an old (pre-#17) server: POST /v1/profiles refused 400 unknown-field naming the first
#      field it does not know (it knew chain, kex, challenge, alg, server_keygen, proof), as such
#      a provd did. A new agent with a revision-1.5 SP sends "renewal" and "batch": it asks again
#      without "renewal", then without "batch", and enrolls (three requests, one line each);
#   2. a server that names "renewal" whatever it is sent: the agent asks once without it, then
#      gives up on the server's refusal (two requests, no loop);
#   3. a batch registration's answer whose entry has no "status", a status not a string, or a
#      word the agent does not know: the certificate stays queued (one line naming the field),
#      and leaves only on an answer it understands (already-registered).
# SQLite only (nothing here is the registry's).
SC_VG_BINS="SELFCERT_AGENT"
source "$SC_TESTLIB"
source "$(dirname "$SC_TESTLIB")/lib-provd.sh"

provd_world testnet || exit 1
provd_device o DEV-O || exit 1
provd_device m DEV-M || exit 1
sc net device add --db "$REG_DB" --device-id DEV-O --device-id DEV-M >/dev/null || exit 1
printf '{"validity": "3h", "renewal": {"count": 4, "cadence": "7200s"}}\n' >"$T/policy.json"
start_provd --policy "$T/policy.json" --rate-limit 1000/1h || exit 1

cat >"$T/px.py" <<'PY'
import http.server, json, ssl, sys, urllib.error, urllib.request
port_file, upstream, ca, log, mode_file = sys.argv[1:6]
ctx = ssl.create_default_context(cafile=ca)
OLD = ("chain", "kex", "challenge", "alg", "server_keygen", "proof")  # a pre-#17 provd's fields
def unknown(name):
    return 400, json.dumps({"error": "unknown-field", "detail": 'unknown field "%s"' % name}).encode()
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def fwd(self, method):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        mode = open(mode_file).read().strip()
        with open(log, "a") as f:
            f.write(json.dumps({"method": method, "path": self.path,
                                "body": body.decode() if body else None}) + "\n")
        status = None
        if method == "POST" and self.path == "/v1/profiles" and mode == "old":
            extra = [k for k in json.loads(body) if k not in OLD]   # the body's order
            if extra:
                status, data = unknown(extra[0])
        if method == "POST" and self.path == "/v1/profiles" and mode == "always-renewal":
            status, data = unknown("renewal")
        if status is None:
            req = urllib.request.Request(upstream + self.path, data=body, method=method)
            if self.headers.get("Content-Type"):
                req.add_header("Content-Type", self.headers["Content-Type"])
            try:
                r = urllib.request.urlopen(req, context=ctx, timeout=60)
                status, data = r.status, r.read()
            except urllib.error.HTTPError as e:
                status, data = e.code, e.read()
            if self.path == "/v1/certificates/batch" and mode.startswith("status:") and status == 200:
                a = json.loads(data)
                for e in a["results"]:
                    if mode == "status:none":
                        e.pop("status", None)
                    else:
                        e["status"] = json.loads(mode[len("status:"):])
                data = json.dumps(a).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def do_GET(self): self.fwd("GET")
    def do_POST(self): self.fwd("POST")
    def log_message(self, *a): pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(port_file, "w") as f:
    f.write(str(srv.server_address[1]))
srv.serve_forever()
PY
echo pass >"$T/mode"
proxy_start px "$T/px.py" "$PROVD_URL" "$T/net/root.pem" "$T/px.log" "$T/mode" || exit 1
PX_PID=$PROXY_PID PX_URL=$PROXY_URL
trap 'kill $PX_PID 2>/dev/null; provd_cleanup' EXIT

# run NAME MODE [agent flags…]: one round of device NAME through the proxy in MODE; its log in
# $T/.err, its requests in $T/req.log, its exit code in RC.
run() {
  local name=$1; shift
  echo "$1" >"$T/mode"; shift
  : >"$T/px.log"
  PROVD_URL=$PX_URL agent "$name" --once "$@" >"$T/.out" 2>"$T/.err"
  RC=$?
  cp "$T/px.log" "$T/req.log"
}
# keys N: the N-th (from 1) profile request's fields, sorted, space-separated.
keys() { jq -r 'select(.path == "/v1/profiles") | .body | fromjson | keys_unsorted | sort | join(" ")' "$T/req.log" | sed -n "${1}p"; }
nprof() { jq -r 'select(.path == "/v1/profiles") | .path' "$T/req.log" | wc -l; }
said() { grep -c -F -- "$1" "$T/.err"; }
profiles201() { grep -c " POST /v1/profiles 201 .*device=$1" "$T/provd.log"; }

# --- 1. an old server: renewal, then batch, dropped; enrolled ---
run o old
check "enrolled through an old server (exit 0)" [ "$RC" = 0 ]
check "three profile requests" [ "$(nprof)" = 3 ]
P1=$(keys 1) P2=$(keys 2) P3=$(keys 3)
check "the first carries renewal and batch" bash -c "[[ ' $P1 ' == *' renewal '* && ' $P1 ' == *' batch '* ]]"
check "the second: batch, no renewal" bash -c "[[ ' $P2 ' == *' batch '* && ' $P2 ' != *' renewal '* ]]"
check "the third: neither" bash -c "[[ ' $P3 ' != *' batch '* && ' $P3 ' != *' renewal '* ]]"
check "the third is the first without those two" [ "$P3" = "$(tr ' ' '\n' <<<"$P1" | grep -vx 'renewal\|batch' | paste -sd' ')" ]
check "one line: renewal" [ "$(said 'the server does not know renewal profiles; asking without')" = 1 ]
check "one line: batch" [ "$(said 'the server does not know batch profiles; asking without')" = 1 ]
check "provd answered one profile request, 201" [ "$(profiles201 DEV-O)" = 1 ]
check "a certificate in use" [ -s "$T/o-out/leaf.pem" ]
check "registered" [ "$(db "SELECT count(*) FROM certificates WHERE device_id = 'DEV-O'")" = 1 ]
check "no renewal profile kept (none asked)" [ -z "$(jq -r '.renewal // empty' "$T/o-out/state.json")" ]

# --- 2. a server that names renewal whatever it gets: once without, then its refusal ---
run o always-renewal --force-renew
check "refused in the end (exit 1)" [ "$RC" = 1 ]
check "two profile requests, not more" [ "$(nprof)" = 2 ]
check "the second without renewal" bash -c "[[ ' $(keys 2) ' != *' renewal '* ]]"
check "one line: renewal" [ "$(said 'the server does not know renewal profiles; asking without')" = 1 ]
check "the server's refusal named" grep -qx 'selfcert-agent: unknown-field: asking for a profile: unknown field "renewal" (HTTP 400)' "$T/.err"
check "no other profile made" [ "$(profiles201 DEV-O)" = 1 ]

# --- 3. batch answers the agent does not understand: kept queued ---
run m pass --batch 1
check "DEV-M enrolled (exit 0)" [ "$RC" = 0 ]
check "with a renewal profile" [ -n "$(jq -r '.renewal // empty' "$T/m-out/state.json")" ]
run m status:none --force-renew --batch 1
check "renewed locally (exit 0)" [ "$RC" = 0 ]
check "one batch request" [ "$(jq -r 'select(.path == "/v1/certificates/batch") | .path' "$T/req.log" | wc -l)" = 1 ]
S=$(sed -n 's/.*renewed locally: key [0-9]* (certificate \([0-9a-f]*\)).*/\1/p' "$T/.err")
check "provd registered it (the answer is what is wrong)" [ -n "$S" -a "$(db "SELECT count(*) FROM certificates WHERE serial = '$S'")" = 1 ]
check "no status: kept, one line naming it" [ "$(said 'registering 1 renewed certificates: 1 answers not understood (entry 0: no "status"); they stay queued')" = 1 ]
check "... and counted kept" [ "$(said 'registered 1 renewed certificates in one request (0 accepted, 0 refused for good, 1 kept queued)')" = 1 ]
check "still queued" [ "$(queued_count "$T/m-out")" = 1 ]
run m status:7 --batch 1
check "status 7: kept, one line" [ "$(said 'registering 1 renewed certificates: 1 answers not understood (entry 0: "status" is not a string); they stay queued')" = 1 ]
check "still queued" [ "$(queued_count "$T/m-out")" = 1 ]
run m 'status:"accepted"' --batch 1
check "status accepted: kept, one line" [ "$(said 'registering 1 renewed certificates: 1 answers not understood (entry 0: "status" "accepted" is none of registered, already-registered, refused); they stay queued')" = 1 ]
check "still queued" [ "$(queued_count "$T/m-out")" = 1 ]
run m pass --batch 1
check "a real answer (already registered): it leaves" [ "$(said 'registered 1 renewed certificates in one request (1 accepted)')" = 1 ]
check "nothing queued" [ "$(queued_count "$T/m-out")" = 0 ]
check "each answer sent the same certificate" [ "$(db "SELECT count(*) FROM certificates WHERE serial = '$S'")" = 1 ]
check "nothing set aside" [ ! -s "$T/m-out/unregistered.pem" ]
finish
