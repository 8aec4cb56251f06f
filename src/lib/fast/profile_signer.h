// SPDX-License-Identifier: Apache-2.0
/*
 * profile_signer.h — a profile signer whose signing context is made once (judge11, issue 17;
 * internal). sc_profile_sign checks that the key matches its certificate, picks the digest and
 * runs EVP_DigestSignInit (a provider fetch and the key's export to it) for every profile:
 * ~0.02 ms of a server's ~0.1 ms signature. A signer does those once and signs each profile
 * from a copy of the context (EVP_MD_CTX_copy_ex), giving the same SignedProfile as
 * sc_profile_sign(p, key, cert, NULL, rsa_pss) would: the same algorithm identifier, the same
 * certificates field, a signature by the same key with the same digest and padding.
 *
 * A signer is read-only once made: any number of threads may sign with one (each copies its
 * context). That rests on a provider's context copy only reading its source, which holds for
 * OpenSSL's own and, for pkcs11-provider, as long as the source context has never signed (its
 * dupctx moves a session out of a context that holds one): the kept context is never used but
 * to be copied. With the shortcuts off (fast.h), or when the key's provider cannot copy a
 * context (at start, or at a later copy: that profile is signed the plain way),
 * sc_profile_signer_sign is sc_profile_sign.
 */
#ifndef SC_FAST_PROFILE_SIGNER_H
#define SC_FAST_PROFILE_SIGNER_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <selfcert/err.h>
#include <selfcert/profile.h>

struct sc_profile_signer;

/*
 * A signer for key and cert (both up-referenced): sc_profile_sign's checks made now, with its
 * errors (SC_ERR_USAGE: the key does not match the certificate, or rsa_pss with a key not RSA;
 * SC_ERR_ALGORITHM: a key it does not sign with). *out: sc_profile_signer_free.
 */
sc_err sc_profile_signer_new(EVP_PKEY *key, X509 *cert, int rsa_pss,
    struct sc_profile_signer **out) SC_MUST_USE;

/* sc_profile_sign(p, key, cert, NULL, rsa_pss), from the kept context. */
sc_err sc_profile_signer_sign(const struct sc_profile_signer *s, struct sc_profile *p) SC_MUST_USE;

/*
 * enroll15: sc_profile_signer_sign, and the SignedProfile's DER it encoded to digest it: the
 * bytes sc_profile_encode(p) would write next (so a caller that sends the profile encodes it
 * once, not twice). *der: OPENSSL_free; NULL and 0 on any error.
 */
sc_err sc_profile_signer_sign_der(const struct sc_profile_signer *s, struct sc_profile *p,
    uint8_t **der, size_t *der_len) SC_MUST_USE;

/*
 * sc_profile_prove_signer for a signer: a throw-away profile signed through
 * sc_profile_signer_sign (the kept context, as every profile will be) must verify against
 * anchor. Run once at start, so that a signer whose copies do not sign well fails there.
 */
sc_err sc_profile_signer_prove(const struct sc_profile_signer *s, const char *network_id,
    const char *probe_device_id, X509 *anchor) SC_MUST_USE;

void sc_profile_signer_free(struct sc_profile_signer *s);

#endif
