// SPDX-License-Identifier: Apache-2.0
/*
 * config.c — where the module finds its SP and the host's certificates: a small `key = value`
 * file named by SELFCERT_PKCS11_CONF, overridden by SELFCERT_SP and SELFCERT_CERTS
 * (docs/PKCS11.md §2). Read once, at C_Initialize; strictly: an unknown or repeated key fails.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include "p11_config.h"
#include "file.h"

static int p11_debug;

void p11_log(const char *what, sc_err r)
{
	if (p11_debug)
		fprintf(stderr, "selfcert-pkcs11: %s: %s: %s\n", what, sc_err_name(r),
		    sc_err_detail());
}

/* Copy s (n bytes) into out (cap bytes with the NUL); SC_ERR_OVERSIZE naming where. */
static sc_err set_str(char *out, size_t cap, const char *s, size_t n, const char *where,
    const char *key)
{
	if (n >= cap)
		return sc_fail(SC_ERR_OVERSIZE, "%s: %s is %zu bytes, at most %zu", where, key, n,
		    cap - 1);
	memcpy(out, s, n);
	out[n] = '\0';
	return SC_OK;
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static sc_err parse_bool(const char *v, size_t n, int *out, const char *where)
{
	if ((n == 3 && memcmp(v, "yes", 3) == 0) || (n == 1 && v[0] == '1')) {
		*out = 1;
		return SC_OK;
	}
	if ((n == 2 && memcmp(v, "no", 2) == 0) || (n == 1 && v[0] == '0')) {
		*out = 0;
		return SC_OK;
	}
	return sc_fail(SC_ERR_MALFORMED, "%s: debug must be yes or no", where);
}

/* The keys, in the order the "unknown key" message lists them; bit i of `seen` is keys[i]. */
enum { K_SP, K_CERTS, K_LABEL, K_DEBUG, N_KEYS };
static const char *const keys[N_KEYS] = { "sp", "certs", "label", "debug" };

/* Blanks off both ends of the n bytes at *s. */
static void trim(const char **s, size_t *n)
{
	while (*n > 0 && is_space((*s)[0])) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && is_space((*s)[*n - 1]))
		(*n)--;
}

/* One `key = value` line (trimmed, not a comment) into cfg; *seen: the keys given before. */
static sc_err parse_line(struct p11_config *cfg, const char *line, size_t n, const char *where,
    unsigned *seen)
{
	const char *eq = memchr(line, '=', n), *k = line, *v;
	size_t kn, vn;
	int i;

	if (eq == NULL)
		return sc_fail(SC_ERR_MALFORMED, "%s: expected key = value", where);
	kn = (size_t)(eq - line);
	trim(&k, &kn);
	v = eq + 1;
	vn = n - (size_t)(v - line);
	trim(&v, &vn);
	for (i = 0; i < N_KEYS; i++)
		if (strlen(keys[i]) == kn && memcmp(k, keys[i], kn) == 0)
			break;
	if (i == N_KEYS)
		return sc_fail(SC_ERR_MALFORMED, "%s: unknown key '%.*s' (sp, certs, label, debug)",
		    where, (int)(kn > 64 ? 64 : kn), k);
	if (*seen & (1u << i))
		return sc_fail(SC_ERR_MALFORMED, "%s: '%.*s' given twice", where, (int)kn, k);
	*seen |= 1u << i;
	if (vn == 0)
		return sc_fail(SC_ERR_MALFORMED, "%s: '%.*s' has no value", where, (int)kn, k);
	if ((i == K_SP || i == K_CERTS) && v[0] != '/')
		return sc_fail(SC_ERR_USAGE, "%s: '%.*s' must be an absolute path", where, (int)kn,
		    k);
	switch (i) {
	case K_SP: return set_str(cfg->sp, sizeof(cfg->sp), v, vn, where, "sp");
	case K_CERTS: return set_str(cfg->certs, sizeof(cfg->certs), v, vn, where, "certs");
	case K_LABEL: return set_str(cfg->label, sizeof(cfg->label), v, vn, where, "label");
	default: return parse_bool(v, vn, &cfg->debug, where);
	}
}

sc_err p11_config_parse(struct p11_config *cfg, const char *text, size_t len, const char *path)
{
	unsigned seen = 0;
	size_t pos = 0, lineno = 0;
	char where[P11_MAX_PATH + 32];

	if (len > P11_CONF_MAX)
		return sc_fail(SC_ERR_OVERSIZE, "%s: %zu bytes, at most %d", path, len,
		    P11_CONF_MAX);
	if (memchr(text, '\0', len) != NULL)
		return sc_fail(SC_ERR_MALFORMED, "%s: a NUL byte", path);
	while (pos < len) {
		const char *line = text + pos, *nl = memchr(line, '\n', len - pos);
		size_t n = nl != NULL ? (size_t)(nl - line) : len - pos;
		sc_err r;

		pos += n + (nl != NULL);
		lineno++;
		snprintf(where, sizeof(where), "%s:%zu", path, lineno);
		if (n > P11_CONF_LINE_MAX)
			return sc_fail(SC_ERR_OVERSIZE, "%s: line over %d bytes", where,
			    P11_CONF_LINE_MAX);
		trim(&line, &n);
		/* Whole-line comments only: a path may hold a '#'. */
		if (n == 0 || line[0] == '#')
			continue;
		if ((r = parse_line(cfg, line, n, where, &seen)) != SC_OK)
			return r;
	}
	return SC_OK;
}

sc_err p11_config_load(struct p11_config *cfg)
{
	sc_err r = SC_ERR_INTERNAL;
	const char *conf, *sp, *certs, *debug;
	uint8_t *text = NULL;
	size_t len = 0;

	memset(cfg, 0, sizeof(*cfg));
	/* secure_getenv: a set-uid program loading us must not be steered by its caller. */
	debug = secure_getenv("SELFCERT_PKCS11_DEBUG");
	p11_debug = debug != NULL && debug[0] != '\0' && strcmp(debug, "0") != 0;
	if ((conf = secure_getenv("SELFCERT_PKCS11_CONF")) != NULL && conf[0] != '\0') {
		if ((r = sc_file_read(conf, P11_CONF_MAX, &text, &len)) != SC_OK)
			goto out;
		if ((r = p11_config_parse(cfg, (const char *)text, len, conf)) != SC_OK)
			goto out;
	}
	if ((sp = secure_getenv("SELFCERT_SP")) != NULL && sp[0] != '\0' &&
	    (r = set_str(cfg->sp, sizeof(cfg->sp), sp, strlen(sp), "SELFCERT_SP", "the path")) !=
	        SC_OK)
		goto out;
	if ((certs = secure_getenv("SELFCERT_CERTS")) != NULL && certs[0] != '\0' &&
	    (r = set_str(cfg->certs, sizeof(cfg->certs), certs, strlen(certs), "SELFCERT_CERTS",
	         "the path")) != SC_OK)
		goto out;
	cfg->debug |= p11_debug;
	p11_debug = cfg->debug;
	r = SC_OK;
out:
	OPENSSL_free(text);
	return r;
}
