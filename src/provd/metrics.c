// SPDX-License-Identifier: Apache-2.0
/*
 * metrics.c — counters and fixed-bucket latency histograms behind one mutex (updates are a few
 * additions; contention is nothing next to a signature), rendered as Prometheus text.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "apierr.h"
#include "metrics.h"

#define STATUS_MIN 100
#define STATUS_MAX 599
#define N_STATUS (STATUS_MAX - STATUS_MIN + 1)
#define RENDER_MAX (256 * 1024) /* the exposition never grows past this */

/* Latency buckets in seconds (upper bounds); +Inf is implicit. */
static const double buckets[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
	5, 10 };
#define N_BUCKETS (sizeof(buckets) / sizeof(buckets[0]))

struct provd_metrics {
	pthread_mutex_t lock;
	uint64_t requests[PROVD_EP_COUNT][N_STATUS];
	uint64_t hist[PROVD_EP_COUNT][N_BUCKETS + 1]; /* cumulative at render, per bucket here */
	double hist_sum[PROVD_EP_COUNT];
	uint64_t hist_count[PROVD_EP_COUNT];
	uint64_t refusals[PROVD_E_COUNT];
	/* The console's refusals per hour (issue 18): slot h % PROVD_REFUSAL_HOURS is hour h. */
	int64_t refusal_hour[PROVD_REFUSAL_HOURS];
	uint64_t refusals_hourly[PROVD_REFUSAL_HOURS][PROVD_E_COUNT];
	uint64_t profiles[2]; /* by enum sc_key_origin */
	uint64_t certificates;
	uint64_t recovered; /* #17 (dur11): profiles recorded again from a registration */
	uint64_t connections;
	uint64_t handshakes[2]; /* TLS handshakes by connection: [0] full, [1] resumed */
};

static const char *const endpoint_names[PROVD_EP_COUNT] = {
	[PROVD_EP_HEALTHZ] = "healthz",
	[PROVD_EP_METRICS] = "metrics",
	[PROVD_EP_PROFILES] = "profiles",
	[PROVD_EP_CERTIFICATES] = "certificates",
	[PROVD_EP_DEVICE] = "device",
	[PROVD_EP_REVOKE] = "revoke",
	[PROVD_EP_OPERATOR] = "operator",
	[PROVD_EP_REVOKED] = "revoked",
	[PROVD_EP_CRLS] = "crls",
	[PROVD_EP_OTHER] = "other",
};

const char *provd_endpoint_name(enum provd_endpoint ep)
{
	return (unsigned)ep < PROVD_EP_COUNT ? endpoint_names[ep] : "other";
}

sc_err provd_metrics_new(struct provd_metrics **out)
{
	struct provd_metrics *m = NULL;
	sc_err r;

	*out = NULL;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return sc_fail(SC_ERR_NOMEM, "metrics");
	if (pthread_mutex_init(&m->lock, NULL) != 0) {
		r = sc_fail(SC_ERR_INTERNAL, "metrics: mutex");
		goto out;
	}
	*out = m;
	m = NULL;
	r = SC_OK;
out:
	free(m);
	return r;
}

void provd_metrics_free(struct provd_metrics *m)
{
	if (m == NULL)
		return;
	pthread_mutex_destroy(&m->lock);
	free(m);
}

void provd_metrics_request(struct provd_metrics *m, enum provd_endpoint ep, int status,
    double seconds)
{
	size_t b = 0;

	if (m == NULL)
		return;
	if ((unsigned)ep >= PROVD_EP_COUNT)
		ep = PROVD_EP_OTHER;
	if (status < STATUS_MIN || status > STATUS_MAX)
		status = 500;
	if (seconds < 0)
		seconds = 0;
	while (b < N_BUCKETS && seconds > buckets[b])
		b++;
	pthread_mutex_lock(&m->lock);
	m->requests[ep][status - STATUS_MIN]++;
	m->hist[ep][b]++;
	m->hist_sum[ep] += seconds;
	m->hist_count[ep]++;
	pthread_mutex_unlock(&m->lock);
}

void provd_metrics_refusal(struct provd_metrics *m, int code)
{
	if (m == NULL || code < 0 || code >= PROVD_E_COUNT)
		return;
	int64_t h = (int64_t)time(NULL) / 3600;
	size_t slot = (size_t)(h % PROVD_REFUSAL_HOURS);

	pthread_mutex_lock(&m->lock);
	m->refusals[code]++;
	if (m->refusal_hour[slot] != h) {
		m->refusal_hour[slot] = h;
		memset(m->refusals_hourly[slot], 0, sizeof(m->refusals_hourly[slot]));
	}
	m->refusals_hourly[slot][code]++;
	pthread_mutex_unlock(&m->lock);
}

void provd_metrics_refusals(struct provd_metrics *m, int64_t now, uint64_t total[PROVD_E_COUNT],
    uint64_t hourly[PROVD_REFUSAL_HOURS][PROVD_E_COUNT])
{
	int64_t h0 = now / 3600 - PROVD_REFUSAL_HOURS + 1;

	memset(total, 0, sizeof(uint64_t) * PROVD_E_COUNT);
	memset(hourly, 0, sizeof(uint64_t) * PROVD_REFUSAL_HOURS * PROVD_E_COUNT);
	if (m == NULL)
		return;
	pthread_mutex_lock(&m->lock);
	memcpy(total, m->refusals, sizeof(m->refusals));
	for (int i = 0; i < PROVD_REFUSAL_HOURS; i++) {
		int64_t h = h0 + i;
		size_t slot = (size_t)(h % PROVD_REFUSAL_HOURS);

		if (m->refusal_hour[slot] == h)
			memcpy(hourly[i], m->refusals_hourly[slot], sizeof(hourly[i]));
	}
	pthread_mutex_unlock(&m->lock);
}

void provd_metrics_profile_issued(struct provd_metrics *m, enum sc_key_origin origin)
{
	if (m == NULL)
		return;
	pthread_mutex_lock(&m->lock);
	m->profiles[origin == SC_KEY_SERVER_SUPPLIED ? 1 : 0]++;
	pthread_mutex_unlock(&m->lock);
}

void provd_metrics_connection(struct provd_metrics *m)
{
	if (m == NULL)
		return;
	pthread_mutex_lock(&m->lock);
	m->connections++;
	pthread_mutex_unlock(&m->lock);
}

void provd_metrics_handshake(struct provd_metrics *m, int resumed)
{
	if (m == NULL)
		return;
	pthread_mutex_lock(&m->lock);
	m->handshakes[resumed ? 1 : 0]++;
	pthread_mutex_unlock(&m->lock);
}

void provd_metrics_cert_registered(struct provd_metrics *m)
{
	if (m == NULL)
		return;
	pthread_mutex_lock(&m->lock);
	m->certificates++;
	pthread_mutex_unlock(&m->lock);
}

void provd_metrics_profile_recovered(struct provd_metrics *m)
{
	if (m == NULL)
		return;
	pthread_mutex_lock(&m->lock);
	m->recovered++;
	pthread_mutex_unlock(&m->lock);
}

/* An append-only text buffer with a hard cap; sticky failure. */
struct text {
	char *p;
	size_t len, cap;
	int failed;
};

static void put(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->failed)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->failed = 1;
			return;
		}
		if ((size_t)n < t->cap - t->len) {
			t->len += (size_t)n;
			return;
		}
		if (t->cap >= RENDER_MAX) {
			t->failed = 1;
			return;
		}
		{
			size_t ncap = t->cap * 2 > RENDER_MAX ? RENDER_MAX : t->cap * 2;
			char *np = realloc(t->p, ncap);
			if (np == NULL) {
				t->failed = 1;
				return;
			}
			t->p = np;
			t->cap = ncap;
		}
	}
}

sc_err provd_metrics_render(struct provd_metrics *m, const struct sc_reg_counts *counts, char **out,
    size_t *len)
{
	struct text t = { NULL, 0, 8192, 0 };
	struct provd_metrics *snap = NULL;
	sc_err r;

	*out = NULL;
	*len = 0;
	/* Copy under the lock, format outside it. */
	if ((snap = malloc(sizeof(*snap))) == NULL || (t.p = malloc(t.cap)) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "metrics");
		goto out;
	}
	pthread_mutex_lock(&m->lock);
	memcpy(snap, m, sizeof(*snap));
	pthread_mutex_unlock(&m->lock);

	put(&t,
	    "# HELP selfcert_provd_profiles_issued_total Profiles signed and recorded, by key "
	    "origin.\n"
	    "# TYPE selfcert_provd_profiles_issued_total counter\n"
	    "selfcert_provd_profiles_issued_total{origin=\"device\"} %llu\n"
	    "selfcert_provd_profiles_issued_total{origin=\"server\"} %llu\n",
	    (unsigned long long)snap->profiles[0], (unsigned long long)snap->profiles[1]);
	put(&t,
	    "# HELP selfcert_provd_certificates_registered_total Returned certificates verified "
	    "and recorded.\n"
	    "# TYPE selfcert_provd_certificates_registered_total counter\n"
	    "selfcert_provd_certificates_registered_total %llu\n",
	    (unsigned long long)snap->certificates);
	put(&t,
	    "# HELP selfcert_provd_profiles_recovered_total Profiles lost by the registry "
	    "(--profile-commit deferred) recorded again from the certificate registration that "
	    "carried them.\n"
	    "# TYPE selfcert_provd_profiles_recovered_total counter\n"
	    "selfcert_provd_profiles_recovered_total %llu\n",
	    (unsigned long long)snap->recovered);
	put(&t,
	    "# HELP selfcert_provd_connections_total Connections accepted (each a TLS handshake "
	    "over HTTPS).\n"
	    "# TYPE selfcert_provd_connections_total counter\n"
	    "selfcert_provd_connections_total %llu\n",
	    (unsigned long long)snap->connections);
	put(&t,
	    "# HELP selfcert_provd_tls_handshakes_total TLS handshakes of connections that "
	    "carried a request, full or resumed (a TLS 1.3 session ticket).\n"
	    "# TYPE selfcert_provd_tls_handshakes_total counter\n"
	    "selfcert_provd_tls_handshakes_total{kind=\"full\"} %llu\n"
	    "selfcert_provd_tls_handshakes_total{kind=\"resumed\"} %llu\n",
	    (unsigned long long)snap->handshakes[0], (unsigned long long)snap->handshakes[1]);
	put(&t,
	    "# HELP selfcert_provd_refusals_total Requests refused, by error code.\n"
	    "# TYPE selfcert_provd_refusals_total counter\n");
	for (int c = 0; c < PROVD_E_COUNT; c++)
		put(&t, "selfcert_provd_refusals_total{reason=\"%s\"} %llu\n", provd_code_name(c),
		    (unsigned long long)snap->refusals[c]);
	put(&t,
	    "# HELP selfcert_provd_requests_total HTTP requests answered, by endpoint and status.\n"
	    "# TYPE selfcert_provd_requests_total counter\n");
	for (int ep = 0; ep < PROVD_EP_COUNT; ep++)
		for (int s = 0; s < N_STATUS; s++)
			if (snap->requests[ep][s] != 0)
				put(&t,
				    "selfcert_provd_requests_total{endpoint=\"%s\",status=\"%d\"} "
				    "%llu\n",
				    endpoint_names[ep], s + STATUS_MIN,
				    (unsigned long long)snap->requests[ep][s]);
	put(&t,
	    "# HELP selfcert_provd_request_duration_seconds Time from the request's end to the "
	    "answer.\n"
	    "# TYPE selfcert_provd_request_duration_seconds histogram\n");
	for (int ep = 0; ep < PROVD_EP_COUNT; ep++) {
		uint64_t cum = 0;
		for (size_t b = 0; b < N_BUCKETS; b++) {
			cum += snap->hist[ep][b];
			put(&t,
			    "selfcert_provd_request_duration_seconds_bucket{endpoint=\"%s\",le=\"%"
			    "g\"} %llu\n",
			    endpoint_names[ep], buckets[b], (unsigned long long)cum);
		}
		cum += snap->hist[ep][N_BUCKETS];
		put(&t,
		    "selfcert_provd_request_duration_seconds_bucket{endpoint=\"%s\",le=\"+Inf\"} "
		    "%llu\n"
		    "selfcert_provd_request_duration_seconds_sum{endpoint=\"%s\"} %.6f\n"
		    "selfcert_provd_request_duration_seconds_count{endpoint=\"%s\"} %llu\n",
		    endpoint_names[ep], (unsigned long long)cum, endpoint_names[ep],
		    snap->hist_sum[ep], endpoint_names[ep],
		    (unsigned long long)snap->hist_count[ep]);
	}
	if (counts != NULL)
		put(&t,
		    "# HELP selfcert_provd_devices Devices in the registry, by status (the shared "
		    "registry's: the same on every node, aggregate with max()).\n"
		    "# TYPE selfcert_provd_devices gauge\n"
		    "selfcert_provd_devices{status=\"active\"} %lld\n"
		    "selfcert_provd_devices{status=\"revoked\"} %lld\n"
		    "# HELP selfcert_provd_registry_profiles Profiles in the registry, by state (max() "
		    "over nodes).\n"
		    "# TYPE selfcert_provd_registry_profiles gauge\n"
		    "selfcert_provd_registry_profiles{state=\"consumed\"} %lld\n"
		    "selfcert_provd_registry_profiles{state=\"open\"} %lld\n"
		    "# HELP selfcert_provd_registry_certificates Certificates in the registry (max() "
		    "over nodes).\n"
		    "# TYPE selfcert_provd_registry_certificates gauge\n"
		    "selfcert_provd_registry_certificates %lld\n",
		    (long long)counts->devices_active, (long long)counts->devices_revoked,
		    (long long)counts->profiles_consumed,
		    (long long)(counts->profiles - counts->profiles_consumed),
		    (long long)counts->certificates);
	if (t.failed) {
		r = sc_fail(SC_ERR_NOMEM, "metrics: exposition over %d bytes", RENDER_MAX);
		goto out;
	}
	*out = t.p;
	*len = t.len;
	t.p = NULL;
	r = SC_OK;
out:
	free(snap);
	free(t.p);
	return r;
}
