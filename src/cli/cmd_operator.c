// SPDX-License-Identifier: Apache-2.0
/*
 * cmd_operator.c — `selfcert net operator add|remove|list`: the operators file selfcert-provd
 * reads with --operators (src/lib/opfile.h). add makes a random token, writes it owner-only to
 * a file of its own and appends only its SHA-256 to the operators file; the server picks the
 * change up on its next operator request, without a restart.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <openssl/crypto.h>
#include "cli.h"
#include "file.h"
#include "opfile.h"

/*
 * Hold FILE.lock (flock) while reading and replacing FILE: two operators added at once must
 * not each write the file as it was before the other (a lost update). *fd is closed by unlock.
 */
static sc_err lock_file(const char *path, int *fd)
{
	char lk[4096];

	if (snprintf(lk, sizeof(lk), "%s.lock", path) >= (int)sizeof(lk))
		return sc_fail(SC_ERR_USAGE, "--operators: path too long");
	if ((*fd = open(lk, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0)
		return sc_fail(SC_ERR_IO, "%s: %s", lk, strerror(errno));
	if (flock(*fd, LOCK_EX) != 0) {
		close(*fd);
		*fd = -1;
		return sc_fail(SC_ERR_IO, "%s: %s", lk, strerror(errno));
	}
	return SC_OK;
}

static void unlock_file(int fd)
{
	if (fd >= 0)
		close(fd); /* releases the flock */
}

static sc_err check_name(const char *cmd, const char *name)
{
	if (name == NULL)
		return sc_fail(SC_ERR_USAGE, "%s: which operator? (NAME)", cmd);
	if (!sc_operator_name_valid(name))
		return sc_fail(SC_ERR_USAGE,
		    "%s: operator name '%.40s': 1..%d of a-z 0-9 . _ -, beginning with a letter or "
		    "digit",
		    cmd, name, SC_OP_NAME_MAX);
	return SC_OK;
}

/* ---- add ---- */

static const char add_usage[] =
    "usage: selfcert net operator add NAME --operators FILE --out TOKENFILE [--json]\n"
    "  A new operator NAME for selfcert-provd --operators FILE: a random bearer token written\n"
    "  to TOKENFILE (0600, must not exist), its SHA-256 appended to FILE (made 0600 if missing).\n"
    "  The running server accepts it on its next operator request. NAME: 1..32 of a-z 0-9 . _ -\n"
    "  --json prints one object {\"operator\", \"operators\", \"token_file\"} (never the token).\n";

static sc_err op_add(int argc, char **argv)
{
	static const struct cli_opt spec[] = { { "operators", 1, 0 }, { "out", 1, 0 },
		{ "json", 0, 0 } };
	struct cli_args a;
	struct sc_operators set = { NULL, 0 };
	struct sc_operator op;
	char token[SC_OP_TOKEN_LEN + 2], line[SC_OP_LINE_MAX + 2], *text = NULL, *next = NULL;
	const char *path, *out;
	size_t text_len = 0, line_len;
	int fd = -1, wrote_token = 0;
	sc_err r;

	memset(&op, 0, sizeof(op));
	if ((r = cli_parse(&a, "net operator add", spec, sizeof(spec) / sizeof(spec[0]), argc, argv,
	         1)) != SC_OK)
		return r;
	if (a.help) {
		fputs(add_usage, stdout);
		return SC_OK;
	}
	if ((r = check_name("net operator add", a.npos > 0 ? a.pos[0] : NULL)) != SC_OK ||
	    (r = cli_need(&a, "operators", &path)) != SC_OK ||
	    (r = cli_need(&a, "out", &out)) != SC_OK)
		return r;
	snprintf(op.name, sizeof(op.name), "%s", a.pos[0]);
	if ((r = lock_file(path, &fd)) != SC_OK)
		return r;
	if ((r = sc_operators_load(path, 1, &set, &text, &text_len)) != SC_OK)
		goto out;
	if (sc_operators_find(&set, op.name) != NULL) {
		r = sc_fail(SC_ERR_EXISTS, "%s: operator %s is there already (remove it first)",
		    path, op.name);
		goto out;
	}
	if (set.n == SC_OP_MAX) {
		r = sc_fail(SC_ERR_OVERSIZE, "%s: %d operators already", path, SC_OP_MAX);
		goto out;
	}
	if ((r = sc_operator_token_new(token, op.hash)) != SC_OK)
		goto out;
	line_len = sc_operator_line(&op, line, sizeof(line));
	if ((next = malloc(text_len + line_len + 1)) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "%s", path);
		goto out;
	}
	memcpy(next, text, text_len);
	memcpy(next + text_len, line, line_len);
	/* The token first (O_EXCL): an operator entry is never written for a token not kept. */
	strcat(token, "\n");
	if ((r = sc_file_write_new(out, token, strlen(token), 0600)) != SC_OK)
		goto out;
	wrote_token = 1;
	if ((r = sc_file_write_atomic(path, next, text_len + line_len, 0600)) != SC_OK)
		goto out;
	if (cli_has(&a, "json"))
		r = cli_json_out(json_pack("{s:s, s:s, s:s}", "operator", op.name, "operators",
		    path, "token_file", out));
	else {
		printf("operator %s added to %s; token in %s\n", op.name, path, out);
		r = SC_OK;
	}
out:
	if (r != SC_OK && wrote_token)
		(void)unlink(out);
	unlock_file(fd);
	OPENSSL_cleanse(token, sizeof(token));
	OPENSSL_free(text);
	free(next);
	sc_operators_clear(&set);
	return r;
}

/* ---- remove ---- */

static const char remove_usage[] =
    "usage: selfcert net operator remove NAME --operators FILE [--json]\n"
    "  Removes NAME's token hash from FILE (atomically); the running server refuses NAME's token\n"
    "  from its next request on. --json prints one object {\"operator\", \"operators\", \"removed\"}.\n";

static sc_err op_remove(int argc, char **argv)
{
	static const struct cli_opt spec[] = { { "operators", 1, 0 }, { "json", 0, 0 } };
	struct cli_args a;
	struct sc_operators set = { NULL, 0 };
	const char *path, *name;
	char *text = NULL, *next = NULL;
	size_t text_len = 0, n = 0, pos = 0;
	int fd = -1;
	sc_err r;

	if ((r = cli_parse(&a, "net operator remove", spec, sizeof(spec) / sizeof(spec[0]), argc,
	         argv, 1)) != SC_OK)
		return r;
	if (a.help) {
		fputs(remove_usage, stdout);
		return SC_OK;
	}
	if ((r = check_name("net operator remove", a.npos > 0 ? a.pos[0] : NULL)) != SC_OK ||
	    (r = cli_need(&a, "operators", &path)) != SC_OK)
		return r;
	name = a.pos[0];
	if ((r = lock_file(path, &fd)) != SC_OK)
		return r;
	if ((r = sc_operators_load(path, 0, &set, &text, &text_len)) != SC_OK)
		goto out;
	if (sc_operators_find(&set, name) == NULL) {
		r = sc_fail(SC_ERR_NOT_FOUND, "%s: no operator %s", path, name);
		goto out;
	}
	if ((next = malloc(text_len + 1)) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "%s", path);
		goto out;
	}
	/* Every line kept as it is (comments too) but NAME's; the parser vouched for the shape. */
	while (pos < text_len) {
		const char *l = text + pos, *nl = memchr(l, '\n', text_len - pos);
		size_t len = (size_t)(nl - l) + 1, w = strcspn(l, " \t\n");

		if (!(l[0] != '#' && w == strlen(name) && strncmp(l, name, w) == 0)) {
			memcpy(next + n, l, len);
			n += len;
		}
		pos += len;
	}
	if ((r = sc_file_write_atomic(path, next, n, 0600)) != SC_OK)
		goto out;
	if (cli_has(&a, "json"))
		r = cli_json_out(json_pack("{s:s, s:s, s:b}", "operator", name, "operators", path,
		    "removed", 1));
	else
		printf("operator %s removed from %s\n", name, path);
	r = SC_OK;
out:
	unlock_file(fd);
	OPENSSL_free(text);
	free(next);
	sc_operators_clear(&set);
	return r;
}

/* ---- list ---- */

static const char list_usage[] =
    "usage: selfcert net operator list --operators FILE [--json]\n"
    "  One line per operator: NAME sha256:<first 16 hex of the token's hash>. --json prints one\n"
    "  object {\"operators\": [{\"name\", \"hash\": \"sha256:<16 hex>\"}]}.\n";

static sc_err op_list(int argc, char **argv)
{
	static const struct cli_opt spec[] = { { "operators", 1, 0 }, { "json", 0, 0 } };
	struct cli_args a;
	struct sc_operators set = { NULL, 0 };
	char line[SC_OP_LINE_MAX + 2];
	const char *path;
	sc_err r;

	if ((r = cli_parse(&a, "net operator list", spec, sizeof(spec) / sizeof(spec[0]), argc,
	         argv, 0)) != SC_OK)
		return r;
	if (a.help) {
		fputs(list_usage, stdout);
		return SC_OK;
	}
	if ((r = cli_need(&a, "operators", &path)) != SC_OK ||
	    (r = sc_operators_load(path, 0, &set, NULL, NULL)) != SC_OK)
		return r;
	if (cli_has(&a, "json")) {
		json_t *arr = json_array();
		for (size_t i = 0; arr != NULL && i < set.n; i++) {
			size_t nl = strlen(set.ops[i].name);
			if (sc_operator_line(&set.ops[i], line, sizeof(line)) > 0)
				json_array_append_new(arr,
				    json_pack("{s:s, s:s#}", "name", set.ops[i].name, "hash",
				        line + nl + 1, (int)(7 + 16)));
		}
		sc_operators_clear(&set);
		return cli_json_out(json_pack("{s:o}", "operators", arr));
	}
	for (size_t i = 0; i < set.n; i++)
		if (sc_operator_line(&set.ops[i], line, sizeof(line)) > 0)
			printf("%.*s\n", (int)(strlen(set.ops[i].name) + 1 + 7 + 16), line);
	sc_operators_clear(&set);
	return SC_OK;
}

static const char operator_usage[] =
    "usage: selfcert net operator add|remove|list … --operators FILE\n"
    "  add NAME --out TOKENFILE   a new operator and its bearer token\n"
    "  remove NAME                the operator's token stops working on the next request\n"
    "  list                       the operators in FILE\n"
    "  FILE is selfcert-provd's --operators: token hashes only, never tokens, owner-only.\n";

sc_err cmd_net_operator(int argc, char **argv)
{
	static const struct {
		const char *verb;
		sc_err (*run)(int, char **);
	} verbs[] = { { "add", op_add }, { "remove", op_remove }, { "list", op_list } };

	if (argc < 1)
		return sc_fail(SC_ERR_USAGE, "net operator: which verb? add|remove|list (--help)");
	if (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
		fputs(operator_usage, stdout);
		return SC_OK;
	}
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strcmp(argv[0], verbs[i].verb) == 0)
			return verbs[i].run(argc - 1, argv + 1);
	return sc_fail(SC_ERR_USAGE, "net operator: unknown verb '%.32s' (add|remove|list)",
	    argv[0]);
}
