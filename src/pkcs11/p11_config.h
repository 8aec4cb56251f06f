// SPDX-License-Identifier: Apache-2.0
/*
 * p11_config.h — the module's configuration (config.c) and its debug log. Free of PKCS#11 and
 * OpenSSL types, so the parser builds alone (tests/fuzz/fuzz_p11config.c, tests/unit).
 */
#ifndef SC_P11_CONFIG_H
#define SC_P11_CONFIG_H

#include <stddef.h>
#include <selfcert/err.h>

#define P11_MAX_PATH 4096
#define P11_SP_PATH_MAX 107    /* sun_path less its NUL */
#define P11_CONF_MAX 16384     /* the configuration file */
#define P11_CONF_LINE_MAX 4096 /* one line of it */

struct p11_config {
	char sp[P11_SP_PATH_MAX + 1]; /* the SP's socket; "" when not configured */
	char certs[P11_MAX_PATH];     /* the host's certificate folder; "" for none */
	char label[33];               /* the token label; "" means the device ID */
	int debug;                    /* 1: one line on stderr per failure */
};

/*
 * The file named by SELFCERT_PKCS11_CONF (when set), then SELFCERT_SP and SELFCERT_CERTS
 * (when set) over it, then SELFCERT_PKCS11_DEBUG. SC_ERR_MALFORMED / SC_ERR_OVERSIZE /
 * SC_ERR_IO / SC_ERR_USAGE naming the file, line and key.
 */
sc_err p11_config_load(struct p11_config *cfg) SC_MUST_USE;

/*
 * Parse a configuration file's text (len bytes, not NUL-terminated, at most P11_CONF_MAX) into
 * cfg, which the caller has zeroed; path names the file in error details. Strict: an unknown or
 * repeated key, a line without '=', an empty value, a NUL byte or a bad debug value is
 * SC_ERR_MALFORMED; a relative sp/certs path SC_ERR_USAGE; a file, line or value over its cap
 * SC_ERR_OVERSIZE. On failure cfg may hold the keys read before the bad line.
 */
sc_err p11_config_parse(struct p11_config *cfg, const char *text, size_t len,
    const char *path) SC_MUST_USE;

/* One line on stderr when debugging is on: "selfcert-pkcs11: <what>: <error-name>: <detail>". */
void p11_log(const char *what, sc_err r);

#endif
