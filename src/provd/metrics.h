// SPDX-License-Identifier: Apache-2.0
/*
 * metrics.h — the provisioning server's counters and latency histograms, safe to update from
 * every worker thread, rendered in the Prometheus text format (version 0.0.4) for /metrics.
 * Counters live in memory and start at zero with the process, as Prometheus expects.
 */
#ifndef SC_PROVD_METRICS_H
#define SC_PROVD_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <selfcert/err.h>
#include <selfcert/profile.h>
#include "apierr.h"
#include "registry.h"

/* The endpoints that get their own label (everything else is "other"). */
enum provd_endpoint {
	PROVD_EP_HEALTHZ,
	PROVD_EP_METRICS,
	PROVD_EP_PROFILES,
	PROVD_EP_CERTIFICATES,
	PROVD_EP_DEVICE,
	PROVD_EP_REVOKE,
	PROVD_EP_OPERATOR, /* /v1/operator/… but revoke (h_operator.c) */
	PROVD_EP_REVOKED,
	PROVD_EP_CRLS,
	PROVD_EP_OTHER,
	PROVD_EP_COUNT
};

const char *provd_endpoint_name(enum provd_endpoint ep);

struct provd_metrics;

sc_err provd_metrics_new(struct provd_metrics **out) SC_MUST_USE;
void provd_metrics_free(struct provd_metrics *m);

/* One finished request: its endpoint, HTTP status and wall time in seconds. */
void provd_metrics_request(struct provd_metrics *m, enum provd_endpoint ep, int status,
    double seconds);
/* A refusal, by the API's error code index (provd_api_code_name). */
void provd_metrics_refusal(struct provd_metrics *m, int code);
/*
 * The console's view of refusals (issue 18): totals since start, and per hour over the last
 * PROVD_REFUSAL_HOURS hours ending with now's (row i: the hour now/3600 - HOURS + 1 + i). This
 * node's only: with several nodes, each counts its own (Prometheus sums them).
 */
#define PROVD_REFUSAL_HOURS 24
void provd_metrics_refusals(struct provd_metrics *m, int64_t now, uint64_t total[PROVD_E_COUNT],
    uint64_t hourly[PROVD_REFUSAL_HOURS][PROVD_E_COUNT]);
void provd_metrics_profile_issued(struct provd_metrics *m, enum sc_key_origin origin);
void provd_metrics_cert_registered(struct provd_metrics *m);
/* #17 (dur11): a profile recorded again from its certificate's registration (the audit's
 * profile-recovered row). */
void provd_metrics_profile_recovered(struct provd_metrics *m);
/*
 * A connection accepted (issue 17: over HTTPS each is a TLS handshake, PERFORMANCE.md 16.5; full,
 * or resumed from a TLS 1.3 ticket since session 13: provd_metrics_handshake tells which).
 */
void provd_metrics_connection(struct provd_metrics *m);
/* A TLS connection's handshake, counted at its first request (main.c): resumed (1, a TLS 1.3
 * session ticket accepted) or full (0). */
void provd_metrics_handshake(struct provd_metrics *m, int resumed);

/*
 * The whole exposition; counts (may be NULL) adds the registry gauges. *out is the caller's
 * (free). SC_ERR_NOMEM.
 */
sc_err provd_metrics_render(struct provd_metrics *m, const struct sc_reg_counts *counts, char **out,
    size_t *len) SC_MUST_USE;

#endif
