// SPDX-License-Identifier: Apache-2.0
/*
 * opfile.c — the operators file (opfile.h): strict parsing of `NAME sha256:HEX` lines,
 * constant-time lookup by token hash, and new random tokens.
 */
#include <stdio.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include "file.h"
#include "opfile.h"
#include "text.h"

#define HASH_PREFIX "sha256:"

int sc_operator_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > SC_OP_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

		if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
			return 0;
	}
	return 1;
}

void sc_operators_clear(struct sc_operators *ops)
{
	if (ops == NULL)
		return;
	if (ops->ops != NULL)
		OPENSSL_clear_free(ops->ops, SC_OP_MAX * sizeof(*ops->ops));
	ops->ops = NULL;
	ops->n = 0;
}

/* The hash field: "sha256:" and 64 lower-case hex digits. */
static int parse_hash(const char *s, uint8_t out[SC_OP_HASH_LEN])
{
	size_t n;

	if (strncmp(s, HASH_PREFIX, strlen(HASH_PREFIX)) != 0)
		return 0;
	s += strlen(HASH_PREFIX);
	if (strlen(s) != 2 * SC_OP_HASH_LEN)
		return 0;
	for (const char *p = s; *p != '\0'; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return 0;
	return sc_unhex(s, out, SC_OP_HASH_LEN, &n) == SC_OK && n == SC_OP_HASH_LEN;
}

/* One line (NUL-terminated, no line end) into op; 0 with *why set if it is not NAME HASH. */
static int parse_line(char *line, struct sc_operator *op, const char **why)
{
	char *name = line, *hash, *end;

	hash = name + strcspn(name, " \t");
	if (*hash == '\0') {
		*why = "expected NAME sha256:HEX";
		return 0;
	}
	*hash++ = '\0';
	hash += strspn(hash, " \t");
	if (*hash == '\0') {
		*why = "expected NAME sha256:HEX";
		return 0;
	}
	end = hash + strcspn(hash, " \t");
	if (*end != '\0') {
		*why = "expected NAME sha256:HEX and nothing after";
		return 0;
	}
	if (!sc_operator_name_valid(name)) {
		*why = "operator name: 1..32 of a-z 0-9 . _ -, beginning with a letter or digit";
		return 0;
	}
	if (!parse_hash(hash, op->hash)) {
		*why = "token hash: expected sha256: and 64 lower-case hex digits";
		return 0;
	}
	memcpy(op->name, name, strlen(name) + 1);
	return 1;
}

sc_err sc_operators_parse(const char *source, const uint8_t *data, size_t len,
    struct sc_operators *out)
{
	char line[SC_OP_LINE_MAX + 2];
	size_t pos = 0, lineno = 0;
	const char *why = NULL;
	sc_err r;

	out->ops = NULL;
	out->n = 0;
	if (len > SC_OP_FILE_MAX)
		return sc_fail(SC_ERR_OVERSIZE, "%s: %zu bytes; at most %d", source, len,
		    SC_OP_FILE_MAX);
	if (memchr(data, '\0', len) != NULL)
		return sc_fail(SC_ERR_MALFORMED, "%s: a NUL byte in the file", source);
	if ((out->ops = OPENSSL_zalloc(SC_OP_MAX * sizeof(*out->ops))) == NULL)
		return sc_fail(SC_ERR_NOMEM, "%s", source);
	while (pos < len) {
		const uint8_t *nl = memchr(data + pos, '\n', len - pos);
		size_t n;

		lineno++;
		if (nl == NULL) {
			r = sc_fail(SC_ERR_MALFORMED,
			    "%s:%zu: the last line has no newline (cut short?)", source, lineno);
			goto out;
		}
		n = (size_t)(nl - (data + pos));
		if (n > 0 && data[pos + n - 1] == '\r')
			n--;
		if (n > SC_OP_LINE_MAX) {
			r = sc_fail(SC_ERR_OVERSIZE, "%s:%zu: line longer than %d bytes", source,
			    lineno, SC_OP_LINE_MAX);
			goto out;
		}
		memcpy(line, data + pos, n);
		line[n] = '\0';
		pos = (size_t)(nl - data) + 1;
		if (n == 0 || line[0] == '#')
			continue;
		if (out->n == SC_OP_MAX) {
			r = sc_fail(SC_ERR_OVERSIZE, "%s:%zu: more than %d operators", source,
			    lineno, SC_OP_MAX);
			goto out;
		}
		if (!parse_line(line, &out->ops[out->n], &why)) {
			r = sc_fail(SC_ERR_MALFORMED, "%s:%zu: %s", source, lineno, why);
			goto out;
		}
		for (size_t i = 0; i < out->n; i++) {
			if (strcmp(out->ops[i].name, out->ops[out->n].name) == 0) {
				r = sc_fail(SC_ERR_MALFORMED, "%s:%zu: operator %s appears twice",
				    source, lineno, out->ops[i].name);
				goto out;
			}
			/* One token, two names: which of them acted could not be told. */
			if (CRYPTO_memcmp(out->ops[i].hash, out->ops[out->n].hash,
			        SC_OP_HASH_LEN) == 0) {
				r = sc_fail(SC_ERR_MALFORMED, "%s:%zu: the same token hash as %s",
				    source, lineno, out->ops[i].name);
				goto out;
			}
		}
		out->n++;
	}
	r = SC_OK;
out:
	OPENSSL_cleanse(line, sizeof(line));
	if (r != SC_OK)
		sc_operators_clear(out);
	return r;
}

sc_err sc_operators_load(const char *path, int missing_ok, struct sc_operators *out, char **text,
    size_t *text_len)
{
	uint8_t *data = NULL;
	size_t len = 0;
	sc_err r;

	out->ops = NULL;
	out->n = 0;
	if (text != NULL) {
		*text = NULL;
		*text_len = 0;
	}
	r = sc_file_read_ex(path, SC_OP_FILE_MAX,
	    SC_FILE_PRIVATE | (missing_ok ? SC_FILE_MISSING : 0), &data, &len);
	if (r == SC_ERR_NOT_FOUND && missing_ok) {
		sc_err_clear();
		r = sc_operators_parse(path, (const uint8_t *)"", 0, out);
	} else if (r == SC_OK) {
		r = sc_operators_parse(path, data, len, out);
	}
	if (r == SC_OK && text != NULL) {
		if (data == NULL && (data = OPENSSL_zalloc(1)) == NULL) {
			sc_operators_clear(out);
			return sc_fail(SC_ERR_NOMEM, "%s", path);
		}
		*text = (char *)data;
		*text_len = len;
		return SC_OK;
	}
	OPENSSL_free(data);
	return r;
}

const struct sc_operator *sc_operators_match(const struct sc_operators *ops,
    const uint8_t hash[SC_OP_HASH_LEN])
{
	const struct sc_operator *found = NULL;

	/* Every entry compared, none skipped: the time says nothing of which one matched. */
	for (size_t i = 0; i < ops->n; i++)
		if (CRYPTO_memcmp(ops->ops[i].hash, hash, SC_OP_HASH_LEN) == 0)
			found = &ops->ops[i];
	return found;
}

const struct sc_operator *sc_operators_find(const struct sc_operators *ops, const char *name)
{
	for (size_t i = 0; i < ops->n; i++)
		if (strcmp(ops->ops[i].name, name) == 0)
			return &ops->ops[i];
	return NULL;
}

sc_err sc_operator_token_hash(const char *token, size_t len, uint8_t hash[SC_OP_HASH_LEN])
{
	if (!EVP_Digest(token, len, hash, NULL, EVP_sha256(), NULL))
		return sc_fail_ossl(SC_ERR_INTERNAL, "SHA-256");
	return SC_OK;
}

sc_err sc_operator_token_new(char token[SC_OP_TOKEN_LEN + 1], uint8_t hash[SC_OP_HASH_LEN])
{
	static const char b64url[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	uint8_t raw[SC_OP_TOKEN_BYTES + 1] = { 0 };
	size_t o = strlen(SC_OP_TOKEN_PREFIX);
	sc_err r;

	if (RAND_bytes(raw, SC_OP_TOKEN_BYTES) != 1)
		return sc_fail_ossl(SC_ERR_INTERNAL, "RAND_bytes");
	memcpy(token, SC_OP_TOKEN_PREFIX, o);
	/* base64url without padding: 32 bytes, 43 characters (the last of 4 bits, low zeros). */
	for (size_t i = 0; i < SC_OP_TOKEN_BYTES; i += 3) {
		uint32_t v = (uint32_t)raw[i] << 16 | (uint32_t)raw[i + 1] << 8 |
		    (i + 2 < SC_OP_TOKEN_BYTES ? raw[i + 2] : 0);
		size_t chars = i + 3 <= SC_OP_TOKEN_BYTES ? 4 : (SC_OP_TOKEN_BYTES - i) + 1;

		for (size_t k = 0; k < chars; k++)
			token[o++] = b64url[(v >> (18 - 6 * k)) & 0x3f];
	}
	token[o] = '\0';
	r = sc_operator_token_hash(token, o, hash);
	OPENSSL_cleanse(raw, sizeof(raw));
	return r;
}

size_t sc_operator_line(const struct sc_operator *op, char *out, size_t out_len)
{
	char hex[2 * SC_OP_HASH_LEN + 1];
	int n;

	sc_hex(op->hash, SC_OP_HASH_LEN, hex);
	n = snprintf(out, out_len, "%s " HASH_PREFIX "%s\n", op->name, hex);
	return n < 0 || (size_t)n >= out_len ? 0 : (size_t)n;
}
