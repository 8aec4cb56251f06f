// SPDX-License-Identifier: Apache-2.0
/*
 * p11_session.h — the module's state in this process (session.c): initialisation and locking,
 * the session table and the login state, each session's own SP connection and snapshot of the
 * objects, and the operation a session has in progress. ops.c asks the SP through a session;
 * module.c's C_* functions hold a session for the length of one call.
 */
#ifndef SC_P11_SESSION_H
#define SC_P11_SESSION_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>
#include <openssl/evp.h>
#include <selfcert/err.h>
#include <selfcert/profile.h>
#include <selfcert/sp.h>
#include "p11.h"
#include "p11_config.h"
#include "p11_mech.h"
#include "p11_objects.h"

/* One signing or decryption in progress in a session (filled in by ops.c). */
struct p11_op {
	int active;
	const struct p11_mech *mech;
	uint32_t sp_handle;
	enum sc_alg alg;
	size_t key_bytes;
	EVP_MD_CTX *md; /* hashing mechanisms */
	uint8_t *buf;   /* raw input gathered by C_*Update */
	size_t len, max;
	int updated;               /* C_*Update was called: the one-shot call may not follow */
	enum sc_digest pss_digest; /* PSS: the hash of the input and of MGF1 */
	uint32_t salt_len;
	int oaep_md, mgf1_md; /* OAEP: the SP's hash codes */
	uint8_t *label;
	size_t label_len;
	uint8_t *result; /* a plaintext kept across CKR_BUFFER_TOO_SMALL */
	size_t result_len;
};

/* The operation ends: everything wiped and freed, *op zeroed (inactive). */
void p11_op_end(struct p11_op *op);

struct p11_session {
	CK_SESSION_HANDLE handle;
	CK_FLAGS flags;
	unsigned refs;    /* the table's, and one per call in progress (module mutex) */
	void *mutex;      /* one call at a time on this session and its connection */
	struct sc_sp *sp; /* this session's own connection to the SP */
	struct timespec last_use;
	char device_id[SC_DEVICE_ID_MAX + 1];
	int broken; /* the SP went away under the session: CKR_DEVICE_ERROR */
	sc_err broken_by;
	struct p11_objects objs; /* the token's objects when the session opened, and secrets */
	long long
	    leaf_sig[4]; /* the folder's leaf.pem when objs were loaded (p11_session_refresh) */
	size_t n_secrets;
	int finding;
	CK_OBJECT_HANDLE *found;
	size_t n_found, pos_found;
	struct p11_op sign, decrypt;
};

/* The mutex functions in use: the application's (case 3 of v2.40 §5.4) or ours on pthreads. */
struct p11_lockops {
	CK_CREATEMUTEX create;
	CK_DESTROYMUTEX destroy;
	CK_LOCKMUTEX lock;
	CK_UNLOCKMUTEX unlock;
};

/*
 * The module in this process, between C_Initialize and C_Finalize. `cfg` is read-only once
 * initialised; `sessions`, `next_session`, `next_secret` and `logged_in` are read and written
 * only under `mutex` (p11_lock).
 */
struct p11_module {
	pid_t pid; /* a forked child must initialise again */
	struct p11_lockops locks;
	void *mutex; /* the session table, the login state, handle counters */
	struct p11_config cfg;
	struct p11_session *sessions[P11_MAX_SESSIONS];
	CK_SESSION_HANDLE next_session;
	CK_OBJECT_HANDLE next_secret;
	int logged_in;
};

extern struct p11_module p11_module;

/* A mutex of the module's lock functions; NULL does nothing. */
void p11_lock(void *m);
void p11_unlock(void *m);

/*
 * C_Initialize and C_Finalize, serialized against each other. Initialize: the arguments
 * checked (CKR_ARGUMENTS_BAD), a forked child's inherited state dropped, the configuration
 * loaded (CKR_GENERAL_ERROR, said on stderr), the module mutex made (CKR_HOST_MEMORY,
 * CKR_CANT_LOCK); CKR_CRYPTOKI_ALREADY_INITIALIZED in the process that did. Finalize: every
 * session gone; CKR_CRYPTOKI_NOT_INITIALIZED if there was nothing to finalize.
 */
CK_RV p11_module_initialize(const CK_C_INITIALIZE_ARGS *args);
CK_RV p11_module_finalize(void);
/* CKR_OK once initialised in this process, else CKR_CRYPTOKI_NOT_INITIALIZED. */
CK_RV p11_check_init(void);

/*
 * A new session (flags: CKF_RW_SESSION or not) on its own SP connection, with the token's
 * objects loaded: CKR_TOKEN_NOT_PRESENT (no SP, or not a locked device), CKR_HOST_MEMORY,
 * CKR_CANT_LOCK, CKR_DEVICE_ERROR, CKR_SESSION_COUNT past P11_MAX_SESSIONS.
 */
CK_RV p11_session_open(CK_FLAGS flags, CK_SESSION_HANDLE *out);
/* Forget one session / all of them (and log out); freed when their last call returns. */
CK_RV p11_session_close(CK_SESSION_HANDLE h);
void p11_session_close_all(void);
/*
 * Look up a session and hold it (its mutex locked, a reference taken) until p11_session_put,
 * which takes NULL. A session the SP went away under is held but answers CKR_DEVICE_ERROR
 * unless allow_broken; CKR_SESSION_HANDLE_INVALID (*out NULL), CKR_CRYPTOKI_NOT_INITIALIZED.
 */
CK_RV p11_session_get(CK_SESSION_HANDLE h, int allow_broken, struct p11_session **out);
void p11_session_put(struct p11_session *s);
/*
 * Reload the session's token objects if the certificate folder's leaf.pem changed since they
 * were loaded (the agent renewed): a long-lived session (nginx's master through libp11 keeps
 * one across reloads) then finds the new key and the moved "current" label. Handles of keys the
 * SP still holds do not change; derived secrets stay. On any failure the objects stay as they
 * were (logged when debugging). Called with the session's mutex held (C_FindObjectsInit).
 */
void p11_session_refresh(struct p11_session *s);
/* The number of sessions and of read/write ones (takes the module mutex). */
void p11_session_count(CK_ULONG *all, CK_ULONG *rw);
/* 1 if a read-only session is open. Under the module mutex. */
int p11_session_ro_exists(void);

/*
 * What the SP is asked, by ops.c: the session's connection, replaced first when it has been idle
 * P11_SP_IDLE_RECONNECT_S (checking it still leads to the session's device). SC_ERR_PEER when
 * the SP went away under the session, which is then broken. Report each request's result with
 * p11_session_sp_done: a lost connection breaks the session.
 */
sc_err p11_session_sp(struct p11_session *s, struct sc_sp **sp) SC_MUST_USE;
void p11_session_sp_done(struct p11_session *s, sc_err r);

/* An SP error as a PKCS#11 return value. */
CK_RV p11_rv_from_sc(sc_err r);

#endif
