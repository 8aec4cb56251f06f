#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""goto-out.py — flag fail-open-shaped jumps in C functions that return an sc_err.

The house rule (STYLE.md, docs/ARCHITECTURE.md): in a function with `sc_err r` and an `out:`
label, every `goto out;` is preceded by an assignment to r (`r = sc_fail(...); goto out;`) or
guarded by a test of r (`if ((r = f()) != SC_OK) goto out;`). A bare `goto out;` taken while r may
still hold SC_OK from an earlier success returns success with nothing done.

Heuristic: for each function that returns sc_err (ctags gives the ranges and return types), walk its lines up to `out:`; track whether
r may hold SC_OK (after any assignment of r that is not an error constant or sc_fail*). A
`goto out;` reached while r may be SC_OK is flagged unless the statement or condition that
leads to it (from the nearest if/else/for/while/case or the previous statement's end) assigns r
or tests r. Prints "file:line: function: text" per hit; exit 1 if any.
Usage: scripts/lint/goto-out.py FILE.c ...
"""
import re
import subprocess
import sys

ASSIGN_ERR = re.compile(r'\br\s*=\s*(SC_ERR_\w+|sc_fail\w*\s*\()')
ASSIGN_ANY = re.compile(r'\br\s*=(?!=)')
TESTS_R = re.compile(r'\br\s*(!=|==)|\(\s*r\s*=|\(r\)|!\s*r\b|\br\s*<|\br\s*>')
HEAD = re.compile(r'^\s*(\}\s*)?(if|else|for|while|switch|case|default)\b')


def functions(path):
    out = subprocess.run(['ctags', '--c-kinds=f', '--fields=+ne', '-o', '-', path],
                         capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        parts = line.split('\t')
        start = end = None
        if 'typeref:typename:sc_err' not in parts[3:]:
            continue                    # only functions that return an sc_err
        for field in parts[3:]:
            if field.startswith('line:'):
                start = int(field[5:])
            elif field.startswith('end:'):
                end = int(field[4:])
        if start and end:
            yield parts[0], start, end


def strip_comments(text):
    text = re.sub(r'/\*.*?\*/', lambda m: '\n' * m.group(0).count('\n'), text, flags=re.S)
    return re.sub(r'//[^\n]*', '', text)


def block_head(body, i):
    """The condition of the braced block that holds line i (e.g. the whole `if ((r = f()) !=
    SC_OK) {`), or '' at the function's top level."""
    bal = 0
    for k in range(i - 1, 0, -1):
        bal += body[k].count('}') - body[k].count('{')
        if bal < 0:
            start = k
            while start > 0 and not HEAD.search(body[start]) and \
                    not body[start - 1].rstrip().endswith((';', '{', '}')):
                start -= 1
            return '\n'.join(body[start:k + 1]) if HEAD.search(body[start]) else ''
    return ''


def block_before(body, i):
    """The braced block (an if/else arm) that ends on the line just before line i, or ''."""
    if i == 0 or body[i - 1].strip() != '}':
        return ''
    bal = 0
    for k in range(i - 1, 0, -1):
        bal += body[k].count('}') - body[k].count('{')
        if bal <= 0 and '{' in body[k]:
            return '\n'.join(body[k:i])
    return ''


def check(path):
    lines = strip_comments(open(path, errors='replace').read()).split('\n')
    hits = []
    for name, start, end in functions(path):
        body = lines[start - 1:end]
        text = '\n'.join(body)
        if 'goto out;' not in text or not re.search(r'\bsc_err\s+r\b', text):
            continue
        may_ok, depth = False, 0
        for i, line in enumerate(body):
            if re.match(r'^out:', line):
                break
            # Only an error assignment at the function's top level re-arms r: one inside a
            # block runs on that block's path alone.
            if ASSIGN_ERR.search(line) and not re.search(r'\(\s*r\s*=', line):
                if depth == 1:
                    may_ok = False
            elif ASSIGN_ANY.search(line):
                may_ok = True
            depth += line.count('{') - line.count('}')
            if 'goto out;' not in line or not may_ok:
                continue
            # The branch that leads here: back to its if/else/loop head, or through the one
            # statement before it when the goto stands alone after a block's opening.
            j, statements = i, 0
            while j > 0 and not HEAD.search(body[j]):
                prev = body[j - 1].rstrip()
                if prev.endswith(('{', '}')):
                    if HEAD.search(body[j - 1]):
                        j -= 1
                    break
                if prev.endswith(';'):
                    statements += 1
                    if statements > 1:
                        break
                j -= 1
            branch = '\n'.join(body[j:i + 1]) + '\n' + block_head(body, i) + '\n' + \
                block_before(body, i)
            if ASSIGN_ANY.search(branch) or TESTS_R.search(branch):
                continue
            hits.append(f'{path}:{start + i}: {name}: {body[j].strip()[:80]}')
    return hits


def main(argv):
    hits = []
    for path in argv[1:]:
        hits += check(path)
    for h in hits:
        print(h)
    return 1 if hits else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
