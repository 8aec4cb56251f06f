// SPDX-License-Identifier: Apache-2.0
/*
 * routes.c — the server's whole surface: nothing outside this table answers. provd_api_handle
 * finds the route (404, or 405 with Allow from the table), runs its gate (operator token, device
 * ID, JSON body), calls the handler, and turns any failure into the one JSON error answer.
 */
#include <stdio.h>
#include <string.h>
#include <openssl/err.h>
#include <selfcert/cert.h>
#include "handlers.h"
#include "json.h"
#include "respond.h"

#define R_JSON 0x1 /* a JSON body: application/json, <= PROVD_MAX_BODY, depth-checked, known keys */
#define R_JSON_OPT 0x2 /* with R_JSON: an empty body is no body (ctx->body NULL) */
#define R_ADMIN 0x4    /* an operator's bearer token (provd_operator_auth), checked first */
#define R_SESSION 0x8  /* the console's session cookie (provd_console_auth), checked first */
#define R_CSRF 0x10    /* with R_SESSION: a change, the session's X-CSRF-Token required */

/*
 * The longest rest of a /v1/devices/ path: a device ID, the longest suffix and a byte to spare
 * (the bound the router had before the table; longer rests are not-found, shorter ones reach
 * the device ID check).
 */
#define PATH_REST_MAX (SC_DEVICE_ID_MAX + sizeof("/revoke"))
#define CONSOLE_API "/console/api/"

static const char *const f_profiles[] = { "chain", "kex", "challenge", "alg", "server_keygen",
	"proof", "gate", "renewal", "batch", NULL };
static const char *const f_certificates[] = { "certificate", "crl", "profile", "chain", NULL };
static const char *const f_cert_batch[] = { "certificates", NULL };
static const char *const f_revoke[] = { "reason", NULL };
static const char *const f_activate[] = { "device_ids", "note", NULL };
static const char *const f_signin[] = { "token", NULL };

/* clang-format off */
static const struct provd_route {
	const char *method;
	const char *path;          /* exact, or a prefix ending in '/': the rest is the device ID */
	const char *suffix;        /* NULL, or what follows the device ID */
	enum provd_endpoint ep;
	unsigned flags;
	const char *const *fields; /* R_JSON: the keys the body may have */
	provd_handler *handler;
} routes[] = {
	{ "GET",  "/healthz",         NULL,      PROVD_EP_HEALTHZ,
	  0,                             NULL,           provd_h_healthz },
	{ "GET",  "/metrics",         NULL,      PROVD_EP_METRICS,
	  0,                             NULL,           provd_h_metrics },
	{ "POST", "/v1/profiles",     NULL,      PROVD_EP_PROFILES,
	  R_JSON,                        f_profiles,     provd_h_profiles },
	{ "POST", "/v1/certificates", NULL,      PROVD_EP_CERTIFICATES,
	  R_JSON,                        f_certificates, provd_h_certificates },
	/* #17: many certificates in one request (a renewing agent's backlog). */
	{ "POST", "/v1/certificates/batch", NULL, PROVD_EP_CERTIFICATES,
	  R_JSON,                        f_cert_batch,   provd_h_cert_batch },
	/* Before the revoke route: for a path matching both, a wrong method gets this Allow. */
	{ "GET",  "/v1/devices/",     NULL,      PROVD_EP_DEVICE,
	  0,                             NULL,           provd_h_device },
	{ "POST", "/v1/devices/",     "/revoke", PROVD_EP_REVOKE,
	  R_ADMIN | R_JSON | R_JSON_OPT, f_revoke,       provd_h_revoke },
	/* The operator's endpoints (h_operator.c): what `selfcert net device` does. */
	{ "GET",  "/v1/operator/whoami", NULL,   PROVD_EP_OPERATOR,
	  R_ADMIN,                       NULL,           provd_h_op_whoami },
	{ "GET",  "/v1/operator/devices", NULL,  PROVD_EP_OPERATOR,
	  R_ADMIN,                       NULL,           provd_h_op_list },
	{ "POST", "/v1/operator/devices", NULL,  PROVD_EP_OPERATOR,
	  R_ADMIN | R_JSON,              f_activate,     provd_h_op_activate },
	/* Before the prefix routes: "import" is this, not a device (GET of it still shows one). */
	{ "POST", "/v1/operator/devices/import", NULL, PROVD_EP_OPERATOR,
	  R_ADMIN,                       NULL,           provd_h_op_import },
	{ "GET",  "/v1/operator/devices/", NULL, PROVD_EP_OPERATOR,
	  R_ADMIN,                       NULL,           provd_h_op_show },
	{ "POST", "/v1/operator/devices/", "/revoke", PROVD_EP_REVOKE,
	  R_ADMIN | R_JSON | R_JSON_OPT, f_revoke,       provd_h_revoke },
	{ "GET",  "/v1/revoked",      NULL,      PROVD_EP_REVOKED,
	  0,                             NULL,           provd_h_revoked },
	{ "GET",  "/v1/crls",         NULL,      PROVD_EP_CRLS,
	  0,                             NULL,           provd_h_crls },
	/*
	 * The operator's console (console.c): the same handlers as the operator endpoints behind
	 * the session gate, a change also behind its CSRF token. Sign-in is a JSON body, which no
	 * cross-site form can send.
	 */
	{ "POST", "/console/api/session", NULL,  PROVD_EP_OPERATOR,
	  R_JSON,                        f_signin,       provd_h_console_signin },
	{ "GET",  "/console/api/session", NULL,  PROVD_EP_OPERATOR,
	  R_SESSION,                     NULL,           provd_h_console_session },
	{ "POST", "/console/api/session/end", NULL, PROVD_EP_OPERATOR,
	  R_SESSION | R_CSRF,            NULL,           provd_h_console_signout },
	{ "GET",  "/console/api/overview", NULL, PROVD_EP_OPERATOR,
	  R_SESSION,                     NULL,           provd_h_console_overview },
	{ "GET",  "/console/api/devices", NULL,  PROVD_EP_OPERATOR,
	  R_SESSION,                     NULL,           provd_h_op_list },
	{ "GET",  "/console/api/devices/", NULL, PROVD_EP_OPERATOR,
	  R_SESSION,                     NULL,           provd_h_op_show },
	{ "POST", "/console/api/devices/", "/revoke", PROVD_EP_REVOKE,
	  R_SESSION | R_CSRF | R_JSON | R_JSON_OPT, f_revoke, provd_h_revoke },
	{ "GET",  "/console/api/audit", NULL,    PROVD_EP_OPERATOR,
	  R_SESSION,                     NULL,           provd_h_console_audit },
	{ "GET",  "/console/api/policy", NULL,   PROVD_EP_OPERATOR,
	  R_SESSION,                     NULL,           provd_h_console_policy },
};
/* clang-format on */

static int is_prefix_route(const struct provd_route *rt)
{
	return rt->path[strlen(rt->path) - 1] == '/';
}

/*
 * 1 if path is rt's (the device ID then in id, which has room for PATH_REST_MAX bytes). A rest
 * too long to be any device's sets *too_long and matches nothing.
 */
static int path_matches(const struct provd_route *rt, const char *path, char *id, size_t id_len,
    int *too_long)
{
	size_t plen = strlen(rt->path), rlen, slen = rt->suffix != NULL ? strlen(rt->suffix) : 0;
	const char *rest;

	if (!is_prefix_route(rt))
		return strcmp(path, rt->path) == 0;
	if (strncmp(path, rt->path, plen) != 0 || path[plen] == '\0')
		return 0;
	rest = path + plen;
	if ((rlen = strlen(rest)) > PATH_REST_MAX) {
		*too_long = 1;
		return 0;
	}
	if (slen > 0 && (rlen <= slen || strcmp(rest + rlen - slen, rt->suffix) != 0))
		return 0;
	snprintf(id, id_len, "%.*s", (int)(rlen - slen), rest);
	return 1;
}

/*
 * The route for the request: the first whose path and method match. A path some route has but
 * not with this method is 405, Allow naming the method of the first route with that path.
 */
static sc_err find_route(const struct provd_request *req, struct provd_response *resp,
    const struct provd_route **out, char *id, size_t id_len)
{
	const char *path = req->path != NULL ? req->path : "",
	           *method = req->method != NULL ? req->method : "";
	const struct provd_route *first = NULL;
	int too_long = 0;

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (!path_matches(&routes[i], path, id, id_len, &too_long))
			continue;
		if (strcmp(routes[i].method, method) == 0) {
			resp->endpoint = routes[i].ep;
			*out = &routes[i];
			return SC_OK;
		}
		if (first == NULL)
			first = &routes[i];
	}
	if (first != NULL) {
		resp->endpoint = first->ep;
		resp->allow = first->method;
		return sc_fail(PROVD_ERR_METHOD, "this endpoint answers %s", first->method);
	}
	if (too_long)
		return sc_fail(PROVD_ERR_NO_ENDPOINT, "no such endpoint (device ID too long)");
	return sc_fail(PROVD_ERR_NO_ENDPOINT, "no such endpoint");
}

/* The gate, in order: operator token, the device ID in the path, the JSON body; the handler. */
static sc_err run_route(const struct provd_route *rt, struct provd_ctx *ctx, const char *id,
    struct provd_response *resp)
{
	const struct provd_request *req = ctx->req;
	sc_err r;

	if ((rt->flags & R_ADMIN) && (r = provd_operator_auth(ctx, resp)) != SC_OK)
		return r;
	if ((rt->flags & R_SESSION) &&
	    (r = provd_console_auth(ctx, resp, (rt->flags & R_CSRF) != 0)) != SC_OK)
		return r;
	if (is_prefix_route(rt)) {
		if (!sc_device_id_valid(id))
			return sc_fail(PROVD_ERR_BAD_VALUE,
			    "device ID in the path: 1..64 PrintableString characters");
		provd_log_add(resp, "device=%s", id);
		ctx->device_id = id;
	}
	if ((rt->flags & R_JSON) && !((rt->flags & R_JSON_OPT) && req->body_len == 0) &&
	    (r = provd_json_body(req, rt->fields, &ctx->body)) != SC_OK)
		return r;
	return rt->handler(ctx, resp);
}

void provd_api_handle(const struct provd_api *api, struct sc_reg *reg,
    const struct provd_request *req, struct provd_response *resp)
{
	struct provd_ctx ctx = { .api = api, .reg = reg, .req = req };
	const struct provd_route *rt = NULL;
	char id[PATH_REST_MAX + 1];
	sc_err r;

	memset(resp, 0, sizeof(*resp));
	resp->code = -1;
	resp->endpoint = PROVD_EP_OTHER;
	sc_err_clear();
	/* The console's files: outside the table (a set made at build time), never its API. */
	if (req->path != NULL && strncmp(req->path, "/console", 8) == 0 &&
	    strncmp(req->path, CONSOLE_API, strlen(CONSOLE_API)) != 0 &&
	    provd_console_asset(&ctx, resp)) {
		ERR_clear_error();
		return;
	}
	if ((r = find_route(req, resp, &rt, id, sizeof(id))) == SC_OK)
		r = run_route(rt, &ctx, id, resp);
	if (r != SC_OK)
		provd_respond_failure(resp, r);
	json_decref(ctx.body);
	if (resp->code >= 0 && resp->status != 500 && resp->status != 503)
		provd_metrics_refusal(api->metrics, resp->code);
	ERR_clear_error();
}
