#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The device CA CRL the agent sends (issue 14; GET /v1/crls, for relying parties that check a
# CRL at every level) covers a renewal window (#17, session 14: agent14, PERFORMANCE.md 21.5).
# With a renewal profile the SP renews locally and the server hears from the agent again only at
# the window's end (the default --batch), so the CRL sent with the window's first certificate
# must be valid until an hour past the window's LAST certificate's notAfter (at most 30 days);
# before, it lasted an hour past the first certificate's, and the window's later certificates
# had no valid device CA CRL at the server. A window longer than 30 days: the local renewal whose
# certificate would outlive the server's CRL registers it alone with a fresh CRL.
# Real selfcert-provd, selfcert-spd and selfcert-agent. The SP renews at most one cadence ahead:
# --force-renew makes the next period's certificate at once, so long cadences need no waiting.
SC_VG_BINS="SELFCERT_PROVD SELFCERT_AGENT"
source "$SC_TESTLIB"
source "$(dirname "$SC_TESTLIB")/lib-provd.sh"

provd_world testnet || exit 1
provd_device n DEV-N || exit 1
provd_device l DEV-L || exit 1
sc net device add --db "$REG_DB" --device-id DEV-N --device-id DEV-L >/dev/null || exit 1

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
run() { agent "$@" --once >"$T/.out" 2>"$T/.err"; }
certs_of() { db "SELECT count(*) FROM certificates WHERE device_id = '$1'"; }

# --- a window of K = 3, a certificate every 2 h, each valid 3 h ---
K=3 CAD=7200
printf '{"validity": "3h", "renewal": {"count": %d, "cadence": "%ds"}}\n' $K $CAD >"$T/policy.json"
start_provd --policy "$T/policy.json" --rate-limit 1000/1h || exit 1

ok "enroll DEV-N (default --batch)" run n
check "a renewal profile kept" grep -q '"renewal": "' "$T/n-out/state.json"
NA0=$(not_after "$T/n-out/leaf.pem")
P0=$(db "SELECT period FROM certificates WHERE device_id = 'DEV-N'")
check "the window's first certificate registered with its CRL" \
  grep -q " POST /v1/certificates 201 .*device=DEV-N.* crl=kept" "$T/provd.log"
crl_of n DEV-N
check "GET /v1/crls has DEV-N's device CA CRL" [ -n "$NU" ]
# The window's last period's notAfter: this one's plus a cadence for each period after it.
END=$((NA0 + (K - 1 - P0) * CAD))
echo "# DEV-N: period $P0 notAfter $NA0, window end $END, CRL nextUpdate $NU (+$((NU - END - 3600)) s)" >&2
# Exact: the window's end + 1 h; the SP's clock may tick a second or two past the agent's
# between the agent's asking and the SP's signing (more under memcheck).
SLACK=2; [ "$SC_VALGRIND" = 1 ] && SLACK=10
check "CRL nextUpdate = the window's last notAfter + 1 h ($NU - $END = $((NU - END)))" \
  [ $((NU - END)) -ge 3600 -a $((NU - END)) -le $((3600 + SLACK)) ]
check "state.json keeps it (crl_until)" grep -q "\"crl_until\": $NU" "$T/n-out/state.json"

ok "renew locally (--force-renew: the next period, a cadence ahead)" run n --force-renew
check "renewed locally" grep -q "renewed locally: key" "$T/.err"
NA1=$(not_after "$T/n-out/leaf.pem")
check "the new certificate is the next period's ($NA1 = $NA0 + $CAD)" [ "$NA1" = $((NA0 + CAD)) ]
crl_of n DEV-N
# Before agent14 the CRL ended at NA0 + 1 h, an hour before this certificate.
check "the server's CRL covers the current certificate + 1 h ($NU >= $NA1 + 3600)" [ "$NU" -ge $((NA1 + 3600)) ]
check "no second CRL sent" bash -c "! grep -q 'outlives the server' '$T/.err'"
check "default --batch: the renewal waits for the window's end (one queued)" \
  [ "$(grep -c 'BEGIN CERTIFICATE' <(sed -n '/"backlog"/,/]/p' "$T/n-out/state.json"))" = 1 ]
check "no batch request yet" bash -c "! grep -q 'POST /v1/certificates/batch' '$T/provd.log'"
check "one certificate registered ($(certs_of DEV-N))" [ "$(certs_of DEV-N)" = 1 ]

# --- a window longer than 30 days: K = 3, every 20 days, each valid 21 days ---
stop_provd
CAD=$((20 * 86400))
printf '{"validity": "21d", "renewal": {"count": %d, "cadence": "%ds"}}\n' $K $CAD >"$T/policy.json"
start_provd --policy "$T/policy.json" --rate-limit 1000/1h || exit 1
ok "enroll DEV-L" run l
NA0=$(not_after "$T/l-out/leaf.pem")
crl_of l DEV-L
NU0=$NU NUM0=$NUM
# The window's end is 40 days past the first certificate's: the CRL is capped at 30 days
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
check "nothing queued: it went with the CRL" bash -c "! grep -q '\"backlog\"' '$T/l-out/state.json'"
check "two certificates registered ($(certs_of DEV-L))" [ "$(certs_of DEV-L)" = 2 ]
finish
