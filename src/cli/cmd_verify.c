// SPDX-License-Identifier: Apache-2.0
/*
 * cmd_verify.c — what anyone can run: `verify` (stock path validation to the manufacturer
 * root, then the issuance extension, then optionally the profile) and `inspect` (a profile, a
 * certificate or a chain, decoded for people or as one JSON object).
 */
#include <stdio.h>
#include <string.h>
#include <selfcert/revoked.h>
#include <time.h>
#include <openssl/bn.h>
#include <openssl/x509v3.h>
#include <selfcert/cert.h>
#include <selfcert/oid.h>
#include <selfcert/batch.h>
#include <selfcert/profile.h>
#include <selfcert/verify.h>
#include "cli.h"
#include "file.h"
#include "pem.h"
#include "text.h"

static const char verify_usage[] =
    "usage: selfcert verify --mfr-root ROOT.pem --chain CHAIN.pem LEAF.pem\n"
    "         [--net-root NETROOT.pem --profile PROFILE.der] [--network-id ID …] [--at TIME] [--json]\n"
    "         [--net-root NETROOT.pem --revoked LIST.json]\n"
    "  Stock X.509 path validation to the manufacturer root (name constraints included), then the\n"
    "  issuance extension; with a profile, its digest, ID, validity, key and names must match the\n"
    "  certificate and its signature must chain to NETROOT. --network-id restricts the networks\n"
    "  accepted. --revoked FILE (with --net-root): the network's signed revocation list (net revoked\n"
    "  sign, GET /v1/revoked), checked and not stale; a device on it is refused (revoked).\n";

static const char *origin_name(enum sc_key_origin o)
{
	return o == SC_KEY_SERVER_SUPPLIED ? "server-supplied" : "device-generated";
}

/*
 * The flags' rules, checked before anything is loaded: one leaf, --profile with --net-root,
 * --at a time, --network-id into networks (CLI_MAX_VALUES + 1 slots, the caller's).
 */
static sc_err verify_args(const struct cli_args *a, struct sc_verify_opts *opts,
    const char **networks)
{
	sc_err r;

	if (a->npos != 1)
		return sc_fail(SC_ERR_USAGE, "verify: name the leaf certificate (LEAF.pem)");
	if (cli_has(a, "net-root") && !cli_has(a, "profile") && !cli_has(a, "revoked"))
		return sc_fail(SC_ERR_USAGE, "verify: --net-root goes with --profile or --revoked");
	if ((cli_has(a, "profile") || cli_has(a, "revoked")) && !cli_has(a, "net-root"))
		return sc_fail(SC_ERR_USAGE, "verify: --profile and --revoked need --net-root");
	if (cli_has(a, "at") && (r = sc_parse_time(cli_get(a, "at"), &opts->at)) != SC_OK)
		return sc_fail(r, "verify: --at: %s", sc_err_detail());
	if (cli_has(a, "network-id")) {
		int n = cli_count(a, "network-id");
		for (int i = 0; i < n; i++)
			networks[i] = cli_nth(a, "network-id", i);
		networks[n] = NULL;
		opts->allowed_networks = networks;
	}
	return SC_OK;
}

/* What a verified leaf is, for people or as one JSON object. */
static void print_verified(X509 *leaf, const struct sc_verify_result *res, int json,
    const char *net_root_path)
{
	char hex[2 * SC_PROFILE_ID_LEN + 1], subject[256];

	sc_hex(res->issuance.profile_id, SC_PROFILE_ID_LEN, hex);
	cli_subject_line(leaf, subject, sizeof(subject));
	if (json) {
		printf("{\"ok\":true,\"subject\":");
		cli_json_str(stdout, subject);
		printf(",\"device_id\":");
		cli_json_str(stdout, res->device_id);
		printf(",\"network_id\":");
		cli_json_str(stdout, res->network_id);
		printf(
		    ",\"profile_id\":\"%s\",\"key_origin\":\"%s\",\"issuance_counter\":%llu,\"profile_checked\":%s}\n",
		    hex, origin_name(res->issuance.origin),
		    (unsigned long long)res->issuance.counter,
		    res->profile_checked ? "true" : "false");
		return;
	}
	printf("OK: %s\n", subject);
	printf(
	    "  chain:    leaf -> device CA %s -> manufacturer root (stock X.509, name constraints)\n",
	    res->device_id);
	printf("  issuance: network %s, profile %s, %s key, issuance #%llu\n", res->network_id, hex,
	    origin_name(res->issuance.origin), (unsigned long long)res->issuance.counter);
	if (res->profile_checked)
		printf("  profile:  matches the certificate; signed under %s\n", net_root_path);
}

/*
 * --profile: a SignedProfile, or a BatchedProfile (#17) whose body, path and root signature
 * sc_verify_chain then checks as it does a profile's (its digest is that of the batched bytes).
 * Which one is decided by decoding: a batch's own failure is reported only when the bytes are a
 * BatchedProfile whose path is wrong; otherwise the ordinary profile's.
 */
static sc_err verify_decode_profile(const uint8_t *der, size_t len, struct sc_profile **out)
{
	char detail[256];
	sc_err r, rb;

	if ((r = sc_profile_decode(der, len, out)) == SC_OK)
		return SC_OK;
	snprintf(detail, sizeof(detail), "%s", sc_err_detail());
	if ((rb = sc_batch_decode(der, len, out)) == SC_OK || rb == SC_ERR_BATCH_PATH)
		return rb;
	return sc_fail(r, "%s", detail);
}

sc_err cmd_verify(int argc, char **argv)
{
	static const struct cli_opt spec[] = {
		{ "mfr-root", 1, 0 },
		{ "chain", 1, 0 },
		{ "net-root", 1, 0 },
		{ "profile", 1, 0 },
		{ "at", 1, 0 },
		{ "json", 0, 0 },
		{ "network-id", 1, 1 },
		{ "revoked", 1, 0 },
	};
	sc_err r = SC_ERR_INTERNAL;
	struct cli_args a;
	struct sc_revoked *revoked = NULL;
	struct sc_verify_opts opts;
	struct sc_verify_result res;
	const char *root_path, *chain_path, *networks[CLI_MAX_VALUES + 1];
	X509 *root = NULL, *leaf = NULL, *net_root = NULL;
	STACK_OF(X509) *chain = NULL;
	struct sc_profile *profile = NULL;
	uint8_t *der = NULL;
	size_t der_len = 0;

	memset(&opts, 0, sizeof(opts));
	memset(&res, 0, sizeof(res));
	if ((r = cli_parse(&a, "verify", spec, sizeof(spec) / sizeof(spec[0]), argc, argv, 1)) !=
	    SC_OK)
		return r;
	if (a.help) {
		fputs(verify_usage, stdout);
		return SC_OK;
	}
	if ((r = cli_need(&a, "mfr-root", &root_path)) != SC_OK ||
	    (r = cli_need(&a, "chain", &chain_path)) != SC_OK ||
	    (r = verify_args(&a, &opts, networks)) != SC_OK)
		return r;
	if ((r = sc_load_cert(root_path, &root)) != SC_OK ||
	    (r = sc_load_certs(chain_path, &chain)) != SC_OK ||
	    (r = sc_load_cert(a.pos[0], &leaf)) != SC_OK)
		goto out;
	if (cli_has(&a, "profile")) {
		if ((r = sc_load_cert(cli_get(&a, "net-root"), &net_root)) != SC_OK ||
		    (r = sc_file_read(cli_get(&a, "profile"), SC_BATCH_MAX_DER, &der, &der_len)) !=
		        SC_OK)
			goto out;
		if ((r = verify_decode_profile(der, der_len, &profile)) != SC_OK) {
			r = sc_fail(r, "%s: %s", cli_get(&a, "profile"), sc_err_detail());
			goto out;
		}
		opts.profile = profile;
		opts.net_root = net_root;
	}
	if (cli_has(&a, "revoked")) {
		if ((r = cli_revoked_load(cli_get(&a, "revoked"), cli_get(&a, "net-root"), 0,
		         &revoked)) != SC_OK)
			goto out;
		opts.revoked = revoked;
	}
	opts.mfr_root = root;
	opts.chain = chain;
	if ((r = sc_verify_chain(leaf, &opts, &res)) != SC_OK)
		goto out;
	print_verified(leaf, &res, cli_has(&a, "json"), cli_get(&a, "net-root"));
	r = SC_OK;
out:
	/* A refusal in JSON too, on stdout, so a script reads one object either way (the one-line
	 * error still goes to stderr, from main). */
	if (r != SC_OK && cli_has(&a, "json")) {
		printf("{\"ok\":false,\"error\":");
		cli_json_str(stdout, sc_err_name(r));
		printf(",\"detail\":");
		cli_json_str(stdout, sc_err_detail());
		printf("}\n");
	}
	X509_free(root);
	X509_free(leaf);
	X509_free(net_root);
	sk_X509_pop_free(chain, X509_free);
	sc_profile_free(profile);
	sc_revoked_free(revoked);
	OPENSSL_free(der);
	return r;
}

/* ---- inspect ---- */

static const char inspect_usage[] =
    "usage: selfcert inspect FILE [--json]\n"
    "  Decodes a profile (DER), a certificate (PEM or DER) or a chain (PEM) for people, or as one\n"
    "  JSON object with --json.\n";

/* The key usages inspect names (oid.h), in bit order (never encipherOnly, decipherOnly). */
#define INSPECT_KEY_USAGES (SC_KU_DEVICE | KU_KEY_CERT_SIGN | KU_CRL_SIGN)

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
	for (int i = 0; i < SC_KU_NBITS; i++)
		if (ku & INSPECT_KEY_USAGES & sc_key_usage_bit(i))
			strlist_add(l, sc_key_usage_name(sc_key_usage_bit(i)));
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
			snprintf(buf, sizeof(buf), "%s:%.*s",
			    type == GEN_DNS         ? "dns"
			        : type == GEN_EMAIL ? "email"
			                            : "uri",
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
			snprintf(buf, sizeof(buf), "ip:%s",
			    strncmp(tmp, "IP Address:", 11) == 0 ? tmp + 11 : tmp);
			break;
		}
		default: snprintf(buf, sizeof(buf), "other(%d)", type);
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

/* A profile's fields, formatted once for either printer. */
struct profile_view {
	struct sc_profile_info in;
	char id[2 * SC_PROFILE_ID_LEN + 1], ch[2 * SC_CHALLENGE_MAX + 1],
	    dg[2 * SC_PROFILE_DIGEST_LEN + 1];
	char signer[256];
	struct strlist ku, eku, san;
};

static void profile_json(const struct profile_view *v)
{
	const struct sc_profile_info *in = &v->in;

	printf("{\"type\":\"profile\",\"profile_id\":\"%s\",\"network_id\":", v->id);
	cli_json_str(stdout, in->network_id);
	printf(",\"device_id\":");
	cli_json_str(stdout, in->device_id);
	printf(",\"user_id\":");
	if (in->has_user_id)
		cli_json_str(stdout, in->user_id);
	else
		printf("null");
	printf(",\"challenge\":%s%s%s,", in->challenge_len ? "\"" : "",
	    in->challenge_len ? v->ch : "null", in->challenge_len ? "\"" : "");
	print_time_field("profile_not_after", in->profile_not_after, 1, 0);
	print_time_field("not_before", in->not_before, 1, 0);
	print_time_field("not_after", in->not_after, 1, 0);
	printf("\"key_origin\":\"%s\",\"alg\":\"%s\",\"cert_digest\":\"%s\",\"key_usage\":",
	    origin_name(in->origin), sc_alg_name(in->alg) ? sc_alg_name(in->alg) : "unknown",
	    sc_digest_name(in->cert_digest) ? sc_digest_name(in->cert_digest) : "none");
	strlist_print(&v->ku, 1);
	printf(",\"eku\":");
	strlist_print(&v->eku, 1);
	printf(",\"san\":");
	strlist_print(&v->san, 1);
	printf(",\"signer\":");
	cli_json_str(stdout, v->signer);
	printf(",\"signature_algorithm\":");
	cli_json_str(stdout, in->sig_alg ? in->sig_alg : "");
	printf(",\"certificates\":%d,\"digest\":\"%s\"}\n", in->certs ? sk_X509_num(in->certs) : 0,
	    v->dg);
}

/* "  label              a, b": a list line, left out when the list is empty (unless always). */
static void strlist_line(const char *label, const struct strlist *l, int always)
{
	if (!always && l->n == 0)
		return;
	printf("  %-18s ", label);
	strlist_print(l, 0);
	printf("\n");
}

static void profile_text(const struct profile_view *v)
{
	const struct sc_profile_info *in = &v->in;

	printf("profile %s\n", v->id);
	printf("  %-18s %s\n", "network", in->network_id);
	printf("  %-18s %s\n", "device", in->device_id);
	if (in->has_user_id)
		printf("  %-18s %s\n", "user", in->user_id);
	printf("  %-18s %s\n", "challenge", in->challenge_len ? v->ch : "(none)");
	print_time_field("profile void after", in->profile_not_after, 0, 0);
	print_time_field("not before", in->not_before, 0, 0);
	print_time_field("not after", in->not_after, 0, 0);
	printf("  %-18s %s, %s\n", "key", sc_alg_name(in->alg) ? sc_alg_name(in->alg) : "unknown",
	    in->origin == SC_KEY_SERVER_SUPPLIED ? "generated by the server, encrypted to the KEK"
	                                         : "generated in the SP");
	printf("  %-18s %s\n", "certificate digest",
	    sc_digest_name(in->cert_digest) ? sc_digest_name(in->cert_digest) : "none");
	strlist_line("key usage", &v->ku, 1);
	strlist_line("extended usage", &v->eku, 0);
	strlist_line("alt names", &v->san, 0);
	printf("  %-18s %s (%s, %d certificate%s)\n", "signed by", v->signer,
	    in->sig_alg ? in->sig_alg : "?", in->certs ? sk_X509_num(in->certs) : 0,
	    in->certs && sk_X509_num(in->certs) == 1 ? "" : "s");
	printf("  %-18s %s\n", "sha256", v->dg);
}

static void inspect_profile(const struct sc_profile *p, int json)
{
	struct profile_view v = { .signer = "",
		.ku = { .n = 0 },
		.eku = { .n = 0 },
		.san = { .n = 0 } };

	sc_profile_get_info(p, &v.in);
	sc_hex(v.in.id, sizeof(v.in.id), v.id);
	sc_hex(v.in.challenge, v.in.challenge_len, v.ch);
	sc_hex(v.in.digest, sizeof(v.in.digest), v.dg);
	if (v.in.signer != NULL)
		cli_subject_line(v.in.signer, v.signer, sizeof(v.signer));
	ku_list(v.in.key_usage, &v.ku);
	eku_list(v.in.eku, &v.eku);
	san_list(v.in.san, &v.san);
	if (json)
		profile_json(&v);
	else
		profile_text(&v);
}

/* A certificate's fields, formatted once for either printer. */
struct cert_view {
	char subject[256], issuer[256], nb[32], na[32], serial[80];
	enum sc_alg alg;
	int ca;
	long pathlen;
	struct strlist kul;
	int has_iss;
	struct sc_issuance iss;
};

static void cert_json(const struct cert_view *v, int index)
{
	printf("%s{\"type\":\"certificate\",\"subject\":", index > 0 ? "," : "");
	cli_json_str(stdout, v->subject);
	printf(",\"issuer\":");
	cli_json_str(stdout, v->issuer);
	printf(
	    ",\"serial\":\"%s\",\"not_before\":\"%s\",\"not_after\":\"%s\",\"key\":\"%s\",\"ca\":%s",
	    v->serial, v->nb, v->na, sc_alg_name(v->alg) ? sc_alg_name(v->alg) : "other",
	    v->ca ? "true" : "false");
	printf(",\"key_usage\":");
	strlist_print(&v->kul, 1);
	if (v->has_iss) {
		char id[2 * SC_PROFILE_ID_LEN + 1], dg[2 * SC_PROFILE_DIGEST_LEN + 1];
		sc_hex(v->iss.profile_id, sizeof(v->iss.profile_id), id);
		sc_hex(v->iss.profile_digest, sizeof(v->iss.profile_digest), dg);
		printf(
		    ",\"issuance\":{\"profile_id\":\"%s\",\"profile_digest\":\"%s\",\"network_id\":",
		    id, dg);
		cli_json_str(stdout, v->iss.network_id);
		printf(",\"key_origin\":\"%s\",\"counter\":%llu}", origin_name(v->iss.origin),
		    (unsigned long long)v->iss.counter);
	}
	printf("}");
}

static void cert_text(const struct cert_view *v)
{
	printf("certificate %s\n", v->subject);
	printf("  %-18s %s\n", "issuer", v->issuer);
	printf("  %-18s %s\n", "serial", v->serial);
	printf("  %-18s %s .. %s\n", "valid", v->nb, v->na);
	printf("  %-18s %s\n", "key", sc_alg_name(v->alg) ? sc_alg_name(v->alg) : "other");
	if (v->ca)
		printf("  %-18s CA%s%ld\n", "basic constraints",
		    v->pathlen >= 0 ? ", pathlen " : "", v->pathlen >= 0 ? v->pathlen : 0L);
	strlist_line("key usage", &v->kul, 0);
	if (v->has_iss) {
		char id[2 * SC_PROFILE_ID_LEN + 1];
		sc_hex(v->iss.profile_id, sizeof(v->iss.profile_id), id);
		printf("  %-18s network %s, profile %s, %s key, issuance #%llu\n", "self-issued",
		    v->iss.network_id, id, origin_name(v->iss.origin),
		    (unsigned long long)v->iss.counter);
	}
}

/* The issuer as one RFC 2253 line, most significant first, UTF-8 left as is ("" if it fails). */
static void issuer_line(X509 *x, char *out, size_t len)
{
	BIO *b = BIO_new(BIO_s_mem());
	int n = 0;

	if (b == NULL)
		return;
	if (X509_NAME_print_ex(b, X509_get_issuer_name(x), 0,
	        XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB & ~XN_FLAG_DN_REV) >= 0)
		n = BIO_read(b, out, (int)len - 1);
	out[n > 0 ? n : 0] = '\0';
	BIO_free(b);
}

static void inspect_cert(X509 *x, int json, int index)
{
	struct cert_view v = { .issuer = "", .nb = "?", .serial = "", .kul = { .n = 0 } };
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	char *hexsn = bn ? BN_bn2hex(bn) : NULL;
	uint32_t ku = X509_get_key_usage(x);
	time_t t;

	v.has_iss = sc_issuance_get(x, &v.iss) == SC_OK;
	v.ca = X509_check_ca(x);
	v.pathlen = X509_get_pathlen(x);
	v.alg = sc_alg_of_key(X509_get0_pubkey(x));
	cli_subject_line(x, v.subject, sizeof(v.subject));
	issuer_line(x, v.issuer, sizeof(v.issuer));
	if (sc_asn1_time_to_time_t(X509_get0_notBefore(x), &t) == SC_OK)
		sc_format_time(t, v.nb, sizeof(v.nb));
	cli_not_after(x, v.na, sizeof(v.na));
	snprintf(v.serial, sizeof(v.serial), "%s", hexsn ? hexsn : "?");
	if (ku != UINT32_MAX)
		ku_list(ku, &v.kul);
	if (json)
		cert_json(&v, index);
	else
		cert_text(&v);
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
