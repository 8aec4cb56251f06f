#!/usr/bin/env bash
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
[ ${#missing[@]} -eq 0 ] && exit 0
echo "selfcert: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq "${missing[@]}" >/dev/null
