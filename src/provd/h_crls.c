// SPDX-License-Identifier: Apache-2.0
/*
 * h_crls.c — GET /v1/crls (issue 14): one PEM bundle for a relying party that checks a CRL at
 * every level of a device chain (nginx ssl_crl): the manufacturer's CRLs the operator gives
 * (--mfr-crl, loaded at start, so again on SIGHUP's restart in place) and the newest device CA
 * CRL of every active device whose CRL has not expired (the registry, schema 4). Public and
 * unauthenticated, like GET /v1/revoked: every CRL in it is signed. Also the check of the "crl"
 * a device sends with POST /v1/certificates (provd_crl_from_pem).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <selfcert/crl.h>
#include "file.h"
#include "handlers.h"
#include "registry.h"
#include "respond.h"

/* Bundle text grows in these steps; at most PROVD_CRLS_MAX_BYTES in all. */
#define BUNDLE_CHUNK (64u << 10)

sc_err provd_mfr_crls_load(struct provd_api *api, const char *const *files, size_t n)
{
	BIO *out = NULL, *in = NULL;
	X509_CRL *crl = NULL;
	uint8_t *data = NULL;
	size_t len = 0, count = 0;
	char *p = NULL;
	long plen;
	sc_err r = SC_ERR_INTERNAL;

	if (n > PROVD_MFR_CRL_FILES_MAX)
		return sc_fail(SC_ERR_USAGE, "--mfr-crl: at most %d files",
		    PROVD_MFR_CRL_FILES_MAX);
	if ((out = BIO_new(BIO_s_mem())) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "--mfr-crl");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		size_t here = 0;

		if ((r = sc_file_read(files[i], PROVD_MFR_CRL_FILE_MAX, &data, &len)) != SC_OK)
			goto out;
		if ((in = BIO_new_mem_buf(data, (int)len)) == NULL) {
			r = sc_fail(SC_ERR_NOMEM, "--mfr-crl %s", files[i]);
			goto out;
		}
		/* Every CRL in the file, strictly: PEM blocks of CRLs and nothing else that parses. */
		while ((crl = PEM_read_bio_X509_CRL(in, NULL, NULL, NULL)) != NULL) {
			const ASN1_TIME *nu = X509_CRL_get0_nextUpdate(crl);

			if (nu == NULL) {
				r = sc_fail(SC_ERR_MALFORMED,
				    "--mfr-crl %s: CRL %zu has no nextUpdate", files[i], here + 1);
				goto out;
			}
			/* The root's own CRL must be the root's: the one issuer provd can check. */
			if (X509_NAME_cmp(X509_CRL_get_issuer(crl),
			        X509_get_subject_name(api->mfr_root)) == 0 &&
			    X509_CRL_verify(crl, X509_get0_pubkey(api->mfr_root)) != 1) {
				r = sc_fail(SC_ERR_SIGNATURE,
				    "--mfr-crl %s: CRL %zu names the manufacturer root as issuer but "
				    "is not signed by it",
				    files[i], here + 1);
				goto out;
			}
			if (PEM_write_bio_X509_CRL(out, crl) != 1) {
				r = sc_fail(SC_ERR_NOMEM, "--mfr-crl");
				goto out;
			}
			X509_CRL_free(crl);
			crl = NULL;
			here++;
		}
		ERR_clear_error();
		if (here == 0) {
			r = sc_fail(SC_ERR_MALFORMED, "--mfr-crl %s: no PEM CRL", files[i]);
			goto out;
		}
		count += here;
		BIO_free(in);
		in = NULL;
		OPENSSL_free(data);
		data = NULL;
	}
	plen = BIO_get_mem_data(out, &p);
	free(api->mfr_crls_pem);
	api->mfr_crls_pem = NULL;
	api->mfr_crls_len = 0;
	if (plen > 0) {
		if ((api->mfr_crls_pem = malloc((size_t)plen)) == NULL) {
			r = sc_fail(SC_ERR_NOMEM, "--mfr-crl");
			goto out;
		}
		memcpy(api->mfr_crls_pem, p, (size_t)plen);
		api->mfr_crls_len = (size_t)plen;
	}
	api->n_mfr_crls = count;
	r = SC_OK;
out:
	X509_CRL_free(crl);
	BIO_free(in);
	BIO_free(out);
	OPENSSL_free(data);
	return r;
}

sc_err provd_crl_from_pem(const char *pem, size_t len, X509 *device_ca, int64_t now, uint8_t **der,
    size_t *der_len, X509_CRL **out)
{
	BIO *in = NULL;
	X509_CRL *crl = NULL;
	unsigned char *d = NULL;
	int n;
	sc_err r = SC_ERR_INTERNAL;

	*der = NULL;
	*der_len = 0;
	*out = NULL;
	/* A device CA CRL is at most SC_CRL_MAX_DER bytes of DER: its PEM a little over 4/3 that. */
	if (len > PROVD_CRL_PEM_MAX) {
		r = sc_fail(SC_ERR_OVERSIZE, "crl: %zu bytes, at most %d", len, PROVD_CRL_PEM_MAX);
		goto out;
	}
	if ((in = BIO_new_mem_buf(pem, (int)len)) == NULL ||
	    (crl = PEM_read_bio_X509_CRL(in, NULL, NULL, NULL)) == NULL) {
		ERR_clear_error();
		r = sc_fail(SC_ERR_MALFORMED, "crl: not one PEM CRL");
		goto out;
	}
	/* One CRL and nothing after it but blanks. */
	for (char c; BIO_read(in, &c, 1) == 1;)
		if (c != '\n' && c != '\r' && c != ' ' && c != '\t') {
			r = sc_fail(SC_ERR_TRAILING, "crl: text after the PEM CRL");
			goto out;
		}
	if ((n = i2d_X509_CRL(crl, &d)) <= 0) {
		r = sc_fail_ossl(SC_ERR_MALFORMED, "crl: encoding");
		goto out;
	}
	X509_CRL_free(crl);
	crl = NULL;
	/* The same strict decoder and checks as the SP's own (docs/FORMATS.md "Device CA CRL"). */
	if ((r = sc_crl_device_decode(d, (size_t)n, device_ca, now, "crl", &crl)) != SC_OK)
		goto out;
	*der = d;
	*der_len = (size_t)n;
	d = NULL;
	*out = crl;
	crl = NULL;
	r = SC_OK;
out:
	OPENSSL_free(d);
	X509_CRL_free(crl);
	BIO_free(in);
	return r;
}

struct bundle {
	char *text;
	size_t len, cap;
	size_t n;
	int full;
};

static int bundle_add(struct bundle *b, const char *s, size_t n)
{
	if (b->len + n > PROVD_CRLS_MAX_BYTES) {
		b->full = 1;
		return 1;
	}
	if (b->len + n > b->cap) {
		size_t cap = b->cap + (n > BUNDLE_CHUNK ? n : BUNDLE_CHUNK);
		char *t = realloc(b->text, cap);

		if (t == NULL) {
			b->full = 1;
			return 1;
		}
		b->text = t;
		b->cap = cap;
	}
	memcpy(b->text + b->len, s, n);
	b->len += n;
	return 0;
}

/* One device's CRL as PEM ("-----BEGIN X509 CRL-----", 64-column base64). */
static int add_device(void *ctx, const struct sc_reg_crl_rec *c)
{
	struct bundle *b = ctx;
	BIO *mem = BIO_new(BIO_s_mem());
	char *p = NULL;
	long n;
	int stop = 1;

	if (mem != NULL && PEM_write_bio(mem, "X509 CRL", "", c->der, (long)c->der_len) > 0 &&
	    (n = BIO_get_mem_data(mem, &p)) > 0) {
		stop = bundle_add(b, p, (size_t)n);
		b->n += !stop;
	} else {
		b->full = 1;
	}
	BIO_free(mem);
	return stop;
}

sc_err provd_h_crls(const struct provd_ctx *ctx, struct provd_response *resp)
{
	struct bundle b = { NULL, 0, 0, 0, 0 };
	int64_t now = (int64_t)time(NULL);
	sc_err r;

	if (ctx->api->mfr_crls_len > 0 &&
	    bundle_add(&b, ctx->api->mfr_crls_pem, ctx->api->mfr_crls_len) != 0) {
		r = sc_fail(SC_ERR_OVERSIZE, "crls: the manufacturer's CRLs");
		goto out;
	}
	if ((r = sc_reg_crl_list(ctx->reg, now, PROVD_CRLS_MAX, add_device, &b)) != SC_OK)
		goto out;
	if (b.full) {
		r = sc_fail(SC_ERR_OVERSIZE, "crls: over %d bytes", PROVD_CRLS_MAX_BYTES);
		goto out;
	}
	resp->status = 200;
	resp->content_type = PROVD_PEM_TYPE;
	resp->body_len = b.len;
	resp->body = b.text != NULL ? b.text : calloc(1, 1);
	b.text = NULL;
	if (resp->body == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "crls");
		goto out;
	}
	provd_log_add(resp, " mfr_crls=%zu device_crls=%zu", ctx->api->n_mfr_crls, b.n);
	r = SC_OK;
out:
	free(b.text);
	return r;
}
