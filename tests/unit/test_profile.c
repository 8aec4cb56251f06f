// SPDX-License-Identifier: Apache-2.0
/*
 * test_profile.c — SignedProfile (profile.c): round trips of every field combination, the five
 * signer algorithms, strict-decoder negatives with their specific codes, every check of
 * sc_profile_check in order, and the CMS unwrap of server-supplied keys.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include <openssl/asn1.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <selfcert/alg.h>
#include <selfcert/cache.h>
#include <selfcert/cert.h>
#include <selfcert/err.h>
#include <selfcert/profile.h>

#include "fast/fast.h"
#include "fast/profile_signer.h"
#include "profile_internal.h"
#include "testutil.h"
#include "testworld.h"

#define NET "net-alpha"
#define DEV "DEV-0001"
#define DAY 86400

/* ---- fixture: built once with raw OpenSSL, so the test does not lean on cert.c ---- */

enum { S_RSA, S_P256, S_P384, S_ED25519, N_SIGNERS };

static struct {
	time_t now;
	EVP_PKEY *root_key, *root2_key, *inter_key, *csk, *mfr_key;
	X509 *root, *root2, *inter, *dev_ca;
	EVP_PKEY *signer_key[N_SIGNERS];
	X509 *signer[N_SIGNERS];
	X509 *signer_noeku, *signer_root2, *signer_via_inter;
	EVP_PKEY *kek_rsa_key, *kek_rsa2_key, *kek_ec_key, *kek_ed_key;
	X509 *kek_rsa, *kek_rsa2, *kek_ec, *kek_ed;
	EVP_PKEY *sup_rsa, *sup_p256, *sup_p384, *sup_ed, *sup_rsa1024;
} fx;

static EVP_PKEY *gen(const char *type, const char *curve, size_t bits)
{
	EVP_PKEY *k;

	if (strcmp(type, "RSA") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", bits);
	else if (curve != NULL)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve);
	else
		k = EVP_PKEY_Q_keygen(NULL, NULL, type);
	assert_non_null(k);
	return k;
}

/*
 * A v3 certificate with SKI and AKI, as X509_V_FLAG_X509_STRICT wants, from the test world's
 * raw-OpenSSL builder (tests/testlib). issuer NULL: self-issued, signed by issuer_key if
 * given, else self-signed.
 */
static X509 *mk_cert(EVP_PKEY *key, const char *o, const char *cn, X509 *issuer,
    EVP_PKEY *issuer_key, int ca, const char *ku, const char *eku, time_t nb, time_t na)
{
	const struct sc_test_cert spec = {
		.o = o,
		.cn = cn,
		.pub = key,
		.issuer = issuer,
		.issuer_key = issuer_key,
		.not_before = nb,
		.not_after = na,
		.bc = ca ? "critical,CA:TRUE" : "critical,CA:FALSE",
		.ku = ku,
		.eku = eku,
	};
	X509 *x = NULL;

	assert_int_equal(sc_test_cert_make(&spec, &x), SC_OK);
	return x;
}

static X509 *mk_signer(EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key, const char *eku)
{
	return mk_cert(key, NET, NET " Profile Signer", issuer, issuer_key, 0,
	    "critical,digitalSignature", eku, fx.now - 3600, fx.now + 365 * DAY);
}

static int group_setup(void **state)
{
	(void)state;
	assert_int_equal(sc_oids_init(), SC_OK);
	fx.now = time(NULL);
	fx.root_key = gen("EC", "P-256", 0);
	fx.root2_key = gen("EC", "P-256", 0);
	fx.inter_key = gen("EC", "P-384", 0);
	fx.mfr_key = gen("EC", "P-256", 0);
	fx.csk = gen("EC", "P-256", 0);
	fx.root = mk_cert(fx.root_key, NET, NET " Network Root", NULL, NULL, 1,
	    "critical,keyCertSign,cRLSign", NULL, fx.now - 7200, fx.now + 3650 * DAY);
	fx.root2 = mk_cert(fx.root2_key, NET, NET " Impostor Root", NULL, NULL, 1,
	    "critical,keyCertSign,cRLSign", NULL, fx.now - 7200, fx.now + 3650 * DAY);
	fx.inter = mk_cert(fx.inter_key, NET, NET " Intermediate", fx.root, fx.root_key, 1,
	    "critical,keyCertSign,cRLSign", NULL, fx.now - 7200, fx.now + 3650 * DAY);
	/* The device CA: leaf validity must lie within [now - 1 h, now + 5 y]. */
	fx.dev_ca = mk_cert(fx.csk, "Acme", DEV " Device CA", NULL, NULL, 1, "critical,keyCertSign",
	    NULL, fx.now - 3600, fx.now + 5 * 365 * DAY);

	fx.signer_key[S_RSA] = gen("RSA", NULL, 2048);
	fx.signer_key[S_P256] = gen("EC", "P-256", 0);
	fx.signer_key[S_P384] = gen("EC", "P-384", 0);
	fx.signer_key[S_ED25519] = gen("ED25519", NULL, 0);
	for (int i = 0; i < N_SIGNERS; i++)
		fx.signer[i] = mk_signer(fx.signer_key[i], fx.root, fx.root_key,
		    SC_OID_KP_PROFILESIGN);
	fx.signer_noeku = mk_signer(fx.signer_key[S_P256], fx.root, fx.root_key, "clientAuth");
	fx.signer_root2 = mk_signer(fx.signer_key[S_P256], fx.root2, fx.root2_key,
	    SC_OID_KP_PROFILESIGN);
	fx.signer_via_inter = mk_signer(fx.signer_key[S_P256], fx.inter, fx.inter_key,
	    "clientAuth," SC_OID_KP_PROFILESIGN);

	fx.kek_rsa_key = gen("RSA", NULL, 2048);
	fx.kek_rsa2_key = gen("RSA", NULL, 2048);
	fx.kek_ec_key = gen("EC", "P-256", 0);
	fx.kek_ed_key = gen("ED25519", NULL, 0);
	fx.kek_rsa = mk_cert(fx.kek_rsa_key, "Acme", DEV " Key Exchange", NULL, fx.mfr_key, 0,
	    "critical,keyEncipherment", NULL, fx.now - 3600, fx.now + 3650 * DAY);
	fx.kek_rsa2 = mk_cert(fx.kek_rsa2_key, "Acme", "DEV-0002 Key Exchange", NULL, fx.mfr_key, 0,
	    "critical,keyEncipherment", NULL, fx.now - 3600, fx.now + 3650 * DAY);
	fx.kek_ec = mk_cert(fx.kek_ec_key, "Acme", DEV " Key Exchange", NULL, fx.mfr_key, 0,
	    "critical,keyAgreement", NULL, fx.now - 3600, fx.now + 3650 * DAY);
	fx.kek_ed = mk_cert(fx.kek_ed_key, "Acme", DEV " Key Exchange", NULL, fx.mfr_key, 0,
	    "critical,digitalSignature", NULL, fx.now - 3600, fx.now + 3650 * DAY);

	fx.sup_rsa = gen("RSA", NULL, 2048);
	fx.sup_p256 = gen("EC", "P-256", 0);
	fx.sup_p384 = gen("EC", "P-384", 0);
	fx.sup_ed = gen("ED25519", NULL, 0);
	fx.sup_rsa1024 = gen("RSA", NULL, 1024);
	return 0;
}

static int group_teardown(void **state)
{
	EVP_PKEY *keys[] = { fx.root_key, fx.root2_key, fx.inter_key, fx.csk, fx.mfr_key,
		fx.kek_rsa_key, fx.kek_rsa2_key, fx.kek_ec_key, fx.kek_ed_key, fx.sup_rsa,
		fx.sup_p256, fx.sup_p384, fx.sup_ed, fx.sup_rsa1024 };
	X509 *certs[] = { fx.root, fx.root2, fx.inter, fx.dev_ca, fx.signer_noeku, fx.signer_root2,
		fx.signer_via_inter, fx.kek_rsa, fx.kek_rsa2, fx.kek_ec, fx.kek_ed };

	(void)state;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		EVP_PKEY_free(keys[i]);
	for (size_t i = 0; i < sizeof(certs) / sizeof(certs[0]); i++)
		X509_free(certs[i]);
	for (int i = 0; i < N_SIGNERS; i++) {
		EVP_PKEY_free(fx.signer_key[i]);
		X509_free(fx.signer[i]);
	}
	return 0;
}

/* ---- helpers ---- */

static void base_params(struct sc_profile_params *pp)
{
	memset(pp, 0, sizeof(*pp));
	pp->network_id = NET;
	pp->device_id = DEV;
	pp->profile_not_after = fx.now + 3600;
	pp->not_before = fx.now;
	pp->not_after = fx.now + 30 * DAY;
	pp->generate_alg = SC_ALG_P256;
	pp->cert_digest = SC_DIGEST_SHA256;
}

static struct sc_profile *create_ok(const struct sc_profile_params *pp)
{
	struct sc_profile *p = NULL;
	sc_err r = sc_profile_create(pp, &p);

	if (r != SC_OK)
		fail_msg("sc_profile_create: %s: %s", sc_err_name(r), sc_err_detail());
	return p;
}

static void sign_ok(struct sc_profile *p, int signer, int pss)
{
	sc_err r = sc_profile_sign(p, fx.signer_key[signer], fx.signer[signer], NULL, pss);

	if (r != SC_OK)
		fail_msg("sc_profile_sign: %s: %s", sc_err_name(r), sc_err_detail());
}

static void encode_ok(const struct sc_profile *p, uint8_t **der, size_t *len)
{
	assert_int_equal(sc_profile_encode(p, der, len), SC_OK);
	assert_non_null(*der);
}

static struct sc_profile *decode_ok(const uint8_t *der, size_t len)
{
	struct sc_profile *p = NULL;
	sc_err r = sc_profile_decode(der, len, &p);

	if (r != SC_OK)
		fail_msg("sc_profile_decode: %s: %s", sc_err_name(r), sc_err_detail());
	return p;
}

/* Build, sign with P-256 and encode the base profile; *pp may be tweaked first via edit. */
static void signed_der(const struct sc_profile_params *pp, uint8_t **der, size_t *len)
{
	struct sc_profile *p = create_ok(pp);

	sign_ok(p, S_P256, 0);
	encode_ok(p, der, len);
	sc_profile_free(p);
}

static void expect_decode(const uint8_t *der, size_t len, sc_err want)
{
	struct sc_profile *p = (struct sc_profile *)0x1;
	sc_err r = sc_profile_decode(der, len, &p);

	if (r != want)
		fail_msg("decode: want %s, got %s (%s)", sc_err_name(want), sc_err_name(r),
		    sc_err_detail());
	assert_null(p);
}

/* Encode a (poked) signed profile and expect the decoder to refuse it with want. */
static void expect_poked(struct sc_profile *p, sc_err want, const char *detail_part)
{
	uint8_t *der = NULL;
	size_t len = 0;

	encode_ok(p, &der, &len);
	expect_decode(der, len, want);
	if (detail_part != NULL && strstr(sc_err_detail(), detail_part) == NULL)
		fail_msg("detail '%s' lacks '%s'", sc_err_detail(), detail_part);
	OPENSSL_free(der);
	sc_profile_free(p);
}

/* A fresh signed base profile, ready for poking at its fields. */
static struct sc_profile *poke_base(void)
{
	struct sc_profile_params pp;
	struct sc_profile *p;
	static const uint8_t ch[16] = { 1, 2, 3 };

	base_params(&pp);
	pp.user_id = "alice";
	pp.challenge = ch;
	pp.challenge_len = sizeof(ch);
	p = create_ok(&pp);
	sign_ok(p, S_P256, 0);
	return p;
}

static struct sc_anchor anchors[2];

static void base_policy(struct sc_profile_policy *pol)
{
	memset(pol, 0, sizeof(*pol));
	anchors[0].network_id = "net-other";
	anchors[0].cert = fx.root2;
	anchors[1].network_id = NET;
	anchors[1].cert = fx.root;
	pol->device_id = DEV;
	pol->anchors = anchors;
	pol->n_anchors = 2;
	pol->now = fx.now;
	pol->csk_cert = fx.dev_ca;
	pol->max_leaf_seconds = 0;
	pol->csk_alg = SC_ALG_P256;
}

/* Decode the DER of p and run sc_profile_check on the result (decoded, as the SP does). */
static sc_err check_decoded(const struct sc_profile *p, const struct sc_profile_policy *pol)
{
	uint8_t *der = NULL;
	size_t len = 0;
	struct sc_profile *d;
	sc_err r;

	encode_ok(p, &der, &len);
	d = decode_ok(der, len);
	r = sc_profile_check(d, pol);
	sc_profile_free(d);
	OPENSSL_free(der);
	return r;
}

static void want_check(const struct sc_profile_params *pp, int signer,
    const struct sc_profile_policy *pol, sc_err want)
{
	struct sc_profile *p = create_ok(pp);
	sc_err r;

	sign_ok(p, signer, 0);
	r = check_decoded(p, pol);
	if (r != want)
		fail_msg("check: want %s, got %s (%s)", sc_err_name(want), sc_err_name(r),
		    sc_err_detail());
	sc_profile_free(p);
}

/*
 * Replace bytes [off, off + old_n) inside the tbsProfile's content of a DER SignedProfile with
 * rep, fixing the lengths of tbsProfile and of the outer SEQUENCE. out must be big enough.
 */
static size_t splice_tbs(const uint8_t *der, size_t len, size_t off, size_t old_n,
    const uint8_t *rep, size_t rep_n, uint8_t *out)
{
	const unsigned char *p = der, *q;
	long olen, tlen;
	int tag, cls;
	size_t tbs_start, tbs_end, tbs_content_len, rest_len, outer_content;
	unsigned char *w = out;

	assert_int_equal(ASN1_get_object(&p, &olen, &tag, &cls, (long)len) & 0x80, 0);
	q = p;
	assert_int_equal(ASN1_get_object(&q, &tlen, &tag, &cls, olen) & 0x80, 0);
	tbs_start = (size_t)(q - der);
	tbs_end = tbs_start + (size_t)tlen;
	assert_true(off >= tbs_start && off + old_n <= tbs_end);
	tbs_content_len = (size_t)tlen - old_n + rep_n;
	rest_len = len - tbs_end;
	outer_content = (size_t)ASN1_object_size(1, (int)tbs_content_len, V_ASN1_SEQUENCE) +
	    rest_len;
	ASN1_put_object(&w, 1, (int)outer_content, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL);
	ASN1_put_object(&w, 1, (int)tbs_content_len, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL);
	memcpy(w, der + tbs_start, off - tbs_start);
	w += off - tbs_start;
	memcpy(w, rep, rep_n);
	w += rep_n;
	memcpy(w, der + off + old_n, tbs_end - off - old_n);
	w += tbs_end - off - old_n;
	memcpy(w, der + tbs_end, rest_len);
	w += rest_len;
	return (size_t)(w - out);
}

static size_t find(const uint8_t *hay, size_t n, const void *needle, size_t m)
{
	for (size_t i = 0; i + m <= n; i++)
		if (memcmp(hay + i, needle, m) == 0)
			return i;
	fail_msg("pattern not found");
	return 0;
}

/* A CMS envelope of key's PKCS#8 to kek with the given cipher; oaep 0: PKCS#1 v1.5. */
static CMS_ContentInfo *envelope(EVP_PKEY *key, X509 *kek, const EVP_CIPHER *cipher, int oaep)
{
	PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(key);
	unsigned char *der = NULL;
	int len = i2d_PKCS8_PRIV_KEY_INFO(p8, &der);
	BIO *in = BIO_new_mem_buf(der, len);
	CMS_ContentInfo *cms = CMS_encrypt(NULL, in, cipher, CMS_PARTIAL | CMS_BINARY);
	CMS_RecipientInfo *ri;

	assert_non_null(cms);
	ri = CMS_add1_recipient_cert(cms, kek, oaep ? CMS_KEY_PARAM : 0);
	assert_non_null(ri);
	if (oaep) {
		EVP_PKEY_CTX *pctx = CMS_RecipientInfo_get0_pkey_ctx(ri);
		assert_true(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_OAEP_PADDING) > 0);
	}
	assert_true(CMS_final(cms, in, NULL, CMS_BINARY));
	BIO_free(in);
	OPENSSL_clear_free(der, (size_t)len);
	PKCS8_PRIV_KEY_INFO_free(p8);
	return cms;
}

static void set_envelope(struct sc_profile *p, CMS_ContentInfo *cms)
{
	SC_SUPPLIED_KEY *s = p->sp->tbsProfile->key->value.supplied;

	assert_int_equal(p->sp->tbsProfile->key->type, SC_KEY_SPEC_SUPPLIED);
	CMS_ContentInfo_free(s->encryptedKey);
	s->encryptedKey = cms;
}

/* Sign (again, after poking), round-trip through DER and unwrap; returns the code. */
static sc_err unwrap_decoded(struct sc_profile *p, EVP_PKEY *kek_key, X509 *kek_cert,
    EVP_PKEY **out)
{
	uint8_t *der = NULL;
	size_t len = 0;
	struct sc_profile *d;
	sc_err r;

	sign_ok(p, S_P256, 0);
	encode_ok(p, &der, &len);
	d = decode_ok(der, len);
	r = sc_profile_unwrap_key(d, kek_key, kek_cert, out);
	sc_profile_free(d);
	OPENSSL_free(der);
	return r;
}

/* ---- tests: building ---- */

static void test_create_usage(void **state)
{
	struct sc_profile_params pp;
	struct sc_profile *p = NULL;
	char long65[66], long129[130];
	static const uint8_t ch[65] = { 0 };
	const char *bad_eku[] = { "clientAuth", "no-such-purpose", NULL };
	const char *bad_san_kind[] = { "dir:CN=x", NULL };
	const char *bad_ip[] = { "ip:300.1.1.1", NULL };
	const char *bad_dns[] = { "dns:has space", NULL };
	const char *many_san[SC_PROFILE_MAX_SAN + 2];
	const char *many_eku[SC_PROFILE_MAX_EKU + 2];
	uint8_t *der = NULL;
	size_t len = 0;

	(void)state;
	memset(long65, 'a', 65);
	long65[65] = '\0';
	memset(long129, 'u', 129);
	long129[129] = '\0';
	for (int i = 0; i <= SC_PROFILE_MAX_SAN; i++)
		many_san[i] = "dns:a.example";
	many_san[SC_PROFILE_MAX_SAN + 1] = NULL;
	for (int i = 0; i <= SC_PROFILE_MAX_EKU; i++)
		many_eku[i] = "clientAuth";
	many_eku[SC_PROFILE_MAX_EKU + 1] = NULL;

#define EXPECT_CREATE(edit, want)                                   \
	do {                                                        \
		base_params(&pp);                                   \
		edit;                                               \
		p = (struct sc_profile *)0x1;                       \
		assert_int_equal(sc_profile_create(&pp, &p), want); \
		assert_null(p);                                     \
	} while (0)

	EXPECT_CREATE(pp.network_id = NULL, SC_ERR_USAGE);
	EXPECT_CREATE(pp.network_id = "", SC_ERR_USAGE);
	EXPECT_CREATE(pp.network_id = long65, SC_ERR_USAGE);
	EXPECT_CREATE(pp.network_id = "bad\xff utf8", SC_ERR_USAGE);
	EXPECT_CREATE(pp.device_id = "dev_1", SC_ERR_USAGE); /* '_' is not PrintableString */
	EXPECT_CREATE(pp.device_id = "dev\xc3\xa9", SC_ERR_USAGE);
	EXPECT_CREATE(pp.device_id = long65, SC_ERR_USAGE);
	EXPECT_CREATE(pp.user_id = "", SC_ERR_USAGE);
	EXPECT_CREATE(pp.user_id = long129, SC_ERR_USAGE);
	EXPECT_CREATE((pp.challenge = ch, pp.challenge_len = 15), SC_ERR_USAGE);
	EXPECT_CREATE((pp.challenge = ch, pp.challenge_len = 65), SC_ERR_USAGE);
	EXPECT_CREATE(pp.generate_alg = SC_ALG_NONE, SC_ERR_ALGORITHM);
	EXPECT_CREATE(pp.generate_alg = (enum sc_alg)7, SC_ERR_ALGORITHM);
	EXPECT_CREATE(pp.cert_digest = (enum sc_digest)4, SC_ERR_ALGORITHM);
	EXPECT_CREATE(pp.key_usage = 0x10000, SC_ERR_USAGE);
	EXPECT_CREATE(pp.eku = bad_eku, SC_ERR_USAGE);
	EXPECT_CREATE(pp.eku = many_eku, SC_ERR_USAGE);
	EXPECT_CREATE(pp.san = bad_san_kind, SC_ERR_USAGE);
	EXPECT_CREATE(pp.san = bad_ip, SC_ERR_USAGE);
	EXPECT_CREATE(pp.san = bad_dns, SC_ERR_USAGE);
	EXPECT_CREATE(pp.san = many_san, SC_ERR_USAGE);
	EXPECT_CREATE(pp.supplied_key = fx.sup_p256, SC_ERR_USAGE); /* no kek_cert */
	EXPECT_CREATE((pp.supplied_key = fx.sup_p256, pp.kek_cert = fx.kek_ed), SC_ERR_ALGORITHM);
#undef EXPECT_CREATE

	/* Unsigned profiles do not encode; mismatched or unsuitable signer keys are refused. */
	base_params(&pp);
	p = create_ok(&pp);
	assert_int_equal(sc_profile_encode(p, &der, &len), SC_ERR_USAGE);
	assert_null(der);
	assert_int_equal(sc_profile_sign(p, fx.signer_key[S_P384], fx.signer[S_P256], NULL, 0),
	    SC_ERR_USAGE);
	assert_int_equal(sc_profile_sign(p, fx.signer_key[S_P256], fx.signer[S_P256], NULL, 1),
	    SC_ERR_USAGE); /* PSS with an EC key */
	assert_int_equal(sc_profile_encode(p, &der, &len), SC_ERR_USAGE);
	sc_profile_free(p);
	sc_profile_free(NULL);
}

static void test_info_unsigned_and_ids(void **state)
{
	struct sc_profile_params pp;
	struct sc_profile *a, *b;
	struct sc_profile_info ia, ib;

	(void)state;
	base_params(&pp);
	a = create_ok(&pp);
	b = create_ok(&pp);
	sc_profile_get_info(a, &ia);
	sc_profile_get_info(b, &ib);
	assert_int_equal(ia.signed_, 0);
	assert_null(ia.signer);
	assert_null(ia.certs);
	assert_memory_not_equal(ia.id, ib.id, SC_PROFILE_ID_LEN); /* random per profile */
	assert_int_equal(ia.key_usage, KU_DIGITAL_SIGNATURE);     /* the default when absent */
	assert_int_equal(ia.has_key_usage, 0);
	assert_int_equal(ia.has_user_id, 0);
	assert_string_equal(ia.user_id, "");
	assert_int_equal(ia.challenge_len, 0);
	assert_null(ia.eku);
	assert_null(ia.san);
	assert_null(ia.supplied_pub);
	sc_profile_free(a);
	sc_profile_free(b);
}

/* ---- round trips ---- */

static void test_roundtrip_all_combinations(void **state)
{
	static const uint8_t ch[SC_CHALLENGE_MAX] = { 0xc0, 0xff, 0xee };
	const char *eku[] = { "clientAuth", "1.3.6.1.5.5.7.3.1", "emailProtection", NULL };
	const char *san[] = { "dns:dev.example.net", "email:alice@example.net", "uri:urn:dev:0001",
		"ip:192.0.2.7", "ip:2001:db8::7", NULL };
	static const unsigned kus[] = { KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION,
		KU_KEY_ENCIPHERMENT, KU_KEY_AGREEMENT | KU_DIGITAL_SIGNATURE, KU_DECIPHER_ONLY };
	int rounds = 0;

	(void)state;
	for (int mask = 0; mask < 32; mask++) {
		for (int alg = SC_ALG_RSA2048; alg <= SC_ALG_MAX; alg++) {
			struct sc_profile_params pp;
			struct sc_profile *p, *d;
			struct sc_profile_info a, b;
			uint8_t *der = NULL, *der2 = NULL;
			size_t len = 0, len2 = 0;
			uint8_t dg[32];

			base_params(&pp);
			pp.generate_alg = (enum sc_alg)alg;
			pp.cert_digest = (enum sc_digest)(1 + (mask + alg) % 3);
			if (mask & 1)
				pp.user_id = "Alice \xc3\x89lise (UTF-8)";
			if (mask & 2) {
				pp.challenge = ch;
				pp.challenge_len = SC_CHALLENGE_MIN + (size_t)(alg * 7) % 49;
			}
			if (mask & 4)
				pp.key_usage = kus[alg % 4];
			if (mask & 8)
				pp.eku = eku;
			if (mask & 16)
				pp.san = san;
			p = create_ok(&pp);
			sign_ok(p, alg % N_SIGNERS, 0);
			encode_ok(p, &der, &len);
			d = decode_ok(der, len);
			sc_profile_get_info(p, &a);
			sc_profile_get_info(d, &b);

			assert_memory_equal(a.id, b.id, SC_PROFILE_ID_LEN);
			assert_string_equal(b.network_id, NET);
			assert_string_equal(b.device_id, DEV);
			assert_int_equal(b.has_user_id, !!(mask & 1));
			assert_string_equal(b.user_id, (mask & 1) ? pp.user_id : "");
			assert_int_equal(b.challenge_len, (mask & 2) ? pp.challenge_len : 0);
			assert_memory_equal(b.challenge, ch, b.challenge_len);
			assert_int_equal(b.profile_not_after, pp.profile_not_after);
			assert_int_equal(b.not_before, pp.not_before);
			assert_int_equal(b.not_after, pp.not_after);
			assert_int_equal(b.origin, SC_KEY_DEVICE_GENERATED);
			assert_int_equal(b.alg, alg);
			assert_int_equal(b.cert_digest, pp.cert_digest);
			assert_int_equal(b.has_key_usage, !!(mask & 4));
			assert_int_equal(b.key_usage,
			    (mask & 4) ? kus[alg % 4] : KU_DIGITAL_SIGNATURE);
			if (mask & 8) {
				assert_non_null(b.eku);
				assert_int_equal(sk_ASN1_OBJECT_num(b.eku), 3);
				assert_int_equal(OBJ_obj2nid(sk_ASN1_OBJECT_value(b.eku, 0)),
				    NID_client_auth);
				assert_int_equal(OBJ_obj2nid(sk_ASN1_OBJECT_value(b.eku, 1)),
				    NID_server_auth);
			} else {
				assert_null(b.eku);
			}
			if (mask & 16) {
				assert_non_null(b.san);
				assert_int_equal(sk_GENERAL_NAME_num(b.san), 5);
				assert_int_equal(sk_GENERAL_NAME_value(b.san, 3)->type, GEN_IPADD);
				assert_int_equal(ASN1_STRING_length(
				                     sk_GENERAL_NAME_value(b.san, 4)->d.ip),
				    16);
			} else {
				assert_null(b.san);
			}
			assert_null(b.supplied_pub);
			assert_int_equal(b.signed_, 1);
			assert_non_null(b.signer);
			assert_int_equal(X509_cmp(b.signer, fx.signer[alg % N_SIGNERS]), 0);
			assert_int_equal(sk_X509_num(b.certs), 1);
			assert_string_equal(a.sig_alg, b.sig_alg);
			/* The digest is SHA-256 of the DER, the same after signing and after decoding. */
			assert_true(EVP_Digest(der, len, dg, NULL, EVP_sha256(), NULL));
			assert_memory_equal(a.digest, dg, 32);
			assert_memory_equal(b.digest, dg, 32);
			/* And the decoded profile re-encodes to the very same bytes. */
			encode_ok(d, &der2, &len2);
			assert_int_equal(len, len2);
			assert_memory_equal(der, der2, len);

			OPENSSL_free(der);
			OPENSSL_free(der2);
			sc_profile_free(p);
			sc_profile_free(d);
			rounds++;
		}
	}
	assert_int_equal(rounds, 32 * 6);
}

/* RFC 5280 times: UTCTime through 2049, GeneralizedTime from 2050; profileNotAfter always GT. */
static void test_roundtrip_times(void **state)
{
	struct sc_profile_params pp;
	struct sc_profile *p, *d;
	struct sc_profile_info b;
	uint8_t *der = NULL;
	size_t len = 0;
	const time_t y2049 = 2524607999; /* 2049-12-31T23:59:59Z */
	const time_t y2051 = 2556144000; /* 2051-01-01T00:00:00Z */

	(void)state;
	base_params(&pp);
	pp.not_before = y2049;
	pp.not_after = y2051;
	pp.profile_not_after = fx.now + 60;
	p = create_ok(&pp);
	assert_int_equal(ASN1_STRING_type(p->sp->tbsProfile->validity->notBefore), V_ASN1_UTCTIME);
	assert_int_equal(ASN1_STRING_type(p->sp->tbsProfile->validity->notAfter),
	    V_ASN1_GENERALIZEDTIME);
	assert_int_equal(ASN1_STRING_type(p->sp->tbsProfile->profileNotAfter),
	    V_ASN1_GENERALIZEDTIME);
	sign_ok(p, S_ED25519, 0);
	encode_ok(p, &der, &len);
	d = decode_ok(der, len);
	sc_profile_get_info(d, &b);
	assert_int_equal(b.not_before, y2049);
	assert_int_equal(b.not_after, y2051);
	assert_int_equal(b.profile_not_after, pp.profile_not_after);
	OPENSSL_free(der);
	sc_profile_free(d);
	sc_profile_free(p);
}

/* ---- signing: the five signature algorithms ---- */

static void test_sign_verify_all_algorithms(void **state)
{
	static const struct {
		int signer, pss;
		const char *sn;
	} cases[] = {
		{ S_RSA, 0, "RSA-SHA256" },
		{ S_RSA, 1, "RSASSA-PSS" },
		{ S_P256, 0, "ecdsa-with-SHA256" },
		{ S_P384, 0, "ecdsa-with-SHA384" },
		{ S_ED25519, 0, "ED25519" },
	};
	struct sc_profile_params pp;
	struct sc_profile_policy pol;

	(void)state;
	base_params(&pp);
	base_policy(&pol);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sc_profile *p = create_ok(&pp), *d;
		struct sc_profile_info info;
		uint8_t *der = NULL;
		size_t len = 0;

		assert_int_equal(sc_profile_sign(p, fx.signer_key[cases[i].signer],
		                     fx.signer[cases[i].signer], NULL, cases[i].pss),
		    SC_OK);
		/* Signing twice replaces the signature. */
		assert_int_equal(sc_profile_sign(p, fx.signer_key[cases[i].signer],
		                     fx.signer[cases[i].signer], NULL, cases[i].pss),
		    SC_OK);
		sc_profile_get_info(p, &info);
		assert_string_equal(info.sig_alg, cases[i].sn);
		assert_int_equal(sc_profile_verify_signature(p, fx.root, fx.now), SC_OK);
		encode_ok(p, &der, &len);
		d = decode_ok(der, len);
		sc_profile_get_info(d, &info);
		assert_string_equal(info.sig_alg, cases[i].sn);
		assert_int_equal(sc_profile_verify_signature(d, fx.root, fx.now), SC_OK);
		assert_int_equal(sc_profile_check(d, &pol), SC_OK);
		/* Another anchor does not vouch for it. */
		assert_int_equal(sc_profile_verify_signature(d, fx.root2, fx.now),
		    SC_ERR_UNTRUSTED_SIGNER);
		if (cases[i].pss) {
			const ASN1_OBJECT *obj;
			X509_ALGOR_get0(&obj, NULL, NULL, d->sp->signatureAlgorithm);
			assert_int_equal(OBJ_obj2nid(obj), NID_rsassaPss);
		}
		OPENSSL_free(der);
		sc_profile_free(d);
		sc_profile_free(p);
	}
}

/*
 * judge11: a signer with its context kept (fast/profile_signer.h) signs as sc_profile_sign: the
 * same DER for the deterministic algorithms (RSA PKCS#1 v1.5, Ed25519), a verifying signature
 * of the same algorithm for all five, the shortcuts on and off; and it refuses what
 * sc_profile_sign refuses, with the same error.
 */
static void test_profile_signer(void **state)
{
	static const struct {
		int signer, pss, same;
		const char *sn;
	} cases[] = {
		{ S_RSA, 0, 1, "RSA-SHA256" },
		{ S_RSA, 1, 0, "RSASSA-PSS" },
		{ S_P256, 0, 0, "ecdsa-with-SHA256" },
		{ S_P384, 0, 0, "ecdsa-with-SHA384" },
		{ S_ED25519, 0, 1, "ED25519" },
	};
	struct sc_profile_params pp;
	struct sc_profile_policy pol;
	struct sc_profile_signer *sg = NULL;

	(void)state;
	base_params(&pp);
	base_policy(&pol);
	for (int fast = 1; fast >= 0; fast--)
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			struct sc_profile *p = create_ok(&pp), *q = NULL, *d;
			struct sc_profile_info info;
			uint8_t *der = NULL, *der2 = NULL;
			size_t len = 0, len2 = 0;

			assert_int_equal(sc_profile_signer_new(fx.signer_key[cases[i].signer],
			                     fx.signer[cases[i].signer], cases[i].pss, &sg),
			    SC_OK);
			sc_fast_set(fast);
			assert_int_equal(sc_profile_signer_sign(sg, p), SC_OK);
			/* Twice: the kept context is copied, never used up. */
			assert_int_equal(sc_profile_signer_sign(sg, p), SC_OK);
			sc_fast_set(1);
			sc_profile_get_info(p, &info);
			assert_string_equal(info.sig_alg, cases[i].sn);
			encode_ok(p, &der, &len);
			d = decode_ok(der, len);
			assert_int_equal(sc_profile_verify_signature(d, fx.root, fx.now), SC_OK);
			assert_int_equal(sc_profile_check(d, &pol), SC_OK);
			/* The same profile signed the plain way. */
			assert_int_equal(sc_profile_decode(der, len, &q), SC_OK);
			assert_int_equal(sc_profile_sign(q, fx.signer_key[cases[i].signer],
			                     fx.signer[cases[i].signer], NULL, cases[i].pss),
			    SC_OK);
			encode_ok(q, &der2, &len2);
			if (cases[i].same) {
				assert_int_equal(len, len2);
				assert_memory_equal(der, der2, len);
			}
			OPENSSL_free(der);
			OPENSSL_free(der2);
			der = der2 = NULL;
			/*
			 * enroll15: sc_profile_signer_sign_der's bytes are sc_profile_encode's of
			 * the profile it signed, and they verify.
			 */
			sc_fast_set(fast);
			assert_int_equal(sc_profile_signer_sign_der(sg, p, &der, &len), SC_OK);
			sc_fast_set(1);
			encode_ok(p, &der2, &len2);
			assert_int_equal(len, len2);
			assert_memory_equal(der, der2, len);
			sc_profile_free(d);
			d = decode_ok(der, len);
			assert_int_equal(sc_profile_verify_signature(d, fx.root, fx.now), SC_OK);
			OPENSSL_free(der);
			OPENSSL_free(der2);
			sc_profile_free(d);
			sc_profile_free(q);
			sc_profile_free(p);
			sc_profile_signer_free(sg);
			sg = NULL;
		}
	/* Refused as sc_profile_sign refuses. */
	assert_int_equal(sc_profile_signer_new(fx.signer_key[S_P256], fx.signer[S_RSA], 0, &sg),
	    SC_ERR_USAGE);
	assert_string_equal(sc_err_detail(), "signer_key does not match signer_cert");
	assert_null(sg);
	assert_int_equal(sc_profile_signer_new(fx.signer_key[S_P256], fx.signer[S_P256], 1, &sg),
	    SC_ERR_USAGE);
	assert_string_equal(sc_err_detail(), "rsa_pss: the signer key is not RSA");
	assert_int_equal(sc_profile_signer_new(NULL, fx.signer[S_P256], 0, &sg), SC_ERR_USAGE);
	assert_int_equal(sc_profile_signer_sign(NULL, NULL), SC_ERR_USAGE);
	{
		uint8_t *der = (uint8_t *)"x";
		size_t len = 1;

		assert_int_equal(sc_profile_signer_sign_der(NULL, NULL, &der, &len), SC_ERR_USAGE);
		/* No profile: refused, and nothing handed over. */
		assert_int_equal(sc_profile_signer_new(fx.signer_key[S_P256], fx.signer[S_P256], 0,
		                     &sg),
		    SC_OK);
		assert_int_equal(sc_profile_signer_sign_der(sg, NULL, &der, &len), SC_ERR_USAGE);
		assert_null(der);
		assert_int_equal(len, 0);
		sc_profile_signer_free(sg);
	}
}

/*
 * The start-up proof through the kept context (provd_api_load): accepted under the network's
 * root, refused under another root with the profile check's own error.
 */
static void test_profile_signer_prove(void **state)
{
	struct sc_profile_signer *sg = NULL;

	(void)state;
	assert_int_equal(sc_profile_signer_new(fx.signer_key[S_P256], fx.signer[S_P256], 0, &sg),
	    SC_OK);
	assert_int_equal(sc_profile_signer_prove(sg, NET, "probe-1", fx.root), SC_OK);
	assert_int_equal(sc_profile_signer_prove(sg, NET, "probe-1", fx.root2),
	    sc_profile_prove_signer(NET, "probe-1", fx.signer_key[S_P256], fx.signer[S_P256],
	        fx.root2));
	assert_int_not_equal(sc_profile_signer_prove(sg, NET, "probe-1", fx.root2), SC_OK);
	sc_profile_signer_free(sg);
}

/* One signer, four threads signing at once (provd's workers): every profile verifies. */
struct signer_job {
	const struct sc_profile_signer *sg;
	int bad;
};

static void *signer_thread(void *arg)
{
	struct signer_job *j = arg;
	struct sc_profile_params pp;

	base_params(&pp);
	for (int i = 0; i < 50; i++) {
		struct sc_profile *p = NULL;

		if (sc_profile_create(&pp, &p) != SC_OK ||
		    sc_profile_signer_sign(j->sg, p) != SC_OK ||
		    sc_profile_verify_signature(p, fx.root, fx.now) != SC_OK)
			j->bad++;
		sc_profile_free(p);
	}
	return NULL;
}

static void test_profile_signer_threads(void **state)
{
	static const int which[] = { S_P256, S_RSA, S_ED25519 };
	struct signer_job jobs[4];
	pthread_t th[4];

	(void)state;
	for (size_t k = 0; k < sizeof(which) / sizeof(which[0]); k++) {
		struct sc_profile_signer *sg = NULL;

		assert_int_equal(sc_profile_signer_new(fx.signer_key[which[k]], fx.signer[which[k]],
		                     0, &sg),
		    SC_OK);
		for (int i = 0; i < 4; i++) {
			jobs[i] = (struct signer_job){ .sg = sg };
			assert_int_equal(pthread_create(&th[i], NULL, signer_thread, &jobs[i]), 0);
		}
		for (int i = 0; i < 4; i++) {
			assert_int_equal(pthread_join(th[i], NULL), 0);
			assert_int_equal(jobs[i].bad, 0);
		}
		sc_profile_signer_free(sg);
	}
}

static void test_sign_with_intermediate(void **state)
{
	struct sc_profile_params pp;
	struct sc_profile *p, *d, *alone;
	struct sc_profile_info info;
	STACK_OF(X509) *inter = sk_X509_new_null();
	uint8_t *der = NULL;
	size_t len = 0;
	struct sc_profile_policy pol;

	(void)state;
	base_params(&pp);
	base_policy(&pol);
	assert_true(sk_X509_push(inter, fx.inter));
	p = create_ok(&pp);
	assert_int_equal(sc_profile_sign(p, fx.signer_key[S_P256], fx.signer_via_inter, inter, 0),
	    SC_OK);
	sk_X509_free(inter); /* nothing is borrowed past the call */
	encode_ok(p, &der, &len);
	d = decode_ok(der, len);
	sc_profile_get_info(d, &info);
	assert_int_equal(sk_X509_num(info.certs), 2);
	assert_int_equal(sc_profile_check(d, &pol), SC_OK);
	OPENSSL_free(der);
	sc_profile_free(d);

	/* Without the intermediate the signer does not chain. */
	alone = create_ok(&pp);
	assert_int_equal(sc_profile_sign(alone, fx.signer_key[S_P256], fx.signer_via_inter, NULL,
	                     0),
	    SC_OK);
	assert_int_equal(sc_profile_verify_signature(alone, fx.root, fx.now),
	    SC_ERR_UNTRUSTED_SIGNER);
	sc_profile_free(alone);
	sc_profile_free(p);
}

/* ---- strict decoding ---- */

static void test_decode_truncation_every_length(void **state)
{
	struct sc_profile_params pp;
	uint8_t *der = NULL;
	size_t len = 0;
	const char *san[] = { "dns:x.example", NULL };
	static const uint8_t ch[32] = { 9 };

	(void)state;
	/* A supplied-key profile: the largest shape, CMS inside. */
	base_params(&pp);
	pp.supplied_key = fx.sup_p256;
	pp.kek_cert = fx.kek_ec;
	pp.user_id = "bob";
	pp.challenge = ch;
	pp.challenge_len = sizeof(ch);
	pp.key_usage = KU_DIGITAL_SIGNATURE | KU_KEY_AGREEMENT;
	pp.san = san;
	signed_der(&pp, &der, &len);
	for (size_t n = 0; n < len; n++) {
		/* Heap copies of exactly n bytes, so ASan sees any over-read. */
		uint8_t *cut = malloc(n > 0 ? n : 1);
		assert_non_null(cut);
		memcpy(cut, der, n);
		expect_decode(cut, n, SC_ERR_MALFORMED);
		free(cut);
	}
	sc_profile_free(decode_ok(der, len));
	OPENSSL_free(der);
}

static void test_decode_trailing_oversize_ber(void **state)
{
	struct sc_profile_params pp;
	uint8_t *der = NULL, *buf;
	size_t len = 0;

	(void)state;
	base_params(&pp);
	signed_der(&pp, &der, &len);
	assert_true(len > 256 && len < 65536 && der[0] == 0x30 && der[1] == 0x82);

	buf = malloc(SC_PROFILE_MAX_DER + 8);
	assert_non_null(buf);
	/* Trailing bytes: one zero, then a whole second copy. */
	memcpy(buf, der, len);
	buf[len] = 0;
	expect_decode(buf, len + 1, SC_ERR_TRAILING);
	memcpy(buf + len, der, len);
	expect_decode(buf, 2 * len, SC_ERR_TRAILING);

	/* Over the cap: refused before parsing, whatever the bytes. */
	memset(buf, 0, SC_PROFILE_MAX_DER + 1);
	memcpy(buf, der, len);
	expect_decode(buf, SC_PROFILE_MAX_DER + 1, SC_ERR_OVERSIZE);
	expect_decode(buf, 0, SC_ERR_MALFORMED);
	expect_decode(NULL, 0, SC_ERR_MALFORMED);

	/* BER: indefinite-length outer SEQUENCE (OpenSSL's d2i accepts it). */
	buf[0] = 0x30;
	buf[1] = 0x80;
	memcpy(buf + 2, der + 4, len - 4);
	buf[len - 2] = 0;
	buf[len - 1] = 0;
	expect_decode(buf, len, SC_ERR_MALFORMED);
	assert_non_null(strstr(sc_err_detail(), "not DER"));

	/* BER: a non-minimal long-form length for the outer SEQUENCE. */
	buf[0] = 0x30;
	buf[1] = 0x83;
	buf[2] = 0;
	memcpy(buf + 3, der + 2, len - 2);
	expect_decode(buf, len + 1, SC_ERR_MALFORMED);

	/* Not a SEQUENCE at all. */
	memcpy(buf, der, len);
	buf[0] = 0x31;
	expect_decode(buf, len, SC_ERR_MALFORMED);

	free(buf);
	OPENSSL_free(der);
}

static void test_decode_wrong_tags(void **state)
{
	struct sc_profile_params pp;
	uint8_t *der = NULL, *buf;
	size_t len = 0, off, n;
	static const uint8_t ch[16] = { 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a,
		0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a };
	uint8_t pat[32];

	(void)state;
	base_params(&pp);
	pp.user_id = "carol-the-user";
	pp.challenge = ch;
	pp.challenge_len = sizeof(ch);
	signed_der(&pp, &der, &len);
	buf = malloc(len + 16);
	assert_non_null(buf);

	/* networkId as PrintableString instead of UTF8String. */
	pat[0] = 0x0c;
	pat[1] = (uint8_t)strlen(NET);
	memcpy(pat + 2, NET, strlen(NET));
	off = find(der, len, pat, 2 + strlen(NET));
	memcpy(buf, der, len);
	buf[off] = 0x13;
	expect_decode(buf, len, SC_ERR_MALFORMED);

	/* deviceId as IA5String. */
	pat[0] = 0x0c;
	pat[1] = (uint8_t)strlen(DEV);
	memcpy(pat + 2, DEV, strlen(DEV));
	off = find(der, len, pat, 2 + strlen(DEV));
	memcpy(buf, der, len);
	buf[off] = 0x16;
	expect_decode(buf, len, SC_ERR_MALFORMED);

	/* userId [0] with an IMPLICIT tag: A0 L+2 0C L ... becomes 80 L ... */
	pat[0] = 0xa0;
	pat[1] = (uint8_t)(strlen(pp.user_id) + 2);
	pat[2] = 0x0c;
	pat[3] = (uint8_t)strlen(pp.user_id);
	off = find(der, len, pat, 4);
	{
		uint8_t rep[2] = { 0x80, (uint8_t)strlen(pp.user_id) };
		n = splice_tbs(der, len, off, 4, rep, 2, buf);
		expect_decode(buf, n, SC_ERR_MALFORMED);
	}
	/* userId [0] EXPLICIT but tagged [5]. */
	memcpy(buf, der, len);
	buf[off] = 0xa5;
	expect_decode(buf, len, SC_ERR_MALFORMED);

	/* challenge [1] with an IMPLICIT tag: A1 12 04 10 ... becomes 81 10 ... */
	pat[0] = 0xa1;
	pat[1] = 18;
	pat[2] = 0x04;
	pat[3] = 16;
	off = find(der, len, pat, 4);
	{
		uint8_t rep[2] = { 0x81, 16 };
		n = splice_tbs(der, len, off, 4, rep, 2, buf);
		expect_decode(buf, n, SC_ERR_MALFORMED);
	}
	/* The splice helper itself is sound: an identity splice still decodes. */
	n = splice_tbs(der, len, off, 4, pat, 4, buf);
	assert_int_equal(n, len);
	sc_profile_free(decode_ok(buf, n));

	/* profileNotAfter as UTCTime tag (0x18 -> 0x17). */
	pat[0] = 0x18;
	pat[1] = 15;
	off = find(der, len, pat, 2);
	memcpy(buf, der, len);
	buf[off] = 0x17;
	expect_decode(buf, len, SC_ERR_MALFORMED);

	/* version as ENUMERATED instead of INTEGER: 02 01 01 -> 0A 01 01 (first after the OID). */
	pat[0] = 0x02;
	pat[1] = 0x01;
	pat[2] = 0x01;
	pat[3] = 0x04; /* followed by profileId OCTET STRING */
	pat[4] = 0x10;
	off = find(der, len, pat, 5);
	memcpy(buf, der, len);
	buf[off] = 0x0a;
	expect_decode(buf, len, SC_ERR_MALFORMED);

	free(buf);
	OPENSSL_free(der);
}

static void test_decode_content_type_version(void **state)
{
	struct sc_profile *p;

	(void)state;
	p = poke_base();
	ASN1_OBJECT_free(p->sp->tbsProfile->contentType);
	p->sp->tbsProfile->contentType = OBJ_nid2obj(NID_pkcs7_data);
	expect_poked(p, SC_ERR_CONTENT_TYPE, "contentType");

	p = poke_base();
	ASN1_OBJECT_free(p->sp->tbsProfile->contentType);
	p->sp->tbsProfile->contentType = OBJ_nid2obj(sc_nid_kp_profile_signing());
	expect_poked(p, SC_ERR_CONTENT_TYPE, "contentType");

	p = poke_base();
	assert_true(ASN1_INTEGER_set(p->sp->tbsProfile->version, 2));
	expect_poked(p, SC_ERR_VERSION, "version");

	p = poke_base();
	assert_true(ASN1_INTEGER_set(p->sp->tbsProfile->version, 0));
	expect_poked(p, SC_ERR_VERSION, "version");

	p = poke_base();
	assert_true(ASN1_INTEGER_set_int64(p->sp->tbsProfile->version, -1));
	expect_poked(p, SC_ERR_VERSION, "version");
}

static void set_str(ASN1_STRING *s, char fill, int len)
{
	char buf[256];

	assert_true(len <= (int)sizeof(buf));
	memset(buf, fill, sizeof(buf));
	assert_true(ASN1_STRING_set(s, buf, len));
}

static void test_decode_sizes(void **state)
{
	struct sc_profile *p;
	SC_TBS_PROFILE *t;

	(void)state;
#define POKE(stmt, want, detail)               \
	do {                                   \
		p = poke_base();               \
		t = p->sp->tbsProfile;         \
		(void)t;                       \
		stmt;                          \
		expect_poked(p, want, detail); \
	} while (0)

	POKE(set_str(t->profileId, 1, 15), SC_ERR_MALFORMED, "profileId: 15 bytes");
	POKE(set_str(t->profileId, 1, 17), SC_ERR_MALFORMED, "profileId: 17 bytes");
	POKE(set_str(t->profileId, 1, 0), SC_ERR_MALFORMED, "profileId");
	POKE(set_str(t->networkId, 'n', 65), SC_ERR_MALFORMED, "networkId: 65 bytes");
	POKE(set_str(t->networkId, 'n', 0), SC_ERR_MALFORMED, "networkId: 0 bytes");
	POKE(assert_true(ASN1_STRING_set(t->networkId, "a\0b", 3)), SC_ERR_MALFORMED, "networkId");
	POKE(assert_true(ASN1_STRING_set(t->networkId, "\xc0\xaf", 2)), SC_ERR_MALFORMED,
	    "UTF-8"); /* overlong */
	POKE(set_str(t->deviceId, 'D', 65), SC_ERR_MALFORMED, "deviceId: 65 bytes");
	POKE(assert_true(ASN1_STRING_set(t->deviceId, "dev_1", 5)), SC_ERR_MALFORMED, "deviceId");
	POKE(assert_true(ASN1_STRING_set(t->deviceId, "d\xc3\xa9v", 4)), SC_ERR_MALFORMED,
	    "deviceId");
	POKE(set_str(t->userId, 'u', 129), SC_ERR_MALFORMED, "userId: 129 bytes");
	POKE(set_str(t->userId, 'u', 0), SC_ERR_MALFORMED, "userId");
	POKE(set_str(t->challenge, 7, 15), SC_ERR_MALFORMED, "challenge: 15 bytes");
	POKE(set_str(t->challenge, 7, 65), SC_ERR_MALFORMED, "challenge: 65 bytes");
	/* Times: fractional seconds, an offset, a GeneralizedTime where RFC 5280 wants UTCTime. */
	POKE(assert_true(ASN1_GENERALIZEDTIME_set_string(t->profileNotAfter, "20300101000000.5Z")),
	    SC_ERR_MALFORMED, "profileNotAfter");
	POKE(assert_true(
	         ASN1_GENERALIZEDTIME_set_string(t->profileNotAfter, "20300101000000+0100")),
	    SC_ERR_MALFORMED, "profileNotAfter");
	POKE(assert_true(ASN1_TIME_set_string(t->validity->notAfter, "20300101000000Z")),
	    SC_ERR_MALFORMED, "validity.notAfter");
	POKE(assert_true(ASN1_STRING_set(t->validity->notBefore, "3001010000Z", 11)),
	    SC_ERR_MALFORMED, "validity.notBefore");
	/* KeyAlgorithm and CertDigest outside their ENUMERATED. */
	POKE(assert_true(ASN1_ENUMERATED_set(t->key->value.generate, 7)), SC_ERR_ALGORITHM,
	    "KeyAlgorithm");
	POKE(assert_true(ASN1_ENUMERATED_set(t->key->value.generate, 0)), SC_ERR_ALGORITHM,
	    "KeyAlgorithm");
	POKE(assert_true(ASN1_ENUMERATED_set(t->certDigest, 0)), SC_ERR_ALGORITHM, "certDigest");
	POKE(assert_true(ASN1_ENUMERATED_set(t->certDigest, 4)), SC_ERR_ALGORITHM, "certDigest");
	/* 5 certificates, and none. */
	POKE(
	    for (int i = 0; i < 4; i++) {
		    assert_true(X509_up_ref(fx.root));
		    assert_true(sk_X509_push(p->sp->certificates, fx.root));
	    },
	    SC_ERR_MALFORMED, "certificates: 5");
	POKE(X509_free(sk_X509_pop(p->sp->certificates)), SC_ERR_MALFORMED, "certificates: 0");
#undef POKE
}

static void test_decode_extensions(void **state)
{
	struct sc_profile_params pp;
	struct sc_profile *p;
	SC_TBS_PROFILE *t;
	const char *san[] = { "dns:ok.example", NULL };
	const char *eku[] = { "clientAuth", NULL };

	(void)state;
	base_params(&pp);
	pp.san = san;
	pp.eku = eku;
	pp.key_usage = KU_DIGITAL_SIGNATURE;
#define POKE(stmt, want, detail)               \
	do {                                   \
		p = create_ok(&pp);            \
		sign_ok(p, S_P256, 0);         \
		t = p->sp->tbsProfile;         \
		stmt;                          \
		expect_poked(p, want, detail); \
	} while (0)

	/* A SAN with a directoryName. */
	POKE(
	    {
		    GENERAL_NAME *gn = GENERAL_NAME_new();
		    X509_NAME *nm = X509_NAME_new();
		    assert_true(X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC,
		        (const unsigned char *)"x", -1, -1, 0));
		    GENERAL_NAME_set0_value(gn, GEN_DIRNAME, nm);
		    assert_true(sk_GENERAL_NAME_push(t->subjectAltName, gn));
	    },
	    SC_ERR_EXTENSION, "directoryName");
	/* A SAN with a registeredID. */
	POKE(
	    {
		    GENERAL_NAME *gn = GENERAL_NAME_new();
		    GENERAL_NAME_set0_value(gn, GEN_RID, OBJ_nid2obj(NID_client_auth));
		    assert_true(sk_GENERAL_NAME_push(t->subjectAltName, gn));
	    },
	    SC_ERR_EXTENSION, "registeredID");
	/* An iPAddress of 5 bytes. */
	POKE(
	    {
		    GENERAL_NAME *gn = GENERAL_NAME_new();
		    ASN1_OCTET_STRING *ip = ASN1_OCTET_STRING_new();
		    assert_true(ASN1_OCTET_STRING_set(ip, (const unsigned char *)"\1\2\3\4\5", 5));
		    GENERAL_NAME_set0_value(gn, GEN_IPADD, ip);
		    assert_true(sk_GENERAL_NAME_push(t->subjectAltName, gn));
	    },
	    SC_ERR_EXTENSION, "iPAddress");
	/* A dNSName with a control character. */
	POKE(assert_true(
	         ASN1_STRING_set(sk_GENERAL_NAME_value(t->subjectAltName, 0)->d.ia5, "a\nb", 3)),
	    SC_ERR_EXTENSION, "dNSName");
	/* Too many SAN and EKU entries. */
	POKE(for (int i = 0; i < SC_PROFILE_MAX_SAN; i++)
	         assert_true(sk_GENERAL_NAME_push(t->subjectAltName,
	             GENERAL_NAME_dup(sk_GENERAL_NAME_value(t->subjectAltName, 0)))),
	    SC_ERR_EXTENSION, "subjectAltName: 17");
	POKE(for (int i = 0; i < SC_PROFILE_MAX_EKU; i++)
	         assert_true(sk_ASN1_OBJECT_push(t->extKeyUsage, OBJ_nid2obj(NID_server_auth))),
	    SC_ERR_EXTENSION, "extKeyUsage: 9");
	/* Empty SEQUENCE OF where the module says SIZE (1..MAX). */
	POKE(GENERAL_NAME_free(sk_GENERAL_NAME_pop(t->subjectAltName)), SC_ERR_MALFORMED,
	    "subjectAltName: empty");
	POKE(ASN1_OBJECT_free(sk_ASN1_OBJECT_pop(t->extKeyUsage)), SC_ERR_MALFORMED,
	    "extKeyUsage: empty");
	/* KeyUsage with no bit, and with a bit past decipherOnly. */
	POKE(assert_true(ASN1_BIT_STRING_set_bit(t->keyUsage, 0, 0)), SC_ERR_EXTENSION, "no bit");
	POKE(assert_true(ASN1_BIT_STRING_set_bit(t->keyUsage, 9, 1)), SC_ERR_EXTENSION, "bit 9");
#undef POKE
}

/* KeyUsage whose unused-bits count is not minimal: BER, not DER. */
static void test_decode_key_usage_not_der(void **state)
{
	struct sc_profile_params pp;
	uint8_t *der = NULL, *buf;
	size_t len = 0, off;
	/* [2] { BIT STRING, 7 unused bits, 0x80 } = digitalSignature in DER */
	static const uint8_t ku_der[] = { 0xa2, 0x04, 0x03, 0x02, 0x07, 0x80 };

	(void)state;
	base_params(&pp);
	pp.key_usage = KU_DIGITAL_SIGNATURE;
	signed_der(&pp, &der, &len);
	off = find(der, len, ku_der, sizeof(ku_der));
	buf = malloc(len);
	assert_non_null(buf);
	memcpy(buf, der, len);
	buf[off + 4] = 0x05; /* 5 unused bits: same bit, not minimal */
	expect_decode(buf, len, SC_ERR_MALFORMED);
	assert_non_null(strstr(sc_err_detail(), "keyUsage"));
	free(buf);
	OPENSSL_free(der);
}

/* ---- sc_profile_check: every code, in order ---- */

static void test_check_each_code(void **state)
{
	struct sc_profile_params pp;
	struct sc_profile_policy pol;
	struct sc_profile *p;

	(void)state;
	base_params(&pp);
	base_policy(&pol);
	want_check(&pp, S_P256, &pol, SC_OK);

	/* network ID bound to an anchor */
	pol.n_anchors = 1; /* only "net-other" */
	want_check(&pp, S_P256, &pol, SC_ERR_NETWORK);
	base_policy(&pol);
	anchors[1].network_id = "NET-ALPHA"; /* exact match only */
	want_check(&pp, S_P256, &pol, SC_ERR_NETWORK);
	base_policy(&pol);
	pol.n_anchors = 0;
	want_check(&pp, S_P256, &pol, SC_ERR_NETWORK);
	base_policy(&pol);

	/* signer chains to that anchor, and is not a CA */
	p = create_ok(&pp);
	assert_int_equal(sc_profile_sign(p, fx.signer_key[S_P256], fx.signer_root2, NULL, 0),
	    SC_OK);
	assert_int_equal(check_decoded(p, &pol), SC_ERR_UNTRUSTED_SIGNER);
	sc_profile_free(p);
	p = create_ok(&pp);
	assert_int_equal(sc_profile_sign(p, fx.root_key, fx.root, NULL, 0), SC_OK);
	assert_int_equal(check_decoded(p, &pol), SC_ERR_UNTRUSTED_SIGNER);
	assert_non_null(strstr(sc_err_detail(), "CA"));
	sc_profile_free(p);
	/* the signer's certificate has expired by the host clock */
	pol.now = fx.now + 400 * DAY;
	want_check(&pp, S_P256, &pol, SC_ERR_UNTRUSTED_SIGNER);
	base_policy(&pol);

	/* signer EKU */
	p = create_ok(&pp);
	assert_int_equal(sc_profile_sign(p, fx.signer_key[S_P256], fx.signer_noeku, NULL, 0),
	    SC_OK);
	assert_int_equal(check_decoded(p, &pol), SC_ERR_SIGNER_EKU);
	sc_profile_free(p);

	/* signature: one bit flipped */
	p = create_ok(&pp);
	sign_ok(p, S_P256, 0);
	p->sp->signature->data[p->sp->signature->length / 2] ^= 0x01;
	assert_int_equal(check_decoded(p, &pol), SC_ERR_PROFILE_SIGNATURE);
	sc_profile_free(p);
	/* signature: a field changed after signing */
	p = create_ok(&pp);
	sign_ok(p, S_ED25519, 0);
	assert_true(ASN1_STRING_set(p->sp->tbsProfile->deviceId, "DEV-0002", 8));
	assert_int_equal(check_decoded(p, &pol), SC_ERR_PROFILE_SIGNATURE);
	sc_profile_free(p);
	/* deviceId */
	pol.device_id = "DEV-0002";
	want_check(&pp, S_P256, &pol, SC_ERR_DEVICE_MISMATCH);
	base_policy(&pol);

	/* profileNotAfter; the host clock is exactly at it: still fine */
	pp.profile_not_after = fx.now - 1;
	want_check(&pp, S_P256, &pol, SC_ERR_PROFILE_EXPIRED);
	pp.profile_not_after = fx.now;
	want_check(&pp, S_P256, &pol, SC_OK);
	base_params(&pp);

	/* validity: reversed, empty, past, outside the CSK certificate, too long */
	pp.not_before = fx.now + DAY;
	pp.not_after = fx.now;
	want_check(&pp, S_P256, &pol, SC_ERR_VALIDITY);
	pp.not_after = pp.not_before;
	want_check(&pp, S_P256, &pol, SC_ERR_VALIDITY);
	pp.not_before = fx.now - 1800;
	pp.not_after = fx.now - 60;
	want_check(&pp, S_P256, &pol, SC_ERR_VALIDITY);
	pp.not_before = fx.now - 7200; /* before the device CA's notBefore (now - 1 h) */
	pp.not_after = fx.now + DAY;
	want_check(&pp, S_P256, &pol, SC_ERR_VALIDITY);
	pp.not_before = fx.now;
	pp.not_after = fx.now + 6 * 365 * DAY; /* beyond the device CA's notAfter (now + 5 y) */
	want_check(&pp, S_P256, &pol, SC_ERR_VALIDITY);
	pp.not_after = fx.now + 5 * 365 * DAY; /* exactly at it: fine */
	want_check(&pp, S_P256, &pol, SC_OK);
	pp.not_after = fx.now + 31 * DAY;
	pol.max_leaf_seconds = 30 * DAY;
	want_check(&pp, S_P256, &pol, SC_ERR_VALIDITY);
	pp.not_after = fx.now + 30 * DAY;
	want_check(&pp, S_P256, &pol, SC_OK);
	base_params(&pp);
	base_policy(&pol);

	/* key algorithm: a supplied RSA-1024 key */
	pp.supplied_key = fx.sup_rsa1024;
	pp.kek_cert = fx.kek_rsa;
	want_check(&pp, S_P256, &pol, SC_ERR_ALGORITHM);
	assert_non_null(strstr(sc_err_detail(), "RSA-1024"));
	base_params(&pp);

	/* extensions */
	pp.key_usage = KU_DIGITAL_SIGNATURE | KU_KEY_CERT_SIGN;
	want_check(&pp, S_P256, &pol, SC_ERR_EXTENSION);
	assert_non_null(strstr(sc_err_detail(), "keyCertSign"));
	pp.key_usage = KU_CRL_SIGN;
	want_check(&pp, S_P256, &pol, SC_ERR_EXTENSION);
	pp.key_usage = KU_KEY_ENCIPHERMENT; /* not for an EC key */
	want_check(&pp, S_P256, &pol, SC_ERR_EXTENSION);
	pp.key_usage = KU_KEY_AGREEMENT; /* fine for EC */
	want_check(&pp, S_P256, &pol, SC_OK);
	pp.generate_alg = SC_ALG_ED25519; /* but not for Ed25519 */
	want_check(&pp, S_P256, &pol, SC_ERR_EXTENSION);
	pp.generate_alg = SC_ALG_RSA3072;
	pp.key_usage = KU_KEY_ENCIPHERMENT | KU_DATA_ENCIPHERMENT | KU_DIGITAL_SIGNATURE;
	want_check(&pp, S_P256, &pol, SC_OK);
	pp.key_usage = KU_ENCIPHER_ONLY;
	want_check(&pp, S_P256, &pol, SC_ERR_EXTENSION);
	base_params(&pp);
	{
		const char *eku[] = { "clientAuth", SC_OID_KP_PROFILESIGN, NULL };
		pp.eku = eku;
		want_check(&pp, S_P256, &pol, SC_ERR_EXTENSION);
		assert_non_null(strstr(sc_err_detail(), "profileSigning"));
	}
	base_params(&pp);

	/* Order: several faults at once report the first in the documented order. */
	pp.device_id = "DEV-0002";
	pp.profile_not_after = fx.now - 10;
	pp.key_usage = KU_KEY_CERT_SIGN;
	want_check(&pp, S_P256, &pol, SC_ERR_DEVICE_MISMATCH);
	pol.n_anchors = 1;
	want_check(&pp, S_P256, &pol, SC_ERR_NETWORK);
	base_policy(&pol);
	pp.device_id = DEV;
	want_check(&pp, S_P256, &pol, SC_ERR_PROFILE_EXPIRED);
	pp.profile_not_after = fx.now + 10;
	pp.not_after = pp.not_before - 1;
	want_check(&pp, S_P256, &pol, SC_ERR_VALIDITY);
	base_params(&pp);

	/* Usage errors. */
	p = create_ok(&pp);
	assert_int_equal(sc_profile_check(p, &pol), SC_ERR_USAGE); /* unsigned */
	assert_int_equal(sc_profile_verify_signature(p, fx.root, fx.now), SC_ERR_USAGE);
	sc_profile_free(p);
}

/* A correctly made signature with an algorithm outside the allowed five is refused. */
static void test_check_weak_signature_algorithm(void **state)
{
	struct sc_profile_params pp;
	struct sc_profile *p, *d;
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	uint8_t *der = NULL, *sig = NULL;
	const unsigned char *q, *tbs;
	size_t len = 0, tbs_len, sig_len = 0;
	long l;
	int tag, cls;

	(void)state;
	base_params(&pp);
	p = create_ok(&pp);
	sign_ok(p, S_RSA, 0);
	/* Re-sign the DER tbsProfile with SHA-1, as a downgrading server might. */
	encode_ok(p, &der, &len);
	q = der;
	assert_int_equal(ASN1_get_object(&q, &l, &tag, &cls, (long)len) & 0x80, 0);
	tbs = q;
	assert_int_equal(ASN1_get_object(&q, &l, &tag, &cls, (long)len) & 0x80, 0);
	tbs_len = (size_t)(q - tbs) + (size_t)l;
	assert_non_null(m);
	assert_int_equal(EVP_DigestSignInit(m, NULL, EVP_sha1(), NULL, fx.signer_key[S_RSA]), 1);
	assert_int_equal(EVP_DigestSign(m, NULL, &sig_len, tbs, tbs_len), 1);
	sig = OPENSSL_malloc(sig_len);
	assert_non_null(sig);
	assert_int_equal(EVP_DigestSign(m, sig, &sig_len, tbs, tbs_len), 1);
	assert_true(ASN1_BIT_STRING_set(p->sp->signature, sig, (int)sig_len));
	assert_true(X509_ALGOR_set0(p->sp->signatureAlgorithm,
	    OBJ_nid2obj(NID_sha1WithRSAEncryption), V_ASN1_NULL, NULL));
	OPENSSL_free(der);
	encode_ok(p, &der, &len);
	d = decode_ok(der, len);
	assert_int_equal(sc_profile_verify_signature(d, fx.root, fx.now), SC_ERR_PROFILE_SIGNATURE);
	assert_non_null(strstr(sc_err_detail(), "not allowed"));
	sc_profile_free(d);
	OPENSSL_free(der);
	OPENSSL_free(sig);
	EVP_MD_CTX_free(m);
	sc_profile_free(p);
}

/*
 * The certificate builders of cert.c (network root, profile signer, device CA) against our
 * checks: what the project issues must pass X509_V_FLAG_X509_STRICT path validation.
 */
static void test_check_with_cert_builders(void **state)
{
	EVP_PKEY *root_key = NULL, *signer_key = NULL, *mfr_key = NULL, *csk = NULL;
	X509 *root = NULL, *signer = NULL, *mfr = NULL, *ca = NULL, *dev_ca = NULL;
	struct sc_profile_params pp;
	struct sc_profile_policy pol;
	struct sc_anchor anchor;
	struct sc_profile *p;

	(void)state;
	assert_int_equal(sc_alg_keygen(SC_ALG_P384, &root_key), SC_OK);
	assert_int_equal(sc_alg_keygen(SC_ALG_ED25519, &signer_key), SC_OK);
	assert_int_equal(sc_alg_keygen(SC_ALG_P256, &mfr_key), SC_OK);
	assert_int_equal(sc_alg_keygen(SC_ALG_P256, &csk), SC_OK);
	assert_int_equal(sc_cert_net_root(root_key, NET, 3650, &root), SC_OK);
	assert_int_equal(sc_cert_profile_signer(signer_key, NET, 365, root, root_key, &signer),
	    SC_OK);
	assert_int_equal(sc_cert_mfr_root(mfr_key, "Acme", 3650, &mfr), SC_OK);
	assert_int_equal(sc_cert_mfr_ca(mfr_key, "Acme", 3650, mfr, mfr_key, &ca), SC_OK);
	assert_int_equal(sc_cert_device_ca(csk, DEV, 3650, ca, mfr_key, &dev_ca), SC_OK);

	base_params(&pp);
	memset(&pol, 0, sizeof(pol));
	anchor.network_id = NET;
	anchor.cert = root;
	pol.device_id = DEV;
	pol.anchors = &anchor;
	pol.n_anchors = 1;
	pol.now = fx.now;
	pol.csk_cert = dev_ca;
	pol.csk_alg = SC_ALG_P256;
	p = create_ok(&pp);
	assert_int_equal(sc_profile_sign(p, signer_key, signer, NULL, 0), SC_OK);
	if (check_decoded(p, &pol) != SC_OK)
		fail_msg("check: %s", sc_err_detail());
	/* The network root signs nothing directly: it is a CA. */
	assert_int_equal(sc_profile_sign(p, root_key, root, NULL, 0), SC_OK);
	assert_int_equal(check_decoded(p, &pol), SC_ERR_UNTRUSTED_SIGNER);
	sc_profile_free(p);
	/* A form 2 device CA: a dNSName outside the device's own is refused before issuance. */
	if (sc_cert_device_ca_form_of(dev_ca, DEV) == SC_DEVICE_CA_V2) {
		static const char *const outside[] = { "dns:printer.example.com", NULL };
		pp.san = outside;
		p = create_ok(&pp);
		assert_int_equal(sc_profile_sign(p, signer_key, signer, NULL, 0), SC_OK);
		assert_int_equal(check_decoded(p, &pol), SC_ERR_EXTENSION);
		assert_non_null(strstr(sc_err_detail(),
		    "tbsProfile.subjectAltName: profile "
		    "subjectAltName dNSName \"printer.example.com\""));
		/* Issue 17: the form handed in by the caller (the SP's) gives the same verdict
		 * and detail; the form is what decides (a form 1 CA would carry the name). */
		pol.csk_form_known = 1;
		pol.csk_form = SC_DEVICE_CA_V2;
		assert_int_equal(check_decoded(p, &pol), SC_ERR_EXTENSION);
		assert_non_null(strstr(sc_err_detail(),
		    "tbsProfile.subjectAltName: profile "
		    "subjectAltName dNSName \"printer.example.com\""));
		pol.csk_form = SC_DEVICE_CA_V1;
		assert_int_equal(check_decoded(p, &pol), SC_OK);
		pol.csk_form_known = 0;
		sc_profile_free(p);
		/* and a name inside the subtree passes either way */
		{
			static const char *const inside[] = { "dns:dev-0001." SC_DEVICE_DNS_SUFFIX,
				NULL };
			pp.san = inside;
			p = create_ok(&pp);
			assert_int_equal(sc_profile_sign(p, signer_key, signer, NULL, 0), SC_OK);
			assert_int_equal(check_decoded(p, &pol), SC_OK);
			pol.csk_form_known = 1;
			pol.csk_form = SC_DEVICE_CA_V2;
			assert_int_equal(check_decoded(p, &pol), SC_OK);
			pol.csk_form_known = 0;
			sc_profile_free(p);
		}
	} else {
		fail_msg("the device CA for %s is not of form 2", DEV);
	}

	EVP_PKEY_free(root_key);
	EVP_PKEY_free(signer_key);
	EVP_PKEY_free(mfr_key);
	EVP_PKEY_free(csk);
	X509_free(root);
	X509_free(signer);
	X509_free(mfr);
	X509_free(ca);
	X509_free(dev_ca);
}

/* ---- the server-supplied key ---- */

static void test_unwrap_round_trips(void **state)
{
	EVP_PKEY *keys[] = { fx.sup_rsa, fx.sup_p256, fx.sup_p384, fx.sup_ed };
	static const enum sc_alg algs[] = { SC_ALG_RSA2048, SC_ALG_P256, SC_ALG_P384,
		SC_ALG_ED25519 };
	struct {
		EVP_PKEY *key;
		X509 *cert;
		int ri_type;
	} keks[] = {
		{ fx.kek_rsa_key, fx.kek_rsa, CMS_RECIPINFO_TRANS },
		{ fx.kek_ec_key, fx.kek_ec, CMS_RECIPINFO_AGREE },
	};
	struct sc_profile_policy pol;

	(void)state;
	base_policy(&pol);
	for (size_t k = 0; k < 2; k++) {
		for (size_t i = 0; i < 4; i++) {
			struct sc_profile_params pp;
			struct sc_profile *p, *d;
			struct sc_profile_info info;
			EVP_PKEY *out = NULL;
			uint8_t *der = NULL;
			size_t len = 0;
			CMS_ContentInfo *cms;
			CMS_RecipientInfo *ri;

			base_params(&pp);
			pp.supplied_key = keys[i];
			pp.kek_cert = keks[k].cert;
			p = create_ok(&pp);
			/* What we send: AuthEnvelopedData, one recipient of the KEK's kind. */
			cms = p->sp->tbsProfile->key->value.supplied->encryptedKey;
			assert_int_equal(OBJ_obj2nid(CMS_get0_type(cms)),
			    NID_id_smime_ct_authEnvelopedData);
			assert_int_equal(sk_CMS_RecipientInfo_num(CMS_get0_RecipientInfos(cms)), 1);
			ri = sk_CMS_RecipientInfo_value(CMS_get0_RecipientInfos(cms), 0);
			assert_int_equal(CMS_RecipientInfo_type(ri), keks[k].ri_type);
			if (keks[k].ri_type == CMS_RECIPINFO_TRANS) {
				X509_ALGOR *alg = NULL;
				assert_true(CMS_RecipientInfo_ktri_get0_algs(ri, NULL, NULL, &alg));
				assert_int_equal(OBJ_obj2nid(alg->algorithm), NID_rsaesOaep);
			}
			sign_ok(p, S_P384, 0);
			encode_ok(p, &der, &len);
			d = decode_ok(der, len);
			sc_profile_get_info(d, &info);
			assert_int_equal(info.origin, SC_KEY_SERVER_SUPPLIED);
			assert_int_equal(info.alg, algs[i]);
			assert_non_null(info.supplied_pub);
			assert_int_equal(EVP_PKEY_eq(info.supplied_pub, keys[i]), 1);
			assert_int_equal(sc_profile_check(d, &pol), SC_OK);
			assert_int_equal(sc_profile_unwrap_key(d, keks[k].key, keks[k].cert, &out),
			    SC_OK);
			assert_non_null(out);
			assert_int_equal(EVP_PKEY_eq(out, keys[i]), 1);
			assert_int_equal(sc_alg_of_key(out), algs[i]);
			EVP_PKEY_free(out);
			/* The unsigned original unwraps too (no decoding needed). */
			assert_int_equal(sc_profile_unwrap_key(p, keks[k].key, keks[k].cert, &out),
			    SC_OK);
			EVP_PKEY_free(out);
			OPENSSL_free(der);
			sc_profile_free(d);
			sc_profile_free(p);
		}
	}
}

static void test_unwrap_negatives(void **state)
{
	struct sc_profile_params pp;
	struct sc_profile *p;
	EVP_PKEY *out = (EVP_PKEY *)0x1;

	(void)state;
	base_params(&pp);
	pp.supplied_key = fx.sup_p256;
	pp.kek_cert = fx.kek_rsa;

	/* Wrong KEK: another device's key and certificate; right certificate, wrong key. */
	p = create_ok(&pp);
	assert_int_equal(unwrap_decoded(p, fx.kek_rsa2_key, fx.kek_rsa2, &out), SC_ERR_KEY_DECRYPT);
	assert_null(out);
	assert_int_equal(unwrap_decoded(p, fx.kek_rsa2_key, fx.kek_rsa, &out), SC_ERR_KEY_DECRYPT);
	assert_int_equal(unwrap_decoded(p, fx.kek_ec_key, fx.kek_ec, &out), SC_ERR_KEY_DECRYPT);
	sc_profile_free(p);

	/* EC KEK: the wrong EC key with the right certificate. */
	pp.kek_cert = fx.kek_ec;
	p = create_ok(&pp);
	{
		EVP_PKEY *other = gen("EC", "P-256", 0);
		assert_int_equal(unwrap_decoded(p, other, fx.kek_ec, &out), SC_ERR_KEY_DECRYPT);
		EVP_PKEY_free(other);
	}
	assert_int_equal(unwrap_decoded(p, fx.kek_rsa_key, fx.kek_rsa, &out), SC_ERR_KEY_DECRYPT);
	sc_profile_free(p);
	pp.kek_cert = fx.kek_rsa;

	/* The public key does not match the encrypted key. */
	p = create_ok(&pp);
	assert_true(
	    X509_PUBKEY_set(&p->sp->tbsProfile->key->value.supplied->publicKey, fx.sup_p384));
	assert_int_equal(unwrap_decoded(p, fx.kek_rsa_key, fx.kek_rsa, &out), SC_ERR_KEY_MISMATCH);
	assert_null(out);
	sc_profile_free(p);

	/* PKCS#1 v1.5 key transport is refused even though it would decrypt. */
	p = create_ok(&pp);
	set_envelope(p, envelope(fx.sup_p256, fx.kek_rsa, EVP_aes_256_gcm(), 0));
	assert_int_equal(unwrap_decoded(p, fx.kek_rsa_key, fx.kek_rsa, &out), SC_ERR_KEY_DECRYPT);
	assert_non_null(strstr(sc_err_detail(), "OAEP"));
	sc_profile_free(p);

	/* EnvelopedData with AES-256-CBC and OAEP is accepted; AES-128 of either kind is not. */
	p = create_ok(&pp);
	set_envelope(p, envelope(fx.sup_p256, fx.kek_rsa, EVP_aes_256_cbc(), 1));
	assert_int_equal(unwrap_decoded(p, fx.kek_rsa_key, fx.kek_rsa, &out), SC_OK);
	assert_int_equal(EVP_PKEY_eq(out, fx.sup_p256), 1);
	EVP_PKEY_free(out);
	out = NULL;
	set_envelope(p, envelope(fx.sup_p256, fx.kek_rsa, EVP_aes_128_cbc(), 1));
	assert_int_equal(unwrap_decoded(p, fx.kek_rsa_key, fx.kek_rsa, &out), SC_ERR_KEY_DECRYPT);
	assert_non_null(strstr(sc_err_detail(), "not allowed"));
	set_envelope(p, envelope(fx.sup_p256, fx.kek_rsa, EVP_aes_128_gcm(), 1));
	assert_int_equal(unwrap_decoded(p, fx.kek_rsa_key, fx.kek_rsa, &out), SC_ERR_KEY_DECRYPT);
	sc_profile_free(p);

	/* A tampered ciphertext fails the GCM tag. */
	p = create_ok(&pp);
	{
		ASN1_OCTET_STRING **c = CMS_get0_content(
		    p->sp->tbsProfile->key->value.supplied->encryptedKey);
		assert_non_null(c);
		assert_non_null(*c);
		(*c)->data[(*c)->length / 2] ^= 0x40;
	}
	assert_int_equal(unwrap_decoded(p, fx.kek_rsa_key, fx.kek_rsa, &out), SC_ERR_KEY_DECRYPT);
	sc_profile_free(p);

	/* A supplied key outside the six decrypts and matches, but is refused. */
	pp.supplied_key = fx.sup_rsa1024;
	p = create_ok(&pp);
	assert_int_equal(unwrap_decoded(p, fx.kek_rsa_key, fx.kek_rsa, &out), SC_ERR_ALGORITHM);
	assert_null(out);
	sc_profile_free(p);

	/* A device-generated profile has nothing to unwrap. */
	base_params(&pp);
	p = create_ok(&pp);
	assert_int_equal(sc_profile_unwrap_key(p, fx.kek_rsa_key, fx.kek_rsa, &out), SC_ERR_USAGE);
	assert_null(out);
	sc_profile_free(p);
}

/* ---- the verified-signer cache ---- */

/* Decode der through cache c and check it as the SP does; the decoded profile is freed. */
static sc_err cached_check(struct sc_signer_cache *c, const uint8_t *der, size_t len,
    struct sc_profile_policy *pol)
{
	struct sc_profile *d = NULL;
	sc_err r;

	if ((r = sc_profile_decode_cached(der, len, c, &d)) != SC_OK)
		return r;
	pol->signer_cache = c;
	r = sc_profile_check(d, pol);
	sc_profile_free(d);
	return r;
}

/* DER of a fresh base profile (new profile ID) signed by signer_cert with intermediates. */
static void der_signed_by(EVP_PKEY *key, X509 *signer_cert, X509 *inter, uint8_t **der, size_t *len)
{
	struct sc_profile_params pp;
	struct sc_profile *p;
	STACK_OF(X509) *chain = NULL;

	base_params(&pp);
	p = create_ok(&pp);
	if (inter != NULL) {
		chain = sk_X509_new_null();
		assert_true(sk_X509_push(chain, inter) > 0);
	}
	assert_int_equal(sc_profile_sign(p, key, signer_cert, chain, 0), SC_OK);
	sk_X509_free(chain);
	encode_ok(p, der, len);
	sc_profile_free(p);
}

static void want_stats(struct sc_signer_cache *c, size_t entries, unsigned long dh,
    unsigned long dm, unsigned long vh, unsigned long vm)
{
	struct sc_signer_cache_stats st;

	sc_signer_cache_stats(c, &st);
	if (st.entries != entries || st.decode_hits != dh || st.decode_misses != dm ||
	    st.verify_hits != vh || st.verify_misses != vm)
		fail_msg(
		    "cache stats: entries %zu decode %lu/%lu verify %lu/%lu, want %zu %lu/%lu %lu/%lu",
		    st.entries, st.decode_hits, st.decode_misses, st.verify_hits, st.verify_misses,
		    entries, dh, dm, vh, vm);
}

/*
 * A cache must never make the SP accept what it would refuse: the same errors as without one
 * outside the window, under another anchor, for another signer byte and for a bad signature.
 */
static void test_signer_cache(void **state)
{
	struct sc_signer_cache *c = NULL;
	struct sc_profile_policy pol;
	struct sc_profile *a = NULL, *b = NULL;
	struct sc_profile_info ia, ib;
	uint8_t *der = NULL, *der2 = NULL, *bad = NULL;
	size_t len = 0, len2 = 0;
	int fast_was = sc_fast_enabled();
	(void)state;

	/* The hit and miss counts below are those of the shortcut: take it whatever the build says. */
	sc_fast_set(1);
	assert_int_equal(sc_signer_cache_new(0, &c), SC_ERR_USAGE);
	assert_int_equal(sc_signer_cache_new(SC_SIGNER_CACHE_MAX + 1, &c), SC_ERR_USAGE);
	assert_int_equal(sc_signer_cache_new(2, &c), SC_OK);
	base_policy(&pol);

	/* First sight: parsed and verified in full; then both reused. */
	der_signed_by(fx.signer_key[S_P256], fx.signer[S_P256], NULL, &der, &len);
	assert_int_equal(cached_check(c, der, len, &pol), SC_OK);
	want_stats(c, 1, 0, 1, 0, 1);
	der_signed_by(fx.signer_key[S_P256], fx.signer[S_P256], NULL, &der2, &len2);
	assert_int_equal(cached_check(c, der2, len2, &pol), SC_OK);
	want_stats(c, 1, 1, 1, 1, 1);

	/* A profile decoded through the cache is the same as one decoded without it. */
	assert_int_equal(sc_profile_decode_cached(der2, len2, c, &a), SC_OK);
	assert_int_equal(sc_profile_decode(der2, len2, &b), SC_OK);
	sc_profile_get_info(a, &ia);
	sc_profile_get_info(b, &ib);
	assert_memory_equal(ia.digest, ib.digest, SC_PROFILE_DIGEST_LEN);
	assert_memory_equal(ia.id, ib.id, SC_PROFILE_ID_LEN);
	assert_int_equal(X509_cmp(ia.signer, ib.signer), 0);
	assert_int_equal(sk_X509_num(ia.certs), sk_X509_num(ib.certs));
	sc_profile_free(a);
	sc_profile_free(b);
	want_stats(c, 1, 2, 1, 1, 1);

	/* Outside the window (signer expired; before its notBefore): refused as without a cache. */
	pol.now = fx.now + 400 * DAY;
	assert_int_equal(cached_check(c, der2, len2, &pol), SC_ERR_UNTRUSTED_SIGNER);
	assert_non_null(strstr(sc_err_detail(), "expired"));
	pol.now = fx.now - 2 * 3600;
	assert_int_equal(cached_check(c, der2, len2, &pol), SC_ERR_UNTRUSTED_SIGNER);
	assert_non_null(strstr(sc_err_detail(), "not yet valid"));
	want_stats(c, 1, 4, 1, 1, 1);
	base_policy(&pol);

	/* Another anchor for the network misses, and is refused. */
	anchors[1].cert = fx.root2;
	assert_int_equal(cached_check(c, der2, len2, &pol), SC_ERR_UNTRUSTED_SIGNER);
	want_stats(c, 1, 5, 1, 1, 1);
	base_policy(&pol);
	assert_int_equal(cached_check(c, der2, len2, &pol), SC_OK);
	want_stats(c, 1, 6, 1, 2, 1);

	/* One byte of the signer certificate changed (inside its signature, the DER's last byte). */
	bad = OPENSSL_memdup(der2, len2);
	bad[len2 - 1] ^= 0x01;
	assert_int_equal(cached_check(c, bad, len2, &pol), SC_ERR_UNTRUSTED_SIGNER);
	want_stats(c, 2, 6, 2, 2, 1);
	OPENSSL_free(bad);

	/* A profile signature wrong under a cached signer. */
	{
		struct sc_profile_params pp;
		struct sc_profile *p;
		uint8_t *d3 = NULL;
		size_t l3 = 0;

		base_params(&pp);
		p = create_ok(&pp);
		sign_ok(p, S_P256, 0);
		p->sp->signature->data[p->sp->signature->length / 2] ^= 0x01;
		encode_ok(p, &d3, &l3);
		assert_int_equal(cached_check(c, d3, l3, &pol), SC_ERR_PROFILE_SIGNATURE);
		want_stats(c, 2, 7, 2, 3, 1);
		OPENSSL_free(d3);
		sc_profile_free(p);
	}

	/* Trailing and truncated input are refused exactly as sc_profile_decode refuses them. */
	bad = OPENSSL_malloc(len2 + 1);
	memcpy(bad, der2, len2);
	bad[len2] = 0;
	assert_int_equal(cached_check(c, bad, len2 + 1, &pol), SC_ERR_TRAILING);
	assert_int_equal(cached_check(c, bad, len2 - 1, &pol), SC_ERR_MALFORMED);
	OPENSSL_free(bad);

	/*
	 * Bounded: two more signer chains evict the two least recently used (the bad-byte one,
	 * then the first), so the first is parsed and verified in full again.
	 */
	{
		uint8_t *d4 = NULL, *d5 = NULL;
		size_t l4 = 0, l5 = 0;

		der_signed_by(fx.signer_key[S_P256], fx.signer_via_inter, fx.inter, &d4, &l4);
		assert_int_equal(cached_check(c, d4, l4, &pol), SC_OK);
		der_signed_by(fx.signer_key[S_ED25519], fx.signer[S_ED25519], NULL, &d5, &l5);
		assert_int_equal(cached_check(c, d5, l5, &pol), SC_OK);
		want_stats(c, 2, 7, 4, 3, 3);
		assert_int_equal(cached_check(c, der2, len2, &pol), SC_OK);
		want_stats(c, 2, 7, 5, 3, 4);
		OPENSSL_free(d4);
		OPENSSL_free(d5);
	}

	/* Flushed: everything is parsed and verified again. */
	sc_signer_cache_flush(c);
	want_stats(c, 0, 7, 5, 3, 4);
	assert_int_equal(cached_check(c, der, len, &pol), SC_OK);
	want_stats(c, 1, 7, 6, 3, 5);

	/* No cache at all: the plain path. */
	assert_int_equal(cached_check(NULL, der, len, &pol), SC_OK);
	OPENSSL_free(der);
	OPENSSL_free(der2);
	sc_signer_cache_free(c);
	sc_fast_set(fast_was);
}

/* One refusal (or acceptance) to compare between the shortcut and the plain path. */
struct cache_case {
	const char *what;
	uint8_t *der;
	size_t len;
	time_t now;            /* policy time */
	X509 *anchor;          /* the anchor installed for NET */
	const char *device_id; /* the SP's device ID */
	sc_err want;
};

/* Check der as the SP does, through c (NULL: none); the code, and the detail into detail. */
static sc_err case_run(struct sc_signer_cache *c, const struct cache_case *k, char *detail,
    size_t detail_len)
{
	struct sc_profile_policy pol;
	sc_err r;

	base_policy(&pol);
	pol.now = k->now;
	anchors[1].cert = k->anchor;
	pol.device_id = k->device_id;
	sc_err_clear();
	r = cached_check(c, k->der, k->len, &pol);
	snprintf(detail, detail_len, "%s", sc_err_detail());
	base_policy(&pol);
	return r;
}

/* A base profile signed by the P-256 signer whose signature is then broken. */
static void der_bad_signature(uint8_t **der, size_t *len)
{
	struct sc_profile_params pp;
	struct sc_profile *p;

	base_params(&pp);
	p = create_ok(&pp);
	sign_ok(p, S_P256, 0);
	p->sp->signature->data[p->sp->signature->length / 2] ^= 0x01;
	encode_ok(p, der, len);
	sc_profile_free(p);
}

/*
 * The shortcut against its plain path (fast.h): the same profiles, checked with no cache, then
 * through one cache with the shortcuts on (twice each, so that the second pass is served by the
 * cache) and with them off, give the same code and the same detail. With the shortcuts off the
 * cache is not consulted at all: its statistics do not move.
 */
static void test_signer_cache_shortcut_off(void **state)
{
	struct cache_case k[16];
	struct sc_signer_cache *c = NULL;
	struct sc_signer_cache_stats before, after;
	uint8_t *good = NULL;
	size_t n = 0, good_len = 0;
	int fast_was = sc_fast_enabled();
	(void)state;

	der_signed_by(fx.signer_key[S_P256], fx.signer[S_P256], NULL, &good, &good_len);
#define CASE(w, d, l, t, a, dev, e)                \
	k[n++] = (struct cache_case){ .what = (w), \
		.der = (d),                        \
		.len = (l),                        \
		.now = (t),                        \
		.anchor = (a),                     \
		.device_id = (dev),                \
		.want = (e) }
	CASE("accepted", good, good_len, fx.now, fx.root, DEV, SC_OK);
	CASE("signer expired", good, good_len, fx.now + 400 * DAY, fx.root, DEV,
	    SC_ERR_UNTRUSTED_SIGNER);
	CASE("signer not yet valid", good, good_len, fx.now - 2 * 3600, fx.root, DEV,
	    SC_ERR_UNTRUSTED_SIGNER);
	CASE("another anchor", good, good_len, fx.now, fx.root2, DEV, SC_ERR_UNTRUSTED_SIGNER);
	CASE("another device", good, good_len, fx.now, fx.root, "DEV-0002", SC_ERR_DEVICE_MISMATCH);
	CASE("trailing byte", NULL, good_len + 1, fx.now, fx.root, DEV, SC_ERR_TRAILING);
	CASE("truncated", good, good_len - 1, fx.now, fx.root, DEV, SC_ERR_MALFORMED);
	CASE("signer byte changed", NULL, good_len, fx.now, fx.root, DEV, SC_ERR_UNTRUSTED_SIGNER);
	CASE("bad signature", NULL, 0, fx.now, fx.root, DEV, SC_ERR_PROFILE_SIGNATURE);
	CASE("signer without the EKU", NULL, 0, fx.now, fx.root, DEV, SC_ERR_SIGNER_EKU);
	CASE("signer under another root", NULL, 0, fx.now, fx.root, DEV, SC_ERR_UNTRUSTED_SIGNER);
	CASE("via an intermediate", NULL, 0, fx.now, fx.root, DEV, SC_OK);
	CASE("Ed25519 signer", NULL, 0, fx.now, fx.root, DEV, SC_OK);
#undef CASE
	k[5].der = OPENSSL_malloc(good_len + 1);
	assert_non_null(k[5].der);
	memcpy(k[5].der, good, good_len);
	k[5].der[good_len] = 0;
	k[7].der = OPENSSL_memdup(good, good_len);
	assert_non_null(k[7].der);
	k[7].der[good_len - 1] ^= 0x01;
	der_bad_signature(&k[8].der, &k[8].len);
	der_signed_by(fx.signer_key[S_P256], fx.signer_noeku, NULL, &k[9].der, &k[9].len);
	der_signed_by(fx.signer_key[S_P256], fx.signer_root2, NULL, &k[10].der, &k[10].len);
	der_signed_by(fx.signer_key[S_P256], fx.signer_via_inter, fx.inter, &k[11].der, &k[11].len);
	der_signed_by(fx.signer_key[S_ED25519], fx.signer[S_ED25519], NULL, &k[12].der, &k[12].len);

	assert_int_equal(sc_signer_cache_new(SC_SIGNER_CACHE_MAX, &c), SC_OK);
	for (size_t i = 0; i < n; i++) {
		char plain[256], fast[256], off[256];
		sc_err rp, rf, ro;

		sc_fast_set(1);
		rp = case_run(NULL, &k[i], plain, sizeof(plain));
		if (rp != k[i].want)
			fail_msg("%s: want %s, got %s (%s)", k[i].what, sc_err_name(k[i].want),
			    sc_err_name(rp), plain);
		for (int pass = 0; pass < 2; pass++) {
			sc_fast_set(1);
			rf = case_run(c, &k[i], fast, sizeof(fast));
			sc_fast_set(0);
			sc_signer_cache_stats(c, &before);
			ro = case_run(c, &k[i], off, sizeof(off));
			sc_signer_cache_stats(c, &after);
			assert_memory_equal(&before, &after, sizeof(before));
			if (rf != rp || strcmp(fast, plain) != 0)
				fail_msg("%s, pass %d: shortcut %s (%s), plain %s (%s)", k[i].what,
				    pass, sc_err_name(rf), fast, sc_err_name(rp), plain);
			if (ro != rp || strcmp(off, plain) != 0)
				fail_msg("%s, pass %d: shortcut off %s (%s), plain %s (%s)",
				    k[i].what, pass, sc_err_name(ro), off, sc_err_name(rp), plain);
		}
	}
	/* The shortcut was taken: decodes and chain checks served from the cache. */
	sc_signer_cache_stats(c, &after);
	assert_true(after.decode_hits > 0);
	assert_true(after.verify_hits > 0);

	sc_fast_set(fast_was);
	sc_signer_cache_free(c);
	for (size_t i = 0; i < n; i++)
		if (k[i].der != good)
			OPENSSL_free(k[i].der);
	OPENSSL_free(good);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_usage),
		cmocka_unit_test(test_info_unsigned_and_ids),
		cmocka_unit_test(test_roundtrip_all_combinations),
		cmocka_unit_test(test_roundtrip_times),
		cmocka_unit_test(test_sign_verify_all_algorithms),
		cmocka_unit_test(test_profile_signer),
		cmocka_unit_test(test_profile_signer_prove),
		cmocka_unit_test(test_profile_signer_threads),
		cmocka_unit_test(test_sign_with_intermediate),
		cmocka_unit_test(test_decode_truncation_every_length),
		cmocka_unit_test(test_decode_trailing_oversize_ber),
		cmocka_unit_test(test_decode_wrong_tags),
		cmocka_unit_test(test_decode_content_type_version),
		cmocka_unit_test(test_decode_sizes),
		cmocka_unit_test(test_decode_extensions),
		cmocka_unit_test(test_decode_key_usage_not_der),
		cmocka_unit_test(test_check_each_code),
		cmocka_unit_test(test_check_weak_signature_algorithm),
		cmocka_unit_test(test_check_with_cert_builders),
		cmocka_unit_test(test_unwrap_round_trips),
		cmocka_unit_test(test_unwrap_negatives),
		cmocka_unit_test(test_signer_cache),
		cmocka_unit_test(test_signer_cache_shortcut_off),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
