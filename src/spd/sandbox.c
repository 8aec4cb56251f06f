// SPDX-License-Identifier: Apache-2.0
/*
 * sandbox.c — least privilege for selfcert-spd (sandbox.h): process hardening, the wiping
 * allocator for OpenSSL, the drop from root to a configured user, and the sandbox in force
 * while it serves: Landlock (the store folder only) and a seccomp allowlist. The allowlist was
 * measured (every daemon of the test suite under strace -f) and is proven by the suite running
 * under it; each group says who needs it.
 */
#include <errno.h>
#include <grp.h>
#include <malloc.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/landlock.h>
#include <seccomp.h>
#include <openssl/crypto.h>
#include "log.h"
#include "sandbox.h"

#define PWBUF_MAX 16384 /* getpwnam_r buffer; NSS entries are small */

/* Landlock rights newer than the kernel headers of Debian 12 (ABI 3 and 5). */
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15)
#endif
#define LL_FS_ABI1 ((LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1) /* every file-system right of ABI 1 */
/* What a commit does in the store folder: temp file, write, fsync, rename over, fsync folder. */
#define LL_STORE_RIGHTS                                                    \
	(LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE |    \
	    LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE | \
	    LANDLOCK_ACCESS_FS_MAKE_REG)

/* AddressSanitizer needs system calls no serving code makes (and ptrace for leak checks). */
#if defined(__SANITIZE_ADDRESS__)
#define SPD_BUILT_WITH_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SPD_BUILT_WITH_ASAN 1
#endif
#endif

/*
 * OpenSSL's allocator, wiping on the way out. malloc_usable_size is the whole block, so slack
 * beyond the requested size is wiped too. realloc never leaves the old block behind unwiped:
 * it always moves (a new block, copy, wipe, free), which costs a copy per growth.
 */
static void *wipe_malloc(size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	return malloc(n);
}

static void wipe_free(void *p, const char *file, int line)
{
	(void)file;
	(void)line;
	if (p == NULL)
		return;
	OPENSSL_cleanse(p, malloc_usable_size(p));
	free(p);
}

static void *wipe_realloc(void *p, size_t n, const char *file, int line)
{
	size_t old;
	void *q;

	if (p == NULL)
		return wipe_malloc(n, file, line);
	if (n == 0) {
		wipe_free(p, file, line);
		return NULL;
	}
	if ((q = malloc(n)) == NULL)
		return NULL;
	old = malloc_usable_size(p);
	memcpy(q, p, old < n ? old : n);
	wipe_free(p, file, line);
	return q;
}

int spd_wipe_freed_memory(void)
{
	return CRYPTO_set_mem_functions(wipe_malloc, wipe_realloc, wipe_free);
}

void spd_harden_process(void)
{
	struct rlimit rl = { 0, 0 };
	int rc;

	/* No core files and no ptrace by the same user: keys must not leak through either. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		sc_log("warning: PR_SET_DUMPABLE: %s", strerror(errno));
	if (setrlimit(RLIMIT_CORE, &rl) != 0)
		sc_log("warning: RLIMIT_CORE: %s", strerror(errno));
	/* Nothing this process might ever execute gains privileges (setuid binaries, file caps). */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		sc_log("warning: PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
	rc = CRYPTO_secure_malloc_init(SPD_SECURE_HEAP, SPD_SECURE_HEAP_MIN);
	if (rc == 0)
		sc_log("warning: no secure heap; keys live in normal memory");
	else if (rc == 2)
		sc_log(
		    "warning: the secure heap is not locked in memory (raise RLIMIT_MEMLOCK to %u "
		    "bytes): keys may be swapped out",
		    SPD_SECURE_HEAP + 2u * 4096u);
}

const char *spd_sandbox_unavailable(void)
{
#ifdef SPD_BUILT_WITH_ASAN
	return "built with AddressSanitizer";
#else
	return NULL;
#endif
}

void spd_secure_heap_usage(size_t *used, size_t *size)
{
	*used = 0;
	*size = 0;
	if (CRYPTO_secure_malloc_initialized()) {
		*used = CRYPTO_secure_used();
		*size = SPD_SECURE_HEAP;
	}
}

sc_err spd_user_lookup(const char *name, struct spd_user *out)
{
	struct passwd pw, *res = NULL;
	char *buf;
	int rc;

	memset(out, 0, sizeof(*out));
	if (name == NULL || name[0] == '\0' || strlen(name) > SPD_USER_NAME_MAX)
		return sc_fail(SC_ERR_USAGE, "--user: a user name of 1..%d bytes",
		    SPD_USER_NAME_MAX);
	if ((buf = malloc(PWBUF_MAX)) == NULL)
		return sc_fail(SC_ERR_NOMEM, "--user %s", name);
	rc = getpwnam_r(name, &pw, buf, PWBUF_MAX, &res);
	if (rc != 0 || res == NULL) {
		free(buf);
		return sc_fail(SC_ERR_USAGE, "--user %s: %s", name,
		    rc != 0 ? strerror(rc) : "no such user");
	}
	if (pw.pw_uid == 0) {
		free(buf);
		return sc_fail(SC_ERR_USAGE, "--user %s: is root; name an unprivileged user", name);
	}
	snprintf(out->name, sizeof(out->name), "%s", name);
	out->uid = pw.pw_uid;
	out->gid = pw.pw_gid;
	free(buf);
	return SC_OK;
}

sc_err spd_drop_privileges(const struct spd_user *u)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	/* Already that user (started so by a service manager): nothing to drop. */
	if (getuid() == u->uid && geteuid() == u->uid && getgid() == u->gid && getegid() == u->gid)
		return SC_OK;
	if (geteuid() != 0)
		return sc_fail(SC_ERR_DENIED, "--user %s: only root can change to another user",
		    u->name);
	/* Groups first: once the uid is gone, so is the right to change them. */
	if (setgroups(1, &u->gid) != 0)
		return sc_fail(SC_ERR_INTERNAL, "--user %s: setgroups: %s", u->name,
		    strerror(errno));
	if (setresgid(u->gid, u->gid, u->gid) != 0)
		return sc_fail(SC_ERR_INTERNAL, "--user %s: setresgid: %s", u->name,
		    strerror(errno));
	if (setresuid(u->uid, u->uid, u->uid) != 0)
		return sc_fail(SC_ERR_INTERNAL, "--user %s: setresuid: %s", u->name,
		    strerror(errno));
	if (getresuid(&ru, &eu, &su) != 0 || getresgid(&rg, &eg, &sg) != 0 || ru != u->uid ||
	    eu != u->uid || su != u->uid || rg != u->gid || eg != u->gid || sg != u->gid)
		return sc_fail(SC_ERR_INTERNAL, "--user %s: credentials did not change", u->name);
	/* For good: a process that can become root again has dropped nothing. */
	if (setuid(0) == 0 || seteuid(0) == 0)
		return sc_fail(SC_ERR_INTERNAL, "--user %s: root could be regained", u->name);
	/* Changing the uid reset "dumpable" to fs.suid_dumpable, which may be 1: set it again. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		return sc_fail(SC_ERR_INTERNAL, "PR_SET_DUMPABLE: %s", strerror(errno));
	return SC_OK;
}

/*
 * The allowlist: system calls permitted with any arguments. Measured: every daemon of the
 * whole test suite ran under strace -f, and these are the calls made after start-up, plus the
 * few marked "not seen" that the same code makes on other inputs or libc paths. Nothing here
 * creates sockets, runs programs, traces, changes credentials or loads kernel objects.
 */
static const char *const spd_allowed_syscalls[] = {
	/* the serve loop: wait, accept, read requests, write answers (send is below), hang up */
	"ppoll",
	"accept4",
	"read",
	"write",
	"close",
	/* signals: SIGTERM/SIGINT are let in only inside ppoll; a restarted call (not seen) */
	"rt_sigreturn",
	"rt_sigprocmask",
	"restart_syscall",
	/* the heap: brk, munmap seen; mmap and mprotect (never executable) are further below;
	 * mremap and madvise (not seen) when malloc grows or trims a large store buffer */
	"brk",
	"munmap",
	"mremap",
	"madvise",
	/* OpenSSL: randomness, locks, and getpid for its fork-safe random generator */
	"getrandom",
	"futex",
	"getpid",
	/* clocks are the vDSO; the system calls (not seen) when the vDSO cannot answer */
	"clock_gettime",
	"gettimeofday",
	/* the store commit: temp file, write, fsync, rename over, fsync the folder; a failed
	 * commit unlinks its temp file; fstat and lseek by libc's and OpenSSL's file reads.
	 * The *at and renameat2 forms (not seen) are what other libc builds call for the same. */
	"openat",
	"newfstatat",
	"fstat",
	"lseek",
	"fsync",
	"rename",
	"renameat",
	"renameat2",
	"unlink",
	"unlinkat",
	/* the end: exit_group; unlink of the socket is above */
	"exit_group",
};

static sc_err rule(scmp_filter_ctx ctx, const char *name, unsigned n, const struct scmp_arg_cmp *a)
{
	int nr = seccomp_syscall_resolve_name(name), rc;

	/* A name this architecture does not have (e.g. "time" on arm64) is simply not needed. */
	if (nr == __NR_SCMP_ERROR)
		return SC_OK;
	rc = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, n, a);
	if (rc != 0)
		return sc_fail(SC_ERR_INTERNAL, "seccomp: allow %s: %s", name, strerror(-rc));
	return SC_OK;
}

static sc_err landlock_rule(int ruleset, int dirfd, uint64_t rights, const char *what)
{
	struct landlock_path_beneath_attr pb;

	memset(&pb, 0, sizeof(pb));
	pb.allowed_access = rights;
	pb.parent_fd = dirfd;
	if (syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &pb, 0) != 0)
		return sc_fail(SC_ERR_INTERNAL, "landlock: %s: %s", what, strerror(errno));
	return SC_OK;
}

/*
 * The file system, shrunk to what serving touches. Every right the kernel knows is handled
 * (so denied unless granted): execute, read, write, create or remove anything, anywhere.
 */
static sc_err landlock_enter(int store_dirfd, int sock_dirfd, int *abi_out)
{
	struct landlock_ruleset_attr attr;
	sc_err r = SC_ERR_INTERNAL;
	long abi;
	int ruleset;

	*abi_out = 0;
	abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 1)
		return SC_OK; /* not in this kernel (or disabled): seccomp alone */
	memset(&attr, 0, sizeof(attr));
	attr.handled_access_fs = LL_FS_ABI1;
	if (abi >= 2)
		attr.handled_access_fs |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		attr.handled_access_fs |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		attr.handled_access_fs |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (ruleset < 0)
		return sc_fail(SC_ERR_INTERNAL, "landlock: ruleset: %s", strerror(errno));
	if ((r = landlock_rule(ruleset, store_dirfd, LL_STORE_RIGHTS, "the store folder")) !=
	        SC_OK ||
	    (r = landlock_rule(ruleset, sock_dirfd, LANDLOCK_ACCESS_FS_REMOVE_FILE,
	         "the socket's folder")) != SC_OK)
		goto out;
	if (syscall(SYS_landlock_restrict_self, ruleset, 0) != 0) {
		r = sc_fail(SC_ERR_INTERNAL, "landlock: restrict: %s", strerror(errno));
		goto out;
	}
	*abi_out = (int)abi;
	r = SC_OK;
out:
	close(ruleset);
	return r;
}

sc_err spd_sandbox_enter(int store_dirfd, int sock_dirfd, int *landlock_abi)
{
	sc_err r = SC_ERR_INTERNAL;
	scmp_filter_ctx ctx = NULL;
	struct scmp_arg_cmp a[2];
	size_t i;
	int rc;

	*landlock_abi = 0;
	if (spd_sandbox_unavailable() != NULL)
		return sc_fail(SC_ERR_INTERNAL, "seccomp: %s", spd_sandbox_unavailable());
	/* Landlock needs no_new_privs (or CAP_SYS_ADMIN), and comes before seccomp forbids it. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return sc_fail(SC_ERR_INTERNAL, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
	if ((r = landlock_enter(store_dirfd, sock_dirfd, landlock_abi)) != SC_OK)
		return r;
	if ((ctx = seccomp_init(SCMP_ACT_KILL_PROCESS)) == NULL)
		return sc_fail(SC_ERR_INTERNAL, "seccomp: cannot make a filter");
	/* Another ABI's system calls (i386 int 0x80, x32) would bypass a native-only list. */
	if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS)) != 0 ||
	    (rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 1)) != 0) {
		r = sc_fail(SC_ERR_INTERNAL, "seccomp: filter attributes: %s", strerror(-rc));
		goto out;
	}
	for (i = 0; i < sizeof(spd_allowed_syscalls) / sizeof(spd_allowed_syscalls[0]); i++)
		if ((r = rule(ctx, spd_allowed_syscalls[i], 0, NULL)) != SC_OK)
			goto out;

	/* Memory, but never executable memory: no code can be brought in after start-up. */
	/* Spelled out rather than SCMP_A2(…): libseccomp's macros leave datum_b implicit, which
	 * clang's -Wmissing-field-initializers reports. */
	a[0] = (struct scmp_arg_cmp){ .arg = 2,
		.op = SCMP_CMP_MASKED_EQ,
		.datum_a = PROT_EXEC,
		.datum_b = 0 };
	if ((r = rule(ctx, "mmap", 1, a)) != SC_OK || (r = rule(ctx, "mprotect", 1, a)) != SC_OK)
		goto out;
	/* The one socket option the daemon reads: the peer's credentials. */
	a[0] = (struct scmp_arg_cmp){ .arg = 1,
		.op = SCMP_CMP_EQ,
		.datum_a = SOL_SOCKET,
		.datum_b = 0 };
	a[1] = (struct scmp_arg_cmp){ .arg = 2,
		.op = SCMP_CMP_EQ,
		.datum_a = SO_PEERCRED,
		.datum_b = 0 };
	if ((r = rule(ctx, "getsockopt", 2, a)) != SC_OK)
		goto out;
	/* send() on a connected socket: no destination address, so no datagram anywhere else. */
	a[0] = (struct scmp_arg_cmp){ .arg = 4, .op = SCMP_CMP_EQ, .datum_a = 0, .datum_b = 0 };
	if ((r = rule(ctx, "sendto", 1, a)) != SC_OK)
		goto out;

	if ((rc = seccomp_load(ctx)) != 0) {
		r = sc_fail(SC_ERR_INTERNAL, "seccomp: the kernel refused the filter: %s",
		    strerror(-rc));
		goto out;
	}
	r = SC_OK;
out:
	seccomp_release(ctx);
	return r;
}
