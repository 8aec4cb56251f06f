/*
 * keyopen.h — the one door through which the programs open a private key of the manufacturer
 * or the operator (root, CA, profile signer, server TLS key) (internal). Device keys never pass
 * here: they live in the SP.
 */
#ifndef SC_KEYOPEN_H
#define SC_KEYOPEN_H

#include <openssl/evp.h>
#include <selfcert/err.h>

/*
 * Open the private key that spec names. Today spec is a file: a PEM private key (PKCS#8 or
 * traditional), never encrypted, opened with O_NOFOLLOW and at most 64 KiB. A spec
 * of the form "pkcs11:…" (RFC 7512) names a key in a token: refused with SC_ERR_USAGE until the
 * HSM route lands (issue 13) — this is the one place it will be added. *out is the caller's
 * (EVP_PKEY_free). SC_ERR_IO / SC_ERR_OVERSIZE / SC_ERR_MALFORMED, detail names the spec.
 */
sc_err sc_key_open(const char *spec, EVP_PKEY **out) SC_MUST_USE;

#endif
