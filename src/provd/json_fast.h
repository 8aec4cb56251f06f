// SPDX-License-Identifier: Apache-2.0
/*
 * json_fast.h — a request body's JSON read without jansson's parser when it is of the plain form
 * provd's clients send (judge11, issue 17; internal to provd).
 *
 * jansson's json_loadb reads a body byte by byte through its stream, lexer and string buffer
 * (~60-100 instructions a byte here: a profile request's ~3 KiB of PEM is ~0.27 M instructions,
 * 8 % of provd's work per first enrollment). This reads the same grammar in one pass and builds
 * the tree with jansson's own constructors, in jansson's order, so that a body it takes gives a
 * tree json_equal to json_loadb(body, JSON_REJECT_DUPLICATES)'s, key order included.
 *
 * It takes only: one object or array at the top, whitespace (space, tab, LF, CR) between tokens;
 * strings of printable ASCII (0x20-0x7e) with the escapes \" \\ \/ \b \f \n \r \t; integers
 * -?(0|[1-9][0-9]{0,17}) (not -0); true, false, null; nesting to PROVD_JSON_FAST_DEPTH; no key
 * twice in an object. Anything else (a \u escape, a byte >= 0x80 or < 0x20 in a string, a
 * real, a longer integer, a duplicate key, any syntax error, trailing bytes, out of memory)
 * returns NULL, and the caller parses with json_loadb, which accepts it or words its refusal as
 * before: this reader never refuses.
 */
#ifndef SC_PROVD_JSON_FAST_H
#define SC_PROVD_JSON_FAST_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#define PROVD_JSON_FAST_DEPTH 16

/*
 * The body's tree (json_decref), or NULL: not of the form above, parse with json_loadb. *depth:
 * the deepest nesting of arrays and objects read (1 for a flat object), what provd_json_depth
 * counts for a body that is JSON; 0 when NULL is returned.
 */
json_t *provd_json_fast_load(const uint8_t *p, size_t n, int *depth);

/*
 * judge11: j as json_dumps(j, JSON_COMPACT) writes it, then "\n" (*len bytes, NUL-terminated
 * after them; free), for trees of objects, arrays, integers, true, false, null and strings of
 * printable ASCII and \b \f \n \r \t: the same bytes, key order included, without jansson's
 * per-character callbacks. NULL for anything else (a real, another byte in a string, depth past
 * PROVD_JSON_FAST_DEPTH, out of memory): the caller uses json_dumps.
 */
char *provd_json_fast_dump(json_t *j, size_t *len);

/*
 * judge11: text of canonical CERTIFICATE PEM blocks, as PEM_write_bio writes them, decoded
 * without PEM_read_bio's BIO and line reader: each block exactly "-----BEGIN CERTIFICATE-----\n",
 * lines of 64 base64 characters but the last (4..64, a multiple of 4, '=' padding only at its
 * end), "-----END CERTIFICATE-----\n"; blocks one after another, LFs between them and before
 * the first. 1 and the blocks' DER in der[0..*n) (OPENSSL_free each; *n <= cap) when the whole
 * text is of that form with at most cap blocks; 0 otherwise (nothing allocated: read it with
 * PEM_read_bio, which decides and words every refusal). For such text PEM_read_bio gives the
 * same blocks, names and bytes.
 */
int provd_pem_fast_certs(const char *s, size_t len, uint8_t **der, size_t *der_len, int cap,
    int *n);

#endif
