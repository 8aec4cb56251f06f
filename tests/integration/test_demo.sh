#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The README's main job: `selfcert demo` runs end to end and exits 0, shows each outcome the
# issues promise (both embodiments, stock openssl verification, a replay refused, enrollment
# through the server, mutual TLS through the PKCS#11 module, renewal, a revoked device refused,
# the summary table), and cleans up after itself.
source "$SC_TESTLIB"
export TMPDIR="$T"
# SC_BACKEND=tpm (integration/tpm/test_demo): every device's SP on its own swtpm.
DEMO=()
[ "$SC_BACKEND" = tpm ] && DEMO=(--backend tpm)
ok "selfcert demo ${DEMO[*]}" sc demo "${DEMO[@]}"
out="$T/.out"
if [ "$SC_BACKEND" = tpm ]; then
  check "the device's SP runs on a TPM" grep -q "^    key backend:      tpm: manufacturer" "$out"
  check "the demo stopped its swtpms" [ -z "$(pgrep -f "swtpm socket --tpm2 --tpmstate dir=$T/" || true)" ]
fi
check "part 1: openssl verifies the leaf" grep -q "alice.pem: OK" "$out"
check "part 1: the new key's signature verifies" grep -q "Verified OK" "$out"
check "part 1: the replay is refused" grep -q "selfcert: replay:" "$out"
check "part 1: the server-generated key is issued" grep -q "server.pem: OK" "$out"
check "part 2: three devices enrolled" [ "$(grep -c "registered by the server" "$out")" -ge 4 ]
check "part 2: the gateway admitted the TLS client" grep -q "selfcert-gateway: admitted CN=ACME-0101,O=example-net,serialNumber=ACME-0101" "$out"
check "part 2: the echo came back over TLS" grep -q "^    REGISTER sip:example.net, from ACME-0101" "$out"
check "part 2: the renewal deleted the old key" grep -q "ACME-0101: old key 1 deleted" "$out"
check "part 2: the revoked device was refused" grep -q "ACME-0103 is revoked (HTTP 403)" "$out"
check "part 2: the table" grep -qE "^ACME-0102 +rsa2048 +server-generated" "$out"
check "part 2: the table shows the revocation" grep -qE "^ACME-0103 .*revoked: refused" "$out"
check "demo cleaned up" [ -z "$(ls -d "$T"/selfcert-demo-* 2>/dev/null)" ]
# Under valgrind the second run is native (vgn, lib.sh): process for process it repeats the first,
# which ran under memcheck; only --dir and --keep differ, and the refusal below runs --dir there.
KEEP_RUN=(sc)
[ "$SC_VALGRIND" = 1 ] && KEEP_RUN=(vgn "$SELFCERT_NATIVE")
ok "selfcert demo --dir --keep" "${KEEP_RUN[@]}" demo --dir "$T/kept" --keep "${DEMO[@]}"
check "kept folder has the leaf" [ -f "$T/kept/alice.pem" ]
refused "demo --dir that exists" 3 exists sc demo --dir "$T/kept"
finish
