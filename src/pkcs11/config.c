/*
 * config.c — where the module finds its SP and the host's certificates: a small `key = value`
 * file named by SELFCERT_PKCS11_CONF, overridden by SELFCERT_SP and SELFCERT_CERTS
 * (docs/PKCS11.md §2). Read once, at C_Initialize; strictly: an unknown or repeated key fails.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include "file.h"
#include "p11.h"

#define P11_CONF_LINE_MAX 4096

static int p11_debug;

void p11_log(const char *what, sc_err r)
{
	if (p11_debug)
		fprintf(stderr, "selfcert-pkcs11: %s: %s: %s\n", what, sc_err_name(r), sc_err_detail());
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

sc_err p11_config_parse(struct p11_config *cfg, const char *text, size_t len, const char *path)
{
	unsigned seen = 0;
	size_t pos = 0, lineno = 0;
	char where[P11_MAX_PATH + 32];

	if (len > P11_CONF_MAX)
		return sc_fail(SC_ERR_OVERSIZE, "%s: %zu bytes, at most %d", path, len, P11_CONF_MAX);
	if (memchr(text, '\0', len) != NULL)
		return sc_fail(SC_ERR_MALFORMED, "%s: a NUL byte", path);
	while (pos < len) {
		const char *line = text + pos, *nl = memchr(line, '\n', len - pos);
		size_t n = nl != NULL ? (size_t)(nl - line) : len - pos;
		const char *k, *v, *eq;
		size_t kn, vn;
		unsigned bit;
		sc_err r;

		pos += n + (nl != NULL);
		lineno++;
		snprintf(where, sizeof(where), "%s:%zu", path, lineno);
		if (n > P11_CONF_LINE_MAX)
			return sc_fail(SC_ERR_OVERSIZE, "%s: line over %d bytes", where, P11_CONF_LINE_MAX);
		while (n > 0 && is_space(line[0])) {
			line++;
			n--;
		}
		while (n > 0 && is_space(line[n - 1]))
			n--;
		/* Whole-line comments only: a path may hold a '#'. */
		if (n == 0 || line[0] == '#')
			continue;
		if ((eq = memchr(line, '=', n)) == NULL)
			return sc_fail(SC_ERR_MALFORMED, "%s: expected key = value", where);
		k = line;
		kn = (size_t)(eq - line);
		while (kn > 0 && is_space(k[kn - 1]))
			kn--;
		v = eq + 1;
		vn = n - (size_t)(v - line);
		while (vn > 0 && is_space(v[0])) {
			v++;
			vn--;
		}
		if (kn == 2 && memcmp(k, "sp", 2) == 0)
			bit = 1;
		else if (kn == 5 && memcmp(k, "certs", 5) == 0)
			bit = 2;
		else if (kn == 5 && memcmp(k, "label", 5) == 0)
			bit = 4;
		else if (kn == 5 && memcmp(k, "debug", 5) == 0)
			bit = 8;
		else
			return sc_fail(SC_ERR_MALFORMED, "%s: unknown key '%.*s' (sp, certs, label, debug)",
			    where, (int)(kn > 64 ? 64 : kn), k);
		if (seen & bit)
			return sc_fail(SC_ERR_MALFORMED, "%s: '%.*s' given twice", where, (int)kn, k);
		seen |= bit;
		if (vn == 0)
			return sc_fail(SC_ERR_MALFORMED, "%s: '%.*s' has no value", where, (int)kn, k);
		if ((bit == 1 || bit == 2) && v[0] != '/')
			return sc_fail(SC_ERR_USAGE, "%s: '%.*s' must be an absolute path", where,
			    (int)kn, k);
		switch (bit) {
		case 1: r = set_str(cfg->sp, sizeof(cfg->sp), v, vn, where, "sp"); break;
		case 2: r = set_str(cfg->certs, sizeof(cfg->certs), v, vn, where, "certs"); break;
		case 4: r = set_str(cfg->label, sizeof(cfg->label), v, vn, where, "label"); break;
		default: r = parse_bool(v, vn, &cfg->debug, where); break;
		}
		if (r != SC_OK)
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
	    (r = set_str(cfg->sp, sizeof(cfg->sp), sp, strlen(sp), "SELFCERT_SP", "the path")) != SC_OK)
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
