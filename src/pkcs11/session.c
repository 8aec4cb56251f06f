// SPDX-License-Identifier: Apache-2.0
/*
 * session.c — the module's state in this process: initialisation and its locks, the session
 * table and login state, and each session's own SP connection (replaced when idle, broken when
 * the SP goes away under it). The C_* functions (module.c) and ops.c come here for a session.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include "p11_session.h"

/* Only p11_module_initialize and p11_module_finalize write `initialized`, under init_lock. */
static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int initialized;

struct p11_module p11_module;

/* ---- locking ---- */

static CK_RV os_create(void **m)
{
	pthread_mutex_t *p;

	if (m == NULL)
		return CKR_ARGUMENTS_BAD;
	if ((p = malloc(sizeof(*p))) == NULL)
		return CKR_HOST_MEMORY;
	if (pthread_mutex_init(p, NULL) != 0) {
		free(p);
		return CKR_CANT_LOCK;
	}
	*m = p;
	return CKR_OK;
}

static CK_RV os_destroy(void *m)
{
	if (m == NULL)
		return CKR_MUTEX_BAD;
	pthread_mutex_destroy(m);
	free(m);
	return CKR_OK;
}

static CK_RV os_lock(void *m)
{
	return m != NULL && pthread_mutex_lock(m) == 0 ? CKR_OK : CKR_MUTEX_BAD;
}

static CK_RV os_unlock(void *m)
{
	return m != NULL && pthread_mutex_unlock(m) == 0 ? CKR_OK : CKR_MUTEX_NOT_LOCKED;
}

void p11_lock(void *m)
{
	if (m != NULL)
		p11_module.locks.lock(m);
}

void p11_unlock(void *m)
{
	if (m != NULL)
		p11_module.locks.unlock(m);
}

static struct timespec now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts;
}

/* ---- the operations a session holds ---- */

void p11_op_end(struct p11_op *op)
{
	EVP_MD_CTX_free(op->md);
	OPENSSL_clear_free(op->buf, op->max);
	OPENSSL_clear_free(op->label, op->label_len);
	OPENSSL_clear_free(op->result, op->result_len);
	memset(op, 0, sizeof(*op));
}

CK_RV p11_rv_from_sc(sc_err r)
{
	switch (r) {
	case SC_OK: return CKR_OK;
	case SC_ERR_NOMEM: return CKR_HOST_MEMORY;
	/* The SP went away, broke protocol, is not serving, or will not serve us. */
	case SC_ERR_PEER:
	case SC_ERR_IO:
	case SC_ERR_STATE:
	case SC_ERR_DENIED: return CKR_DEVICE_ERROR;
	/* Deleted since the session loaded its objects. */
	case SC_ERR_NO_KEY: return CKR_KEY_HANDLE_INVALID;
	case SC_ERR_KEY_USAGE: return CKR_KEY_FUNCTION_NOT_PERMITTED;
	case SC_ERR_KEY_DECRYPT: return CKR_ENCRYPTED_DATA_INVALID;
	case SC_ERR_ALGORITHM: return CKR_KEY_TYPE_INCONSISTENT;
	case SC_ERR_OVERSIZE: return CKR_DATA_LEN_RANGE;
	default: return CKR_FUNCTION_FAILED;
	}
}

/* ---- sessions ---- */

static void session_free(struct p11_session *s)
{
	if (s == NULL)
		return;
	p11_op_end(&s->sign);
	p11_op_end(&s->decrypt);
	free(s->found);
	p11_objects_free(&s->objs);
	sc_sp_close(s->sp);
	if (s->mutex != NULL)
		p11_module.locks.destroy(s->mutex);
	free(s);
}

/* Forget a session (the table's reference); freed now or when its last call returns. */
static void session_drop_locked(size_t i)
{
	struct p11_session *s = p11_module.sessions[i];

	p11_module.sessions[i] = NULL;
	if (--s->refs == 0)
		session_free(s);
}

static void session_break(struct p11_session *s, sc_err r)
{
	s->broken = 1;
	s->broken_by = r;
	sc_sp_close(s->sp);
	s->sp = NULL;
	p11_log("the SP went away under a session", r);
}

/* The folder's leaf.pem as inode, size and modification time; zeros if there is none. */
static void leaf_sig(long long sig[4])
{
	char path[P11_MAX_PATH + 16];
	struct stat st;

	memset(sig, 0, 4 * sizeof(sig[0]));
	if (p11_module.cfg.certs[0] == '\0' ||
	    (size_t)snprintf(path, sizeof(path), "%s/leaf.pem", p11_module.cfg.certs) >=
	        sizeof(path) ||
	    stat(path, &st) != 0)
		return;
	sig[0] = (long long)st.st_ino;
	sig[1] = (long long)st.st_size;
	sig[2] = (long long)st.st_mtim.tv_sec;
	sig[3] = (long long)st.st_mtim.tv_nsec;
}

void p11_session_refresh(struct p11_session *s)
{
	struct p11_objects fresh;
	struct sc_sp_info info;
	struct sc_sp *sp = NULL;
	long long sig[4];
	sc_err r;

	leaf_sig(sig);
	if (memcmp(sig, s->leaf_sig, sizeof(sig)) == 0 || s->broken)
		return;
	memset(&info, 0, sizeof(info));
	ERR_set_mark();
	/* The connection as for any request: a long-idle one (nginx's master between renewals,
	 * hours) is replaced first, and a lost SP breaks the session. */
	if ((r = p11_session_sp(s, &sp)) == SC_OK) {
		if ((r = sc_sp_info(sp, &info)) == SC_OK)
			r = p11_objects_load(sp, &info, &p11_module.cfg, &fresh);
		p11_session_sp_done(s, r);
	}
	sc_sp_info_clear(&info);
	ERR_pop_to_mark();
	if (r != SC_OK) {
		p11_log("reloading the token's objects after leaf.pem changed", r);
		return;
	}
	/* The session's own objects (derived secrets) move over; the old token objects go. */
	for (size_t i = 0; i < s->objs.n; i++) {
		if (!s->objs.v[i]->token) {
			(void)p11_objects_add(&fresh, s->objs.v[i]);
			s->objs.v[i] = NULL;
		}
	}
	p11_objects_free(&s->objs);
	s->objs = fresh;
	memcpy(s->leaf_sig, sig, sizeof(sig));
}

/* Connect, check the SP is a locked device, and load its objects: a session of its own. */
static CK_RV session_connect(struct p11_session *s)
{
	struct sc_sp_info info;
	sc_err r;

	memset(&info, 0, sizeof(info));
	if (p11_module.cfg.sp[0] == '\0')
		return CKR_TOKEN_NOT_PRESENT;
	if ((r = sc_sp_connect(p11_module.cfg.sp, &s->sp)) != SC_OK) {
		p11_log("connecting to the SP", r);
		return CKR_TOKEN_NOT_PRESENT;
	}
	if ((r = sc_sp_info(s->sp, &info)) != SC_OK) {
		p11_log("asking the SP for INFO", r);
		return p11_rv_from_sc(r);
	}
	if (info.state != SC_SP_STATE_LOCKED) {
		sc_sp_info_clear(&info);
		return CKR_TOKEN_NOT_PRESENT;
	}
	snprintf(s->device_id, sizeof(s->device_id), "%s", info.device_id);
	leaf_sig(s->leaf_sig);
	r = p11_objects_load(s->sp, &info, &p11_module.cfg, &s->objs);
	sc_sp_info_clear(&info);
	if (r != SC_OK) {
		p11_log("loading the token's objects", r);
		return r == SC_ERR_NOMEM ? CKR_HOST_MEMORY : CKR_DEVICE_ERROR;
	}
	s->last_use = now_mono();
	return CKR_OK;
}

CK_RV p11_session_open(CK_FLAGS flags, CK_SESSION_HANDLE *out)
{
	struct p11_session *s;
	CK_RV rv;
	size_t i;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return CKR_HOST_MEMORY;
	s->flags = CKF_SERIAL_SESSION | (flags & CKF_RW_SESSION);
	if ((rv = p11_module.locks.create(&s->mutex)) != CKR_OK) {
		s->mutex = NULL; /* a failed create made nothing to destroy */
		rv = rv == CKR_HOST_MEMORY ? CKR_HOST_MEMORY : CKR_CANT_LOCK;
		goto out;
	}
	/* The SP is asked without holding the module's lock: other sessions go on meanwhile. */
	ERR_set_mark();
	rv = session_connect(s);
	ERR_pop_to_mark();
	if (rv != CKR_OK)
		goto out;
	p11_lock(p11_module.mutex);
	for (i = 0; i < P11_MAX_SESSIONS && p11_module.sessions[i] != NULL; i++)
		;
	if (i == P11_MAX_SESSIONS) {
		p11_unlock(p11_module.mutex);
		rv = CKR_SESSION_COUNT;
		goto out;
	}
	s->handle = p11_module.next_session++;
	if (p11_module.next_session == CK_INVALID_HANDLE)
		p11_module.next_session = 1;
	s->refs = 1;
	p11_module.sessions[i] = s;
	*out = s->handle;
	p11_unlock(p11_module.mutex);
	s = NULL; /* the table's now */
out:
	session_free(s);
	return rv;
}

CK_RV p11_session_close(CK_SESSION_HANDLE h)
{
	CK_RV rv = CKR_SESSION_HANDLE_INVALID;
	size_t i;

	p11_lock(p11_module.mutex);
	for (i = 0; i < P11_MAX_SESSIONS; i++)
		if (p11_module.sessions[i] != NULL && p11_module.sessions[i]->handle == h) {
			session_drop_locked(i);
			rv = CKR_OK;
			break;
		}
	p11_unlock(p11_module.mutex);
	return rv;
}

void p11_session_close_all(void)
{
	size_t i;

	p11_lock(p11_module.mutex);
	for (i = 0; i < P11_MAX_SESSIONS; i++)
		if (p11_module.sessions[i] != NULL)
			session_drop_locked(i);
	p11_module.logged_in = 0;
	p11_unlock(p11_module.mutex);
}

CK_RV p11_session_get(CK_SESSION_HANDLE h, int allow_broken, struct p11_session **out)
{
	struct p11_session *s = NULL;
	CK_RV rv;
	size_t i;

	*out = NULL;
	if ((rv = p11_check_init()) != CKR_OK)
		return rv;
	p11_lock(p11_module.mutex);
	for (i = 0; i < P11_MAX_SESSIONS; i++)
		if (p11_module.sessions[i] != NULL && p11_module.sessions[i]->handle == h)
			s = p11_module.sessions[i];
	if (s != NULL)
		s->refs++;
	p11_unlock(p11_module.mutex);
	if (s == NULL)
		return CKR_SESSION_HANDLE_INVALID;
	p11_lock(s->mutex);
	*out = s;
	if (s->broken && !allow_broken)
		return CKR_DEVICE_ERROR;
	return CKR_OK;
}

void p11_session_put(struct p11_session *s)
{
	int last;

	if (s == NULL)
		return;
	p11_unlock(s->mutex);
	p11_lock(p11_module.mutex);
	last = --s->refs == 0;
	p11_unlock(p11_module.mutex);
	if (last)
		session_free(s);
}

void p11_session_count(CK_ULONG *all, CK_ULONG *rw)
{
	size_t i;

	*all = *rw = 0;
	p11_lock(p11_module.mutex);
	for (i = 0; i < P11_MAX_SESSIONS; i++) {
		*all += p11_module.sessions[i] != NULL;
		*rw += p11_module.sessions[i] != NULL &&
		    (p11_module.sessions[i]->flags & CKF_RW_SESSION);
	}
	p11_unlock(p11_module.mutex);
}

int p11_session_ro_exists(void)
{
	size_t i;

	for (i = 0; i < P11_MAX_SESSIONS; i++)
		if (p11_module.sessions[i] != NULL &&
		    !(p11_module.sessions[i]->flags & CKF_RW_SESSION))
			return 1;
	return 0;
}

/* ---- the session's SP connection ---- */

sc_err p11_session_sp(struct p11_session *s, struct sc_sp **sp)
{
	struct timespec t = now_mono();
	struct sc_sp_info info;
	sc_err r;

	*sp = NULL;
	if (s->broken)
		return sc_fail(SC_ERR_PEER, "the SP went away under this session");
	if (s->sp != NULL && t.tv_sec - s->last_use.tv_sec < P11_SP_IDLE_RECONNECT_S) {
		*sp = s->sp;
		return SC_OK;
	}
	/*
	 * The SP drops idle connections: replace ours before it does, and make sure the socket
	 * still leads to the device this session opened.
	 */
	sc_sp_close(s->sp);
	s->sp = NULL;
	if ((r = sc_sp_connect(p11_module.cfg.sp, &s->sp)) != SC_OK) {
		session_break(s, r);
		return sc_fail(SC_ERR_PEER, "the SP is gone");
	}
	if ((r = sc_sp_info(s->sp, &info)) != SC_OK) {
		session_break(s, r);
		return sc_fail(SC_ERR_PEER, "the SP does not answer");
	}
	if (info.state != SC_SP_STATE_LOCKED || strcmp(info.device_id, s->device_id) != 0) {
		sc_sp_info_clear(&info);
		session_break(s, SC_ERR_PEER);
		return sc_fail(SC_ERR_PEER, "the SP is no longer device %s", s->device_id);
	}
	sc_sp_info_clear(&info);
	s->last_use = t;
	*sp = s->sp;
	return SC_OK;
}

void p11_session_sp_done(struct p11_session *s, sc_err r)
{
	s->last_use = now_mono();
	/* A lost or confused connection: the SP went away (or restarted) under the session. */
	if (r == SC_ERR_PEER || r == SC_ERR_IO)
		session_break(s, r);
}

/* ---- initialisation ---- */

CK_RV p11_check_init(void)
{
	if (!atomic_load(&initialized) || p11_module.pid != getpid())
		return CKR_CRYPTOKI_NOT_INITIALIZED;
	return CKR_OK;
}

static void forget_state(void)
{
	size_t i;

	for (i = 0; i < P11_MAX_SESSIONS; i++) {
		session_free(p11_module.sessions[i]);
		p11_module.sessions[i] = NULL;
	}
	if (p11_module.mutex != NULL)
		p11_module.locks.destroy(p11_module.mutex);
	memset(&p11_module, 0, sizeof(p11_module));
}

/* The lock functions C_Initialize's arguments ask for: ours unless only the application's do. */
static CK_RV choose_locks(const CK_C_INITIALIZE_ARGS *a, struct p11_lockops *locks)
{
	int n;

	*locks = (struct p11_lockops){ os_create, os_destroy, os_lock, os_unlock };
	if (a == NULL)
		return CKR_OK;
	n = (a->CreateMutex != NULL) + (a->DestroyMutex != NULL) + (a->LockMutex != NULL) +
	    (a->UnlockMutex != NULL);
	if (a->pReserved != NULL || (n != 0 && n != 4))
		return CKR_ARGUMENTS_BAD;
	/* The application's functions when it gives them and does not allow the OS's. */
	if (n == 4 && !(a->flags & CKF_OS_LOCKING_OK)) {
		locks->create = a->CreateMutex;
		locks->destroy = a->DestroyMutex;
		locks->lock = a->LockMutex;
		locks->unlock = a->UnlockMutex;
	}
	return CKR_OK;
}

CK_RV p11_module_initialize(const CK_C_INITIALIZE_ARGS *args)
{
	struct p11_lockops locks;
	CK_RV rv;
	sc_err r;

	pthread_mutex_lock(&init_lock);
	if (atomic_load(&initialized)) {
		if (p11_module.pid == getpid()) {
			rv = CKR_CRYPTOKI_ALREADY_INITIALIZED;
			goto out;
		}
		/*
		 * A forked child: the parent's sessions and connections are not ours to use. Drop our
		 * copies of them (closing our descriptors leaves the parent's open) and start again.
		 */
		forget_state();
		atomic_store(&initialized, 0);
	}
	if ((rv = choose_locks(args, &locks)) != CKR_OK)
		goto out;
	memset(&p11_module, 0, sizeof(p11_module));
	sc_err_clear();
	if ((r = p11_config_load(&p11_module.cfg)) != SC_OK) {
		/* Always said: a module that will not configure itself must say why. */
		fprintf(stderr, "selfcert-pkcs11: configuration: %s: %s\n", sc_err_name(r),
		    sc_err_detail());
		memset(&p11_module, 0, sizeof(p11_module));
		rv = CKR_GENERAL_ERROR;
		goto out;
	}
	p11_module.locks = locks;
	if ((rv = p11_module.locks.create(&p11_module.mutex)) != CKR_OK) {
		memset(&p11_module, 0, sizeof(p11_module));
		rv = rv == CKR_HOST_MEMORY ? CKR_HOST_MEMORY : CKR_CANT_LOCK;
		goto out;
	}
	p11_module.pid = getpid();
	p11_module.next_session = 1;
	atomic_store(&initialized, 1);
out:
	pthread_mutex_unlock(&init_lock);
	return rv;
}

CK_RV p11_module_finalize(void)
{
	CK_RV rv;

	pthread_mutex_lock(&init_lock);
	if ((rv = p11_check_init()) == CKR_OK) {
		/* The application has no calls in progress (v2.40 §5.4): sessions go at once. */
		forget_state();
		atomic_store(&initialized, 0);
	}
	pthread_mutex_unlock(&init_lock);
	return rv;
}
