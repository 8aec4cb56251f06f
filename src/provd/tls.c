// SPDX-License-Identifier: Apache-2.0
/*
 * tls.c — TLS 1.3 session tickets on libmicrohttpd's GnuTLS sessions (tls.h says what and why).
 */
#include "tls.h"

#include <stddef.h>
#include "log.h"

static gnutls_datum_t master; /* the ticket master key; NULL data: tickets off */

int provd_tls_tickets_start(void)
{
	if (master.data != NULL)
		return 0;
	if (gnutls_session_ticket_key_generate(&master) != GNUTLS_E_SUCCESS) {
		master.data = NULL;
		sc_log("TLS session tickets off: no ticket key");
		return -1;
	}
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
