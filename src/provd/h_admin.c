// SPDX-License-Identifier: Apache-2.0
/*
 * h_admin.c — the status endpoints and revocation: health, metrics, a device's status (with the
 * revocation reason for an operator), revoking a device. The operator gate is h_operator.c's.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include "batcher.h"
#include "auditlim.h"
#include "firstrefs.h"
#include "leafrefs.h"
#include "handlers.h"
#include "json.h"
#include "respond.h"

/* The newest certificate of d as a JSON object, or JSON null. */
static json_t *newest_cert(const struct sc_reg_device *d)
{
	char t_nb[32], t_na[32], t_reg[32];

	if (!d->has_cert)
		return json_null();
	provd_time_str(d->cert_not_before, t_nb, sizeof(t_nb));
	provd_time_str(d->cert_not_after, t_na, sizeof(t_na));
	provd_time_str(d->cert_registered_at, t_reg, sizeof(t_reg));
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "serial", d->cert_serial, "fingerprint",
	    d->cert_fpr, "profile_id", d->cert_profile_id, "not_before", t_nb, "not_after", t_na,
	    "registered_at", t_reg);
}

/* GET /v1/devices/{id}. */
sc_err provd_h_device(const struct provd_ctx *ctx, struct provd_response *resp)
{
	struct sc_reg_device d;
	char t_c[32], t_r[32];
	json_t *j, *cert;
	sc_err r;

	if ((r = sc_reg_device_get(ctx->reg, ctx->device_id, &d)) != SC_OK) {
		if (r == SC_ERR_NOT_FOUND)
			return sc_fail(SC_ERR_NOT_FOUND, "device %s is not registered",
			    ctx->device_id);
		return provd_registry_err(r);
	}
	provd_time_str(d.created_at, t_c, sizeof(t_c));
	cert = newest_cert(&d);
	j = json_pack("{s:s, s:s, s:s, s:I, s:I, s:o}", "device_id", d.device_id, "status",
	    sc_reg_dev_status_name(d.status), "activated_at", t_c, "profiles_issued",
	    (json_int_t)d.n_profiles, "certificates_registered", (json_int_t)d.n_certs,
	    "certificate", cert != NULL ? cert : json_null());
	if (j != NULL && d.status == SC_REG_DEV_REVOKED) {
		provd_time_str(d.revoked_at, t_r, sizeof(t_r));
		json_object_set_new(j, "revoked_at", json_string(t_r));
		/*
		 * The operator's words (who, why) are the operator's: not for anyone asking. A
		 * token sent here goes through the whole gate (throttled, audited): otherwise this
		 * would be an unthrottled oracle for guessing one.
		 */
		if (ctx->req->authorization != NULL) {
			struct provd_ctx op = *ctx;

			if (provd_operator_auth(&op, resp) == SC_OK)
				json_object_set_new(j, "revocation_reason",
				    json_string(d.revoke_reason));
			resp->retry_after = 0;
		}
		sc_err_clear();
	}
	provd_respond_json(resp, 200, j);
	return SC_OK;
}

/* POST /v1/devices/{id}/revoke and /v1/operator/devices/{id}/revoke (the gate let an operator in). */
sc_err provd_h_revoke(const struct provd_ctx *ctx, struct provd_response *resp)
{
	const char *reason = NULL;
	int already = 0;
	sc_err r;

	if (ctx->body != NULL &&
	    (r = provd_json_string(ctx->body, "reason", 0, SC_REG_NOTE_MAX, &reason, NULL)) !=
	        SC_OK)
		return r;
	if ((r = sc_reg_device_revoke(ctx->reg, ctx->device_id, reason, ctx->actor,
	         (int64_t)time(NULL), &already)) != SC_OK) {
		if (r == SC_ERR_NOT_FOUND)
			return sc_fail(SC_ERR_NOT_FOUND, "device %s is not registered",
			    ctx->device_id);
		return provd_registry_err(r);
	}
	provd_respond_json(resp, 200,
	    json_pack("{s:s, s:s, s:b}", "device_id", ctx->device_id, "status", "revoked",
	        "already_revoked", already));
	provd_log_add(resp, "revoked%s", already ? " (already)" : "");
	return SC_OK;
}

/*
 * GET /healthz: 200 when the registry answers with a schema this program may serve from — its
 * own, or a newer one whose min_compatible still admits it (during a rolling upgrade the old
 * nodes stay in the balancer).
 */
sc_err provd_h_healthz(const struct provd_ctx *ctx, struct provd_response *resp)
{
	int v = sc_reg_schema_version(ctx->reg);

	if (!sc_reg_schema_usable(ctx->reg))
		return sc_fail(SC_ERR_IO, "registry not usable (schema %d, this program %d)", v,
		    SC_REG_SCHEMA_VERSION);
	provd_respond_json(resp, 200,
	    json_pack("{s:s, s:s, s:i, s:i, s:i, s:s}", "status", "ok", "network_id",
	        ctx->api->network_id, "schema", v, "schema_min_compatible",
	        sc_reg_schema_min_compatible(ctx->reg), "schema_program", SC_REG_SCHEMA_VERSION,
	        "registry", sc_reg_backend_name(ctx->reg)));
	return SC_OK;
}

#define METRICS_ADD_MAX 2048

/* add[0..n) (snprintf's answer into add[METRICS_ADD_MAX]) after the exposition in *body. */
static sc_err metrics_append(const char *add, int n, char **body, size_t *len)
{
	char *p;

	if (n < 0 || n >= METRICS_ADD_MAX || (p = realloc(*body, *len + (size_t)n + 1)) == NULL)
		return sc_fail(SC_ERR_NOMEM, "metrics");
	memcpy(p + *len, add, (size_t)n + 1);
	*body = p;
	*len += (size_t)n;
	return SC_OK;
}

/* #17: a batching server's waves and leaves, after the rest of the exposition. */
static sc_err batch_metrics(struct provd_batcher *b, char **body, size_t *len)
{
	uint64_t waves, leaves;
	char add[METRICS_ADD_MAX];
	int n;

	provd_batcher_counts(b, &waves, &leaves);
	n = snprintf(add, sizeof(add),
	    "# HELP selfcert_provd_profile_batch_waves_total Merkle batches signed (one signature "
	    "each).\n"
	    "# TYPE selfcert_provd_profile_batch_waves_total counter\n"
	    "selfcert_provd_profile_batch_waves_total %llu\n"
	    "# HELP selfcert_provd_profile_batch_leaves_total Profiles handed out as batch leaves.\n"
	    "# TYPE selfcert_provd_profile_batch_leaves_total counter\n"
	    "selfcert_provd_profile_batch_leaves_total %llu\n",
	    (unsigned long long)waves, (unsigned long long)leaves);
	return metrics_append(add, n, body, len);
}

/*
 * #17: the renewal references' hits and misses (--leaf-refs): a later renewal certificate
 * judged against its profile's first (a hit) or checked in full (a miss). Misses that grow
 * with the fleet say the table is too small for it; so do evictions (refs14: references
 * replaced while still in time; gaps15: and still of use; late15b: stale ones too). The spent ones the window
 * policy gives up are counted apart (retired): a table of any size has them.
 */
static sc_err leafref_metrics(struct provd_leafrefs *c, char **body, size_t *len)
{
	uint64_t hits, misses, evictions = provd_leafrefs_evictions(c);
	uint64_t retired = provd_leafrefs_retired(c);
	char add[METRICS_ADD_MAX];
	int n;

	provd_leafrefs_counts(c, &hits, &misses);
	n = snprintf(add, sizeof(add),
	    "# HELP selfcert_provd_leaf_refs_hits_total Certificate registrations that found their "
	    "renewal profile's reference (--leaf-refs).\n"
	    "# TYPE selfcert_provd_leaf_refs_hits_total counter\n"
	    "selfcert_provd_leaf_refs_hits_total %llu\n"
	    "# HELP selfcert_provd_leaf_refs_misses_total Certificate registrations that looked for "
	    "one and found none (a full check).\n"
	    "# TYPE selfcert_provd_leaf_refs_misses_total counter\n"
	    "selfcert_provd_leaf_refs_misses_total %llu\n"
	    "# HELP selfcert_provd_leaf_refs_evictions_total Renewal references still of use "
	    "(waiting for their batch, stale ones too, or in use) replaced while their window "
	    "lasted (the table too small).\n"
	    "# TYPE selfcert_provd_leaf_refs_evictions_total counter\n"
	    "selfcert_provd_leaf_refs_evictions_total %llu\n"
	    "# HELP selfcert_provd_leaf_refs_retired_total Renewal references given up while in "
	    "time but done (found late in their life: their window's batch came).\n"
	    "# TYPE selfcert_provd_leaf_refs_retired_total counter\n"
	    "selfcert_provd_leaf_refs_retired_total %llu\n",
	    (unsigned long long)hits, (unsigned long long)misses, (unsigned long long)evictions,
	    (unsigned long long)retired);
	return metrics_append(add, n, body, len);
}

/*
 * #17 (ref10): the first-certificate references' hits and misses: a pinned device's first
 * certificate registered from what its profile request left (a hit) or with the profile row
 * and pin read again (a miss: another node's profile, a restart, an eviction, an unpinned
 * device); and the entries held now (at most the profile cache's bound).
 */
static sc_err firstref_metrics(struct provd_firstrefs *c, char **body, size_t *len)
{
	uint64_t hits, misses;
	size_t entries;
	char add[METRICS_ADD_MAX];
	int n;

	provd_firstrefs_counts(c, &hits, &misses, &entries);
	n = snprintf(add, sizeof(add),
	    "# HELP selfcert_provd_first_refs_hits_total First certificate registrations that found "
	    "what their pinned device's profile request left.\n"
	    "# TYPE selfcert_provd_first_refs_hits_total counter\n"
	    "selfcert_provd_first_refs_hits_total %llu\n"
	    "# HELP selfcert_provd_first_refs_misses_total Certificate registrations that looked for "
	    "one and found none they could use (the profile row and pin read).\n"
	    "# TYPE selfcert_provd_first_refs_misses_total counter\n"
	    "selfcert_provd_first_refs_misses_total %llu\n"
	    "# HELP selfcert_provd_first_refs_entries First-certificate references held now "
	    "(at most the profile cache's 128).\n"
	    "# TYPE selfcert_provd_first_refs_entries gauge\n"
	    "selfcert_provd_first_refs_entries %zu\n",
	    (unsigned long long)hits, (unsigned long long)misses, entries);
	return metrics_append(add, n, body, len);
}

/*
 * flood19: the device-ca-changed audit rows not written, the device's row of its window
 * already written (auditlim.h); every such request was still refused.
 */
static sc_err auditlim_metrics(struct provd_auditlim *l, char **body, size_t *len)
{
	char add[METRICS_ADD_MAX];
	int n = snprintf(add, sizeof(add),
	    "# HELP selfcert_provd_audit_suppressed_total Refused device-ca-changed requests whose "
	    "audit row was not written (one row per device and chain shown per %d s).\n"
	    "# TYPE selfcert_provd_audit_suppressed_total counter\n"
	    "selfcert_provd_audit_suppressed_total %llu\n"
	    "# HELP selfcert_provd_audit_limiter_full_total device-ca-changed audit rows written "
	    "as their limiter bucket was full of live entries (nothing evicted).\n"
	    "# TYPE selfcert_provd_audit_limiter_full_total counter\n"
	    "selfcert_provd_audit_limiter_full_total %llu\n",
	    PROVD_AUDITLIM_WINDOW_S, (unsigned long long)provd_auditlim_suppressed(l),
	    (unsigned long long)provd_auditlim_full(l));

	return metrics_append(add, n, body, len);
}

/* GET /metrics: the Prometheus exposition, the registry's gauges when it answers. */
sc_err provd_h_metrics(const struct provd_ctx *ctx, struct provd_response *resp)
{
	struct sc_reg_counts counts;
	int have = !ctx->api->no_registry_gauges && sc_reg_counts(ctx->reg, &counts) == SC_OK;

	if (ctx->api->metrics == NULL ||
	    provd_metrics_render(ctx->api->metrics, have ? &counts : NULL, &resp->body,
	        &resp->body_len) != SC_OK ||
	    (ctx->api->batcher != NULL &&
	        batch_metrics(ctx->api->batcher, &resp->body, &resp->body_len) != SC_OK) ||
	    (ctx->api->leafrefs != NULL &&
	        leafref_metrics(ctx->api->leafrefs, &resp->body, &resp->body_len) != SC_OK) ||
	    (ctx->api->firstrefs != NULL &&
	        firstref_metrics(ctx->api->firstrefs, &resp->body, &resp->body_len) != SC_OK) ||
	    (ctx->api->auditlim != NULL &&
	        auditlim_metrics(ctx->api->auditlim, &resp->body, &resp->body_len) != SC_OK))
		return sc_fail(SC_ERR_INTERNAL, "metrics: %s", sc_err_detail());
	resp->status = 200;
	resp->content_type = PROVD_METRICS_TYPE;
	return SC_OK;
}
