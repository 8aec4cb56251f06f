#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The licence line of every source file (LICENSE is Apache-2.0): `scripts/spdx.sh` adds
# `// SPDX-License-Identifier: Apache-2.0` (C) or `# SPDX-…` (shell, Python, CMake) as the first
# line where it is missing, after a shebang if there is one; `--check` only lists the files
# without it and exits 1 if there are any (scripts/lint/run.sh runs it when SC_LINT_SPDX=1).
set -euo pipefail
cd "$(dirname "$0")/.."
id="SPDX-License-Identifier: Apache-2.0"
check=0
case "${1:-}" in
--check) check=1 ;;
"") ;;
*)
	echo "usage: scripts/spdx.sh [--check]" >&2
	exit 2
	;;
esac

mapfile -t files < <(git ls-files '*.c' '*.h' '*.sh' '*.py' '*.cmake' 'CMakeLists.txt' \
	'*/CMakeLists.txt' | sort -u)
missing=0
for f in "${files[@]}"; do
	[ -f "$f" ] || continue
	# The line must be the first, or the second after a shebang: a licence line further down
	# (a quoted example, a test fixture) does not count.
	if head -n 2 "$f" | grep -q "$id"; then
		continue
	fi
	case "$f" in
	*.c | *.h) line="// $id" ;;
	*) line="# $id" ;;
	esac
	if [ $check -eq 1 ]; then
		echo "spdx: $f: no '$id' on its first line" >&2
		missing=$((missing + 1))
		continue
	fi
	tmp="$f.spdx.$$"
	if head -n 1 "$f" | grep -q '^#!'; then
		{ head -n 1 "$f"; echo "$line"; tail -n +2 "$f"; } >"$tmp"
	else
		{ echo "$line"; cat "$f"; } >"$tmp"
	fi
	chmod --reference="$f" "$tmp"
	mv "$tmp" "$f"
done
if [ $check -eq 1 ] && [ $missing -gt 0 ]; then
	echo "spdx: $missing file(s) without the licence line; run scripts/spdx.sh" >&2
	exit 1
fi
exit 0
