#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The device CA CRL the agent sends (issue 14; GET /v1/crls, for relying parties that check a
# CRL at every level) (#17, session 14: agent14 and crl14, PERFORMANCE.md 21.5 and 21.7).
# crl14: the agent asks the SP for the longest lifetime (30 days) and sends a CRL with a
# certificate only when the server's copy (crl_until: the nextUpdate of the last CRL the server
# answered kept/older for) would not cover it, or its renewal window's last certificate, with an
# hour to spare. The CRL revokes nothing: the leaf's own expiry and provd's drop of a revoked
# device's CRL cut a device off. A window longer than 30 days: the local renewal whose
# certificate would outlive the server's CRL registers it alone with a fresh CRL.
# crl15: a refused CRL ("not-kept") is not offered again within its window, the next window
# offers it; an unknown crl_until (0) is no refusal: a local renewal sends one; a registry
# restored from a backup older than the CRL answers "crl":"none" and the next registration
# sends the CRL again (provd's "crl_until"/"crl":"none", PERFORMANCE.md 22.2).
# crl15b: a "not-kept" refusal lasts a day at most (a long window's local renewal shows it);
# every part runs on PostgreSQL too (integration/test_agent_crl_window_pg), where a runtime role
# granted before schema 4 (no rights on device_crls) still registers, its answers saying nothing
# of the CRL.
# Real selfcert-provd, selfcert-spd and selfcert-agent. The SP renews at most one cadence ahead:
# --force-renew makes the next period's certificate at once, so long cadences need no waiting.
SC_VG_BINS="SELFCERT_PROVD SELFCERT_AGENT"
source "$SC_TESTLIB"
source "$(dirname "$SC_TESTLIB")/lib-provd.sh"

provd_world testnet || exit 1
provd_device n DEV-N || exit 1
provd_device l DEV-L || exit 1
provd_device r DEV-R || exit 1
sc net device add --db "$REG_DB" --device-id DEV-N --device-id DEV-L --device-id DEV-R >/dev/null || exit 1

# unix TIME-STRING: openssl's date as seconds since the epoch.
unix() { date -u -d "$1" +%s; }
# crl_of NAME DEV: GET /v1/crls, the CRL issued by DEV's device CA into $T/NAME.crl; sets NU (its
# nextUpdate), LU (its lastUpdate) and NUM (its cRLNumber, hex).
crl_of() {
  local ca_subj f
  ca_subj=$(openssl x509 -in "$T/$1-out/chain.pem" -noout -subject -nameopt RFC2253 | sed 's/^subject=//')
  api GET /v1/crls
  rm -f "$T"/crl.*.pem
  awk -v d="$T" '/BEGIN X509 CRL/{n++} n{print > (d "/crl." n ".pem")}' "$T/.api"
  NU= LU= NUM=
  for f in "$T"/crl.*.pem; do
    [ "$(openssl crl -in "$f" -noout -issuer -nameopt RFC2253 | sed 's/^issuer=//')" = "$ca_subj" ] || continue
    cp "$f" "$T/$1.crl"
    NU=$(unix "$(openssl crl -in "$f" -noout -nextupdate | sed 's/^nextUpdate=//')")
    LU=$(unix "$(openssl crl -in "$f" -noout -lastupdate | sed 's/^lastUpdate=//')")
    NUM=$(openssl crl -in "$f" -noout -crlnumber | sed 's/^crlNumber=0x//; s/^crlNumber=//')
  done
  [ -n "$NU" ]
}
not_after() { unix "$(openssl x509 -in "$1" -noout -enddate | sed 's/^notAfter=//')"; }
# --batch 32 (the most): a window queued to its end, as written for agent14's default (the
# default is 1 again: a queued certificate must not expire before it is registered).
run() { agent "$@" --once --batch 32 >"$T/.out" 2>"$T/.err"; }
certs_of() { db "SELECT count(*) FROM certificates WHERE device_id = '$1'"; }

# --- a window of K = 3, a certificate every 2 h, each valid 3 h ---
K=3 CAD=7200
printf '{"validity": "3h", "renewal": {"count": %d, "cadence": "%ds"}}\n' $K $CAD >"$T/policy.json"
start_provd --policy "$T/policy.json" --rate-limit 1000/1h || exit 1
SLACK=2; [ "$SC_VALGRIND" = 1 ] && SLACK=10
kept_n() { grep -c " POST /v1/certificates 201 .*device=DEV-N.* crl=kept" "$T/provd.log"; }
regs_n() { grep -c " POST /v1/certificates 201 .*device=DEV-N" "$T/provd.log"; }

T0=$(date +%s)
ok "enroll DEV-N (--batch 32)" run n
T1=$(date +%s)
check "a renewal profile kept" grep -q '"renewal": "' "$T/n-out/state.json"
check "the window's first certificate registered with its CRL ($(kept_n))" [ "$(kept_n)" = 1 ]
crl_of n DEV-N
check "GET /v1/crls has DEV-N's device CA CRL" [ -n "$NU" ]
NU0=$NU
echo "# DEV-N: CRL nextUpdate $NU, asked between $T0 and $T1 (+$((NU - T0)) s)" >&2
# Exact: now + 30 d, "now" being when the SP signed (between T0 and T1, the SP's clock a second
# or two past the agent's; more under memcheck).
check "CRL nextUpdate = now + 30 d ($NU in [$T0, $T1 + $SLACK] + 30 d)" \
  [ "$NU" -ge $((T0 + 30 * 86400)) -a "$NU" -le $((T1 + SLACK + 30 * 86400)) ]
check "state.json keeps it (crl_until)" grep -q "\"crl_until\": $NU" "$T/n-out/state.json"
check "state.json says what for (crl_for)" grep -Eq '"crl_for": "[0-9a-f]{32}"' "$T/n-out/state.json"

ok "renew locally (--force-renew: the next period, a cadence ahead)" run n --force-renew
check "renewed locally" grep -q "renewed locally: key" "$T/.err"
check "no CRL sent" bash -c "! grep -q 'outlives the server' '$T/.err'"
check "--batch 32: the renewal waits for the window's end (one queued)" \
  [ "$(queued_count "$T/n-out")" = 1 ]
check "one certificate registered ($(certs_of DEV-N))" [ "$(certs_of DEV-N)" = 1 ]

# next_window WHAT: --force-renew until the server registers a certificate on its own (POST
# /v1/certificates): the next window's first, after the SP refused a period not yet due.
next_window() {
  local i r0
  for i in 1 2 3 4; do
    r0=$(regs_n)
    run n --force-renew || { echo "# run failed: $(cat "$T/.err")" >&2; return 1; }
    [ "$(regs_n)" -gt "$r0" ] && return 0
  done
  return 1
}
last_reg() { grep " POST /v1/certificates 201 .*device=DEV-N" "$T/provd.log" | tail -1; }
last_has() { last_reg | grep -q " $1"; }
last_lacks() { ! last_reg | grep -q " $1"; }
set_state() { sed -i -E "s/\"$1\": [^,}]+/\"$1\": $2/" "$T/n-out/state.json"; }
on_pg() { [ -n "${SC_PG_URI:-}" ] && [ "$REG_DB" = "$SC_PG_URI" ]; }
# refuse_crls on|off: the registry refuses (or takes again) every write of device_crls.
refuse_crls() {
  if on_pg && [ "$1" = on ]; then
    db "CREATE FUNCTION no_crl() RETURNS trigger LANGUAGE plpgsql AS \$\$BEGIN RAISE EXCEPTION 'test: no CRL'; END\$\$;
        CREATE TRIGGER no_crl BEFORE INSERT OR UPDATE ON device_crls FOR EACH ROW EXECUTE FUNCTION no_crl();"
  elif on_pg; then
    db "DROP TRIGGER no_crl ON device_crls; DROP FUNCTION no_crl();"
  elif [ "$1" = on ]; then
    db "CREATE TRIGGER no_crl_i BEFORE INSERT ON device_crls BEGIN SELECT RAISE(ABORT, 'test: no CRL'); END;
        CREATE TRIGGER no_crl_u BEFORE UPDATE ON device_crls BEGIN SELECT RAISE(ABORT, 'test: no CRL'); END;"
  else
    db "DROP TRIGGER no_crl_i; DROP TRIGGER no_crl_u;"
  fi
}

ok "through the window's end into the next window" next_window
check "the next window's first certificate registered WITHOUT a CRL (no crl= in: $(last_reg))" \
  last_lacks crl=
check "still one CRL taken ($(kept_n))" [ "$(kept_n)" = 1 ]
check "state.json crl_until unchanged" grep -q "\"crl_until\": $NU0" "$T/n-out/state.json"
crl_of n DEV-N
check "GET /v1/crls: the same CRL ($NU = $NU0)" [ "$NU" = "$NU0" ]

# A CRL that would not cover the next window (as 28 days on): sent again, 30 days from now.
set_state crl_until $(( $(date +%s) + 3600 ))
T0=$(date +%s)
ok "the next window, crl_until short of it" next_window
T1=$(date +%s)
check "its first certificate registered with a CRL ($(last_reg))" last_has crl=kept
crl_of n DEV-N
check "CRL nextUpdate = now + 30 d ($NU in [$T0, $T1 + $SLACK] + 30 d)" \
  [ "$NU" -ge $((T0 + 30 * 86400)) -a "$NU" -le $((T1 + SLACK + 30 * 86400)) ]
check "state.json crl_until = it" grep -q "\"crl_until\": $NU" "$T/n-out/state.json"
NU0=$NU

# Another device CA or server (crl_for differs; here: edited): sent again.
set_state crl_for '"00000000000000000000000000000000"'
ok "the next window, crl_for another holder's" next_window
check "its first certificate registered with a CRL" last_has crl=kept
check "crl_for is ours again" bash -c "! grep -q '\"crl_for\": \"0000' '$T/n-out/state.json'"

# A server that did not keep it ("crl": "not-kept": its registry refused the write): crl_until
# 0, and the next window's first certificate sends one again.
{
  # crl15: the refusal at a window's first certificate, so that the window's local renewal
  # shows it holds: this window's period 1 first (covered: nothing sent), then the next window.
  ok "renew locally (period 1; the CRL covers)" run n --force-renew
  check "renewed locally" grep -q "renewed locally: key" "$T/.err"
  # As 28 days on: the server's copy short of the next window; the agent believes a little
  # more, and the window's batch answer (crl15) tells it what the server keeps.
  SHORT=$(( $(date +%s) + 3600 ))
  db "UPDATE device_crls SET next_update = $SHORT WHERE device_id = 'DEV-N'"
  set_state crl_until $((SHORT + 100))
  refuse_crls on
  ok "the next window, the registry refusing CRLs" next_window
  check "the batch's answer told the agent (\"keeps an older copy\")" \
    grep -q "the server keeps an older copy of the device CA CRL (the agent had one kept until $((SHORT + 100)))" "$T/.err"
  check "provd: crl=not-kept ($(last_reg))" last_has crl=not-kept
  check "a window's first certificate ($(last_reg))" last_has period=0
  # crl15: refused, not unknown: kept as a negative crl_until (refused until the window's end),
  # and not offered again within the window (its local renewal sends none).
  check "state.json: crl_until refused (negative)" grep -Eq '"crl_until": -[0-9]+' "$T/n-out/state.json"
  r0=$(regs_n)
  ok "renew locally within the window" run n --force-renew
  check "renewed locally" grep -q "renewed locally: key" "$T/.err"
  check "the refused CRL not offered again within the window ($(regs_n) = $r0 registrations)" \
    [ "$(regs_n)" = "$r0" ]
  # A downgrade (run by hand: SC_OLD_AGENT=/tmp/main-A/selfcert-agent, an agent before crl15):
  # it loads the state, drops the negative crl_until with its one-line warning, goes on.
  if [ -n "${SC_OLD_AGENT:-}" ]; then
    cp "$T/n-out/state.json" "$T/n-state.crl15"
    SELFCERT_AGENT=$SC_OLD_AGENT ok "an agent before crl15 on this state" run n
    check "it dropped the refusal with a warning ($(grep -o "\"crl_until\" dropped[^;]*" "$T/.err"))" grep -q '"crl_until" dropped' "$T/.err"
    cp "$T/n-state.crl15" "$T/n-out/state.json"
  fi
  refuse_crls off
  ok "the next window, the registry taking CRLs again" next_window
  check "its first certificate registered with a CRL again" last_has crl=kept
  check "state.json: crl_until again" grep -Eq '"crl_until": [1-9]' "$T/n-out/state.json"

  # crl15: crl_until unknown (0: the line removed, as when the server said "none" or another
  # holder) is not a refusal: the next local renewal, whose certificate it does not cover,
  # registers that certificate alone with a CRL (crl14 stopped refreshing here).
  sed -i '/"crl_until"/d' "$T/n-out/state.json"
  k0=$(kept_n)
  ok "renew locally, crl_until unknown" run n --force-renew
  check "the agent sends a CRL with it" grep -q "outlives the server's device CA CRL (until 0)" "$T/.err"
  check "provd: registered alone with the CRL kept ($(kept_n) = $k0 + 1)" [ "$(kept_n)" = $((k0 + 1)) ]
  check "state.json: crl_until known again" grep -Eq '"crl_until": [1-9]' "$T/n-out/state.json"
}

# --- a window longer than 30 days: K = 4, every 20 days, each valid 21 days ---
stop_provd
K=4 CAD=$((20 * 86400))
printf '{"validity": "21d", "renewal": {"count": %d, "cadence": "%ds"}}\n' $K $CAD >"$T/policy.json"
start_provd --policy "$T/policy.json" --rate-limit 1000/1h || exit 1
ok "enroll DEV-L" run l
NA0=$(not_after "$T/l-out/leaf.pem")
crl_of l DEV-L
NU0=$NU NUM0=$NUM
# The window's end is 60 days past the first certificate's: the CRL is capped at 30 days
# (nextUpdate - lastUpdate = 30 d + the 5-minute back-dating).
check "CRL capped at 30 days ($((NU - LU)) s)" [ $((NU - LU)) = $((30 * 86400 + 300)) ]
check "state.json crl_until = its nextUpdate" grep -q "\"crl_until\": $NU" "$T/l-out/state.json"
ok "renew locally: the next certificate outlives the CRL" run l --force-renew
NA1=$(not_after "$T/l-out/leaf.pem")
check "the next period's ($NA1 = $NA0 + $CAD), past the CRL ($NU0)" [ "$NA1" = $((NA0 + CAD)) -a "$NA1" -gt "$NU0" ]
check "the agent says it sends a new CRL" grep -q "outlives the server's device CA CRL (until $NU0)" "$T/.err"
check "provd: the certificate registered alone with a CRL kept" \
  [ "$(grep -c " POST /v1/certificates 201 .*device=DEV-L.* crl=kept" "$T/provd.log")" = 2 ]
crl_of l DEV-L
check "GET /v1/crls: a newer CRL (number $NUM0 -> $NUM)" [ $((16#$NUM)) -gt $((16#$NUM0)) ]
check "again 30 days from its lastUpdate ($((NU - LU)) s)" [ $((NU - LU)) = $((30 * 86400 + 300)) ]
check "later than the first ($NU > $NU0)" [ "$NU" -ge "$NU0" ]
check "state.json crl_until moved on" grep -q "\"crl_until\": $NU" "$T/l-out/state.json"
check "nothing queued: it went with the CRL" bash -c "! grep -q '\"backlog' '$T/l-out/state.json'"
check "two certificates registered ($(certs_of DEV-L))" [ "$(certs_of DEV-L)" = 2 ]

# crl15b: the registry refuses the next one ("not-kept": a lost connection, a missing grant):
# not offered again for a day, not to the window's end (40 days on): crl15 blocked it there.
set_l() { sed -i -E "s/\"$1\": [^,}]+/\"$1\": $2/" "$T/l-out/state.json"; }
l_regs() { grep -c " POST /v1/certificates 201 .*device=DEV-L" "$T/provd.log"; }
refuse_crls on
T0=$(date +%s)
ok "renew locally (period 2), the registry refusing CRLs" run l --force-renew
T1=$(date +%s)
check "provd: registered, crl=not-kept" \
  [ "$(grep -c " POST /v1/certificates 201 .*device=DEV-L.* crl=not-kept" "$T/provd.log")" = 1 ]
RU=$(sed -n -E 's/.*"crl_until": -([0-9]+).*/\1/p' "$T/l-out/state.json")
check "refused for a day: crl_until -$RU, now + 86400 in [$T0, $T1] + 86400" \
  [ "${RU:-0}" -ge $((T0 + 86400)) -a "${RU:-0}" -le $((T1 + 86400)) ]
refuse_crls off
# A day on (the refusal's end edited into the past): the next local renewal sends it again.
set_l crl_until -$(( $(date +%s) - 10 ))
r0=$(l_regs)
ok "renew locally (period 3), the refusal over" run l --force-renew
check "the agent sends a CRL with it" grep -q "outlives the server's device CA CRL" "$T/.err"
l_last_kept() { grep " POST /v1/certificates 201 .*device=DEV-L" "$T/provd.log" | tail -1 | grep -q crl=kept; }
check "provd: registered alone ($(l_regs) = $r0 + 1)" [ "$(l_regs)" = $((r0 + 1)) ]
check "with the CRL kept" l_last_kept
check "state.json: crl_until known again" grep -Eq '"crl_until": [1-9]' "$T/l-out/state.json"

# --- crl15: a registry restored from a backup older than the CRL (SQLite's file) ---
# Ordinary 3 h certificates. The backup holds DEV-R active, without its CRL; after the restore
# the next registration (no CRL: the agent believes the server's copy covers) is answered
# "crl":"none", and the one after sends the CRL again, which GET /v1/crls then serves.
# crl15b: on PostgreSQL the restore is DEV-R's CRL row deleted (what such a backup lacks).
{
  stop_provd
  printf '{"validity": "3h"}\n' >"$T/policy.json"
  on_pg || sqlite3 "$T/reg.db" ".backup '$T/backup.db'" || exit 1
  start_provd --policy "$T/policy.json" --rate-limit 1000/1h || exit 1
  last_r() { grep " POST /v1/certificates 201 .*device=DEV-R" "$T/provd.log" | tail -1; }
  r_has() { last_r | grep -q " $1"; }
  r_lacks() { ! last_r | grep -q " $1"; }
  rrun() { agent r --once "$@" >"$T/.out" 2>"$T/.err"; }
  ok "enroll DEV-R" rrun
  check "its certificate registered with a CRL ($(last_r))" r_has crl=kept
  crl_of r DEV-R
  NUR=$NU
  check "state.json crl_until = its nextUpdate ($NUR)" grep -q "\"crl_until\": $NUR" "$T/r-out/state.json"
  ok "renew DEV-R" rrun --force-renew
  check "registered without a CRL, the server's copy covering ($(last_r))" r_lacks crl=
  check "state.json crl_until unchanged" grep -q "\"crl_until\": $NUR" "$T/r-out/state.json"
  stop_provd
  if on_pg; then db "DELETE FROM device_crls WHERE device_id = 'DEV-R'" >/dev/null
  else cp "$T/backup.db" "$T/reg.db" && rm -f "$T/reg.db-wal" "$T/reg.db-shm"; fi
  start_provd --policy "$T/policy.json" --rate-limit 1000/1h || exit 1
  no_crl_of() { ! crl_of "$@"; }
  check "restored: GET /v1/crls has no CRL of DEV-R" no_crl_of r DEV-R
  ok "renew DEV-R after the restore" rrun --force-renew
  check "registered without a CRL, answered none ($(last_r))" r_has crl=none
  check "the agent heard it" grep -q "the server keeps no copy of the device CA CRL" "$T/.err"
  check "state.json: no crl_until" bash -c "! grep -q crl_until '$T/r-out/state.json'"
  T0=$(date +%s)
  ok "renew DEV-R again" rrun --force-renew
  T1=$(date +%s)
  check "registered with the CRL again ($(last_r))" r_has crl=kept
  crl_of r DEV-R
  check "GET /v1/crls serves it: nextUpdate = now + 30 d ($NU in [$T0, $T1 + $SLACK] + 30 d)" \
    [ "$NU" -ge $((T0 + 30 * 86400)) -a "$NU" -le $((T1 + SLACK + 30 * 86400)) ]
  check "it covers the current certificate ($(not_after "$T/r-out/leaf.pem") + 1 h <= $NU)" \
    [ $(( $(not_after "$T/r-out/leaf.pem") + 3600 )) -le "$NU" ]
  check "state.json crl_until = it" grep -q "\"crl_until\": $NU" "$T/r-out/state.json"
}

# --- agentq16 (crl15's left (a)): a restore that lost the window's renewal profile ---
# The backup holds DEV-W active, without its profile or CRL. After the restore the window's
# queued certificates are refused profile-unknown (set aside); the agent takes that to mean the
# CRL may be gone too, so the next window's first certificate, registered in the same round,
# carries it (crl15 sent it one window later: that registration said "crl":"none").
if ! on_pg; then
  stop_provd
  provd_device w DEV-W || exit 1
  sc net device add --db "$REG_DB" --device-id DEV-W >/dev/null || exit 1
  sqlite3 "$T/reg.db" ".backup '$T/backup-w.db'" || exit 1
  printf '{"validity": "3h", "renewal": {"count": 3, "cadence": "7200s"}}\n' >"$T/policy.json"
  start_provd --policy "$T/policy.json" --rate-limit 1000/1h || exit 1
  wrun() { agent w "$@" --once --batch 32 >"$T/.out" 2>"$T/.err"; }
  w_regs() { grep -c " POST /v1/certificates 201 .*device=DEV-W" "$T/provd.log"; }
  ok "enroll DEV-W (a window of 3)" wrun
  check "its first certificate registered with a CRL" \
    grep -q " POST /v1/certificates 201 .*device=DEV-W.* crl=kept" "$T/provd.log"
  ok "renew DEV-W locally (queued)" wrun --force-renew
  check "one queued" [ "$(queued_count "$T/w-out")" = 1 ]
  stop_provd
  cp "$T/backup-w.db" "$T/reg.db" && rm -f "$T/reg.db-wal" "$T/reg.db-shm"
  start_provd --policy "$T/policy.json" --rate-limit 1000/1h || exit 1
  r0=$(w_regs)
  for i in 1 2 3 4; do
    wrun --force-renew || { echo "# run failed: $(cat "$T/.err")" >&2; break; }
    [ "$(w_regs)" -gt "$r0" ] && break
  done
  check "the lost profile's queue set aside (profile-unknown)" \
    grep -Eq "set aside certificate [0-9a-f]+ \(period [0-9]+\): the server refused it: profile-unknown" "$T/.err"
  check "the agent says the CRL goes with the next registration" \
    grep -q "the server no longer knows the renewal profile" "$T/.err"
  check "the next window's first certificate registered WITH the CRL, in that round" \
    bash -c "grep ' POST /v1/certificates 201 .*device=DEV-W' '$T/provd.log' | tail -1 | grep -q ' crl=kept'"
  check "GET /v1/crls serves DEV-W's CRL again" crl_of w DEV-W
fi

# --- crl15b: PostgreSQL, a runtime role granted before schema 4 (no rights on device_crls) ---
# crl15's answers made every registration of such a role fail ("permission denied for table
# device_crls"). Now: registered, the answer saying nothing of the CRL (provd logs why, once),
# and a CRL sent is answered "not-kept" (OPERATIONS.md "Migrations and upgrades").
if on_pg; then
  stop_provd
  pg_sql "CREATE ROLE sc_old4 LOGIN" >/dev/null || exit 1
  sc net db migrate --db "$REG_DB" --grant sc_old4 >/dev/null || exit 1
  pg_sql "REVOKE ALL ON device_crls FROM sc_old4" >/dev/null || exit 1
  REG_OWNER=$REG_DB
  REG_DB=${SC_PG_URI/user=selfcert/user=sc_old4}
  start_provd --policy "$T/policy.json" --rate-limit 1000/1h || exit 1
  NUR=$(sed -n -E 's/.*"crl_until": ([0-9]+).*/\1/p' "$T/r-out/state.json")
  r0=$(grep -c " POST /v1/certificates 201 .*device=DEV-R" "$T/provd.log")
  ok "renew DEV-R, provd's role without device_crls" rrun --force-renew
  check "registered ($(grep -c " POST /v1/certificates 201 .*device=DEV-R" "$T/provd.log") = $r0 + 1)" \
    [ "$(grep -c " POST /v1/certificates 201 .*device=DEV-R" "$T/provd.log")" = $((r0 + 1)) ]
  check "the answer says nothing of the CRL ($(last_r))" r_lacks crl=
  check "provd said why, once" [ "$(grep -c "this role may not read device_crls" "$T/provd.log")" = 1 ]
  check "the agent trusts what it remembers (crl_until $NUR)" grep -q "\"crl_until\": $NUR" "$T/r-out/state.json"
  sed -i '/"crl_until"/d' "$T/r-out/state.json"
  ok "renew DEV-R with a CRL (crl_until unknown)" rrun --force-renew
  check "registered, the CRL not kept ($(last_r))" r_has crl=not-kept
  check "the agent refuses it a while (negative crl_until)" grep -Eq '"crl_until": -[0-9]+' "$T/r-out/state.json"
  stop_provd
  REG_DB=$REG_OWNER

  # --- robust16: the grant revoked while provd serves ---
  # crl15b asked at connect only: a REVOKE while provd served failed every registration of its
  # sessions ("permission denied for table device_crls", SQLSTATE 42501) until a restart. Now
  # the lock statement's 42501 makes the session ask again and send it without the join: the
  # registrations go on, their answers saying nothing of the CRL, one log line. (A grant again
  # is noticed within 60 s: unit/test_registry_pg test_pg_crl_revoke, on the registrations'
  # clock.) The agent is told its CRL is kept until NUR + 7, one the server does not have: an
  # answer that names the server's copy (NUR) corrects it, one that says nothing leaves it.
  pg_sql "CREATE ROLE sc_rt16 LOGIN" >/dev/null || exit 1
  sc net db migrate --db "$REG_DB" --grant sc_rt16 >/dev/null || exit 1
  REG_DB=${SC_PG_URI/user=selfcert/user=sc_rt16}
  L0=$(($(wc -l <"$T/provd.log") + 1)) # this provd's lines from here (the log is appended)
  start_provd --policy "$T/policy.json" --rate-limit 1000/1h || exit 1
  set_r() { sed -i -E "s/\"$1\": [^,}]+/\"$1\": $2/" "$T/r-out/state.json"; }
  r_regs() { grep -c " POST /v1/certificates 201 .*device=DEV-R" "$T/provd.log"; }
  sed -i '/"crl_until"/d' "$T/r-out/state.json"
  ok "renew DEV-R with a CRL, provd's role granted" rrun --force-renew
  check "registered with the CRL kept ($(last_r))" r_has crl=kept
  NUR=$(pg_sql "SELECT next_update FROM device_crls WHERE device_id = 'DEV-R'")
  set_r crl_until $((NUR + 7))
  ok "renew DEV-R, provd's role granted" rrun --force-renew
  check "the answer names the server's copy (crl_until $NUR)" grep -Eq "\"crl_until\": $NUR([^0-9]|\$)" "$T/r-out/state.json"
  pg_sql "REVOKE ALL ON device_crls FROM sc_rt16" >/dev/null || exit 1
  REVOKED="selfcert-provd: warning: registry postgresql database selfcert on $SC_PG_DIR: this role may no longer read device_crls (permission denied: its grant revoked?): registrations go on without saying what device CA CRL is kept; a grant again is noticed within 60 s"
  for i in 1 2; do
    set_r crl_until $((NUR + 7))
    r0=$(r_regs)
    ok "renew DEV-R, the grant revoked while provd serves ($i)" rrun --force-renew
    check "registered ($(r_regs) = $r0 + 1)" [ "$(r_regs)" = $((r0 + 1)) ]
    check "the answer says nothing of the CRL ($(last_r))" r_lacks crl=
    check "the agent heard nothing of it (crl_until $((NUR + 7)) kept)" \
      grep -Eq "\"crl_until\": $((NUR + 7))([^0-9]|\$)" "$T/r-out/state.json"
    check "provd said why, once: $REVOKED" [ "$(grep -cxF "$REVOKED" "$T/provd.log")" = 1 ]
  done
  check "nothing failed for it (no \"permission denied for table\" in this provd's log)" \
    bash -c "! tail -n +$L0 '$T/provd.log' | grep -q 'permission denied for table'"
  stop_provd
  REG_DB=$REG_OWNER
fi
finish
