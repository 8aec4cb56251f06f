// SPDX-License-Identifier: Apache-2.0
/*
 * h_batch.c — POST /v1/certificates/batch (#17): a renewing agent registers the certificates
 * its SP made locally from a renewal profile in one request instead of one each. Each is judged
 * exactly as POST /v1/certificates judges one (provd_cert_register); one refused certificate
 * does not refuse the others, so the answer lists an outcome per certificate, in order.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "apierr.h"
#include "handlers.h"
#include "respond.h"

/* A refused certificate's entry: the error code and detail POST /v1/certificates would answer. */
static json_t *refusal(sc_err r, const char *why)
{
	const struct provd_apierr *row = provd_apierr_find(r);
	char detail[256];

	snprintf(detail, sizeof(detail), "%s%s%s", row != NULL ? "" : sc_err_name(r),
	    row != NULL ? "" : ": ", why);
	return json_pack("{s:s, s:s, s:s}", "status", "refused", "error",
	    provd_code_name(row != NULL ? (int)row->code : PROVD_E_INTERNAL), "detail", detail);
}

sc_err provd_h_cert_batch(const struct provd_ctx *ctx, struct provd_response *resp)
{
	json_t *list = json_object_get(ctx->body, "certificates"), *results = NULL, *one = NULL,
	       *item;
	struct provd_cert_outcome *outs = NULL;
	size_t i, n, registered = 0;
	sc_err r;

	if (list == NULL)
		return sc_fail(PROVD_ERR_MISSING_FIELD, "field \"certificates\" is missing");
	if (!json_is_array(list))
		return sc_fail(PROVD_ERR_WRONG_TYPE,
		    "field \"certificates\" must be an array of PEM strings");
	n = json_array_size(list);
	if (n < 1 || n > PROVD_BATCH_MAX)
		return sc_fail(PROVD_ERR_BAD_VALUE, "field \"certificates\": %zu entries, 1..%d", n,
		    PROVD_BATCH_MAX);
	/* Every entry's type before any work: a malformed batch records nothing. */
	json_array_foreach (list, i, item)
		if (!json_is_string(item))
			return sc_fail(PROVD_ERR_WRONG_TYPE,
			    "field \"certificates\"[%zu] must be a PEM string", i);
	/* First: each certificate adds its own words to the one log line, which may fill it. */
	provd_log_add(resp, "batch=%zu", n);
	if ((results = json_array()) == NULL || (outs = calloc(n, sizeof(*outs))) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "out of memory");
		goto out;
	}
	/* Judged one by one, recorded together (one durable commit): provd_cert_register_many. */
	if ((r = provd_cert_register_many(ctx, list, resp, outs)) != SC_OK)
		goto out; /* the server's trouble, not a certificate's: the whole request fails */
	for (i = 0; i < n; i++) {
		if (outs[i].answer != NULL) {
			one = outs[i].answer;
			outs[i].answer = NULL;
			if (!outs[i].already)
				registered++;
		} else
			one = refusal(outs[i].r, outs[i].detail);
		if (one == NULL || json_array_append_new(results, one) != 0) {
			r = sc_fail(SC_ERR_NOMEM, "out of memory");
			goto out;
		}
		one = NULL;
	}
	provd_log_add(resp, "registered=%zu", registered);
	provd_respond_json(resp, 200,
	    json_pack("{s:o, s:i}", "results", results, "registered", (json_int_t)registered));
	results = NULL;
	r = SC_OK;
out:
	for (i = 0; outs != NULL && i < n; i++)
		json_decref(outs[i].answer);
	free(outs);
	json_decref(results);
	return r;
}
