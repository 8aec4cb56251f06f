// SPDX-License-Identifier: Apache-2.0
/*
 * fast.c — whether libselfcert takes its measured OpenSSL shortcuts (fast.h). The default is
 * the build's SC_SHORTCUTS option; only tests change it.
 */
#include "fast.h"

#ifndef SC_SHORTCUTS
#define SC_SHORTCUTS 1
#endif

static int fast_on = SC_SHORTCUTS;

int sc_fast_enabled(void)
{
	return fast_on;
}

void sc_fast_set(int on)
{
	fast_on = on != 0;
}
