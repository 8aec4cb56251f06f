#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The main job: install only what the demo needs (deps.d/demo.txt), build only the shipped
# programs (-DSC_TESTS=OFF, into build/demo), run `selfcert demo`. The programs stay in build/demo.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh demo
cmake -S . -B build/demo -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSC_TESTS=OFF >/dev/null
cmake --build build/demo -j"$(nproc)" >/dev/null
exec build/demo/selfcert demo "$@"
