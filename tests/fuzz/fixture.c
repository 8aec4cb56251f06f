// SPDX-License-Identifier: Apache-2.0
/*
 * fixture.c — the fuzz targets' fixed world (fuzz.h): deterministic keys from constant labels,
 * the test hierarchy made by the library's own certificate builders and then pinned (fixed
 * serial and validity, re-signed) so that it is the same in every process, the sealed-store
 * format for fuzzer-made plaintexts, and temporary folders.
 */
#include <ftw.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>
#include <selfcert/cert.h>
#include "fuzz.h"

#define FZ_LABEL_PREFIX "selfcert-fuzz:"
#define FZ_MAX_TMPDIRS 8
#define FZ_DAYS 7300 /* replaced by the pinned validity anyway */

static __attribute__((noreturn)) void die(const char *what)
{
	fprintf(stderr, "fuzz fixture: %s: %s\n", what, sc_err_detail());
	ERR_print_errors_fp(stderr);
	abort();
}

static void seed_of(const char *label, uint8_t out[32])
{
	EVP_MD_CTX *m = EVP_MD_CTX_new();

	if (m == NULL || EVP_DigestInit_ex(m, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(m, FZ_LABEL_PREFIX, strlen(FZ_LABEL_PREFIX)) != 1 ||
	    EVP_DigestUpdate(m, label, strlen(label)) != 1 || EVP_DigestFinal_ex(m, out, NULL) != 1)
		die("SHA-256");
	EVP_MD_CTX_free(m);
}

/* An EC key pair whose private scalar is seed mod the group order. */
static EVP_PKEY *ec_key(const char *group, int nid, const uint8_t seed[32])
{
	EC_GROUP *g = EC_GROUP_new_by_curve_name(nid);
	BN_CTX *bctx = BN_CTX_new();
	BIGNUM *d = BN_bin2bn(seed, 32, NULL);
	EC_POINT *pt = NULL;
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *pc = NULL;
	EVP_PKEY *key = NULL;
	uint8_t pub[1 + 2 * 66];
	size_t pub_len;

	if (g == NULL || bctx == NULL || d == NULL || bld == NULL ||
	    !BN_nnmod(d, d, EC_GROUP_get0_order(g), bctx))
		die("EC setup");
	if (BN_is_zero(d) && !BN_one(d))
		die("EC scalar");
	if ((pt = EC_POINT_new(g)) == NULL || !EC_POINT_mul(g, pt, d, NULL, NULL, bctx) ||
	    (pub_len = EC_POINT_point2oct(g, pt, POINT_CONVERSION_UNCOMPRESSED, pub, sizeof(pub),
	         bctx)) == 0)
		die("EC public point");
	if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, pub_len) ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (pc = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(pc) != 1 ||
	    EVP_PKEY_fromdata(pc, &key, EVP_PKEY_KEYPAIR, params) != 1)
		die("EC key from data");
	EVP_PKEY_CTX_free(pc);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	EC_POINT_free(pt);
	BN_clear_free(d);
	BN_CTX_free(bctx);
	EC_GROUP_free(g);
	return key;
}

EVP_PKEY *fz_key(const char *label, enum sc_alg alg)
{
	uint8_t seed[32];
	EVP_PKEY *key = NULL;

	seed_of(label, seed);
	switch (alg) {
	case SC_ALG_P256: key = ec_key("P-256", NID_X9_62_prime256v1, seed); break;
	case SC_ALG_P384: key = ec_key("P-384", NID_secp384r1, seed); break;
	case SC_ALG_ED25519:
		key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, sizeof(seed));
		break;
	default: break;
	}
	OPENSSL_cleanse(seed, sizeof(seed));
	if (key == NULL || sc_alg_of_key(key) != alg)
		die(label);
	return key;
}

/* Fixed serial and validity, re-signed by the issuer: the same certificate in every process. */
static void pin(X509 *x, uint64_t serial, EVP_PKEY *issuer_key)
{
	ASN1_INTEGER *sn = ASN1_INTEGER_new();

	if (sn == NULL || !ASN1_INTEGER_set_uint64(sn, serial) || !X509_set_serialNumber(x, sn) ||
	    ASN1_TIME_set(X509_getm_notBefore(x), FZ_CERT_NOT_BEFORE) == NULL ||
	    ASN1_TIME_set(X509_getm_notAfter(x), FZ_CERT_NOT_AFTER) == NULL ||
	    X509_sign(x, issuer_key, sc_sign_md(issuer_key, SC_DIGEST_NONE)) <= 0)
		die("pinning a certificate");
	ASN1_INTEGER_free(sn);
}

static void build(struct fz_fixture *f)
{
	f->mfr_root_key = fz_key("mfr-root", SC_ALG_ED25519);
	f->mfr_ca_key = fz_key("mfr-ca", SC_ALG_P256);
	f->csk = fz_key("csk", SC_ALG_P256);
	f->kek = fz_key("kek", SC_ALG_P256);
	f->net_root_key = fz_key("net-root", SC_ALG_ED25519);
	f->signer_key = fz_key("signer", SC_ALG_P256);
	f->supplied = fz_key("supplied", SC_ALG_P256);
	f->leaf_p256 = fz_key("leaf-p256", SC_ALG_P256);
	f->leaf_p384 = fz_key("leaf-p384", SC_ALG_P384);
	f->leaf_ed25519 = fz_key("leaf-ed25519", SC_ALG_ED25519);

	if (sc_cert_mfr_root(f->mfr_root_key, FZ_MFR_NAME, FZ_DAYS, &f->mfr_root) != SC_OK)
		die("manufacturer root");
	pin(f->mfr_root, 1, f->mfr_root_key);
	if (sc_cert_mfr_ca(f->mfr_ca_key, FZ_MFR_NAME, FZ_DAYS, f->mfr_root, f->mfr_root_key,
	        &f->mfr_ca) != SC_OK)
		die("manufacturer CA");
	pin(f->mfr_ca, 2, f->mfr_root_key);
	/*
	 * Form 1 (directoryName), as when the corpus was made: its profiles name
	 * dev.fuzz.example, which a form 2 device CA (fuzz-0001.selfcert.invalid) would refuse
	 * before issuance, and the issuing paths would go unfuzzed.
	 */
	if (sc_cert_device_ca_form(f->csk, FZ_DEVICE_ID, FZ_DAYS, f->mfr_ca, f->mfr_ca_key,
	        SC_DEVICE_CA_V1, &f->csk_cert) != SC_OK)
		die("device CA");
	pin(f->csk_cert, 3, f->mfr_ca_key);
	if (sc_cert_device_kex(f->kek, FZ_DEVICE_ID, FZ_DAYS, f->mfr_ca, f->mfr_ca_key,
	        &f->kek_cert) != SC_OK)
		die("device key-exchange certificate");
	pin(f->kek_cert, 4, f->mfr_ca_key);
	if (sc_cert_net_root(f->net_root_key, FZ_NETWORK_ID, FZ_DAYS, &f->net_root) != SC_OK)
		die("network root");
	pin(f->net_root, 5, f->net_root_key);
	if (sc_cert_profile_signer(f->signer_key, FZ_NETWORK_ID, FZ_DAYS, f->net_root,
	        f->net_root_key, &f->signer) != SC_OK)
		die("profile signer");
	pin(f->signer, 6, f->net_root_key);
	if ((f->chain = sk_X509_new_null()) == NULL || !sk_X509_push(f->chain, f->csk_cert) ||
	    !sk_X509_push(f->chain, f->mfr_ca))
		die("chain");
}

/* Built once and kept for the life of the process (libFuzzer runs one target per process). */
static struct fz_fixture fixture;
static int fixture_built;

const struct fz_fixture *fz_fixture(void)
{
	if (!fixture_built) {
		build(&fixture);
		fixture_built = 1;
	}
	return &fixture;
}

void fz_store_root_key(uint8_t out[32])
{
	seed_of("store-root", out);
}

int fz_seal(const uint8_t root[32], uint64_t counter, const uint8_t *pt, size_t pt_len,
    uint8_t **out, size_t *out_len)
{
	static const uint8_t nonce[12] = { 'f', 'u', 'z', 'z', '-', 'n', 'o', 'n', 'c', 'e', 0, 1 };
	char digest[] = "SHA256", salt[] = "selfcert-store-v1",
	     info[] = "selfcert sealed store AES-256-GCM key";
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *kctx = kdf != NULL ? EVP_KDF_CTX_new(kdf) : NULL;
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	OSSL_PARAM params[5];
	uint8_t key[32], *blob;
	size_t hdr = 4 + 1 + 8 + sizeof(nonce), total = hdr + pt_len + 16;
	int n, fin, i, ok;

	*out = NULL;
	*out_len = 0;
	if ((blob = malloc(total)) == NULL || kctx == NULL || c == NULL ||
	    pt_len > (size_t)INT32_MAX)
		die("seal setup");
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)root, 32);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, salt, strlen(salt));
	params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, strlen(info));
	params[4] = OSSL_PARAM_construct_end();
	memcpy(blob, "SCST", 4);
	blob[4] = 1;
	for (i = 0; i < 8; i++)
		blob[5 + i] = (uint8_t)(counter >> (56 - 8 * i));
	memcpy(blob + 13, nonce, sizeof(nonce));
	ok = EVP_KDF_derive(kctx, key, sizeof(key), params) == 1 &&
	    EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, sizeof(nonce), NULL) == 1 &&
	    EVP_EncryptInit_ex(c, NULL, NULL, key, nonce) == 1 &&
	    EVP_EncryptUpdate(c, NULL, &n, blob, (int)hdr) == 1 &&
	    EVP_EncryptUpdate(c, blob + hdr, &n, pt, (int)pt_len) == 1 &&
	    EVP_EncryptFinal_ex(c, blob + hdr + n, &fin) == 1 &&
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, blob + hdr + pt_len) == 1;
	OPENSSL_cleanse(key, sizeof(key));
	EVP_CIPHER_CTX_free(c);
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	if (!ok) {
		free(blob);
		return -1;
	}
	*out = blob;
	*out_len = total;
	return 0;
}

static char tmpdirs[FZ_MAX_TMPDIRS][256];
static int n_tmpdirs;

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void rm_tmpdirs(void)
{
	int i;

	for (i = 0; i < n_tmpdirs; i++)
		nftw(tmpdirs[i], rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

const char *fz_tmpdir(const char *tag)
{
	const char *base = getenv("TMPDIR");
	char *d;

	if (n_tmpdirs == FZ_MAX_TMPDIRS)
		die("too many temporary folders");
	if (access("/dev/shm", W_OK) == 0)
		base = "/dev/shm";
	else if (base == NULL || *base == '\0')
		base = "/tmp";
	d = tmpdirs[n_tmpdirs];
	snprintf(d, sizeof(tmpdirs[0]), "%s/selfcert-fuzz-%s-XXXXXX", base, tag);
	if (mkdtemp(d) == NULL)
		die("mkdtemp");
	if (n_tmpdirs++ == 0)
		atexit(rm_tmpdirs);
	return d;
}

int fz_write_file(const char *path, const void *data, size_t len, int mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	const uint8_t *p = data;

	if (fd < 0)
		return -1;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n <= 0) {
			close(fd);
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return close(fd);
}

CMS_ContentInfo *fz_wrap(const uint8_t *plain, size_t plain_len, const EVP_CIPHER *cipher,
    int n_recipients)
{
	const struct fz_fixture *f = fz_fixture();
	BIO *in = BIO_new_mem_buf(plain, (int)plain_len);
	CMS_ContentInfo *cms;
	int i;

	if (in == NULL || (cms = CMS_encrypt(NULL, in, cipher, CMS_PARTIAL | CMS_BINARY)) == NULL)
		die("CMS_encrypt");
	for (i = 0; i < n_recipients; i++) {
		CMS_RecipientInfo *ri = CMS_add1_recipient_cert(cms, f->kek_cert, 0);
		EVP_PKEY_CTX *pctx = ri != NULL ? CMS_RecipientInfo_get0_pkey_ctx(ri) : NULL;

		if (pctx == NULL || EVP_PKEY_CTX_set_ecdh_kdf_md(pctx, EVP_sha256()) <= 0)
			die("CMS recipient");
	}
	if (!CMS_final(cms, in, NULL, CMS_BINARY))
		die("CMS_final");
	BIO_free(in);
	return cms;
}

void fz_trace(const char *fmt, ...)
{
	static int on = -1;
	va_list ap;

	if (on < 0)
		on = getenv("FUZZ_TRACE") != NULL && strcmp(getenv("FUZZ_TRACE"), "1") == 0;
	if (!on)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void fz_input_begin(const uint8_t *data, size_t size)
{
	static const char *path;
	static int looked;

	if (!looked) {
		path = getenv("FUZZ_LAST_INPUT");
		looked = 1;
	}
	if (path != NULL && *path != '\0' && fz_write_file(path, data, size, 0644) != 0)
		die(path);
}

static unsigned long successes;

void fz_success(void)
{
	successes++;
}

unsigned long fz_successes(void)
{
	return successes;
}

/* The PKCS#8 DER of fixture key n (1..FZ_N_KEYS), as the store writes it. Caller frees. */
static int marked_key_der(int n, uint8_t **der, size_t *len)
{
	const struct fz_fixture *f = fz_fixture();
	EVP_PKEY *keys[FZ_N_KEYS] = { f->csk, f->kek, f->leaf_p256, f->leaf_ed25519 };
	PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(keys[n - 1]);
	unsigned char *p = NULL;
	int l = p8 != NULL ? i2d_PKCS8_PRIV_KEY_INFO(p8, &p) : -1;

	PKCS8_PRIV_KEY_INFO_free(p8);
	if (l <= 0)
		return -1;
	*der = p;
	*len = (size_t)l;
	return 0;
}

static void put_u32(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Replace every "u32 len | from" by "u32 len' | to" in in; *out is the caller's. */
static int replace_all(const uint8_t *in, size_t len, const uint8_t *from, size_t from_len,
    const uint8_t *to, size_t to_len, uint8_t **out, size_t *out_len, int *count)
{
	size_t cap = len + 16, n = 0, i = 0;
	uint8_t *buf = malloc(cap), *nb;

	if (buf == NULL)
		return -1;
	while (i < len) {
		if (len - i >= 4 + from_len && in[i] == (uint8_t)(from_len >> 24) &&
		    in[i + 1] == (uint8_t)(from_len >> 16) &&
		    in[i + 2] == (uint8_t)(from_len >> 8) && in[i + 3] == (uint8_t)from_len &&
		    memcmp(in + i + 4, from, from_len) == 0) {
			if (n + 4 + to_len > cap) {
				cap = 2 * (n + 4 + to_len);
				if ((nb = realloc(buf, cap)) == NULL) {
					free(buf);
					return -1;
				}
				buf = nb;
			}
			put_u32(buf + n, to_len);
			memcpy(buf + n + 4, to, to_len);
			n += 4 + to_len;
			i += 4 + from_len;
			(*count)++;
			continue;
		}
		if (n + 1 > cap) {
			cap *= 2;
			if ((nb = realloc(buf, cap)) == NULL) {
				free(buf);
				return -1;
			}
			buf = nb;
		}
		buf[n++] = in[i++];
	}
	*out = buf;
	*out_len = n;
	return 0;
}

/* One pass per key; keys_to_markers picks the direction. */
static int swap_keys(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len,
    int keys_to_markers, int *count)
{
	uint8_t *cur = NULL, *next, *der = NULL;
	size_t cur_len = len, next_len, der_len;
	char marker[sizeof(FZ_KEY_MARKER) + 1];
	int n, rc;

	*count = 0;
	if ((cur = malloc(len > 0 ? len : 1)) == NULL)
		return -1;
	memcpy(cur, in, len);
	for (n = 1; n <= FZ_N_KEYS; n++) {
		snprintf(marker, sizeof(marker), "%s%d", FZ_KEY_MARKER, n);
		if (marked_key_der(n, &der, &der_len) != 0) {
			free(cur);
			return -1;
		}
		if (keys_to_markers)
			rc = replace_all(cur, cur_len, der, der_len, (const uint8_t *)marker,
			    strlen(marker), &next, &next_len, count);
		else
			rc = replace_all(cur, cur_len, (const uint8_t *)marker, strlen(marker), der,
			    der_len, &next, &next_len, count);
		OPENSSL_clear_free(der, der_len);
		free(cur);
		if (rc != 0)
			return -1;
		cur = next;
		cur_len = next_len;
	}
	*out = cur;
	*out_len = cur_len;
	return 0;
}

int fz_expand_keys(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len)
{
	int count;

	return swap_keys(in, len, out, out_len, 0, &count);
}

int fz_mark_keys(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len)
{
	int count;

	if (swap_keys(in, len, out, out_len, 1, &count) != 0)
		return -1;
	return count;
}
