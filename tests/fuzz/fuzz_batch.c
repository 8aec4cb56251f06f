// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_batch.c — libFuzzer target (#17): one DER BatchedProfile through the strict decoder
 * (path checked to the root), then the stateless checks against the fixed test hierarchy. A
 * failure must carry a real code and a detail; a decoded batch leaf must say it is one.
 */
#include <string.h>
#include <openssl/err.h>
#include <selfcert/batch.h>
#include "fuzz.h"

static const struct fz_fixture *fx;
static struct sc_anchor anchor;
static struct sc_profile_policy policy;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fx = fz_fixture();
	anchor.network_id = FZ_NETWORK_ID;
	anchor.cert = fx->net_root;
	policy.device_id = FZ_DEVICE_ID;
	policy.anchors = &anchor;
	policy.n_anchors = 1;
	policy.now = FZ_NOW;
	policy.csk_cert = fx->csk_cert;
	policy.csk_alg = SC_ALG_P256;
	return 0;
}

static void check_failure(sc_err r, const char *what)
{
	FZ_ASSERT(r < 0 && strcmp(sc_err_name(r), "unknown") != 0, "%s: code %d", what, (int)r);
	FZ_ASSERT(sc_err_detail()[0] != '\0', "%s: %s without a detail", what, sc_err_name(r));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sc_profile *p = NULL;
	struct sc_profile_info in;
	sc_err r;

	sc_err_clear();
	r = sc_batch_decode(data, size, &p);
	if (r != SC_OK) {
		check_failure(r, "decode");
		FZ_ASSERT(p == NULL, "a failed decode left a profile");
		ERR_clear_error();
		return 0;
	}
	sc_profile_get_info(p, &in);
	FZ_ASSERT(in.has_batch && in.signed_,
	    "a decoded batch leaf without its place or signature");
	fz_trace("batch: decoded");
	if ((r = sc_profile_check(p, &policy)) != SC_OK)
		check_failure(r, "check");
	else {
		fz_trace("batch: checked");
		fz_success();
	}
	sc_profile_free(p);
	ERR_clear_error();
	return 0;
}
