// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_unwrap.c — libFuzzer target: the server-supplied key path. The input is the DER of a
 * CMS ContentInfo that takes the place of tbsProfile.key.supplied.encryptedKey in a profile
 * whose publicKey is the fixture's supplied key; sc_profile_unwrap_key then opens it with the
 * fixed KEK (AuthEnvelopedData/EnvelopedData, recipient checks, content cipher allowlist,
 * plaintext bound, PKCS#8 parse, key match). Checked: success only for exactly the profile's
 * key; every refusal is key-decrypt, key-mismatch or algorithm, with a detail.
 */
#include <string.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include "fuzz.h"
#include "profile_internal.h"

static const struct fz_fixture *fx;
static struct sc_profile *profile;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct sc_profile_params pp;

	(void)argc;
	(void)argv;
	fx = fz_fixture();
	memset(&pp, 0, sizeof(pp));
	pp.network_id = FZ_NETWORK_ID;
	pp.device_id = FZ_DEVICE_ID;
	pp.profile_not_after = FZ_PROFILE_NOT_AFTER;
	pp.not_before = FZ_LEAF_NOT_BEFORE;
	pp.not_after = FZ_LEAF_NOT_AFTER;
	pp.supplied_key = fx->supplied;
	pp.kek_cert = fx->kek_cert;
	if (sc_profile_create(&pp, &profile) != SC_OK) {
		fprintf(stderr, "fuzz_unwrap: profile: %s\n", sc_err_detail());
		abort();
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	SC_SUPPLIED_KEY *sk = profile->sp->tbsProfile->key->value.supplied;
	const unsigned char *q = data;
	CMS_ContentInfo *cms;
	EVP_PKEY *key = NULL;
	sc_err r;

	fz_input_begin(data, size);

	if (size > SC_PROFILE_MAX_DER) /* no profile can carry more */
		return 0;
	if ((cms = d2i_CMS_ContentInfo(NULL, &q, (long)size)) == NULL) {
		fz_trace("unwrap: not a CMS ContentInfo");
		ERR_clear_error();
		return 0;
	}
	CMS_ContentInfo_free(sk->encryptedKey);
	sk->encryptedKey = cms;

	sc_err_clear();
	r = sc_profile_unwrap_key(profile, fx->kek, fx->kek_cert, &key);
	fz_trace("unwrap: %s%s%s", sc_err_name(r), r == SC_OK ? "" : ": ",
	    r == SC_OK ? "" : sc_err_detail());
	if (r == SC_OK) {
		fz_success();
		FZ_ASSERT(key != NULL && EVP_PKEY_eq(key, fx->supplied) == 1,
		    "unwrapped a key that is not the profile's");
	} else {
		FZ_ASSERT(r == SC_ERR_KEY_DECRYPT || r == SC_ERR_KEY_MISMATCH ||
		        r == SC_ERR_ALGORITHM,
		    "refused with %s: %s", sc_err_name(r), sc_err_detail());
		FZ_ASSERT(sc_err_detail()[0] != '\0', "%s without a detail", sc_err_name(r));
		FZ_ASSERT(key == NULL, "a failed unwrap returned a key");
	}
	EVP_PKEY_free(key);
	ERR_clear_error();
	return 0;
}
