// SPDX-License-Identifier: Apache-2.0
/*
 * buf.h — bounded byte buffers for the SP protocol and the sealed store (internal).
 *
 * A writer appends big-endian integers and u32-length-prefixed strings, growing up to a hard
 * cap; a reader consumes the same with every length checked against what remains. After the
 * first failure a buffer stays failed, so a decoder may read all fields and check once
 * (sc_buf_done), in the spirit of OpenSSH's sshbuf.
 */
#ifndef SC_BUF_H
#define SC_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <selfcert/err.h>

struct sc_buf {
	uint8_t *data;
	size_t len; /* bytes written (writer) or available (reader) */
	size_t off; /* read position */
	size_t cap; /* allocated (writer) */
	size_t max; /* hard cap on len (writer) */
	int failed; /* sticky: set on the first overflow/underflow */
	int owned;  /* 1 if data is ours to free */
	int secret; /* 1: wipe before freeing or growing */
};

/* A writer with a hard cap of max bytes. secret: contents are wiped on free/grow. */
void sc_buf_init_writer(struct sc_buf *b, size_t max, int secret);
/* A reader over borrowed bytes. */
void sc_buf_init_reader(struct sc_buf *b, const uint8_t *data, size_t len);
/* Free (and wipe, if secret) a writer's storage. Safe on readers and twice. */
void sc_buf_free(struct sc_buf *b);

void sc_buf_put_u8(struct sc_buf *b, uint8_t v);
void sc_buf_put_u16(struct sc_buf *b, uint16_t v);
void sc_buf_put_u32(struct sc_buf *b, uint32_t v);
void sc_buf_put_u64(struct sc_buf *b, uint64_t v);
void sc_buf_put_bytes(struct sc_buf *b, const void *p, size_t n);  /* raw, no length */
void sc_buf_put_string(struct sc_buf *b, const void *p, size_t n); /* u32 length + bytes */
void sc_buf_put_cstring(struct sc_buf *b, const char *s);          /* u32 length + bytes */

/* Readers: on underflow the buffer fails and outputs are zeroed. */
uint8_t sc_buf_get_u8(struct sc_buf *b);
uint16_t sc_buf_get_u16(struct sc_buf *b);
uint32_t sc_buf_get_u32(struct sc_buf *b);
uint64_t sc_buf_get_u64(struct sc_buf *b);
/* Raw n bytes; returns a pointer into the buffer or NULL on failure. */
const uint8_t *sc_buf_get_bytes(struct sc_buf *b, size_t n);
/* u32-length-prefixed string of at most max bytes; *p points into the buffer. */
void sc_buf_get_string(struct sc_buf *b, const uint8_t **p, size_t *n, size_t max);
/* u32-length-prefixed text of 0..max bytes copied into out (max+1 bytes), NUL-terminated;
 * fails on an embedded NUL. */
void sc_buf_get_cstring(struct sc_buf *b, char *out, size_t max);

/* Reader: SC_OK iff nothing failed and every byte was consumed; else SC_ERR_MALFORMED
 * (underflow) or SC_ERR_TRAILING, with `what` in the detail. Writer: SC_OK or SC_ERR_OVERSIZE. */
sc_err sc_buf_done(struct sc_buf *b, const char *what) SC_MUST_USE;

#endif
