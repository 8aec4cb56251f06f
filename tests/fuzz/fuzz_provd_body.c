// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_provd_body.c — libFuzzer target: arbitrary bytes as the body of POST /v1/profiles or
 * POST /v1/certificates, through the real API handler (provd_api_handle) with a real registry
 * in a tmpfs folder, the fixture's hierarchy as manufacturer and network, and the device
 * FZ_DEVICE_ID activated. Byte 0 picks the endpoint: bit 0 clear /v1/profiles, bit 0 set
 * /v1/certificates, or with bit 1 set too /v1/certificates/batch (#17; audit17 item 10); the
 * rest is the body, sent as application/json.
 *
 * The fixture's certificates are not in the corpus: a body's "@CHAIN@", "@KEX@" and "@LEAF@" are
 * replaced by the PEM (JSON-escaped) of the device CA and manufacturer CA, the KEK certificate,
 * and a leaf issued at start-up under a profile this process's server signed and recorded, so
 * the seeds reach a 201 on both endpoints and keep doing so. Everything else is sent as it is.
 *
 * Checked: every answer is one JSON object on one line with a status the API documents; an error
 * is exactly {"error","detail"} with the code and status of apierr.c's table; nothing answers
 * 500 or 503; Retry-After only with 429. A profile or certificate accepted counts as success.
 * Per input: one parse, at most one profile signature or chain verification and one SQLite
 * write; server key generation is off (an RSA key per input would stall the fuzzer).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <selfcert/cert.h>
#include <selfcert/profile.h>
#include "api.h"
#include "fuzz.h"
#include "registry.h"
#include "text.h"
#include "pem.h"

#define MARKER_MAX 3

static struct provd_api api;
static struct sc_reg *reg;
static struct {
	const char *name;
	char *json; /* the PEM as the inside of a JSON string */
} markers[MARKER_MAX] = { { "@CHAIN@", NULL }, { "@KEX@", NULL }, { "@LEAF@", NULL } };

/* PEM of certs, with its newlines written as \n: ready to sit inside a JSON string. */
static char *pem_json(X509 *const *certs, int n)
{
	BIO *bio = BIO_new(BIO_s_mem());
	BUF_MEM *mem = NULL;
	char *out, *o;

	FZ_ASSERT(bio != NULL, "BIO");
	for (int i = 0; i < n; i++)
		FZ_ASSERT(PEM_write_bio_X509(bio, certs[i]), "PEM");
	BIO_get_mem_ptr(bio, &mem);
	FZ_ASSERT((out = malloc(2 * mem->length + 1)) != NULL, "malloc");
	o = out;
	for (size_t i = 0; i < mem->length; i++) {
		if (mem->data[i] == '\n') {
			*o++ = '\\';
			*o++ = 'n';
		} else {
			*o++ = mem->data[i];
		}
	}
	*o = '\0';
	BIO_free(bio);
	return out;
}

/* The body with every marker replaced. The caller frees it. */
static char *expand(const uint8_t *in, size_t len, size_t *out_len)
{
	size_t cap = len + 1, n = 0;
	char *out;

	for (int m = 0; m < MARKER_MAX; m++)
		if (markers[m].json != NULL)
			cap += strlen(markers[m].json) * (len / strlen(markers[m].name) + 1);
	FZ_ASSERT((out = malloc(cap)) != NULL, "malloc");
	for (size_t i = 0; i < len;) {
		int hit = 0;
		for (int m = 0; m < MARKER_MAX && !hit; m++) {
			size_t ml = strlen(markers[m].name);
			if (markers[m].json != NULL && len - i >= ml &&
			    memcmp(in + i, markers[m].name, ml) == 0) {
				memcpy(out + n, markers[m].json, strlen(markers[m].json));
				n += strlen(markers[m].json);
				i += ml;
				hit = 1;
			}
		}
		if (!hit)
			out[n++] = (char)in[i++];
	}
	out[n] = '\0';
	*out_len = n;
	return out;
}

static void post(const char *path, const char *body, size_t len, struct provd_response *resp)
{
	struct provd_request req;

	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.path = path;
	req.content_type = "application/json";
	req.body = (const uint8_t *)body;
	req.body_len = len;
	req.peer = "fuzz";
	provd_api_handle(&api, reg, &req, resp);
}

/* A profile for the fixture's device from this server, and the leaf its SP would issue. */
static void enroll_once(const struct fz_fixture *f)
{
	static const char tmpl[] =
	    "{\"chain\":\"@CHAIN@\",\"kex\":\"@KEX@\","
	    "\"challenge\":\"f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff\",\"alg\":\"p256\"}";
	struct provd_response resp;
	struct sc_profile *p = NULL;
	json_t *j;
	const char *b64;
	uint8_t *der = NULL;
	size_t len, der_len;
	char *body = expand((const uint8_t *)tmpl, sizeof(tmpl) - 1, &len);
	X509 *leaf = NULL;

	post("/v1/profiles", body, len, &resp);
	FZ_ASSERT(resp.status == 201, "start-up profile: %d %.*s", resp.status, (int)resp.body_len,
	    resp.body);
	FZ_ASSERT((j = json_loadb(resp.body, resp.body_len, 0, NULL)) != NULL, "start-up answer");
	FZ_ASSERT((b64 = json_string_value(json_object_get(j, "profile"))) != NULL, "no profile");
	FZ_ASSERT(sc_base64_decode(b64, strlen(b64), 1 << 16, &der, &der_len) == SC_OK, "base64");
	FZ_ASSERT(sc_profile_decode(der, der_len, &p) == SC_OK, "profile: %s", sc_err_detail());
	FZ_ASSERT(sc_cert_issue_leaf(p, f->leaf_p256, f->csk_cert, f->csk, 1, &leaf) == SC_OK,
	    "leaf: %s", sc_err_detail());
	markers[2].json = pem_json(&leaf, 1);
	X509_free(leaf);
	sc_profile_free(p);
	OPENSSL_free(der);
	json_decref(j);
	provd_response_clear(&resp);
	free(body);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const struct fz_fixture *f = fz_fixture();
	X509 *chain[2] = { f->csk_cert, f->mfr_ca };
	char dir[512], path[700], mfr_root[700];

	(void)argc;
	(void)argv;
	snprintf(dir, sizeof(dir), "%s", fz_tmpdir("provd_body"));
	snprintf(path, sizeof(path), "%s/root.pem", dir);
	FZ_ASSERT(sc_write_cert(path, f->net_root) == SC_OK, "%s", path);
	snprintf(path, sizeof(path), "%s/signer.pem", dir);
	FZ_ASSERT(sc_write_cert(path, f->signer) == SC_OK, "%s", path);
	snprintf(path, sizeof(path), "%s/signer.key", dir);
	FZ_ASSERT(sc_write_key(path, f->signer_key) == SC_OK, "%s", path);
	snprintf(mfr_root, sizeof(mfr_root), "%s/mfr-root.pem", dir);
	FZ_ASSERT(sc_write_cert(mfr_root, f->mfr_root) == SC_OK, "%s", mfr_root);
	provd_policy_defaults(&api.policy);
	api.policy.rate.max = 0;      /* no limit: the fuzzer asks for many profiles */
	api.policy.server_keygen = 0; /* no key generation per input */
	FZ_ASSERT(provd_api_load(&api, dir, mfr_root) == SC_OK, "api: %s", sc_err_detail());
	snprintf(path, sizeof(path), "%s/reg.db", dir);
	FZ_ASSERT(sc_reg_open(path, 1, &reg) == SC_OK, "registry: %s", sc_err_detail());
	FZ_ASSERT(sc_reg_device_add(reg, FZ_DEVICE_ID, NULL, "fuzz", (int64_t)time(NULL)) == SC_OK,
	    "device");
	markers[0].json = pem_json(chain, 2);
	markers[1].json = pem_json(&f->kek_cert, 1);
	enroll_once(f);
	return 0;
}

/* The answer's invariants (apierr.c's table is the oracle for error answers). */
static void check_answer(const struct provd_response *resp)
{
	static const int ok[] = { 200, 201, 400, 403, 409, 413, 415, 422, 429 };
	json_t *j, *e;
	int documented = 0;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		documented |= resp->status == ok[i];
	FZ_ASSERT(documented, "status %d: %.*s", resp->status, (int)resp->body_len, resp->body);
	FZ_ASSERT(resp->body_len > 0 && resp->body[resp->body_len - 1] == '\n' &&
	        memchr(resp->body, '\n', resp->body_len) == resp->body + resp->body_len - 1,
	    "not one line");
	FZ_ASSERT((j = json_loadb(resp->body, resp->body_len, 0, NULL)) != NULL &&
	        json_is_object(j),
	    "answer not a JSON object");
	FZ_ASSERT((resp->retry_after > 0) == (resp->status == 429), "Retry-After with %d",
	    resp->status);
	if (resp->status >= 400) {
		FZ_ASSERT(json_object_size(j) == 2 && json_is_string(json_object_get(j, "detail")),
		    "error shape");
		FZ_ASSERT(json_is_string(e = json_object_get(j, "error")) &&
		        strcmp(json_string_value(e), provd_code_name(resp->code)) == 0,
		    "code %d vs %s", resp->code, json_string_value(e));
	} else {
		FZ_ASSERT(resp->code == -1, "a success with an error code");
	}
	json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path;
	struct provd_response resp;
	size_t len;
	char *body;

	fz_input_begin(data, size);
	if (size == 0)
		return 0;
	path = !(data[0] & 1) ? "/v1/profiles"
	    : (data[0] & 2)   ? "/v1/certificates/batch"
	                      : "/v1/certificates";
	body = expand(data + 1, size - 1, &len);
	post(path, body, len, &resp);
	fz_trace("provd_body: %s %d %.*s", path, resp.status,
	    (int)(resp.body_len > 120 ? 120 : resp.body_len), resp.body);
	check_answer(&resp);
	if (resp.status == 200 || resp.status == 201)
		fz_success();
	provd_response_clear(&resp);
	free(body);
	ERR_clear_error();
	return 0;
}
