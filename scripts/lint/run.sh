#!/usr/bin/env bash
# The style checks of scripts/test.sh; prints nothing and exits 0 when the tree is clean.
#  - goto-out.py: no fail-open-shaped `goto out` in a function returning sc_err;
#  - clang-format (.clang-format) holds for every C file under src/, include/, tests/, bench/
#    and examples/.
set -euo pipefail
cd "$(dirname "$0")/../.."
mapfile -t src < <(git ls-files 'src/*.c')
scripts/lint/goto-out.py "${src[@]}"
mapfile -t all < <(git ls-files 'src/*.[ch]' 'include/*.h' 'tests/*.[ch]' 'bench/*.[ch]' 'examples/*.c')
clang-format --dry-run --Werror "${all[@]}" 2>&1 | grep -m 20 'error:' && exit 1
exit 0
