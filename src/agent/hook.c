// SPDX-License-Identifier: Apache-2.0
/*
 * hook.c — what the agent does after each enrollment and renewal so that a running consumer
 * (nginx, HAProxy) picks up the new certificate: run --exec's command with the new files in its
 * environment, and/or signal the process named by --reload-pid. Never fatal: the caller retries.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "agent.h"
#include "file.h"

#define PID_FILE_MAX 64 /* a pid file longer than this is not one */

static const struct {
	const char *name;
	int sig;
} signals[] = {
	{ "HUP", SIGHUP },
	{ "USR1", SIGUSR1 },
	{ "USR2", SIGUSR2 },
	{ "TERM", SIGTERM },
	{ "INT", SIGINT },
	{ "QUIT", SIGQUIT },
	{ "WINCH", SIGWINCH },
	{ "CONT", SIGCONT },
};

int agent_signal_from_name(const char *name)
{
	if (strncasecmp(name, "SIG", 3) == 0)
		name += 3;
	for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		if (strcasecmp(name, signals[i].name) == 0)
			return signals[i].sig;
	return -1;
}

void agent_key_uri(const char *token, uint32_t handle, char *out, size_t out_len)
{
	char enc[3 * (SC_DEVICE_ID_MAX + 1)];
	size_t n = 0;

	/* RFC 7512: anything outside the unreserved set is percent-encoded. */
	for (const char *p = token; *p != '\0' && n + 4 < sizeof(enc); p++) {
		unsigned char c = (unsigned char)*p;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~')
			enc[n++] = (char)c;
		else
			n += (size_t)snprintf(enc + n, sizeof(enc) - n, "%%%02X", c);
	}
	enc[n] = '\0';
	snprintf(out, out_len, "pkcs11:token=%s;object=%u;type=private", enc, (unsigned)handle);
}

/* The pid in --reload-pid's file: decimal, 2..2^22, an optional newline, nothing else. */
static sc_err read_pid(const char *path, pid_t *pid)
{
	uint8_t *data = NULL;
	size_t len = 0;
	long v = 0;
	sc_err r;

	if ((r = sc_file_read_ex(path, PID_FILE_MAX, 0, &data, &len)) != SC_OK)
		return r;
	if (len > 0 && data[len - 1] == '\n')
		len--;
	r = len > 0 && len <= 7 ? SC_OK : SC_ERR_MALFORMED;
	for (size_t i = 0; r == SC_OK && i < len; i++) {
		if (data[i] < '0' || data[i] > '9')
			r = SC_ERR_MALFORMED;
		else
			v = v * 10 + (data[i] - '0');
	}
	OPENSSL_free(data);
	if (r != SC_OK || v < 2 || v > (1L << 22))
		return sc_fail(SC_ERR_MALFORMED, "--reload-pid %s: not a process ID", path);
	*pid = (pid_t)v;
	return SC_OK;
}

static sc_err reload_signal(const struct agent *a)
{
	pid_t pid = 0;
	sc_err r;

	if ((r = read_pid(a->cfg->reload_pid_path, &pid)) != SC_OK)
		return r;
	if (kill(pid, a->cfg->reload_sig) != 0)
		return sc_fail(SC_ERR_IO, "--reload-pid %s: signal to process %ld: %s",
		    a->cfg->reload_pid_path, (long)pid, strerror(errno));
	return SC_OK;
}

/* Wait for the hook's process, at most AGENT_HOOK_TIMEOUT_S; killed (its group) past that. */
static sc_err wait_hook(pid_t pid, int *status)
{
	struct timespec start, now;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		pid_t w = waitpid(pid, status, WNOHANG);

		if (w == pid)
			return SC_OK;
		if (w < 0 && errno != EINTR)
			return sc_fail(SC_ERR_IO, "--exec: waiting for the command: %s",
			    strerror(errno));
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec >= AGENT_HOOK_TIMEOUT_S) {
			kill(-pid, SIGKILL);
			(void)waitpid(pid, status, 0);
			return sc_fail(SC_ERR_IO,
			    "--exec: the command ran longer than %d s; killed",
			    AGENT_HOOK_TIMEOUT_S);
		}
		(void)poll(NULL, 0, 20);
	}
}

static sc_err run_exec(const struct agent *a, const struct agent_state *st)
{
	char handle[16], not_after[24], uri[256];
	int status = 0;
	pid_t pid;
	sc_err r;

	snprintf(handle, sizeof(handle), "%u", (unsigned)st->current.handle);
	snprintf(not_after, sizeof(not_after), "%lld", (long long)st->current.not_after);
	agent_key_uri(a->device_id, st->current.handle, uri, sizeof(uri));
	fflush(NULL);
	if ((pid = fork()) < 0)
		return sc_fail(SC_ERR_IO, "--exec: fork: %s", strerror(errno));
	if (pid == 0) {
		/* Its own process group, so a timeout kills whatever it started too. */
		setpgid(0, 0);
		if (setenv("SELFCERT_ACTION", a->action ? a->action : "renewed", 1) != 0 ||
		    setenv("SELFCERT_DEVICE_ID", a->device_id, 1) != 0 ||
		    setenv("SELFCERT_LEAF", a->leaf_path, 1) != 0 ||
		    setenv("SELFCERT_CHAIN", a->chain_path, 1) != 0 ||
		    setenv("SELFCERT_FULLCHAIN", a->fullchain_path, 1) != 0 ||
		    setenv("SELFCERT_KEY_URI", a->key_uri_path, 1) != 0 ||
		    setenv("SELFCERT_KEY_HANDLE", handle, 1) != 0 ||
		    setenv("SELFCERT_PKCS11_URI", uri, 1) != 0 ||
		    setenv("SELFCERT_SERIAL", st->current.serial, 1) != 0 ||
		    setenv("SELFCERT_NOT_AFTER", not_after, 1) != 0)
			_exit(126);
		signal(SIGPIPE, SIG_DFL);
		execl("/bin/sh", "sh", "-c", a->cfg->exec_cmd, (char *)NULL);
		_exit(127);
	}
	setpgid(pid, pid);
	if ((r = wait_hook(pid, &status)) != SC_OK)
		return r;
	if (WIFSIGNALED(status))
		return sc_fail(SC_ERR_IO, "--exec: the command was killed by signal %d",
		    WTERMSIG(status));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return sc_fail(SC_ERR_IO, "--exec: the command exited with status %d",
		    WEXITSTATUS(status));
	return SC_OK;
}

sc_err agent_hook_run(const struct agent *a, const struct agent_state *st)
{
	sc_err r;

	if (a->cfg->exec_cmd != NULL && (r = run_exec(a, st)) != SC_OK)
		return r;
	if (a->cfg->reload_pid_path != NULL && (r = reload_signal(a)) != SC_OK)
		return r;
	return SC_OK;
}
