// SPDX-License-Identifier: Apache-2.0
/*
 * import_csv.c — the activation feed: a CSV file of `device_id[,note]` lines, parsed and
 * checked here, line by line, and handed as rows to the registry, which adds them all in one
 * transaction or none (sc_reg_import_rows).
 */
#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <selfcert/cert.h>
#include "registry.h"
#include "backend.h"

/*
 * Split one CSV line (no line end) into at most max fields, unquoting "…" fields in place.
 * Returns the number of fields, or -1 if the line is not valid CSV or has more than max.
 */
static int csv_split(char *line, char **fields, int max)
{
	int n = 0;
	char *p = line;

	for (;;) {
		char *w;

		if (n == max)
			return -1;
		if (*p == '"') {
			/* Quoted: "" is a quote; the field must end at the closing quote. */
			fields[n++] = w = ++p;
			for (;;) {
				if (*p == '\0')
					return -1;
				if (*p == '"' && p[1] == '"') {
					*w++ = '"';
					p += 2;
				} else if (*p == '"') {
					p++;
					break;
				} else {
					*w++ = *p++;
				}
			}
			*w = '\0';
			if (*p != ',' && *p != '\0')
				return -1;
		} else {
			fields[n++] = p;
			while (*p != ',' && *p != '\0') {
				if (*p == '"')
					return -1;
				p++;
			}
		}
		if (*p == '\0')
			return n;
		*p++ = '\0';
	}
}

enum { LINE_OK, LINE_EOF, LINE_TOO_LONG, LINE_NUL };

/*
 * One line without its '\n' into out (NUL-terminated). Byte by byte, so that a NUL inside the
 * line is seen (fgets would hide it) and nothing longer than out is ever buffered.
 */
static int read_line(FILE *f, char *out, size_t out_len, size_t *len)
{
	size_t n = 0;
	int c, nul = 0;

	*len = 0;
	while ((c = getc(f)) != EOF && c != '\n') {
		if (n + 1 >= out_len) {
			while ((c = getc(f)) != EOF && c != '\n')
				;
			return LINE_TOO_LONG;
		}
		nul |= c == '\0';
		out[n++] = (char)c;
	}
	out[n] = '\0';
	if (c == EOF && n == 0)
		return LINE_EOF;
	*len = n;
	return nul ? LINE_NUL : LINE_OK;
}

/* The parser's place in one file. */
struct csv_reader {
	FILE *f;
	const char *path;
	char line[SC_REG_CSV_LINE_MAX + 1];
	size_t lineno, n_lines; /* lines read; lines that name a device (or the header) */
};

/* One line's device into row (pointing into rd->line), or *more = 0 at the end of the file. */
static sc_err csv_next(void *ctx, struct sc_reg_row *row, int *more)
{
	struct csv_reader *rd = ctx;
	char *fields[2];
	size_t len;
	int nf, got;

	*more = 0;
	for (;;) {
		if ((got = read_line(rd->f, rd->line, sizeof(rd->line), &len)) == LINE_EOF) {
			if (ferror(rd->f))
				return sc_fail(SC_ERR_IO, "%s: read error", rd->path);
			return SC_OK;
		}
		rd->lineno++;
		if (got == LINE_TOO_LONG)
			return sc_fail(SC_ERR_MALFORMED, "%s:%zu: line longer than %d bytes",
			    rd->path, rd->lineno, SC_REG_CSV_LINE_MAX);
		if (got == LINE_NUL)
			return sc_fail(SC_ERR_MALFORMED, "%s:%zu: a NUL byte in the line", rd->path,
			    rd->lineno);
		if (len > 0 && rd->line[len - 1] == '\r')
			rd->line[--len] = '\0';
		if (len == 0 || rd->line[0] == '#')
			continue;
		if (++rd->n_lines > SC_REG_CSV_MAX_LINES)
			return sc_fail(SC_ERR_OVERSIZE, "%s: more than %d devices in one import",
			    rd->path, SC_REG_CSV_MAX_LINES);
		if ((nf = csv_split(rd->line, fields, 2)) < 0)
			return sc_fail(SC_ERR_MALFORMED, "%s:%zu: expected device_id[,note] (CSV)",
			    rd->path, rd->lineno);
		if (rd->n_lines == 1 && strcmp(fields[0], "device_id") == 0)
			continue; /* the header */
		if (!sc_device_id_valid(fields[0]))
			return sc_fail(SC_ERR_MALFORMED,
			    "%s:%zu: device ID '%.64s' is not 1..64 PrintableString characters",
			    rd->path, rd->lineno, fields[0]);
		if (nf == 2 && strlen(fields[1]) > SC_REG_NOTE_MAX)
			return sc_fail(SC_ERR_MALFORMED, "%s:%zu: note longer than %d bytes",
			    rd->path, rd->lineno, SC_REG_NOTE_MAX);
		row->device_id = fields[0];
		row->note = nf == 2 ? fields[1] : NULL;
		row->line = rd->lineno;
		*more = 1;
		return SC_OK;
	}
}

sc_err sc_reg_import_csv(struct sc_reg *reg, const char *path, const char *actor, int64_t now,
    size_t *added, size_t *skipped)
{
	struct csv_reader rd;
	sc_err r;

	*added = *skipped = 0;
	memset(&rd, 0, sizeof(rd));
	rd.path = path;
	if ((rd.f = fopen(path, "re")) == NULL)
		return sc_fail(SC_ERR_IO, "%s: %s", path, strerror(errno));
	r = sc_reg_import_rows(reg, csv_next, &rd, path, actor, now, added, skipped);
	fclose(rd.f);
	return r;
}

sc_err sc_reg_import_csv_text(struct sc_reg *reg, const char *text, size_t len, const char *source,
    const char *actor, int64_t now, size_t *added, size_t *skipped)
{
	struct csv_reader rd;
	sc_err r;

	*added = *skipped = 0;
	memset(&rd, 0, sizeof(rd));
	rd.path = source;
	if (len == 0)
		return sc_fail(SC_ERR_MALFORMED, "%s: no devices (an empty file)", source);
	/* The same line reader as a file's: a memory stream, so no second parser exists. */
	if ((rd.f = fmemopen((void *)(uintptr_t)text, len, "r")) == NULL)
		return sc_fail(SC_ERR_NOMEM, "%s: %s", source, strerror(errno));
	r = sc_reg_import_rows(reg, csv_next, &rd, source, actor, now, added, skipped);
	fclose(rd.f);
	return r;
}

sc_err sc_reg_csv_walk(const char *path,
    sc_err (*cb)(void *ctx, const char *device_id, const char *note, size_t line), void *ctx)
{
	struct csv_reader rd;
	struct sc_reg_row row;
	int more = 1;
	sc_err r = SC_OK;

	memset(&rd, 0, sizeof(rd));
	rd.path = path;
	if ((rd.f = fopen(path, "re")) == NULL)
		return sc_fail(SC_ERR_IO, "%s: %s", path, strerror(errno));
	/* The import's own reader: the rows it would hand the registry, one by one. */
	while (r == SC_OK && (r = csv_next(&rd, &row, &more)) == SC_OK && more)
		r = cb(ctx, row.device_id, row.note, row.line);
	fclose(rd.f);
	return r;
}
