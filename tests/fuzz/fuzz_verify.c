// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_verify.c — libFuzzer target: the certificate input of `selfcert verify`. The input is a
 * file's contents, loaded exactly as the command loads --chain and the leaf (sc_load_certs:
 * one DER certificate, or any number of PEM ones), from an in-memory file; the first
 * certificate is the leaf and the rest its chain, verified with sc_verify_chain against the
 * fixed manufacturer root at FZ_NOW. Every certificate also goes through the issuance-extension
 * and device-ID decoders. Checked: failures carry a code and detail; a verified leaf has a
 * device ID and network ID.
 */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <openssl/err.h>
#include <selfcert/cert.h>
#include <selfcert/verify.h>
#include "fuzz.h"
#include "pem.h"

static const struct fz_fixture *fx;
static int fd = -1;
static char path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fx = fz_fixture();
	/* A file that lives in memory only: sc_load_certs opens it by path, as the CLI does. */
	fd = memfd_create("selfcert-fuzz-verify", MFD_CLOEXEC);
	if (fd < 0) {
		perror("memfd_create");
		abort();
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return 0;
}

static void check_failure(sc_err r, const char *what)
{
	FZ_ASSERT(r < 0 && strcmp(sc_err_name(r), "unknown") != 0, "%s: code %d", what, (int)r);
	FZ_ASSERT(sc_err_detail()[0] != '\0', "%s: %s without a detail", what, sc_err_name(r));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	STACK_OF(X509) *certs = NULL;
	struct sc_verify_opts opts;
	struct sc_verify_result res;
	struct sc_issuance iss;
	char dev[SC_DEVICE_ID_MAX + 1];
	X509 *leaf;
	sc_err r;
	int i;

	fz_input_begin(data, size);

	FZ_ASSERT(ftruncate(fd, 0) == 0 && pwrite(fd, data, size, 0) == (ssize_t)size,
	    "writing the input file");
	sc_err_clear();
	r = sc_load_certs(path, &certs);
	if (r != SC_OK) {
		check_failure(r, "sc_load_certs");
		fz_trace("verify: load %s: %s", sc_err_name(r), sc_err_detail());
		FZ_ASSERT(certs == NULL, "a failed load returned certificates");
		ERR_clear_error();
		return 0;
	}
	FZ_ASSERT(sk_X509_num(certs) >= 1, "loaded no certificate");
	for (i = 0; i < sk_X509_num(certs); i++) {
		X509 *c = sk_X509_value(certs, i);

		r = sc_issuance_get(c, &iss);
		if (r != SC_OK)
			check_failure(r, "sc_issuance_get");
		else
			FZ_ASSERT(iss.origin == SC_KEY_DEVICE_GENERATED ||
			        iss.origin == SC_KEY_SERVER_SUPPLIED,
			    "key origin %d", (int)iss.origin);
		r = sc_cert_device_id(c, dev, sizeof(dev));
		if (r != SC_OK)
			check_failure(r, "sc_cert_device_id");
		else
			FZ_ASSERT(strlen(dev) < sizeof(dev), "device ID not terminated");
	}

	leaf = sk_X509_shift(certs);
	memset(&opts, 0, sizeof(opts));
	opts.mfr_root = fx->mfr_root;
	opts.chain = certs;
	opts.at = FZ_NOW;
	r = sc_verify_chain(leaf, &opts, &res);
	fz_trace("verify: %d certificates; %s%s%s", sk_X509_num(certs) + 1, sc_err_name(r),
	    r == SC_OK ? "" : ": ", r == SC_OK ? "" : sc_err_detail());
	if (r != SC_OK) {
		check_failure(r, "sc_verify_chain");
	} else {
		fz_success();
		FZ_ASSERT(res.device_id[0] != '\0' && res.network_id[0] != '\0',
		    "verified without a device ID or network ID");
		FZ_ASSERT(res.profile_checked == 0, "a profile was checked without one");
	}
	X509_free(leaf);
	sk_X509_pop_free(certs, X509_free);
	ERR_clear_error();
	return 0;
}
