// SPDX-License-Identifier: Apache-2.0
/*
 * h_operator.c — the operator gate and the operator endpoints under /v1/operator/: who am I,
 * list devices (filters, keyset pages), activate, import a CSV feed, show one device in full.
 * What `selfcert net device` does on the registry, through the same registry functions, so an
 * operator needs no shell on the server; every write is audited under the operator's name.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <openssl/crypto.h>
#include <selfcert/cert.h>
#include "handlers.h"
#include "json.h"
#include "log.h"
#include "respond.h"
#include "text.h"

#define OP_PAGE_DEFAULT 100 /* devices in a list page unless ?limit= */
#define OP_SHOW_AUDIT 50    /* audit events in a show unless ?audit= */
#define OP_SHOW_AUDIT_MAX 1000
#define OP_SHOW_ROWS 100 /* certificates and profiles in a show, newest first */

/* ---- the gate ---- */

/* An audit row of the gate's own; its failure is logged, never the request's. */
static void audit_gate(const struct provd_ctx *ctx, int64_t now, const char *event,
    const char *detail)
{
	char actor[SC_REG_ACTOR_MAX];

	snprintf(actor, sizeof(actor), "api %s", ctx->req->peer ? ctx->req->peer : "?");
	if (sc_reg_audit_add(ctx->reg, now, actor, event, NULL, detail) != SC_OK)
		sc_log_failure(SC_ERR_IO);
}

/* The legacy gate without an operators set (the unit tests): the one token, as "admin". */
static sc_err legacy_auth(struct provd_ctx *ctx)
{
	const char *a = ctx->req->authorization;
	uint8_t h[SC_OP_HASH_LEN];
	size_t n;

	if (a == NULL || strncasecmp(a, "Bearer ", 7) != 0 || (n = strlen(a + 7)) == 0 ||
	    n > PROVD_ADMIN_TOKEN_MAX)
		return sc_fail(PROVD_ERR_UNAUTHORIZED,
		    "operator endpoint: send Authorization: Bearer <token>");
	if (sc_operator_token_hash(a + 7, n, h) != SC_OK ||
	    CRYPTO_memcmp(h, ctx->api->admin_token_hash, sizeof(h)) != 0)
		return sc_fail(PROVD_ERR_UNAUTHORIZED, "operator endpoint: wrong bearer token");
	snprintf(ctx->operator_name, sizeof(ctx->operator_name), "%s", PROVD_LEGACY_OPERATOR);
	return SC_OK;
}

sc_err provd_operator_auth(struct provd_ctx *ctx, struct provd_response *resp)
{
	const struct provd_api *api = ctx->api;
	int64_t now = (int64_t)time(NULL), retry = 0;
	char detail[96];
	int first = 0;
	sc_err r;

	ctx->operator_name[0] = ctx->actor[0] = '\0';
	if (!api->admin_enabled && !provd_operators_enabled(api->operators))
		return sc_fail(PROVD_ERR_ADMIN_DISABLED,
		    "operator endpoints are off (start the server with --operators or "
		    "--admin-token-file)");
	if (api->operators == NULL) {
		if ((r = legacy_auth(ctx)) != SC_OK)
			return r;
	} else {
		switch (provd_operators_auth(api->operators, ctx->req->authorization,
		    ctx->req->peer, now, ctx->operator_name, &retry, &first)) {
		case PROVD_AUTH_OK: break;
		case PROVD_AUTH_MISSING:
			return sc_fail(PROVD_ERR_UNAUTHORIZED,
			    "operator endpoint: send Authorization: Bearer <token>");
		case PROVD_AUTH_THROTTLED:
			resp->retry_after = retry;
			return sc_fail(SC_ERR_RATE_LIMITED,
			    "too many failed operator sign-ins from this address; retry in %llds",
			    (long long)retry);
		case PROVD_AUTH_BROKEN:
			return sc_fail(SC_ERR_IO,
			    "the operators file cannot be used now (the server log says why)");
		case PROVD_AUTH_FAILED:
		default:
			/* Audited without the token: its hash alone would let a reader test guesses. */
			audit_gate(ctx, now, "operator-auth-failed",
			    "a bearer token no operator has");
			if (first) {
				snprintf(detail, sizeof(detail),
				    "%d failed sign-ins in %ds: refused for %llds",
				    PROVD_AUTH_FAILS_MAX, PROVD_AUTH_WINDOW_S, (long long)retry);
				audit_gate(ctx, now, "operator-auth-throttled", detail);
			}
			provd_log_add(resp, "operator-auth-failed");
			return sc_fail(PROVD_ERR_UNAUTHORIZED,
			    "operator endpoint: no operator has this token");
		}
	}
	snprintf(ctx->actor, sizeof(ctx->actor), "operator %s (%s)", ctx->operator_name,
	    ctx->req->peer ? ctx->req->peer : "?");
	provd_log_add(resp, "operator=%s", ctx->operator_name);
	return SC_OK;
}

/* ---- query parameters ---- */

/*
 * The request's query parameters, each in `allowed` and given at most once: PROVD_ERR_BAD_VALUE
 * for too many or a repeated one, PROVD_ERR_UNKNOWN_FIELD for another.
 */
sc_err provd_query_check(const struct provd_request *req, const char *const *allowed)
{
	if (req->query_overflow)
		return sc_fail(PROVD_ERR_BAD_VALUE, "more than %d query parameters",
		    PROVD_QUERY_MAX);
	for (size_t i = 0; i < req->n_query; i++) {
		size_t k = 0;

		while (allowed[k] != NULL && strcmp(allowed[k], req->query[i].key) != 0)
			k++;
		if (allowed[k] == NULL)
			return sc_fail(PROVD_ERR_UNKNOWN_FIELD,
			    "query parameter '%.32s' is not known", req->query[i].key);
		for (size_t j = 0; j < i; j++)
			if (strcmp(req->query[j].key, req->query[i].key) == 0)
				return sc_fail(PROVD_ERR_BAD_VALUE,
				    "query parameter %s given twice", req->query[i].key);
	}
	return SC_OK;
}

/* The value of a query parameter, or NULL; a key without a value is refused (PROVD_ERR_BAD_VALUE). */
sc_err provd_query_get(const struct provd_request *req, const char *key, const char **out)
{
	*out = NULL;
	for (size_t i = 0; i < req->n_query; i++)
		if (strcmp(req->query[i].key, key) == 0) {
			if (req->query[i].value == NULL || req->query[i].value[0] == '\0')
				return sc_fail(PROVD_ERR_BAD_VALUE, "query parameter %s: empty",
				    key);
			*out = req->query[i].value;
		}
	return SC_OK;
}

/* A whole number query parameter in [min, max], def if absent. */
sc_err provd_query_long(const struct provd_request *req, const char *key, long def, long min,
    long max, long *out)
{
	const char *s;
	char *end = NULL;
	long v;
	sc_err r;

	*out = def;
	if ((r = provd_query_get(req, key, &s)) != SC_OK || s == NULL)
		return r;
	v = strtol(s, &end, 10);
	if (end == s || *end != '\0' || v < min || v > max || s[0] == '+' || s[0] == '-')
		return sc_fail(PROVD_ERR_BAD_VALUE, "query parameter %s: a whole number %ld..%ld",
		    key, min, max);
	*out = v;
	return SC_OK;
}

/* ---- the device as an operator sees it ---- */

static json_t *cert_json(const char *serial, const char *fpr, const char *profile_id, int64_t nb,
    int64_t na, int64_t reg)
{
	char t_nb[32], t_na[32], t_reg[32];

	provd_time_str(nb, t_nb, sizeof(t_nb));
	provd_time_str(na, t_na, sizeof(t_na));
	provd_time_str(reg, t_reg, sizeof(t_reg));
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "serial", serial, "fingerprint", fpr,
	    "profile_id", profile_id, "not_before", t_nb, "not_after", t_na, "registered_at",
	    t_reg);
}

/* Every field of d, the note and the revocation reason included. NULL: out of memory. */
static json_t *device_json(const struct sc_reg_device *d)
{
	char t_c[32], t_r[32];
	json_t *j;

	provd_time_str(d->created_at, t_c, sizeof(t_c));
	j = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:o}", "device_id", d->device_id, "status",
	    sc_reg_dev_status_name(d->status), "note", d->note, "activated_at", t_c,
	    "profiles_issued", (json_int_t)d->n_profiles, "certificates_registered",
	    (json_int_t)d->n_certs, "certificate",
	    d->has_cert ? cert_json(d->cert_serial, d->cert_fpr, d->cert_profile_id,
	                      d->cert_not_before, d->cert_not_after, d->cert_registered_at)
	                : json_null());
	if (j != NULL && d->status == SC_REG_DEV_REVOKED) {
		provd_time_str(d->revoked_at, t_r, sizeof(t_r));
		json_object_set_new(j, "revoked_at", json_string(t_r));
		json_object_set_new(j, "revocation_reason", json_string(d->revoke_reason));
	}
	return j;
}

/* An array callback's state: the array, and whether an append failed. */
struct collect {
	json_t *arr;
	int oom;
	char last[SC_DEVICE_ID_MAX + 1]; /* the last device appended (the list's cursor) */
};

static int append(struct collect *c, json_t *j)
{
	if (j == NULL || json_array_append_new(c->arr, j) != 0) {
		c->oom = 1;
		return 1;
	}
	return 0;
}

static int collect_device(void *ctx, const struct sc_reg_device *d)
{
	struct collect *c = ctx;

	snprintf(c->last, sizeof(c->last), "%s", d->device_id);
	return append(c, device_json(d));
}

static int collect_cert(void *ctx, const struct sc_reg_cert_rec *rec)
{
	return append(ctx,
	    cert_json(rec->serial, rec->fpr, rec->profile_id, rec->not_before, rec->not_after,
	        rec->registered_at));
}

static int collect_profile(void *ctx, const struct sc_reg_profile_rec *p)
{
	char t_c[32], t_pna[32], t_nb[32], t_na[32], t_u[32];

	provd_time_str(p->created_at, t_c, sizeof(t_c));
	provd_time_str(p->profile_not_after, t_pna, sizeof(t_pna));
	provd_time_str(p->not_before, t_nb, sizeof(t_nb));
	provd_time_str(p->not_after, t_na, sizeof(t_na));
	provd_time_str(p->consumed_at, t_u, sizeof(t_u));
	return append(ctx,
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o}", "profile_id", p->profile_id,
	        "key_origin", p->origin == SC_KEY_SERVER_SUPPLIED ? "server" : "device", "alg",
	        p->alg == SC_ALG_NONE ? "" : sc_alg_name(p->alg), "issued_at", t_c,
	        "profile_not_after", t_pna, "not_before", t_nb, "not_after", t_na, "consumed_at",
	        p->consumed_at != 0 ? json_string(t_u) : json_null()));
}

static int collect_audit(void *ctx, const struct sc_reg_audit_rec *a)
{
	char at[32];

	provd_time_str(a->at, at, sizeof(at));
	return append(ctx,
	    json_pack("{s:I, s:s, s:s, s:s, s:s}", "seq", (json_int_t)a->seq, "at", at, "actor",
	        a->actor ? a->actor : "", "event", a->event ? a->event : "", "detail",
	        a->detail ? a->detail : ""));
}

/* ---- the endpoints ---- */

/* GET /v1/operator/whoami: the operator the token belongs to (a console's first call). */
sc_err provd_h_op_whoami(const struct provd_ctx *ctx, struct provd_response *resp)
{
	sc_err r;

	if ((r = provd_query_check(ctx->req, (const char *const[]){ NULL })) != SC_OK)
		return r;
	provd_respond_json(resp, 200, json_pack("{s:s}", "operator", ctx->operator_name));
	return SC_OK;
}

/* GET /v1/operator/devices?status=&prefix=&expiring_before=&after=&limit= */
sc_err provd_h_op_list(const struct provd_ctx *ctx, struct provd_response *resp)
{
	static const char *const keys[] = { "status", "prefix", "expiring_before", "after", "limit",
		NULL };
	struct sc_reg_query q;
	struct collect c = { NULL, 0, "" };
	const char *status, *when;
	time_t t;
	long limit;
	size_t listed;
	int more = 0;
	sc_err r;

	memset(&q, 0, sizeof(q));
	if ((r = provd_query_check(ctx->req, keys)) != SC_OK ||
	    (r = provd_query_get(ctx->req, "status", &status)) != SC_OK ||
	    (r = provd_query_get(ctx->req, "prefix", &q.id_prefix)) != SC_OK ||
	    (r = provd_query_get(ctx->req, "expiring_before", &when)) != SC_OK ||
	    (r = provd_query_get(ctx->req, "after", &q.after)) != SC_OK ||
	    (r = provd_query_long(ctx->req, "limit", OP_PAGE_DEFAULT, 1, SC_REG_PAGE_MAX,
	         &limit)) != SC_OK)
		return r;
	if (status != NULL && strcmp(status, "active") == 0)
		q.status = SC_REG_DEV_ACTIVE;
	else if (status != NULL && strcmp(status, "revoked") == 0)
		q.status = SC_REG_DEV_REVOKED;
	else if (status != NULL)
		return sc_fail(PROVD_ERR_BAD_VALUE, "status: active or revoked");
	if (q.id_prefix != NULL && !sc_device_id_valid(q.id_prefix))
		return sc_fail(PROVD_ERR_BAD_VALUE,
		    "prefix: 1..64 PrintableString characters (a device ID's beginning)");
	if (q.after != NULL && !sc_device_id_valid(q.after))
		return sc_fail(PROVD_ERR_BAD_VALUE, "after: a device ID (the last one of a page)");
	if (when != NULL) {
		if (sc_parse_time(when, &t) != SC_OK || t <= 0)
			return sc_fail(PROVD_ERR_BAD_VALUE,
			    "expiring_before: an RFC 3339 time, 2027-01-31T00:00:00Z");
		q.expiring_before = (int64_t)t;
	}
	q.limit = (size_t)limit;
	if ((c.arr = json_array()) == NULL)
		return sc_fail(SC_ERR_NOMEM, "device list");
	if ((r = sc_reg_device_page(ctx->reg, &q, collect_device, &c, &more)) != SC_OK || c.oom) {
		json_decref(c.arr);
		return r != SC_OK ? provd_registry_err(r) : sc_fail(SC_ERR_NOMEM, "device list");
	}
	/* Counted first: the answer takes c.arr ("o") and frees it once sent. */
	listed = json_array_size(c.arr);
	/* next: the cursor for the following page (after=), null on the last one. */
	provd_respond_json(resp, 200,
	    json_pack("{s:o, s:o}", "devices", c.arr, "next",
	        more && c.last[0] != '\0' ? json_string(c.last) : json_null()));
	provd_log_add(resp, "listed=%zu", listed);
	return SC_OK;
}

/* POST /v1/operator/devices {"device_ids": [ID, …], "note": TEXT}: all or none. */
sc_err provd_h_op_activate(const struct provd_ctx *ctx, struct provd_response *resp)
{
	const char *ids[SC_REG_ADD_MAX], *note = NULL;
	json_t *arr = json_object_get(ctx->body, "device_ids"), *v, *out;
	size_t i, n;
	sc_err r;

	if (arr == NULL)
		return sc_fail(PROVD_ERR_MISSING_FIELD, "device_ids: required");
	if (!json_is_array(arr))
		return sc_fail(PROVD_ERR_WRONG_TYPE, "device_ids: an array of device IDs");
	if ((n = json_array_size(arr)) == 0 || n > SC_REG_ADD_MAX)
		return sc_fail(PROVD_ERR_BAD_VALUE,
		    "device_ids: 1..%d device IDs (the import takes more)", SC_REG_ADD_MAX);
	json_array_foreach (arr, i, v) {
		if (!json_is_string(v))
			return sc_fail(PROVD_ERR_WRONG_TYPE, "device_ids[%zu]: a string", i);
		if (!sc_device_id_valid(ids[i] = json_string_value(v)))
			return sc_fail(PROVD_ERR_BAD_VALUE,
			    "device_ids[%zu]: 1..64 PrintableString characters", i);
	}
	if ((r = provd_json_string(ctx->body, "note", 0, SC_REG_NOTE_MAX, &note, NULL)) != SC_OK)
		return r;
	if ((r = sc_reg_device_ids_check(ids, n)) != SC_OK)
		return sc_fail(PROVD_ERR_BAD_VALUE, "device_ids: %s", sc_err_detail());
	if ((r = sc_reg_devices_add(ctx->reg, ids, n, note, ctx->actor, (int64_t)time(NULL))) !=
	    SC_OK) {
		if (r == SC_ERR_EXISTS)
			return r; /* already-registered, the registry's detail naming the ID */
		if (r == SC_ERR_USAGE)
			return sc_fail(PROVD_ERR_BAD_VALUE, "device_ids: %s", sc_err_detail());
		return provd_registry_err(r);
	}
	if ((out = json_array()) == NULL)
		return sc_fail(SC_ERR_NOMEM, "activate");
	for (i = 0; i < n; i++)
		json_array_append_new(out, json_string(ids[i]));
	provd_respond_json(resp, 200, json_pack("{s:o}", "activated", out));
	provd_log_add(resp, "activated=%zu", n);
	return SC_OK;
}

/* 1 if the Content-Type is text/csv (any case, parameters allowed). */
static int is_csv(const char *ct)
{
	size_t n = strlen("text/csv");

	return ct != NULL && strncasecmp(ct, "text/csv", n) == 0 &&
	    (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* POST /v1/operator/devices/import, text/csv: the activation feed, all lines or none. */
sc_err provd_h_op_import(const struct provd_ctx *ctx, struct provd_response *resp)
{
	size_t added = 0, skipped = 0;
	sc_err r;

	if (!is_csv(ctx->req->content_type))
		return sc_fail(PROVD_ERR_MEDIA_TYPE, "the import's body is text/csv");
	if (ctx->req->body_len > PROVD_MAX_BODY)
		return sc_fail(PROVD_ERR_BODY_TOO_LARGE, "at most %d bytes", PROVD_MAX_BODY);
	if ((r = sc_reg_import_csv_text(ctx->reg, (const char *)ctx->req->body, ctx->req->body_len,
	         "csv", ctx->actor, (int64_t)time(NULL), &added, &skipped)) != SC_OK) {
		/* A bad line ("csv:LINE: …") is the upload's fault: the line is in the detail. */
		if (r == SC_ERR_MALFORMED || r == SC_ERR_OVERSIZE)
			return sc_fail(PROVD_ERR_BAD_VALUE, "%s", sc_err_detail());
		return provd_registry_err(r);
	}
	provd_respond_json(resp, 200,
	    json_pack("{s:I, s:I}", "added", (json_int_t)added, "already_registered",
	        (json_int_t)skipped));
	provd_log_add(resp, "imported=%zu skipped=%zu", added, skipped);
	return SC_OK;
}

/* GET /v1/operator/devices/{id}?audit=N: the device, its certificates, profiles and audit. */
sc_err provd_h_op_show(const struct provd_ctx *ctx, struct provd_response *resp)
{
	static const char *const keys[] = { "audit", NULL };
	struct collect certs = { NULL, 0, "" }, profs = { NULL, 0, "" }, audit = { NULL, 0, "" };
	struct sc_reg_device d;
	json_t *j = NULL;
	long n_audit;
	sc_err r;

	if ((r = provd_query_check(ctx->req, keys)) != SC_OK ||
	    (r = provd_query_long(ctx->req, "audit", OP_SHOW_AUDIT, 0, OP_SHOW_AUDIT_MAX,
	         &n_audit)) != SC_OK)
		return r;
	if ((r = sc_reg_device_get(ctx->reg, ctx->device_id, &d)) != SC_OK) {
		if (r == SC_ERR_NOT_FOUND)
			return sc_fail(SC_ERR_NOT_FOUND, "device %s is not registered",
			    ctx->device_id);
		return provd_registry_err(r);
	}
	if ((certs.arr = json_array()) == NULL || (profs.arr = json_array()) == NULL ||
	    (audit.arr = json_array()) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "device");
		goto out;
	}
	if ((r = sc_reg_cert_list(ctx->reg, d.device_id, OP_SHOW_ROWS, collect_cert, &certs)) !=
	        SC_OK ||
	    (r = sc_reg_profile_list(ctx->reg, d.device_id, OP_SHOW_ROWS, collect_profile,
	         &profs)) != SC_OK ||
	    (n_audit > 0 &&
	        (r = sc_reg_audit_list(ctx->reg, d.device_id, (size_t)n_audit, collect_audit,
	             &audit)) != SC_OK)) {
		r = provd_registry_err(r);
		goto out;
	}
	if (certs.oom || profs.oom || audit.oom || (j = device_json(&d)) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "device");
		goto out;
	}
	json_object_set(j, "certificates", certs.arr);
	json_object_set(j, "profiles", profs.arr);
	json_object_set(j, "audit", audit.arr);
	provd_respond_json(resp, 200, j);
	j = NULL;
	r = SC_OK;
out:
	json_decref(j);
	json_decref(certs.arr);
	json_decref(profs.arr);
	json_decref(audit.arr);
	return r;
}
