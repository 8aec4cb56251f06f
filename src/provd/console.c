// SPDX-License-Identifier: Apache-2.0
/*
 * console.c — the operator's console (issue 18): its session gate (an HttpOnly cookie naming a
 * session kept in the registry, a CSRF token on every change), sign-in and sign-out, and the
 * console's own reads (the fleet overview, the audit log with its export, the policy). The
 * device list, a device's page and revocation are the operator endpoints' handlers
 * (h_operator.c, h_admin.c) behind this gate; the files come from console_assets.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <selfcert/cert.h>
#include "console_assets.h"
#include "handlers.h"
#include "json.h"
#include "log.h"
#include "respond.h"
#include "text.h"

/*
 * A session lives this long from its sign-in, whatever is done in it (no sliding renewal: that
 * would be a registry write per request). Short, as the issue asks: a console left open is
 * signed out within the half hour.
 */
#define CONSOLE_SESSION_S 1800
/*
 * The "__Host-" prefix makes browsers refuse the cookie unless it is Secure, for Path=/ and
 * without a Domain: no other host or path can set or shadow it.
 */
#define CONSOLE_COOKIE "__Host-sc_console"
#define CONSOLE_FLEET_HOURS 72 /* the overview's charts: three days, hourly */
#define CONSOLE_AUDIT_PAGE 100 /* audit rows in a page unless ?limit= */
#define CONSOLE_TOKEN_MAX PROVD_ADMIN_TOKEN_MAX

/* The lower-case hex of n bytes into out (2n + 1 bytes). */
static void hex(const uint8_t *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
}

/* The SHA-256 of a session ID (its 64 hex digits) as hex: what the registry keeps. */
static sc_err id_hash(const char *id, char out[SC_REG_SESSION_HEX + 1])
{
	uint8_t h[32];
	unsigned hl = 0;

	if (EVP_Digest(id, strlen(id), h, &hl, EVP_sha256(), NULL) != 1 || hl != sizeof(h))
		return sc_fail(SC_ERR_INTERNAL, "session: SHA-256");
	hex(h, sizeof(h), out);
	return SC_OK;
}

/*
 * The session cookie's value from a Cookie header: 64 lower-case hex digits, else "" (absent,
 * or a value of another shape: never looked up).
 */
static void cookie_value(const char *header, char out[SC_REG_SESSION_HEX + 1])
{
	const char *p = header;
	size_t n = strlen(CONSOLE_COOKIE), k;

	out[0] = '\0';
	while (p != NULL && *p != '\0') {
		while (*p == ' ' || *p == ';')
			p++;
		if (strncmp(p, CONSOLE_COOKIE, n) == 0 && p[n] == '=') {
			p += n + 1;
			for (k = 0; k < SC_REG_SESSION_HEX; k++)
				if (!((p[k] >= '0' && p[k] <= '9') || (p[k] >= 'a' && p[k] <= 'f')))
					return;
			if (p[k] != '\0' && p[k] != ';' && p[k] != ' ')
				return;
			memcpy(out, p, SC_REG_SESSION_HEX);
			out[SC_REG_SESSION_HEX] = '\0';
			return;
		}
		p = strchr(p, ';');
	}
}

static int console_on(const struct provd_api *api)
{
	return api->admin_enabled || provd_operators_enabled(api->operators);
}

static sc_err console_off(void)
{
	return sc_fail(PROVD_ERR_ADMIN_DISABLED,
	    "the console is off (start the server with --operators or --admin-token-file)");
}

/* 1 if an operator of this name may still act (the file re-read if it changed). */
static int operator_known(const struct provd_api *api, const char *name)
{
	if (api->operators == NULL)
		return api->admin_enabled && strcmp(name, PROVD_LEGACY_OPERATOR) == 0;
	return provd_operators_known(api->operators, name);
}

/* An audit row of the console's own; its failure fails the request (an action unaudited is
 * not done). */
static sc_err audit(const struct provd_ctx *ctx, const char *event, const char *detail)
{
	sc_err r;

	if ((r = sc_reg_audit_add(ctx->reg, (int64_t)time(NULL), ctx->actor, event, NULL,
	         detail)) != SC_OK)
		return provd_registry_err(r);
	return SC_OK;
}

sc_err provd_console_auth(struct provd_ctx *ctx, struct provd_response *resp, int csrf)
{
	char id[SC_REG_SESSION_HEX + 1];
	const char *t = ctx->req->csrf_token;
	sc_err r;

	if (!console_on(ctx->api))
		return console_off();
	cookie_value(ctx->req->cookie, id);
	if (id[0] == '\0')
		return sc_fail(PROVD_ERR_UNAUTHORIZED,
		    "console: sign in first (no session cookie)");
	if ((r = id_hash(id, ctx->session_hash)) != SC_OK)
		return r;
	OPENSSL_cleanse(id, sizeof(id));
	if ((r = sc_reg_session_get(ctx->reg, ctx->session_hash, (int64_t)time(NULL),
	         &ctx->session)) != SC_OK) {
		if (r == SC_ERR_NOT_FOUND)
			return sc_fail(PROVD_ERR_UNAUTHORIZED,
			    "console: the session is over (signed out or expired): sign in again");
		return provd_registry_err(r);
	}
	if (!operator_known(ctx->api, ctx->session.operator_name))
		return sc_fail(PROVD_ERR_UNAUTHORIZED,
		    "console: operator %s may no longer act (the operators file changed)",
		    ctx->session.operator_name);
	snprintf(ctx->operator_name, sizeof(ctx->operator_name), "%s", ctx->session.operator_name);
	snprintf(ctx->actor, sizeof(ctx->actor), "operator %s (%s)", ctx->operator_name,
	    ctx->req->peer ? ctx->req->peer : "?");
	provd_log_add(resp, "operator=%s console", ctx->operator_name);
	/* The token a script of this origin read from the session; a cross-site form has none. */
	if (csrf &&
	    (t == NULL || strlen(t) != SC_REG_SESSION_HEX ||
	        CRYPTO_memcmp(t, ctx->session.csrf, SC_REG_SESSION_HEX) != 0))
		return sc_fail(PROVD_ERR_CSRF,
		    "console: a change needs the session's X-CSRF-Token header");
	return SC_OK;
}

/* The session as the console's script sees it: who, the CSRF token, the end. */
static json_t *session_json(const struct sc_reg_session *s)
{
	char t[32];

	provd_time_str(s->expires_at, t, sizeof(t));
	return json_pack("{s:s, s:s, s:s}", "operator", s->operator_name, "csrf", s->csrf,
	    "expires_at", t);
}

sc_err provd_h_console_signin(const struct provd_ctx *ctx, struct provd_response *resp)
{
	struct provd_request req = *ctx->req;
	struct provd_ctx op = *ctx;
	struct sc_reg_session s;
	char auth[sizeof("Bearer ") + CONSOLE_TOKEN_MAX], id[SC_REG_SESSION_HEX + 1];
	uint8_t rnd[32];
	const char *token = NULL;
	int64_t now = (int64_t)time(NULL);
	sc_err r;

	if (!console_on(ctx->api))
		return console_off();
	if ((r = provd_json_string(ctx->body, "token", 1, CONSOLE_TOKEN_MAX, &token, NULL)) !=
	    SC_OK)
		return r;
	/* The operator gate itself: the same throttle, the same audit of a failure. */
	snprintf(auth, sizeof(auth), "Bearer %s", token);
	req.authorization = auth;
	op.req = &req;
	r = provd_operator_auth(&op, resp);
	OPENSSL_cleanse(auth, sizeof(auth));
	if (r != SC_OK)
		return r;
	memset(&s, 0, sizeof(s));
	snprintf(s.operator_name, sizeof(s.operator_name), "%s", op.operator_name);
	s.created_at = now;
	s.expires_at = now + CONSOLE_SESSION_S;
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return sc_fail(SC_ERR_INTERNAL, "session: no randomness");
	hex(rnd, sizeof(rnd), s.csrf);
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return sc_fail(SC_ERR_INTERNAL, "session: no randomness");
	hex(rnd, sizeof(rnd), id);
	OPENSSL_cleanse(rnd, sizeof(rnd));
	if ((r = id_hash(id, op.session_hash)) != SC_OK)
		goto out;
	if ((r = sc_reg_session_put(ctx->reg, op.session_hash, &s, now)) != SC_OK) {
		r = provd_registry_err(r);
		goto out;
	}
	if ((r = audit(&op, "console-sign-in", "a console session of 30 minutes")) != SC_OK)
		goto out;
	snprintf(resp->set_cookie, sizeof(resp->set_cookie),
	    CONSOLE_COOKIE "=%s; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=%d", id,
	    CONSOLE_SESSION_S);
	provd_respond_json(resp, 200, session_json(&s));
	r = SC_OK;
out:
	OPENSSL_cleanse(id, sizeof(id));
	return r;
}

sc_err provd_h_console_session(const struct provd_ctx *ctx, struct provd_response *resp)
{
	provd_respond_json(resp, 200, session_json(&ctx->session));
	return SC_OK;
}

sc_err provd_h_console_signout(const struct provd_ctx *ctx, struct provd_response *resp)
{
	sc_err r;

	if ((r = sc_reg_session_end(ctx->reg, ctx->session_hash)) != SC_OK)
		return provd_registry_err(r);
	if ((r = audit(ctx, "console-sign-out", "")) != SC_OK)
		return r;
	snprintf(resp->set_cookie, sizeof(resp->set_cookie),
	    CONSOLE_COOKIE "=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0");
	provd_respond_json(resp, 200, json_pack("{s:b}", "signed_out", 1));
	return SC_OK;
}

/* An array of n whole numbers. */
static json_t *ints(const int64_t *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < n; i++)
		json_array_append_new(a, json_integer((json_int_t)v[i]));
	return a;
}

sc_err provd_h_console_overview(const struct provd_ctx *ctx, struct provd_response *resp)
{
	static const char *const keys[] = { "hours", NULL };
	uint64_t total[PROVD_E_COUNT], hourly[PROVD_REFUSAL_HOURS][PROVD_E_COUNT];
	struct sc_reg_fleet f;
	int64_t now = (int64_t)time(NULL);
	json_t *refusals, *j;
	char start[32], t_now[32];
	long hours;
	sc_err r;

	if ((r = provd_query_check(ctx->req, keys)) != SC_OK ||
	    (r = provd_query_long(ctx->req, "hours", CONSOLE_FLEET_HOURS, 1, SC_REG_HOURS_MAX,
	         &hours)) != SC_OK)
		return r;
	if ((r = sc_reg_fleet(ctx->reg, now, (size_t)hours, &f)) != SC_OK)
		return provd_registry_err(r);
	if ((refusals = json_array()) == NULL)
		return sc_fail(SC_ERR_NOMEM, "overview");
	provd_metrics_refusals(ctx->api->metrics, now, total, hourly);
	/* Each code refused since start: its total, its last hour, and the last 24 hours. */
	for (int c = 0; c < PROVD_E_COUNT; c++) {
		int64_t h[PROVD_REFUSAL_HOURS], day = 0;

		if (total[c] == 0)
			continue;
		for (int i = 0; i < PROVD_REFUSAL_HOURS; i++)
			day += h[i] = (int64_t)hourly[i][c];
		json_array_append_new(refusals,
		    json_pack("{s:s, s:I, s:I, s:I, s:o}", "error", provd_code_name(c), "total",
		        (json_int_t)total[c], "last_hour", (json_int_t)h[PROVD_REFUSAL_HOURS - 1],
		        "last_24h", (json_int_t)day, "hourly", ints(h, PROVD_REFUSAL_HOURS)));
	}
	provd_time_str(f.start, start, sizeof(start));
	provd_time_str(now, t_now, sizeof(t_now));
	j = json_pack("{s:s, s:{s:I, s:I, s:I}, s:{s:I, s:I, s:I}, s:{s:s, s:I, s:o, s:o}, s:o}",
	    "now", t_now, "devices", "active", (json_int_t)f.devices_active, "revoked",
	    (json_int_t)f.devices_revoked, "never_enrolled", (json_int_t)f.never_enrolled,
	    "certificates", "expiring_24h", (json_int_t)f.expiring_24h, "expiring_7d",
	    (json_int_t)f.expiring_7d, "expired", (json_int_t)f.expired, "hourly", "start", start,
	    "hours", (json_int_t)f.hours, "profiles", ints(f.profiles, f.hours), "certificates",
	    ints(f.certificates, f.hours), "refusals", refusals);
	if (j == NULL)
		return sc_fail(SC_ERR_NOMEM, "overview");
	provd_respond_json(resp, 200, j);
	return SC_OK;
}

/* ---- the audit log ---- */

struct audit_out {
	json_t *rows; /* JSON */
	char *csv;    /* CSV: the text so far */
	size_t len, cap;
	int oom;
	int64_t last;
};

/* Append a CSV field (RFC 4180: quoted, quotes doubled; a leading = + - @ made inert for
 * spreadsheets by a leading apostrophe). */
static void csv_put(struct audit_out *o, const char *s, int last)
{
	size_t need = 2 * strlen(s) + 5;
	char *p;

	if (o->oom)
		return;
	if (o->len + need > o->cap) {
		size_t cap = (o->cap + need) * 2;

		if ((p = realloc(o->csv, cap)) == NULL) {
			o->oom = 1;
			return;
		}
		o->csv = p;
		o->cap = cap;
	}
	p = o->csv + o->len;
	*p++ = '"';
	if (*s == '=' || *s == '+' || *s == '-' || *s == '@')
		*p++ = '\'';
	for (; *s; s++) {
		if (*s == '"')
			*p++ = '"';
		*p++ = *s;
	}
	*p++ = '"';
	*p++ = last ? '\n' : ',';
	o->len = (size_t)(p - o->csv);
}

static int collect_row(void *ctx, const struct sc_reg_audit_rec *a)
{
	struct audit_out *o = ctx;
	char at[32], seq[24];
	json_t *j;

	provd_time_str(a->at, at, sizeof(at));
	o->last = a->seq;
	if (o->rows == NULL) {
		snprintf(seq, sizeof(seq), "%lld", (long long)a->seq);
		csv_put(o, seq, 0);
		csv_put(o, at, 0);
		csv_put(o, a->actor ? a->actor : "", 0);
		csv_put(o, a->event ? a->event : "", 0);
		csv_put(o, a->device_id ? a->device_id : "", 0);
		csv_put(o, a->detail ? a->detail : "", 1);
		return o->oom;
	}
	j = json_pack("{s:I, s:s, s:s, s:s, s:o, s:s}", "seq", (json_int_t)a->seq, "at", at,
	    "actor", a->actor ? a->actor : "", "event", a->event ? a->event : "", "device_id",
	    a->device_id ? json_string(a->device_id) : json_null(), "detail",
	    a->detail ? a->detail : "");
	if (j == NULL || json_array_append_new(o->rows, j) != 0)
		o->oom = 1;
	return o->oom;
}

/* A time filter: RFC 3339, into *out (0 when absent). */
static sc_err query_time(const struct provd_request *req, const char *key, int64_t *out)
{
	const char *s;
	time_t t;
	sc_err r;

	*out = 0;
	if ((r = provd_query_get(req, key, &s)) != SC_OK || s == NULL)
		return r;
	if (sc_parse_time(s, &t) != SC_OK || t <= 0)
		return sc_fail(PROVD_ERR_BAD_VALUE, "%s: an RFC 3339 time, 2027-01-31T00:00:00Z",
		    key);
	*out = (int64_t)t;
	return SC_OK;
}

/* 1 if s is printable ASCII (what an event name or actor filter can match). */
static int printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return 0;
	return 1;
}

/*
 * GET /console/api/audit?event=&actor=&device=&since=&until=&before=&limit=&format=
 * Newest first, keyset pages (next: the before= of the following page). format=csv or json is
 * an export: a download of this page (up to SC_REG_AUDIT_PAGE_MAX rows), itself audited.
 */
sc_err provd_h_console_audit(const struct provd_ctx *ctx, struct provd_response *resp)
{
	static const char *const keys[] = { "event", "actor", "device", "since", "until", "before",
		"limit", "format", NULL };
	struct sc_reg_audit_query q;
	struct audit_out o = { NULL, NULL, 0, 0, 0, 0 };
	const char *format;
	char detail[SC_REG_NOTE_MAX + 1];
	long limit, before;
	int more = 0, csv = 0, export = 0;
	size_t n;
	sc_err r;

	memset(&q, 0, sizeof(q));
	if ((r = provd_query_check(ctx->req, keys)) != SC_OK ||
	    (r = provd_query_get(ctx->req, "event", &q.event)) != SC_OK ||
	    (r = provd_query_get(ctx->req, "actor", &q.actor)) != SC_OK ||
	    (r = provd_query_get(ctx->req, "device", &q.device_id)) != SC_OK ||
	    (r = query_time(ctx->req, "since", &q.since)) != SC_OK ||
	    (r = query_time(ctx->req, "until", &q.until)) != SC_OK ||
	    (r = provd_query_long(ctx->req, "before", 0, 1, 0x7fffffffffffffffL, &before)) !=
	        SC_OK ||
	    (r = provd_query_long(ctx->req, "limit", CONSOLE_AUDIT_PAGE, 1, SC_REG_AUDIT_PAGE_MAX,
	         &limit)) != SC_OK ||
	    (r = provd_query_get(ctx->req, "format", &format)) != SC_OK)
		return r;
	if (q.event != NULL && (strlen(q.event) > SC_REG_EVENT_MAX || !printable(q.event)))
		return sc_fail(PROVD_ERR_BAD_VALUE, "event: 1..%d printable characters",
		    SC_REG_EVENT_MAX);
	if (q.actor != NULL && (strlen(q.actor) >= SC_REG_ACTOR_MAX || !printable(q.actor)))
		return sc_fail(PROVD_ERR_BAD_VALUE, "actor: 1..%d printable characters",
		    SC_REG_ACTOR_MAX - 1);
	if (q.device_id != NULL && !sc_device_id_valid(q.device_id))
		return sc_fail(PROVD_ERR_BAD_VALUE, "device: a device ID");
	if (format != NULL && strcmp(format, "csv") == 0)
		csv = export = 1;
	else if (format != NULL && strcmp(format, "json") == 0)
		export = 1;
	else if (format != NULL)
		return sc_fail(PROVD_ERR_BAD_VALUE, "format: csv or json");
	q.before = before;
	q.limit = (size_t)limit;
	if (!csv && (o.rows = json_array()) == NULL)
		return sc_fail(SC_ERR_NOMEM, "audit");
	if (csv)
		csv_put(&o, "seq", 0), csv_put(&o, "at", 0), csv_put(&o, "actor", 0),
		    csv_put(&o, "event", 0), csv_put(&o, "device_id", 0), csv_put(&o, "detail", 1);
	if ((r = sc_reg_audit_page(ctx->reg, &q, collect_row, &o, &more)) != SC_OK || o.oom) {
		r = r != SC_OK ? provd_registry_err(r) : sc_fail(SC_ERR_NOMEM, "audit");
		goto out;
	}
	n = o.rows != NULL ? json_array_size(o.rows) : 0;
	if (export) {
		/* What was taken away, and under which filters: the export is itself an action. */
		snprintf(detail, sizeof(detail),
		    "%s export: event=%.64s actor=%.40s device=%.64s since=%lld until=%lld",
		    csv ? "csv" : "json", q.event ? q.event : "*", q.actor ? q.actor : "*",
		    q.device_id ? q.device_id : "*", (long long)q.since, (long long)q.until);
		if ((r = audit(ctx, "console-audit-export", detail)) != SC_OK)
			goto out;
		snprintf(resp->disposition, sizeof(resp->disposition),
		    "attachment; filename=\"selfcert-audit.%s\"", csv ? "csv" : "json");
	}
	if (csv) {
		resp->status = 200;
		resp->content_type = "text/csv; charset=utf-8";
		resp->body = o.csv;
		resp->body_len = o.len;
		o.csv = NULL;
	} else {
		provd_respond_json(resp, 200,
		    json_pack("{s:o, s:o}", "audit", o.rows, "next",
		        more ? json_integer((json_int_t)o.last) : json_null()));
		o.rows = NULL;
	}
	provd_log_add(resp, "audit=%zu%s", n, export ? " export" : "");
	r = SC_OK;
out:
	json_decref(o.rows);
	free(o.csv);
	return r;
}

/* GET /console/api/policy: what the network lets its devices issue, read-only. */
sc_err provd_h_console_policy(const struct provd_ctx *ctx, struct provd_response *resp)
{
	const struct provd_policy *p = &ctx->api->policy;
	json_t *algs = json_array(), *eku = json_array(), *san = json_array(), *j;
	char line[512];
	sc_err r;

	if ((r = provd_query_check(ctx->req, (const char *const[]){ NULL })) != SC_OK)
		goto fail;
	if (algs == NULL || eku == NULL || san == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "policy");
		goto fail;
	}
	for (int a = 1; a <= SC_ALG_MAX; a++)
		if (p->alg_mask & (1u << a))
			json_array_append_new(algs, json_string(sc_alg_name((enum sc_alg)a)));
	for (size_t i = 0; i < p->n_eku; i++)
		json_array_append_new(eku, json_string(p->eku[i]));
	for (size_t i = 0; i < p->n_san; i++)
		json_array_append_new(san, json_string(p->san[i]));
	provd_policy_describe(p, line, sizeof(line));
	j = json_pack("{s:s, s:s, s:I, s:I, s:o, s:s, s:b, s:b, s:o, s:o, s:{s:I, s:I}, "
	              "s:{s:I, s:I}}",
	    "network_id", ctx->api->network_id, "summary", line, "validity_s",
	    (json_int_t)p->validity_s, "profile_ttl_s", (json_int_t)p->profile_ttl_s, "algorithms",
	    algs, "default_algorithm",
	    sc_alg_name(p->default_alg) ? sc_alg_name(p->default_alg) : "", "server_keygen",
	    p->server_keygen, "require_challenge", p->require_challenge, "eku", eku, "san", san,
	    "rate_limit", "profiles", (json_int_t)p->rate.max, "window_s",
	    (json_int_t)p->rate.window_s, "unauthenticated_budget", "profiles",
	    (json_int_t)p->unauth_rate.max, "window_s", (json_int_t)p->unauth_rate.window_s);
	if (j == NULL)
		return sc_fail(SC_ERR_NOMEM, "policy");
	provd_respond_json(resp, 200, j);
	return SC_OK;
fail:
	json_decref(algs);
	json_decref(eku);
	json_decref(san);
	return r;
}

/* ---- the files ---- */

int provd_console_asset(const struct provd_ctx *ctx, struct provd_response *resp)
{
	const char *path = ctx->req->path != NULL ? ctx->req->path : "";
	const struct provd_console_file *f;

	if (strcmp(path, "/console") == 0 || strcmp(path, "/console/") == 0)
		path = "/console/index.html";
	if (strncmp(path, "/console/", 9) != 0 || (f = provd_console_file(path + 9)) == NULL)
		return 0;
	resp->endpoint = PROVD_EP_OTHER;
	if (!console_on(ctx->api)) {
		provd_respond_failure(resp, console_off());
		return 1;
	}
	if (strcmp(ctx->req->method != NULL ? ctx->req->method : "", "GET") != 0) {
		resp->allow = "GET";
		provd_respond_failure(resp,
		    sc_fail(PROVD_ERR_METHOD, "the console's files answer GET"));
		return 1;
	}
	if ((resp->body = malloc(f->len + 1)) == NULL) {
		provd_respond_failure(resp, sc_fail(SC_ERR_NOMEM, "console file"));
		return 1;
	}
	memcpy(resp->body, f->data, f->len);
	resp->body[f->len] = '\0';
	resp->body_len = f->len;
	resp->status = 200;
	resp->content_type = f->type;
	return 1;
}
