#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The agent's queue and renewal profile when things go wrong (#17, session 17: agentweak17,
# PERFORMANCE.md 24.3), with the real agent and a real selfcert-provd, the agent's requests
# passing through a recording proxy ($T/rec.py: plain HTTP on loopback, which the agent allows,
# forwarded to provd's HTTPS unchanged; every request body logged) so that what the agent sends
# is read, not assumed:
#   1. enrollment: the pending certificate, and the chain of the profile request, go as base64
#      DER (b64der16), not PEM;
#   2. a queued text that is not one decodable PEM block (bad base64) goes as the text itself
#      (cert_text_json's fallback), is refused and set aside; unregistered.pem, at its 1 MiB
#      bound, moves to unregistered.pem.1 first (one line);
#   3. the registry restored from a backup that lost the renewal profile (it holds the first
#      profile's window, not the second's): the batch answers profile-unknown for the local
#      renewal, and the agent drops the profile and asks for a new one in the same round (it
#      renewed from the lost one until the window's end before), the queue's other certificate
#      (the first profile's, in front) judged on its own; the set-aside rotates unregistered.pem
#      again, replacing the older generation;
#   4. a local renewal of the new profile queued (--batch 32); its queue file damaged in front
#      of it: the agent keeps the file aside (backlog.N.pem.damaged-1), salvages the whole
#      certificate, says so in one line, and registers it (base64 DER in the batch).
# SQLite only (the restore is a copy of its file; test_agent_crl_window restores the same way).
SC_VG_BINS="SELFCERT_AGENT"
source "$SC_TESTLIB"
source "$(dirname "$SC_TESTLIB")/lib-provd.sh"

provd_world testnet || exit 1
provd_device l DEV-L || exit 1
sc net device add --db "$REG_DB" --device-id DEV-L >/dev/null || exit 1
printf '{"validity": "3h", "renewal": {"count": 4, "cadence": "7200s"}}\n' >"$T/policy.json"
start_provd --policy "$T/policy.json" --rate-limit 1000/1h || exit 1
O="$T/l-out"

# The recording proxy: each request's path and body, one JSON line in $T/rec.log.
cat >"$T/rec.py" <<'PY'
import http.server, json, ssl, sys, urllib.error, urllib.request
port_file, upstream, ca, log = sys.argv[1:5]
ctx = ssl.create_default_context(cafile=ca)
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def fwd(self, method):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        with open(log, "a") as f:
            f.write(json.dumps({"method": method, "path": self.path,
                                "body": body.decode() if body else None}) + "\n")
        req = urllib.request.Request(upstream + self.path, data=body, method=method)
        if self.headers.get("Content-Type"):
            req.add_header("Content-Type", self.headers["Content-Type"])
        try:
            r = urllib.request.urlopen(req, context=ctx, timeout=60)
            status, data, ctype = r.status, r.read(), r.headers.get("Content-Type")
        except urllib.error.HTTPError as e:
            status, data, ctype = e.code, e.read(), e.headers.get("Content-Type")
        self.send_response(status)
        self.send_header("Content-Type", ctype or "application/json")
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
# aw17mend: the suite's wait (SC_VG_WAIT polls: 10 s, 60 s under valgrind, when the machine is
# loaded), not a fixed 5 s; a proxy that died is said at once (proxy_start, lib-provd.sh).
proxy_start rec "$T/rec.py" "$PROVD_URL" "$T/net/root.pem" "$T/rec.log" || exit 1
REC_PID=$PROXY_PID REC_URL=$PROXY_URL
trap 'kill $REC_PID 2>/dev/null; provd_cleanup' EXIT

# run [agent flags…]: one round through the proxy; its log in $T/.err, its requests (only these)
# in $T/req.log.
run() {
  : >"$T/rec.log"
  PROVD_URL=$REC_URL agent l --once "$@" >"$T/.out" 2>"$T/.err"
  local rc=$?
  cp "$T/rec.log" "$T/req.log"
  return $rc
}
# der_b64 PEM-FILE [N]: the N-th (from 1) certificate of the file as base64 DER.
der_b64() {
  awk -v want="${2:-1}" '/-----BEGIN CERTIFICATE-----/ { n++ } n == want { print }' "$1" |
    openssl x509 -outform DER | base64 -w 0
}
# sent PATH JQ-FILTER: the values the filter picks from the bodies of the round's requests to
# PATH, one a line.
sent() { jq -r --arg p "$1" "select(.path == \$p) | .body | fromjson | $2" "$T/req.log"; }
# nrun: run with the agent native under valgrind (a step whose code another step memchecks).
nrun() { SELFCERT_AGENT=${SELFCERT_AGENT_NATIVE:-$SELFCERT_AGENT} run "$@"; }
regs() { grep -c " POST /v1/certificates 201 .*device=DEV-L" "$T/provd.log"; }
profiles() { grep -c " POST /v1/profiles 201 .*device=DEV-L" "$T/provd.log"; }
# fill N: unregistered.pem of N bytes (an earlier generation's stand-in: lines of '#').
fill() { head -c "$1" /dev/zero | tr '\0' '#' >"$O/unregistered.pem"; }

# --- 1. enrollment: base64 DER on the wire ---
ok "enroll DEV-L (--batch 1, through the proxy)" nrun --batch 1
P0=$(jq -r .current.profile_id "$O/state.json")
cp "$O/leaf.pem" "$T/p0.pem"
check "a renewal profile kept" [ "$(jq -r '.renewal // empty' "$O/state.json" | wc -c)" -gt 100 ]
check "one POST /v1/certificates" [ "$(sent /v1/certificates .certificate | wc -l)" = 1 ]
check "its certificate is the base64 of leaf.pem's DER" \
  [ "$(sent /v1/certificates .certificate)" = "$(der_b64 "$O/leaf.pem")" ]
check "no PEM in any request body" bash -c "! grep -q 'BEGIN CERTIFICATE' '$T/req.log'"
n=$(grep -c 'BEGIN CERTIFICATE' "$O/chain.pem")
check "the profile request's chain: $n certificates, chain.pem's in base64 DER" \
  [ "$(sent /v1/profiles '.chain | length')" = "$n" -a \
  "$(sent /v1/profiles '.chain[0]')" = "$(der_b64 "$O/chain.pem" 1)" -a \
  "$(sent /v1/profiles ".chain[$((n - 1))]")" = "$(der_b64 "$O/chain.pem" "$n")" ]

# The first profile's window (P0) renewed and registered; the registry's backup taken then; the
# next profile (P1) asked for when the SP will not renew two cadences ahead (as
# test_agent_crl_window's next_window). The backup holds P0 and its certificates, not P1.
ok "renew locally from P0 (--force-renew --batch 1: registered)" nrun --force-renew --batch 1
check "... registered" grep -q ": registered 1 renewed certificates in one request (1 accepted)$" "$T/.err"
sqlite3 "$T/reg.db" ".backup '$T/backup.db'" || exit 1
p0=$(profiles)
for i in 1 2 3; do
  nrun --force-renew --batch 1 || { echo "# run failed: $(cat "$T/.err")" >&2; break; }
  [ "$(profiles)" -gt "$p0" ] && break
done
P1=$(jq -r .current.profile_id "$O/state.json")
check "a new renewal profile P1 ($P1) after P0 ($P0)" [ "$(profiles)" = $((p0 + 1)) -a "$P1" != "$P0" ]

# --- 2. a kept text that is no decodable PEM block: sent as it is; unregistered.pem rotated ---
printf -- '-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n' >"$T/junk.pem"
jq --rawfile j "$T/junk.pem" '.backlog = [$j]' "$O/state.json" >"$T/s.json" && mv "$T/s.json" "$O/state.json"
fill 1048550
ok "a round with the junk queued (--batch 1: offered at the round's end)" nrun --batch 1
check "sent as the text itself (cert_text_json's fallback)" \
  [ "$(sent /v1/certificates/batch '.certificates[0]')" = "$(cat "$T/junk.pem")" ]
check "set aside: the server refused it" grep -Eq \
  ": set aside an entry that is not a certificate: the server refused it: bad-(der|value)" "$T/.err"
check "unregistered.pem rotated first, one line" grep -q \
  ": unregistered.pem reached 1048550 bytes ($(wc -c <"$T/junk.pem") more would pass 1048576): moved to unregistered.pem.1$" "$T/.err"
check "unregistered.pem.1 is the old generation (1048550 bytes)" [ "$(stat -c %s "$O/unregistered.pem.1")" = 1048550 ]
check "unregistered.pem holds the junk alone" cmp -s "$O/unregistered.pem" "$T/junk.pem"

# --- 3. the registry loses the renewal profile: a new profile in the same round ---
stop_provd
cp "$T/backup.db" "$T/reg.db" && rm -f "$T/reg.db-wal" "$T/reg.db-shm"
start_provd || exit 1
fill 1048500
r0=$(regs) p0=$(profiles)
ren0=$(jq -r .renewal "$O/state.json")
# Queued in front of what the round renews: P0's first certificate, which the restored registry
# knows (already registered): judged on its own in the same request, whatever P1's fate.
jq --rawfile c "$T/p0.pem" '.backlog = [$c]' "$O/state.json" >"$T/s.json" && mv "$T/s.json" "$O/state.json"
ok "renew locally from the lost profile (--force-renew --batch 1)" run --force-renew --batch 1
check "renewed locally first" grep -q "renewed locally: key" "$T/.err"
S1=$(sed -n 's/.*renewed locally: key [0-9]* (certificate \([0-9a-f]*\)).*/\1/p' "$T/.err")
check "its certificate refused profile-unknown and set aside, by period" grep -Eq \
  ": set aside certificate $S1 \(period 1\): the server refused it: profile-unknown" "$T/.err"
check "the agent drops the lost profile, one line" grep -q \
  ": the server no longer knows renewal profile $P1: not renewing from it again; asking for a new profile$" "$T/.err"
check "the queue's other certificate judged on its own (already registered: it leaves)" grep -q \
  ": registered 2 renewed certificates in one request (1 accepted, 1 refused for good, 0 kept queued)$" "$T/.err"
check "... and is in the registry once, under P0" \
  [ "$(db "SELECT count(*) FROM certificates WHERE serial = '$(serial_of "$T/p0.pem")' AND profile_id = '$P0'")" = 1 ]
check "and asks for a new one in the same round" \
  [ "$(profiles)" = $((p0 + 1)) -a "$(regs)" = $((r0 + 1)) ]
check "... after the refusal (the batch, then the profile, then its certificate)" [ \
  "$(jq -r .path "$T/req.log" | grep -E '^/v1/(certificates/batch|profiles|certificates)$' | tr '\n' ' ')" = \
  "/v1/certificates/batch /v1/profiles /v1/certificates " ]
P2=$(jq -r .current.profile_id "$O/state.json")
check "in use: a certificate of the new profile ($P2, not $P1)" [ "$P2" != "$P1" -a -n "$P2" ]
check "a new renewal profile kept" [ "$(jq -r .renewal "$O/state.json")" != "$ren0" ]
check "the registry has it, with the certificate in use" [ "$(db "SELECT count(*) FROM certificates c JOIN profiles p USING (profile_id) WHERE c.serial = '$(jq -r .current.serial "$O/state.json")' AND p.profile_id = '$P2'")" = 1 ]
check "leaf.pem is it" [ "$(serial_of "$O/leaf.pem")" = "$(jq -r .current.serial "$O/state.json")" ]
check "nothing queued" [ "$(queued_count "$O")" = 0 ]
check "the batch: both as base64 DER, the queue's order" \
  [ "$(sent /v1/certificates/batch '.certificates[0]')" = "$(der_b64 "$T/p0.pem")" -a \
  "$(sent /v1/certificates/batch '.certificates[1]')" = "$(der_b64 "$O/unregistered.pem" 1)" ]
check "unregistered.pem rotated again, replacing the older one" grep -q \
  ": unregistered.pem reached 1048500 bytes ([0-9]* more would pass 1048576): moved to unregistered.pem.1, replacing the older one (1048550 bytes dropped)$" "$T/.err"
check "unregistered.pem.1 is the second generation, unregistered.pem the refused certificate" \
  [ "$(stat -c %s "$O/unregistered.pem.1")" = 1048500 -a "$(serial_of "$O/unregistered.pem")" = "$S1" ]

# --- 4. the new profile's local renewal queued; its queue file damaged; salvaged ---
ok "renew locally from the new profile (--force-renew --batch 32: queued)" nrun --force-renew --batch 32
check "renewed locally, one queued" [ "$(queued_count "$O")" = 1 ]
check "nothing sent for it yet" [ "$(sent /v1/certificates/batch '.certificates | length' | wc -l)" = 0 ]
q=$(jq -r .backlog_file.name "$O/state.json")
cp "$O/$q" "$T/q1.pem"
# A block in front of it whose footer was cut: the file is not the 2 certificates state.json says.
{
  printf -- '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATX-----\n'
  cat "$T/q1.pem"
} >"$O/$q"
B=$(stat -c %s "$O/$q")
jq --argjson b "$B" '.backlog_file.count = 2 | .backlog_file.bytes = $b' "$O/state.json" >"$T/s.json" && mv "$T/s.json" "$O/state.json"
cp "$O/$q" "$T/damaged.pem"
ok "a round with the damaged queue (--batch 1: offered at its end)" run --batch 1
check "one line: the file, what, where kept, how many" grep -q \
  "^selfcert-agent: DEV-L: $O/$q: damaged (not the 2 PEM certificates in $B bytes state.json says); kept aside as $q.damaged-1; 1 of 2 certificates salvaged (1 unreadable), the queue goes on with them$" "$T/.err"
check "the damaged file kept aside unchanged" cmp -s "$O/$q.damaged-1" "$T/damaged.pem"
check "the salvaged certificate registered" grep -q \
  ": registered 1 renewed certificates in one request (1 accepted)$" "$T/.err"
check "... sent as base64 DER" [ "$(sent /v1/certificates/batch '.certificates[0]')" = "$(der_b64 "$T/q1.pem")" ]
check "... in the registry" [ "$(db "SELECT count(*) FROM certificates WHERE serial = '$(serial_of "$T/q1.pem")'")" = 1 ]
check "nothing queued, no queue file" [ "$(queued_count "$O")" = 0 -a ! -e "$O/backlog.0.pem" -a ! -e "$O/backlog.1.pem" ]
kill $REC_PID 2>/dev/null
finish
