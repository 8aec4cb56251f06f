#!/usr/bin/env bash
# Install the Debian packages selfcert needs, only when something is missing.
# Safe to run again; needs root (or sudo) only when it has something to install.
set -euo pipefail
pkgs=(cmake gcc make pkg-config libssl-dev openssl libcmocka-dev)
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
