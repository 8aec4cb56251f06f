// SPDX-License-Identifier: Apache-2.0
/*
 * version.c — the version strings (selfcert/version.h). SC_VERSION comes from project() through a
 * source property (dist/version.cmake); SC_VERSION_GIT from a header rewritten at build time.
 */
#include <selfcert/version.h>
#include "sc_version_git.h"

#ifndef SC_VERSION
#error "SC_VERSION is set by dist/version.cmake"
#endif

const char *sc_version(void)
{
	return SC_VERSION;
}

const char *sc_version_full(void)
{
	return SC_VERSION_GIT[0] != '\0' ? SC_VERSION " (git " SC_VERSION_GIT ")" : SC_VERSION;
}

void sc_version_print(FILE *f, const char *prog)
{
	fprintf(f, "%s %s\n", prog, sc_version_full());
}
