// SPDX-License-Identifier: Apache-2.0
/*
 * daemon.h — what the three daemons share with their service manager: readiness and reload
 * notification (sd_notify through libsystemd; nothing when NOTIFY_SOCKET is unset or the build
 * has no libsystemd) and the in-place restart that applies a reload (SIGHUP).
 */
#ifndef SC_DAEMON_H
#define SC_DAEMON_H

/* sd_notify(0, state): "READY=1", "RELOADING=1", "STOPPING=1". Failures are logged, never fatal:
 * a daemon run by hand or by a non-notify manager serves the same. */
void sc_daemon_notify(const char *state);

/*
 * Restart this program in place (same pid, same argv: execv of /proc/self/exe), so a reload
 * re-reads every file at once through the start-up code that already checks them. The caller
 * has stopped serving and released what the new image will take again (sockets, locks); file
 * descriptors are O_CLOEXEC. Returns only on failure (logged); the caller then exits 1.
 */
void sc_daemon_reexec(char **argv);

#endif
