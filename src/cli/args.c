// SPDX-License-Identifier: Apache-2.0
/*
 * args.c — a strict flag parser for every selfcert command: `--flag value` or `--flag=value`,
 * repeatable flags where the command allows, positional arguments counted. Anything else is a
 * usage error that names the flag.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/bio.h>
#include <openssl/objects.h>
#include "cli.h"
#include "keyopen.h"
#include "text.h"

static int find(const struct cli_args *a, const char *name, size_t len)
{
	for (size_t i = 0; i < a->nspec; i++)
		if (strlen(a->spec[i].name) == len && strncmp(a->spec[i].name, name, len) == 0)
			return (int)i;
	return -1;
}

sc_err cli_parse(struct cli_args *a, const char *cmd, const struct cli_opt *spec, size_t nspec,
    int argc, char **argv, int max_pos)
{
	memset(a, 0, sizeof(*a));
	a->cmd = cmd;
	a->spec = spec;
	a->nspec = nspec < CLI_MAX_OPTS ? nspec : CLI_MAX_OPTS;
	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i], *eq, *val = NULL;
		size_t nlen;
		int k;

		if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
			a->help = 1;
			continue;
		}
		if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
			if (a->npos >= max_pos || a->npos >= CLI_MAX_POS)
				return sc_fail(SC_ERR_USAGE, "%s: unexpected argument '%s'", cmd,
				    arg);
			a->pos[a->npos++] = arg;
			continue;
		}
		arg += 2;
		eq = strchr(arg, '=');
		nlen = eq ? (size_t)(eq - arg) : strlen(arg);
		k = find(a, arg, nlen);
		if (k < 0)
			return sc_fail(SC_ERR_USAGE, "%s: unknown flag --%.*s", cmd, (int)nlen,
			    arg);
		if (spec[k].takes_value) {
			if (eq != NULL)
				val = eq + 1;
			else if (i + 1 < argc)
				val = argv[++i];
			else
				return sc_fail(SC_ERR_USAGE, "%s: --%s needs a value", cmd,
				    spec[k].name);
		} else if (eq != NULL) {
			return sc_fail(SC_ERR_USAGE, "%s: --%s takes no value", cmd, spec[k].name);
		}
		if (a->count[k] > 0 && !spec[k].multi)
			return sc_fail(SC_ERR_USAGE, "%s: --%s given twice", cmd, spec[k].name);
		if (a->count[k] >= CLI_MAX_VALUES)
			return sc_fail(SC_ERR_USAGE, "%s: --%s given more than %d times", cmd,
			    spec[k].name, CLI_MAX_VALUES);
		a->vals[k][a->count[k]++] = val ? val : "";
	}
	return SC_OK;
}

const char *cli_nth(const struct cli_args *a, const char *name, int i)
{
	int k = find(a, name, strlen(name));
	if (k < 0 || i < 0 || i >= a->count[k])
		return NULL;
	return a->vals[k][i];
}

const char *cli_get(const struct cli_args *a, const char *name)
{
	return cli_nth(a, name, cli_count(a, name) - 1);
}

int cli_count(const struct cli_args *a, const char *name)
{
	int k = find(a, name, strlen(name));
	return k < 0 ? 0 : a->count[k];
}

int cli_has(const struct cli_args *a, const char *name)
{
	return cli_count(a, name) > 0;
}

sc_err cli_need(const struct cli_args *a, const char *name, const char **out)
{
	*out = cli_get(a, name);
	if (*out == NULL || **out == '\0')
		return sc_fail(SC_ERR_USAGE, "%s: missing --%s", a->cmd, name);
	return SC_OK;
}

sc_err cli_int(const struct cli_args *a, const char *name, long def, long min, long max, long *out)
{
	const char *s = cli_get(a, name);
	char *end = NULL;
	long v;

	if (s == NULL) {
		*out = def;
		return SC_OK;
	}
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return sc_fail(SC_ERR_USAGE,
		    "%s: --%s '%s': expected a whole number from %ld to %ld", a->cmd, name, s, min,
		    max);
	*out = v;
	return SC_OK;
}

sc_err cli_path(char *out, size_t out_len, const char *dir, const char *name)
{
	int n = snprintf(out, out_len, "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= out_len)
		return sc_fail(SC_ERR_USAGE, "%s/%s: path too long", dir, name);
	return SC_OK;
}

sc_err cli_mkdir(const char *dir, int private_)
{
	struct stat st;

	if (mkdir(dir, private_ ? 0700 : 0755) == 0)
		return SC_OK;
	if (errno == EEXIST && stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
		return SC_OK;
	return sc_fail(SC_ERR_IO, "%s: %s", dir, strerror(errno == EEXIST ? ENOTDIR : errno));
}

sc_err cli_key(const struct cli_args *a, const char *flag, const char *dir, const char *file,
    EVP_PKEY **out)
{
	char path[PATH_MAX];
	sc_err r;

	*out = NULL;
	if (cli_has(a, flag))
		return sc_key_open(cli_get(a, flag), out);
	if ((r = cli_path(path, sizeof(path), dir, file)) != SC_OK)
		return r;
	return sc_key_open(path, out);
}

sc_err cli_cert_reread(X509 **cert)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	X509 *copy;
	int n;

	if ((n = i2d_X509(*cert, &der)) <= 0)
		return sc_fail_ossl(SC_ERR_INTERNAL, "encoding a certificate");
	p = der;
	copy = d2i_X509(NULL, &p, n);
	OPENSSL_free(der);
	if (copy == NULL)
		return sc_fail_ossl(SC_ERR_NOMEM, "decoding a certificate");
	X509_free(*cert);
	*cert = copy;
	return SC_OK;
}

const char *cli_self_path(void)
{
	static char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n <= 0)
		return "selfcert";
	self[n] = '\0';
	return self;
}

const char *cli_spd_path(void)
{
	static char path[PATH_MAX];
	const char *env = getenv("SELFCERT_SPD");
	char *slash;

	if (env != NULL && *env != '\0')
		return env;
	snprintf(path, sizeof(path), "%s", cli_self_path());
	slash = strrchr(path, '/');
	if (slash != NULL && (size_t)(slash - path) + sizeof("/selfcert-spd") <= sizeof(path)) {
		strcpy(slash, "/selfcert-spd");
		if (access(path, X_OK) == 0)
			return path;
	}
	return "selfcert-spd";
}

void cli_json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s != NULL && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

sc_err cli_subject_attr(X509 *cert, int nid, char *out, size_t out_len)
{
	X509_NAME *name = X509_get_subject_name(cert);
	int i = X509_NAME_get_index_by_NID(name, nid, -1);
	const ASN1_STRING *s;
	int n;

	out[0] = '\0';
	if (i < 0)
		return sc_fail(SC_ERR_NOT_FOUND, "certificate subject has no %s", OBJ_nid2sn(nid));
	s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
	n = ASN1_STRING_length(s);
	if (n < 0 || (size_t)n >= out_len)
		return sc_fail(SC_ERR_OVERSIZE, "certificate subject %s: %d bytes", OBJ_nid2sn(nid),
		    n);
	memcpy(out, ASN1_STRING_get0_data(s), (size_t)n);
	out[n] = '\0';
	return SC_OK;
}

void cli_subject_line(X509 *cert, char *out, size_t out_len)
{
	BIO *bio = BIO_new(BIO_s_mem());
	int n = 0;

	out[0] = '\0';
	if (bio == NULL)
		return;
	if (X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0,
	        XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB & ~XN_FLAG_DN_REV) >= 0)
		n = BIO_read(bio, out, (int)out_len - 1);
	out[n > 0 ? n : 0] = '\0';
	BIO_free(bio);
}

void cli_not_after(X509 *cert, char *out, size_t out_len)
{
	time_t t;
	if (sc_asn1_time_to_time_t(X509_get0_notAfter(cert), &t) == SC_OK)
		sc_format_time(t, out, out_len);
	else
		snprintf(out, out_len, "?");
}

sc_err cli_json_out(json_t *o)
{
	char *text;

	if (o == NULL)
		return sc_fail(SC_ERR_NOMEM, "--json: out of memory");
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (text == NULL)
		return sc_fail(SC_ERR_NOMEM, "--json: out of memory");
	printf("%s\n", text);
	free(text);
	return SC_OK;
}

json_t *cli_json_path(const char *dir, const char *name)
{
	return json_sprintf("%s/%s", dir, name);
}

json_t *cli_json_not_after(X509 *cert)
{
	char t[32];
	cli_not_after(cert, t, sizeof(t));
	return json_string(t);
}

json_t *cli_json_time(const ASN1_TIME *t)
{
	char text[32];
	time_t tt;

	if (t == NULL || sc_asn1_time_to_time_t(t, &tt) != SC_OK)
		return json_null();
	sc_format_time(tt, text, sizeof(text));
	return json_string(text);
}
