// SPDX-License-Identifier: Apache-2.0
/*
 * server.h — selfcert-spd's socket side (server.c): bind the SP's Unix socket, and serve the
 * SP protocol on it to several peers at once until a stop signal. Private to selfcert-spd.
 */
#ifndef SPD_SERVER_H
#define SPD_SERVER_H

#include <selfcert/err.h>
#include "spd.h"

#define SPD_MAX_ALLOW 16 /* --allow-uid entries */

/*
 * Bind and listen on path (0660, non-blocking). A stale socket is replaced; a live one (another
 * SP) or any other file is SC_ERR_EXISTS; a path too long for sun_path SC_ERR_USAGE; else
 * SC_ERR_IO. *out is the caller's descriptor.
 */
sc_err spd_listen_on(const char *path, int *out) SC_MUST_USE;

/*
 * Serve lfd until spd_on_signal has run (SIGTERM or SIGINT, which this blocks except while
 * waiting): peers whose uid is not in allow[0..n_allow) get one `denied` answer and are hung
 * up on. Returns 0 on a requested stop, 0 too after a poll failure (logged).
 */
int spd_serve(struct spd *spd, int lfd, const unsigned long *allow, size_t n_allow);

/* The SIGTERM/SIGINT handler that ends spd_serve (async-signal-safe: sets a flag). */
void spd_on_signal(int sig);

#endif
