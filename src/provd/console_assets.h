// SPDX-License-Identifier: Apache-2.0
/*
 * console_assets.h — the console's files, compiled into the program: CMake
 * (cmake/console.cmake) turns src/provd/console/ into console_assets.c in the build tree, so
 * nothing is installed beside selfcert-provd and no page ever loads anything from elsewhere.
 */
#ifndef SC_PROVD_CONSOLE_ASSETS_H
#define SC_PROVD_CONSOLE_ASSETS_H

#include <stddef.h>

struct provd_console_file {
	const char *name; /* "app.js": the path under /console/ */
	const char *type; /* its Content-Type (static) */
	const unsigned char *data;
	size_t len;
};

/* The file of this name, or NULL. Static data: never freed. */
const struct provd_console_file *provd_console_file(const char *name);

#endif
