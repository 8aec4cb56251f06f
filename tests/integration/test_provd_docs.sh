#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# docs/API.md's examples run: every ```sh block of it, in order, as one script (bash -e) in an
# empty folder with the programs under test on PATH, on a loopback port picked at random (and
# picked again if another process holds it). Then a few of their results are checked.
SC_VG_BINS="SELFCERT_PROVD SELFCERT_AGENT"   # under valgrind (lib.sh); the CLI runs there in other tests
source "$SC_TESTLIB"
source "$(dirname "$SC_TESTLIB")/lib-provd.sh"

DOC="$(dirname "$SC_TESTLIB")/../../docs/API.md"
mkdir -p "$T/bin"
ln -s "$SELFCERT" "$T/bin/selfcert"
ln -s "$SELFCERT_SPD" "$T/bin/selfcert-spd"
ln -s "$SELFCERT_PROVD" "$T/bin/selfcert-provd"
ln -s "$SELFCERT_AGENT" "$T/bin/selfcert-agent"
awk '/^```sh$/ { on = 1; next } /^```$/ { on = 0 } on' "$DOC" >"$T/doc.sh"
check "the document has examples" [ "$(grep -c 'curl' "$T/doc.sh")" -ge 10 ]

rc=1
for try in 1 2 3 4 5; do
  rm -rf "$T/doc" && mkdir "$T/doc"
  port=$((20000 + RANDOM % 40000))
  # Its own session, so that whatever the examples leave running is stopped by process group.
  (cd "$T/doc" && PORT=$port PATH="$T/bin:$PATH" exec setsid timeout 120 bash -e "$T/doc.sh" >"$T/doc.out" 2>"$T/doc.err") &
  runner=$!
  wait "$runner"
  rc=$?
  # setsid made the runner (same pid) the leader of a new process group: stop that group only.
  [ "$runner" -gt 1 ] && kill -TERM -- "-$runner" 2>/dev/null
  grep -q "cannot listen" "$T/doc/provd.log" 2>/dev/null || break
  echo "port $port taken; another one" >&2
done
check "every example runs (exit $rc; $(tail -n 2 "$T/doc.err" | tr '\n' ' '))" [ "$rc" -eq 0 ]
check "healthz answered" grep -q '^{"status":"ok","network_id":"example-net","schema":10,"schema_min_compatible":10,"schema_program":10,"registry":"sqlite"}$' "$T/doc.out"
check "a profile was issued and decoded" grep -q "ACME-0001" "$T/doc/profile.json"
check "a request with a proof was served" grep -q '"device_id":"ACME-0001"' "$T/doc/proved-profile.json"
check "and recorded as authenticated" [ "$(sqlite3 "$T/doc/registry.db" "SELECT count(*) FROM profiles WHERE source IS NULL")" -ge 1 ]
check "the replay was refused" grep -q '^{"error":"replay",' "$T/doc.out"
check "registered, then already registered" grep -q '"status":"already-registered"' "$T/doc.out"
check "the revocation without a token was refused" grep -q '^{"error":"unauthorized",' "$T/doc.out"
check "the operator alice signed in" grep -q '^{"operator":"alice"}$' "$T/doc.out"
check "the operator's import counted" grep -q '^{"added":1,"already_registered":1}$' "$T/doc.out"
check "a page of two with its cursor" grep -q '"next":"ACME-0102"}$' "$T/doc.out"
check "bob refused once removed" grep -q '^{"error":"unauthorized","detail":"operator endpoint: no operator has this token"}$' "$T/doc.out"
check "the agent's certificate verifies" grep -q "certs4/leaf.pem: OK" "$T/doc.out"
check "the registry has three certificates" [ "$(sqlite3 "$T/doc/registry.db" "SELECT count(*) FROM certificates")" = 3 ]
finish
