# SPDX-License-Identifier: Apache-2.0
# lib-pkcs11.sh — helpers for the PKCS#11, TLS and gateway tests (after lib.sh): a locked SP
# with leaf keys of each algorithm, the host's certificate folder, the module's environment for
# stock programs (p11-kit config in a private HOME), and loopback ports.
: "${SC_PKCS11_MODULE:?set SC_PKCS11_MODULE to libselfcert-pkcs11.so}"

NET_ID=interop-net

# p11_world [OTHER-NETWORK-ID…]: manufacturer, network $NET_ID (and any others, in
# $T/net-ID), and a locked device "dev" (DEV-P11) serving $T/dev.sock that trusts them all; the
# host's certificate folder $T/certs holds the chain (device CA + manufacturer CA).
p11_world() {
  local anchors=(--net-root "$T/net/root.pem" --network-id "$NET_ID") id
  sc mfr init --dir "$T/mfr" --name "Interop Devices" >/dev/null || return 1
  sc net init --dir "$T/net" --network-id "$NET_ID" >/dev/null || return 1
  for id in "$@"; do
    sc net init --dir "$T/net-$id" --network-id "$id" >/dev/null || return 1
    anchors+=(--net-root "$T/net-$id/root.pem" --network-id "$id")
  done
  new_device dev DEV-P11 p256 p256 "${anchors[@]}" || return 1
  mkdir -p "$T/certs"
  cp "$T/dev-certs/chain.pem" "$T/certs/chain.pem"
  export SELFCERT_SP="$T/dev.sock" SELFCERT_CERTS="$T/certs"
  # p11-kit (GnuTLS) reads modules from $HOME/.config/pkcs11/modules: a private HOME.
  export HOME="$T/home"
  mkdir -p "$HOME/.config/pkcs11/modules"
  printf 'module: %s\n' "$SC_PKCS11_MODULE" >"$HOME/.config/pkcs11/modules/selfcert.module"
}

# issue_leaf NAME [net profile flags…]: a leaf in the SP, from the network in ${NETDIR:-$T/net};
# $T/certs/NAME.pem (the host keeps it), $T/NAME-chain.pem (leaf, device CA, manufacturer CA),
# $T/NAME.handle (the SP's handle: the objects' CKA_LABEL), $T/NAME.id (CKA_ID, hex).
issue_leaf() {
  local name=$1; shift
  sc net profile --dir "${NETDIR:-$T/net}" --device-ca "$T/dev-certs/device-ca.pem" --validity 7d \
     --out "$T/$name.der" "$@" >/dev/null || return 1
  sc device issue --sp "$T/dev.sock" --profile "$T/$name.der" --out "$T/certs/$name.pem" \
     >"$T/$name.handle" || return 1
  cat "$T/certs/$name.pem" "$T/dev-certs/chain.pem" >"$T/$name-chain.pem"
  openssl x509 -in "$T/certs/$name.pem" -noout -pubkey -out "$T/$name.pub" || return 1
  openssl x509 -in "$T/certs/$name.pem" -noout -ext subjectKeyIdentifier | tail -n 1 |
    tr -d ' :\n' | tr 'A-F' 'a-f' >"$T/$name.id"
}

# The PKCS#11 module under a stock tool: pkcs11-tool with our module (stderr kept).
p11() { pkcs11-tool --module "$SC_PKCS11_MODULE" "$@"; }

# The PKCS#11 URI of a leaf's private key (CKA_LABEL = the SP's handle).
key_uri() { echo "pkcs11:token=DEV-P11;object=$(cat "$T/$1.handle");type=private"; }

# A loopback port nobody listens on now (bash's /dev/tcp connects; failure means free), below
# the kernel's ephemeral range: a port in that range can be the local end of any process's
# outgoing connection (a connect does not see it, and the server's bind then fails) or the port
# the kernel hands to a server listening on port 0 (provd, the gateway) between our check and
# the bind. 20000-50000 overlapped 32768-60999 by 17,000 ports. A port is handed out once per
# test ($T/.ports): two picks before either server binds could otherwise be the same.
free_port() {
  local p lo=32768 _hi
  read -r lo _hi </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || lo=32768
  [ "$lo" -gt 12000 ] || lo=32768
  for _ in $(seq 1 50); do
    p=$((10000 + RANDOM % (lo - 10000)))
    grep -qx "$p" "$T/.ports" 2>/dev/null && continue
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p" | tee -a "$T/.ports"; return 0; fi
  done
  return 1
}

# hold_until FILE PATTERN [SECONDS]: the tail of a TLS program's stdin in a pipeline,
# `(echo LINE; hold_until OUT PATTERN) | prog >OUT`: returns once OUT has a line matching
# PATTERN (the peer's line arrived), or after SECONDS (15), so that the program reads
# end-of-file only after the exchange however slow the handshake is. A fixed sleep there (1.5 s)
# had a margin of five under valgrind, where the SP signing the handshake took 0.3 s.
hold_until() {
  local i n=$((${3:-15} * 20))
  for ((i = 0; i < n; i++)); do
    grep -q -- "$2" "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

# wait_port PORT: until something accepts on 127.0.0.1:PORT (bounded: 10 s).
wait_port() {
  for _ in $(seq 1 "$SC_VG_WAIT"); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  return 1
}
