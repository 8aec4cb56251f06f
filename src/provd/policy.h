// SPDX-License-Identifier: Apache-2.0
/*
 * policy.h — what a network lets its devices issue: leaf validity, profile lifetime, allowed
 * algorithms, server key generation, key usage, EKU, the certificate digest and the per-device
 * rate of profiles. Safe defaults, then a small strict JSON file (--policy), then flags.
 */
#ifndef SC_PROVD_POLICY_H
#define SC_PROVD_POLICY_H

#include <stddef.h>
#include <stdint.h>
#include <selfcert/err.h>
#include <selfcert/alg.h>
#include <selfcert/profile.h>
#include "registry.h"

#define PROVD_POLICY_FILE_MAX 16384 /* a policy file larger than this is refused */
#define PROVD_EKU_NAME_MAX 64
#define PROVD_SAN_MAX 255 /* one subjectAltName template, and its expansion */
/* The device's own DNS name takes one of the profile's SAN slots under a form 2 device CA. */
#define PROVD_POLICY_MAX_SAN (SC_PROFILE_MAX_SAN - 1)
#define PROVD_MAX_VALIDITY_S (5LL * 365 * 86400) /* no leaf longer than five years */
#define PROVD_MAX_PROFILE_TTL_S (7LL * 86400)
#define PROVD_CLOCK_SKEW_S 60          /* notBefore this far back (others' clocks) */
#define PROVD_UNAUTH_BUDGET_DEFAULT 10 /* unauthenticated profiles per address per hour */
/* A request proof is fresh from PROVD_PROOF_MAX_AGE_S before the server's clock to
 * PROVD_CLOCK_SKEW_S after it (the SP's clock may run ahead). */
#define PROVD_PROOF_MAX_AGE_S 300

struct provd_policy {
	int64_t validity_s;      /* default 24h (30d before issue 14) */
	int64_t profile_ttl_s;   /* default 10m: the profile is void after that */
	unsigned alg_mask;       /* bit (1u << alg) per allowed enum sc_alg; default all six */
	enum sc_alg default_alg; /* when the request names none; default p256 */
	int server_keygen;       /* default 0: only device-generated keys */
	int require_challenge;   /* default 1: every profile carries an SP challenge */
	unsigned key_usage;      /* KU_* bits; default digitalSignature */
	char eku[SC_PROFILE_MAX_EKU][PROVD_EKU_NAME_MAX + 1];
	size_t n_eku;                                      /* default one: clientAuth */
	char san[PROVD_POLICY_MAX_SAN][PROVD_SAN_MAX + 1]; /* "TYPE:template", see below */
	size_t n_san;                                      /* default none */
	enum sc_digest cert_digest;                        /* default sha256 */
	struct sc_reg_rate rate; /* default 10 profiles per device per hour */
	/*
	 * Profiles per client address in `window_s` for requests without a request proof
	 * (--unauthenticated-budget); they never count in a device's budget. Default
	 * PROVD_UNAUTH_BUDGET_DEFAULT per hour; max 0: such requests are refused (proof-required).
	 */
	struct sc_reg_rate unauth_rate;
	/*
	 * #17: "renewal" {"count": K, "cadence": DUR}: devices that announce SP revision 1.5 get
	 * renewal profiles of K certificates of `validity` each, one per cadence (cadence <=
	 * validity); revocation latency is then the window, (K-1)·cadence + validity. Default
	 * count 0: ordinary profiles for every device.
	 */
	uint32_t renewal_count;
	int64_t renewal_cadence_s;
};

void provd_policy_defaults(struct provd_policy *p);

/*
 * Read a policy file over the defaults already in p. Keys (all optional): "validity",
 * "profile_ttl" (durations "90s" "15m" "12h" "30d" "1y"), "algorithms" (array of names),
 * "default_algorithm", "server_keygen" (bool), "require_challenge" (bool), "key_usage" (array of
 * names), "eku" (array of names or dotted OIDs), "cert_digest", "rate_limit" {"profiles": N,
 * "window": DUR} (profiles 0: no limit), "san" (array of at most PROVD_POLICY_MAX_SAN
 * subjectAltName templates "dns:…", "uri:…", "ip:…", "email:…", in which {network} is the
 * network ID, {device} the device ID (percent-encoded in a URI) and {device_dns} the device's
 * DNS name; a dns: template must be {device_dns} or end with ".{device_dns}", the only names a
 * form 2 device CA permits), "renewal" {"count": 2..1024, "cadence": DUR} (#17). Unknown keys, wrong types and bad values are SC_ERR_USAGE naming
 * the key; the file is at most PROVD_POLICY_FILE_MAX bytes.
 */
sc_err provd_policy_load(const char *path, struct provd_policy *p) SC_MUST_USE;

/*
 * Template i of p->san for one device into out (out_len > PROVD_SAN_MAX). PROVD_ERR_POLICY
 * (naming the device) when the device has no DNS name and the template needs one, or the
 * expansion is longer than PROVD_SAN_MAX.
 */
sc_err provd_policy_san(const struct provd_policy *p, size_t i, const char *network_id,
    const char *device_id, char *out, size_t out_len) SC_MUST_USE;

/* "N/DUR" (e.g. "10/1h") into p->rate. SC_ERR_USAGE. */
sc_err provd_policy_parse_rate(const char *s, struct provd_policy *p) SC_MUST_USE;

/* Consistency after all sources: default algorithm allowed, durations in range. SC_ERR_USAGE. */
sc_err provd_policy_check(const struct provd_policy *p) SC_MUST_USE;

/* The key usage bits valid for a leaf of alg (what the SP accepts), from the policy's. */
unsigned provd_policy_key_usage_for(const struct provd_policy *p, enum sc_alg alg);

/* One line for the log: "validity 30d, profile ttl 600s, algorithms p256 p384 …". */
void provd_policy_describe(const struct provd_policy *p, char *out, size_t out_len);

#endif
