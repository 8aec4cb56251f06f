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
 * req19: provd_respond_json's answer for j with its member `key` set to the string b64 (n
 * bytes), where j holds PROVD_B64_MARK in that member's place: j is dumped with the mark and
 * the mark's bytes replaced by b64's, which is what jansson writes for a string of base64
 * characters (no escapes), without jansson reading b64 byte by byte. Anything else (b64 not
 * all base64, the mark not found once as key's value) is answered by setting the member and
 * dumping j as provd_respond_json does. Takes j.
 */
#define PROVD_B64_MARK "~sc~b64~"
void provd_respond_json_b64(struct provd_response *resp, int status, json_t *j, const char *key,
    const char *b64, size_t n);

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
