// SPDX-License-Identifier: Apache-2.0
/*
 * carry.h — #17 (dur11): the signed profile a device sends back with its certificate
 * (POST /v1/certificates "profile"), so that a profile row a power loss took from the registry
 * (--profile-commit deferred) can be recorded again with the certificate. docs/API.md
 * "Session 11 (dur11)", docs/THREAT-MODEL.md "Session 11 (dur11)".
 */
#ifndef PROVD_CARRY_H
#define PROVD_CARRY_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <selfcert/err.h>
#include <selfcert/profile.h>
#include "api.h"

/* The field's longest text: the base64 of SC_PROFILE_MAX_DER bytes. */
#define PROVD_CARRIED_B64_MAX (4 * ((SC_PROFILE_MAX_DER + 2) / 3))

struct provd_carried {
	uint8_t *der; /* the profile's DER as sent (OPENSSL_malloc'd); NULL: no "profile" sent */
	size_t len;
};

/*
 * The "profile" field of body, checked as far as it is read on every request: a string
 * (PROVD_ERR_WRONG_TYPE) of 1..PROVD_CARRIED_B64_MAX bytes (PROVD_ERR_BAD_VALUE), strict base64
 * (PROVD_ERR_BAD_BASE64), one DER SEQUENCE with nothing after it (PROVD_ERR_BAD_DER: "trailing
 * data", "not a DER SEQUENCE"). Each detail begins with `field "profile"`. Absent: c->der NULL
 * and SC_OK. What it holds is read only when it is used (provd_carried_profile). c is zeroed
 * first; provd_carried_clear it also on error.
 */
sc_err provd_carried_parse(json_t *body, struct provd_carried *c) SC_MUST_USE;

/*
 * The carried profile decoded, and judged as this server's own: an ordinary profile
 * (sc_profile_decode; a BatchedProfile or a renewal profile is SC_ERR_PROFILE_UNKNOWN "… not
 * recovered", anything else that does not decode PROVD_ERR_BAD_DER naming the field), of this
 * network (SC_ERR_BINDING), signed by a certificate whose key is api->signer's (SC_ERR_BINDING
 * "untrusted-signer": every node sharing the signer key, an HSM's included, recovers it; the
 * signature itself and the signer's chain are verified with the certificate, sc_verify_chain).
 * *out is the caller's (sc_profile_free).
 */
sc_err provd_carried_profile(const struct provd_api *api, const struct provd_carried *c,
    struct sc_profile **out) SC_MUST_USE;

void provd_carried_clear(struct provd_carried *c);

#endif
