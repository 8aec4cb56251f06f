# SPDX-License-Identifier: Apache-2.0
# lib-hsm.sh — SoftHSM tokens for the tests of operator and manufacturer keys in a PKCS#11
# token (test_hsm, bench), sourced after lib.sh: a private token folder in $T (SOFTHSM2_CONF),
# tokens made and keys generated at run time with softhsm2-util and pkcs11-tool, the PIN in a
# 0600 file, and the pkcs11: URIs the programs take. Nothing runs as a daemon; all dies with $T.

HSM_MODULE=${HSM_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
HSM_PROVIDER=${HSM_PROVIDER:-/usr/lib/x86_64-linux-gnu/ossl-modules/pkcs11.so}
# The user PIN: distinctive, so that a test can grep every log and output for it.
HSM_PIN=736251
HSM_SO_PIN=91827364

# hsm_missing: prints what is not installed (nothing: all there). CI installs them
# (scripts/deps.d/hsm.txt, and pkcs11-provider from bookworm-backports by scripts/deps.sh).
hsm_missing() {
  local m=()
  command -v softhsm2-util >/dev/null || m+=(softhsm2)
  command -v pkcs11-tool >/dev/null || m+=(opensc)
  [ -r "$HSM_MODULE" ] || m+=("softhsm2 ($HSM_MODULE)")
  [ -r "$HSM_PROVIDER" ] || [ -r "$(openssl version -m | sed 's/.*"\(.*\)"/\1/')/pkcs11.so" ] ||
    m+=(pkcs11-provider)
  echo "${m[*]}"
}

# hsm_init: the token folder and its configuration; every process the test starts from here on
# finds SoftHSM's tokens there (SOFTHSM2_CONF) and the provider finds SoftHSM
# (PKCS11_PROVIDER_MODULE). $T/hsm.pin holds the user PIN (0600); $T/hsm-bad.pin a wrong one.
hsm_init() {
  export SOFTHSM2_CONF="$T/softhsm2.conf" PKCS11_PROVIDER_MODULE="$HSM_MODULE"
  mkdir -p "$T/tokens"
  printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
    "$T/tokens" >"$SOFTHSM2_CONF"
  printf '%s\n' "$HSM_PIN" >"$T/hsm.pin"
  printf '%s\n' 000000 >"$T/hsm-bad.pin"
  chmod 600 "$T/hsm.pin" "$T/hsm-bad.pin"
  # For stock openssl commands only (hsm_pubkey): the provider with SoftHSM's quirks.
  cat >"$T/openssl-hsm.cnf" <<CNF
openssl_conf = openssl_init
[openssl_init]
providers = provider_sect
[provider_sect]
default = default_sect
pkcs11 = pkcs11_sect
[default_sect]
activate = 1
[pkcs11_sect]
pkcs11-module-path = $HSM_MODULE
pkcs11-module-quirks = no-deinit no-operation-state
activate = 1
CNF
}

# hsm_token LABEL: a new, initialized token with the user PIN.
hsm_token() {
  softhsm2-util --init-token --free --label "$1" --so-pin "$HSM_SO_PIN" --pin "$HSM_PIN" >/dev/null
}

# hsm_key TOKEN OBJECT ID KEY-TYPE: a key pair generated inside the token (EC:prime256v1,
# EC:secp384r1, RSA:2048, …); ID is hex (01, 0a2f).
hsm_key() {
  pkcs11-tool --module "$HSM_MODULE" --token-label "$1" --login --pin "$HSM_PIN" \
    --keypairgen --key-type "$4" --label "$2" --id "$3" >/dev/null 2>&1
}

# hsm_uri TOKEN OBJECT [PIN-FILE]: the key's URI, its PIN from $T/hsm.pin (or PIN-FILE).
hsm_uri() {
  printf 'pkcs11:token=%s;object=%s;type=private?pin-source=file:%s' "$1" "$2" "${3:-$T/hsm.pin}"
}

# hsm_pubkey TOKEN OBJECT: the token's public key of OBJECT as PEM on stdout, read by stock
# openssl through the provider (pkcs11-tool 0.23 cannot convert a P-384 point).
hsm_pubkey() {
  OPENSSL_CONF="$T/openssl-hsm.cnf" openssl pkey -pubin -pubout \
    -in "pkcs11:token=$1;object=$2;type=public"
}
