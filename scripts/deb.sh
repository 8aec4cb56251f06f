#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The Debian package, built and used as a user would: copies the tracked tree to a temporary
# folder, `dpkg-buildpackage -b -us -uc` there, lintian (errors fail), extracts both .debs into a
# fresh root, checks the layout (programs, the PKCS#11 module where p11-kit's file says, units,
# man pages, selfcert.pc usable), then runs `selfcert demo` against the installed programs.
# Usage: scripts/deb.sh [OUT-DIR]   (the .debs are copied there; default build/deb)
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(realpath -m "${1:-build/deb}")
work=$(mktemp -d "${TMPDIR:-/tmp}/selfcert-deb-XXXXXX")
trap 'rm -rf "$work"' EXIT
src=$work/selfcert-0.1.0
mkdir -p "$src" "$out"
# The tracked files as they are in the working tree (uncommitted edits included).
git ls-files -z | xargs -0 cp --parents -d -t "$src"
(cd "$src" && dpkg-buildpackage -b -us -uc >"$work/build.log" 2>&1) || {
  grep -B3 -A12 "CMake Error" "$work/build.log" >&2 || true; tail -n 30 "$work/build.log" >&2
  echo "deb: dpkg-buildpackage failed" >&2
  exit 1
}
# Debian's flags (-O2, _FORTIFY_SOURCE=2, -Wformat -Werror=format-security, hardening=+all) see
# things the debug build does not (format truncation, fortified bounds): no warning may pass, so
# the shipped code is warning-free there as the -O3 and clang builds are. (The package itself
# builds with SC_WERROR=OFF: a Debian rebuild with a newer compiler must not fail on a new
# warning; this check is ours.)
if grep -E '^[^ ]*\.[ch]:[0-9]+:[0-9]+: warning:' "$work/build.log" >"$work/warnings.txt"; then
  cat "$work/warnings.txt" >&2
  echo "deb: compiler warnings in the package build ($(wc -l <"$work/warnings.txt"))" >&2
  exit 1
fi
cp "$work"/*.deb "$out"/
echo "deb: built $(cd "$out" && ls *.deb | tr '\n' ' ')"
# lintian: errors fail; warnings are printed.
lintian --tag-display-limit 0 "$work"/*.changes >"$work/lintian.txt" 2>&1 || true
cat "$work/lintian.txt"
if grep -q '^E: ' "$work/lintian.txt"; then
  echo "deb: lintian errors" >&2
  exit 1
fi

# A fresh root with both packages' files in it.
root=$work/root
for d in "$work"/*.deb; do dpkg-deb -x "$d" "$root"; done
fail=0
need() { [ -e "$root$1" ] || { echo "deb: missing $1" >&2; fail=1; }; }
for p in selfcert selfcert-spd selfcert-provd selfcert-agent selfcert-gateway; do need /usr/bin/$p; done
mod=$(sed -n 's/^module: //p' "$root/usr/share/p11-kit/modules/selfcert.module")
need "$mod"
case "$mod" in /usr/lib/*/pkcs11/libselfcert-pkcs11.so) ;; *) echo "deb: module path $mod" >&2; fail=1 ;; esac
for u in selfcert-spd@.service selfcert-agent@.service selfcert-provd.service; do need /lib/systemd/system/$u; done
need /usr/lib/sysusers.d/selfcert.conf
for m in man1/selfcert.1.gz man8/selfcert-spd.8.gz man8/selfcert-provd.8.gz man8/selfcert-agent.8.gz man5/selfcert.conf.5.gz; do
  need /usr/share/man/$m
done
need /etc/selfcert/provd.conf
need /usr/share/bash-completion/completions/selfcert
[ $fail -eq 0 ] || exit 1
"$root/usr/bin/selfcert" --version

# The p11-kit module file as shipped, pointed into the fresh root: p11-kit loads the module from
# it with no --provider (a user's module folder, as nobody: root reads only the system folders,
# which this script does not touch).
if [ "$(id -u)" = 0 ] && command -v p11-kit >/dev/null && command -v setpriv >/dev/null; then
  home=$work/home
  mkdir -p "$home/.config/pkcs11/modules"
  sed "s|^module: |module: $root|" "$root/usr/share/p11-kit/modules/selfcert.module" \
    >"$home/.config/pkcs11/modules/selfcert.module"
  chown -R nobody "$home"
  chmod 0711 "$work"
  HOME=$home setpriv --reuid=nobody --regid=nogroup --clear-groups p11-kit list-modules \
    >"$work/p11.txt" 2>&1 || true
  if grep -q 'library-description: selfcert' "$work/p11.txt"; then
    echo "deb: p11-kit loads the module from its module file"
  else
    cat "$work/p11.txt" >&2
    echo "deb: p11-kit did not load the module from selfcert.module" >&2
    exit 1
  fi
  # And p11tool, with no --provider, lists the token of a running SP (the installed spd).
  as_nobody=(env HOME="$home" setpriv --reuid=nobody --regid=nogroup --clear-groups)
  mkdir -p "$work/sp" && chown nobody "$work/sp"
  "${as_nobody[@]}" "$root/usr/bin/selfcert-spd" --init --store "$work/sp/store" --device-id ACME-DEB
  "${as_nobody[@]}" "$root/usr/bin/selfcert-spd" --store "$work/sp/store" --socket "$work/sp/sp.sock" \
    2>"$work/spd.log" &
  spd=$!
  for _ in $(seq 1 100); do [ -S "$work/sp/sp.sock" ] && break; sleep 0.05; done
  # A token is there once the SP is personalized and locked (docs/PKCS11.md).
  sc=$root/usr/bin/selfcert
  "$sc" mfr init --dir "$work/mfr" >/dev/null
  "$sc" net init --dir "$work/net" --network-id deb-net >/dev/null
  "$sc" mfr personalize --dir "$work/mfr" --sp "$work/sp/sp.sock" --out "$work/certs" \
    --net-root "$work/net/root.pem" --network-id deb-net >/dev/null
  SELFCERT_SP="$work/sp/sp.sock" "${as_nobody[@]}" p11tool --list-tokens >"$work/tokens.txt" 2>&1 || true
  kill "$spd"
  wait "$spd" || true
  if grep -q 'ACME-DEB' "$work/tokens.txt"; then
    echo "deb: p11tool --list-tokens shows the SP's token (no --provider)"
  else
    cat "$work/tokens.txt" "$work/spd.log" >&2
    echo "deb: p11tool did not list the SP's token" >&2
    exit 1
  fi
fi

# libselfcert-dev: a relying party builds against the installed headers, library and .pc.
pcdir=$(dirname "$(find "$root/usr/lib" -name selfcert.pc)")
cat >"$work/rp.c" <<'C'
#include <stdio.h>
#include <selfcert/version.h>
#include <selfcert/verify.h>
int main(void) { printf("libselfcert %s\n", sc_version()); return 0; }
C
cflags=$(PKG_CONFIG_PATH=$pcdir PKG_CONFIG_SYSROOT_DIR=$root pkg-config --cflags selfcert)
libs=$(PKG_CONFIG_PATH=$pcdir PKG_CONFIG_SYSROOT_DIR=$root pkg-config --libs selfcert)
# shellcheck disable=SC2086
cc -o "$work/rp" "$work/rp.c" $cflags $libs
"$work/rp"

# The demo against the installed programs: selfcert finds its siblings beside it in usr/bin;
# the module is the installed one (outside a real install, its /usr/lib path is not there).
SELFCERT_PKCS11_MODULE="$root$mod" "$root/usr/bin/selfcert" demo >"$work/demo.out" 2>&1 || {
  tail -n 30 "$work/demo.out" >&2
  echo "deb: the demo failed against the installed programs" >&2
  exit 1
}
tail -n 3 "$work/demo.out"
echo "deb: ok"
