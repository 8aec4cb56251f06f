// SPDX-License-Identifier: Apache-2.0
/*
 * sc_faults.c — sc-faults, the tool of the fault tests (tests/integration/test_faults*.sh):
 * sends the SP's factory requests one at a time (so a crash can be injected into each), dumps a
 * sealed store's whole state in a canonical text form (so "exactly the old or exactly the new
 * state" can be compared), and dispatches the sweep and churn commands. Test-only.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <selfcert/alg.h>
#include <selfcert/cert.h>
#include <selfcert/sp.h>
#include "faults.h"
#include "file.h"
#include "keyopen.h"
#include "pem.h"
#include "spd.h"
#include "store.h"
#include "text.h"

#define CERT_DAYS 3650
#define STORE_FILES 3
#define SCRATCH_SHM "/dev/shm"

static const char *const store_files[STORE_FILES] = { "root.key", "counter", "store" };

static const char usage_text[] =
    "usage: sc-faults keygen SOCKET csk|kek ALG MFRDIR OUT.pem\n"
    "       sc-faults install-cert SOCKET csk|kek CERT.pem\n"
    "       sc-faults install-anchor SOCKET NETWORK-ID ROOT.pem\n"
    "       sc-faults set-limits SOCKET MAX-LEAF-DAYS MAX-KEYS\n"
    "       sc-faults lock SOCKET\n"
    "       sc-faults dump STOREDIR [CERTDIR]\n"
    "       sc-faults sweep STOREDIR [OLDER-STORE ...]\n"
    "       sc-faults churn run|check SOCKET NETDIR DEVICE-CA.pem STATEDIR\n"
    "Test tool of the fault tests: one SP factory request at a time (keygen also certifies the\n"
    "new key with MFRDIR's CA, like `selfcert mfr personalize`); a canonical dump of a store's\n"
    "state (read from a scratch copy; leaf certificates to CERTDIR/<handle>.pem); the damage and\n"
    "rollback sweep at open; the client of the kill -9 loop.\n";

static int usage_error(void)
{
	fputs(usage_text, stderr);
	return 2;
}

int faults_fail(sc_err r)
{
	fprintf(stderr, "sc-faults: %s: %s\n", sc_err_name(r), sc_err_detail());
	return sc_err_exit_code(r);
}

static sc_err hash_der(const uint8_t *der, size_t len, char out[65])
{
	uint8_t md[32];
	unsigned int md_len = 0;

	if (EVP_Digest(der, len, md, &md_len, EVP_sha256(), NULL) != 1 || md_len != sizeof(md))
		return sc_fail_ossl(SC_ERR_INTERNAL, "SHA-256");
	sc_hex(md, sizeof(md), out);
	return SC_OK;
}

sc_err faults_spki_hash(const EVP_PKEY *key, char out[65])
{
	unsigned char *der = NULL;
	int n = i2d_PUBKEY(key, &der);
	sc_err r;

	if (n <= 0)
		return sc_fail_ossl(SC_ERR_INTERNAL, "encoding a public key");
	r = hash_der(der, (size_t)n, out);
	OPENSSL_free(der);
	return r;
}

sc_err faults_cert_hash(X509 *cert, char out[65])
{
	uint8_t *der = NULL;
	size_t len = 0;
	sc_err r;

	if ((r = sc_cert_to_der(cert, &der, &len)) != SC_OK)
		return r;
	r = hash_der(der, len, out);
	OPENSSL_free(der);
	return r;
}

sc_err faults_put(const char *path, const uint8_t *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	size_t off = 0;

	if (fd < 0)
		return sc_fail(SC_ERR_IO, "%s: %s", path, strerror(errno));
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			close(fd);
			return sc_fail(SC_ERR_IO, "%s: %s", path, strerror(errno));
		}
		off += (size_t)n;
	}
	if (close(fd) != 0)
		return sc_fail(SC_ERR_IO, "%s: close: %s", path, strerror(errno));
	return SC_OK;
}

void faults_scratch_remove(const char *scratch)
{
	char path[FAULTS_PATH_MAX];
	struct dirent *e;
	DIR *d;

	if (scratch == NULL || scratch[0] == '\0' || strstr(scratch, "sc-faults-") == NULL)
		return;
	if ((d = opendir(scratch)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			if (snprintf(path, sizeof(path), "%s/%s", scratch, e->d_name) <
			    (int)sizeof(path))
				(void)unlink(path);
		}
		closedir(d);
	}
	(void)rmdir(scratch);
}

sc_err faults_scratch_copy(const char *dir, char *scratch)
{
	sc_err r = SC_ERR_INTERNAL;
	char from[FAULTS_PATH_MAX], to[FAULTS_PATH_MAX];
	const char *base = getenv("TMPDIR");
	uint8_t *data = NULL;
	size_t len = 0;
	int i;

	/*
	 * Memory-backed when there is one: the sweep rewrites the files some 20000 times, and on
	 * ext4 each truncate-and-rewrite of a file waits for its data to be flushed (auto_da_alloc):
	 * minutes instead of a second, for a test of logic, not of the disk.
	 */
	snprintf(scratch, FAULTS_PATH_MAX, "%s/sc-faults-XXXXXX", SCRATCH_SHM);
	if (mkdtemp(scratch) == NULL) {
		if (snprintf(scratch, FAULTS_PATH_MAX, "%s/sc-faults-XXXXXX",
		        base != NULL && base[0] != '\0' ? base : "/tmp") >= FAULTS_PATH_MAX)
			return sc_fail(SC_ERR_USAGE, "TMPDIR: too long");
		if (mkdtemp(scratch) == NULL) {
			r = sc_fail(SC_ERR_IO, "%s: %s", scratch, strerror(errno));
			scratch[0] = '\0';
			return r;
		}
	}
	for (i = 0; i < STORE_FILES; i++) {
		struct stat sb;

		if (snprintf(from, sizeof(from), "%s/%s", dir, store_files[i]) >=
		        (int)sizeof(from) ||
		    snprintf(to, sizeof(to), "%s/%s", scratch, store_files[i]) >= (int)sizeof(to)) {
			r = sc_fail(SC_ERR_USAGE, "%s: path too long", dir);
			goto out;
		}
		if (lstat(from, &sb) != 0 && errno == ENOENT)
			continue; /* a missing file is part of what is being tested */
		if ((r = sc_file_read(from, SPD_STORE_MAX, &data, &len)) != SC_OK ||
		    (r = faults_put(to, data, len)) != SC_OK)
			goto out;
		sc_free_secret(data, len);
		data = NULL;
	}
	r = SC_OK;
out:
	sc_free_secret(data, len);
	if (r != SC_OK) {
		faults_scratch_remove(scratch);
		scratch[0] = '\0';
	}
	return r;
}

/* ---- factory requests, one at a time ---- */

static sc_err parse_role(const char *s, enum sc_sp_role *role)
{
	if (strcmp(s, "csk") == 0)
		*role = SC_SP_ROLE_CSK;
	else if (strcmp(s, "kek") == 0)
		*role = SC_SP_ROLE_KEK;
	else
		return sc_fail(SC_ERR_USAGE, "role '%s': expected csk or kek", s);
	return SC_OK;
}

static sc_err parse_u32(const char *s, const char *what, uint32_t *out)
{
	char *end = NULL;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno != 0 || v > UINT32_MAX)
		return sc_fail(SC_ERR_USAGE, "%s '%s': not a number", what, s);
	*out = (uint32_t)v;
	return SC_OK;
}

/*
 * KEYGEN for one role, then what the factory does with the answer: check the CSR's proof of
 * possession and certify its key with the manufacturer CA (the library's own builders).
 */
static int cmd_keygen(int argc, char **argv)
{
	sc_err r = SC_ERR_INTERNAL;
	struct sc_sp *sp = NULL;
	struct sc_sp_info info;
	enum sc_sp_role role;
	enum sc_alg alg;
	X509_REQ *csr = NULL;
	EVP_PKEY *pub = NULL, *ca_key = NULL;
	X509 *ca = NULL, *cert = NULL;
	char path[FAULTS_PATH_MAX];

	memset(&info, 0, sizeof(info));
	if (argc != 6)
		return usage_error();
	if ((r = parse_role(argv[2], &role)) != SC_OK ||
	    (r = sc_alg_from_name(argv[3], &alg)) != SC_OK)
		goto out;
	if (snprintf(path, sizeof(path), "%s/ca.pem", argv[4]) >= (int)sizeof(path) ||
	    (r = sc_load_cert(path, &ca)) != SC_OK ||
	    snprintf(path, sizeof(path), "%s/ca.key", argv[4]) >= (int)sizeof(path) ||
	    (r = sc_key_open(path, &ca_key)) != SC_OK)
		goto out;
	if ((r = sc_sp_connect(argv[1], &sp)) != SC_OK || (r = sc_sp_info(sp, &info)) != SC_OK ||
	    (r = sc_sp_keygen(sp, role, alg, &csr)) != SC_OK)
		goto out;
	if ((pub = X509_REQ_get_pubkey(csr)) == NULL || X509_REQ_verify(csr, pub) != 1) {
		r = sc_fail_ossl(SC_ERR_PROFILE_SIGNATURE, "keygen: the CSR's proof of possession");
		goto out;
	}
	r = role == SC_SP_ROLE_CSK
	    ? sc_cert_device_ca(pub, info.device_id, CERT_DAYS, ca, ca_key, &cert)
	    : sc_cert_device_kex(pub, info.device_id, CERT_DAYS, ca, ca_key, &cert);
	if (r != SC_OK || (r = sc_write_cert(argv[5], cert)) != SC_OK)
		goto out;
	r = SC_OK;
out:
	sc_sp_info_clear(&info);
	sc_sp_close(sp);
	X509_REQ_free(csr);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(ca_key);
	X509_free(ca);
	X509_free(cert);
	return r == SC_OK ? 0 : faults_fail(r);
}

static int cmd_factory(int argc, char **argv)
{
	sc_err r = SC_ERR_INTERNAL;
	struct sc_sp *sp = NULL;
	enum sc_sp_role role;
	uint32_t days, keys;
	X509 *cert = NULL;
	const char *cmd = argv[0];

	if ((strcmp(cmd, "install-cert") == 0 && argc != 4) ||
	    (strcmp(cmd, "install-anchor") == 0 && argc != 4) ||
	    (strcmp(cmd, "set-limits") == 0 && argc != 4) ||
	    (strcmp(cmd, "lock") == 0 && argc != 2))
		return usage_error();
	if ((r = sc_sp_connect(argv[1], &sp)) != SC_OK)
		goto out;
	if (strcmp(cmd, "install-cert") == 0) {
		if ((r = parse_role(argv[2], &role)) != SC_OK ||
		    (r = sc_load_cert(argv[3], &cert)) != SC_OK)
			goto out;
		r = sc_sp_install_cert(sp, role, cert);
	} else if (strcmp(cmd, "install-anchor") == 0) {
		if ((r = sc_load_cert(argv[3], &cert)) != SC_OK)
			goto out;
		r = sc_sp_install_anchor(sp, argv[2], cert);
	} else if (strcmp(cmd, "set-limits") == 0) {
		if ((r = parse_u32(argv[2], "max-leaf-days", &days)) != SC_OK ||
		    (r = parse_u32(argv[3], "max-keys", &keys)) != SC_OK)
			goto out;
		r = sc_sp_set_limits(sp, days, keys);
	} else {
		r = sc_sp_lock(sp);
	}
out:
	sc_sp_close(sp);
	X509_free(cert);
	return r == SC_OK ? 0 : faults_fail(r);
}

/* ---- the canonical dump ---- */

/* A key of st's backend, by the hash of its public half. */
static sc_err dump_key(const char *what, const struct spd_state *st, enum sc_alg alg,
    const struct spd_key *key)
{
	char h[65];
	sc_err r;

	if (key == NULL) {
		printf("%s - -\n", what);
		return SC_OK;
	}
	if ((r = faults_spki_hash(st->be->key_public(key), h)) != SC_OK)
		return r;
	printf("%s %s %s\n", what, sc_alg_name(alg) ? sc_alg_name(alg) : "?", h);
	return SC_OK;
}

static sc_err dump_cert(const char *what, X509 *cert)
{
	char h[65];
	sc_err r;

	if (cert == NULL) {
		printf("%s -\n", what);
		return SC_OK;
	}
	if ((r = faults_cert_hash(cert, h)) != SC_OK)
		return r;
	printf("%s %s\n", what, h);
	return SC_OK;
}

void faults_counter_slot(uint64_t v, uint8_t slot[FAULTS_COUNTER_SLOT_LEN])
{
	static const char domain[] = "selfcert-spd counter slot";
	uint8_t in[sizeof(domain) - 1 + 8], md[EVP_MAX_MD_SIZE];
	int i;

	memcpy(in, domain, sizeof(domain) - 1);
	for (i = 0; i < 8; i++)
		slot[i] = in[sizeof(domain) - 1 + i] = (uint8_t)(v >> (56 - 8 * i));
	(void)EVP_Digest(in, sizeof(in), md, NULL, EVP_sha256(), NULL);
	memcpy(slot + 8, md, 8);
}

void faults_counter_file(uint64_t v, uint8_t *file)
{
	memset(file, 0, FAULTS_COUNTER_FILE_LEN);
	faults_counter_slot(v, file + (v & 1) * FAULTS_COUNTER_STRIDE);
	if (v > 0)
		faults_counter_slot(v - 1, file + ((v - 1) & 1) * FAULTS_COUNTER_STRIDE);
}

sc_err faults_counter_value(const uint8_t *data, size_t len, uint64_t *v)
{
	uint8_t want[FAULTS_COUNTER_SLOT_LEN];
	uint64_t s[2] = { 0, 0 };
	int ok[2] = { 0, 0 }, i, k;

	*v = 0;
	if (len == FAULTS_COUNTER_OLD_LEN) {
		for (k = 0; k < 8; k++)
			*v = (*v << 8) | data[k];
		return SC_OK;
	}
	if (len != FAULTS_COUNTER_FILE_LEN)
		return sc_fail(SC_ERR_STORE_DAMAGED, "counter: %zu bytes", len);
	for (i = 0; i < 2; i++) {
		const uint8_t *p = data + i * FAULTS_COUNTER_STRIDE;

		for (k = 0; k < 8; k++)
			s[i] = (s[i] << 8) | p[k];
		faults_counter_slot(s[i], want);
		ok[i] = (s[i] & 1) == (uint64_t)i && memcmp(want, p, sizeof(want)) == 0;
	}
	if (!ok[0] && !ok[1])
		return sc_fail(SC_ERR_STORE_DAMAGED, "counter: no valid slot");
	*v = !ok[1] || (ok[0] && s[0] > s[1]) ? s[0] : s[1];
	return SC_OK;
}

static sc_err read_counter_file(const char *dir, char *out, size_t out_len)
{
	char path[FAULTS_PATH_MAX];
	uint8_t *d = NULL;
	size_t n = 0;
	uint64_t v = 0;
	sc_err r;

	if (snprintf(path, sizeof(path), "%s/counter", dir) >= (int)sizeof(path))
		return sc_fail(SC_ERR_USAGE, "%s: path too long", dir);
	if ((r = sc_file_read(path, FAULTS_COUNTER_FILE_LEN, &d, &n)) != SC_OK)
		return r;
	r = faults_counter_value(d, n, &v);
	OPENSSL_free(d);
	if (r != SC_OK)
		return sc_fail(r, "%s: %s", path, sc_err_detail());
	snprintf(out, out_len, "%llu", (unsigned long long)v);
	return SC_OK;
}

/*
 * Every field of the state, one per line, keys and certificates as SHA-256 fingerprints; with
 * certdir, each leaf certificate as certdir/<handle>.pem (for signing checks).
 */
static int cmd_dump(int argc, char **argv)
{
	sc_err r = SC_ERR_INTERNAL;
	char scratch[FAULTS_PATH_MAX] = "", path[FAULTS_PATH_MAX], counter_file[32];
	struct spd_store *store = NULL;
	struct spd_state *st = NULL;
	char hex[2 * 16 + 1];
	size_t i;

	if (argc != 2 && argc != 3)
		return usage_error();
	if ((st = calloc(1, sizeof(*st))) == NULL)
		return faults_fail(sc_fail(SC_ERR_NOMEM, "state"));
	spd_state_init(st, NULL);
	if ((r = read_counter_file(argv[1], counter_file, sizeof(counter_file))) != SC_OK ||
	    (r = faults_scratch_copy(argv[1], scratch)) != SC_OK ||
	    (r = spd_store_open(scratch, &store, st)) != SC_OK)
		goto out;
	printf("counter-file %s\n", counter_file);
	printf("store-counter %llu\n", (unsigned long long)spd_store_counter(store));
	printf("state %s\n", sc_sp_state_name(st->state));
	printf("device-id %s\n", st->device_id);
	printf("max-leaf-days %u\nmax-keys %u\n", (unsigned)st->max_leaf_days,
	    (unsigned)st->max_keys);
	printf("issuance-counter %llu\n", (unsigned long long)st->issuance_counter);
	if ((r = dump_key("csk", st, st->csk_alg, st->csk)) != SC_OK ||
	    (r = dump_key("kek", st, st->kek_alg, st->kek)) != SC_OK ||
	    (r = dump_cert("csk-cert", st->csk_cert)) != SC_OK ||
	    (r = dump_cert("kek-cert", st->kek_cert)) != SC_OK)
		goto out;
	for (i = 0; i < st->n_anchors; i++) {
		char what[SC_NETWORK_ID_MAX + 16];

		snprintf(what, sizeof(what), "anchor %s", st->anchors[i].network_id);
		if ((r = dump_cert(what, st->anchors[i].cert)) != SC_OK)
			goto out;
	}
	for (i = 0; i < st->n_replay; i++) {
		sc_hex(st->replay[i].id, SC_PROFILE_ID_LEN, hex);
		printf("replay %s %llu\n", hex, (unsigned long long)st->replay[i].not_after);
	}
	printf("replay-watermark %llu\n", (unsigned long long)st->replay_watermark);
	for (i = 0; i < st->n_slots; i++) {
		const struct spd_slot *s = &st->slots[i];
		char kh[65], ch[65];

		if ((r = faults_spki_hash(st->be->key_public(s->key), kh)) != SC_OK ||
		    (r = faults_cert_hash(s->cert, ch)) != SC_OK)
			goto out;
		printf("slot %u %s %s %s\n", (unsigned)s->handle,
		    sc_alg_name(s->alg) ? sc_alg_name(s->alg) : "?", kh, ch);
		if (argc == 3) {
			if (snprintf(path, sizeof(path), "%s/%u.pem", argv[2],
			        (unsigned)s->handle) >= (int)sizeof(path)) {
				r = sc_fail(SC_ERR_USAGE, "%s: path too long", argv[2]);
				goto out;
			}
			if ((r = sc_write_cert(path, s->cert)) != SC_OK)
				goto out;
		}
	}
	printf("next-handle %u\n", (unsigned)st->next_handle);
	r = SC_OK;
out:
	spd_store_close(store);
	spd_state_clear(st);
	free(st);
	faults_scratch_remove(scratch);
	if (fflush(stdout) != 0 && r == SC_OK)
		r = sc_fail(SC_ERR_IO, "stdout: %s", strerror(errno));
	return r == SC_OK ? 0 : faults_fail(r);
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";

	if (strcmp(cmd, "keygen") == 0)
		return cmd_keygen(argc - 1, argv + 1);
	if (strcmp(cmd, "install-cert") == 0 || strcmp(cmd, "install-anchor") == 0 ||
	    strcmp(cmd, "set-limits") == 0 || strcmp(cmd, "lock") == 0)
		return cmd_factory(argc - 1, argv + 1);
	if (strcmp(cmd, "dump") == 0)
		return cmd_dump(argc - 1, argv + 1);
	if (strcmp(cmd, "sweep") == 0)
		return faults_cmd_sweep(argc - 1, argv + 1);
	if (strcmp(cmd, "churn") == 0)
		return faults_cmd_churn(argc - 1, argv + 1);
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		fputs(usage_text, stdout);
		return 0;
	}
	return usage_error();
}
