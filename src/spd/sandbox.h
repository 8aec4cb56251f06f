// SPDX-License-Identifier: Apache-2.0
/*
 * sandbox.h — least privilege for selfcert-spd (selfcert-spd internal): process hardening at
 * start, dropping root to a configured user once the socket is bound and the store is open,
 * and a seccomp allowlist that leaves the daemon only the system calls serving needs.
 *
 * Order in main(): spd_wipe_freed_memory() first; spd_harden_process(); spd_user_lookup() while
 * parsing (fail early); load the store and bind the socket; spd_drop_privileges();
 * spd_sandbox_enter() last, right before the serve loop. Nothing after spd_sandbox_enter() may
 * open sockets, run programs, change credentials or map executable memory (the kernel kills
 * the process if it tries), nor touch files outside the store folder (refused).
 */
#ifndef SPD_SANDBOX_H
#define SPD_SANDBOX_H

#include <stddef.h>
#include <sys/types.h>
#include <selfcert/err.h>

#define SPD_SECURE_HEAP (8u << 20) /* private key material: 256 RSA-4096 keys fit */
#define SPD_SECURE_HEAP_MIN 16     /* smallest secure-heap allocation */
#define SPD_USER_NAME_MAX 64

/*
 * Make every block OpenSSL frees (and every block our OPENSSL_malloc'd buffers free) wiped
 * first, and every block a realloc moves away from: OpenSSL 3.0's PKCS#8 decoder and encoder
 * (the store's load and every commit) free DER buffers holding private keys without wiping
 * them. Must run before the first OpenSSL allocation (first thing in main); returns 0 if it
 * came too late, 1 otherwise.
 */
int spd_wipe_freed_memory(void);

/*
 * Not dumpable (no core file, no ptrace and no /proc/PID/mem or environ for the same uid),
 * RLIMIT_CORE 0, PR_SET_NO_NEW_PRIVS, and OpenSSL's secure heap (SPD_SECURE_HEAP, locked in
 * memory when RLIMIT_MEMLOCK allows, excluded from core dumps). Call before any key exists.
 * Failures are warnings on stderr, never fatal: each measure is defence in depth.
 */
void spd_harden_process(void);

/*
 * NULL when the seccomp sandbox can run in this build; otherwise why not (sanitizer builds:
 * AddressSanitizer maps memory and its leak checker ptraces the process at exit).
 */
const char *spd_sandbox_unavailable(void);

/* The user to run as after start-up (--user NAME). */
struct spd_user {
	char name[SPD_USER_NAME_MAX + 1];
	uid_t uid;
	gid_t gid;
};

/*
 * Look NAME up in the user database (before the sandbox: NSS needs files and sockets).
 * SC_ERR_USAGE if it is unknown, too long, or root itself (dropping to root drops nothing).
 */
sc_err spd_user_lookup(const char *name, struct spd_user *out) SC_MUST_USE;

/*
 * Become u for good: supplementary groups = { u->gid }, gid, uid (real, effective and saved),
 * then check that root cannot be regained and make the process non-dumpable again (a uid
 * change resets the flag to fs.suid_dumpable). SC_ERR_DENIED if this process is not root,
 * SC_ERR_INTERNAL if a step fails (the caller must not serve then).
 */
sc_err spd_drop_privileges(const struct spd_user *u) SC_MUST_USE;

/*
 * Enter the sandbox, for good. First Landlock, where the kernel has it: from then on the file
 * system is the store folder (store_dirfd: read, write, create and remove regular files in it,
 * as commits do) and removing files in the socket's folder (sock_dirfd: the socket at exit);
 * every other path is refused (EACCES), /proc/self/mem included. *landlock_abi is the Landlock
 * ABI in force, 0 if the kernel has none (then seccomp alone). Then the seccomp allowlist
 * (docs/THREAT-MODEL.md lists it): anything else kills the whole process
 * (SCMP_ACT_KILL_PROCESS), as does a system call of another architecture; PR_SET_NO_NEW_PRIVS.
 * SC_ERR_INTERNAL if the kernel or libseccomp refuses; the caller must then not serve (fail
 * closed) unless the operator said --insecure-no-sandbox. The fds may be closed afterwards.
 */
sc_err spd_sandbox_enter(int store_dirfd, int sock_dirfd, int *landlock_abi) SC_MUST_USE;

/* Bytes of OpenSSL's secure heap in use and its size (0, 0 without one), for the log. */
void spd_secure_heap_usage(size_t *used, size_t *size);

#endif
