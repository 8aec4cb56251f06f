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
