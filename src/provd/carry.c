// SPDX-License-Identifier: Apache-2.0
/*
 * carry.c — #17 (dur11): a certificate registration's carried profile (carry.h).
 */
#include <stdio.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <selfcert/batch.h>
#include "carry.h"
#include "json.h"
#include "text.h"

/* 1 if der[0..len) is exactly one DER SEQUENCE (tag 0x30, a definite length, no more bytes). */
static int one_sequence(const uint8_t *der, size_t len, int *trailing)
{
	size_t hdr = 2, body = 0;

	*trailing = 0;
	if (len < 2 || der[0] != 0x30)
		return 0;
	if (der[1] < 0x80)
		body = der[1];
	else {
		size_t n = der[1] & 0x7f;

		if (n == 0 || n > 4 || len < 2 + n || der[2] == 0)
			return 0;
		for (size_t i = 0; i < n; i++)
			body = body << 8 | der[2 + i];
		if (body < 0x80 || (n > 1 && body < (size_t)1 << (8 * (n - 1))))
			return 0; /* not the shortest length: not DER */
		hdr += n;
	}
	if (body > len - hdr)
		return 0;
	if (body < len - hdr) {
		*trailing = 1;
		return 0;
	}
	return 1;
}

sc_err provd_carried_parse(json_t *body, struct provd_carried *c)
{
	const char *s = NULL;
	size_t len = 0;
	int trailing = 0;
	sc_err r;

	memset(c, 0, sizeof(*c));
	if ((r = provd_json_string(body, "profile", 0, PROVD_CARRIED_B64_MAX, &s, &len)) != SC_OK ||
	    s == NULL)
		return r;
	if ((r = sc_base64_decode(s, len, PROVD_CARRIED_B64_MAX, &c->der, &c->len)) != SC_OK)
		return sc_fail(r == SC_ERR_NOMEM ? r : PROVD_ERR_BAD_BASE64,
		    "field \"profile\": %s", sc_err_detail());
	if (!one_sequence(c->der, c->len, &trailing))
		return sc_fail(PROVD_ERR_BAD_DER, "field \"profile\": %s",
		    trailing ? "trailing data after the DER" : "not a DER SEQUENCE");
	return SC_OK;
}

sc_err provd_carried_profile(const struct provd_api *api, const struct provd_carried *c,
    struct sc_profile **out)
{
	struct sc_profile *p = NULL;
	struct sc_profile_info info;
	EVP_PKEY *ours = X509_get0_pubkey(api->signer), *theirs;
	sc_err r;

	*out = NULL;
	if ((r = sc_profile_decode(c->der, c->len, &p)) != SC_OK) {
		char why[160];

		snprintf(why, sizeof(why), "%s: %s", sc_err_name(r), sc_err_detail());
		if (sc_batch_decode(c->der, c->len, &p) == SC_OK) {
			sc_profile_free(p);
			return sc_fail(SC_ERR_PROFILE_UNKNOWN,
			    "field \"profile\": a batch profile sent back is not recovered; ask for a "
			    "new profile");
		}
		return sc_fail(PROVD_ERR_BAD_DER, "field \"profile\": not a signed profile (%s)",
		    why);
	}
	sc_profile_get_info(p, &info);
	if (info.renewal_count > 0) {
		r = sc_fail(SC_ERR_PROFILE_UNKNOWN,
		    "field \"profile\": a renewal profile sent back is not recovered; ask for a new "
		    "profile");
		goto out;
	}
	if (strcmp(info.network_id, api->network_id) != 0) {
		r = sc_fail(SC_ERR_BINDING, "field \"profile\": a profile of network %s, not %s",
		    info.network_id, api->network_id);
		goto out;
	}
	if (info.signer == NULL || ours == NULL ||
	    (theirs = X509_get0_pubkey(info.signer)) == NULL || EVP_PKEY_eq(ours, theirs) != 1) {
		r = sc_fail(SC_ERR_BINDING,
		    "field \"profile\": untrusted-signer: not signed with this server's profile "
		    "signer key");
		goto out;
	}
	*out = p;
	p = NULL;
	r = SC_OK;
out:
	sc_profile_free(p);
	return r;
}

void provd_carried_clear(struct provd_carried *c)
{
	OPENSSL_free(c->der);
	memset(c, 0, sizeof(*c));
}
