#!/usr/bin/env bash
# The main job: install what is missing, build (release preset), run `selfcert demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j"$(nproc)" >/dev/null
exec build/release/selfcert demo "$@"
