// SPDX-License-Identifier: Apache-2.0
/*
 * log.h — the one log-line writer of the three daemons (selfcert-spd, selfcert-provd,
 * selfcert-agent) (internal). Every line is "<program>: <text>\n" on stderr, written whole (so
 * threads never interleave), and every control byte in it is written as \xNN, so nothing a client
 * sends (a URL, a device ID, a detail) can forge a line of its own.
 */
#ifndef SC_LOG_H
#define SC_LOG_H

#include <selfcert/err.h>

#define SC_LOG_LINE_MAX 2048 /* longer lines are cut, and end in "..." */

/* The program name that opens every line ("selfcert-spd"); a static string. Call once, first. */
void sc_log_init(const char *prog);

/* "<program>: <text>". */
void sc_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "<program>: <error-name>: <text>". */
void sc_log_err(sc_err e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "<program>: <name>: <text>" for an error named by someone else (a server's refusal code). */
void sc_log_named(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "<program>: <error-name>: <detail>", the detail of the last sc_fail on this thread. */
void sc_log_failure(sc_err e);

/* "<program>: usage: <text>", then exit(2) (the usage exit code of every program). */
void sc_log_usage_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
