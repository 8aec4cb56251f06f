// SPDX-License-Identifier: Apache-2.0
/*
 * cmd_revoked.c — `selfcert net revoked sign|check`: the network operator signs the list of
 * revoked devices from the registry (what provd serves at GET /v1/revoked), and anyone checks a
 * list against the network root (selfcert/revoked.h, docs/FORMATS.md "Revocation list").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <selfcert/revoked.h>
#include "cli.h"
#include "file.h"
#include "keyopen.h"
#include "pem.h"
#include "registry.h"
#include "text.h"

static const char revoked_usage[] =
    "usage: selfcert net revoked sign --dir NETDIR --db REGISTRY --out FILE [--sequence N]\n"
    "                                 [--next-update DUR] [--json]\n"
    "       selfcert net revoked check --net-root NETROOT.pem [--previous FILE] [--json] FILE\n"
    "  sign: the registry's revoked devices, signed by NETDIR/signer.key; the sequence defaults to\n"
    "  provd's (latest revocation time x 100000 + count: it grows with every revocation, and\n"
    "  relying parties refuse a lower one), next update to 1h.\n"
    "  FILE is replaced atomically.\n"
    "       selfcert net revoked fetch --url URL --net-root NETROOT.pem --out FILE [--ca CA.pem]\n"
    "                                  [--crl-bundle FILE [--crl-url URL]] [--json]\n"
    "  check: decode and verify a list (signature, network root, not stale, and not older than\n"
    "  --previous); prints its sequence and devices.\n"
    "  fetch: GET the list (provd's https://HOST:PORT/v1/revoked; --ca: the TLS anchor, default the\n"
    "  system's), check it as above against FILE (the list held, if any), then replace FILE\n"
    "  atomically. For a relying party's timer; FILE is what `verify --revoked` reads.\n"
    "  --crl-bundle FILE: also GET provd's CRL bundle (--crl-url, default --url with /v1/revoked\n"
    "  replaced by /v1/crls: the manufacturer's CRLs and each active device's device CA CRL),\n"
    "  check that it is PEM CRLs only, and replace FILE atomically: nginx's ssl_crl (reload\n"
    "  nginx after it; a device missing from it is refused).\n"
    "  --json: one JSON object instead (network_id, sequence, devices, this_update, next_update;\n"
    "  sign and fetch add out).\n";

/* The --json result of sign, check and fetch: the list's facts; out (the file written) if any. */
static sc_err revoked_json(const char *out, const char *net, uint64_t seq, int64_t this_update,
    int64_t next_update, const char *const *ids, size_t n)
{
	char tu[32], nu[32];
	json_t *arr = json_array();

	for (size_t i = 0; arr != NULL && i < n; i++)
		json_array_append_new(arr, json_string(ids[i]));
	sc_format_time((time_t)this_update, tu, sizeof(tu));
	sc_format_time((time_t)next_update, nu, sizeof(nu));
	return cli_json_out(
	    json_pack("{s:s?, s:s, s:I, s:o, s:s, s:s}", "out", out, "network_id", net, "sequence",
	        (json_int_t)seq, "devices", arr, "this_update", tu, "next_update", nu));
}

/* A decoded list's devices as pointers, for revoked_json (NULL: out of memory). */
static const char **list_ptrs(const struct sc_revoked *l)
{
	const char **p = calloc(l->n + 1, sizeof(p[0]));
	for (size_t i = 0; p != NULL && i < l->n; i++)
		p[i] = l->devices[i];
	return p;
}

static sc_err revoked_list_json(const char *out, const struct sc_revoked *l)
{
	const char **p = list_ptrs(l);
	sc_err r;

	if (p == NULL)
		return sc_fail(SC_ERR_NOMEM, "revoked devices");
	r = revoked_json(out, l->network_id, l->sequence, l->this_update, l->next_update, p, l->n);
	free(p);
	return r;
}

struct ids {
	char (*v)[SC_DEVICE_ID_MAX + 1];
	size_t n, cap;
	int oom;
	int64_t max_at;
};

static int collect(void *ctx, const struct sc_reg_device *d)
{
	struct ids *ids = ctx;

	if (ids->n == ids->cap) {
		size_t cap = ids->cap ? 2 * ids->cap : 64;
		void *v = cap <= SC_REVOKED_MAX_DEVICES + 64
		    ? realloc(ids->v, cap * sizeof(ids->v[0]))
		    : NULL;
		if (v == NULL) {
			ids->oom = 1;
			return 1;
		}
		ids->v = v;
		ids->cap = cap;
	}
	snprintf(ids->v[ids->n++], sizeof(ids->v[0]), "%s", d->device_id);
	if (d->revoked_at > ids->max_at)
		ids->max_at = d->revoked_at;
	return 0;
}

static sc_err revoked_sign(int argc, char **argv)
{
	static const struct cli_opt spec[] = {
		{ "dir", 1, 0 },
		{ "db", 1, 0 },
		{ "out", 1, 0 },
		{ "sequence", 1, 0 },
		{ "next-update", 1, 0 },
		{ "json", 0, 0 },
	};
	struct cli_args a;
	struct ids ids = { NULL, 0, 0, 0, 0 };
	const char **ptrs = NULL, *dir, *db, *out;
	char path[4096], *text = NULL;
	struct sc_reg *reg = NULL;
	X509 *signer = NULL;
	EVP_PKEY *key = NULL;
	int64_t next = 3600, now = (int64_t)time(NULL);
	long long seq = 0; /* 0: sc_revoked_sequence, as provd numbers its lists */
	char net[SC_NETWORK_ID_MAX + 2];
	sc_err r;

	if ((r = cli_parse(&a, "net revoked sign", spec, sizeof(spec) / sizeof(spec[0]), argc, argv,
	         0)) != SC_OK)
		return r;
	if (a.help) {
		fputs(revoked_usage, stdout);
		return SC_OK;
	}
	if ((r = cli_need(&a, "dir", &dir)) != SC_OK || (r = cli_need(&a, "db", &db)) != SC_OK ||
	    (r = cli_need(&a, "out", &out)) != SC_OK)
		return r;
	if (cli_has(&a, "sequence")) {
		char *end = NULL;
		seq = strtoll(cli_get(&a, "sequence"), &end, 10);
		if (end == NULL || *end != '\0' || seq < 1 || seq > (1LL << 53))
			return sc_fail(SC_ERR_USAGE, "net revoked sign: --sequence: 1 to 2^53");
	}
	if (cli_has(&a, "next-update") &&
	    sc_parse_duration(cli_get(&a, "next-update"), &next) != SC_OK)
		return sc_fail(SC_ERR_USAGE, "net revoked sign: --next-update: a duration (1h)");
	if ((r = cli_path(path, sizeof(path), dir, "signer.pem")) != SC_OK ||
	    (r = sc_load_cert(path, &signer)) != SC_OK ||
	    (r = cli_path(path, sizeof(path), dir, "signer.key")) != SC_OK ||
	    (r = sc_key_open(path, &key)) != SC_OK)
		goto out;
	if (X509_NAME_get_text_by_NID(X509_get_subject_name(signer), NID_organizationName, net,
	        sizeof(net)) < 1) {
		r = sc_fail(SC_ERR_USAGE, "%s/signer.pem: no network ID (subject O)", dir);
		goto out;
	}
	if ((r = sc_reg_open(db, 0, &reg)) != SC_OK ||
	    (r = sc_reg_device_list(reg, SC_REG_DEV_REVOKED, collect, &ids)) != SC_OK)
		goto out;
	if (ids.oom || (ptrs = calloc(ids.n + 1, sizeof(ptrs[0]))) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "revoked devices");
		goto out;
	}
	for (size_t i = 0; i < ids.n; i++)
		ptrs[i] = ids.v[i];
	if (seq == 0)
		seq = (long long)sc_revoked_sequence(ids.max_at, ids.n);
	if ((r = sc_revoked_sign(net, (uint64_t)seq, now, now + next, ptrs, ids.n, signer, key,
	         &text)) != SC_OK ||
	    (r = sc_file_write_atomic(out, text, strlen(text), 0644)) != SC_OK)
		goto out;
	if (cli_has(&a, "json"))
		r = revoked_json(out, net, (uint64_t)seq, now, now + next, ptrs, ids.n);
	else {
		printf(
		    "%s: network %s, sequence %lld, %zu revoked device(s), next update in %llds\n",
		    out, net, seq, ids.n, (long long)next);
		r = SC_OK;
	}
out:
	free(text);
	free(ptrs);
	free(ids.v);
	sc_reg_close(reg);
	X509_free(signer);
	EVP_PKEY_free(key);
	return r;
}

/* FILE decoded and checked against root at now (stale or not: any_age) into *out. */
static sc_err load_list(const char *file, X509 *root, int any_age, struct sc_revoked **out)
{
	uint8_t *data = NULL;
	size_t len = 0;
	sc_err r;

	if ((r = sc_file_read(file, SC_REVOKED_MAX, &data, &len)) != SC_OK)
		return r;
	r = sc_revoked_decode(data, len, file, root, any_age ? -1 : (int64_t)time(NULL), out);
	OPENSSL_free(data);
	return r;
}

sc_err cli_revoked_load(const char *file, const char *net_root_path, int any_age,
    struct sc_revoked **out)
{
	X509 *root = NULL;
	sc_err r;

	*out = NULL;
	if ((r = sc_load_cert(net_root_path, &root)) != SC_OK)
		return r;
	r = load_list(file, root, any_age, out);
	X509_free(root);
	return r;
}

static sc_err revoked_check(int argc, char **argv)
{
	static const struct cli_opt spec[] = {
		{ "net-root", 1, 0 },
		{ "previous", 1, 0 },
		{ "json", 0, 0 },
	};
	struct cli_args a;
	struct sc_revoked *l = NULL, *prev = NULL;
	const char *root_path;
	sc_err r;

	if ((r = cli_parse(&a, "net revoked check", spec, sizeof(spec) / sizeof(spec[0]), argc,
	         argv, 1)) != SC_OK)
		return r;
	if (a.help) {
		fputs(revoked_usage, stdout);
		return SC_OK;
	}
	if ((r = cli_need(&a, "net-root", &root_path)) != SC_OK)
		return r;
	if (a.npos != 1)
		return sc_fail(SC_ERR_USAGE, "net revoked check: name one FILE");
	if ((r = cli_revoked_load(a.pos[0], root_path, 0, &l)) != SC_OK)
		goto out;
	if (cli_has(&a, "previous")) {
		if ((r = cli_revoked_load(cli_get(&a, "previous"), root_path, 1, &prev)) != SC_OK)
			goto out;
		if ((r = sc_revoked_successor(prev, l)) != SC_OK) {
			r = sc_fail(r, "%s: %s", a.pos[0], sc_err_detail());
			goto out;
		}
	}
	if (cli_has(&a, "json")) {
		r = revoked_list_json(NULL, l);
		goto out;
	}
	printf("network %s, sequence %llu, %zu revoked device(s)\n", l->network_id,
	    (unsigned long long)l->sequence, l->n);
	for (size_t i = 0; i < l->n; i++)
		printf("%s\n", l->devices[i]);
	r = SC_OK;
out:
	sc_revoked_free(l);
	sc_revoked_free(prev);
	return r;
}

/* The body, at most max bytes (more: the transfer stops). */
struct body {
	uint8_t *p;
	size_t n;
	int over;
	size_t max;
};

#define CRL_BUNDLE_MAX (256u << 20) /* provd's PROVD_CRLS_MAX_BYTES */

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct body *b = ud;
	size_t len = size * nmemb;
	uint8_t *q;

	if (b->n + len > b->max) {
		b->over = 1;
		return 0;
	}
	if ((q = realloc(b->p, b->n + len + 1)) == NULL)
		return 0;
	b->p = q;
	memcpy(b->p + b->n, ptr, len);
	b->n += len;
	return len;
}

static sc_err http_get(const char *url, const char *ca, struct body *b)
{
	CURL *c = NULL;
	CURLcode cc;
	long status = 0;
	sc_err r;

	if (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0)
		return sc_fail(SC_ERR_USAGE, "net revoked fetch: --url: http:// or https://");
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || (c = curl_easy_init()) == NULL)
		return sc_fail(SC_ERR_NOMEM, "curl");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (ca != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, ca);
	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (b->over)
		r = sc_fail(SC_ERR_OVERSIZE, "%s: more than %zu bytes", url, b->max);
	else if (cc != CURLE_OK)
		r = sc_fail(SC_ERR_IO, "%s: %s", url, curl_easy_strerror(cc));
	else if (status != 200)
		r = sc_fail(SC_ERR_PEER, "%s: HTTP %ld", url, status);
	else
		r = SC_OK;
	curl_easy_cleanup(c);
	curl_global_cleanup();
	return r;
}

/*
 * A CRL bundle as nginx's ssl_crl reads it: one or more PEM CRLs and nothing else but blanks
 * (what comes from the network is checked before it replaces what a server loads). *n: how many.
 */
static sc_err check_bundle(const struct body *b, const char *url, size_t *n)
{
	BIO *in = NULL;
	X509_CRL *crl = NULL;
	sc_err r = SC_ERR_INTERNAL;

	*n = 0;
	if (b->n == 0 || b->n > INT32_MAX || (in = BIO_new_mem_buf(b->p, (int)b->n)) == NULL) {
		r = sc_fail(SC_ERR_MALFORMED, "%s: empty CRL bundle", url);
		goto out;
	}
	while ((crl = PEM_read_bio_X509_CRL(in, NULL, NULL, NULL)) != NULL) {
		if (X509_CRL_get0_nextUpdate(crl) == NULL) {
			r = sc_fail(SC_ERR_MALFORMED, "%s: CRL %zu has no nextUpdate", url, *n + 1);
			goto out;
		}
		X509_CRL_free(crl);
		crl = NULL;
		(*n)++;
	}
	ERR_clear_error();
	for (char c; BIO_read(in, &c, 1) == 1;)
		if (c != '\n' && c != '\r' && c != ' ' && c != '\t') {
			r = sc_fail(SC_ERR_MALFORMED, "%s: not PEM CRLs only (after CRL %zu)", url,
			    *n);
			goto out;
		}
	if (*n == 0) {
		r = sc_fail(SC_ERR_MALFORMED, "%s: no CRL in the bundle", url);
		goto out;
	}
	r = SC_OK;
out:
	X509_CRL_free(crl);
	BIO_free(in);
	return r;
}

/* --crl-url, else --url with its /v1/revoked replaced by /v1/crls. */
static sc_err crl_url(const struct cli_args *a, const char *url, char *out, size_t out_len)
{
	static const char tail[] = "/v1/revoked";
	size_t n = strlen(url);

	if (cli_has(a, "crl-url")) {
		snprintf(out, out_len, "%s", cli_get(a, "crl-url"));
		return SC_OK;
	}
	if (n < sizeof(tail) - 1 || strcmp(url + n - (sizeof(tail) - 1), tail) != 0 ||
	    n + 16 > out_len)
		return sc_fail(SC_ERR_USAGE,
		    "net revoked fetch: --crl-bundle: --url does not end in /v1/revoked; give "
		    "--crl-url");
	snprintf(out, out_len, "%.*s/v1/crls", (int)(n - (sizeof(tail) - 1)), url);
	return SC_OK;
}

static sc_err revoked_fetch(int argc, char **argv)
{
	static const struct cli_opt spec[] = {
		{ "url", 1, 0 },
		{ "net-root", 1, 0 },
		{ "out", 1, 0 },
		{ "ca", 1, 0 },
		{ "json", 0, 0 },
		{ "crl-bundle", 1, 0 },
		{ "crl-url", 1, 0 },
	};
	struct cli_args a;
	struct body b = { NULL, 0, 0, SC_REVOKED_MAX }, cb = { NULL, 0, 0, CRL_BUNDLE_MAX };
	const char *bundle = NULL;
	char curl_[4096];
	size_t n_crls = 0;
	struct sc_revoked *l = NULL, *held = NULL;
	const char *url, *root_path, *out;
	X509 *root = NULL;
	sc_err r;

	if ((r = cli_parse(&a, "net revoked fetch", spec, sizeof(spec) / sizeof(spec[0]), argc,
	         argv, 0)) != SC_OK)
		return r;
	if (a.help) {
		fputs(revoked_usage, stdout);
		return SC_OK;
	}
	if ((r = cli_need(&a, "url", &url)) != SC_OK ||
	    (r = cli_need(&a, "net-root", &root_path)) != SC_OK ||
	    (r = cli_need(&a, "out", &out)) != SC_OK)
		return r;
	if ((bundle = cli_get(&a, "crl-bundle")) != NULL &&
	    (r = crl_url(&a, url, curl_, sizeof(curl_))) != SC_OK)
		return r;
	if ((r = sc_load_cert(root_path, &root)) != SC_OK)
		goto out;
	/* The list held: a damaged one stops the fetch (someone must look), a missing one is none. */
	if (access(out, F_OK) == 0 && (r = load_list(out, root, 1, &held)) != SC_OK)
		goto out;
	if ((r = http_get(url, cli_get(&a, "ca"), &b)) != SC_OK)
		goto out;
	if ((r = sc_revoked_decode(b.p, b.n, url, root, (int64_t)time(NULL), &l)) != SC_OK)
		goto out;
	if ((r = sc_revoked_successor(held, l)) != SC_OK) {
		r = sc_fail(r, "%s: %s; %s kept", url, sc_err_detail(), out);
		goto out;
	}
	/* Both fetched and checked before either file changes. */
	if (bundle != NULL &&
	    ((r = http_get(curl_, cli_get(&a, "ca"), &cb)) != SC_OK ||
	        (r = check_bundle(&cb, curl_, &n_crls)) != SC_OK))
		goto out;
	if ((r = sc_file_write_atomic(out, b.p, b.n, 0644)) != SC_OK)
		goto out;
	if (bundle != NULL && (r = sc_file_write_atomic(bundle, cb.p, cb.n, 0644)) != SC_OK)
		goto out;
	if (cli_has(&a, "json")) {
		r = revoked_list_json(out, l);
		goto out;
	}
	printf("%s: network %s, sequence %llu, %zu revoked device(s)\n", out, l->network_id,
	    (unsigned long long)l->sequence, l->n);
	if (bundle != NULL)
		printf("%s: %zu CRL(s)\n", bundle, n_crls);
	r = SC_OK;
out:
	free(cb.p);
	free(b.p);
	sc_revoked_free(l);
	sc_revoked_free(held);
	X509_free(root);
	return r;
}

sc_err cmd_net_revoked(int argc, char **argv)
{
	if (argc < 1)
		return sc_fail(SC_ERR_USAGE, "net revoked: which verb? sign|check|fetch (--help)");
	if (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
		fputs(revoked_usage, stdout);
		return SC_OK;
	}
	if (strcmp(argv[0], "sign") == 0)
		return revoked_sign(argc - 1, argv + 1);
	if (strcmp(argv[0], "check") == 0)
		return revoked_check(argc - 1, argv + 1);
	if (strcmp(argv[0], "fetch") == 0)
		return revoked_fetch(argc - 1, argv + 1);
	return sc_fail(SC_ERR_USAGE, "net revoked: unknown verb '%.32s' (sign|check|fetch)",
	    argv[0]);
}
