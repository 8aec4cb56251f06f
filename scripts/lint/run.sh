#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The style checks of scripts/test.sh; prints nothing and exits 0 when the tree is clean.
#  - goto-out.py: no fail-open-shaped `goto out` in a function returning sc_err;
#  - clang-format (.clang-format) holds for every C file under src/, include/, tests/, bench/
#    and examples/;
#  - spdx.sh --check: the licence line opens every source file (SC_LINT_SPDX=0 skips it; a new
#    file gets its line from scripts/spdx.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
mapfile -t src < <(git ls-files 'src/*.c')
scripts/lint/goto-out.py "${src[@]}"
mapfile -t all < <(git ls-files 'src/*.[ch]' 'include/*.h' 'tests/*.[ch]' 'bench/*.[ch]' 'examples/*.c')
# Its findings, kept whole before they are judged: in a pipeline, pipefail would make
# clang-format's own failure the pipeline's and `&& exit 1` would never run.
fmt=$(clang-format --dry-run --Werror "${all[@]}" 2>&1) || true
if grep -q 'error:' <<<"$fmt"; then
	grep -m 20 'error:' <<<"$fmt"
	exit 1
fi
if [ "${SC_LINT_SPDX:-1}" = 1 ]; then
	scripts/spdx.sh --check
fi
exit 0
