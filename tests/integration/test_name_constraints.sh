#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The device CA's name constraints, judged by stock `openssl verify`: under a device CA made by
# the library's device-CA profile (with a test key, outside any SP), a leaf for the device's own
# name verifies and a leaf naming another device is refused — so even a broken device can only
# ever speak for itself. Form 2 (the default for a device ID that is a DNS label) constrains the
# device's DNS name; form 1 (before 2026-12, and for other IDs) the subject's serialNumber. What
# form 2 leaves to the relying party (the subject), `selfcert verify` checks (docs/INTEROP.md §2).
source "$SC_TESTLIB"

sc mfr init --dir "$T/mfr" >/dev/null || exit 1
v() { openssl verify -CAfile "$T/mfr/root.pem" -untrusted "$T/$1/chain.pem" "$T/$1/$2.pem"; }

# ---- form 2: dNSName dev-a.selfcert.invalid ----
mkdir -p "$T/nc"
ok "make device CA and leaves" "$SC_EVIL" nc-leaves "$T/mfr" "$T/nc" DEV-A DEV-B
check "form 2: the constraint is the device's DNS name" \
  bash -c "openssl x509 -in '$T/nc/device-ca.pem' -noout -ext nameConstraints | grep -qx '  *DNS:dev-a.selfcert.invalid'"
ok "own name verifies" v nc own
if v nc other >"$T/.out" 2>&1; then
  fail "a leaf for DEV-B's DNS name under DEV-A's device CA verified"
else
  check "refused for the name constraint" grep -q "permitted subtree violation" "$T/.out"
fi
refused "selfcert verify refuses it too" 1 chain sc verify --mfr-root "$T/mfr/root.pem" --chain "$T/nc/chain.pem" "$T/nc/other.pem"
check "the reason is named" grep -q "permitted subtree violation" "$T/.err"
# The subject is not name-constrained in form 2: stock path validation passes, the issuer rule
# (leaf serialNumber = the device CA's) refuses it.
ok "form 2: a leaf claiming DEV-B in its subject passes stock path validation" v nc other-subject
refused "selfcert verify refuses it (the issuer rule)" 1 binding sc verify --mfr-root "$T/mfr/root.pem" --chain "$T/nc/chain.pem" "$T/nc/other-subject.pem"
check "the reason is named" grep -q 'leaf serialNumber "DEV-B" is not the device CA.s "DEV-A"' "$T/.err"

# ---- form 1 (devices personalized before 2026-12): directoryName serialNumber=DEV-A ----
mkdir -p "$T/nc1"
ok "make a form 1 device CA and leaves" "$SC_EVIL" nc-leaves "$T/mfr" "$T/nc1" DEV-A DEV-B 1
check "form 1: the constraint is the serialNumber" \
  bash -c "openssl x509 -in '$T/nc1/device-ca.pem' -noout -ext nameConstraints | grep -qx '  *DirName:serialNumber *= *DEV-A'"
ok "form 1: own name verifies" v nc1 own
if v nc1 other-subject >"$T/.out" 2>&1; then
  fail "form 1: a leaf for serialNumber=DEV-B under DEV-A's device CA verified"
else
  check "form 1: refused for the name constraint" grep -q "permitted subtree violation" "$T/.out"
fi

# ---- a device ID that is no DNS label gets form 1 ----
mkdir -p "$T/nc3"
ok "make a device CA for 'DEV A.1'" "$SC_EVIL" nc-leaves "$T/mfr" "$T/nc3" "DEV A.1" "DEV B.1"
check "no DNS label: form 1" \
  bash -c "openssl x509 -in '$T/nc3/device-ca.pem' -noout -ext nameConstraints | grep -q 'DirName:serialNumber *= *DEV A.1'"
if v nc3 other >"$T/.out" 2>&1; then fail "form 1 (DEV A.1): DEV B.1's leaf verified"; else pass; fi
if "$SC_EVIL" nc-leaves "$T/mfr" "$T/nc3" "DEV A.1" "DEV B.1" 2 2>"$T/.err"; then
  fail "form 2 was made for 'DEV A.1'"
else
  check "form 2 is refused for such an ID, named" grep -q "form 2 needs a device ID that is a DNS label" "$T/.err"
fi
finish
