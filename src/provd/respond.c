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

void provd_respond_json(struct provd_response *resp, int status, json_t *j)
{
	char *s = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	free(resp->body);
	resp->body = NULL;
	resp->content_type = PROVD_JSON_TYPE;
	if (s == NULL) {
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
	resp->body_len = strlen(s);
	if ((resp->body = malloc(resp->body_len + 2)) == NULL) {
		resp->body = s;
		return;
	}
	memcpy(resp->body, s, resp->body_len);
	resp->body[resp->body_len++] = '\n';
	resp->body[resp->body_len] = '\0';
	free(s);
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
