// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_key_uri.c — libFuzzer target: a pkcs11: key URI as an operator types it on a command
 * line (sc_key_uri_check, keyopen.c), checked before any token is touched. The input is the
 * URI's bytes (cut at the first NUL, as argv would). Checked: a refusal is usage or oversize
 * with a detail that never shows the URI's query (a PIN source, a PIN); an accepted URI is
 * printable ASCII of at most SC_KEY_URI_MAX bytes, names type=private and an object or id, has
 * no pin-value, its shown part is exactly the URI up to its '?', and its PIN file and module are
 * plain absolute paths.
 */
#include <stdlib.h>
#include <string.h>
#include "fuzz.h"
#include "keyopen.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static int plain_abs(const char *p)
{
	if (p[0] == '\0')
		return 1;
	if (p[0] != '/')
		return 0;
	for (; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		        (*p >= '0' && *p <= '9') || strchr("/._+-", *p) != NULL))
			return 0;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sc_key_uri u;
	char *uri = malloc(size + 1);
	const char *q;
	sc_err r;

	fz_input_begin(data, size);
	if (uri == NULL)
		return 0;
	memcpy(uri, data, size);
	uri[size] = '\0';
	q = strchr(uri, '?');
	sc_err_clear();
	r = sc_key_uri_check(uri, &u);
	if (r != SC_OK) {
		fz_trace("key_uri: %s: %s", sc_err_name(r), sc_err_detail());
		FZ_ASSERT(r == SC_ERR_USAGE || r == SC_ERR_OVERSIZE, "refused as %s: %s",
		    sc_err_name(r), sc_err_detail());
		FZ_ASSERT(sc_err_detail()[0] != '\0', "refused without a detail");
		FZ_ASSERT(q == NULL || q[1] == '\0' || strstr(sc_err_detail(), q) == NULL,
		    "the query reached the message: %s", sc_err_detail());
		free(uri);
		return 0;
	}
	FZ_ASSERT(strlen(uri) <= SC_KEY_URI_MAX, "accepted %zu bytes", strlen(uri));
	for (const char *p = uri; *p != '\0'; p++)
		FZ_ASSERT(*p > 0x20 && *p < 0x7f, "accepted byte 0x%02x", (unsigned char)*p);
	FZ_ASSERT(strncmp(uri, "pkcs11:", 7) == 0, "accepted without the scheme");
	FZ_ASSERT(strlen(u.shown) == (q != NULL ? (size_t)(q - uri) : strlen(uri)) &&
	        strncmp(u.shown, uri, strlen(u.shown)) == 0,
	    "shown '%s' is not the URI up to its query", u.shown);
	FZ_ASSERT(strstr(u.shown, "type=private") != NULL, "accepted without type=private");
	FZ_ASSERT(strstr(u.shown, "object=") != NULL || strstr(u.shown, "id=") != NULL,
	    "accepted without object or id");
	FZ_ASSERT(q == NULL || strstr(q, "pin-value") == NULL, "accepted a pin-value");
	FZ_ASSERT(plain_abs(u.pin_file) && plain_abs(u.module), "PIN file '%s' or module '%s'",
	    u.pin_file, u.module);
	fz_trace("key_uri: ok (%s%s)", u.pin_file[0] ? "PIN file, " : "",
	    u.module[0] ? "module" : "");
	fz_success();
	free(uri);
	return 0;
}
