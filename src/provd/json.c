// SPDX-License-Identifier: Apache-2.0
/*
 * json.c — request bodies (json.h): bound, then parse strictly, then read fields; certificates
 * from PEM or base64 DER. Nothing here answers: each failure is an sc_err with a detail naming
 * the field.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include "api.h"
#include "json.h"
#include "text.h"

#define JSON_TYPE "application/json"

int provd_json_depth(const uint8_t *p, size_t n)
{
	int depth = 0, max = 0;
	size_t i = 0;

	/*
	 * enroll12: a string is skipped with memchr to its closing quote, the first '"' after an
	 * even run of backslashes counted from the string's start or from the last escaped quote
	 * (a backslash escapes the one byte after it): the same verdict as reading it byte by byte
	 * (test_json_depth compares the two), without ~10 instructions for each byte of the
	 * base64 that fills a request's strings.
	 */
	while (i < n) {
		uint8_t c = p[i++];

		if (c == '"') {
			for (;;) {
				const uint8_t *q = memchr(p + i, '"', n - i);
				size_t k, bs = 0;

				if (q == NULL)
					return max; /* the rest is in the string */
				k = (size_t)(q - p);
				while (k - bs > i && p[k - bs - 1] == '\\')
					bs++;
				i = k + 1;
				if (bs % 2 == 0)
					break;
			}
		} else if (c == '[' || c == '{') {
			if (++depth > max)
				max = depth;
		} else if (c == ']' || c == '}') {
			depth--;
		}
	}
	return max;
}

/*
 * 1 for the 65 characters of base64 (RFC 4648 section 4, with '='). req19: the profile answer's
 * base64 goes into jansson's dumped text as it is (respond.c), so it must hold nothing else.
 */
static const uint8_t b64_chars[256] = {
	['A'] = 1,
	['B'] = 1,
	['C'] = 1,
	['D'] = 1,
	['E'] = 1,
	['F'] = 1,
	['G'] = 1,
	['H'] = 1,
	['I'] = 1,
	['J'] = 1,
	['K'] = 1,
	['L'] = 1,
	['M'] = 1,
	['N'] = 1,
	['O'] = 1,
	['P'] = 1,
	['Q'] = 1,
	['R'] = 1,
	['S'] = 1,
	['T'] = 1,
	['U'] = 1,
	['V'] = 1,
	['W'] = 1,
	['X'] = 1,
	['Y'] = 1,
	['Z'] = 1,
	['a'] = 1,
	['b'] = 1,
	['c'] = 1,
	['d'] = 1,
	['e'] = 1,
	['f'] = 1,
	['g'] = 1,
	['h'] = 1,
	['i'] = 1,
	['j'] = 1,
	['k'] = 1,
	['l'] = 1,
	['m'] = 1,
	['n'] = 1,
	['o'] = 1,
	['p'] = 1,
	['q'] = 1,
	['r'] = 1,
	['s'] = 1,
	['t'] = 1,
	['u'] = 1,
	['v'] = 1,
	['w'] = 1,
	['x'] = 1,
	['y'] = 1,
	['z'] = 1,
	['0'] = 1,
	['1'] = 1,
	['2'] = 1,
	['3'] = 1,
	['4'] = 1,
	['5'] = 1,
	['6'] = 1,
	['7'] = 1,
	['8'] = 1,
	['9'] = 1,
	['+'] = 1,
	['/'] = 1,
	['='] = 1,
};

int provd_b64_clean(const char *s, size_t n)
{
	uint8_t ok = 1;

	for (size_t i = 0; i < n; i++)
		ok &= b64_chars[(uint8_t)s[i]];
	return ok;
}

/* 1 if the Content-Type is application/json (any case, parameters allowed). */
static int is_json_type(const char *ct)
{
	size_t n = strlen(JSON_TYPE);

	if (ct == NULL || strncasecmp(ct, JSON_TYPE, n) != 0)
		return 0;
	ct += n;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return *ct == '\0' || *ct == ';';
}

sc_err provd_json_body(const struct provd_request *req, const char *const *allowed, json_t **out)
{
	json_error_t jerr;
	json_t *j = NULL, *v;
	const char *key;
	sc_err r;

	*out = NULL;
	if (req->body_len > PROVD_MAX_BODY)
		return sc_fail(PROVD_ERR_BODY_TOO_LARGE, "request body of %zu bytes; at most %d",
		    req->body_len, PROVD_MAX_BODY);
	if (!is_json_type(req->content_type))
		return sc_fail(PROVD_ERR_MEDIA_TYPE,
		    "Content-Type must be application/json, not '%.60s'",
		    req->content_type ? req->content_type : "(none)");
	if (provd_json_depth(req->body, req->body_len) > PROVD_JSON_MAX_DEPTH)
		return sc_fail(PROVD_ERR_JSON_TOO_DEEP, "JSON nested deeper than %d levels",
		    PROVD_JSON_MAX_DEPTH);
	if ((j = json_loadb((const char *)req->body, req->body_len, JSON_REJECT_DUPLICATES,
	         &jerr)) == NULL)
		return sc_fail(PROVD_ERR_MALFORMED_JSON, "body is not JSON: %s (position %d)",
		    jerr.text, jerr.position);
	if (!json_is_object(j)) {
		r = sc_fail(PROVD_ERR_MALFORMED_JSON, "body must be one JSON object");
		goto out;
	}
	json_object_foreach (j, key, v) {
		size_t i;
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(allowed[i], key) == 0)
				break;
		if (allowed[i] == NULL) {
			r = sc_fail(PROVD_ERR_UNKNOWN_FIELD, "unknown field \"%.47s\"", key);
			goto out;
		}
	}
	*out = j;
	j = NULL;
	r = SC_OK;
out:
	json_decref(j);
	return r;
}

sc_err provd_json_string(json_t *obj, const char *name, int required, size_t max, const char **out,
    size_t *out_len)
{
	json_t *v = json_object_get(obj, name);

	*out = NULL;
	if (out_len != NULL)
		*out_len = 0;
	if (v == NULL)
		return required ? sc_fail(PROVD_ERR_MISSING_FIELD, "field \"%s\" is required", name)
		                : SC_OK;
	if (!json_is_string(v))
		return sc_fail(PROVD_ERR_WRONG_TYPE, "field \"%s\" must be a string", name);
	if (json_string_length(v) > max || json_string_length(v) == 0)
		return sc_fail(PROVD_ERR_BAD_VALUE, "field \"%s\": %zu bytes, expected 1..%zu",
		    name, json_string_length(v), max);
	*out = json_string_value(v);
	if (out_len != NULL)
		*out_len = json_string_length(v);
	return SC_OK;
}

/*
 * 1 if the text is nothing but PEM blocks and whitespace: no explanatory text, nothing after
 * the last block (PEM_read_bio would skip such bytes without a word).
 */
static int pem_only_blocks(const char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		const char *end, *close;

		if (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n') {
			i++;
			continue;
		}
		if (len - i < 11 || memcmp(s + i, "-----BEGIN ", 11) != 0)
			return 0;
		if ((end = memmem(s + i, len - i, "-----END ", 9)) == NULL)
			return 0;
		end += 9;
		if ((close = memmem(end, len - (size_t)(end - s), "-----", 5)) == NULL)
			return 0;
		i = (size_t)(close - s) + 5;
	}
	return 1;
}

/*
 * One more certificate's DER (taken: *der = NULL) unless d holds max already. The one past max
 * is kept all the same (d->item has room for it): the certificate parsers checked each before
 * counting it, so its parse error, if it has one, is the one to report (provd_ders_settle).
 */
static sc_err push_der(struct provd_ders *d, uint8_t **der, size_t len, int block, int max)
{
	struct provd_der *it = &d->item[d->n];

	it->der = *der;
	it->len = len;
	it->block = block;
	*der = NULL;
	d->n++;
	if (d->n > max)
		return sc_fail(PROVD_ERR_BAD_VALUE, "\"%s\": more than %d certificates", d->field,
		    max);
	return SC_OK;
}

static sc_err ders_from_pem(struct provd_ders *d, const char *s, size_t len, int max)
{
	BIO *bio = NULL;
	char *name = NULL, *header = NULL;
	unsigned char *data = NULL;
	long dlen;
	int n = 0;
	sc_err r;

	if (!pem_only_blocks(s, len))
		return sc_fail(PROVD_ERR_BAD_DER, "\"%s\": text around or after the PEM blocks",
		    d->field);
	if ((bio = BIO_new_mem_buf(s, (int)len)) == NULL)
		return sc_fail(SC_ERR_NOMEM, "out of memory");
	while (PEM_read_bio(bio, &name, &header, &data, &dlen) == 1) {
		int is_cert = strcmp(name, "CERTIFICATE") == 0;

		OPENSSL_free(name);
		OPENSSL_free(header);
		name = header = NULL;
		if (!is_cert) {
			r = sc_fail(PROVD_ERR_BAD_DER, "\"%s\": PEM block %d is not a CERTIFICATE",
			    d->field, n + 1);
			goto out;
		}
		if ((r = push_der(d, &data, (size_t)dlen, n + 1, max)) != SC_OK)
			goto out;
		n++;
	}
	if (n == 0) {
		r = sc_fail(PROVD_ERR_BAD_DER, "\"%s\": PEM without a readable certificate",
		    d->field);
		goto out;
	}
	r = SC_OK;
out:
	OPENSSL_free(data);
	BIO_free(bio);
	ERR_clear_error(); /* the loop ends on "no start line" */
	return r;
}

/*
 * The DER of one string's certificates (provd_certs_from_text's forms), appended to d: base64
 * DER, or nothing but PEM blocks if it looks like PEM anywhere. b64der16: base64 is tried
 * first, the agent's form since then (a text that decodes as strict base64 has no '-', so PEM
 * would not have been tried); only a text that does not decode is looked at for PEM.
 */
static sc_err ders_from_text(struct provd_ders *d, const char *s, size_t len, int max)
{
	uint8_t *der = NULL;
	size_t der_len;
	sc_err r;

	if (sc_base64_decode(s, len, 4 * (size_t)(PROVD_MAX_BODY / 3 + 1), &der, &der_len) ==
	    SC_OK) {
		r = push_der(d, &der, der_len, 0, max);
		OPENSSL_free(der); /* NULL once pushed */
		return r;
	}
	if (memmem(s, len, "-----BEGIN", 10) != NULL) {
		sc_err_clear();
		return ders_from_pem(d, s, len, max);
	}
	return sc_fail(PROVD_ERR_BAD_BASE64, "\"%s\": neither PEM nor base64: %s", d->field,
	    sc_err_detail());
}

sc_err provd_ders_from_text(struct provd_ders *d, const char *field, const char *s, size_t len,
    int max)
{
	memset(d, 0, sizeof(*d));
	d->field = field;
	if (max < 1 || max > PROVD_MAX_CHAIN)
		return sc_fail(SC_ERR_USAGE, "\"%s\": room for %d certificates", field, max);
	return ders_from_text(d, s, len, max);
}

void provd_ders_clear(struct provd_ders *d)
{
	for (int i = 0; i < d->n; i++)
		OPENSSL_free(d->item[i].der);
	memset(d, 0, sizeof(*d));
}

#define PEM_BEGIN "-----BEGIN CERTIFICATE-----\n"
#define PEM_END "-----END CERTIFICATE-----\n"

sc_err provd_ders_pem(const struct provd_ders *d, char **out)
{
	size_t total = 1;
	char *s, *w;

	*out = NULL;
	/* Each 48 bytes of DER (the last run 1..48) make a line of at most 64 characters and '\n'. */
	for (int i = 0; i < d->n; i++) {
		size_t lines = (d->item[i].len + 47) / 48;

		/* PEM_write_bio fails on no data; more than a body's is never seen (no overflow). */
		if (d->item[i].len == 0 || d->item[i].len > PROVD_MAX_BODY)
			return sc_fail(SC_ERR_INTERNAL, "encoding the chain");
		total += strlen(PEM_BEGIN) + strlen(PEM_END) + lines * 65;
	}
	if ((s = OPENSSL_malloc(total)) == NULL)
		return sc_fail(SC_ERR_NOMEM, "out of memory");
	w = s;
	for (int i = 0; i < d->n; i++) {
		const uint8_t *p = d->item[i].der;
		size_t left = d->item[i].len;

		memcpy(w, PEM_BEGIN, strlen(PEM_BEGIN));
		w += strlen(PEM_BEGIN);
		while (left > 0) {
			int take = left > 48 ? 48 : (int)left;

			w += EVP_EncodeBlock((unsigned char *)w, p, take);
			*w++ = '\n';
			p += take;
			left -= (size_t)take;
		}
		memcpy(w, PEM_END, strlen(PEM_END));
		w += strlen(PEM_END);
	}
	*w = '\0';
	*out = s;
	return SC_OK;
}

sc_err provd_ders_x509(struct provd_certcache *cache, const struct provd_ders *d,
    STACK_OF(X509) **out)
{
	STACK_OF(X509) *sk = NULL;
	X509 *x = NULL;
	sc_err r;

	*out = NULL;
	if ((sk = sk_X509_new_null()) == NULL)
		return sc_fail(SC_ERR_NOMEM, "out of memory");
	for (int i = 0; i < d->n; i++) {
		const struct provd_der *it = &d->item[i];

		r = provd_certcache_get(cache, it->der, it->len, &x);
		ERR_clear_error();
		if (r != SC_OK) {
			r = it->block > 0
			    ? sc_fail(PROVD_ERR_BAD_DER, "\"%s\": certificate %d: %s", d->field,
			          it->block, sc_err_detail())
			    : sc_fail(PROVD_ERR_BAD_DER, "\"%s\": %s", d->field, sc_err_detail());
			goto out;
		}
		if (!sk_X509_push(sk, x)) {
			r = sc_fail(SC_ERR_NOMEM, "out of memory");
			goto out;
		}
		x = NULL;
	}
	*out = sk;
	sk = NULL;
	r = SC_OK;
out:
	X509_free(x);
	sk_X509_pop_free(sk, X509_free);
	return r;
}

sc_err provd_ders_settle(struct provd_certcache *cache, const struct provd_ders *d, sc_err r)
{
	STACK_OF(X509) *sk = NULL;
	char detail[256];
	sc_err p;

	/* r's detail, kept across the parses (a parse that succeeds may fail on its way). */
	snprintf(detail, sizeof(detail), "%s", sc_err_detail());
	if ((p = provd_ders_x509(cache, d, &sk)) != SC_OK)
		return p;
	sk_X509_pop_free(sk, X509_free);
	return r == SC_OK ? SC_OK : sc_fail(r, "%s", detail);
}

sc_err provd_certs_from_text(struct provd_certcache *cache, const char *field, const char *s,
    size_t len, STACK_OF(X509) *sk, int max)
{
	struct provd_ders d;
	STACK_OF(X509) *got = NULL;
	int room = max - sk_X509_num(sk);
	sc_err r;

	memset(&d, 0, sizeof(d));
	d.field = field;
	if (room < 0 || room > PROVD_MAX_CHAIN) {
		r = sc_fail(SC_ERR_USAGE, "\"%s\": room for %d certificates", field, room);
		goto out;
	}
	if ((r = ders_from_text(&d, s, len, room)) != SC_OK) {
		r = provd_ders_settle(cache, &d, r);
		goto out;
	}
	if ((r = provd_ders_x509(cache, &d, &got)) != SC_OK)
		goto out;
	while (sk_X509_num(got) > 0) {
		X509 *x = sk_X509_shift(got);

		if (!sk_X509_push(sk, x)) {
			X509_free(x);
			r = sc_fail(SC_ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	r = SC_OK;
out:
	sk_X509_pop_free(got, X509_free);
	provd_ders_clear(&d);
	return r;
}

sc_err provd_json_ders(json_t *obj, const char *name, int multi, struct provd_ders *d)
{
	json_t *v = json_object_get(obj, name), *e;
	int max = multi ? PROVD_MAX_CHAIN : 1;
	size_t i;
	sc_err r;

	memset(d, 0, sizeof(*d));
	d->field = name;
	if (v == NULL)
		return sc_fail(PROVD_ERR_MISSING_FIELD, "field \"%s\" is required", name);
	if (!json_is_string(v) && !(multi && json_is_array(v)))
		return sc_fail(PROVD_ERR_WRONG_TYPE, "field \"%s\" must be a string%s", name,
		    multi ? " (PEM) or an array of strings" : " (PEM or base64 DER)");
	if (json_is_string(v))
		return ders_from_text(d, json_string_value(v), json_string_length(v), max);
	if (json_array_size(v) == 0 || json_array_size(v) > PROVD_MAX_CHAIN)
		return sc_fail(PROVD_ERR_BAD_VALUE, "\"%s\": 1..%d certificates", name,
		    PROVD_MAX_CHAIN);
	json_array_foreach (v, i, e) {
		if (!json_is_string(e))
			return sc_fail(PROVD_ERR_WRONG_TYPE, "\"%s\"[%zu] must be a string", name,
			    i);
		if ((r = ders_from_text(d, json_string_value(e), json_string_length(e), max)) !=
		    SC_OK)
			return r;
	}
	return SC_OK;
}

sc_err provd_json_certs(struct provd_certcache *cache, json_t *obj, const char *name, int multi,
    STACK_OF(X509) **out)
{
	struct provd_ders d;
	sc_err r;

	*out = NULL;
	if ((r = provd_json_ders(obj, name, multi, &d)) != SC_OK)
		r = provd_ders_settle(cache, &d, r);
	else
		r = provd_ders_x509(cache, &d, out);
	provd_ders_clear(&d);
	return r;
}
