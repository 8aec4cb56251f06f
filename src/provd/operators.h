// SPDX-License-Identifier: Apache-2.0
/*
 * operators.h — who may call selfcert-provd's operator endpoints: the operators file
 * (--operators, src/lib/opfile.h: named tokens stored as SHA-256), re-read when it changes,
 * the legacy --admin-token-file as the operator named "admin", and a throttle on failed attempts
 * per source address. Shared by every worker; its own lock.
 */
#ifndef SC_PROVD_OPERATORS_H
#define SC_PROVD_OPERATORS_H

#include <stdint.h>
#include <selfcert/err.h>
#include "opfile.h"

#define PROVD_AUTH_FAILS_MAX 5        /* failed attempts per address in a window; then 429 */
#define PROVD_AUTH_WINDOW_S 60        /* the window, seconds, from the address's first failure */
#define PROVD_AUTH_ADDRS 1024         /* addresses remembered; a full table forgets the oldest */
#define PROVD_LEGACY_OPERATOR "admin" /* the --admin-token-file token's name */

struct provd_operators;

/*
 * path: the operators file, or NULL (the legacy token only). It is read now: a missing, unsafe
 * (open to group or others) or malformed file fails here, naming it (sc_operators_load).
 * admin_hash: the SHA-256 of the --admin-token-file token, or NULL; the file may not name an
 * operator "admin" as well (SC_ERR_USAGE). *out is the caller's (provd_operators_free).
 */
sc_err provd_operators_new(const char *path, const uint8_t *admin_hash,
    struct provd_operators **out) SC_MUST_USE;
void provd_operators_free(struct provd_operators *ops); /* NULL is fine */

/*
 * Re-read the operators file now (SIGHUP's way; each request also re-reads it when its inode,
 * size, mtime or ctime changed). A file that cannot be read or parsed leaves NO operator of
 * the file usable (fail closed: a removed operator must not outlive a broken edit) until a good
 * one is in place; its error is returned and logged once. SC_OK with no file configured.
 */
sc_err provd_operators_reload(struct provd_operators *ops) SC_MUST_USE;

/* What provd_operators_auth decided. */
enum provd_auth {
	PROVD_AUTH_OK,        /* name is the operator's */
	PROVD_AUTH_MISSING,   /* no Authorization header or not "Bearer <token>": not counted */
	PROVD_AUTH_FAILED,    /* a token no operator has: counted against the address */
	PROVD_AUTH_THROTTLED, /* this address failed too often: *retry_after seconds */
	PROVD_AUTH_BROKEN,    /* the operators file is unusable: every file operator refused */
};

/*
 * Check an Authorization header from peer at now. The token is hashed once and compared with
 * every operator's hash in constant time. A throttled address is refused before its token is
 * looked at (so a right guess then teaches nothing). *first_throttle is 1 on the failure that
 * crossed the limit (audit it once, not every refusal after). A success clears the address.
 * name gets the operator's name on PROVD_AUTH_OK.
 */
enum provd_auth provd_operators_auth(struct provd_operators *ops, const char *authorization,
    const char *peer, int64_t now, char name[SC_OP_NAME_MAX + 1], int64_t *retry_after,
    int *first_throttle);

/*
 * 1 if an operator of this name may act now (the console's check on every request of a
 * session: an operator removed from the file, or a file gone bad, ends its sessions at once).
 * The file is re-read first if it changed, as provd_operators_auth does.
 */
int provd_operators_known(struct provd_operators *ops, const char *name);

/* 1 if any credential is configured (a file or the legacy token). */
int provd_operators_enabled(const struct provd_operators *ops);

#endif
