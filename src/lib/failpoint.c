// SPDX-License-Identifier: Apache-2.0
/*
 * failpoint.c — parsing the fail point variable and firing the armed point (failpoint.h).
 * Empty unless built with SC_FAILPOINTS, so no release binary carries it.
 */
#ifdef SC_FAILPOINTS
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "failpoint.h"

enum { FP_OFF, FP_TRACE, FP_EXIT, FP_ERROR, FP_STOP };

/* "[:exit|:error]" and "neither exit nor error": the modes this table offers, as text. */
static void mode_texts(const struct sc_failpoints *fp, char *syntax, size_t syntax_len,
    char *choice, size_t choice_len)
{
	int e = (fp->allow & SC_FP_ALLOW_ERROR) != 0, s = (fp->allow & SC_FP_ALLOW_STOP) != 0;

	snprintf(syntax, syntax_len, "[:exit%s%s]", e ? "|:error" : "", s ? "|:stop" : "");
	if (e && s)
		snprintf(choice, choice_len, "is not exit, error or stop");
	else if (e || s)
		snprintf(choice, choice_len, "is neither exit nor %s", e ? "error" : "stop");
	else
		snprintf(choice, choice_len, "is not exit");
}

/* The mode named by text (NULL: the default), or FP_OFF if this table does not offer it. */
static int mode_of(const struct sc_failpoints *fp, const char *text)
{
	if (text == NULL || strcmp(text, "exit") == 0)
		return FP_EXIT;
	if (strcmp(text, "error") == 0 && (fp->allow & SC_FP_ALLOW_ERROR))
		return FP_ERROR;
	if (strcmp(text, "stop") == 0 && (fp->allow & SC_FP_ALLOW_STOP))
		return FP_STOP;
	return FP_OFF;
}

/* Parse v ("<name>:<nth>[:<mode>]") into fp; nothing is armed unless all of it is good. */
static sc_err parse(struct sc_failpoints *fp, const char *v)
{
	char spec[SC_FP_SPEC_MAX], syntax[32], choice[40], *name, *nth, *mode, *end;
	unsigned long n;
	unsigned i;
	int m;

	mode_texts(fp, syntax, sizeof(syntax), choice, sizeof(choice));
	if (strlen(v) >= sizeof(spec))
		return sc_fail(SC_ERR_USAGE, "%s: longer than %d bytes", fp->env,
		    SC_FP_SPEC_MAX - 1);
	snprintf(spec, sizeof(spec), "%s", v);
	name = spec;
	if ((nth = strchr(name, ':')) == NULL)
		return sc_fail(SC_ERR_USAGE, "%s '%s': expected NAME:NTH%s or trace", fp->env, v,
		    syntax);
	*nth++ = '\0';
	if ((mode = strchr(nth, ':')) != NULL)
		*mode++ = '\0';
	for (i = 0; i < fp->n && strcmp(fp->names[i], name) != 0; i++)
		;
	if (i == fp->n)
		return sc_fail(SC_ERR_USAGE, "%s: unknown fail point '%s' (%s … %s)", fp->env, name,
		    fp->names[0], fp->names[fp->n - 1]);
	errno = 0;
	n = strtoul(nth, &end, 10);
	if (nth[0] < '1' || nth[0] > '9' || *end != '\0' || errno != 0 || n > SC_FP_NTH_MAX)
		return sc_fail(SC_ERR_USAGE, "%s: hit '%s' is not a number in 1..%u", fp->env, nth,
		    SC_FP_NTH_MAX);
	if ((m = mode_of(fp, mode)) == FP_OFF)
		return sc_fail(SC_ERR_USAGE, "%s: mode '%s' %s", fp->env, mode, choice);
	fp->mode = m;
	fp->id = i;
	fp->nth = n;
	return SC_OK;
}

sc_err sc_failpoint_load(struct sc_failpoints *fp)
{
	const char *v;

	if (fp->loaded)
		return SC_OK;
	fp->loaded = 1;
	if (fp->n == 0 || fp->n > SC_FP_MAX)
		return sc_fail(SC_ERR_INTERNAL, "%s: a table of %u fail points", fp->env, fp->n);
	v = getenv(fp->env);
	if (v == NULL || v[0] == '\0')
		return SC_OK;
	if (strcmp(v, "trace") == 0) {
		fp->mode = FP_TRACE;
		return SC_OK;
	}
	return parse(fp, v);
}

sc_err sc_failpoint_hit(struct sc_failpoints *fp, unsigned id)
{
	unsigned long n;

	if (id >= fp->n || id >= SC_FP_MAX)
		return sc_fail(SC_ERR_INTERNAL, "%s: no fail point %u", fp->env, id);
	n = ++fp->hits[id];
	if (fp->mode == FP_TRACE) {
		fprintf(stderr, "%s: fail point %s #%lu\n", fp->prog, fp->names[id], n);
		return SC_OK;
	}
	if (fp->mode == FP_OFF || id != fp->id || n != fp->nth)
		return SC_OK;
	if (fp->mode == FP_ERROR)
		return sc_fail(SC_ERR_IO, "fail point %s #%lu: injected error", fp->names[id], n);
	if (fp->mode == FP_STOP) {
		fprintf(stderr, "%s: fail point %s #%lu: stopped\n", fp->prog, fp->names[id], n);
		raise(SIGSTOP);
		return SC_OK;
	}
	fprintf(stderr, "%s: fail point %s #%lu: stopping (exit %d)\n", fp->prog, fp->names[id], n,
	    fp->exit_code);
	_exit(fp->exit_code);
}
#else
/* ISO C wants at least one declaration in a translation unit. */
typedef int sc_failpoint_unused;
#endif
