#!/usr/bin/env bash
# Every test: install what is missing, build (debug preset, warnings as errors), run ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake --preset debug >/dev/null
cmake --build --preset debug -j"$(nproc)"
ctest --preset debug "$@"
