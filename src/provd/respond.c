// SPDX-License-Identifier: Apache-2.0
/*
 * respond.c — building answers (respond.h): the JSON body, the one error answer, the log line.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "api.h"
#include "respond.h"
#include "file.h"
#include "text.h"
#include "json.h"

#define DETAIL_MAX 240

void provd_response_clear(struct provd_response *resp)
{
	free(resp->body);
	resp->body = NULL;
	resp->body_len = 0;
}

/* req19: an answer's text as jansson dumps it, gathered in one buffer with room for '\n'. */
struct dump_buf {
	char *s;
	size_t len, cap;
};

static int dump_into(const char *text, size_t n, void *data)
{
	struct dump_buf *b = data;

	if (n > b->cap - b->len - 2) {
		size_t cap = b->cap;
		char *ns;

		while (n > cap - b->len - 2) {
			if (cap > (size_t)1 << 30)
				return -1;
			cap *= 2;
		}
		if ((ns = realloc(b->s, cap)) == NULL)
			return -1;
		b->s = ns;
		b->cap = cap;
	}
	memcpy(b->s + b->len, text, n);
	b->len += n;
	return 0;
}

/* j's compact text (json_dumps's) into b, with room for '\n' and NUL; 0 on failure (b freed). */
static int dump_json(json_t *j, struct dump_buf *b)
{
	b->len = 0;
	b->cap = 4096;
	if (j == NULL || (b->s = malloc(b->cap)) == NULL)
		return 0;
	if (json_dump_callback(j, dump_into, b, JSON_COMPACT) != 0) {
		free(b->s);
		b->s = NULL;
		return 0;
	}
	return 1;
}

/* The answer: b's text and '\n' (b taken), or the one internal error if !ok. */
static void respond_dumped(struct provd_response *resp, int status, int ok, struct dump_buf *b)
{
	free(resp->body);
	resp->body = NULL;
	resp->content_type = PROVD_JSON_TYPE;
	if (!ok) {
		static const char fallback[] =
		    "{\"error\":\"internal\",\"detail\":\"cannot encode the answer\"}\n";
		resp->status = 500;
		resp->code = PROVD_E_INTERNAL;
		if ((resp->body = strdup(fallback)) != NULL)
			resp->body_len = strlen(fallback);
		return;
	}
	/* One line, newline-terminated, for people and line-oriented tools. */
	resp->status = status;
	b->s[b->len++] = '\n';
	b->s[b->len] = '\0';
	resp->body = b->s;
	resp->body_len = b->len;
}

void provd_respond_json(struct provd_response *resp, int status, json_t *j)
{
	/*
	 * req19: json_dump_callback writes straight into the body (json_dumps's text, then '\n'),
	 * instead of json_dumps's buffer, its strdup and a third copy for the newline.
	 */
	struct dump_buf b = { NULL, 0, 0 };
	int ok = dump_json(j, &b);

	json_decref(j);
	respond_dumped(resp, status, ok, &b);
}

/*
 * Where "key":"PROVD_B64_MARK" is in text: the mark's offset, or -1 unless exactly once. A '"'
 * inside a string is written \", so the raw "key":" only opens a member named key; the caller
 * saw the mark as j's own member, so once means that one.
 */
static long mark_at(const char *text, size_t len, const char *key)
{
	size_t klen = strlen(key), mlen = strlen(PROVD_B64_MARK);
	long at = -1;

	for (const char *q = text; (q = memchr(q, '~', len - (size_t)(q - text))) != NULL; q++) {
		size_t i = (size_t)(q - text);

		if (len - i < mlen + 1 || memcmp(q, PROVD_B64_MARK, mlen) != 0 || q[mlen] != '"')
			continue;
		if (i < klen + 4 || text[i - 1] != '"' || text[i - 2] != ':' ||
		    text[i - 3] != '"' || memcmp(text + i - 3 - klen, key, klen) != 0 ||
		    text[i - 4 - klen] != '"')
			continue;
		if (at >= 0)
			return -1;
		at = (long)i;
	}
	return at;
}

void provd_respond_json_b64(struct provd_response *resp, int status, json_t *j, const char *key,
    const char *b64, size_t n)
{
	struct dump_buf b = { NULL, 0, 0 };
	size_t mlen = strlen(PROVD_B64_MARK);
	long at;
	char *s;

	json_t *m = j != NULL ? json_object_get(j, key) : NULL;

	if (json_is_string(m) && strcmp(json_string_value(m), PROVD_B64_MARK) == 0 &&
	    provd_b64_clean(b64, n) && dump_json(j, &b)) {
		if ((at = mark_at(b.s, b.len, key)) >= 0 &&
		    (s = malloc(b.len - mlen + n + 2)) != NULL) {
			size_t tail = b.len - (size_t)at - mlen;

			memcpy(s, b.s, (size_t)at);
			memcpy(s + at, b64, n);
			memcpy(s + (size_t)at + n, b.s + (size_t)at + mlen, tail);
			free(b.s);
			b.s = s;
			b.len = (size_t)at + n + tail;
			json_decref(j);
			respond_dumped(resp, status, 1, &b);
			return;
		}
		free(b.s);
	}
	/* The plain way: the member set, j dumped (a failed set is the internal error). */
	if (j != NULL && json_object_set_new(j, key, json_stringn(b64, n)) != 0) {
		json_decref(j);
		j = NULL;
	}
	provd_respond_json(resp, status, j);
}

/* Printable ASCII only in details (they echo bits of the input). */
static void clean(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			*s = '?';
}

void provd_respond_failure(struct provd_response *resp, sc_err r)
{
	const struct provd_apierr *row = provd_apierr_find(r);
	int code = row != NULL ? (int)row->code : PROVD_E_INTERNAL;
	char detail[DETAIL_MAX];

	if (row != NULL)
		snprintf(detail, sizeof(detail), "%s", sc_err_detail());
	else
		snprintf(detail, sizeof(detail), "%s: %s", sc_err_name(r), sc_err_detail());
	clean(detail);
	if (row != NULL && (row->flags & PROVD_AE_RETRY_AFTER))
		resp->retry_after = resp->retry_after > 0 ? resp->retry_after : 1;
	else
		resp->retry_after = 0;
	provd_respond_json(resp, row != NULL ? row->status : 500,
	    json_pack("{s:s, s:s}", "error", provd_code_name(code), "detail", detail));
	resp->code = code;
	provd_log_add(resp, "%s: %s", provd_code_name(code), detail);
}

void provd_api_error(struct provd_response *resp, sc_err e, const char *detail)
{
	provd_respond_failure(resp, sc_fail(e, "%s", detail));
}

void provd_log_add(struct provd_response *resp, const char *fmt, ...)
{
	size_t n = strlen(resp->log);
	va_list ap;

	if (n + 2 >= sizeof(resp->log))
		return;
	if (n > 0)
		resp->log[n++] = ' ';
	va_start(ap, fmt);
	vsnprintf(resp->log + n, sizeof(resp->log) - n, fmt, ap);
	va_end(ap);
	clean(resp->log);
}

void provd_time_str(int64_t t, char *out, size_t n)
{
	sc_format_time((time_t)t, out, n);
}
