// SPDX-License-Identifier: Apache-2.0
/*
 * churn.c — `sc-faults churn`: the client of the kill -9 loop. It issues, deletes and signs
 * with leaf keys until the SP goes away (the test SIGKILLs it at random times), keeping a
 * journal of what it sent and what came back. Each run first reconciles the journal with the
 * SP's KEYS and fails (exit 1) on any broken promise:
 *   - a certificate the client received whose key is missing, or differs (same handle, same
 *     certificate, and a signature that verifies with the certificate's public key);
 *   - a key the client cannot know about: only the one issue in flight when the SP died may
 *     have been committed unanswered, and then its certificate carries that profile's ID;
 *   - anything issued twice: handles and issuance counters must only grow, a profile that was
 *     committed must be refused as a replay, one that was not must be accepted when retried.
 * `check` reconciles without issuing, writes STATEDIR/held and prints the totals.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <selfcert/cert.h>
#include <selfcert/profile.h>
#include <selfcert/sp.h>
#include "faults.h"
#include "file.h"
#include "keyopen.h"
#include "pem.h"
#include "text.h"

#define CHURN_MAX_HELD SC_SP_MAX_KEYS_LIMIT
#define CHURN_TARGET_LOW 2   /* below this many keys: always issue */
#define CHURN_TARGET_HIGH 8  /* at this many: always delete */
#define CHURN_MAX_OPS 100000 /* per run: a safety net, the SP dies long before */
#define CHURN_LINE_MAX 256
#define CHURN_PROFILE_TTL 3600 /* seconds: outlives the whole test */
#define CHURN_LEAF_SECONDS 86400
#define CHURN_SIGN_MSG "selfcert kill -9 loop"

enum inflight { IF_NONE, IF_ISSUE, IF_DELETE };

struct held {
	uint32_t handle;
	uint64_t counter; /* the certificate's issuanceCounter */
};

struct churn {
	const char *sock, *statedir;
	char journal_path[FAULTS_PATH_MAX], inflight_path[FAULTS_PATH_MAX];
	FILE *journal;
	struct held held[CHURN_MAX_HELD];
	size_t n_held;
	uint32_t max_handle;
	uint64_t max_counter;
	enum inflight inflight;
	uint8_t inflight_id[SC_PROFILE_ID_LEN];
	uint32_t inflight_handle;
	int retry_inflight; /* the in-flight issue was not committed: send it again */
	int adopted_now;    /* this run's reconcile adopted the in-flight issue */
	unsigned long issued, deleted, signed_, adopted, lost, gone, kept, replays, rounds;
	/* For profiles. */
	char network_id[SC_NETWORK_ID_MAX + 1], device_id[SC_DEVICE_ID_MAX + 1];
	EVP_PKEY *signer_key;
	X509 *signer;
	struct sc_sp *sp;
};

static int violation(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int violation(const char *fmt, ...)
{
	va_list ap;

	fputs("sc-faults: VIOLATION: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return FAULTS_EXIT_VIOLATION;
}

static void journal(struct churn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The client is never killed, only the SP: a flushed line is enough to survive the round. */
static void journal(struct churn *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(c->journal, fmt, ap);
	va_end(ap);
	fputc('\n', c->journal);
	fflush(c->journal);
}

static sc_err cert_path(const struct churn *c, uint32_t handle, char *out, size_t out_len)
{
	if (snprintf(out, out_len, "%s/certs/%u.pem", c->statedir, (unsigned)handle) >=
	    (int)out_len)
		return sc_fail(SC_ERR_USAGE, "%s: path too long", c->statedir);
	return SC_OK;
}

static struct held *find_held(struct churn *c, uint32_t handle)
{
	size_t i;

	for (i = 0; i < c->n_held; i++)
		if (c->held[i].handle == handle)
			return &c->held[i];
	return NULL;
}

static void drop_held(struct churn *c, uint32_t handle)
{
	size_t i;

	for (i = 0; i < c->n_held; i++)
		if (c->held[i].handle == handle) {
			c->held[i] = c->held[--c->n_held];
			return;
		}
}

static int add_held(struct churn *c, uint32_t handle, uint64_t counter)
{
	if (c->n_held >= CHURN_MAX_HELD)
		return -1;
	c->held[c->n_held].handle = handle;
	c->held[c->n_held].counter = counter;
	c->n_held++;
	if (handle > c->max_handle)
		c->max_handle = handle;
	if (counter > c->max_counter)
		c->max_counter = counter;
	return 0;
}

/* Rebuild the client's view from its journal (see the event names below). */
static sc_err replay_journal(struct churn *c)
{
	char line[CHURN_LINE_MAX], idhex[2 * SC_PROFILE_ID_LEN + 2];
	unsigned h;
	unsigned long long n;
	size_t len;
	FILE *f = fopen(c->journal_path, "r");

	if (f == NULL && errno == ENOENT)
		return SC_OK;
	if (f == NULL)
		return sc_fail(SC_ERR_IO, "%s: %s", c->journal_path, strerror(errno));
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "issue-begin %33s", idhex) == 1) {
			if (sc_unhex(idhex, c->inflight_id, SC_PROFILE_ID_LEN, &len) != SC_OK ||
			    len != SC_PROFILE_ID_LEN)
				break;
			c->inflight = IF_ISSUE;
			c->retry_inflight = 0;
		} else if (sscanf(line, "issued %u %llu", &h, &n) == 2) {
			(void)add_held(c, h, n);
			c->issued++;
			c->inflight = IF_NONE;
		} else if (sscanf(line, "adopt %u %llu", &h, &n) == 2) {
			(void)add_held(c, h, n);
			c->adopted++;
			c->inflight = IF_NONE;
		} else if (strncmp(line, "lost", 4) == 0) {
			c->lost++;
			c->retry_inflight = 1; /* still in flight: the same profile goes again */
		} else if (strncmp(line, "replay-refused", 14) == 0) {
			c->replays++;
		} else if (sscanf(line, "delete-begin %u", &h) == 1) {
			c->inflight = IF_DELETE;
			c->inflight_handle = h;
		} else if (sscanf(line, "deleted %u", &h) == 1) {
			drop_held(c, h);
			c->deleted++;
			c->inflight = IF_NONE;
		} else if (sscanf(line, "gone %u", &h) == 1) {
			drop_held(c, h);
			c->gone++;
			c->inflight = IF_NONE;
		} else if (sscanf(line, "kept %u", &h) == 1) {
			c->kept++;
			c->inflight = IF_NONE;
		} else if (sscanf(line, "signed %u", &h) == 1) {
			c->signed_++;
		} else if (strncmp(line, "round", 5) == 0) {
			c->rounds++;
		}
	}
	fclose(f);
	return SC_OK;
}

static sc_err load_inflight(const struct churn *c, uint8_t **der, size_t *len)
{
	return sc_file_read(c->inflight_path, SC_PROFILE_MAX_DER, der, len);
}

/* A fresh profile for a p256 key, signed by the network's signer, saved as the in-flight one. */
static sc_err new_profile(struct churn *c, uint8_t **der, size_t *len)
{
	sc_err r = SC_ERR_INTERNAL;
	struct sc_profile_params pp;
	struct sc_profile_info info;
	struct sc_profile *p = NULL;
	time_t now = time(NULL);

	*der = NULL;
	*len = 0;
	memset(&pp, 0, sizeof(pp));
	pp.network_id = c->network_id;
	pp.device_id = c->device_id;
	pp.profile_not_after = now + CHURN_PROFILE_TTL;
	pp.not_before = now;
	pp.not_after = now + CHURN_LEAF_SECONDS;
	pp.generate_alg = SC_ALG_P256;
	pp.cert_digest = SC_DIGEST_SHA256;
	if ((r = sc_profile_create(&pp, &p)) != SC_OK ||
	    (r = sc_profile_sign(p, c->signer_key, c->signer, NULL, 0)) != SC_OK ||
	    (r = sc_profile_encode(p, der, len)) != SC_OK)
		goto out;
	sc_profile_get_info(p, &info);
	memcpy(c->inflight_id, info.id, SC_PROFILE_ID_LEN);
	r = faults_put(c->inflight_path, *der, *len);
out:
	sc_profile_free(p);
	return r;
}

/* The SP went away (killed): the round is over, not a failure. */
static int sp_gone(sc_err r)
{
	return r == SC_ERR_IO || r == SC_ERR_PEER;
}

/* Sign with the SP and verify with the certificate's public key, here, with OpenSSL. */
static sc_err sign_check(struct churn *c, uint32_t handle, X509 *cert, int *verified)
{
	sc_err r;
	uint8_t *sig = NULL;
	size_t sig_len = 0;
	EVP_MD_CTX *m = NULL;

	*verified = 0;
	if ((r = sc_sp_sign(c->sp, handle, SC_SP_SIGN_MESSAGE, SC_DIGEST_SHA256,
	         (const uint8_t *)CHURN_SIGN_MSG, strlen(CHURN_SIGN_MSG), &sig, &sig_len)) != SC_OK)
		return r;
	if ((m = EVP_MD_CTX_new()) != NULL &&
	    EVP_DigestVerifyInit(m, NULL, EVP_sha256(), NULL, X509_get0_pubkey(cert)) == 1 &&
	    EVP_DigestVerify(m, sig, sig_len, (const uint8_t *)CHURN_SIGN_MSG,
	        strlen(CHURN_SIGN_MSG)) == 1)
		*verified = 1;
	EVP_MD_CTX_free(m);
	OPENSSL_free(sig);
	return SC_OK;
}

/* The issuance counter and profile ID of a leaf certificate. */
static int leaf_issuance(X509 *cert, struct sc_issuance *iss)
{
	return sc_issuance_get(cert, iss) == SC_OK ? 0 : -1;
}

/*
 * Compare the journal with the SP's keys and settle the request that was in flight.
 * Returns 0, FAULTS_EXIT_VIOLATION, or 3 when the SP went away meanwhile.
 */
static int reconcile(struct churn *c)
{
	struct sc_sp_key *keys = NULL;
	size_t n = 0, i;
	int rc = 0, in_sp;
	char path[FAULTS_PATH_MAX];
	sc_err r;

	if ((r = sc_sp_keys(c->sp, &keys, &n)) != SC_OK)
		return sp_gone(r) ? 3 : faults_fail(r);
	for (i = 0; i < n && rc == 0; i++) {
		struct held *h = find_held(c, keys[i].handle);
		struct sc_issuance iss;
		X509 *mine = NULL;

		if (h != NULL) {
			/* Same handle: the very certificate we were given. */
			if (cert_path(c, h->handle, path, sizeof(path)) != SC_OK ||
			    sc_load_cert(path, &mine) != SC_OK || X509_cmp(mine, keys[i].cert) != 0)
				rc = violation(
				    "key %u: the SP's certificate is not the one the client "
				    "received",
				    (unsigned)keys[i].handle);
			X509_free(mine);
			continue;
		}
		if (c->inflight == IF_ISSUE && leaf_issuance(keys[i].cert, &iss) == 0 &&
		    memcmp(iss.profile_id, c->inflight_id, SC_PROFILE_ID_LEN) == 0) {
			/* Committed but never answered: the documented window. Adopt it. */
			if (keys[i].handle <= c->max_handle || iss.counter <= c->max_counter) {
				rc = violation(
				    "adopted key %u (issuance counter %llu) is not newer than "
				    "handle %u / counter %llu",
				    (unsigned)keys[i].handle, (unsigned long long)iss.counter,
				    (unsigned)c->max_handle, (unsigned long long)c->max_counter);
				break;
			}
			if (cert_path(c, keys[i].handle, path, sizeof(path)) != SC_OK ||
			    (r = sc_write_cert(path, keys[i].cert)) != SC_OK) {
				rc = faults_fail(r);
				break;
			}
			if (add_held(c, keys[i].handle, iss.counter) != 0) {
				rc = violation("more than %d keys held", CHURN_MAX_HELD);
				break;
			}
			journal(c, "adopt %u %llu", (unsigned)keys[i].handle,
			    (unsigned long long)iss.counter);
			c->adopted++;
			c->adopted_now = 1;
			c->inflight = IF_NONE;
			continue;
		}
		rc = violation("key %u is in the SP but the client never learned of it, and it is "
		               "not from the issue in flight",
		    (unsigned)keys[i].handle);
	}
	/* Every certificate that left the SP still has its key, unless we asked to delete it. */
	for (i = 0; i < c->n_held && rc == 0; i++) {
		size_t k;

		for (in_sp = 0, k = 0; k < n && !in_sp; k++)
			in_sp = keys[k].handle == c->held[i].handle;
		if (in_sp)
			continue;
		if (c->inflight == IF_DELETE && c->inflight_handle == c->held[i].handle) {
			journal(c, "gone %u", (unsigned)c->held[i].handle);
			c->gone++;
			c->inflight = IF_NONE;
			drop_held(c, c->held[i].handle);
			i--;
			continue;
		}
		rc =
		    violation("key %u: its certificate left the SP (issuance counter %llu) but the "
		              "key is gone",
		        (unsigned)c->held[i].handle, (unsigned long long)c->held[i].counter);
	}
	if (rc == 0 && c->inflight == IF_DELETE) {
		journal(c, "kept %u", (unsigned)c->inflight_handle);
		c->kept++;
		c->inflight = IF_NONE;
	}
	if (rc == 0 && c->inflight == IF_ISSUE && !c->retry_inflight) {
		/* Not committed: the profile must still be unused, so it goes again. */
		journal(c, "lost");
		c->lost++;
		c->retry_inflight = 1;
	}
	sc_sp_keys_free(keys, n);
	return rc;
}

/* An adopted profile was committed: sending it again must be refused as a replay. */
static int check_replay_of_adopted(struct churn *c, const uint8_t *der, size_t len)
{
	uint32_t handle = 0;
	X509 *cert = NULL;
	sc_err r = sc_sp_issue(c->sp, der, len, &handle, &cert);

	X509_free(cert);
	if (r == SC_ERR_REPLAY) {
		journal(c, "replay-refused");
		c->replays++;
		return 0;
	}
	if (sp_gone(r))
		return 3;
	if (r == SC_OK)
		return violation("a committed profile was accepted again: issued twice (handle %u)",
		    (unsigned)handle);
	return violation("resending a committed profile: %s, expected replay", sc_err_name(r));
}

static int do_issue(struct churn *c)
{
	uint8_t *der = NULL;
	size_t len = 0;
	uint32_t handle = 0;
	X509 *cert = NULL;
	struct sc_issuance iss;
	char path[FAULTS_PATH_MAX], idhex[2 * SC_PROFILE_ID_LEN + 1];
	int rc = 0, verified = 0;
	sc_err r;

	r = c->retry_inflight ? load_inflight(c, &der, &len) : new_profile(c, &der, &len);
	if (r != SC_OK)
		return faults_fail(r);
	sc_hex(c->inflight_id, SC_PROFILE_ID_LEN, idhex);
	journal(c, "issue-begin %s", idhex);
	c->inflight = IF_ISSUE;
	c->retry_inflight = 0;
	r = sc_sp_issue(c->sp, der, len, &handle, &cert);
	if (r != SC_OK) {
		journal(c, "failed %s", sc_err_name(r));
		rc = sp_gone(r) ? 3 : violation("issue: %s: %s", sc_err_name(r), sc_err_detail());
		goto out;
	}
	if (leaf_issuance(cert, &iss) != 0 ||
	    memcmp(iss.profile_id, c->inflight_id, SC_PROFILE_ID_LEN) != 0) {
		rc = violation("issue: the certificate is not for the profile sent");
		goto out;
	}
	if (handle <= c->max_handle || iss.counter <= c->max_counter) {
		rc = violation(
		    "issue: handle %u / issuance counter %llu not above %u / %llu: reused",
		    (unsigned)handle, (unsigned long long)iss.counter, (unsigned)c->max_handle,
		    (unsigned long long)c->max_counter);
		goto out;
	}
	if ((r = cert_path(c, handle, path, sizeof(path))) != SC_OK ||
	    (r = sc_write_cert(path, cert)) != SC_OK) {
		rc = faults_fail(r);
		goto out;
	}
	if (add_held(c, handle, iss.counter) != 0) {
		rc = violation("more than %d keys held", CHURN_MAX_HELD);
		goto out;
	}
	journal(c, "issued %u %llu", (unsigned)handle, (unsigned long long)iss.counter);
	c->issued++;
	c->inflight = IF_NONE;
	/* Usable at once: the key behind the certificate signs. */
	if ((r = sign_check(c, handle, cert, &verified)) != SC_OK) {
		rc = sp_gone(r) ? 3 : violation("sign %u: %s", (unsigned)handle, sc_err_name(r));
		goto out;
	}
	if (!verified) {
		rc = violation("key %u: its signature does not verify with its certificate",
		    (unsigned)handle);
		goto out;
	}
	journal(c, "signed %u", (unsigned)handle);
	c->signed_++;
out:
	X509_free(cert);
	OPENSSL_free(der);
	return rc;
}

static int do_delete(struct churn *c, uint32_t handle)
{
	sc_err r;

	journal(c, "delete-begin %u", (unsigned)handle);
	c->inflight = IF_DELETE;
	c->inflight_handle = handle;
	if ((r = sc_sp_delete(c->sp, handle)) != SC_OK) {
		journal(c, "failed %s", sc_err_name(r));
		return sp_gone(r) ? 3
		                  : violation("delete %u: %s: %s", (unsigned)handle, sc_err_name(r),
		                        sc_err_detail());
	}
	journal(c, "deleted %u", (unsigned)handle);
	drop_held(c, handle);
	c->deleted++;
	c->inflight = IF_NONE;
	return 0;
}

static int do_sign(struct churn *c, uint32_t handle)
{
	char path[FAULTS_PATH_MAX];
	X509 *cert = NULL;
	int verified = 0, rc = 0;
	sc_err r;

	if ((r = cert_path(c, handle, path, sizeof(path))) != SC_OK ||
	    (r = sc_load_cert(path, &cert)) != SC_OK)
		return faults_fail(r);
	if ((r = sign_check(c, handle, cert, &verified)) != SC_OK)
		rc = sp_gone(r) ? 3 : violation("sign %u: %s", (unsigned)handle, sc_err_name(r));
	else if (!verified)
		rc = violation("key %u: its signature does not verify with its certificate",
		    (unsigned)handle);
	else {
		journal(c, "signed %u", (unsigned)handle);
		c->signed_++;
	}
	X509_free(cert);
	return rc;
}

static uint32_t random_below(uint32_t n)
{
	uint32_t v = 0;

	if (RAND_bytes((unsigned char *)&v, sizeof(v)) != 1)
		v = (uint32_t)rand();
	return n == 0 ? 0 : v % n;
}

static int churn_loop(struct churn *c)
{
	unsigned long ops;
	int rc = 0;

	for (ops = 0; ops < CHURN_MAX_OPS && rc == 0; ops++) {
		uint32_t dice = random_below(100);

		if (c->retry_inflight || c->n_held < CHURN_TARGET_LOW ||
		    (c->n_held < CHURN_TARGET_HIGH && dice < 55))
			rc = do_issue(c);
		else if (c->n_held >= CHURN_TARGET_HIGH || dice < 85)
			rc = do_delete(c, c->held[random_below((uint32_t)c->n_held)].handle);
		else
			rc = do_sign(c, c->held[random_below((uint32_t)c->n_held)].handle);
	}
	return rc;
}

/* STATEDIR/held: one "HANDLE CERT-PATH" per key the client holds, for the shell's checks. */
static sc_err write_held(const struct churn *c)
{
	char path[FAULTS_PATH_MAX], cpath[FAULTS_PATH_MAX];
	FILE *f;
	size_t i;
	sc_err r;

	if (snprintf(path, sizeof(path), "%s/held", c->statedir) >= (int)sizeof(path))
		return sc_fail(SC_ERR_USAGE, "%s: path too long", c->statedir);
	if ((f = fopen(path, "w")) == NULL)
		return sc_fail(SC_ERR_IO, "%s: %s", path, strerror(errno));
	for (i = 0; i < c->n_held; i++) {
		if ((r = cert_path(c, c->held[i].handle, cpath, sizeof(cpath))) != SC_OK) {
			fclose(f);
			return r;
		}
		fprintf(f, "%u %s\n", (unsigned)c->held[i].handle, cpath);
	}
	if (fclose(f) != 0)
		return sc_fail(SC_ERR_IO, "%s: %s", path, strerror(errno));
	return SC_OK;
}

static sc_err load_signer(struct churn *c, const char *netdir, const char *device_ca_path)
{
	char path[FAULTS_PATH_MAX];
	X509 *dca = NULL;
	X509_NAME *n;
	int idx;
	sc_err r;

	if (snprintf(path, sizeof(path), "%s/signer.pem", netdir) >= (int)sizeof(path) ||
	    (r = sc_load_cert(path, &c->signer)) != SC_OK ||
	    snprintf(path, sizeof(path), "%s/signer.key", netdir) >= (int)sizeof(path) ||
	    (r = sc_key_open(path, &c->signer_key)) != SC_OK)
		return sc_fail(SC_ERR_USAGE, "%s: the network's signer: %s", netdir,
		    sc_err_detail());
	n = X509_get_subject_name(c->signer);
	idx = X509_NAME_get_index_by_NID(n, NID_organizationName, -1);
	if (idx < 0 ||
	    X509_NAME_get_text_by_NID(n, NID_organizationName, c->network_id,
	        sizeof(c->network_id)) <= 0)
		return sc_fail(SC_ERR_USAGE, "%s/signer.pem: no network ID (subject O)", netdir);
	if ((r = sc_load_cert(device_ca_path, &dca)) != SC_OK)
		return r;
	r = sc_cert_device_id(dca, c->device_id, sizeof(c->device_id));
	X509_free(dca);
	return r;
}

int faults_cmd_churn(int argc, char **argv)
{
	struct churn *c = NULL;
	char path[FAULTS_PATH_MAX];
	int rc = 0, check;
	sc_err r;

	if (argc != 6 || (strcmp(argv[1], "run") != 0 && strcmp(argv[1], "check") != 0)) {
		fputs("usage: sc-faults churn run|check SOCKET NETDIR DEVICE-CA.pem STATEDIR\n",
		    stderr);
		return 2;
	}
	check = strcmp(argv[1], "check") == 0;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return faults_fail(sc_fail(SC_ERR_NOMEM, "churn"));
	c->sock = argv[2];
	c->statedir = argv[5];
	if (snprintf(c->journal_path, sizeof(c->journal_path), "%s/journal", c->statedir) >=
	        (int)sizeof(c->journal_path) ||
	    snprintf(c->inflight_path, sizeof(c->inflight_path), "%s/inflight.der", c->statedir) >=
	        (int)sizeof(c->inflight_path) ||
	    snprintf(path, sizeof(path), "%s/certs", c->statedir) >= (int)sizeof(path)) {
		rc = faults_fail(sc_fail(SC_ERR_USAGE, "%s: path too long", c->statedir));
		goto out;
	}
	if ((mkdir(c->statedir, 0700) != 0 && errno != EEXIST) ||
	    (mkdir(path, 0700) != 0 && errno != EEXIST)) {
		rc = faults_fail(sc_fail(SC_ERR_IO, "%s: %s", path, strerror(errno)));
		goto out;
	}
	if ((r = load_signer(c, argv[3], argv[4])) != SC_OK || (r = replay_journal(c)) != SC_OK) {
		rc = faults_fail(r);
		goto out;
	}
	if ((c->journal = fopen(c->journal_path, "a")) == NULL) {
		rc = faults_fail(sc_fail(SC_ERR_IO, "%s: %s", c->journal_path, strerror(errno)));
		goto out;
	}
	if ((r = sc_sp_connect(c->sock, &c->sp)) != SC_OK) {
		rc = sp_gone(r) ? 3 : faults_fail(r);
		goto out;
	}
	if (!check)
		journal(c, "round");
	if ((rc = reconcile(c)) != 0)
		goto out;
	if (c->adopted_now) {
		/* The adopted issue's profile is still on disk: sending it again must be a replay. */
		uint8_t *der = NULL;
		size_t len = 0;

		if ((r = load_inflight(c, &der, &len)) != SC_OK) {
			rc = faults_fail(r);
			goto out;
		}
		rc = check_replay_of_adopted(c, der, len);
		OPENSSL_free(der);
		if (rc != 0)
			goto out;
	}
	if (check) {
		if ((r = write_held(c)) != SC_OK) {
			rc = faults_fail(r);
			goto out;
		}
		printf(
		    "churn: %lu rounds; %lu issued and answered, %lu issued but unanswered "
		    "(adopted from KEYS), %lu unanswered and not committed (retried), %lu replays "
		    "refused; %lu deleted, %lu deletes committed unanswered, %lu not committed; "
		    "%lu signatures verified; %zu keys held\n",
		    c->rounds, c->issued, c->adopted, c->lost, c->replays, c->deleted, c->gone,
		    c->kept, c->signed_, c->n_held);
		goto out;
	}
	rc = churn_loop(c);
out:
	if (c != NULL) {
		sc_sp_close(c->sp);
		if (c->journal != NULL)
			fclose(c->journal);
		EVP_PKEY_free(c->signer_key);
		X509_free(c->signer);
		free(c);
	}
	return rc;
}
