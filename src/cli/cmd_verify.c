/*
 * cmd_verify.c — what anyone can run: `verify` (stock path validation to the manufacturer
 * root, then the issuance extension, then optionally the profile) and `inspect` (a profile, a
 * certificate or a chain, decoded for people or as one JSON object).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <openssl/bn.h>
#include <openssl/x509v3.h>
#include <selfcert/cert.h>
#include <selfcert/profile.h>
#include <selfcert/verify.h>
#include "cli.h"
#include "file.h"
#include "pem.h"
#include "text.h"

static const char verify_usage[] =
"usage: selfcert verify --mfr-root ROOT.pem --chain CHAIN.pem LEAF.pem\n"
"         [--net-root NETROOT.pem --profile PROFILE.der] [--network-id ID …] [--at TIME] [--json]\n"
"  Stock X.509 path validation to the manufacturer root (name constraints included), then the\n"
"  issuance extension; with a profile, its digest, ID, validity, key and names must match the\n"
"  certificate and its signature must chain to NETROOT. --network-id restricts the networks\n"
"  accepted. Does not check revocation.\n";

static const char *origin_name(enum sc_key_origin o)
{
	return o == SC_KEY_SERVER_SUPPLIED ? "server-supplied" : "device-generated";
}

sc_err cmd_verify(int argc, char **argv)
{
	static const struct cli_opt spec[] = {
		{ "mfr-root", 1, 0 }, { "chain", 1, 0 }, { "net-root", 1, 0 }, { "profile", 1, 0 },
		{ "at", 1, 0 }, { "json", 0, 0 }, { "network-id", 1, 1 },
	};
	sc_err r = SC_ERR_INTERNAL;
	struct cli_args a;
	struct sc_verify_opts opts;
	struct sc_verify_result res;
	const char *root_path, *chain_path, *networks[CLI_MAX_VALUES + 1];
	X509 *root = NULL, *leaf = NULL, *net_root = NULL;
	STACK_OF(X509) *chain = NULL;
	struct sc_profile *profile = NULL;
	uint8_t *der = NULL;
	size_t der_len = 0;
	char hex[2 * SC_PROFILE_ID_LEN + 1], subject[256];

	memset(&opts, 0, sizeof(opts));
	memset(&res, 0, sizeof(res));
	if ((r = cli_parse(&a, "verify", spec, sizeof(spec) / sizeof(spec[0]), argc, argv, 1)) != SC_OK)
		return r;
	if (a.help) {
		fputs(verify_usage, stdout);
		return SC_OK;
	}
	if ((r = cli_need(&a, "mfr-root", &root_path)) != SC_OK || (r = cli_need(&a, "chain", &chain_path)) != SC_OK)
		return r;
	if (a.npos != 1)
		return sc_fail(SC_ERR_USAGE, "verify: name the leaf certificate (LEAF.pem)");
	if (cli_has(&a, "profile") != cli_has(&a, "net-root"))
		return sc_fail(SC_ERR_USAGE, "verify: --profile and --net-root go together");
	if (cli_has(&a, "at") && (r = sc_parse_time(cli_get(&a, "at"), &opts.at)) != SC_OK)
		return sc_fail(r, "verify: --at: %s", sc_err_detail());
	if (cli_has(&a, "network-id")) {
		int n = cli_count(&a, "network-id");
		for (int i = 0; i < n; i++)
			networks[i] = cli_nth(&a, "network-id", i);
		networks[n] = NULL;
		opts.allowed_networks = networks;
	}
	if ((r = sc_load_cert(root_path, &root)) != SC_OK || (r = sc_load_certs(chain_path, &chain)) != SC_OK ||
	    (r = sc_load_cert(a.pos[0], &leaf)) != SC_OK)
		goto out;
	if (cli_has(&a, "profile")) {
		if ((r = sc_load_cert(cli_get(&a, "net-root"), &net_root)) != SC_OK ||
		    (r = sc_file_read(cli_get(&a, "profile"), SC_PROFILE_MAX_DER, &der, &der_len)) != SC_OK)
			goto out;
		if ((r = sc_profile_decode(der, der_len, &profile)) != SC_OK) {
			r = sc_fail(r, "%s: %s", cli_get(&a, "profile"), sc_err_detail());
			goto out;
		}
		opts.profile = profile;
		opts.net_root = net_root;
	}
	opts.mfr_root = root;
	opts.chain = chain;
	if ((r = sc_verify_chain(leaf, &opts, &res)) != SC_OK)
		goto out;
	sc_hex(res.issuance.profile_id, SC_PROFILE_ID_LEN, hex);
	cli_subject_line(leaf, subject, sizeof(subject));
	if (cli_has(&a, "json")) {
		printf("{\"ok\":true,\"subject\":");
		cli_json_str(stdout, subject);
		printf(",\"device_id\":");
		cli_json_str(stdout, res.device_id);
		printf(",\"network_id\":");
		cli_json_str(stdout, res.network_id);
		printf(",\"profile_id\":\"%s\",\"key_origin\":\"%s\",\"issuance_counter\":%llu,\"profile_checked\":%s}\n",
		    hex, origin_name(res.issuance.origin), (unsigned long long)res.issuance.counter,
		    res.profile_checked ? "true" : "false");
	} else {
		printf("OK: %s\n", subject);
		printf("  chain:    leaf -> device CA %s -> manufacturer root (stock X.509, name constraints)\n",
		    res.device_id);
		printf("  issuance: network %s, profile %s, %s key, issuance #%llu\n", res.network_id, hex,
		    origin_name(res.issuance.origin), (unsigned long long)res.issuance.counter);
		if (res.profile_checked)
			printf("  profile:  matches the certificate; signed under %s\n", cli_get(&a, "net-root"));
	}
	r = SC_OK;
out:
	X509_free(root);
	X509_free(leaf);
	X509_free(net_root);
	sk_X509_pop_free(chain, X509_free);
	sc_profile_free(profile);
	OPENSSL_free(der);
	return r;
}

/* ---- inspect ---- */

static const char inspect_usage[] =
"usage: selfcert inspect FILE [--json]\n"
"  Decodes a profile (DER), a certificate (PEM or DER) or a chain (PEM) for people, or as one\n"
"  JSON object with --json.\n";

static const struct {
	unsigned bit;
	const char *name;
} ku_names[] = {
	{ KU_DIGITAL_SIGNATURE, "digitalSignature" }, { KU_NON_REPUDIATION, "nonRepudiation" },
	{ KU_KEY_ENCIPHERMENT, "keyEncipherment" }, { KU_DATA_ENCIPHERMENT, "dataEncipherment" },
	{ KU_KEY_AGREEMENT, "keyAgreement" }, { KU_KEY_CERT_SIGN, "keyCertSign" }, { KU_CRL_SIGN, "cRLSign" },
};

/* Print a list of strings as "a, b" or as a JSON array. */
struct strlist {
	const char *v[32];
	char store[32][256];
	int n;
};

static void strlist_add(struct strlist *l, const char *s)
{
	if (l->n < 32) {
		snprintf(l->store[l->n], sizeof(l->store[0]), "%s", s);
		l->v[l->n] = l->store[l->n];
		l->n++;
	}
}

static void strlist_print(const struct strlist *l, int json)
{
	if (json)
		printf("[");
	for (int i = 0; i < l->n; i++) {
		if (json) {
			printf(i ? "," : "");
			cli_json_str(stdout, l->v[i]);
		} else {
			printf("%s%s", i ? ", " : "", l->v[i]);
		}
	}
	if (json)
		printf("]");
}

static void ku_list(unsigned ku, struct strlist *l)
{
	for (size_t i = 0; i < sizeof(ku_names) / sizeof(ku_names[0]); i++)
		if (ku & ku_names[i].bit)
			strlist_add(l, ku_names[i].name);
}

static void eku_list(const EXTENDED_KEY_USAGE *eku, struct strlist *l)
{
	for (int i = 0; eku != NULL && i < sk_ASN1_OBJECT_num(eku); i++) {
		char buf[128];
		OBJ_obj2txt(buf, sizeof(buf), sk_ASN1_OBJECT_value(eku, i), 0);
		strlist_add(l, buf);
	}
}

static void san_list(const GENERAL_NAMES *gens, struct strlist *l)
{
	for (int i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		char buf[256];
		int type;
		const ASN1_STRING *s = GENERAL_NAME_get0_value(g, &type);
		switch (type) {
		case GEN_DNS:
		case GEN_EMAIL:
		case GEN_URI:
			snprintf(buf, sizeof(buf), "%s:%.*s", type == GEN_DNS ? "dns" : type == GEN_EMAIL ? "email" : "uri",
			    ASN1_STRING_length(s), (const char *)ASN1_STRING_get0_data(s));
			break;
		case GEN_IPADD: {
			/* GENERAL_NAME_print writes "IP Address:192.0.2.1"; we show "ip:192.0.2.1". */
			char tmp[128];
			BIO *b = BIO_new(BIO_s_mem());
			int n = 0;
			if (b != NULL && GENERAL_NAME_print(b, g) > 0)
				n = BIO_read(b, tmp, sizeof(tmp) - 1);
			tmp[n > 0 ? n : 0] = '\0';
			BIO_free(b);
			snprintf(buf, sizeof(buf), "ip:%s", strncmp(tmp, "IP Address:", 11) == 0 ? tmp + 11 : tmp);
			break;
		}
		default:
			snprintf(buf, sizeof(buf), "other(%d)", type);
		}
		strlist_add(l, buf);
	}
}

static void print_time_field(const char *label, time_t t, int json, int last)
{
	char buf[32];
	sc_format_time(t, buf, sizeof(buf));
	if (json)
		printf("\"%s\":\"%s\"%s", label, buf, last ? "" : ",");
	else
		printf("  %-18s %s\n", label, buf);
}

static void inspect_profile(const struct sc_profile *p, int json)
{
	struct sc_profile_info in;
	char id[2 * SC_PROFILE_ID_LEN + 1], ch[2 * SC_CHALLENGE_MAX + 1], dg[2 * SC_PROFILE_DIGEST_LEN + 1];
	char signer[256] = "";
	struct strlist ku = { .n = 0 }, eku = { .n = 0 }, san = { .n = 0 };

	sc_profile_get_info(p, &in);
	sc_hex(in.id, sizeof(in.id), id);
	sc_hex(in.challenge, in.challenge_len, ch);
	sc_hex(in.digest, sizeof(in.digest), dg);
	if (in.signer != NULL)
		cli_subject_line(in.signer, signer, sizeof(signer));
	ku_list(in.key_usage, &ku);
	eku_list(in.eku, &eku);
	san_list(in.san, &san);
	if (json) {
		printf("{\"type\":\"profile\",\"profile_id\":\"%s\",\"network_id\":", id);
		cli_json_str(stdout, in.network_id);
		printf(",\"device_id\":");
		cli_json_str(stdout, in.device_id);
		printf(",\"user_id\":");
		if (in.has_user_id)
			cli_json_str(stdout, in.user_id);
		else
			printf("null");
		printf(",\"challenge\":%s%s%s,", in.challenge_len ? "\"" : "", in.challenge_len ? ch : "null",
		    in.challenge_len ? "\"" : "");
		print_time_field("profile_not_after", in.profile_not_after, 1, 0);
		print_time_field("not_before", in.not_before, 1, 0);
		print_time_field("not_after", in.not_after, 1, 0);
		printf("\"key_origin\":\"%s\",\"alg\":\"%s\",\"cert_digest\":\"%s\",\"key_usage\":", origin_name(in.origin),
		    sc_alg_name(in.alg) ? sc_alg_name(in.alg) : "unknown",
		    sc_digest_name(in.cert_digest) ? sc_digest_name(in.cert_digest) : "none");
		strlist_print(&ku, 1);
		printf(",\"eku\":");
		strlist_print(&eku, 1);
		printf(",\"san\":");
		strlist_print(&san, 1);
		printf(",\"signer\":");
		cli_json_str(stdout, signer);
		printf(",\"signature_algorithm\":");
		cli_json_str(stdout, in.sig_alg ? in.sig_alg : "");
		printf(",\"certificates\":%d,\"digest\":\"%s\"}\n", in.certs ? sk_X509_num(in.certs) : 0, dg);
		return;
	}
	printf("profile %s\n", id);
	printf("  %-18s %s\n", "network", in.network_id);
	printf("  %-18s %s\n", "device", in.device_id);
	if (in.has_user_id)
		printf("  %-18s %s\n", "user", in.user_id);
	printf("  %-18s %s\n", "challenge", in.challenge_len ? ch : "(none)");
	print_time_field("profile void after", in.profile_not_after, 0, 0);
	print_time_field("not before", in.not_before, 0, 0);
	print_time_field("not after", in.not_after, 0, 0);
	printf("  %-18s %s, %s\n", "key", sc_alg_name(in.alg) ? sc_alg_name(in.alg) : "unknown",
	    in.origin == SC_KEY_SERVER_SUPPLIED ? "generated by the server, encrypted to the KEK" : "generated in the SP");
	printf("  %-18s %s\n", "certificate digest", sc_digest_name(in.cert_digest) ? sc_digest_name(in.cert_digest) : "none");
	printf("  %-18s ", "key usage");
	strlist_print(&ku, 0);
	printf("\n");
	if (eku.n) {
		printf("  %-18s ", "extended usage");
		strlist_print(&eku, 0);
		printf("\n");
	}
	if (san.n) {
		printf("  %-18s ", "alt names");
		strlist_print(&san, 0);
		printf("\n");
	}
	printf("  %-18s %s (%s, %d certificate%s)\n", "signed by", signer, in.sig_alg ? in.sig_alg : "?",
	    in.certs ? sk_X509_num(in.certs) : 0, in.certs && sk_X509_num(in.certs) == 1 ? "" : "s");
	printf("  %-18s %s\n", "sha256", dg);
}

static void inspect_cert(X509 *x, int json, int index)
{
	char subject[256], issuer[256] = "", nb[32] = "?", na[32], serial[80] = "";
	const ASN1_INTEGER *sn = X509_get0_serialNumber(x);
	BIGNUM *bn = ASN1_INTEGER_to_BN(sn, NULL);
	char *hexsn = bn ? BN_bn2hex(bn) : NULL;
	time_t t;
	struct sc_issuance iss;
	int has_iss = sc_issuance_get(x, &iss) == SC_OK;
	int ca = X509_check_ca(x);
	long pathlen = X509_get_pathlen(x);
	uint32_t ku = X509_get_key_usage(x);
	struct strlist kul = { .n = 0 };
	enum sc_alg alg = sc_alg_of_key(X509_get0_pubkey(x));
	BIO *b = BIO_new(BIO_s_mem());

	cli_subject_line(x, subject, sizeof(subject));
	if (b != NULL) {
		int n = 0;
		if (X509_NAME_print_ex(b, X509_get_issuer_name(x), 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB & ~XN_FLAG_DN_REV) >= 0)
			n = BIO_read(b, issuer, sizeof(issuer) - 1);
		issuer[n > 0 ? n : 0] = '\0';
		BIO_free(b);
	}
	if (sc_asn1_time_to_time_t(X509_get0_notBefore(x), &t) == SC_OK)
		sc_format_time(t, nb, sizeof(nb));
	cli_not_after(x, na, sizeof(na));
	snprintf(serial, sizeof(serial), "%s", hexsn ? hexsn : "?");
	if (ku != UINT32_MAX)
		ku_list(ku, &kul);
	if (json) {
		printf("%s{\"type\":\"certificate\",\"subject\":", index > 0 ? "," : "");
		cli_json_str(stdout, subject);
		printf(",\"issuer\":");
		cli_json_str(stdout, issuer);
		printf(",\"serial\":\"%s\",\"not_before\":\"%s\",\"not_after\":\"%s\",\"key\":\"%s\",\"ca\":%s", serial, nb, na,
		    sc_alg_name(alg) ? sc_alg_name(alg) : "other", ca ? "true" : "false");
		printf(",\"key_usage\":");
		strlist_print(&kul, 1);
		if (has_iss) {
			char id[2 * SC_PROFILE_ID_LEN + 1], dg[2 * SC_PROFILE_DIGEST_LEN + 1];
			sc_hex(iss.profile_id, sizeof(iss.profile_id), id);
			sc_hex(iss.profile_digest, sizeof(iss.profile_digest), dg);
			printf(",\"issuance\":{\"profile_id\":\"%s\",\"profile_digest\":\"%s\",\"network_id\":", id, dg);
			cli_json_str(stdout, iss.network_id);
			printf(",\"key_origin\":\"%s\",\"counter\":%llu}", origin_name(iss.origin), (unsigned long long)iss.counter);
		}
		printf("}");
	} else {
		printf("certificate %s\n", subject);
		printf("  %-18s %s\n", "issuer", issuer);
		printf("  %-18s %s\n", "serial", serial);
		printf("  %-18s %s .. %s\n", "valid", nb, na);
		printf("  %-18s %s\n", "key", sc_alg_name(alg) ? sc_alg_name(alg) : "other");
		if (ca)
			printf("  %-18s CA%s%ld\n", "basic constraints", pathlen >= 0 ? ", pathlen " : "", pathlen >= 0 ? pathlen : 0L);
		if (kul.n) {
			printf("  %-18s ", "key usage");
			strlist_print(&kul, 0);
			printf("\n");
		}
		if (has_iss) {
			char id[2 * SC_PROFILE_ID_LEN + 1];
			sc_hex(iss.profile_id, sizeof(iss.profile_id), id);
			printf("  %-18s network %s, profile %s, %s key, issuance #%llu\n", "self-issued", iss.network_id, id,
			    origin_name(iss.origin), (unsigned long long)iss.counter);
		}
	}
	OPENSSL_free(hexsn);
	BN_free(bn);
}

sc_err cmd_inspect(int argc, char **argv)
{
	static const struct cli_opt spec[] = { { "json", 0, 0 } };
	sc_err r = SC_ERR_INTERNAL, pr;
	struct cli_args a;
	uint8_t *data = NULL;
	size_t len = 0;
	struct sc_profile *p = NULL;
	STACK_OF(X509) *certs = NULL;
	int json;

	if ((r = cli_parse(&a, "inspect", spec, 1, argc, argv, 1)) != SC_OK)
		return r;
	if (a.help) {
		fputs(inspect_usage, stdout);
		return SC_OK;
	}
	if (a.npos != 1)
		return sc_fail(SC_ERR_USAGE, "inspect: name one FILE");
	json = cli_has(&a, "json");
	if ((r = sc_file_read(a.pos[0], SC_FILE_MAX, &data, &len)) != SC_OK)
		return r;
	if (len > 0 && data[0] == 0x30) {
		pr = sc_profile_decode(data, len, &p);
		if (pr == SC_OK) {
			inspect_profile(p, json);
			r = SC_OK;
			goto out;
		}
		/* Not a profile: perhaps a DER certificate. Keep the profile's complaint for the error. */
		if (pr != SC_ERR_MALFORMED && pr != SC_ERR_CONTENT_TYPE) {
			r = sc_fail(pr, "%s: %s", a.pos[0], sc_err_detail());
			goto out;
		}
	}
	if ((r = sc_load_certs(a.pos[0], &certs)) != SC_OK) {
		r = sc_fail(SC_ERR_MALFORMED, "%s: neither a profile nor a certificate", a.pos[0]);
		goto out;
	}
	if (json && sk_X509_num(certs) > 1)
		printf("{\"type\":\"chain\",\"certificates\":[");
	for (int i = 0; i < sk_X509_num(certs); i++)
		inspect_cert(sk_X509_value(certs, i), json, sk_X509_num(certs) > 1 ? i : 0);
	if (json)
		printf(sk_X509_num(certs) > 1 ? "]}\n" : "\n");
	r = SC_OK;
out:
	sc_profile_free(p);
	sk_X509_pop_free(certs, X509_free);
	OPENSSL_free(data);
	return r;
}
