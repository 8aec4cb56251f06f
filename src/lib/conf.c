// SPDX-License-Identifier: Apache-2.0
/*
 * conf.c — configuration files as flags (conf.h): a strict line parser, and the merge that puts
 * the file's flags before the command line's so the command line wins.
 */
#include <stdlib.h>
#include <string.h>
#include "conf.h"
#include "file.h"

void sc_conf_args_free(struct sc_conf_args *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->v[i]);
	a->n = 0;
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Blanks off both ends of [*s, *s + *n). */
static void trim(const char **s, size_t *n)
{
	while (*n > 0 && is_blank((*s)[0])) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && is_blank((*s)[*n - 1]))
		(*n)--;
}

/* The option of opts named by [k, k + n), or NULL (also for the names a file may not set). */
static const struct option *find_opt(const struct option *opts, const char *k, size_t n)
{
	static const char *const reserved[] = { "config", "help", "version" };

	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (strlen(reserved[i]) == n && memcmp(reserved[i], k, n) == 0)
			return NULL;
	for (; opts->name != NULL; opts++)
		if (strlen(opts->name) == n && memcmp(opts->name, k, n) == 0)
			return opts;
	return NULL;
}

/* One `key = value` line (no newline) into out; line_no for the messages. */
static sc_err parse_line(const char *name, size_t line_no, const char *s, size_t n,
    const struct option *opts, struct sc_conf_args *out)
{
	const char *eq = memchr(s, '=', n), *k = s, *v;
	const struct option *o;
	size_t kn, vn;
	char *arg;

	if (eq == NULL)
		return sc_fail(SC_ERR_MALFORMED, "%s:%zu: expected key = value", name, line_no);
	kn = (size_t)(eq - s);
	v = eq + 1;
	vn = n - kn - 1;
	trim(&k, &kn);
	trim(&v, &vn);
	if ((o = find_opt(opts, k, kn)) == NULL)
		return sc_fail(SC_ERR_MALFORMED,
		    "%s:%zu: unknown key '%.*s' (the long flags of --help)", name, line_no,
		    (int)(kn > 64 ? 64 : kn), k);
	if (vn == 0)
		return sc_fail(SC_ERR_MALFORMED, "%s:%zu: %s: empty value", name, line_no, o->name);
	for (size_t i = 0; i < out->n; i++) {
		const char *prev = out->v[i] + 2;
		if (strncmp(prev, o->name, kn) == 0 && (prev[kn] == '=' || prev[kn] == '\0'))
			return sc_fail(SC_ERR_MALFORMED, "%s:%zu: %s: set twice", name, line_no,
			    o->name);
	}
	if (o->has_arg == no_argument) {
		if (vn == 2 && memcmp(v, "no", 2) == 0)
			return SC_OK; /* recorded nowhere: a repeat of a `no` is not caught, harmless */
		if (!(vn == 3 && memcmp(v, "yes", 3) == 0))
			return sc_fail(SC_ERR_MALFORMED, "%s:%zu: %s: expected yes or no", name,
			    line_no, o->name);
		vn = 0;
	}
	if (out->n >= SC_CONF_KEYS_MAX)
		return sc_fail(SC_ERR_OVERSIZE, "%s:%zu: more than %d settings", name, line_no,
		    SC_CONF_KEYS_MAX);
	if ((arg = malloc(2 + kn + 1 + vn + 1)) == NULL)
		return sc_fail(SC_ERR_NOMEM, "%s", name);
	memcpy(arg, "--", 2);
	memcpy(arg + 2, o->name, kn);
	if (vn > 0) {
		arg[2 + kn] = '=';
		memcpy(arg + 3 + kn, v, vn);
		arg[3 + kn + vn] = '\0';
	} else {
		arg[2 + kn] = '\0';
	}
	out->v[out->n++] = arg;
	return SC_OK;
}

sc_err sc_conf_parse(const char *name, const char *text, size_t len, const struct option *opts,
    struct sc_conf_args *out)
{
	size_t pos = 0, line_no = 0;
	sc_err r = SC_OK;

	out->n = 0;
	if (len > SC_CONF_FILE_MAX)
		return sc_fail(SC_ERR_OVERSIZE, "%s: %zu bytes, at most %d", name, len,
		    SC_CONF_FILE_MAX);
	if (memchr(text, '\0', len) != NULL)
		return sc_fail(SC_ERR_MALFORMED, "%s: a NUL byte (not a text file)", name);
	if (len > 0 && text[len - 1] != '\n')
		return sc_fail(SC_ERR_MALFORMED, "%s: no newline at the end (a cut file?)", name);
	while (pos < len) {
		const char *s = text + pos, *nl = memchr(s, '\n', len - pos);
		size_t n = (size_t)(nl - s);

		line_no++;
		pos += n + 1;
		if (n > SC_CONF_LINE_MAX) {
			r = sc_fail(SC_ERR_OVERSIZE, "%s:%zu: line of %zu bytes, at most %d", name,
			    line_no, n, SC_CONF_LINE_MAX);
			goto out;
		}
		trim(&s, &n);
		if (n == 0 || s[0] == '#')
			continue;
		if ((r = parse_line(name, line_no, s, n, opts, out)) != SC_OK)
			goto out;
	}
out:
	if (r != SC_OK)
		sc_conf_args_free(out);
	return r;
}

/* What sc_conf_merge read, for sc_conf_recheck (opts: the program's static getopt table). */
static const char *merged_path;
static const struct option *merged_opts;

sc_err sc_conf_recheck(void)
{
	struct sc_conf_args again = { .n = 0 };
	uint8_t *data = NULL;
	size_t len = 0;
	sc_err r;

	if (merged_path == NULL)
		return SC_OK;
	if ((r = sc_file_read_ex(merged_path, SC_CONF_FILE_MAX, 0, &data, &len)) != SC_OK)
		return r;
	r = sc_conf_parse(merged_path, (const char *)data, len, merged_opts, &again);
	free(data);
	sc_conf_args_free(&again);
	return r;
}

sc_err sc_conf_merge(int *argc, char ***argv, const struct option *opts)
{
	static struct sc_conf_args args; /* lives until exit: getopt's optarg points into it */
	static char **merged_argv;       /* likewise the argv it makes (held here, so reachable) */
	const char *path = NULL;
	uint8_t *data = NULL;
	size_t len = 0;
	char **nv;
	int at = -1, skip = 0, n = 0;
	sc_err r;

	for (int i = 1; i < *argc && at < 0; i++) {
		if (strcmp((*argv)[i], "--") == 0)
			break;
		if (strcmp((*argv)[i], "--config") == 0) {
			if (i + 1 >= *argc)
				return sc_fail(SC_ERR_USAGE, "--config: missing the file");
			at = i;
			skip = 2;
			path = (*argv)[i + 1];
		} else if (strncmp((*argv)[i], "--config=", 9) == 0) {
			at = i;
			skip = 1;
			path = (*argv)[i] + 9;
		}
	}
	if (at < 0)
		return SC_OK;
	if ((r = sc_file_read_ex(path, SC_CONF_FILE_MAX, 0, &data, &len)) != SC_OK)
		return r;
	r = sc_conf_parse(path, (const char *)data, len, opts, &args);
	free(data);
	if (r != SC_OK)
		return r;
	if ((nv = calloc((size_t)*argc + args.n + 1, sizeof(*nv))) == NULL)
		return sc_fail(SC_ERR_NOMEM, "%s", path);
	nv[n++] = (*argv)[0];
	for (size_t i = 0; i < args.n; i++)
		nv[n++] = args.v[i];
	for (int i = 1; i < *argc; i++)
		if (i < at || i >= at + skip)
			nv[n++] = (*argv)[i];
	nv[n] = NULL;
	free(merged_argv); /* a second merge (tests only) replaces the first */
	merged_argv = nv;
	merged_path = path;
	merged_opts = opts;
	*argc = n;
	*argv = nv;
	return SC_OK;
}
