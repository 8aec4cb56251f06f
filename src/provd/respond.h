// SPDX-License-Identifier: Apache-2.0
/*
 * respond.h — the provisioning API's answers: a JSON success body, the one error answer
 * {"error","detail"} built from an sc_err through apierr.h's table, and the request's log line.
 * Answers are one JSON object on one line, newline-terminated.
 */
#ifndef SC_PROVD_RESPOND_H
#define SC_PROVD_RESPOND_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <selfcert/err.h>

struct provd_response;

#define PROVD_JSON_TYPE "application/json"
#define PROVD_PEM_TYPE "application/x-pem-file" /* GET /v1/crls: PEM CRLs, one after another */
#define PROVD_METRICS_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Make j (taken, even when NULL) the body with this status; 500 internal if it will not encode. */
void provd_respond_json(struct provd_response *resp, int status, json_t *j);

/*
 * The error answer for r: code and status from apierr.h's table (an sc_err it does not list is
 * internal, 500, its name prefixed to the detail), the detail of the last sc_fail on this
 * thread (printable ASCII, at most 239 bytes), Retry-After where the table says so, and the code
 * and detail appended to the log line.
 */
void provd_respond_failure(struct provd_response *resp, sc_err r);

/* Append " key=value …" to the request's log line (printable ASCII only; cut when full). */
void provd_log_add(struct provd_response *resp, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* RFC 3339 UTC ("2027-01-31T00:00:00Z") into out (at least 21 bytes). */
void provd_time_str(int64_t t, char *out, size_t n);

#endif
