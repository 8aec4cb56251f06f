/*
 * api.c — the provisioning API's handlers: route, bound and strictly decode the JSON body, check
 * the device (chain to the manufacturer root, matching KEK, registry state, rate), sign and
 * record a profile; verify and record a returned certificate; device status; revoke; health and
 * metrics. Every failure is one error answer {"error": code, "detail": …}; nothing here can
 * take the server down.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <selfcert/alg.h>
#include <selfcert/cert.h>
#include <selfcert/profile.h>
#include <selfcert/verify.h>
#include "api.h"
#include "certcache.h"
#include "file.h"
#include "keyopen.h"
#include "pem.h"
#include "profcache.h"
#include "text.h"

#define JSON_TYPE "application/json"
#define METRICS_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define DETAIL_MAX 240

/* ---- small pieces: JSON depth ---- */

int provd_json_depth(const uint8_t *p, size_t n)
{
	int depth = 0, max = 0, in_str = 0, esc = 0;

	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];
		if (in_str) {
			if (esc)
				esc = 0;
			else if (c == '\\')
				esc = 1;
			else if (c == '"')
				in_str = 0;
		} else if (c == '"') {
			in_str = 1;
		} else if (c == '[' || c == '{') {
			if (++depth > max)
				max = depth;
		} else if (c == ']' || c == '}') {
			depth--;
		}
	}
	return max;
}

/* ---- answers ---- */

void provd_response_clear(struct provd_response *resp)
{
	free(resp->body);
	resp->body = NULL;
	resp->body_len = 0;
}

/* Take ownership of j and make it the body. */
static void respond_json(struct provd_response *resp, int status, json_t *j)
{
	char *s = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	free(resp->body);
	resp->body = NULL;
	resp->content_type = JSON_TYPE;
	if (s == NULL) {
		static const char fallback[] = "{\"error\":\"internal\",\"detail\":\"cannot encode the answer\"}\n";
		resp->status = 500;
		resp->code = PROVD_E_INTERNAL;
		if ((resp->body = strdup(fallback)) != NULL)
			resp->body_len = strlen(fallback);
		return;
	}
	/* One line, newline-terminated, for people and line-oriented tools. */
	resp->status = status;
	resp->body_len = strlen(s);
	if ((resp->body = malloc(resp->body_len + 2)) == NULL) {
		resp->body = s;
		return;
	}
	memcpy(resp->body, s, resp->body_len);
	resp->body[resp->body_len++] = '\n';
	resp->body[resp->body_len] = '\0';
	free(s);
}

/* Printable ASCII only in details (they echo bits of the input). */
static void clean(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			*s = '?';
}

static void respond_error_status(struct provd_response *resp, int code, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void respond_error_status(struct provd_response *resp, int code, int status, const char *fmt, ...)
{
	char detail[DETAIL_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	clean(detail);
	respond_json(resp, status, json_pack("{s:s, s:s}", "error", provd_code_name(code), "detail", detail));
	resp->code = code;
	snprintf(resp->log + strlen(resp->log), sizeof(resp->log) - strlen(resp->log), "%s%s: %s",
	    resp->log[0] ? " " : "", provd_code_name(code), detail);
}

#define respond_error(resp, code, ...) respond_error_status(resp, code, provd_code_status(code), __VA_ARGS__)

void provd_api_error(struct provd_response *resp, int code, const char *detail)
{
	respond_error(resp, code, "%s", detail);
}

static void log_add(struct provd_response *resp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_add(struct provd_response *resp, const char *fmt, ...)
{
	size_t n = strlen(resp->log);
	va_list ap;

	if (n + 2 >= sizeof(resp->log))
		return;
	if (n > 0)
		resp->log[n++] = ' ';
	va_start(ap, fmt);
	vsnprintf(resp->log + n, sizeof(resp->log) - n, fmt, ap);
	va_end(ap);
	clean(resp->log);
}

static void time_str(int64_t t, char *out, size_t n)
{
	sc_format_time((time_t)t, out, n);
}

/* ---- request bodies ---- */

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

/*
 * The body as one JSON object with only the allowed keys. 0 (and an error answer) otherwise.
 * *out is the caller's (json_decref).
 */
static int parse_body(const struct provd_request *req, struct provd_response *resp,
    const char *const *allowed, json_t **out)
{
	json_error_t jerr;
	json_t *j;
	const char *key;
	json_t *v;

	*out = NULL;
	if (req->body_len > PROVD_MAX_BODY) {
		respond_error(resp, PROVD_E_BODY_TOO_LARGE, "request body of %zu bytes; at most %d", req->body_len,
		    PROVD_MAX_BODY);
		return 0;
	}
	if (!is_json_type(req->content_type)) {
		respond_error(resp, PROVD_E_MEDIA_TYPE, "Content-Type must be application/json, not '%.60s'",
		    req->content_type ? req->content_type : "(none)");
		return 0;
	}
	/* jansson has no depth limit of its own: bound the nesting before it parses. */
	if (provd_json_depth(req->body, req->body_len) > PROVD_JSON_MAX_DEPTH) {
		respond_error(resp, PROVD_E_JSON_TOO_DEEP, "JSON nested deeper than %d levels", PROVD_JSON_MAX_DEPTH);
		return 0;
	}
	j = json_loadb((const char *)req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (j == NULL) {
		respond_error(resp, PROVD_E_MALFORMED_JSON, "body is not JSON: %s (position %d)", jerr.text,
		    jerr.position);
		return 0;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		respond_error(resp, PROVD_E_MALFORMED_JSON, "body must be one JSON object");
		return 0;
	}
	json_object_foreach(j, key, v) {
		size_t i;
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(allowed[i], key) == 0)
				break;
		if (allowed[i] == NULL) {
			char k[48];
			snprintf(k, sizeof(k), "%s", key);
			json_decref(j);
			respond_error(resp, PROVD_E_UNKNOWN_FIELD, "unknown field \"%s\"", k);
			return 0;
		}
	}
	*out = j;
	return 1;
}

/* A string field: NULL (and no answer) if absent and optional; 0 with an error answer otherwise. */
static int get_string(json_t *obj, const char *name, int required, size_t max, const char **out,
    size_t *out_len, struct provd_response *resp)
{
	json_t *v = json_object_get(obj, name);

	*out = NULL;
	if (out_len != NULL)
		*out_len = 0;
	if (v == NULL) {
		if (!required)
			return 1;
		respond_error(resp, PROVD_E_MISSING_FIELD, "field \"%s\" is required", name);
		return 0;
	}
	if (!json_is_string(v)) {
		respond_error(resp, PROVD_E_WRONG_TYPE, "field \"%s\" must be a string", name);
		return 0;
	}
	if (json_string_length(v) > max || json_string_length(v) == 0) {
		respond_error(resp, PROVD_E_BAD_VALUE, "field \"%s\": %zu bytes, expected 1..%zu", name,
		    json_string_length(v), max);
		return 0;
	}
	*out = json_string_value(v);
	if (out_len != NULL)
		*out_len = json_string_length(v);
	return 1;
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
 * Certificates from one JSON string: PEM ("-----BEGIN CERTIFICATE-----", one or more blocks) or
 * base64 of one DER certificate. Each must be strict DER. Pushes onto sk (at most max in all).
 */
static int parse_cert_string(struct provd_certcache *cache, const char *field, const char *s, size_t len,
    STACK_OF(X509) *sk, int max, struct provd_response *resp)
{
	X509 *x = NULL;
	int ok = 0;

	/* PEM if it looks like PEM anywhere (then it must be nothing but PEM); else base64 DER. */
	if (memmem(s, len, "-----BEGIN", 10) != NULL) {
		BIO *bio = BIO_new_mem_buf(s, (int)len);
		char *name = NULL, *header = NULL;
		unsigned char *data = NULL;
		long dlen;
		int n = 0;

		if (!pem_only_blocks(s, len)) {
			BIO_free(bio);
			respond_error(resp, PROVD_E_BAD_DER, "\"%s\": text around or after the PEM blocks", field);
			return 0;
		}
		if (bio == NULL) {
			respond_error(resp, PROVD_E_INTERNAL, "out of memory");
			return 0;
		}
		while (PEM_read_bio(bio, &name, &header, &data, &dlen) == 1) {
			int is_cert = strcmp(name, "CERTIFICATE") == 0;
			sc_err r = is_cert ? provd_certcache_get(cache, data, (size_t)dlen, &x) : SC_ERR_MALFORMED;

			OPENSSL_free(name);
			OPENSSL_free(header);
			OPENSSL_free(data);
			name = header = NULL;
			data = NULL;
			if (!is_cert) {
				respond_error(resp, PROVD_E_BAD_DER, "\"%s\": PEM block %d is not a CERTIFICATE", field, n + 1);
				goto pem_out;
			}
			if (r != SC_OK) {
				respond_error(resp, PROVD_E_BAD_DER, "\"%s\": certificate %d: %s", field, n + 1,
				    sc_err_detail());
				goto pem_out;
			}
			if (sk_X509_num(sk) >= max) {
				respond_error(resp, PROVD_E_BAD_VALUE, "\"%s\": more than %d certificates", field, max);
				goto pem_out;
			}
			if (!sk_X509_push(sk, x)) {
				respond_error(resp, PROVD_E_INTERNAL, "out of memory");
				goto pem_out;
			}
			x = NULL;
			n++;
		}
		ERR_clear_error(); /* the loop ends on "no start line" */
		if (n == 0)
			respond_error(resp, PROVD_E_BAD_DER, "\"%s\": PEM without a readable certificate", field);
		else
			ok = 1;
pem_out:
		BIO_free(bio);
		X509_free(x);
		ERR_clear_error();
		return ok;
	}
	{
		uint8_t *der = NULL;
		size_t der_len;
		sc_err r;

		if (sc_base64_decode(s, len, 4 * (size_t)(PROVD_MAX_BODY / 3 + 1), &der, &der_len) != SC_OK) {
			respond_error(resp, PROVD_E_BAD_BASE64, "\"%s\": neither PEM nor base64: %s", field, sc_err_detail());
			return 0;
		}
		r = provd_certcache_get(cache, der, der_len, &x);
		OPENSSL_free(der);
		ERR_clear_error();
		if (r != SC_OK) {
			respond_error(resp, PROVD_E_BAD_DER, "\"%s\": %s", field, sc_err_detail());
			return 0;
		}
		if (sk_X509_num(sk) >= max) {
			X509_free(x);
			respond_error(resp, PROVD_E_BAD_VALUE, "\"%s\": more than %d certificates", field, max);
			return 0;
		}
		if (!sk_X509_push(sk, x)) {
			X509_free(x);
			respond_error(resp, PROVD_E_INTERNAL, "out of memory");
			return 0;
		}
		return 1;
	}
}

/* A certificate field: a string, or (multi) an array of strings. At least one certificate. */
static int get_certs(const struct provd_api *api, json_t *obj, const char *name, int multi, STACK_OF(X509) **out,
    struct provd_response *resp)
{
	json_t *v = json_object_get(obj, name);
	STACK_OF(X509) *sk = NULL;
	int max = multi ? PROVD_MAX_CHAIN : 1;

	*out = NULL;
	if (v == NULL) {
		respond_error(resp, PROVD_E_MISSING_FIELD, "field \"%s\" is required", name);
		return 0;
	}
	if ((sk = sk_X509_new_null()) == NULL) {
		respond_error(resp, PROVD_E_INTERNAL, "out of memory");
		return 0;
	}
	if (json_is_string(v)) {
		if (!parse_cert_string(api->certs, name, json_string_value(v), json_string_length(v), sk, max, resp))
			goto fail;
	} else if (multi && json_is_array(v)) {
		size_t i;
		json_t *e;
		if (json_array_size(v) == 0 || json_array_size(v) > PROVD_MAX_CHAIN) {
			respond_error(resp, PROVD_E_BAD_VALUE, "\"%s\": 1..%d certificates", name, PROVD_MAX_CHAIN);
			goto fail;
		}
		json_array_foreach(v, i, e) {
			if (!json_is_string(e)) {
				respond_error(resp, PROVD_E_WRONG_TYPE, "\"%s\"[%zu] must be a string", name, i);
				goto fail;
			}
			if (!parse_cert_string(api->certs, name, json_string_value(e), json_string_length(e), sk, max, resp))
				goto fail;
		}
	} else {
		respond_error(resp, PROVD_E_WRONG_TYPE, "field \"%s\" must be a string%s", name,
		    multi ? " (PEM) or an array of strings" : " (PEM or base64 DER)");
		goto fail;
	}
	*out = sk;
	return 1;
fail:
	sk_X509_pop_free(sk, X509_free);
	return 0;
}

/* ---- device checks ---- */

/* Path validation of cert to the manufacturer root with the untrusted intermediates. */
static int verify_path(const struct provd_api *api, X509 *cert, STACK_OF(X509) *untrusted, const char *what,
    STACK_OF(X509) **path, struct provd_response *resp)
{
	X509_STORE *own = NULL, *store = api->mfr_store;
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int ok = 0;

	*path = NULL;
	/* The store built at load (read-only, shared by the workers); one of our own otherwise. */
	if (store == NULL && ((store = own = X509_STORE_new()) == NULL || !X509_STORE_add_cert(own, api->mfr_root)))
		store = NULL;
	if (store == NULL || ctx == NULL || !X509_STORE_CTX_init(ctx, store, cert, untrusted) ||
	    sc_sig_cache_attach(ctx, api->sigs) != SC_OK) {
		respond_error(resp, PROVD_E_INTERNAL, "cannot set up path validation");
		goto out;
	}
	if (X509_verify_cert(ctx) != 1) {
		int e = X509_STORE_CTX_get_error(ctx);
		respond_error(resp, PROVD_E_CHAIN, "%s does not chain to the manufacturer root: %s (depth %d)", what,
		    X509_verify_cert_error_string(e), X509_STORE_CTX_get_error_depth(ctx));
		goto out;
	}
	if ((*path = X509_STORE_CTX_get1_chain(ctx)) == NULL) {
		respond_error(resp, PROVD_E_INTERNAL, "cannot read the verified chain");
		goto out;
	}
	ok = 1;
out:
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(own);
	return ok;
}

/*
 * The device: chain[0] is a device CA (CA, keyCertSign, serialNumber) that chains to the
 * manufacturer root through chain[1..]; the KEK has the same serialNumber, is not a CA, and was
 * issued by the very same manufacturer CA. device_id gets the ID.
 */
static int check_device(const struct provd_api *api, STACK_OF(X509) *chain, X509 *kex, char *device_id,
    size_t id_len, struct provd_response *resp)
{
	X509 *devca = sk_X509_value(chain, 0);
	STACK_OF(X509) *untrusted = NULL, *ca_path = NULL, *kex_path = NULL;
	char kex_id[SC_DEVICE_ID_MAX + 1];
	int ok = 0;

	if (X509_check_ca(devca) <= 0 || !(X509_get_key_usage(devca) & KU_KEY_CERT_SIGN) ||
	    sc_cert_device_id(devca, device_id, id_len) != SC_OK || !sc_device_id_valid(device_id)) {
		respond_error(resp, PROVD_E_NOT_DEVICE_CA, "\"chain\": the first certificate is not a device CA "
		    "(CA with keyCertSign and a serialNumber device ID)");
		goto out;
	}
	log_add(resp, "device=%s", device_id);
	if ((untrusted = sk_X509_dup(chain)) == NULL) {
		respond_error(resp, PROVD_E_INTERNAL, "out of memory");
		goto out;
	}
	(void)sk_X509_shift(untrusted);
	if (!verify_path(api, devca, untrusted, "the device CA", &ca_path, resp))
		goto out;
	if (sc_cert_device_id(kex, kex_id, sizeof(kex_id)) != SC_OK || strcmp(kex_id, device_id) != 0) {
		respond_error(resp, PROVD_E_KEK_MISMATCH, "\"kex\" is not device %s's key-exchange certificate "
		    "(subject serialNumber differs)", device_id);
		goto out;
	}
	if (X509_check_ca(kex) != 0) {
		respond_error(resp, PROVD_E_KEK_MISMATCH, "\"kex\" is a CA certificate, not a key-exchange certificate");
		goto out;
	}
	if (!verify_path(api, kex, untrusted, "the KEK certificate", &kex_path, resp))
		goto out;
	/* [0] is the certificate itself, [1] its issuer: the same manufacturer CA for both. */
	if (sk_X509_num(ca_path) < 2 || sk_X509_num(kex_path) < 2 ||
	    X509_cmp(sk_X509_value(ca_path, 1), sk_X509_value(kex_path, 1)) != 0) {
		respond_error(resp, PROVD_E_KEK_MISMATCH, "\"kex\" was issued by another CA than the device CA");
		goto out;
	}
	ok = 1;
out:
	sk_X509_free(untrusted);
	sk_X509_pop_free(ca_path, X509_free);
	sk_X509_pop_free(kex_path, X509_free);
	ERR_clear_error();
	return ok;
}

/* The registry's refusals and failures as answers. */
static void respond_registry(struct provd_response *resp, sc_err r, enum sc_reg_why why, int64_t retry_after)
{
	static const int code_of[] = {
		[SC_REG_WHY_NONE] = PROVD_E_INTERNAL,
		[SC_REG_WHY_UNKNOWN_DEVICE] = PROVD_E_UNKNOWN_DEVICE,
		[SC_REG_WHY_REVOKED] = PROVD_E_REVOKED,
		[SC_REG_WHY_RATE_LIMITED] = PROVD_E_RATE_LIMITED,
		[SC_REG_WHY_REPLAY] = PROVD_E_REPLAY,
		[SC_REG_WHY_PROFILE_UNKNOWN] = PROVD_E_PROFILE_UNKNOWN,
		[SC_REG_WHY_PROFILE_CONSUMED] = PROVD_E_PROFILE_CONSUMED,
		[SC_REG_WHY_DEVICE_MISMATCH] = PROVD_E_DEVICE_MISMATCH,
	};

	if (r == SC_ERR_DENIED && (unsigned)why < sizeof(code_of) / sizeof(code_of[0]) && why != SC_REG_WHY_NONE) {
		respond_error(resp, code_of[why], "%s", sc_err_detail());
		if (why == SC_REG_WHY_RATE_LIMITED)
			resp->retry_after = retry_after > 0 ? retry_after : 1;
	} else if (r == SC_ERR_IO) {
		respond_error(resp, PROVD_E_UNAVAILABLE, "registry: %s", sc_err_detail());
	} else {
		respond_error(resp, PROVD_E_INTERNAL, "registry: %s: %s", sc_err_name(r), sc_err_detail());
	}
}

static int64_t asn1_time(const ASN1_TIME *t)
{
	time_t v = 0;

	if (sc_asn1_time_to_time_t(t, &v) != SC_OK)
		return 0;
	return (int64_t)v;
}

/* ---- POST /v1/profiles ---- */

static void h_profiles(const struct provd_api *api, struct sc_reg *reg, const struct provd_request *req,
    struct provd_response *resp)
{
	static const char *const allowed[] = { "chain", "kex", "challenge", "alg", "server_keygen", NULL };
	const struct provd_policy *pol = &api->policy;
	json_t *body = NULL, *v;
	STACK_OF(X509) *chain = NULL, *kexs = NULL;
	X509 *devca, *kex;
	const char *challenge_hex = NULL, *alg_name = NULL;
	char device_id[SC_DEVICE_ID_MAX + 1], actor[SC_REG_ACTOR_MAX];
	char ids[SC_REG_ID_HEX_LEN + 1], t_nb[32], t_na[32], t_pna[32];
	uint8_t challenge[SC_CHALLENGE_MAX];
	size_t challenge_len = 0;
	int server_keygen = 0;
	enum sc_alg alg = pol->default_alg;
	enum sc_reg_why why;
	int64_t retry_after = 0, dev_nb, dev_na, now = (int64_t)time(NULL);
	const char *eku[SC_PROFILE_MAX_EKU + 1];
	struct sc_profile_params pp;
	struct sc_profile_info info;
	struct sc_profile *p = NULL;
	EVP_PKEY *server_key = NULL;
	uint8_t *der = NULL;
	size_t der_len = 0;
	char *der_b64 = NULL;
	struct sc_reg_profile_rec rec;
	BIO *pem = NULL;
	BUF_MEM *pem_mem = NULL;
	sc_err r;

	memset(&rec, 0, sizeof(rec));
	memset(&pp, 0, sizeof(pp));
	if (!parse_body(req, resp, allowed, &body))
		goto out;
	/* Every field's type and form first, then meaning. */
	if (!get_string(body, "challenge", 0, SC_REG_CHALLENGE_HEX_MAX, &challenge_hex, NULL, resp) ||
	    !get_string(body, "alg", 0, 16, &alg_name, NULL, resp))
		goto out;
	if ((v = json_object_get(body, "server_keygen")) != NULL) {
		if (!json_is_boolean(v)) {
			respond_error(resp, PROVD_E_WRONG_TYPE, "field \"server_keygen\" must be true or false");
			goto out;
		}
		server_keygen = json_is_true(v);
	}
	if (!get_certs(api, body, "chain", 1, &chain, resp) || !get_certs(api, body, "kex", 0, &kexs, resp))
		goto out;
	if (challenge_hex != NULL) {
		if (sc_unhex(challenge_hex, challenge, sizeof(challenge), &challenge_len) != SC_OK) {
			respond_error(resp, PROVD_E_BAD_HEX, "field \"challenge\": not hex");
			goto out;
		}
		if (challenge_len < SC_CHALLENGE_MIN) {
			respond_error(resp, PROVD_E_BAD_VALUE, "field \"challenge\": %zu bytes, expected %d..%d",
			    challenge_len, SC_CHALLENGE_MIN, SC_CHALLENGE_MAX);
			goto out;
		}
		/* Stored in lower case, so "AB" and "ab" are the same challenge for the replay check. */
		sc_hex(challenge, challenge_len, rec.challenge);
	}
	if (alg_name != NULL && sc_alg_from_name(alg_name, &alg) != SC_OK) {
		respond_error(resp, PROVD_E_BAD_VALUE, "field \"alg\": \"%s\" is not rsa2048 rsa3072 rsa4096 p256 "
		    "p384 ed25519", alg_name);
		goto out;
	}

	/* Policy. */
	if (!(pol->alg_mask & (1u << alg))) {
		respond_error(resp, PROVD_E_ALGORITHM, "algorithm %s is not allowed on network %s", sc_alg_name(alg),
		    api->network_id);
		goto out;
	}
	if (server_keygen && !pol->server_keygen) {
		respond_error(resp, PROVD_E_POLICY, "server key generation is off on network %s", api->network_id);
		goto out;
	}
	if (challenge_hex == NULL && pol->require_challenge) {
		respond_error(resp, PROVD_E_POLICY, "network %s requires an SP challenge (field \"challenge\")",
		    api->network_id);
		goto out;
	}

	/* The device. */
	devca = sk_X509_value(chain, 0);
	kex = sk_X509_value(kexs, 0);
	if (!check_device(api, chain, kex, device_id, sizeof(device_id), resp))
		goto out;
	if (server_keygen && EVP_PKEY_get_base_id(X509_get0_pubkey(kex)) != EVP_PKEY_RSA &&
	    EVP_PKEY_get_base_id(X509_get0_pubkey(kex)) != EVP_PKEY_EC) {
		respond_error(resp, PROVD_E_KEK_MISMATCH, "\"kex\": server key generation needs an RSA or EC KEK");
		goto out;
	}
	/* A refused device costs no signature: check the registry before signing (and again after). */
	if ((r = sc_reg_profile_precheck(reg, device_id, rec.challenge, &pol->rate, now, &why,
	    &retry_after)) != SC_OK) {
		respond_registry(resp, r, why, retry_after);
		goto out;
	}

	/* The leaf's validity: from now (less the clock skew) for the policy's lifetime, inside the CSK's. */
	dev_nb = asn1_time(X509_get0_notBefore(devca));
	dev_na = asn1_time(X509_get0_notAfter(devca));
	pp.not_before = (time_t)(now - PROVD_CLOCK_SKEW_S > dev_nb ? now - PROVD_CLOCK_SKEW_S : dev_nb);
	pp.not_after = (time_t)(now + pol->validity_s < dev_na ? now + pol->validity_s : dev_na);
	if (dev_na <= now + PROVD_CLOCK_SKEW_S) {
		respond_error(resp, PROVD_E_POLICY, "device %s's CA certificate expires too soon for a leaf", device_id);
		goto out;
	}
	pp.network_id = api->network_id;
	pp.device_id = device_id;
	pp.challenge = challenge_len > 0 ? challenge : NULL;
	pp.challenge_len = challenge_len;
	pp.profile_not_after = (time_t)(now + pol->profile_ttl_s);
	pp.cert_digest = pol->cert_digest;
	pp.key_usage = provd_policy_key_usage_for(pol, alg);
	for (size_t i = 0; i < pol->n_eku; i++)
		eku[i] = pol->eku[i];
	eku[pol->n_eku] = NULL;
	pp.eku = pol->n_eku > 0 ? eku : NULL;
	if (server_keygen) {
		/* Generated here, encrypted to the KEK inside sc_profile_create, freed (wiped) right after. */
		if ((r = sc_alg_keygen(alg, &server_key)) != SC_OK) {
			respond_error(resp, PROVD_E_INTERNAL, "key generation: %s", sc_err_detail());
			goto out;
		}
		pp.supplied_key = server_key;
		pp.kek_cert = kex;
	} else {
		pp.generate_alg = alg;
	}
	r = sc_profile_create(&pp, &p);
	EVP_PKEY_free(server_key);
	server_key = NULL;
	pp.supplied_key = NULL;
	if (r != SC_OK) {
		respond_error(resp, r == SC_ERR_USAGE ? PROVD_E_BAD_VALUE : PROVD_E_INTERNAL, "profile: %s",
		    sc_err_detail());
		goto out;
	}
	if ((r = sc_profile_sign(p, api->signer_key, api->signer, NULL, 0)) != SC_OK ||
	    (r = sc_profile_encode(p, &der, &der_len)) != SC_OK) {
		respond_error(resp, PROVD_E_INTERNAL, "signing the profile: %s", sc_err_detail());
		goto out;
	}
	sc_profile_get_info(p, &info);
	sc_hex(info.id, SC_PROFILE_ID_LEN, rec.profile_id);

	/* Record it (the registry checks device, rate and challenge again inside the transaction). */
	if ((pem = BIO_new(BIO_s_mem())) == NULL) {
		respond_error(resp, PROVD_E_INTERNAL, "out of memory");
		goto out;
	}
	for (int i = 0; i < sk_X509_num(chain); i++)
		if (!PEM_write_bio_X509(pem, sk_X509_value(chain, i))) {
			respond_error(resp, PROVD_E_INTERNAL, "encoding the chain");
			goto out;
		}
	if (BIO_write(pem, "", 1) != 1) {
		respond_error(resp, PROVD_E_INTERNAL, "out of memory");
		goto out;
	}
	BIO_get_mem_ptr(pem, &pem_mem);
	snprintf(rec.device_id, sizeof(rec.device_id), "%s", device_id);
	rec.origin = server_keygen ? SC_KEY_SERVER_SUPPLIED : SC_KEY_DEVICE_GENERATED;
	rec.alg = alg;
	rec.not_before = (int64_t)pp.not_before;
	rec.not_after = (int64_t)pp.not_after;
	rec.profile_not_after = (int64_t)pp.profile_not_after;
	rec.der = der;
	rec.der_len = der_len;
	rec.chain_pem = pem_mem->data;
	snprintf(actor, sizeof(actor), "api %s", req->peer ? req->peer : "?");
	r = sc_reg_profile_insert(reg, &rec, &pol->rate, now, actor, &why, &retry_after);
	rec.der = NULL;        /* borrowed */
	rec.chain_pem = NULL;
	if (r != SC_OK) {
		respond_registry(resp, r, why, retry_after);
		goto out;
	}
	provd_metrics_profile_issued(api->metrics, rec.origin);
	/* Kept decoded for the certificate request (profcache.h); a device-generated one only. */
	if (!server_keygen && api->profiles != NULL && provd_profcache_put(api->profiles, p) == SC_OK)
		p = NULL;
	if ((der_b64 = sc_base64_encode(der, der_len)) == NULL) {
		respond_error(resp, PROVD_E_INTERNAL, "out of memory");
		goto out;
	}
	snprintf(ids, sizeof(ids), "%s", rec.profile_id);
	time_str(rec.not_before, t_nb, sizeof(t_nb));
	time_str(rec.not_after, t_na, sizeof(t_na));
	time_str(rec.profile_not_after, t_pna, sizeof(t_pna));
	respond_json(resp, 201, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
	    "profile_id", ids, "profile", der_b64, "device_id", device_id, "network_id", api->network_id,
	    "key_origin", server_keygen ? "server" : "device", "alg", sc_alg_name(alg),
	    "not_before", t_nb, "not_after", t_na, "profile_not_after", t_pna));
	log_add(resp, "profile=%s origin=%s alg=%s", ids, server_keygen ? "server" : "device", sc_alg_name(alg));
out:
	EVP_PKEY_free(server_key);
	free(der_b64);
	OPENSSL_free(der);
	BIO_free(pem);
	sc_profile_free(p);
	sk_X509_pop_free(chain, X509_free);
	sk_X509_pop_free(kexs, X509_free);
	json_decref(body);
	OPENSSL_cleanse(&pp, sizeof(pp));
}

/* ---- POST /v1/certificates ---- */

/* 1 if t is inside x's validity period, as path validation judges it. */
static int valid_at(X509 *x, time_t t)
{
	return X509_cmp_time(X509_get0_notBefore(x), &t) < 0 && X509_cmp_time(X509_get0_notAfter(x), &t) > 0;
}

/* The chain the device sent with its profile request (stored PEM). */
static int stored_chain(const struct provd_api *api, const char *pem, STACK_OF(X509) **out,
    struct provd_response *resp)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	struct provd_response scratch;

	*out = NULL;
	memset(&scratch, 0, sizeof(scratch));
	if (sk == NULL ||
	    !parse_cert_string(api->certs, "stored chain", pem, strlen(pem), sk, PROVD_MAX_CHAIN, &scratch)) {
		sk_X509_pop_free(sk, X509_free);
		provd_response_clear(&scratch);
		respond_error(resp, PROVD_E_INTERNAL, "the registry's copy of the device chain is unreadable");
		return 0;
	}
	*out = sk;
	return 1;
}

static void h_certificates(const struct provd_api *api, struct sc_reg *reg, const struct provd_request *req,
    struct provd_response *resp)
{
	static const char *const allowed[] = { "certificate", NULL };
	json_t *body = NULL;
	STACK_OF(X509) *leafs = NULL, *chain = NULL;
	X509 *leaf;
	char device_id[SC_DEVICE_ID_MAX + 1], actor[SC_REG_ACTOR_MAX], t_nb[32], t_na[32];
	const char *networks[2] = { api->network_id, NULL };
	struct sc_issuance iss;
	struct sc_reg_profile_rec prec;
	struct sc_reg_cert_rec crec;
	struct sc_verify_opts opts;
	struct sc_profile *prof = NULL;
	const struct sc_profile *use = NULL;
	struct provd_profref *kept = NULL;
	uint8_t *der = NULL, md[EVP_MAX_MD_SIZE];
	unsigned md_len = 0;
	size_t der_len = 0;
	BIGNUM *bn = NULL;
	char *serial_hex = NULL;
	enum sc_reg_why why;
	int already = 0;
	time_t now = time(NULL);
	sc_err r;

	memset(&prec, 0, sizeof(prec));
	memset(&crec, 0, sizeof(crec));
	if (!parse_body(req, resp, allowed, &body) || !get_certs(api, body, "certificate", 0, &leafs, resp))
		goto out;
	leaf = sk_X509_value(leafs, 0);
	if (sc_cert_device_id(leaf, device_id, sizeof(device_id)) != SC_OK) {
		respond_error(resp, PROVD_E_BINDING, "the certificate's subject has no serialNumber (device ID)");
		goto out;
	}
	log_add(resp, "device=%s", device_id);
	if ((r = sc_issuance_get(leaf, &iss)) != SC_OK) {
		respond_error(resp, PROVD_E_BINDING, "id-sc-pe-issuance extension: %s: %s", sc_err_name(r),
		    sc_err_detail());
		goto out;
	}
	sc_hex(iss.profile_id, SC_PROFILE_ID_LEN, crec.profile_id);
	log_add(resp, "profile=%s", crec.profile_id);
	if ((r = sc_reg_profile_get(reg, crec.profile_id, &prec)) != SC_OK) {
		if (r == SC_ERR_NOT_FOUND)
			respond_error(resp, PROVD_E_PROFILE_UNKNOWN, "the certificate names profile %s, which this "
			    "server never issued", crec.profile_id);
		else
			respond_registry(resp, r, SC_REG_WHY_NONE, 0);
		goto out;
	}
	if (strcmp(prec.device_id, device_id) != 0) {
		respond_error(resp, PROVD_E_DEVICE_MISMATCH, "profile %s was issued to device %s, not %s",
		    crec.profile_id, prec.device_id, device_id);
		goto out;
	}
	/*
	 * What we issued: the object we built and signed if still kept for exactly the registry's
	 * bytes, else the registry's copy decoded as the SP decoded it. Then the chain the device
	 * showed us with its profile request.
	 */
	if (provd_profcache_get(api->profiles, prec.der, prec.der_len, &use, &kept) != SC_OK) {
		sc_err_clear();
		if ((r = sc_profile_decode(prec.der, prec.der_len, &prof)) != SC_OK) {
			respond_error(resp, PROVD_E_INTERNAL, "stored profile %s: %s", crec.profile_id, sc_err_detail());
			goto out;
		}
		use = prof;
	}
	if (!stored_chain(api, prec.chain_pem, &chain, resp))
		goto out;
	memset(&opts, 0, sizeof(opts));
	opts.mfr_root = api->mfr_root;
	opts.chain = chain;
	opts.allowed_networks = networks;
	opts.profile = use;
	opts.net_root = api->net_root;
	opts.at = now;
	/*
	 * A kept profile was built and signed by this process with api->signer: its signature, and
	 * its signer's chain to root.pem, EKU and key usage (proven at start, provd_api_load), cannot
	 * have changed; only time can, so the signer's and the root's validity now is checked here and
	 * the rest is not verified again. Every binding field is still compared, the profile's digest
	 * (of the registry's bytes) with the leaf's profileDigest first. A profile decoded from the
	 * registry (after a restart or an eviction) is checked in full.
	 */
	if (kept != NULL) {
		if (!valid_at(api->signer, now) || !valid_at(api->net_root, now)) {
			respond_error(resp, PROVD_E_BINDING, "%s: the profile signer's certificate or root.pem is "
			    "not valid now", sc_err_name(SC_ERR_UNTRUSTED_SIGNER));
			goto out;
		}
		opts.profile_trusted = 1;
	}
	/* The device CA and manufacturer CA signatures were verified with the profile request. */
	opts.sig_cache = api->sigs;
	if ((r = sc_verify_chain(leaf, &opts, NULL)) != SC_OK) {
		respond_error(resp, r == SC_ERR_CHAIN ? PROVD_E_CHAIN : PROVD_E_BINDING, "%s: %s", sc_err_name(r),
		    sc_err_detail());
		ERR_clear_error();
		goto out;
	}
	/* Record: fingerprint, serial, validity. */
	if (sc_cert_to_der(leaf, &der, &der_len) != SC_OK ||
	    !X509_digest(leaf, EVP_sha256(), md, &md_len) || md_len != 32 ||
	    (bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(leaf), NULL)) == NULL ||
	    (serial_hex = BN_bn2hex(bn)) == NULL || strlen(serial_hex) > SC_REG_SERIAL_HEX_MAX) {
		respond_error(resp, PROVD_E_INTERNAL, "encoding the certificate");
		goto out;
	}
	sc_hex(md, md_len, crec.fpr);
	for (char *c = serial_hex; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	snprintf(crec.serial, sizeof(crec.serial), "%s", serial_hex);
	snprintf(crec.device_id, sizeof(crec.device_id), "%s", device_id);
	crec.not_before = asn1_time(X509_get0_notBefore(leaf));
	crec.not_after = asn1_time(X509_get0_notAfter(leaf));
	crec.der = der;
	crec.der_len = der_len;
	snprintf(actor, sizeof(actor), "api %s", req->peer ? req->peer : "?");
	if ((r = sc_reg_cert_record(reg, &crec, (int64_t)time(NULL), actor, &why, &already)) != SC_OK) {
		respond_registry(resp, r, why, 0);
		goto out;
	}
	if (!already)
		provd_metrics_cert_registered(api->metrics);
	time_str(crec.not_before, t_nb, sizeof(t_nb));
	time_str(crec.not_after, t_na, sizeof(t_na));
	respond_json(resp, already ? 200 : 201, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
	    "status", already ? "already-registered" : "registered", "device_id", device_id,
	    "profile_id", crec.profile_id, "serial", crec.serial, "fingerprint", crec.fpr,
	    "not_before", t_nb, "not_after", t_na));
	log_add(resp, "serial=%s%s", crec.serial, already ? " (again)" : "");
out:
	OPENSSL_free(serial_hex);
	BN_free(bn);
	OPENSSL_free(der);
	sc_profile_free(prof);
	provd_profcache_release(api->profiles, kept);
	sc_reg_profile_rec_clear(&prec);
	sk_X509_pop_free(chain, X509_free);
	sk_X509_pop_free(leafs, X509_free);
	json_decref(body);
}

/* ---- GET /v1/devices/{id} ---- */

static void h_device(struct sc_reg *reg, const char *device_id, struct provd_response *resp)
{
	struct sc_reg_device d;
	char t_c[32], t_r[32], t_nb[32], t_na[32], t_reg[32];
	json_t *j, *cert = NULL;
	sc_err r;

	if (!sc_device_id_valid(device_id)) {
		respond_error(resp, PROVD_E_BAD_VALUE, "device ID in the path: 1..64 PrintableString characters");
		return;
	}
	log_add(resp, "device=%s", device_id);
	if ((r = sc_reg_device_get(reg, device_id, &d)) != SC_OK) {
		if (r == SC_ERR_NOT_FOUND)
			respond_error_status(resp, PROVD_E_UNKNOWN_DEVICE, 404, "device %s is not registered", device_id);
		else
			respond_registry(resp, r, SC_REG_WHY_NONE, 0);
		return;
	}
	time_str(d.created_at, t_c, sizeof(t_c));
	if (d.has_cert) {
		time_str(d.cert_not_before, t_nb, sizeof(t_nb));
		time_str(d.cert_not_after, t_na, sizeof(t_na));
		time_str(d.cert_registered_at, t_reg, sizeof(t_reg));
		cert = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "serial", d.cert_serial, "fingerprint", d.cert_fpr,
		    "profile_id", d.cert_profile_id, "not_before", t_nb, "not_after", t_na, "registered_at", t_reg);
	}
	j = json_pack("{s:s, s:s, s:s, s:I, s:I, s:o}", "device_id", d.device_id,
	    "status", sc_reg_dev_status_name(d.status), "activated_at", t_c, "profiles_issued", (json_int_t)d.n_profiles,
	    "certificates_registered", (json_int_t)d.n_certs, "certificate", cert != NULL ? cert : json_null());
	if (j != NULL && d.status == SC_REG_DEV_REVOKED) {
		time_str(d.revoked_at, t_r, sizeof(t_r));
		json_object_set_new(j, "revoked_at", json_string(t_r));
		json_object_set_new(j, "revocation_reason", json_string(d.revoke_reason));
	}
	respond_json(resp, 200, j);
}

/* ---- POST /v1/devices/{id}/revoke (operator) ---- */

static int admin_ok(const struct provd_api *api, const struct provd_request *req, struct provd_response *resp)
{
	uint8_t h[32];
	const char *a = req->authorization;
	size_t n;

	if (!api->admin_enabled) {
		respond_error(resp, PROVD_E_ADMIN_DISABLED, "operator endpoints are off (start the server with "
		    "--admin-token-file)");
		return 0;
	}
	if (a == NULL || strncasecmp(a, "Bearer ", 7) != 0 || (n = strlen(a + 7)) == 0 || n > PROVD_ADMIN_TOKEN_MAX) {
		respond_error(resp, PROVD_E_UNAUTHORIZED, "operator endpoint: send Authorization: Bearer <token>");
		return 0;
	}
	/* Compare digests in constant time: neither the token nor its length leaks. */
	if (!EVP_Digest(a + 7, n, h, NULL, EVP_sha256(), NULL) ||
	    CRYPTO_memcmp(h, api->admin_token_hash, sizeof(h)) != 0) {
		respond_error(resp, PROVD_E_UNAUTHORIZED, "operator endpoint: wrong bearer token");
		return 0;
	}
	return 1;
}

static void h_revoke(const struct provd_api *api, struct sc_reg *reg, const struct provd_request *req,
    const char *device_id, struct provd_response *resp)
{
	static const char *const allowed[] = { "reason", NULL };
	json_t *body = NULL;
	const char *reason = NULL;
	char actor[SC_REG_ACTOR_MAX];
	int already = 0;
	sc_err r;

	if (!admin_ok(api, req, resp))
		return;
	if (!sc_device_id_valid(device_id)) {
		respond_error(resp, PROVD_E_BAD_VALUE, "device ID in the path: 1..64 PrintableString characters");
		return;
	}
	log_add(resp, "device=%s", device_id);
	if (req->body_len > 0 &&
	    (!parse_body(req, resp, allowed, &body) ||
	     !get_string(body, "reason", 0, SC_REG_NOTE_MAX, &reason, NULL, resp)))
		goto out;
	snprintf(actor, sizeof(actor), "api %s", req->peer ? req->peer : "?");
	if ((r = sc_reg_device_revoke(reg, device_id, reason, actor, (int64_t)time(NULL), &already)) != SC_OK) {
		if (r == SC_ERR_NOT_FOUND)
			respond_error_status(resp, PROVD_E_UNKNOWN_DEVICE, 404, "device %s is not registered", device_id);
		else
			respond_registry(resp, r, SC_REG_WHY_NONE, 0);
		goto out;
	}
	respond_json(resp, 200, json_pack("{s:s, s:s, s:b}", "device_id", device_id, "status", "revoked",
	    "already_revoked", already));
	log_add(resp, "revoked%s", already ? " (already)" : "");
out:
	json_decref(body);
}

/* ---- health and metrics ---- */

static void h_healthz(const struct provd_api *api, struct sc_reg *reg, struct provd_response *resp)
{
	int v = sc_reg_schema_version(reg);

	if (v != SC_REG_SCHEMA_VERSION) {
		respond_error(resp, PROVD_E_UNAVAILABLE, "registry not usable (schema %d)", v);
		return;
	}
	respond_json(resp, 200, json_pack("{s:s, s:s, s:i}", "status", "ok", "network_id", api->network_id,
	    "schema", v));
}

static void h_metrics(const struct provd_api *api, struct sc_reg *reg, struct provd_response *resp)
{
	struct sc_reg_counts counts;
	int have = sc_reg_counts(reg, &counts) == SC_OK;

	if (api->metrics == NULL ||
	    provd_metrics_render(api->metrics, have ? &counts : NULL, &resp->body, &resp->body_len) != SC_OK) {
		respond_error(resp, PROVD_E_INTERNAL, "metrics: %s", sc_err_detail());
		return;
	}
	resp->status = 200;
	resp->content_type = METRICS_TYPE;
}

/* ---- routing ---- */

static int method_is(const struct provd_request *req, const char *m)
{
	return req->method != NULL && strcmp(req->method, m) == 0;
}

static void wrong_method(struct provd_response *resp, int get, int post)
{
	resp->allow_get = get;
	resp->allow_post = post;
	respond_error(resp, PROVD_E_METHOD, "this endpoint answers %s", get ? "GET" : "POST");
}

void provd_api_handle(const struct provd_api *api, struct sc_reg *reg, const struct provd_request *req,
    struct provd_response *resp)
{
	static const char devices[] = "/v1/devices/", revoke[] = "/revoke";
	const char *path = req->path != NULL ? req->path : "";
	size_t plen = strlen(path);

	memset(resp, 0, sizeof(*resp));
	resp->code = -1;
	resp->endpoint = PROVD_EP_OTHER;
	sc_err_clear();
	if (strcmp(path, "/healthz") == 0) {
		resp->endpoint = PROVD_EP_HEALTHZ;
		if (method_is(req, "GET"))
			h_healthz(api, reg, resp);
		else
			wrong_method(resp, 1, 0);
	} else if (strcmp(path, "/metrics") == 0) {
		resp->endpoint = PROVD_EP_METRICS;
		if (method_is(req, "GET"))
			h_metrics(api, reg, resp);
		else
			wrong_method(resp, 1, 0);
	} else if (strcmp(path, "/v1/profiles") == 0) {
		resp->endpoint = PROVD_EP_PROFILES;
		if (method_is(req, "POST"))
			h_profiles(api, reg, req, resp);
		else
			wrong_method(resp, 0, 1);
	} else if (strcmp(path, "/v1/certificates") == 0) {
		resp->endpoint = PROVD_EP_CERTIFICATES;
		if (method_is(req, "POST"))
			h_certificates(api, reg, req, resp);
		else
			wrong_method(resp, 0, 1);
	} else if (plen > sizeof(devices) - 1 && strncmp(path, devices, sizeof(devices) - 1) == 0) {
		char id[SC_DEVICE_ID_MAX + sizeof(revoke) + 1];
		const char *rest = path + sizeof(devices) - 1;
		size_t rlen = strlen(rest);

		if (rlen >= sizeof(id)) {
			respond_error(resp, PROVD_E_NOT_FOUND, "no such endpoint (device ID too long)");
		} else if (method_is(req, "POST") && rlen > sizeof(revoke) - 1 &&
		    strcmp(rest + rlen - (sizeof(revoke) - 1), revoke) == 0) {
			resp->endpoint = PROVD_EP_REVOKE;
			snprintf(id, sizeof(id), "%.*s", (int)(rlen - (sizeof(revoke) - 1)), rest);
			h_revoke(api, reg, req, id, resp);
		} else if (method_is(req, "GET")) {
			resp->endpoint = PROVD_EP_DEVICE;
			snprintf(id, sizeof(id), "%s", rest);
			h_device(reg, id, resp);
		} else {
			resp->endpoint = PROVD_EP_DEVICE;
			wrong_method(resp, 1, 0);
		}
	} else {
		respond_error(resp, PROVD_E_NOT_FOUND, "no such endpoint");
	}
	if (resp->code >= 0 && resp->status != 500 && resp->status != 503)
		provd_metrics_refusal(api->metrics, resp->code);
	ERR_clear_error();
}

/* ---- start-up ---- */

static sc_err subject_o(X509 *cert, char *out, size_t out_len)
{
	const X509_NAME *name = X509_get_subject_name(cert);
	unsigned char *u = NULL;
	int i = X509_NAME_get_index_by_NID(name, NID_organizationName, -1), n;

	if (i < 0 || (n = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)))) <= 0 ||
	    (size_t)n >= out_len || memchr(u, '\0', (size_t)n) != NULL) {
		OPENSSL_free(u);
		return sc_fail(SC_ERR_MALFORMED, "no network ID (subject O of 1..%zu bytes)", out_len - 1);
	}
	memcpy(out, u, (size_t)n);
	out[n] = '\0';
	OPENSSL_free(u);
	return SC_OK;
}

sc_err provd_api_load(struct provd_api *api, const char *net_dir, const char *mfr_root_path)
{
	sc_err r = SC_ERR_INTERNAL;
	char path[4096];
	struct sc_profile_params pp;
	struct sc_profile *p = NULL;
	time_t now = time(NULL);
	static const uint8_t probe_challenge[SC_CHALLENGE_MIN] = { 0 };

	if ((r = sc_load_cert(mfr_root_path, &api->mfr_root)) != SC_OK)
		return r;
	/* Built once: every device check validates to the same anchor. */
	if ((api->mfr_store = X509_STORE_new()) == NULL || !X509_STORE_add_cert(api->mfr_store, api->mfr_root))
		return sc_fail_ossl(SC_ERR_NOMEM, "the manufacturer root's trust store");
	if ((r = provd_certcache_new(PROVD_CERTCACHE_DEFAULT, &api->certs)) != SC_OK ||
	    (r = sc_sig_cache_new(PROVD_SIGCACHE_DEFAULT, &api->sigs)) != SC_OK ||
	    (r = provd_profcache_new(PROVD_PROFCACHE_DEFAULT, &api->profiles)) != SC_OK)
		return r;
#define NETFILE(name) (snprintf(path, sizeof(path), "%s/%s", net_dir, name) < (int)sizeof(path) ? path : "")
	if ((r = sc_load_cert(NETFILE("root.pem"), &api->net_root)) != SC_OK ||
	    (r = sc_load_cert(NETFILE("signer.pem"), &api->signer)) != SC_OK ||
	    (r = sc_key_open(NETFILE("signer.key"), &api->signer_key)) != SC_OK)
		return r;
	if ((r = subject_o(api->signer, api->network_id, sizeof(api->network_id))) != SC_OK)
		return sc_fail(r, "%s: %s", NETFILE("signer.pem"), sc_err_detail());
#undef NETFILE
	if (X509_check_private_key(api->signer, api->signer_key) != 1) {
		ERR_clear_error();
		return sc_fail(SC_ERR_KEY_MISMATCH, "%s/signer.key does not belong to signer.pem", net_dir);
	}
	/*
	 * Prove the setup once at start: a throw-away profile signed with the signer must verify
	 * against the network root, as every device will check it.
	 */
	memset(&pp, 0, sizeof(pp));
	pp.network_id = api->network_id;
	pp.device_id = "start-up-check";
	pp.challenge = probe_challenge;
	pp.challenge_len = sizeof(probe_challenge);
	pp.profile_not_after = now + 60;
	pp.not_before = now;
	pp.not_after = now + 60;
	pp.generate_alg = SC_ALG_P256;
	if ((r = sc_profile_create(&pp, &p)) != SC_OK ||
	    (r = sc_profile_sign(p, api->signer_key, api->signer, NULL, 0)) != SC_OK ||
	    (r = sc_profile_verify_signature(p, api->net_root, now)) != SC_OK)
		r = sc_fail(r, "%s: the profile signer does not work with root.pem: %s", net_dir, sc_err_detail());
	sc_profile_free(p);
	ERR_clear_error();
	return r;
}

sc_err provd_api_set_admin_token(struct provd_api *api, const char *path)
{
	uint8_t *data = NULL;
	size_t len = 0, read_len;
	sc_err r;

	if ((r = sc_file_read(path, PROVD_ADMIN_TOKEN_MAX + 2, &data, &len)) != SC_OK)
		return r;
	read_len = len;
	while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
		len--;
	r = SC_OK;
	if (len < PROVD_ADMIN_TOKEN_MIN || len > PROVD_ADMIN_TOKEN_MAX)
		r = sc_fail(SC_ERR_USAGE, "%s: token of %zu bytes; expected %d..%d", path, len, PROVD_ADMIN_TOKEN_MIN,
		    PROVD_ADMIN_TOKEN_MAX);
	for (size_t i = 0; r == SC_OK && i < len; i++)
		if (data[i] <= 0x20 || data[i] > 0x7e)
			r = sc_fail(SC_ERR_USAGE, "%s: the token must be printable ASCII without spaces", path);
	if (r == SC_OK && !EVP_Digest(data, len, api->admin_token_hash, NULL, EVP_sha256(), NULL))
		r = sc_fail_ossl(SC_ERR_INTERNAL, "SHA-256");
	if (r == SC_OK)
		api->admin_enabled = 1;
	sc_free_secret(data, read_len);
	return r;
}

void provd_api_free(struct provd_api *api)
{
	X509_STORE_free(api->mfr_store);
	provd_certcache_free(api->certs);
	sc_sig_cache_free(api->sigs);
	provd_profcache_free(api->profiles);
	X509_free(api->mfr_root);
	X509_free(api->net_root);
	X509_free(api->signer);
	EVP_PKEY_free(api->signer_key);
	OPENSSL_cleanse(api->admin_token_hash, sizeof(api->admin_token_hash));
	api->mfr_store = NULL;
	api->certs = NULL;
	api->sigs = NULL;
	api->profiles = NULL;
	api->mfr_root = api->net_root = api->signer = NULL;
	api->signer_key = NULL;
	api->admin_enabled = 0;
}
