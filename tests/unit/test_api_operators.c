// SPDX-License-Identifier: Apache-2.0
/*
 * test_api_operators.c — the server's live set of operators (src/provd/operators.h), with the
 * clock in the test's hands: named tokens and the legacy "admin", what is and is not a failed
 * sign-in, the throttle per address (its limit, its window, a success clearing it, another
 * address untouched), re-reading a changed file without a restart, and failing closed on a
 * broken one while the legacy token still works.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include "operators.h"
#include "testutil.h"

#define T0 1900000000

static char dir[512], path[600];
static char alice[SC_OP_TOKEN_LEN + 1], bob[SC_OP_TOKEN_LEN + 1];
static uint8_t h_alice[SC_OP_HASH_LEN], h_bob[SC_OP_HASH_LEN], h_admin[SC_OP_HASH_LEN];

/* Replace the operators file as the CLI does (a new inode), with the given operators. */
static void write_ops(const char *extra, int n, ...)
{
	char text[1024], tmp[700], line[SC_OP_LINE_MAX + 2];
	struct sc_operator op;
	size_t len = 0, l;
	va_list ap;

	va_start(ap, n);
	for (int i = 0; i < n; i++) {
		memset(&op, 0, sizeof(op));
		snprintf(op.name, sizeof(op.name), "%s", va_arg(ap, const char *));
		memcpy(op.hash, va_arg(ap, const uint8_t *), SC_OP_HASH_LEN);
		l = sc_operator_line(&op, line, sizeof(line));
		memcpy(text + len, line, l);
		len += l;
	}
	va_end(ap);
	if (extra != NULL) {
		memcpy(text + len, extra, strlen(extra));
		len += strlen(extra);
	}
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	sc_test_write_file(tmp, text, len);
	assert_int_equal(chmod(tmp, 0600), 0);
	assert_int_equal(rename(tmp, path), 0);
}

static char auth_header[128];
static const char *bearer(const char *token)
{
	snprintf(auth_header, sizeof(auth_header), "Bearer %s", token);
	return auth_header;
}

static enum provd_auth auth(struct provd_operators *ops, const char *a, const char *peer,
    int64_t now, char *name)
{
	int64_t retry;
	int first;
	char n[SC_OP_NAME_MAX + 1];

	return provd_operators_auth(ops, a, peer, now, name != NULL ? name : n, &retry, &first);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "%s", sc_test_tmpdir());
	snprintf(path, sizeof(path), "%s/operators", dir);
	if (sc_operator_token_new(alice, h_alice) != SC_OK ||
	    sc_operator_token_new(bob, h_bob) != SC_OK ||
	    sc_operator_token_hash("legacy-token-0123456789", 23, h_admin) != SC_OK)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	sc_test_rmdir(dir);
	return 0;
}

static void test_names(void **state)
{
	struct provd_operators *ops = NULL;
	char name[SC_OP_NAME_MAX + 1];

	(void)state;
	write_ops("# the team\n", 2, "alice", h_alice, "bob", h_bob);
	assert_int_equal(provd_operators_new(path, h_admin, &ops), SC_OK);
	assert_true(provd_operators_enabled(ops));
	assert_int_equal(auth(ops, bearer(alice), "10.0.0.1", T0, name), PROVD_AUTH_OK);
	assert_string_equal(name, "alice");
	assert_int_equal(auth(ops, bearer(bob), "10.0.0.1", T0, name), PROVD_AUTH_OK);
	assert_string_equal(name, "bob");
	assert_int_equal(auth(ops, "bearer legacy-token-0123456789", "10.0.0.1", T0, name),
	    PROVD_AUTH_OK);
	assert_string_equal(name, "admin");
	/* Not sign-ins at all: no header, another scheme, an empty or oversize token. */
	assert_int_equal(auth(ops, NULL, "10.0.0.1", T0, NULL), PROVD_AUTH_MISSING);
	assert_int_equal(auth(ops, "Basic YWxpY2U6eA==", "10.0.0.1", T0, NULL), PROVD_AUTH_MISSING);
	assert_int_equal(auth(ops, "Bearer ", "10.0.0.1", T0, NULL), PROVD_AUTH_MISSING);
	/* A token one byte short of alice's is nobody's. */
	snprintf(auth_header, sizeof(auth_header), "Bearer %.*s", SC_OP_TOKEN_LEN - 1, alice);
	assert_int_equal(auth(ops, auth_header, "10.0.0.2", T0, NULL), PROVD_AUTH_FAILED);
	provd_operators_free(ops);
	/* Without any credential: not enabled. */
	assert_int_equal(provd_operators_new(NULL, NULL, &ops), SC_OK);
	assert_false(provd_operators_enabled(ops));
	assert_int_equal(auth(ops, bearer(alice), "10.0.0.1", T0, NULL), PROVD_AUTH_FAILED);
	provd_operators_free(ops);
	/* The file may not name "admin" beside --admin-token-file. */
	write_ops(NULL, 1, "admin", h_alice);
	assert_int_equal(provd_operators_new(path, h_admin, &ops), SC_ERR_USAGE);
	assert_non_null(strstr(sc_err_detail(), "names an operator \"admin\""));
	assert_null(ops);
	/* An unsafe file is refused at start, naming it. */
	write_ops(NULL, 1, "alice", h_alice);
	assert_int_equal(chmod(path, 0604), 0);
	assert_int_equal(provd_operators_new(path, NULL, &ops), SC_ERR_IO);
	assert_non_null(strstr(sc_err_detail(), "open to group or others"));
}

static void test_throttle(void **state)
{
	struct provd_operators *ops = NULL;
	int64_t retry = 0;
	int first = 0;
	char name[SC_OP_NAME_MAX + 1];

	(void)state;
	write_ops(NULL, 1, "alice", h_alice);
	assert_int_equal(provd_operators_new(path, NULL, &ops), SC_OK);
	for (int i = 1; i < PROVD_AUTH_FAILS_MAX; i++) {
		assert_int_equal(provd_operators_auth(ops, bearer(bob), "10.0.0.9", T0 + i, name,
		                     &retry, &first),
		    PROVD_AUTH_FAILED);
		assert_int_equal(first, 0);
	}
	/* The failure that reaches the limit says so, once, with the rest of the window. */
	assert_int_equal(provd_operators_auth(ops, bearer(bob), "10.0.0.9", T0 + 10, name, &retry,
	                     &first),
	    PROVD_AUTH_FAILED);
	assert_int_equal(first, 1);
	assert_int_equal(retry, PROVD_AUTH_WINDOW_S - 9);
	/* Then refused before the token is looked at: a right one too. */
	assert_int_equal(provd_operators_auth(ops, bearer(alice), "10.0.0.9", T0 + 20, name, &retry,
	                     &first),
	    PROVD_AUTH_THROTTLED);
	assert_int_equal(retry, PROVD_AUTH_WINDOW_S - 19);
	assert_int_equal(first, 0);
	assert_int_equal(auth(ops, NULL, "10.0.0.9", T0 + 20, NULL), PROVD_AUTH_THROTTLED);
	/* Another address is its own. */
	assert_int_equal(auth(ops, bearer(alice), "10.0.0.8", T0 + 20, NULL), PROVD_AUTH_OK);
	/* The window ends 60 s after the first failure. */
	assert_int_equal(auth(ops, bearer(alice), "10.0.0.9", T0 + PROVD_AUTH_WINDOW_S, name),
	    PROVD_AUTH_THROTTLED);
	assert_int_equal(auth(ops, bearer(alice), "10.0.0.9", T0 + 1 + PROVD_AUTH_WINDOW_S, name),
	    PROVD_AUTH_OK);
	/* A success cleared the count: four more failures are not throttled. */
	for (int i = 1; i < PROVD_AUTH_FAILS_MAX; i++)
		assert_int_equal(auth(ops, bearer(bob), "10.0.0.9", T0 + 70, NULL),
		    PROVD_AUTH_FAILED);
	assert_int_equal(auth(ops, bearer(alice), "10.0.0.9", T0 + 70, NULL), PROVD_AUTH_OK);
	/* A full table forgets the oldest address, never refuses a new one. */
	for (int i = 0; i <= PROVD_AUTH_ADDRS; i++) {
		char peer[32];

		snprintf(peer, sizeof(peer), "10.1.%d.%d", i / 256, i % 256);
		assert_int_equal(auth(ops, bearer(bob), peer, T0 + 100 + i / 100, NULL),
		    PROVD_AUTH_FAILED);
	}
	provd_operators_free(ops);
}

static void test_reload(void **state)
{
	struct provd_operators *ops = NULL;
	char name[SC_OP_NAME_MAX + 1];

	(void)state;
	write_ops(NULL, 2, "alice", h_alice, "bob", h_bob);
	assert_int_equal(provd_operators_new(path, h_admin, &ops), SC_OK);
	assert_int_equal(auth(ops, bearer(bob), "10.0.0.1", T0, name), PROVD_AUTH_OK);
	/* bob removed: refused on the next request, nothing restarted or reloaded by hand. */
	write_ops(NULL, 1, "alice", h_alice);
	assert_int_equal(auth(ops, bearer(bob), "10.0.0.1", T0, name), PROVD_AUTH_FAILED);
	assert_int_equal(auth(ops, bearer(alice), "10.0.0.1", T0, name), PROVD_AUTH_OK);
	/* A broken file: every operator of the file refused, not counted; admin unaffected. */
	write_ops("carol\n", 1, "alice", h_alice);
	assert_int_equal(auth(ops, bearer(alice), "10.0.0.1", T0, name), PROVD_AUTH_BROKEN);
	assert_int_equal(auth(ops, bearer("legacy-token-0123456789"), "10.0.0.1", T0, name),
	    PROVD_AUTH_OK);
	assert_string_equal(name, "admin");
	assert_int_equal(provd_operators_reload(ops), SC_ERR_MALFORMED);
	assert_non_null(strstr(sc_err_detail(), "operators:2: expected NAME sha256:HEX"));
	/* Fixed, and re-read on demand (SIGHUP's way) as well as on the next request. */
	write_ops(NULL, 1, "bob", h_bob);
	assert_int_equal(provd_operators_reload(ops), SC_OK);
	assert_int_equal(auth(ops, bearer(bob), "10.0.0.1", T0, name), PROVD_AUTH_OK);
	assert_int_equal(auth(ops, bearer(alice), "10.0.0.1", T0, name), PROVD_AUTH_FAILED);
	/* Opened to others in place (a chmod: only the ctime and mode change): fail closed. */
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(auth(ops, bearer(bob), "10.0.0.1", T0, name), PROVD_AUTH_BROKEN);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(auth(ops, bearer(bob), "10.0.0.1", T0, name), PROVD_AUTH_OK);
	/* Gone: fail closed too. */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(auth(ops, bearer(bob), "10.0.0.1", T0, name), PROVD_AUTH_BROKEN);
	provd_operators_free(ops);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_throttle),
		cmocka_unit_test(test_reload),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
