// SPDX-License-Identifier: Apache-2.0
/*
 * opfile.h — the operators file (internal): who may use selfcert-provd's operator endpoints.
 * One line per operator, `NAME sha256:HEX`, the SHA-256 of the operator's bearer token; the
 * token itself is never stored. Shared by `selfcert net operator` (writes it) and selfcert-provd
 * (reads it, and re-reads it when it changes).
 *
 * Why a plain SHA-256 is enough: every token is 32 random bytes from RAND_bytes (256 bits), made
 * by sc_operator_token_new; no dictionary or brute force reaches a preimage, so a slow password
 * hash (bcrypt, Argon2) would add nothing but a per-request cost an attacker could multiply.
 */
#ifndef SC_OPFILE_H
#define SC_OPFILE_H

#include <stddef.h>
#include <stdint.h>
#include <selfcert/err.h>

#define SC_OP_NAME_MAX 32          /* bytes of an operator name */
#define SC_OP_MAX 256              /* operators in one file */
#define SC_OP_LINE_MAX 128         /* bytes of one line, its newline excluded */
#define SC_OP_FILE_MAX (64 * 1024) /* the file, whole */
#define SC_OP_HASH_LEN 32          /* SHA-256 */
#define SC_OP_TOKEN_PREFIX "scop_" /* tells a selfcert operator token when it leaks (scanners) */
#define SC_OP_TOKEN_BYTES 32       /* random bytes in a token */
#define SC_OP_TOKEN_LEN (5 + 43)   /* the prefix and base64url of 32 bytes, unpadded */

struct sc_operator {
	char name[SC_OP_NAME_MAX + 1];
	uint8_t hash[SC_OP_HASH_LEN];
};

/* A parsed operators file. ops is owned (sc_operators_clear wipes and frees it). */
struct sc_operators {
	struct sc_operator *ops;
	size_t n;
};

/* 1 if name is 1..SC_OP_NAME_MAX of [a-z0-9._-], beginning with a letter or digit. */
int sc_operator_name_valid(const char *name);

/*
 * Parse an operators file's bytes (source names it in the details). Lines end in '\n' (a '\r'
 * before it is dropped); blank lines and lines whose first byte is '#' are skipped; every other
 * line is NAME, one or more spaces or tabs, sha256:<64 lower-case hex>, nothing after. Refused,
 * SC_ERR_MALFORMED "SOURCE:LINE: …": a bad name, a bad hash, a missing or extra field, a NUL
 * byte, a name or a hash seen twice, a last line without its newline (a truncated file);
 * SC_ERR_OVERSIZE: more than SC_OP_FILE_MAX bytes, SC_OP_LINE_MAX in a line or SC_OP_MAX
 * operators. An empty file is no operators. *out is the caller's (sc_operators_clear), empty on
 * failure.
 */
sc_err sc_operators_parse(const char *source, const uint8_t *data, size_t len,
    struct sc_operators *out) SC_MUST_USE;

/*
 * Read and parse path, a secret the owner alone may read (SC_FILE_PRIVATE: "open to group or
 * others" is SC_ERR_IO naming it). missing_ok: a missing file is no operators (the CLI's first
 * `add`); else SC_ERR_IO. *text, if not NULL, gets the bytes read (OPENSSL_free; NUL-terminated)
 * and *text_len their count.
 */
sc_err sc_operators_load(const char *path, int missing_ok, struct sc_operators *out, char **text,
    size_t *text_len) SC_MUST_USE;

void sc_operators_clear(struct sc_operators *ops);

/* The operator whose token hashes to hash, comparing with every entry in constant time; NULL. */
const struct sc_operator *sc_operators_match(const struct sc_operators *ops,
    const uint8_t hash[SC_OP_HASH_LEN]);

/* The entry named name, or NULL. */
const struct sc_operator *sc_operators_find(const struct sc_operators *ops, const char *name);

/* SHA-256 of a presented token's bytes. SC_ERR_INTERNAL if the digest fails. */
sc_err sc_operator_token_hash(const char *token, size_t len,
    uint8_t hash[SC_OP_HASH_LEN]) SC_MUST_USE;

/* A new token (SC_OP_TOKEN_LEN characters and a NUL) and its hash. SC_ERR_INTERNAL. */
sc_err sc_operator_token_new(char token[SC_OP_TOKEN_LEN + 1],
    uint8_t hash[SC_OP_HASH_LEN]) SC_MUST_USE;

/* "NAME sha256:HEX\n" into out (at least SC_OP_LINE_MAX + 2 bytes); its length. */
size_t sc_operator_line(const struct sc_operator *op, char *out, size_t out_len);

#endif
