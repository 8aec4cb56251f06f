#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Every test, in order:
#   1. scripts/deps.sh (installs what is missing);
#   2. the debug preset (gcc, warnings as errors) and the whole ctest suite, fuzz corpus replays
#      included: fuzz/replay_* (always under ASan+UBSan) and fuzz/memcheck_* (under valgrind);
#   3. lint (scripts/lint/: no fail-open-shaped goto out, .clang-format holds) and two more
#      builds, warnings as errors: gcc -O3 Release and clang (each compiler and level warns about
#      different things); the clang build is also SC_SHORTCUTS=OFF, and the unit tests of the
#      modules with shortcuts run there;
#   3b. the Debian package (scripts/deb.sh): dpkg-buildpackage, lintian, a fresh root, the demo.
#      Its build is gcc -O2 with Debian's hardening flags (_FORTIFY_SOURCE=2, format-security),
#      and deb.sh fails on any compiler warning in it: so every shipped file is also built
#      warning-free at -O2 (what the release preset's build used to check, one build less);
#   4. the asan preset (ASan+UBSan everywhere) and the whole suite again, with the shrunken loops
#      (SC_SMALL=1, tests/integration/lib.sh): the integration tests then run the sanitized
#      selfcert and selfcert-spd;
#   5. valgrind memcheck: every integration test once more against the debug binaries with
#      SC_VALGRIND=1 (tests/integration/lib.sh): each of our processes the tests start —
#      selfcert, selfcert-spd (unsandboxed), selfcert-provd, selfcert-agent, selfcert-gateway,
#      the PKCS#11 driver — runs under memcheck, and any error or definite leak fails the test.
#      A step that repeats what a memchecked step of the pass already ran (the same command
#      again, set-up, a prefix of a run that follows in full) runs natively there (lib.sh: scn,
#      vgn, SC_VG_BINS; each test file says which step and where the memchecked one is): every
#      valgrind process costs 1-3 s of CPU, and this pass is CPU-bound.
#      valgrind slows our processes 50-150x (an RSA key generation takes ~30 s of CPU), so the
#      tests shrink their loops there (SC_VG_SMALL: the matrix becomes a Latin square, the crash
#      matrix stops `issue` only, 8 kill rounds, 4 provd-load devices); test_sandbox and
#      test_load skip themselves (no sandbox, no load figures under valgrind), and so do
#      test_provd_keygen and test_units (their daemons run natively there; the CLI set-up they
#      memchecked runs under memcheck in test_pkg_cli). An SP daemon that only serves requests
#      another memchecked SP serves, or only makes a test's set-up, runs natively too (ci17:
#      test_agent, test_agent_nginx, test_provd_auth, test_faults_store say which and where).
# Usage: scripts/test.sh [CTEST-ARGS…]   extra arguments go to the debug pass's ctest (e.g.
#        -R unit/); the asan and valgrind passes always run their full set.
# Environment: SC_FAST=1   only steps 1 and 2 (quick local runs).
set -euo pipefail
cd "$(dirname "$0")/.."

# How long each step took, printed at the end (and when a step fails): CI must stay well under
# 30 minutes, and this says where the time goes.
PHASES=()
phase_start=$SECONDS
phase_name=deps
phase() {   # phase NAME TITLE: the step before ends here
  PHASES+=("$(printf '%-10s %5d s' "$phase_name" $((SECONDS - phase_start)))")
  phase_name=$1
  phase_start=$SECONDS
  echo "== $2"
}
phase_report() {
  PHASES+=("$(printf '%-10s %5d s' "$phase_name" $((SECONDS - phase_start)))")
  echo "== time per step"
  printf '  %s\n' "${PHASES[@]}"
  printf '  %-10s %5d s\n' total "$SECONDS"
}
trap phase_report EXIT
# seed_costs BUILD TABLE: a build folder without ctest's cost data of its own gets TABLE's
# (tests/costs/: seconds measured in CI), so a fresh clone, as in CI, starts the longest tests
# first instead of in declaration order; once a folder has its own measurements, ctest uses those.
seed_costs() {
  local f=$1/Testing/Temporary/CTestCostData.txt
  [ -s "$f" ] && return 0
  mkdir -p "${f%/*}"
  { sed -n 's/^\([^# ][^ ]*\) \([0-9][0-9]*\)$/\1 1 \2/p' "$2"; echo ---; } >"$f"
}
scripts/deps.sh

phase debug "debug build and tests"
cmake --preset debug >/dev/null
cmake --build --preset debug -j"$(nproc)"
seed_costs build/debug tests/costs/debug.txt
ctest --preset debug "$@"
if [ "${SC_FAST:-0}" = 1 ]; then
  echo "SC_FAST=1: asan and valgrind passes skipped"
  exit 0
fi

phase lint lint
scripts/lint/run.sh

phase o3+clang "gcc -O3 and clang builds (warnings as errors); clang without the shortcuts"
cmake -S . -B build/o3 -DCMAKE_BUILD_TYPE=Release -DSC_WERROR=ON >/dev/null
cmake --build build/o3 -j"$(nproc)"
# The clang build is also the reference build without the OpenSSL shortcuts (SC_SHORTCUTS=OFF,
# docs/ARCHITECTURE.md §4): the unit tests of every module that has one run there too.
cmake -S . -B build/clang -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DSC_WERROR=ON \
  -DSC_SHORTCUTS=OFF >/dev/null
cmake --build build/clang -j"$(nproc)"
ctest --test-dir build/clang --output-on-failure -j2 \
  -R '^unit/test_(cert|verify|profile|dispatch|keyder|store|api|api_certcache|fast_x509|leaf_ref|leaf_ref_renew)$'

phase deb "Debian package: built (-O2, no warnings), lintian, installed into a fresh root, the demo run from it"
# A time budget (SC_DEB_BUDGET seconds, default 600) so a stuck package build never holds CI.
if command -v dpkg-buildpackage >/dev/null; then
  timeout "${SC_DEB_BUDGET:-600}" scripts/deb.sh build/deb
else
  echo "dpkg-buildpackage missing (scripts/deps.d/pkg.txt): package step skipped"
fi

phase asan "asan build and tests (ASan+UBSan)"
cmake --preset asan >/dev/null
cmake --build --preset asan -j"$(nproc)"
# Not again under ASan, to keep CI well under 30 minutes: the second runs of a test on another
# backend (integration/tpm/*, *_pg: the TPM's own code runs under ASan in test_tpm, PostgreSQL's
# in unit/test_registry_pg), the multi-node PostgreSQL tests, the stock-stack matrices (nginx,
# Go, HAProxy: our side of them is the SP and the agent, which other tests run) and benchmarks.
asan_skip='^integration/tpm/|_pg$|^integration/test_provd_(nodes|failover)$'
asan_skip+='|^integration/test_(interop|agent_nginx)$|^bench/'
seed_costs build/asan tests/costs/asan.txt
SC_SMALL=1 ctest --preset asan -E "$asan_skip"

phase valgrind "valgrind memcheck: every integration test against the debug build"
summary=$PWD/build/debug/valgrind-summary.txt
rm -f "$summary"
rc=0
# Skipped here (besides the tests that skip themselves): the longer PostgreSQL repeats (agent,
# agent_renewal, load, activate, recover, agent_crl_window: the backend's code runs under
# memcheck in test_provd_auth_pg, test_provd_operators_pg and test_provd_renew_first_pg, whose
# registrations run the CRL join and the grant check; the no-grant role's branch runs natively)
# and test_hsm (the provider and SoftHSM under memcheck take minutes; keyopen.c's own checks run
# in unit/test_keyopen and fuzz/memcheck_key_uri).
# The longest first by their times under memcheck (tests/costs/valgrind.txt), not by the debug
# pass's that ctest recorded in the same folder; that record is put back afterwards.
costs=build/debug/Testing/Temporary/CTestCostData.txt
[ -f "$costs" ] && mv "$costs" "$costs.debug"
seed_costs build/debug tests/costs/valgrind.txt
SC_VALGRIND=1 SC_VG_SUMMARY=$summary ctest --preset debug -R '^integration/' \
  -E '^integration/test_(agent|agent_renewal|provd_load|provd_activate|provd_recover|agent_crl_window)_pg$|^integration/test_hsm$' || rc=$?
if [ -f "$costs.debug" ]; then mv "$costs.debug" "$costs"; else rm -f "$costs"; fi
echo "== valgrind summary (tests that skipped themselves are not listed)"
sort "$summary" 2>/dev/null
exit "$rc"
