// SPDX-License-Identifier: Apache-2.0
/*
 * test_keyopen.c — the key door's checks that need no token (keyopen.c): every pkcs11: URI rule
 * of sc_key_uri_check by its exact code and message, the PIN never in a message, and the PIN
 * file's checks in sc_key_open. Keys in a real token: tests/integration/test_hsm.sh.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <openssl/evp.h>
#include "keyopen.h"
#include "testutil.h"

#define T "pkcs11:token=net;object=signer;type=private"

/* One URI, the code it gets, and a piece of the message that says why (NULL: SC_OK). */
struct uri_case {
	const char *uri, *why;
	sc_err want;
};

static const struct uri_case cases[] = {
	/* accepted */
	{ T, NULL, SC_OK },
	{ "pkcs11:id=%01%a2;type=private", NULL, SC_OK },
	{ "pkcs11:object=my%20key;type=private;token=a:b@c", NULL, SC_OK },
	{ T "?pin-source=file:/run/selfcert/signer.pin", NULL, SC_OK },
	{ T "?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/p", NULL, SC_OK },
	/* wrong type of thing */
	{ "file:/etc/key.pem", "does not start with \"pkcs11:\"", SC_ERR_USAGE },
	{ "PKCS11:object=a;type=private", "does not start with \"pkcs11:\"", SC_ERR_USAGE },
	/* characters */
	{ "pkcs11:object=a b;type=private", "byte 0x20 at offset 15", SC_ERR_USAGE },
	{ "pkcs11:object=\xc3\xa9;type=private", "byte 0xc3 at offset 14", SC_ERR_USAGE },
	{ "pkcs11:object=a\tb;type=private", "byte 0x09", SC_ERR_USAGE },
	{ T "?pin-value=12\xc3"
	    "34",
	    "a byte in the query at offset 56", SC_ERR_USAGE },
	{ "pkcs11:object=a#b;type=private", "attribute 'object': empty, or a character",
	    SC_ERR_USAGE },
	{ T "?pin-source=file:/p#x", "a query character that must be percent-encoded",
	    SC_ERR_USAGE },
	/* attributes */
	{ "pkcs11:object=a;colour=red;type=private", "unknown attribute 'colour'", SC_ERR_USAGE },
	{ "pkcs11:object=a;object=b;type=private", "attribute 'object' given twice", SC_ERR_USAGE },
	{ "pkcs11:object=;type=private", "attribute 'object': empty", SC_ERR_USAGE },
	{ "pkcs11:object;type=private", "attribute 'object' has no '=value'", SC_ERR_USAGE },
	{ "pkcs11:object=a%2;type=private", "bad %XX escape", SC_ERR_USAGE },
	{ "pkcs11:object=a%zz;type=private", "bad %XX escape", SC_ERR_USAGE },
	{ "pkcs11:object=a%", "bad %XX escape", SC_ERR_USAGE },
	{ "pkcs11:object=a;;type=private", "an empty attribute", SC_ERR_USAGE },
	{ T ";", "an empty attribute (a trailing ';')", SC_ERR_USAGE },
	{ "pkcs11:", "names no key", SC_ERR_USAGE },
	{ "pkcs11:token=net;type=private", "names no key: give object=LABEL or id=", SC_ERR_USAGE },
	{ "pkcs11:token=net;object=signer", "add type=private", SC_ERR_USAGE },
	{ "pkcs11:object=a;type=public", "type=public: a key URI names a private key",
	    SC_ERR_USAGE },
	{ "pkcs11:object=a;type=cert", "type=cert: a key URI names a private key", SC_ERR_USAGE },
	{ "pkcs11:object=a;type=privatex", "type=privatex", SC_ERR_USAGE },
	/* the query */
	{ T "?pin-value=123456", "pin-value is refused", SC_ERR_USAGE },
	{ T "?pin-source=file:/p&pin-value=123456", "pin-value is refused", SC_ERR_USAGE },
	{ T "?pin-source=/run/pin", "pin-source: expected file:/ABSOLUTE/PATH", SC_ERR_USAGE },
	{ T "?pin-source=file:run/pin", "pin-source: expected file:/ABSOLUTE/PATH", SC_ERR_USAGE },
	{ T "?pin-source=file:/a%20b", "pin-source: expected file:/ABSOLUTE/PATH", SC_ERR_USAGE },
	{ T "?pin-source=file:", "pin-source: expected file:/ABSOLUTE/PATH", SC_ERR_USAGE },
	{ T "?pin-source=file:/a&pin-source=file:/b", "pin-source given twice", SC_ERR_USAGE },
	{ T "?module-path=libsofthsm2.so", "module-path: expected /ABSOLUTE/PATH", SC_ERR_USAGE },
	{ T "?module-path=/a&module-path=/b", "module-path given twice", SC_ERR_USAGE },
	{ T "?module-name=softhsm2", "query attribute 'module-name' is not supported",
	    SC_ERR_USAGE },
	{ T "?", "an empty attribute in the query", SC_ERR_USAGE },
	{ T "?pin-source=file:/p&", "an empty attribute in the query", SC_ERR_USAGE },
	{ T "?&pin-source=file:/p", "an empty attribute in the query", SC_ERR_USAGE },
};

static void test_uri_table(void **state)
{
	struct sc_key_uri u;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		sc_err r = sc_key_uri_check(cases[i].uri, &u);
		const char *detail = sc_err_detail();

		if (r != cases[i].want ||
		    (cases[i].why != NULL && strstr(detail, cases[i].why) == NULL))
			fail_msg("case %zu (%s): got %d '%s', want %d '%s'", i, cases[i].uri, r,
			    detail, cases[i].want, cases[i].why != NULL ? cases[i].why : "");
		/* Nothing after the '?' (a PIN source, a PIN) ever reaches a message. */
		if (r != SC_OK && strchr(cases[i].uri, '?') != NULL) {
			assert_null(strstr(detail, "123456"));
			assert_null(strstr(detail, strchr(cases[i].uri, '?')));
		}
	}
}

static void test_uri_fields(void **state)
{
	struct sc_key_uri u;

	(void)state;
	assert_int_equal(sc_key_uri_check(T "?pin-source=file:/run/p.pin&module-path=/m/x.so", &u),
	    SC_OK);
	assert_string_equal(u.shown, T);
	assert_string_equal(u.pin_file, "/run/p.pin");
	assert_string_equal(u.module, "/m/x.so");
	assert_int_equal(sc_key_uri_check(T, &u), SC_OK);
	assert_string_equal(u.pin_file, "");
	assert_string_equal(u.module, "");
	assert_true(sc_key_is_uri(T));
	assert_false(sc_key_is_uri("/etc/selfcert/signer.key"));
	assert_false(sc_key_is_uri(NULL));
}

/* The size cap, exactly: SC_KEY_URI_MAX bytes pass, one more is oversize. */
static void test_uri_oversize(void **state)
{
	static char uri[SC_KEY_URI_MAX + 2];
	struct sc_key_uri u;
	size_t pre = strlen("pkcs11:type=private;object=");

	(void)state;
	memcpy(uri, "pkcs11:type=private;object=", pre);
	memset(uri + pre, 'a', SC_KEY_URI_MAX - pre);
	uri[SC_KEY_URI_MAX] = '\0';
	assert_int_equal(sc_key_uri_check(uri, &u), SC_OK);
	uri[SC_KEY_URI_MAX] = 'a';
	uri[SC_KEY_URI_MAX + 1] = '\0';
	assert_int_equal(sc_key_uri_check(uri, &u), SC_ERR_OVERSIZE);
	assert_non_null(strstr(sc_err_detail(), "longer than 1024 bytes"));
	assert_int_equal(sc_key_open(uri, &(EVP_PKEY *){ NULL }), SC_ERR_OVERSIZE);
}

/* The PIN file is checked before any token is touched: missing, open to others, empty, big. */
static void test_pin_file(void **state)
{
	const char *dir = sc_test_tmpdir();
	char pin[512], uri[1024], big[SC_KEY_PIN_MAX + 8];
	EVP_PKEY *key = NULL;

	(void)state;
	snprintf(pin, sizeof(pin), "%s/signer.pin", dir);
	snprintf(uri, sizeof(uri), T "?pin-source=file:%s", pin);
	assert_int_equal(sc_key_open(uri, &key), SC_ERR_IO);
	assert_non_null(strstr(sc_err_detail(), T ": PIN file: "));
	sc_test_write_file(pin, "654321\n", 7);
	assert_int_equal(chmod(pin, 0640), 0);
	assert_int_equal(sc_key_open(uri, &key), SC_ERR_IO);
	assert_non_null(strstr(sc_err_detail(), "open to group or others"));
	assert_null(strstr(sc_err_detail(), "654321"));
	sc_test_write_file(pin, "\n", 1);
	assert_int_equal(chmod(pin, 0600), 0);
	assert_int_equal(sc_key_open(uri, &key), SC_ERR_IO);
	assert_non_null(strstr(sc_err_detail(), "is empty"));
	sc_test_write_file(pin, "12\n34", 5);
	assert_int_equal(chmod(pin, 0600), 0);
	assert_int_equal(sc_key_open(uri, &key), SC_ERR_IO);
	assert_non_null(strstr(sc_err_detail(), "one line, no NUL bytes"));
	memset(big, '7', sizeof(big));
	sc_test_write_file(pin, big, sizeof(big));
	assert_int_equal(chmod(pin, 0600), 0);
	assert_int_equal(sc_key_open(uri, &key), SC_ERR_OVERSIZE);
	assert_null(key);
	sc_test_rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uri_table),
		cmocka_unit_test(test_uri_fields),
		cmocka_unit_test(test_uri_oversize),
		cmocka_unit_test(test_pin_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
