// SPDX-License-Identifier: Apache-2.0
/*
 * test_tpm_blob.c — the TPM backend's key blob decoder (tpm_key.c's key_load), which needs no
 * TPM: a blob is authenticated by the store, but its decoder is still strict. A valid blob
 * round-trips; truncation, trailing data, oversize, a wrong version, type, curve, attributes or
 * auth size are each store-damaged; an algorithm a TPM cannot hold is refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <tss2/tss2_mu.h>
#include <selfcert/alg.h>
#include "backend.h"

static const struct spd_backend *be = &spd_backend_tpm;

struct parts {
	TPM2B_PUBLIC pub;
	TPM2B_PRIVATE priv;
	TPM2B_AUTH auth;
	uint8_t version;
};

/* A P-256 key's public area as the backend makes them, with a stand-in private blob. */
static void valid_parts(EVP_PKEY **key, struct parts *p)
{
	unsigned char *enc = NULL;
	size_t n;

	memset(p, 0, sizeof(*p));
	assert_int_equal(sc_alg_keygen(SC_ALG_P256, key), SC_OK);
	n = EVP_PKEY_get1_encoded_public_key(*key, &enc);
	assert_int_equal(n, 65);
	p->version = 1;
	p->pub.publicArea.type = TPM2_ALG_ECC;
	p->pub.publicArea.nameAlg = TPM2_ALG_SHA256;
	p->pub.publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
	    TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA |
	    TPMA_OBJECT_SIGN_ENCRYPT;
	p->pub.publicArea.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
	p->pub.publicArea.parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
	p->pub.publicArea.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
	p->pub.publicArea.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
	p->pub.publicArea.unique.ecc.x.size = p->pub.publicArea.unique.ecc.y.size = 32;
	memcpy(p->pub.publicArea.unique.ecc.x.buffer, enc + 1, 32);
	memcpy(p->pub.publicArea.unique.ecc.y.buffer, enc + 33, 32);
	p->priv.size = 40;
	memset(p->priv.buffer, 0xa5, 40);
	p->auth.size = 32;
	memset(p->auth.buffer, 0x5a, 32);
	OPENSSL_free(enc);
}

static size_t encode(const struct parts *p, uint8_t *buf, size_t cap)
{
	size_t off = 1;

	buf[0] = p->version;
	assert_int_equal(Tss2_MU_TPM2B_PUBLIC_Marshal(&p->pub, buf, cap, &off), TSS2_RC_SUCCESS);
	assert_int_equal(Tss2_MU_TPM2B_PRIVATE_Marshal(&p->priv, buf, cap, &off), TSS2_RC_SUCCESS);
	assert_int_equal(Tss2_MU_TPM2B_AUTH_Marshal(&p->auth, buf, cap, &off), TSS2_RC_SUCCESS);
	return off;
}

static sc_err load(enum sc_alg alg, const uint8_t *blob, size_t len)
{
	struct spd_key *k = NULL;
	sc_err r = be->key_load(be, alg, blob, len, "leaf key", &k);

	if (r == SC_OK)
		assert_non_null(k);
	else
		assert_null(k);
	be->key_free(k);
	return r;
}

static void test_round_trip(void **state)
{
	uint8_t buf[4096];
	const uint8_t *back;
	size_t len, back_len;
	struct parts p;
	struct spd_key *k = NULL;
	EVP_PKEY *key = NULL;

	(void)state;
	valid_parts(&key, &p);
	len = encode(&p, buf, sizeof(buf));
	assert_int_equal(be->key_load(be, SC_ALG_P256, buf, len, "leaf key", &k), SC_OK);
	assert_int_equal(be->key_alg(k), SC_ALG_P256);
	assert_int_equal(EVP_PKEY_eq(be->key_public(k), key), 1);
	be->key_blob(k, &back, &back_len);
	assert_int_equal(back_len, len);
	assert_memory_equal(back, buf, len);
	be->key_free(k);
	EVP_PKEY_free(key);
}

static void test_truncated_trailing_oversize(void **state)
{
	uint8_t buf[8192];
	struct parts p;
	EVP_PKEY *key = NULL;
	size_t len, i;

	(void)state;
	valid_parts(&key, &p);
	len = encode(&p, buf, sizeof(buf));
	for (i = 0; i < len; i++)
		assert_int_equal(load(SC_ALG_P256, buf, i), SC_ERR_STORE_DAMAGED);
	buf[len] = 0;
	assert_int_equal(load(SC_ALG_P256, buf, len + 1), SC_ERR_STORE_DAMAGED);
	memset(buf + len, 0, sizeof(buf) - len);
	assert_int_equal(load(SC_ALG_P256, buf, sizeof(buf)), SC_ERR_STORE_DAMAGED);
	EVP_PKEY_free(key);
}

static void test_wrong_type(void **state)
{
	uint8_t buf[4096];
	struct parts p, q;
	EVP_PKEY *key = NULL;

	(void)state;
	valid_parts(&key, &p);
	/* the store's algorithm byte and the blob disagree */
	assert_int_equal(load(SC_ALG_P384, buf, encode(&p, buf, sizeof(buf))),
	    SC_ERR_STORE_DAMAGED);
	assert_int_equal(load(SC_ALG_RSA2048, buf, encode(&p, buf, sizeof(buf))),
	    SC_ERR_STORE_DAMAGED);
	/* algorithms no TPM holds */
	assert_int_equal(load(SC_ALG_ED25519, buf, encode(&p, buf, sizeof(buf))),
	    SC_ERR_STORE_DAMAGED);
	assert_int_equal(load(SC_ALG_RSA4096, buf, encode(&p, buf, sizeof(buf))),
	    SC_ERR_STORE_DAMAGED);
	q = p;
	q.version = 2;
	assert_int_equal(load(SC_ALG_P256, buf, encode(&q, buf, sizeof(buf))),
	    SC_ERR_STORE_DAMAGED);
	q = p;
	q.pub.publicArea.objectAttributes |= TPMA_OBJECT_RESTRICTED;
	assert_int_equal(load(SC_ALG_P256, buf, encode(&q, buf, sizeof(buf))),
	    SC_ERR_STORE_DAMAGED);
	q = p;
	q.pub.publicArea.objectAttributes &= ~TPMA_OBJECT_FIXEDTPM;
	assert_int_equal(load(SC_ALG_P256, buf, encode(&q, buf, sizeof(buf))),
	    SC_ERR_STORE_DAMAGED);
	q = p;
	q.pub.publicArea.objectAttributes &= ~TPMA_OBJECT_SIGN_ENCRYPT;
	assert_int_equal(load(SC_ALG_P256, buf, encode(&q, buf, sizeof(buf))),
	    SC_ERR_STORE_DAMAGED);
	q = p;
	q.pub.publicArea.nameAlg = TPM2_ALG_SHA1;
	assert_int_equal(load(SC_ALG_P256, buf, encode(&q, buf, sizeof(buf))),
	    SC_ERR_STORE_DAMAGED);
	q = p;
	q.auth.size = 31;
	assert_int_equal(load(SC_ALG_P256, buf, encode(&q, buf, sizeof(buf))),
	    SC_ERR_STORE_DAMAGED);
	q = p;
	q.pub.publicArea.unique.ecc.y.buffer[31] ^= 1; /* no longer on the curve */
	assert_int_equal(load(SC_ALG_P256, buf, encode(&q, buf, sizeof(buf))),
	    SC_ERR_STORE_DAMAGED);
	/* an imported key: fixedTPM/fixedParent/sensitiveDataOrigin clear, no policy: accepted */
	q = p;
	q.pub.publicArea.objectAttributes &= ~(
	    TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN);
	assert_int_equal(load(SC_ALG_P256, buf, encode(&q, buf, sizeof(buf))), SC_OK);
	/* ... but not with a policy that could allow duplication */
	q.pub.publicArea.authPolicy.size = 32;
	assert_int_equal(load(SC_ALG_P256, buf, encode(&q, buf, sizeof(buf))),
	    SC_ERR_STORE_DAMAGED);
	EVP_PKEY_free(key);
}

static void test_no_tpm(void **state)
{
	struct spd_key *k = NULL;

	(void)state;
	/* Without spd_tpm_open, nothing pretends: algorithm first, then the missing TPM. */
	assert_int_equal(be->key_create(be, SC_ALG_ED25519, 0, &k), SC_ERR_ALGORITHM);
	assert_int_equal(be->key_create(be, SC_ALG_RSA4096, 0, &k), SC_ERR_ALGORITHM);
	assert_int_equal(be->key_create(be, SC_ALG_P256, 0, &k), SC_ERR_TPM);
	assert_null(k);
	assert_int_equal(spd_tpm_open("mssim:host=localhost"), SC_ERR_USAGE);
	assert_int_equal(spd_tpm_open("swtpm:path=/nonexistent/sock"), SC_ERR_TPM);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_truncated_trailing_oversize),
		cmocka_unit_test(test_wrong_type),
		cmocka_unit_test(test_no_tpm),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
