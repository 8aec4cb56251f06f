// SPDX-License-Identifier: Apache-2.0
/*
 * json_fast.c — the plain JSON of provd's request bodies read in one pass (json_fast.h). Every
 * refusal here is "not taken" (NULL): json_loadb then decides.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "json_fast.h"

struct jf {
	const uint8_t *p, *end;
	char *buf; /* a string's unescaped bytes */
	size_t cap;
	int max_depth; /* the deepest array or object opened */
};

static void skip_ws(struct jf *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

/* A string at j->p (its opening quote) into j->buf (NUL-terminated), *len bytes. */
static int read_string(struct jf *j, size_t *len)
{
	const uint8_t *s = ++j->p, *q = s;
	size_t n = 0;

	/* The common case first: no escape before the closing quote. */
	while (q < j->end && *q != '"' && *q != '\\' && *q >= 0x20 && *q <= 0x7e)
		q++;
	if (q >= j->end || (*q != '"' && *q != '\\'))
		return 0;
	/* At most as many bytes as the rest of the body, one for the NUL. */
	if ((size_t)(j->end - s) + 1 > j->cap) {
		size_t cap = (size_t)(j->end - s) + 1;
		char *b = realloc(j->buf, cap);

		if (b == NULL)
			return 0;
		j->buf = b;
		j->cap = cap;
	}
	memcpy(j->buf, s, (size_t)(q - s));
	n = (size_t)(q - s);
	while (*q != '"') {
		uint8_t c = *q++;

		if (c == '\\') {
			if (q >= j->end)
				return 0;
			switch (*q++) {
			case '"': c = '"'; break;
			case '\\': c = '\\'; break;
			case '/': c = '/'; break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'n': c = '\n'; break;
			case 'r': c = '\r'; break;
			case 't': c = '\t'; break;
			default: return 0; /* \u and anything else: jansson's */
			}
		} else if (c < 0x20 || c > 0x7e) {
			return 0;
		}
		j->buf[n++] = (char)c;
		if (q >= j->end)
			return 0;
	}
	j->buf[n] = '\0';
	j->p = q + 1;
	*len = n;
	return 1;
}

static json_t *read_value(struct jf *j, int depth);

static json_t *read_object(struct jf *j, int depth)
{
	json_t *o = json_object(), *v;
	size_t len;

	if (o == NULL)
		return NULL;
	j->p++;
	skip_ws(j);
	if (j->p < j->end && *j->p == '}') {
		j->p++;
		return o;
	}
	for (;;) {
		if (j->p >= j->end || *j->p != '"' || !read_string(j, &len) ||
		    memchr(j->buf, '\0', len) != NULL || json_object_get(o, j->buf) != NULL)
			goto no;
		skip_ws(j);
		if (j->p >= j->end || *j->p != ':')
			goto no;
		j->p++;
		skip_ws(j);
		{
			/* The key outlives j->buf's next use: copied by jansson before that. */
			char *key = strdup(j->buf);

			if (key == NULL)
				goto no;
			if ((v = read_value(j, depth)) == NULL) {
				free(key);
				goto no;
			}
			if (json_object_set_new_nocheck(o, key, v) != 0) {
				free(key);
				goto no;
			}
			free(key);
		}
		skip_ws(j);
		if (j->p >= j->end)
			goto no;
		if (*j->p == '}') {
			j->p++;
			return o;
		}
		if (*j->p != ',')
			goto no;
		j->p++;
		skip_ws(j);
	}
no:
	json_decref(o);
	return NULL;
}

static json_t *read_array(struct jf *j, int depth)
{
	json_t *a = json_array(), *v;

	if (a == NULL)
		return NULL;
	j->p++;
	skip_ws(j);
	if (j->p < j->end && *j->p == ']') {
		j->p++;
		return a;
	}
	for (;;) {
		if ((v = read_value(j, depth)) == NULL || json_array_append_new(a, v) != 0)
			goto no;
		skip_ws(j);
		if (j->p >= j->end)
			goto no;
		if (*j->p == ']') {
			j->p++;
			return a;
		}
		if (*j->p != ',')
			goto no;
		j->p++;
		skip_ws(j);
	}
no:
	json_decref(a);
	return NULL;
}

static int is_word_end(const struct jf *j, size_t n)
{
	const uint8_t *q = j->p + n;

	/* What may follow a value: whitespace, a separator, a closer, the end. */
	return q >= j->end || *q == ' ' || *q == '\t' || *q == '\n' || *q == '\r' || *q == ',' ||
	    *q == '}' || *q == ']';
}

static json_t *read_word(struct jf *j, const char *w, json_t *(*make)(void))
{
	size_t n = strlen(w);

	if ((size_t)(j->end - j->p) < n || memcmp(j->p, w, n) != 0 || !is_word_end(j, n))
		return NULL;
	j->p += n;
	return make();
}

static json_t *read_integer(struct jf *j)
{
	const uint8_t *q = j->p;
	int neg = 0, digits = 0;
	json_int_t v = 0;

	if (*q == '-') {
		neg = 1;
		q++;
	}
	if (q >= j->end || *q < '0' || *q > '9')
		return NULL;
	if (*q == '0') {
		q++;
		digits = 1;
		if (neg)
			return NULL; /* -0: jansson's */
	} else
		for (; q < j->end && *q >= '0' && *q <= '9'; q++) {
			if (++digits > 18)
				return NULL;
			v = v * 10 + (json_int_t)(*q - '0');
		}
	/* A fraction, an exponent, a leading zero's next digit: jansson's. */
	if (q < j->end && ((*q >= '0' && *q <= '9') || *q == '.' || *q == 'e' || *q == 'E'))
		return NULL;
	j->p = q;
	if (!is_word_end(j, 0))
		return NULL;
	return json_integer(neg ? -v : v);
}

static json_t *read_value(struct jf *j, int depth)
{
	size_t len;

	if (j->p >= j->end)
		return NULL;
	switch (*j->p) {
	case '{':
	case '[':
		if (depth >= PROVD_JSON_FAST_DEPTH)
			return NULL;
		if (depth + 1 > j->max_depth)
			j->max_depth = depth + 1;
		return *j->p == '{' ? read_object(j, depth + 1) : read_array(j, depth + 1);
	case '"':
		if (!read_string(j, &len))
			return NULL;
		return json_stringn_nocheck(j->buf, len);
	case 't': return read_word(j, "true", json_true);
	case 'f': return read_word(j, "false", json_false);
	case 'n': return read_word(j, "null", json_null);
	default: return read_integer(j);
	}
}

json_t *provd_json_fast_load(const uint8_t *p, size_t n, int *depth)
{
	struct jf j = { p, p + n, NULL, 0, 0 };
	json_t *v = NULL;

	*depth = 0;
	if (p == NULL)
		return NULL;
	skip_ws(&j);
	/* jansson without JSON_DECODE_ANY: an object or an array at the top. */
	if (j.p < j.end && (*j.p == '{' || *j.p == '['))
		v = read_value(&j, 0);
	skip_ws(&j);
	if (v != NULL && j.p != j.end) {
		json_decref(v);
		v = NULL;
	}
	free(j.buf);
	if (v != NULL)
		*depth = j.max_depth;
	return v;
}

/* ---- canonical PEM certificates (json_fast.h) ---- */

static const char pem_begin[] = "-----BEGIN CERTIFICATE-----\n";
static const char pem_end[] = "-----END CERTIFICATE-----\n";

static int b64_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	    c == '+' || c == '/';
}

/*
 * One block's base64 lines at s (after its BEGIN line) up to its END line: the base64 text
 * without the LFs into b64 (room for len bytes), *b64_len; *used: the bytes read, END line
 * included. 0 if not of the canonical form.
 */
static int pem_block(const char *s, size_t len, char *b64, size_t *b64_len, size_t *used)
{
	size_t i = 0, n = 0, pad = 0;
	int last = 0;

	while (i < len && s[i] != '-') {
		size_t k = 0;

		if (last)
			return 0; /* a line after a short one */
		while (i + k < len && s[i + k] != '\n')
			k++;
		if (i + k >= len || k == 0 || k > 64 || k % 4 != 0)
			return 0;
		for (size_t m = 0; m < k; m++) {
			char c = s[i + m];

			if (c == '=') {
				/* Padding: the last one or two characters of the last line. */
				if (m < k - 2 || (m == k - 2 && s[i + k - 1] != '='))
					return 0;
				pad++;
			} else if (!b64_char(c))
				return 0;
		}
		if (k < 64 || pad > 0)
			last = 1;
		memcpy(b64 + n, s + i, k);
		n += k;
		i += k + 1;
	}
	if (n == 0 || len - i < sizeof(pem_end) - 1 ||
	    memcmp(s + i, pem_end, sizeof(pem_end) - 1) != 0)
		return 0;
	*b64_len = n;
	*used = i + sizeof(pem_end) - 1;
	return 1;
}

int provd_pem_fast_certs(const char *s, size_t len, uint8_t **der, size_t *der_len, int cap, int *n)
{
	char *b64 = NULL;
	size_t i = 0;
	int got = 0;

	*n = 0;
	if (len > 0x7fffffff || (b64 = OPENSSL_malloc(len + 1)) == NULL)
		return 0;
	for (;;) {
		size_t b64_len = 0, used = 0, pad = 0;
		int out;

		while (i < len && s[i] == '\n')
			i++;
		if (i == len)
			break;
		if (got == cap || len - i < sizeof(pem_begin) - 1 ||
		    memcmp(s + i, pem_begin, sizeof(pem_begin) - 1) != 0)
			goto no;
		i += sizeof(pem_begin) - 1;
		if (!pem_block(s + i, len - i, b64, &b64_len, &used))
			goto no;
		i += used;
		pad = (size_t)(b64[b64_len - 1] == '=') + (size_t)(b64[b64_len - 2] == '=');
		if ((der[got] = OPENSSL_malloc(b64_len / 4 * 3)) == NULL)
			goto no;
		/* EVP_DecodeBlock writes the padding's bytes as zeros: not part of the DER. */
		if ((out = EVP_DecodeBlock(der[got], (const unsigned char *)b64, (int)b64_len)) <
		        0 ||
		    (size_t)out != b64_len / 4 * 3 || (size_t)out <= pad) {
			OPENSSL_free(der[got]);
			goto no;
		}
		der_len[got++] = (size_t)out - pad;
	}
	OPENSSL_free(b64);
	if (got == 0)
		return 0;
	*n = got;
	return 1;
no:
	for (int k = 0; k < got; k++) {
		OPENSSL_free(der[k]);
		der[k] = NULL;
	}
	OPENSSL_free(b64);
	return 0;
}

/* ---- answers (json_fast.h provd_json_fast_dump) ---- */

struct out {
	char *b;
	size_t n, cap;
};

static int put(struct out *o, const char *p, size_t n)
{
	if (o->n + n + 2 > o->cap) {
		size_t cap = (o->cap ? o->cap : 256);
		char *b;

		while (o->n + n + 2 > cap)
			cap *= 2;
		if ((b = realloc(o->b, cap)) == NULL)
			return 0;
		o->b = b;
		o->cap = cap;
	}
	memcpy(o->b + o->n, p, n);
	o->n += n;
	return 1;
}

/* A string as jansson's dump_string writes it (no flags); 0 for a byte it is not sure of. */
static int put_string(struct out *o, const char *s, size_t n)
{
	size_t i = 0;

	if (!put(o, "\"", 1))
		return 0;
	while (i < n) {
		size_t k = i;
		const char *esc = NULL;

		while (k < n && (unsigned char)s[k] >= 0x20 && (unsigned char)s[k] < 0x7f &&
		    s[k] != '"' && s[k] != '\\')
			k++;
		if (k > i && !put(o, s + i, k - i))
			return 0;
		if (k == n)
			break;
		switch (s[k]) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		default: return 0;
		}
		if (!put(o, esc, 2))
			return 0;
		i = k + 1;
	}
	return put(o, "\"", 1);
}

static int put_value(struct out *o, json_t *j, int depth)
{
	char num[32];
	const char *key;
	json_t *v;
	size_t i, first = 1;

	switch (json_typeof(j)) {
	case JSON_OBJECT:
		if (depth >= PROVD_JSON_FAST_DEPTH || !put(o, "{", 1))
			return 0;
		json_object_foreach (j, key, v) {
			if ((!first && !put(o, ",", 1)) || !put_string(o, key, strlen(key)) ||
			    !put(o, ":", 1) || !put_value(o, v, depth + 1))
				return 0;
			first = 0;
		}
		return put(o, "}", 1);
	case JSON_ARRAY:
		if (depth >= PROVD_JSON_FAST_DEPTH || !put(o, "[", 1))
			return 0;
		json_array_foreach (j, i, v)
			if ((i > 0 && !put(o, ",", 1)) || !put_value(o, v, depth + 1))
				return 0;
		return put(o, "]", 1);
	case JSON_STRING: return put_string(o, json_string_value(j), json_string_length(j));
	case JSON_INTEGER:
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(j));
		return put(o, num, strlen(num));
	case JSON_TRUE: return put(o, "true", 4);
	case JSON_FALSE: return put(o, "false", 5);
	case JSON_NULL: return put(o, "null", 4);
	default: return 0; /* a real: jansson's format */
	}
}

char *provd_json_fast_dump(json_t *j, size_t *len)
{
	struct out o = { NULL, 0, 0 };

	*len = 0;
	/* json_dumps without JSON_ENCODE_ANY: an object or an array at the top. */
	if (j == NULL || (!json_is_object(j) && !json_is_array(j)) || !put_value(&o, j, 0)) {
		free(o.b);
		return NULL;
	}
	o.b[o.n++] = '\n'; /* put keeps room for these two */
	o.b[o.n] = '\0';
	*len = o.n;
	return o.b;
}
