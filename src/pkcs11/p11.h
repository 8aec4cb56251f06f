// SPDX-License-Identifier: Apache-2.0
/*
 * p11.h — the limits every part of libselfcert-pkcs11.so shares: one slot, whose token is one
 * SP; every private-key operation is a request to the SP over the session's own connection
 * (docs/PKCS11.md). Each .c file has its own header; they depend on each other in this order:
 *   p11_config.h   config.c    configuration and the debug log (no PKCS#11 types)
 *   p11_mech.h     mech.c      the mechanism table
 *   p11_objects.h  objects.c   the token's objects                       (config, mech)
 *   p11_session.h  session.c   module state, locking, sessions, SP link  (config, objects)
 *   p11_ops.h      ops.c       signing, decryption, derivation           (session, mech, objects)
 *   module.c                   the C_* entry points and the function list (all of them)
 * Nothing lower includes or calls anything higher.
 */
#ifndef SC_P11_H
#define SC_P11_H

#include <p11-kit/pkcs11.h>

#define P11_SLOT_ID 0
#define P11_MAX_SESSIONS 16        /* the SP serves 32 connections, shared with every client */
#define P11_MAX_OBJECTS 1024       /* 256 keys x 3, the device CA, folder certificates, secrets */
#define P11_MAX_SESSION_OBJECTS 64 /* derived secrets per session */
#define P11_MAX_FOLDER_FILES 64    /* *.pem files read from the certificate folder */
#define P11_MAX_FOLDER_CERTS 64    /* certificates taken from them, in all */
#define P11_MAX_LABEL 64
#define P11_MAX_ID 64
/*
 * The SP drops a connection after 60 s with nothing in flight (docs/PROTOCOL.md §5). A session
 * whose connection has been idle this long replaces it before its next request; any other loss
 * of the connection means the SP went away under the session (CKR_DEVICE_ERROR).
 */
#define P11_SP_IDLE_RECONNECT_S 45

#endif
