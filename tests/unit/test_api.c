// SPDX-License-Identifier: Apache-2.0
/*
 * test_api.c — the provisioning API without HTTP: real certificates (the test world of
 * tests/testlib), a real registry file, real signing. Every error code with its HTTP status for
 * malformed bodies (JSON, types, base64, DER, size, content type, depth), every refusal of a
 * device (not a device CA, wrong manufacturer, KEK of another device or CA, unknown, revoked,
 * replay, rate, policy), both embodiments end to end (the server-generated key really decrypts
 * with the KEK), returned certificates (registered, idempotent, consumed, never issued, not
 * matching), device status, revoke with the operator token, health and metrics.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <time.h>
#include <jansson.h>
#include <sqlite3.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <selfcert/alg.h>
#include <selfcert/cert.h>
#include <selfcert/profile.h>
#include "api.h"
#include "json.h"
#include "respond.h"
#include <selfcert/proof.h>
#include "policy.h"
#include "apierr.h"
#include "text.h"
#include "pem.h"
#include "testutil.h"
#include "testworld.h"
#include "leafrefs.h"
#include "auditlim.h"
#include "fast/fast.h"
#include "fast/leaf_ref.h"
#include "fast/profile_signer.h"
#include <selfcert/oid.h>

#define TOKEN "operator-token-0123456789abcdef"

struct dev {
	const char *id;
	EVP_PKEY *csk, *kek;
	X509 *ca, *kex;
	X509 *issuer; /* the manufacturer CA that made ca */
};

static char dir[512], db[600];
/* The test world (tests/testlib) of manufacturer Acme and network netA, and another
 * manufacturer's, whose network root says netA too: what a forger would sign with. */
static struct sc_test_world acme, other;
static EVP_PKEY *mfr_ca2_key;
static X509 *mfr_ca2; /* Acme's second CA, under the same root */
static X509 *mfr_root, *mfr_ca, *net_root, *signer, *rogue_signer; /* the worlds' */
static EVP_PKEY *signer_key;
static struct dev dev_a = { .id = "DEV-A" }, dev_b = { .id = "DEV-B" }, dev_r = { .id = "DEV-R" },
                  dev_u = { .id = "DEV-U" };
static struct dev dev_o = { .id = "DEV-O" }, dev_k = { .id = "DEV-K" };
static struct provd_api api;
static struct sc_reg *reg;

static EVP_PKEY *keygen(enum sc_alg alg)
{
	EVP_PKEY *k = NULL;

	assert_int_equal(sc_alg_keygen(alg, &k), SC_OK);
	return k;
}

/* A device CA under w's manufacturer CA, its KEK certificate under kex_w's. */
static void make_dev(struct dev *d, const struct sc_test_world *w,
    const struct sc_test_world *kex_w)
{
	d->csk = keygen(SC_ALG_P256);
	d->kek = keygen(SC_ALG_P256);
	assert_int_equal(sc_test_world_device_ca(w, d->csk, d->id, &d->ca), SC_OK);
	assert_int_equal(sc_test_world_kek(kex_w, d->kek, d->id, &d->kex), SC_OK);
	d->issuer = w->mfr_ca;
}

static void free_dev(struct dev *d)
{
	EVP_PKEY_free(d->csk);
	EVP_PKEY_free(d->kek);
	X509_free(d->ca);
	X509_free(d->kex);
}

static int group_setup(void **state)
{
	struct sc_test_world_opts ao = { .mfr = "Acme",
		.network_id = "netA",
		.device_id = "DEV-A" };
	struct sc_test_world_opts oo = { .mfr = "Other",
		.network_id = "netA",
		.device_id = "DEV-O" };
	struct sc_test_world acme2;
	char path[700];
	FILE *f;

	(void)state;
	snprintf(dir, sizeof(dir), "%s", sc_test_tmpdir());
	snprintf(db, sizeof(db), "%s/reg.db", dir);
	assert_int_equal(sc_test_world_make(&ao, &acme), SC_OK);
	assert_int_equal(sc_test_world_make(&oo, &other), SC_OK);
	assert_int_equal(sc_test_world_mfr_ca(&acme, "Acme Two", &mfr_ca2_key, &mfr_ca2), SC_OK);
	acme2 = acme; /* Acme certifying with its second CA (a borrowed copy: not freed) */
	acme2.mfr_ca = mfr_ca2;
	acme2.mfr_ca_key = mfr_ca2_key;
	mfr_root = acme.mfr_root;
	mfr_ca = acme.mfr_ca;
	net_root = acme.net_root;
	signer = acme.signer;
	signer_key = acme.signer_key;
	rogue_signer = other.signer;
	make_dev(&dev_a, &acme, &acme);
	make_dev(&dev_b, &acme, &acme);
	make_dev(&dev_r, &acme, &acme);
	make_dev(&dev_u, &acme, &acme);
	make_dev(&dev_o, &other, &other);
	make_dev(&dev_k, &acme, &acme2); /* KEK from the other CA */

	snprintf(path, sizeof(path), "%s/root.pem", dir);
	assert_int_equal(sc_write_cert(path, net_root), SC_OK);
	snprintf(path, sizeof(path), "%s/signer.pem", dir);
	assert_int_equal(sc_write_cert(path, signer), SC_OK);
	snprintf(path, sizeof(path), "%s/signer.key", dir);
	assert_int_equal(sc_write_key(path, signer_key), SC_OK);
	snprintf(path, sizeof(path), "%s/mfr-root.pem", dir);
	assert_int_equal(sc_write_cert(path, mfr_root), SC_OK);
	memset(&api, 0, sizeof(api));
	provd_policy_defaults(&api.policy);
	api.policy.server_keygen = 1;
	api.policy.rate.max = 1000;
	api.policy.unauth_rate.max = 1000;
	assert_int_equal(provd_api_load(&api, dir, path), SC_OK);
	assert_string_equal(api.network_id, "netA");
	assert_int_equal(provd_metrics_new(&api.metrics), SC_OK);
	snprintf(path, sizeof(path), "%s/token", dir);
	assert_non_null(f = fopen(path, "w"));
	fprintf(f, "%s\n", TOKEN);
	fclose(f);
	/* A token open to group or others is refused, on the descriptor that is read. */
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(provd_api_set_admin_token(&api, path), SC_ERR_IO);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(provd_api_set_admin_token(&api, path), SC_OK);

	assert_int_equal(sc_reg_open(db, 1, &reg), SC_OK);
	assert_int_equal(sc_reg_device_add(reg, "DEV-A", NULL, "t", time(NULL)), SC_OK);
	assert_int_equal(sc_reg_device_add(reg, "DEV-B", NULL, "t", time(NULL)), SC_OK);
	assert_int_equal(sc_reg_device_add(reg, "DEV-R", NULL, "t", time(NULL)), SC_OK);
	assert_int_equal(sc_reg_device_add(reg, "DEV-O", NULL, "t", time(NULL)), SC_OK);
	assert_int_equal(sc_reg_device_add(reg, "DEV-K", NULL, "t", time(NULL)), SC_OK);
	{
		int already;
		assert_int_equal(sc_reg_device_revoke(reg, "DEV-R", "test", "t", time(NULL),
		                     &already),
		    SC_OK);
	}
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	sc_reg_close(reg);
	provd_metrics_free(api.metrics);
	provd_api_free(&api);
	free_dev(&dev_a);
	free_dev(&dev_b);
	free_dev(&dev_r);
	free_dev(&dev_u);
	free_dev(&dev_o);
	free_dev(&dev_k);
	EVP_PKEY_free(mfr_ca2_key);
	X509_free(mfr_ca2);
	sc_test_world_free(&acme);
	sc_test_world_free(&other);
	sc_test_rmdir(dir);
	return 0;
}

/* ---- helpers ---- */

static char *pem_of(X509 *a, X509 *b, X509 *c)
{
	BIO *bio = BIO_new(BIO_s_mem());
	BUF_MEM *mem;
	char *out;

	assert_non_null(bio);
	if (a)
		assert_true(PEM_write_bio_X509(bio, a));
	if (b)
		assert_true(PEM_write_bio_X509(bio, b));
	if (c)
		assert_true(PEM_write_bio_X509(bio, c));
	BIO_get_mem_ptr(bio, &mem);
	out = malloc(mem->length + 1);
	memcpy(out, mem->data, mem->length);
	out[mem->length] = '\0';
	BIO_free(bio);
	return out;
}

static char *b64_of_cert(X509 *x)
{
	uint8_t *der = NULL;
	size_t len;
	char *s;

	assert_int_equal(sc_cert_to_der(x, &der, &len), SC_OK);
	s = sc_base64_encode(der, len);
	OPENSSL_free(der);
	return s;
}

/* The client address of the requests call() makes (the unauthenticated budget's key). */
static const char *peer = "test";

static void call(const char *method, const char *path, const char *ctype, const char *body,
    size_t len, const char *auth, struct provd_response *resp)
{
	struct provd_request req;

	memset(&req, 0, sizeof(req));
	req.method = method;
	req.path = path;
	req.content_type = ctype;
	req.authorization = auth;
	req.body = (const uint8_t *)(body ? body : "");
	req.body_len = body ? len : 0;
	req.peer = peer;
	provd_api_handle(&api, reg, &req, resp);
}

/*
 * The answer must have this status and (for errors) this code; returns the parsed JSON body
 * (the caller's).
 */
static json_t *expect(struct provd_response *resp, int status, const char *code, const char *where)
{
	json_error_t err;
	json_t *j;

	if (resp->status != status)
		fail_msg("%s: status %d, expected %d: %.*s", where, resp->status, status,
		    (int)resp->body_len, resp->body);
	j = json_loadb(resp->body, resp->body_len, 0, &err);
	if (j == NULL)
		fail_msg("%s: answer is not JSON: %.*s", where, (int)resp->body_len, resp->body);
	assert_string_equal(resp->content_type, "application/json");
	if (code != NULL) {
		json_t *e = json_object_get(j, "error");
		if (!json_is_string(e) || strcmp(json_string_value(e), code) != 0)
			fail_msg("%s: error %s, expected %s: %.*s", where,
			    json_is_string(e) ? json_string_value(e) : "(none)", code,
			    (int)resp->body_len, resp->body);
		assert_true(json_is_string(json_object_get(j, "detail")));
		assert_int_equal(json_object_size(j), 2);
	}
	provd_response_clear(resp);
	return j;
}

/* POST JSON text to path and check the outcome. */
static json_t *post(const char *path, const char *body, int status, const char *code,
    const char *where)
{
	struct provd_response resp;

	call("POST", path, "application/json", body, strlen(body), NULL, &resp);
	return expect(&resp, status, code, where);
}

static void challenge_hex(char out[65])
{
	uint8_t ch[32];

	assert_int_equal(RAND_bytes(ch, sizeof(ch)), 1);
	sc_hex(ch, sizeof(ch), out);
}

/* A profile request for d (chain devca + its CA), as JSON text (the caller's). */
static char *profile_body(const struct dev *d, const char *alg, int server_keygen,
    const char *challenge)
{
	char *chain = pem_of(d->ca, d->issuer, NULL), *kex = pem_of(d->kex, NULL, NULL), *s;
	char ch[65];
	json_t *j;

	if (challenge == NULL) {
		challenge_hex(ch);
		challenge = ch;
	}
	j = json_pack("{s:s, s:s, s:s}", "chain", chain, "kex", kex, "challenge", challenge);
	if (alg)
		json_object_set_new(j, "alg", json_string(alg));
	if (server_keygen)
		json_object_set_new(j, "server_keygen", json_true());
	s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	free(chain);
	free(kex);
	return s;
}

/* The profile in a 201 answer, decoded. */
static struct sc_profile *profile_of(json_t *j)
{
	const char *b64 = json_string_value(json_object_get(j, "profile"));
	uint8_t *der = NULL;
	size_t len;
	struct sc_profile *p = NULL;

	assert_non_null(b64);
	assert_int_equal(sc_base64_decode(b64, strlen(b64), 1 << 20, &der, &len), SC_OK);
	assert_int_equal(sc_profile_decode(der, len, &p), SC_OK);
	OPENSSL_free(der);
	return p;
}

/* What the device's SP would do: issue a leaf for p with a fresh key (or the supplied one). */
static X509 *issue_leaf(const struct dev *d, const struct sc_profile *p)
{
	struct sc_profile_info info;
	EVP_PKEY *key = NULL;
	X509 *leaf = NULL;
	static uint64_t counter;

	sc_profile_get_info(p, &info);
	if (info.origin == SC_KEY_SERVER_SUPPLIED)
		assert_int_equal(sc_profile_unwrap_key(p, d->kek, d->kex, &key), SC_OK);
	else
		key = keygen(info.alg);
	assert_int_equal(sc_cert_issue_leaf(p, key, d->ca, d->csk, ++counter, &leaf), SC_OK);
	EVP_PKEY_free(key);
	return leaf;
}

static char *cert_body(X509 *leaf, int as_b64)
{
	char *c = as_b64 ? b64_of_cert(leaf) : pem_of(leaf, NULL, NULL), *s;
	json_t *j = json_pack("{s:s}", "certificate", c);

	s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	free(c);
	return s;
}

/* ---- tests ---- */

static void test_error_table(void **state)
{
	size_t n;
	const struct provd_apierr *t = provd_apierr_table(&n);
	int reached[PROVD_E_COUNT] = { 0 };

	(void)state;
	for (int i = 0; i < PROVD_E_COUNT; i++) {
		assert_true(strcmp(provd_code_name(i), "internal") != 0 || i == PROVD_E_INTERNAL);
		for (int k = 0; k < i; k++)
			assert_string_not_equal(provd_code_name(i), provd_code_name(k));
	}
	assert_string_equal(provd_code_name(-1), "internal");
	assert_string_equal(provd_code_name(PROVD_E_COUNT), "internal");
	/* The table: every row an error status, no sc_err twice, every code reachable. */
	for (size_t i = 0; i < n; i++) {
		assert_true(t[i].status >= 400 && t[i].status <= 599);
		assert_true((int)t[i].code >= 0 && t[i].code < PROVD_E_COUNT);
		assert_ptr_equal(provd_apierr_find(t[i].err), &t[i]);
		reached[t[i].code] = 1;
	}
	for (int i = 0; i < PROVD_E_COUNT; i++)
		if (!reached[i])
			fail_msg("API code %s has no row in apierr.c", provd_code_name(i));
	/* The registry's refusals answer with the names they have as sc_err. */
	{
		static const sc_err refusals[] = { SC_ERR_UNKNOWN_DEVICE, SC_ERR_REVOKED,
			SC_ERR_RATE_LIMITED, SC_ERR_REPLAY, SC_ERR_PROFILE_UNKNOWN,
			SC_ERR_PROFILE_CONSUMED, SC_ERR_DEVICE_MISMATCH };
		for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
			assert_non_null(provd_apierr_find(refusals[i]));
			assert_string_equal(provd_code_name(provd_apierr_find(refusals[i])->code),
			    sc_err_name(refusals[i]));
			assert_int_equal(provd_registry_err(refusals[i]), refusals[i]);
		}
	}
	/* A busy registry is unavailable; anything else it says is our bug. */
	assert_int_equal(provd_registry_err(SC_ERR_IO), SC_ERR_IO);
	assert_int_equal(provd_registry_err(SC_ERR_STORE_DAMAGED), SC_ERR_INTERNAL);
	assert_null(provd_apierr_find(SC_ERR_STORE_DAMAGED));
	assert_int_equal(provd_apierr_find(SC_ERR_RATE_LIMITED)->flags, PROVD_AE_RETRY_AFTER);
}

static void test_base64(void **state)
{
	uint8_t *out = NULL;
	size_t n;

	(void)state;
	assert_int_equal(sc_base64_decode("TWFu", 4, 1 << 20, &out, &n), SC_OK);
	assert_int_equal(n, 3);
	assert_memory_equal(out, "Man", 3);
	OPENSSL_free(out);
	assert_int_equal(sc_base64_decode("TWE=", 4, 1 << 20, &out, &n), SC_OK);
	assert_int_equal(n, 2);
	OPENSSL_free(out);
	assert_int_equal(sc_base64_decode("TQ==", 4, 1 << 20, &out, &n), SC_OK);
	assert_int_equal(n, 1);
	OPENSSL_free(out);
	assert_int_equal(sc_base64_decode("TWF", 3, 1 << 20, &out, &n),
	    SC_ERR_MALFORMED); /* length */
	assert_int_equal(sc_base64_decode("", 0, 1 << 20, &out, &n), SC_ERR_MALFORMED);
	assert_int_equal(sc_base64_decode("TW u", 4, 1 << 20, &out, &n),
	    SC_ERR_MALFORMED); /* whitespace */
	assert_int_equal(sc_base64_decode("T=Fu", 4, 1 << 20, &out, &n),
	    SC_ERR_MALFORMED); /* '=' inside */
	assert_int_equal(sc_base64_decode("TR==", 4, 1 << 20, &out, &n),
	    SC_ERR_MALFORMED); /* non-zero hidden bits */
	assert_int_equal(sc_base64_decode("TWF=", 4, 1 << 20, &out, &n), SC_ERR_MALFORMED);
	assert_int_equal(sc_base64_decode("TWFu\n", 5, 1 << 20, &out, &n), SC_ERR_MALFORMED);
	assert_null(out);
}

/* provd_json_depth as it read bodies before enroll12: byte by byte. */
static int depth_bytewise(const uint8_t *p, size_t n)
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

static void test_json_depth(void **state)
{
	(void)state;
	assert_int_equal(provd_json_depth((const uint8_t *)"{}", 2), 1);
	assert_int_equal(provd_json_depth((const uint8_t *)"{\"a\":[[1]]}", 11), 3);
	/* Brackets inside strings (escaped quotes too) do not count. */
	assert_int_equal(provd_json_depth((const uint8_t *)"{\"[[[\\\"[[\":1}", 13), 1);
	assert_int_equal(provd_json_depth((const uint8_t *)"[[[[[[", 6), 6);
	/* enroll12: the same verdict as the byte-by-byte reading it replaced, on random texts. */
	{
		static const char alpha[] = "\"\\[]{}a\0\xff"; /* NUL and a high byte too */
		uint8_t buf[48];
		unsigned seed = 12345;

		for (int t = 0; t < 200000; t++) {
			size_t n;

			seed = seed * 1103515245u + 12345u;
			n = (seed >> 16) % sizeof(buf);
			for (size_t i = 0; i < n; i++) {
				seed = seed * 1103515245u + 12345u;
				buf[i] = (uint8_t)alpha[(seed >> 16) % (sizeof(alpha) - 1)];
			}
			assert_int_equal(provd_json_depth(buf, n), depth_bytewise(buf, n));
		}
		assert_int_equal(provd_json_depth((const uint8_t *)"\"\\\\\"[", 5), 1);
		assert_int_equal(provd_json_depth((const uint8_t *)"\"\\\"[", 4), 0);
		assert_int_equal(provd_json_depth((const uint8_t *)"[\"\\", 3), 1);
	}
}

static void test_routes(void **state)
{
	struct provd_response resp;
	json_t *j;

	(void)state;
	call("GET", "/nope", NULL, NULL, 0, NULL, &resp);
	json_decref(expect(&resp, 404, "not-found", "unknown path"));
	call("DELETE", "/healthz", NULL, NULL, 0, NULL, &resp);
	assert_string_equal(resp.allow, "GET");
	json_decref(expect(&resp, 405, "method-not-allowed", "DELETE /healthz"));
	call("GET", "/v1/profiles", NULL, NULL, 0, NULL, &resp);
	assert_string_equal(resp.allow, "POST");
	json_decref(expect(&resp, 405, "method-not-allowed", "GET /v1/profiles"));
	call("PUT", "/v1/devices/DEV-A", NULL, NULL, 0, NULL, &resp);
	assert_string_equal(resp.allow, "GET");
	json_decref(expect(&resp, 405, "method-not-allowed", "PUT device"));
	/* A revoke path with another method: the device status's Allow, as before the table. */
	call("PUT", "/v1/devices/DEV-A/revoke", NULL, NULL, 0, NULL, &resp);
	assert_string_equal(resp.allow, "GET");
	assert_int_equal(resp.endpoint, PROVD_EP_DEVICE);
	json_decref(expect(&resp, 405, "method-not-allowed", "PUT revoke"));
	call("POST", "/v1/devices/DEV-A", NULL, NULL, 0, NULL, &resp);
	assert_string_equal(resp.allow, "GET");
	json_decref(expect(&resp, 405, "method-not-allowed", "POST device"));
	/* Nothing after the prefix, or more than any device ID and suffix: no such endpoint. */
	call("GET", "/v1/devices/", NULL, NULL, 0, NULL, &resp);
	assert_null(resp.allow);
	json_decref(expect(&resp, 404, "not-found", "devices prefix alone"));
	{
		char path[160];
		snprintf(path, sizeof(path), "/v1/devices/%0*d", 73, 0);
		call("GET", path, NULL, NULL, 0, NULL, &resp);
		assert_int_equal(resp.endpoint, PROVD_EP_OTHER);
		json_decref(expect(&resp, 404, "not-found", "device ID too long"));
		snprintf(path, sizeof(path), "/v1/devices/%0*d", 72, 0);
		call("GET", path, NULL, NULL, 0, NULL, &resp);
		json_decref(expect(&resp, 400, "bad-value", "device ID of 72"));
	}
	call("POST", "/healthz/", NULL, NULL, 0, NULL, &resp);
	json_decref(expect(&resp, 404, "not-found", "exact paths only"));
	call("GET", "/healthz", NULL, NULL, 0, NULL, &resp);
	j = expect(&resp, 200, NULL, "healthz");
	assert_string_equal(json_string_value(json_object_get(j, "status")), "ok");
	assert_string_equal(json_string_value(json_object_get(j, "network_id")), "netA");
	json_decref(j);
}

static void test_malformed_bodies(void **state)
{
	/* Each: a body that never reaches the device checks, with its code and status. */
	static const struct {
		const char *body;
		int status;
		const char *code;
	} cases[] = {
		{ "", 400, "malformed-json" },
		{ "{bad", 400, "malformed-json" },
		{ "{} trailing", 400, "malformed-json" },
		{ "[]", 400, "malformed-json" },
		{ "\"a string\"", 400, "malformed-json" },
		{ "{\"chain\":\"a\",\"chain\":\"b\"}", 400, "malformed-json" }, /* duplicate key */
		{ "{\"chain\":\"\xff\xfe\"}", 400, "malformed-json" },          /* not UTF-8 */
		{ "{\"a\":[[[[1]]]]}", 400, "json-too-deep" },
		{ "{\"chain\":\"x\",\"extra\":1}", 400, "unknown-field" },
		{ "{}", 400, "missing-field" },
		{ "{\"kex\":\"AAAA\"}", 400, "missing-field" },
		{ "{\"chain\":5,\"kex\":\"AAAA\"}", 400, "wrong-type" },
		{ "{\"chain\":{},\"kex\":\"AAAA\"}", 400, "wrong-type" },
		{ "{\"chain\":[5],\"kex\":\"AAAA\"}", 400, "wrong-type" },
		{ "{\"chain\":[],\"kex\":\"AAAA\"}", 400, "bad-value" },
		{ "{\"chain\":\"AAAA\",\"kex\":[\"AAAA\"]}", 400,
		    "bad-der" }, /* chain parsed first */
		{ "{\"challenge\":12}", 400, "wrong-type" },
		{ "{\"challenge\":\"\"}", 400, "bad-value" },
		{ "{\"alg\":true}", 400, "wrong-type" },
		{ "{\"server_keygen\":\"yes\"}", 400, "wrong-type" },
		{ "{\"chain\":\"!!!!\",\"kex\":\"AAAA\"}", 400, "bad-base64" },
		{ "{\"chain\":\"AAA\",\"kex\":\"AAAA\"}", 400, "bad-base64" }, /* length */
		{ "{\"chain\":\"AAAA\",\"kex\":\"AAAA\"}", 400, "bad-der" },   /* base64 of junk */
		{ "{\"chain\":\"-----BEGIN CERTIFICATE-----\\nAAAA\\n-----END CERTIFICATE-----\\n\",\"kex\":\"AAAA\"}",
		    400, "bad-der" },
		{ "{\"chain\":\"-----BEGIN "
		  "PRIVATE KEY-----\\nAAAA\\n-----END "
		  "PRIVATE KEY-----\\n\",\"kex\":\"AAAA\"}",
		    400, "bad-der" },
		{ "{\"chain\":\"-----BEGIN nothing\",\"kex\":\"AAAA\"}", 400, "bad-der" },
	};
	char where[64];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(where, sizeof(where), "malformed case %zu", i);
		json_decref(
		    post("/v1/profiles", cases[i].body, cases[i].status, cases[i].code, where));
	}
}

/* post(), and the detail must hold each of the NULL-terminated strings (the field among them). */
static void post_names(const char *path, const char *body, int status, const char *code, ...)
{
	const char *want;
	va_list ap;
	json_t *j = post(path, body, status, code, code);
	const char *detail = json_string_value(json_object_get(j, "detail"));

	va_start(ap, code);
	while ((want = va_arg(ap, const char *)) != NULL)
		if (detail == NULL || strstr(detail, want) == NULL)
			fail_msg("%s: detail '%s' lacks '%s' (%.60s…)", code,
			    detail ? detail : "(none)", want, body);
	va_end(ap);
	json_decref(j);
}

/* The base64 of der[0..len) with extra bytes after it, or of its first len bytes. */
static char *b64_der_of(X509 *x, long delta)
{
	uint8_t *der = NULL, *buf;
	size_t len;
	char *s;

	assert_int_equal(sc_cert_to_der(x, &der, &len), SC_OK);
	assert_non_null(buf = OPENSSL_zalloc(len + 8));
	memcpy(buf, der, len);
	s = sc_base64_encode(buf, (size_t)((long)len + delta));
	OPENSSL_free(buf);
	OPENSSL_free(der);
	return s;
}

/*
 * b64der16: the base64 DER forms the agent sends ("chain" an array of strings, "kex", and a
 * registration's "certificate"), read base64 first: each refusal's code and the field it names.
 */
static void test_der_forms(void **state)
{
	char *ca = b64_of_cert(dev_a.ca), *mc = b64_of_cert(mfr_ca), *kx = b64_of_cert(dev_a.kex),
	     *body, ch[65], bad[16384];
	size_t kl = strlen(kx);
	json_t *j;

	(void)state;
	assert_true(kl > 8 && kl + 8 < 4096);
#define PROFILE_WITH(chain_json, kex_json) \
	(snprintf(bad, sizeof(bad), "{\"chain\":%s,\"kex\":%s}", chain_json, kex_json), bad)
	{
		char c[4096], k[4096];

		snprintf(c, sizeof(c), "[\"%s\",\"%s\"]", ca, mc);
		snprintf(k, sizeof(k), "\"%s\"", kx);
		/* The agent's form is accepted. */
		challenge_hex(ch);
		j = json_pack("{s:[s,s], s:s, s:s}", "chain", ca, mc, "kex", kx, "challenge", ch);
		body = json_dumps(j, JSON_COMPACT);
		json_decref(post("/v1/profiles", body, 201, NULL, "base64 DER chain and kex"));
		free(body);
		json_decref(j);
		/* Wrong types: kex as an array, a chain entry a number or null, an empty chain. */
		post_names("/v1/profiles", PROFILE_WITH(c, "[\"AAAA\"]"), 400, "wrong-type",
		    "\"kex\"", "base64 DER", NULL);
		snprintf(k, sizeof(k), "[\"%s\",5]", ca);
		post_names("/v1/profiles", PROFILE_WITH(k, "\"AAAA\""), 400, "wrong-type",
		    "\"chain\"[1]", NULL);
		post_names("/v1/profiles", PROFILE_WITH("[null]", "\"AAAA\""), 400, "wrong-type",
		    "\"chain\"[0]", NULL);
		post_names("/v1/profiles", PROFILE_WITH("[]", "\"AAAA\""), 400, "bad-value",
		    "\"chain\"", NULL);
		/* Oversize: five certificates (PROVD_MAX_CHAIN is 4). */
		snprintf(k, sizeof(k), "[\"%s\",\"%s\",\"%s\",\"%s\",\"%s\"]", ca, mc, mc, mc, mc);
		post_names("/v1/profiles", PROFILE_WITH(k, "\"AAAA\""), 400, "bad-value",
		    "\"chain\"", "1..4", NULL);
		/* Truncation and trailing data in the DER: kex, then a chain entry. */
		{
			char *t = b64_der_of(dev_a.kex, -3), *x = b64_der_of(dev_a.kex, 1);

			snprintf(k, sizeof(k), "\"%s\"", t);
			post_names("/v1/profiles", PROFILE_WITH(c, k), 400, "bad-der", "\"kex\"",
			    NULL);
			snprintf(k, sizeof(k), "\"%s\"", x);
			post_names("/v1/profiles", PROFILE_WITH(c, k), 400, "bad-der", "\"kex\"",
			    "trailing", NULL);
			snprintf(k, sizeof(k), "[\"%s\",\"%s\"]", ca, x);
			post_names("/v1/profiles", PROFILE_WITH(k, "\"AAAA\""), 400, "bad-der",
			    "\"chain\"", "trailing", NULL);
			free(t);
			free(x);
		}
		/* Truncation of the text: the last character gone (not a multiple of 4). */
		snprintf(k, sizeof(k), "\"%.*s\"", (int)kl - 1, kx);
		post_names("/v1/profiles", PROFILE_WITH(c, k), 400, "bad-base64", "\"kex\"",
		    "length", NULL);
		/* Bad base64: padding inside, non-canonical padding, whitespace, line breaks, the
		 * URL-safe alphabet, a NUL. */
		post_names("/v1/profiles", PROFILE_WITH(c, "\"AAA=A===\""), 400, "bad-base64",
		    "\"kex\"", "character 3", NULL);
		post_names("/v1/profiles", PROFILE_WITH(c, "\"AB==\""), 400, "bad-base64",
		    "\"kex\"", "non-zero bits", NULL);
		snprintf(k, sizeof(k), "\"%.4s %s\"", kx, kx + 4);
		k[kl + 1] = '"';
		k[kl + 2] =
		    '\0'; /* the last character dropped: a multiple of 4, the space the fault */
		post_names("/v1/profiles", PROFILE_WITH(c, k), 400, "bad-base64", "\"kex\"",
		    "character 4", NULL);
		snprintf(k, sizeof(k), "[\"%.*s\\n\",\"%s\"]", (int)strlen(ca) - 4, ca, mc);
		post_names("/v1/profiles", PROFILE_WITH(k, "\"AAAA\""), 400, "bad-base64",
		    "\"chain\"", "length", NULL);
		snprintf(k, sizeof(k), "[\"%.64s\\n%.63s\",\"%s\"]", ca, ca + 64, mc);
		post_names("/v1/profiles", PROFILE_WITH(k, "\"AAAA\""), 400, "bad-base64",
		    "\"chain\"", "character 64", NULL);
		post_names("/v1/profiles", PROFILE_WITH(c, "\"AA-_\""), 400, "bad-base64",
		    "\"kex\"", "character 2", NULL);
		post_names("/v1/profiles", PROFILE_WITH(c, "\"AA\\u0000A\""), 400, "malformed-json",
		    "\\u0000", NULL); /* jansson's, before any field is read */
		/* PEM's first line inside a base64 text: read as PEM, refused as text around it. */
		snprintf(k, sizeof(k), "\"%.8s-----BEGIN CERTIFICATE-----\"", kx);
		post_names("/v1/profiles", PROFILE_WITH(c, k), 400, "bad-der", "\"kex\"", NULL);
	}
#undef PROFILE_WITH
	/* A registration's certificate: the same decoder, its errors naming "certificate". */
	snprintf(bad, sizeof(bad), "{\"certificate\":\"%.*s\"}", (int)kl - 1, kx);
	post_names("/v1/certificates", bad, 400, "bad-base64", "\"certificate\"", "length", NULL);
	snprintf(bad, sizeof(bad), "{\"certificate\":\"%.*s \"}", (int)kl - 1, kx);
	post_names("/v1/certificates", bad, 400, "bad-base64", "\"certificate\"", NULL);
	{
		char *x = b64_der_of(dev_a.kex, 2);

		snprintf(bad, sizeof(bad), "{\"certificate\":\"%s\"}", x);
		post_names("/v1/certificates", bad, 400, "bad-der", "\"certificate\"", "trailing",
		    NULL);
		free(x);
	}
	post_names("/v1/certificates", "{\"certificate\":[\"AAAA\"]}", 400, "wrong-type",
	    "\"certificate\"", NULL);
	free(ca);
	free(mc);
	free(kx);
}

static void test_limits_and_types(void **state)
{
	struct provd_response resp;
	char *big = malloc(PROVD_MAX_BODY + 2), *body = profile_body(&dev_a, NULL, 0, NULL);
	json_t *j;

	(void)state;
	memset(big, ' ', PROVD_MAX_BODY + 1);
	big[PROVD_MAX_BODY + 1] = '\0';
	call("POST", "/v1/profiles", "application/json", big, PROVD_MAX_BODY + 1, NULL, &resp);
	json_decref(expect(&resp, 413, "body-too-large", "65537 bytes"));
	free(big);
	call("POST", "/v1/profiles", NULL, body, strlen(body), NULL, &resp);
	json_decref(expect(&resp, 415, "unsupported-media-type", "no content type"));
	call("POST", "/v1/profiles", "text/plain", body, strlen(body), NULL, &resp);
	json_decref(expect(&resp, 415, "unsupported-media-type", "text/plain"));
	call("POST", "/v1/profiles", "application/jsonx", body, strlen(body), NULL, &resp);
	json_decref(expect(&resp, 415, "unsupported-media-type", "application/jsonx"));
	call("POST", "/v1/profiles", "Application/JSON; charset=utf-8", body, strlen(body), NULL,
	    &resp);
	j = expect(&resp, 201, NULL, "with parameters");
	json_decref(j);
	free(body);
	/* A base64 DER certificate with one trailing byte, and a chain of five. */
	{
		uint8_t *der = NULL, *der2;
		size_t len;
		char *b64, *s, *c5;
		assert_int_equal(sc_cert_to_der(dev_a.ca, &der, &len), SC_OK);
		der2 = OPENSSL_malloc(len + 1);
		memcpy(der2, der, len);
		der2[len] = 0;
		b64 = sc_base64_encode(der2, len + 1);
		j = json_pack("{s:s, s:s}", "chain", b64, "kex", b64);
		s = json_dumps(j, 0);
		json_decref(post("/v1/profiles", s, 400, "bad-der", "trailing byte after the DER"));
		free(s);
		json_decref(j);
		free(b64);
		/* truncated */
		b64 = sc_base64_encode(der, len - 4 - (len - 4) % 3);
		j = json_pack("{s:s, s:s}", "chain", b64, "kex", b64);
		s = json_dumps(j, 0);
		json_decref(post("/v1/profiles", s, 400, "bad-der", "truncated DER"));
		free(s);
		json_decref(j);
		free(b64);
		OPENSSL_free(der);
		OPENSSL_free(der2);
		/* A good chain with text after it, or before it: refused, not skipped. */
		for (int k = 0; k < 2; k++) {
			char *good = pem_of(dev_a.ca, mfr_ca, NULL),
			     *kx = pem_of(dev_a.kex, NULL, NULL), *bad;
			bad = malloc(strlen(good) + 32);
			sprintf(bad, k ? "%sand then some text\n" : "Certificate:\n%s", good);
			j = json_pack("{s:s, s:s, s:s}", "chain", bad, "kex", kx, "challenge",
			    "00112233445566778899aabbccddeeff");
			s = json_dumps(j, 0);
			json_decref(post("/v1/profiles", s, 400, "bad-der",
			    k ? "text after the PEM" : "text before the PEM"));
			free(s);
			json_decref(j);
			free(bad);
			free(good);
			free(kx);
		}
		c5 = pem_of(dev_a.ca, mfr_ca, mfr_root);
		{
			char *c2 = pem_of(mfr_ca, mfr_root, NULL),
			     *all = malloc(strlen(c5) + strlen(c2) + 1);
			strcpy(all, c5);
			strcat(all, c2);
			j = json_pack("{s:s, s:s}", "chain", all, "kex", c2);
			s = json_dumps(j, 0);
			json_decref(post("/v1/profiles", s, 400, "bad-value", "five certificates"));
			free(s);
			json_decref(j);
			free(all);
			free(c2);
		}
		free(c5);
	}
}

static void test_device_refusals(void **state)
{
	char *s;
	json_t *j;

	(void)state;
	/* Not a device CA: the manufacturer CA first. */
	{
		char *chain = pem_of(mfr_ca, NULL, NULL), *kex = pem_of(dev_a.kex, NULL, NULL);
		j = json_pack("{s:s, s:s, s:s}", "chain", chain, "kex", kex, "challenge",
		    "00112233445566778899aabbccddeeff");
		s = json_dumps(j, 0);
		json_decref(post("/v1/profiles", s, 422, "not-device-ca", "mfr CA as device CA"));
		free(s);
		json_decref(j);
		free(chain);
		free(kex);
	}
	/* Another manufacturer's device: does not chain to our root. */
	s = profile_body(&dev_o, NULL, 0, NULL);
	json_decref(post("/v1/profiles", s, 422, "chain", "other manufacturer"));
	free(s);
	/* The chain without the manufacturer CA. */
	{
		char *chain = pem_of(dev_a.ca, NULL, NULL), *kex = pem_of(dev_a.kex, NULL, NULL);
		j = json_pack("{s:s, s:s, s:s}", "chain", chain, "kex", kex, "challenge",
		    "00112233445566778899aabbccddeeff");
		s = json_dumps(j, 0);
		json_decref(post("/v1/profiles", s, 422, "chain", "no manufacturer CA"));
		free(s);
		json_decref(j);
		free(chain);
		free(kex);
	}
	/* The KEK of another device. */
	{
		char *chain = pem_of(dev_a.ca, mfr_ca, NULL), *kex = pem_of(dev_b.kex, NULL, NULL);
		j = json_pack("{s:s, s:s, s:s}", "chain", chain, "kex", kex, "challenge",
		    "00112233445566778899aabbccddeeff");
		s = json_dumps(j, 0);
		json_decref(post("/v1/profiles", s, 422, "kek-mismatch", "other device's KEK"));
		free(s);
		json_decref(j);
		free(chain);
		free(kex);
	}
	/* A KEK certificate from the other CA of the same manufacturer (both chain to the root). */
	{
		char *chain = pem_of(dev_k.ca, mfr_ca, mfr_ca2),
		     *kex = pem_of(dev_k.kex, NULL, NULL);
		j = json_pack("{s:s, s:s, s:s}", "chain", chain, "kex", kex, "challenge",
		    "00112233445566778899aabbccddeeff");
		s = json_dumps(j, 0);
		json_decref(post("/v1/profiles", s, 422, "kek-mismatch", "KEK from another CA"));
		free(s);
		json_decref(j);
		free(chain);
		free(kex);
	}
	/* A CA certificate in place of the KEK. */
	{
		char *chain = pem_of(dev_a.ca, mfr_ca, NULL), *kex = pem_of(dev_a.ca, NULL, NULL);
		j = json_pack("{s:s, s:s, s:s}", "chain", chain, "kex", kex, "challenge",
		    "00112233445566778899aabbccddeeff");
		s = json_dumps(j, 0);
		json_decref(post("/v1/profiles", s, 422, "kek-mismatch", "CA as KEK"));
		free(s);
		json_decref(j);
		free(chain);
		free(kex);
	}
	s = profile_body(&dev_u, NULL, 0, NULL);
	json_decref(post("/v1/profiles", s, 403, "unknown-device", "not activated"));
	free(s);
	s = profile_body(&dev_r, NULL, 0, NULL);
	json_decref(post("/v1/profiles", s, 403, "revoked", "revoked"));
	free(s);
	/* Values. */
	s = profile_body(&dev_a, "rsa1024", 0, NULL);
	json_decref(post("/v1/profiles", s, 400, "bad-value", "unknown algorithm"));
	free(s);
	s = profile_body(&dev_a, NULL, 0, "xyz0");
	json_decref(post("/v1/profiles", s, 400, "bad-hex", "challenge not hex"));
	free(s);
	s = profile_body(&dev_a, NULL, 0, "0011");
	json_decref(post("/v1/profiles", s, 400, "bad-value", "challenge too short"));
	free(s);
}

/* A profile request for DEV-A with devca as its device CA (its KEK stays DEV-A's). */
/* Counts the audit rows of one event (sc_reg_audit_list's callback). */
struct audit_find {
	const char *event;
	int n;
};

static int audit_find_cb(void *ctx, const struct sc_reg_audit_rec *a)
{
	struct audit_find *f = ctx;

	if (strcmp(a->event, f->event) == 0)
		f->n++;
	return 0;
}

static void post_chain(X509 *devca, X509 *kex_cert, int status, const char *code,
    const char *detail, const char *where)
{
	char *chain = pem_of(devca, mfr_ca, NULL), *kex = pem_of(kex_cert, NULL, NULL), *s, ch[65];
	json_t *j, *a;

	challenge_hex(ch);
	j = json_pack("{s:s, s:s, s:s}", "chain", chain, "kex", kex, "challenge", ch);
	s = json_dumps(j, 0);
	a = post("/v1/profiles", s, status, code, where);
	if (detail != NULL)
		assert_string_equal(json_string_value(json_object_get(a, "detail")), detail);
	json_decref(a);
	free(s);
	json_decref(j);
	free(chain);
	free(kex);
}

static void post_devca(X509 *devca, int status, const char *code, const char *detail,
    const char *where)
{
	post_chain(devca, dev_a.kex, status, code, detail, where);
}

/*
 * Issue 16 item 5: a device CA under the manufacturer CA, for DEV-A's CSK, but without pathlen 0
 * or without its name constraints, chains to the root; it is still no device CA.
 */
static void test_not_device_ca(void **state)
{
	struct sc_test_cert spec = { .serial_number = "DEV-A",
		.o = "Acme",
		.cn = "DEV-A Device CA",
		.pub = dev_a.csk,
		.issuer = acme.mfr_ca,
		.issuer_key = acme.mfr_ca_key,
		.days = 30,
		.bc = "critical,CA:TRUE,pathlen:0",
		.ku = "critical,keyCertSign",
		.nc_serial = "DEV-A" };
	X509 *ca = NULL;

	(void)state;
	/*
	 * The well-formed one is accepted (the control): DEV-A's requests so far carried no request
	 * proof, so none pinned it (issue 17; test_pins).
	 */
	assert_int_equal(sc_test_cert_make(&spec, &ca), SC_OK);
	post_devca(ca, 201, NULL, NULL, "a device CA");
	X509_free(ca);
	/* No pathlen: the CSK could certify another CA. */
	spec.bc = "critical,CA:TRUE";
	assert_int_equal(sc_test_cert_make(&spec, &ca), SC_OK);
	post_devca(ca, 422, "not-device-ca",
	    "\"chain\": the device CA for DEV-A is not limited to pathlen 0", "no pathlen");
	X509_free(ca);
	spec.bc = "critical,CA:TRUE,pathlen:1";
	assert_int_equal(sc_test_cert_make(&spec, &ca), SC_OK);
	post_devca(ca, 422, "not-device-ca",
	    "\"chain\": the device CA for DEV-A is not limited to pathlen 0", "pathlen 1");
	X509_free(ca);
	/* No name constraints: its leaves could name any device. */
	spec.bc = "critical,CA:TRUE,pathlen:0";
	spec.nc_serial = NULL;
	assert_int_equal(sc_test_cert_make(&spec, &ca), SC_OK);
	post_devca(ca, 422, "not-device-ca",
	    "\"chain\": the device CA for DEV-A lacks critical name constraints to "
	    "serialNumber=DEV-A or its DNS name",
	    "no name constraints");
	X509_free(ca);
	/* Name constraints to another device. */
	spec.nc_serial = "DEV-B";
	assert_int_equal(sc_test_cert_make(&spec, &ca), SC_OK);
	post_devca(ca, 422, "not-device-ca",
	    "\"chain\": the device CA for DEV-A lacks critical name constraints to "
	    "serialNumber=DEV-A or its DNS name",
	    "name constraints to DEV-B");
	X509_free(ca);
}

/* A profile for DEV-A whose profileNotAfter is `age` seconds ago, its leaf returned now. */
static void late_certificate(int64_t age, int status, const char *code, const char *where)
{
	int64_t saved = api.policy.profile_ttl_s;
	struct sc_profile *p;
	char *s, want[200];
	X509 *leaf;
	json_t *j, *a;

	api.policy.profile_ttl_s = -age; /* as if the request had come `ttl + age` ago */
	s = profile_body(&dev_a, NULL, 0, NULL);
	j = post("/v1/profiles", s, 201, NULL, where);
	api.policy.profile_ttl_s = saved;
	free(s);
	p = profile_of(j);
	leaf = issue_leaf(&dev_a, p);
	s = cert_body(leaf, 0);
	a = post("/v1/certificates", s, status, code, where);
	if (code != NULL) {
		snprintf(want, sizeof(want),
		    "profile %s expired at %s (allowance 60 s); ask for a new profile",
		    json_string_value(json_object_get(j, "profile_id")),
		    json_string_value(json_object_get(j, "profile_not_after")));
		assert_string_equal(json_string_value(json_object_get(a, "detail")), want);
	} else {
		assert_string_equal(json_string_value(json_object_get(a, "status")), "registered");
		/* Sent again later still: already registered, not expired (the device retries). */
		json_decref(a);
		a = post("/v1/certificates", s, 200, NULL, where);
	}
	json_decref(a);
	json_decref(j);
	free(s);
	X509_free(leaf);
	sc_profile_free(p);
}

/* Issue 16 item 8: the SP refuses an expired profile; so must the server its certificate. */
/* ---- request proofs (docs/API.md "proof") ---- */

/* What a proof says and who signs it: a test changes one thing from a valid proof's. */
struct proof_spec {
	const struct dev *signer; /* whose CSK signs (the SP's) */
	const char *device_id, *network_id;
	const char *challenge;  /* hex; NULL: the request's */
	int64_t time_offset;    /* from now */
	const char *digest_alg; /* the alg the digest covers ("": absent) */
	int flip_signature;     /* change one bit of the signature */
};

/*
 * A profile request for d with challenge ch (hex) and alg (NULL: absent), carrying a proof
 * made as ps says, with the proof's JSON as the SP would make it (sc_proof_tbs, the CSK over
 * SHA-256). The caller's text.
 */
static char *proved_body(const struct dev *d, const char *ch, const char *alg,
    const struct proof_spec *ps)
{
	STACK_OF(X509) *chain = sk_X509_new_null();
	struct sc_proof pf;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t dg[SC_PROOF_DIGEST_LEN], sig[256];
	char dg_hex[65], *b64, *body, *s;
	size_t n = 0, sig_len = sizeof(sig);
	json_t *j;

	assert_non_null(chain);
	assert_non_null(md);
	sk_X509_push(chain, d->ca);
	sk_X509_push(chain, d->issuer);
	memset(&pf, 0, sizeof(pf));
	assert_int_equal(sc_unhex(ps->challenge ? ps->challenge : ch, pf.challenge,
	                     sizeof(pf.challenge), &n),
	    SC_OK);
	snprintf(pf.device_id, sizeof(pf.device_id), "%s", ps->device_id);
	snprintf(pf.network_id, sizeof(pf.network_id), "%s", ps->network_id);
	assert_int_equal(sc_proof_request_digest(chain, d->kex,
	                     ps->digest_alg ? (ps->digest_alg[0] ? ps->digest_alg : NULL) : alg, 0,
	                     dg),
	    SC_OK);
	memcpy(pf.request_digest, dg, sizeof(dg));
	{
		/* prof8: the server computes it from the DER as sent; the same digest. */
		uint8_t *der[3] = { NULL, NULL, NULL }, dg2[SC_PROOF_DIGEST_LEN];
		size_t len[3];
		const uint8_t *cder[2];
		X509 *xs[3] = { d->ca, d->issuer, d->kex };
		int l;

		for (int i = 0; i < 3; i++) {
			assert_true((l = i2d_X509(xs[i], &der[i])) > 0);
			len[i] = (size_t)l;
		}
		cder[0] = der[0];
		cder[1] = der[1];
		assert_int_equal(sc_proof_request_digest_der(cder, len, 2, der[2], len[2],
		                     ps->digest_alg ? (ps->digest_alg[0] ? ps->digest_alg : NULL)
		                                    : alg,
		                     0, dg2),
		    SC_OK);
		assert_memory_equal(dg, dg2, sizeof(dg));
		assert_int_equal(sc_proof_request_digest_der(cder, len, 0, der[2], len[2], NULL, 0,
		                     dg2),
		    SC_ERR_USAGE);
		for (int i = 0; i < 3; i++)
			OPENSSL_free(der[i]);
	}
	pf.time = (uint64_t)(time(NULL) + ps->time_offset);
	{
		uint8_t *tbs = NULL;
		size_t tbs_len = 0;

		assert_int_equal(sc_proof_tbs(&pf, &tbs, &tbs_len), SC_OK);
		/* Never a DER SEQUENCE: the context's first byte. */
		assert_int_not_equal(tbs[0], 0x30);
		assert_int_equal(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, ps->signer->csk),
		    1);
		assert_int_equal(EVP_DigestSign(md, sig, &sig_len, tbs, tbs_len), 1);
		OPENSSL_free(tbs);
	}
	if (ps->flip_signature)
		sig[sig_len / 2] ^= 0x01;
	sc_hex(dg, sizeof(dg), dg_hex);
	assert_non_null(b64 = sc_base64_encode(sig, sig_len));
	body = profile_body(d, alg, 0, ch);
	assert_non_null(j = json_loads(body, 0, NULL));
	json_object_set_new(j, "proof",
	    json_pack("{s:s, s:s, s:s, s:s, s:I, s:s}", "device_id", ps->device_id, "network_id",
	        ps->network_id, "challenge", ps->challenge ? ps->challenge : ch, "request", dg_hex,
	        "time", (json_int_t)pf.time, "signature", b64));
	s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	free(body);
	free(b64);
	EVP_MD_CTX_free(md);
	sk_X509_free(chain);
	return s;
}

/* One request with a proof made as ps says: status and code, and the detail naming `field`. */
static void proof_case(const struct dev *d, const char *alg, const struct proof_spec *ps,
    int status, const char *code, const char *field, const char *where)
{
	char ch[65], *b;
	json_t *j;

	challenge_hex(ch);
	b = proved_body(d, ch, alg, ps);
	j = post("/v1/profiles", b, status, code, where);
	if (field != NULL) {
		const char *detail = json_string_value(json_object_get(j, "detail"));
		if (detail == NULL || strstr(detail, field) == NULL)
			fail_msg("%s: detail \"%s\" does not name %s", where, detail ? detail : "",
			    field);
	}
	json_decref(j);
	free(b);
}

/*
 * Authenticated requests count in the device's budget and nothing else does; every way a
 * proof can be wrong has its own answer.
 */
static struct dev dev_p = { .id = "DEV-P" }; /* made by test_proofs, pinned there */

static void test_proofs(void **state)
{
	struct provd_policy saved = api.policy;
	struct proof_spec ok = { &dev_p, "DEV-P", "netA", NULL, 0, NULL, 0 }, ps;
	char ch[65], *b;
	int i;

	(void)state;
	make_dev(&dev_p, &acme, &acme);
	assert_int_equal(sc_reg_device_add(reg, "DEV-P", NULL, "t", time(NULL)), SC_OK);
	api.policy.rate.max = 2;
	api.policy.unauth_rate.max = 3;
	peer = "198.51.100.7";

	/* The attacker, with the public certificates only: its own address's budget, not DEV-P's. */
	for (i = 0; i < 3; i++) {
		b = profile_body(&dev_p, NULL, 0, NULL);
		json_decref(post("/v1/profiles", b, 201, NULL, "unauthenticated, in budget"));
		free(b);
	}
	b = profile_body(&dev_p, NULL, 0, NULL);
	json_decref(post("/v1/profiles", b, 429, "rate-limited", "unauthenticated, over budget"));
	free(b);

	/* The device itself is still served: two authenticated profiles, then its own limit. */
	proof_case(&dev_p, NULL, &ok, 201, NULL, NULL, "authenticated 1");
	proof_case(&dev_p, "p256", &ok, 201, NULL, NULL, "authenticated 2 (alg bound)");
	proof_case(&dev_p, NULL, &ok, 429, "rate-limited", "device DEV-P", "authenticated 3");
	api.policy.rate.max = 1000;

	/* Each field the proof binds. */
	ps = ok;
	ps.device_id = "DEV-A";
	proof_case(&dev_p, NULL, &ps, 403, "proof-mismatch", "proof.device_id", "wrong device");
	ps = ok;
	ps.network_id = "netB";
	proof_case(&dev_p, NULL, &ps, 403, "proof-mismatch", "proof.network_id",
	    "another network's proof");
	ps = ok;
	ps.challenge = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
	proof_case(&dev_p, NULL, &ps, 403, "proof-mismatch", "proof.challenge", "wrong challenge");
	ps = ok;
	ps.digest_alg = "p384";
	proof_case(&dev_p, "p256", &ps, 403, "proof-mismatch", "proof.request",
	    "the alg changed after the proof");
	ps = ok;
	ps.digest_alg = "";
	proof_case(&dev_p, "p256", &ps, 403, "proof-mismatch", "proof.request",
	    "an alg added after the proof");
	/* Time: 300 s back, 60 s ahead. */
	ps = ok;
	ps.time_offset = -PROVD_PROOF_MAX_AGE_S - 5;
	proof_case(&dev_p, NULL, &ps, 403, "proof-expired", "proof.time", "stale proof");
	ps = ok;
	ps.time_offset = PROVD_CLOCK_SKEW_S + 5;
	proof_case(&dev_p, NULL, &ps, 403, "proof-expired", "proof.time", "proof from the future");
	ps = ok;
	ps.time_offset = -PROVD_PROOF_MAX_AGE_S + 30;
	proof_case(&dev_p, NULL, &ps, 201, NULL, NULL, "old but fresh proof");
	ps = ok;
	ps.time_offset = PROVD_CLOCK_SKEW_S - 30;
	proof_case(&dev_p, NULL, &ps, 201, NULL, NULL, "SP clock ahead within the allowance");
	/* The signature: another device's CSK with this device's fields, or one bit changed. */
	ps = ok;
	ps.signer = &dev_b;
	proof_case(&dev_p, NULL, &ps, 403, "bad-proof", "DEV-P", "another device's CSK");
	ps = ok;
	ps.flip_signature = 1;
	proof_case(&dev_p, NULL, &ps, 403, "bad-proof", NULL, "tampered signature");

	/* Replay: the same request and proof twice. */
	challenge_hex(ch);
	b = proved_body(&dev_p, ch, NULL, &ok);
	json_decref(post("/v1/profiles", b, 201, NULL, "first use"));
	json_decref(post("/v1/profiles", b, 409, "replay", "the same proof again"));
	free(b);

	/* The proof object's own form. */
	challenge_hex(ch);
	b = proved_body(&dev_p, ch, NULL, &ok);
	{
		json_t *j = json_loads(b, 0, NULL), *pf = json_object_get(j, "proof");
		char *s;

		json_object_set_new(pf, "extra", json_true());
		s = json_dumps(j, JSON_COMPACT);
		json_decref(
		    post("/v1/profiles", s, 400, "unknown-field", "proof with an extra key"));
		free(s);
		json_object_del(pf, "extra");
		json_object_set_new(pf, "time", json_string("now"));
		s = json_dumps(j, JSON_COMPACT);
		json_decref(post("/v1/profiles", s, 400, "wrong-type", "proof.time a string"));
		free(s);
		json_object_del(pf, "time");
		s = json_dumps(j, JSON_COMPACT);
		json_decref(post("/v1/profiles", s, 400, "missing-field", "proof without time"));
		free(s);
		json_object_set_new(j, "proof", json_string("x"));
		s = json_dumps(j, JSON_COMPACT);
		json_decref(post("/v1/profiles", s, 400, "wrong-type", "proof not an object"));
		free(s);
		json_decref(j);
	}
	free(b);

	/* --unauthenticated-budget 0: a request without a proof is refused, one with is served. */
	api.policy.unauth_rate.max = 0;
	b = profile_body(&dev_p, NULL, 0, NULL);
	json_decref(post("/v1/profiles", b, 403, "proof-required", "no proof, budget 0"));
	free(b);
	proof_case(&dev_p, NULL, &ok, 201, NULL, NULL, "with a proof, budget 0");

	peer = "test";
	api.policy = saved;
}

/*
 * Issue 17, verify once: DEV-P was pinned by its first proven request (test_proofs). Its pinned
 * path is served again (path validation skipped); another well-formed device CA for DEV-P (its
 * own CSK, the same manufacturer CA) or another KEK is refused as device-ca-changed each time and
 * audited once per chain shown (flood19: a repeat inside the window is not), and nothing is re-pinned: the pinned path still works afterwards.
 */
static void test_pins(void **state)
{
	static const char detail[] =
	    "device DEV-P was pinned to another device CA or KEK at its first contact or activation; a changed "
	    "device CA is refused, not re-pinned (the operator revokes the device and activates its "
	    "replacement under a new ID)";
	struct audit_find f = { "device-ca-changed", 0 }, pinned = { "device-pinned", 0 };
	EVP_PKEY *kek2 = keygen(SC_ALG_P256);
	X509 *ca = NULL, *kex = NULL;

	uint64_t sup0 = provd_auditlim_suppressed(api.auditlim);

	(void)state;
	peer = "198.51.100.9";
	assert_int_equal(sc_reg_audit_list(reg, "DEV-P", 1000, audit_find_cb, &pinned), SC_OK);
	assert_int_equal(pinned.n, 1);
	post_chain(dev_p.ca, dev_p.kex, 201, NULL, NULL, "the pinned path");
	assert_int_equal(sc_test_world_device_ca(&acme, dev_p.csk, "DEV-P", &ca), SC_OK);
	assert_int_not_equal(X509_cmp(ca, dev_p.ca), 0);
	post_chain(ca, dev_p.kex, 409, "device-ca-changed", detail, "another device CA");
	assert_int_equal(sc_test_world_kek(&acme, kek2, "DEV-P", &kex), SC_OK);
	post_chain(dev_p.ca, kex, 409, "device-ca-changed", detail, "another KEK");
	post_chain(ca, dev_p.kex, 409, "device-ca-changed", detail, "the other device CA again");
	assert_int_equal(sc_reg_audit_list(reg, "DEV-P", 1000, audit_find_cb, &f), SC_OK);
	/*
	 * flood19 (review, MEDIUM-2): refused three times; the other device CA and the other KEK
	 * each their own row (one per chain shown per window), the repeat held and counted.
	 */
	assert_int_equal(f.n, 2);
	assert_int_equal(provd_auditlim_suppressed(api.auditlim), sup0 + 1);
	post_chain(dev_p.ca, dev_p.kex, 201, NULL, NULL, "the pinned path, still");
	pinned.n = 0;
	assert_int_equal(sc_reg_audit_list(reg, "DEV-P", 1000, audit_find_cb, &pinned), SC_OK);
	assert_int_equal(pinned.n, 1);
	X509_free(ca);
	X509_free(kex);
	EVP_PKEY_free(kek2);
	free_dev(&dev_p);
}

/*
 * flood19: the limiter alone, time moved by hand. A chain's first row written, its repeats
 * inside PROVD_AUDITLIM_WINDOW_S counted and not, written again once the window has passed;
 * another device, another device CA or another KEK for the same device: their own rows; a
 * failed write given back (the next refusal writes); with every key forced into one bucket of
 * PROVD_AUDITLIM_WAYS entries (the test seam), colliding keys alternated do not evict each
 * other (held, not written), a key more than the bucket holds is written every time and counted
 * full, an expired entry is reused; a failed clock (now -1), NULL and an unkeyed field: written.
 */
static void test_auditlim(void **state)
{
	struct provd_auditlim *l = NULL;
	struct provd_auditlim_key k1, k2, kca, kkek, kx[PROVD_AUDITLIM_WAYS + 1], bad;
	const char *ca1 = "1111111111111111111111111111111111111111111111111111111111111111";
	const char *ca2 = "2222222222222222222222222222222222222222222222222222222222222222";
	const char *kek1 = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	const char *kek2 = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
	const int64_t w = PROVD_AUDITLIM_WINDOW_S;
	char id[16];

	(void)state;
	assert_int_equal(provd_auditlim_new(&l), SC_OK);
	provd_auditlim_key(l, "DEV-1", ca1, kek1, &k1);
	provd_auditlim_key(l, "DEV-2", ca1, kek1, &k2);
	provd_auditlim_key(l, "DEV-1", ca2, kek1, &kca);
	provd_auditlim_key(l, "DEV-1", ca1, kek2, &kkek);
	assert_int_equal(k1.ok, 1);
	assert_int_equal(provd_auditlim_take(l, &k1, 1000), 1);
	assert_int_equal(provd_auditlim_take(l, &k1, 1001), 0);
	assert_int_equal(provd_auditlim_take(l, &k1, 1000 + w - 1), 0);
	assert_int_equal(provd_auditlim_suppressed(l), 2);
	assert_int_equal(provd_auditlim_take(l, &k2, 1001), 1);
	assert_int_equal(provd_auditlim_take(l, &kca, 1001), 1);
	assert_int_equal(provd_auditlim_take(l, &kkek, 1001), 1);
	assert_int_equal(provd_auditlim_take(l, &kca, 1002), 0);
	assert_int_equal(provd_auditlim_take(l, &kkek, 1002), 0);
	assert_int_equal(provd_auditlim_suppressed(l), 4);
	assert_int_equal(provd_auditlim_take(l, &k1, 1000 + w), 1);
	assert_int_equal(provd_auditlim_take(l, &k1, 1000 + w + 1), 0);
	assert_int_equal(provd_auditlim_suppressed(l), 5);
	/* LOW-1: the write failed, the window given back: the next refusal writes. */
	assert_int_equal(provd_auditlim_take(l, &k2, 2000), 1);
	provd_auditlim_undo(l, &k2, 2000);
	assert_int_equal(provd_auditlim_take(l, &k2, 2001), 1);
	assert_int_equal(provd_auditlim_take(l, &k2, 2002), 0);
	assert_int_equal(provd_auditlim_suppressed(l), 6);
	/* A time before the entry's (cannot happen on a monotonic clock): written. */
	assert_int_equal(provd_auditlim_take(l, &k2, 10), 1);
	/* LOW-4: a failed clock writes and holds nothing. */
	assert_int_equal(provd_auditlim_take(l, &kca, -1), 1);
	assert_int_equal(provd_auditlim_take(l, &kca, -1), 1);
	/* Longer than a hex SHA-256 (65 characters): not keyed, written. */
	provd_auditlim_key(l, "DEV-1", ca1,
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", &bad);
	assert_int_equal(bad.ok, 0);
	assert_int_equal(provd_auditlim_take(l, &bad, 3000), 1);
	assert_int_equal(provd_auditlim_full(l), 0);
	assert_int_equal(provd_auditlim_suppressed(l), 6);
	provd_auditlim_free(l);

	/* MEDIUM-1: every key in one bucket. */
	assert_int_equal(provd_auditlim_new(&l), SC_OK);
	provd_auditlim_test_one_bucket(l);
	for (int i = 0; i <= PROVD_AUDITLIM_WAYS; i++) {
		snprintf(id, sizeof(id), "DEV-X%d", i);
		provd_auditlim_key(l, id, ca1, "", &kx[i]);
	}
	/* Two colliding keys alternated 200 times: one row each. */
	for (int i = 0; i < 100; i++) {
		assert_int_equal(provd_auditlim_take(l, &kx[0], 5000), i == 0);
		assert_int_equal(provd_auditlim_take(l, &kx[1], 5000), i == 0);
	}
	assert_int_equal(provd_auditlim_suppressed(l), 198);
	for (int i = 2; i < PROVD_AUDITLIM_WAYS; i++)
		assert_int_equal(provd_auditlim_take(l, &kx[i], 5001), 1);
	/* The bucket full of live entries: the newcomer written every time, counted, no eviction. */
	assert_int_equal(provd_auditlim_take(l, &kx[PROVD_AUDITLIM_WAYS], 5002), 1);
	assert_int_equal(provd_auditlim_take(l, &kx[PROVD_AUDITLIM_WAYS], 5003), 1);
	assert_int_equal(provd_auditlim_full(l), 2);
	assert_int_equal(provd_auditlim_take(l, &kx[0], 5003), 0);
	assert_int_equal(provd_auditlim_suppressed(l), 199);
	/* kx[0], kx[1] expired (taken at 5000), the rest live: the newcomer takes an expired one. */
	assert_int_equal(provd_auditlim_take(l, &kx[PROVD_AUDITLIM_WAYS], 5000 + w), 1);
	assert_int_equal(provd_auditlim_take(l, &kx[PROVD_AUDITLIM_WAYS], 5000 + w + 1), 0);
	assert_int_equal(provd_auditlim_full(l), 2);
	assert_int_equal(provd_auditlim_take(l, &kx[2], 5000 + w), 0);
	provd_auditlim_free(l);

	provd_auditlim_key(NULL, "DEV-1", ca1, kek1, &k1);
	assert_int_equal(k1.ok, 0);
	assert_int_equal(provd_auditlim_take(NULL, &k1, 1), 1);
	provd_auditlim_undo(NULL, &k1, 1);
	assert_int_equal(provd_auditlim_suppressed(NULL), 0);
	assert_int_equal(provd_auditlim_full(NULL), 0);
	assert_int_not_equal(provd_auditlim_now(), -1);
}

/*
 * Issue 17: a pin remembers what was proven of the bytes, never a verdict about time. DEV-X's
 * KEK certificate expires 3 s after its first proven request pinned it; the same bytes afterwards
 * leave the pinned path and are refused by path validation, as without a pin.
 */
static void test_pin_expired(void **state)
{
	struct dev dev_x = { .id = "DEV-X" };
	struct proof_spec ok = { &dev_x, "DEV-X", "netA", NULL, 0, NULL, 0 };
	struct sc_test_cert spec = { .serial_number = "DEV-X",
		.o = "Acme",
		.cn = "DEV-X Key Exchange",
		.issuer = acme.mfr_ca,
		.issuer_key = acme.mfr_ca_key,
		.bc = "critical,CA:FALSE",
		.ku = "critical,keyAgreement" };
	struct audit_find pinned = { "device-pinned", 0 };

	(void)state;
	make_dev(&dev_x, &acme, &acme);
	X509_free(dev_x.kex);
	dev_x.kex = NULL;
	spec.pub = dev_x.kek;
	spec.not_before = time(NULL) - 60;
	spec.not_after = time(NULL) + 3;
	assert_int_equal(sc_test_cert_make(&spec, &dev_x.kex), SC_OK);
	assert_int_equal(sc_reg_device_add(reg, "DEV-X", NULL, "t", time(NULL)), SC_OK);
	proof_case(&dev_x, NULL, &ok, 201, NULL, NULL, "first proven request");
	assert_int_equal(sc_reg_audit_list(reg, "DEV-X", 1000, audit_find_cb, &pinned), SC_OK);
	assert_int_equal(pinned.n, 1);
	sleep(5);
	proof_case(&dev_x, NULL, &ok, 422, "chain",
	    "the KEK certificate does not chain to the manufacturer root: certificate has expired",
	    "the pinned path after the KEK expired");
	free_dev(&dev_x);
}

static void test_certificate_after_profile_expired(void **state)
{
	(void)state;
	late_certificate(20, 201, NULL, "20 s late: within the clock allowance");
	late_certificate(120, 422, "profile-expired", "120 s late");
	late_certificate(3600, 422, "profile-expired", "an hour late");
}

/*
 * dur11 review (was test_provd_recover.sh's 64 s wait): a carried profile whose row was lost,
 * past its profileNotAfter and the clock allowance: under --profile-commit deferred judged and
 * refused as profile-expired, the same detail as with the row; under durable profile-unknown
 * (no recovery there). Nothing recorded either way.
 */
static void test_carried_expired(void **state)
{
	int64_t saved = api.policy.profile_ttl_s;
	int deferred = api.profile_commit_deferred;
	struct sc_profile *p;
	char *s, *pem, *chain, want[200], sql[200];
	const char *id;
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	X509 *leaf;
	json_t *j, *a, *b;

	(void)state;
	api.policy.profile_ttl_s = -120; /* as if the request had come ttl + 120 s ago */
	s = profile_body(&dev_a, NULL, 0, NULL);
	j = post("/v1/profiles", s, 201, NULL, "a profile 120 s past its end");
	api.policy.profile_ttl_s = saved;
	free(s);
	p = profile_of(j);
	leaf = issue_leaf(&dev_a, p);
	id = json_string_value(json_object_get(j, "profile_id"));
	snprintf(sql, sizeof(sql), "DELETE FROM profiles WHERE profile_id = '%s'", id);
	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	sqlite3_busy_timeout(h, 5000);
	assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
	pem = pem_of(leaf, NULL, NULL);
	chain = pem_of(dev_a.ca, mfr_ca, NULL);
	b = json_pack("{s:s, s:O, s:s}", "certificate", pem, "profile",
	    json_object_get(j, "profile"), "chain", chain);
	s = json_dumps(b, JSON_COMPACT);
	api.profile_commit_deferred = 1;
	a = post("/v1/certificates", s, 422, "profile-expired", "carried, deferred: expired");
	snprintf(want, sizeof(want),
	    "profile %s expired at %s (allowance 60 s); ask for a new profile", id,
	    json_string_value(json_object_get(j, "profile_not_after")));
	assert_string_equal(json_string_value(json_object_get(a, "detail")), want);
	json_decref(a);
	api.profile_commit_deferred = 0;
	json_decref(post("/v1/certificates", s, 422, "profile-unknown", "carried, durable"));
	api.profile_commit_deferred = deferred;
	snprintf(sql, sizeof(sql),
	    "SELECT (SELECT count(*) FROM profiles WHERE profile_id = '%s') + (SELECT count(*) "
	    "FROM certificates WHERE profile_id = '%s')",
	    id, id);
	assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 0);
	sqlite3_finalize(st);
	sqlite3_close(h);
	json_decref(b);
	json_decref(j);
	free(s);
	free(pem);
	free(chain);
	X509_free(leaf);
	sc_profile_free(p);
}

/*
 * late15b (review of late15): the renewal reference past profileNotAfter + the allowance (60 s),
 * where the window's later certificates come when the agent sends its batch at the window's end.
 * Two profiles of K = 3, one a second, whose profileNotAfter + 60 s is 4 s after the request
 * (the policy's TTL made negative, as late_certificate does): DEV-L's first certificate is
 * recorded (its reference marked: provd_leafref_recorded in cert_consumed), DEV-M's record fails
 * (a trigger aborts its insert; the reference, put before the record, stays unmarked). Past the
 * allowance, DEV-L's reference is still usable (provd_leafref_usable) and its later
 * certificates are registered; DEV-M's, whose profile no certificate consumed, go
 * the full path and are refused profile-expired, as cert_in_time refuses them without a
 * reference.
 */
static struct dev dev_l = { .id = "DEV-L" }, dev_m = { .id = "DEV-M" };

static X509 *issue_period(const struct dev *d, struct sc_profile *p, uint32_t i)
{
	assert_int_equal(sc_profile_set_renewal_index(p, i), SC_OK);
	return issue_leaf(d, p);
}

static struct sc_profile *renewal_profile(const struct dev *d, char id[65], int64_t *deadline,
    uint32_t count)
{
	char *s = profile_body(d, NULL, 0, NULL);
	json_t *b = json_loads(s, 0, NULL), *j;
	struct sc_profile_info info;
	struct sc_profile *p;

	assert_non_null(b);
	json_object_set_new(b, "renewal", json_true());
	free(s);
	s = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	j = post("/v1/profiles", s, 201, NULL, "a renewal profile");
	free(s);
	snprintf(id, 65, "%s", json_string_value(json_object_get(j, "profile_id")));
	p = profile_of(j);
	json_decref(j);
	sc_profile_get_info(p, &info);
	assert_int_equal(info.renewal_count, count);
	*deadline = (int64_t)info.profile_not_after + PROVD_CLOCK_SKEW_S;
	return p;
}

/* cert_body's text, kept until the next call (for post's argument). */
static const char *cert_body_tmp(X509 *leaf)
{
	static char *last;

	free(last);
	last = cert_body(leaf, 0);
	return last;
}

/* Register leaf; the answer's status and code, and the server log's text in log. */
static void register_leaf(X509 *leaf, int status, const char *code, const char *where,
    char log[256])
{
	struct provd_response resp;
	char *s = cert_body(leaf, 0);

	call("POST", "/v1/certificates", "application/json", s, strlen(s), NULL, &resp);
	snprintf(log, 256, "%s", resp.log);
	json_decref(expect(&resp, status, code, where));
	free(s);
}

static void test_renewal_ref_past_profile(void **state)
{
	struct provd_policy saved = api.policy;
	struct sc_profile *pl, *pm;
	struct provd_leafref *e;
	uint8_t idb[SC_PROFILE_ID_LEN];
	char idl[65], idm[65], sql[300], log[256];
	int64_t dl, dm;
	size_t n;
	sqlite3 *h = NULL;
	X509 *x;

	(void)state;
	make_dev(&dev_l, &acme, &acme);
	make_dev(&dev_m, &acme, &acme);
	assert_int_equal(sc_reg_device_add(reg, "DEV-L", NULL, "t", time(NULL)), SC_OK);
	assert_int_equal(sc_reg_device_add(reg, "DEV-M", NULL, "t", time(NULL)), SC_OK);
	api.policy.renewal_count = 3;
	api.policy.renewal_cadence_s = 1;
	/* notBefore = now (backdated by half of a 1 s cadence: 0): the allowance ends at
	 * now + 2 + ttl + 60 = now + 4. */
	api.policy.profile_ttl_s = -58;
	pl = renewal_profile(&dev_l, idl, &dl, 3);
	pm = renewal_profile(&dev_m, idm, &dm, 3);
	api.policy = saved;
	/* Period 0 of each, in time: DEV-L's recorded, DEV-M's record aborted by a trigger. */
	x = issue_period(&dev_l, pl, 0);
	register_leaf(x, 201, NULL, "DEV-L period 0, in time", log);
	X509_free(x);
	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	sqlite3_busy_timeout(h, 5000);
	assert_int_equal(
	    sqlite3_exec(h,
	        "CREATE TRIGGER late15b_abort BEFORE INSERT ON certificates "
	        "WHEN NEW.device_id = 'DEV-M' BEGIN SELECT RAISE(ABORT, 'late15b'); END",
	        NULL, NULL, NULL),
	    SQLITE_OK);
	x = issue_period(&dev_m, pm, 0);
	{
		struct provd_response resp;
		char *s = cert_body(x, 0);

		call("POST", "/v1/certificates", "application/json", s, strlen(s), NULL, &resp);
		assert_int_not_equal(resp.status, 201);
		assert_int_not_equal(resp.status, 200);
		provd_response_clear(&resp);
		free(s);
	}
	X509_free(x);
	assert_int_equal(sqlite3_exec(h, "DROP TRIGGER late15b_abort", NULL, NULL, NULL),
	    SQLITE_OK);
	assert_true((int64_t)time(NULL) <= dl && (int64_t)time(NULL) <= dm); /* all in time */
	/* The references: DEV-L's marked, DEV-M's not. A build without the shortcuts
	 * (SC_SHORTCUTS=OFF, CI's clang build) keeps none: there only the verdicts below, the
	 * full path's, are asserted. */
	if (sc_fast_enabled()) {
		assert_int_equal(sc_unhex(idl, idb, sizeof(idb), &n), SC_OK);
		assert_non_null(e = provd_leafrefs_get(api.leafrefs, idb));
		assert_int_equal(e->recorded, 1);
		provd_leafref_release(api.leafrefs, e);
		assert_int_equal(sc_unhex(idm, idb, sizeof(idb), &n), SC_OK);
		assert_non_null(e = provd_leafrefs_get(api.leafrefs, idb));
		assert_int_equal(e->recorded, 0);
		provd_leafref_release(api.leafrefs, e);
	}
	/* Past profileNotAfter + 60 s of both: DEV-L's usable (to the window's end), DEV-M's not. */
	while ((int64_t)time(NULL) <= (dl > dm ? dl : dm))
		usleep(100 * 1000);
	if (sc_fast_enabled()) {
		assert_int_equal(sc_unhex(idl, idb, sizeof(idb), &n), SC_OK);
		assert_non_null(e = provd_leafrefs_get(api.leafrefs, idb));
		assert_true(provd_leafref_usable(e, (int64_t)time(NULL)));
		provd_leafref_release(api.leafrefs, e);
		assert_int_equal(sc_unhex(idm, idb, sizeof(idb), &n), SC_OK);
		assert_non_null(e = provd_leafrefs_get(api.leafrefs, idb));
		assert_false(provd_leafref_usable(e, (int64_t)time(NULL)));
		provd_leafref_release(api.leafrefs, e);
	}
	for (uint32_t i = 1; i < 3; i++) {
		x = issue_period(&dev_l, pl, i);
		register_leaf(x, 201, NULL, "DEV-L, past profileNotAfter + 60 s: the reference",
		    log);
		/* Found and usable: cert_fast's way (the full path would accept it too, the profile
		 * consumed; what only the mark gives is asserted on the entry). */
		assert_true(strstr(log, "serial=") != NULL);
		X509_free(x);
		x = issue_period(&dev_m, pm, i);
		register_leaf(x, 422, "profile-expired",
		    "DEV-M (first record failed), past profileNotAfter + 60 s", log);
		X509_free(x);
	}
	snprintf(sql, sizeof(sql),
	    "SELECT (SELECT count(*) FROM certificates WHERE profile_id = '%s') * 10 + "
	    "(SELECT count(*) FROM certificates WHERE profile_id = '%s')",
	    idl, idm);
	{
		sqlite3_stmt *st = NULL;

		assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_int_equal(sqlite3_column_int(st, 0), 30); /* DEV-L's 3, DEV-M's none */
		sqlite3_finalize(st);
	}
	sqlite3_close(h);
	sc_profile_free(pl);
	sc_profile_free(pm);
	free_dev(&dev_l);
	free_dev(&dev_m);
}

/*
 * The two signer tests' world: a profile signer certificate named CN that ends at END, and
 * renewal profiles of K one-second periods for devices A and B (activated here), signed by it.
 * On return the node signs with the short-lived signer (api.signer, api.profile_signer) and
 * keeps its policy; shortlived_done() restores the signer and the profile cache and frees all.
 */
struct shortlived {
	X509 *signer_saved, *cert;
	struct sc_profile_signer *ps_saved, *ps;
	struct provd_profcache *kept, *empty;
	struct sc_profile *p1, *p2;
	char id1[65], id2[65];
};

static void shortlived_setup(struct shortlived *w, const char *cn, time_t end, uint32_t k,
    struct dev *a, struct dev *b)
{
	struct provd_policy saved = api.policy;
	int64_t d;
	struct sc_test_cert spec = {
		.o = "netA",
		.cn = cn,
		.pub = acme.signer_key,
		.issuer = acme.net_root,
		.issuer_key = acme.net_root_key,
		.not_before = time(NULL) - 60,
		.not_after = end,
		.bc = "critical,CA:FALSE",
		.ku = "critical,digitalSignature",
		.eku = SC_OID_KP_PROFILESIGN,
	};

	memset(w, 0, sizeof(*w));
	w->signer_saved = api.signer;
	w->ps_saved = api.profile_signer;
	w->kept = api.profiles;
	assert_int_equal(sc_test_cert_make(&spec, &w->cert), SC_OK);
	assert_int_equal(sc_profile_signer_new(api.signer_key, w->cert, 0, &w->ps), SC_OK);
	assert_int_equal(provd_profcache_new(4, &w->empty), SC_OK);
	make_dev(a, &acme, &acme);
	make_dev(b, &acme, &acme);
	assert_int_equal(sc_reg_device_add(reg, a->id, NULL, "t", time(NULL)), SC_OK);
	assert_int_equal(sc_reg_device_add(reg, b->id, NULL, "t", time(NULL)), SC_OK);
	api.signer = w->cert;
	api.profile_signer = w->ps;
	api.policy.renewal_count = k;
	api.policy.renewal_cadence_s = 1;
	api.policy.validity_s = 1;
	w->p1 = renewal_profile(a, w->id1, &d, k);
	w->p2 = renewal_profile(b, w->id2, &d, k);
	api.policy = saved;
}

static void shortlived_done(struct shortlived *w, struct dev *a, struct dev *b)
{
	api.profiles = w->kept;
	api.signer = w->signer_saved;
	api.profile_signer = w->ps_saved;
	sc_profile_signer_free(w->ps);
	provd_profcache_free(w->empty);
	X509_free(w->cert);
	sc_profile_free(w->p1);
	sc_profile_free(w->p2);
	free_dev(a);
	free_dev(b);
}

/*
 * late15b (review of late15): a late renewal certificate registered after the profile signer's
 * certificate expired gets the same verdict whether its profile is kept (cert_verify's signer
 * and root valid now) or read back from the registry (after a restart or an eviction: emptied
 * profile cache here): refused, untrusted-signer. Before, the profile read back had its signer
 * chain checked at the certificate's judged instant (its last second, when the signer was valid)
 * and was accepted. The profiles are signed by a signer certificate that ends 4 s after the
 * requests; K = 2, a certificate a second, lasting a second.
 */
static struct dev dev_s1 = { .id = "DEV-S1" }, dev_s2 = { .id = "DEV-S2" };

static void test_renewal_signer_expired(void **state)
{
	struct shortlived w;
	struct sc_profile *p1, *p2;
	X509 *x;
	char log[256];
	time_t end = time(NULL) + 6; /* setup has 4 s to issue period 1 before it */
	json_t *a;

	(void)state;
	shortlived_setup(&w, "netA Profile Signer", end, 2, &dev_s1, &dev_s2);
	p1 = w.p1;
	p2 = w.p2;
	/* Period 0 of each, in time, its signer valid: registered. */
	x = issue_period(&dev_s1, p1, 0);
	register_leaf(x, 201, NULL, "DEV-S1 period 0", log);
	X509_free(x);
	x = issue_period(&dev_s2, p2, 0);
	register_leaf(x, 201, NULL, "DEV-S2 period 0", log);
	X509_free(x);
	/* Past the signer's end; period 1 ended before it (judged at its last second). */
	while (time(NULL) <= end)
		usleep(100 * 1000);
	/* Kept: refused. */
	x = issue_period(&dev_s1, p1, 1);
	a = post("/v1/certificates", cert_body_tmp(x), 422, "binding", "kept, signer expired");
	assert_non_null(
	    strstr(json_string_value(json_object_get(a, "detail")), "untrusted-signer: "));
	json_decref(a);
	X509_free(x);
	/* Read back from the registry (a restart): refused the same. */
	api.profiles = w.empty;
	x = issue_period(&dev_s2, p2, 1);
	/* Not vacuous: period 1 ended by the signer's end, so judged at its own period (the rule
	 * before late15b) the read-back profile's signer was valid and it would pass. */
	if (ASN1_TIME_cmp_time_t(X509_get0_notAfter(x), end) > 0)
		fail_msg("setup too slow: period 1 ends after the signer (%lld)", (long long)end);
	a = post("/v1/certificates", cert_body_tmp(x), 422, "binding", "read back, signer expired");
	assert_non_null(
	    strstr(json_string_value(json_object_get(a, "detail")), "untrusted-signer: "));
	json_decref(a);
	X509_free(x);
	shortlived_done(&w, &dev_s1, &dev_s2);
}

/*
 * robust16 (late15b's note): after a signer rotation, the reference shortcut (cert_fast) and the
 * full path give a late certificate the same verdict. The profiles are signed by an old signer
 * whose certificate ends 7 s after the setup starts; then the node turns to the current signer
 * with its profile cache emptied (a restart after the rotation: the profiles are read back).
 * DEV-R1's period 0 leaves its reference, DEV-R2's none (registered with no reference table):
 * period 1, in time, is accepted by both (DEV-R1's by the reference); period 2, registered past
 * the old signer's end, is refused by both, binding "untrusted-signer: …". Before robust16
 * cert_fast checked the node's current signer (valid) and accepted DEV-R1's.
 */
static struct dev dev_r1 = { .id = "DEV-R1" }, dev_r2 = { .id = "DEV-R2" };

static void test_renewal_signer_rotated(void **state)
{
	struct shortlived w;
	struct provd_leafrefs *refs = api.leafrefs;
	struct sc_profile *p1, *p2;
	struct provd_leafref *e;
	uint8_t id[SC_PROFILE_ID_LEN];
	char *id1, *id2, log[256];
	size_t n;
	X509 *x;
	time_t end = time(NULL) + 7; /* setup has 5 s to register period 1 before it */
	json_t *a;

	(void)state;
	/* Signed by the old signer. */
	shortlived_setup(&w, "netA Profile Signer (old)", end, 3, &dev_r1, &dev_r2);
	p1 = w.p1;
	p2 = w.p2;
	id1 = w.id1;
	id2 = w.id2;
	/* The rotation: the current signer, the profiles read back from the registry. */
	api.signer = w.signer_saved;
	api.profile_signer = w.ps_saved;
	api.profiles = w.empty;
	x = issue_period(&dev_r1, p1, 0);
	register_leaf(x, 201, NULL, "DEV-R1 period 0, read back", log);
	X509_free(x);
	api.leafrefs = NULL; /* DEV-R2: no reference, the full path always */
	x = issue_period(&dev_r2, p2, 0);
	register_leaf(x, 201, NULL, "DEV-R2 period 0, read back", log);
	X509_free(x);
	api.leafrefs = refs;
	assert_int_equal(sc_unhex(id2, id, sizeof(id), &n), SC_OK);
	assert_false(provd_leafrefs_has(api.leafrefs, id));
	/* Period 1 (registered early: judged when it starts), the old signer still valid. */
	x = issue_period(&dev_r1, p1, 1);
	register_leaf(x, 201, NULL, "DEV-R1 period 1, by its reference", log);
	X509_free(x);
	x = issue_period(&dev_r2, p2, 1);
	register_leaf(x, 201, NULL, "DEV-R2 period 1, the full path", log);
	X509_free(x);
	/* DEV-R1's reference (where the shortcuts are built): its profile's anchors valid now. */
	assert_int_equal(sc_unhex(id1, id, sizeof(id), &n), SC_OK);
	if (sc_fast_enabled()) {
		assert_non_null(e = provd_leafrefs_get(api.leafrefs, id));
		assert_true(sc_leaf_ref_anchors_valid(e->ref, time(NULL)));
		provd_leafref_release(api.leafrefs, e);
	}
	/* Past the old signer's end; period 2 ended before it (judged at its last second). */
	while (time(NULL) <= end)
		usleep(100 * 1000);
	x = issue_period(&dev_r1, p1, 2);
	if (ASN1_TIME_cmp_time_t(X509_get0_notAfter(x), end) > 0)
		fail_msg("setup too slow: period 2 ends after the old signer (%lld)",
		    (long long)end);
	if (sc_fast_enabled()) {
		/* Still there and usable (recorded, inside its window): only the anchors say no;
		 * the node's current signer (the one before robust16 checked) is valid. */
		assert_non_null(e = provd_leafrefs_get(api.leafrefs, id));
		assert_true(provd_leafref_usable(e, (int64_t)time(NULL)));
		assert_false(sc_leaf_ref_anchors_valid(e->ref, time(NULL)));
		assert_true(X509_cmp_time(X509_get0_notAfter(api.signer), NULL) > 0);
		provd_leafref_release(api.leafrefs, e);
	}
	a = post("/v1/certificates", cert_body_tmp(x), 422, "binding",
	    "DEV-R1 period 2, late, old signer expired (reference)");
	assert_non_null(
	    strstr(json_string_value(json_object_get(a, "detail")), "untrusted-signer: "));
	json_decref(a);
	X509_free(x);
	x = issue_period(&dev_r2, p2, 2);
	a = post("/v1/certificates", cert_body_tmp(x), 422, "binding",
	    "DEV-R2 period 2, late, old signer expired (full path)");
	assert_non_null(
	    strstr(json_string_value(json_object_get(a, "detail")), "untrusted-signer: "));
	json_decref(a);
	X509_free(x);
	shortlived_done(&w, &dev_r1, &dev_r2);
}

static void test_policy_refusals(void **state)
{
	struct provd_policy saved = api.policy;
	char *s;

	(void)state;
	api.policy.alg_mask = 1u << SC_ALG_P256;
	s = profile_body(&dev_a, "rsa2048", 0, NULL);
	json_decref(post("/v1/profiles", s, 422, "algorithm", "algorithm not allowed"));
	free(s);
	api.policy.server_keygen = 0;
	s = profile_body(&dev_a, NULL, 1, NULL);
	json_decref(post("/v1/profiles", s, 422, "policy", "server keygen off"));
	free(s);
	{
		char *chain = pem_of(dev_a.ca, mfr_ca, NULL), *kex = pem_of(dev_a.kex, NULL, NULL);
		json_t *j = json_pack("{s:s, s:s}", "chain", chain, "kex", kex);
		s = json_dumps(j, 0);
		json_decref(post("/v1/profiles", s, 422, "policy", "no challenge"));
		free(s);
		json_decref(j);
		free(chain);
		free(kex);
	}
	/*
	 * Rate: one per hour, then 429 with Retry-After. These requests carry no proof: the
	 * budget is their address's (test_proofs covers the device's).
	 */
	api.policy = saved;
	api.policy.unauth_rate.max = 1;
	peer = "192.0.2.9";
	{
		struct provd_response resp;
		char *b = profile_body(&dev_b, NULL, 0, NULL);
		json_decref(post("/v1/profiles", b, 201, NULL, "first of the hour"));
		free(b);
		b = profile_body(&dev_b, NULL, 0, NULL);
		call("POST", "/v1/profiles", "application/json", b, strlen(b), NULL, &resp);
		assert_true(resp.retry_after > 3500 && resp.retry_after <= 3601);
		json_decref(expect(&resp, 429, "rate-limited", "second of the hour"));
		free(b);
	}
	peer = "test";
	api.policy = saved;
}

static void test_enroll_device_generated(void **state)
{
	char ch[65], *s;
	json_t *j, *j2;
	struct sc_profile *p;
	struct sc_profile_info info;
	X509 *leaf, *leaf2;
	time_t now = time(NULL);

	(void)state;
	challenge_hex(ch);
	s = profile_body(&dev_a, "p384", 0, ch);
	j = post("/v1/profiles", s, 201, NULL, "profile");
	/* The same challenge again: a replayed request. */
	json_decref(post("/v1/profiles", s, 409, "replay", "replayed request"));
	free(s);
	assert_string_equal(json_string_value(json_object_get(j, "device_id")), "DEV-A");
	assert_string_equal(json_string_value(json_object_get(j, "key_origin")), "device");
	assert_string_equal(json_string_value(json_object_get(j, "alg")), "p384");
	p = profile_of(j);
	sc_profile_get_info(p, &info);
	assert_string_equal(info.device_id, "DEV-A");
	assert_string_equal(info.network_id, "netA");
	assert_int_equal(info.alg, SC_ALG_P384);
	assert_int_equal(info.origin, SC_KEY_DEVICE_GENERATED);
	assert_int_equal(info.challenge_len, 32);
	{
		char got[65];
		sc_hex(info.challenge, info.challenge_len, got);
		assert_string_equal(got, ch);
	}
	/* The policy's lifetime, back-dated by the clock skew, and a short-lived profile. */
	assert_true(info.not_after - info.not_before >= 86400 &&
	    info.not_after - info.not_before <= 86400 + 62);
	assert_true(info.profile_not_after > now && info.profile_not_after <= now + 601);
	assert_int_equal(sc_profile_verify_signature(p, net_root, now), SC_OK);
	assert_int_not_equal(sc_profile_verify_signature(p, rogue_signer, now), SC_OK);
	{
		char id[33];
		sc_hex(info.id, SC_PROFILE_ID_LEN, id);
		assert_string_equal(json_string_value(json_object_get(j, "profile_id")), id);
	}

	/* The SP issues; the certificate comes back (PEM), again (idempotent), and a second one. */
	leaf = issue_leaf(&dev_a, p);
	s = cert_body(leaf, 0);
	j2 = post("/v1/certificates", s, 201, NULL, "certificate");
	assert_string_equal(json_string_value(json_object_get(j2, "status")), "registered");
	assert_string_equal(json_string_value(json_object_get(j2, "profile_id")),
	    json_string_value(json_object_get(j, "profile_id")));
	/* crl15: no "crl" sent and none kept: "crl":"none", no "crl_until". */
	assert_string_equal(json_string_value(json_object_get(j2, "crl")), "none");
	assert_null(json_object_get(j2, "crl_until"));
	json_decref(j2);
	{
		/* crl15: one kept (the registry judges no CRL's bytes): its nextUpdate is said. */
		static const uint8_t crl_der[] = { 0x30, 0x00 };
		struct sc_reg_crl_rec cr = { .number = 5,
			.next_update = 1796666778,
			.der = crl_der,
			.der_len = sizeof(crl_der) };
		int stored = 0;

		snprintf(cr.device_id, sizeof(cr.device_id), "DEV-A");
		assert_int_equal(sc_reg_crl_put(reg, &cr, (int64_t)now, &stored), SC_OK);
		assert_int_equal(stored, 1);
	}
	j2 = post("/v1/certificates", s, 200, NULL, "certificate again");
	assert_string_equal(json_string_value(json_object_get(j2, "status")), "already-registered");
	assert_string_equal(json_string_value(json_object_get(j2, "crl_until")),
	    "2026-12-07T18:06:18Z");
	assert_null(json_object_get(j2, "crl"));
	json_decref(j2);
	free(s);
	leaf2 = issue_leaf(&dev_a, p);
	s = cert_body(leaf2, 1); /* base64 DER this time */
	json_decref(post("/v1/certificates", s, 409, "profile-consumed",
	    "second certificate, same profile"));
	free(s);

	/* Status shows it. */
	{
		struct provd_response resp;
		call("GET", "/v1/devices/DEV-A", NULL, NULL, 0, NULL, &resp);
		j2 = expect(&resp, 200, NULL, "status");
		assert_string_equal(json_string_value(json_object_get(j2, "status")), "active");
		assert_int_equal(json_integer_value(json_object_get(j2, "certificates_registered")),
		    1);
		assert_true(json_is_object(json_object_get(j2, "certificate")));
		json_decref(j2);
	}
	X509_free(leaf);
	X509_free(leaf2);
	sc_profile_free(p);
	json_decref(j);
}

static void test_enroll_server_generated(void **state)
{
	char *s;
	json_t *j;
	struct sc_profile *p;
	struct sc_profile_info info;
	EVP_PKEY *key = NULL;
	X509 *leaf;

	(void)state;
	s = profile_body(&dev_b, "ed25519", 1, NULL);
	j = post("/v1/profiles", s, 201, NULL, "server keygen profile");
	free(s);
	assert_string_equal(json_string_value(json_object_get(j, "key_origin")), "server");
	p = profile_of(j);
	sc_profile_get_info(p, &info);
	assert_int_equal(info.origin, SC_KEY_SERVER_SUPPLIED);
	assert_int_equal(info.alg, SC_ALG_ED25519);
	/* Only the device's KEK opens it, and it is the key the profile names. */
	assert_int_equal(sc_profile_unwrap_key(p, dev_b.kek, dev_b.kex, &key), SC_OK);
	assert_int_equal(EVP_PKEY_eq(key, info.supplied_pub), 1);
	EVP_PKEY_free(key);
	key = NULL;
	assert_int_equal(sc_profile_unwrap_key(p, dev_a.kek, dev_a.kex, &key), SC_ERR_KEY_DECRYPT);
	leaf = issue_leaf(&dev_b, p);
	s = cert_body(leaf, 0);
	json_decref(post("/v1/certificates", s, 201, NULL, "server-keygen certificate"));
	free(s);
	X509_free(leaf);
	sc_profile_free(p);
	json_decref(j);
}

static void test_certificate_refusals(void **state)
{
	char *s;
	json_t *j;
	struct sc_profile *p, *fake = NULL;
	X509 *leaf;

	(void)state;
	/* A certificate for a profile this server never issued (signed by our signer, never recorded). */
	{
		struct sc_profile_params pp;
		uint8_t ch[32] = { 1 };
		memset(&pp, 0, sizeof(pp));
		pp.network_id = "netA";
		pp.device_id = "DEV-A";
		pp.challenge = ch;
		pp.challenge_len = sizeof(ch);
		pp.profile_not_after = time(NULL) + 600;
		pp.not_before = time(NULL) - 10;
		pp.not_after = time(NULL) + 3600;
		pp.generate_alg = SC_ALG_P256;
		assert_int_equal(sc_profile_create(&pp, &fake), SC_OK);
		assert_int_equal(sc_profile_sign(fake, signer_key, signer, NULL, 0), SC_OK);
		leaf = issue_leaf(&dev_a, fake);
		s = cert_body(leaf, 0);
		json_decref(
		    post("/v1/certificates", s, 422, "profile-unknown", "profile never issued"));
		free(s);
		X509_free(leaf);
		sc_profile_free(fake);
	}
	/* Not one of ours at all: no issuance extension. */
	s = cert_body(dev_a.ca, 0);
	json_decref(post("/v1/certificates", s, 422, "binding", "no issuance extension"));
	free(s);
	s = cert_body(mfr_ca, 0);
	json_decref(post("/v1/certificates", s, 422, "binding", "no serialNumber"));
	free(s);
	/* Issued under a real profile but not by the device: another device's CSK signed it. */
	s = profile_body(&dev_a, NULL, 0, NULL);
	j = post("/v1/profiles", s, 201, NULL, "profile for the forgery");
	free(s);
	p = profile_of(j);
	{
		EVP_PKEY *k = keygen(SC_ALG_P256);
		assert_int_equal(sc_cert_issue_leaf(p, k, dev_a.ca, dev_a.csk, 1, &leaf), SC_OK);
		assert_true(X509_sign(leaf, dev_b.csk, EVP_sha256()) > 0);
		EVP_PKEY_free(k);
	}
	s = cert_body(leaf, 0);
	json_decref(post("/v1/certificates", s, 422, "chain", "signed by another device's CSK"));
	free(s);
	X509_free(leaf);
	/* The right device, but not what the profile says: another notAfter (re-signed by the right CSK). */
	{
		EVP_PKEY *k = keygen(SC_ALG_P256);
		assert_int_equal(sc_cert_issue_leaf(p, k, dev_a.ca, dev_a.csk, 2, &leaf), SC_OK);
		assert_non_null(X509_time_adj_ex(X509_getm_notAfter(leaf), 2, 0, NULL));
		assert_true(X509_sign(leaf, dev_a.csk, EVP_sha256()) > 0);
		EVP_PKEY_free(k);
	}
	s = cert_body(leaf, 0);
	json_decref(post("/v1/certificates", s, 422, "binding", "validity not the profile's"));
	free(s);
	X509_free(leaf);
	/*
	 * Issue 16: every compared field right, one subject attribute more (OU=operators), signed by
	 * the device's own CSK with the profile's digest: not the certificate the profile dictates.
	 */
	{
		EVP_PKEY *k = keygen(SC_ALG_P256);
		struct sc_profile_info info;
		X509_NAME *n;
		json_t *e;

		sc_profile_get_info(p, &info);
		assert_int_equal(sc_cert_issue_leaf(p, k, dev_a.ca, dev_a.csk, 3, &leaf), SC_OK);
		n = X509_NAME_dup(X509_get_subject_name(leaf));
		assert_true(X509_NAME_add_entry_by_txt(n, "OU", MBSTRING_UTF8,
		    (const unsigned char *)"operators", -1, -1, 0));
		assert_true(X509_set_subject_name(leaf, n));
		X509_NAME_free(n);
		assert_true(
		    X509_sign(leaf, dev_a.csk, sc_sign_md(dev_a.csk, info.cert_digest)) > 0);
		EVP_PKEY_free(k);
		s = cert_body(leaf, 0);
		e = post("/v1/certificates", s, 422, "binding", "OU=operators added");
		if (strstr(json_string_value(json_object_get(e, "detail")), "subject: ") == NULL)
			fail_msg("OU=operators: detail %s",
			    json_string_value(json_object_get(e, "detail")));
		json_decref(e);
		free(s);
		X509_free(leaf);
	}
	/* Malformed certificate fields. */
	json_decref(
	    post("/v1/certificates", "{\"certificate\":\"AAAA\"}", 400, "bad-der", "junk DER"));
	json_decref(post("/v1/certificates", "{\"certificate\":\"%%%%\"}", 400, "bad-base64",
	    "junk base64"));
	json_decref(
	    post("/v1/certificates", "{\"certificate\":[\"AAAA\"]}", 400, "wrong-type", "array"));
	json_decref(
	    post("/v1/certificates", "{\"cert\":\"AAAA\"}", 400, "unknown-field", "misspelt"));
	json_decref(post("/v1/certificates", "{}", 400, "missing-field", "empty"));
	sc_profile_free(p);
	json_decref(j);
}

static void test_revoke(void **state)
{
	struct provd_response resp;
	const char *reason = "{\"reason\":\"stolen\"}";
	char *s;
	json_t *j;
	struct sc_profile *p;
	X509 *leaf;

	(void)state;
	/* A profile issued before the revocation; its certificate is refused after it. */
	s = profile_body(&dev_b, NULL, 0, NULL);
	j = post("/v1/profiles", s, 201, NULL, "profile before revocation");
	free(s);
	p = profile_of(j);
	json_decref(j);

	call("POST", "/v1/devices/DEV-B/revoke", "application/json", reason, strlen(reason), NULL,
	    &resp);
	json_decref(expect(&resp, 401, "unauthorized", "no token"));
	call("POST", "/v1/devices/DEV-B/revoke", "application/json", reason, strlen(reason),
	    "Bearer wrong-token-xxxxxxxx", &resp);
	json_decref(expect(&resp, 401, "unauthorized", "wrong token"));
	call("POST", "/v1/devices/DEV-B/revoke", "application/json", reason, strlen(reason),
	    "Basic " TOKEN, &resp);
	json_decref(expect(&resp, 401, "unauthorized", "not a bearer token"));
	call("POST", "/v1/devices/DEV-Z/revoke", NULL, NULL, 0, "Bearer " TOKEN, &resp);
	json_decref(expect(&resp, 404, "unknown-device", "unknown device"));
	call("POST", "/v1/devices/DEV-B/revoke", "application/json", "{\"why\":1}", 9,
	    "Bearer " TOKEN, &resp);
	json_decref(expect(&resp, 400, "unknown-field", "bad body"));
	call("POST", "/v1/devices/DEV-B/revoke", "application/json", reason, strlen(reason),
	    "Bearer " TOKEN, &resp);
	j = expect(&resp, 200, NULL, "revoke");
	assert_true(json_is_false(json_object_get(j, "already_revoked")));
	json_decref(j);
	call("POST", "/v1/devices/DEV-B/revoke", NULL, NULL, 0, "Bearer " TOKEN, &resp);
	j = expect(&resp, 200, NULL, "revoke again");
	assert_true(json_is_true(json_object_get(j, "already_revoked")));
	json_decref(j);

	leaf = issue_leaf(&dev_b, p);
	s = cert_body(leaf, 0);
	json_decref(post("/v1/certificates", s, 403, "revoked", "certificate after revocation"));
	free(s);
	s = profile_body(&dev_b, NULL, 0, NULL);
	json_decref(post("/v1/profiles", s, 403, "revoked", "profile after revocation"));
	free(s);
	call("GET", "/v1/devices/DEV-B", NULL, NULL, 0, "Bearer " TOKEN, &resp);
	j = expect(&resp, 200, NULL, "revoked status (operator)");
	assert_string_equal(json_string_value(json_object_get(j, "status")), "revoked");
	assert_string_equal(json_string_value(json_object_get(j, "revocation_reason")), "stolen");
	json_decref(j);
	/* Without the operator's token (or with a wrong one): revoked, but not why. */
	call("GET", "/v1/devices/DEV-B", NULL, NULL, 0, "Bearer wrong-token-wrong-token", &resp);
	j = expect(&resp, 200, NULL, "revoked status (public)");
	assert_string_equal(json_string_value(json_object_get(j, "status")), "revoked");
	assert_non_null(json_object_get(j, "revoked_at"));
	assert_null(json_object_get(j, "revocation_reason"));
	json_decref(j);
	call("GET", "/v1/devices/NOPE", NULL, NULL, 0, NULL, &resp);
	json_decref(expect(&resp, 404, "unknown-device", "status of unknown"));
	call("GET", "/v1/devices/bad*id", NULL, NULL, 0, NULL, &resp);
	json_decref(expect(&resp, 400, "bad-value", "bad device id"));
	X509_free(leaf);
	sc_profile_free(p);
	/* Operator endpoints off: admin-disabled. */
	api.admin_enabled = 0;
	call("POST", "/v1/devices/DEV-A/revoke", NULL, NULL, 0, "Bearer " TOKEN, &resp);
	json_decref(expect(&resp, 403, "admin-disabled", "no token configured"));
	api.admin_enabled = 1;
}

static void test_metrics(void **state)
{
	struct provd_response resp;
	char *text;

	(void)state;
	call("GET", "/metrics", NULL, NULL, 0, NULL, &resp);
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.content_type, "text/plain; version=0.0.4; charset=utf-8");
	text = strndup(resp.body, resp.body_len);
	assert_non_null(
	    strstr(text, "selfcert_provd_profiles_issued_total{origin=\"server\"} 1\n"));
	assert_non_null(strstr(text, "selfcert_provd_certificates_registered_total 2\n"));
	assert_non_null(strstr(text, "selfcert_provd_refusals_total{reason=\"replay\"} 1\n"));
	assert_non_null(strstr(text, "selfcert_provd_refusals_total{reason=\"revoked\"} "));
	assert_non_null(strstr(text, "selfcert_provd_devices{status=\"revoked\"} 2\n"));
	assert_non_null(strstr(text, "# TYPE selfcert_provd_request_duration_seconds histogram\n"));
	/* No TLS here (main.c counts a connection's handshake at its first request): both zero. */
	assert_non_null(strstr(text,
	    "# TYPE selfcert_provd_tls_handshakes_total counter\n"
	    "selfcert_provd_tls_handshakes_total{kind=\"full\"} 0\n"
	    "selfcert_provd_tls_handshakes_total{kind=\"resumed\"} 0\n"));
	free(text);
	provd_response_clear(&resp);
	/* Each kind counted apart, exactly; any non-zero is "resumed". */
	provd_metrics_handshake(api.metrics, 0);
	provd_metrics_handshake(api.metrics, 1);
	provd_metrics_handshake(api.metrics, 0);
	provd_metrics_handshake(api.metrics, 2);
	provd_metrics_handshake(api.metrics, 0);
	provd_metrics_handshake(NULL, 1); /* no metrics: nothing */
	call("GET", "/metrics", NULL, NULL, 0, NULL, &resp);
	assert_int_equal(resp.status, 200);
	text = strndup(resp.body, resp.body_len);
	assert_non_null(strstr(text,
	    "selfcert_provd_tls_handshakes_total{kind=\"full\"} 3\n"
	    "selfcert_provd_tls_handshakes_total{kind=\"resumed\"} 2\n"));
	free(text);
	provd_response_clear(&resp);
}

/*
 * The certificate request without the server's memories: with no caches at all (k = 0), and with
 * the profile not kept (k = 1: a restart or an eviction; the registry's copy is decoded and its
 * signature checked in full). Same answers as with them: registered; a leaf signed by another
 * device's CSK refused (chain); the right device but not the profile's validity refused (binding).
 */
static void test_enroll_uncached(void **state)
{
	struct provd_profcache *kept = api.profiles, *empty = NULL;
	struct provd_certcache *certs = api.certs;
	struct sc_sig_cache *sigs = api.sigs;
	(void)state;

	assert_int_equal(provd_profcache_new(4, &empty), SC_OK);
	for (int k = 0; k < 2; k++) {
		char *s;
		json_t *j;
		struct sc_profile *p;
		X509 *leaf = NULL;
		EVP_PKEY *key = keygen(SC_ALG_P256);

		if (k == 0) {
			api.profiles = NULL;
			api.certs = NULL;
			api.sigs = NULL;
		} else {
			api.profiles = kept;
			api.certs = certs;
			api.sigs = sigs;
		}
		s = profile_body(&dev_a, "p256", 0, NULL);
		j = post("/v1/profiles", s, 201, NULL, "profile");
		free(s);
		if (k == 1)
			api.profiles = empty; /* kept in the other cache only: not found */
		p = profile_of(j);
		assert_int_equal(sc_cert_issue_leaf(p, key, dev_a.ca, dev_a.csk, 10, &leaf), SC_OK);
		assert_true(X509_sign(leaf, dev_b.csk, EVP_sha256()) > 0);
		s = cert_body(leaf, 0);
		json_decref(post("/v1/certificates", s, 422, "chain",
		    "uncached: signed by another device's CSK"));
		free(s);
		X509_free(leaf);
		leaf = NULL;
		assert_int_equal(sc_cert_issue_leaf(p, key, dev_a.ca, dev_a.csk, 11, &leaf), SC_OK);
		assert_non_null(X509_time_adj_ex(X509_getm_notAfter(leaf), 2, 0, NULL));
		assert_true(X509_sign(leaf, dev_a.csk, EVP_sha256()) > 0);
		s = cert_body(leaf, 0);
		json_decref(post("/v1/certificates", s, 422, "binding",
		    "uncached: validity not the profile's"));
		free(s);
		X509_free(leaf);
		leaf = issue_leaf(&dev_a, p);
		s = cert_body(leaf, 0);
		json_decref(post("/v1/certificates", s, 201, NULL, "uncached: registered"));
		free(s);
		X509_free(leaf);
		EVP_PKEY_free(key);
		sc_profile_free(p);
		json_decref(j);
	}
	{
		uint64_t hits, misses;
		size_t entries;
		provd_profcache_counts(empty, &hits, &misses, &entries);
		assert_int_equal(hits, 0);
		assert_int_equal(misses, 3);
	}
	api.profiles = kept;
	api.certs = certs;
	api.sigs = sigs;
	provd_profcache_free(empty);
}

/* The policy's subjectAltName templates, expanded per device (provd_policy_san). */
static void test_policy_san(void **state)
{
	struct provd_policy pol;
	char out[PROVD_SAN_MAX + 1], net[65];
	(void)state;

	provd_policy_defaults(&pol);
	snprintf(pol.san[0], sizeof(pol.san[0]), "uri:spiffe://{network}/device/{device}");
	snprintf(pol.san[1], sizeof(pol.san[1]), "dns:api.{device_dns}");
	snprintf(pol.san[2], sizeof(pol.san[2]), "email:{device}@{network}");
	pol.n_san = 3;
	assert_int_equal(provd_policy_san(&pol, 0, "net-1", "DEV-A", out, sizeof(out)), SC_OK);
	assert_string_equal(out, "uri:spiffe://net-1/device/DEV-A");
	/* a URI carries the device ID percent-encoded; other types as it is */
	assert_int_equal(provd_policy_san(&pol, 0, "net-1", "DEV A/1", out, sizeof(out)), SC_OK);
	assert_string_equal(out, "uri:spiffe://net-1/device/DEV%20A%2F1");
	assert_int_equal(provd_policy_san(&pol, 2, "net-1", "DEV-A", out, sizeof(out)), SC_OK);
	assert_string_equal(out, "email:DEV-A@net-1");
	assert_int_equal(provd_policy_san(&pol, 1, "net-1", "DEV-A", out, sizeof(out)), SC_OK);
	assert_string_equal(out, "dns:api.dev-a.selfcert.invalid");
	/* no DNS name for this device: refused for it, naming it */
	assert_int_equal(provd_policy_san(&pol, 1, "net-1", "DEV A", out, sizeof(out)),
	    PROVD_ERR_POLICY);
	assert_non_null(strstr(sc_err_detail(), "device DEV A has none"));
	/* an expansion longer than PROVD_SAN_MAX */
	memset(net, 'n', 64);
	net[64] = '\0';
	snprintf(pol.san[0], sizeof(pol.san[0]), "uri:x:{network}{network}{network}{network}");
	assert_int_equal(provd_policy_san(&pol, 0, net, "DEV-A", out, sizeof(out)),
	    PROVD_ERR_POLICY);
	/* no such template */
	assert_int_equal(provd_policy_san(&pol, 3, "net-1", "DEV-A", out, sizeof(out)),
	    SC_ERR_USAGE);
}

/* POST /v1/profiles for d with "renewal" set to v (owned: taken); the answer, checked. */
static json_t *post_renewal(const struct dev *d, json_t *v, int status, const char *code,
    const char *where)
{
	char *s = profile_body(d, NULL, 0, NULL);
	json_t *b = json_loads(s, 0, NULL), *j;

	assert_non_null(b);
	json_object_set_new(b, "renewal", v);
	free(s);
	s = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	j = post("/v1/profiles", s, status, code, where);
	free(s);
	return j;
}

/*
 * audit17 items 3 and 10: a renewal profile whose last certificate would end after the device
 * CA certificate is refused by the server's policy (h_enroll.c), not left to the device: 422
 * policy naming the device. Its certificates each fit (a lifetime of a cadence of 300 days,
 * the device CA's 3650): 13 do not (the last ends on day 3900), 12 do (day 3600). And "renewal"
 * of the wrong type is refused.
 */
static struct dev dev_w = { .id = "DEV-W" };

static void test_renewal_window_past_ca(void **state)
{
	struct provd_policy saved = api.policy;
	struct sc_profile_info info;
	struct sc_profile *p;
	json_t *j;

	(void)state;
	make_dev(&dev_w, &acme, &acme);
	assert_int_equal(sc_reg_device_add(reg, dev_w.id, NULL, "t", time(NULL)), SC_OK);
	api.policy.renewal_count = 13;
	api.policy.renewal_cadence_s = 300 * 86400LL;
	api.policy.validity_s = 300 * 86400LL;
	j = post_renewal(&dev_w, json_true(), 422, "policy", "window past the device CA");
	assert_string_equal(json_string_value(json_object_get(j, "detail")),
	    "device DEV-W's CA certificate ends before the renewal window");
	json_decref(j);
	api.policy.renewal_count = 12;
	j = post_renewal(&dev_w, json_true(), 201, NULL, "window inside the device CA");
	p = profile_of(j);
	sc_profile_get_info(p, &info);
	assert_int_equal(info.renewal_count, 12);
	assert_int_equal(info.renewal_cadence, 300 * 86400);
	sc_profile_free(p);
	json_decref(j);
	api.policy = saved;
	/* "renewal" must be a JSON boolean. */
	j = post_renewal(&dev_w, json_string("yes"), 400, "wrong-type", "renewal \"yes\"");
	assert_string_equal(json_string_value(json_object_get(j, "detail")),
	    "field \"renewal\" must be true or false");
	json_decref(j);
	json_decref(post_renewal(&dev_w, json_integer(1), 400, "wrong-type", "renewal 1"));
	json_decref(post_renewal(&dev_w, json_null(), 400, "wrong-type", "renewal null"));
	free_dev(&dev_w);
}

/* The policy file text loaded over the defaults, then checked as at start-up: the first error. */
static sc_err policy_of(const char *text, struct provd_policy *p)
{
	char path[700];
	sc_err r;

	snprintf(path, sizeof(path), "%s/policy-t17.json", dir);
	sc_test_write_file(path, text, strlen(text));
	provd_policy_defaults(p);
	if ((r = provd_policy_load(path, p)) == SC_OK)
		r = provd_policy_check(p);
	return r;
}

/*
 * audit17 item 10: the policy's "renewal" (policy.c get_renewal, provd_policy_check): its shape,
 * the count's bounds 2..1024 (the decoder's, so a profile the server signs always decodes), the
 * cadence's 1 s..366 d and at most the validity (each certificate starts before the last ends).
 */
static void test_policy_renewal_bounds(void **state)
{
	static const char shape[] =
	    "policy \"renewal\": expected {\"count\": N, \"cadence\": \"1d\"}";
	static const char count[] = "policy \"renewal\".\"count\": expected 2..1024";
	static const struct {
		const char *text, *detail; /* detail NULL: accepted */
	} cases[] = {
		{ "{\"renewal\": 4}", shape },
		{ "{\"renewal\": {\"count\": 4}}", shape },
		{ "{\"renewal\": {\"count\": 4, \"cadence\": \"1h\", \"x\": 1}}", shape },
		{ "{\"renewal\": {\"count\": 1, \"cadence\": \"1h\"}}", count },
		{ "{\"renewal\": {\"count\": 1025, \"cadence\": \"1h\"}}", count },
		{ "{\"renewal\": {\"count\": \"4\", \"cadence\": \"1h\"}}", count },
		{ "{\"renewal\": {\"count\": 4.0, \"cadence\": \"1h\"}}", count },
		{ "{\"renewal\": {\"count\": 4, \"cadence\": 3600}}",
		    "policy \"renewal.cadence\": expected a duration string like \"30d\"" },
		{ "{\"renewal\": {\"count\": 2, \"cadence\": \"1s\"}}", NULL },
		{ "{\"renewal\": {\"count\": 1024, \"cadence\": \"24h\"}}", NULL },
		{ "{\"renewal\": {\"count\": 4, \"cadence\": \"25h\"}}",
		    "policy: renewal cadence 90000s: from 1s to the validity (86400s), at most 366d" },
		{ "{\"validity\": \"2y\", \"renewal\": {\"count\": 4, \"cadence\": \"366d\"}}",
		    NULL },
		{ "{\"validity\": \"2y\", \"renewal\": {\"count\": 4, \"cadence\": \"367d\"}}",
		    "policy: renewal cadence 31708800s: from 1s to the validity (63072000s), at most "
		    "366d" },
	};
	struct provd_policy p;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		sc_err r = policy_of(cases[i].text, &p);

		if (cases[i].detail == NULL) {
			if (r != SC_OK)
				fail_msg("%s: %s", cases[i].text, sc_err_detail());
			continue;
		}
		assert_int_equal(r, SC_ERR_USAGE);
		if (strstr(sc_err_detail(), cases[i].detail) == NULL)
			fail_msg("%s: detail \"%s\" lacks \"%s\"", cases[i].text, sc_err_detail(),
			    cases[i].detail);
	}
	/* Accepted values are kept. */
	assert_int_equal(policy_of("{\"renewal\": {\"count\": 1024, \"cadence\": \"24h\"}}", &p),
	    SC_OK);
	assert_int_equal(p.renewal_count, 1024);
	assert_int_equal(p.renewal_cadence_s, 86400);
	/* The cadence's lower bound, which no duration string reaches. */
	p.renewal_cadence_s = 0;
	assert_int_equal(provd_policy_check(&p), SC_ERR_USAGE);
}

/* POST /v1/certificates/batch with body; its error code and detail (exact). */
static void batch_refused(const char *body, int status, const char *code, const char *detail)
{
	struct provd_response resp;
	json_t *j;

	call("POST", "/v1/certificates/batch", "application/json", body, strlen(body), NULL, &resp);
	j = expect(&resp, status, code, detail);
	assert_string_equal(json_string_value(json_object_get(j, "detail")), detail);
	json_decref(j);
}

/*
 * audit17 item 10: POST /v1/certificates/batch's refusals of the whole request (h_batch.c, and
 * the body limit and parser it shares): over 64 KiB, not JSON, no or a non-array "certificates",
 * 0 or 33 entries, an entry not a string. 32 entries are judged one by one (200).
 */
static void test_batch_endpoint_refusals(void **state)
{
	char *big = malloc(PROVD_MAX_BODY + 2), body[64 + 33 * 8];
	struct provd_response resp;
	json_t *j;
	size_t n;

	(void)state;
	assert_non_null(big);
	memset(big, ' ', PROVD_MAX_BODY + 1);
	big[PROVD_MAX_BODY + 1] = '\0';
	call("POST", "/v1/certificates/batch", "application/json", big, PROVD_MAX_BODY + 1, NULL,
	    &resp);
	json_decref(expect(&resp, 413, "body-too-large", "65537 bytes"));
	free(big);
	batch_refused("{\"certificates\":[", 400, "malformed-json",
	    "body is not JSON: ']' expected near end of file (position 17)");
	batch_refused("{}", 400, "missing-field", "field \"certificates\" is missing");
	batch_refused("{\"certificates\":\"AAAA\"}", 400, "wrong-type",
	    "field \"certificates\" must be an array of PEM strings");
	batch_refused("{\"certificates\":[]}", 400, "bad-value",
	    "field \"certificates\": 0 entries, 1..32");
	batch_refused("{\"certificates\":[\"AAAA\",5]}", 400, "wrong-type",
	    "field \"certificates\"[1] must be a PEM string");
	for (size_t k = 32; k <= 33; k++) {
		n = (size_t)snprintf(body, sizeof(body), "{\"certificates\":[");
		for (size_t i = 0; i < k; i++)
			n += (size_t)snprintf(body + n, sizeof(body) - n, "%s\"AAAA\"",
			    i ? "," : "");
		n += (size_t)snprintf(body + n, sizeof(body) - n, "]}");
		if (k == 33) {
			batch_refused(body, 400, "bad-value",
			    "field \"certificates\": 33 entries, 1..32");
			continue;
		}
		call("POST", "/v1/certificates/batch", "application/json", body, n, NULL, &resp);
		j = expect(&resp, 200, NULL, "32 entries");
		assert_int_equal(json_array_size(json_object_get(j, "results")), 32);
		assert_int_equal(json_integer_value(json_object_get(j, "registered")), 0);
		json_decref(j);
	}
}

/* PEM_write_bio's text for d's certificates, as chain_pem_of made it before req19. */
static char *pem_by_bio(const struct provd_ders *d)
{
	BIO *b = BIO_new(BIO_s_mem());
	BUF_MEM *m = NULL;
	char *s;

	assert_non_null(b);
	for (int i = 0; i < d->n; i++)
		assert_true(
		    PEM_write_bio(b, PEM_STRING_X509, "", d->item[i].der, (long)d->item[i].len));
	BIO_get_mem_ptr(b, &m);
	s = calloc(1, m->length + 1);
	assert_non_null(s);
	memcpy(s, m->data, m->length);
	BIO_free(b);
	return s;
}

/* req19: provd_ders_pem is PEM_write_bio's text byte for byte, for every length about a line. */
static void test_ders_pem(void **state)
{
	struct provd_ders d;
	uint8_t buf[PROVD_MAX_CHAIN][400];
	char *got, *want;

	(void)state;
	for (size_t i = 0; i < sizeof(buf); i++)
		((uint8_t *)buf)[i] = (uint8_t)(i * 131 + 7);
	/* One certificate of each length 1..400 (48 a line: whole lines, partial, one short). */
	for (size_t len = 1; len <= 400; len++) {
		memset(&d, 0, sizeof(d));
		d.n = 1;
		d.item[0].der = buf[0];
		d.item[0].len = len;
		assert_int_equal(provd_ders_pem(&d, &got), SC_OK);
		want = pem_by_bio(&d);
		assert_string_equal(got, want);
		assert_int_equal(strlen(got), strlen(want));
		OPENSSL_free(got);
		free(want);
	}
	/* A chain of PROVD_MAX_CHAIN certificates, lengths mixed: blocks one after another. */
	memset(&d, 0, sizeof(d));
	d.n = PROVD_MAX_CHAIN;
	for (int i = 0; i < d.n; i++) {
		d.item[i].der = buf[i];
		d.item[i].len = 1 + (size_t)(47 + 49 * i) % 400;
	}
	assert_int_equal(provd_ders_pem(&d, &got), SC_OK);
	want = pem_by_bio(&d);
	assert_string_equal(got, want);
	OPENSSL_free(got);
	free(want);
	/* No certificate: the empty text. */
	memset(&d, 0, sizeof(d));
	assert_int_equal(provd_ders_pem(&d, &got), SC_OK);
	assert_string_equal(got, "");
	OPENSSL_free(got);
	/* An empty DER (PEM_write_bio fails on it) and an oversize one: refused, nothing out. */
	for (int k = 0; k < 2; k++) {
		memset(&d, 0, sizeof(d));
		d.n = 2;
		d.item[0].der = d.item[1].der = buf[0];
		d.item[0].len = 10;
		d.item[1].len = k == 0 ? 0 : (size_t)PROVD_MAX_BODY + 1;
		got = (char *)buf;
		assert_int_equal(provd_ders_pem(&d, &got), SC_ERR_INTERNAL);
		assert_string_equal(sc_err_detail(), "encoding the chain");
		assert_null(got);
		sc_err_clear();
	}
}

/* req19: provd_respond_json's body is json_dumps's compact text and '\n', at every size. */
/* The answer of test_respond_json_bytes with a "profile" value of n bytes. */
static json_t *bytes_answer(const char *v)
{
	/* a string needing escapes and a non-ASCII one too */
	return json_pack("{s:s, s:s, s:i, s:[s, b]}", "profile", v, "esc", "a\"b\\c\n\x01\xc3\xa9",
	    "n", 42, "list", "x", 1);
}

static void test_respond_json_bytes(void **state)
{
	/*
	 * Whole dumps of every length about the first buffer's edges (4096, 8192: the growth leaves
	 * room for the '\n' and the NUL; review of req19: a one-byte overflow there passed sizes that
	 * never reached them, caught only under valgrind/ASan, as CI runs this test), and short and
	 * long ones. The value's length is the edge less the rest of the answer, measured.
	 */
	static const size_t edges[] = { 4093, 4094, 4095, 4096, 4097, 8189, 8190, 8191, 8192,
		8193 };
	size_t sizes[sizeof(edges) / sizeof(edges[0]) + 3], rest, ns = 0;
	json_t *j0 = bytes_answer("");
	char *d0 = json_dumps(j0, JSON_COMPACT);

	(void)state;
	assert_non_null(d0);
	rest = strlen(d0);
	free(d0);
	json_decref(j0);
	sizes[ns++] = 0;
	sizes[ns++] = 1;
	sizes[ns++] = 20000;
	for (size_t e = 0; e < sizeof(edges) / sizeof(edges[0]); e++)
		sizes[ns++] = edges[e] - rest;
	for (size_t k = 0; k < ns; k++) {
		struct provd_response resp;
		char *v = malloc(sizes[k] + 1), *want;
		json_t *j;

		assert_non_null(v);
		for (size_t i = 0; i < sizes[k]; i++)
			v[i] = (char)('A' + i % 26);
		v[sizes[k]] = '\0';
		j = bytes_answer(v);
		assert_non_null(j);
		want = json_dumps(j, JSON_COMPACT);
		assert_non_null(want);
		if (k >= 3)
			assert_int_equal(strlen(want), edges[k - 3]);
		memset(&resp, 0, sizeof(resp));
		provd_respond_json(&resp, 201, j);
		assert_int_equal(resp.status, 201);
		assert_int_equal(resp.body_len, strlen(want) + 1);
		assert_memory_equal(resp.body, want, strlen(want));
		assert_int_equal(resp.body[resp.body_len - 1], '\n');
		assert_int_equal(resp.body[resp.body_len], '\0');
		assert_string_equal(resp.content_type, PROVD_JSON_TYPE);
		provd_response_clear(&resp);
		free(want);
		free(v);
	}
	/* No answer (a failed json_pack): the one internal error, as before. */
	{
		struct provd_response resp;

		memset(&resp, 0, sizeof(resp));
		provd_respond_json(&resp, 201, NULL);
		assert_int_equal(resp.status, 500);
		assert_string_equal(resp.body,
		    "{\"error\":\"internal\",\"detail\":\"cannot encode the answer\"}\n");
		assert_int_equal(resp.body_len, strlen(resp.body));
		provd_response_clear(&resp);
	}
}

/* provd_respond_json_b64(j, "profile", v) against json_dumps of j with "profile" set to v. */
static void b64_answer_as_dumps(json_t *j, const char *v, size_t n)
{
	struct provd_response resp;
	json_t *ref = json_deep_copy(j);
	char *want;

	assert_non_null(ref);
	assert_int_equal(json_object_set_new(ref, "profile", json_stringn(v, n)), 0);
	want = json_dumps(ref, JSON_COMPACT);
	assert_non_null(want);
	memset(&resp, 0, sizeof(resp));
	provd_respond_json_b64(&resp, 201, j, "profile", v, n);
	assert_int_equal(resp.status, 201);
	assert_int_equal(resp.body_len, strlen(want) + 1);
	assert_memory_equal(resp.body, want, strlen(want));
	assert_int_equal(resp.body[resp.body_len - 1], '\n');
	assert_int_equal(resp.body[resp.body_len], '\0');
	provd_response_clear(&resp);
	free(want);
	json_decref(ref);
}

/* req19: the profile answer's base64 put in the mark's place: json_dumps's bytes, always. */
static void test_respond_json_b64(void **state)
{
	char v[5000];

	(void)state;
	for (size_t i = 0; i < sizeof(v); i++)
		v[i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="[i % 65];
	/* provd_b64_clean: the 65 characters pass, each of the other 191 bytes fails, anywhere. */
	assert_int_equal(provd_b64_clean(v, 65), 1);
	assert_int_equal(provd_b64_clean(v, 0), 1);
	for (int c = 0; c < 256; c++) {
		char t[3] = { 'A', (char)c, 'A' };
		int want = memchr(v, c, 65) != NULL;

		assert_int_equal(provd_b64_clean(t, 3), want);
		assert_int_equal(provd_b64_clean(t + 1, 1), want);
	}
	/*
	 * Profiles of many lengths, short ones each (the fast path's dumped text holds only the
	 * mark: its size is exact, test_respond_json_bytes covers the dump's buffer edges).
	 */
	for (size_t n = 0; n < sizeof(v); n += n < 64 ? 1 : (n > 3900 && n < 4200 ? 1 : 97))
		b64_answer_as_dumps(json_pack("{s:s, s:s, s:s, s:I}", "profile_id", "ab12",
		                        "profile", PROVD_B64_MARK, "device_id", "D-1", "n", 7),
		    v, n);
	/* Decoys: the mark's text in another string, in a key, and as another member's value. */
	b64_answer_as_dumps(json_pack("{s:s, s:s, s:s}", "x", "\"profile\":\"" PROVD_B64_MARK "\"",
	                        "profile", PROVD_B64_MARK, "y", PROVD_B64_MARK),
	    v, 100);
	b64_answer_as_dumps(json_pack("{s:s, s:s}", "profile\":\"", PROVD_B64_MARK, "profile",
	                        PROVD_B64_MARK),
	    v, 100);
	b64_answer_as_dumps(json_pack("{s:{s:s}, s:s}", "a", "profile", PROVD_B64_MARK, "profile",
	                        PROVD_B64_MARK),
	    v, 100);
	/* The plain way: no mark (the member added last), a value needing escapes, not UTF-8. */
	b64_answer_as_dumps(json_pack("{s:s}", "profile_id", "ab12"), v, 100);
	b64_answer_as_dumps(json_pack("{s:s}", "profile", "other"), v, 100);
	b64_answer_as_dumps(json_pack("{s:s, s:s}", "profile", PROVD_B64_MARK, "z", "1"),
	    "a\"b\\c\n/", 8);
	{
		struct provd_response resp;

		/* Not UTF-8: jansson refuses the member; the one internal error, as before. */
		memset(&resp, 0, sizeof(resp));
		provd_respond_json_b64(&resp, 201, json_pack("{s:s}", "profile", PROVD_B64_MARK),
		    "profile", "\xff\xfe", 2);
		assert_int_equal(resp.status, 500);
		provd_response_clear(&resp);
		memset(&resp, 0, sizeof(resp));
		provd_respond_json_b64(&resp, 201, NULL, "profile", v, 100);
		assert_int_equal(resp.status, 500);
		assert_string_equal(resp.body,
		    "{\"error\":\"internal\",\"detail\":\"cannot encode the answer\"}\n");
		provd_response_clear(&resp);
	}
}

int main(void)
{
	/* In order: later tests count what earlier ones did (metrics last). */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_error_table),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_json_depth),
		cmocka_unit_test(test_ders_pem),
		cmocka_unit_test(test_respond_json_bytes),
		cmocka_unit_test(test_respond_json_b64),
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_malformed_bodies),
		cmocka_unit_test(test_limits_and_types),
		cmocka_unit_test(test_der_forms),
		cmocka_unit_test(test_device_refusals),
		cmocka_unit_test(test_not_device_ca),
		cmocka_unit_test(test_policy_refusals),
		cmocka_unit_test(test_enroll_device_generated),
		cmocka_unit_test(test_enroll_server_generated),
		cmocka_unit_test(test_certificate_refusals),
		cmocka_unit_test(test_revoke),
		cmocka_unit_test(test_metrics),
		cmocka_unit_test(test_policy_san),
		cmocka_unit_test(test_enroll_uncached),
		/* Last: it registers certificates the counts above do not expect. */
		cmocka_unit_test(test_certificate_after_profile_expired),
		cmocka_unit_test(test_carried_expired),
		cmocka_unit_test(test_renewal_ref_past_profile),
		cmocka_unit_test(test_renewal_signer_expired),
		cmocka_unit_test(test_renewal_signer_rotated),
		cmocka_unit_test(test_proofs),
		cmocka_unit_test(test_pins),
		cmocka_unit_test(test_auditlim),
		cmocka_unit_test(test_pin_expired),
		cmocka_unit_test(test_renewal_window_past_ca),
		cmocka_unit_test(test_policy_renewal_bounds),
		cmocka_unit_test(test_batch_endpoint_refusals),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
