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

#endif
