// SPDX-License-Identifier: Apache-2.0
/*
 * tls.h — selfcert-provd's TLS 1.3 session tickets on libmicrohttpd's GnuTLS sessions (#17,
 * session 13; docs/THREAT-MODEL.md, "Sessions 12-13", docs/PERFORMANCE.md 20.1). libmicrohttpd
 * 0.9.75 creates each connection's session itself and has no option for tickets, so provd
 *  - keeps one ticket master key per process, in memory only, wiped at exit (GnuTLS derives the
 *    key that seals tickets from it per period of 3 ticket lifetimes and also opens the previous
 *    period's tickets; a restart or reload draws a new master key: its clients handshake in full);
 *  - enables tickets on each session when MHD announces the connection (before the handshake,
 *    so that a ClientHello's ticket can be opened), TLS 1.3 only (PROVD_TLS_PRIORITIES has
 *    %NO_TICKETS_TLS12). GnuTLS sends its two tickets itself, right after its Finished, as Go's
 *    and OpenSSL's servers do.
 */
#ifndef SC_PROVD_TLS_H
#define SC_PROVD_TLS_H

#include <gnutls/gnutls.h>

/* A ticket's lifetime: RFC 8446's most (7 days), Go's (cfssl's) too. A resumed session's new
 * ticket ends when the first one does (GnuTLS): at most 7 days from the last full handshake. */
#define PROVD_TICKET_LIFETIME_S (7 * 24 * 3600)

/* Draw the master key. 0, or -1 (with a log line) when tickets stay off. */
int provd_tls_tickets_start(void);
/* Wipe and free the master key (at exit; sessions must be gone). */
void provd_tls_tickets_stop(void);
/* At MHD_CONNECTION_NOTIFY_STARTED: enable tickets on the connection's session (no-op if off). */
void provd_tls_session_start(gnutls_session_t s);

/*
 * An answer's head and body in one send (#17, session 16; PERFORMANCE.md 23.1). libmicrohttpd
 * 0.9.75 sends a TLS answer's header and body as two gnutls_record_send calls, so two records in
 * two sendmsg calls (and, for an answer over 1400 bytes, two TCP pushes). provd installs its own
 * push function on each connection's session: once told that the next record is an answer's head
 * whose body follows (provd_tls_out_answer), it keeps that record (up to PROVD_TLS_HOLD_MAX bytes)
 * and sends it with the next record, the body's, in one sendmsg. The bytes, their order and the
 * records are GnuTLS's own; only when they reach the socket changes. Anything pushed later goes
 * out after the held bytes; a send that takes only part of them keeps the rest for the next push
 * and reports that record's push as EAGAIN, so GnuTLS and MHD wait for the socket as they do
 * for any short send. A head whose body never comes (not expected: provd marks only answers MHD
 * sends with their body in the same call) is sent at the request's end (provd_tls_out_flush).
 */
#define PROVD_TLS_HOLD_MAX 2048

struct provd_tls_out;

/* At MHD_CONNECTION_NOTIFY_STARTED: the connection's push function (NULL: GnuTLS's own, kept). */
struct provd_tls_out *provd_tls_out_start(gnutls_session_t s, int fd);
/* The next record pushed is an answer's head whose body MHD sends right after it. */
void provd_tls_out_answer(struct provd_tls_out *o);
/* Send a held record now (non-blocking): 0 when nothing is left held, -1 otherwise. */
int provd_tls_out_flush(struct provd_tls_out *o);
/* At MHD_CONNECTION_NOTIFY_CLOSED (after MHD's gnutls_deinit): free it. */
void provd_tls_out_free(struct provd_tls_out *o);
/*
 * For tests and benchmarks: held heads sent with the record after them, heads sent alone (by
 * provd_tls_out_flush), and sends that took only part of a held head.
 */
void provd_tls_out_stats(unsigned long *joined, unsigned long *alone, unsigned long *shorts);

#endif
