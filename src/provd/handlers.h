// SPDX-License-Identifier: Apache-2.0
/*
 * handlers.h — the handlers behind routes.c's table. A handler runs after the route's gate
 * (operator token, device ID in the path, JSON body) and either writes its success answer
 * (respond.h) and returns SC_OK, or returns an sc_err with a detail (sc_fail) and writes
 * nothing: provd_api_handle turns every failure into the one error answer (apierr.h).
 */
#ifndef SC_PROVD_HANDLERS_H
#define SC_PROVD_HANDLERS_H

#include <jansson.h>
#include <selfcert/err.h>
#include "api.h"

/* One request as the gate hands it on. Everything is borrowed for the call. */
struct provd_ctx {
	const struct provd_api *api;
	struct sc_reg *reg; /* the worker's registry connection */
	const struct provd_request *req;
	const char *device_id; /* /v1/devices/{id}: sc_device_id_valid; else NULL */
	json_t *body;          /* a JSON route: one object of its keys; else NULL */
	/* An operator route: who the gate let in, and the audit actor "operator NAME (PEER)". */
	char operator_name[SC_OP_NAME_MAX + 1];
	char actor[SC_REG_ACTOR_MAX];
	/* A console route (console.c): the session the cookie named, and its ID's hash. */
	struct sc_reg_session session;
	char session_hash[SC_REG_SESSION_HEX + 1];
};

typedef sc_err provd_handler(const struct provd_ctx *ctx, struct provd_response *resp);

provd_handler provd_h_profiles;     /* POST /v1/profiles (h_enroll.c) */
provd_handler provd_h_certificates; /* POST /v1/certificates (h_enroll.c) */
provd_handler provd_h_cert_batch;   /* POST /v1/certificates/batch (h_batch.c, #17) */

/*
 * One certificate of ctx->body {"certificate": PEM}: parse, bind to its profile, verify,
 * record (h_enroll.c). On success *answer is the JSON object POST /v1/certificates answers
 * (the caller's) and *already 1 for a certificate registered before. The failure's code.
 */
sc_err provd_cert_register(const struct provd_ctx *ctx, struct provd_response *resp,
    json_t **answer, int *already) SC_MUST_USE;

/*
 * #17 (POST /v1/certificates/batch): the certificates of list (PEM strings, 1..256, types
 * checked by the caller), each judged as provd_cert_register judges one, the accepted ones
 * recorded together (sc_reg_cert_record_many: one durable commit on SQLite). out[i] (n of
 * them): the answer for an accepted one (the caller's, json_decref), or r and its detail for a
 * refused one. SC_OK when every certificate has its outcome; the server's own trouble
 * (SC_ERR_IO, NOMEM, INTERNAL) is returned and fails the whole request, out then empty.
 */
struct provd_cert_outcome {
	json_t *answer;
	sc_err r;
	int already;
	char detail[256];
};
sc_err provd_cert_register_many(const struct provd_ctx *ctx, json_t *list,
    struct provd_response *resp, struct provd_cert_outcome *out) SC_MUST_USE;
provd_handler provd_h_device;      /* GET /v1/devices/{id} (h_admin.c) */
provd_handler provd_h_revoke;      /* POST /v1/devices/{id}/revoke (h_admin.c) */
provd_handler provd_h_healthz;     /* GET /healthz (h_admin.c) */
provd_handler provd_h_metrics;     /* GET /metrics (h_admin.c) */
provd_handler provd_h_op_whoami;   /* GET /v1/operator/whoami (h_operator.c) */
provd_handler provd_h_op_list;     /* GET /v1/operator/devices */
provd_handler provd_h_op_activate; /* POST /v1/operator/devices */
provd_handler provd_h_op_import;   /* POST /v1/operator/devices/import (text/csv) */
provd_handler provd_h_op_show;     /* GET /v1/operator/devices/{id} */
provd_handler provd_h_revoked;     /* GET /v1/revoked (h_revoked.c) */
provd_handler provd_h_crls;        /* GET /v1/crls (h_crls.c) */
/* The operator's console (console.c, issue 18): /console/ and /console/api/. */
provd_handler provd_h_console_signin;   /* POST /console/api/session {"token"} */
provd_handler provd_h_console_session;  /* GET /console/api/session */
provd_handler provd_h_console_signout;  /* POST /console/api/session/end */
provd_handler provd_h_console_overview; /* GET /console/api/overview */
provd_handler provd_h_console_audit;    /* GET /console/api/audit */
provd_handler provd_h_console_policy;   /* GET /console/api/policy */

/*
 * Query parameters (h_operator.c): every key in `allowed` and given once (PROVD_ERR_BAD_VALUE,
 * PROVD_ERR_UNKNOWN_FIELD); a value (NULL if absent; an empty one refused); a whole number in
 * [min, max], def if absent.
 */
sc_err provd_query_check(const struct provd_request *req, const char *const *allowed) SC_MUST_USE;
sc_err provd_query_get(const struct provd_request *req, const char *key,
    const char **out) SC_MUST_USE;
sc_err provd_query_long(const struct provd_request *req, const char *key, long def, long min,
    long max, long *out) SC_MUST_USE;

/*
 * The console's gate (console.c): the session cookie names a live session of an operator who
 * may still act; with csrf, the X-CSRF-Token header is the session's token. Off like the
 * operator endpoints (PROVD_ERR_ADMIN_DISABLED); PROVD_ERR_UNAUTHORIZED without a live session;
 * PROVD_ERR_CSRF without the token. On success sets ctx's operator, actor and session.
 */
sc_err provd_console_auth(struct provd_ctx *ctx, struct provd_response *resp, int csrf) SC_MUST_USE;

/*
 * The console's files (compiled in, console_assets.c made by CMake): 1 and the answer written if
 * path is one of them ("/console" and "/console/" are its index.html), else 0. GET only.
 */
int provd_console_asset(const struct provd_ctx *ctx, struct provd_response *resp);

/*
 * The operator gate (h_operator.c): who sent the request's bearer token. PROVD_ERR_ADMIN_DISABLED
 * with no credential configured; PROVD_ERR_UNAUTHORIZED without "Bearer <token>" or with a token
 * no operator has (audited "operator-auth-failed" as "api PEER", the token never written);
 * SC_ERR_RATE_LIMITED (429, Retry-After) for an address past PROVD_AUTH_FAILS_MAX failures in
 * PROVD_AUTH_WINDOW_S; SC_ERR_IO (503) while the operators file is unusable. On success sets
 * ctx->operator_name and ctx->actor and adds "operator=NAME" to the log line.
 */
sc_err provd_operator_auth(struct provd_ctx *ctx, struct provd_response *resp) SC_MUST_USE;

#endif
