// SPDX-License-Identifier: Apache-2.0
/*
 * log.c — the daemons' one log-line writer (log.h): format, escape, write the line whole; under
 * systemd (JOURNAL_STREAM names our stderr) each line opens with its syslog priority, <3> <4> <6>.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "log.h"

static const char *log_prog = "selfcert";
static int log_journal; /* stderr is the journal's stream: prefix "<N>" (sd-daemon(3)) */

void sc_log_init(const char *prog)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char tail;

	log_prog = prog;
	/* "dev:ino" of the journal's socket; only our own stderr counts (not one we inherited and
	 * then redirected to a file, where "<6>" would be noise). */
	log_journal = js != NULL && sscanf(js, "%llu:%llu%c", &dev, &ino, &tail) == 2 &&
	    fstat(2, &st) == 0 && (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

/* The priority prefix of a line: errors 3, "warning…" 4, the rest 6 (info); "" off journald. */
static const char *log_prefix(const char *err_name, const char *text)
{
	if (!log_journal)
		return "";
	if (err_name != NULL)
		return "<3>";
	return strncmp(text, "warning", 7) == 0 ? "<4>" : "<6>";
}

/* Escape control bytes (and DEL) of src into dst as \xNN; cut with "..." when dst is full. */
static void escape_into(char *dst, size_t cap, const char *src)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (const unsigned char *p = (const unsigned char *)src; *p != '\0'; p++) {
		size_t need = (*p < 0x20 || *p == 0x7f) ? 4 : 1;
		if (o + need + 4 > cap) { /* room for "...", NUL */
			memcpy(dst + o, "...", 3);
			o += 3;
			break;
		}
		if (need == 4) {
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[*p >> 4];
			dst[o++] = hex[*p & 0xf];
		} else {
			dst[o++] = (char)*p;
		}
	}
	dst[o] = '\0';
}

__attribute__((format(printf, 2, 0))) static void log_line(const char *err_name, const char *fmt,
    va_list ap)
{
	char text[SC_LOG_LINE_MAX], line[SC_LOG_LINE_MAX];

	vsnprintf(text, sizeof(text), fmt, ap);
	escape_into(line, sizeof(line), text);
	/* One call per line: stdio locks the stream for it, so threads never interleave. */
	if (err_name != NULL)
		fprintf(stderr, "%s%s: %s: %s\n", log_prefix(err_name, line), log_prog, err_name,
		    line);
	else
		fprintf(stderr, "%s%s: %s\n", log_prefix(NULL, line), log_prog, line);
}

void sc_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_line(NULL, fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 2, 3))) static void log_detail(const char *err_name, const char *fmt,
    ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_line(err_name, fmt, ap);
	va_end(ap);
}

void sc_log_failure(sc_err e)
{
	log_detail(sc_err_name(e), "%s", sc_err_detail());
}

void sc_log_err(sc_err e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_line(sc_err_name(e), fmt, ap);
	va_end(ap);
}

void sc_log_named(const char *name, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_line(name, fmt, ap);
	va_end(ap);
}

void sc_log_usage_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_line("usage", fmt, ap);
	va_end(ap);
	exit(2);
}
