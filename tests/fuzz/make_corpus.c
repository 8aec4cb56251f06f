// SPDX-License-Identifier: Apache-2.0
/*
 * make_corpus.c — writes the seed corpus of every fuzz target (tests/fuzz/corpus/<target>/)
 * from the fixture's fixed hierarchy: valid and refused profiles, one SP request of each type,
 * sealed stores and plaintext states, certificate chains, and CMS envelopes. Run by
 * tests/fuzz/make-corpus.sh. Nothing written is a private key: a supplied key appears only
 * encrypted to the fixture's KEK, and stores only sealed under the fixture's root key.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <selfcert/cert.h>
#include <selfcert/sp.h>
#include "fuzz.h"
#include "sp_msg.h"
#include "sp_wire.h"
#include "pem.h"
#include "spd.h"
#include "store.h"

static const struct fz_fixture *fx;
static const char *out_dir;

static __attribute__((noreturn)) void die(const char *what)
{
	fprintf(stderr, "make_corpus: %s: %s\n", what, sc_err_detail());
	exit(1);
}

static void seed(const char *target, const char *name, const void *data, size_t len)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s", out_dir, target);
	if (mkdir(path, 0755) != 0 && errno != EEXIST)
		die(path);
	snprintf(path, sizeof(path), "%s/%s/%s", out_dir, target, name);
	if (fz_write_file(path, data, len, 0644) != 0)
		die(path);
}

/* ---- profiles ---- */

struct pspec {
	enum sc_alg alg;
	EVP_PKEY *supplied;
	const char *device_id, *network_id, *user_id;
	const uint8_t *challenge;
	size_t challenge_len;
	time_t profile_not_after;
	unsigned key_usage;
	enum sc_digest digest;
	const char *const *eku, *const *san;
	int with_root; /* the network root among the profile's certificates */
	uint32_t renewal_count, renewal_cadence; /* #17: a renewal profile ([6]) when count > 0 */
};

static struct sc_profile *make_profile(const struct pspec *s)
{
	struct sc_profile_params pp;
	struct sc_profile *p = NULL;
	STACK_OF(X509) *inter = NULL;

	memset(&pp, 0, sizeof(pp));
	pp.network_id = s->network_id ? s->network_id : FZ_NETWORK_ID;
	pp.device_id = s->device_id ? s->device_id : FZ_DEVICE_ID;
	pp.user_id = s->user_id;
	pp.challenge = s->challenge;
	pp.challenge_len = s->challenge_len;
	pp.profile_not_after = s->profile_not_after ? s->profile_not_after : FZ_PROFILE_NOT_AFTER;
	pp.not_before = FZ_LEAF_NOT_BEFORE;
	pp.not_after = FZ_LEAF_NOT_AFTER;
	pp.generate_alg = s->alg ? s->alg : SC_ALG_P256;
	pp.supplied_key = s->supplied;
	pp.kek_cert = s->supplied ? fx->kek_cert : NULL;
	pp.cert_digest = s->digest;
	pp.key_usage = s->key_usage;
	pp.eku = s->eku;
	pp.san = s->san;
	pp.renewal_count = s->renewal_count;
	pp.renewal_cadence = s->renewal_cadence;
	if (s->with_root &&
	    ((inter = sk_X509_new_null()) == NULL || !sk_X509_push(inter, fx->net_root)))
		die("intermediates");
	if (sc_profile_create(&pp, &p) != SC_OK ||
	    sc_profile_sign(p, fx->signer_key, fx->signer, inter, 0) != SC_OK)
		die("profile");
	sk_X509_free(inter);
	return p;
}

static void profile_der(const struct pspec *s, uint8_t **der, size_t *len)
{
	struct sc_profile *p = make_profile(s);

	if (sc_profile_encode(p, der, len) != SC_OK)
		die("profile encode");
	sc_profile_free(p);
}

static const char *const eku_list[] = { "clientAuth", "serverAuth", NULL };
static const char *const san_list[] = { "dns:dev.fuzz.example", "email:dev@fuzz.example",
	"uri:https://fuzz.example/dev", "ip:192.0.2.7", "ip:2001:db8::7", NULL };
static const uint8_t challenge32[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17,
	18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32 };

/* The profiles every target draws from. */
static struct {
	const char *name;
	struct pspec s;
} profiles[] = {
	{ "gen-p256", { .alg = SC_ALG_P256 } },
	{ "gen-p384-sha384", { .alg = SC_ALG_P384, .digest = SC_DIGEST_SHA384 } },
	{ "gen-ed25519-full",
	    { .alg = SC_ALG_ED25519,
	        .user_id = "alice",
	        .challenge = challenge32,
	        .challenge_len = sizeof(challenge32),
	        .key_usage = KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION,
	        .eku = eku_list,
	        .san = san_list } },
	{ "gen-p256-ka-root",
	    { .alg = SC_ALG_P256,
	        .key_usage = KU_KEY_AGREEMENT,
	        .with_root = 1,
	        .digest = SC_DIGEST_SHA512 } },
	{ "gen-rsa2048", { .alg = SC_ALG_RSA2048, .key_usage = KU_KEY_ENCIPHERMENT } },
	{ "supplied-p256", { .alg = SC_ALG_NONE } },    /* .supplied set in main */
	{ "supplied-ed25519", { .alg = SC_ALG_NONE } }, /* likewise */
	{ "refused-expired", { .alg = SC_ALG_P256, .profile_not_after = FZ_NOW - 1 } },
	{ "refused-other-device", { .alg = SC_ALG_P256, .device_id = "FUZZ-0002" } },
	{ "refused-other-network", { .alg = SC_ALG_P256, .network_id = "other.example" } },
	/* audit17: [6], two certificates 366 days apart (the last ends before the device CA). */
	{ "gen-p256-renewal",
	    { .alg = SC_ALG_P256, .renewal_count = 2, .renewal_cadence = 366 * 86400 } },
};
#define N_PROFILES (sizeof(profiles) / sizeof(profiles[0]))

/* ---- certificates ---- */

static X509 *issue_leaf(const struct pspec *s, EVP_PKEY *leaf_key, uint64_t counter)
{
	struct sc_profile *p = make_profile(s);
	X509 *cert = NULL;

	if (sc_cert_issue_leaf(p, leaf_key, fx->csk_cert, fx->csk, counter, &cert) != SC_OK)
		die("leaf");
	sc_profile_free(p);
	return cert;
}

static void chain_seed(const char *name, X509 *const *certs, size_t n, const char *junk)
{
	BIO *b = BIO_new(BIO_s_mem());
	BUF_MEM *m;
	size_t i;

	if (b == NULL)
		die("BIO");
	for (i = 0; i < n; i++) {
		if (junk != NULL && i > 0)
			BIO_puts(b, junk);
		if (!PEM_write_bio_X509(b, certs[i]))
			die("PEM");
	}
	BIO_get_mem_ptr(b, &m);
	seed("verify", name, m->data, m->length);
	BIO_free(b);
}

static void der_seed(const char *target, const char *name, X509 *cert)
{
	uint8_t *der;
	size_t len;

	if (sc_cert_to_der(cert, &der, &len) != SC_OK)
		die("DER");
	seed(target, name, der, len);
	OPENSSL_free(der);
}

/* ---- SP requests (sp_msg.c's encoders: the bytes the host sends) ---- */

/* Seed one finished request message (version, type, body) and free it. */
static void request(const char *name, struct sc_buf *m)
{
	if (sc_buf_done(m, name) != SC_OK)
		die(name);
	seed("dispatch", name, m->data, m->len);
	sc_buf_free(m);
}

static void cert_der(X509 *cert, uint8_t **der, size_t *len)
{
	if (sc_cert_to_der(cert, der, len) != SC_OK)
		die("DER");
}

static void sign_seed(const char *name, uint32_t handle, uint8_t mode, uint8_t digest,
    const uint8_t *input, size_t input_len)
{
	struct sp_sign_req s = { .handle = handle,
		.mode = mode,
		.digest = digest,
		.input = input,
		.input_len = input_len };
	struct sc_buf m;

	sc_wire_begin(&m, SC_SP_SIGN, 0);
	sp_sign_req_put(&m, &s);
	request(name, &m);
}

static void dispatch_seeds(void)
{
	static const uint8_t msg[] = "the quick brown fox";
	uint8_t dg[32], *der;
	struct sc_buf m;
	char name[64];
	size_t i, len;

	sc_wire_begin(&m, SC_SP_INFO, 0);
	sp_info_req_put(&m);
	request("info", &m);
	sc_wire_begin(&m, SC_SP_CHALLENGE, 0);
	sp_challenge_req_put(&m);
	request("challenge", &m);
	sc_wire_begin(&m, SC_SP_LOCK, 0);
	sp_lock_req_put(&m);
	request("lock", &m);
	sc_wire_begin(&m, SC_SP_KEYS, 0);
	sp_keys_req_put(&m, 0);
	request("keys-after-0", &m);
	sc_wire_begin(&m, SC_SP_KEYS, 0);
	sp_keys_req_put(&m, 1);
	request("keys-after-1", &m);
	sign_seed("sign-h1-message-sha256", 1, SC_SP_SIGN_MESSAGE, SC_DIGEST_SHA256, msg,
	    sizeof(msg) - 1);
	memset(dg, 0x5a, sizeof(dg));
	sign_seed("sign-h1-digest-sha256", 1, SC_SP_SIGN_DIGEST, SC_DIGEST_SHA256, dg, sizeof(dg));
	sign_seed("sign-h2-ed25519", 2, SC_SP_SIGN_MESSAGE, SC_DIGEST_NONE, msg, sizeof(msg) - 1);
	sc_wire_begin(&m, SC_SP_DELETE, 0);
	sp_delete_req_put(&m, 1);
	request("delete-h1", &m);
	sc_wire_begin(&m, SC_SP_KEYGEN, 0);
	sp_keygen_req_put(&m, SC_SP_ROLE_CSK, SC_ALG_P256);
	request("keygen-after-lock", &m);
	cert_der(fx->kek_cert, &der, &len);
	sc_wire_begin(&m, SC_SP_INSTALL_CERT, 0);
	sp_install_cert_req_put(&m, SC_SP_ROLE_KEK, der, len);
	request("install-cert-after-lock", &m);
	OPENSSL_free(der);
	cert_der(fx->net_root, &der, &len);
	sc_wire_begin(&m, SC_SP_INSTALL_ANCHOR, 0);
	sp_install_anchor_req_put(&m, "second.example", der, len);
	request("install-anchor-after-lock", &m);
	OPENSSL_free(der);
	sc_wire_begin(&m, SC_SP_SET_LIMITS, 0);
	sp_set_limits_req_put(&m, 30, 8);
	request("set-limits-after-lock", &m);
	/* PROOF (revision 1.1) for a challenge the SP never gave: decoded, then refused. */
	memset(dg, 0x5a, sizeof(dg));
	sc_wire_begin(&m, SC_SP_PROOF, 0);
	sp_proof_req_put(&m, dg, "second.example", dg);
	request("proof-unknown-challenge", &m);
	/* BACKEND (revision 1.2): no body, answered in every state. */
	sc_wire_begin(&m, SC_SP_BACKEND, 0);
	sp_backend_req_put(&m);
	request("backend", &m);
	/* CRL (revision 1.3): the device CA's own CRL, a week. */
	sc_wire_begin(&m, SC_SP_CRL, 0);
	sp_crl_req_put(&m, 7u * 86400u);
	request("crl", &m);
	/* Two messages no encoder writes, on purpose: a type and a version the SP does not know. */
	sc_wire_begin(&m, 0x7e, 0);
	request("unknown-type", &m);
	{
		static const uint8_t v2[] = { 2, SC_SP_INFO };
		seed("dispatch", "version-2", v2, sizeof(v2));
	}
	for (i = 0; i < N_PROFILES; i++) {
		/* An RSA key generation per run would slow fuzzing (and valgrind) for no new code. */
		if (sc_alg_is_rsa(profiles[i].s.alg))
			continue;
		profile_der(&profiles[i].s, &der, &len);
		/* A renewal profile is RENEW's (#17). */
		sc_wire_begin(&m, profiles[i].s.renewal_count > 0 ? SC_SP_RENEW : SC_SP_ISSUE, 0);
		sp_issue_req_put(&m, der, len);
		snprintf(name, sizeof(name), "%s-%s",
		    profiles[i].s.renewal_count > 0 ? "renew" : "issue", profiles[i].name);
		request(name, &m);
		OPENSSL_free(der);
	}
}

/* ---- stores ---- */

/* The fixture's key into the SP's soft key backend, as the store hands it one: its PKCS#8. */
static void take_key(struct spd_key **dst, EVP_PKEY *k)
{
	uint8_t *der = NULL;
	size_t len = 0;

	if (spd_key_der(k, &der, &len) != SC_OK ||
	    spd_backend_soft.key_load(&spd_backend_soft, sc_alg_of_key(k), der, len, "fixture",
	        dst) != SC_OK)
		abort();
	spd_key_der_free(der, len);
}

static void take_cert(X509 **dst, X509 *c)
{
	X509_up_ref(c);
	*dst = c;
}

/* A locked SP with two leaf keys and two remembered profiles, as dispatch leaves one. */
static void locked_state(struct spd_state *st)
{
	struct pspec s;

	spd_state_init(st, FZ_DEVICE_ID);
	st->state = SC_SP_STATE_LOCKED;
	st->max_keys = 8;
	st->max_leaf_days = 0;
	st->csk_alg = st->kek_alg = SC_ALG_P256;
	take_key(&st->csk, fx->csk);
	take_key(&st->kek, fx->kek);
	take_cert(&st->csk_cert, fx->csk_cert);
	take_cert(&st->kek_cert, fx->kek_cert);
	snprintf(st->anchors[0].network_id, sizeof(st->anchors[0].network_id), "%s", FZ_NETWORK_ID);
	take_cert(&st->anchors[0].cert, fx->net_root);
	st->n_anchors = 1;
	memset(&s, 0, sizeof(s));
	s.alg = SC_ALG_P256;
	st->slots[0].handle = 1;
	st->slots[0].alg = SC_ALG_P256;
	take_key(&st->slots[0].key, fx->leaf_p256);
	st->slots[0].cert = issue_leaf(&s, fx->leaf_p256, 1);
	s.alg = SC_ALG_ED25519;
	st->slots[1].handle = 3;
	st->slots[1].alg = SC_ALG_ED25519;
	take_key(&st->slots[1].key, fx->leaf_ed25519);
	st->slots[1].cert = issue_leaf(&s, fx->leaf_ed25519, 2);
	st->n_slots = 2;
	st->next_handle = 4;
	st->issuance_counter = 2;
	memset(st->replay[0].id, 0x11, SC_PROFILE_ID_LEN);
	st->replay[0].not_after = (uint64_t)FZ_PROFILE_NOT_AFTER;
	memset(st->replay[1].id, 0x22, SC_PROFILE_ID_LEN);
	st->replay[1].not_after = (uint64_t)FZ_PROFILE_NOT_AFTER + 1;
	st->n_replay = 2;
	st->replay_watermark = (uint64_t)FZ_NOW;
}

/* A personalized SP not yet locked: keys and certificates, no anchor. */
static void factory_state(struct spd_state *st)
{
	spd_state_init(st, FZ_DEVICE_ID);
	st->state = SC_SP_STATE_FACTORY;
	st->csk_alg = st->kek_alg = SC_ALG_P256;
	take_key(&st->csk, fx->csk);
	take_key(&st->kek, fx->kek);
	take_cert(&st->csk_cert, fx->csk_cert);
}

static void store_seed(const char *name, const struct spd_state *st, int expect_keys)
{
	static const int64_t deltas[4] = { 0, 1, -1, 2 };
	static const char *const delta_names[4] = { "", "-ahead1", "-rollback", "-ahead2" };
	struct sc_buf pt;
	uint8_t root[SPD_ROOT_KEY_LEN], *sealed, *in, *marked = NULL;
	size_t sealed_len, marked_len = 0;
	int marked_n;
	char fname[128];
	int d;

	if (spd_state_serialize(st, &pt) != SC_OK)
		die("serialize");
	fz_store_root_key(root);
	for (d = 0; d < 4; d++) {
		if (fz_seal(root, (uint64_t)(FZ_STORE_COUNTER + deltas[d]), pt.data, pt.len,
		        &sealed, &sealed_len) != 0 ||
		    (in = malloc(sealed_len + 1)) == NULL)
			die("seal");
		/* Mode 0: the sealed file itself. */
		in[0] = 0;
		memcpy(in + 1, sealed, sealed_len);
		snprintf(fname, sizeof(fname), "sealed-%s%s", name, delta_names[d]);
		seed("store", fname, in, sealed_len + 1);
		free(in);
		free(sealed);
	}
	/* Mode 1: the plaintext, keys as markers, sealed by the target with the counter it picks. */
	if ((marked_n = fz_mark_keys(pt.data, pt.len, &marked, &marked_len)) != expect_keys ||
	    (in = malloc(marked_len + 1)) == NULL)
		die("marking the keys of a plaintext state");
	in[0] = FZ_STORE_MODE_PLAINTEXT;
	memcpy(in + 1, marked, marked_len);
	snprintf(fname, sizeof(fname), "plain-%s", name);
	seed("store", fname, in, marked_len + 1);
	free(in);
	free(marked);
	OPENSSL_cleanse(root, sizeof(root));
	sc_buf_free(&pt);
}

static void store_seeds(void)
{
	struct spd_state *st = calloc(1, sizeof(*st));

	if (st == NULL)
		die("calloc");
	spd_state_init(st, FZ_DEVICE_ID);
	store_seed("empty", st, 0);
	factory_state(st);
	store_seed("factory", st, 2);
	spd_state_clear(st);
	locked_state(st);
	store_seed("locked", st, 4);
	spd_state_clear(st);
	free(st);
}

/* ---- certificates for verify ---- */

static void verify_seeds(void)
{
	struct pspec s;
	X509 *leaf, *full, *supplied, *other, *certs[4];
	X509_NAME *subj;
	int sn;

	memset(&s, 0, sizeof(s));
	s.alg = SC_ALG_P256;
	leaf = issue_leaf(&s, fx->leaf_p256, 1);
	certs[0] = leaf;
	certs[1] = fx->csk_cert;
	certs[2] = fx->mfr_ca;
	certs[3] = fx->mfr_root;
	chain_seed("leaf-chain.pem", certs, 3, NULL);
	chain_seed("leaf-chain-root.pem", certs, 4, NULL);
	chain_seed("leaf-chain-junk.pem", certs, 3, "# a comment between certificates\n");
	chain_seed("leaf-only.pem", certs, 1, NULL);
	der_seed("verify", "leaf.der", leaf);
	der_seed("verify", "device-ca.der", fx->csk_cert);

	s = profiles[2].s; /* Ed25519 with every field */
	full = issue_leaf(&s, fx->leaf_ed25519, 7);
	certs[0] = full;
	chain_seed("full-chain.pem", certs, 3, NULL);
	memset(&s, 0, sizeof(s));
	s.supplied = fx->supplied;
	supplied = issue_leaf(&s, fx->supplied, 8);
	certs[0] = supplied;
	chain_seed("supplied-chain.pem", certs, 3, NULL);
	/*
	 * Signed by this device's CA but naming another device (the library refuses to issue one,
	 * so the subject is changed and the leaf re-signed): the name constraints refuse it.
	 */
	if ((other = X509_dup(leaf)) == NULL || (subj = X509_get_subject_name(other)) == NULL ||
	    (sn = X509_NAME_get_index_by_NID(subj, NID_serialNumber, -1)) < 0)
		die("other-device leaf");
	X509_NAME_ENTRY_free(X509_NAME_delete_entry(subj, sn));
	if (!X509_NAME_add_entry_by_NID(subj, NID_serialNumber, MBSTRING_ASC,
	        (const unsigned char *)"FUZZ-0002", -1, sn, 0) ||
	    X509_sign(other, fx->csk, EVP_sha256()) <= 0)
		die("other-device leaf");
	certs[0] = other;
	chain_seed("other-device-chain.pem", certs, 3, NULL);
	X509_free(leaf);
	X509_free(full);
	X509_free(supplied);
	X509_free(other);
}

/* ---- CMS envelopes for unwrap ---- */

static void cms_seed(const char *name, const uint8_t *plain, size_t len, const EVP_CIPHER *c, int n)
{
	CMS_ContentInfo *cms = fz_wrap(plain, len, c, n);
	unsigned char *der = NULL;
	int dl = i2d_CMS_ContentInfo(cms, &der);

	if (dl <= 0)
		die("CMS DER");
	seed("unwrap", name, der, (size_t)dl);
	OPENSSL_free(der);
	CMS_ContentInfo_free(cms);
}

static void pkcs8(EVP_PKEY *key, uint8_t **der, size_t *len)
{
	PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(key);
	unsigned char *p = NULL;
	int n;

	if (p8 == NULL || (n = i2d_PKCS8_PRIV_KEY_INFO(p8, &p)) <= 0)
		die("PKCS#8");
	PKCS8_PRIV_KEY_INFO_free(p8);
	*der = p;
	*len = (size_t)n;
}

static void unwrap_seeds(void)
{
	static const uint8_t junk[] = "not a PKCS#8 key";
	uint8_t *der, *plus;
	size_t len;

	pkcs8(fx->supplied, &der, &len);
	cms_seed("gcm-supplied.der", der, len, EVP_aes_256_gcm(), 1);
	cms_seed("cbc-supplied.der", der, len, EVP_aes_256_cbc(), 1);
	cms_seed("aes128-cbc-refused.der", der, len, EVP_aes_128_cbc(), 1);
	cms_seed("gcm-two-recipients.der", der, len, EVP_aes_256_gcm(), 2);
	if ((plus = malloc(len + 1)) == NULL)
		die("malloc");
	memcpy(plus, der, len);
	plus[len] = 0;
	cms_seed("gcm-trailing-byte.der", plus, len + 1, EVP_aes_256_gcm(), 1);
	free(plus);
	OPENSSL_clear_free(der, len);
	pkcs8(fx->leaf_p384, &der, &len);
	cms_seed("gcm-other-key.der", der, len, EVP_aes_256_gcm(), 1);
	OPENSSL_clear_free(der, len);
	cms_seed("gcm-junk.der", junk, sizeof(junk) - 1, EVP_aes_256_gcm(), 1);
}

int main(int argc, char **argv)
{
	EVP_PKEY *ed = NULL;
	size_t i;

	if (argc != 2) {
		fprintf(stderr, "usage: %s OUT-DIR (tests/fuzz/corpus)\n", argv[0]);
		return 2;
	}
	out_dir = argv[1];
	if (mkdir(out_dir, 0755) != 0 && errno != EEXIST)
		die(out_dir);
	fx = fz_fixture();
	ed = fz_key("supplied-ed25519", SC_ALG_ED25519);
	for (i = 0; i < N_PROFILES; i++) {
		uint8_t *der;
		size_t len;
		char name[80];

		if (strcmp(profiles[i].name, "supplied-p256") == 0)
			profiles[i].s.supplied = fx->supplied;
		if (strcmp(profiles[i].name, "supplied-ed25519") == 0)
			profiles[i].s.supplied = ed;
		profile_der(&profiles[i].s, &der, &len);
		snprintf(name, sizeof(name), "%s.der", profiles[i].name);
		seed("profile", name, der, len);
		OPENSSL_free(der);
	}
	dispatch_seeds();
	store_seeds();
	verify_seeds();
	unwrap_seeds();
	EVP_PKEY_free(ed);
	printf("make_corpus: written under %s\n", out_dir);
	return 0;
}
