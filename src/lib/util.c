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

sc_err sc_file_read(const char *path, size_t max, uint8_t **data, size_t *len)
{
	sc_err r = SC_ERR_INTERNAL;
	struct stat st;
	uint8_t *buf = NULL;
	size_t got = 0;
	int fd;

	*data = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
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
	if (n < 0 || (size_t)n != len || memcmp(re, der, len) != 0) {
		OPENSSL_free(re);
		X509_free(x);
		return sc_fail(SC_ERR_MALFORMED, "certificate: not DER");
	}
	OPENSSL_free(re);
	*out = x;
	return SC_OK;
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
		while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
			if (!sk_X509_push(sk, x))
				goto out;
			x = NULL;
		}
		ERR_clear_error(); /* the loop ends on "no start line" */
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
		sk_X509_pop_free(sk, X509_free);
		return sc_fail(SC_ERR_MALFORMED, "%s: %d certificates, expected one", path, sk_X509_num(sk));
	}
	*out = sk_X509_shift(sk);
	sk_X509_free(sk);
	return SC_OK;
}

sc_err sc_load_key(const char *path, EVP_PKEY **out)
{
	uint8_t *data = NULL;
	size_t len;
	BIO *bio;
	sc_err r;
	int fd;

	*out = NULL;
	/* Key files must not be links: refuse to follow one. */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return sc_fail(SC_ERR_IO, "%s: %s", path, strerror(errno));
	close(fd);
	r = sc_file_read(path, 64 * 1024, &data, &len);
	if (r != SC_OK)
		return r;
	bio = BIO_new_mem_buf(data, (int)len);
	if (bio != NULL)
		*out = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
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

sc_err sc_parse_time(const char *s, time_t *out)
{
	struct tm tm;
	const char *p;
	long off = 0;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	if (s == NULL)
		goto bad;
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (p == NULL)
		goto bad;
	if (*p == '.') { /* fractions of a second are allowed and ignored */
		p++;
		if (!isdigit((unsigned char)*p))
			goto bad;
		while (isdigit((unsigned char)*p))
			p++;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if ((*p == '+' || *p == '-') && isdigit((unsigned char)p[1]) &&
	    isdigit((unsigned char)p[2]) && p[3] == ':' && isdigit((unsigned char)p[4]) &&
	    isdigit((unsigned char)p[5])) {
		off = ((p[1] - '0') * 10 + (p[2] - '0')) * 3600L + ((p[4] - '0') * 10 + (p[5] - '0')) * 60L;
		if (*p == '-')
			off = -off;
		p += 6;
	} else {
		goto bad;
	}
	if (*p != '\0')
		goto bad;
	t = timegm(&tm);
	if (t == (time_t)-1)
		goto bad;
	*out = t - off;
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
