#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# hsm-token.sh DIR — a SoftHSM token for bench_ca --signer-key: DIR/softhsm2.conf (tokens in
# DIR/tokens), a P-256 key pair "bench-signer" generated inside the token, the PIN in DIR/pin
# (0600). Prints the environment to export and the key's URI, e.g.
#   eval "$(bench/hsm-token.sh /var/tmp/hsm)"; bench_ca --signer-key "$SIGNER_URI"
set -euo pipefail
dir=${1:?usage: hsm-token.sh DIR}
module=/usr/lib/softhsm/libsofthsm2.so
mkdir -p "$dir/tokens"
dir=$(cd "$dir" && pwd)
export SOFTHSM2_CONF="$dir/softhsm2.conf"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
  "$dir/tokens" >"$SOFTHSM2_CONF"
pin=$(printf '%010u' "$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')")
umask 077
printf '%s\n' "$pin" >"$dir/pin"
softhsm2-util --init-token --free --label bench --so-pin "$pin$pin" --pin "$pin" >/dev/null
pkcs11-tool --module "$module" --token-label bench --login --pin "$pin" --keypairgen \
  --key-type EC:prime256v1 --label bench-signer --id 01 >/dev/null
printf 'export SOFTHSM2_CONF=%q PKCS11_PROVIDER_MODULE=%q\n' "$SOFTHSM2_CONF" "$module"
printf 'SIGNER_URI=%q\n' "pkcs11:token=bench;object=bench-signer;type=private?pin-source=file:$dir/pin"
