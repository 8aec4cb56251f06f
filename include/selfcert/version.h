// SPDX-License-Identifier: Apache-2.0
/*
 * version.h — the version of selfcert this library and its programs were built from: one number
 * (CMakeLists.txt project()), plus `git describe` when built from a git checkout.
 */
#ifndef SELFCERT_VERSION_H
#define SELFCERT_VERSION_H

#include <stdio.h>

/* "0.1.0": the release number; a static string. */
const char *sc_version(void);

/* "0.1.0 (git 19c53e2-dirty)", or "0.1.0" when not built from git; a static string. */
const char *sc_version_full(void);

/* Print "<prog> <full version>\n" to f: every program's --version. */
void sc_version_print(FILE *f, const char *prog);

#endif
