// SPDX-License-Identifier: Apache-2.0
/*
 * cmd_device_crl.c — `device crl`: the SP signs its device CA's own CRL (empty, short-lived;
 * docs/PROTOCOL.md 0x19), checked here against the SP's CSK certificate and written as PEM, for
 * a relying party that wants a CRL at every level (nginx ssl_crl) or for provd (docs/API.md).
 */
#include <stdio.h>
#include <time.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <selfcert/crl.h>
#include <selfcert/sp.h>
#include "cli.h"
#include "file.h"
#include "text.h"

static const char crl_usage[] =
    "usage: selfcert device crl --sp SOCKET --out FILE [--days N] [--json]\n"
    "  The SP signs, with its device CA key, an empty CRL for its device CA (cRLNumber and\n"
    "  thisUpdate from the SP's clock, nextUpdate N days later, default 7, 1..30); it is checked\n"
    "  against the SP's device CA certificate and written atomically to FILE (PEM, 0644).\n"
    "  Needs an SP of protocol revision 1.3 (older: unknown-request).\n"
    "  --json  print one JSON object (out, crl_number, next_update)\n";

sc_err cmd_device_crl(int argc, char **argv)
{
	static const struct cli_opt spec[] = { { "sp", 1, 0 }, { "out", 1, 0 }, { "days", 1, 0 },
		{ "json", 0, 0 } };
	struct cli_args a;
	struct sc_sp *sp = NULL;
	const char *out_path = NULL, *sock = NULL;
	uint8_t *der = NULL;
	const unsigned char *q;
	size_t der_len = 0;
	X509_CRL *crl = NULL;
	ASN1_INTEGER *num = NULL;
	BIO *mem = NULL;
	char *pem = NULL, when[32];
	long pem_len, days = 0;
	int64_t next = 0;
	uint64_t number = 0;
	sc_err r;

	if ((r = cli_parse(&a, "device crl", spec, 4, argc, argv, 0)) != SC_OK)
		goto out;
	if (a.help) {
		fputs(crl_usage, stdout);
		r = SC_OK;
		goto out;
	}
	if ((r = cli_need(&a, "sp", &sock)) != SC_OK ||
	    (r = cli_need(&a, "out", &out_path)) != SC_OK ||
	    (r = cli_int(&a, "days", 7, 1, SC_CRL_MAX_LIFETIME / 86400, &days)) != SC_OK ||
	    (r = cli_out_writable(out_path)) != SC_OK)
		goto out;
	if ((r = sc_sp_connect(sock, &sp)) != SC_OK ||
	    (r = sc_crl_device_fetch(sp, (uint32_t)days * 86400u, &der, &der_len, &next)) != SC_OK)
		goto out;
	q = der;
	if ((crl = d2i_X509_CRL(NULL, &q, (long)der_len)) == NULL ||
	    (mem = BIO_new(BIO_s_mem())) == NULL || PEM_write_bio_X509_CRL(mem, crl) != 1 ||
	    (pem_len = BIO_get_mem_data(mem, &pem)) <= 0) {
		r = sc_fail_ossl(SC_ERR_NOMEM, "device crl: PEM encoding");
		goto out;
	}
	if ((r = sc_file_write_atomic(out_path, pem, (size_t)pem_len, 0644)) != SC_OK)
		goto out;
	if ((num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL)) == NULL ||
	    ASN1_INTEGER_get_uint64(&number, num) != 1) {
		r = sc_fail_ossl(SC_ERR_INTERNAL, "device crl: cRLNumber");
		goto out;
	}
	sc_format_time((time_t)next, when, sizeof(when));
	if (cli_has(&a, "json"))
		r = cli_json_out(json_pack("{s:s, s:I, s:s}", "out", out_path, "crl_number",
		    (json_int_t)number, "next_update", when));
	else
		printf("%s: device CA CRL %llu, next update %s\n", out_path,
		    (unsigned long long)number, when);
out:
	ASN1_INTEGER_free(num);
	BIO_free(mem);
	X509_CRL_free(crl);
	OPENSSL_free(der);
	sc_sp_close(sp);
	return r;
}
