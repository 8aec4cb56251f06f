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
};

typedef sc_err provd_handler(const struct provd_ctx *ctx, struct provd_response *resp);

provd_handler provd_h_profiles;     /* POST /v1/profiles (h_enroll.c) */
provd_handler provd_h_certificates; /* POST /v1/certificates (h_enroll.c) */
provd_handler provd_h_device;       /* GET /v1/devices/{id} (h_admin.c) */
provd_handler provd_h_revoke;       /* POST /v1/devices/{id}/revoke (h_admin.c) */
provd_handler provd_h_healthz;      /* GET /healthz (h_admin.c) */
provd_handler provd_h_metrics;      /* GET /metrics (h_admin.c) */
provd_handler provd_h_revoked;      /* GET /v1/revoked (h_revoked.c) */

/*
 * The operator's bearer token: PROVD_ERR_ADMIN_DISABLED without --admin-token-file,
 * PROVD_ERR_UNAUTHORIZED unless authorization is "Bearer <the token>" (compared as SHA-256
 * digests in constant time).
 */
sc_err provd_admin_check(const struct provd_api *api, const char *authorization) SC_MUST_USE;

#endif
