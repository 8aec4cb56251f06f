#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Regenerate the seed corpus of every fuzz target into tests/fuzz/corpus/<target>/ (make_corpus.c).
# Seeds are written next to any regression inputs already there, never over them (those are
# named regress-*). Usage: tests/fuzz/make-corpus.sh [BUILD-DIR]  (default build/debug)
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build/debug}
[ -f "$build/CMakeCache.txt" ] || cmake --preset debug >/dev/null
cmake --build "$build" --target fuzz_make_corpus -j2 >/dev/null
ASAN_OPTIONS=detect_leaks=1 "$build/fuzz_make_corpus" tests/fuzz/corpus
for d in tests/fuzz/corpus/*/; do
  printf '%-10s %3d files, %6d bytes\n' "$(basename "$d")" "$(find "$d" -type f | wc -l)" \
    "$(find "$d" -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}')"
done
