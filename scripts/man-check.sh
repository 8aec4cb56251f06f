#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Every flag a program's --help prints appears in its man page source (dist/man/*.scd): for
# selfcert(1) the --help of every command of `selfcert --help` (and each `net device` verb), for
# the daemons their own --help. Usage: scripts/man-check.sh BUILD-DIR (the programs' folder).
# Prints each missing flag as `man: <page>: <command>: --flag` and exits 1 if there is any.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:?usage: scripts/man-check.sh BUILD-DIR}
man=dist/man
missing=0

flags() { grep -o -- '--[a-z][a-z0-9-]*' | sort -u; }
need() { # need PAGE WHAT FLAG…
  local page=$1 what=$2; shift 2
  for f in "$@"; do
    # The flag must be written as a flag (*--x*, --x), not only inside another one's name.
    if ! grep -q -- "$f\\b" "$man/$page.scd"; then
      echo "man: $page: $what: $f" >&2
      missing=$((missing + 1))
    fi
  done
}

for p in selfcert-spd:8 selfcert-provd:8 selfcert-agent:8 selfcert-gateway:1; do
  prog=${p%%:*}
  mapfile -t fl < <("$bin/$prog" --help | flags)
  need "$prog.${p##*:}" "$prog" "${fl[@]}"
done
mapfile -t top < <("$bin/selfcert" --help | flags)
need selfcert.1 selfcert "${top[@]}"
while read -r w1 w2; do
  mapfile -t fl < <("$bin/selfcert" $w1 $w2 --help | flags)
  need selfcert.1 "$w1${w2:+ $w2}" "${fl[@]}"
  if [ "$w1 $w2" = "net device" ]; then
    for v in add revoke list show import; do
      mapfile -t fl < <("$bin/selfcert" net device $v --help | flags)
      need selfcert.1 "net device $v" "${fl[@]}"
    done
  fi
done < <("$bin/selfcert" --help | awk '/^  [a-z]/ && $1 != "--version" { if ($1 ~ /^(mfr|net|sp|device)$/) print $1, $2; else print $1 }')
# The configuration file's page names every key the daemons take (their long flags).
for prog in selfcert-provd selfcert-agent; do
  mapfile -t fl < <("$bin/$prog" --help | flags | grep -v -e '^--help$' -e '^--version$' -e '^--config$')
  need selfcert.conf.5 "$prog keys" "${fl[@]}"
done
if [ $missing -gt 0 ]; then
  echo "man: $missing flag(s) missing from the man pages" >&2
  exit 1
fi
exit 0
