// SPDX-License-Identifier: Apache-2.0
/*
 * fast.h — the switch over libselfcert's measured OpenSSL shortcuts (internal).
 *
 * Every shortcut in src/lib/fast/ sits beside the plain-OpenSSL path it replaces, and the two
 * must agree byte for byte. The SC_SHORTCUTS build option (default ON) sets whether the
 * shortcuts are taken; the unit tests flip it at run time to compare both paths.
 */
#ifndef SC_FAST_H
#define SC_FAST_H

/* 1 when the shortcuts are taken (the build's SC_SHORTCUTS, unless a test changed it). */
int sc_fast_enabled(void);

/* Tests only: take the shortcuts (1) or the plain-OpenSSL paths (0). Not thread-safe. */
void sc_fast_set(int on);

#endif
