// SPDX-License-Identifier: Apache-2.0
/*
 * test_opfile.c — the operators file (src/lib/opfile.h): a good file with comments and CR LF;
 * every refusal with its code and the line it names (truncation, bad and duplicate hashes, bad
 * and duplicate names, extra fields, NUL bytes, oversize file, line and count); tokens made
 * here hash to what the file holds, and the lookup finds only the operator whose token it is.
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
#include <openssl/crypto.h>
#include "opfile.h"
#include "testutil.h"

#define H0 "sha256:0000000000000000000000000000000000000000000000000000000000000000"
#define H1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define H2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"

/* Parse text as source "ops"; the result, and on failure the detail must contain want. */
static sc_err parse(const char *text, size_t len, const char *want, struct sc_operators *out)
{
	struct sc_operators tmp;
	sc_err r;

	if (out == NULL)
		out = &tmp;
	r = sc_operators_parse("ops", (const uint8_t *)text, len, out);
	if (r != SC_OK) {
		if (want != NULL && strstr(sc_err_detail(), want) == NULL)
			fail_msg("detail '%s' lacks '%s'", sc_err_detail(), want);
		assert_null(out->ops);
		assert_int_equal(out->n, 0);
	}
	if (out == &tmp)
		sc_operators_clear(out);
	return r;
}

#define PARSE(text, want) parse(text, strlen(text), want, NULL)

static void test_good(void **state)
{
	static const char text[] = "# operators of example-net\n"
	                           "\n"
	                           "alice " H1 "\n"
	                           "bob.smith\t  " H2 "\r\n"
	                           "# a comment with spaces and sha256:\n";
	struct sc_operators ops;
	uint8_t h[SC_OP_HASH_LEN];

	(void)state;
	assert_int_equal(parse(text, strlen(text), NULL, &ops), SC_OK);
	assert_int_equal(ops.n, 2);
	assert_string_equal(ops.ops[0].name, "alice");
	assert_string_equal(ops.ops[1].name, "bob.smith");
	memset(h, 0x22, sizeof(h));
	assert_ptr_equal(sc_operators_match(&ops, h), &ops.ops[1]);
	memset(h, 0x33, sizeof(h));
	assert_null(sc_operators_match(&ops, h));
	assert_non_null(sc_operators_find(&ops, "alice"));
	assert_null(sc_operators_find(&ops, "carol"));
	sc_operators_clear(&ops);
	/* Empty and comment-only files: no operators, not an error. */
	assert_int_equal(parse("", 0, NULL, &ops), SC_OK);
	assert_int_equal(ops.n, 0);
	sc_operators_clear(&ops);
	assert_int_equal(PARSE("# nobody yet\n", NULL), SC_OK);
}

static void test_truncated(void **state)
{
	(void)state;
	/* The last line without its newline: a file cut short (here mid-hash, or whole). */
	assert_int_equal(PARSE("alice " H1 "\nbob sha256:2222",
	                     "ops:2: the last line has no newline"),
	    SC_ERR_MALFORMED);
	assert_int_equal(PARSE("alice " H1, "ops:1: the last line has no newline"),
	    SC_ERR_MALFORMED);
	/* Cut short at a newline: the hash too short, or the hash missing. */
	assert_int_equal(PARSE("alice sha256:1111111111\n", "ops:1: token hash"), SC_ERR_MALFORMED);
	assert_int_equal(PARSE("alice \n", "ops:1: expected NAME sha256:HEX"), SC_ERR_MALFORMED);
	assert_int_equal(PARSE("alice\n", "ops:1: expected NAME sha256:HEX"), SC_ERR_MALFORMED);
}

static void test_bad_hash(void **state)
{
	(void)state;
	/* Upper case, another algorithm, no prefix, a non-hex digit, one digit too many. */
	assert_int_equal(
	    PARSE("a sha256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
	        "ops:1: token hash"),
	    SC_ERR_MALFORMED);
	assert_int_equal(PARSE("a md5:00000000000000000000000000000000\n", "ops:1: token hash"),
	    SC_ERR_MALFORMED);
	assert_int_equal(
	    PARSE("a 1111111111111111111111111111111111111111111111111111111111111111\n",
	        "ops:1: token hash"),
	    SC_ERR_MALFORMED);
	assert_int_equal(
	    PARSE("a sha256:111111111111111111111111111111111111111111111111111111111111111g\n",
	        "ops:1: token hash"),
	    SC_ERR_MALFORMED);
	assert_int_equal(PARSE("a " H1 "1\n", "ops:1: token hash"), SC_ERR_MALFORMED);
	/* Trailing data on the line: a third field. */
	assert_int_equal(PARSE("a " H1 " admin\n", "ops:1: expected NAME sha256:HEX and nothing"),
	    SC_ERR_MALFORMED);
	assert_int_equal(PARSE("a " H1 " \n", "ops:1: expected NAME sha256:HEX and nothing"),
	    SC_ERR_MALFORMED);
}

static void test_duplicates(void **state)
{
	(void)state;
	assert_int_equal(PARSE("alice " H1 "\nbob " H2 "\nalice " H0 "\n",
	                     "ops:3: operator alice appears twice"),
	    SC_ERR_MALFORMED);
	/* One token under two names: who acted could not be told. */
	assert_int_equal(PARSE("alice " H1 "\nbob " H1 "\n", "ops:2: the same token hash as alice"),
	    SC_ERR_MALFORMED);
}

static void test_bad_name(void **state)
{
	char line[128];

	(void)state;
	assert_int_equal(PARSE("Alice " H1 "\n", "ops:1: operator name"), SC_ERR_MALFORMED);
	assert_int_equal(PARSE("-alice " H1 "\n", "ops:1: operator name"), SC_ERR_MALFORMED);
	assert_int_equal(PARSE("al/ice " H1 "\n", "ops:1: operator name"), SC_ERR_MALFORMED);
	assert_int_equal(PARSE(" alice " H1 "\n", "ops:1: "), SC_ERR_MALFORMED);
	/* 32 characters: fine; 33: refused. */
	snprintf(line, sizeof(line), "%s " H1 "\n", "a1234567890123456789012345678901");
	assert_int_equal(PARSE(line, NULL), SC_OK);
	snprintf(line, sizeof(line), "%s " H1 "\n", "a12345678901234567890123456789012");
	assert_int_equal(PARSE(line, "ops:1: operator name"), SC_ERR_MALFORMED);
	assert_true(sc_operator_name_valid("a"));
	assert_true(sc_operator_name_valid("0ps_team-1.x"));
	assert_false(sc_operator_name_valid(""));
	assert_false(sc_operator_name_valid("_x"));
	assert_false(sc_operator_name_valid("a b"));
}

static void test_oversize_and_nul(void **state)
{
	size_t cap = SC_OP_FILE_MAX + 1, n = 0;
	char *big = malloc(cap + 200), line[256];

	(void)state;
	assert_non_null(big);
	/* The whole file over the cap: refused before a line is read. */
	memset(big, '#', cap);
	assert_int_equal(parse(big, cap, "ops: 65537 bytes; at most 65536", NULL), SC_ERR_OVERSIZE);
	/* One line over SC_OP_LINE_MAX. */
	memset(line, '#', sizeof(line));
	line[SC_OP_LINE_MAX + 1] = '\n';
	assert_int_equal(parse(line, SC_OP_LINE_MAX + 2, "ops:1: line longer than 128", NULL),
	    SC_ERR_OVERSIZE);
	/* SC_OP_MAX operators fit; one more does not. */
	for (int i = 0; i <= SC_OP_MAX; i++)
		n += (size_t)sprintf(big + n, "op%d sha256:%064x\n", i, i + 1);
	assert_int_equal(parse(big, n, "ops:257: more than 256 operators", NULL), SC_ERR_OVERSIZE);
	n = 0;
	for (int i = 0; i < SC_OP_MAX; i++)
		n += (size_t)sprintf(big + n, "op%d sha256:%064x\n", i, i + 1);
	assert_int_equal(parse(big, n, NULL, NULL), SC_OK);
	free(big);
	/* A NUL byte anywhere: refused (a line must not end where C thinks it does). */
	assert_int_equal(parse("alice " H1 "\0\n", strlen("alice " H1) + 2, "ops: a NUL byte",
	                     NULL),
	    SC_ERR_MALFORMED);
}

static void test_tokens(void **state)
{
	char token[SC_OP_TOKEN_LEN + 1], token2[SC_OP_TOKEN_LEN + 1], text[256];
	uint8_t h[SC_OP_HASH_LEN], h2[SC_OP_HASH_LEN], again[SC_OP_HASH_LEN];
	struct sc_operators ops;
	struct sc_operator op;
	size_t n;

	(void)state;
	assert_int_equal(sc_operator_token_new(token, h), SC_OK);
	assert_int_equal(sc_operator_token_new(token2, h2), SC_OK);
	assert_int_equal(strlen(token), SC_OP_TOKEN_LEN);
	assert_memory_equal(token, SC_OP_TOKEN_PREFIX, strlen(SC_OP_TOKEN_PREFIX));
	assert_int_equal(strspn(token + 5,
	                     "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
	    43);
	assert_string_not_equal(token, token2);
	assert_int_equal(sc_operator_token_hash(token, strlen(token), again), SC_OK);
	assert_memory_equal(h, again, sizeof(h));
	/* The line written for it parses back, and the token finds it (and only it). */
	memset(&op, 0, sizeof(op));
	strcpy(op.name, "alice");
	memcpy(op.hash, h, sizeof(h));
	n = sc_operator_line(&op, text, sizeof(text));
	strcpy(op.name, "bob");
	memcpy(op.hash, h2, sizeof(h2));
	n += sc_operator_line(&op, text + n, sizeof(text) - n);
	assert_int_equal(parse(text, n, NULL, &ops), SC_OK);
	assert_string_equal(sc_operators_match(&ops, again)->name, "alice");
	assert_int_equal(sc_operator_token_hash(token, strlen(token) - 1, again), SC_OK);
	assert_null(sc_operators_match(&ops, again));
	sc_operators_clear(&ops);
}

static void test_load(void **state)
{
	char dir[512], path[600];
	struct sc_operators ops;
	char *text = NULL;
	size_t len = 0;

	(void)state;
	snprintf(dir, sizeof(dir), "%s", sc_test_tmpdir());
	snprintf(path, sizeof(path), "%s/ops", dir);
	/* Missing: an error, unless the caller (the CLI's first add) allows it. */
	assert_int_equal(sc_operators_load(path, 0, &ops, NULL, NULL), SC_ERR_IO);
	assert_int_equal(sc_operators_load(path, 1, &ops, &text, &len), SC_OK);
	assert_int_equal(ops.n, 0);
	assert_int_equal(len, 0);
	OPENSSL_free(text);
	sc_operators_clear(&ops);
	sc_test_write_file(path, "alice " H1 "\n", strlen("alice " H1) + 1);
	/* Open to the group: refused, naming the file. */
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(sc_operators_load(path, 0, &ops, NULL, NULL), SC_ERR_IO);
	assert_non_null(strstr(sc_err_detail(), "open to group or others"));
	assert_non_null(strstr(sc_err_detail(), path));
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(sc_operators_load(path, 0, &ops, &text, &len), SC_OK);
	assert_int_equal(ops.n, 1);
	assert_int_equal(len, strlen("alice " H1) + 1);
	OPENSSL_free(text);
	sc_operators_clear(&ops);
	sc_test_rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_bad_hash),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_bad_name),
		cmocka_unit_test(test_oversize_and_nul),
		cmocka_unit_test(test_tokens),
		cmocka_unit_test(test_load),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
