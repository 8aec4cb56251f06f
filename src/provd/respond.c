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

void provd_respond_json(struct provd_response *resp, int status, json_t *j)
{
	/*
	 * req19: json_dump_callback writes straight into the body (json_dumps's text, then '\n'),
	 * instead of json_dumps's buffer, its strdup and a third copy for the newline.
	 */
	struct dump_buf b = { NULL, 0, 4096 };
	int ok = j != NULL && (b.s = malloc(b.cap)) != NULL &&
	    json_dump_callback(j, dump_into, &b, JSON_COMPACT) == 0;

	json_decref(j);
	free(resp->body);
	resp->body = NULL;
	resp->content_type = PROVD_JSON_TYPE;
	if (!ok) {
		static const char fallback[] =
		    "{\"error\":\"internal\",\"detail\":\"cannot encode the answer\"}\n";
		free(b.s);
		resp->status = 500;
		resp->code = PROVD_E_INTERNAL;
		if ((resp->body = strdup(fallback)) != NULL)
			resp->body_len = strlen(fallback);
		return;
	}
	/* One line, newline-terminated, for people and line-oriented tools. */
	resp->status = status;
	b.s[b.len++] = '\n';
	b.s[b.len] = '\0';
	resp->body = b.s;
	resp->body_len = b.len;
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
