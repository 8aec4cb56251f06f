// SPDX-License-Identifier: Apache-2.0
/*
 * pem.c — certificate files (PEM bundles or one DER certificate), strict DER decoding, and PEM
 * writing of certificates and keys (pem.h).
 */
#include <limits.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include "fast/x509.h"
#include "file.h"
#include "pem.h"

#define SC_DER_MAX_DEPTH 32 /* certificates nest about 10 deep */

sc_err sc_cert_to_der(X509 *cert, uint8_t **der, size_t *len)
{
	unsigned char *p = NULL;
	int n = i2d_X509(cert, &p);

	*der = NULL;
	*len = 0;
	if (n <= 0)
		return sc_fail_ossl(SC_ERR_INTERNAL, "encoding a certificate");
	*der = p;
	*len = (size_t)n;
	return SC_OK;
}

/*
 * 1 if p[0..len) is a series of TLVs in DER's definite, minimal length form, and so is the
 * content of every constructed one. Needed beside the re-encoding check: X509 keeps the
 * original bytes of tbsCertificate (and of names) and re-emits them, so BER in there would
 * survive a decode/encode round trip unseen.
 */
static int der_lengths_ok(const uint8_t *p, size_t len, int depth)
{
	if (depth > SC_DER_MAX_DEPTH)
		return 0;
	while (len > 0) {
		size_t hdr = 2, n, k;

		if (len < 2 || (p[0] & 0x1f) == 0x1f) /* no high tag numbers in a certificate */
			return 0;
		n = p[1];
		if (n >= 0x80) {
			k = n & 0x7f;
			/* 0: indefinite length; a leading zero byte or a short length: not minimal. */
			if (k == 0 || k > 4 || len - 2 < k || p[2] == 0)
				return 0;
			for (n = 0; hdr < 2 + k; hdr++)
				n = (n << 8) | p[hdr];
			if (n < 0x80)
				return 0;
		}
		if (n > len - hdr)
			return 0;
		if ((p[0] & 0x20) && !der_lengths_ok(p + hdr, n, depth + 1))
			return 0;
		p += hdr + n;
		len -= hdr + n;
	}
	return 1;
}

sc_err sc_cert_from_der(const uint8_t *der, size_t len, X509 **out)
{
	const unsigned char *p = der;
	unsigned char *re = NULL;
	X509 *x = NULL;
	sc_err r;
	int n;

	*out = NULL;
	if (len > SC_FILE_MAX)
		return sc_fail(SC_ERR_OVERSIZE, "certificate: %zu bytes", len);
	/* The shortcut (fast/x509.h) when it takes this shape; the checks below hold for both. */
	if ((r = sc_fast_cert_from_der(der, len, &x)) != SC_OK)
		return r;
	if (x != NULL)
		p = der + len;
	else if ((x = d2i_X509(NULL, &p, (long)len)) == NULL)
		return sc_fail_ossl(SC_ERR_MALFORMED, "certificate: not DER X.509");
	if ((size_t)(p - der) != len) {
		r = sc_fail(SC_ERR_TRAILING, "certificate: %zu trailing bytes",
		    len - (size_t)(p - der));
		goto out;
	}
	/* d2i accepts some BER; the re-encoding must give back exactly the input. */
	n = i2d_X509(x, &re);
	if (n < 0 || (size_t)n != len || memcmp(re, der, len) != 0 ||
	    !der_lengths_ok(der, len, 0)) {
		r = sc_fail(SC_ERR_MALFORMED, "certificate: not DER");
		goto out;
	}
	*out = x;
	x = NULL;
	r = SC_OK;
out:
	OPENSSL_free(re);
	X509_free(x);
	return r;
}

/*
 * Every PEM block of bio, each a CERTIFICATE decoded as strictly as a DER file. Text around
 * the blocks is allowed (RFC 7468); a damaged block or one of another type is an error, so a
 * bad block can never silently shorten the list. Only "no further block" ends the loop.
 */
static sc_err pem_certs(BIO *bio, const char *path, STACK_OF(X509) *sk)
{
	sc_err r;
	char *name = NULL, *header = NULL;
	unsigned char *der = NULL;
	long der_len = 0;
	X509 *x = NULL;
	unsigned long e;

	ERR_clear_error();
	for (int i = 1;; i++) {
		if (!PEM_read_bio(bio, &name, &header, &der, &der_len)) {
			e = ERR_peek_last_error();
			if (ERR_GET_LIB(e) == ERR_LIB_PEM &&
			    ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
				ERR_clear_error();
				break;
			}
			r = sc_fail_ossl(SC_ERR_MALFORMED, "PEM block is damaged");
			r = sc_fail(r, "%s: block %d: %s", path, i, sc_err_detail());
			goto out;
		}
		if (strcmp(name, PEM_STRING_X509) != 0 || header[0] != '\0') {
			r = sc_fail(SC_ERR_MALFORMED,
			    "%s: block %d is '%.40s', expected a plain "
			    "CERTIFICATE",
			    path, i, name);
			goto out;
		}
		if ((r = sc_cert_from_der(der, (size_t)der_len, &x)) != SC_OK) {
			r = sc_fail(r, "%s: block %d: %s", path, i, sc_err_detail());
			goto out;
		}
		if (!sk_X509_push(sk, x)) {
			r = sc_fail(SC_ERR_NOMEM, "%s: block %d", path, i);
			goto out;
		}
		x = NULL;
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(der);
		name = header = NULL;
		der = NULL;
	}
	r = SC_OK;
out:
	X509_free(x);
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_free(der);
	return r;
}

/* The one certificate of a DER file, onto sk. */
static sc_err der_cert(const uint8_t *data, size_t len, const char *path, STACK_OF(X509) *sk)
{
	X509 *x = NULL;
	sc_err r;

	if ((r = sc_cert_from_der(data, len, &x)) != SC_OK)
		return sc_fail(r, "%s: %s", path, sc_err_detail());
	if (!sk_X509_push(sk, x)) {
		X509_free(x);
		return sc_fail(SC_ERR_NOMEM, "%s", path);
	}
	return SC_OK;
}

sc_err sc_load_certs(const char *path, STACK_OF(X509) **out)
{
	sc_err r;
	uint8_t *data = NULL;
	size_t len;
	BIO *bio = NULL;
	STACK_OF(X509) *sk = NULL;

	*out = NULL;
	if ((r = sc_file_read(path, SC_FILE_MAX, &data, &len)) != SC_OK)
		return r;
	if ((sk = sk_X509_new_null()) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "%s", path);
		goto out;
	}
	if (len > 0 && data[0] == 0x30) { /* DER: exactly one certificate */
		if ((r = der_cert(data, len, path, sk)) != SC_OK)
			goto out;
	} else {
		if ((bio = BIO_new_mem_buf(data, (int)len)) == NULL) {
			r = sc_fail(SC_ERR_NOMEM, "%s", path);
			goto out;
		}
		if ((r = pem_certs(bio, path, sk)) != SC_OK)
			goto out;
	}
	if (sk_X509_num(sk) == 0) {
		r = sc_fail(SC_ERR_MALFORMED, "%s: no certificate in it", path);
		goto out;
	}
	*out = sk;
	sk = NULL;
	r = SC_OK;
out:
	sk_X509_pop_free(sk, X509_free);
	BIO_free(bio);
	OPENSSL_free(data);
	return r;
}

sc_err sc_load_cert(const char *path, X509 **out)
{
	STACK_OF(X509) *sk = NULL;
	sc_err r;

	*out = NULL;
	if ((r = sc_load_certs(path, &sk)) != SC_OK)
		return r;
	if (sk_X509_num(sk) != 1) {
		r = sc_fail(SC_ERR_MALFORMED, "%s: %d certificates, expected one", path,
		    sk_X509_num(sk));
		goto out;
	}
	*out = sk_X509_shift(sk);
	r = SC_OK;
out:
	sk_X509_pop_free(sk, X509_free);
	return r;
}

sc_err sc_write_certs(const char *path, X509 *const *certs, size_t n)
{
	BIO *bio = NULL;
	BUF_MEM *mem = NULL;
	sc_err r;

	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		return sc_fail(SC_ERR_NOMEM, "%s", path);
	for (size_t i = 0; i < n; i++) {
		if (!PEM_write_bio_X509(bio, certs[i])) {
			r = sc_fail_ossl(SC_ERR_INTERNAL, path);
			goto out;
		}
	}
	BIO_get_mem_ptr(bio, &mem);
	if ((r = sc_file_write_atomic(path, mem->data, mem->length, 0644)) != SC_OK)
		goto out;
	r = SC_OK;
out:
	BIO_free(bio);
	return r;
}

sc_err sc_write_cert_der(const char *path, const uint8_t *der, size_t len)
{
	BIO *bio = NULL;
	BUF_MEM *mem = NULL;
	sc_err r;

	if (len > INT_MAX)
		return sc_fail(SC_ERR_OVERSIZE, "%s: certificate of %zu bytes", path, len);
	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		return sc_fail(SC_ERR_NOMEM, "%s", path);
	/* What PEM_write_bio_X509 writes: its DER under "CERTIFICATE", no headers. */
	if (PEM_write_bio(bio, PEM_STRING_X509, "", der, (long)len) <= 0) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, path);
		goto out;
	}
	BIO_get_mem_ptr(bio, &mem);
	if ((r = sc_file_write_atomic(path, mem->data, mem->length, 0644)) != SC_OK)
		goto out;
	r = SC_OK;
out:
	BIO_free(bio);
	return r;
}

sc_err sc_write_cert(const char *path, X509 *cert)
{
	return sc_write_certs(path, &cert, 1);
}

sc_err sc_write_key(const char *path, EVP_PKEY *key)
{
	BIO *bio = NULL;
	BUF_MEM *mem = NULL;
	sc_err r;

	if ((bio = BIO_new(BIO_s_secmem())) == NULL)
		return sc_fail(SC_ERR_NOMEM, "%s", path);
	if (!PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL)) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, path);
		goto out;
	}
	BIO_get_mem_ptr(bio, &mem);
	if ((r = sc_file_write_new(path, mem->data, mem->length, 0600)) != SC_OK)
		goto out;
	r = SC_OK;
out:
	BIO_free(bio); /* secure-memory BIO: cleared on free */
	return r;
}
