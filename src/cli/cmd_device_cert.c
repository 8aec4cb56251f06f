// SPDX-License-Identifier: Apache-2.0
/*
 * cmd_device_cert.c — `device cert --key N`: a leaf certificate the SP holds, exported again (a
 * failed `device issue --out` leaves it only there), and cli_out_writable, the check `device
 * issue` makes before it asks the SP to spend a profile.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/pem.h>
#include <selfcert/sp.h>
#include "cli.h"
#include "pem.h"

sc_err cli_out_writable(const char *path)
{
	char dir[PATH_MAX], probe[PATH_MAX + 32];
	const char *slash = strrchr(path, '/');
	struct stat st;
	int fd;

	if (path[0] == '\0')
		return sc_fail(SC_ERR_USAGE, "--out: empty path");
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return sc_fail(SC_ERR_IO, "%s: is a folder", path);
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if ((size_t)(slash - path) >= sizeof(dir))
		return sc_fail(SC_ERR_IO, "%s: path too long", path);
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	/* A real file in the folder, as the atomic write will make (access() says yes to root on a
	 * read-only file system). */
	snprintf(probe, sizeof(probe), "%s/.selfcert-probe-XXXXXX", dir);
	if ((fd = mkstemp(probe)) < 0)
		return sc_fail(SC_ERR_IO, "%s: cannot write in %s: %s", path, dir, strerror(errno));
	close(fd);
	unlink(probe);
	return SC_OK;
}

static const char cert_usage[] =
    "usage: selfcert device cert --sp SOCKET --key HANDLE [--out LEAF.pem] [--json]\n"
    "  The leaf certificate of key HANDLE (see `device keys`), as the SP keeps it: PEM on stdout,\n"
    "  or written atomically to LEAF.pem.\n"
    "  --json  print one JSON object (handle, subject, not_after, and out: the file written, or\n"
    "          pem: the certificate when there is no --out)\n";

/* The --json result: what was exported, and the PEM itself when no file was written. */
static sc_err cert_json(long handle, X509 *cert, const char *out_path)
{
	char subject[512];
	json_t *o;
	BIO *mem = NULL;
	char *pem = NULL;
	long pem_len;

	cli_subject_line(cert, subject, sizeof(subject));
	o = json_pack("{s:I, s:s, s:o}", "handle", (json_int_t)handle, "subject", subject,
	    "not_after", cli_json_not_after(cert));
	if (o != NULL && out_path != NULL)
		json_object_set_new(o, "out", json_string(out_path));
	else if (o != NULL) {
		if ((mem = BIO_new(BIO_s_mem())) == NULL || PEM_write_bio_X509(mem, cert) != 1 ||
		    (pem_len = BIO_get_mem_data(mem, &pem)) <= 0) {
			BIO_free(mem);
			json_decref(o);
			return sc_fail(SC_ERR_NOMEM, "device cert: PEM encoding failed");
		}
		json_object_set_new(o, "pem", json_stringn(pem, (size_t)pem_len));
		BIO_free(mem);
	}
	return cli_json_out(o);
}

sc_err cmd_device_cert(int argc, char **argv)
{
	static const struct cli_opt spec[] = { { "sp", 1, 0 }, { "key", 1, 0 }, { "out", 1, 0 },
		{ "json", 0, 0 } };
	struct cli_args a;
	struct sc_sp *sp = NULL;
	struct sc_sp_key *keys = NULL;
	const char *sock, *out_path;
	size_t n = 0;
	long handle = 0;
	X509 *cert = NULL;
	sc_err r;

	if ((r = cli_parse(&a, "device cert", spec, sizeof(spec) / sizeof(spec[0]), argc, argv,
	         0)) != SC_OK)
		return r;
	if (a.help) {
		fputs(cert_usage, stdout);
		return SC_OK;
	}
	if ((r = cli_need(&a, "sp", &sock)) != SC_OK ||
	    (r = cli_int(&a, "key", -1, 0, UINT32_MAX, &handle)) != SC_OK)
		return r;
	if (handle < 0)
		return sc_fail(SC_ERR_USAGE, "device cert: missing --key");
	out_path = cli_get(&a, "out");
	if (out_path != NULL && (r = cli_out_writable(out_path)) != SC_OK)
		return r;
	if ((r = sc_sp_connect(sock, &sp)) != SC_OK || (r = sc_sp_keys(sp, &keys, &n)) != SC_OK)
		goto out;
	for (size_t i = 0; i < n && cert == NULL; i++)
		if (keys[i].handle == (uint32_t)handle)
			cert = keys[i].cert;
	if (cert == NULL) {
		r = sc_fail(SC_ERR_NO_KEY,
		    "the SP has no key %ld (selfcert device keys lists them)", handle);
		goto out;
	}
	if (out_path != NULL && (r = sc_write_cert(out_path, cert)) != SC_OK)
		goto out;
	if (cli_has(&a, "json"))
		r = cert_json(handle, cert, out_path);
	else if (out_path != NULL)
		r = SC_OK;
	else if (PEM_write_X509(stdout, cert) != 1)
		r = sc_fail(SC_ERR_IO, "stdout: %s", strerror(errno));
out:
	sc_sp_keys_free(keys, n);
	sc_sp_close(sp);
	return r;
}
