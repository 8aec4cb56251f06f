// SPDX-License-Identifier: Apache-2.0
/*
 * sp_wire.h — the SP protocol's framing, shared by the client (sp_client.c) and selfcert-spd
 * (internal). A frame is a u32 big-endian length followed by that many bytes, at most
 * SC_SP_MAX_MSG; the bytes are [u8 version][u8 type][body] (docs/PROTOCOL.md).
 */
#ifndef SC_SP_WIRE_H
#define SC_SP_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <selfcert/err.h>
#include <selfcert/sp.h>
#include "buf.h"
#include "sp_msg.h" /* the messages inside the frames; SC_WIRE_MAX_DETAIL, SC_WIRE_MAX_CERT */

#define SC_WIRE_HDR_LEN 4 /* the length prefix */
#define SC_WIRE_MIN_MSG 2 /* version and type */

/*
 * The length announced by a frame header. SC_ERR_OVERSIZE if it exceeds SC_SP_MAX_MSG,
 * SC_ERR_MALFORMED if it is shorter than version and type. Checked before any allocation.
 */
sc_err sc_wire_parse_len(const uint8_t hdr[SC_WIRE_HDR_LEN], size_t *len) SC_MUST_USE;
void sc_wire_put_len(uint8_t hdr[SC_WIRE_HDR_LEN], size_t len);

/*
 * Write one whole frame (prefix + msg) to fd within timeout_ms (poll between partial writes;
 * EINTR retried; sockets get MSG_NOSIGNAL so a vanished peer is an error, not SIGPIPE).
 * SC_ERR_OVERSIZE if msg_len > SC_SP_MAX_MSG (checked before anything is written),
 * SC_ERR_PEER on timeout or a closed peer, SC_ERR_IO otherwise.
 */
sc_err sc_wire_write_frame(int fd, const uint8_t *msg, size_t msg_len, int timeout_ms) SC_MUST_USE;

/*
 * Read one whole frame within timeout_ms. *msg is the caller's (OPENSSL_free); the length is
 * checked (sc_wire_parse_len) before the body is allocated. SC_ERR_PEER on timeout or EOF,
 * SC_ERR_OVERSIZE / SC_ERR_MALFORMED for a bad length, SC_ERR_IO otherwise.
 */
sc_err sc_wire_read_frame(int fd, uint8_t **msg, size_t *msg_len, int timeout_ms) SC_MUST_USE;

/* Start a message: a writer capped at SC_SP_MAX_MSG holding [version][type] (sp_hdr_put). */
void sc_wire_begin(struct sc_buf *b, uint8_t type, int secret);

/* A whole error answer in a fresh writer: [version][SC_SP_ERROR] and sp_error_ans_put. */
sc_err sc_wire_error_answer(struct sc_buf *b, sc_err code, const char *detail) SC_MUST_USE;

/* "info", "keygen", … "error"; "unknown" otherwise (for logs): sp_msg_name. */
const char *sc_wire_msg_name(int type);

#endif
