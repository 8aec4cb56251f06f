// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_p11config.c — libFuzzer target: the PKCS#11 module's configuration file parser
 * (src/pkcs11/config.c, p11_config_parse), the only text the module reads from outside. The
 * input is the file's bytes. Checked: a refusal is malformed, oversize or usage with a detail
 * naming the file; a file over P11_CONF_MAX is oversize; a file that parses gives bounded,
 * trimmed values (sp and certs absolute paths), and writing those values out again as a file
 * parses back to exactly the same configuration.
 */
#include <stdio.h>
#include <string.h>
#include "fuzz.h"
#include "p11_config.h"

#define FZ_CONF_PATH "fuzz.conf"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static int trimmed(const char *v)
{
	size_t n = strlen(v);

	return n == 0 ||
	    (v[0] != ' ' && v[0] != '\t' && v[n - 1] != ' ' && v[n - 1] != '\t' &&
	        v[n - 1] != '\r' && strchr(v, '\n') == NULL);
}

/* A configuration that parsed: each value within its field, trimmed, paths absolute. */
static void check_values(const struct p11_config *c)
{
	FZ_ASSERT(memchr(c->sp, '\0', sizeof(c->sp)) != NULL, "sp not terminated");
	FZ_ASSERT(memchr(c->certs, '\0', sizeof(c->certs)) != NULL, "certs not terminated");
	FZ_ASSERT(memchr(c->label, '\0', sizeof(c->label)) != NULL, "label not terminated");
	FZ_ASSERT(c->sp[0] == '\0' || c->sp[0] == '/', "sp '%s' is not absolute", c->sp);
	FZ_ASSERT(c->certs[0] == '\0' || c->certs[0] == '/', "certs '%s' is not absolute",
	    c->certs);
	FZ_ASSERT(trimmed(c->sp) && trimmed(c->certs) && trimmed(c->label), "a value kept blanks");
	FZ_ASSERT(c->debug == 0 || c->debug == 1, "debug is %d", c->debug);
}

/* Write c as a file in the documented syntax and parse it again: the same configuration. */
static void check_round_trip(const struct p11_config *c)
{
	static char text[P11_CONF_MAX];
	struct p11_config again;
	int n;
	sc_err r;

	n = snprintf(text, sizeof(text), "%s%s%s%s%s%s%s%s%s", c->sp[0] ? "sp = " : "", c->sp,
	    c->sp[0] ? "\n" : "", c->certs[0] ? "certs = " : "", c->certs, c->certs[0] ? "\n" : "",
	    c->label[0] ? "label = " : "", c->label, c->label[0] ? "\n" : "");
	FZ_ASSERT(n >= 0 && (size_t)n < sizeof(text) - 16, "the values do not fit a file");
	if (c->debug)
		n += snprintf(text + n, sizeof(text) - (size_t)n, "debug = yes\n");
	memset(&again, 0, sizeof(again));
	r = p11_config_parse(&again, text, (size_t)n, FZ_CONF_PATH);
	FZ_ASSERT(r == SC_OK, "written out, it does not parse: %s: %s", sc_err_name(r),
	    sc_err_detail());
	FZ_ASSERT(memcmp(&again, c, sizeof(again)) == 0, "written out, it parses differently");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct p11_config cfg;
	sc_err r;

	fz_input_begin(data, size);

	memset(&cfg, 0, sizeof(cfg));
	sc_err_clear();
	r = p11_config_parse(&cfg, (const char *)data, size, FZ_CONF_PATH);
	fz_trace("p11config: %s%s%s", sc_err_name(r), r == SC_OK ? "" : ": ",
	    r == SC_OK ? "" : sc_err_detail());
	if (r != SC_OK) {
		FZ_ASSERT(r == SC_ERR_MALFORMED || r == SC_ERR_OVERSIZE || r == SC_ERR_USAGE,
		    "refused with %s: %s", sc_err_name(r), sc_err_detail());
		FZ_ASSERT(strncmp(sc_err_detail(), FZ_CONF_PATH, strlen(FZ_CONF_PATH)) == 0,
		    "%s does not name the file: %s", sc_err_name(r), sc_err_detail());
		return 0;
	}
	FZ_ASSERT(size <= P11_CONF_MAX, "a file of %zu bytes parsed", size);
	check_values(&cfg);
	check_round_trip(&cfg);
	fz_success();
	return 0;
}
