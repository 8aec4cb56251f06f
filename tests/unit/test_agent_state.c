// SPDX-License-Identifier: Apache-2.0
/*
 * test_agent_state.c — the agent's CERTS/state.json (src/agent/state.c): a full state survives
 * format, parse, save and load unchanged; every prefix of it, trailing data, an oversize file,
 * wrong types, out-of-range values, unknown and missing fields are each refused with their code
 * and a detail that names the field.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include "agent.h"
#include "text.h"
#include "testutil.h"

#define PID_A "00112233445566778899aabbccddeeff"
#define PID_B "ffeeddccbbaa99887766554433221100"
#define PID_C "0123456789abcdef0123456789abcdef"
#define CERT_A "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"

static char dir[512];

static int group_setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "%s", sc_test_tmpdir());
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	sc_test_rmdir(dir);
	return 0;
}

static void key_fill(struct agent_key *k, uint32_t handle, const char *pid, const char *serial,
    int64_t nb)
{
	memset(k, 0, sizeof(*k));
	k->present = 1;
	k->handle = handle;
	snprintf(k->profile_id, sizeof(k->profile_id), "%s", pid);
	snprintf(k->serial, sizeof(k->serial), "%s", serial);
	k->not_before = nb;
	k->not_after = nb + 3600;
	k->renew_at = nb + 2400;
	k->cert_pem = strdup(CERT_A);
	assert_non_null(k->cert_pem);
}

/* Every part of the state in use: current, pending (written), in flight, two retired. */
static void full_state(struct agent_state *st)
{
	memset(st, 0, sizeof(*st));
	key_fill(&st->current, 7, PID_A, "0a1b", 1800000000);
	key_fill(&st->pending, 9, PID_B, "0c2d", 1800001000);
	st->pending.written = 1;
	st->has_inflight = 1;
	snprintf(st->inflight_id, sizeof(st->inflight_id), "%s", PID_C);
	st->retire[0] = 3;
	st->retire[1] = 4294967295u;
	st->n_retire = 2;
}

static void key_equal(const struct agent_key *a, const struct agent_key *b)
{
	assert_int_equal(a->present, b->present);
	assert_int_equal(a->handle, b->handle);
	assert_string_equal(a->profile_id, b->profile_id);
	assert_string_equal(a->serial, b->serial);
	assert_true(a->not_before == b->not_before && a->not_after == b->not_after &&
	    a->renew_at == b->renew_at);
	assert_int_equal(a->written, b->written);
	if (a->present)
		assert_string_equal(a->cert_pem, b->cert_pem);
}

static void state_equal(const struct agent_state *a, const struct agent_state *b)
{
	key_equal(&a->current, &b->current);
	key_equal(&a->pending, &b->pending);
	assert_int_equal(a->has_inflight, b->has_inflight);
	assert_string_equal(a->inflight_id, b->inflight_id);
	assert_int_equal(a->n_retire, b->n_retire);
	assert_memory_equal(a->retire, b->retire, a->n_retire * sizeof(a->retire[0]));
}

/* The full state's text (free it). */
static char *full_text(void)
{
	struct agent_state st;
	char *text = NULL;

	full_state(&st);
	assert_int_equal(agent_state_format(&st, &text), SC_OK);
	agent_state_clear(&st);
	return text;
}

static void test_round_trip(void **state)
{
	struct agent_state st, back, empty;
	char *text = NULL, *again = NULL, path[600];

	(void)state;
	full_state(&st);
	assert_int_equal(agent_state_format(&st, &text), SC_OK);
	assert_int_equal(agent_state_parse((const uint8_t *)text, strlen(text), "t", &back), SC_OK);
	state_equal(&st, &back);
	/* A fixed point: the parsed state formats to the same text. */
	assert_int_equal(agent_state_format(&back, &again), SC_OK);
	assert_string_equal(text, again);
	agent_state_clear(&back);

	/* Through the file, and a missing file is an empty state. */
	snprintf(path, sizeof(path), "%s/state.json", dir);
	assert_int_equal(agent_state_save(path, &st), SC_OK);
	assert_int_equal(agent_state_load(path, &back), SC_OK);
	state_equal(&st, &back);
	agent_state_clear(&back);
	memset(&empty, 0, sizeof(empty));
	snprintf(path, sizeof(path), "%s/none.json", dir);
	assert_int_equal(agent_state_load(path, &back), SC_OK);
	state_equal(&empty, &back);
	/* The empty state round-trips too (nulls and an empty list). */
	free(text);
	text = NULL;
	assert_int_equal(agent_state_format(&empty, &text), SC_OK);
	assert_non_null(strstr(text, "\"current\": null"));
	assert_int_equal(agent_state_parse((const uint8_t *)text, strlen(text), "t", &back), SC_OK);
	state_equal(&empty, &back);
	agent_state_clear(&st);
	free(text);
	free(again);
}

/* text parsed must give want, with detail containing each of the NULL-ended words. */
static void expect(const char *text, size_t len, sc_err want, const char *detail)
{
	struct agent_state st;
	sc_err r;

	memset(&st, 0x5a, sizeof(st));
	sc_err_clear();
	r = agent_state_parse((const uint8_t *)text, len, "STATE", &st);
	if (r != want)
		fail_msg("%s (%s), expected %s, for: %.300s", sc_err_name(r), sc_err_detail(),
		    sc_err_name(want), text);
	if (detail != NULL && strstr(sc_err_detail(), detail) == NULL)
		fail_msg("detail '%s' lacks '%s', for: %.300s", sc_err_detail(), detail, text);
	/* A refusal leaves nothing behind. */
	if (want != SC_OK) {
		assert_int_equal(st.current.present, 0);
		assert_null(st.current.cert_pem);
		assert_null(st.pending.cert_pem);
		assert_int_equal(st.n_retire, 0);
	}
	agent_state_clear(&st);
}

/* text (freed here) with its first `from` replaced by `to`, which must occur; *n its length. */
static char *text_edit(char *text, const char *from, const char *to, size_t *n)
{
	char *at = strstr(text, from), *out;

	if (at == NULL)
		fail_msg("'%s' not in the state text", from);
	*n = strlen(text) - strlen(from) + strlen(to);
	out = malloc(*n + 1);
	assert_non_null(out);
	snprintf(out, *n + 1, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
	free(text);
	return out;
}

/* The full text with the first `from` replaced by `to`; must occur. */
static void expect_edit(const char *from, const char *to, sc_err want, const char *detail)
{
	size_t n;
	char *out = text_edit(full_text(), from, to, &n);

	expect(out, n, want, detail);
	free(out);
}

/*
 * agentq16: the tail each advisory field's round trip shares: st, parsed from text without a
 * warning, formats back to text exactly (and is cleared), and text cut by its last byte is
 * refused as the rest of the state is.
 */
static void formats_back(const char *text, struct agent_state *st)
{
	char *again = NULL;

	assert_string_equal(st->warning, "");
	assert_int_equal(agent_state_format(st, &again), SC_OK);
	assert_string_equal(text, again);
	agent_state_clear(st);
	free(again);
	expect(text, strlen(text) - 1, SC_ERR_MALFORMED, "not JSON");
}

static void test_truncation_trailing(void **state)
{
	char *text = full_text(), *more;
	size_t len = strlen(text);

	(void)state;
	/* Every prefix, down to nothing. */
	for (size_t n = 0; n < len; n++)
		expect(text, n, SC_ERR_MALFORMED, "STATE: not JSON");
	/* Anything after the object but white space. */
	more = malloc(len + 8);
	assert_non_null(more);
	snprintf(more, len + 8, "%s{}", text);
	expect(more, len + 2, SC_ERR_MALFORMED, "STATE: not JSON");
	snprintf(more, len + 8, "%sx", text);
	expect(more, len + 1, SC_ERR_MALFORMED, "STATE: not JSON");
	/* A NUL inside the text. */
	memcpy(more, text, len);
	more[len / 2] = '\0';
	expect(more, len, SC_ERR_MALFORMED, "STATE: not JSON");
	free(more);
	free(text);
}

static void test_oversize(void **state)
{
	char *big = malloc(AGENT_STATE_MAX + 2), path[600];
	struct agent_state st;
	FILE *f;

	(void)state;
	assert_non_null(big);
	memset(big, ' ', AGENT_STATE_MAX + 1);
	big[0] = '{';
	big[AGENT_STATE_MAX] = '}';
	big[AGENT_STATE_MAX + 1] = '\0';
	expect(big, AGENT_STATE_MAX + 1, SC_ERR_OVERSIZE, "STATE: 4194305 bytes");
	/* The file: refused by its size before it is read. */
	snprintf(path, sizeof(path), "%s/big.json", dir);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(big, 1, AGENT_STATE_MAX + 1, f), AGENT_STATE_MAX + 1);
	assert_int_equal(fclose(f), 0);
	sc_err_clear();
	assert_int_equal(agent_state_load(path, &st), SC_ERR_OVERSIZE);
	assert_non_null(strstr(sc_err_detail(), path));
	/* Not a regular file: io. */
	assert_int_equal(agent_state_load(dir, &st), SC_ERR_IO);
	free(big);
}

static void test_wrong_types(void **state)
{
	(void)state;
	/* Not an object, not this version, fields missing or unknown, wrong top-level types. */
	expect("[]", 2, SC_ERR_MALFORMED, "STATE: not a version-1 agent state");
	expect("null", 4, SC_ERR_MALFORMED, "STATE: not JSON");
	expect_edit("\"version\": 1", "\"version\": 2", SC_ERR_MALFORMED, "not a version-1");
	expect_edit("\"version\": 1", "\"version\": \"1\"", SC_ERR_MALFORMED, "not a version-1");
	expect_edit("\"version\": 1", "\"version\": 1.0", SC_ERR_MALFORMED, "not a version-1");
	expect_edit("\"version\": 1", "\"versio\": 1", SC_ERR_MALFORMED, "not a version-1");
	expect_edit("\"version\": 1", "\"version\": 1, \"extra\": 0", SC_ERR_MALFORMED,
	    "not a version-1");
	expect_edit("\"version\": 1", "\"version\": 1, \"version\": 1", SC_ERR_MALFORMED,
	    "STATE: not JSON");
	expect_edit("\"retire\": [", "\"retire\": {\"a\": [", SC_ERR_MALFORMED, NULL);
	expect_edit("\"retire\": [\n    3,", "\"retire\": [\n    0,", SC_ERR_MALFORMED,
	    "STATE: \"retire\"[0] is not a key handle");
	expect_edit("4294967295", "4294967296", SC_ERR_MALFORMED,
	    "\"retire\"[1] is not a key handle");
	expect_edit("4294967295", "\"4\"", SC_ERR_MALFORMED, "\"retire\"[1] is not a key handle");
	expect_edit("4294967295", "-1", SC_ERR_MALFORMED, "\"retire\"[1] is not a key handle");
	expect_edit("4294967295", "4.5", SC_ERR_MALFORMED, "\"retire\"[1] is not a key handle");
	/* 17 retired keys: one too many; 16 is fine. */
	expect_edit("4294967295", "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16",
	    SC_ERR_MALFORMED, "not a version-1");
	/* 16 handles but two times: each retired key has its time. */
	expect_edit("4294967295", "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15",
	    SC_ERR_MALFORMED, "STATE: \"retire_after\" is not one time per retired key");
	/* retire_after and hook_due (issue 14): types; both optional, as an older agent wrote none. */
	expect_edit("\"retire_after\": [\n    0,", "\"retire_after\": [\n    -1,", SC_ERR_MALFORMED,
	    "STATE: \"retire_after\"[0] is not a time");
	expect_edit("\"retire_after\": [\n    0,", "\"retire_after\": [\n    \"0\",",
	    SC_ERR_MALFORMED, "STATE: \"retire_after\"[0] is not a time");
	expect_edit("\"retire_after\": [", "\"retire_after\": 0, \"x\": [", SC_ERR_MALFORMED, NULL);
	expect_edit("\"hook_due\": false", "\"hook_due\": 0", SC_ERR_MALFORMED, "not a version-1");
	expect_edit("\"hook_due\": false", "\"hook_due\": true", SC_OK, NULL);
	expect_edit("\"hook_due\": false,", "", SC_OK, NULL);
	expect_edit("\"retire_after\": [\n    0,\n    0\n  ],", "", SC_OK, NULL);

	/* A key: each field's type and range, unknown fields. */
	expect_edit("\"current\": {", "\"current\": 7, \"x\": {", SC_ERR_MALFORMED, NULL);
	expect_edit("\"handle\": 7", "\"handle\": \"7\"", SC_ERR_MALFORMED, "state \"current\": ");
	expect_edit("\"handle\": 7", "\"handle\": 0", SC_ERR_MALFORMED,
	    "state \"current\": a field is out of range");
	expect_edit("\"handle\": 7", "\"handle\": 4294967296", SC_ERR_MALFORMED,
	    "state \"current\": a field is out of range");
	expect_edit("\"handle\": 9", "\"handle\": -9", SC_ERR_MALFORMED,
	    "state \"pending\": a field is out of range");
	expect_edit("\"handle\": 7", "\"handle\": 7, \"color\": 1", SC_ERR_MALFORMED,
	    "state \"current\": ");
	expect_edit("\"handle\": 7,", "", SC_ERR_MALFORMED, "state \"current\": ");
	expect_edit(PID_A, "00112233", SC_ERR_MALFORMED,
	    "state \"current\": a field is out of range");
	expect_edit(PID_A, "00112233445566778899AABBCCDDEEFF", SC_ERR_MALFORMED,
	    "state \"current\": a field is out of range");
	expect_edit("\"serial\": \"0a1b\"",
	    "\"serial\": "
	    "\"0a1b0a1b0a1b0a1b0a1b0a1b0a1b0a1b0a1b0a1b0a1b0a1b0a1b0a1b0a1b0a1b0\"",
	    SC_ERR_MALFORMED, "state \"current\": a field is out of range");
	expect_edit("\"serial\": \"0a1b\"", "\"serial\": 2587", SC_ERR_MALFORMED,
	    "state \"current\": ");
	expect_edit("\"cert\": \"-----BEGIN", "\"cert\": \"-----BEGIN PRIVATE KEY",
	    SC_ERR_MALFORMED, "state \"current\": a field is out of range");
	expect_edit("\"not_after\": 1800003600", "\"not_after\": 1800000000", SC_ERR_MALFORMED,
	    "state \"current\": a field is out of range");
	expect_edit("\"not_before\": 1800000000", "\"not_before\": \"1800000000\"",
	    SC_ERR_MALFORMED, "state \"current\": ");
	expect_edit("\"written\": true", "\"written\": 1", SC_ERR_MALFORMED, "state \"pending\": ");
	expect_edit("\"written\": true", "\"written\": false", SC_OK, NULL);

	/* In flight: exactly one hex profile ID. */
	expect_edit(PID_C, "x", SC_ERR_MALFORMED, "STATE: \"inflight\" is damaged");
	expect_edit("\"profile_id\": \"" PID_C "\"", "\"profile_id\": \"" PID_C "\", \"more\": 1",
	    SC_ERR_MALFORMED, "STATE: \"inflight\" is damaged");
	expect_edit("\"profile_id\": \"" PID_C "\"", "\"profile_id\": 5", SC_ERR_MALFORMED,
	    "STATE: \"inflight\" is damaged");
	expect_edit("\"inflight\": {", "\"inflight\": [], \"x\": {", SC_ERR_MALFORMED, NULL);
}

/* #17: the renewal profile and the backlog of locally renewed certificates. */
static char *renewal_text(void)
{
	static const uint8_t der[] = { 0x30, 0x03, 0x02, 0x01, 0x07 };
	struct agent_state st;
	char *text = NULL;

	full_state(&st);
	st.renewal_der = OPENSSL_memdup(der, sizeof(der));
	st.renewal_len = sizeof(der);
	st.backlog[0] = strdup(CERT_A);
	st.backlog[1] = strdup(CERT_A);
	st.n_backlog = 2;
	assert_non_null(st.renewal_der);
	assert_int_equal(agent_state_format(&st, &text), SC_OK);
	agent_state_clear(&st);
	return text;
}

static void renewal_edit(const char *from, const char *to, sc_err want, const char *detail)
{
	size_t n;
	char *out = text_edit(renewal_text(), from, to, &n);

	expect(out, n, want, detail);
	free(out);
}

static void test_renewal_fields(void **state)
{
	struct agent_state st;
	char *text = renewal_text(), *big;
	size_t n;

	(void)state;
	assert_int_equal(agent_state_parse((const uint8_t *)text, strlen(text), "STATE", &st),
	    SC_OK);
	assert_int_equal(st.renewal_len, 5);
	assert_int_equal(st.renewal_der[4], 7);
	assert_int_equal(st.n_backlog, 2);
	assert_string_equal(st.backlog[1], CERT_A);
	agent_state_clear(&st);
	/* Truncated and trailing, as for the rest of the state. */
	expect(text, strlen(text) - 1, SC_ERR_MALFORMED, "not JSON");
	free(text);
	/* Wrong types and values of each field. */
	renewal_edit("\"renewal\": \"", "\"renewal\": 5, \"x\": \"", SC_ERR_MALFORMED,
	    "not a version-1");
	renewal_edit("\"renewal\": \"MAMCAQc=\"", "\"renewal\": 5", SC_ERR_MALFORMED,
	    "STATE: \"renewal\" is not base64 of a profile");
	renewal_edit("\"renewal\": \"MAMCAQc=\"", "\"renewal\": \"MAMCAQc\"", SC_ERR_MALFORMED,
	    "STATE: \"renewal\" is not base64 of a profile");
	renewal_edit("\"renewal\": \"MAMCAQc=\"", "\"renewal\": \"\"", SC_ERR_MALFORMED,
	    "STATE: \"renewal\" is not base64 of a profile");
	renewal_edit("\"backlog\": [", "\"backlog\": {\"a\": [", SC_ERR_MALFORMED, NULL);
	renewal_edit("\"backlog\": [\n    \"-----BEGIN", "\"backlog\": [\n    \"-----BEGIN PRIVATE",
	    SC_ERR_MALFORMED, "STATE: \"backlog\"[0] is not a PEM certificate");
	renewal_edit("\"backlog\": [\n", "\"backlog\": [\n 7,\n", SC_ERR_MALFORMED,
	    "STATE: \"backlog\"[0] is not a PEM certificate");
	/* agentq16: one PEM block each, footer and newline last (the queue file is framed so). */
	renewal_edit("-----END CERTIFICATE-----\\n\",\n", "-----END CERTIFICATE-----\",\n",
	    SC_ERR_MALFORMED, "STATE: \"backlog\"[0] is not a PEM certificate");
	renewal_edit("-----END CERTIFICATE-----\\n\",\n", "-----END CERTIFICATE-----\\nx\",\n",
	    SC_ERR_MALFORMED, "STATE: \"backlog\"[0] is not a PEM certificate");
	renewal_edit("-----END CERTIFICATE-----\\n\",\n",
	    "-----END CERTIFICATE-----\\n-----END CERTIFICATE-----\\n\",\n", SC_ERR_MALFORMED,
	    "STATE: \"backlog\"[0] is not a PEM certificate");
	/* Oversize: a renewal profile past the profile limit; AGENT_MAX_BACKLOG + 1 certificates in the backlog. */
	n = 4 * ((SC_PROFILE_MAX_DER + 2) / 3) + 8;
	big = malloc(n + 64);
	assert_non_null(big);
	memcpy(big, "\"renewal\": \"", 12);
	memset(big + 12, 'A', n);
	memcpy(big + 12 + n, "\"", 2);
	renewal_edit("\"renewal\": \"MAMCAQc=\"", big, SC_ERR_MALFORMED,
	    "STATE: \"renewal\" is not base64 of a profile");
	free(big);
	{
		/* The text holds two: AGENT_MAX_BACKLOG - 1 more are one too many; one fewer, fine. */
#define ONE "\"-----BEGIN CERTIFICATE-----\\nA\\n-----END CERTIFICATE-----\\n\","
		static char list[(AGENT_MAX_BACKLOG + 1) * sizeof(ONE)] = "\"backlog\": [";
		size_t o = strlen(list);

		for (int i = 0; i < AGENT_MAX_BACKLOG - 1; i++, o += sizeof(ONE) - 1)
			memcpy(list + o, ONE, sizeof(ONE));
		renewal_edit("\"backlog\": [", list, SC_ERR_MALFORMED,
		    "STATE: \"backlog\" is not at most 1024 certificates");
		list[strlen(list) - strlen(ONE)] = '\0';
		renewal_edit("\"backlog\": [", list, SC_OK, NULL);
#undef ONE
	}
}

/* A PEM certificate of `der` bytes' base64 (only its text matters to the state). */
static char *pem_of(size_t der)
{
	size_t b64 = 4 * ((der + 2) / 3), n = 28 + b64 + b64 / 64 + 1 + 26 + 1, o = 0;
	char *s = malloc(n);

	assert_non_null(s);
	o += (size_t)snprintf(s, n, "-----BEGIN CERTIFICATE-----\n");
	for (size_t i = 0; i < b64; i++) {
		s[o++] = 'A';
		if (i % 64 == 63 || i == b64 - 1)
			s[o++] = '\n';
	}
	o += (size_t)snprintf(s + o, n - o, "-----END CERTIFICATE-----\n");
	assert_true(o < n);
	return s;
}

/*
 * late15b: the queue takes a device offline for days (agent_backlog_full): full only at
 * AGENT_MAX_BACKLOG certificates or past AGENT_BACKLOG_BYTES_MAX bytes, and a full queue of the
 * largest certificates (an SP message's 64 KiB of DER each), one more made after the last
 * check, and a profile of the most bytes still save under AGENT_STATE_MAX and load back equal.
 */
static void test_backlog_full_fits(void **state)
{
	struct agent_state st, back;
	char *text = NULL;
	size_t n, len;

	(void)state;
	full_state(&st);
	st.renewal_len = SC_PROFILE_MAX_DER;
	st.renewal_der = OPENSSL_zalloc(st.renewal_len);
	assert_non_null(st.renewal_der);
	/* Small certificates: full by count, at 1024 (was 32, the default --batch). */
	for (n = 0; n < AGENT_MAX_BACKLOG; n++) {
		assert_false(agent_backlog_full(&st));
		st.backlog[st.n_backlog++] = strdup(CERT_A);
	}
	assert_true(agent_backlog_full(&st));
	assert_int_equal(agent_state_format(&st, &text), SC_OK);
	assert_true(strlen(text) <= AGENT_STATE_MAX);
	assert_int_equal(agent_state_parse((const uint8_t *)text, strlen(text), "STATE", &back),
	    SC_OK);
	assert_int_equal(back.n_backlog, AGENT_MAX_BACKLOG);
	agent_state_clear(&back);
	free(text);
	for (n = 0; n < st.n_backlog; n++) {
		free(st.backlog[n]);
		st.backlog[n] = NULL;
	}
	st.n_backlog = 0;
	/* The largest certificates: full by bytes, then one more (renew_local checks before). */
	while (!agent_backlog_full(&st))
		st.backlog[st.n_backlog++] = pem_of(65536);
	assert_true(st.n_backlog > 32 && st.n_backlog < AGENT_MAX_BACKLOG);
	st.backlog[st.n_backlog++] = pem_of(65536);
	assert_int_equal(agent_state_format(&st, &text), SC_OK);
	len = strlen(text);
	assert_true(len <= AGENT_STATE_MAX);
	assert_int_equal(agent_state_parse((const uint8_t *)text, len, "STATE", &back), SC_OK);
	assert_int_equal(back.n_backlog, st.n_backlog);
	assert_string_equal(back.backlog[back.n_backlog - 1], st.backlog[st.n_backlog - 1]);
	assert_int_equal(back.renewal_len, SC_PROFILE_MAX_DER);
	print_message("a full queue of %zu 64 KiB certificates: state.json %zu bytes of %d\n",
	    st.n_backlog, len, AGENT_STATE_MAX);
	agent_state_clear(&back);
	agent_state_clear(&st);
	free(text);
}

/* A file's size (-1: none). */
static long file_size(const char *path)
{
	FILE *f = fopen(path, "rb");
	long n;

	if (f == NULL)
		return -1;
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	fclose(f);
	return n;
}

static void put_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static char *get_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *d;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	d = malloc((size_t)n + 1);
	assert_non_null(d);
	assert_int_equal(fread(d, 1, (size_t)n, f), (size_t)n);
	d[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return d;
}

/* The queue loaded from path has exactly want's entries. */
static void queue_is(const char *path, const struct agent_state *want)
{
	struct agent_state back;

	assert_int_equal(agent_state_load(path, &back), SC_OK);
	state_equal(want, &back);
	assert_int_equal(back.n_backlog, want->n_backlog);
	for (size_t i = 0; i < want->n_backlog; i++)
		assert_string_equal(back.backlog[i], want->backlog[i]);
	agent_state_clear(&back);
}

static void drop_entry(struct agent_state *st, size_t i)
{
	free(st->backlog[i]);
	memmove(st->backlog + i, st->backlog + i + 1, (st->n_backlog - i - 1) * sizeof(char *));
	st->backlog[--st->n_backlog] = NULL;
	agent_backlog_removed(st, i);
}

/* state.json's text as saved, with `from` replaced by `to`, must load as want (detail). */
static void queue_edit(const char *path, const char *from, const char *to, sc_err want,
    const char *detail)
{
	size_t n, len;
	char *saved = get_file(path, &len), *out = text_edit(strdup(saved), from, to, &n);
	struct agent_state back;

	put_file(path, out, n);
	sc_err_clear();
	assert_int_equal(agent_state_load(path, &back), want);
	if (detail != NULL && strstr(sc_err_detail(), detail) == NULL)
		fail_msg("detail '%s' lacks '%s'", sc_err_detail(), detail);
	agent_state_clear(&back);
	put_file(path, saved, len);
	free(out);
	free(saved);
}

/*
 * agentq16: the queue in CERTS/backlog.<0|1>.pem. A save appends what was queued since the
 * last (state.json a few hundred bytes, the file growing by the new certificates only); a cut at
 * its end writes no queue; a flush's cut at its front writes the other file. Every crash point
 * leaves the last committed queue loadable (the queue written, state.json not; state.json
 * renamed, the old file not removed), and a leftover tail is cut at the next append.
 * "backlog_file"'s wrong values (state.json's own damage) are refused by name; a damaged queue
 * file is salvaged (test_queue_salvage). An older agent's inline "backlog" still loads and moves
 * out.
 */
static void test_queue_file(void **state)
{
	struct agent_state st;
	char path[600], q0[600], q1[600], *text = NULL, *data;
	long qlen, slen;
	size_t len;

	(void)state;
	snprintf(path, sizeof(path), "%s/q/state.json", dir);
	snprintf(q0, sizeof(q0), "%s/q/backlog.0.pem", dir);
	snprintf(q1, sizeof(q1), "%s/q/backlog.1.pem", dir);
	snprintf(text = malloc(700), 700, "%s/q", dir);
	assert_int_equal(mkdir(text, 0700), 0);
	free(text);
	full_state(&st);
	st.renewal_der = OPENSSL_zalloc(SC_PROFILE_MAX_DER);
	st.renewal_len = SC_PROFILE_MAX_DER;
	for (size_t i = 0; i < 3; i++)
		st.backlog[st.n_backlog++] = pem_of(100 + 10 * i);
	/* An older agent's layout: the backlog inline. Loads, and moves out at the next save. */
	assert_int_equal(agent_state_format(&st, &text), SC_OK);
	put_file(path, text, strlen(text));
	free(text);
	queue_is(path, &st);
	assert_int_equal(agent_state_save(path, &st), SC_OK);
	data = get_file(path, &len);
	assert_null(strstr(data, "\"backlog\":"));
	assert_non_null(strstr(data, "\"backlog_file\": {"));
	assert_non_null(strstr(data, "\"name\": \"backlog.0.pem\""));
	assert_non_null(strstr(data, "\"count\": 3"));
	free(data);
	qlen = file_size(q0);
	assert_int_equal(qlen,
	    (long)(strlen(st.backlog[0]) + strlen(st.backlog[1]) + strlen(st.backlog[2])));
	assert_int_equal(file_size(q1), -1);
	queue_is(path, &st);
	/* Appended: the file grows by the new certificate only; state.json stays as large. */
	slen = file_size(path);
	st.backlog[st.n_backlog++] = pem_of(5000);
	assert_int_equal(agent_state_save(path, &st), SC_OK);
	assert_int_equal(file_size(q0), qlen + (long)strlen(st.backlog[3]));
	assert_true(file_size(path) <= slen + 1); /* "count": 3 -> 4, bytes maybe a digit more */
	queue_is(path, &st);
	/* Crash after the queue's append, before state.json: the committed four load. */
	st.backlog[st.n_backlog++] = pem_of(77);
	assert_int_equal(agent_state_save_steps(path, &st, 1), SC_OK);
	assert_int_equal(file_size(q0),
	    qlen + (long)strlen(st.backlog[3]) + (long)strlen(st.backlog[4]));
	free(st.backlog[--st.n_backlog]);
	st.backlog[st.n_backlog] = NULL;
	queue_is(path, &st);
	/* Loaded again (as after the crash), another append cuts the leftover first. */
	agent_state_clear(&st);
	assert_int_equal(agent_state_load(path, &st), SC_OK);
	st.backlog[st.n_backlog++] = pem_of(300);
	assert_int_equal(agent_state_save(path, &st), SC_OK);
	assert_int_equal(file_size(q0),
	    qlen + (long)strlen(st.backlog[3]) + (long)strlen(st.backlog[4]));
	queue_is(path, &st);
	/* A cut at the end (refresh_crl's): nothing written to the queue, one fewer named. */
	drop_entry(&st, st.n_backlog - 1);
	qlen = file_size(q0);
	assert_int_equal(agent_state_save(path, &st), SC_OK);
	assert_int_equal(file_size(q0), qlen);
	queue_is(path, &st);
	/* A flush's cut at the front: the other file. A crash before state.json: the old queue. */
	{
		struct agent_state old;

		assert_int_equal(agent_state_load(path, &old), SC_OK);
		drop_entry(&st, 0);
		drop_entry(&st, 0);
		assert_int_equal(agent_state_save_steps(path, &st, 1), SC_OK);
		assert_int_equal(file_size(q1),
		    (long)(strlen(st.backlog[0]) + strlen(st.backlog[1])));
		queue_is(path, &old);
		agent_state_clear(&old);
	}
	/* ... after state.json, before the old file's removal: the new queue. */
	assert_int_equal(agent_state_save_steps(path, &st, 2), SC_OK);
	assert_true(file_size(q0) > 0);
	queue_is(path, &st);
	/* Whole: the old file removed; an append goes to the new one. */
	drop_entry(&st, 1);
	st.backlog[st.n_backlog++] = pem_of(400);
	assert_int_equal(agent_state_save(path, &st), SC_OK);
	assert_int_equal(file_size(q0), (long)(strlen(st.backlog[0]) + strlen(st.backlog[1])));
	assert_int_equal(file_size(q1), -1);
	queue_is(path, &st);
	/* Trailing data (a crash's leftover) is not read. (Damage: test_queue_salvage.) */
	data = get_file(q0, &len);
	{
		char *more = malloc(len + 10);

		memcpy(more, data, len);
		memcpy(more + len, "-----BEGIN", 10);
		put_file(q0, more, len + 10);
		queue_is(path, &st);
		free(more);
	}
	put_file(q0, data, len);
	free(data);
	queue_is(path, &st);
	/* "backlog_file"'s wrong values and types. */
	{
		static const char *const bad[][2] = {
			{ "\"name\": \"backlog.0.pem\"", "\"name\": \"backlog.2.pem\"" },
			{ "\"name\": \"backlog.0.pem\"", "\"name\": \"../x/backlog.0.pem\"" },
			{ "\"name\": \"backlog.0.pem\"", "\"name\": 0" },
			{ "\"count\": 2", "\"count\": 0" },
			{ "\"count\": 2", "\"count\": 1025" },
			{ "\"count\": 2", "\"count\": \"2\"" },
			{ "\"count\": 2", "\"count\": 2, \"more\": 1" },
			{ "\"bytes\": ", "\"bytes\": 9999999999, \"b\": " },
			{ "\"backlog_file\": {", "\"backlog\": [], \"backlog_file\": {" },
			{ "\"backlog_file\": {", "\"backlog_file\": [{" },
		};
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			queue_edit(path, bad[i][0], bad[i][1], SC_ERR_MALFORMED,
			    i == 9 ? "not JSON" : "\"backlog_file\" is not backlog.0.pem");
	}
	/* Emptied: no "backlog_file", the files gone. */
	drop_entry(&st, 0);
	drop_entry(&st, 0);
	assert_int_equal(agent_state_save(path, &st), SC_OK);
	data = get_file(path, &len);
	assert_null(strstr(data, "backlog"));
	free(data);
	assert_int_equal(file_size(q0), -1);
	assert_int_equal(file_size(q1), -1);
	queue_is(path, &st);
	agent_state_clear(&st);
}

/* agentweak17: loads whole (no salvage) with n queued. */
static void queue_is_n(const char *path, size_t n)
{
	struct agent_state back;

	assert_int_equal(agent_state_load(path, &back), SC_OK);
	assert_string_equal(back.salvage, "");
	assert_int_equal(back.n_backlog, n);
	agent_state_clear(&back);
}

/* agentweak17: a real certificate as PEM (self-signed P-256, this serial; free it). */
static char *real_pem(long serial)
{
	static EVP_PKEY *key;
	X509 *x = X509_new();
	BIO *b = BIO_new(BIO_s_mem());
	BUF_MEM *m = NULL;
	char *out;

	if (key == NULL)
		key = EVP_EC_gen("P-256");
	assert_non_null(key);
	assert_non_null(x);
	assert_true(ASN1_INTEGER_set(X509_get_serialNumber(x), serial) == 1 &&
	    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	        (const unsigned char *)"salvage", -1, -1, 0) == 1 &&
	    X509_set_issuer_name(x, X509_get_subject_name(x)) == 1 &&
	    X509_gmtime_adj(X509_getm_notBefore(x), 0) != NULL &&
	    X509_gmtime_adj(X509_getm_notAfter(x), 3600) != NULL && X509_set_pubkey(x, key) == 1 &&
	    X509_sign(x, key, EVP_sha256()) > 0 && PEM_write_bio_X509(b, x) == 1);
	BIO_get_mem_ptr(b, &m);
	out = strndup(m->data, m->length);
	assert_non_null(out);
	BIO_free(b);
	X509_free(x);
	return out;
}

/* The agent state's queue file name (backlog.<n>.pem) as loaded, and its full path. */
static const char *qname(const char *qdir, const struct agent_state *st, char *out, size_t n)
{
	snprintf(out, n, "%s/backlog.%d.pem", qdir, st->q_file);
	return out;
}

/* Loads with a salvage line equal to want (formatted), and the queue equal to pems[idx...]. */
static void salvaged_is(const char *path, char *const *pems, const int *idx, size_t n,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void salvaged_is(const char *path, char *const *pems, const int *idx, size_t n,
    const char *fmt, ...)
{
	struct agent_state back;
	char want[1400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(want, sizeof(want), fmt, ap);
	va_end(ap);
	sc_err_clear();
	assert_int_equal(agent_state_load(path, &back), SC_OK);
	assert_string_equal(back.salvage, want);
	assert_int_equal(back.n_backlog, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(back.backlog[i], pems[idx[i]]);
	agent_state_clear(&back);
	/* Committed: loads again whole, without a salvage line. */
	assert_int_equal(agent_state_load(path, &back), SC_OK);
	assert_string_equal(back.salvage, "");
	assert_int_equal(back.n_backlog, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(back.backlog[i], pems[idx[i]]);
	agent_state_clear(&back);
}

/*
 * agentweak17: a damaged queue file (missing, shorter than "bytes", not those N certificates)
 * no longer stops the agent: it is kept aside as backlog.<n>.pem.damaged-<k> (an earlier copy
 * never overwritten), every whole certificate in it is salvaged in order (framed and decoded),
 * the salvaged queue committed at once into the other file, and one line says what was wrong
 * and how many were salvaged. Every truncation of a two-certificate queue salvages exactly the
 * certificates that are whole in it.
 */
static void test_queue_salvage(void **state)
{
	struct agent_state st, back;
	char qdir[600], path[700], q[800], aside[900], *pem[5], *data, *text;
	size_t len, l0, l01;
	int idx[5] = { 0, 1, 2, 3, 4 };

	(void)state;
	snprintf(qdir, sizeof(qdir), "%s/s", dir);
	snprintf(path, sizeof(path), "%s/state.json", qdir);
	assert_int_equal(mkdir(qdir, 0700), 0);
	for (int i = 0; i < 5; i++)
		pem[i] = real_pem(1000 + i);
	full_state(&st);
	for (int i = 0; i < 4; i++)
		st.backlog[st.n_backlog++] = strdup(pem[i]);
	assert_int_equal(agent_state_save(path, &st), SC_OK);
	agent_state_clear(&st);
	assert_int_equal(agent_state_load(path, &st), SC_OK);
	assert_int_equal(st.q_file, 0);
	qname(qdir, &st, q, sizeof(q));
	data = get_file(q, &len);
	l0 = strlen(pem[0]);
	l01 = l0 + strlen(pem[1]);
	/* Truncated in the third certificate: the first two, kept aside, the rest lost. The commit
	 * fails first (the other queue file's name taken by a folder): io, the damage still named
	 * and linked aside; the retry uses that same copy (no damaged-2). */
	put_file(q, data, l01 + 100);
	snprintf(aside, sizeof(aside), "%s/backlog.1.pem", qdir);
	assert_int_equal(mkdir(aside, 0700), 0);
	sc_err_clear();
	assert_int_equal(agent_state_load(path, &back), SC_ERR_IO);
	assert_non_null(strstr(sc_err_detail(), "backlog.1.pem"));
	assert_int_equal(rmdir(aside), 0);
	assert_int_equal(file_size(q), (long)(l01 + 100));
	snprintf(aside, sizeof(aside), "%s.damaged-1", q);
	assert_int_equal(file_size(aside), (long)(l01 + 100));
	salvaged_is(path, pem, idx, 2,
	    "%s: damaged (%zu bytes, state.json says %zu: truncated); kept aside as "
	    "backlog.0.pem.damaged-1; 2 of 4 certificates salvaged (1 unreadable), the queue goes "
	    "on with them",
	    q, l01 + 100, len);
	snprintf(aside, sizeof(aside), "%s.damaged-1", q);
	assert_int_equal(file_size(aside), (long)(l01 + 100));
	assert_int_equal(file_size(q), -1); /* the queue is in backlog.1.pem now */
	snprintf(aside, sizeof(aside), "%s.damaged-2", q);
	assert_int_equal(file_size(aside), -1); /* the retry made no second copy */
	agent_state_clear(&st);
	assert_int_equal(agent_state_load(path, &st), SC_OK);
	assert_int_equal(st.q_file, 1);
	text = get_file(path, &len);
	assert_non_null(strstr(text, "\"name\": \"backlog.1.pem\""));
	assert_non_null(strstr(text, "\"count\": 2"));
	free(text);
	free(data);
	/* Two more queued (appended to backlog.1.pem); the second's footer damaged: the one in
	 * front of it and the one after it are salvaged, in order. */
	st.backlog[st.n_backlog++] = strdup(pem[2]);
	st.backlog[st.n_backlog++] = strdup(pem[3]);
	assert_int_equal(agent_state_save(path, &st), SC_OK);
	qname(qdir, &st, q, sizeof(q));
	data = get_file(q, &len);
	{
		char *foot = strstr(data + l0, "-----END CERTIFICATE-----");

		assert_non_null(foot);
		foot[20] = 'X'; /* pem[1]'s footer */
		put_file(q, data, len);
		idx[1] = 2;
		idx[2] = 3;
		salvaged_is(path, pem, idx, 3,
		    "%s: damaged (not the 4 PEM certificates in %zu bytes state.json says); kept "
		    "aside as backlog.1.pem.damaged-1; 3 of 4 certificates salvaged (1 unreadable), "
		    "the queue goes on with them",
		    q, len);
	}
	free(data);
	/* A block that is framed but does not decode is not salvaged either. */
	agent_state_clear(&st);
	assert_int_equal(agent_state_load(path, &st), SC_OK);
	qname(qdir, &st, q, sizeof(q));
	assert_string_equal(q + strlen(qdir), "/backlog.0.pem");
	data = get_file(q, &len);
	data[l0 + 40] = '!'; /* inside pem[2]'s base64 */
	data[len - 1] = 'x'; /* pem[3]'s footer: the normal load sees damage */
	put_file(q, data, len);
	idx[1] = 2;
	salvaged_is(path, pem, idx, 1,
	    "%s: damaged (not the 3 PEM certificates in %zu bytes state.json says); kept aside as "
	    "backlog.0.pem.damaged-2; 1 of 3 certificates salvaged (2 unreadable), the queue goes "
	    "on with them",
	    q, len);
	/* The earlier copy (damaged-1) is untouched, the new one beside it. */
	snprintf(aside, sizeof(aside), "%s.damaged-1", q);
	assert_int_equal(file_size(aside), (long)(l01 + 100));
	snprintf(aside, sizeof(aside), "%s.damaged-2", q);
	assert_int_equal(file_size(aside), (long)len);
	free(data);
	/* Missing: nothing to keep aside, nothing salvaged, no queue named. */
	agent_state_clear(&st);
	assert_int_equal(agent_state_load(path, &st), SC_OK);
	qname(qdir, &st, q, sizeof(q));
	assert_int_equal(unlink(q), 0);
	salvaged_is(path, pem, idx, 0,
	    "%s: damaged (missing); nothing to keep aside; 0 of 1 certificates salvaged (0 "
	    "unreadable), the queue goes on with them",
	    q);
	text = get_file(path, &len);
	assert_null(strstr(text, "backlog"));
	free(text);
	/* Every truncation of a queue of two: the whole ones salvaged, the cut one unreadable. */
	agent_state_clear(&st);
	full_state(&st);
	st.backlog[st.n_backlog++] = strdup(pem[3]);
	st.backlog[st.n_backlog++] = strdup(pem[4]);
	assert_int_equal(agent_state_save(path, &st), SC_OK);
	agent_state_clear(&st);
	assert_int_equal(agent_state_load(path, &st), SC_OK);
	qname(qdir, &st, q, sizeof(q));
	data = get_file(q, &len);
	l0 = strlen(pem[3]);
	for (size_t n = 0; n < len;
	     n += (n < 40 || n + 40 > len || (n > l0 - 30 && n < l0 + 30)) ? 1 : 97) {
		size_t alen;

		text = get_file(path, &alen);
		put_file(q, data, n);
		sc_err_clear();
		assert_int_equal(agent_state_load(path, &back), SC_OK);
		assert_int_equal(back.n_backlog, n >= l0 ? 1 : 0);
		if (n >= l0)
			assert_string_equal(back.backlog[0], pem[3]);
		assert_non_null(strstr(back.salvage, "truncated"));
		assert_non_null(strstr(back.salvage,
		    n >= l0 + 27  ? "1 of 2 certificates salvaged (1 unreadable)"
		        : n >= l0 ? "1 of 2 certificates salvaged (0 unreadable)"
		        : n >= 27 ? "0 of 2 certificates salvaged (1 unreadable)"
		                  : "0 of 2 certificates salvaged (0 unreadable)"));
		agent_state_clear(&back);
		/* Back to the whole queue for the next length; the copies aside removed, and the
		 * salvaged queue (the other file, else kept aside the next time: aw17mend). */
		put_file(path, text, alen);
		put_file(q, data, len);
		for (int k = 1; k <= AGENT_DAMAGED_MAX; k++) {
			snprintf(aside, sizeof(aside), "%s.damaged-%d", q, k);
			(void)unlink(aside);
		}
		snprintf(aside, sizeof(aside), "%s/backlog.%d.pem", qdir, !st.q_file);
		(void)unlink(aside);
		free(text);
	}
	/* Trailing data past the committed length, however much (9 MiB: sc_file_read's bound
	 * refused it as oversize before), is a crash's leftover: not read, no salvage. */
	{
		size_t big = 9u << 20;
		char *more = malloc(len + big);

		assert_non_null(more);
		memcpy(more, data, len);
		memset(more + len, '#', big);
		put_file(q, more, len + big);
		free(more);
		assert_int_equal(agent_state_load(path, &back), SC_OK);
		assert_string_equal(back.salvage, "");
		assert_int_equal(back.n_backlog, 2);
		agent_state_clear(&back);
		put_file(q, data, len);
	}
	/* Not a regular file (a symbolic link, a folder): no damage of ours; refused as before. */
	snprintf(aside, sizeof(aside), "%s.real", q);
	assert_int_equal(rename(q, aside), 0);
	assert_int_equal(symlink(aside, q), 0);
	sc_err_clear();
	assert_int_equal(agent_state_load(path, &back), SC_ERR_IO);
	assert_non_null(strstr(sc_err_detail(), "backlog."));
	assert_int_equal(unlink(q), 0);
	assert_int_equal(mkdir(q, 0700), 0);
	assert_int_equal(agent_state_load(path, &back), SC_ERR_IO);
	assert_int_equal(rmdir(q), 0);
	assert_int_equal(rename(aside, q), 0);
	queue_is_n(path, 2);
	/* A framed block whose base64 decodes to no certificate's shape (3 zero bytes) is not
	 * salvaged: the file holds it in front of the two, state.json says 4 (damage) in all of
	 * it. */
	{
		size_t alen, n2 = strlen(CERT_A) + len;
		char *saved = get_file(path, &alen), *both = malloc(n2 + 1), from[64], to[64],
		     *edited;

		memcpy(both, CERT_A, strlen(CERT_A));
		memcpy(both + strlen(CERT_A), data, len);
		put_file(q, both, n2);
		snprintf(from, sizeof(from), "\"bytes\": %zu", len);
		snprintf(to, sizeof(to), "\"bytes\": %zu", n2);
		edited = text_edit(strdup(saved), "\"count\": 2", "\"count\": 4", &alen);
		edited = text_edit(edited, from, to, &alen);
		put_file(path, edited, alen);
		assert_int_equal(agent_state_load(path, &back), SC_OK);
		assert_int_equal(back.n_backlog, 2);
		assert_string_equal(back.backlog[0], pem[3]);
		assert_string_equal(back.backlog[1], pem[4]);
		assert_non_null(strstr(back.salvage, "damaged (not the 4 PEM certificates in "));
		assert_non_null(
		    strstr(back.salvage, "2 of 4 certificates salvaged (1 unreadable)"));
		agent_state_clear(&back);
		put_file(path, saved, strlen(saved));
		put_file(q, data, len);
		snprintf(aside, sizeof(aside), "%s.damaged-1", q);
		assert_int_equal(unlink(aside), 0);
		free(edited);
		free(both);
		free(saved);
	}
	/*
	 * All AGENT_DAMAGED_MAX names taken: not kept aside (never one overwritten). aw17mend: then
	 * not salvaged either (the commit would let the damaged file be written over): malformed,
	 * naming the file and why, nothing changed; with a name freed, salvaged.
	 */
	snprintf(aside, sizeof(aside), "%s/backlog.%d.pem", qdir, !st.q_file);
	(void)unlink(aside); /* the earlier cases' salvaged queue (else kept aside: below) */
	for (int k = 1; k <= AGENT_DAMAGED_MAX; k++) {
		snprintf(aside, sizeof(aside), "%s.damaged-%d", q, k);
		put_file(aside, "earlier", 7);
	}
	put_file(q, data, l0 + 5);
	{
		size_t slen, slen2;
		char *before = get_file(path, &slen), *after, msg[2400];

		sc_err_clear();
		assert_int_equal(agent_state_load(path, &back), SC_ERR_MALFORMED);
		snprintf(msg, sizeof(msg),
		    "%s: damaged (%zu bytes, state.json says %zu: truncated), and not kept aside (all "
		    "damaged-N names taken): not salvaged; move it away (named by %s)",
		    q, l0 + 5, len, path);
		assert_string_equal(sc_err_detail(), msg);
		assert_int_equal(back.n_backlog, 0);
		after = get_file(path, &slen2);
		assert_int_equal(slen2, slen);
		assert_memory_equal(after, before, slen);
		assert_int_equal(file_size(q), (long)(l0 + 5));
		free(before);
		free(after);
	}
	for (int k = 1; k <= AGENT_DAMAGED_MAX; k++) {
		snprintf(aside, sizeof(aside), "%s.damaged-%d", q, k);
		assert_int_equal(file_size(aside), 7);
	}
	snprintf(aside, sizeof(aside), "%s.damaged-%d", q, AGENT_DAMAGED_MAX);
	assert_int_equal(unlink(aside), 0);
	salvaged_is(path, pem, (int[]){ 3 }, 1,
	    "%s: damaged (%zu bytes, state.json says %zu: truncated); kept aside as "
	    "backlog.%d.pem.damaged-%d; 1 of 2 certificates salvaged (0 unreadable), the queue goes "
	    "on with them",
	    q, l0 + 5, len, st.q_file, AGENT_DAMAGED_MAX);
	for (int k = 1; k < AGENT_DAMAGED_MAX; k++) {
		snprintf(aside, sizeof(aside), "%s.damaged-%d", q, k);
		assert_int_equal(file_size(aside), 7);
	}
	snprintf(aside, sizeof(aside), "%s.damaged-%d", q, AGENT_DAMAGED_MAX);
	assert_int_equal(file_size(aside), (long)(l0 + 5));
	free(data);
	agent_state_clear(&st);
	for (int i = 0; i < 5; i++)
		free(pem[i]);
}

/* aw17mend: a new state folder <dir>/<name> with a queue of n certificates pem[0..n) saved. */
static void mend_setup(const char *name, char *qdir, size_t qlen, char *path, size_t plen,
    char **pem, int n, struct agent_state *st)
{
	agent_state_read_fn = read; /* after a failed test_mend_read_error too */
	snprintf(qdir, qlen, "%s/%s", dir, name);
	snprintf(path, plen, "%s/state.json", qdir);
	assert_int_equal(mkdir(qdir, 0700), 0);
	full_state(st);
	for (int i = 0; i < n; i++)
		st->backlog[st->n_backlog++] = strdup(pem[i]);
	assert_int_equal(agent_state_save(path, st), SC_OK);
	agent_state_clear(st);
	assert_int_equal(agent_state_load(path, st), SC_OK);
	assert_int_equal(st->n_backlog, (size_t)n);
}

/* Takes the front entry out of the queue (as set_aside does). */
static void mend_drop_front(struct agent_state *st)
{
	free(st->backlog[0]);
	memmove(st->backlog, st->backlog + 1, (st->n_backlog - 1) * sizeof(st->backlog[0]));
	st->backlog[--st->n_backlog] = NULL;
	agent_backlog_removed(st, 0);
}

/*
 * aw17mend (review of agentweak17): the damaged file kept aside is a hard link; if the unlink of
 * the queue's name after the salvage's commit did not happen (a crash, a failed save, a failed
 * unlink), the next rewrite of that name truncated and overwrote the copy kept. The rewrite now
 * makes a new file: the copy keeps its bytes, the queue is whole.
 */
static void test_mend_kept_copy_own_inode(void **state)
{
	struct agent_state st;
	char qdir[600], path[700], q0[800], aside[900], *pem[4], *data, *orig, *now;
	size_t len, olen, nlen;

	(void)state;
	for (int i = 0; i < 4; i++)
		pem[i] = real_pem(2000 + i);
	mend_setup("m1", qdir, sizeof(qdir), path, sizeof(path), pem, 3, &st);
	assert_int_equal(st.q_file, 0);
	snprintf(q0, sizeof(q0), "%s/backlog.0.pem", qdir);
	data = get_file(q0, &len);
	put_file(q0, data, strlen(pem[0]) + strlen(pem[1]) + 50); /* the third cut */
	/* backlog.1.pem holds what this salvage writes (an earlier try whose commit failed): not
	 * kept aside again (the other file is kept only when it holds something else). */
	snprintf(aside, sizeof(aside), "%s/backlog.1.pem", qdir);
	put_file(aside, data, strlen(pem[0]) + strlen(pem[1]));
	agent_state_clear(&st);
	assert_int_equal(agent_state_load(path, &st), SC_OK);
	assert_non_null(strstr(st.salvage, "kept aside as backlog.0.pem.damaged-1; 2 of 3"));
	assert_null(strstr(st.salvage, "not named"));
	snprintf(aside, sizeof(aside), "%s/backlog.1.pem.damaged-1", qdir);
	assert_int_equal(file_size(aside), -1);
	assert_int_equal(st.q_file, 1);
	assert_int_equal(st.n_backlog, 2);
	snprintf(aside, sizeof(aside), "%s.damaged-1", q0);
	orig = get_file(aside, &olen);
	assert_int_equal(olen, strlen(pem[0]) + strlen(pem[1]) + 50);
	/* The unlink that did not happen. */
	assert_int_equal(file_size(q0), -1);
	assert_int_equal(link(aside, q0), 0);
	/* The front taken, one added: the whole queue goes into backlog.0.pem, written anew. */
	mend_drop_front(&st);
	st.backlog[st.n_backlog++] = strdup(pem[3]);
	assert_int_equal(agent_state_save(path, &st), SC_OK);
	assert_int_equal(st.q_file, 0);
	now = get_file(aside, &nlen);
	assert_int_equal(nlen, olen);
	assert_memory_equal(now, orig, olen);
	free(now);
	now = get_file(q0, &nlen);
	assert_int_equal(nlen, strlen(pem[1]) + strlen(pem[3]));
	agent_state_clear(&st);
	assert_int_equal(agent_state_load(path, &st), SC_OK);
	assert_string_equal(st.salvage, "");
	assert_int_equal(st.n_backlog, 2);
	assert_string_equal(st.backlog[0], pem[1]);
	assert_string_equal(st.backlog[1], pem[3]);
	agent_state_clear(&st);
	free(now);
	free(orig);
	free(data);
	for (int i = 0; i < 4; i++)
		free(pem[i]);
}

static int mend_reads;

/* The first read gives at most 100 bytes, the next fails as a disk does (EIO). */
static ssize_t mend_eio_read(int fd, void *buf, size_t n)
{
	if (mend_reads++ == 0)
		return read(fd, buf, n < 100 ? n : 100);
	errno = EIO;
	return -1;
}

/*
 * aw17mend: a read error of the queue file is no truncation (salvaging what was read would
 * commit a cut queue): SC_ERR_IO naming the file and the error, nothing kept aside, nothing
 * committed; the next load (the next round) reads it whole. EIO cannot be made on demand here
 * (no root: no dm-error, no fault injection), so read(2) is replaced by agent_state_read_fn.
 */
static void test_mend_read_error(void **state)
{
	struct agent_state st;
	char qdir[600], path[700], q[800], aside[900], want[1000], *pem[2], *before, *after;
	size_t blen, alen;

	(void)state;
	for (int i = 0; i < 2; i++)
		pem[i] = real_pem(2100 + i);
	mend_setup("m2", qdir, sizeof(qdir), path, sizeof(path), pem, 2, &st);
	qname(qdir, &st, q, sizeof(q));
	agent_state_clear(&st);
	before = get_file(path, &blen);
	mend_reads = 0;
	agent_state_read_fn = mend_eio_read;
	sc_err_clear();
	assert_int_equal(agent_state_load(path, &st), SC_ERR_IO);
	agent_state_read_fn = read;
	assert_int_equal(mend_reads, 2);
	snprintf(want, sizeof(want), "%s: %s", q, strerror(EIO));
	assert_string_equal(sc_err_detail(), want);
	assert_int_equal(st.n_backlog, 0);
	snprintf(aside, sizeof(aside), "%s.damaged-1", q);
	assert_int_equal(file_size(aside), -1);
	after = get_file(path, &alen);
	assert_int_equal(alen, blen);
	assert_memory_equal(after, before, blen);
	assert_int_equal(file_size(q), (long)(strlen(pem[0]) + strlen(pem[1])));
	queue_is_n(path, 2);
	free(before);
	free(after);
	for (int i = 0; i < 2; i++)
		free(pem[i]);
}

/*
 * aw17mend: a queue file of nothing but header lines (4 MiB, the most state.json names) is
 * salvaged in one pass: the footer search is not repeated for every header (it was: 1 MiB took
 * 34 s, 4 MiB ~9 min, blocking the agent's start). Every header is a cut block: 0 salvaged,
 * 149796 unreadable.
 */
static void test_mend_headers_only(void **state)
{
	static const char head[] = "-----BEGIN CERTIFICATE-----\n";
	struct agent_state st;
	char qdir[600], path[700], q[800], from[64], to[64], want[200], *pem[2], *text, *big;
	const size_t lines = AGENT_STATE_MAX / (sizeof(head) - 1), n = lines * (sizeof(head) - 1);
	size_t tlen, len;

	(void)state;
	for (int i = 0; i < 2; i++)
		pem[i] = real_pem(2200 + i);
	mend_setup("m4", qdir, sizeof(qdir), path, sizeof(path), pem, 2, &st);
	qname(qdir, &st, q, sizeof(q));
	agent_state_clear(&st);
	len = strlen(pem[0]) + strlen(pem[1]);
	assert_non_null(big = malloc(n));
	for (size_t i = 0; i < lines; i++)
		memcpy(big + i * (sizeof(head) - 1), head, sizeof(head) - 1);
	put_file(q, big, n);
	free(big);
	text = get_file(path, &tlen);
	snprintf(from, sizeof(from), "\"bytes\": %zu", len);
	snprintf(to, sizeof(to), "\"bytes\": %zu", n);
	text = text_edit(text, from, to, &tlen);
	put_file(path, text, tlen);
	free(text);
	assert_int_equal(agent_state_load(path, &st), SC_OK);
	assert_int_equal(st.n_backlog, 0);
	snprintf(want, sizeof(want), "; 0 of 2 certificates salvaged (%zu unreadable)", lines);
	assert_int_equal(lines, 149796);
	assert_non_null(strstr(st.salvage, want));
	agent_state_clear(&st);
	for (int i = 0; i < 2; i++)
		free(pem[i]);
}

/*
 * aw17mend: when state.json names a missing queue file, the other file may hold the real queue
 * (an older state.json restored by an operator names the file before the last rewrite). The
 * salvage commits a queue in that other file; it is kept aside first (renamed, its own
 * damaged-N), and the salvage line says so; the next append makes a new file.
 */
static void test_mend_other_file_kept(void **state)
{
	struct agent_state st;
	char qdir[600], path[700], q0[800], q1[800], aside[900], want[2400], *pem[4], *older,
	    *saved, *now;
	size_t slen, olen, nlen;

	(void)state;
	for (int i = 0; i < 4; i++)
		pem[i] = real_pem(2300 + i);
	mend_setup("m5", qdir, sizeof(qdir), path, sizeof(path), pem, 3, &st);
	assert_int_equal(st.q_file, 0);
	saved = get_file(path, &slen); /* names backlog.0.pem, 3 */
	mend_drop_front(&st);
	assert_int_equal(agent_state_save(path, &st), SC_OK);
	assert_int_equal(st.q_file, 1);
	agent_state_clear(&st);
	snprintf(q0, sizeof(q0), "%s/backlog.0.pem", qdir);
	snprintf(q1, sizeof(q1), "%s/backlog.1.pem", qdir);
	assert_int_equal(file_size(q0), -1);
	older = get_file(q1, &olen);
	put_file(path, saved, slen); /* the older state.json restored */
	assert_int_equal(agent_state_load(path, &st), SC_OK);
	snprintf(want, sizeof(want),
	    "%s: damaged (missing); nothing to keep aside; 0 of 3 certificates salvaged (0 "
	    "unreadable), the queue goes on with them; backlog.1.pem (not named, not empty) kept "
	    "aside as backlog.1.pem.damaged-1",
	    q0);
	assert_string_equal(st.salvage, want);
	assert_int_equal(st.q_file, 1);
	assert_int_equal(file_size(q1), -1);
	snprintf(aside, sizeof(aside), "%s.damaged-1", q1);
	now = get_file(aside, &nlen);
	assert_int_equal(nlen, olen);
	assert_memory_equal(now, older, olen);
	free(now);
	/* The next certificate goes into backlog.1.pem, a new file: the copy unchanged. */
	st.backlog[st.n_backlog++] = strdup(pem[3]);
	assert_int_equal(agent_state_save(path, &st), SC_OK);
	agent_state_clear(&st);
	now = get_file(aside, &nlen);
	assert_int_equal(nlen, olen);
	assert_memory_equal(now, older, olen);
	free(now);
	assert_int_equal(file_size(q1), (long)strlen(pem[3]));
	queue_is_n(path, 1);
	free(older);
	free(saved);
	for (int i = 0; i < 4; i++)
		free(pem[i]);
}

/*
 * aw17mend: unregistered.pem is rotated at most once a flush: with RSA-4096 leaves a window
 * refused whole is more than 1 MiB, and a second rotation in the same flush dropped the part of
 * it already in .1. The same flush appends past the bound; the next flush rotates again.
 */
static void test_mend_unregistered_once(void **state)
{
	char udir[600], path[700], older[800], line[5000], want[5000], *fill;
	const size_t big = AGENT_UNREGISTERED_MAX - 100;
	int once = 0;

	(void)state;
	snprintf(udir, sizeof(udir), "%s/u", dir);
	assert_int_equal(mkdir(udir, 0700), 0);
	snprintf(path, sizeof(path), "%s/unregistered.pem", udir);
	snprintf(older, sizeof(older), "%s.1", path);
	assert_non_null(fill = malloc(big));
	memset(fill, 'x', big);
	put_file(path, fill, big);
	/* Below the bound: nothing. */
	assert_int_equal(agent_unregistered_rotate(path, 100, &once, line, sizeof(line)), 0);
	assert_string_equal(line, "");
	assert_int_equal(once, 0);
	/* Past it: rotated, once. */
	assert_int_equal(agent_unregistered_rotate(path, 1500, &once, line, sizeof(line)), 1);
	assert_int_equal(once, 1);
	snprintf(want, sizeof(want),
	    "unregistered.pem reached %zu bytes (1500 more would pass %d): moved to "
	    "unregistered.pem.1",
	    big, AGENT_UNREGISTERED_MAX);
	assert_string_equal(line, want);
	assert_int_equal(file_size(older), (long)big);
	assert_int_equal(file_size(path), -1);
	/* The same flush fills the new file past the bound: no second rotation, .1 kept. */
	memset(fill, 'y', big);
	put_file(path, fill, big);
	assert_int_equal(agent_unregistered_rotate(path, 1500, &once, line, sizeof(line)), 0);
	assert_string_equal(line, "");
	assert_int_equal(file_size(older), (long)big);
	assert_int_equal(file_size(path), (long)big);
	/* The next flush: rotated, replacing .1 (said). */
	once = 0;
	assert_int_equal(agent_unregistered_rotate(path, 1500, &once, line, sizeof(line)), 1);
	snprintf(want, sizeof(want),
	    "unregistered.pem reached %zu bytes (1500 more would pass %d): moved to "
	    "unregistered.pem.1, replacing the older one (%zu bytes dropped)",
	    big, AGENT_UNREGISTERED_MAX, big);
	assert_string_equal(line, want);
	assert_int_equal(once, 1);
	assert_int_equal(file_size(path), -1);
	free(fill);
}

/*
 * agentweak17: what the agent sends for a kept certificate (cert_text_json): the base64 of its
 * DER for one CERTIFICATE block that decodes, else the text as it is: another label, bad
 * base64, an empty block, two blocks, text after the block, no block at all.
 */
static void test_cert_text_json(void **state)
{
	char *pem = real_pem(77), *b64, buf[8192];
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	uint8_t *der = NULL;
	int dlen = i2d_X509(x, &der);
	json_t *j;
	static const char *const junk[] = {
		"",
		"not a certificate",
		"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
		"-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n",
		"-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n",
		"-----BEGIN CERTIFICATE-----\nAAAA\n",
	};

	(void)state;
	assert_true(dlen > 0);
	b64 = sc_base64_encode(der, (size_t)dlen);
	j = agent_cert_text_json(pem);
	assert_true(json_is_string(j));
	assert_string_equal(json_string_value(j), b64);
	assert_null(strstr(json_string_value(j), "-----"));
	json_decref(j);
	/* The fallback: the text itself. */
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		j = agent_cert_text_json(junk[i]);
		assert_true(json_is_string(j));
		assert_string_equal(json_string_value(j), junk[i]);
		json_decref(j);
	}
	snprintf(buf, sizeof(buf), "%s%s", pem, pem); /* two blocks */
	j = agent_cert_text_json(buf);
	assert_string_equal(json_string_value(j), buf);
	json_decref(j);
	snprintf(buf, sizeof(buf), "%sx\n", pem); /* text after it */
	j = agent_cert_text_json(buf);
	assert_string_equal(json_string_value(j), buf);
	json_decref(j);
	free(b64);
	OPENSSL_free(der);
	X509_free(x);
	BIO_free(b);
	free(pem);
}

/*
 * agentweak17: the queue is written 64 entries a pwritev; a short write (here RLIMIT_FSIZE in the
 * middle of an entry: the kernel writes up to the limit, then EFBIG) goes on from the entry's
 * offset and fails by name; state.json is not committed (the earlier state loads), and the same
 * save without the limit writes every entry whole.
 */
static void test_queue_short_write(void **state)
{
	struct agent_state st;
	struct rlimit was, lim;
	char qdir[600], path[700], q0[800];
	size_t total = 0;

	(void)state;
	snprintf(qdir, sizeof(qdir), "%s/w", dir);
	snprintf(path, sizeof(path), "%s/state.json", qdir);
	snprintf(q0, sizeof(q0), "%s/backlog.0.pem", qdir);
	assert_int_equal(mkdir(qdir, 0700), 0);
	full_state(&st);
	assert_int_equal(agent_state_save(path, &st), SC_OK);
	for (size_t i = 0; i < 200; i++) {
		st.backlog[st.n_backlog++] = pem_of(600 + i);
		total += strlen(st.backlog[i]);
	}
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &was), 0);
	lim = was;
	lim.rlim_cur = total / 2 + 7; /* inside an entry, past the first pwritev's 64 */
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	sc_err_clear();
	assert_int_equal(agent_state_save(path, &st), SC_ERR_IO);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &was), 0);
	signal(SIGXFSZ, SIG_DFL);
	assert_non_null(strstr(sc_err_detail(), "backlog.0.pem: File too large"));
	assert_int_equal(file_size(q0), (long)(total / 2 + 7));
	queue_is_n(path, 0);
	assert_int_equal(agent_state_save(path, &st), SC_OK);
	assert_int_equal(file_size(q0), (long)total);
	queue_is(path, &st);
	agent_state_clear(&st);
}

/*
 * agentq16: which batch verdicts set a queued certificate aside (for good) and which keep it
 * queued (the server's trouble, or a verdict this agent does not know): every code provd's
 * apierr.c names, by name.
 */
static void test_batch_refusal_final(void **state)
{
	static const char *const final[] = { "bad-der", "bad-value", "malformed-json", "wrong-type",
		"chain", "not-device-ca", "kek-mismatch", "algorithm", "policy", "binding",
		"unknown-device", "revoked", "profile-unknown", "profile-consumed",
		"profile-expired", "device-mismatch", "device-ca-changed", "replay",
		"body-too-large" };
	static const char *const again[] = { "internal", "unavailable", "rate-limited",
		"request-timeout", "json-too-deep", "missing-field", "unknown-field", "bad-base64",
		"bad-hex", "unauthorized", "admin-disabled", "not-found", "method-not-allowed",
		"unsupported-media-type", "bad-request", "already-registered", "bad-proof",
		"proof-expired", "proof-mismatch", "proof-required", "csrf", "", "BAD-DER",
		"bad-der ", "revoked\n", "some-new-code" };

	(void)state;
	for (size_t i = 0; i < sizeof(final) / sizeof(final[0]); i++)
		if (!agent_batch_refusal_final(final[i]))
			fail_msg("'%s' should set the certificate aside", final[i]);
	for (size_t i = 0; i < sizeof(again) / sizeof(again[0]); i++)
		if (agent_batch_refusal_final(again[i]))
			fail_msg("'%s' should keep the certificate queued", again[i]);
	assert_int_equal(agent_batch_refusal_final(NULL), 0);
}

/*
 * fix17: a batch answer's entry leaves the queue only on "registered" or "already-registered";
 * a refusal for good is set aside; anything else stays queued, and an entry the agent does not
 * understand says which field, exactly.
 */
static void test_batch_entry(void **state)
{
	static const struct {
		const char *json;
		enum agent_batch_verdict want;
		const char *odd;
	} cases[] = {
		{ "{\"status\":\"registered\"}", AGENT_BATCH_GONE, "" },
		{ "{\"status\":\"already-registered\",\"serial\":\"01\"}", AGENT_BATCH_GONE, "" },
		{ "{\"status\":\"refused\",\"error\":\"binding\"}", AGENT_BATCH_FINAL, "" },
		{ "{\"status\":\"refused\",\"error\":\"internal\"}", AGENT_BATCH_KEEP, "" },
		{ "{\"status\":\"refused\"}", AGENT_BATCH_KEEP, "" },
		{ "{\"status\":\"refused\",\"error\":7}", AGENT_BATCH_KEEP, "" },
		{ "{}", AGENT_BATCH_KEEP, "no \"status\"" },
		{ "{\"error\":\"binding\"}", AGENT_BATCH_KEEP, "no \"status\"" },
		{ "{\"status\":null}", AGENT_BATCH_KEEP, "\"status\" is not a string" },
		{ "{\"status\":7}", AGENT_BATCH_KEEP, "\"status\" is not a string" },
		{ "{\"status\":true}", AGENT_BATCH_KEEP, "\"status\" is not a string" },
		{ "{\"status\":[\"registered\"]}", AGENT_BATCH_KEEP, "\"status\" is not a string" },
		{ "{\"status\":\"accepted\"}", AGENT_BATCH_KEEP,
		    "\"status\" \"accepted\" is none of registered, already-registered, refused" },
		{ "{\"status\":\"\"}", AGENT_BATCH_KEEP,
		    "\"status\" \"\" is none of registered, already-registered, refused" },
		{ "{\"status\":\"Registered\"}", AGENT_BATCH_KEEP,
		    "\"status\" \"Registered\" is none of registered, already-registered, refused" },
		{ "{\"status\":\"registered \"}", AGENT_BATCH_KEEP,
		    "\"status\" \"registered \" is none of registered, already-registered, refused" },
		{ "{\"status\":\"a\\nb\\\"c\\u0000d\"}", AGENT_BATCH_KEEP,
		    "\"status\" \"a?b?c?d\" is none of registered, already-registered, refused" },
		{ "{\"status\":\"0123456789012345678901234567890123456789XY\"}", AGENT_BATCH_KEEP,
		    "\"status\" \"0123456789012345678901234567890123456789\"… is none of "
		    "registered, already-registered, refused" },
		{ "\"registered\"", AGENT_BATCH_KEEP, "the entry is not a JSON object" },
		{ "[{\"status\":\"registered\"}]", AGENT_BATCH_KEEP,
		    "the entry is not a JSON object" },
		{ "null", AGENT_BATCH_KEEP, "the entry is not a JSON object" },
	};
	char odd[160];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *e = json_loads(cases[i].json, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);

		assert_non_null(e);
		memset(odd, 'x', sizeof(odd));
		if (agent_batch_entry(e, odd, sizeof(odd)) != cases[i].want)
			fail_msg("%s: verdict", cases[i].json);
		assert_string_equal(odd, cases[i].odd);
		json_decref(e);
	}
	/* A missing entry (an answer shorter than the request is refused before; still kept). */
	assert_int_equal(agent_batch_entry(NULL, odd, sizeof(odd)), AGENT_BATCH_KEEP);
	assert_string_equal(odd, "the entry is not a JSON object");
}

/* hook.c's pure parts: --reload-signal's names, key.uri's text. */
static void test_hook_helpers(void **state)
{
	char uri[256];

	(void)state;
	assert_int_equal(agent_signal_from_name("HUP"), SIGHUP);
	assert_int_equal(agent_signal_from_name("sighup"), SIGHUP);
	assert_int_equal(agent_signal_from_name("SIGUSR2"), SIGUSR2);
	assert_int_equal(agent_signal_from_name("KILL"), -1); /* a reload, not a kill */
	assert_int_equal(agent_signal_from_name("SIG"), -1);
	assert_int_equal(agent_signal_from_name(""), -1);
	assert_int_equal(agent_signal_from_name("1"), -1);
	agent_key_uri("ACME-0001", 7, uri, sizeof(uri));
	assert_string_equal(uri, "pkcs11:token=ACME-0001;object=7;type=private");
	/* RFC 7512: reserved characters percent-encoded. */
	agent_key_uri("A B;c/d=e%", 4294967295u, uri, sizeof(uri));
	assert_string_equal(uri,
	    "pkcs11:token=A%20B%3Bc%2Fd%3De%25;object=4294967295;type=private");
}

/* #17 (dur11): the pending key's profile, kept to be sent back with its certificate. */
static char *pending_text(int with_pending)
{
	static const uint8_t der[] = { 0x30, 0x03, 0x02, 0x01, 0x07 };
	struct agent_state st;
	char *text = NULL, *out;
	size_t n;

	full_state(&st);
	assert_true(st.pending.present);
	st.pending_profile = OPENSSL_memdup(der, sizeof(der));
	st.pending_profile_len = sizeof(der);
	assert_non_null(st.pending_profile);
	if (!with_pending)
		agent_key_clear(&st.pending);
	assert_int_equal(agent_state_format(&st, &text), SC_OK);
	agent_state_clear(&st);
	if (with_pending)
		return text;
	/* Without a pending key the format leaves it out: put it in by hand. */
	assert_null(strstr(text, "pending_profile"));
	n = strlen(text) + 64;
	out = malloc(n);
	assert_non_null(out);
	snprintf(out, n, "{\"pending_profile\": \"MAMCAQc=\",%s", text + 1);
	free(text);
	return out;
}

/* dur11 review: an invalid "pending_profile" is dropped with a warning; the rest loads. */
static void dropped(const char *text, size_t n)
{
	struct agent_state st;

	assert_int_equal(agent_state_parse((const uint8_t *)text, n, "STATE", &st), SC_OK);
	assert_null(st.pending_profile);
	assert_int_equal(st.pending_profile_len, 0);
	assert_string_equal(st.warning,
	    "STATE: \"pending_profile\" dropped: not base64 of a profile (at most 16384 bytes) "
	    "beside a pending key");
	assert_true(st.current.present);
	agent_state_clear(&st);
}

static void pending_edit(const char *from, const char *to)
{
	size_t n;
	char *out = text_edit(pending_text(1), from, to, &n);

	dropped(out, n);
	free(out);
}

/*
 * agent14, crl14: "crl_until", the kept device CA CRL's nextUpdate, with "crl_for" (what it
 * was sent for), with or without a renewal profile (it outlives them).
 */
static char *crl_until_text(int with_renewal)
{
	static const uint8_t der[] = { 0x30, 0x03, 0x02, 0x01, 0x07 };
	struct agent_state st;
	char *text = NULL;

	full_state(&st);
	if (with_renewal) {
		st.renewal_der = OPENSSL_memdup(der, sizeof(der));
		st.renewal_len = sizeof(der);
		assert_non_null(st.renewal_der);
	}
	st.crl_until = 1796666778;
	assert_int_equal(agent_state_format(&st, &text), SC_OK);
	/* Without what it was sent for the format leaves it out. */
	assert_null(strstr(text, "crl_until"));
	free(text);
	snprintf(st.crl_for, sizeof(st.crl_for), "0123456789abcdef0123456789abcdef");
	assert_int_equal(agent_state_format(&st, &text), SC_OK);
	agent_state_clear(&st);
	return text;
}

/* An invalid "crl_until" or "crl_for" is dropped with a warning (advisory); the rest loads. */
static void crl_until_dropped(const char *from, const char *to, int warned)
{
	struct agent_state st;
	size_t n;
	char *out = text_edit(crl_until_text(1), from, to, &n);

	assert_int_equal(agent_state_parse((const uint8_t *)out, n, "STATE", &st), SC_OK);
	assert_int_equal(st.crl_until, 0);
	assert_string_equal(st.crl_for, "");
	assert_string_equal(st.warning,
	    warned ? "STATE: \"crl_until\" dropped: not a non-zero integer with \"crl_for\" (32 "
	             "hex digits)"
	           : "");
	assert_true(st.current.present);
	agent_state_clear(&st);
	free(out);
}

static void test_crl_until(void **state)
{
	struct agent_state st;
	char *text = NULL;

	(void)state;
	for (int with_renewal = 0; with_renewal <= 1; with_renewal++) {
		text = crl_until_text(with_renewal);
		assert_non_null(strstr(text, "\"crl_until\": 1796666778"));
		assert_non_null(strstr(text, "\"crl_for\": \"0123456789abcdef0123456789abcdef\""));
		assert_int_equal(agent_state_parse((const uint8_t *)text, strlen(text), "STATE",
		                     &st),
		    SC_OK);
		assert_int_equal(st.crl_until, 1796666778);
		assert_string_equal(st.crl_for, "0123456789abcdef0123456789abcdef");
		assert_int_equal(st.renewal_der != NULL, with_renewal);
		formats_back(text, &st);
		free(text);
	}
	crl_until_dropped("\"crl_until\": 1796666778", "\"crl_until\": \"1796666778\"", 1);
	crl_until_dropped("\"crl_until\": 1796666778", "\"crl_until\": 0", 1);
	crl_until_dropped("\"crl_until\": 1796666778", "\"crl_until\": -0", 1);
	/* crl15: negative is a refusal (test_crl_refused); the one past -INT64_MAX is not. */
	crl_until_dropped("\"crl_until\": 1796666778", "\"crl_until\": -9223372036854775808", 1);
	crl_until_dropped("\"crl_until\": 1796666778", "\"crl_until\": 1.5", 1);
	crl_until_dropped("\"crl_until\": 1796666778", "\"crl_until\": null", 1);
	crl_until_dropped("\"crl_until\": 1796666778", "\"crl_until\": [1796666778]", 1);
	crl_until_dropped("0123456789abcdef0123456789abcdef", "0123456789ABCDEF0123456789abcdef",
	    1);
	crl_until_dropped("0123456789abcdef0123456789abcdef", "0123456789abcdef0123456789abcde", 1);
	crl_until_dropped("0123456789abcdef0123456789abcdef", "0123456789abcdef0123456789abcdef0",
	    1);
	crl_until_dropped("\"0123456789abcdef0123456789abcdef\"", "17", 1);
	/* An agent14 state: "crl_until" alone, not trusted (one CRL sent again), no warning. */
	crl_until_dropped("\"crl_for\": \"0123456789abcdef0123456789abcdef\",", "", 0);
	/* Oversize: past int64, which JSON parsing refuses outright. */
	{
		char *t = crl_until_text(1), *at = strstr(t, "1796666778"), *out;
		size_t n = strlen(t) + 32;

		assert_non_null(at);
		out = malloc(n);
		assert_non_null(out);
		snprintf(out, n, "%.*s99999999999999999999999%s", (int)(at - t), t, at + 10);
		expect(out, strlen(out), SC_ERR_MALFORMED, "not JSON");
		free(out);
		free(t);
	}
}

/*
 * crl15: a refused CRL's end, kept as a negative "crl_until" (an agent of before crl15 drops it
 * with a warning): it wins over the kept nextUpdate, which is then not saved; it needs
 * "crl_for" as the nextUpdate does; it reads back alone.
 */
static void test_crl_refused(void **state)
{
	struct agent_state st;
	char *text = NULL, *again = NULL, *out;
	size_t n;

	(void)state;
	full_state(&st);
	st.crl_until = 1796666778;
	st.crl_refused_until = 1796000000;
	assert_int_equal(agent_state_format(&st, &text), SC_OK);
	assert_null(strstr(text, "crl_until")); /* no "crl_for": neither */
	free(text);
	snprintf(st.crl_for, sizeof(st.crl_for), "0123456789abcdef0123456789abcdef");
	assert_int_equal(agent_state_format(&st, &text), SC_OK);
	agent_state_clear(&st);
	assert_non_null(strstr(text, "\"crl_until\": -1796000000"));
	assert_null(strstr(text, "1796666778"));
	assert_int_equal(agent_state_parse((const uint8_t *)text, strlen(text), "STATE", &st),
	    SC_OK);
	assert_int_equal(st.crl_refused_until, 1796000000);
	assert_int_equal(st.crl_until, 0);
	assert_string_equal(st.crl_for, "0123456789abcdef0123456789abcdef");
	/* The refusal over: the nextUpdate is saved again. */
	st.crl_refused_until = 0;
	st.crl_until = 1796666778;
	assert_int_equal(agent_state_format(&st, &again), SC_OK);
	assert_non_null(strstr(again, "\"crl_until\": 1796666778"));
	free(again);
	st.crl_refused_until = 1796000000;
	st.crl_until = 0;
	formats_back(text, &st);
	/* The most negative there is; wrong type. */
	out = text_edit(strdup(text), "-1796000000", "-9223372036854775807", &n);
	assert_int_equal(agent_state_parse((const uint8_t *)out, n, "STATE", &st), SC_OK);
	assert_int_equal(st.crl_refused_until, INT64_MAX);
	agent_state_clear(&st);
	free(out);
	out = text_edit(strdup(text), "-1796000000", "\"-1796000000\"", &n);
	assert_int_equal(agent_state_parse((const uint8_t *)out, n, "STATE", &st), SC_OK);
	assert_int_equal(st.crl_refused_until, 0);
	assert_string_equal(st.warning,
	    "STATE: \"crl_until\" dropped: not a non-zero integer with \"crl_for\" (32 hex "
	    "digits)");
	agent_state_clear(&st);
	free(out);
	free(text);
}

/* crl15: one answer's text through agent_cert_answer_crl; *until as it set it. */
static int crl_answer(const char *text, int64_t *until)
{
	json_error_t err;
	json_t *j = json_loads(text, JSON_ALLOW_NUL, &err);
	int said;

	assert_non_null(j);
	*until = -7;
	said = agent_cert_answer_crl(j, until);
	json_decref(j);
	return said;
}

/*
 * crl15: the registration answer's "crl_until" (RFC 3339) or "crl":"none"; anything else says
 * nothing (an older server), *until 0: truncated, trailing data (after the time, or after a NUL
 * inside the string), oversize, wrong types, before 1970.
 */
static void test_crl_answer(void **state)
{
	char big[128], *text;
	int64_t until = 0;

	(void)state;
	assert_int_equal(
	    crl_answer("{\"status\":\"registered\",\"crl_until\":\"2026-12-07T18:06:18Z\"}",
	        &until),
	    1);
	assert_int_equal(until, 1796666778);
	assert_int_equal(crl_answer("{\"crl\":\"kept\",\"crl_until\":\"2026-12-07T18:06:18Z\"}",
	                     &until),
	    1);
	assert_int_equal(until, 1796666778);
	assert_int_equal(crl_answer("{\"status\":\"registered\",\"crl\":\"none\"}", &until), 1);
	assert_int_equal(until, 0);
	/* Says nothing: no field, another "crl", and every damaged "crl_until". */
	static const char *const nothing[] = {
		"{\"status\":\"registered\"}",
		"{\"crl\":\"kept\"}",
		"{\"crl\":\"not-kept\"}",
		"{\"crl\":5}",
		"{\"crl_until\":\"2026-12-07T18:06:1\"}",
		"{\"crl_until\":\"2026-12-07T18:06:18Zx\"}",
		"{\"crl_until\":\"2026-12-07T18:06:18Z\\u0000x\"}",
		"{\"crl_until\":\"\"}",
		"{\"crl_until\":1796666778}",
		"{\"crl_until\":null}",
		"{\"crl_until\":[\"2026-12-07T18:06:18Z\"]}",
		"{\"crl_until\":\"1969-12-31T23:59:59Z\"}",
		"{\"crl_until\":7,\"crl\":\"none\"}",
	};
	for (size_t i = 0; i < sizeof(nothing) / sizeof(nothing[0]); i++) {
		assert_int_equal(crl_answer(nothing[i], &until), 0);
		assert_int_equal(until, 0);
	}
	/* Oversize: a valid time padded with fractions past AGENT_TIME_TEXT_MAX. */
	snprintf(big, sizeof(big), "2026-12-07T18:06:18.%0*dZ", AGENT_TIME_TEXT_MAX - 20, 0);
	assert_int_equal(strlen(big), AGENT_TIME_TEXT_MAX + 1);
	text = malloc(strlen(big) + 32);
	assert_non_null(text);
	sprintf(text, "{\"crl_until\":\"%s\"}", big);
	assert_int_equal(crl_answer(text, &until), 0);
	big[strlen(big) - 2] = 'Z'; /* one character shorter: at the limit, read */
	big[strlen(big) - 1] = '\0';
	sprintf(text, "{\"crl_until\":\"%s\"}", big);
	assert_int_equal(crl_answer(text, &until), 1);
	assert_int_equal(until, 1796666778);
	free(text);
}

/*
 * crl15b: which SP answers refuse a CRL for good (an allow-list): exactly unknown-request,
 * key-usage, extension, gate and state, of every code there is; a TPM's, a clock's (validity,
 * stale), an internal, a signature's or an encoding's trouble is asked again.
 */
static void test_crl_sp_refusal(void **state)
{
	char said[512] = "";

	(void)state;
	for (int e = SC_OK; e >= (int)SC_ERR_LAST - 1; e--)
		if (agent_sp_refuses_crl((sc_err)e)) {
			strcat(said, sc_err_name((sc_err)e));
			strcat(said, " ");
		}
	assert_string_equal(said, "extension state key-usage unknown-request gate ");
	assert_int_equal(agent_sp_refuses_crl(SC_ERR_TPM), 0);
	assert_int_equal(agent_sp_refuses_crl(SC_ERR_INTERNAL), 0);
	assert_int_equal(agent_sp_refuses_crl(SC_ERR_VALIDITY), 0);
	assert_int_equal(agent_sp_refuses_crl(SC_ERR_STALE), 0);
	assert_int_equal(agent_sp_refuses_crl(SC_ERR_SIGNATURE), 0);
	assert_int_equal(agent_sp_refuses_crl(SC_ERR_MALFORMED), 0);
	assert_int_equal(agent_sp_refuses_crl(SC_ERR_IO), 0);
	assert_int_equal(agent_sp_refuses_crl(SC_ERR_PEER), 0);
}

/*
 * crl15b: a refusal for good lasts to cover; "not-kept" or bad-value to the earlier of cover
 * and a day from now.
 */
static void test_crl_refused_end(void **state)
{
	const int64_t now = 1796000000;

	(void)state;
	assert_int_equal(AGENT_CRL_RETRY, 86400);
	assert_int_equal(agent_crl_refused_end(1, now + 40 * 86400, now), now + 40 * 86400);
	assert_int_equal(agent_crl_refused_end(0, now + 40 * 86400, now), now + 86400);
	assert_int_equal(agent_crl_refused_end(0, now + 86401, now), now + 86400);
	assert_int_equal(agent_crl_refused_end(0, now + 86400, now), now + 86400);
	assert_int_equal(agent_crl_refused_end(0, now + 6 * 3600, now), now + 6 * 3600);
	assert_int_equal(agent_crl_refused_end(1, now + 6 * 3600, now), now + 6 * 3600);
}

/* crl15b: what crl_until becomes after an answer (agent_crl_heard_until). */
static int64_t heard(const char *text, int64_t had, int64_t sent_kept)
{
	json_error_t err;
	json_t *j = json_loads(text, 0, &err);
	int64_t v;

	assert_non_null(j);
	v = agent_crl_heard_until(j, had, sent_kept);
	json_decref(j);
	return v;
}

/*
 * crl15b: a "kept" answer whose "crl_until" is below the CRL just sent (in the past, or short of
 * what it covers) is not believed; equal or above, or without a CRL sent, it is.
 */
static void test_crl_heard(void **state)
{
	const int64_t sent = 1796666778; /* 2026-12-07T18:06:18Z */

	(void)state;
	assert_int_equal(heard("{\"crl\":\"kept\",\"crl_until\":\"2026-12-07T18:06:18Z\"}", 5,
	                     sent),
	    sent);
	assert_int_equal(heard("{\"crl\":\"kept\",\"crl_until\":\"2026-12-07T18:06:19Z\"}", 5,
	                     sent),
	    sent + 1);
	assert_int_equal(heard("{\"crl\":\"kept\",\"crl_until\":\"2026-12-07T18:06:17Z\"}", sent,
	                     sent),
	    sent);
	assert_int_equal(heard("{\"crl\":\"kept\",\"crl_until\":\"2001-01-01T00:00:00Z\"}", sent,
	                     sent),
	    sent);
	/* Nothing sent (a batch, a registration without a CRL): the server's word stands. */
	assert_int_equal(heard("{\"crl_until\":\"2001-01-01T00:00:00Z\"}", sent, 0), 978307200);
	assert_int_equal(heard("{\"crl\":\"none\"}", sent, 0), 0);
	/* Says nothing: what the agent had. */
	assert_int_equal(heard("{\"crl\":\"kept\"}", sent, sent), sent);
	assert_int_equal(heard("{\"status\":\"registered\"}", 42, 0), 42);
	assert_int_equal(agent_crl_heard_until(NULL, 42, 0), 42);
}

static void test_pending_profile(void **state)
{
	struct agent_state st;
	char *text = pending_text(1), *big;
	size_t n;

	(void)state;
	assert_non_null(strstr(text, "\"pending_profile\": \"MAMCAQc=\""));
	assert_int_equal(agent_state_parse((const uint8_t *)text, strlen(text), "STATE", &st),
	    SC_OK);
	assert_int_equal(st.pending_profile_len, 5);
	assert_int_equal(st.pending_profile[4], 7);
	formats_back(text, &st);
	free(text);
	/* Wrong type, bad base64, empty, oversize; and one without a pending key: dropped. */
	pending_edit("\"pending_profile\": \"MAMCAQc=\"", "\"pending_profile\": 5");
	pending_edit("\"pending_profile\": \"MAMCAQc=\"", "\"pending_profile\": \"MAMCAQc\"");
	pending_edit("\"pending_profile\": \"MAMCAQc=\"", "\"pending_profile\": \"\"");
	n = 4 * ((SC_PROFILE_MAX_DER + 2) / 3) + 8;
	big = malloc(n + 64);
	assert_non_null(big);
	memcpy(big, "\"pending_profile\": \"", 20);
	memset(big + 20, 'A', n);
	memcpy(big + 20 + n, "\"", 2);
	pending_edit("\"pending_profile\": \"MAMCAQc=\"", big);
	free(big);
	text = pending_text(0);
	dropped(text, strlen(text));
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_truncation_trailing),
		cmocka_unit_test(test_oversize),
		cmocka_unit_test(test_wrong_types),
		cmocka_unit_test(test_hook_helpers),
		cmocka_unit_test(test_renewal_fields),
		cmocka_unit_test(test_backlog_full_fits),
		cmocka_unit_test(test_queue_file),
		cmocka_unit_test(test_queue_salvage),
		cmocka_unit_test(test_mend_kept_copy_own_inode),
		cmocka_unit_test(test_mend_read_error),
		cmocka_unit_test(test_mend_headers_only),
		cmocka_unit_test(test_mend_other_file_kept),
		cmocka_unit_test(test_mend_unregistered_once),
		cmocka_unit_test(test_cert_text_json),
		cmocka_unit_test(test_queue_short_write),
		cmocka_unit_test(test_batch_refusal_final),
		cmocka_unit_test(test_batch_entry),
		cmocka_unit_test(test_pending_profile),
		cmocka_unit_test(test_crl_until),
		cmocka_unit_test(test_crl_refused),
		cmocka_unit_test(test_crl_answer),
		cmocka_unit_test(test_crl_sp_refusal),
		cmocka_unit_test(test_crl_refused_end),
		cmocka_unit_test(test_crl_heard),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
