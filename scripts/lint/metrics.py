#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""metrics.py — the size figures of docs/ARCHITECTURE.md: lines per file and per function over
src/ (ctags ranges). Usage: scripts/lint/metrics.py [ROOT] (default: the checkout)."""
import glob
import os
import statistics
import subprocess
import sys

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), '..', '..')
os.chdir(root)
files, funcs = [], []
for f in sorted(glob.glob('src/**/*.c', recursive=True)):
    files.append((sum(1 for _ in open(f, errors='replace')), f))
    tags = subprocess.run(['ctags', '--c-kinds=f', '--fields=+ne', '-o', '-', f],
                          capture_output=True, text=True, check=True).stdout
    for line in tags.splitlines():
        parts, start, end = line.split('\t'), None, None
        for x in parts[3:]:
            if x.startswith('line:'):
                start = int(x[5:])
            elif x.startswith('end:'):
                end = int(x[4:])
        if start and end:
            funcs.append((end - start + 1, f'{f}:{parts[0]}'))
files.sort(reverse=True)
funcs.sort(reverse=True)
print(f'{len(files)} files: median {statistics.median(n for n, _ in files):.0f} lines, '
      f'max {files[0][0]} ({files[0][1]})')
print(f'{len(funcs)} functions: median {statistics.median(n for n, _ in funcs):.0f} lines, '
      f'{sum(1 for n, _ in funcs if n > 100)} over 100')
print('largest files:', ', '.join(f'{f} {n}' for n, f in files[:8]))
print('longest functions:', ', '.join(f'{f} {n}' for n, f in funcs[:12]))
