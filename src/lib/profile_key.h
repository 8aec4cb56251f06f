/*
 * profile_key.h — does a leaf key fit the profile that authorizes it (internal). One test for
 * the SP before it signs (cert.c) and for the relying party after (verify.c), each in its words.
 */
#ifndef SC_PROFILE_KEY_H
#define SC_PROFILE_KEY_H

#include <openssl/evp.h>
#include <selfcert/err.h>
#include <selfcert/profile.h>

/*
 * A supplied key (serverSupplied) must be the profile's publicKey itself; a generated one
 * (deviceGenerated) must be of the profile's algorithm. SC_OK if key fits; otherwise
 * sc_fail(code, not_supplied), or sc_fail(code, "<not_of_alg> <algorithm name>"): each caller
 * keeps its own error code and wording. OpenSSL's error queue is left empty.
 */
sc_err sc_profile_key_fits(const struct sc_profile_info *info, const EVP_PKEY *key, sc_err code,
    const char *not_supplied, const char *not_of_alg) SC_MUST_USE;

#endif
