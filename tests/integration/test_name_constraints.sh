#!/usr/bin/env bash
# The device CA's name constraints, judged by stock `openssl verify`: under a device CA made by
# the library's device-CA profile (with a test key, outside any SP), a leaf for the device's own
# serialNumber verifies and a leaf claiming another device's name is refused — so even a
# broken device can only ever speak for itself.
source "$SC_TESTLIB"

sc mfr init --dir "$T/mfr" >/dev/null || exit 1
mkdir -p "$T/nc"
ok "make device CA and leaves" "$SC_EVIL" nc-leaves "$T/mfr" "$T/nc" DEV-A DEV-B
ok "own name verifies" openssl verify -CAfile "$T/mfr/root.pem" -untrusted "$T/nc/chain.pem" "$T/nc/own.pem"
if openssl verify -CAfile "$T/mfr/root.pem" -untrusted "$T/nc/chain.pem" "$T/nc/other.pem" >"$T/.out" 2>&1; then
  fail "a leaf for DEV-B under DEV-A's device CA verified"
else
  check "refused for the name constraint" grep -q "permitted subtree violation" "$T/.out"
fi
refused "selfcert verify refuses it too" 1 chain sc verify --mfr-root "$T/mfr/root.pem" --chain "$T/nc/chain.pem" "$T/nc/other.pem"
check "the reason is named" grep -q "permitted subtree violation" "$T/.err"
finish
