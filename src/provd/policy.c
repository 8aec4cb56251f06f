// SPDX-License-Identifier: Apache-2.0
/*
 * policy.c — the network's issuance policy: defaults, the strict JSON policy file, the rate
 * flag, and the per-algorithm key usage the SP will accept.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>
#include <selfcert/cert.h>
#include <selfcert/oid.h>
#include "apierr.h"
#include "file.h"
#include "policy.h"
#include "text.h"

void provd_policy_defaults(struct provd_policy *p)
{
	memset(p, 0, sizeof(*p));
	/* Short, so that a device the server stops renewing drops out within a day (issue 14). */
	p->validity_s = 86400;
	p->profile_ttl_s = 600;
	for (int a = 1; a <= SC_ALG_MAX; a++)
		p->alg_mask |= 1u << a;
	p->default_alg = SC_ALG_P256;
	p->server_keygen = 0;
	p->require_challenge = 1;
	p->key_usage = KU_DIGITAL_SIGNATURE;
	snprintf(p->eku[0], sizeof(p->eku[0]), "clientAuth");
	p->n_eku = 1;
	p->cert_digest = SC_DIGEST_SHA256;
	p->rate.max = 10;
	p->rate.window_s = 3600;
	p->unauth_rate.max = PROVD_UNAUTH_BUDGET_DEFAULT;
	p->unauth_rate.window_s = 3600;
}

static sc_err get_duration(json_t *v, const char *key, int64_t *out)
{
	if (!json_is_string(v))
		return sc_fail(SC_ERR_USAGE,
		    "policy \"%s\": expected a duration string like \"30d\"", key);
	if (sc_parse_duration(json_string_value(v), out) != SC_OK || *out <= 0)
		return sc_fail(SC_ERR_USAGE,
		    "policy \"%s\": \"%.40s\" is not a duration (90s 15m 12h 30d 1y)", key,
		    json_string_value(v));
	return SC_OK;
}

static sc_err get_bool(json_t *v, const char *key, int *out)
{
	if (!json_is_boolean(v))
		return sc_fail(SC_ERR_USAGE, "policy \"%s\": expected true or false", key);
	*out = json_is_true(v);
	return SC_OK;
}

static sc_err get_algorithms(json_t *v, struct provd_policy *p)
{
	size_t i;
	json_t *e;

	if (!json_is_array(v) || json_array_size(v) == 0)
		return sc_fail(SC_ERR_USAGE,
		    "policy \"algorithms\": expected a non-empty array of names");
	p->alg_mask = 0;
	json_array_foreach (v, i, e) {
		enum sc_alg a;
		if (!json_is_string(e) || sc_alg_from_name(json_string_value(e), &a) != SC_OK)
			return sc_fail(SC_ERR_USAGE,
			    "policy \"algorithms\"[%zu]: not one of rsa2048 rsa3072 rsa4096 "
			    "p256 p384 ed25519",
			    i);
		p->alg_mask |= 1u << a;
	}
	return SC_OK;
}

static sc_err get_key_usage(json_t *v, struct provd_policy *p)
{
	size_t i;
	json_t *e;

	if (!json_is_array(v) || json_array_size(v) == 0)
		return sc_fail(SC_ERR_USAGE,
		    "policy \"key_usage\": expected a non-empty array of names");
	p->key_usage = 0;
	json_array_foreach (v, i, e) {
		unsigned bit = 0;
		/* Only what a device certificate may carry (oid.h): never keyCertSign or cRLSign. */
		if (!json_is_string(e) ||
		    sc_key_usage_from_name(json_string_value(e), &bit) != SC_OK ||
		    !(bit & SC_KU_DEVICE))
			return sc_fail(SC_ERR_USAGE,
			    "policy \"key_usage\"[%zu]: not one of digitalSignature "
			    "nonRepudiation keyEncipherment dataEncipherment keyAgreement",
			    i);
		p->key_usage |= bit;
	}
	return SC_OK;
}

static sc_err get_eku(json_t *v, struct provd_policy *p)
{
	size_t i;
	json_t *e;

	if (!json_is_array(v) || json_array_size(v) > SC_PROFILE_MAX_EKU)
		return sc_fail(SC_ERR_USAGE,
		    "policy \"eku\": expected an array of at most %d names or OIDs",
		    SC_PROFILE_MAX_EKU);
	p->n_eku = 0;
	json_array_foreach (v, i, e) {
		const char *s = json_is_string(e) ? json_string_value(e) : NULL;
		ASN1_OBJECT *o;

		if (s == NULL || strlen(s) > PROVD_EKU_NAME_MAX)
			return sc_fail(SC_ERR_USAGE, "policy \"eku\"[%zu]: expected a name or OID",
			    i);
		/* Known now rather than when the first device asks. */
		if ((o = OBJ_txt2obj(s, 0)) == NULL)
			return sc_fail(SC_ERR_USAGE,
			    "policy \"eku\"[%zu]: \"%s\" is not a known EKU name or OID", i, s);
		ASN1_OBJECT_free(o);
		snprintf(p->eku[p->n_eku++], sizeof(p->eku[0]), "%s", s);
	}
	return SC_OK;
}

/* The placeholders of a SAN template, in the order tried. */
static const char *const san_vars[] = { "{network}", "{device_dns}", "{device}" };

/* Syntax of one template: a known type, known placeholders only, dns: inside the device's name. */
static sc_err check_san_template(const char *s, size_t i)
{
	static const char *const types[] = { "dns:", "uri:", "ip:", "email:" };
	const char *c;
	size_t n = strlen(s), t, k;

	for (t = 0; t < sizeof(types) / sizeof(types[0]); t++)
		if (strncmp(s, types[t], strlen(types[t])) == 0)
			break;
	if (t == sizeof(types) / sizeof(types[0]) || n == strlen(types[t]))
		return sc_fail(SC_ERR_USAGE,
		    "policy \"san\"[%zu]: \"%.40s\" is not dns:, uri:, ip: or email: with a value",
		    i, s);
	for (c = strchr(s, '{'); c != NULL; c = strchr(c + 1, '{')) {
		for (k = 0; k < sizeof(san_vars) / sizeof(san_vars[0]); k++)
			if (strncmp(c, san_vars[k], strlen(san_vars[k])) == 0)
				break;
		if (k == sizeof(san_vars) / sizeof(san_vars[0]))
			return sc_fail(SC_ERR_USAGE,
			    "policy \"san\"[%zu]: unknown placeholder at \"%.20s\" ({network}, "
			    "{device}, {device_dns})",
			    i, c);
	}
	if (t == 0) {
		const char *v = s + 4, *tail = "{device_dns}";
		size_t vl = strlen(v), tl = strlen(tail);
		if (!(strcmp(v, tail) == 0 ||
		        (vl > tl + 1 && v[vl - tl - 1] == '.' && strcmp(v + vl - tl, tail) == 0)) ||
		    strstr(v, "{device}") != NULL || strstr(v, "{network}") != NULL)
			return sc_fail(SC_ERR_USAGE,
			    "policy \"san\"[%zu]: a dns: name must be {device_dns} or end with "
			    "\".{device_dns}\" (the device CA permits nothing else)",
			    i);
	}
	return SC_OK;
}

static sc_err get_san(json_t *v, struct provd_policy *p)
{
	size_t i;
	json_t *e;
	sc_err r;

	if (!json_is_array(v) || json_array_size(v) > PROVD_POLICY_MAX_SAN)
		return sc_fail(SC_ERR_USAGE,
		    "policy \"san\": expected an array of at most %d "
		    "templates",
		    PROVD_POLICY_MAX_SAN);
	p->n_san = 0;
	json_array_foreach (v, i, e) {
		const char *s = json_is_string(e) ? json_string_value(e) : NULL;
		if (s == NULL || strlen(s) == 0 || strlen(s) > PROVD_SAN_MAX)
			return sc_fail(SC_ERR_USAGE,
			    "policy \"san\"[%zu]: expected a string of 1..%d characters", i,
			    PROVD_SAN_MAX);
		if ((r = check_san_template(s, i)) != SC_OK)
			return r;
		snprintf(p->san[p->n_san++], sizeof(p->san[0]), "%s", s);
	}
	return SC_OK;
}

sc_err provd_policy_san(const struct provd_policy *p, size_t i, const char *network_id,
    const char *device_id, char *out, size_t out_len)
{
	char dns[SC_DEVICE_DNS_MAX + 1], enc[3 * SC_DEVICE_ID_MAX + 1];
	const char *s, *uri_dev = device_id;
	size_t n = 0, k;

	if (i >= p->n_san || out_len == 0)
		return sc_fail(SC_ERR_USAGE, "provd_policy_san: no template %zu", i);
	s = p->san[i];
	if (strstr(s, "{device_dns}") != NULL &&
	    sc_cert_device_dns_name(device_id, dns, sizeof(dns)) != SC_OK)
		return sc_fail(PROVD_ERR_POLICY,
		    "policy \"san\"[%zu] needs a DNS name, and device %s has none (not a DNS label)",
		    i, device_id);
	if (strncmp(s, "uri:", 4) == 0) {
		/* RFC 3986 unreserved characters pass; everything else is %XX. */
		size_t e = 0;
		for (const char *c = device_id; *c != '\0'; c++) {
			if ((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
			    (*c >= '0' && *c <= '9') || strchr("-._~", *c) != NULL)
				enc[e++] = *c;
			else
				e += (size_t)snprintf(enc + e, sizeof(enc) - e, "%%%02X",
				    (unsigned char)*c);
		}
		enc[e] = '\0';
		uri_dev = enc;
	}
	while (*s != '\0') {
		const char *val = NULL;
		size_t vl = 1;
		for (k = 0; *s == '{' && k < sizeof(san_vars) / sizeof(san_vars[0]); k++)
			if (strncmp(s, san_vars[k], strlen(san_vars[k])) == 0)
				break;
		if (*s == '{' && k < sizeof(san_vars) / sizeof(san_vars[0])) {
			val = k == 0 ? network_id : k == 1 ? dns : uri_dev;
			vl = strlen(val);
			s += strlen(san_vars[k]);
		} else {
			val = s++;
		}
		if (n + vl >= out_len || n + vl > PROVD_SAN_MAX)
			return sc_fail(PROVD_ERR_POLICY,
			    "policy \"san\"[%zu]: longer than %d characters for device %s", i,
			    PROVD_SAN_MAX, device_id);
		memcpy(out + n, val, vl);
		n += vl;
	}
	out[n] = '\0';
	return SC_OK;
}

static sc_err get_rate(json_t *v, struct provd_policy *p)
{
	const char *key;
	json_t *e;

	if (!json_is_object(v))
		return sc_fail(SC_ERR_USAGE,
		    "policy \"rate_limit\": expected {\"profiles\": N, \"window\": \"1h\"}");
	json_object_foreach (v, key, e) {
		if (strcmp(key, "profiles") == 0) {
			if (!json_is_integer(e) || json_integer_value(e) < 0 ||
			    json_integer_value(e) > 1000000)
				return sc_fail(SC_ERR_USAGE,
				    "policy \"rate_limit\".\"profiles\": expected 0..1000000");
			p->rate.max = (uint32_t)json_integer_value(e);
		} else if (strcmp(key, "window") == 0) {
			sc_err r = get_duration(e, "rate_limit.window", &p->rate.window_s);
			if (r != SC_OK)
				return r;
		} else {
			return sc_fail(SC_ERR_USAGE, "policy \"rate_limit\": unknown key \"%.40s\"",
			    key);
		}
	}
	return SC_OK;
}

/* #17: {"count": K, "cadence": DUR}, both required. */
static sc_err get_renewal(json_t *v, struct provd_policy *p)
{
	json_t *c = json_object_get(v, "count"), *d = json_object_get(v, "cadence");
	sc_err r;

	if (!json_is_object(v) || json_object_size(v) != 2 || c == NULL || d == NULL)
		return sc_fail(SC_ERR_USAGE,
		    "policy \"renewal\": expected {\"count\": N, \"cadence\": \"1d\"}");
	if (!json_is_integer(c) || json_integer_value(c) < SC_RENEWAL_COUNT_MIN ||
	    json_integer_value(c) > SC_RENEWAL_COUNT_MAX)
		return sc_fail(SC_ERR_USAGE, "policy \"renewal\".\"count\": expected %d..%d",
		    SC_RENEWAL_COUNT_MIN, SC_RENEWAL_COUNT_MAX);
	if ((r = get_duration(d, "renewal.cadence", &p->renewal_cadence_s)) != SC_OK)
		return r;
	p->renewal_count = (uint32_t)json_integer_value(c);
	return SC_OK;
}

sc_err provd_policy_load(const char *path, struct provd_policy *p)
{
	sc_err r;
	uint8_t *data = NULL;
	size_t len;
	json_error_t jerr;
	json_t *root = NULL, *v;
	const char *key;

	if ((r = sc_file_read(path, PROVD_POLICY_FILE_MAX, &data, &len)) != SC_OK)
		return r;
	root = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		r = sc_fail(SC_ERR_USAGE, "%s:%d: %s", path, jerr.line, jerr.text);
		goto out;
	}
	if (!json_is_object(root)) {
		r = sc_fail(SC_ERR_USAGE, "%s: expected one JSON object", path);
		goto out;
	}
	json_object_foreach (root, key, v) {
		if (strcmp(key, "validity") == 0)
			r = get_duration(v, key, &p->validity_s);
		else if (strcmp(key, "profile_ttl") == 0)
			r = get_duration(v, key, &p->profile_ttl_s);
		else if (strcmp(key, "algorithms") == 0)
			r = get_algorithms(v, p);
		else if (strcmp(key, "default_algorithm") == 0)
			r = json_is_string(v) &&
			        sc_alg_from_name(json_string_value(v), &p->default_alg) == SC_OK
			    ? SC_OK
			    : sc_fail(SC_ERR_USAGE,
			          "policy \"default_algorithm\": not an algorithm name");
		else if (strcmp(key, "server_keygen") == 0)
			r = get_bool(v, key, &p->server_keygen);
		else if (strcmp(key, "require_challenge") == 0)
			r = get_bool(v, key, &p->require_challenge);
		else if (strcmp(key, "key_usage") == 0)
			r = get_key_usage(v, p);
		else if (strcmp(key, "eku") == 0)
			r = get_eku(v, p);
		else if (strcmp(key, "cert_digest") == 0)
			r = json_is_string(v) &&
			        sc_digest_from_name(json_string_value(v), &p->cert_digest) == SC_OK
			    ? SC_OK
			    : sc_fail(SC_ERR_USAGE,
			          "policy \"cert_digest\": sha256, sha384 or sha512");
		else if (strcmp(key, "rate_limit") == 0)
			r = get_rate(v, p);
		else if (strcmp(key, "san") == 0)
			r = get_san(v, p);
		else if (strcmp(key, "renewal") == 0)
			r = get_renewal(v, p);
		else
			r = sc_fail(SC_ERR_USAGE, "policy: unknown key \"%.40s\"", key);
		if (r != SC_OK) {
			r = sc_fail(r, "%s: %s", path, sc_err_detail());
			goto out;
		}
	}
	r = SC_OK;
out:
	json_decref(root);
	OPENSSL_free(data);
	return r;
}

sc_err provd_policy_parse_rate(const char *s, struct provd_policy *p)
{
	char *end = NULL;
	unsigned long n;

	errno = 0;
	n = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '/' || n > 1000000 ||
	    sc_parse_duration(end + 1, &p->rate.window_s) != SC_OK || p->rate.window_s <= 0)
		return sc_fail(SC_ERR_USAGE,
		    "--rate-limit '%s': expected N/DUR, e.g. 10/1h (0/1h: no limit)", s);
	p->rate.max = (uint32_t)n;
	return SC_OK;
}

/*
 * The shortest validity a policy may set: 60 s. late15: a fail point build (never a release
 * build, CMakeLists.txt) takes SC_PROVD_TEST_VALIDITY_MIN (1..60 s) instead, so that a test
 * sees certificates expire on a real clock within seconds (test_agent_late_window.sh).
 */
static int64_t validity_min(void)
{
#ifdef SC_FAILPOINTS
	const char *e = getenv("SC_PROVD_TEST_VALIDITY_MIN");
	char *end = NULL;
	long v;

	if (e != NULL && (v = strtol(e, &end, 10)) >= 1 && v <= 60 && *end == '\0')
		return v;
#endif
	return 60;
}

sc_err provd_policy_check(const struct provd_policy *p)
{
	if (!(p->alg_mask & (1u << p->default_alg)))
		return sc_fail(SC_ERR_USAGE,
		    "policy: the default algorithm %s is not among the allowed ones",
		    sc_alg_name(p->default_alg));
	if (p->validity_s < validity_min() || p->validity_s > PROVD_MAX_VALIDITY_S)
		return sc_fail(SC_ERR_USAGE, "policy: validity %llds: from %llds to 5y",
		    (long long)p->validity_s, (long long)validity_min());
	if (p->profile_ttl_s < 10 || p->profile_ttl_s > PROVD_MAX_PROFILE_TTL_S)
		return sc_fail(SC_ERR_USAGE, "policy: profile_ttl %llds: from 10s to 7d",
		    (long long)p->profile_ttl_s);
	if (p->rate.max > 0 && p->rate.window_s <= 0)
		return sc_fail(SC_ERR_USAGE, "policy: rate_limit window must be positive");
	/* Each certificate must start before the previous one ends: the SP refuses gaps. */
	if (p->renewal_count > 0 &&
	    (p->renewal_cadence_s < SC_RENEWAL_CADENCE_MIN ||
	        p->renewal_cadence_s > SC_RENEWAL_CADENCE_MAX ||
	        p->renewal_cadence_s > p->validity_s))
		return sc_fail(SC_ERR_USAGE,
		    "policy: renewal cadence %llds: from 1s to the validity (%llds), at most 366d",
		    (long long)p->renewal_cadence_s, (long long)p->validity_s);
	return SC_OK;
}

unsigned provd_policy_key_usage_for(const struct provd_policy *p, enum sc_alg alg)
{
	unsigned ku = p->key_usage & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION);

	/* The SP allows encipherment only for RSA keys and key agreement only for EC keys. */
	if (sc_alg_is_rsa(alg))
		ku |= p->key_usage & (KU_KEY_ENCIPHERMENT | KU_DATA_ENCIPHERMENT);
	if (alg == SC_ALG_P256 || alg == SC_ALG_P384)
		ku |= p->key_usage & KU_KEY_AGREEMENT;
	return ku != 0 ? ku : KU_DIGITAL_SIGNATURE;
}

void provd_policy_describe(const struct provd_policy *p, char *out, size_t out_len)
{
	size_t n;

	n = (size_t)snprintf(out, out_len, "validity %llds, profile ttl %llds, algorithms",
	    (long long)p->validity_s, (long long)p->profile_ttl_s);
	for (int a = 1; a <= SC_ALG_MAX && n < out_len; a++)
		if (p->alg_mask & (1u << a))
			n += (size_t)snprintf(out + n, out_len - n, " %s",
			    sc_alg_name((enum sc_alg)a));
	if (n < out_len)
		snprintf(out + n, out_len - n,
		    " (default %s), server keygen %s, challenge %s, rate %u/%llds,"
		    " unauthenticated %u/%llds per address",
		    sc_alg_name(p->default_alg), p->server_keygen ? "allowed" : "off",
		    p->require_challenge ? "required" : "optional", p->rate.max,
		    (long long)p->rate.window_s, p->unauth_rate.max,
		    (long long)p->unauth_rate.window_s);
}
