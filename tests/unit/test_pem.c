// SPDX-License-Identifier: Apache-2.0
/*
 * test_pem.c — strict DER certificates (trailing bytes, truncation, BER lengths), PEM bundles
 * (text around blocks, damaged blocks never shorten the list), certificate and key files (modes,
 * links, encrypted keys refused through sc_key_open). Every refusal asserts its exact code.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <selfcert/alg.h>
#include "file.h"
#include "keyopen.h"
#include "pem.h"
#include "testutil.h"
#include "testworld.h"

#define N_CERTS 3

static char dir[512];
static EVP_PKEY *key;
static X509 *certs[N_CERTS];
static uint8_t *der; /* certs[0] in DER */
static size_t der_len;

/* A self-signed certificate, from the test world's raw builder (tests/testlib). */
static X509 *make_cert(EVP_PKEY *k, const char *cn)
{
	const struct sc_test_cert spec = { .cn = cn, .pub = k, .days = 1 };
	X509 *x = NULL;

	assert_int_equal(sc_test_cert_make(&spec, &x), SC_OK);
	return x;
}

static int group_setup(void **state)
{
	char cn[32];

	(void)state;
	umask(022);
	snprintf(dir, sizeof(dir), "%s", sc_test_tmpdir());
	if (sc_alg_keygen(SC_ALG_P256, &key) != SC_OK)
		return -1;
	for (int i = 0; i < N_CERTS; i++) {
		snprintf(cn, sizeof(cn), "pem test %d", i);
		certs[i] = make_cert(key, cn);
	}
	if (sc_cert_to_der(certs[0], &der, &der_len) != SC_OK)
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	for (int i = 0; i < N_CERTS; i++)
		X509_free(certs[i]);
	EVP_PKEY_free(key);
	OPENSSL_free(der);
	sc_test_rmdir(dir);
	return 0;
}

/* dir/name into out. */
static const char *path_of(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", dir, name);
	return out;
}

static char *pem_of(X509 *x)
{
	BIO *b = BIO_new(BIO_s_mem());
	BUF_MEM *m;
	char *s;

	assert_non_null(b);
	assert_int_equal(PEM_write_bio_X509(b, x), 1);
	BIO_get_mem_ptr(b, &m);
	s = OPENSSL_strndup(m->data, m->length);
	BIO_free(b);
	assert_non_null(s);
	return s;
}

/* ---- keys and certificates on disk ---- */

static void test_key_files(void **state)
{
	char p[600], link[600];
	struct stat st;
	EVP_PKEY *back = NULL;

	(void)state;
	assert_int_equal(sc_write_key(path_of(p, sizeof(p), "k.key"), key), SC_OK);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(sc_write_key(p, key), SC_ERR_EXISTS);
	assert_int_equal(sc_key_open(p, &back), SC_OK);
	assert_int_equal(EVP_PKEY_eq(back, key), 1);
	EVP_PKEY_free(back);
	/* Key files are never read through a link. */
	assert_int_equal(symlink(p, path_of(link, sizeof(link), "k-link.key")), 0);
	assert_int_equal(sc_key_open(link, &back), SC_ERR_IO);
	assert_null(back);
	assert_non_null(strstr(sc_err_detail(), link));
	/* A certificate is not a key. */
	assert_int_equal(sc_write_cert(path_of(p, sizeof(p), "c.pem"), certs[0]), SC_OK);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(sc_key_open(p, &back), SC_ERR_MALFORMED);
	assert_null(back);
	/* Issue 17: the PEM from a certificate's DER is the PEM from its X509, byte for byte. */
	{
		uint8_t *cd = NULL, *x = NULL, *y = NULL;
		size_t cd_len = 0, xl = 0, yl = 0;

		assert_int_equal(sc_cert_to_der(certs[0], &cd, &cd_len), SC_OK);
		assert_int_equal(sc_write_cert_der(path_of(link, sizeof(link), "d.pem"), cd,
		                     cd_len),
		    SC_OK);
		assert_int_equal(stat(link, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0644);
		assert_int_equal(sc_file_read(p, SC_FILE_MAX, &x, &xl), SC_OK);
		assert_int_equal(sc_file_read(link, SC_FILE_MAX, &y, &yl), SC_OK);
		assert_int_equal(xl, yl);
		assert_memory_equal(x, y, xl);
		OPENSSL_free(cd);
		OPENSSL_free(x);
		OPENSSL_free(y);
	}
	/* An encrypted key is refused without prompting for a passphrase. */
	{
		BIO *b = BIO_new(BIO_s_mem());
		BUF_MEM *m;

		assert_non_null(b);
		assert_int_equal(PEM_write_bio_PKCS8PrivateKey(b, key, EVP_aes_128_cbc(), "pw", 2,
		                     NULL, NULL),
		    1);
		BIO_get_mem_ptr(b, &m);
		sc_test_write_file(path_of(p, sizeof(p), "enc.key"), m->data, m->length);
		BIO_free(b);
		assert_int_equal(sc_key_open(p, &back), SC_ERR_MALFORMED);
		assert_null(back);
	}
}

static void test_load_certs(void **state)
{
	char p[600], *pem[N_CERTS];
	char all[16384];
	STACK_OF(X509) *sk = NULL;
	X509 *one = NULL;

	(void)state;
	for (int i = 0; i < N_CERTS; i++)
		pem[i] = pem_of(certs[i]);

	/* Several, in order. */
	snprintf(all, sizeof(all), "%s%s%s", pem[0], pem[1], pem[2]);
	sc_test_write_file(path_of(p, sizeof(p), "three.pem"), all, strlen(all));
	assert_int_equal(sc_load_certs(p, &sk), SC_OK);
	assert_int_equal(sk_X509_num(sk), 3);
	for (int i = 0; i < N_CERTS; i++)
		assert_int_equal(X509_cmp(sk_X509_value(sk, i), certs[i]), 0);
	sk_X509_pop_free(sk, X509_free);
	/* sc_load_cert wants exactly one. */
	assert_int_equal(sc_load_cert(p, &one), SC_ERR_MALFORMED);
	assert_null(one);
	assert_non_null(strstr(sc_err_detail(), "3 certificates"));

	/* Explanatory text around and between blocks is allowed (RFC 7468). */
	snprintf(all, sizeof(all),
	    "Certificate 0\n%sjunk between\n\n%s  more junk\n%strailing words\n", pem[0], pem[1],
	    pem[2]);
	sc_test_write_file(path_of(p, sizeof(p), "junk.pem"), all, strlen(all));
	assert_int_equal(sc_load_certs(p, &sk), SC_OK);
	assert_int_equal(sk_X509_num(sk), 3);
	assert_int_equal(X509_cmp(sk_X509_value(sk, 2), certs[2]), 0);
	sk_X509_pop_free(sk, X509_free);

	/* A damaged block in the middle must not silently shorten the list. */
	snprintf(all, sizeof(all), "%s%s%s", pem[0], pem[1], pem[2]);
	{
		char *second = strstr(all + strlen(pem[0]), "\n") + 1; /* first base64 line of #2 */
		second[3] = '*';
	}
	sc_test_write_file(path_of(p, sizeof(p), "damaged.pem"), all, strlen(all));
	sk = NULL;
	assert_int_equal(sc_load_certs(p, &sk), SC_ERR_MALFORMED);
	assert_null(sk);
	assert_non_null(strstr(sc_err_detail(), p));
	/* Nor a damaged last block. */
	snprintf(all, sizeof(all), "%s%.*s", pem[0], (int)(strlen(pem[1]) - 30), pem[1]);
	sc_test_write_file(path_of(p, sizeof(p), "cut.pem"), all, strlen(all));
	assert_int_equal(sc_load_certs(p, &sk), SC_ERR_MALFORMED);
	assert_null(sk);

	/* Empty file, or text with no block. */
	sc_test_write_file(path_of(p, sizeof(p), "empty.pem"), "", 0);
	assert_int_equal(sc_load_certs(p, &sk), SC_ERR_MALFORMED);
	assert_non_null(strstr(sc_err_detail(), "no certificate"));
	assert_non_null(strstr(sc_err_detail(), p));
	sc_test_write_file(path_of(p, sizeof(p), "text.pem"), "hello\n", 6);
	assert_int_equal(sc_load_certs(p, &sk), SC_ERR_MALFORMED);
	/* A missing file: io. */
	assert_int_equal(sc_load_certs(path_of(p, sizeof(p), "nope.pem"), &sk), SC_ERR_IO);

	/* DER: exactly one, strictly. */
	sc_test_write_file(path_of(p, sizeof(p), "c.der"), der, der_len);
	assert_int_equal(sc_load_cert(p, &one), SC_OK);
	assert_int_equal(X509_cmp(one, certs[0]), 0);
	X509_free(one);
	{
		uint8_t *plus = OPENSSL_malloc(der_len + 1);
		assert_non_null(plus);
		memcpy(plus, der, der_len);
		plus[der_len] = 0;
		sc_test_write_file(path_of(p, sizeof(p), "trailing.der"), plus, der_len + 1);
		OPENSSL_free(plus);
	}
	assert_int_equal(sc_load_cert(p, &one), SC_ERR_TRAILING);
	assert_non_null(strstr(sc_err_detail(), p));
	assert_non_null(strstr(sc_err_detail(), "1 trailing bytes"));

	/* A PEM block whose DER has trailing bytes is as bad as the DER file. */
	{
		uint8_t *plus = OPENSSL_malloc(der_len + 2);
		BIO *b = BIO_new(BIO_s_mem());
		BUF_MEM *m;

		assert_non_null(plus);
		assert_non_null(b);
		memcpy(plus, der, der_len);
		plus[der_len] = plus[der_len + 1] = 0;
		assert_true(PEM_write_bio(b, "CERTIFICATE", "", plus, (long)der_len + 2) > 0);
		BIO_get_mem_ptr(b, &m);
		sc_test_write_file(path_of(p, sizeof(p), "trailing.pem"), m->data, m->length);
		BIO_free(b);
		OPENSSL_free(plus);
	}
	assert_int_equal(sc_load_cert(p, &one), SC_ERR_TRAILING);
	assert_null(one);
	for (int i = 0; i < N_CERTS; i++)
		OPENSSL_free(pem[i]);
}

/* ---- sc_cert_from_der ---- */

/* Header of the DER TLV at p: its length in *hdr and the content length in *content. */
static void tlv(const uint8_t *p, size_t *hdr, size_t *content)
{
	if (p[1] < 0x80) {
		*hdr = 2;
		*content = p[1];
	} else {
		size_t n = p[1] & 0x7f;
		*content = 0;
		for (size_t i = 0; i < n; i++)
			*content = (*content << 8) | p[2 + i];
		*hdr = 2 + n;
	}
}

/* tag, then a definite long-form length in exactly lenbytes bytes (non-minimal if oversized). */
static size_t put_hdr(uint8_t *out, uint8_t tag, size_t len, size_t lenbytes)
{
	out[0] = tag;
	out[1] = (uint8_t)(0x80 | lenbytes);
	for (size_t i = 0; i < lenbytes; i++)
		out[2 + i] = (uint8_t)(len >> (8 * (lenbytes - 1 - i)));
	return 2 + lenbytes;
}

static void expect_der(const uint8_t *p, size_t n, sc_err want, const char *what)
{
	X509 *x = (X509 *)&x;
	sc_err r = sc_cert_from_der(p, n, &x);

	if (r != want)
		fail_msg("%s: %s (%s), expected %s", what, sc_err_name(r), sc_err_detail(),
		    sc_err_name(want));
	if (want != SC_OK)
		assert_null(x);
	X509_free(want == SC_OK ? x : NULL);
}

static void test_cert_from_der(void **state)
{
	uint8_t *buf = OPENSSL_malloc(der_len + 64);
	size_t ohdr, olen, thdr, tlen, n;

	(void)state;
	assert_non_null(buf);
	expect_der(der, der_len, SC_OK, "the certificate");
	/* Round trip: the DER we get back is the DER we gave. */
	{
		X509 *x = NULL;
		uint8_t *re = NULL;
		size_t re_len = 0;
		assert_int_equal(sc_cert_from_der(der, der_len, &x), SC_OK);
		assert_int_equal(sc_cert_to_der(x, &re, &re_len), SC_OK);
		assert_int_equal(re_len, der_len);
		assert_memory_equal(re, der, der_len);
		OPENSSL_free(re);
		X509_free(x);
	}
	/* Trailing bytes. */
	memcpy(buf, der, der_len);
	buf[der_len] = 0;
	expect_der(buf, der_len + 1, SC_ERR_TRAILING, "one trailing zero");
	assert_string_equal(sc_err_detail(), "certificate: 1 trailing bytes");
	memcpy(buf + der_len, der, 10);
	expect_der(buf, der_len + 10, SC_ERR_TRAILING, "ten trailing bytes");
	/* Truncated at every length. */
	for (n = 0; n < der_len; n++) {
		uint8_t *cut = OPENSSL_malloc(n ? n : 1);
		assert_non_null(cut);
		memcpy(cut, der, n);
		expect_der(cut, n, SC_ERR_MALFORMED, "a truncated certificate");
		OPENSSL_free(cut);
	}
	/* Oversize: refused before parsing. */
	expect_der(der, (size_t)SC_FILE_MAX + 1, SC_ERR_OVERSIZE, "over SC_FILE_MAX");

	tlv(der, &ohdr, &olen);
	assert_int_equal(ohdr + olen, der_len);
	tlv(der + ohdr, &thdr, &tlen);

	/* BER: the outer SEQUENCE with indefinite length (30 80 … 00 00). */
	buf[0] = 0x30;
	buf[1] = 0x80;
	memcpy(buf + 2, der + ohdr, olen);
	buf[2 + olen] = buf[3 + olen] = 0;
	expect_der(buf, olen + 4, SC_ERR_MALFORMED, "indefinite outer length");
	/* BER: the outer length in more bytes than needed. */
	n = put_hdr(buf, 0x30, olen, 4);
	memcpy(buf + n, der + ohdr, olen);
	expect_der(buf, n + olen, SC_ERR_MALFORMED, "non-minimal outer length");
	/* BER inside the signed part: tbsCertificate with an indefinite length. */
	n = put_hdr(buf, 0x30, olen - thdr + 4, 2);
	buf[n] = 0x30;
	buf[n + 1] = 0x80;
	memcpy(buf + n + 2, der + ohdr + thdr, olen - thdr);
	/* End-of-contents after the TBS contents, before signatureAlgorithm. */
	memmove(buf + n + 2 + tlen + 2, buf + n + 2 + tlen, olen - thdr - tlen);
	buf[n + 2 + tlen] = buf[n + 3 + tlen] = 0;
	expect_der(buf, n + olen - thdr + 4, SC_ERR_MALFORMED, "indefinite TBS length");
	/* BER inside the signed part: tbsCertificate's length in one byte too many. */
	n = put_hdr(buf, 0x30, olen + 1, 2);
	n += put_hdr(buf + n, 0x30, tlen, thdr - 2 + 1);
	memcpy(buf + n, der + ohdr + thdr, olen - thdr);
	expect_der(buf, n + olen - thdr, SC_ERR_MALFORMED, "non-minimal TBS length");

	/* Not a certificate at all. */
	expect_der((const uint8_t *)"\x30\x00", 2, SC_ERR_MALFORMED, "empty SEQUENCE");
	expect_der((const uint8_t *)"\x04\x01\x00", 3, SC_ERR_MALFORMED, "an OCTET STRING");
	OPENSSL_free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_files),
		cmocka_unit_test(test_load_certs),
		cmocka_unit_test(test_cert_from_der),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
