// SPDX-License-Identifier: Apache-2.0
/*
 * daemon.c — sd_notify and the in-place restart (daemon.h). Linked into the daemons only, never
 * into libselfcert: the PKCS#11 module (built from libselfcert's sources) must not pull in
 * libsystemd.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "daemon.h"
#include "log.h"
#ifdef SC_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

void sc_daemon_notify(const char *state)
{
#ifdef SC_HAVE_SYSTEMD
	const char *ns = getenv("NOTIFY_SOCKET");
	int r;

	if (ns == NULL || ns[0] == '\0')
		return;
	/* unset_environment 0: a re-executed image (SIGHUP) must still find the socket. */
	if ((r = sd_notify(0, state)) < 0)
		sc_log("warning: sd_notify %s: %s", state, strerror(-r));
#else
	(void)state;
#endif
}

void sc_daemon_reexec(char **argv)
{
	execv("/proc/self/exe", argv);
	sc_log_err(SC_ERR_IO, "reload: cannot restart /proc/self/exe: %s", strerror(errno));
}
