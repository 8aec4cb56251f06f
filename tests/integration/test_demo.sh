#!/usr/bin/env bash
# The README's main job: `selfcert demo` runs end to end and exits 0, and cleans up after itself.
source "$SC_TESTLIB"
export TMPDIR="$T"
ok "selfcert demo" sc demo
check "demo verified with openssl" grep -q "alice.pem: OK" "$T/.out"
check "demo refused the replay" grep -q "selfcert: replay:" "$T/.out"
check "demo cleaned up" [ -z "$(ls -d "$T"/selfcert-demo-* 2>/dev/null)" ]
ok "selfcert demo --dir --keep" sc demo --dir "$T/kept" --keep
check "kept folder has the leaf" [ -f "$T/kept/alice.pem" ]
finish
