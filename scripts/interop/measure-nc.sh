#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# measure-nc.sh — which name-constraint forms each TLS stack honours (docs/INTEROP.md §2):
# stock `openssl` builds a root, a manufacturer CA and one device CA per variant (the form and
# criticality of its nameConstraints), each with a leaf for its own device and one naming another
# device; OpenSSL, GnuTLS (certtool), Go (crypto/x509) and webpki (rustls's verifier, if built)
# verify each. Prints a table; ADMIT/REFUSE per stack.
#   usage: measure-nc.sh GO-VERIFY [WEBPKI-VERIFY]   (tests/integration/test_interop.sh builds both)
set -u
GOV=${1:?usage: measure-nc.sh GO-VERIFY [WEBPKI-VERIFY]}
WPV=${2:-}
W=$(mktemp -d "${TMPDIR:-/tmp}/measure-nc-XXXXXX")
trap 'rm -rf "$W"' EXIT
SUF=selfcert.invalid
cd "$W" || exit 1

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
# cert NAME SUBJ ISSUER EXTS: NAME.pem signed by ISSUER (.pem/.key; "self" = self-signed).
cert() {
  local name=$1 subj=$2 issuer=$3 exts=$4
  [ -f "$name.key" ] || key "$name.key"
  printf '%b\n' "$exts" >"$name.ext"
  if [ "$issuer" = self ]; then
    openssl req -new -x509 -key "$name.key" -subj "$subj" -days 30 -extensions v3 \
      -config <(printf '[req]\ndistinguished_name=dn\n[dn]\n[v3]\n%b\n' "$exts") -out "$name.pem" 2>/dev/null
  else
    openssl req -new -key "$name.key" -subj "$subj" -out "$name.csr" 2>/dev/null &&
    openssl x509 -req -in "$name.csr" -CA "$issuer.pem" -CAkey "$issuer.key" -CAcreateserial \
      -days 10 -extfile "$name.ext" -out "$name.pem" 2>/dev/null
  fi
}

cert root "/CN=M Root" self 'basicConstraints=critical,CA:true\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash'
cert mca "/O=M/CN=M Device Issuing CA" root 'basicConstraints=critical,CA:true,pathlen:1\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid'
openssl x509 -in root.pem -outform DER -out root.der
openssl x509 -in mca.pem -outform DER -out mca.der

printf '[dn]\nserialNumber=DEV-A\n' >dn.cnf
# variant NAME NC-LINE LEAF-SAN-OWN LEAF-SAN-OTHER
variants=(
  "none (control)|||"
  "v1-dirname-critical|critical,permitted;dirName:dn||"
  "dirname-noncritical|permitted;dirName:dn||"
  "dns-critical|critical,permitted;DNS:dev-a.$SUF|DNS:dev-a.$SUF|DNS:dev-b.$SUF"
  "dns+dirname-critical|critical,permitted;DNS:dev-a.$SUF,permitted;dirName:dn|DNS:dev-a.$SUF|DNS:dev-b.$SUF"
  "dns+dirname-noncritical|permitted;DNS:dev-a.$SUF,permitted;dirName:dn|DNS:dev-a.$SUF|DNS:dev-b.$SUF"
  "uri-host-critical|critical,permitted;URI:dev-a.$SUF|URI:https://dev-a.$SUF/|URI:https://dev-b.$SUF/"
  "uri-urn-critical|critical,permitted;URI:dev-a.$SUF|URI:urn:selfcert:dev-a|URI:urn:selfcert:dev-b"
)
printf '%-26s %-6s %-16s %-16s %-16s %-16s\n' variant leaf OpenSSL GnuTLS Go webpki
for v in "${variants[@]}"; do
  IFS='|' read -r name nc own other <<<"$v"
  name=${name%% *}
  dext="basicConstraints=critical,CA:true,pathlen:0\nkeyUsage=critical,keyCertSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid"
  [ -n "$nc" ] && dext="$dext\nnameConstraints=$nc\n[dn]\nserialNumber=DEV-A"
  cert "dca-$name" "/serialNumber=DEV-A/O=M/CN=DEV-A Device CA" mca "$dext"
  openssl x509 -in "dca-$name.pem" -outform DER -out "dca-$name.der"
  for who in own other; do
    local_id=DEV-A; san=$own
    [ "$who" = other ] && { local_id=DEV-B; san=$other; }
    ext="basicConstraints=critical,CA:false\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid"
    [ -n "$san" ] && ext="$ext\nsubjectAltName=$san"
    cert "leaf-$name-$who" "/serialNumber=$local_id/O=net/CN=$local_id" "dca-$name" "$ext"
    cat "leaf-$name-$who.pem" "dca-$name.pem" mca.pem >"chain-$name-$who.pem"
    openssl x509 -in "leaf-$name-$who.pem" -outform DER -out "leaf-$name-$who.der"
    o=$(openssl verify -CAfile root.pem -untrusted "dca-$name.pem" -untrusted mca.pem "leaf-$name-$who.pem" 2>&1 |
        grep -q ': OK$' && echo ADMIT || echo REFUSE)
    g=$(certtool --verify --load-ca-certificate root.pem --infile "chain-$name-$who.pem" 2>&1 |
        grep -q 'Chain verification output: Verified' && echo ADMIT || echo REFUSE)
    go_out=$("$GOV" verify root.pem "chain-$name-$who.pem" 2>&1)
    go_out=${go_out/a root or intermediate certificate specifies a permitted range/name not permitted}
    case $go_out in admitted*) gv=ADMIT ;; *) gv="REFUSE(${go_out#refused: x509: })" ;; esac
    wv=-
    if [ -n "$WPV" ]; then
      w_out=$("$WPV" root.der "leaf-$name-$who.der" "dca-$name.der" mca.der 2>&1)
      case $w_out in admitted*) wv=ADMIT ;; *) wv="REFUSE(${w_out#refused: })" ;; esac
    fi
    printf '%-26s %-6s %-16s %-16s %-16s %-16s\n' "$name" "$who" "$o" "$g" "${gv:0:40}" "$wv"
  done
done
