#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Install the Debian packages selfcert needs, only when something is missing.
# The lists are scripts/deps.d/*.txt (one feature each; '#' starts a comment).
# Safe to run again; needs root (or sudo) only when it has something to install.
# `scripts/deps.sh demo pkcs11` installs only those lists (deps.d/demo.txt, deps.d/pkcs11.txt).
set -euo pipefail
cd "$(dirname "$0")"
lists=(deps.d/*.txt)
if [ $# -gt 0 ]; then
  lists=()
  for n in "$@"; do lists+=("deps.d/$n.txt"); done
fi
mapfile -t pkgs < <(sed 's/#.*//' "${lists[@]}" | tr -s ' \t' '\n' | sed '/^$/d' | sort -u)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# OpenSSL's pkcs11 provider (keys in a token, src/lib/keyopen.c): in Debian 13's main archive,
# only in bookworm-backports on Debian 12 — so it is not in the lists, and handled below.
provider_missing=0
missing_all=()
dpkg-query -W -f='${Status}' pkcs11-provider 2>/dev/null | grep -q "install ok installed" ||
  provider_missing=1
[ ${#missing[@]} -eq 0 ] && [ "$provider_missing" -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
# Debian 12 itself (read in a subshell: os-release's variables stay out of this script).
bookworm=$( . /etc/os-release 2>/dev/null; [ "${ID:-}" = debian ] && [ "${VERSION_ID:-}" = 12 ] &&
  echo 1 || echo 0)
# Debian 12: Debian's own backports suite, signed by Debian's archive key, unless some sources
# file already names it. Backports are never preferred by apt: only what is asked for with
# -t bookworm-backports comes from there.
if [ "$provider_missing" -eq 1 ] && [ "$bookworm" -eq 1 ] &&
   ! grep -rqs '^[^#]*bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  echo "selfcert: enabling bookworm-backports (for pkcs11-provider)" >&2
  printf '%s\n' 'Types: deb' 'URIs: http://deb.debian.org/debian' 'Suites: bookworm-backports' \
    'Components: main' 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' |
    $sudo tee /etc/apt/sources.list.d/selfcert-bookworm-backports.sources >/dev/null
fi
[ "$provider_missing" -eq 0 ] || missing_all=("${missing[@]}" pkcs11-provider)
echo "selfcert: installing ${missing_all[*]:-${missing[*]}}" >&2
$sudo apt-get update -qq
[ ${#missing[@]} -eq 0 ] || $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
if [ "$provider_missing" -eq 1 ]; then
  if [ "$bookworm" -eq 1 ]; then
    $sudo apt-get install -y -qq -t bookworm-backports pkcs11-provider >/dev/null
  else
    $sudo apt-get install -y -qq pkcs11-provider >/dev/null
  fi
fi
