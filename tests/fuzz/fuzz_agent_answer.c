// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_agent_answer.c — libFuzzer target: the provisioning server's answers as the agent reads
 * them (src/agent): any body with any status through agent_reply_parse, then a 201 to
 * POST /v1/profiles through agent_profile_answer (strict base64, profile decode, device check)
 * and a 200/201 to POST /v1/certificates through agent_cert_answer_not_after; fix17: a 200 to
 * POST /v1/certificates/batch, each "results" entry through agent_batch_entry. Input:
 *   byte 0   the HTTP status: statuses[byte % N]
 *   byte 1   bit 0: 0 the profile request's answer, 1 the certificate request's; bit 1 set:
 *            the batch registration's (bit 0 then unused)
 *   rest     the body
 * Checked: a body that is not one JSON object is peer and leaves no JSON; an error answer's code
 * and detail are NUL-terminated, printable, and within their fields; a profile is accepted only
 * when it decodes for FZ_DEVICE_ID, with a 32-digit hex ID and at most SC_PROFILE_MAX_DER bytes;
 * a refused profile is peer (or nomem) with a detail and no DER; a batch entry leaves the queue
 * (GONE) only when its "status" is the string "registered" or "already-registered", is set
 * aside (FINAL) only when "refused" with an "error" agent_batch_refusal_final names, and says
 * why it is not understood (printable, terminated) exactly when it is none of these three words.
 */
#include <string.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include "agent.h"
#include "fuzz.h"

static const long statuses[] = { 201, 200, 400, 403, 404, 409, 413, 429, 500, 503, 302, 0 };
#define N_STATUSES (sizeof(statuses) / sizeof(statuses[0]))

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static void check_printable(const char *s, size_t cap, int code)
{
	size_t n = strnlen(s, cap);

	FZ_ASSERT(n < cap, "an error field is not terminated");
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (code)
			FZ_ASSERT((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
			        c == '?',
			    "error code byte 0x%02x", c);
		else
			FZ_ASSERT(c >= 0x20 && c <= 0x7e, "detail byte 0x%02x", c);
	}
}

static void profile_answer(const struct agent_reply *rep)
{
	char id[2 * SC_PROFILE_ID_LEN + 1] = "";
	uint8_t *der = (uint8_t *)&der;
	size_t der_len = 1;
	sc_err r;

	sc_err_clear();
	r = agent_profile_answer(rep->json, FZ_DEVICE_ID, &der, &der_len, id);
	if (r != SC_OK) {
		fz_trace("agent_answer: profile: %s: %s", sc_err_name(r), sc_err_detail());
		FZ_ASSERT(r == SC_ERR_PEER || r == SC_ERR_NOMEM, "profile refused as %s: %s",
		    sc_err_name(r), sc_err_detail());
		FZ_ASSERT(sc_err_detail()[0] != '\0', "refused without a detail");
		FZ_ASSERT(der == NULL && der_len == 0, "a refused profile left DER behind");
		return;
	}
	FZ_ASSERT(der != NULL && der_len > 0 && der_len <= SC_PROFILE_MAX_DER, "DER of %zu bytes",
	    der_len);
	FZ_ASSERT(strlen(id) == 2 * SC_PROFILE_ID_LEN, "profile ID '%s'", id);
	fz_trace("agent_answer: profile %s accepted", id);
	fz_success();
	OPENSSL_free(der);
}

static void batch_answer(const struct agent_reply *rep)
{
	json_t *res = json_object_get((json_t *)rep->json, "results"), *e;
	char odd[160];
	size_t i;

	json_array_foreach (res, i, e) {
		const char *st = json_string_value(json_object_get(e, "status"));
		int known = st != NULL &&
		    json_string_length(json_object_get(e, "status")) == strlen(st) &&
		    (strcmp(st, "registered") == 0 || strcmp(st, "already-registered") == 0 ||
		        strcmp(st, "refused") == 0);
		enum agent_batch_verdict v = agent_batch_entry(e, odd, sizeof(odd));

		FZ_ASSERT((v == AGENT_BATCH_GONE) == (known && strcmp(st, "refused") != 0),
		    "entry %zu left the queue on status %.40s", i, st != NULL ? st : "(none)");
		FZ_ASSERT(v != AGENT_BATCH_FINAL ||
		        (known && strcmp(st, "refused") == 0 &&
		            agent_batch_refusal_final(
		                json_string_value(json_object_get(e, "error")))),
		    "entry %zu set aside without a refusal for good", i);
		FZ_ASSERT(strnlen(odd, sizeof(odd)) < sizeof(odd), "odd not terminated");
		for (const char *c = odd; *c != '\0'; c++) /* printable, or the cut's "…" */
			FZ_ASSERT((unsigned char)*c >= 0x20 && *c != 0x7f, "odd byte 0x%02x",
			    (unsigned char)*c);
		FZ_ASSERT((odd[0] != '\0') == !known, "entry %zu: odd '%s'", i, odd);
		fz_trace("agent_answer: batch entry %zu: %d %s", i, (int)v, odd);
		if (v == AGENT_BATCH_GONE)
			fz_success();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct agent_reply rep;
	long status;
	int kind;
	sc_err r;

	fz_input_begin(data, size);
	if (size < 2)
		return 0;
	status = statuses[data[0] % N_STATUSES];
	kind = data[1] & 1;
	sc_err_clear();
	r = agent_reply_parse(status, (const char *)data + 2, size - 2, "https://fuzz/", &rep);
	if (r != SC_OK) {
		fz_trace("agent_answer: %ld: %s: %s", status, sc_err_name(r), sc_err_detail());
		FZ_ASSERT(r == SC_ERR_PEER, "answer refused as %s", sc_err_name(r));
		FZ_ASSERT(rep.json == NULL, "a refused answer kept its JSON");
		return 0;
	}
	FZ_ASSERT(json_is_object((json_t *)rep.json), "an accepted answer is not an object");
	FZ_ASSERT(rep.status == status, "status %ld, expected %ld", rep.status, status);
	check_printable(rep.error, sizeof(rep.error), 1);
	check_printable(rep.detail, sizeof(rep.detail), 0);
	if (status >= 400)
		FZ_ASSERT(rep.error[0] != '\0', "an error answer without a code");
	if ((data[1] & 2) != 0) {
		if (status == 200)
			batch_answer(&rep);
	} else if (kind == 0 && status == 201) {
		profile_answer(&rep);
	} else if (kind == 1 && (status == 200 || status == 201)) {
		const char *na = agent_cert_answer_not_after(rep.json);
		int64_t until = -1;
		int said = agent_cert_answer_crl(rep.json, &until);

		FZ_ASSERT(na != NULL, "no not_after text");
		/* crl15: said, with a time after 1970 or none (0); or nothing, 0. */
		FZ_ASSERT(until >= 0 && (said || until == 0), "crl_until read wrong");
		fz_trace("agent_answer: certificate acknowledged, not after %.40s", na);
		fz_success();
	}
	agent_reply_clear(&rep);
	ERR_clear_error();
	return 0;
}
