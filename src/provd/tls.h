// SPDX-License-Identifier: Apache-2.0
/*
 * tls.h — selfcert-provd's TLS 1.3 session tickets on libmicrohttpd's GnuTLS sessions (#17,
 * session 13; docs/THREAT-MODEL.md 2.2, docs/PERFORMANCE.md 20.1). libmicrohttpd 0.9.75 creates
 * each connection's session itself and has no option for tickets, so provd
 *  - keeps one ticket master key per process, in memory only, wiped at exit (GnuTLS derives the
 *    key that seals tickets from it per period of 3 ticket lifetimes and also opens the previous
 *    period's tickets; a restart or reload draws a new master key: its clients handshake in full);
 *  - enables tickets on each session when MHD announces the connection (before the handshake,
 *    so that a ClientHello's ticket can be opened), TLS 1.3 only (PROVD_TLS_PRIORITIES has
 *    %NO_TICKETS_TLS12);
 *  - sends the ticket with the connection's first answer, not at the handshake: GnuTLS would send
 *    its two NewSessionTickets right after its Finished, which a client reading while it still
 *    sends its request takes for the answer beginning (test_provd_slow's trickling client then
 *    waited in a blocking read for data that never came). Auto-sending is turned off by adding
 *    GNUTLS_NO_AUTO_SEND_TICKET to the flags of the server sessions MHD creates: tls.c defines
 *    gnutls_init, which the dynamic linker binds MHD's call to, and calls GnuTLS's own.
 */
#ifndef SC_PROVD_TLS_H
#define SC_PROVD_TLS_H

#include <gnutls/gnutls.h>

/* A ticket's lifetime: RFC 8446's most (7 days), Go's (cfssl's) too. A resumed session's new
 * ticket ends when the first one does (GnuTLS): at most 7 days from the last full handshake. */
#define PROVD_TICKET_LIFETIME_S (7 * 24 * 3600)

/*
 * Draw the master key and turn off GnuTLS's automatic tickets for the server sessions created
 * from now on. 0, or -1 (with a log line) when tickets stay off: no key, or provd's gnutls_init
 * is not the one the dynamic linker resolves (then GnuTLS would send tickets itself).
 */
int provd_tls_tickets_start(void);
/* Wipe and free the master key (at exit; sessions must be gone). */
void provd_tls_tickets_stop(void);
/* At MHD_CONNECTION_NOTIFY_STARTED: enable tickets on the connection's session (no-op if off). */
void provd_tls_session_start(gnutls_session_t s);
/*
 * Before the connection's first answer is queued: send one ticket if the session is TLS 1.3
 * and tickets are on. 0 (sent, or nothing to send); -1 when the ticket could not leave whole
 * (the socket fd takes nothing): the caller must close the connection, as a partly written
 * record would be completed by MHD's next send in place of its own bytes.
 */
int provd_tls_ticket_send(gnutls_session_t s, int fd);

#endif
