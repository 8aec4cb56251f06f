// SPDX-License-Identifier: Apache-2.0
/*
 * keyopen.c — opening the manufacturer's and the operator's private keys (keyopen.h): PEM files,
 * and keys in a PKCS#11 token through OpenSSL 3's pkcs11 provider (OSSL_STORE, RFC 7512 URIs).
 * One door, so that nothing else in the project knows where a key lives.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/conf.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/provider.h>
#include <openssl/store.h>
#include <openssl/ui.h>
#include "file.h"
#include "keyopen.h"

#define PKCS11_URI_SCHEME "pkcs11:"
#define PKCS11_PROVIDER "pkcs11"
#define PKCS11_ATTR_MAX 16 /* path + query attributes in one URI: RFC 7512 defines 17 */
/* The provider's module quirks: never C_Finalize at exit (SoftHSMv2 #780, pkcs11-provider #310:
 * a segfault in OpenSSL's atexit cleanup), and no operation-state saving (SoftHSM lacks it). */
#define PKCS11_QUIRKS "no-deinit no-operation-state"
#define SC_KEY_FILE_MAX (64 * 1024) /* a PEM private key: RSA-4096 is about 3.3 KiB */

/*
 * Our key files are never encrypted; without this OpenSSL's default callback would prompt on
 * the terminal for an encrypted one.
 */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/* A PEM private-key file; never through a link (refused on the very fd that is read). */
static sc_err load_key_file(const char *path, EVP_PKEY **out)
{
	uint8_t *data = NULL;
	size_t len = 0;
	BIO *bio = NULL;
	sc_err r;

	if ((r = sc_file_read_ex(path, SC_KEY_FILE_MAX, SC_FILE_NOFOLLOW, &data, &len)) != SC_OK)
		return r;
	if ((bio = BIO_new_mem_buf(data, (int)len)) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "%s", path);
		goto out;
	}
	if ((*out = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL)) == NULL) {
		r = sc_fail_ossl(SC_ERR_MALFORMED, path);
		goto out;
	}
	r = SC_OK;
out:
	BIO_free(bio);
	sc_free_secret(data, len);
	return r;
}

/* ---- pkcs11: URIs (RFC 7512), checked before anything touches a token ---- */

/* RFC 7512's path attributes (section 2.3); the query ones are handled one by one below. */
static const char *const uri_path_attrs[] = {
	"id",
	"library-description",
	"library-manufacturer",
	"library-version",
	"manufacturer",
	"model",
	"object",
	"serial",
	"slot-description",
	"slot-id",
	"slot-manufacturer",
	"token",
	"type",
};

static int is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* p11-pchar / p11-qchar: unreserved, %XX, and the reserved characters each part allows. */
static int uri_value_ok(const char *v, size_t n, const char *extra)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = v[i];
		if (c == '%') {
			if (i + 2 >= n)
				return 0;
			if (!is_hex(v[i + 1]) || !is_hex(v[i + 2]))
				return 0;
			i += 2;
			continue;
		}
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    strchr("-._~", c) != NULL || strchr(extra, c) != NULL)
			continue;
		return 0;
	}
	return 1;
}

/*
 * An absolute path written plainly in a query value: no escapes (so what we check is what the
 * provider opens), and no character that could end the configuration line it may be written
 * into (provider_load_ours).
 */
static int plain_path_ok(const char *v, size_t n)
{
	if (n < 2 || v[0] != '/')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = v[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		        strchr("/._+-", c) != NULL))
			return 0;
	}
	return 1;
}

/* n <= SC_KEY_URI_MAX: the whole URI was measured before any part of it is copied. */
static void uri_copy(char *dst, const char *src, size_t n)
{
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* One path attribute "name=value" (n bytes); seen[] catches a second one of the same name. */
static sc_err uri_path_attr(const struct sc_key_uri *u, const char *a, size_t n,
    int seen[sizeof(uri_path_attrs) / sizeof(uri_path_attrs[0])], int *has_key, int *has_type)
{
	const char *eq = memchr(a, '=', n);
	size_t name_len = eq != NULL ? (size_t)(eq - a) : n, vlen;

	if (eq == NULL)
		return sc_fail(SC_ERR_USAGE, "%s: attribute '%.*s' has no '=value'", u->shown,
		    (int)(n > 32 ? 32 : n), a);
	vlen = n - name_len - 1;
	for (size_t i = 0; i < sizeof(uri_path_attrs) / sizeof(uri_path_attrs[0]); i++) {
		if (strlen(uri_path_attrs[i]) != name_len ||
		    memcmp(uri_path_attrs[i], a, name_len) != 0)
			continue;
		if (seen[i]++)
			return sc_fail(SC_ERR_USAGE, "%s: attribute '%s' given twice", u->shown,
			    uri_path_attrs[i]);
		/* p11-path-res-avail: ":[]@!$'()*+,=&" besides the unreserved characters */
		if (!uri_value_ok(eq + 1, vlen, ":[]@!$'()*+,=&"))
			return sc_fail(SC_ERR_USAGE,
			    "%s: attribute '%s': empty, or a character that must be "
			    "percent-encoded (or a bad %%XX escape)",
			    u->shown, uri_path_attrs[i]);
		if (strcmp(uri_path_attrs[i], "type") == 0) {
			if (vlen != 7 || memcmp(eq + 1, "private", 7) != 0)
				return sc_fail(SC_ERR_USAGE,
				    "%s: type=%.*s: a key URI names a private key (type=private)",
				    u->shown, (int)(vlen > 16 ? 16 : vlen), eq + 1);
			*has_type = 1;
		}
		if (strcmp(uri_path_attrs[i], "object") == 0 ||
		    strcmp(uri_path_attrs[i], "id") == 0)
			*has_key = 1;
		return SC_OK;
	}
	return sc_fail(SC_ERR_USAGE,
	    "%s: unknown attribute '%.*s' (RFC 7512: token, object, id, "
	    "type, serial, manufacturer, model, slot-id, …)",
	    u->shown, (int)(name_len > 32 ? 32 : name_len), a);
}

/* One query attribute: pin-source=file:PATH or module-path=PATH; everything else refused. */
static sc_err uri_query_attr(struct sc_key_uri *u, const char *a, size_t n)
{
	static const char pin_source[] = "pin-source=", module_path[] = "module-path=";
	static const char pin_value[] = "pin-value", file_scheme[] = "file:";
	const size_t ps = sizeof(pin_source) - 1, mp = sizeof(module_path) - 1,
	             fs = sizeof(file_scheme) - 1;

	if (n >= sizeof(pin_value) - 1 && memcmp(a, pin_value, sizeof(pin_value) - 1) == 0)
		return sc_fail(SC_ERR_USAGE,
		    "%s: pin-value is refused: a PIN in a URI shows in the process list and in "
		    "logs; put it in a file only its owner can read and give "
		    "?pin-source=file:/PATH",
		    u->shown);
	if (n > ps && memcmp(a, pin_source, ps) == 0) {
		if (u->pin_file[0] != '\0')
			return sc_fail(SC_ERR_USAGE, "%s: pin-source given twice", u->shown);
		if (n - ps <= fs || memcmp(a + ps, file_scheme, fs) != 0 ||
		    !plain_path_ok(a + ps + fs, n - ps - fs))
			return sc_fail(SC_ERR_USAGE,
			    "%s: pin-source: expected file:/ABSOLUTE/PATH (letters, digits, / . _ "
			    "+ -, no %%-escapes)",
			    u->shown);
		uri_copy(u->pin_file, a + ps + fs, n - ps - fs);
		return SC_OK;
	}
	if (n > mp && memcmp(a, module_path, mp) == 0) {
		if (u->module[0] != '\0')
			return sc_fail(SC_ERR_USAGE, "%s: module-path given twice", u->shown);
		if (!plain_path_ok(a + mp, n - mp))
			return sc_fail(SC_ERR_USAGE,
			    "%s: module-path: expected /ABSOLUTE/PATH (letters, digits, / . _ + -, "
			    "no %%-escapes)",
			    u->shown);
		uri_copy(u->module, a + mp, n - mp);
		return SC_OK;
	}
	{
		const char *eq = memchr(a, '=', n);
		size_t name_len = eq != NULL ? (size_t)(eq - a) : n;
		return sc_fail(SC_ERR_USAGE,
		    "%s: query attribute '%.*s' is not supported (pin-source=file:PATH, "
		    "module-path=PATH)",
		    u->shown, (int)(name_len > 32 ? 32 : name_len), a);
	}
}

sc_err sc_key_uri_check(const char *uri, struct sc_key_uri *out)
{
	int seen[sizeof(uri_path_attrs) / sizeof(uri_path_attrs[0])] = { 0 };
	const size_t scheme = strlen(PKCS11_URI_SCHEME);
	const char *q, *p, *end;
	size_t len, nattrs = 0;
	int has_key = 0, has_type = 0;
	sc_err r;

	memset(out, 0, sizeof(*out));
	len = strnlen(uri, SC_KEY_URI_MAX + 1);
	if (len > SC_KEY_URI_MAX)
		return sc_fail(SC_ERR_OVERSIZE, "key URI: longer than %d bytes", SC_KEY_URI_MAX);
	if (len < scheme || memcmp(uri, PKCS11_URI_SCHEME, scheme) != 0)
		return sc_fail(SC_ERR_USAGE, "key URI: does not start with \"pkcs11:\"");
	/* The query may hold a PIN source: never shown. Measure it off before any message. */
	q = memchr(uri, '?', len);
	end = q != NULL ? q : uri + len;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)uri[i];
		if (c > 0x20 && c < 0x7f)
			continue;
		/* Not even one byte of the query (it may be a PIN) goes into a message. */
		if (q != NULL && uri + i > q)
			return sc_fail(SC_ERR_USAGE,
			    "key URI: a byte in the query at offset %zu: only printable ASCII "
			    "without spaces",
			    i);
		return sc_fail(SC_ERR_USAGE,
		    "key URI: byte 0x%02x at offset %zu: only printable ASCII without spaces "
		    "(percent-encode the rest)",
		    c, i);
	}
	uri_copy(out->shown, uri, (size_t)(end - uri));
	for (p = uri + scheme; p < end;) {
		const char *semi = memchr(p, ';', (size_t)(end - p));
		size_t n = (size_t)((semi != NULL ? semi : end) - p);

		if (n == 0 || ++nattrs > PKCS11_ATTR_MAX)
			return sc_fail(SC_ERR_USAGE, "%s: %s", out->shown,
			    n == 0 ? "an empty attribute (';;' or a trailing ';')"
			           : "too many attributes");
		if ((r = uri_path_attr(out, p, n, seen, &has_key, &has_type)) != SC_OK)
			return r;
		p += n + (semi != NULL);
		if (semi != NULL && p == end)
			return sc_fail(SC_ERR_USAGE, "%s: an empty attribute (a trailing ';')",
			    out->shown);
	}
	if (!has_key)
		return sc_fail(SC_ERR_USAGE, "%s: names no key: give object=LABEL or id=%%XX…",
		    out->shown);
	if (!has_type)
		return sc_fail(SC_ERR_USAGE,
		    "%s: add type=private (a key URI names the private key, never a public key "
		    "or certificate)",
		    out->shown);
	if (q == NULL)
		return SC_OK;
	for (p = q + 1, end = uri + len; p <= end;) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		size_t n = (size_t)((amp != NULL ? amp : end) - p);

		if (n == 0 || ++nattrs > PKCS11_ATTR_MAX)
			return sc_fail(SC_ERR_USAGE, "%s: %s in the query", out->shown,
			    n == 0 ? "an empty attribute" : "too many attributes");
		if (!uri_value_ok(p, n, ":[]@!$'()*+,=/?|"))
			return sc_fail(SC_ERR_USAGE,
			    "%s: a query character that must be percent-encoded", out->shown);
		if ((r = uri_query_attr(out, p, n)) != SC_OK)
			return r;
		if (amp == NULL)
			break;
		p = amp + 1;
	}
	return SC_OK;
}

int sc_key_is_uri(const char *spec)
{
	return spec != NULL && strncmp(spec, PKCS11_URI_SCHEME, strlen(PKCS11_URI_SCHEME)) == 0;
}

/* ---- the pkcs11 provider, loaded once per process ---- */

static int ui_silent_write(UI *ui, UI_STRING *uis);
static int ui_refuse_read(UI *ui, UI_STRING *uis);
static UI_METHOD *silent_ui; /* the process's default UI from the first pkcs11: key on; kept */

static pthread_mutex_t provider_lock = PTHREAD_MUTEX_INITIALIZER;
static int provider_loaded;                      /* ours, or the operator's openssl.cnf's */
static int provider_from_config;                 /* the operator's: module and quirks are theirs */
static char provider_module[SC_KEY_URI_MAX + 1]; /* what we gave it; "" = its default */

/*
 * Load the default and pkcs11 providers into the default library context from a configuration
 * built here: OpenSSL 3.0 has no way to hand a provider its parameters in code
 * (OSSL_PROVIDER_load_ex came in 3.2), and the quirks must be set before the module is loaded.
 * module is a plain absolute path (checked), so it cannot break out of its config line.
 */
static sc_err provider_load_ours(const char *module)
{
	char text[2 * SC_KEY_URI_MAX];
	CONF *conf = NULL;
	BIO *bio = NULL;
	long eline = 0;
	int n;
	sc_err r;

	n = snprintf(text, sizeof(text),
	    "selfcert_pkcs11 = sc_init\n"
	    "[sc_init]\nproviders = sc_providers\n"
	    "[sc_providers]\ndefault = sc_default\n" PKCS11_PROVIDER " = sc_pkcs11\n"
	    "[sc_default]\nactivate = 1\n"
	    "[sc_pkcs11]\n%s%s%s"
	    "pkcs11-module-quirks = " PKCS11_QUIRKS "\n"
	    "activate = 1\n",
	    module[0] != '\0' ? "pkcs11-module-path = " : "", module,
	    module[0] != '\0' ? "\n" : "");
	if (n < 0 || (size_t)n >= sizeof(text))
		return sc_fail(SC_ERR_INTERNAL, "the pkcs11 provider's configuration");
	if ((conf = NCONF_new(NULL)) == NULL || (bio = BIO_new_mem_buf(text, n)) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "the pkcs11 provider's configuration");
		goto out;
	}
	if (NCONF_load_bio(conf, bio, &eline) <= 0 ||
	    CONF_modules_load(conf, "selfcert_pkcs11", 0) <= 0 ||
	    !OSSL_PROVIDER_available(NULL, PKCS11_PROVIDER)) {
		r = sc_fail_ossl(SC_ERR_IO,
		    "cannot load OpenSSL's pkcs11 provider (Debian: the pkcs11-provider package, "
		    "bookworm-backports on Debian 12)");
		goto out;
	}
	r = SC_OK;
out:
	BIO_free(bio);
	NCONF_free(conf);
	return r;
}

/* The provider for u, loaded on first use; a second module in one process is refused. */
static sc_err provider_ready(const struct sc_key_uri *u)
{
	const char *module = u->module, *env = getenv("PKCS11_PROVIDER_MODULE");
	sc_err r = SC_OK;

	/* The provider takes $PKCS11_PROVIDER_MODULE over its configuration: never silently. */
	if (env != NULL && env[0] != '\0' && module[0] != '\0' && strcmp(env, module) != 0)
		return sc_fail(SC_ERR_USAGE,
		    "%s: module-path differs from PKCS11_PROVIDER_MODULE (%.256s), which the "
		    "provider would use instead; give one of them",
		    u->shown, env);
	if (module[0] == '\0' && env != NULL)
		module = env;
	pthread_mutex_lock(&provider_lock);
	/*
	 * When our (silent) UI gives no PIN, the provider falls back to OpenSSL's default UI, which
	 * prompts on /dev/tty. Our programs never prompt: the default becomes a silent one too.
	 */
	if (silent_ui == NULL && (silent_ui = UI_create_method("selfcert: no prompt")) != NULL &&
	    UI_method_set_writer(silent_ui, ui_silent_write) == 0 &&
	    UI_method_set_reader(silent_ui, ui_refuse_read) == 0)
		UI_set_default_method(silent_ui);
	if (!provider_loaded) {
		/* The operator's openssl.cnf may load the provider itself (its module, its quirks). */
		if (OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, NULL) == 1 &&
		    OSSL_PROVIDER_available(NULL, PKCS11_PROVIDER)) {
			provider_from_config = 1;
		} else if (strlen(module) > SC_KEY_URI_MAX ||
		    (module[0] != '\0' && !plain_path_ok(module, strlen(module)))) {
			r = sc_fail(SC_ERR_USAGE,
			    "PKCS11_PROVIDER_MODULE: expected /ABSOLUTE/PATH (letters, digits, / . _ "
			    "+ -)");
		} else if ((r = provider_load_ours(module)) == SC_OK) {
			snprintf(provider_module, sizeof(provider_module), "%s", module);
		}
		provider_loaded = r == SC_OK;
	}
	if (r == SC_OK && provider_from_config && u->module[0] != '\0') {
		r = sc_fail(SC_ERR_USAGE,
		    "%s: module-path: the pkcs11 provider comes from openssl.cnf, with its own "
		    "module",
		    u->shown);
	} else if (r == SC_OK && !provider_from_config && strcmp(module, provider_module) != 0) {
		r = sc_fail(SC_ERR_USAGE,
		    "%s: a second PKCS#11 module (%s); one process uses one module (%s)", u->shown,
		    module[0] != '\0' ? module : "the default",
		    provider_module[0] != '\0' ? provider_module : "the default");
	}
	pthread_mutex_unlock(&provider_lock);
	return r;
}

/* The PIN file: there, the owner's alone, not empty, small. Read to check it, then wiped. */
static sc_err pin_file_check(const struct sc_key_uri *u)
{
	uint8_t *pin = NULL;
	size_t len = 0, n;
	sc_err r;

	if ((r = sc_file_read_ex(u->pin_file, SC_KEY_PIN_MAX, SC_FILE_PRIVATE | SC_FILE_NOFOLLOW,
	         &pin, &len)) != SC_OK)
		return sc_fail(r, "%s: PIN file: %s", u->shown, sc_err_detail());
	for (n = len; n > 0 && (pin[n - 1] == '\n' || pin[n - 1] == '\r'); n--)
		;
	r = SC_OK;
	if (n == 0)
		r = sc_fail(SC_ERR_IO, "%s: PIN file %s is empty", u->shown, u->pin_file);
	else if (memchr(pin, '\0', n) != NULL || memchr(pin, '\n', n) != NULL)
		r = sc_fail(SC_ERR_IO, "%s: PIN file %s: one line, no NUL bytes", u->shown,
		    u->pin_file);
	sc_free_secret(pin, len);
	return r;
}

/* A UI that never asks and never writes: no prompt on a terminal, ever. */
static int ui_silent_write(UI *ui, UI_STRING *uis)
{
	(void)ui;
	(void)uis;
	return 1;
}

static int ui_refuse_read(UI *ui, UI_STRING *uis)
{
	(void)ui;
	(void)uis;
	return 0;
}

/*
 * The key's public half (type=public, no login) when the private half was not found: it tells
 * "the token refused the PIN (or none was given)" from "no such key". The pkcs11 provider does
 * not report a failed C_Login to its caller (it logs CKR_PIN_INCORRECT only in its debug
 * output), so this is how the one line can say which it was.
 */
static int public_half_exists(const struct sc_key_uri *u, UI_METHOD *ui)
{
	char alt[SC_KEY_URI_MAX + 8];
	const char *t = u->shown;
	OSSL_STORE_CTX *st;
	OSSL_STORE_INFO *info;
	int found = 0;
	size_t at;

	/* type=private is one whole attribute (sc_key_uri_check): after ':' or ';'. */
	for (;;) {
		if ((t = strstr(t, "type=private")) == NULL)
			return 0;
		if ((t[-1] == ':' || t[-1] == ';') && (t[12] == '\0' || t[12] == ';'))
			break;
		t++;
	}
	at = (size_t)(t - u->shown);
	snprintf(alt, sizeof(alt), "%.*stype=public%s", (int)at, u->shown, t + 12);
	if ((st = OSSL_STORE_open_ex(alt, NULL, "provider=" PKCS11_PROVIDER, ui, NULL, NULL, NULL,
	         NULL)) == NULL)
		return 0;
	while (!found && !OSSL_STORE_eof(st)) {
		if ((info = OSSL_STORE_load(st)) == NULL) {
			if (OSSL_STORE_error(st))
				break;
			continue;
		}
		found = OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_PUBKEY ||
		    OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_PKEY;
		OSSL_STORE_INFO_free(info);
	}
	OSSL_STORE_close(st);
	ERR_clear_error();
	return found;
}

/* Every private key the URI matches: exactly one is the answer. */
static sc_err load_key_uri(const char *uri, const struct sc_key_uri *u, EVP_PKEY **out)
{
	UI_METHOD *ui = NULL;
	OSSL_STORE_CTX *st = NULL;
	OSSL_STORE_INFO *info = NULL;
	EVP_PKEY *key = NULL;
	int found = 0;
	sc_err r;

	ERR_clear_error();
	/* Never a prompt: a PIN comes from the file or the operator's configuration, or not at all. */
	if ((ui = UI_create_method("selfcert: no prompt")) == NULL ||
	    UI_method_set_writer(ui, ui_silent_write) != 0 ||
	    UI_method_set_reader(ui, ui_refuse_read) != 0) {
		r = sc_fail(SC_ERR_NOMEM, "%s", u->shown);
		goto out;
	}
	if ((st = OSSL_STORE_open_ex(uri, NULL, "provider=" PKCS11_PROVIDER, ui, NULL, NULL, NULL,
	         NULL)) == NULL) {
		/* The provider loads and initializes the module on the first open. */
		r = sc_fail(SC_ERR_IO,
		    "%s: cannot use the PKCS#11 module %s (missing, or it failed "
		    "to initialize)",
		    u->shown,
		    provider_from_config             ? "of openssl.cnf"
		        : provider_module[0] != '\0' ? provider_module
		                                     : "p11-kit-proxy (the provider's default)");
		goto out;
	}
	(void)OSSL_STORE_expect(st, OSSL_STORE_INFO_PKEY);
	while (!OSSL_STORE_eof(st)) {
		if ((info = OSSL_STORE_load(st)) == NULL) {
			if (OSSL_STORE_error(st))
				break;
			continue;
		}
		if (OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_PKEY) {
			if (found++ > 0) {
				r = sc_fail(SC_ERR_USAGE,
				    "%s: names more than one private key; add id= or token=",
				    u->shown);
				goto out;
			}
			if ((key = OSSL_STORE_INFO_get1_PKEY(info)) == NULL) {
				r = sc_fail_ossl(SC_ERR_NOMEM, u->shown);
				goto out;
			}
		}
		OSSL_STORE_INFO_free(info);
		info = NULL;
	}
	if (key == NULL) {
		if (!public_half_exists(u, ui))
			r = sc_fail(SC_ERR_NOT_FOUND, "%s: no such key in any token", u->shown);
		else if (u->pin_file[0] != '\0')
			r = sc_fail(SC_ERR_DENIED,
			    "%s: the token refused the PIN in %s (the key's public half is there)",
			    u->shown, u->pin_file);
		else
			r = sc_fail(SC_ERR_DENIED,
			    "%s: the private key needs a login and no PIN was given "
			    "(?pin-source=file:PATH)",
			    u->shown);
		goto out;
	}
	*out = key;
	key = NULL;
	r = SC_OK;
out:
	OSSL_STORE_INFO_free(info);
	OSSL_STORE_close(st);
	UI_destroy_method(ui);
	EVP_PKEY_free(key);
	ERR_clear_error();
	return r;
}

sc_err sc_key_open(const char *spec, EVP_PKEY **out)
{
	struct sc_key_uri u;
	sc_err r;

	*out = NULL;
	if (spec == NULL || spec[0] == '\0')
		return sc_fail(SC_ERR_USAGE, "key: no file or URI given");
	if (!sc_key_is_uri(spec))
		return load_key_file(spec, out);
	if ((r = sc_key_uri_check(spec, &u)) != SC_OK ||
	    (u.pin_file[0] != '\0' && (r = pin_file_check(&u)) != SC_OK) ||
	    (r = provider_ready(&u)) != SC_OK)
		return r;
	return load_key_uri(spec, &u, out);
}
