// SPDX-License-Identifier: Apache-2.0
/*
 * tls.c — TLS 1.3 session tickets on libmicrohttpd's GnuTLS sessions (tls.h says what and why).
 */
#include "tls.h"

#include <dlfcn.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>
#include "log.h"

typedef int (*gnutls_init_fn)(gnutls_session_t *session, unsigned int flags);

static pthread_once_t real_once = PTHREAD_ONCE_INIT;
static gnutls_init_fn real_init; /* GnuTLS's own gnutls_init */
static gnutls_datum_t master;    /* the ticket master key; NULL data: tickets off */
static int no_auto_send;         /* set before MHD starts, then only read */

_Static_assert(sizeof(void *) == sizeof(gnutls_init_fn), "dlsym's pointers are code pointers");

static void find_real_init(void)
{
	/* The version libmicrohttpd 0.9.75 binds (nm -D: gnutls_init@GNUTLS_3_4). */
	void *p = dlvsym(RTLD_NEXT, "gnutls_init", "GNUTLS_3_4");

	if (p == NULL)
		p = dlsym(RTLD_NEXT, "gnutls_init");
	memcpy(&real_init, &p, sizeof(p)); /* POSIX's way from dlsym to a function pointer */
}

/*
 * Every gnutls_init of the process comes here (only libmicrohttpd's, in provd): a server
 * session sends no ticket by itself while provd's tickets are on (provd_tls_ticket_send does).
 */
__attribute__((visibility("default"))) int gnutls_init(gnutls_session_t *session,
    unsigned int flags)
{
	pthread_once(&real_once, find_real_init);
	if (real_init == NULL)
		return GNUTLS_E_INTERNAL_ERROR;
	if (no_auto_send && (flags & GNUTLS_SERVER) != 0)
		flags |= GNUTLS_NO_AUTO_SEND_TICKET;
	return real_init(session, flags);
}

int provd_tls_tickets_start(void)
{
	gnutls_init_fn ours = gnutls_init;
	void *first;

	if (master.data != NULL)
		return 0;
	first = dlsym(RTLD_DEFAULT, "gnutls_init");
	pthread_once(&real_once, find_real_init);
	/*
	 * MHD's call must reach the gnutls_init above: it does when the process's first
	 * definition (the executable's, exported because libmicrohttpd references it) is ours.
	 */
	if (real_init == NULL || first == NULL || memcmp(&first, &ours, sizeof(first)) != 0) {
		sc_log("TLS session tickets off: cannot hold back GnuTLS's own tickets");
		return -1;
	}
	if (gnutls_session_ticket_key_generate(&master) != GNUTLS_E_SUCCESS) {
		master.data = NULL;
		sc_log("TLS session tickets off: no ticket key");
		return -1;
	}
	no_auto_send = 1;
	return 0;
}

void provd_tls_tickets_stop(void)
{
	if (master.data == NULL)
		return;
	gnutls_memset(master.data, 0, master.size);
	gnutls_free(master.data);
	master.data = NULL;
	master.size = 0;
}

void provd_tls_session_start(gnutls_session_t s)
{
	/* A session that cannot take them handshakes in full, as before. */
	if (master.data != NULL && s != NULL &&
	    gnutls_session_ticket_enable_server(s, &master) == GNUTLS_E_SUCCESS)
		gnutls_db_set_cache_expiration(s, PROVD_TICKET_LIFETIME_S);
}

int provd_tls_ticket_send(gnutls_session_t s, int fd)
{
	int r;

	if (master.data == NULL || s == NULL || gnutls_protocol_get_version(s) != GNUTLS_TLS1_3)
		return 0;
	/*
	 * The first answer of a connection: nothing of MHD's is buffered in GnuTLS, and the
	 * socket holds at most the handshake's flight, so the ~270-byte record goes at once. A
	 * peer that left no room in an empty send buffer gets a short wait, then a close.
	 */
	for (int tries = 0; tries < 3; tries++) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };

		r = gnutls_session_ticket_send(s, 1, 0);
		if (r == GNUTLS_E_SUCCESS)
			return 0;
		if (r != GNUTLS_E_AGAIN && r != GNUTLS_E_INTERRUPTED)
			/* Before anything was queued, or a dead socket MHD sees next: no ticket. */
			return 0;
		if (fd < 0)
			break;
		(void)poll(&p, 1, 10);
	}
	return -1;
}
