// SPDX-License-Identifier: Apache-2.0
/*
 * h_revoked.c — GET /v1/revoked: the network's signed list of revoked devices (selfcert/revoked.h,
 * docs/FORMATS.md "Revocation list"), made from the registry on each request and signed by the
 * profile signer; no authentication (it is public, and signed). Next update: an hour.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <selfcert/revoked.h>
#include "handlers.h"
#include "registry.h"
#include "respond.h"

#define REVOKED_NEXT_UPDATE_S 3600

struct collected {
	char (*v)[SC_DEVICE_ID_MAX + 1];
	size_t n, cap;
	int64_t max_at;
	int full;
};

static int collect(void *ctx, const struct sc_reg_device *d)
{
	struct collected *c = ctx;

	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 64;
		void *v = c->n < SC_REVOKED_MAX_DEVICES ? realloc(c->v, cap * sizeof(c->v[0]))
		                                        : NULL;

		if (v == NULL) {
			c->full = 1;
			return 1;
		}
		c->v = v;
		c->cap = cap;
	}
	snprintf(c->v[c->n++], sizeof(c->v[0]), "%s", d->device_id);
	if (d->revoked_at > c->max_at)
		c->max_at = d->revoked_at;
	return 0;
}

sc_err provd_h_revoked(const struct provd_ctx *ctx, struct provd_response *resp)
{
	struct collected c = { NULL, 0, 0, 0, 0 };
	const char **ids = NULL;
	char *text = NULL;
	int64_t now = (int64_t)time(NULL);
	sc_err r;

	if ((r = sc_reg_device_list(ctx->reg, SC_REG_DEV_REVOKED, collect, &c)) != SC_OK)
		goto out;
	if (c.full || (ids = calloc(c.n + 1, sizeof(ids[0]))) == NULL) {
		r = sc_fail(c.full ? SC_ERR_OVERSIZE : SC_ERR_NOMEM, "revoked devices: %zu", c.n);
		goto out;
	}
	for (size_t i = 0; i < c.n; i++)
		ids[i] = c.v[i];
	if ((r = sc_revoked_sign(ctx->api->network_id, sc_revoked_sequence(c.max_at, c.n), now,
	         now + REVOKED_NEXT_UPDATE_S, ids, c.n, ctx->api->signer, ctx->api->signer_key,
	         &text)) != SC_OK)
		goto out;
	resp->status = 200;
	resp->content_type = PROVD_JSON_TYPE;
	resp->body_len = strlen(text);
	resp->body = text;
	text = NULL;
	provd_log_add(resp, " revoked=%zu", c.n);
	r = SC_OK;
out:
	free(text);
	free(ids);
	free(c.v);
	return r;
}
