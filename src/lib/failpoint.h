// SPDX-License-Identifier: Apache-2.0
/*
 * failpoint.h — the one fault-injection scheme of the programs (internal): named points a test
 * arms through one environment variable per program, to stop, fail or pause the process just
 * before a step. Compiled only with SC_FAILPOINTS (cmake/faults.cmake: development builds), so a
 * release binary holds no fail point code, no names and never reads the variable.
 *
 * The variable, read once (sc_failpoint_load, at start-up):
 *
 *   <ENV>=<name>:<nth>[:<mode>]      or      <ENV>=trace
 *
 * nth counts passes of that name over the process's life, from 1 (at most SC_FP_NTH_MAX). Modes,
 * as the program's table allows them (exit is always allowed and the default):
 *   exit   _exit(exit_code) at once, as a crash would (no buffers flushed, no handlers):
 *          "<prog>: fail point <name> #<n>: stopping (exit <code>)"
 *   error  that step fails with SC_ERR_IO, detail "fail point <name> #<n>: injected error"
 *   stop   SIGSTOP ourselves until a test continues us (SIGCONT), then go on:
 *          "<prog>: fail point <name> #<n>: stopped"
 * trace prints every pass as "<prog>: fail point <name> #<n>" and injects nothing.
 * A malformed value or an unknown name is SC_ERR_USAGE, detail "<ENV>: …" / "<ENV> '<value>': …",
 * so a test that misspells a point fails instead of passing with nothing injected.
 *
 * Lines go straight to stderr with the table's prog, not log.h's: a point belongs to the code
 * that holds it (the CLI's `sp init` runs the SP's store and prints as selfcert-spd).
 */
#ifndef SC_FAILPOINT_H
#define SC_FAILPOINT_H

#include <selfcert/err.h>

#define SC_FP_MAX 32      /* names per table */
#define SC_FP_SPEC_MAX 64 /* the variable's value, in bytes, less one */
#define SC_FP_NTH_MAX 1000000u

/* Modes a table allows besides exit. */
#define SC_FP_ALLOW_ERROR 0x1
#define SC_FP_ALLOW_STOP 0x2

/*
 * One program's points: the configuration (set by the owner, static, designated initializers)
 * and the state sc_failpoint_load and sc_failpoint_hit keep. Not thread-safe: the points of a
 * table are passed by one thread (the SP is single-threaded, the agent too).
 */
struct sc_failpoints {
	const char *env;          /* "SELFCERT_SPD_FAILPOINT" */
	const char *prog;         /* opens every line: "selfcert-spd" */
	const char *const *names; /* names[0..n), in the order a run passes them */
	unsigned n;               /* at most SC_FP_MAX */
	int exit_code;            /* exit mode's status: tells an injected stop from the rest */
	unsigned allow;           /* SC_FP_ALLOW_* */

	/* State, zero at start. */
	int loaded;                    /* the variable has been read */
	int mode;                      /* off, trace, exit, error or stop */
	unsigned id;                   /* the armed point */
	unsigned long nth;             /* fires on this pass of it */
	unsigned long hits[SC_FP_MAX]; /* passes so far, per name */
};

#ifdef SC_FAILPOINTS
/*
 * Read fp->env once (later calls return SC_OK at once); unset or empty arms nothing.
 * SC_ERR_USAGE for a bad value (and nothing armed). Call at start-up, before any point.
 */
sc_err sc_failpoint_load(struct sc_failpoints *fp) SC_MUST_USE;

/*
 * Point id (an index of fp->names) is about to run its step: SC_OK to go on, SC_ERR_IO when
 * error mode fires here. Exit mode does not return; stop mode returns SC_OK once continued.
 */
sc_err sc_failpoint_hit(struct sc_failpoints *fp, unsigned id) SC_MUST_USE;

#define SC_FAILPOINT_LOAD(fp) sc_failpoint_load(fp)
#define SC_FAILPOINT(fp, id) sc_failpoint_hit((fp), (id))
#else
/* Release builds: nothing, and fp (with its names) need not even exist. */
#define SC_FAILPOINT_LOAD(fp) SC_OK
#define SC_FAILPOINT(fp, id) SC_OK
#endif

#endif
