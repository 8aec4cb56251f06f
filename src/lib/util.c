/*
 * util.c — bounded file reads, atomic writes, PEM/DER, RFC 3339 times and durations.
 * Writes go through a temp file in the same folder so a crash leaves the old or the new file.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include "util.h"

#define SC_KEY_FILE_MAX (64 * 1024)   /* a PEM private key: RSA-4096 is about 3.3 KiB */
#define SC_DER_MAX_DEPTH 32           /* certificates nest about 10 deep */

/* sc_file_read with extra open flags (O_NOFOLLOW for keys: checked on the fd we read). */
static sc_err read_file(const char *path, size_t max, int flags, uint8_t **data, size_t *len)
{
	sc_err r = SC_ERR_INTERNAL;
	struct stat st;
	uint8_t *buf = NULL;
	size_t got = 0;
	int fd;

	*data = NULL;
	*len = 0;
	/* O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | flags);
	if (fd < 0)
		return sc_fail(SC_ERR_IO, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		r = sc_fail(SC_ERR_IO, "%s: not a regular file", path);
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		r = sc_fail(SC_ERR_OVERSIZE, "%s: %lld bytes, at most %zu", path, (long long)st.st_size, max);
		goto out;
	}
	/* One byte more than the cap, so a file that grows while we read is still caught. */
	buf = OPENSSL_malloc(max + 1);
	if (buf == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "%s", path);
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, buf + got, max + 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = sc_fail(SC_ERR_IO, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
		if (got > max) {
			r = sc_fail(SC_ERR_OVERSIZE, "%s: more than %zu bytes", path, max);
			goto out;
		}
	}
	*data = buf;
	*len = got;
	buf = NULL;
	r = SC_OK;
out:
	if (buf != NULL) {
		OPENSSL_cleanse(buf, max + 1);
		OPENSSL_free(buf);
	}
	close(fd);
	return r;
}

sc_err sc_file_read(const char *path, size_t max, uint8_t **data, size_t *len)
{
	return read_file(path, max, 0, data, len);
}

void sc_free_secret(void *p, size_t len)
{
	if (p != NULL) {
		OPENSSL_cleanse(p, len);
		OPENSSL_free(p);
	}
}

static sc_err write_all(int fd, const void *data, size_t len, const char *path)
{
	const uint8_t *p = data;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return sc_fail(SC_ERR_IO, "%s: %s", path, strerror(errno));
		p += n;
		len -= (size_t)n;
	}
	return SC_OK;
}

sc_err sc_fsync_dir_of(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd, rc;

	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else if ((size_t)(slash - path) >= sizeof(dir))
		return sc_fail(SC_ERR_USAGE, "%s: path too long", path);
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return sc_fail(SC_ERR_IO, "%s: %s", dir, strerror(errno));
	rc = fsync(fd);
	close(fd);
	if (rc != 0)
		return sc_fail(SC_ERR_IO, "%s: fsync: %s", dir, strerror(errno));
	return SC_OK;
}

sc_err sc_file_write_new(const char *path, const void *data, size_t len, int mode)
{
	sc_err r;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);

	if (fd < 0 && errno == EEXIST)
		return sc_fail(SC_ERR_EXISTS, "%s: already exists", path);
	if (fd < 0)
		return sc_fail(SC_ERR_IO, "%s: %s", path, strerror(errno));
	r = write_all(fd, data, len, path);
	if (r == SC_OK && fsync(fd) != 0)
		r = sc_fail(SC_ERR_IO, "%s: fsync: %s", path, strerror(errno));
	close(fd);
	if (r != SC_OK)
		unlink(path);
	else
		r = sc_fsync_dir_of(path);
	return r;
}

sc_err sc_file_write_atomic(const char *path, const void *data, size_t len, int mode)
{
	char tmp[PATH_MAX];
	uint8_t rnd[6];
	char hex[13];
	sc_err r;
	int n;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return sc_fail_ossl(SC_ERR_INTERNAL, "RAND_bytes");
	sc_hex(rnd, sizeof(rnd), hex);
	n = snprintf(tmp, sizeof(tmp), "%s.tmp-%s", path, hex);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return sc_fail(SC_ERR_USAGE, "%s: path too long", path);
	r = sc_file_write_new(tmp, data, len, mode);
	if (r != SC_OK)
		return r;
	if (rename(tmp, path) != 0) {
		r = sc_fail(SC_ERR_IO, "%s: rename: %s", path, strerror(errno));
		unlink(tmp);
		return r;
	}
	return sc_fsync_dir_of(path);
}

sc_err sc_cert_to_der(X509 *cert, uint8_t **der, size_t *len)
{
	unsigned char *p = NULL;
	int n = i2d_X509(cert, &p);

	if (n <= 0)
		return sc_fail_ossl(SC_ERR_INTERNAL, "encoding a certificate");
	*der = p;
	*len = (size_t)n;
	return SC_OK;
}

/*
 * 1 if p[0..len) is a series of TLVs in DER's definite, minimal length form, and so is the
 * content of every constructed one. Needed beside the re-encoding check: X509 keeps the
 * original bytes of tbsCertificate (and of names) and re-emits them, so BER in there would
 * survive a decode/encode round trip unseen.
 */
static int der_lengths_ok(const uint8_t *p, size_t len, int depth)
{
	if (depth > SC_DER_MAX_DEPTH)
		return 0;
	while (len > 0) {
		size_t hdr = 2, n, k;

		if (len < 2 || (p[0] & 0x1f) == 0x1f) /* no high tag numbers in a certificate */
			return 0;
		n = p[1];
		if (n >= 0x80) {
			k = n & 0x7f;
			/* 0: indefinite length; a leading zero byte or a short length: not minimal. */
			if (k == 0 || k > 4 || len - 2 < k || p[2] == 0)
				return 0;
			for (n = 0; hdr < 2 + k; hdr++)
				n = (n << 8) | p[hdr];
			if (n < 0x80)
				return 0;
		}
		if (n > len - hdr)
			return 0;
		if ((p[0] & 0x20) && !der_lengths_ok(p + hdr, n, depth + 1))
			return 0;
		p += hdr + n;
		len -= hdr + n;
	}
	return 1;
}

sc_err sc_cert_from_der(const uint8_t *der, size_t len, X509 **out)
{
	const unsigned char *p = der;
	unsigned char *re = NULL;
	X509 *x;
	int n;

	*out = NULL;
	if (len > SC_FILE_MAX)
		return sc_fail(SC_ERR_OVERSIZE, "certificate: %zu bytes", len);
	x = d2i_X509(NULL, &p, (long)len);
	if (x == NULL)
		return sc_fail_ossl(SC_ERR_MALFORMED, "certificate: not DER X.509");
	if ((size_t)(p - der) != len) {
		X509_free(x);
		return sc_fail(SC_ERR_TRAILING, "certificate: %zu trailing bytes", len - (size_t)(p - der));
	}
	/* d2i accepts some BER; the re-encoding must give back exactly the input. */
	n = i2d_X509(x, &re);
	if (n < 0 || (size_t)n != len || memcmp(re, der, len) != 0 || !der_lengths_ok(der, len, 0)) {
		OPENSSL_free(re);
		X509_free(x);
		return sc_fail(SC_ERR_MALFORMED, "certificate: not DER");
	}
	OPENSSL_free(re);
	*out = x;
	return SC_OK;
}

/*
 * Every PEM block of bio, each a CERTIFICATE decoded as strictly as a DER file. Text around
 * the blocks is allowed (RFC 7468); a damaged block or one of another type is an error, so a
 * bad block can never silently shorten the list. Only "no further block" ends the loop.
 */
static sc_err pem_certs(BIO *bio, const char *path, STACK_OF(X509) *sk)
{
	sc_err r = SC_ERR_INTERNAL;
	char *name = NULL, *header = NULL;
	unsigned char *der = NULL;
	long der_len = 0;
	X509 *x = NULL;
	unsigned long e;

	ERR_clear_error();
	for (int i = 1;; i++) {
		if (!PEM_read_bio(bio, &name, &header, &der, &der_len)) {
			e = ERR_peek_last_error();
			if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
				ERR_clear_error();
				break;
			}
			r = sc_fail_ossl(SC_ERR_MALFORMED, "PEM block is damaged");
			r = sc_fail(r, "%s: block %d: %s", path, i, sc_err_detail());
			goto out;
		}
		if (strcmp(name, PEM_STRING_X509) != 0 || header[0] != '\0') {
			r = sc_fail(SC_ERR_MALFORMED, "%s: block %d is '%.40s', expected a plain CERTIFICATE",
			    path, i, name);
			goto out;
		}
		if ((r = sc_cert_from_der(der, (size_t)der_len, &x)) != SC_OK) {
			r = sc_fail(r, "%s: block %d: %s", path, i, sc_err_detail());
			goto out;
		}
		r = SC_ERR_INTERNAL;
		if (!sk_X509_push(sk, x))
			goto out;
		x = NULL;
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(der);
		name = header = NULL;
		der = NULL;
	}
	r = SC_OK;
out:
	X509_free(x);
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_free(der);
	return r;
}

sc_err sc_load_certs(const char *path, STACK_OF(X509) **out)
{
	sc_err r = SC_ERR_INTERNAL;
	uint8_t *data = NULL;
	size_t len;
	BIO *bio = NULL;
	STACK_OF(X509) *sk = NULL;
	X509 *x = NULL;

	*out = NULL;
	r = sc_file_read(path, SC_FILE_MAX, &data, &len);
	if (r != SC_OK)
		return r;
	r = SC_ERR_INTERNAL;
	sk = sk_X509_new_null();
	if (sk == NULL)
		goto out;
	if (len > 0 && data[0] == 0x30) { /* DER: exactly one certificate */
		r = sc_cert_from_der(data, len, &x);
		if (r != SC_OK) {
			r = sc_fail(r, "%s: %s", path, sc_err_detail());
			goto out;
		}
		if (!sk_X509_push(sk, x))
			goto out;
		x = NULL;
	} else {
		bio = BIO_new_mem_buf(data, (int)len);
		if (bio == NULL)
			goto out;
		if ((r = pem_certs(bio, path, sk)) != SC_OK)
			goto out;
		r = SC_ERR_INTERNAL;
	}
	if (sk_X509_num(sk) == 0) {
		r = sc_fail(SC_ERR_MALFORMED, "%s: no certificate in it", path);
		goto out;
	}
	*out = sk;
	sk = NULL;
	r = SC_OK;
out:
	X509_free(x);
	sk_X509_pop_free(sk, X509_free);
	BIO_free(bio);
	OPENSSL_free(data);
	return r;
}

sc_err sc_load_cert(const char *path, X509 **out)
{
	STACK_OF(X509) *sk = NULL;
	sc_err r = sc_load_certs(path, &sk);

	*out = NULL;
	if (r != SC_OK)
		return r;
	if (sk_X509_num(sk) != 1) {
		int n = sk_X509_num(sk);

		sk_X509_pop_free(sk, X509_free);
		return sc_fail(SC_ERR_MALFORMED, "%s: %d certificates, expected one", path, n);
	}
	*out = sk_X509_shift(sk);
	sk_X509_free(sk);
	return SC_OK;
}

/*
 * Our key files are never encrypted; without this OpenSSL's default callback would prompt on
 * the terminal for an encrypted one.
 */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf; (void)size; (void)rwflag; (void)u;
	return -1;
}

sc_err sc_load_key(const char *path, EVP_PKEY **out)
{
	uint8_t *data = NULL;
	size_t len;
	BIO *bio;
	sc_err r;

	*out = NULL;
	/* Key files must not be links: refuse to follow one (on the very fd that is read). */
	r = read_file(path, SC_KEY_FILE_MAX, O_NOFOLLOW, &data, &len);
	if (r != SC_OK)
		return r;
	bio = BIO_new_mem_buf(data, (int)len);
	if (bio != NULL)
		*out = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	BIO_free(bio);
	sc_free_secret(data, len);
	if (*out == NULL)
		return sc_fail_ossl(SC_ERR_MALFORMED, path);
	return SC_OK;
}

static sc_err write_pem_certs(const char *path, X509 *const *certs, size_t n)
{
	BIO *bio = BIO_new(BIO_s_mem());
	BUF_MEM *mem = NULL;
	sc_err r = SC_ERR_INTERNAL;

	if (bio == NULL)
		return sc_fail(SC_ERR_NOMEM, "%s", path);
	for (size_t i = 0; i < n; i++)
		if (!PEM_write_bio_X509(bio, certs[i]))
			goto out;
	BIO_get_mem_ptr(bio, &mem);
	r = sc_file_write_atomic(path, mem->data, mem->length, 0644);
out:
	BIO_free(bio);
	return r;
}

sc_err sc_write_cert(const char *path, X509 *cert)
{
	return write_pem_certs(path, &cert, 1);
}

sc_err sc_write_certs(const char *path, X509 *const *certs, size_t n)
{
	return write_pem_certs(path, certs, n);
}

sc_err sc_write_key(const char *path, EVP_PKEY *key)
{
	BIO *bio = BIO_new(BIO_s_secmem());
	BUF_MEM *mem = NULL;
	sc_err r;

	if (bio == NULL)
		return sc_fail(SC_ERR_NOMEM, "%s", path);
	if (!PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL)) {
		BIO_free(bio);
		return sc_fail_ossl(SC_ERR_INTERNAL, path);
	}
	BIO_get_mem_ptr(bio, &mem);
	r = sc_file_write_new(path, mem->data, mem->length, 0600);
	BIO_free(bio); /* secure-memory BIO: cleared on free */
	return r;
}

sc_err sc_parse_duration(const char *s, int64_t *seconds)
{
	char *end = NULL;
	long long v;
	int64_t unit;

	if (s == NULL || !isdigit((unsigned char)s[0]))
		goto bad;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || end[0] == '\0' || end[1] != '\0')
		goto bad;
	switch (end[0]) {
	case 's': unit = 1; break;
	case 'm': unit = 60; break;
	case 'h': unit = 3600; break;
	case 'd': unit = 86400; break;
	case 'y': unit = 365LL * 86400; break;
	default: goto bad;
	}
	if (v <= 0 || v > 100LL * 365 * 86400 / unit)
		return sc_fail(SC_ERR_USAGE, "duration '%s': must be positive and at most 100y", s);
	*seconds = v * unit;
	return SC_OK;
bad:
	return sc_fail(SC_ERR_USAGE, "duration '%s': expected a number and s, m, h, d or y (e.g. 30d)",
	    s ? s : "");
}

/* The n decimal digits at s as a number, or -1 if any is not a digit (stops at the NUL). */
static int fixed_digits(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

static int days_in_month(int year, int month)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return month == 2 && leap ? 29 : days[month - 1];
}

/*
 * A fixed-width parser rather than strptime, which skips spaces, takes one-digit fields and
 * two-digit years, and lets timegm turn 2027-02-30 into March 2. Leap seconds (:60) are
 * refused: nothing we issue needs them.
 */
sc_err sc_parse_time(const char *s, time_t *out)
{
	struct tm tm;
	const char *p;
	int year, mon, mday, hour, min, sec, oh, om;
	long off = 0;

	_Static_assert(sizeof(time_t) >= 8, "years up to 9999 need a 64-bit time_t");
	memset(&tm, 0, sizeof(tm));
	if (s == NULL)
		goto bad;
	/* YYYY-MM-DDTHH:MM:SS, every field exactly as wide as that; each check stops at a NUL. */
	if ((year = fixed_digits(s, 4)) < 0 || s[4] != '-' || (mon = fixed_digits(s + 5, 2)) < 0 ||
	    s[7] != '-' || (mday = fixed_digits(s + 8, 2)) < 0 || (s[10] != 'T' && s[10] != 't') ||
	    (hour = fixed_digits(s + 11, 2)) < 0 || s[13] != ':' ||
	    (min = fixed_digits(s + 14, 2)) < 0 || s[16] != ':' || (sec = fixed_digits(s + 17, 2)) < 0)
		goto bad;
	if (mon < 1 || mon > 12 || mday < 1 || mday > days_in_month(year, mon) || hour > 23 ||
	    min > 59 || sec > 59)
		goto bad;
	p = s + 19;
	if (*p == '.') { /* fractions of a second are allowed and ignored */
		p++;
		if (!isdigit((unsigned char)*p))
			goto bad;
		while (isdigit((unsigned char)*p))
			p++;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		if ((oh = fixed_digits(p + 1, 2)) < 0 || p[3] != ':' || (om = fixed_digits(p + 4, 2)) < 0 ||
		    oh > 23 || om > 59)
			goto bad;
		off = oh * 3600L + om * 60L;
		if (*p == '-')
			off = -off;
		p += 6;
	} else {
		goto bad;
	}
	if (*p != '\0')
		goto bad;
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = mday;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	/* Every field is in range, so timegm cannot fail (its -1 is then 1969-12-31T23:59:59Z). */
	*out = timegm(&tm) - off;
	return SC_OK;
bad:
	return sc_fail(SC_ERR_USAGE, "time '%s': expected RFC 3339, e.g. 2027-01-31T00:00:00Z", s ? s : "");
}

void sc_format_time(time_t t, char *out, size_t out_len)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(out, out_len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, out_len, "?");
}

sc_err sc_asn1_time_to_time_t(const ASN1_TIME *t, time_t *out)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (t == NULL || !ASN1_TIME_to_tm(t, &tm))
		return sc_fail(SC_ERR_MALFORMED, "not a valid time");
	*out = timegm(&tm);
	return SC_OK;
}

void sc_hex(const uint8_t *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

sc_err sc_unhex(const char *s, uint8_t *out, size_t max, size_t *n)
{
	size_t len = s ? strlen(s) : 0;

	if (len == 0 || len % 2 != 0 || len / 2 > max)
		return sc_fail(SC_ERR_USAGE, "hex '%.40s': expected an even number of hex digits, at most %zu bytes",
		    s ? s : "", max);
	for (size_t i = 0; i < len / 2; i++) {
		int hi = hexval((unsigned char)s[2 * i]), lo = hexval((unsigned char)s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return sc_fail(SC_ERR_USAGE, "hex '%.40s': not a hex digit at %zu", s, 2 * i);
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	*n = len / 2;
	return SC_OK;
}
