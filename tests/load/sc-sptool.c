// SPDX-License-Identifier: Apache-2.0
/*
 * sc-sptool.c — a test-only tool for the hostile-host tests (tests/integration/test_sandbox*,
 * test_states*, test_noleak*); not installed, not part of any release.
 *
 *   sc-sptool raw SOCKET HEX
 *       Send one message (version, type and body as hex; the length prefix is added) and print
 *       the answer: "answer 0xTT HEXBODY", "error NAME DETAIL", or "closed NAME" when the SP
 *       hung up without a frame. Exit 0 when a frame came back.
 *   sc-sptool frame SOCKET HEX
 *       Write HEX as it is (the length prefix included, so framing errors can be sent), read
 *       one answer frame, and print it as raw does followed by "then closed" or "then open":
 *       whether the SP hung up after answering.
 *   sc-sptool types SOCKET OUT [--skip TT]... [HANDLE...]
 *       Every message type 0..255 (but the skipped ones) with an empty body, on one
 *       connection: one line per type,
 *       "0xTT answer 0xAA" or "0xTT error NAME". Types the SP does not answer as
 *       unknown-request are the defined ones; every other type is sent again with bodies an
 *       export request might take (each HANDLE as u32, a role byte 1 and 2) and must still be
 *       unknown-request. Versions other than 1 must be malformed. Every answer's bytes are
 *       appended to OUT for the key scan. Exit 1 if an undefined type answered otherwise.
 *   sc-sptool needles KEY.pem LABEL
 *       Print the private key's secret bytes as scan needles, one "LABEL.part MODE HEX" per
 *       line: the PKCS#8 DER (MODE full: only the whole of it is secret) and each private
 *       component, big- and little-endian (MODE window: every 32-byte window is secret).
 *   sc-sptool scan NEEDLES FILE...
 *       Search every file for every needle; print "FOUND needle file offset" per hit and exit 1
 *       if there was one, else print a summary and exit 0.
 *   sc-sptool heapcheck [-v] [--wipe]
 *       With OpenSSL's secure heap set up as selfcert-spd does it: for each algorithm, how much
 *       secure heap a generated and a PKCS#8-decoded key use, and where copies of its private
 *       components sit in this process's memory (secure heap or not) once decoded, after a
 *       signature, after an encoding, and after it is freed. --wipe: with the allocator
 *       selfcert-spd installs (spd_wipe_freed_memory). -v: where each copy is.
 *   sc-sptool exercise SOCKET HANDLE CERT.pem
 *       Every use of a leaf key its certificate allows, each checked against the certificate's
 *       public key: SIGN in MESSAGE and DIGEST mode (and PSS for RSA), DECRYPT (RSA-OAEP of a
 *       random secret), DERIVE (ECDH with a fresh peer key). One line per request; exit 1 if
 *       any failed.
 *   sc-sptool unseal DIR OUT
 *       Open DIR/store with DIR/root.key exactly as docs/PROTOCOL.md section 6 says (HKDF-SHA256,
 *       AES-256-GCM, the 25-byte header as AAD), independently of the SP's code, and write the
 *       plaintext to OUT (0600): the positive control of the key scan.
 *   sc-sptool sandbox-probe WHAT [DIR]
 *       Enter selfcert-spd's sandbox (src/spd/sandbox.c) with DIR as the store folder, then do
 *       WHAT: "allowed" (what serving does: files in DIR, randomness, memory, a signature) must
 *       exit 0; "landlock-proc-mem", "landlock-outside", "landlock-parent" open a path outside
 *       DIR and print "denied" (exit 0) when Landlock refuses it (77: no Landlock here); any
 *       other WHAT is a forbidden system call that must kill the process with SIGSYS.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <netinet/in.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <selfcert/alg.h>
#include <selfcert/sp.h>
#include "file.h"
#include "keyopen.h"
#include "pem.h"
#include "sandbox.h"
#include "sp_msg.h"
#include "sp_wire.h"
#include "text.h"

#define MAX_NEEDLES 256
#define MAX_NEEDLE 4096 /* bytes: an RSA-4096 PKCS#8 is about 2.4 KiB */
#define MAX_KEY_DER 4096
#define WINDOW 32 /* a leaked 32-byte run of a secret is a leak */
#define WINDOW_STRIDE 16
#define MAX_SCAN_FILE (256u << 20)
#define MASK 0xa5 /* needles kept masked so the scan never finds itself */
#define MAX_HANDLES 64

static int usage(void)
{
	fprintf(stderr,
	    "usage: sc-sptool raw SOCKET HEX | frame SOCKET HEX |\n"
	    "       types SOCKET OUT [--skip TT]... [HANDLE...] |\n"
	    "       needles KEY.pem LABEL | scan NEEDLES FILE... | heapcheck [-v] [--wipe] |\n"
	    "       exercise SOCKET HANDLE CERT.pem | unseal DIR OUT |\n"
	    "       sandbox-probe WHAT [DIR]\n");
	return 2;
}

static int die(const char *what, sc_err r)
{
	fprintf(stderr, "sc-sptool: %s: %s: %s\n", what, sc_err_name(r), sc_err_detail());
	return 3;
}

static void print_hex(FILE *f, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		fprintf(f, "%02x", p[i]);
}

/* ---- raw and types ---- */

/* One round trip; *ans is the caller's. Prints nothing. */
static sc_err roundtrip(struct sc_sp **sp, const char *sock, const uint8_t *msg, size_t len,
    uint8_t **ans, size_t *ans_len)
{
	sc_err r;

	if (*sp == NULL && (r = sc_sp_connect(sock, sp)) != SC_OK)
		return r;
	r = sc_sp_raw(*sp, msg, len, ans, ans_len);
	if (r != SC_OK) {
		/* The SP hung up (or the stream is out of step): the next message reconnects. */
		sc_sp_close(*sp);
		*sp = NULL;
	}
	return r;
}

/* "answer 0xTT" / "error NAME" for an answer frame, into out. 1 if it is a frame we know. */
static int describe(const uint8_t *ans, size_t len, char *out, size_t out_len, char *detail,
    size_t detail_len)
{
	char d[SC_WIRE_MAX_DETAIL + 1];
	struct sc_buf rd;
	int32_t code;

	detail[0] = '\0';
	if (len < SC_WIRE_MIN_MSG || ans[0] != SC_SP_PROTO_VERSION) {
		snprintf(out, out_len, "bad-frame");
		return 0;
	}
	if (ans[1] != SC_SP_ERROR) {
		snprintf(out, out_len, "answer 0x%02x", ans[1]);
		return 1;
	}
	/* The host's own decoder, but not its judgement: any code is printed by name. */
	sc_buf_init_reader(&rd, ans + 2, len - 2);
	if (sp_error_ans_get(&rd, &code, d) != SC_OK) {
		snprintf(out, out_len, "bad-error-frame");
		return 0;
	}
	snprintf(detail, detail_len, "%s", d);
	snprintf(out, out_len, "error %s", sc_err_name((sc_err)code));
	return 1;
}

static int cmd_raw(const char *sock, const char *hex)
{
	uint8_t msg[SC_SP_MAX_MSG], *ans = NULL;
	size_t len = 0, ans_len = 0;
	struct sc_sp *sp = NULL;
	char what[64], detail[SC_WIRE_MAX_DETAIL + 1];
	sc_err r;

	if ((r = sc_unhex(hex, msg, sizeof(msg), &len)) != SC_OK)
		return die("HEX", r);
	r = roundtrip(&sp, sock, msg, len, &ans, &ans_len);
	sc_sp_close(sp);
	if (r != SC_OK) {
		printf("closed %s\n", sc_err_name(r));
		return 3;
	}
	describe(ans, ans_len, what, sizeof(what), detail, sizeof(detail));
	if (strncmp(what, "answer", 6) == 0) {
		printf("%s ", what);
		print_hex(stdout, ans + 2, ans_len - 2);
		printf("\n");
	} else {
		printf("%s %s\n", what, detail);
	}
	OPENSSL_clear_free(ans, ans_len);
	return 0;
}

static int cmd_frame(const char *sock, const char *hex)
{
	static uint8_t out[SC_SP_MAX_MSG + 16];
	struct sockaddr_un sa;
	uint8_t *ans = NULL, probe;
	char what[64], detail[SC_WIRE_MAX_DETAIL + 1];
	size_t len = 0, ans_len = 0;
	struct pollfd p;
	int fd, closed;
	sc_err r;

	if ((r = sc_unhex(hex, out, sizeof(out), &len)) != SC_OK)
		return die("HEX", r);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    send(fd, out, len, MSG_NOSIGNAL) != (ssize_t)len) {
		fprintf(stderr, "sc-sptool: %s: %s\n", sock, strerror(errno));
		return 3;
	}
	if ((r = sc_wire_read_frame(fd, &ans, &ans_len, 10000)) != SC_OK) {
		printf("closed %s\n", sc_err_name(r));
		close(fd);
		return 3;
	}
	describe(ans, ans_len, what, sizeof(what), detail, sizeof(detail));
	/* Hung up: EOF within a second of the answer. Open: nothing to read in that time. */
	p.fd = fd;
	p.events = POLLIN;
	closed = poll(&p, 1, 1000) > 0 && read(fd, &probe, 1) <= 0;
	printf("%s then %s\n", what, closed ? "closed" : "open");
	OPENSSL_clear_free(ans, ans_len);
	close(fd);
	return 0;
}

static int cmd_types(const char *sock, const char *out_path, int n_args, char **args)
{
	uint32_t hv[MAX_HANDLES];
	uint8_t skip[256];
	int n_handles = 0;
	struct sc_sp *sp = NULL;
	FILE *out;
	int bad = 0, i, n_defined = 0;
	unsigned t, v;

	memset(skip, 0, sizeof(skip));
	for (i = 0; i < n_args; i++) {
		if (strcmp(args[i], "--skip") == 0 && i + 1 < n_args) {
			skip[strtoul(args[i + 1], NULL, 16) & 0xff] = 1;
			i++;
			continue;
		}
		if (n_handles >= MAX_HANDLES) {
			fprintf(stderr, "sc-sptool: at most %d handles\n", MAX_HANDLES);
			return 2;
		}
		hv[n_handles++] = (uint32_t)strtoul(args[i], NULL, 10);
	}
	if ((out = fopen(out_path, "ab")) == NULL) {
		fprintf(stderr, "sc-sptool: %s: %s\n", out_path, strerror(errno));
		return 3;
	}
	for (t = 0; t <= 0xff; t++) {
		uint8_t msg[2 + 4 + 4];
		uint8_t *ans = NULL;
		size_t ans_len = 0;
		char what[64], detail[SC_WIRE_MAX_DETAIL + 1];
		int defined, variant;
		sc_err r;

		if (skip[t])
			continue;
		msg[0] = SC_SP_PROTO_VERSION;
		msg[1] = (uint8_t)t;
		if ((r = roundtrip(&sp, sock, msg, 2, &ans, &ans_len)) != SC_OK) {
			printf("0x%02x closed %s\n", t, sc_err_name(r));
			bad++;
			continue;
		}
		fwrite(ans, 1, ans_len, out);
		describe(ans, ans_len, what, sizeof(what), detail, sizeof(detail));
		OPENSSL_clear_free(ans, ans_len);
		printf("0x%02x %s\n", t, what);
		defined = strcmp(what, "error unknown-request") != 0;
		n_defined += defined;
		if (defined)
			continue;
		/* An undefined type stays undefined whatever body it carries. */
		for (variant = 0; variant < n_handles + 2; variant++) {
			size_t len = 2;

			if (variant < n_handles) {
				msg[2] = (uint8_t)(hv[variant] >> 24);
				msg[3] = (uint8_t)(hv[variant] >> 16);
				msg[4] = (uint8_t)(hv[variant] >> 8);
				msg[5] = (uint8_t)hv[variant];
				len += 4;
			} else {
				msg[2] = (uint8_t)(variant - n_handles + 1);
				len += 1;
			}
			if ((r = roundtrip(&sp, sock, msg, len, &ans, &ans_len)) != SC_OK) {
				printf("0x%02x variant %d: closed %s\n", t, variant,
				    sc_err_name(r));
				bad++;
				continue;
			}
			fwrite(ans, 1, ans_len, out);
			describe(ans, ans_len, what, sizeof(what), detail, sizeof(detail));
			OPENSSL_clear_free(ans, ans_len);
			if (strcmp(what, "error unknown-request") != 0) {
				printf("0x%02x variant %d: %s\n", t, variant, what);
				bad++;
			}
		}
	}
	/* Any other version is refused before the type is even looked at. */
	for (v = 0; v <= 0xff; v += 0x11) {
		uint8_t msg[2] = { (uint8_t)v, SC_SP_INFO };
		uint8_t *ans = NULL;
		size_t ans_len = 0;
		char what[64], detail[SC_WIRE_MAX_DETAIL + 1];

		if (v == SC_SP_PROTO_VERSION)
			continue;
		if (roundtrip(&sp, sock, msg, 2, &ans, &ans_len) != SC_OK) {
			printf("version 0x%02x: closed\n", v);
			bad++;
			continue;
		}
		fwrite(ans, 1, ans_len, out);
		describe(ans, ans_len, what, sizeof(what), detail, sizeof(detail));
		OPENSSL_clear_free(ans, ans_len);
		if (strcmp(what, "error malformed") != 0) {
			printf("version 0x%02x: %s\n", v, what);
			bad++;
		}
	}
	sc_sp_close(sp);
	fclose(out);
	fprintf(stderr, "sc-sptool: %d defined types, %d unexpected answers\n", n_defined, bad);
	return bad == 0 ? 0 : 1;
}

/* ---- needles ---- */

struct needle {
	char label[96];
	int window; /* 1: every WINDOW-byte run is secret */
	size_t len;
	uint8_t masked[MAX_NEEDLE];
};

static void print_needle(const char *label, const char *part, const char *mode, const uint8_t *p,
    size_t n)
{
	printf("%s.%s %s ", label, part, mode);
	print_hex(stdout, p, n);
	printf("\n");
}

/* A BIGNUM parameter of key, big- and little-endian. Absent parameters are skipped. */
static int print_bn_needles(EVP_PKEY *key, const char *param, const char *label, const char *part,
    size_t pad)
{
	BIGNUM *bn = NULL;
	uint8_t buf[MAX_NEEDLE];
	char name[64];
	int n;

	if (EVP_PKEY_get_bn_param(key, param, &bn) != 1)
		return 0;
	n = BN_num_bytes(bn);
	if (pad < (size_t)n)
		pad = (size_t)n;
	if (pad > sizeof(buf) || BN_bn2binpad(bn, buf, (int)pad) < 0) {
		BN_clear_free(bn);
		return -1;
	}
	snprintf(name, sizeof(name), "%s-be", part);
	print_needle(label, name, "window", buf, pad);
	/* In memory a BIGNUM's words are little-endian: the form a heap scan finds. */
	if (BN_bn2lebinpad(bn, buf, (int)pad) < 0) {
		BN_clear_free(bn);
		return -1;
	}
	snprintf(name, sizeof(name), "%s-le", part);
	print_needle(label, name, "window", buf, pad);
	OPENSSL_cleanse(buf, sizeof(buf));
	BN_clear_free(bn);
	return 1;
}

static int cmd_needles(const char *path, const char *label)
{
	static const struct {
		const char *param, *part;
	} rsa[] = {
		{ OSSL_PKEY_PARAM_RSA_D, "d" },
		{ OSSL_PKEY_PARAM_RSA_FACTOR1, "p" },
		{ OSSL_PKEY_PARAM_RSA_FACTOR2, "q" },
		{ OSSL_PKEY_PARAM_RSA_EXPONENT1, "dp" },
		{ OSSL_PKEY_PARAM_RSA_EXPONENT2, "dq" },
		{ OSSL_PKEY_PARAM_RSA_COEFFICIENT1, "qinv" },
	};
	EVP_PKEY *key = NULL;
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	unsigned char *der = NULL;
	uint8_t raw[64];
	size_t raw_len = sizeof(raw), i;
	int n, rc = 3;
	sc_err r;

	if ((r = sc_key_open(path, &key)) != SC_OK)
		return die(path, r);
	if ((p8 = EVP_PKEY2PKCS8(key)) == NULL || (n = i2d_PKCS8_PRIV_KEY_INFO(p8, &der)) <= 0 ||
	    n > MAX_NEEDLE) {
		fprintf(stderr, "sc-sptool: %s: cannot encode as PKCS#8\n", path);
		goto out;
	}
	print_needle(label, "pkcs8", "full", der, (size_t)n);
	switch (sc_alg_of_key(key)) {
	case SC_ALG_RSA2048:
	case SC_ALG_RSA3072:
	case SC_ALG_RSA4096:
		for (i = 0; i < sizeof(rsa) / sizeof(rsa[0]); i++)
			if (print_bn_needles(key, rsa[i].param, label, rsa[i].part, 0) != 1)
				goto out;
		break;
	case SC_ALG_P256:
	case SC_ALG_P384:
		if (print_bn_needles(key, OSSL_PKEY_PARAM_PRIV_KEY, label, "priv",
		        (size_t)(EVP_PKEY_get_bits(key) + 7) / 8) != 1)
			goto out;
		break;
	case SC_ALG_ED25519:
		if (EVP_PKEY_get_raw_private_key(key, raw, &raw_len) != 1)
			goto out;
		print_needle(label, "priv", "window", raw, raw_len);
		break;
	default: fprintf(stderr, "sc-sptool: %s: not one of the six algorithms\n", path); goto out;
	}
	rc = 0;
out:
	OPENSSL_cleanse(raw, sizeof(raw));
	if (der != NULL)
		OPENSSL_clear_free(der, (size_t)n);
	PKCS8_PRIV_KEY_INFO_free(p8);
	EVP_PKEY_free(key);
	return rc;
}

/* ---- scan ---- */

static int load_needles(const char *path, struct needle *nd, size_t *n_out)
{
	char line[2 * MAX_NEEDLE + 256], hex[2 * MAX_NEEDLE + 2], mode[16];
	FILE *f = fopen(path, "r");
	size_t n = 0, i;

	*n_out = 0;
	if (f == NULL) {
		fprintf(stderr, "sc-sptool: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		struct needle *x;
		size_t len = 0;

		if (line[0] == '\n' || line[0] == '#')
			continue;
		if (n >= MAX_NEEDLES) {
			fprintf(stderr, "sc-sptool: %s: more than %d needles\n", path, MAX_NEEDLES);
			fclose(f);
			return -1;
		}
		x = &nd[n];
		if (sscanf(line, "%95s %15s %8193s", x->label, mode, hex) != 3 ||
		    sc_unhex(hex, x->masked, sizeof(x->masked), &len) != SC_OK || len == 0) {
			fprintf(stderr, "sc-sptool: %s: bad needle line\n", path);
			fclose(f);
			return -1;
		}
		x->window = strcmp(mode, "window") == 0;
		x->len = len;
		for (i = 0; i < len; i++)
			x->masked[i] ^= MASK;
		OPENSSL_cleanse(hex, sizeof(hex));
		OPENSSL_cleanse(line, sizeof(line));
		n++;
	}
	fclose(f);
	*n_out = n;
	return 0;
}

/* First offset >= from where the masked needle m[0..len) occurs in hay, or -1. */
static long find_masked(const uint8_t *hay, size_t hay_len, size_t from, const uint8_t *m,
    size_t len)
{
	size_t i, j;

	if (len == 0 || hay_len < len)
		return -1;
	for (i = from; i + len <= hay_len; i++) {
		if ((uint8_t)(hay[i] ^ MASK) != m[0])
			continue;
		for (j = 1; j < len && (uint8_t)(hay[i + j] ^ MASK) == m[j]; j++)
			;
		if (j == len)
			return (long)i;
	}
	return -1;
}

/* Hits of one needle (whole, then each window) in hay; prints each. */
static int scan_one(const struct needle *x, const uint8_t *hay, size_t hay_len, const char *where,
    const void *base, int (*classify)(const void *))
{
	size_t off, wlen = x->window && x->len > WINDOW ? WINDOW : x->len;
	size_t step = x->window && x->len > WINDOW ? WINDOW_STRIDE : x->len;
	int hits = 0;

	for (off = 0; off + wlen <= x->len; off += step) {
		long at = -1;

		while ((at = find_masked(hay, hay_len, (size_t)(at + 1), x->masked + off, wlen)) >=
		    0) {
			if (classify != NULL) {
				hits += classify((const uint8_t *)base + at);
				continue;
			}
			printf("FOUND %s[%zu..%zu) in %s at %ld\n", x->label, off, off + wlen,
			    where, at);
			hits++;
		}
		if (!x->window)
			break;
	}
	return hits;
}

static int cmd_scan(const char *needles_path, int n_files, char **files)
{
	static struct needle nd[MAX_NEEDLES];
	size_t n_needles = 0, i, total = 0;
	int f, hits = 0;

	if (load_needles(needles_path, nd, &n_needles) != 0)
		return 3;
	if (n_needles == 0) {
		fprintf(stderr, "sc-sptool: %s: no needles\n", needles_path);
		return 3;
	}
	for (f = 0; f < n_files; f++) {
		uint8_t *data = NULL;
		size_t len = 0;
		sc_err r;

		if ((r = sc_file_read(files[f], MAX_SCAN_FILE, &data, &len)) != SC_OK)
			return die(files[f], r);
		total += len;
		for (i = 0; i < n_needles; i++)
			hits += scan_one(&nd[i], data, len, files[f], NULL, NULL);
		OPENSSL_clear_free(data, len);
	}
	if (hits > 0)
		return 1;
	printf("clean: %d files, %zu bytes, %zu needles\n", n_files, total, n_needles);
	return 0;
}

/* ---- heapcheck ---- */

static int hc_secure, hc_normal, hc_verbose;
static const char *hc_label;

static int hc_classify(const void *p)
{
	if (CRYPTO_secure_allocated(p)) {
		hc_secure++;
	} else {
		hc_normal++;
		if (hc_verbose)
			printf("\n    %s outside the secure heap at %p", hc_label, p);
	}
	return 1;
}

/* Every readable, writable private mapping of this process: heap, anonymous maps, stacks. */
static void scan_self(const struct needle *nd, size_t n, int *secure, int *normal)
{
	FILE *maps = fopen("/proc/self/maps", "r");
	char line[512];

	hc_secure = hc_normal = 0;
	if (maps == NULL)
		return;
	while (fgets(line, sizeof(line), maps) != NULL) {
		unsigned long lo, hi;
		char perms[8];
		size_t i;

		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3 || perms[0] != 'r' ||
		    perms[1] != 'w' || strstr(line, "[vvar") != NULL)
			continue;
		for (i = 0; i < n; i++) {
			hc_label = nd[i].label;
			scan_one(&nd[i], (const uint8_t *)lo, hi - lo, "memory", (const void *)lo,
			    hc_classify);
		}
	}
	fclose(maps);
	*secure = hc_secure;
	*normal = hc_normal;
}

/*
 * The secret parts of key as masked needles, big- and little-endian (a BIGNUM's words are
 * little-endian in memory; DER and other encodings big-endian).
 */
static size_t key_needles(EVP_PKEY *key, struct needle *nd, size_t max)
{
	static const char *const rsa[] = { OSSL_PKEY_PARAM_RSA_D, OSSL_PKEY_PARAM_RSA_FACTOR1,
		OSSL_PKEY_PARAM_RSA_FACTOR2, NULL };
	static const char *const ec[] = { OSSL_PKEY_PARAM_PRIV_KEY, NULL };
	const char *const *params = NULL;
	size_t n = 0, i, j;
	int e;

	switch (sc_alg_of_key(key)) {
	case SC_ALG_RSA2048:
	case SC_ALG_RSA3072:
	case SC_ALG_RSA4096: params = rsa; break;
	case SC_ALG_P256:
	case SC_ALG_P384: params = ec; break;
	case SC_ALG_ED25519: {
		size_t len = MAX_NEEDLE;

		if (EVP_PKEY_get_raw_private_key(key, nd[0].masked, &len) == 1) {
			snprintf(nd[0].label, sizeof(nd[0].label), "priv");
			nd[0].window = 0;
			nd[0].len = len;
			for (j = 0; j < len; j++)
				nd[0].masked[j] ^= MASK;
			n = 1;
		}
		return n;
	}
	default: return 0;
	}
	for (i = 0; params[i] != NULL && n + 2 <= max; i++) {
		BIGNUM *bn = NULL;
		int len;

		if (EVP_PKEY_get_bn_param(key, params[i], &bn) != 1)
			continue;
		len = BN_num_bytes(bn);
		for (e = 0; e < 2 && len > 0 && len <= MAX_NEEDLE; e++) {
			if ((e == 0 ? BN_bn2lebinpad(bn, nd[n].masked, len)
			            : BN_bn2binpad(bn, nd[n].masked, len)) != len)
				continue;
			snprintf(nd[n].label, sizeof(nd[n].label), "%s-%s", params[i],
			    e ? "be" : "le");
			nd[n].window = 0;
			nd[n].len = (size_t)len;
			for (j = 0; j < (size_t)len; j++)
				nd[n].masked[j] ^= MASK;
			n++;
		}
		BN_clear_free(bn);
	}
	return n;
}

static int sign_once(EVP_PKEY *key)
{
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	uint8_t sig[1024];
	size_t sig_len = sizeof(sig);
	int ok;

	ok = m != NULL &&
	    EVP_DigestSignInit(m, NULL, sc_sign_md(key, SC_DIGEST_NONE), NULL, key) == 1 &&
	    EVP_DigestSign(m, sig, &sig_len, (const uint8_t *)"selfcert", 8) == 1;
	EVP_MD_CTX_free(m);
	return ok ? 0 : -1;
}

static int read_full(int fd, void *p, size_t n)
{
	uint8_t *b = p;

	while (n > 0) {
		ssize_t r = read(fd, b, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		b += r;
		n -= (size_t)r;
	}
	return 0;
}

/*
 * In a child process, so that no copy made while generating or exporting it pollutes this
 * process's memory: a key of alg, its PKCS#8 DER and its masked needles, sent down a pipe.
 */
static int key_from_child(enum sc_alg alg, uint8_t **der, size_t *der_len, struct needle *nd,
    size_t *n_nd)
{
	int pfd[2], status;
	pid_t pid;
	uint32_t len, n;

	if (pipe(pfd) != 0)
		return -1;
	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		EVP_PKEY *k = NULL;
		PKCS8_PRIV_KEY_INFO *p8;
		unsigned char *d = NULL;
		static struct needle cn[8];
		size_t cnt;
		int dl;

		close(pfd[0]);
		if (sc_alg_keygen(alg, &k) != SC_OK || (p8 = EVP_PKEY2PKCS8(k)) == NULL ||
		    (dl = i2d_PKCS8_PRIV_KEY_INFO(p8, &d)) <= 0)
			_exit(1);
		cnt = key_needles(k, cn, 8);
		len = (uint32_t)dl;
		n = (uint32_t)cnt;
		if (write(pfd[1], &len, 4) != 4 || write(pfd[1], d, len) != (ssize_t)len ||
		    write(pfd[1], &n, 4) != 4 ||
		    write(pfd[1], cn, cnt * sizeof(cn[0])) != (ssize_t)(cnt * sizeof(cn[0])))
			_exit(1);
		_exit(0);
	}
	close(pfd[1]);
	*der = NULL;
	if (read_full(pfd[0], &len, 4) != 0 || len > MAX_KEY_DER ||
	    (*der = OPENSSL_malloc(len)) == NULL || read_full(pfd[0], *der, len) != 0 ||
	    read_full(pfd[0], &n, 4) != 0 || n > 8 ||
	    read_full(pfd[0], nd, n * sizeof(nd[0])) != 0) {
		close(pfd[0]);
		waitpid(pid, &status, 0);
		OPENSSL_free(*der);
		return -1;
	}
	close(pfd[0]);
	waitpid(pid, &status, 0);
	*der_len = len;
	*n_nd = n;
	return 0;
}

/*
 * What OpenSSL puts in the secure heap, along the SP's own path for a key: decoded from
 * PKCS#8 as the store does at start-up, used to sign, encoded to PKCS#8 again as the store
 * does for a new key, freed. After each step, the copies of its secret parts found in this process's memory,
 * in the secure heap and outside it (live or freed-but-not-wiped: a scan cannot tell).
 */
static int cmd_heapcheck(int verbose, int wipe)
{
	static const enum sc_alg algs[] = { SC_ALG_RSA2048, SC_ALG_P256, SC_ALG_P384,
		SC_ALG_ED25519 };
	static struct needle nd[8];
	size_t i;

	hc_verbose = verbose;
	if (spd_sandbox_unavailable() != NULL) {
		/* Reading every mapping would walk AddressSanitizer's terabytes of shadow. */
		printf("heapcheck skipped: %s\n", spd_sandbox_unavailable());
		return 77;
	}
	/* As selfcert-spd does first thing (sandbox.c): OpenSSL's freed blocks are wiped. */
	if (wipe && spd_wipe_freed_memory() != 1)
		return die("CRYPTO_set_mem_functions came too late", SC_ERR_INTERNAL);
	printf("blocks OpenSSL frees are wiped first: %s\n",
	    wipe ? "yes (as selfcert-spd)" : "no (OpenSSL's default)");
	if (CRYPTO_secure_malloc_init(SPD_SECURE_HEAP, SPD_SECURE_HEAP_MIN) == 0) {
		fprintf(stderr, "sc-sptool: no secure heap\n");
		return 3;
	}
	printf("copies of the private components (secure heap/elsewhere) after each step\n");
	printf("%-8s %-11s %-11s %-11s %-11s %-11s %-11s\n", "alg", "gen-bytes", "load-bytes",
	    "decoded", "signed", "encoded", "freed");
	for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		EVP_PKEY *k = NULL;
		PKCS8_PRIV_KEY_INFO *p8 = NULL;
		unsigned char *der = NULL, *der2 = NULL;
		const unsigned char *p;
		size_t u0, u1, n = 0, der_len = 0, j;
		int d2, s[4], o[4];

		/* The secure heap a freshly generated key takes (the SP's KEYGEN and ISSUE). */
		u0 = CRYPTO_secure_used();
		if (sc_alg_keygen(algs[i], &k) != SC_OK)
			return die("keygen", SC_ERR_INTERNAL);
		u1 = CRYPTO_secure_used() - u0;
		EVP_PKEY_free(k);
		k = NULL;

		if (key_from_child(algs[i], &der, &der_len, nd, &n) != 0)
			return die("child key", SC_ERR_INTERNAL);
		u0 = CRYPTO_secure_used();
		p = der;
		p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)der_len);
		k = p8 != NULL ? EVP_PKCS82PKEY(p8) : NULL;
		PKCS8_PRIV_KEY_INFO_free(p8);
		OPENSSL_clear_free(der, der_len);
		if (k == NULL)
			return die("decode", SC_ERR_INTERNAL);
		printf("%-8s %-11zu %-11zu ", sc_alg_name(algs[i]), u1, CRYPTO_secure_used() - u0);
		scan_self(nd, n, &s[0], &o[0]);
		if (sign_once(k) != 0)
			return die("sign", SC_ERR_INTERNAL);
		scan_self(nd, n, &s[1], &o[1]);
		if ((p8 = EVP_PKEY2PKCS8(k)) == NULL ||
		    (d2 = i2d_PKCS8_PRIV_KEY_INFO(p8, &der2)) <= 0)
			return die("encode", SC_ERR_INTERNAL);
		PKCS8_PRIV_KEY_INFO_free(p8);
		OPENSSL_clear_free(der2, (size_t)d2);
		scan_self(nd, n, &s[2], &o[2]);
		EVP_PKEY_free(k);
		scan_self(nd, n, &s[3], &o[3]);
		printf("%4d/%-6d %4d/%-6d %4d/%-6d %4d/%-6d\n", s[0], o[0], s[1], o[1], s[2], o[2],
		    s[3], o[3]);
		for (j = 0; j < n; j++)
			OPENSSL_cleanse(nd[j].masked, sizeof(nd[j].masked));
	}
	printf("secure heap in use at the end: %zu bytes\n", CRYPTO_secure_used());
	return 0;
}

/* ---- exercise ---- */

static int verify_with(EVP_PKEY *pub, const EVP_MD *md, int pss, const uint8_t *msg, size_t len,
    const uint8_t *sig, size_t sig_len)
{
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pc = NULL;
	int ok;

	ok = m != NULL && EVP_DigestVerifyInit(m, &pc, md, NULL, pub) == 1 &&
	    (!pss ||
	        (EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) == 1 &&
	            EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, RSA_PSS_SALTLEN_AUTO) == 1)) &&
	    EVP_DigestVerify(m, sig, sig_len, msg, len) == 1;
	EVP_MD_CTX_free(m);
	return ok;
}

static int report(const char *what, sc_err r, int ok)
{
	if (r != SC_OK) {
		printf("%s: %s: %s\n", what, sc_err_name(r), sc_err_detail());
		return 1;
	}
	printf("%s: %s\n", what, ok ? "ok" : "WRONG RESULT");
	return ok ? 0 : 1;
}

static int cmd_exercise(const char *sock, const char *handle_s, const char *cert_path)
{
	uint8_t msg[100], dg[EVP_MAX_MD_SIZE], *out = NULL, *ct = NULL;
	unsigned dg_len = 0;
	size_t out_len = 0, ct_len = 0;
	uint32_t handle = (uint32_t)strtoul(handle_s, NULL, 10), ku;
	struct sc_sp *sp = NULL;
	EVP_PKEY *pub, *peer = NULL;
	EVP_PKEY_CTX *pc = NULL;
	X509 *cert = NULL;
	enum sc_alg alg;
	int bad = 0;
	sc_err r;

	if ((r = sc_load_cert(cert_path, &cert)) != SC_OK)
		return die(cert_path, r);
	if ((r = sc_sp_connect(sock, &sp)) != SC_OK)
		return die(sock, r);
	pub = X509_get0_pubkey(cert);
	alg = sc_alg_of_key(pub);
	ku = X509_get_key_usage(cert);
	RAND_bytes(msg, sizeof(msg));

	if (ku & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION)) {
		r = sc_sp_sign(sp, handle, SC_SP_SIGN_MESSAGE, SC_DIGEST_NONE, msg, sizeof(msg),
		    &out, &out_len);
		bad += report("sign", r,
		    r == SC_OK &&
		        verify_with(pub, sc_sign_md(pub, SC_DIGEST_NONE), 0, msg, sizeof(msg), out,
		            out_len));
		OPENSSL_free(out);
		out = NULL;
		if (alg != SC_ALG_ED25519) {
			EVP_Digest(msg, sizeof(msg), dg, &dg_len, EVP_sha256(), NULL);
			r = sc_sp_sign(sp, handle, SC_SP_SIGN_DIGEST, SC_DIGEST_SHA256, dg, dg_len,
			    &out, &out_len);
			bad += report("sign-digest", r,
			    r == SC_OK &&
			        verify_with(pub, EVP_sha256(), 0, msg, sizeof(msg), out, out_len));
			OPENSSL_free(out);
			out = NULL;
		}
		if (alg == SC_ALG_RSA2048 || alg == SC_ALG_RSA3072 || alg == SC_ALG_RSA4096) {
			r = sc_sp_sign_pss(sp, handle, SC_DIGEST_SHA256, dg, dg_len, 32, &out,
			    &out_len);
			bad += report("sign-pss", r,
			    r == SC_OK &&
			        verify_with(pub, EVP_sha256(), 1, msg, sizeof(msg), out, out_len));
			OPENSSL_free(out);
			out = NULL;
		}
	}
	if ((alg == SC_ALG_RSA2048 || alg == SC_ALG_RSA3072 || alg == SC_ALG_RSA4096) &&
	    (ku & (KU_KEY_ENCIPHERMENT | KU_DATA_ENCIPHERMENT))) {
		/* A secret for the key: encrypted here to the certificate, decrypted by the SP. */
		if ((pc = EVP_PKEY_CTX_new(pub, NULL)) == NULL || EVP_PKEY_encrypt_init(pc) != 1 ||
		    EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_OAEP_PADDING) != 1 ||
		    EVP_PKEY_CTX_set_rsa_oaep_md(pc, EVP_sha256()) != 1 ||
		    EVP_PKEY_CTX_set_rsa_mgf1_md(pc, EVP_sha256()) != 1 ||
		    EVP_PKEY_encrypt(pc, NULL, &ct_len, msg, 32) != 1 ||
		    (ct = OPENSSL_malloc(ct_len)) == NULL ||
		    EVP_PKEY_encrypt(pc, ct, &ct_len, msg, 32) != 1) {
			printf("decrypt: cannot encrypt to the certificate\n");
			bad++;
		} else {
			r = sc_sp_decrypt_oaep(sp, handle, SC_DIGEST_SHA256, SC_DIGEST_SHA256, NULL,
			    0, ct, ct_len, &out, &out_len);
			bad += report("decrypt", r,
			    r == SC_OK && out_len == 32 && memcmp(out, msg, 32) == 0);
			OPENSSL_clear_free(out, out_len);
			out = NULL;
		}
		EVP_PKEY_CTX_free(pc);
		pc = NULL;
	}
	if ((alg == SC_ALG_P256 || alg == SC_ALG_P384) && (ku & KU_KEY_AGREEMENT)) {
		uint8_t point[SC_SP_MAX_EC_POINT], mine[64];
		size_t point_len = 0, mine_len = sizeof(mine);

		/* A fresh peer on the same curve: both sides must reach the same x-coordinate. */
		if (sc_alg_keygen(alg, &peer) != SC_OK ||
		    EVP_PKEY_get_octet_string_param(peer, "encoded-pub-key", point, sizeof(point),
		        &point_len) != 1 ||
		    (pc = EVP_PKEY_CTX_new(peer, NULL)) == NULL || EVP_PKEY_derive_init(pc) != 1 ||
		    EVP_PKEY_derive_set_peer(pc, pub) != 1 ||
		    EVP_PKEY_derive(pc, mine, &mine_len) != 1) {
			printf("derive: cannot derive locally\n");
			bad++;
		} else {
			r = sc_sp_derive_ecdh(sp, handle, point, point_len, &out, &out_len);
			bad += report("derive", r,
			    r == SC_OK && out_len == mine_len && memcmp(out, mine, mine_len) == 0);
			OPENSSL_clear_free(out, out_len);
			out = NULL;
		}
		OPENSSL_cleanse(mine, sizeof(mine));
		EVP_PKEY_CTX_free(pc);
		EVP_PKEY_free(peer);
	}
	OPENSSL_free(ct);
	sc_sp_close(sp);
	X509_free(cert);
	return bad == 0 ? 0 : 1;
}

/* ---- unseal (docs/PROTOCOL.md section 6, written from the document) ---- */

#define STORE_HDR 25
#define STORE_TAG 16
#define STORE_NONCE_AT 13

static int cmd_unseal(const char *dir, const char *out_path)
{
	char path[4096], salt[] = "selfcert-store-v1",
	                 info[] = "selfcert sealed store AES-256-GCM key";
	char md[] = "SHA256";
	uint8_t *root = NULL, *blob = NULL, *pt = NULL, key[32];
	size_t root_len = 0, blob_len = 0, ct_len;
	EVP_KDF *kdf = NULL;
	EVP_KDF_CTX *kc = NULL;
	EVP_CIPHER_CTX *cc = NULL;
	OSSL_PARAM prm[5];
	int n = 0, fin = 0, rc = 3;

	snprintf(path, sizeof(path), "%s/root.key", dir);
	if (sc_file_read(path, 64, &root, &root_len) != SC_OK || root_len != 32)
		return die(path, SC_ERR_IO);
	snprintf(path, sizeof(path), "%s/store", dir);
	if (sc_file_read(path, 8u << 20, &blob, &blob_len) != SC_OK ||
	    blob_len < STORE_HDR + STORE_TAG) {
		rc = die(path, SC_ERR_IO);
		goto out;
	}
	prm[0] = OSSL_PARAM_construct_utf8_string("digest", md, 0);
	prm[1] = OSSL_PARAM_construct_octet_string("key", root, root_len);
	prm[2] = OSSL_PARAM_construct_octet_string("salt", salt, strlen(salt));
	prm[3] = OSSL_PARAM_construct_octet_string("info", info, strlen(info));
	prm[4] = OSSL_PARAM_construct_end();
	ct_len = blob_len - STORE_HDR - STORE_TAG;
	if ((kdf = EVP_KDF_fetch(NULL, "HKDF", NULL)) == NULL ||
	    (kc = EVP_KDF_CTX_new(kdf)) == NULL || EVP_KDF_derive(kc, key, 32, prm) != 1 ||
	    (pt = OPENSSL_malloc(ct_len + 1)) == NULL || (cc = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_DecryptInit_ex(cc, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(cc, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) != 1 ||
	    EVP_DecryptInit_ex(cc, NULL, NULL, key, blob + STORE_NONCE_AT) != 1 ||
	    EVP_DecryptUpdate(cc, NULL, &n, blob, STORE_HDR) != 1 ||
	    EVP_DecryptUpdate(cc, pt, &n, blob + STORE_HDR, (int)ct_len) != 1 ||
	    EVP_CIPHER_CTX_ctrl(cc, EVP_CTRL_GCM_SET_TAG, STORE_TAG, blob + STORE_HDR + ct_len) !=
	        1 ||
	    EVP_DecryptFinal_ex(cc, pt + n, &fin) != 1) {
		fprintf(stderr, "sc-sptool: %s: does not open with its root key\n", path);
		goto out;
	}
	if (sc_file_write_new(out_path, pt, ct_len, 0600) != SC_OK) {
		rc = die(out_path, SC_ERR_IO);
		goto out;
	}
	printf("unsealed %zu bytes\n", ct_len);
	rc = 0;
out:
	OPENSSL_cleanse(key, sizeof(key));
	if (pt != NULL)
		OPENSSL_clear_free(pt, ct_len + 1);
	if (root != NULL)
		OPENSSL_clear_free(root, root_len);
	OPENSSL_free(blob);
	EVP_CIPHER_CTX_free(cc);
	EVP_KDF_CTX_free(kc);
	EVP_KDF_free(kdf);
	return rc;
}

/* ---- sandbox-probe ---- */

static int probe_allowed(const char *dir)
{
	char path[512], path2[512];
	uint8_t rnd[32];
	EVP_PKEY *key = NULL;
	void *big;
	int fd;

	snprintf(path, sizeof(path), "%s/probe.tmp", dir);
	snprintf(path2, sizeof(path2), "%s/probe", dir);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0 ||
	    write(fd, "x", 1) != 1 || fsync(fd) != 0 || close(fd) != 0 ||
	    rename(path, path2) != 0 || unlink(path2) != 0)
		return 1;
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd) || RAND_bytes(rnd, 32) != 1)
		return 1;
	if ((big = malloc(64u << 20)) == NULL)
		return 1;
	memset(big, 1, 64u << 20);
	free(big);
	if (sc_alg_keygen(SC_ALG_P256, &key) != SC_OK || sign_once(key) != 0)
		return 1;
	EVP_PKEY_free(key);
	printf("allowed: ok\n");
	return 0;
}

/* A path outside the store folder: Landlock must refuse it (EACCES), not seccomp kill. */
static int probe_landlock(int abi, const char *path, int flags)
{
	int fd;

	if (abi == 0) {
		printf("no landlock in this kernel\n");
		return 77;
	}
	if ((fd = open(path, flags | O_CLOEXEC)) >= 0) {
		printf("opened %s\n", path);
		close(fd);
		return 1;
	}
	printf("%s: %s\n", path, errno == EACCES ? "denied" : strerror(errno));
	return errno == EACCES ? 0 : 1;
}

static int cmd_probe(const char *what, const char *dir)
{
	int fd = -1, dfd, abi = 0;
	sc_err r;

	if (dir == NULL)
		dir = ".";
	/* The folder plays the store folder and the socket's folder at once. */
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "sc-sptool: %s: %s\n", dir, strerror(errno));
		return 3;
	}
	if ((r = spd_sandbox_enter(dfd, dfd, &abi)) != SC_OK)
		return die("sandbox", r);
	if (strcmp(what, "allowed") == 0)
		return probe_allowed(dir);
	if (strcmp(what, "landlock-proc-mem") == 0)
		return probe_landlock(abi, "/proc/self/mem", O_RDWR);
	if (strcmp(what, "landlock-outside") == 0)
		return probe_landlock(abi, "/etc/passwd", O_RDONLY);
	if (strcmp(what, "landlock-parent") == 0)
		return probe_landlock(abi, "..", O_RDONLY | O_DIRECTORY);
	/* Each of these must not return: the kernel kills the process first. */
	if (strcmp(what, "execve") == 0) {
		char *const argv[] = { (char *)"true", NULL };
		execve("/bin/true", argv, argv + 1);
	} else if (strcmp(what, "socket") == 0) {
		fd = socket(AF_INET, SOCK_STREAM, 0);
	} else if (strcmp(what, "unix-socket") == 0) {
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
	} else if (strcmp(what, "fork") == 0) {
		if (fork() == 0)
			_exit(0);
	} else if (strcmp(what, "ptrace") == 0) {
		ptrace(PTRACE_TRACEME, 0, NULL, NULL);
	} else if (strcmp(what, "setuid") == 0) {
		if (setuid(0) != 0)
			perror("setuid");
	} else if (strcmp(what, "dumpable") == 0) {
		prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	} else if (strcmp(what, "mmap-exec") == 0) {
		mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	} else if (strcmp(what, "mprotect-exec") == 0) {
		void *p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		mprotect(p, 4096, PROT_READ | PROT_EXEC);
	} else if (strcmp(what, "getsockopt") == 0) {
		int v;
		socklen_t l = sizeof(v);
		getsockopt(0, SOL_SOCKET, SO_TYPE, &v, &l);
	} else if (strcmp(what, "sendto-addr") == 0) {
		struct sockaddr_in sa;
		memset(&sa, 0, sizeof(sa));
		sa.sin_family = AF_INET;
		sendto(1, "x", 1, 0, (struct sockaddr *)&sa, sizeof(sa));
	} else if (strcmp(what, "kill") == 0) {
		kill(1, 0);
	} else if (strcmp(what, "chmod") == 0) {
		chmod(dir, 0777);
	} else if (strcmp(what, "ioctl") == 0) {
		int n;
		ioctl(0, FIONREAD, &n);
	} else {
		fprintf(stderr, "sc-sptool: sandbox-probe: unknown WHAT %s\n", what);
		return 2;
	}
	printf("survived %s\n", what);
	if (fd >= 0)
		close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	if (strcmp(argv[1], "raw") == 0 && argc == 4)
		return cmd_raw(argv[2], argv[3]);
	if (strcmp(argv[1], "frame") == 0 && argc == 4)
		return cmd_frame(argv[2], argv[3]);
	if (strcmp(argv[1], "types") == 0 && argc >= 4)
		return cmd_types(argv[2], argv[3], argc - 4, argv + 4);
	if (strcmp(argv[1], "needles") == 0 && argc == 4)
		return cmd_needles(argv[2], argv[3]);
	if (strcmp(argv[1], "scan") == 0 && argc >= 4)
		return cmd_scan(argv[2], argc - 3, argv + 3);
	if (strcmp(argv[1], "exercise") == 0 && argc == 5)
		return cmd_exercise(argv[2], argv[3], argv[4]);
	if (strcmp(argv[1], "unseal") == 0 && argc == 4)
		return cmd_unseal(argv[2], argv[3]);
	if (strcmp(argv[1], "heapcheck") == 0) {
		int i, verbose = 0, wipe = 0;

		for (i = 2; i < argc; i++) {
			if (strcmp(argv[i], "-v") == 0)
				verbose = 1;
			else if (strcmp(argv[i], "--wipe") == 0)
				wipe = 1;
			else
				return usage();
		}
		return cmd_heapcheck(verbose, wipe);
	}
	if (strcmp(argv[1], "sandbox-probe") == 0 && (argc == 3 || argc == 4))
		return cmd_probe(argv[2], argc == 4 ? argv[3] : NULL);
	return usage();
}
